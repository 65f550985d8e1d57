"""dtype objects, type promotion (tensor with tensor, with Python numbers and
with NumPy scalars) and devrt.device.

The expected promotion results come from the rules written down in
docs/design.md, implemented independently below (``expected_promotion``):
NumPy's lattice bool < integer < floating, wider wins within a category
(uint8 with a signed type gives the signed type, float16 with bfloat16 gives
float32); integer with floating gives the floating operand's type; Python
numbers are weak (they raise the category, never the width); arithmetic on
two bools counts in int64.
"""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest

import devrt
from devrt.testing import pydev, supports

NAMES = ["bool", "uint8", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
DTYPES = [getattr(devrt, n) for n in NAMES]
ITEMSIZE = {
    "bool": 1,
    "uint8": 1,
    "int32": 4,
    "int64": 8,
    "float16": 2,
    "bfloat16": 2,
    "float32": 4,
    "float64": 8,
}
FLOATING = {"float16", "bfloat16", "float32", "float64"}
NUMPY_NAME = {n: n for n in NAMES if n != "bfloat16"}


# --- the reference rules ---------------------------------------------------------


def category(name: str) -> int:
    return 0 if name == "bool" else (2 if name in FLOATING else 1)


WIDTH_ORDER = {
    "bool": 0,
    "uint8": 1,
    "int32": 2,
    "int64": 3,
    "float16": 4,
    "bfloat16": 4,
    "float32": 5,
    "float64": 6,
}


def promote(a: str, b: str) -> str:
    if category(a) != category(b):
        return a if category(a) > category(b) else b
    if a == b:
        return a
    if {a, b} == {"float16", "bfloat16"}:
        return "float32"
    return a if WIDTH_ORDER[a] > WIDTH_ORDER[b] else b


def promote_weak(strong: str, weak_kind: str) -> str:
    """A tensor of dtype `strong` with a Python number of kind bool/int/float."""
    weak = {"bool": "bool", "int": "int64", "float": "float32"}[weak_kind]
    if category(weak) <= category(strong):
        return strong
    return weak


def arithmetic(result: str) -> str:
    """add/sub/mul: two bools count in int64."""
    return "int64" if result == "bool" else result


def expected_promotion(a: str, b: str) -> str:
    return promote(a, b)


def ones(name: str, n: int = 3) -> devrt.Tensor:
    return devrt.ones(n, dtype=getattr(devrt, name))


# --- dtype objects -----------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_dtype_object_is_a_singleton(name):
    dt = getattr(devrt, name)
    assert devrt.zeros(2, dtype=dt).dtype is dt
    assert devrt.empty(2, dtype=name).dtype is dt
    assert devrt.dtype_from_name(name) is dt
    assert pickle.loads(pickle.dumps(dt)) is dt
    assert isinstance(dt, devrt.dtype)


@pytest.mark.parametrize("name", NAMES)
def test_dtype_attributes(name):
    dt = getattr(devrt, name)
    assert dt.itemsize == ITEMSIZE[name]
    assert dt.is_floating_point is (name in FLOATING)
    assert dt.name == name
    assert repr(dt) == f"devrt.{name}"
    t = devrt.zeros(5, dtype=dt)
    assert t.element_size() == ITEMSIZE[name]
    assert t.itemsize == ITEMSIZE[name]
    assert t.nbytes == 5 * ITEMSIZE[name]
    assert t.is_floating_point() is (name in FLOATING)


def test_default_tensor_dtype():
    assert devrt.float32 is devrt.ones(2).dtype
    assert devrt.empty(2).dtype is devrt.float32
    assert devrt.rand(2).dtype is devrt.float32
    assert devrt.tensor([1.0, 2.0]).dtype is devrt.float32
    assert devrt.tensor([1, 2]).dtype is devrt.int64
    assert devrt.tensor([True]).dtype is devrt.bool
    assert devrt.tensor(2.5).dtype is devrt.float32
    assert devrt.tensor(2).dtype is devrt.int64
    assert devrt.arange(3).dtype is devrt.int64
    assert devrt.arange(3.0).dtype is devrt.float32
    assert devrt.full((2,), 7).dtype is devrt.int64
    assert devrt.full((2,), 7.0).dtype is devrt.float32
    assert devrt.full((2,), True).dtype is devrt.bool


@pytest.mark.parametrize(
    "scalar, name",
    [
        (np.float64(2.5), "float64"),
        (np.float32(2.5), "float32"),
        (np.float16(1.5), "float16"),
        (np.int32(2), "int32"),
        (np.int64(2), "int64"),
        (np.uint8(3), "uint8"),
        (np.bool_(True), "bool"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, np.generic) else v,
)
def test_tensor_of_numpy_scalar_keeps_its_dtype(scalar, name):
    # As a 0-d NumPy array does, and as torch.tensor(np.float64(2.5)) does.
    assert devrt.tensor(np.array(scalar)).dtype is getattr(devrt, name)
    t = devrt.tensor(scalar)
    assert t.shape == ()
    assert t.dtype is getattr(devrt, name)
    assert t.item() == scalar.item()


def test_torch_style_aliases():
    assert devrt.float is devrt.float32
    assert devrt.double is devrt.float64
    assert devrt.half is devrt.float16
    assert devrt.long is devrt.int64
    assert devrt.int is devrt.int32
    assert devrt.ones(2).double().dtype is devrt.float64
    assert devrt.ones(2).long().dtype is devrt.int64
    assert devrt.ones(2).int().dtype is devrt.int32
    assert devrt.ones(2).half().dtype is devrt.float16
    assert devrt.ones(2).bfloat16().dtype is devrt.bfloat16
    assert devrt.ones(2, dtype=devrt.int32).float().dtype is devrt.float32
    assert devrt.ones(2).bool().dtype is devrt.bool


@pytest.mark.parametrize(
    "spec, name",
    [
        ("float64", "float64"),
        (np.float64, "float64"),
        (np.dtype("int32"), "int32"),
        (float, "float64"),
        (int, "int64"),
        (bool, "bool"),
        (np.uint8, "uint8"),
    ],
)
def test_dtype_argument_forms(spec, name):
    assert devrt.zeros(2, dtype=spec).dtype is getattr(devrt, name)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "bfloat16"])
