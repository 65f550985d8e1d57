"""Elementwise ops on every device against NumPy: unary ops, clamp, binary
ops (arithmetic, comparisons, logical, bitwise), where, Python numbers on
either side, in-place ops and the Python operators.

Expected dtypes come from docs/design.md ("Type promotion") and
docs/kernels.md, as written out in support.promote/binary_types."""

from __future__ import annotations

import math
import operator

import numpy as np
import pytest

import devrt
from devrt.testing.conformance.support import (
    ALL_DTYPES,
    ARITH,
    BINARY,
    BITWISE,
    COMPARE,
    LOGICAL,
    assert_close,
    binary_types,
    check_meta,
    dt,
    is_float,
    laid_out,
    make,
    make_for_layout,
    need_types,
    number_dtype,
    promote,
    refuses_bool,
    to_device,
    to_numpy,
)

# NumPy references (and pydev's NumPy kernels) warn on inf/NaN; the values are checked.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

LARGE = 300_007  # above the CPU backend's parallel grain, and not a round number

# --- unary -----------------------------------------------------------------------

_erf = np.vectorize(math.erf, otypes=[np.float64])

# op -> (reference, float input range, integer input range)
UNARY_SAME = {
    "neg": np.negative,
    "abs": np.abs,
    "sign": np.sign,
    "relu": lambda x: np.maximum(x, 0).astype(x.dtype),
}
UNARY_FLOAT = {
    "exp": (np.exp, (-5, 5), (-5, 6)),
    "log": (np.log, (0.01, 10), (1, 20)),
    "sqrt": (np.sqrt, (0, 10), (0, 20)),
    "rsqrt": (lambda x: 1 / np.sqrt(x), (0.01, 10), (1, 20)),
    "sin": (np.sin, (-6, 6), (-6, 7)),
    "cos": (np.cos, (-6, 6), (-6, 7)),
    "tan": (np.tan, (-1.3, 1.3), (-1, 2)),
    "tanh": (np.tanh, (-4, 4), (-4, 5)),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), (-8, 8), (-8, 9)),
    "erf": (_erf, (-3, 3), (-3, 4)),
    "log1p": (np.log1p, (-0.99, 10), (0, 20)),
    "expm1": (np.expm1, (-5, 5), (-5, 6)),
    "reciprocal": (np.reciprocal, (0.1, 10), (1, 20)),
}
UNARY_ROUND = {"floor": np.floor, "ceil": np.ceil, "round": np.round}


def unary_expected_dtype(op: str, dtype: str) -> str:
    if op in UNARY_FLOAT:
        return dtype if is_float(dtype) else "float32"
    if op == "logical_not":
        return "bool"
    return dtype


def unary_compute_dtype(op: str, dtype: str) -> str:
    if op in UNARY_FLOAT:
        return dtype if is_float(dtype) else "float32"
    return dtype


def unary_input(rng, op, shape, dtype):
    if op in UNARY_FLOAT:
        _, (flo, fhi), (ilo, ihi) = UNARY_FLOAT[op]
        if is_float(dtype):
            return rng.uniform(flo, fhi, size=shape).astype(dtype)
        if dtype == "bool":
            return rng.random(shape) < 0.5
        return rng.integers(ilo, ihi, size=shape).astype(dtype)
    if op in UNARY_ROUND and is_float(dtype):
        # Many exact halves, to check round-half-to-even.
        return (rng.integers(-40, 40, size=shape) / 4).astype(dtype)
    return make(rng, shape, dtype)


def unary_reference(op, x, compute):
    xc = x.astype(compute)
    if op in UNARY_SAME:
        return UNARY_SAME[op](xc)
    if op in UNARY_FLOAT:
        return UNARY_FLOAT[op][0](xc.astype(np.float64)).astype(compute)
    if op in UNARY_ROUND:
        return UNARY_ROUND[op](xc)
    if op == "logical_not":
        return np.logical_not(xc)
    if op == "bitwise_not":
        return np.invert(xc)
    raise AssertionError(op)


def unary_tol(op, compute):
    if compute == "float32" and op in UNARY_FLOAT:
        return {"rtol": 2e-6 if op not in ("tan", "expm1", "log1p") else 1e-5, "atol": 1e-6}
    return {}


UNARY_CASES = (
    [(op, d) for op in UNARY_SAME for d in ["int32", "int64", "float32", "float64"]]
    + [(op, d) for op in UNARY_FLOAT for d in ["float32", "float64", "int32", "int64", "bool"]]
    + [(op, d) for op in UNARY_ROUND for d in ["float32", "float64", "int32", "int64"]]
    + [("logical_not", d) for d in ["bool", "uint8", "int32", "int64", "float32", "float64"]]
    + [("bitwise_not", d) for d in ["bool", "int32", "int64"]]
)


@pytest.mark.parametrize("op,dtype", UNARY_CASES)
def test_unary_dtypes(device, need, rng, op, dtype):
    compute = unary_compute_dtype(op, dtype)
    if op in UNARY_ROUND and not is_float(dtype):
        need("copy", dtype=dtype)  # integers: rounding is the identity (a clone)
    else:
        need_types(need, op, compute, dtype)
    x = unary_input(rng, op, (4, 7), dtype)
    t = to_device(x, device)
    expected = unary_reference(op, x, compute)
    out_dtype = unary_expected_dtype(op, dtype)
    for result in (getattr(devrt, op)(t), getattr(t, op)()):
        check_meta(result, out_dtype, x.shape)
        assert result.device == t.device
        assert_close(result, expected, out_dtype, **unary_tol(op, compute))


ALL_UNARY = list(UNARY_SAME) + list(UNARY_FLOAT) + list(UNARY_ROUND)


@pytest.mark.parametrize("layout", ["transposed", "strided", "expanded"])
@pytest.mark.parametrize("op", ALL_UNARY + ["logical_not", "bitwise_not"])
def test_unary_noncontiguous(device, need, rng, op, layout):
    dtype = "int64" if op == "bitwise_not" else "float32"
    need(op, dtype=dtype)
    if op in UNARY_FLOAT:
        x = unary_input(rng, op, (5, 6), dtype)
        if layout == "expanded":
            x = np.broadcast_to(x[:1], x.shape).copy()
    else:
        x = make_for_layout(rng, (5, 6), dtype, layout)
    t = laid_out(x, device, layout)
    result = getattr(devrt, op)(t)
    check_meta(result, unary_expected_dtype(op, dtype), x.shape)
    assert_close(result, unary_reference(op, x, dtype), **unary_tol(op, dtype))


