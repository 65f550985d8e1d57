"""Keras front-end benchmark: ``fit`` on the lecture's two-layer network
(batches of 64, 1000 -> 100 -> 10, ReLU, SGD, mean squared error) against
Keras 3 on its torch backend (where installed) and against devrt's own
eager training step for the same network (nn.Sequential, MSELoss,
optim.SGD). One process, interleaved rounds; each call is one epoch of
BATCHES batches, reported per batch. Run: python bench/bench_keras.py

With --breakdown it times the pieces of a step instead, each the fastest
and the median of interleaved rounds (the fastest is the one to read on a
busy machine): fit's step, the eager step, the same step written as bare
devrt ops (what a step costs without the front end), the two large
products, a batch's gather, the kernel's update, and fit and the eager
step again on a network shrunk to 8 -> 8 -> 10, where the math is nothing
and the front end's own work and the dispatch are all that is left.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("KERAS_BACKEND", "torch")
import devrt  # noqa: E402
from common import blas_setting, compare, try_import_torch  # noqa: E402
from devrt.demo import D_IN, D_OUT, H, N  # noqa: E402

BATCHES = 20


# The lecture's network; --breakdown also runs a shrunk copy.
SIZES = (D_IN, H, D_OUT)
SMALL = (8, 8, 10)


def data(sizes=SIZES):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N * BATCHES, sizes[0]), dtype=np.float32)
    y = rng.standard_normal((N * BATCHES, sizes[2]), dtype=np.float32)
    return x, y


def keras_fit(keras, sizes=SIZES):
    """One epoch of ``fit`` in the style of `keras` (devrt.keras or Keras 3)."""
    d_in, h, d_out = sizes
    model = keras.Sequential(
        [keras.Input((d_in,)), keras.layers.Dense(h, activation="relu"), keras.layers.Dense(d_out)]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-3), loss="mse")
    x, y = data(sizes)

    def epoch():
        model.fit(x, y, batch_size=N, epochs=1, verbose=0)

    return epoch


def eager_steps(sizes=SIZES):
    """devrt's eager training loop over the same batches."""
    from devrt import nn

    d_in, h, d_out = sizes
    model = nn.Sequential(nn.Linear(d_in, h), nn.ReLU(), nn.Linear(h, d_out))
    opt = devrt.optim.SGD(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    x, y = data(sizes)
    xs = [devrt.from_numpy(x[i * N : (i + 1) * N]) for i in range(BATCHES)]
    ys = [devrt.from_numpy(y[i * N : (i + 1) * N]) for i in range(BATCHES)]

    def epoch():
        for bx, by in zip(xs, ys):
            loss = loss_fn(model(bx), by)
            opt.zero_grad()
            loss.backward()
            opt.step()
        loss.item()

    return epoch


def try_import_keras():
    if try_import_torch() is None:
        return None
    try:
        import keras

        return keras if keras.backend.backend() == "torch" else None
    except Exception:
        return None


def bare_steps(sizes=SIZES):
    """The same epoch as bare devrt ops: shuffled batches gathered by index,
    the network's ops, the gradients, an SGD update; no front end."""
    d_in, h, d_out = sizes
    xs, ys = (devrt.from_numpy(a) for a in data(sizes))
    params = [
        (devrt.randn(d_in, h) * 0.01).requires_grad_(),
        devrt.zeros(h).requires_grad_(),
        (devrt.randn(h, d_out) * 0.1).requires_grad_(),
        devrt.zeros(d_out).requires_grad_(),
    ]
    k1, b1, k2, b2 = params
    lr = devrt.full((), 1e-3)

    def epoch():
        order = devrt.randperm(xs.shape[0])
        for i in range(BATCHES):
            idx = order.narrow(0, i * N, N)
            bx, by = devrt.index_select(xs, 0, idx), devrt.index_select(ys, 0, idx)
            diff = devrt.matmul(devrt.relu(devrt.matmul(bx, k1) + b1), k2) + b2 - by
            grads = devrt.autograd.grad((diff * diff).mean(), params)
            with devrt.no_grad():
                for p, g in zip(params, grads):
                    p.sub_(g * lr)

    return epoch


def breakdown(rounds: int = 40) -> None:
    import statistics

    from devrt import keras as dkeras

    x, y = data()
    xs, ys = devrt.from_numpy(x), devrt.from_numpy(y)
    idx = devrt.randperm(xs.shape[0]).narrow(0, 0, N)
    bx = devrt.index_select(xs, 0, idx)
    kernel, grad = devrt.randn(D_IN, H), devrt.randn(N, H)
    kernel_grad, lr = devrt.randn(D_IN, H), devrt.full((), 1e-3)
    pieces = {
        "fit step": (keras_fit(dkeras), BATCHES),
        "eager step": (eager_steps(), BATCHES),
        "bare-op step": (bare_steps(), BATCHES),
        "x @ kernel": (lambda: devrt.matmul(bx, kernel), 1),
        "x.T @ grad (kernel's)": (lambda: devrt.matmul(bx.t(), grad), 1),
        "gather x and y": (
            lambda: (devrt.index_select(xs, 0, idx), devrt.index_select(ys, 0, idx)),
            1,
        ),
        "kernel -= grad * lr": (lambda: kernel.sub_(kernel_grad * lr), 1),
        # The network shrunk: what is left is the front ends' own work and
        # the dispatch.
        "fit step, 8-8-10": (keras_fit(dkeras, SMALL), BATCHES),
        "eager step, 8-8-10": (eager_steps(SMALL), BATCHES),
        "bare-op step, 8-8-10": (bare_steps(SMALL), BATCHES),
    }
    samples: dict[str, list[float]] = {name: [] for name in pieces}
    for fn, _ in pieces.values():
        fn()
    for _ in range(rounds):
        for name, (fn, per) in pieces.items():
            calls = 3 if per > 1 else 40
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            samples[name].append((time.perf_counter() - start) / calls / per)
    print(f"{'per batch':<24} {'fastest':>9} {'median':>9}")
    for name, values in samples.items():
        print(f"{name:<24} {min(values) * 1e6:7.1f} us {statistics.median(values) * 1e6:7.1f} us")


def main() -> None:
    from devrt import keras as dkeras

    if "--breakdown" in sys.argv:
        print(blas_setting())
        breakdown()
        return

    keras3 = try_import_keras()
    print(f"devrt {devrt.__version__}, keras {keras3.__version__ if keras3 else 'not installed'}")
    print(blas_setting())
    print(
        f"time per batch of {N} ({BATCHES} batches per call); a ratio < 1 means devrt is faster\n"
    )
    contenders = {"devrt keras fit": keras_fit(dkeras), "devrt eager": eager_steps()}
    if keras3 is not None:
        contenders["keras3 fit"] = keras_fit(keras3)
    t = {k: v / BATCHES for k, v in compare(contenders, rounds=15).items()}
    mine = t["devrt keras fit"]
    print(f"{'devrt keras fit':<16} {mine * 1e3:8.3f} ms")
    for name, other in t.items():
        if name != "devrt keras fit":
            print(f"{name:<16} {other * 1e3:8.3f} ms   fit/{name} time {mine / other:5.2f}x")


if __name__ == "__main__":
    main()
