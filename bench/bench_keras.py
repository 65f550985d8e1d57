"""Keras front-end benchmark: ``fit`` on the lecture's two-layer network
(batches of 64, 1000 -> 100 -> 10, ReLU, SGD, mean squared error) against
Keras 3 on its torch backend (where installed) and against devrt's own
eager training step for the same network (nn.Sequential, MSELoss,
optim.SGD). One process, interleaved rounds; each call is one epoch of
BATCHES batches, reported per batch. Run: python bench/bench_keras.py
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("KERAS_BACKEND", "torch")
import devrt  # noqa: E402
from common import blas_setting, compare, try_import_torch  # noqa: E402
from devrt.demo import D_IN, D_OUT, H, N  # noqa: E402

BATCHES = 20


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N * BATCHES, D_IN), dtype=np.float32)
    y = rng.standard_normal((N * BATCHES, D_OUT), dtype=np.float32)
    return x, y


def keras_fit(keras):
    """One epoch of ``fit`` in the style of `keras` (devrt.keras or Keras 3)."""
    model = keras.Sequential(
        [keras.Input((D_IN,)), keras.layers.Dense(H, activation="relu"), keras.layers.Dense(D_OUT)]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-3), loss="mse")
    x, y = data()

    def epoch():
        model.fit(x, y, batch_size=N, epochs=1, verbose=0)

    return epoch


def eager_steps():
    """devrt's eager training loop over the same batches."""
    from devrt import nn

    model = nn.Sequential(nn.Linear(D_IN, H), nn.ReLU(), nn.Linear(H, D_OUT))
    opt = devrt.optim.SGD(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    x, y = data()
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


def main() -> None:
    from devrt import keras as dkeras

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