@pytest.mark.parametrize("shape", [(0,), (3, 0, 2), (1,), (), (LARGE,)], ids=str)
@pytest.mark.parametrize("op", ALL_UNARY + ["logical_not", "bitwise_not"])
def test_unary_edge_sizes(device, need, rng, op, shape):
    dtype = "int32" if op == "bitwise_not" else "float64" if op in UNARY_ROUND else "float32"
    need(op, dtype=dtype)
    x = unary_input(rng, op, shape, dtype)
    result = getattr(devrt, op)(to_device(x, device))
    check_meta(result, unary_expected_dtype(op, dtype), shape)
    assert_close(result, unary_reference(op, x, dtype), **unary_tol(op, dtype))


def test_unary_special_values(device, need):
    need("exp", "log", "sqrt", "abs", "neg", "sign", "floor", "round", dtype="float64")
    x = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 0.5, 1.5, 2.5, -0.5, -2.5, 1e308])
    t = to_device(x, device)
    with np.errstate(all="ignore"):
        assert_close(devrt.exp(t), np.exp(x))
        assert_close(devrt.log(t), np.log(x))
        assert_close(devrt.sqrt(t), np.sqrt(x))
        assert_close(devrt.abs(t), np.abs(x))
        assert_close(devrt.neg(t), np.negative(x))
        assert_close(devrt.floor(t), np.floor(x))
        assert_close(devrt.round(t), np.round(x))
        # sign of ±0 is 0 (NaN left out here: test_sign_of_nan_and_bool)
        assert_close(devrt.sign(t)[1:], np.sign(x[1:]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sign_of_nan_and_bool(device, need, dtype):
    # As PyTorch: the sign of NaN is 0, that of -0.0 is +0.0, and a bool
    # tensor is its own sign.
    need("sign", dtype=dtype)
    r = devrt.sign(to_device(np.array([np.nan, -np.nan, -0.0, -3.0, np.inf]), device, dtype))
    check_meta(r, dtype, (5,))
    got = to_numpy(r)
    np.testing.assert_array_equal(got, np.array([0.0, 0.0, 0.0, -1.0, 1.0], dtype))
    assert not np.signbit(got[2])
    b = devrt.sign(to_device(np.array([True, False]), device))
    check_meta(b, "bool", (2,))
    np.testing.assert_array_equal(to_numpy(b), [True, False])


def test_round_half_to_even(device, need):
    need("round", dtype="float32")
    x = np.array([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 0.49999997, 2.5000002], np.float32)
    assert_close(devrt.round(to_device(x, device)), np.round(x))


@pytest.mark.parametrize("op", ["neg", "abs", "relu"])
def test_unary_rejects_bool(device, op):
    t = to_device(np.array([True, False]), device)
    with pytest.raises(TypeError):
        getattr(devrt, op)(t)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bitwise_not_rejects_floats(device, dtype):
    with pytest.raises(TypeError):
        devrt.bitwise_not(to_device(np.ones(3, dtype), device))


def test_unary_inplace_methods(device, need, rng):
    need("exp", "neg", "copy", dtype="float32")
    x = rng.uniform(-2, 2, (3, 4)).astype(np.float32)
    t = to_device(x, device)
    view = t[1]
    r = t.exp_()
    assert r.data_ptr() == t.data_ptr()
    assert_close(t, np.exp(x))
    assert_close(view, np.exp(x[1]))
    t.neg_()
    assert_close(t, -np.exp(x))
    # In-place on an int tensor of a float op cannot store the float result
    # without changing the tensor's dtype: either it raises, or it keeps the dtype.
    ti = to_device(np.array([1, 2, 3], np.int32), device)
    try:
        ti.exp_()
    except (TypeError, RuntimeError, ValueError):
        pass
    else:
        check_meta(ti, "int32", (3,))


# --- clamp -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("bounds", [(-3, None), (None, 4), (-3, 4), (2, 2)], ids=str)
def test_clamp(device, need, rng, dtype, bounds):
    need("clamp", dtype=dtype)
    lo, hi = bounds
    x = make(rng, (6, 5), dtype)
    t = to_device(x, device)
    expected = np.clip(x, lo, hi).astype(dtype)
    for result in (
        devrt.clamp(t, lo, hi),
        devrt.clamp(t, min=lo, max=hi),
        t.clamp(lo, hi),
        devrt.clip(t, lo, hi),
        t.clip(min=lo, max=hi),
    ):
        check_meta(result, dtype, x.shape)
        assert_close(result, expected)


def test_clamp_min_greater_than_max(device, need, rng):
    # PyTorch and NumPy agree: every element becomes max.
    need("clamp", dtype="float32")
    x = make(rng, (10,), "float32")
    assert_close(devrt.clamp(to_device(x, device), 3.0, 1.0), np.full(10, 1.0, np.float32))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "bounds", [(np.nan, None), (None, np.nan), (0.0, np.nan), (np.nan, 1.0)], ids=str
)
def test_clamp_nan_bound(device, need, dtype, bounds):
    # As PyTorch (and NumPy's clip): a NaN bound makes every element NaN.
    need("fill", dtype=dtype)
    x = np.array([1.0, np.nan, -2.0, 5.0], dtype)
    r = devrt.clamp(to_device(x, device), *bounds)
    check_meta(r, dtype, (4,))
    assert np.isnan(to_numpy(r)).all()


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_clamp_int_tensor_float_bound(device, need, dtype):
    # A float bound on an integer tensor computes in float32 (as PyTorch).
    need("clamp", dtype="float32")
    need("copy", dtype=dtype)
    x = np.arange(-5, 6).astype(dtype)
    r = devrt.clamp(to_device(x, device), -2.5, 3.5)
    check_meta(r, "float32", x.shape)
    assert_close(r, np.clip(x.astype(np.float32), -2.5, 3.5))


def test_clamp_nan_stays_nan(device, need):
    need("clamp", dtype="float64")
    x = np.array([np.nan, -np.inf, np.inf, -1.0, 5.0])
    assert_close(devrt.clamp(to_device(x, device), -2.0, 2.0), np.clip(x, -2.0, 2.0))
    assert_close(devrt.clamp(to_device(x, device), min=0.0), np.clip(x, 0.0, None))


@pytest.mark.parametrize("layout", ["transposed", "strided", "expanded"])
def test_clamp_noncontiguous(device, need, rng, layout):
    need("clamp", dtype="float32")
    x = make_for_layout(rng, (7, 4), "float32", layout)
    assert_close(devrt.clamp(laid_out(x, device, layout), -1.0, 1.5), np.clip(x, -1.0, 1.5))


@pytest.mark.parametrize("shape", [(0,), (), (1,), (LARGE,)], ids=str)
def test_clamp_edge_sizes(device, need, rng, shape):
    need("clamp", dtype="float32")
    x = make(rng, shape, "float32")
    r = devrt.clamp(to_device(x, device), -1.0, 1.0)
    check_meta(r, "float32", shape)
    assert_close(r, np.clip(x, -1.0, 1.0))


def test_clamp_inplace_and_errors(device, need, rng):
    need("clamp", "copy", dtype="float32")
    x = make(rng, (3, 3), "float32")
    t = to_device(x, device)
    assert t.clamp_(min=0.0) is t
    assert_close(t, np.clip(x, 0, None))
    with pytest.raises(ValueError):
        devrt.clamp(t)
    # A bool tensor clamps in its bounds' type (int64 for ints), as PyTorch;
    # with bool bounds there is no kernel there either.
    with pytest.raises(NotImplementedError, match=r"^\[clamp\]"):
        devrt.clamp(to_device(np.array([True]), device), False, True)


# --- binary ------------------------------------------------------------------------

NP_BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.true_divide,
    "atan2": np.arctan2,
    "hypot": np.hypot,
    "pow": np.power,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "floor_divide": np.floor_divide,
    "remainder": np.remainder,
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
    "logical_xor": np.logical_xor,
    "bitwise_and": np.bitwise_and,
    "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor,
}

