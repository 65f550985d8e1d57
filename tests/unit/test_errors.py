"""Errors: the standard exception type users already catch, and a message that
starts with ``[op]`` and names the shapes, dtypes, devices and values involved.

Messages are matched order-independently (``mentions``) so that wording may
change while the facts a user needs stay asserted.
"""

from __future__ import annotations

import gc
import re

import numpy as np
import pytest

import devrt
from devrt.testing import pydev

PYDEV = pydev.NAME


def mentions(*parts: str, op: str = r"[\w.]+") -> str:
    """A regex: the message starts with ``[op]`` and contains every part
    (each a regex), in any order."""
    return r"^\[" + op + r"\]" + "".join(f"(?=[\\s\\S]*{p})" for p in parts)


def shape(*dims: int) -> str:
    """A shape written as a list or a tuple: [2, 3] or (2, 3)."""
    return r"[\[(]" + r",\s*".join(str(d) for d in dims) + r",?[\])]"


def num(v: int) -> str:
    """An integer as a whole word (so that 3 does not match 13 or -3)."""
    return r"(?<![\w.-])" + re.escape(str(v)) + r"(?![\w.])"


def cases(*rows: tuple) -> list:
    """pytest params named by their non-callable fields."""
    return [pytest.param(*row, id="-".join(str(v) for v in row if not callable(v))) for row in rows]


def on_pydev(t: devrt.Tensor) -> devrt.Tensor:
    return t.to(PYDEV)


# --- shapes -------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn, op",
    cases(
        (lambda a, b: a + b, "add"),
        (lambda a, b: devrt.mul(a, b), "mul"),
        (lambda a, b: a.sub(b), "sub"),
        (lambda a, b: a < b, "lt"),
    ),
)
def test_broadcast_mismatch(fn, op):
    a, b = devrt.ones(2, 3), devrt.ones(4, 3)
    with pytest.raises(ValueError, match=mentions(shape(2, 3), shape(4, 3), op=op)):
        fn(a, b)


def test_broadcast_mismatch_trailing_dimension():
    with pytest.raises(ValueError, match=mentions(shape(5, 4), shape(3), op="add")):
        devrt.ones(5, 4) + devrt.ones(3)


def test_broadcast_mismatch_in_place():
    with pytest.raises(ValueError, match=mentions(shape(2), shape(3, 2), op="add")):
        devrt.ones(2).add_(devrt.ones(3, 2))


def test_matmul_inner_dimension_mismatch():
    with pytest.raises(
        ValueError, match=mentions(shape(2, 3), shape(4, 5), num(3), num(4), op="matmul")
    ):
        devrt.ones(2, 3) @ devrt.ones(4, 5)


def test_matmul_inner_dimension_mismatch_vectors():
    with pytest.raises(ValueError, match=mentions(shape(3), shape(4), op="matmul")):
        devrt.matmul(devrt.ones(3), devrt.ones(4))


def test_matmul_batched_inner_dimension_mismatch():
    with pytest.raises(ValueError, match=mentions(shape(7, 2, 3), shape(7, 2, 3), op="matmul")):
        devrt.ones(7, 2, 3) @ devrt.ones(7, 2, 3)


@pytest.mark.parametrize(
    "fn, op, target",
    cases(
        (lambda t: t.reshape(4), "reshape", shape(4)),
        (lambda t: t.reshape(4, -1), "reshape", shape(4, -1)),
        (lambda t: devrt.reshape(t, (7,)), "reshape", shape(7)),
        (lambda t: t.view(5), "view", shape(5)),
        (lambda t: t.view(2, 2, 2), "view", shape(2, 2, 2)),
    ),
)
def test_reshape_to_another_element_count(fn, op, target):
    t = devrt.ones(2, 3)
    with pytest.raises(ValueError, match=mentions(shape(2, 3), target, op=op)):
        fn(t)


def test_view_of_non_viewable_layout_suggests_reshape():
    t = devrt.ones(2, 3).t()
    with pytest.raises(ValueError, match=mentions(shape(3, 2), "reshape", op="view")):
        t.view(6)
    # reshape does what view cannot
    assert t.reshape(6).shape == (6,)


def test_view_of_strided_slice_suggests_reshape():
    t = devrt.ones(4, 6)[:, 1:]  # rows 6 apart, 5 wide: no single stride
    with pytest.raises(ValueError, match=mentions(shape(4, 5), "reshape", op="view")):
        t.view(20)


# --- indexing -----------------------------------------------------------------


@pytest.mark.parametrize("index, size", [(5, 2), (2, 2), (-3, 2)])
def test_integer_index_out_of_range(index, size):
    t = devrt.ones(2, 3)
    with pytest.raises(IndexError, match=mentions(num(index), num(size))):
        t[index]