def test_numpy_dtype_mapping(name):
    arr = np.zeros(3, dtype=name)
    assert devrt.from_numpy(arr).dtype is getattr(devrt, name)
    assert devrt.tensor(arr).dtype is getattr(devrt, name)  # arrays keep their type
    assert ones(name).numpy().dtype == np.dtype(name)


def test_dtype_of_unknown_name():
    with pytest.raises(TypeError, match=r"^\[\w+\]"):
        devrt.dtype_from_name("float8")
    with pytest.raises(TypeError, match=r"^\[\w+\]"):
        devrt.zeros(2, dtype="complex64")


@pytest.mark.parametrize("src, dst", list(itertools.product(NAMES, NAMES)))
def test_casts_between_all_dtypes(src, dst):
    values = [0, 1, 1] if src == "bool" else [0, 1, 3]
    t = devrt.tensor(values, dtype=getattr(devrt, src))
    c = t.to(getattr(devrt, dst))
    assert c.dtype is getattr(devrt, dst)
    expected = [bool(v) for v in values] if dst == "bool" else values
    got = c.tolist() if dst != "bfloat16" else c.float().tolist()
    assert got == expected


# --- promotion: tensor with tensor ------------------------------------------------------


PAIRS = list(itertools.product(NAMES, NAMES))


@pytest.mark.parametrize("a, b", PAIRS)
def test_promotion_table_through_where(a, b):
    # where() promotes its two value operands and has kernels for every dtype.
    cond = devrt.tensor([True, False, True])
    r = devrt.where(cond, ones(a), ones(b))
    assert r.dtype is getattr(devrt, expected_promotion(a, b))


ARITH_PAIRS = [
    (a, b) for a, b in PAIRS if supports("cpu", "add", arithmetic(expected_promotion(a, b)))
]


@pytest.mark.parametrize("a, b", ARITH_PAIRS)
@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_promotion_table_arithmetic(a, b, op):
    if op == "sub" and "bool" in (a, b):  # as PyTorch: no subtraction of bools
        with pytest.raises(TypeError, match=r"^\[sub\] is not defined for bool operands"):
            getattr(devrt, op)(ones(a), ones(b))
        return
    r = getattr(devrt, op)(ones(a), ones(b))
    assert r.dtype is getattr(devrt, arithmetic(expected_promotion(a, b)))


@pytest.mark.parametrize("a, b", ARITH_PAIRS)
def test_promotion_arithmetic_values(a, b):
    x = devrt.tensor([0, 1, 1], dtype=getattr(devrt, a))
    y = devrt.tensor([1, 1, 0], dtype=getattr(devrt, b))
    assert (x + y).tolist() == [1, 2, 1]
    assert (x * y).tolist() == [0, 1, 0]


# Pairs whose compute type the CPU backend declares (float16/bfloat16
# arithmetic is a documented gap).
COMPARE_PAIRS = [(a, b) for a, b in PAIRS if supports("cpu", "eq", expected_promotion(a, b))]


