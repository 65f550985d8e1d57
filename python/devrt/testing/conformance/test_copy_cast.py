"""Casts between every pair of the eight dtypes (against NumPy's astype),
contiguous(), clone(), copy_ with broadcasting and casting, device moves and
item(), on every device."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt.testing.conformance.support import (
    ALL_DTYPES,
    assert_close,
    category,
    check_meta,
    dt,
    is_float,
    laid_out,
    make,
    to_device,
    to_numpy,
)

LARGE = 300_007

# Source values per dtype. Float sources hold NaN/inf and fractions; values
# that some target cannot hold are filtered per target in _cast_case.
_SOURCE = {
    "bool": np.array([True, False, True, True, False]),
    "uint8": np.array([0, 1, 7, 127, 128, 200, 255], np.uint8),
    "int32": np.array([0, 1, -1, 7, -128, 255, 256, -300, 65504, 2**31 - 1, -(2**31)], np.int32),
    "int64": np.array(
        [0, 1, -1, 255, 256, -129, 2**31, -(2**31) - 1, 2**53 + 1, -(2**62)], np.int64
    ),
    "float16": np.array(
        [0.0, -0.0, 0.5, -1.5, 2.75, 255.0, -128.0, 1000.0, 65504.0, np.inf, -np.inf, np.nan],
        np.float16,
    ),
    "bfloat16": np.array(
        [0.0, 0.5, -1.5, 2.75, 255.0, -128.0, 1024.0, 3.0e38, np.inf, -np.inf, np.nan], np.float32
    ),
    "float32": np.array(
        [
            0.0,
            -0.0,
            0.3,
            -0.7,
            1.5,
            -2.5,
            254.9,
            -128.9,
            1e5,
            3.4e38,
            1e-30,
            np.inf,
            -np.inf,
            np.nan,
        ],
        np.float32,
    ),
    "float64": np.array(
        [
            0.0,
            -0.0,
            0.3,
            -0.7,
            1.5,
            -2.5,
            254.9,
            -128.9,
            1e5,
            1e300,
            1e-300,
            2.0**40 + 0.5,
            np.inf,
            -np.inf,
            np.nan,
        ]
    ),
}

_INT_RANGE = {"uint8": (0, 255), "int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _bf16_round(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 (round to nearest even) -> float32, bit-exact."""
    x = np.asarray(x, np.float32)
    bits = x.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    out = rounded.view(np.float32).copy()
    out[np.isnan(x)] = np.nan
    return out


def _cast_case(src: str, dst: str):
    """(source values as a NumPy array of `src` (float32 for bfloat16),
    expected values of the cast as a NumPy array)."""
    x = _SOURCE[src]
    if src == "bfloat16":
        x = _bf16_round(x)  # the values the bfloat16 tensor really holds
    if is_float(src) and dst in _INT_RANGE:
        # float -> int: truncation toward zero, defined only in range
        lo, hi = _INT_RANGE[dst]
        finite = np.isfinite(x)
        tr = np.trunc(np.where(finite, x, 0).astype(np.float64))
        keep = finite & (tr >= lo) & (tr <= hi)
        if dst == "int64":
            keep &= np.abs(tr) < 2.0**62
        x = x[keep]
    with np.errstate(all="ignore"):
        if dst == "bfloat16":
            via = x.astype(np.float64).astype(np.float32)
            expected = _bf16_round(via)
        elif dst == "bool":
            expected = x != 0
        else:
            expected = x.astype(dst)
    return x, expected


@pytest.mark.parametrize("dst", ALL_DTYPES)
@pytest.mark.parametrize("src", ALL_DTYPES)
def test_cast_every_pair(device, need, src, dst):
    # A device holds the dtypes its copy kernel is registered for.
    need("copy", dtype=src)
    need("copy", dtype=dst)
    x, expected = _cast_case(src, dst)
    t = to_device(x, device, src)
    r = t.to(dt(dst))
    check_meta(r, dst, x.shape)
    assert r.device == t.device
    got = to_numpy(r)
    if dst == "bfloat16":
        np.testing.assert_allclose(got, expected, rtol=2**-8, atol=0, equal_nan=True)
        if src != "float64":
            np.testing.assert_array_equal(got, expected)  # exact for single rounding
    elif is_float(dst):
        np.testing.assert_array_equal(got, expected)  # NaN == NaN here
    else:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("src", ["int64", "float64", "float32", "bool"])
