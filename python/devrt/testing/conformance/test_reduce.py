"""Reductions on every device against NumPy: sum, prod, mean, max/min (also
the (values, indices) form), amax/amin, argmax/argmin, var/std, any/all,
softmax and log_softmax.

Result dtypes follow docs/kernels.md and PyTorch: sum/prod of bool and
integers count in int64, mean/var/std/softmax of integers give float32,
any/all give bool (uint8 for uint8 input), arg-reductions give int64."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt.testing.conformance.support import (
    ALL_DTYPES,
    assert_close,
    check_meta,
    dt,
    is_float,
    laid_out,
    make,
    make_for_layout,
    need_types,
    to_device,
    to_numpy,
)

# NumPy references (and pydev's NumPy kernels) warn on inf/NaN; the values are checked.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

LARGE = 300_007
SHAPE = (3, 4, 5)
AXES = [None, 0, 1, -1, (0, 2), (-1, -3), (2, 0), (0, 1, 2), [1, 2]]

NP_REDUCE = {
    "sum": np.sum,
    "prod": np.prod,
    "mean": np.mean,
    "amax": np.max,
    "amin": np.min,
    "any": np.any,
    "all": np.all,
}


def reduce_dtype(op: str, dtype: str) -> str:
    """The result dtype (docs/kernels.md, PyTorch)."""
    if op in ("sum", "prod"):
        return dtype if is_float(dtype) else "int64"
    if op in ("mean", "var", "std", "softmax", "log_softmax"):
        return dtype if is_float(dtype) else "float32"
    if op in ("any", "all"):
        return "uint8" if dtype == "uint8" else "bool"  # uint8 as in PyTorch
    if op in ("argmax", "argmin"):
        return "int64"
    return dtype  # max, min, amax, amin


KERNEL = {"amax": "max", "amin": "min", "std": "var"}


def need_reduce(need, op, dtype):
    compute = reduce_dtype(op, dtype) if op not in ("argmax", "argmin") else dtype
    if op in ("any", "all"):
        compute = "bool"
    need_types(need, KERNEL.get(op, op), compute, dtype)
    if op == "std":
        need("sqrt", dtype=compute)


def reduce_input(rng, op, shape, dtype):
    if op == "prod":
        if is_float(dtype):
            return rng.uniform(0.5, 1.5, shape).astype(dtype)
        if dtype == "bool":
            return rng.random(shape) < 0.9
        return rng.choice([-2, -1, 1, 2], shape).astype(dtype)
    if op in ("any", "all"):
        # Mostly true so that `all` is not trivially false, with some zeros.
        v = rng.random(shape) < 0.85
        if dtype == "bfloat16":
            return v.astype(np.float32)  # made bfloat16 by the core's cast
        return v.astype(dtype) if dtype != "bool" else v
    if op in ("amax", "amin", "max", "min", "argmax", "argmin") and not is_float(dtype):
        return make(rng, shape, dtype, low=-4, high=4)  # with ties
    return make(rng, shape, dtype)


def reference(op, x, axis, keepdim, dtype):
    """NumPy's answer in the expected result dtype (float sums in float64)."""
    axis = tuple(axis) if isinstance(axis, list) else axis
    out = reduce_dtype(op, x.dtype.name if x.dtype != np.bool_ else "bool")
    if op in ("any", "all"):
        xc = x != 0
    elif is_float(out):
        xc = x.astype(np.float64)
    else:
        xc = x.astype(out)
    with np.errstate(all="ignore"):
        r = NP_REDUCE[op](xc, axis=axis, keepdims=keepdim)
    return np.asarray(r).astype(out)


def _tol(op, x, out):
    if out == "float32":
        xf = np.asarray(x, np.float64)
        scale = float(np.abs(xf[np.isfinite(xf)]).sum())
        return {"rtol": 1e-5, "atol": 1e-6 * max(scale, 1.0)}
    return {}