def test_integer_index_out_of_range_names_the_indexed_dimension():
    # The second index goes into dimension 1 (of size 3), as NumPy and
    # PyTorch report it.
    t = devrt.ones(2, 3)
    with pytest.raises(IndexError, match=mentions(num(7), r"(dimension|axis) 1\b", num(3))):
        t[0, 7]


def test_integer_index_out_of_range_on_assignment():
    t = devrt.ones(2, 3)
    with pytest.raises(IndexError, match=mentions(num(4), num(2))):
        t[4] = 1.0


@pytest.mark.parametrize("key", [0, slice(0, 1), slice(None)], ids=["int", "slice", "full-slice"])
def test_indexing_a_0d_tensor(key):
    t = devrt.tensor(3.0)
    with pytest.raises(IndexError, match=r"^\[[\w.]+\]"):
        t[key]


@pytest.mark.parametrize(
    "key, bad, size",
    [
        ([0, 5], 5, 2),
        ([-3], -3, 2),
        (np.array([1, 9]), 9, 2),
    ],
    ids=["list", "negative", "ndarray"],
)
def test_integer_array_index_out_of_range(key, bad, size):
    t = devrt.ones(2, 3)
    with pytest.raises(IndexError, match=mentions(num(bad), num(size))):
        t[key]


def test_integer_tensor_index_out_of_range():
    t = devrt.ones(2, 3)
    with pytest.raises(IndexError, match=mentions(num(6), num(2))):
        t[devrt.tensor([0, 6])]


def test_integer_array_index_out_of_range_names_the_indexed_dimension():
    t = devrt.ones(2, 3)
    with pytest.raises(IndexError, match=mentions(num(3), r"(dimension|axis) 1\b", num(3))):
        t[:, [0, 3]]


def test_integer_array_index_put_out_of_range():
    t = devrt.ones(2, 3)
    with pytest.raises(IndexError, match=mentions(num(5), num(2))):
        t[[0, 5]] = 0.0


@pytest.mark.parametrize(
    "key",
    [(0, 0, 0), (slice(0, 1), slice(0, 1), slice(0, 1)), (Ellipsis, 0, 0, 0), (None, 0, 0, 0)],
    ids=["ints", "slices", "ellipsis", "newaxis"],
)
def test_too_many_indices(key):
    t = devrt.ones(2, 3)
    with pytest.raises(IndexError, match=mentions("too many", num(2))):
        t[key]


def test_boolean_mask_of_wrong_shape():
    t = devrt.ones(2, 3)
    with pytest.raises(IndexError, match=mentions(shape(3), shape(2, 3))):
        t[devrt.tensor([True, False, True])]


# --- axes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn, op, axis",
    cases(
        (lambda t: t.sum(2), "sum", 2),
        (lambda t: t.sum(-3), "sum", -3),
        (lambda t: devrt.mean(t, (0, 2)), "mean", 2),
        (lambda t: t.prod(5), "prod", 5),
        (lambda t: t.amax(2), "(amax|max)", 2),
        (lambda t: t.argmax(2), "argmax", 2),
        (lambda t: t.max(2), "(amax|max)", 2),
        (lambda t: t.var(3), "var", 3),
        (lambda t: t.any(2), "any", 2),
        (lambda t: t.softmax(-3), "softmax", -3),
    ),
)
def test_reduction_axis_out_of_range(fn, op, axis):
    t = devrt.ones(2, 3)
    with pytest.raises(IndexError, match=mentions(num(axis), op=op)):
        fn(t)


@pytest.mark.parametrize(
    "fn, op",
    cases(
        (lambda t: t.transpose(0, 2), "transpose"),
        (lambda t: t.unsqueeze(4), "unsqueeze"),
        (lambda t: t.squeeze(2), "squeeze"),
        (lambda t: t.flatten(0, 5), "flatten"),
        (lambda t: t.size(2), "size"),
        (lambda t: t.stride(-3), "stride"),
    ),
)
def test_shape_op_axis_out_of_range_names_the_op(fn, op):
    t = devrt.ones(2, 3)
    with pytest.raises(IndexError, match=mentions(op=op)):
        fn(t)


@pytest.mark.parametrize(
    "fn, op",
    cases(
        (lambda t: t.sum((0, 0)), "sum"),
        (lambda t: t.sum((1, -1)), "sum"),
        (lambda t: devrt.mean(t, (0, -2)), "mean"),
        (lambda t: t.std((1, 1)), "(std|var)"),
    ),
)
def test_duplicate_reduction_axes(fn, op):
    t = devrt.ones(2, 3)
    with pytest.raises(ValueError, match=mentions(op=op)):
        fn(t)