@pytest.mark.parametrize("dst", ["float32", "int32", "bool", "float16", "bfloat16", "uint8"])
def test_cast_noncontiguous_and_large(device, need, rng, src, dst):
    need("copy", dtype=src)
    need("copy", dtype=dst)
    x = make(rng, (40, 30), src, 0, 100)
    if src in ("float32", "float64"):
        x = np.abs(x)
    for layout in ("transposed", "strided"):
        t = laid_out(x, device, layout)
        r = t.to(dt(dst))
        check_meta(r, dst, x.shape)
        expected = x != 0 if dst == "bool" else x.astype(dst if dst != "bfloat16" else np.float32)
        assert_close(r, expected, dst)
    big = make(rng, (LARGE,), src, 0, 100)
    if src in ("float32", "float64"):
        big = np.abs(big)
    r = to_device(big, device).to(dt(dst))
    expected = big != 0 if dst == "bool" else big.astype(dst if dst != "bfloat16" else np.float32)
    assert_close(r, expected, dst)


def test_cast_methods(device, need, rng):
    need("copy", dtype="float32")
    need("copy", dtype="bfloat16")
    x = make(rng, (5,), "float32")
    t = to_device(x, device)
    for method, dst in [
        ("double", "float64"),
        ("half", "float16"),
        ("int", "int32"),
        ("long", "int64"),
        ("bool", "bool"),
        ("float", "float32"),
        ("bfloat16", "bfloat16"),
    ]:
        r = getattr(t, method)()
        check_meta(r, dst, (5,))
    assert_close(t.long(), np.trunc(x).astype(np.int64))
    need("copy", dtype="int64")
    ti = to_device(np.arange(3), device)
    r = ti.type_as(t)
    check_meta(r, "float32", (3,))
    assert_close(ti.to(t), np.arange(3, dtype=np.float32))  # .to(other tensor)


def test_to_same_dtype_returns_self_and_copy_flag(device, need, rng):
    t = to_device(make(rng, (3,), "float32"), device)
    assert t.to(devrt.float32) is t
    assert t.to(t.device) is t
    need("copy", dtype="float32")
    c = t.to(devrt.float32, copy=True)
    assert c is not t and not c._is_view_of(t)
    assert_close(c, to_numpy(t))


def test_float_to_int_truncates_toward_zero(device, need):
    need("copy", dtype="float64")
    x = np.array([2.9, -2.9, 0.5, -0.5, 1.0, -1.0, 1e9 + 0.75])
    r = to_device(x, device).to(devrt.int64)
    np.testing.assert_array_equal(to_numpy(r), [2, -2, 0, 0, 1, -1, 1_000_000_000])
    r32 = to_device(x, device).to(devrt.int32)
    np.testing.assert_array_equal(to_numpy(r32), np.trunc(x).astype(np.int32))


def test_int_narrowing_wraps_as_numpy(device, need):
    need("copy", dtype="int64")
    x = np.array([-1, 256, 257, 2**31, 2**32 + 5, -(2**31) - 1], np.int64)
    t = to_device(x, device)
    np.testing.assert_array_equal(to_numpy(t.to(devrt.uint8)), x.astype(np.uint8))
    np.testing.assert_array_equal(to_numpy(t.to(devrt.int32)), x.astype(np.int32))


def test_bfloat16_round_to_nearest_even(device, need):
    need("copy", dtype="float32")
    need("copy", dtype="bfloat16")
    # 1 + 2^-8 lies halfway between two bfloat16 values: rounds to even (1.0);
    # 1 + 3*2^-8 rounds up to 1 + 2^-6.
    x = np.array([1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20, -(1 + 2**-8), 3.0e38], np.float32)
    got = to_numpy(to_device(x, device).to(devrt.bfloat16))
    np.testing.assert_array_equal(got, _bf16_round(x))


def test_float16_round_trip(device, need, rng):
    need("copy", dtype="float16")
    need("copy", dtype="float32")
    x = rng.standard_normal(1000).astype(np.float16)
    t = to_device(x, device)
    check_meta(t, "float16", (1000,))
    back = t.to(devrt.float32).to(devrt.float16)
    np.testing.assert_array_equal(to_numpy(back), x)


# --- contiguous / clone ------------------------------------------------------------


@pytest.mark.parametrize("layout", ["transposed", "strided", "expanded"])
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_contiguous(device, need, rng, dtype, layout):
    need("copy", dtype=dtype)
    x = make(rng, (5, 6), dtype)
    if layout == "expanded":
        x = np.broadcast_to(x[:1], x.shape).copy()
    t = laid_out(x, device, layout, dtype)
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous()
    check_meta(c, dtype, (5, 6))
    assert c.stride() == (6, 1)
    assert_close(c, x)


