"""Zero-copy exchange with NumPy and DLPack (NumPy and, when installed,
PyTorch as the other side), object lifetimes across the boundary, Python
conversions, and a PyTorch-like repr."""

from __future__ import annotations

import gc
import sys
import weakref

import numpy as np
import pytest

import devrt


def addr(arr: np.ndarray) -> int:
    return arr.__array_interface__["data"][0]


def allocated() -> int:
    gc.collect()
    return devrt.memory_stats()["allocated"]


# --- from_numpy -------------------------------------------------------------------


NUMPY_DTYPES = [
    (np.bool_, devrt.bool),
    (np.uint8, devrt.uint8),
    (np.int32, devrt.int32),
    (np.int64, devrt.int64),
    (np.float16, devrt.float16),
    (np.float32, devrt.float32),
    (np.float64, devrt.float64),
]


@pytest.mark.parametrize("np_dtype, dtype", NUMPY_DTYPES)
def test_from_numpy_is_zero_copy_for_every_dtype(np_dtype, dtype):
    arr = np.arange(6).reshape(2, 3).astype(np_dtype)
    t = devrt.from_numpy(arr)
    assert t.dtype is dtype
    assert t.shape == (2, 3)
    assert t.data_ptr() == addr(arr)
    np.testing.assert_array_equal(t.numpy(), arr)


def test_from_numpy_mutations_are_shared_both_ways():
    arr = np.zeros((3, 4), dtype=np.float32)
    t = devrt.from_numpy(arr)
    arr[1, 2] = 42.0
    assert t[1, 2].item() == 42.0
    t[2, 3] = -5.0
    assert arr[2, 3] == -5.0
    t.add_(1.0)
    assert arr[0, 0] == 1.0 and arr[1, 2] == 43.0
    arr *= 2
    assert t.sum().item() == pytest.approx(float(arr.sum()))


