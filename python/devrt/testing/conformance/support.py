"""Shared helpers for the device-matrix op tests: moving NumPy arrays to a
device and back, input generation per dtype, and devrt's documented type
promotion (docs/design.md), written out independently of the core."""

from __future__ import annotations

import numpy as np

import devrt

ALL_DTYPES = ["bool", "uint8", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
FLOATS = ["float32", "float64"]
INTS = ["int32", "int64"]
NUMERIC = INTS + FLOATS

# Ordering inside a category (NumPy's widths).
_CATEGORY = {
    "bool": 0,
    "uint8": 1,
    "int32": 1,
    "int64": 1,
    "float16": 2,
    "bfloat16": 2,
    "float32": 2,
    "float64": 2,
}
_RANK = {name: i for i, name in enumerate(ALL_DTYPES)}


def dt(name: str):
    """The devrt dtype object called `name`."""
    return getattr(devrt, name)


def name_of(dtype) -> str:
    return dtype if isinstance(dtype, str) else dtype.name


def is_float(name: str) -> bool:
    return _CATEGORY[name] == 2


def category(name: str) -> int:
    return _CATEGORY[name]


def np_dtype(name: str) -> np.dtype:
    if name == "bfloat16":
        raise ValueError("NumPy has no bfloat16")
    return np.dtype(name)


def promote(
    a: str,
    b: str,
    a_weak: bool = False,
    b_weak: bool = False,
    *,
    a_0d: bool = False,
    b_0d: bool = False,
) -> str:
    """devrt's promotion lattice (docs/design.md, "Type promotion"): operands
    rank as dimensioned tensors > 0-d tensors (`a_0d`) > Python numbers
    (`a_weak`); a lower-ranked one only counts when its category is higher."""
    rank_a = 0 if a_weak else (1 if a_0d else 2)
    rank_b = 0 if b_weak else (1 if b_0d else 2)
    if rank_a == rank_b:
        ca, cb = _CATEGORY[a], _CATEGORY[b]
        if ca != cb:
            return a if ca > cb else b
        if a == b:
            return a
        if {a, b} == {"float16", "bfloat16"}:
            return "float32"
        return a if _RANK[a] > _RANK[b] else b
    (strong, weak, weak_rank) = (a, b, rank_b) if rank_a > rank_b else (b, a, rank_a)
    if _CATEGORY[weak] <= _CATEGORY[strong]:
        return strong
    if weak_rank == 1:  # a 0-d tensor gives its own type
        return weak
    return "float32" if _CATEGORY[weak] == 2 else "int64"


def number_dtype(value) -> str:
    """The natural dtype of a Python number (only its category matters)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    return "float64"


ARITH = ["add", "sub", "mul", "pow", "maximum", "minimum", "floor_divide", "remainder"]
COMPARE = ["eq", "ne", "lt", "le", "gt", "ge"]
LOGICAL = ["logical_and", "logical_or", "logical_xor"]
BITWISE = ["bitwise_and", "bitwise_or", "bitwise_xor"]
# Ops whose integer operands compute in the default float type (div,
# atan2, ...), read from the catalogue.
FLOAT_BINARY = [op["name"] for op in devrt.catalogue() if op["family"] == "binary_float"]
BINARY = ARITH + FLOAT_BINARY + COMPARE + LOGICAL + BITWISE


def binary_types(
    op: str, a: str, b: str, a_weak=False, b_weak=False, *, a_0d=False, b_0d=False
) -> tuple[str, str]:
    """(compute dtype, result dtype) of a binary op, per docs/design.md and
    docs/kernels.md."""
    t = promote(a, b, a_weak, b_weak, a_0d=a_0d, b_0d=b_0d)
    if op in FLOAT_BINARY:
        t = t if is_float(t) else "float32"
        return t, t
    if op in COMPARE or op in LOGICAL:
        return t, "bool"
    if op in BITWISE:
        return t, t
    if t == "bool" and op not in ("maximum", "minimum"):
        t = "int64"  # arithmetic on two bools counts in int64
    return t, t


def refuses_bool(op: str, *dtypes: str) -> bool:
    """Whether `op` refuses these operand dtypes: subtraction with a bool
    operand is a TypeError (as in PyTorch; logical_not inverts a mask)."""
    return op == "sub" and "bool" in dtypes


def to_device(a: np.ndarray, device: str, dtype: str | None = None):
    """A devrt tensor on `device` holding `a` (optionally cast to `dtype`;
    bfloat16 is made from float32 by the core's cast)."""
    # A private C-ordered copy: from_numpy shares memory, and in-place ops
    # must not change the test's reference input.
    t = devrt.from_numpy(np.array(a, copy=True, order="C"))
    if dtype is not None and name_of(t.dtype) != dtype:
        t = t.to(dt(dtype))
    return t.to(device)


def to_numpy(t) -> np.ndarray:
    """The values of `t` as a NumPy array on the host (bfloat16 as float32)."""
    c = t.cpu()
    if c.dtype is devrt.bfloat16:
        c = c.float()
    return np.asarray(c.numpy())


def check_meta(t, dtype: str, shape) -> None:
    assert name_of(t.dtype) == dtype, f"dtype {t.dtype}, expected {dtype}"
    assert tuple(t.shape) == tuple(shape), f"shape {tuple(t.shape)}, expected {tuple(shape)}"


def make(rng: np.random.Generator, shape, dtype: str, low=-10, high=10) -> np.ndarray:
    """Random NumPy input of `dtype` (bfloat16 inputs come as float32 values
    exactly representable in bfloat16)."""
    shape = tuple(shape)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype == "uint8":
        return rng.integers(max(low, 0), max(high, 1), size=shape).astype(np.uint8)
    if dtype in ("int32", "int64"):
        return rng.integers(low, high, size=shape).astype(dtype)
    if dtype == "bfloat16":
        return (rng.integers(-64, 64, size=shape) / 8).astype(np.float32)
    scale = (high - low) / 4
    return (rng.standard_normal(shape) * scale).astype(dtype)


def assert_close(actual, expected, dtype: str | None = None, rtol=None, atol=None):
    """Compares a devrt tensor (or array) with a NumPy reference; exact for
    integer and bool results, tolerance by dtype for floats."""
    got = to_numpy(actual) if not isinstance(actual, np.ndarray) else actual
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"shape {got.shape}, expected {expected.shape}"
    kind = dtype or got.dtype.name
    if kind in ("float32", "float16", "bfloat16", "float64"):
        default = {
            "float16": (1e-3, 1e-3),
            "bfloat16": (1e-2, 1e-2),
            "float32": (1e-5, 1e-6),
            "float64": (1e-12, 1e-14),
        }[kind]
        np.testing.assert_allclose(
            got.astype(np.float64),
            expected.astype(np.float64),
            rtol=default[0] if rtol is None else rtol,
            atol=default[1] if atol is None else atol,
            equal_nan=True,
        )
    else:
        np.testing.assert_array_equal(got, expected)


LAYOUTS = ["contiguous", "transposed", "strided", "expanded"]


def laid_out(a: np.ndarray, device: str, layout: str, dtype: str | None = None):
    """A tensor on `device` whose values equal `a` (ndim ≥ 2 for the
    non-contiguous layouts) but whose memory layout is `layout`:
    ``transposed`` (a permuted view), ``strided`` (every other element of the
    last dimension), ``expanded`` (stride 0 along the first dimension; `a`
    must be constant along it)."""
    if layout == "contiguous":
        return to_device(a, device, dtype)
    if layout == "transposed":
        rev = tuple(range(a.ndim))[::-1]
        t = to_device(np.array(a.transpose(rev)), device, dtype).permute(*rev)
        assert not t.is_contiguous() or a.size <= 1
        return t
    if layout == "strided":
        base = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
        base[..., ::2] = a
        t = to_device(base, device, dtype)[..., ::2]
        assert not t.is_contiguous() or a.size <= 1
        return t
    if layout == "expanded":
        assert np.all(a == a[:1]), "expanded layout needs rows that repeat"
        t = to_device(np.array(a[:1]), device, dtype).expand(*a.shape)
        assert t.stride(0) == 0
        return t
    raise ValueError(layout)


def make_for_layout(rng, shape, dtype, layout, **kw) -> np.ndarray:
    """`make`, with rows repeated when the layout is ``expanded``."""
    a = make(rng, shape, dtype, **kw)
    if layout == "expanded":
        a = np.broadcast_to(a[:1], a.shape).copy()
    return a


def need_types(need, op: str, compute: str, *inputs: str) -> None:
    """Skips unless the device has `op` for `compute` and a cast (the copy
    kernel) from every input dtype that differs from it."""
    need(op, dtype=compute)
    for d in inputs:
        if d != compute:
            need("copy", dtype=d)
