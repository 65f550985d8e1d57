"""tf.while_loop benchmark: a Session training step of an Elman RNN (batch
32, 20 time steps, 16 inputs, 64 hidden units, a mean squared error on the
last state, GradientDescentOptimizer) whose time steps run in a while_loop,
against the same graph unrolled in Python (one set of nodes per step) and
PyTorch's eager step for the same network. One process, interleaved
rounds, ratios of step time. Run: python bench/bench_while.py
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import devrt  # noqa: E402
from common import blas_setting, compare, try_import_torch  # noqa: E402

B, T, D, H = 32, 20, 16, 64


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    y = rng.standard_normal((B, H)).astype(np.float32) * 0.5
    w = (rng.standard_normal((D + H, H)) * 0.1).astype(np.float32)
    return x, y, w


def graph_step(tf, looped: bool):
    """The RNN as a graph: the time steps in a while_loop, or unrolled."""
    xv, yv, wv = _data()
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [B, T, D])
        y = tf.placeholder(tf.float32, [B, H])
        w = tf.Variable(wv)
        b = tf.Variable(np.zeros(H, np.float32))

        def cell(xt, h):
            return tf.tanh(tf.matmul(tf.concat([xt, h], 1), w) + b)

        h = tf.zeros([B, H])
        if looped:
            _, h = tf.while_loop(
                lambda t, h: t < T, lambda t, h: (t + 1, cell(tf.gather(x, t, axis=1), h)), [0, h]
            )
        else:
            for t in range(T):
                h = cell(x[:, t, :], h)
        loss = tf.reduce_mean(tf.square(h - y))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=g)
    sess.run(init)
    feed = {x: xv, y: yv}

    def step():
        sess.run(train, feed_dict=feed)

    return step


def torch_step(torch):
    xv, yv, wv = _data()
    x, y = torch.from_numpy(xv), torch.from_numpy(yv)
    w = torch.tensor(wv, requires_grad=True)
    b = torch.zeros(H, requires_grad=True)

    def step():
        h = torch.zeros(B, H)
        for t in range(T):
            h = torch.tanh(torch.cat([x[:, t, :], h], 1) @ w + b)
        loss = ((h - y) ** 2).mean()
        gw, gb = torch.autograd.grad(loss, [w, b])
        with torch.no_grad():
            w.sub_(0.1 * gw)
            b.sub_(0.1 * gb)

    return step


def main() -> None:
    import devrt.graph as dtf

    torch = try_import_torch()
    print(f"devrt {devrt.__version__}, torch {torch.__version__ if torch else 'not installed'}")
    print(blas_setting())
    print("time per training step; a ratio < 1 means the while_loop step is faster\n")
    contenders = {
        "devrt while_loop": graph_step(dtf, True),
        "devrt unrolled": graph_step(dtf, False),
    }
    if torch is not None:
        contenders["torch eager"] = torch_step(torch)
    t = compare(contenders, rounds=15)
    mine = t["devrt while_loop"]
    print(f"{'devrt while_loop':<17} {mine * 1e3:8.3f} ms")
    for name, other in t.items():
        if name != "devrt while_loop":
            print(f"{name:<17} {other * 1e3:8.3f} ms   while_loop/{name} time {mine / other:5.2f}x")


if __name__ == "__main__":
    main()