def test_from_numpy_of_strided_array_keeps_its_strides():
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    arr = base[::2, 1::2].T
    t = devrt.from_numpy(arr)
    assert t.shape == arr.shape
    assert t.stride() == tuple(s // 8 for s in arr.strides)
    assert t.data_ptr() == addr(arr)
    assert t.tolist() == arr.tolist()
    t.fill_(0.0)
    assert base[::2, 1::2].sum() == 0.0
    assert base.sum() > 0.0


def test_from_numpy_keeps_the_array_alive():
    arr = np.arange(5, dtype=np.float64)
    ref = weakref.ref(arr) if hasattr(arr, "__weakref__") else None
    before = sys.getrefcount(arr)
    t = devrt.from_numpy(arr)
    assert sys.getrefcount(arr) > before
    expected = arr.tolist()
    del arr
    gc.collect()
    if ref is not None:
        assert ref() is not None
    assert t.tolist() == expected
    assert (t * 2).tolist() == [2 * v for v in expected]


def test_from_numpy_releases_the_array_when_the_tensor_dies():
    arr = np.arange(5, dtype=np.float64)
    before = sys.getrefcount(arr)
    t = devrt.from_numpy(arr)
    v = t[1:]  # a view holds the storage too
    del t
    gc.collect()
    assert sys.getrefcount(arr) > before
    del v
    gc.collect()
    assert sys.getrefcount(arr) == before


def test_from_numpy_does_not_use_the_allocator():
    gc.collect()
    s0 = devrt.memory_stats()
    arr = np.ones(100_000, dtype=np.float32)
    t = devrt.from_numpy(arr)
    s1 = devrt.memory_stats()
    assert s1["allocations"] == s0["allocations"]
    assert s1["allocated"] == s0["allocated"]
    del t


def test_from_numpy_of_empty_and_0d_arrays():
    t = devrt.from_numpy(np.zeros((3, 0), dtype=np.float32))
    assert t.shape == (3, 0)
    z = devrt.from_numpy(np.array(2.5))
    assert z.shape == () and z.item() == 2.5


# --- numpy() / __array__ ------------------------------------------------------------


def test_numpy_is_zero_copy_for_contiguous_tensor():
    t = devrt.arange(12, dtype=devrt.float32).reshape(3, 4)
    n = t.numpy()
    assert addr(n) == t.data_ptr()
    assert n.flags.c_contiguous
    n[0, 1] = 99.0
    assert t[0, 1].item() == 99.0
    t[2, 2] = -1.0
    assert n[2, 2] == -1.0


@pytest.mark.parametrize(
    "make",
    [
        lambda t: t.t(),
        lambda t: t[:, 1::2],
        lambda t: t[1:],
        lambda t: t[:1].expand(4, 4),
    ],
    ids=["transposed", "stepped", "offset", "expanded"],
)
def test_numpy_is_zero_copy_for_strided_views(make):
    t = devrt.arange(16, dtype=devrt.float64).reshape(4, 4)
    ref = np.arange(16, dtype=np.float64).reshape(4, 4)
    v = make(t)
    n = v.numpy()
    assert addr(n) == v.data_ptr()
    assert n.strides == tuple(s * 8 for s in v.stride())
    assert np.shares_memory(n, t.numpy())
    np.testing.assert_array_equal(n, make(devrt.from_numpy(ref)).numpy())


def test_numpy_keeps_the_tensor_storage_alive():
    t = devrt.arange(1000, dtype=devrt.float32)
    n = t.numpy()
    a_with = allocated()
    del t
    gc.collect()
    assert allocated() == a_with  # the storage is still referenced by n
    assert n[999] == 999.0
    del n
    assert allocated() < a_with


def test_asarray_is_zero_copy():
    t = devrt.ones(3, 4)
    a = np.asarray(t)
    assert addr(a) == t.data_ptr()
    assert a.dtype == np.float32
    a[0, 0] = 7.0
    assert t[0, 0].item() == 7.0


def test_array_with_dtype_converts():
    t = devrt.tensor([1.5, 2.5])
    a = np.asarray(t, dtype=np.float64)
    assert a.dtype == np.float64
    assert a.tolist() == [1.5, 2.5]
    b = t.__array__(np.int64)
    assert b.dtype == np.int64 and b.tolist() == [1, 2]
    a[0] = 0.0
    assert t[0].item() == 1.5  # a converted copy


def test_asarray_with_the_same_dtype_is_zero_copy():
    t = devrt.ones(3, 4)
    a = np.asarray(t, dtype=np.float32)
    assert addr(a) == t.data_ptr()
    i = devrt.ones(3, dtype=devrt.int64)
    assert addr(np.asarray(i, dtype=np.int64)) == i.data_ptr()


def test_np_array_copies():
    t = devrt.ones(3)
    a = np.array(t)
    assert addr(a) != t.data_ptr()
    a[0] = 5.0
    assert t[0].item() == 1.0


def test_numpy_functions_accept_tensors():
    t = devrt.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert np.sum(np.asarray(t)) == 10.0
    np.testing.assert_array_equal(np.asarray(t.T), [[1.0, 3.0], [2.0, 4.0]])


# --- DLPack with NumPy ------------------------------------------------------------------


def test_np_from_dlpack_is_zero_copy():
    t = devrt.arange(12, dtype=devrt.float32).reshape(3, 4)
    x = np.from_dlpack(t)
    assert addr(x) == t.data_ptr()
    assert x.shape == (3, 4) and x.dtype == np.float32
    np.testing.assert_array_equal(x, np.arange(12, dtype=np.float32).reshape(3, 4))


@pytest.mark.parametrize(
    "make",
    [lambda t: t.t(), lambda t: t[1:, ::2], lambda t: t[2]],
    ids=["transposed", "sliced", "row"],
)
def test_np_from_dlpack_of_strided_view(make):
    t = devrt.arange(12, dtype=devrt.float64).reshape(3, 4)
    v = make(t)
    x = np.from_dlpack(v)
    assert addr(x) == v.data_ptr()
    assert x.strides == tuple(s * 8 for s in v.stride())
    assert x.tolist() == v.tolist()


@pytest.mark.parametrize("np_dtype, dtype", NUMPY_DTYPES)
def test_dlpack_dtypes_round_trip_with_numpy(np_dtype, dtype):
    arr = np.arange(4).astype(np_dtype)
    t = devrt.from_dlpack(arr)
    assert t.dtype is dtype
    back = np.from_dlpack(t)
    assert back.dtype == np.dtype(np_dtype)
    assert addr(back) == addr(arr)


def test_devrt_from_dlpack_of_numpy_is_zero_copy():
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = devrt.from_dlpack(arr)
    assert t.data_ptr() == addr(arr)
    arr[0, 0] = 100.0
    assert t[0, 0].item() == 100.0
    t[1, 1] = -3.0
    assert arr[1, 1] == -3.0


@pytest.mark.parametrize(
    "make",
    [lambda a: a.T, lambda a: a[:, 1::2], lambda a: a[1:, 2:], lambda a: a.T[::2]],
    ids=["transposed", "stepped", "offset", "transposed-stepped"],
)
def test_devrt_from_dlpack_of_strided_numpy_views(make):
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    arr = make(base)
    t = devrt.from_dlpack(arr)
    assert t.data_ptr() == addr(arr)
    assert t.stride() == tuple(s // 8 for s in arr.strides)
    assert t.tolist() == arr.tolist()
    t.fill_(-1.0)
    assert (make(base) == -1.0).all()


def test_devrt_from_dlpack_keeps_numpy_producer_alive_and_releases_it():
    arr = np.arange(6, dtype=np.float32)
    before = sys.getrefcount(arr)
    t = devrt.from_dlpack(arr)
    assert sys.getrefcount(arr) > before
    del arr
    gc.collect()
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    arr2 = np.arange(6, dtype=np.float32)
    before2 = sys.getrefcount(arr2)
    t2 = devrt.from_dlpack(arr2)
    del t2
    gc.collect()
    assert sys.getrefcount(arr2) == before2


def test_dlpack_device():
    assert devrt.ones(2).__dlpack_device__() == (1, 0)  # kDLCPU


@pytest.mark.parametrize("versioned", [False, True])
def test_capsule_is_consumed_once(versioned):
    t = devrt.arange(4, dtype=devrt.float32)
    cap = t.__dlpack__(max_version=(1, 0)) if versioned else t.__dlpack__()
    assert ("dltensor_versioned" in repr(cap)) == versioned
    first = devrt.from_dlpack(cap)
    assert first.data_ptr() == t.data_ptr()
    assert "used_" in repr(cap)
    with pytest.raises((ValueError, RuntimeError, BufferError), match=r"^\[from_dlpack\]"):
        devrt.from_dlpack(cap)
    assert first.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_unconsumed_capsule_releases_the_tensor():
    t = devrt.empty(100_000)
    a_with = allocated()
    cap = t.__dlpack__()
    del t
    assert allocated() == a_with  # the capsule holds it
    del cap
    assert allocated() < a_with


def test_np_from_dlpack_keeps_devrt_storage_alive():
    t = devrt.arange(100_000, dtype=devrt.float32)
    a_with = allocated()
    x = np.from_dlpack(t)
    del t
    assert allocated() == a_with
    assert x[-1] == 99_999.0
    del x
    assert allocated() < a_with


def test_dlpack_copy_true_does_not_share():
    t = devrt.arange(4, dtype=devrt.float32)
    x = np.from_dlpack(t, copy=True)
    x[0] = 50.0
    assert t[0].item() == 0.0


def test_from_dlpack_rejects_objects_without_dlpack():
    with pytest.raises(TypeError, match=r"^\[from_dlpack\]"):
        devrt.from_dlpack([1, 2, 3])


# --- DLPack with PyTorch ----------------------------------------------------------------


def test_torch_from_dlpack_is_zero_copy():
    torch = pytest.importorskip("torch")
    t = devrt.arange(12, dtype=devrt.float32).reshape(3, 4)
    x = torch.from_dlpack(t)
    assert x.data_ptr() == t.data_ptr()
    assert tuple(x.shape) == (3, 4) and x.dtype == torch.float32
    x[0, 0] = 77.0
    assert t[0, 0].item() == 77.0
    t[2, 3] = -2.0
    assert x[2, 3].item() == -2.0


@pytest.mark.parametrize(
    "make", [lambda t: t.t(), lambda t: t[1:, ::2]], ids=["transposed", "sliced"]
)
def test_torch_from_dlpack_of_strided_view(make):
    torch = pytest.importorskip("torch")
    t = devrt.arange(12, dtype=devrt.float32).reshape(3, 4)
    v = make(t)
    x = torch.from_dlpack(v)
    assert x.data_ptr() == v.data_ptr()
    assert tuple(x.stride()) == v.stride()
    assert x.tolist() == v.tolist()


def test_devrt_from_dlpack_of_torch_is_zero_copy():
    torch = pytest.importorskip("torch")
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    t = devrt.from_dlpack(x)
    assert t.data_ptr() == x.data_ptr()
    assert t.shape == (3, 4) and t.dtype is devrt.float32
    x[1, 1] = 55.0
    assert t[1, 1].item() == 55.0
    t.add_(1.0)
    assert x[0, 0].item() == 1.0


def test_devrt_from_dlpack_of_transposed_torch_view():
    torch = pytest.importorskip("torch")
    x = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    xt = x.t()
    t = devrt.from_dlpack(xt)
    assert t.data_ptr() == xt.data_ptr()
    assert t.stride() == tuple(xt.stride())
    assert t.tolist() == xt.tolist()
    t[0, 2] = -9.0
    assert x[2, 0].item() == -9.0


def test_devrt_from_dlpack_of_offset_torch_view():
    torch = pytest.importorskip("torch")
    x = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    xv = x[1:, 2::2]
    t = devrt.from_dlpack(xv)
    assert t.data_ptr() == xv.data_ptr()
    assert t.tolist() == xv.tolist()


@pytest.mark.parametrize(
    "name",
    ["bool", "uint8", "int32", "int64", "float16", "bfloat16", "float32", "float64"],
)
def test_dlpack_dtypes_round_trip_with_torch(name):
    torch = pytest.importorskip("torch")
    x = torch.zeros(3, dtype=getattr(torch, name))
    t = devrt.from_dlpack(x)
    assert t.dtype is getattr(devrt, name)
    y = torch.from_dlpack(t)
    assert y.dtype == getattr(torch, name)
    assert y.data_ptr() == x.data_ptr()


def test_torch_consumer_outlives_devrt_producer():
    torch = pytest.importorskip("torch")
    t = devrt.arange(100_000, dtype=devrt.float32)
    a_with = allocated()
    x = torch.from_dlpack(t)
    del t
    gc.collect()
    assert allocated() == a_with
    assert x[-1].item() == 99_999.0
    assert x.sum().item() == pytest.approx(99_999 * 100_000 / 2)
    del x
    assert allocated() < a_with


def test_devrt_consumer_outlives_torch_producer():
    torch = pytest.importorskip("torch")
    x = torch.arange(10, dtype=torch.float64)
    ref = weakref.ref(x)
    t = devrt.from_dlpack(x)
    del x
    gc.collect()
    assert t.sum().item() == 45.0
    assert (t * 2).tolist() == [2.0 * i for i in range(10)]
    del t
    gc.collect()
    assert ref() is None


def test_torch_capsule_is_consumed_once():
    torch = pytest.importorskip("torch")
    x = torch.arange(3, dtype=torch.float32)
    cap = torch.utils.dlpack.to_dlpack(x)
    t = devrt.from_dlpack(cap)
    assert t.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises((ValueError, RuntimeError, BufferError)):
        devrt.from_dlpack(cap)
    cap2 = devrt.arange(3, dtype=devrt.float32).__dlpack__()
    y = torch.utils.dlpack.from_dlpack(cap2)
    assert y.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises((ValueError, RuntimeError, BufferError)):
        torch.utils.dlpack.from_dlpack(cap2)


def test_dlpack_chain_devrt_torch_numpy_devrt():
    torch = pytest.importorskip("torch")
    t = devrt.arange(6, dtype=devrt.float32).reshape(2, 3)
    x = torch.from_dlpack(t)
    n = np.from_dlpack(x)
    back = devrt.from_dlpack(n)
    assert back.data_ptr() == t.data_ptr()
    del t, x, n
    gc.collect()
    assert back.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


# --- Python conversions -------------------------------------------------------------------


def test_tolist():
    assert devrt.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert devrt.tensor([1.5, -2.0]).tolist() == [1.5, -2.0]
    assert devrt.tensor([True, False]).tolist() == [True, False]
    assert devrt.tensor(3).tolist() == 3
    assert devrt.zeros(2, 0).tolist() == [[], []]
    assert devrt.tensor([[1, 2], [3, 4]]).t().tolist() == [[1, 3], [2, 4]]
    assert type(devrt.tensor([1]).tolist()[0]) is int
    assert type(devrt.tensor([1.0]).tolist()[0]) is float
    assert type(devrt.tensor([True]).tolist()[0]) is bool


@pytest.mark.parametrize(
    "value, dtype, expected_type",
    [
        (3, devrt.int64, int),
        (3, devrt.int32, int),
        (7, devrt.uint8, int),
        (2.5, devrt.float32, float),
        (2.5, devrt.float64, float),
        (2.5, devrt.float16, float),
        (True, devrt.bool, bool),
    ],
)
def test_item_returns_python_number(value, dtype, expected_type):
    t = devrt.tensor([value], dtype=dtype)
    v = t.item()
    assert type(v) is expected_type
    assert v == value


def test_item_of_float32_is_the_float32_value():
    v = devrt.tensor([0.1]).item()
    assert v == float(np.float32(0.1))
    assert devrt.tensor([0.1], dtype=devrt.float64).item() == 0.1


def test_float_int_bool_index():
    assert float(devrt.tensor([[2.5]])) == 2.5
    assert int(devrt.tensor([2.7])) == 2
    assert int(devrt.tensor(-2.7)) == -2
    assert bool(devrt.tensor([0.0])) is False
    assert bool(devrt.tensor(3)) is True
    assert [10, 20, 30][devrt.tensor(1)] == 20
    assert len(devrt.zeros(4, 2)) == 4


def test_iteration_yields_rows():
    t = devrt.tensor([[1, 2], [3, 4], [5, 6]])
    rows = list(t)
    assert [r.tolist() for r in rows] == [[1, 2], [3, 4], [5, 6]]
    assert all(r._is_view_of(t) for r in rows)


# --- repr -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: devrt.tensor([1.0, 2.0]), "tensor([1., 2.])"),
        (lambda: devrt.tensor([1, 2]), "tensor([1, 2])"),
        (lambda: devrt.tensor([1.5, 2.25]), "tensor([1.5000, 2.2500])"),
        (lambda: devrt.tensor([True, False]), "tensor([ True, False])"),
        (lambda: devrt.tensor(3.5), "tensor(3.5000)"),
        (lambda: devrt.tensor(3), "tensor(3)"),
        (lambda: devrt.tensor([1, 2], dtype=devrt.int32), "tensor([1, 2], dtype=devrt.int32)"),
        (
            lambda: devrt.tensor([1.0, 2.0], dtype=devrt.float64),
            "tensor([1., 2.], dtype=devrt.float64)",
        ),
        (lambda: devrt.tensor([1, 2], dtype=devrt.uint8), "tensor([1, 2], dtype=devrt.uint8)"),
        (lambda: devrt.zeros(2, 2), "tensor([[0., 0.],\n        [0., 0.]])"),
        (lambda: devrt.zeros(0), "tensor([])"),
        (lambda: devrt.tensor([1.0, -2.0]), "tensor([ 1., -2.])"),
        (lambda: devrt.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
        (lambda: devrt.tensor([123456.0, 1.0]), "tensor([1.2346e+05, 1.0000e+00])"),
        (lambda: devrt.tensor([123456.5, 1.0]), "tensor([1.2346e+05, 1.0000e+00])"),
        (lambda: devrt.tensor([1e10, 1.0]), "tensor([1.0000e+10, 1.0000e+00])"),
        (
            lambda: devrt.tensor([0.5, 27.0, 28.0, 29.0]),
            "tensor([ 0.5000, 27.0000, 28.0000, 29.0000])",
        ),
    ],
    ids=[
        "floats",
        "ints",
        "fractions",
        "bools",
        "0d-float",
        "0d-int",
        "int32",
        "float64",
        "uint8",
        "2d",
        "empty",
        "negative",
        "small-sci",
        "large-integral-sci",
        "large-sci",
        "huge-sci",
        "mixed-fixed",
    ],
)
def test_repr_like_pytorch(make, expected):
    assert repr(make()) == expected
    assert str(make()) == expected


def test_repr_of_strided_view_shows_its_values():
    t = devrt.tensor([[1, 2, 3], [4, 5, 6]]).t()
    assert repr(t) == "tensor([[1, 4],\n        [2, 5],\n        [3, 6]])"


def test_repr_summarizes_large_tensors():
    r = repr(devrt.arange(5000, dtype=devrt.int64))
    assert r.startswith("tensor([   0,    1,    2,")
    assert r.endswith("4997, 4998, 4999])")
    assert "..." in r and len(r) < 100
    f = repr(devrt.arange(5000, dtype=devrt.float32))
    assert "..." in f and len(f) < 200
    # every shown value is exact: the last three are 4997, 4998, 4999
    assert "4.9970e+03" in f and "4.9980e+03" in f and "4.9990e+03" in f


REPR_CASES = [
    ([1.0, 2.0], None),
    ([[1, 2], [3, 4]], None),
    ([-1.5, 100.25], None),
    ([float("nan"), 1.0, float("inf")], None),
    ([-0.0, 1.0], None),
    ([123456.0, 1.0], None),
    ([1e8, 1.0], None),
    ([12345.678], None),
    ([[0.5] * 3] * 2, None),
    (list(range(2000)), None),
    (np.arange(1200.0).reshape(40, 30).tolist(), None),
    ([0.1, 0.25], "float64"),
    ([1.0, 2.0], "float16"),
    ([True, False], None),
    ([1, 2], "int32"),
]


REPR_IDS = [
    "floats",
    "int-matrix",
    "fixed",
    "nan-inf",
    "negative-zero",
    "large-integral",
    "1e8",
    "many-digits",
    "halves",
    "2000-ints",
    "40x30-floats",
    "float64",
    "float16",
    "bools",
    "int32",
]


@pytest.mark.parametrize("data, dtype", REPR_CASES, ids=REPR_IDS)
def test_repr_matches_torch(data, dtype):
    torch = pytest.importorskip("torch")
    t = devrt.tensor(data, dtype=getattr(devrt, dtype) if dtype else None)
    x = torch.tensor(data, dtype=getattr(torch, dtype) if dtype else None)
    assert repr(t) == repr(x).replace("torch.", "devrt.")


def test_repr_emits_no_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dtype in (devrt.float16, devrt.bfloat16, devrt.float32, devrt.float64):
            assert repr(devrt.tensor([1.0, 2.5], dtype=dtype)).startswith("tensor([1.0000, 2.5000]")
            assert repr(devrt.tensor([1.0, 2.0], dtype=dtype)).startswith("tensor([1., 2.]")


def test_from_numpy_copies_read_only_arrays():
    """Writes through a tensor must not reach memory its owner made read-only."""
    raw = bytes(8)
    t = devrt.from_numpy(np.frombuffer(raw, dtype=np.float32))
    t.add_(1)
    assert raw == bytes(8)
    np.testing.assert_array_equal(t.numpy(), [1.0, 1.0])