def test_permute_with_repeated_dimension():
    with pytest.raises(ValueError, match=mentions(num(0), op="permute")):
        devrt.ones(2, 3).permute(0, 0)


# --- devices ------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda: devrt.device("foo"),
        lambda: devrt.ones(2, device="foo"),
        lambda: devrt.ones(2).to("foo:0"),
        lambda: devrt.zeros(2, device="foo:1"),
    ],
    ids=["device", "creation", "to", "with-index"],
)
def test_unknown_device_type_lists_known_types(fn):
    with pytest.raises(ValueError, match=mentions("foo", r"\bcpu\b", rf"\b{PYDEV}\b")):
        fn()


@pytest.mark.parametrize(
    "fn, dev",
    cases(
        (lambda: devrt.ones(2, device=f"{PYDEV}:3"), f"{PYDEV}:3"),
        (lambda: devrt.ones(2).to(f"{PYDEV}:5"), f"{PYDEV}:5"),
        (lambda: devrt.empty(2, device=devrt.device(PYDEV, 2)), f"{PYDEV}:2"),
        (lambda: devrt.ones(2, device="cpu:3"), "cpu:3"),
    ),
)
def test_device_index_out_of_range(fn, dev):
    # Names the device asked for and how many there are (1 of each).
    with pytest.raises(ValueError, match=mentions(re.escape(dev), num(1))):
        fn()


@pytest.mark.parametrize("spec", [f"{PYDEV}:x", f"{PYDEV}:-1", f"{PYDEV}:", "cpu:0:0"])
def test_malformed_device_string(spec):
    with pytest.raises(ValueError, match=mentions(re.escape(spec), op="device")):
        devrt.device(spec)


@pytest.mark.parametrize(
    "fn, op",
    cases(
        (lambda a, b: a + b, "add"),
        (lambda a, b: b * a, "mul"),
        (lambda a, b: a @ b.t(), "matmul"),
        (lambda a, b: devrt.where(a > 0, a, b), "where"),
        (
            lambda a, b: devrt._C.adam_step(
                a, a.clone(), b, b.clone(), 0.1, beta1=0.9, beta2=0.999, eps=1e-8
            ),
            "adam_step",
        ),
        (lambda a, b: devrt._C.sgd_step(a, b, 0.1), "sgd_step"),
    ),
)
def test_inputs_on_two_devices(fn, op):
    a = devrt.ones(2, 2)
    b = on_pydev(devrt.ones(2, 2))
    with pytest.raises(ValueError, match=mentions(r"\bcpu\b", rf"{PYDEV}(:0)?\b", op=op)):
        fn(a, b)


def _implementing_devices(op: str, dtype: str) -> list[str]:
    """From the catalogue: the device types with a kernel for op/dtype."""
    for entry in devrt.catalogue():
        if entry["name"] == op:
            return [dev for dev, dtypes in entry["kernels"].items() if dtype in dtypes]
    raise AssertionError(f"{op} is not in the catalogue")


@pytest.mark.parametrize(
    "fn, op",
    cases(
        (lambda p: p - p, "sub"),
        (lambda p: p.neg(), "neg"),
        (lambda p: p.exp(), "exp"),
        (lambda p: p.mean(), "mean"),
    ),
)
def test_missing_kernel_names_op_dtype_device_and_implementers(fn, op):
    p = on_pydev(devrt.ones(2, 2))
    others = _implementing_devices(op, "float32")
    assert "cpu" in others and PYDEV not in others
    parts = ["float32", rf"\b{PYDEV}\b"] + [rf"\b{re.escape(d)}\b" for d in others]
    with pytest.raises(NotImplementedError, match=mentions(*parts, op=op)):
        fn(p)


def test_missing_kernel_for_dtype_names_the_dtype():
    # pydev implements matmul, but declares int32/int64/float32/float64 only.
    p = on_pydev(devrt.ones(2, 2, dtype=devrt.float16))
    with pytest.raises(NotImplementedError, match=mentions("float16", PYDEV, op="matmul")):
        p @ p


# --- sizes and memory ---------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda: devrt.empty(-1),
        lambda: devrt.zeros(2, -1),
        lambda: devrt.ones((-1,)),
        lambda: devrt.full((3, -1), 1.5),
        lambda: devrt.rand(-1, 2),
        lambda: devrt.randn(-1),
        lambda: devrt.empty(0, -1),
    ],
    ids=["empty", "zeros", "ones", "full", "rand", "randn", "after-zero"],
)
def test_negative_size(fn):
    with pytest.raises(ValueError, match=mentions(num(-1))):
        fn()