@pytest.mark.parametrize("a, b", COMPARE_PAIRS)
def test_comparison_gives_bool(a, b):
    r = ones(a) == ones(b)
    assert r.dtype is devrt.bool
    assert r.tolist() == [True, True, True]


def div_result(a: str, b: str) -> str:
    r = promote(a, b)
    return r if r in FLOATING else "float32"


@pytest.mark.parametrize("a, b", [p for p in PAIRS if supports("cpu", "div", div_result(*p))])
def test_true_division_gives_floating(a, b):
    r = devrt.div(ones(a), ones(b))
    assert r.dtype is getattr(devrt, div_result(a, b))
    assert r.tolist() == [1.0, 1.0, 1.0]


def test_int64_with_float32_is_float32_as_pytorch():
    # NumPy would give float64 here; the design follows PyTorch.
    assert (ones("int64") + ones("float32")).dtype is devrt.float32
    assert (ones("int32") * ones("float64")).dtype is devrt.float64


def test_bool_arithmetic_counts_in_int64():
    t = devrt.tensor([True, True, False])
    r = t + t
    assert r.dtype is devrt.int64
    assert r.tolist() == [2, 2, 0]


def test_matmul_promotes():
    r = devrt.ones(2, 2, dtype=devrt.int32) @ devrt.ones(2, 2, dtype=devrt.float64)
    assert r.dtype is devrt.float64
    r = devrt.ones(2, 2, dtype=devrt.int32) @ devrt.ones(2, 2, dtype=devrt.int64)
    assert r.dtype is devrt.int64


# --- promotion: tensor with a Python number ------------------------------------------------


SCALARS = {"bool": True, "int": 2, "float": 2.5}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", list(SCALARS))
def test_python_number_promotion_through_where(name, kind):
    cond = devrt.tensor([True, False, True])
    r = devrt.where(cond, ones(name), SCALARS[kind])
    assert r.dtype is getattr(devrt, promote_weak(name, kind))


ARITH_SCALAR_CASES = [
    (n, k) for n in NAMES for k in SCALARS if supports("cpu", "add", arithmetic(promote_weak(n, k)))
]


@pytest.mark.parametrize("name, kind", ARITH_SCALAR_CASES)
def test_python_number_promotion_arithmetic(name, kind):
    t = ones(name)
    s = SCALARS[kind]
    expected = getattr(devrt, arithmetic(promote_weak(name, kind)))
    assert (t + s).dtype is expected
    assert (s + t).dtype is expected
    assert (t * s).dtype is expected
    assert (s * t).dtype is expected
    assert devrt.add(t, s).dtype is expected


@pytest.mark.parametrize(
    "name, scalar, expected",
    [
        ("int32", 2, [3, 3]),
        ("int64", -4, [-3, -3]),
        ("int32", 2.5, [3.5, 3.5]),
        ("float32", 2, [3.0, 3.0]),
        ("float64", 0.25, [1.25, 1.25]),
        ("bool", 2, [3, 3]),
        ("bool", 0.5, [1.5, 1.5]),
        ("bool", True, [2, 2]),
    ],
)
def test_python_number_values(name, scalar, expected):
    assert (ones(name, 2) + scalar).tolist() == expected
    assert (scalar + ones(name, 2)).tolist() == expected


def test_python_number_does_not_widen():
    # A float64-sized number does not make a float32 tensor float64; a big int
    # does not make an int32 tensor int64.
    assert (ones("float32") * 1e300).dtype is devrt.float32
    assert (ones("int32") + 2**40).dtype is devrt.int32


def test_reflected_subtraction_and_division():
    t = devrt.tensor([1.0, 2.0, 4.0])
    assert (10 - t).tolist() == [9.0, 8.0, 6.0]
    assert (8 / t).tolist() == [8.0, 4.0, 2.0]
    assert (2**t).tolist() == [2.0, 4.0, 16.0]


def test_division_of_ints_by_python_int_is_float32():
    r = devrt.tensor([1, 2, 3]) / 2
    assert r.dtype is devrt.float32
    assert r.tolist() == [0.5, 1.0, 1.5]


def test_comparison_with_python_number():
    r = devrt.tensor([1, 2, 3]) > 1.5
    assert r.dtype is devrt.bool
    assert r.tolist() == [False, True, True]


# --- promotion: NumPy scalars ----------------------------------------------------------------


NUMPY_SCALARS = [
    (np.float64(2.5), "float"),
    (np.float32(2.5), "float"),
    (np.int64(2), "int"),
    (np.int32(2), "int"),
    (np.bool_(True), "float"),  # a NumPy bool is the float 1.0, as in PyTorch
]


