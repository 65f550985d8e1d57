"""The Deep MNIST CNN's training step (issue 12's speed target).

The network of TensorFlow's "Deep MNIST for experts" tutorial, batch 128 of
28x28x1: two 5x5 convolutions (32 and 64 channels, SAME padding) each with
ReLU and 2x2 max-pooling, a 1024-unit dense layer, dropout, softmax
cross-entropy and Adam(1e-4).

- graph: `deepnn` of `tests/programs/tf_deep_mnist.py` (NHWC), taken from
  the program's file once as written (`import devrt.graph as tf`) and once
  with the import turned back (`tensorflow.compat.v1`, graph mode); one
  `Session.run` of the training op each;
- eager: the same network written with `nn.Conv2d` (NCHW), `F.max_pool2d`,
  `nn.Linear`, `F.dropout`, `F.cross_entropy` and `optim.Adam`, on devrt and
  on PyTorch.

One process, interleaved rounds; ratios of step time (below 1: devrt's step
is faster). TensorFlow and PyTorch are optional contenders
(`pip install devrt[bench]`).

Run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_cnn.py
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import devrt  # noqa: E402
from bench_programs import program_namespace  # noqa: E402
from common import blas_setting, compare, try_import_tf, try_import_torch  # noqa: E402

BATCH = 128
PROGRAM = "tf_deep_mnist.py"


def batch(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((BATCH, 784), dtype=np.float32)
    y = rng.integers(0, 10, BATCH)
    return x, y


def session_step(mode):
    """The program's graph and training op, built from its own deepnn on
    devrt ("devrt") or TensorFlow ("reference"); one Session.run a call."""
    ns = program_namespace(PROGRAM, mode, functions=True)
    tf = ns["tf"]
    if mode == "reference":
        tf.disable_eager_execution()
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(1)
        x = tf.placeholder(tf.float32, [None, 784])
        y_ = tf.placeholder(tf.int64, [None])
        y_conv, keep_prob = ns["deepnn"](x)
        loss = tf.reduce_mean(tf.losses.sparse_softmax_cross_entropy(labels=y_, logits=y_conv))
        train = tf.train.AdamOptimizer(1e-4).minimize(loss)
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=graph)
    sess.run(init)
    xb, yb = batch()
    feed = {x: xb, y_: yb, keep_prob: 0.5}
    return lambda: sess.run(train, feed_dict=feed)


def eager_step(lib):
    """The same network on the eager front end of `lib` (devrt or torch)."""
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
            self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
            self.fc1 = nn.Linear(7 * 7 * 64, 1024)
            self.fc2 = nn.Linear(1024, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = F.relu(self.fc1(x.reshape(x.shape[0], -1)))
            x = F.dropout(x, 0.5, training=self.training)
            return self.fc2(x)

    lib.manual_seed(0)
    model = Net()
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-4)
    xb, yb = batch()
    x = lib.from_numpy(xb.reshape(BATCH, 1, 28, 28))
    y = lib.from_numpy(yb)

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()

    return step


def report(title, times, ours, theirs):
    line = f"{title:<22} devrt {times[ours] * 1e3:8.2f} ms"
    if theirs in times:
        ratio = times[ours] / times[theirs]
        line += f"   {theirs} {times[theirs] * 1e3:8.2f} ms   time devrt/{theirs} {ratio:5.2f}x"
    else:
        line += f"   ({theirs} not installed)"
    print(line, flush=True)


def main() -> None:
    torch = try_import_torch()
    tf = try_import_tf()
    print(
        f"devrt {devrt.__version__}, torch {torch.__version__ if torch else 'not installed'}, "
        f"tensorflow {tf.__version__ if tf else 'not installed'}"
    )
    print(blas_setting())
    print(f"time per training step, batch {BATCH}; a ratio below 1 means devrt is faster\n")
    graph = {"devrt": session_step("devrt")}
    if tf is not None:
        graph["TensorFlow"] = session_step("reference")
    report("Session step (NHWC)", compare(graph, rounds=9, settle=0.2), "devrt", "TensorFlow")
    eager = {"devrt": eager_step(devrt)}
    if torch is not None:
        eager["PyTorch"] = eager_step(torch)
    report("eager step (NCHW)", compare(eager, rounds=9, settle=0.2), "devrt", "PyTorch")


if __name__ == "__main__":
    main()