REDUCE_DTYPES = {
    "sum": ["bool", "uint8", "int32", "int64", "float32", "float64"],
    "prod": ["bool", "int32", "int64", "float32", "float64"],
    "mean": ["int32", "int64", "float32", "float64", "bool"],
    "amax": ["bool", "int32", "int64", "float32", "float64"],
    "amin": ["bool", "int32", "int64", "float32", "float64"],
    "any": ALL_DTYPES,
    "all": ALL_DTYPES,
}


@pytest.mark.parametrize("op,dtype", [(op, d) for op, ds in REDUCE_DTYPES.items() for d in ds])
def test_reduce_dtypes(device, need, rng, op, dtype):
    need_reduce(need, op, dtype)
    x = reduce_input(rng, op, SHAPE, dtype)
    t = to_device(x, device, dtype)
    if dtype == "bfloat16":
        x = to_numpy(t)  # the bfloat16 values as float32
    out = reduce_dtype(op, dtype)
    full = getattr(devrt, op)(t)
    check_meta(full, out, ())
    assert_close(full, reference(op, x, None, False, dtype), out, **_tol(op, x, out))
    r = getattr(t, op)(1)
    check_meta(r, out, (3, 5))
    assert_close(r, reference(op, x, 1, False, dtype), out, **_tol(op, x, out))


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("op", ["sum", "prod", "mean", "amax", "amin", "any", "all"])
def test_reduce_axes(device, need, rng, op, axis, keepdim):
    dtype = "float64" if op not in ("any", "all") else "int32"
    need_reduce(need, op, dtype)
    x = reduce_input(rng, op, SHAPE, dtype)
    t = to_device(x, device)
    expected = reference(op, x, axis, keepdim, dtype)
    r = getattr(devrt, op)(t, dim=axis, keepdim=keepdim)
    check_meta(r, reduce_dtype(op, dtype), expected.shape)
    assert_close(r, expected)
    if axis is not None:
        r2 = getattr(t, op)(axis, keepdim)
        assert_close(r2, expected)


@pytest.mark.parametrize("layout", ["transposed", "strided", "expanded"])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)], ids=str)
@pytest.mark.parametrize("op", ["sum", "prod", "mean", "amax", "amin", "any", "all"])
def test_reduce_noncontiguous(device, need, rng, op, axis, layout):
    dtype = "float32" if op not in ("any", "all") else "bool"
    need_reduce(need, op, dtype)
    x = reduce_input(rng, op, (6, 7), dtype)
    if layout == "expanded":
        x = np.broadcast_to(x[:1], x.shape).copy()
    t = laid_out(x, device, layout)
    out = reduce_dtype(op, dtype)
    r = getattr(devrt, op)(t, dim=axis)
    expected = reference(op, x, axis, False, dtype)
    check_meta(r, out, expected.shape)
    assert_close(r, expected, out, **_tol(op, x, out))


@pytest.mark.parametrize("op", ["sum", "prod", "mean", "amax", "amin", "any", "all"])
def test_reduce_large(device, need, rng, op):
    dtype = "float32" if op not in ("any", "all") else "bool"
    need_reduce(need, op, dtype)
    out = reduce_dtype(op, dtype)
    if op == "prod":
        x = rng.uniform(0.99999, 1.00001, LARGE).astype(np.float32)
    elif op in ("sum", "mean"):
        x = rng.random(LARGE).astype(np.float32)
    else:
        x = reduce_input(rng, op, (LARGE,), dtype)
    t = to_device(x, device)
    tol = {"rtol": 1e-4} if is_float(out) else {}
    assert_close(getattr(devrt, op)(t), reference(op, x, None, False, dtype), out, **tol)
    # 2-D, reducing either axis (outer and inner reductions), and a transposed view
    x2 = reduce_input(rng, op, (1000, 301), dtype)
    if op in ("sum", "mean"):
        x2 = rng.random((1000, 301)).astype(np.float32)
    t2 = to_device(x2, device)
    for axis in (0, 1):
        assert_close(
            getattr(devrt, op)(t2, axis), reference(op, x2, axis, False, dtype), out, **tol
        )
    tt = laid_out(x2, device, "transposed")
    assert_close(getattr(devrt, op)(tt, 0), reference(op, x2, 0, False, dtype), out, **tol)
    # the all-true and the one-false large cases
    if op in ("any", "all"):
        z = np.zeros(LARGE, bool)
        z[LARGE - 3] = True
        assert_close(devrt.any(to_device(z, device)), np.array(True))
        o = ~z
        assert_close(devrt.all(to_device(o, device)), np.array(False))
        assert_close(devrt.all(to_device(np.ones(LARGE, bool), device)), np.array(True))


