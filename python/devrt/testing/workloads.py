"""End-to-end workloads: small networks trained on one device.

The conformance suite trains each on the device under test and checks that
the loss falls; :func:`devrt.testing.needs.needed_ops` runs each while it
records the ops dispatched, to say what a device must implement to run it.

A workload is ``run(device, steps, phase) -> losses``: it trains for `steps`
steps and returns the loss after each, and it wraps each part of a step in
``with phase(name):`` (``"setup"``, ``"forward"``, ``"backward"``,
``"update"``; a graph's training step, which computes its forward pass
again, is ``"train"``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import devrt

Phase = Callable[[str], contextlib.AbstractContextManager]
N, D_IN, H, D_OUT = 16, 32, 16, 4


def no_phase(name: str) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext()


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    run: Callable[[str, int, Phase], list[float]]


def _data(device: str, *shapes, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [devrt.from_numpy(rng.standard_normal(s).astype(np.float32)).to(device) for s in shapes]


def two_layer_eager(device: str, steps: int = 20, phase: Phase = no_phase) -> list[float]:
    """The lecture's network with autograd and hand-written gradient descent:
    ``relu(x @ w1) @ w2``, squared error summed, ``w -= lr * w.grad``."""
    with phase("setup"):
        x, y, w1, w2 = _data(device, (N, D_IN), (N, D_OUT), (D_IN, H), (H, D_OUT))
        w1 = (w1 * 0.1).requires_grad_()
        w2 = (w2 * 0.1).requires_grad_()
    losses = []
    for _ in range(steps):
        with phase("forward"):
            loss = (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()
        with phase("backward"):
            loss.backward()
        with phase("update"), devrt.no_grad():
            w1 -= 1e-3 * w1.grad
            w2 -= 1e-3 * w2.grad
            w1.grad = None
            w2.grad = None
        losses.append(loss.item())
    return losses


def two_layer_graph(device: str, steps: int = 20, phase: Phase = no_phase) -> list[float]:
    """The same network as a TF1-style graph (devrt.graph): placeholders,
    variables, ``tf.gradients`` and ``assign_sub`` grouped into a train op,
    run by a Session on `device`."""
    import devrt.graph as tf

    name, _, index = device.partition(":")
    g = tf.Graph()
    with g.as_default(), tf.device(f"/device:{name}:{index or 0}"):
        tf.set_random_seed(0)
        x = tf.placeholder(tf.float32, shape=(None, D_IN))
        y = tf.placeholder(tf.float32, shape=(None, D_OUT))
        w1 = tf.Variable(tf.random_normal((D_IN, H), stddev=0.1))
        w2 = tf.Variable(tf.random_normal((H, D_OUT), stddev=0.1))
        h = tf.maximum(tf.matmul(x, w1), 0.0)
        loss = tf.reduce_sum((tf.matmul(h, w2) - y) ** 2.0)
        grad_w1, grad_w2 = tf.gradients(loss, [w1, w2])
        train = tf.group(w1.assign_sub(1e-3 * grad_w1), w2.assign_sub(1e-3 * grad_w2))
        init = tf.global_variables_initializer()
    rng = np.random.default_rng(0)
    feed = {
        x: rng.standard_normal((N, D_IN)).astype(np.float32),
        y: rng.standard_normal((N, D_OUT)).astype(np.float32),
    }
    losses = []
    with tf.Session(graph=g) as sess:
        with phase("setup"):
            sess.run(init)
        for _ in range(steps):
            with phase("forward"):
                value = float(sess.run(loss, feed_dict=feed))
            with phase("train"):
                sess.run(train, feed_dict=feed)
            losses.append(value)
    return losses


def _train_module(device, model, loss_fn, optimizer, x, y, steps, phase) -> list[float]:
    losses = []
    for _ in range(steps):
        with phase("forward"):
            loss = loss_fn(model(x), y)
        with phase("backward"):
            optimizer.zero_grad()
            loss.backward()
        with phase("update"):
            optimizer.step()
        losses.append(loss.item())
    return losses


def _mlp(device: str):
    from devrt import nn

    devrt.manual_seed(0)
    return nn.Sequential(nn.Linear(D_IN, H), nn.ReLU(), nn.Linear(H, D_OUT)).to(device)


def mlp_sgd(device: str, steps: int = 20, phase: Phase = no_phase) -> list[float]:
    """``nn.Sequential(Linear, ReLU, Linear)``, ``nn.MSELoss`` and
    ``optim.SGD`` with momentum."""
    from devrt import nn, optim

    with phase("setup"):
        model = _mlp(device)
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        x, y = _data(device, (N, D_IN), (N, D_OUT))
    return _train_module(device, model, nn.MSELoss(), opt, x, y, steps, phase)


def mlp_adam(device: str, steps: int = 20, phase: Phase = no_phase) -> list[float]:
    """The same network trained by ``optim.Adam``."""
    from devrt import nn, optim

    with phase("setup"):
        model = _mlp(device)
        opt = optim.Adam(model.parameters(), lr=1e-2)
        x, y = _data(device, (N, D_IN), (N, D_OUT))
    return _train_module(device, model, nn.MSELoss(), opt, x, y, steps, phase)


def cnn(device: str, steps: int = 20, phase: Phase = no_phase) -> list[float]:
    """A small CNN on 8x8 one-channel images: ``Conv2d``, ``ReLU``,
    ``MaxPool2d``, ``Flatten``, ``Linear``, ``nn.CrossEntropyLoss``, Adam."""
    from devrt import nn, optim

    with phase("setup"):
        devrt.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(4 * 4 * 4, 3),
        ).to(device)
        opt = optim.Adam(model.parameters(), lr=1e-2)
        (x,) = _data(device, (N, 1, 8, 8))
        labels = np.random.default_rng(1).integers(0, 3, size=N)
        y = devrt.from_numpy(labels.astype(np.int64)).to(device)
    return _train_module(device, model, nn.CrossEntropyLoss(), opt, x, y, steps, phase)


def keras_fit(device: str, steps: int = 20, phase: Phase = no_phase) -> list[float]:
    """The Keras front end: ``Sequential`` of ``Dense`` layers, Adam,
    sparse categorical crossentropy and an accuracy metric, one
    ``train_on_batch`` per step (the step ``fit`` runs for every batch)."""
    from devrt import keras

    with keras.device(device):
        with phase("setup"):
            keras.utils.set_random_seed(0)
            model = keras.Sequential(
                [
                    keras.Input((D_IN,)),
                    keras.layers.Dense(H, activation="relu"),
                    keras.layers.Dense(D_OUT, activation="softmax"),
                ]
            )
            model.compile(
                optimizer=keras.optimizers.Adam(1e-2),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
            (x,) = _data(device, (N, D_IN))
            labels = np.random.default_rng(1).integers(0, D_OUT, size=N)
            y = devrt.from_numpy(labels.astype(np.int64)).to(device)
        losses = []
        for _ in range(steps):
            with phase("train"):
                loss, _accuracy = model.train_on_batch(x, y)
            losses.append(float(loss))
    return losses


WORKLOADS = {
    w.name: w
    for w in [
        Workload("two_layer_eager", "two-layer network, autograd, plain SGD", two_layer_eager),
        Workload("two_layer_graph", "two-layer network as a devrt.graph", two_layer_graph),
        Workload("mlp_sgd", "nn.Sequential MLP, MSELoss, optim.SGD (momentum)", mlp_sgd),
        Workload("mlp_adam", "nn.Sequential MLP, MSELoss, optim.Adam", mlp_adam),
        Workload("cnn", "Conv2d, ReLU, MaxPool2d, Linear, CrossEntropyLoss, Adam", cnn),
        Workload("keras_fit", "keras.Sequential of Dense layers, Adam, train_on_batch", keras_fit),
    ]
}
