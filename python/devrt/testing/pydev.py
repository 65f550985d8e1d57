"""``pydev``: a backend written in Python, its kernels NumPy callables.

It shows how a backend needs nothing but pluggy hooks and catalogue kernels,
and it keeps the dispatcher's Python-kernel path under test. It implements a
few ops only (see KERNELS), so it also exercises the missing-kernel error;
with im2col, col2im and a max reduction but no pooling kernels of its own,
it runs max pooling through the core's composite. Register it with
``devrt.register_plugin(pydev)``.
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


def _max(inputs, outputs, attrs):
    np.max(inputs[0], axis=tuple(attrs["axes"]), keepdims=True, out=outputs[0])


def _eq(inputs, outputs, attrs):
    np.equal(inputs[0], inputs[1], out=outputs[0])


def _ne(inputs, outputs, attrs):
    np.not_equal(inputs[0], inputs[1], out=outputs[0])


def _logical_or(inputs, outputs, attrs):
    np.logical_or(inputs[0], inputs[1], out=outputs[0])


def _div(inputs, outputs, attrs):
    np.divide(inputs[0], inputs[1], out=outputs[0])


def _where(inputs, outputs, attrs):
    np.copyto(outputs[0], np.where(inputs[0], inputs[1], inputs[2]))


def _copy(inputs, outputs, attrs):
    # The cast kernel too: NumPy's astype rules are the contract's
    # (out-of-range floats saturate to inf, as they should).
    with np.errstate(over="ignore", invalid="ignore"):
        np.copyto(outputs[0], inputs[0], casting="unsafe")


def _fill(inputs, outputs, attrs):
    outputs[0][...] = attrs["value"]


def _taps(attrs, h, w):
    """Each window tap (i, j) with the slices of the padded image it reads
    for the whole output grid."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (
        attrs[k] for k in ("kernel", "stride", "padding", "dilation")
    )
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            yield i * kw + j, rows, cols, (ph, pw), (oh, ow)


def _im2col(inputs, outputs, attrs):
    x, cols = inputs[0], outputs[0]
    n, c, h, w = x.shape
    taps = attrs["kernel"][0] * attrs["kernel"][1]
    out = cols.reshape(n, c, taps, -1)
    for tap, rows, cs, (ph, pw), (oh, ow) in _taps(attrs, h, w):
        padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=attrs["pad_value"])
        out[:, :, tap] = padded[:, :, rows, cs].reshape(n, c, oh * ow)


def _col2im(inputs, outputs, attrs):
    cols, x = inputs[0], outputs[0]
    n, c, h, w = x.shape
    taps = attrs["kernel"][0] * attrs["kernel"][1]
    src = cols.reshape(n, c, taps, -1)
    ph, pw = attrs["padding"]
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    for tap, rows, cs, _, (oh, ow) in _taps(attrs, h, w):
        padded[:, :, rows, cs] += src[:, :, tap].reshape(n, c, oh, ow)
    x[...] = padded[:, :, ph : ph + h, pw : pw + w]


ALL = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]
KERNELS = {
    "add": (_add, NUMERIC),
    "mul": (_mul, NUMERIC),
    "div": (_div, FLOATS),
    "eq": (_eq, ALL),
    "ne": (_ne, ALL),
    "logical_or": (_logical_or, ALL),
    "where": (_where, ALL),
    "relu": (_relu, NUMERIC),
    "matmul": (_matmul, NUMERIC),
    "sum": (_sum, ["int64", "float32", "float64"]),
    "max": (_max, ALL),
    "copy": (_copy, ALL),
    "fill": (_fill, ALL),
    "im2col": (_im2col, FLOATS),
    "col2im": (_col2im, FLOATS),
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