def test_sum_large_int_exact(device, need, rng):
    need_types(need, "sum", "int64", "int32")
    x = rng.integers(-(2**30), 2**30, LARGE).astype(np.int32)
    r = devrt.sum(to_device(x, device))
    check_meta(r, "int64", ())
    assert r.item() == int(x.astype(np.int64).sum())  # no int32 overflow


@pytest.mark.parametrize(
    "op,expected",
    [("sum", 0.0), ("prod", 1.0), ("mean", np.nan), ("any", False), ("all", True)],
)
@pytest.mark.parametrize("shape,axis", [((0,), None), ((3, 0), 1), ((0, 4), 0)], ids=str)
def test_reduce_empty(device, need, op, expected, shape, axis):
    dtype = "float32" if op not in ("any", "all") else "bool"
    need_reduce(need, op, dtype)
    x = np.zeros(shape, dtype)
    r = getattr(devrt, op)(to_device(x, device), dim=axis)
    ref = reference(op, x, axis, False, dtype)
    check_meta(r, reduce_dtype(op, dtype), ref.shape)
    assert_close(r, np.full(ref.shape, expected, ref.dtype))


def test_any_all_treat_nan_as_true(device, need):
    need("any", "all", dtype="bool")
    need("copy", dtype="float32")
    x = np.array([0.0, np.nan], np.float32)
    t = to_device(x, device)
    assert_close(devrt.any(t), np.array(np.any(x)))
    assert_close(devrt.all(t[1:]), np.array(np.all(x[1:])))
    assert_close(devrt.all(t), np.array(False))


def test_reduce_empty_output(device, need):
    # reducing a non-empty axis of an empty tensor gives an empty result
    need("sum", "max", dtype="float32")
    t = to_device(np.zeros((0, 4), np.float32), device)
    check_meta(devrt.sum(t, 1), "float32", (0,))
    check_meta(devrt.amax(t, 1), "float32", (0,))
    check_meta(devrt.sum(t, 1, keepdim=True), "float32", (0, 1))


@pytest.mark.parametrize("op", ["amax", "amin", "max", "min", "argmax", "argmin"])
def test_extremum_of_empty_raises(device, op):
    t = to_device(np.zeros((3, 0), np.float32), device)
    with pytest.raises(ValueError):
        getattr(devrt, op)(t, 1)
    with pytest.raises(ValueError):
        getattr(devrt, op)(t)


@pytest.mark.parametrize("op", ["sum", "prod", "mean", "amax", "amin", "any", "all"])
def test_reduce_zero_d(device, need, op):
    dtype = "float64" if op not in ("any", "all") else "bool"
    need_reduce(need, op, dtype)
    x = np.array(2.5) if dtype == "float64" else np.array(True)
    t = to_device(x, device)
    for r in (getattr(devrt, op)(t), getattr(devrt, op)(t, 0), getattr(devrt, op)(t, -1)):
        check_meta(r, reduce_dtype(op, dtype), ())
        assert_close(r, x)
    check_meta(getattr(devrt, op)(t, 0, keepdim=True), reduce_dtype(op, dtype), ())