# Input dtypes each op is tested with (same dtype on both sides): the dtypes
# its kernel declares, plus those the core routes to another compute dtype.
BINARY_DTYPES = {
    **{op: ["int32", "int64", "float32", "float64", "bool"] for op in ["add", "sub", "mul"]},
    **{op: ["bool", "int32", "int64", "float32", "float64"] for op in ["maximum", "minimum"]},
    **{op: ["float32", "float64", "int32", "int64", "bool"] for op in ["div", "atan2", "hypot"]},
    **{op: ["int32", "int64", "float32", "float64"] for op in ["pow", "floor_divide", "remainder"]},
    **{op: ["bool", "uint8", "int32", "int64", "float32", "float64"] for op in COMPARE + LOGICAL},
    **{op: ["bool", "int32", "int64"] for op in BITWISE},
}

_DIVISORS = np.array([-3, -2, -1.5, -1, -0.5, -0.25, 0.25, 0.5, 1, 1.5, 2, 3])


def operand(rng, op, side, shape, dtype):
    """Input values that keep `op` well defined and exact enough to compare."""
    shape = tuple(shape)
    if dtype == "bool":
        if op in ("div", "floor_divide", "remainder") and side == 1:
            return np.ones(shape, bool)
        return rng.random(shape) < 0.5
    floating = is_float(dtype)
    if op == "pow":
        if side == 0:
            v = rng.uniform(0.1, 3, shape) if floating else rng.integers(0, 5, shape)
        else:
            v = rng.uniform(-2, 2, shape) if floating else rng.integers(0, 4, shape)
        return np.asarray(v).astype(dtype)
    if op in ("div", "floor_divide", "remainder") and side == 1:
        if floating:
            return rng.choice(_DIVISORS, shape).astype(dtype)
        v = rng.integers(1, 6, shape) * rng.choice([-1, 1], shape)
        return np.asarray(v).astype(dtype)
    if op in ("floor_divide", "remainder") and floating:
        return (rng.integers(-40, 41, shape) / 4).astype(dtype)
    if op in COMPARE or op in LOGICAL or op in ("maximum", "minimum"):
        lo = 0 if dtype == "uint8" else -3
        v = rng.integers(lo, 4, shape)
        return (v / 2 if floating else v).astype(dtype)  # many equal pairs
    if op in BITWISE:
        return rng.integers(-40, 40, shape).astype(dtype)
    return make(rng, shape, dtype)


def binary_reference(op, a, b, compute, result):
    ac = np.asarray(a).astype(compute)
    bc = np.asarray(b).astype(compute)
    with np.errstate(all="ignore"):
        return np.asarray(NP_BINARY[op](ac, bc)).astype(result)


def binary_tol(op, compute):
    if compute == "float32" and op in ("pow", "div", "atan2", "hypot"):
        return {"rtol": 2e-6, "atol": 1e-6}
    return {}


@pytest.mark.parametrize("op,dtype", [(op, d) for op in BINARY for d in BINARY_DTYPES[op]])
def test_binary_dtypes(device, need, rng, op, dtype):
    a = operand(rng, op, 0, (4, 5), dtype)
    b = operand(rng, op, 1, (4, 5), dtype)
    ta, tb = to_device(a, device), to_device(b, device)
    if refuses_bool(op, dtype):
        with pytest.raises(TypeError, match=rf"^\[{op}\] is not defined for bool"):
            getattr(devrt, op)(ta, tb)
        return
    compute, result = binary_types(op, dtype, dtype)
    need_types(need, op, compute, dtype)
    expected = binary_reference(op, a, b, compute, result)
    for r in (getattr(devrt, op)(ta, tb), getattr(ta, op)(tb)):
        check_meta(r, result, a.shape)
        assert r.device == ta.device
        assert_close(r, expected, result, **binary_tol(op, compute))


MIXED_PAIRS = [
    ("int32", "int64"),
    ("int64", "int32"),
    ("uint8", "int32"),
    ("int32", "float32"),
    ("int64", "float32"),  # devrt: float32 (NumPy would give float64)
    ("float32", "int64"),
    ("int64", "float64"),
    ("float32", "float64"),
    ("bool", "int32"),
    ("bool", "float32"),
    ("int32", "bool"),
    ("uint8", "float64"),
]
MIXED_OPS = ["add", "sub", "mul", "div", "maximum", "pow", "floor_divide", "remainder"]
MIXED_OPS += ["eq", "lt", "ge", "logical_and", "logical_xor", "bitwise_or", "bitwise_xor"]


MIXED_CASES = [
    (op, da, db)
    for op in MIXED_OPS
    for da, db in MIXED_PAIRS
    if not (op in BITWISE and (is_float(da) or is_float(db)))  # bitwise: no floats
]


ZERO_D_PAIRS = [
    ("int32", "int64"),
    ("int32", "float64"),
    ("uint8", "int64"),
    ("bool", "int32"),
    ("float32", "float64"),
    ("int64", "float32"),
]
ZERO_D_CASES = [
    (op, da, db, side)
    for op in [
        "add",
        "sub",
        "mul",
        "div",
        "maximum",
        "floor_divide",
        "remainder",
        "eq",
        "bitwise_or",
    ]
    for da, db in ZERO_D_PAIRS
    for side in ("right", "left")
    if not (op in BITWISE and (is_float(da) or is_float(db)))
]