@pytest.mark.parametrize("dtype", ["float32", "int32", "float64"])
@pytest.mark.parametrize(
    "shape, dims",
    [
        ((8, 8), (1, 0)),  # one block
        ((67, 45), (1, 0)),  # tiles of 32, blocks of 8 and the edges
        ((3, 40, 17), (0, 2, 1)),  # per batch element
        ((4, 9, 11, 32), (0, 3, 1, 2)),  # channels-last to first
        ((4, 32, 9, 11), (0, 2, 3, 1)),  # and back
        ((2, 6, 7, 3), (0, 3, 1, 2)),  # fewer than 8 channels
    ],
)
def test_transposing_copy(device, need, rng, dtype, shape, dims):
    """contiguous() of permuted views, whose rows run down the source's
    columns: exact for every element, across blocks, tiles and edges."""
    need("copy", dtype=dtype)
    x = make(rng, shape, dtype, -1000, 1000)
    t = to_device(x, device).permute(*dims)
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous()
    np.testing.assert_array_equal(to_numpy(c), x.transpose(dims))


def test_contiguous_of_contiguous_is_self(device, rng):
    t = to_device(make(rng, (3, 4), "float32"), device)
    c = t.contiguous()
    assert c.data_ptr() == t.data_ptr()


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_clone(device, need, rng, dtype):
    need("copy", dtype=dtype)
    x = make(rng, (4, 5), dtype)
    t = to_device(x, device, dtype)
    for c in (t.clone(), devrt.clone(t)):
        check_meta(c, dtype, (4, 5))
        assert c.device == t.device
        assert not c._is_view_of(t)
        assert c.data_ptr() != t.data_ptr()
        assert_close(c, x)
    # the clone is independent of its source
    need("fill", dtype=dtype)
    c = t.clone()
    t.fill_(0)
    assert_close(c, x)


@pytest.mark.parametrize("layout", ["transposed", "strided", "expanded"])
def test_clone_noncontiguous(device, need, rng, layout):
    need("copy", dtype="float64")
    x = make(rng, (5, 6), "float64")
    if layout == "expanded":
        x = np.broadcast_to(x[:1], x.shape).copy()
    c = laid_out(x, device, layout).clone()
    check_meta(c, "float64", (5, 6))
    assert_close(c, x)


def test_clone_large_and_empty(device, need, rng):
    need("copy", dtype="float32")
    x = make(rng, (LARGE,), "float32")
    assert_close(to_device(x, device).clone(), x)
    e = to_device(np.zeros((0, 3), np.float32), device).clone()
    check_meta(e, "float32", (0, 3))
    z = to_device(np.array(1.5, np.float32), device).clone()
    check_meta(z, "float32", ())
    assert_close(z, np.array(1.5, np.float32))


# --- copy_ -------------------------------------------------------------------------


@pytest.mark.parametrize("src_shape", [(3, 4), (4,), (1, 4), (3, 1), (), (1,)], ids=str)
def test_copy_broadcasts(device, need, rng, src_shape):
    need("copy", dtype="float32")
    dst = to_device(np.zeros((3, 4), np.float32), device)
    s = make(rng, src_shape, "float32")
    r = dst.copy_(to_device(s, device))
    assert r is dst
    check_meta(dst, "float32", (3, 4))
    assert_close(dst, np.broadcast_to(s, (3, 4)))


def test_copy_rejects_bad_shapes(device, need):
    dst = to_device(np.zeros((3, 4), np.float32), device)
    with pytest.raises(ValueError):
        dst.copy_(to_device(np.ones((2, 4), np.float32), device))
    with pytest.raises(ValueError):
        dst.copy_(to_device(np.ones((2, 3, 4), np.float32), device))


@pytest.mark.parametrize(
    "src,dst",
    [
        ("int64", "float32"),
        ("float64", "int32"),
        ("float32", "bool"),
        ("bool", "float64"),
        ("float32", "bfloat16"),
        ("uint8", "int64"),
    ],
)
def test_copy_casts(device, need, rng, src, dst):
    need("copy", dtype=src)
    need("copy", dtype=dst)
    x = make(rng, (3, 4), src, 0, 50)
    if is_float(src):
        x = np.abs(x)
    d = devrt.zeros(3, 4, dtype=dt(dst), device="cpu").to(device)
    d.copy_(to_device(x, device))
    check_meta(d, dst, (3, 4))
    expected = x != 0 if dst == "bool" else x.astype(dst if dst != "bfloat16" else np.float32)
    assert_close(d, expected, dst)


