"""``devrt demo``: the lecture's two-layer network trained on every backend.

N=64 samples, D_in=1000 inputs, H=100 hidden units, D_out=10 outputs,
squared-error loss, 500 steps of plain gradient descent: eagerly with
autograd, as a TF1-style graph run by a Session, and as a Keras-style
``Sequential`` trained by ``fit``. One row per front end and device: the
loss at the first and last step and the time per step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import devrt

N, D_IN, H, D_OUT = 64, 1000, 100, 10


@dataclass
class Row:
    frontend: str
    device: str
    first_loss: float | None = None
    last_loss: float | None = None
    ms_per_step: float | None = None
    error: str | None = None


def eager(device: str, steps: int = 500, lr: float = 1e-6) -> Row:
    row = Row("eager", device)
    try:
        devrt.manual_seed(0)
        x = devrt.randn(N, D_IN).to(device)
        y = devrt.randn(N, D_OUT).to(device)
        w1 = devrt.randn(D_IN, H).to(device).requires_grad_()
        w2 = devrt.randn(H, D_OUT).to(device).requires_grad_()
        start = None
        for t in range(steps):
            if t == 1:
                start = time.perf_counter()  # the first step warms caches up
            loss = (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()
            if t == 0:
                row.first_loss = loss.item()
            loss.backward()
            with devrt.no_grad():
                w1 -= lr * w1.grad
                w2 -= lr * w2.grad
                w1.grad = None
                w2.grad = None
        row.last_loss = loss.item()
        row.ms_per_step = (time.perf_counter() - start) / (steps - 1) * 1e3
    except (NotImplementedError, RuntimeError, ValueError) as exc:
        row.error = str(exc).splitlines()[0]
    return row


def two_layer_graph(tf):
    """The network in the default graph of `tf` (devrt.graph, or
    TensorFlow's compat.v1): placeholders x and y, variables w1 and w2, and
    the squared-error loss."""
    x = tf.placeholder(tf.float32, shape=(None, D_IN))
    y = tf.placeholder(tf.float32, shape=(None, D_OUT))
    w1 = tf.Variable(tf.random_normal((D_IN, H)))
    w2 = tf.Variable(tf.random_normal((H, D_OUT)))
    h = tf.maximum(tf.matmul(x, w1), 0.0)
    loss = tf.reduce_sum((tf.matmul(h, w2) - y) ** 2.0)
    return x, y, (w1, w2), loss


def graph(device: str, steps: int = 500, lr: float = 1e-6) -> Row:
    """The same network as a TF1-style graph: placeholders, variables,
    tf.gradients and assign updates grouped into one train op."""
    import numpy as np

    import devrt.graph as tf

    row = Row("graph", device)
    try:
        g = tf.Graph()
        with g.as_default(), tf.device(_tf_device(device)):
            tf.set_random_seed(0)
            x, y, (w1, w2), loss = two_layer_graph(tf)
            grad_w1, grad_w2 = tf.gradients(loss, [w1, w2])
            train = tf.group(w1.assign_sub(lr * grad_w1), w2.assign_sub(lr * grad_w2))
            init = tf.global_variables_initializer()
        rng = np.random.default_rng(0)
        feed = {
            x: rng.standard_normal((N, D_IN), dtype=np.float32),
            y: rng.standard_normal((N, D_OUT), dtype=np.float32),
        }
        with tf.Session(graph=g) as sess:
            sess.run(init)
            row.first_loss = float(sess.run(loss, feed_dict=feed))
            sess.run(train, feed_dict=feed)  # plans the step once
            start = time.perf_counter()
            for _ in range(steps - 1):
                sess.run(train, feed_dict=feed)
            row.ms_per_step = (time.perf_counter() - start) / max(steps - 1, 1) * 1e3
            row.last_loss = float(sess.run(loss, feed_dict=feed))
    except (NotImplementedError, RuntimeError, ValueError) as exc:
        row.error = str(exc).splitlines()[0]
    return row


def keras(device: str, steps: int = 500, lr: float = 0.1) -> Row:
    """The same network in Keras style: ``Sequential`` of Dense and
    Activation layers, SGD and mean squared error, one batch per epoch."""
    import numpy as np

    from devrt import keras as K

    row = Row("keras", device)
    try:
        with K.device(device):
            K.utils.set_random_seed(0)
            model = K.Sequential(
                [
                    K.Input((D_IN,)),
                    K.layers.Dense(H),
                    K.layers.Activation("relu"),
                    K.layers.Dense(D_OUT),
                ]
            )
            model.compile(optimizer=K.optimizers.SGD(learning_rate=lr), loss="mse")
            rng = np.random.default_rng(0)
            x = rng.standard_normal((N, D_IN), dtype=np.float32)
            y = rng.standard_normal((N, D_OUT), dtype=np.float32)
            row.first_loss = float(model.evaluate(x, y, batch_size=N, verbose=0))
            model.fit(x, y, batch_size=N, epochs=1, verbose=0)  # builds the optimizer
            start = time.perf_counter()
            history = model.fit(x, y, batch_size=N, epochs=steps - 1, verbose=0)
            row.ms_per_step = (time.perf_counter() - start) / max(steps - 1, 1) * 1e3
            row.last_loss = history.history["loss"][-1]
    except (NotImplementedError, RuntimeError, ValueError) as exc:
        row.error = str(exc).splitlines()[0]
    return row


def _tf_device(device: str) -> str:
    name, _, index = device.partition(":")
    return f"/device:{name}:{index or 0}"


def devices() -> list[str]:
    out = []
    for b in devrt.backends():
        if b["registered"]:
            out += [
                b["name"] if b["name"] == "cpu" else f"{b['name']}:{i}"
                for i in range(b["device_count"])
            ]
    return out


def main(steps: int = 500) -> int:
    print(f"two-layer network N={N} D_in={D_IN} H={H} D_out={D_OUT}, {steps} steps of SGD")
    print(
        f"{'front end':<10} {'device':<10} {'loss (first)':>14} {'loss (last)':>14} {'ms/step':>9}"
    )
    failed = False
    for device in devices():
        for run in (eager, graph, keras):
            row = run(device, steps)
            if row.error:
                print(f"{row.frontend:<10} {row.device:<10} skipped: {row.error}")
                continue
            failed = failed or not row.last_loss < row.first_loss
            print(
                f"{row.frontend:<10} {row.device:<10} {row.first_loss:14.4e} "
                f"{row.last_loss:14.4e} {row.ms_per_step:9.3f}"
            )
    return 1 if failed else 0
