"""``pydev``: a backend written in Python, its kernels NumPy callables.

It shows how a backend needs nothing but pluggy hooks and catalogue kernels,
and it keeps the dispatcher's Python-kernel path under test. It implements a
few ops only (add, mul, matmul, relu, sum), so it also exercises the
missing-kernel error. Register it with ``devrt.register_plugin(pydev)``.
"""

from __future__ import annotations

import sys

import numpy as np

from devrt.hookspecs import hookimpl

NAME = "pydev"
FLOATS = ["float32", "float64"]
NUMERIC = ["int32", "int64", "float32", "float64"]


def _add(inputs, outputs, attrs):
    np.add(inputs[0], inputs[1], out=outputs[0])


def _mul(inputs, outputs, attrs):
    np.multiply(inputs[0], inputs[1], out=outputs[0])


def _relu(inputs, outputs, attrs):
    np.maximum(inputs[0], 0, out=outputs[0])


def _matmul(inputs, outputs, attrs):
    np.matmul(inputs[0], inputs[1], out=outputs[0])


def _sum(inputs, outputs, attrs):
    # The output keeps the input's rank with size-1 reduced axes.
    np.sum(inputs[0], axis=tuple(attrs["axes"]), keepdims=True, out=outputs[0])


KERNELS = {
    "add": (_add, NUMERIC),
    "mul": (_mul, NUMERIC),
    "relu": (_relu, NUMERIC),
    "matmul": (_matmul, NUMERIC),
    "sum": (_sum, ["int64", "float32", "float64"]),
}


@hookimpl
def devrt_register_backends(registry) -> None:
    registry.register_backend(NAME, device_count=1)
    for op, (fn, dtypes) in KERNELS.items():
        registry.register_kernel(op, NAME, dtypes, fn)


@hookimpl
def devrt_describe() -> dict:
    return {"kernels": "NumPy callables (" + ", ".join(KERNELS) + ")"}


class CallTrace:
    """Records the Python functions called while active (sys.setprofile):
    a test checks with ``called(kernel)`` that a pydev kernel ran."""

    def __init__(self):
        self.codes = set()

    def _hook(self, frame, event, arg):
        if event == "call":
            self.codes.add(frame.f_code)

    def __enter__(self):
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *exc):
        sys.setprofile(None)

    def called(self, fn) -> bool:
        return fn.__code__ in self.codes