def test_copy_into_noncontiguous_destination(device, need, rng):
    need("copy", dtype="float32")
    base = np.zeros((4, 6), np.float32)
    t = to_device(base, device)
    s = make(rng, (6, 4), "float32")
    t.T.copy_(to_device(s, device))  # a transposed destination
    assert_close(t, s.T)
    t2 = to_device(base, device)
    s2 = make(rng, (4, 3), "float32")
    t2[:, ::2].copy_(to_device(s2, device))  # a strided destination
    expected = base.copy()
    expected[:, ::2] = s2
    assert_close(t2, expected)
    t3 = to_device(base, device)
    t3[1:3, 2:5].copy_(to_device(s2[:2], device))  # an offset view
    expected3 = base.copy()
    expected3[1:3, 2:5] = s2[:2]
    assert_close(t3, expected3)


@pytest.mark.parametrize("layout", ["transposed", "strided", "expanded"])
def test_copy_from_noncontiguous_source(device, need, rng, layout):
    need("copy", dtype="float64")
    x = make(rng, (5, 6), "float64")
    if layout == "expanded":
        x = np.broadcast_to(x[:1], x.shape).copy()
    dst = to_device(np.zeros((5, 6)), device)
    dst.copy_(laid_out(x, device, layout))
    assert_close(dst, x)
    dst2 = to_device(np.zeros((6, 5)), device)
    dst2.T.copy_(laid_out(x, device, layout))  # both strided
    assert_close(dst2, x.T)


def test_copy_between_devices(device, need, rng):
    need("copy", dtype="float32")
    x = make(rng, (3, 4), "float32")
    dst = to_device(np.zeros((3, 4), np.float32), device)
    dst.copy_(devrt.from_numpy(x))  # a cpu source
    assert_close(dst, x)
    host = devrt.from_numpy(np.zeros((3, 4), np.float32))
    host.copy_(to_device(x, device))  # into a cpu destination
    assert_close(host, x)


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_copy_between_overlapping_views(device, need, direction):
    # x[1:] = x[:-1]: NumPy copies as if through a buffer; PyTorch refuses
    # partial overlap. Either is acceptable, a smeared result is not.
    need("copy", dtype="int64")
    for n in (6, LARGE):
        x = np.arange(n)
        t = to_device(x, device)
        dst, src = (t[1:], t[:-1]) if direction == "forward" else (t[:-1], t[1:])
        try:
            dst.copy_(src)
        except (RuntimeError, ValueError):
            return
        if direction == "forward":
            x[1:] = x[:-1].copy()
        else:
            x[:-1] = x[1:].copy()
        assert_close(t, x)


def test_copy_bumps_version_and_views_see_it(device, need, rng):
    need("copy", dtype="float32")
    t = to_device(np.zeros((3, 4), np.float32), device)
    v = t[1]
    before = t._version
    x = make(rng, (3, 4), "float32")
    t.copy_(to_device(x, device))
    assert t._version > before
    assert_close(v, x[1])


def test_copy_large(device, need, rng):
    need("copy", dtype="float32")
    x = make(rng, (1000, 301), "float32")
    dst = to_device(np.zeros((301, 1000), np.float32), device)
    dst.T.copy_(to_device(x, device))
    assert_close(dst, x.T)


# --- device moves and item() -------------------------------------------------------


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_device_round_trip(device, rng, dtype):
    x = make(rng, (7, 3), dtype)
    src = devrt.from_numpy(x) if dtype != "bfloat16" else devrt.from_numpy(x).to(devrt.bfloat16)
    t = src.to(device)
    assert t.device.type == device
    check_meta(t, dtype, (7, 3))
    back = t.cpu()
    assert back.device.type == "cpu"
    assert_close(back, x, dtype)


def test_move_noncontiguous_to_host(device, need, rng):
    need("copy", dtype="float32")
    x = make(rng, (5, 6), "float32")
    t = to_device(x, device)
    assert_close(t.T.cpu(), x.T)
    assert_close(t[:, 1::2].cpu(), x[:, 1::2])
    assert_close(t[2:4].cpu(), x[2:4])  # an offset, contiguous view


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_item(device, rng, dtype):
    x = make(rng, (1,), dtype)
    t = to_device(x, device, dtype)
    v = t.item()
    expected = (
        to_numpy(devrt.from_numpy(np.array(x)).to(dt(dtype)))[0] if dtype == "bfloat16" else x[0]
    )
    if dtype == "bool":
        assert type(v) is bool
    elif category(dtype) == 1:
        assert type(v) is int
    else:
        assert type(v) is float
    assert v == expected.item()
    z = to_device(x.reshape(()), device, dtype)
    assert z.item() == v
    with pytest.raises(ValueError):
        to_device(np.zeros(2, np.float32), device).item()
