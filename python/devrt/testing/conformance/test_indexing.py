"""Indexing on every device against NumPy: basic indexing gives views,
integer-array and boolean-mask indexing follow NumPy's rules (including
where the indexed dimensions land), assignment through all of them,
index_put_ with accumulate, and nonzero."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt.testing.conformance.support import (
    ALL_DTYPES,
    assert_close,
    check_meta,
    dt,
    laid_out,
    make,
    to_device,
    to_numpy,
)

LARGE = 300_007
SHAPE = (4, 5, 6)

# --- basic indexing: views -----------------------------------------------------------

BASIC_KEYS = [
    1,
    -1,
    slice(1, 3),
    slice(None, None, 2),
    (slice(1, None), slice(None, None, 3)),
    None,
    (Ellipsis, 1),
    (1, Ellipsis, None),
    (slice(None), None, 2),
    (Ellipsis, slice(None, None, 2), 1),
    (2, 3),
    (slice(-2, None),),
    (slice(10, None),),  # empty
    (slice(None), slice(1, 1)),  # empty
    (Ellipsis, -1),
    (None, Ellipsis, None),
    (slice(1, 4, 2), slice(None), slice(5, 0, 1)),  # empty, stop before start
    (slice(-100, 100),),
]


def _key_id(k):
    return repr(k).replace("slice", "s").replace("Ellipsis", "...")


@pytest.mark.parametrize("key", BASIC_KEYS, ids=_key_id)
def test_basic_indexing_is_a_view(device, need, rng, key):
    need("copy", dtype="float32")
    x = make(rng, SHAPE, "float32")
    t = to_device(x, device)
    v = t[key]
    expected = x[key]
    check_meta(v, "float32", expected.shape)
    assert v._is_view_of(t)
    assert v.device == t.device
    assert_close(v, expected)


def test_scalar_index_gives_zero_d_view(device, need, rng):
    need("copy", "fill", dtype="float32")
    x = make(rng, SHAPE, "float32")
    t = to_device(x, device)
    v = t[2, 3, 4]
    check_meta(v, "float32", ())
    assert v._is_view_of(t)
    assert_close(v, x[2, 3, 4])
    v.fill_(7.0)
    x[2, 3, 4] = 7.0
    assert_close(t, x)


def test_writes_through_views(device, need, rng):
    need("copy", "fill", dtype="float32")
    x = make(rng, SHAPE, "float32")
    t = to_device(x, device)
    t[1].fill_(0.5)
    t[:, ::2, 1].fill_(-1.0)
    t[..., 3:5][2].fill_(9.0)
    x[1] = 0.5
    x[:, ::2, 1] = -1.0
    x[..., 3:5][2] = 9.0
    assert_close(t, x)


def test_chained_and_transposed_views(device, need, rng):
    need("copy", dtype="float64")
    x = make(rng, SHAPE, "float64")
    t = to_device(x, device)
    assert_close(t[1][2][::2], x[1][2][::2])
    assert_close(t.T[1:3, None, ..., 0], x.T[1:3, None, ..., 0])
    assert_close(t[:, 1:4][:, ::2][..., 2], x[:, 1:4][:, ::2][..., 2])


def test_basic_index_errors(device):
    t = to_device(np.zeros(SHAPE, np.float32), device)
    with pytest.raises(IndexError):
        t[4]
    with pytest.raises(IndexError):
        t[-5]
    with pytest.raises(IndexError):
        t[0, 0, 0, 0]
    with pytest.raises(IndexError):
        t[..., ...]
    with pytest.raises((ValueError, IndexError)):
        t[::-1]  # devrt has no negative-stride views
    with pytest.raises((ValueError, IndexError)):
        t[::0]
    with pytest.raises((TypeError, IndexError)):
        t[1.5]


# --- integer-array indexing ----------------------------------------------------------


def _idx(kind, values, device):
    """An index given as a list, a NumPy array, or an int64/int32 tensor."""
    a = np.asarray(values)
    if kind == "list":
        return a.tolist()
    if kind == "numpy":
        return a
    return to_device(a.astype(kind), device)


class A(list):
    """An index array inside a key template (made a tensor, list or array)."""


ADV_KEYS = [
    ("rows", (A([0, 2, 3]),)),
    ("negative", (A([-1, 0, -4, 2]),)),
    ("repeated", (A([1, 1, 3, 1]),)),
    ("2d-index", (A([[0, 1], [3, 2]]),)),
    ("broadcast-pair", (A([[0], [3]]), A([1, 4, 2]))),
    ("adjacent-middle", (slice(None), A([0, 4, 2]), A([5, 0, -1]))),
    ("non-adjacent", (A([0, 3, 1]), slice(None), A([5, 0, 2]))),
    ("non-adjacent-broadcast", (A([[0], [3]]), slice(1, 4), A([5, 0]))),
    ("last-dim", (Ellipsis, A([5, 0, 5]))),
    ("middle-only", (slice(None), A([[4, 0]]))),
    ("int-then-array", (1, A([0, 4]))),
    ("slice-and-arrays", (slice(None, None, 2), A([1, 3]), A([0, 5]))),
    ("none-and-array", (None, A([2, 0]))),
    ("all-three", (A([0, 3]), A([4, 1]), A([5, 2]))),
]


def build_keys(template, kind, device):
    """(the key for devrt with index arrays of `kind`, the key for NumPy)."""
    key = tuple(_idx(kind, k, device) if isinstance(k, A) else k for k in template)
    np_key = tuple(np.array(k) if isinstance(k, A) else k for k in template)
    return key, np_key


@pytest.mark.parametrize("kind", ["int64", "int32", "list", "numpy"])
@pytest.mark.parametrize("name,template", ADV_KEYS, ids=[k[0] for k in ADV_KEYS])
def test_integer_array_indexing(device, need, rng, name, template, kind):
    need("index", dtype="float32")
    need("copy", dtype="int32" if kind == "int32" else "int64")
    x = make(rng, SHAPE, "float32")
    t = to_device(x, device)
    key, np_key = build_keys(template, kind, device)
    r = t[key]
    expected = x[np_key]
    check_meta(r, "float32", expected.shape)
    assert not r._is_view_of(t)  # advanced indexing copies
    assert_close(r, expected)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_integer_indexing_dtypes(device, need, rng, dtype):
    need("index", dtype=dtype)
    x = make(rng, (6, 3), dtype)
    t = to_device(x, device, dtype)
    if dtype == "bfloat16":
        x = to_numpy(t)
    idx = to_device(np.array([5, 0, 2, 2]), device)
    r = t[idx]
    check_meta(r, dtype, (4, 3))
    assert_close(r, x[[5, 0, 2, 2]], dtype)


def test_indexing_noncontiguous_source(device, need, rng):
    need("index", dtype="float32")
    x = make(rng, (6, 7), "float32")
    idx = np.array([3, 0, -1])
    for layout in ("transposed", "strided"):
        t = laid_out(x, device, layout)
        assert_close(t[to_device(idx, device)], x[idx])
        assert_close(t[:, to_device(idx, device)], x[:, idx])
    # a non-contiguous index tensor
    it = to_device(np.array([[0, 5], [2, 1], [4, 4]]), device).T
    assert_close(laid_out(x, device, "contiguous")[it], x[np.array([[0, 5], [2, 1], [4, 4]]).T])


def test_index_out_of_range(device, need):
    need("index", dtype="float32")
    t = to_device(np.zeros(SHAPE, np.float32), device)
    with pytest.raises(IndexError):
        t[to_device(np.array([0, 4]), device)]
    with pytest.raises(IndexError):
        t[:, [-6]]
    with pytest.raises(IndexError):
        t[[0, 1], :, [0, 1, 2]]  # shapes (2,) and (3,) do not broadcast
    with pytest.raises(IndexError):
        t[to_device(np.array([0.0, 1.0]), device)]  # float indices


def test_empty_index_list(device, need):
    # NumPy and PyTorch both accept t[[]]: an empty result
    need("index", dtype="float32")
    x = np.zeros(SHAPE, np.float32)
    t = to_device(x, device)
    r = t[[]]
    check_meta(r, "float32", (0, 5, 6))
    r2 = t[to_device(np.zeros(0, np.int64), device)]
    check_meta(r2, "float32", (0, 5, 6))


def test_zero_d_integer_tensor_index(device, need, rng):
    need("copy", dtype="float32")
    x = make(rng, SHAPE, "float32")
    t = to_device(x, device)
    i = to_device(np.array(2), device)
    r = t[i]
    check_meta(r, "float32", (5, 6))
    assert_close(r, x[2])


def test_large_gather(device, need, rng):
    need("index", dtype="float32")
    x = make(rng, (LARGE,), "float32")
    idx = rng.integers(-LARGE, LARGE, 200_000)
    r = to_device(x, device)[to_device(idx, device)]
    check_meta(r, "float32", (200_000,))
    assert_close(r, x[idx])
    x2 = make(rng, (1000, 300), "float32")
    i2 = rng.integers(0, 1000, 700)
    assert_close(to_device(x2, device)[to_device(i2, device)], x2[i2])
    assert_close(to_device(x2, device)[:, to_device(i2 % 300, device)], x2[:, i2 % 300])


# --- boolean masks -------------------------------------------------------------------


@pytest.mark.parametrize(
    "where",
    ["full", "first", "first-two", "middle", "last", "with-slice", "list", "numpy", "all-false"],
)
def test_boolean_mask(device, need, rng, where):
    need("index", "nonzero", dtype="float32")
    need("nonzero", "copy", dtype="bool")
    need("sum", dtype="int64")
    x = make(rng, SHAPE, "float32")
    t = to_device(x, device)
    if where == "full":
        m = x > 0
        key, np_key = to_device(m, device), m
    elif where == "first":
        m = np.array([True, False, True, True])
        key, np_key = to_device(m, device), m
    elif where == "first-two":
        m = rng.random((4, 5)) < 0.5
        key, np_key = to_device(m, device), m
    elif where == "middle":
        m = np.array([False, True, True, False, True])
        key, np_key = (slice(None), to_device(m, device)), (slice(None), m)
    elif where == "last":
        m = rng.random(6) < 0.5
        key, np_key = (Ellipsis, to_device(m, device)), (Ellipsis, m)
    elif where == "with-slice":
        m = np.array([True, False, True, True])
        key, np_key = (to_device(m, device), slice(1, 4)), (m, slice(1, 4))
    elif where == "list":
        m = [True, False, False, True]
        key, np_key = m, np.array(m)
    elif where == "numpy":
        m = np.array([False, True, False, True])
        key, np_key = m, m
    else:
        m = np.zeros(SHAPE, bool)
        key, np_key = to_device(m, device), m
    r = t[key]
    expected = x[np_key]
    check_meta(r, "float32", expected.shape)
    assert_close(r, expected)


def test_boolean_mask_large(device, need, rng):
    need("index", dtype="float64")
    need("nonzero", "copy", dtype="bool")
    need("sum", dtype="int64")
    x = make(rng, (LARGE,), "float64")
    m = x > 0.5
    r = to_device(x, device)[to_device(m, device)]
    check_meta(r, "float64", (int(m.sum()),))
    assert_close(r, x[m])


def test_boolean_mask_shape_mismatch(device, need):
    t = to_device(np.zeros(SHAPE, np.float32), device)
    with pytest.raises(IndexError):
        t[to_device(np.ones(5, bool), device)]
    with pytest.raises(IndexError):
        t[to_device(np.ones((4, 6), bool), device)]


# --- assignment ---------------------------------------------------------------------


def test_setitem_mask_scalar(device, need, rng):
    need("index_put", "nonzero", dtype="float32")
    need("nonzero", "copy", dtype="bool")
    need("sum", dtype="int64")
    x = make(rng, SHAPE, "float32")
    t = to_device(x, device)
    m = x < 0
    t[to_device(m, device)] = 0
    x[m] = 0
    check_meta(t, "float32", SHAPE)
    assert_close(t, x)


def test_setitem_mask_tensor_values(device, need, rng):
    need("index_put", dtype="float32")
    need("nonzero", "copy", dtype="bool")
    need("sum", dtype="int64")
    x = make(rng, (6, 7), "float32")
    m = x > 0
    vals = make(rng, (int(m.sum()),), "float32")
    t = to_device(x, device)
    t[to_device(m, device)] = to_device(vals, device)
    x[m] = vals
    assert_close(t, x)
    # a row mask with broadcast row values
    rm = np.array([True, False, True, False, False, True])
    row = make(rng, (7,), "float32")
    t[to_device(rm, device)] = to_device(row, device)
    x[rm] = row
    assert_close(t, x)


@pytest.mark.parametrize("kind", ["int64", "list"])
def test_setitem_index_tensor(device, need, rng, kind):
    need("index_put", dtype="float32")
    need("copy", dtype="int64")
    x = make(rng, SHAPE, "float32")
    t = to_device(x, device)
    idx = [3, 0]
    v = make(rng, (2, 5, 6), "float32")
    t[_idx(kind, idx, device)] = to_device(v, device)
    x[idx] = v
    assert_close(t, x)
    row = make(rng, (6,), "float32")  # broadcast over the indexed rows
    t[_idx(kind, [1, -1], device)] = to_device(row, device)
    x[[1, -1]] = row
    assert_close(t, x)
    t[_idx(kind, [2], device)] = 4.5  # a number
    x[[2]] = 4.5
    assert_close(t, x)


def test_setitem_basic(device, need, rng):
    need("copy", "fill", dtype="float32")
    x = make(rng, SHAPE, "float32")
    t = to_device(x, device)
    t[:, 1] = 5
    x[:, 1] = 5
    assert_close(t, x)
    v = make(rng, (6,), "float32")
    t[1:3] = to_device(v, device)  # broadcast
    x[1:3] = v
    assert_close(t, x)
    t[..., ::2] = -1.5
    x[..., ::2] = -1.5
    assert_close(t, x)
    t[0, 0, 0] = 8
    x[0, 0, 0] = 8
    assert_close(t, x)
    t[None, 3] = to_device(np.ones((5, 6), np.float32), device)
    x[None, 3] = 1
    assert_close(t, x)
    check_meta(t, "float32", SHAPE)


def test_setitem_casts_to_destination(device, need):
    need("copy", dtype="float64")
    need("copy", "fill", "index_put", dtype="int32")
    t = to_device(np.zeros((3, 4), np.int32), device)
    t[1] = 2.7  # truncates toward zero, as NumPy and PyTorch
    t[2] = to_device(np.array([-1.5, 3.9, 0.2, 7.0]), device)
    t[[0], [3]] = 9.9
    expected = np.zeros((3, 4), np.int32)
    expected[1] = 2
    expected[2] = [-1, 3, 0, 7]
    expected[0, 3] = 9
    check_meta(t, "int32", (3, 4))
    assert_close(t, expected)


@pytest.mark.parametrize("name,template", ADV_KEYS, ids=[k[0] for k in ADV_KEYS])
def test_setitem_advanced(device, need, rng, name, template):
    need("index_put", dtype="float64")
    x = make(rng, SHAPE, "float64")
    t = to_device(x, device)
    key, np_key = build_keys(template, "int64", device)
    shape = x[np_key].shape
    if name == "repeated":
        v = np.float64(3.25)  # the same value for repeated positions: well defined
        t[key] = 3.25
    else:
        v = make(rng, shape, "float64")
        t[key] = to_device(v, device)
    x[np_key] = v
    assert_close(t, x)


def test_setitem_on_noncontiguous_tensor(device, need, rng):
    need("index_put", "copy", dtype="float32")
    need("nonzero", "copy", dtype="bool")
    need("sum", dtype="int64")
    x = make(rng, (5, 6), "float32")
    t = to_device(x, device)
    tt = t.T
    m = x.T > 0
    tt[to_device(m, device)] = 0  # writes into the base tensor
    x.T[m] = 0
    assert_close(t, x)
    s = t[:, ::2]
    s[to_device(np.array([0, 4]), device)] = 7.0
    x[:, ::2][[0, 4]] = 7.0
    assert_close(t, x)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
def test_index_put_accumulate(device, need, rng, dtype):
    need("index_put", dtype=dtype)
    x = make(rng, (5, 3), dtype)
    idx = np.array([0, 2, 0, 4, 2, 0])  # duplicates add up
    v = make(rng, (6, 3), dtype)
    t = to_device(x, device)
    r = t.index_put_((to_device(idx, device),), to_device(v, device), accumulate=True)
    assert r is t
    expected = x.copy()
    np.add.at(expected, idx, v)
    check_meta(t, dtype, (5, 3))
    assert_close(t, expected)
    # two index tensors, broadcast values
    i0, i1 = np.array([1, 1, 3, 1]), np.array([2, 2, 0, -1])
    t.index_put_(
        (to_device(i0, device), to_device(i1, device)), to_device(np.array(1, dtype), device), True
    )
    np.add.at(expected, (i0, i1), np.array(1, dtype))
    assert_close(t, expected)


def test_index_put_without_accumulate(device, need, rng):
    need("index_put", dtype="float32")
    x = make(rng, (5, 3), "float32")
    t = to_device(x, device)
    idx = np.array([4, 1])
    v = make(rng, (2, 3), "float32")
    t.index_put_((to_device(idx, device),), to_device(v, device))
    x[idx] = v
    assert_close(t, x)


def test_index_put_accumulate_large_many_duplicates(device, need, rng):
    # many threads adding into a few slots: no update may be lost
    need("index_put", dtype="int64")
    need("index_put", dtype="float64")
    idx = rng.integers(0, 10, LARGE)
    t = to_device(np.zeros(10, np.int64), device)
    t.index_put_(
        (to_device(idx, device),), to_device(np.ones(LARGE, np.int64), device), accumulate=True
    )
    assert_close(t, np.bincount(idx, minlength=10))
    idx2 = rng.integers(0, 7, 100_000)
    t2 = to_device(np.zeros((7, 3)), device)
    t2.index_put_(
        (to_device(idx2, device),), to_device(np.ones((100_000, 3)), device), accumulate=True
    )
    assert_close(t2, np.repeat(np.bincount(idx2, minlength=7)[:, None], 3, 1).astype(np.float64))


def test_index_put_large_scatter(device, need, rng):
    need("index_put", dtype="float32")
    x = np.zeros(LARGE, np.float32)
    idx = rng.permutation(LARGE)[:150_000]
    v = make(rng, (150_000,), "float32")
    t = to_device(x, device)
    t[to_device(idx, device)] = to_device(v, device)
    x[idx] = v
    assert_close(t, x)


def test_index_put_shape_errors(device, need):
    need("index_put", dtype="float32")
    t = to_device(np.zeros((5, 3), np.float32), device)
    with pytest.raises(ValueError):
        t[to_device(np.array([0, 1]), device)] = to_device(np.ones((3, 3), np.float32), device)
    with pytest.raises(IndexError):
        t[to_device(np.array([5]), device)] = 1.0


# --- nonzero -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_nonzero_dtypes(device, need, rng, dtype):
    need("nonzero", dtype=dtype)
    x = make(rng, (4, 5), dtype, -2, 3)
    x = np.where(rng.random((4, 5)) < 0.4, 0, x).astype(x.dtype)
    t = to_device(x, device, dtype)
    for r in (devrt.nonzero(t), t.nonzero()):
        expected = np.argwhere(x)
        check_meta(r, "int64", expected.shape)
        assert_close(r, expected)


@pytest.mark.parametrize("shape", [(0,), (7,), (2, 3, 4), (), (1, 1), (3, 0, 2)], ids=str)
def test_nonzero_shapes(device, need, rng, shape):
    need("nonzero", dtype="float32")
    x = np.where(rng.random(shape) < 0.5, 0, 1.5).astype(np.float32)
    r = devrt.nonzero(to_device(x, device))
    expected = np.argwhere(x)
    check_meta(r, "int64", expected.shape)
    assert_close(r, expected)


def test_nonzero_special_values(device, need):
    # -0.0 is zero; NaN is non-zero
    need("nonzero", dtype="float64")
    x = np.array([0.0, -0.0, np.nan, 1e-300, -np.inf])
    assert_close(devrt.nonzero(to_device(x, device)), np.argwhere(x))


def test_nonzero_noncontiguous_and_large(device, need, rng):
    need("nonzero", dtype="int32")
    x = rng.integers(0, 3, (30, 40)).astype(np.int32)
    for layout in ("transposed", "strided"):
        assert_close(devrt.nonzero(laid_out(x, device, layout)), np.argwhere(x))
    big = (rng.random(LARGE) < 0.3).astype(np.int32)
    assert_close(devrt.nonzero(to_device(big, device)), np.argwhere(big))
    big2 = (rng.random((700, 500)) < 0.01).astype(np.int32)
    assert_close(devrt.nonzero(to_device(big2, device)), np.argwhere(big2))


def test_dtype_helper_sanity():
    assert dt("bfloat16") is devrt.bfloat16
