"""Property tests with Hypothesis: random broadcastable shapes for binary ops
and random axis subsets for reductions, on every device, against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import devrt
from devrt.testing.conformance.support import (
    assert_close,
    binary_types,
    check_meta,
    need_types,
    to_device,
)

# NumPy references (and pydev's NumPy kernels) warn on inf/NaN; the values are checked.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)

DTYPES = ["bool", "int32", "int64", "float32", "float64"]

NP_OPS = {
    "add": np.add,
    "mul": np.multiply,
    "maximum": np.maximum,
    "eq": np.equal,
    "lt": np.less,
    "ge": np.greater_equal,
    "ne": np.not_equal,
}


def _elements(dtype):
    if dtype == "bool":
        return st.booleans()
    if dtype in ("int32", "int64"):
        return st.integers(-1000, 1000)
    # small integers and halves: many equal pairs for the comparisons
    width = 32 if dtype == "float32" else 64
    return (
        st.integers(-8, 8).map(lambda v: v / 2)
        | st.floats(-1e3, 1e3, width=width)
        | st.sampled_from([float("nan"), float("inf"), float("-inf")])
    )


@st.composite
def broadcast_pair(draw, dtype_a=None, dtype_b=None):
    shapes = draw(
        hnp.mutually_broadcastable_shapes(
            num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=5
        )
    )
    da = dtype_a or draw(st.sampled_from(DTYPES))
    db = dtype_b or draw(st.sampled_from(DTYPES))
    a = draw(hnp.arrays(np.dtype(da), shapes.input_shapes[0], elements=_elements(da)))
    b = draw(hnp.arrays(np.dtype(db), shapes.input_shapes[1], elements=_elements(db)))
    transpose = draw(st.booleans())
    return a, b, shapes.result_shape, transpose


def _tensor(a, device, transpose):
    """`a` on `device`, as a transposed view when asked (and ndim >= 2)."""
    if transpose and a.ndim >= 2:
        rev = tuple(range(a.ndim))[::-1]
        return to_device(np.array(a.transpose(rev)), device).permute(*rev)
    return to_device(a, device)


def _check_binary(op, device, need, a, b, shape, transpose):
    da, db = a.dtype.name, b.dtype.name
    compute, result = binary_types(op, da, db, a_0d=a.ndim == 0, b_0d=b.ndim == 0)
    need_types(need, op, compute, da, db)
    r = getattr(devrt, op)(_tensor(a, device, transpose), to_device(b, device))
    check_meta(r, result, shape)
    with np.errstate(all="ignore"):
        expected = NP_OPS[op](a.astype(compute), b.astype(compute)).astype(result)
    assert_close(r, expected, result)


@pytest.mark.parametrize("op", list(NP_OPS))
def test_binary_same_dtype_broadcast(device, need, op):
    dtype = "float32" if op in ("add", "mul") else "float64"
    need(op, dtype=dtype)

    @SETTINGS
    @given(broadcast_pair(dtype, dtype))
    def run(case):
        _check_binary(op, device, need, *case)

    run()


@pytest.mark.parametrize("op", list(NP_OPS))
def test_binary_mixed_dtypes_broadcast(device, need, op):
    need(op)

    @SETTINGS
    @given(broadcast_pair())
    def run(case):
        a, b = case[0], case[1]
        compute, _ = binary_types(
            op, a.dtype.name, b.dtype.name, a_0d=a.ndim == 0, b_0d=b.ndim == 0
        )
        from devrt.testing import supports

        if not supports(device, op, compute) or any(
            d != compute and not supports(device, "copy", d) for d in (a.dtype.name, b.dtype.name)
        ):
            return  # this device cannot run this combination
        _check_binary(op, device, need, *case)

    run()


REDUCTIONS = {
    "sum": (np.sum, lambda d: "int64" if d in ("bool", "int32", "int64") else d),
    "mean": (np.mean, lambda d: d if d.startswith("float") else "float32"),
    "amax": (np.max, lambda d: d),
}


@st.composite
def reduce_case(draw, dtype, allow_empty):
    shape = draw(
        hnp.array_shapes(min_dims=0, max_dims=4, min_side=0 if allow_empty else 1, max_side=6)
    )
    x = draw(hnp.arrays(np.dtype(dtype), shape, elements=_elements(dtype).filter(lambda v: v == v)))
    ndim = len(shape)
    if ndim and draw(st.booleans()):
        axes = draw(st.lists(st.integers(0, ndim - 1), unique=True, min_size=1, max_size=ndim))
        # negative spellings of some axes
        axes = tuple(a - ndim if draw(st.booleans()) else a for a in axes)
    else:
        axes = None
    keepdim = draw(st.booleans())
    transpose = draw(st.booleans())
    return x, axes, keepdim, transpose


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "bool"])
@pytest.mark.parametrize("op", list(REDUCTIONS))
def test_reduction_axes(device, need, op, dtype):
    np_fn, out_fn = REDUCTIONS[op]
    out = out_fn(dtype)
    need_types(need, "max" if op == "amax" else op, out, dtype)

    @SETTINGS
    @given(reduce_case(dtype, allow_empty=op != "amax"))
    def run(case):
        x, axes, keepdim, transpose = case
        t = _tensor(x, device, transpose)
        r = getattr(devrt, op)(t, dim=axes, keepdim=keepdim)
        with np.errstate(all="ignore"):
            src = x.astype(np.float64) if out.startswith("float") else x.astype(out)
            expected = np.asarray(np_fn(src, axis=axes, keepdims=keepdim)).astype(out)
        check_meta(r, out, expected.shape)
        if out == "float32":
            finite = x.astype(np.float64)[np.isfinite(x.astype(np.float64))]
            scale = float(np.abs(finite).sum())
            assert_close(r, expected, out, rtol=1e-5, atol=1e-6 * max(scale, 1.0))
        else:
            assert_close(r, expected, out)

    run()


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_dim_indices(device, need, op):
    need(op, "arg" + op, dtype="int64")

    @SETTINGS
    @given(
        hnp.arrays(
            np.int64,
            hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=6),
            elements=st.integers(-3, 3),
        ),
        st.data(),
    )
    def run(x, data):
        dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
        keepdim = data.draw(st.booleans())
        values, indices = getattr(devrt, op)(to_device(x, device), dim, keepdim)
        assert_close(values, getattr(np, op)(x, axis=dim, keepdims=keepdim))
        assert_close(indices, getattr(np, "arg" + op)(x, axis=dim, keepdims=keepdim))

    run()