def test_negative_size_in_reshape():
    with pytest.raises(ValueError, match=mentions(num(-2), op="reshape")):
        devrt.ones(6).reshape(-2, 3)


def test_two_inferred_dimensions_in_reshape():
    with pytest.raises(ValueError, match=mentions(r"-1", op="(reshape|view)")):
        devrt.ones(6).view(-1, -1)


def test_negative_linspace_steps():
    with pytest.raises(ValueError, match=mentions(num(-1), op="linspace")):
        devrt.linspace(0.0, 1.0, -1)


@pytest.mark.parametrize(
    "fn",
    [
        lambda: devrt.empty(1 << 40, 1 << 40),
        lambda: devrt.zeros((1 << 31, 1 << 31, 4)),
        lambda: devrt.ones(3, 1 << 62),
    ],
    ids=["2^80", "2^64", "3*2^62"],
)
def test_element_count_overflowing_int64(fn):
    with pytest.raises(ValueError, match=r"^\[[\w.]+\]"):
        fn()


def test_byte_count_overflow():
    # 2^62 float64 elements fit in int64 but their byte count does not.
    with pytest.raises(ValueError, match=r"^\[[\w.]+\]"):
        devrt.empty(1 << 62, dtype=devrt.float64)


@pytest.mark.parametrize(
    "fn",
    [
        lambda: devrt.zeros(0).reshape(1 << 32, 1 << 32),
        lambda: devrt.zeros(0).view(1 << 32, 1 << 32),
        lambda: devrt.zeros(1).reshape(1 << 32, 1 << 32),
        lambda: devrt.zeros(1).expand(1 << 32, 1 << 32),
    ],
    ids=["reshape-empty", "view-empty", "reshape", "expand"],
)
def test_view_shape_whose_element_count_overflows_int64(fn):
    # 2^32 * 2^32 = 2^64 elements: wraps to 0 in int64 arithmetic.
    with pytest.raises(ValueError, match=r"^\[[\w.]+\]"):
        fn()


def test_huge_allocation_raises_out_of_memory_and_process_keeps_working():
    assert issubclass(devrt.OutOfMemoryError, MemoryError)
    with pytest.raises(
        devrt.OutOfMemoryError, match=mentions("allocated", "reserved", op=r"[\w.]+")
    ) as info:
        devrt.empty(1 << 50)
    assert isinstance(info.value, MemoryError)
    del info
    gc.collect()
    x = devrt.arange(10, dtype=devrt.float32)
    assert (x * 2).sum().item() == 90.0


# --- data ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [[[1, 2], [3]], [[1, 2], 3], [[[1, 2]], [[3]]], [[1.0], [2.0, 3.0]]],
    ids=["rows", "scalar-row", "deep", "floats"],
)
def test_ragged_nested_lists(data):
    with pytest.raises(ValueError, match=mentions(op="tensor")):
        devrt.tensor(data)


def test_ragged_nested_lists_with_dtype():
    with pytest.raises(ValueError, match=mentions(op="tensor")):
        devrt.tensor([[1], [2, 3]], dtype=devrt.float32)


UNSUPPORTED_NUMPY = [
    pytest.param(np.zeros(2, np.complex128), "complex128", id="complex128"),
    pytest.param(np.zeros(2, np.uint16), "uint16", id="uint16"),
    pytest.param(np.array([1, None], dtype=object), "object", id="object"),
    pytest.param(np.array(["ab", "c"]), re.escape(str(np.dtype("<U2"))), id="str"),
    pytest.param(np.array([b"ab"]), re.escape(str(np.dtype("S2"))), id="bytes"),
    pytest.param(np.zeros(2, ">f4"), re.escape(">f4"), id="big-endian-f4"),
    pytest.param(np.zeros(2, ">i8"), re.escape(">i8"), id="big-endian-i8"),
]


@pytest.mark.parametrize("arr, name", UNSUPPORTED_NUMPY)
def test_unsupported_numpy_dtype_from_numpy(arr, name):
    with pytest.raises(TypeError, match=mentions(name, op="from_numpy")):
        devrt.from_numpy(arr)


@pytest.mark.parametrize("arr, name", UNSUPPORTED_NUMPY)
def test_unsupported_numpy_dtype_tensor(arr, name):
    with pytest.raises(TypeError, match=mentions(name)):
        devrt.tensor(arr)


@pytest.mark.parametrize("arr, name", UNSUPPORTED_NUMPY)
def test_unsupported_numpy_dtype_as_tensor(arr, name):
    with pytest.raises(TypeError, match=mentions(name)):
        devrt.as_tensor(arr)