def test_reduce_one_element(device, need):
    need("sum", "max", "mean", dtype="float32")
    x = np.array([[4.5]], np.float32)
    t = to_device(x, device)
    for op in ("sum", "amax", "mean"):
        r = getattr(devrt, op)(t, 1)
        check_meta(r, "float32", (1,))
        assert_close(r, np.array([4.5], np.float32))


def test_reduce_dtype_argument(device, need, rng):
    need_types(need, "sum", "float64", "int32")
    x = make(rng, (3, 4), "int32")
    r = devrt.sum(to_device(x, device), 1, dtype=devrt.float64)
    check_meta(r, "float64", (3,))
    assert_close(r, x.sum(1).astype(np.float64))


def test_reduce_axis_errors(device):
    t = to_device(np.ones((2, 3), np.float32), device)
    with pytest.raises(IndexError):
        devrt.sum(t, 2)
    with pytest.raises(IndexError):
        devrt.sum(t, -3)
    with pytest.raises(ValueError):
        devrt.sum(t, (1, -1))


def test_nan_propagates_in_max_min(device, need):
    need("max", "min", "argmax", "argmin", dtype="float64")
    x = np.array([[1.0, np.nan, 3.0, np.nan], [2.0, 5.0, -1.0, 0.0]])
    t = to_device(x, device)
    assert_close(devrt.amax(t, 1), np.max(x, 1))
    assert_close(devrt.amin(t, 1), np.min(x, 1))
    assert_close(devrt.amax(t), np.max(x))
    # a NaN counts as the extremum; the first one wins
    assert_close(devrt.argmax(t, 1), np.argmax(x, 1))
    assert_close(devrt.argmin(t, 1), np.argmin(x, 1))
    v, i = devrt.max(t, 1)
    assert_close(v, np.max(x, 1))
    assert_close(i, np.argmax(x, 1))


# --- max/min with dim, argmax/argmin -----------------------------------------------


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2])
@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_with_dim(device, need, rng, op, dtype, dim, keepdim):
    need(op, "arg" + op, dtype=dtype)
    x = reduce_input(rng, op, SHAPE, dtype)
    if is_float(dtype):
        x = np.round(x).astype(dtype)  # ties: the first index wins
    t = to_device(x, device)
    res = getattr(devrt, op)(t, dim, keepdim)
    assert isinstance(res, tuple) and len(res) == 2
    values, indices = res
    assert res.values is values and res.indices is indices
    np_val = (np.max if op == "max" else np.min)(x, axis=dim, keepdims=keepdim)
    np_idx = (np.argmax if op == "max" else np.argmin)(x, axis=dim, keepdims=keepdim)
    check_meta(values, dtype, np_val.shape)
    check_meta(indices, "int64", np_idx.shape)
    assert_close(values, np_val)
    assert_close(indices, np_idx)
    m = getattr(t, op)(dim=dim, keepdim=keepdim)
    assert_close(m.values, np_val)
    assert_close(m.indices, np_idx)


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_without_dim_and_with_tensor(device, need, rng, op):
    need(op, "maximum" if op == "max" else "minimum", dtype="float32")
    x, y = make(rng, SHAPE, "float32"), make(rng, (5,), "float32")
    t = to_device(x, device)
    r = getattr(devrt, op)(t)
    check_meta(r, "float32", ())
    assert_close(r, getattr(np, op)(x))
    r2 = getattr(devrt, op)(t, to_device(y, device))  # the binary form
    check_meta(r2, "float32", SHAPE)
    assert_close(r2, (np.maximum if op == "max" else np.minimum)(x, y))


@pytest.mark.parametrize("dtype", ["bool"])
def test_max_bool_with_dim(device, need, rng, dtype):
    need("max", dtype="bool")
    x = make(rng, (4, 6), "bool")
    t = to_device(x, device)
    r = devrt.amax(t, 1)
    check_meta(r, "bool", (4,))
    assert_close(r, x.max(1))


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, 1, -1, 2])
@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin(device, need, rng, op, dtype, dim, keepdim):
    need(op, dtype=dtype)
    x = reduce_input(rng, op, SHAPE, dtype)
    t = to_device(x, device)
    expected = getattr(np, op)(x, axis=dim, keepdims=keepdim)
    for r in (getattr(devrt, op)(t, dim, keepdim), getattr(t, op)(dim=dim, keepdim=keepdim)):
        check_meta(r, "int64", expected.shape)
        assert_close(r, expected)


