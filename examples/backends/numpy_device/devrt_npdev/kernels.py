"""npdev's kernels: ``fn(inputs, outputs, attrs)``, one per catalogue op.

Every operand is a :class:`devrt.protocols.DeviceView` over a buffer of
npdev's own memory (see memory.py). ``array`` turns one into a NumPy array
over the same bytes, without copying, and the kernel computes into the
output arrays. The core has already done everything else: promoted dtypes,
broadcast inputs to the output's shape (a broadcast axis has stride 0),
allocated the outputs, and it records autograd and runs graphs from these
same forward kernels.

These are the ops the two-layer network needs eagerly and as a graph
(``devrt needs --device npdev`` lists them), in float32.
"""

from __future__ import annotations

import numpy as np

from devrt.protocols import DeviceView


def array(v: DeviceView) -> np.ndarray:
    """A NumPy array viewing the elements ``v`` describes."""
    if v.buffer is None:  # a view with no element names no buffer
        return np.empty(v.shape, v.dtype)
    # Positional arguments: this runs for every operand of every call.
    size = v.itemsize
    return np.ndarray(v.shape, v.dtype, v.buffer, v.offset, tuple([s * size for s in v.strides]))


def _binary(ufunc):
    def kernel(inputs, outputs, attrs):
        a, b = inputs
        ufunc(array(a), array(b), out=array(outputs[0]))

    kernel.__name__ = ufunc.__name__
    return kernel


def _neg(inputs, outputs, attrs):
    np.negative(array(inputs[0]), out=array(outputs[0]))


def _clamp(inputs, outputs, attrs):
    # Either bound may be absent (None); NaN stays NaN, as np.clip keeps it.
    lo, hi = attrs["min"], attrs["max"]
    x, y = array(inputs[0]), array(outputs[0])
    if hi is None and lo is not None:  # relu's form, x.clamp(min=0): the cheap path
        np.maximum(x, lo, out=y)
    elif lo is None and hi is not None:
        np.minimum(x, hi, out=y)
    elif lo is None:
        np.copyto(y, x)
    else:
        np.clip(x, lo, hi, out=y)


def _where(inputs, outputs, attrs):
    cond, a, b = (array(v) for v in inputs)
    y = array(outputs[0])
    np.copyto(y, b)
    np.copyto(y, a, where=cond)


def _matmul(inputs, outputs, attrs):
    np.matmul(array(inputs[0]), array(inputs[1]), out=array(outputs[0]))


def _sum(inputs, outputs, attrs):
    # The output keeps the input's rank, with size 1 on each reduced axis.
    np.sum(array(inputs[0]), axis=tuple(attrs["axes"]), keepdims=True, out=array(outputs[0]))


def _copy(inputs, outputs, attrs):
    np.copyto(array(outputs[0]), array(inputs[0]), casting="unsafe")


def _fill(inputs, outputs, attrs):
    array(outputs[0])[...] = attrs["value"]


def _splitmix64(z: np.ndarray) -> np.ndarray:
    # devrt_rng_mix from devrt/rng.h, on uint64 arrays (products wrap, as in C).
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _uniform(seed: int, counters: np.ndarray, lane: int) -> np.ndarray:
    key = _splitmix64(np.array([(seed ^ (lane << 62)) & (2**64 - 1)], dtype=np.uint64))
    bits = _splitmix64(key ^ counters)
    return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def _random_normal(inputs, outputs, attrs):
    # devrt's counter-based stream (devrt/rng.h): element i draws from
    # counter offset + i, so every device produces the same numbers.
    y = array(outputs[0])
    seed = attrs["seed"] & (2**64 - 1)
    counters = np.arange(y.size, dtype=np.uint64) + np.uint64(attrs["offset"] & (2**64 - 1))
    with np.errstate(over="ignore"):
        u1, u2 = _uniform(seed, counters, 0), _uniform(seed, counters, 1)
    normal = np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(6.283185307179586 * u2)
    y[...] = (attrs["mean"] + attrs["std"] * normal).reshape(y.shape)


F32 = ["float32"]
KERNELS = {
    "add": (_binary(np.add), F32),
    "sub": (_binary(np.subtract), F32),
    "mul": (_binary(np.multiply), F32),
    "pow": (_binary(np.power), F32),
    "maximum": (_binary(np.maximum), F32),
    "ge": (_binary(np.greater_equal), F32),
    "gt": (_binary(np.greater), F32),
    "eq": (_binary(np.equal), F32),
    "neg": (_neg, F32),
    "clamp": (_clamp, F32),
    "where": (_where, F32),
    "matmul": (_matmul, F32),
    "sum": (_sum, F32),
    "copy": (_copy, F32),
    "fill": (_fill, F32),
    "random_normal": (_random_normal, F32),
}