@pytest.mark.parametrize("name", ["bool", "int32", "int64", "float32", "float64"])
@pytest.mark.parametrize(
    "scalar, kind", NUMPY_SCALARS, ids=[f"np.{type(s).__name__}" for s, _ in NUMPY_SCALARS]
)
def test_numpy_scalar_operands_promote_like_python_numbers(name, scalar, kind):
    t = ones(name)
    expected = getattr(devrt, arithmetic(promote_weak(name, kind)))
    r = t + scalar
    assert isinstance(r, devrt.Tensor)
    assert r.dtype is expected
    rr = scalar + t  # NumPy must defer to the tensor
    assert isinstance(rr, devrt.Tensor)
    assert rr.dtype is expected
    assert rr.tolist() == r.tolist()


def test_numpy_scalar_values():
    t = devrt.tensor([1, 2, 3], dtype=devrt.int32)
    r = t * np.float64(0.5)
    assert r.dtype is devrt.float32
    assert r.tolist() == [0.5, 1.0, 1.5]
    r = np.int64(10) - t
    assert isinstance(r, devrt.Tensor) and r.tolist() == [9, 8, 7]
    assert (t < np.float32(2.5)).tolist() == [True, True, False]


def test_numpy_scalar_matches_torch():
    torch = pytest.importorskip("torch")
    for name in ["int32", "int64", "float32", "float64"]:
        for scalar in (np.float64(2.5), np.int64(2), np.float32(1.5)):
            ours = (ones(name) + scalar).dtype.name
            theirs = str((torch.ones(3, dtype=getattr(torch, name)) + scalar).dtype)
            assert theirs == f"torch.{ours}", (name, type(scalar).__name__)


# --- devices --------------------------------------------------------------------------------


def test_device_parsing_cpu():
    d = devrt.device("cpu")
    assert d.type == "cpu"
    assert str(d) == "cpu"
    assert repr(d) == "device(type='cpu')"
    assert d == devrt.device("cpu")
    assert d == "cpu"
    assert devrt.device(d) == d


def test_device_parsing_with_index():
    name = pydev.NAME
    d = devrt.device(f"{name}:0")
    assert d.type == name
    assert d.index == 0
    assert str(d) == f"{name}:0"
    assert repr(d) == f"device(type='{name}', index=0)"
    assert d == devrt.device(name, 0)
    assert d == f"{name}:0"
    assert d != devrt.device("cpu")
    assert d != "cpu"


def test_device_without_index_means_index_zero():
    d = devrt.device(pydev.NAME)
    assert d == devrt.device(f"{pydev.NAME}:0")
    assert d.type == pydev.NAME


def test_devices_with_different_indices_differ_and_print_differently():
    a, b = devrt.device(f"{pydev.NAME}:0"), devrt.device(f"{pydev.NAME}:1")
    assert a != b
    assert str(a) != str(b) and repr(a) != repr(b)
    c, d = devrt.device("cpu:1"), devrt.device("cpu")
    assert c != d
    assert str(c) != str(d) and repr(c) != repr(d)  # unequal devices must not print alike


def test_device_hash_and_dict_key():
    a = devrt.device(f"{pydev.NAME}:0")
    b = devrt.device(pydev.NAME, 0)
    assert hash(a) == hash(b)
    assert {a: 1}[b] == 1
    assert len({devrt.device("cpu"), devrt.device("cpu"), a, b}) == 2


def test_device_index_given_twice():
    with pytest.raises(ValueError, match=r"^\[device\]"):
        devrt.device(f"{pydev.NAME}:0", 0)


def test_device_of_tensors():
    t = devrt.ones(2)
    assert t.device == devrt.device("cpu")
    assert t.device == "cpu"
    assert t.device.type == "cpu"
    p = t.to(pydev.NAME)
    assert p.device == devrt.device(pydev.NAME, 0)
    assert p.device.type == pydev.NAME
    assert p.device.index == 0
    assert devrt.empty(2, device=devrt.device("cpu")).device == "cpu"
    assert t.to(devrt.device(pydev.NAME)).device == p.device


def test_to_with_device_and_dtype():
    t = devrt.tensor([1, 2, 3])
    r = t.to("cpu", devrt.float64)
    assert r.dtype is devrt.float64 and r.device == "cpu"
    r = t.to(device="cpu", dtype="float32")
    assert r.dtype is devrt.float32
    assert t.to(devrt.float64).to(t).dtype is devrt.int64
    assert t.to(t.dtype) is t
    assert t.to("cpu") is t
    c = t.to("cpu", copy=True)
    assert c is not t and not c._is_view_of(t)