@pytest.mark.parametrize("layout", ["transposed", "strided", "expanded"])
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_noncontiguous(device, need, rng, op, layout):
    need(op, dtype="float32")
    x = make_for_layout(rng, (6, 7), "float32", layout)
    t = laid_out(x, device, layout)
    for dim in (None, 0, 1):
        assert_close(getattr(devrt, op)(t, dim), getattr(np, op)(x, axis=dim))


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_large_and_ties(device, need, rng, op):
    need(op, dtype="float32")
    x = make(rng, (LARGE,), "float32")
    pos = [7, 100_000, LARGE - 1]
    x[pos] = 1e9 if op == "argmax" else -1e9  # ties: the first one wins
    r = getattr(devrt, op)(to_device(x, device))
    check_meta(r, "int64", ())
    assert r.item() == pos[0]
    x2 = make(rng, (301, 1000), "float32")
    assert_close(getattr(devrt, op)(to_device(x2, device), 1), getattr(np, op)(x2, 1))
    assert_close(getattr(devrt, op)(to_device(x2, device), 0), getattr(np, op)(x2, 0))


def test_argmax_zero_d_and_bool(device, need):
    need("argmax", dtype="float32")
    t = to_device(np.array(3.0, np.float32), device)
    r = devrt.argmax(t)
    check_meta(r, "int64", ())
    assert r.item() == 0
    check_meta(devrt.argmax(t, 0), "int64", ())
    with pytest.raises(TypeError):
        devrt.argmax(to_device(np.array([True, False]), device))


# --- var / std ---------------------------------------------------------------------


