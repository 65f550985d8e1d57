"""matmul, mm and bmm on every device against NumPy's matmul: 2-D, batched
with broadcast batch dimensions, 1-D operands, transposed and strided
operands, integer matmul, K = 0 and a large product."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt.testing.conformance.support import (
    assert_close,
    check_meta,
    laid_out,
    make,
    need_types,
    promote,
    to_device,
)


def _operands(rng, sa, sb, dtype):
    if dtype in ("int32", "int64"):
        return make(rng, sa, dtype, -5, 6), make(rng, sb, dtype, -5, 6)
    return make(rng, sa, dtype), make(rng, sb, dtype)


def _ref(a, b, out):
    # float results in float64, then rounded: a reference more exact than devrt
    if out in ("float32", "float64"):
        return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(out)
    return np.matmul(a.astype(out), b.astype(out))


def _tol(out, k):
    if out == "float32":
        return {"rtol": 1e-5, "atol": 1e-5 * max(k, 1)}
    if out == "float64":
        return {"rtol": 1e-12, "atol": 1e-12 * max(k, 1)}
    return {}


SHAPES_2D = [((3, 4), (4, 5)), ((1, 7), (7, 1)), ((5, 1), (1, 6)), ((8, 16), (16, 3))]


@pytest.mark.parametrize("sa,sb", SHAPES_2D, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
def test_matmul_2d(device, need, rng, dtype, sa, sb):
    need("matmul", dtype=dtype)
    a, b = _operands(rng, sa, sb, dtype)
    ta, tb = to_device(a, device), to_device(b, device)
    expected = _ref(a, b, dtype)
    for r in (devrt.matmul(ta, tb), ta @ tb, ta.matmul(tb), devrt.mm(ta, tb), ta.mm(tb)):
        check_meta(r, dtype, expected.shape)
        assert r.device == ta.device
        assert_close(r, expected, dtype, **_tol(dtype, sa[1]))


BATCHED = [
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),  # 2-D operand broadcast over the batch
    ((3, 4), (6, 4, 2)),
    ((2, 1, 3, 4), (5, 4, 6)),  # batch dims broadcast: (2, 5)
    ((1, 3, 4), (7, 4, 2)),
    ((2, 1, 3, 4), (1, 3, 4, 2)),
    ((0, 3, 4), (4, 5)),  # empty batch
]


@pytest.mark.parametrize("sa,sb", BATCHED, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_matmul_batched(device, need, rng, dtype, sa, sb):
    need("matmul", dtype=dtype)
    a, b = _operands(rng, sa, sb, dtype)
    expected = _ref(a, b, dtype)
    r = devrt.matmul(to_device(a, device), to_device(b, device))
    check_meta(r, dtype, expected.shape)
    assert_close(r, expected, dtype, **_tol(dtype, sa[-1]))


VECTORS = [
    ((4,), (4,)),  # dot: 0-d
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
    ((1,), (1,)),
    ((0,), (0,)),  # empty dot: 0
]


@pytest.mark.parametrize("sa,sb", VECTORS, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_matmul_vectors(device, need, rng, dtype, sa, sb):
    need("matmul", dtype=dtype)
    a, b = _operands(rng, sa, sb, dtype)
    expected = np.asarray(_ref(a, b, dtype))
    ta, tb = to_device(a, device), to_device(b, device)
    for r in (devrt.matmul(ta, tb), ta @ tb):
        check_meta(r, dtype, expected.shape)
        assert_close(r, expected, dtype, **_tol(dtype, sa[-1]))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
@pytest.mark.parametrize(
    "la,lb",
    [
        ("transposed", "contiguous"),
        ("contiguous", "transposed"),
        ("transposed", "transposed"),
        ("strided", "contiguous"),
        ("contiguous", "strided"),
        ("strided", "transposed"),
    ],
)
def test_matmul_noncontiguous(device, need, rng, dtype, la, lb):
    need("matmul", dtype=dtype)
    a, b = _operands(rng, (6, 5), (5, 7), dtype)
    ta, tb = laid_out(a, device, la), laid_out(b, device, lb)
    r = devrt.matmul(ta, tb)
    check_meta(r, dtype, (6, 7))
    assert_close(r, _ref(a, b, dtype), dtype, **_tol(dtype, 5))


def test_matmul_strided_both_dims(device, need, rng):
    # Neither dimension has unit stride: the operand cannot go to BLAS as is.
    need("matmul", dtype="float64")
    base_a = make(rng, (12, 10), "float64")
    base_b = make(rng, (10, 14), "float64")
    ta = to_device(base_a, device)[::2, ::2]
    tb = to_device(base_b, device)[::2, ::2]
    r = devrt.matmul(ta, tb)
    assert_close(r, base_a[::2, ::2] @ base_b[::2, ::2])
    # a column slice (row stride > number of columns) and a row slice
    tc = to_device(base_a, device)[:, 2:7]
    td = to_device(base_b, device)[3:8, :]
    assert_close(devrt.matmul(tc, td), base_a[:, 2:7] @ base_b[3:8, :])


def test_matmul_batched_noncontiguous(device, need, rng):
    need("matmul", dtype="float32")
    a = make(rng, (4, 3, 5), "float32")
    b = make(rng, (5, 4, 2), "float32")  # permuted to (4, 5, 2)
    ta = to_device(a, device)
    tb = to_device(b, device).permute(1, 0, 2)
    r = devrt.matmul(ta, tb)
    expected = _ref(a, b.transpose(1, 0, 2), "float32")
    check_meta(r, "float32", (4, 3, 2))
    assert_close(r, expected, **_tol("float32", 5))
    # transposed matrices inside each batch, and an expanded batch
    tt = to_device(np.array(a.transpose(0, 2, 1)), device).transpose(1, 2)
    assert_close(devrt.matmul(tt, tb), expected, **_tol("float32", 5))
    m = make(rng, (1, 5, 2), "float32")
    te = to_device(m, device).expand(4, 5, 2)
    assert te.stride(0) == 0
    assert_close(
        devrt.matmul(ta, te),
        _ref(a, np.broadcast_to(m, (4, 5, 2)), "float32"),
        **_tol("float32", 5),
    )


@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_bmm(device, need, rng, dtype):
    need("matmul", dtype=dtype)
    a, b = _operands(rng, (3, 2, 4), (3, 4, 5), dtype)
    ta, tb = to_device(a, device), to_device(b, device)
    for r in (devrt.bmm(ta, tb), ta.bmm(tb)):
        check_meta(r, dtype, (3, 2, 5))
        assert_close(r, _ref(a, b, dtype), dtype, **_tol(dtype, 4))


def test_mm_bmm_reject_other_ranks(device):
    a3 = to_device(np.ones((2, 3, 4), np.float32), device)
    a2 = to_device(np.ones((3, 4), np.float32), device)
    b2 = to_device(np.ones((4, 5), np.float32), device)
    with pytest.raises(ValueError):
        devrt.mm(a3, b2)
    with pytest.raises(ValueError):
        devrt.bmm(a2, b2)
    with pytest.raises(ValueError):
        devrt.bmm(a3, to_device(np.ones((3, 4, 5), np.float32), device))  # batch 2 vs 3


def test_matmul_errors(device):
    a = to_device(np.ones((3, 4), np.float32), device)
    with pytest.raises(ValueError):
        devrt.matmul(a, to_device(np.ones((5, 2), np.float32), device))  # K differs
    with pytest.raises(ValueError):
        devrt.matmul(a, to_device(np.array(2.0, np.float32), device))  # 0-d
    with pytest.raises(ValueError):
        devrt.matmul(
            to_device(np.ones((2, 3, 4), np.float32), device),
            to_device(np.ones((3, 4, 5), np.float32), device),
        )  # batch 2 vs 3
    with pytest.raises(TypeError):
        b = to_device(np.ones((3, 3), bool), device)
        devrt.matmul(b, b)


@pytest.mark.parametrize(
    "da,db",
    [("int32", "int64"), ("int64", "float32"), ("float32", "float64"), ("int32", "float64")],
)
def test_matmul_promotes(device, need, rng, da, db):
    out = promote(da, db)
    need_types(need, "matmul", out, da, db)
    a = make(rng, (3, 4), da, -5, 6)
    b = make(rng, (4, 2), db, -5, 6)
    r = devrt.matmul(to_device(a, device), to_device(b, device))
    check_meta(r, out, (3, 2))
    assert_close(r, _ref(a, b, out), out, **_tol(out, 4))


def test_int_matmul_exact_large_values(device, need, rng):
    need("matmul", dtype="int64")
    a = rng.integers(-(2**20), 2**20, (7, 33)).astype(np.int64)
    b = rng.integers(-(2**20), 2**20, (33, 5)).astype(np.int64)
    r = devrt.matmul(to_device(a, device), to_device(b, device))
    np.testing.assert_array_equal(r.cpu().numpy(), a @ b)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
@pytest.mark.parametrize(
    "sa,sb", [((3, 0), (0, 4)), ((2, 3, 0), (0, 5)), ((0, 4), (4, 3)), ((3, 4), (4, 0))], ids=str
)
def test_matmul_empty(device, need, dtype, sa, sb):
    # K = 0 gives zeros (not garbage); M or N = 0 gives an empty result
    need("matmul", dtype=dtype)
    a, b = np.ones(sa, dtype), np.ones(sb, dtype)
    r = devrt.matmul(to_device(a, device), to_device(b, device))
    expected = np.matmul(a, b)
    check_meta(r, dtype, expected.shape)
    assert_close(r, expected)


def test_matmul_k0_into_reused_memory(device, need, rng):
    # the allocator may hand back dirty memory: the K = 0 result must still be zeros
    need("matmul", dtype="float32")
    for _ in range(3):
        junk = to_device(make(rng, (64, 64), "float32") + 7, device)
        del junk
        r = devrt.matmul(
            to_device(np.ones((64, 0), np.float32), device),
            to_device(np.ones((0, 64), np.float32), device),
        )
        assert_close(r, np.zeros((64, 64), np.float32))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matmul_large(device, need, rng, dtype):
    need("matmul", dtype=dtype)
    a = rng.standard_normal((512, 512)).astype(dtype)
    b = rng.standard_normal((512, 512)).astype(dtype)
    ta, tb = to_device(a, device), to_device(b, device)
    expected = _ref(a, b, dtype)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-10}
    assert_close(devrt.matmul(ta, tb), expected, **tol)
    assert_close(devrt.matmul(ta.T, tb), _ref(a.T, b, dtype), **tol)
    # a batched product whose total work is large
    c = rng.standard_normal((8, 128, 96)).astype(dtype)
    d = rng.standard_normal((96, 200)).astype(dtype)
    assert_close(devrt.matmul(to_device(c, device), to_device(d, device)), _ref(c, d, dtype), **tol)


@pytest.mark.parametrize("layout_a", ["contiguous", "transposed", "strided"])
@pytest.mark.parametrize("layout_b", ["contiguous", "transposed", "strided"])
@pytest.mark.parametrize(
    "m,k,n", [(300, 70, 90), (90, 70, 300), (37, 513, 131), (64, 1000, 100), (33, 2001, 17)]
)
def test_matmul_split_into_bands(device, need, rng, layout_a, layout_b, m, k, n):
    # Products large enough to be cut into row or column bands across
    # threads, or into slices of a long K whose partial products are summed,
    # with odd extents so that the last piece is short, and operands BLAS
    # can read in place or that must be gathered first.
    need("matmul", dtype="float32")
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    r = devrt.matmul(laid_out(a, device, layout_a), laid_out(b, device, layout_b))
    check_meta(r, "float32", (m, n))
    assert_close(r, _ref(a, b, "float32"), rtol=1e-4, atol=1e-4)
    # one batch element fewer than threads: bands within each product
    c = rng.standard_normal((1, m, k)).astype(np.float32)
    assert_close(
        devrt.matmul(to_device(c, device), to_device(b, device)),
        _ref(c, b, "float32"),
        rtol=1e-4,
        atol=1e-4,
    )


def test_int_matmul_large(device, need, rng):
    need("matmul", dtype="int32")
    a = rng.integers(-3, 4, (300, 200)).astype(np.int32)
    b = rng.integers(-3, 4, (200, 150)).astype(np.int32)
    r = devrt.matmul(laid_out(a, device, "transposed"), to_device(b, device))
    check_meta(r, "int32", (300, 150))
    np.testing.assert_array_equal(r.cpu().numpy(), a @ b)


def test_matmul_result_is_fresh(device, need, rng):
    # the result does not alias an operand
    need("matmul", dtype="float32")
    a = make(rng, (4, 4), "float32")
    ta = to_device(a, device)
    r = ta @ ta
    assert not r._is_view_of(ta)
    assert_close(r, _ref(a, a, "float32"), **_tol("float32", 4))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_matmul_expanded_matrix_dims(device, need, rng, dtype):
    # stride-0 rows or columns inside the matrix (a broadcast vector)
    need("matmul", dtype=dtype)
    row = make(rng, (1, 5), dtype, -5, 6)
    col = make(rng, (6, 1), dtype, -5, 6)
    b = make(rng, (5, 3), dtype, -5, 6)
    ta = to_device(row, device).expand(6, 5)  # strides (0, 1)
    assert_close(
        devrt.matmul(ta, to_device(b, device)),
        _ref(np.broadcast_to(row, (6, 5)), b, dtype),
        dtype,
        **_tol(dtype, 5),
    )
    tb = to_device(col, device).expand(6, 4)  # strides (1, 0)
    a = make(rng, (2, 6), dtype, -5, 6)
    assert_close(
        devrt.matmul(to_device(a, device), tb),
        _ref(a, np.broadcast_to(col, (6, 4)), dtype),
        dtype,
        **_tol(dtype, 6),
    )
    assert_close(
        devrt.matmul(tb.T, ta),
        _ref(np.broadcast_to(col, (6, 4)).T, np.broadcast_to(row, (6, 5)), dtype),
        dtype,
        **_tol(dtype, 6),
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matmul_size_one_slices(device, need, rng, dtype):
    # (M, 1) and (1, K) slices of a larger matrix: odd strides on size-1 dims
    need("matmul", dtype=dtype)
    x = make(rng, (6, 8), dtype)
    y = make(rng, (8, 6), dtype)
    tx, ty = to_device(x, device), to_device(y, device)
    assert_close(devrt.matmul(tx[:, 2:3], ty[4:5, :]), _ref(x[:, 2:3], y[4:5, :], dtype), dtype)
    assert_close(
        devrt.matmul(tx[1:2, :], ty[:, 3:4]),
        _ref(x[1:2, :], y[:, 3:4], dtype),
        dtype,
        **_tol(dtype, 8),
    )
    assert_close(
        devrt.matmul(tx[:, 1:4], ty[1:4, ::2]),
        _ref(x[:, 1:4], y[1:4, ::2], dtype),
        dtype,
        **_tol(dtype, 3),
    )
    assert_close(
        devrt.matmul(tx.T[:, 1:4], tx[1:4, :]),
        _ref(x.T[:, 1:4], x[1:4, :], dtype),
        dtype,
        **_tol(dtype, 3),
    )