@pytest.mark.parametrize("op,da,db,side", ZERO_D_CASES)
def test_binary_zero_d_operand_ranks_below_tensors(device, need, rng, op, da, db, side):
    # A 0-d tensor only changes the result's dtype when its category is
    # higher (PyTorch's rule): int32 with a 0-d int64 stays int32.
    left = side == "left"  # the 0-d operand is the left one
    a = operand(rng, op, 1 if left else 0, (3, 4), da)
    b = operand(rng, op, 0 if left else 1, (), db)
    ta, tb = to_device(a, device), to_device(b, device)
    if refuses_bool(op, da, db):
        with pytest.raises(TypeError, match=rf"^\[{op}\] is not defined for bool"):
            getattr(devrt, op)(ta, tb)
        return
    if side == "left":
        compute, result = binary_types(op, db, da, a_0d=True)
    else:
        compute, result = binary_types(op, da, db, b_0d=True)
    need_types(need, op, compute, da, db)
    r = getattr(devrt, op)(tb, ta) if side == "left" else getattr(devrt, op)(ta, tb)
    check_meta(r, result, (3, 4))
    first, second = (b, a) if side == "left" else (a, b)
    assert_close(r, binary_reference(op, first, second, compute, result), result)


@pytest.mark.parametrize("op,da,db", MIXED_CASES)
def test_binary_mixed_dtypes(device, need, rng, op, da, db):
    compute, result = binary_types(op, da, db)
    if (
        op not in ("maximum", "minimum")
        and compute == "uint8"
        or (compute == "bool" and op in ARITH and op not in ("maximum", "minimum"))
    ):
        pytest.skip("no such combination")
    a = operand(rng, op, 0, (3, 4), da)
    b = operand(rng, op, 1, (4,), db)
    if refuses_bool(op, da, db):
        with pytest.raises(TypeError, match=rf"^\[{op}\] is not defined for bool"):
            getattr(devrt, op)(to_device(a, device), to_device(b, device))
        return
    need_types(need, op, compute, da, db)
    r = getattr(devrt, op)(to_device(a, device), to_device(b, device))
    check_meta(r, result, (3, 4))
    assert_close(r, binary_reference(op, a, b, compute, result), result, **binary_tol(op, compute))


def test_int64_plus_float32_is_float32(device, need):
    # The documented departure from NumPy: int + float tensors keep the float's dtype.
    need_types(need, "add", "float32", "int64")
    a = to_device(np.array([1, 2, 3], np.int64), device)
    b = to_device(np.array([0.5, 0.25, 0.125], np.float32), device)
    for r in (a + b, b + a):
        check_meta(r, "float32", (3,))
        assert_close(r, np.array([1.5, 2.25, 3.125], np.float32))


def test_uint8_is_unsigned_in_promotion(device, need):
    # uint8 with int32 computes in int32: 200 stays 200 (not -56)
    need_types(need, "add", "int32", "uint8")
    need_types(need, "gt", "int32", "uint8")
    a = to_device(np.array([200, 255, 0, 128], np.uint8), device)
    b = to_device(np.array([-1, 1, -1, 0], np.int32), device)
    r = a + b
    check_meta(r, "int32", (4,))
    assert_close(r, np.array([199, 256, -1, 128], np.int32))
    assert_close(devrt.gt(a, b), np.array([True, True, True, True]))


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_overflow_wraps(device, need, dtype):
    # two's complement wrap-around, as NumPy and PyTorch
    need("add", "mul", "sub", dtype=dtype)
    info = np.iinfo(dtype)
    a = np.array([info.max, info.min, info.max], dtype)
    b = np.array([1, -1, 2], dtype)
    ta, tb = to_device(a, device), to_device(b, device)
    with np.errstate(all="ignore"):
        assert_close(ta + tb, a + b)
        assert_close(ta - tb, a - b)
        assert_close(ta * tb, a * b)


@pytest.mark.parametrize("op", ["add", "mul", "maximum", "eq"])
def test_binary_size_one_and_offset_views(device, need, rng, op):
    # views whose size-1 dims carry odd strides, and views with an offset
    compute, result = binary_types(op, "float32", "float32")
    need(op, dtype=compute)
    x = make(rng, (6, 8), "float32")
    y = make(rng, (6, 8), "float32")
    tx, ty = to_device(x, device), to_device(y, device)
    cases = [
        ((slice(None), slice(2, 3)), (slice(None), slice(5, 6))),  # (6, 1) columns
        ((slice(3, 4), slice(None)), (slice(1, 2), slice(None))),  # (1, 8) rows
        ((slice(1, None),), (slice(None, -1),)),  # offset, contiguous
        ((slice(2, 5), slice(1, 7)), (slice(0, 3), slice(2, 8))),  # offset blocks
    ]
    for kx, ky in cases:
        r = getattr(devrt, op)(tx[kx], ty[ky])
        expected = NP_BINARY[op](x[kx], y[ky])
        check_meta(r, result, expected.shape)
        assert_close(r, expected)


def test_bool_arithmetic_counts_in_int64(device, need):
    need_types(need, "add", "int64", "bool")
    need("maximum", dtype="bool")
    a = to_device(np.array([True, True, False]), device)
    r = a + a
    check_meta(r, "int64", (3,))
    assert_close(r, np.array([2, 2, 0]))
    m = devrt.maximum(a, to_device(np.array([False, True, False]), device))
    check_meta(m, "bool", (3,))
    assert_close(m, np.array([True, True, False]))


BROADCAST_PAIRS = [
    ((3, 1, 5), (4, 1)),
    ((5,), (2, 3, 5)),
    ((), (3, 4)),
    ((2, 3), ()),
    ((1,), (0,)),
    ((2, 0, 3), (1, 3)),
    ((1, 1), (1,)),
    ((4, 1), (1, 6)),
]


def _family_dtype(op):
    if op in BITWISE:
        return "int32"
    if op in ("pow", "floor_divide", "remainder"):
        return "float64"
    return "float32"


