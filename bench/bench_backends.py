"""The lecture's two-layer training step on each backend: the CPU backend
against the example devices of examples/backends (``npdev``, NumPy kernels
over memory of its own, and ``natdev``, plain C++ loops), where installed.

One process, interleaved rounds; prints each device's step time and its
ratio to the CPU's. Run: python bench/bench_backends.py
(pip install ./examples/backends/numpy_device, and
pip install --no-build-isolation ./examples/backends/native_device).
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import devrt  # noqa: E402
from common import blas_setting, compare  # noqa: E402

DEVICES = ["cpu", "npdev", "natdev"]


def two_layer_step(device, n=64, d_in=1000, h=100, d_out=10, lr=1e-6):
    """bench_eager's two-layer step, its tensors on `device`: autograd,
    manual SGD under no_grad."""
    rng = np.random.default_rng(0)

    def make(*shape):
        return devrt.from_numpy(rng.standard_normal(shape, dtype=np.float32)).to(device)

    x, y = make(n, d_in), make(n, d_out)
    w1, w2 = make(d_in, h).requires_grad_(), make(h, d_out).requires_grad_()

    def step():
        loss = (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()
        loss.backward()
        with devrt.no_grad():
            w1.sub_(lr * w1.grad)
            w2.sub_(lr * w2.grad)
            w1.grad = None
            w2.grad = None

    return step


def main() -> None:
    registered = {b["name"] for b in devrt.backends() if b["registered"]}
    devices = [d for d in DEVICES if d in registered]
    print(f"devrt {devrt.__version__}; devices: {', '.join(devices)}")
    print(blas_setting())
    print("two-layer eager step (N=64, D_in=1000, H=100, D_out=10), median of rounds\n")
    # The pause lets one OpenBLAS pool's spinning threads (devrt's, NumPy's)
    # stop before the other's contender runs.
    times = compare({d: two_layer_step(d) for d in devices}, rounds=15, settle=0.2)
    for d in devices:
        ratio = times[d] / times["cpu"]
        print(f"{d:8s} {times[d] * 1e6:10.1f} us   {ratio:6.2f}x the cpu step")
    missing = [d for d in DEVICES if d not in registered]
    if missing:
        print(f"\nnot installed: {', '.join(missing)}")


if __name__ == "__main__":
    main()