def test_unsupported_python_data():
    with pytest.raises(TypeError, match=mentions()):
        devrt.tensor([1 + 2j])
    with pytest.raises(TypeError, match=mentions()):
        devrt.tensor([None, 1])


# --- dtypes -------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn, op",
    cases(
        (lambda f, i: f & f, "bitwise_and"),
        (lambda f, i: f | i, "bitwise_or"),
        (lambda f, i: i ^ f, "bitwise_xor"),
        (lambda f, i: devrt.bitwise_and(i, 1.5), "bitwise_and"),
        (lambda f, i: ~f, "bitwise_not"),
        (lambda f, i: f.bitwise_not(), "bitwise_not"),
    ),
)
def test_bitwise_ops_on_floats(fn, op):
    f = devrt.ones(2)
    i = devrt.ones(2, dtype=devrt.int64)
    with pytest.raises(TypeError, match=mentions("float(32|64)", op=op)):
        fn(f, i)


@pytest.mark.parametrize(
    "fn, op, result, dest",
    cases(
        (lambda t: t.add_(1.5), "add", "float", "int64"),
        (lambda t: t.__iadd__(devrt.ones(2)), "add", "float32", "int64"),
        (lambda t: t.mul_(devrt.ones(2, dtype=devrt.float64)), "mul", "float64", "int64"),
        (lambda t: t.__itruediv__(2), "div", "float", "int64"),
        (lambda t: t.sub_(0.5), "sub", "float", "int64"),
    ),
)
def test_in_place_result_type_does_not_fit(fn, op, result, dest):
    t = devrt.ones(2, dtype=devrt.int64)
    with pytest.raises(TypeError, match=mentions(result, dest, op=op)):
        fn(t)
    assert t.tolist() == [1, 1]  # untouched


def test_in_place_int_into_bool():
    t = devrt.ones(2, dtype=devrt.bool)
    with pytest.raises(TypeError, match=mentions("int", "bool", op="add")):
        t.add_(devrt.ones(2, dtype=devrt.int32))


def test_rand_needs_floating_dtype():
    with pytest.raises(TypeError, match=mentions("int64", op="rand")):
        devrt.rand(2, dtype=devrt.int64)


# --- conversions and creation ---------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [lambda t: t.item(), lambda t: float(t), lambda t: int(t)],
    ids=["item", "float", "int"],
)
def test_scalar_conversion_of_many_elements(fn):
    t = devrt.ones(2, 3)
    with pytest.raises(ValueError, match=mentions(r"(\b6\b|" + shape(2, 3) + ")")):
        fn(t)


def test_item_of_empty_tensor():
    with pytest.raises(ValueError, match=mentions(num(0))):
        devrt.zeros(0).item()


@pytest.mark.parametrize("n", [0, 2, 6])
def test_bool_of_many_elements(n):
    t = devrt.ones(n)
    with pytest.raises(ValueError, match=mentions(num(n), op="bool")):
        bool(t)
    if n:
        with pytest.raises(ValueError, match=mentions(op="bool")):
            if t > 0:  # the common way to hit it
                pass


@pytest.mark.parametrize("low, high", [(5, 5), (5, 2), (0, 0), (0, -1)])
def test_randint_high_not_above_low(low, high):
    with pytest.raises(ValueError, match=mentions(num(low), num(high), op="randint")):
        devrt.randint(low, high, (3,))


def test_randint_high_only_not_positive():
    with pytest.raises(ValueError, match=mentions(num(0), op="randint")):
        devrt.randint(0, (3,))


@pytest.mark.parametrize(
    "args", [(0, 5, 0), (0.0, 1.0, 0.0), (3, 1, 0)], ids=["int", "float", "descending"]
)
def test_arange_step_zero(args):
    with pytest.raises(ValueError, match=mentions("step", op="arange")):
        devrt.arange(*args)


def test_python_int_too_large():
    with pytest.raises((ValueError, OverflowError), match=mentions(str(1 << 70))):
        devrt.ones(2) + (1 << 70)


def test_t_of_3d_tensor():
    with pytest.raises(ValueError, match=mentions(shape(2, 3, 4), op="t")):
        devrt.ones(2, 3, 4).t()


def test_expand_to_incompatible_shape():
    with pytest.raises(ValueError, match=mentions(shape(2, 3), shape(4, 3), op="expand")):
        devrt.ones(2, 3).expand(4, 3)


def test_negative_slice_step():
    with pytest.raises(ValueError, match=mentions(num(-1))):
        devrt.ones(4)[::-1]