@pytest.mark.parametrize("sa,sb", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("op", BINARY)
def test_binary_broadcast(device, need, rng, op, sa, sb):
    dtype = _family_dtype(op)
    compute, result = binary_types(op, dtype, dtype)
    need(op, dtype=compute)
    a = operand(rng, op, 0, sa, dtype)
    b = operand(rng, op, 1, sb, dtype)
    shape = np.broadcast_shapes(sa, sb)
    r = getattr(devrt, op)(to_device(a, device), to_device(b, device))
    check_meta(r, result, shape)
    assert_close(r, binary_reference(op, a, b, compute, result), **binary_tol(op, compute))


@pytest.mark.parametrize("op", BINARY)
def test_binary_shape_mismatch(device, op):
    dtype = _family_dtype(op)
    a = to_device(np.ones((3, 4), dtype), device)
    b = to_device(np.ones((3,), dtype), device)
    with pytest.raises(ValueError):
        getattr(devrt, op)(a, b)


@pytest.mark.parametrize("layout", ["transposed", "strided", "expanded"])
@pytest.mark.parametrize("op", BINARY)
def test_binary_noncontiguous(device, need, rng, op, layout):
    dtype = _family_dtype(op)
    compute, result = binary_types(op, dtype, dtype)
    need(op, dtype=compute)
    a = operand(rng, op, 0, (6, 5), dtype)
    b = operand(rng, op, 1, (6, 5), dtype)
    if layout == "expanded":
        a = np.broadcast_to(a[:1], a.shape).copy()
    # Only the first operand laid out oddly, then both.
    ta = laid_out(a, device, layout)
    tb_c = to_device(b, device)
    tb_t = laid_out(b, device, "transposed")
    expected = binary_reference(op, a, b, compute, result)
    for tb in (tb_c, tb_t):
        r = getattr(devrt, op)(ta, tb)
        check_meta(r, result, a.shape)
        assert_close(r, expected, **binary_tol(op, compute))
    r = getattr(devrt, op)(tb_t, ta)
    assert_close(r, binary_reference(op, b, a, compute, result), **binary_tol(op, compute))


@pytest.mark.parametrize("op", BINARY)
def test_binary_large(device, need, rng, op):
    dtype = _family_dtype(op)
    compute, result = binary_types(op, dtype, dtype)
    need(op, dtype=compute)
    a = operand(rng, op, 0, (LARGE,), dtype)
    b = operand(rng, op, 1, (LARGE,), dtype)
    r = getattr(devrt, op)(to_device(a, device), to_device(b, device))
    check_meta(r, result, (LARGE,))
    assert_close(r, binary_reference(op, a, b, compute, result), **binary_tol(op, compute))
    # broadcast over a large output, with a strided operand
    b2 = operand(rng, op, 1, (1000, 1), dtype)
    a2 = operand(rng, op, 0, (1000, 301), dtype)
    ta2 = laid_out(a2, device, "transposed")
    r2 = getattr(devrt, op)(ta2, to_device(b2, device))
    check_meta(r2, result, (1000, 301))
    assert_close(r2, binary_reference(op, a2, b2, compute, result), **binary_tol(op, compute))


@pytest.mark.parametrize("op", ["add", "mul", "div", "maximum", "eq", "logical_or"])
def test_binary_zero_d(device, need, op):
    compute, result = binary_types(op, "float64", "float64")
    need(op, dtype=compute)
    a, b = np.array(3.5), np.array(-2.0)
    r = getattr(devrt, op)(to_device(a, device), to_device(b, device))
    check_meta(r, result, ())
    assert_close(r, binary_reference(op, a, b, compute, result))


def test_nan_propagation(device, need):
    need("maximum", "minimum", "eq", "ne", "lt", "ge", dtype="float64")
    a = np.array([np.nan, 1.0, np.nan, -np.inf, np.inf])
    b = np.array([0.0, np.nan, np.nan, np.inf, 1.0])
    ta, tb = to_device(a, device), to_device(b, device)
    for op in ["maximum", "minimum", "eq", "ne", "lt", "ge"]:
        assert_close(getattr(devrt, op)(ta, tb), NP_BINARY[op](a, b))


def test_float_division_by_zero(device, need):
    need("div", "floor_divide", "remainder", dtype="float64")
    a = np.array([1.0, -1.0, 0.0, 2.5])
    b = np.zeros(4)
    ta, tb = to_device(a, device), to_device(b, device)
    with np.errstate(all="ignore"):
        assert_close(devrt.div(ta, tb), a / b)
        assert_close(devrt.floor_divide(ta, tb), np.floor_divide(a, b))
        assert_close(devrt.remainder(ta, tb), np.remainder(a, b))


@pytest.mark.parametrize("op", ["floor_divide", "remainder"])
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_division_by_zero_raises(device, need, op, dtype):
    need(op, dtype=dtype)
    a = to_device(np.array([1, 2, 3], dtype), device)
    b = to_device(np.array([1, 0, 1], dtype), device)
    with pytest.raises(ValueError):
        getattr(devrt, op)(a, b)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_python_semantics_of_integer_division(device, need, dtype):
    # floor (not truncation) and the divisor's sign, as Python's // and %
    need("floor_divide", "remainder", dtype=dtype)
    a = np.array([7, -7, 7, -7, 0, 6, -6], dtype)
    b = np.array([2, 2, -2, -2, 3, -4, 4], dtype)
    ta, tb = to_device(a, device), to_device(b, device)
    assert_close(
        devrt.floor_divide(ta, tb), np.array([x // y for x, y in zip(a, b, strict=True)], dtype)
    )
    assert_close(
        devrt.remainder(ta, tb), np.array([x % y for x, y in zip(a, b, strict=True)], dtype)
    )


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_pow_negative_exponent_raises(device, need, dtype):
    need("pow", dtype=dtype)
    a = to_device(np.array([2, 3], dtype), device)
    with pytest.raises(ValueError):
        devrt.pow(a, to_device(np.array([1, -1], dtype), device))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("exponent", [2.0, 1.0, 3.0, 0.5])
def test_pow_by_one_value_matches_numpy(device, need, dtype, exponent):
    # A broadcast exponent (x ** 2): special values included, a strided base.
    need("pow", dtype=dtype)
    base = np.array([[1.5, -2.0, 0.0, -0.0, np.inf], [-np.inf, np.nan, 1e-30, 3.0, -0.5]], dtype)
    t = to_device(base, device).t()
    e = to_device(np.array(exponent, dtype), device)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        expected = np.power(base.T, np.array(exponent, dtype))
    got = (t**e).cpu().numpy()
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


@pytest.mark.parametrize("op", BITWISE)
def test_bitwise_rejects_floats(device, op):
    a = to_device(np.ones(3, np.float32), device)
    with pytest.raises(TypeError):
        getattr(devrt, op)(a, a)


def test_binary_device_mismatch(device, need):
    if device == "cpu":
        pytest.skip("needs a second device type")
    need("add", dtype="float32")
    a = to_device(np.ones(3, np.float32), device)
    b = to_device(np.ones(3, np.float32), "cpu")
    with pytest.raises(ValueError, match="cpu"):
        devrt.add(a, b)


# --- Python numbers ----------------------------------------------------------------

SCALAR_CASES = [
    # (tensor dtype, number)
    ("float32", 2),
    ("float32", 2.5),
    ("float32", 0.1),
    ("float64", 0.1),  # weak: stays float64, and 0.1 is not rounded to float32
    ("float64", 3),
    ("int32", 3),
    ("int32", 2.5),  # weak float raises the category: float32
    ("int64", -2),
    ("int64", 0.5),
    ("bool", 1),  # bool tensor, int number: int64
    ("bool", 1.5),  # bool tensor, float number: float32
    ("bool", True),
    ("int32", True),
    ("float32", np.float64(0.5)),  # a NumPy scalar is a number too
]
SCALAR_OPS = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "floor_divide"]
SCALAR_OPS += ["remainder", "eq", "ne", "lt", "ge", "logical_and", "bitwise_xor"]


def _scalar_operand(op, value, side):
    """Avoids undefined cases: a zero divisor, negative integer exponents."""
    if op in ("div", "floor_divide", "remainder") and side == 1 and not value:
        return None
    if op == "pow" and side == 1 and isinstance(value, int) and value < 0:
        return None
    return value


SCALAR_PARAMS = [
    (op, tdtype, value, side)
    for op in SCALAR_OPS
    for tdtype, value in SCALAR_CASES
    for side in (0, 1)
    if _scalar_operand(op, value, side) is not None
    and not (op in BITWISE and (is_float(tdtype) or isinstance(value, float)))
]


@pytest.mark.parametrize("op,tdtype,value,number_side", SCALAR_PARAMS, ids=str)
def test_python_number_operand(device, need, rng, op, tdtype, value, number_side):
    ndt = number_dtype(value.item() if isinstance(value, np.generic) else value)
    if refuses_bool(op, ndt, tdtype):
        t = to_device(operand(rng, op, 1 - number_side, (3, 4), tdtype), device)
        with pytest.raises(TypeError, match=rf"^\[{op}\] is not defined for bool"):
            getattr(devrt, op)(*((value, t) if number_side == 0 else (t, value)))
        return
    if number_side == 0:
        compute, result = binary_types(op, ndt, tdtype, a_weak=True)
    else:
        compute, result = binary_types(op, tdtype, ndt, b_weak=True)
    need_types(need, op, compute, tdtype)
    tensor_side = 1 - number_side
    x = operand(rng, op, tensor_side, (3, 4), tdtype)
    if op == "pow" and number_side == 1 and not is_float(compute):
        x = np.abs(x) if tdtype != "bool" else x
    t = to_device(x, device)
    n = np.array(value).astype(compute)  # the number, in the compute dtype
    if number_side == 0:
        expected = binary_reference(op, n, x, compute, result)
        results = [getattr(devrt, op)(value, t)]
    else:
        expected = binary_reference(op, x, n, compute, result)
        results = [getattr(devrt, op)(t, value), getattr(t, op)(value)]
    for r in results:
        check_meta(r, result, x.shape)
        assert_close(r, expected, result, **binary_tol(op, compute))


def test_weak_float_number_keeps_precision(device, need):
    # float64 tensor + 0.1: the number is a double, not rounded to float32.
    need("add", dtype="float64")
    x = np.zeros(3)
    r = to_device(x, device) + 0.1
    check_meta(r, "float64", (3,))
    np.testing.assert_array_equal(to_numpy(r), np.full(3, 0.1))


def test_number_large_tensor(device, need, rng):
    need("mul", "add", dtype="float32")
    x = make(rng, (LARGE,), "float32")
    t = to_device(x, device)
    assert_close(2.0 * t + 1, (np.float32(2.0) * x + np.float32(1)).astype(np.float32))


# --- in-place ----------------------------------------------------------------------

INPLACE = [
    ("+=", operator.iadd, np.add),
    ("-=", operator.isub, np.subtract),
    ("*=", operator.imul, np.multiply),
    ("/=", operator.itruediv, np.true_divide),
]
INPLACE_OPS = {"+=": "add", "-=": "sub", "*=": "mul", "/=": "div"}


@pytest.mark.parametrize("sym,iop,ref", INPLACE, ids=[c[0] for c in INPLACE])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("other_shape", [(3, 4), (4,), (), "number"], ids=str)
def test_inplace_float(device, need, rng, sym, iop, ref, dtype, other_shape):
    op = INPLACE_OPS[sym]
    need(op, dtype=dtype)
    x = make(rng, (3, 4), dtype)
    if other_shape == "number":
        y, other = 1.5, 1.5
    else:
        y = operand(rng, op, 1, other_shape, dtype)
        other = to_device(y, device)
    t = to_device(x, device)
    alias = t[1]  # a view taken before: sees the in-place change
    ptr = t.data_ptr()
    t2 = iop(t, other)
    assert t2 is t
    assert t.data_ptr() == ptr
    expected = ref(x, np.asarray(y, dtype)).astype(dtype)
    check_meta(t, dtype, (3, 4))
    assert_close(t, expected)
    assert_close(alias, expected[1])


@pytest.mark.parametrize("sym", ["+=", "-=", "*="])
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_inplace_int(device, need, rng, sym, dtype):
    op = INPLACE_OPS[sym]
    need(op, dtype=dtype)
    iop = dict((c[0], c[1]) for c in INPLACE)[sym]
    ref = dict((c[0], c[2]) for c in INPLACE)[sym]
    x = make(rng, (3, 4), dtype)
    y = make(rng, (4,), dtype)
    t = to_device(x, device)
    iop(t, to_device(y, device))
    iop(t, 3)
    check_meta(t, dtype, (3, 4))
    assert_close(t, ref(ref(x, y), np.array(3, dtype)).astype(dtype))


def test_inplace_keeps_destination_dtype(device, need, rng):
    # The destination's dtype wins when the category allows it (as PyTorch).
    need_types(need, "add", "float64", "float32")
    x = make(rng, (5,), "float32")
    y = make(rng, (5,), "float64")
    t = to_device(x, device)
    t += to_device(y, device)
    check_meta(t, "float32", (5,))
    assert_close(t, (x.astype(np.float64) + y).astype(np.float32))
    need_types(need, "add", "int64", "int32")
    xi = make(rng, (5,), "int32")
    yi = make(rng, (5,), "int64")
    ti = to_device(xi, device)
    ti += to_device(yi, device)
    check_meta(ti, "int32", (5,))
    assert_close(ti, (xi.astype(np.int64) + yi).astype(np.int32))
    tf = to_device(x, device)
    tf *= to_device(yi, device)  # float32 *= int64: float32
    check_meta(tf, "float32", (5,))
    assert_close(tf, x * yi.astype(np.float32))


def test_inplace_category_errors(device, need):
    ti = to_device(np.array([1, 2, 3], np.int32), device)
    with pytest.raises(TypeError):
        ti += 2.5
    with pytest.raises(TypeError):
        ti /= 2
    with pytest.raises(TypeError):
        ti += to_device(np.ones(3, np.float32), device)
    np.testing.assert_array_equal(to_numpy(ti), [1, 2, 3])


def test_inplace_cannot_grow_destination(device, need):
    need("add", dtype="float32")
    t = to_device(np.ones(4, np.float32), device)
    with pytest.raises(ValueError):
        t += to_device(np.ones((3, 4), np.float32), device)


@pytest.mark.parametrize("sym,iop,ref", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_noncontiguous_destination(device, need, rng, sym, iop, ref):
    op = INPLACE_OPS[sym]
    need(op, "copy", dtype="float32")
    x = make(rng, (4, 6), "float32")
    y = operand(rng, op, 1, (6, 4), "float32")
    t = to_device(x, device)
    view = t.T  # transposed view of t
    iop(view, to_device(y, device))
    expected = x.copy()
    expected.T[...] = ref(x.T, y)
    assert_close(t, expected)
    t2 = to_device(x, device)
    sl = t2[:, ::2]  # strided view
    iop(sl, 2.0)
    expected2 = x.copy()
    expected2[:, ::2] = ref(x[:, ::2], np.float32(2.0))
    assert_close(t2, expected2)


def test_inplace_with_overlapping_operand(device, need, rng):
    # x += x.T: NumPy gives x + x.T (it buffers overlapping operands);
    # PyTorch refuses partial overlap. Either is acceptable; a silently
    # wrong result is not.
    need("add", "copy", dtype="float32")
    x = make(rng, (64, 64), "float32")
    t = to_device(x, device)
    try:
        t += t.T
    except (RuntimeError, ValueError):
        return
    assert_close(t, x + x.T)


def test_inplace_with_shifted_overlapping_operand(device, need):
    # x[1:] += x[:-1]: NumPy reads every operand before writing (result
    # [0, 1, 3, 5, 7, 9]); PyTorch refuses partial overlap. A running sum
    # ([0, 1, 3, 6, 10, 15]) is wrong either way.
    need("add", "copy", dtype="int64")
    x = np.arange(6)
    t = to_device(x, device)
    try:
        view = t[1:]
        view += t[:-1]
    except (RuntimeError, ValueError):
        return
    x[1:] += x[:-1].copy()
    assert_close(t, x)


def test_inplace_other_operators(device, need, rng):
    need(
        "floor_divide",
        "remainder",
        "pow",
        "bitwise_and",
        "bitwise_or",
        "bitwise_xor",
        dtype="int64",
    )
    x = rng.integers(-50, 50, (4, 5))
    t = to_device(x, device)
    ptr = t.data_ptr()
    t //= 3
    t %= 7
    t **= 2
    t &= 0b1011
    t |= 0b10000
    t ^= 0b110
    e = x // 3
    e %= 7
    e **= 2
    e &= 0b1011
    e |= 0b10000
    e ^= 0b110
    assert t.data_ptr() == ptr
    check_meta(t, "int64", (4, 5))
    assert_close(t, e)


@pytest.mark.parametrize(
    "sym,method", [("+=", "add_"), ("-=", "sub_"), ("*=", "mul_"), ("/=", "div_")]
)
def test_inplace_methods(device, need, rng, sym, method):
    op = INPLACE_OPS[sym]
    need(op, "copy", dtype="float32")
    x = make(rng, (2, 3), "float32")
    y = operand(rng, op, 1, (3,), "float32")
    t = to_device(x, device)
    r = getattr(t, method)(to_device(y, device))
    assert r is t
    assert_close(t, dict((c[0], c[2]) for c in INPLACE)[sym](x, y))


def test_inplace_large(device, need, rng):
    need("add", "mul", dtype="float32")
    x = make(rng, (LARGE,), "float32")
    y = make(rng, (LARGE,), "float32")
    t = to_device(x, device)
    t += to_device(y, device)
    t *= 0.5
    assert_close(t, (x + y) * np.float32(0.5))


# --- Python operators --------------------------------------------------------------

OPERATORS = [
    ("add", operator.add),
    ("sub", operator.sub),
    ("mul", operator.mul),
    ("div", operator.truediv),
    ("floor_divide", operator.floordiv),
    ("remainder", operator.mod),
    ("pow", operator.pow),
    ("eq", operator.eq),
    ("ne", operator.ne),
    ("lt", operator.lt),
    ("le", operator.le),
    ("gt", operator.gt),
    ("ge", operator.ge),
    ("bitwise_and", operator.and_),
    ("bitwise_or", operator.or_),
    ("bitwise_xor", operator.xor),
]


REFLECTED = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}

OPERATOR_PARAMS = [
    pytest.param(op, pyop, dtype, id=f"{op}-{dtype}")
    for op, pyop in OPERATORS
    for dtype in ("int64", "float32")
    if not (op in BITWISE and is_float(dtype))
]


@pytest.mark.parametrize("kind", ["tensor", "number_right", "number_left", "list"])
@pytest.mark.parametrize("op,pyop,dtype", OPERATOR_PARAMS)
def test_python_operators(device, need, rng, op, pyop, dtype, kind):
    x = operand(rng, op, 0, (3, 4), dtype)
    y = operand(rng, op, 1, (3, 4), dtype)
    if kind == "tensor":
        compute, result = binary_types(op, dtype, dtype)
        need(op, dtype=compute)
        need_types(need, op, compute, dtype)
        r = pyop(to_device(x, device), to_device(y, device))
        expected = binary_reference(op, x, y, compute, result)
    elif kind == "list":
        # a nested list becomes a tensor of its natural dtype (int64 here)
        yl = np.abs(y).astype(np.int64) + 1 if op == "pow" else y.astype(np.int64)
        if op in ("div", "floor_divide", "remainder"):
            yl = np.where(yl == 0, 1, yl)
        compute, result = binary_types(op, dtype, "int64")
        need_types(need, op, compute, dtype, "int64")
        r = pyop(to_device(x, device), yl.tolist())
        expected = binary_reference(op, x, yl, compute, result)
    else:
        number = 2 if dtype == "int64" or op in BITWISE else 1.5
        if kind == "number_right":
            compute, result = binary_types(op, dtype, number_dtype(number), b_weak=True)
            need_types(need, op, compute, dtype)
            r = pyop(to_device(x, device), number)
            expected = binary_reference(op, x, np.array(number), compute, result)
        else:
            compute, result = binary_types(op, number_dtype(number), dtype, a_weak=True)
            # `number < t` runs as `t > number`: Python reflects comparisons.
            need_types(need, REFLECTED.get(op, op), compute, dtype)
            if op in ("div", "floor_divide", "remainder"):
                x = y  # nonzero divisors
            if op == "pow" and not is_float(dtype):
                x = np.abs(x)
            r = pyop(number, to_device(x, device))
            expected = binary_reference(op, np.array(number), x, compute, result)
    check_meta(r, result, (3, 4))
    assert_close(r, expected, result, **binary_tol(op, compute))


def test_unary_operators(device, need, rng):
    need("neg", "abs", dtype="float32")
    x = make(rng, (3, 4), "float32")
    t = to_device(x, device)
    assert_close(-t, -x)
    assert_close(abs(t), np.abs(x))
    assert (+t) is t or np.array_equal(to_numpy(+t), x)
    need("bitwise_not", dtype="int32")
    xi = make(rng, (5,), "int32")
    r = ~to_device(xi, device)
    check_meta(r, "int32", (5,))
    assert_close(r, ~xi)
    need("logical_not", dtype="bool")
    xb = make(rng, (5,), "bool")
    rb = ~to_device(xb, device)
    check_meta(rb, "bool", (5,))
    assert_close(rb, ~xb)


def test_operator_with_numpy_array(device, need, rng):
    need("add", "sub", dtype="float32")
    x = make(rng, (3, 4), "float32")
    y = make(rng, (4,), "float32")
    t = to_device(x, device)
    r1 = t + y  # the array becomes a tensor on t's device
    r2 = y - t  # NumPy defers to the tensor's reflected operator
    assert isinstance(r2, devrt.Tensor)
    assert_close(r1, x + y)
    assert_close(r2, y - x)


def test_comparison_with_unsupported_operand(device):
    t = to_device(np.ones(3, np.float32), device)
    assert (t == None) is False  # noqa: E711
    assert (t != "a") is True
    with pytest.raises(TypeError):
        t < "a"  # noqa: B015


# --- where -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_where_dtypes(device, need, rng, dtype):
    need("where", dtype=dtype)
    c = make(rng, (4, 5), "bool")
    a = make(rng, (4, 5), dtype)
    b = make(rng, (4, 5), dtype)
    tc, ta, tb = (to_device(v, device) for v in (c, a, b))
    if dtype in ("float16", "bfloat16"):
        ta, tb = ta.to(dt(dtype)), tb.to(dt(dtype))
    for r in (devrt.where(tc, ta, tb), ta.where(tc, tb)):
        check_meta(r, dtype, (4, 5))
        assert_close(r, np.where(c, a, b), dtype)


@pytest.mark.parametrize(
    "sc,sa,sb", [((4, 1), (1, 5), ()), ((5,), (3, 1, 5), (1, 5)), ((), (2, 3), (3,))], ids=str
)
def test_where_broadcast(device, need, rng, sc, sa, sb):
    need("where", dtype="float32")
    c, a, b = make(rng, sc, "bool"), make(rng, sa, "float32"), make(rng, sb, "float32")
    r = devrt.where(to_device(c, device), to_device(a, device), to_device(b, device))
    check_meta(r, "float32", np.broadcast_shapes(sc, sa, sb))
    assert_close(r, np.where(c, a, b))


@pytest.mark.parametrize("da,db", [("int32", "float32"), ("int64", "int32"), ("bool", "int64")])
def test_where_promotes(device, need, rng, da, db):
    t = promote(da, db)  # where promotes its two value operands like a binary op
    need_types(need, "where", t, da, db)
    c, a, b = make(rng, (6,), "bool"), make(rng, (6,), da), make(rng, (6,), db)
    r = devrt.where(to_device(c, device), to_device(a, device), to_device(b, device))
    check_meta(r, t, (6,))
    assert_close(r, np.where(c, a.astype(t), b.astype(t)))


def test_where_python_numbers(device, need, rng):
    need("where", dtype="float32")
    c = make(rng, (3, 4), "bool")
    x = make(rng, (3, 4), "float32")
    tc, tx = to_device(c, device), to_device(x, device)
    r = devrt.where(tc, tx, 0.0)  # weak: stays float32
    check_meta(r, "float32", (3, 4))
    assert_close(r, np.where(c, x, np.float32(0)))
    r = devrt.where(tc, 2, tx)
    check_meta(r, "float32", (3, 4))
    assert_close(r, np.where(c, np.float32(2), x))
    need("where", dtype="int32")
    xi = make(rng, (3, 4), "int32")
    r = devrt.where(tc, to_device(xi, device), -1)
    check_meta(r, "int32", (3, 4))
    assert_close(r, np.where(c, xi, -1).astype(np.int32))


def test_where_non_bool_condition(device, need, rng):
    # a uint8 condition is cast to bool (non-zero is true); other dtypes are
    # refused, as PyTorch refuses them
    need("where", dtype="float64")
    need("copy", dtype="uint8")
    c = rng.integers(0, 4, (10,)).astype(np.uint8)
    a, b = make(rng, (10,), "float64"), make(rng, (10,), "float64")
    r = devrt.where(to_device(c, device), to_device(a, device), to_device(b, device))
    assert_close(r, np.where(c != 0, a, b))
    with pytest.raises(TypeError, match=r"^\[where\] condition must be a bool tensor"):
        devrt.where(to_device(c.astype(np.int64), device), to_device(a, device), 0.0)


@pytest.mark.parametrize("layout", ["transposed", "strided", "expanded"])
def test_where_noncontiguous(device, need, rng, layout):
    need("where", dtype="float32")
    c = make_for_layout(rng, (5, 6), "bool", layout)
    a = make_for_layout(rng, (5, 6), "float32", layout)
    b = make(rng, (5, 6), "float32")
    r = devrt.where(
        laid_out(c, device, layout), laid_out(a, device, layout), laid_out(b, device, "strided")
    )
    assert_close(r, np.where(c, a, b))


@pytest.mark.parametrize("shape", [(0,), (), (1,), (LARGE,)], ids=str)
def test_where_edge_sizes(device, need, rng, shape):
    need("where", dtype="float64")
    c, a, b = make(rng, shape, "bool"), make(rng, shape, "float64"), make(rng, shape, "float64")
    r = devrt.where(to_device(c, device), to_device(a, device), to_device(b, device))
    check_meta(r, "float64", shape)
    assert_close(r, np.where(c, a, b))