VAR_KWARGS = [
    ({}, 1),
    ({"unbiased": True}, 1),
    ({"unbiased": False}, 0),
    ({"correction": 0}, 0),
    ({"correction": 1}, 1),
    ({"correction": 2}, 2),
]


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)], ids=str)
@pytest.mark.parametrize("kwargs,ddof", VAR_KWARGS, ids=[str(k[0]) for k in VAR_KWARGS])
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std(device, need, rng, op, kwargs, ddof, axis, keepdim):
    need_reduce(need, op, "float64")
    x = make(rng, SHAPE, "float64")
    t = to_device(x, device)
    expected = getattr(np, op)(x, axis=axis, ddof=ddof, keepdims=keepdim)
    r = getattr(devrt, op)(t, axis, keepdim=keepdim, **kwargs)
    check_meta(r, "float64", np.shape(expected))
    assert_close(r, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_dtypes(device, need, rng, op, dtype):
    need_reduce(need, op, dtype)
    x = make(rng, (4, 9), dtype)
    t = to_device(x, device)
    out = reduce_dtype(op, dtype)
    expected = getattr(np, op)(x.astype(np.float64), axis=1, ddof=1).astype(out)
    for r in (getattr(devrt, op)(t, 1), getattr(t, op)(1)):
        check_meta(r, out, (4,))
        assert_close(r, expected, out, rtol=1e-5 if out == "float32" else None)


@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_noncontiguous_and_large(device, need, rng, op):
    need_reduce(need, op, "float32")
    for layout in ("transposed", "strided", "expanded"):
        x = make_for_layout(rng, (6, 7), "float32", layout)
        t = laid_out(x, device, layout)
        for axis in (None, 0, 1):
            expected = getattr(np, op)(x.astype(np.float64), axis=axis, ddof=1)
            assert_close(getattr(devrt, op)(t, axis), expected, "float32", rtol=1e-5, atol=1e-5)
    x = (rng.standard_normal(LARGE) * 3 + 100).astype(np.float32)  # a large mean
    expected = getattr(np, op)(x.astype(np.float64), ddof=1)
    assert_close(getattr(devrt, op)(to_device(x, device)), expected, "float32", rtol=1e-4)


def test_var_degenerate(device, need):
    # N - correction <= 0: NaN for a zero sum of squares, inf otherwise (as NumPy)
    need("var", dtype="float64")
    one = to_device(np.array([3.0]), device)
    assert np.isnan(devrt.var(one).item())
    two = to_device(np.array([1.0, 2.0]), device)
    with np.errstate(all="ignore"):
        expected = np.var(np.array([1.0, 2.0]), ddof=3)
    assert_close(devrt.var(two, correction=3), expected)
    assert devrt.var(two, correction=3).item() == np.inf
    const = to_device(np.full(4, 2.0), device)
    assert_close(devrt.var(const, correction=4), np.array(np.nan))
    assert_close(devrt.var(const), np.array(0.0))
    empty = to_device(np.zeros((0,)), device)
    assert np.isnan(devrt.var(empty).item())


# --- softmax / log_softmax ---------------------------------------------------------


def np_softmax(x, axis):
    x = x.astype(np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis):
    x = x.astype(np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


NP_SOFTMAX = {"softmax": np_softmax, "log_softmax": np_log_softmax}


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax(device, need, rng, op, dtype, dim):
    out = reduce_dtype(op, dtype)
    need_types(need, op, out, dtype)
    x = make(rng, SHAPE, dtype)
    t = to_device(x, device)
    expected = NP_SOFTMAX[op](x, dim).astype(out)
    for r in (getattr(devrt, op)(t, dim), getattr(t, op)(dim)):
        check_meta(r, out, SHAPE)
        assert_close(r, expected, out)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_stability_and_masks(device, need, op):
    # Large inputs must neither overflow nor lose the low bits of the result:
    # log_softmax is (x - max) - log(sum), accurate to float32 rounding of
    # the result; x - (max + log(sum)) rounds at the magnitude of max.
    need(op, dtype="float32")
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0], [0.0, -np.inf, 1.0]])
    x = x.astype(np.float32)
    r = getattr(devrt, op)(to_device(x, device), 1)
    with np.errstate(all="ignore"):
        expected = NP_SOFTMAX[op](x, 1).astype(np.float32)
    assert np.all(np.isfinite(to_numpy(r)[:2]))
    assert_close(r, expected)


@pytest.mark.parametrize("layout", ["transposed", "strided", "expanded"])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_noncontiguous(device, need, rng, op, layout):
    need(op, dtype="float32")
    x = make_for_layout(rng, (6, 7), "float32", layout)
    t = laid_out(x, device, layout)
    for dim in (0, 1):
        assert_close(getattr(devrt, op)(t, dim), NP_SOFTMAX[op](x, dim).astype(np.float32))


@pytest.mark.parametrize(
    "shape,dim",
    [
        ((), 0),
        ((1,), 0),
        ((0, 3), 1),
        ((3, 0), 1),
        ((LARGE,), 0),
        ((1000, 301), 0),
        ((301, 1000), 1),
    ],
    ids=str,
)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_edge_sizes(device, need, rng, op, shape, dim):
    need(op, dtype="float32")
    x = make(rng, shape, "float32")
    r = getattr(devrt, op)(to_device(x, device), dim)
    check_meta(r, "float32", shape)
    if x.size:
        ax = dim if x.ndim else None
        assert_close(r, NP_SOFTMAX[op](x, ax).astype(np.float32), rtol=1e-5, atol=1e-6)


def test_softmax_dtype_argument(device, need, rng):
    need_types(need, "softmax", "float64", "float32")
    x = make(rng, (3, 4), "float32")
    r = devrt.softmax(to_device(x, device), 1, dtype=dt("float64"))
    check_meta(r, "float64", (3, 4))
    assert_close(r, np_softmax(x, 1), rtol=1e-12)
