"""Creation ops on every device: zeros/ones/full/empty, arange, linspace,
rand/randn/randint, the *_like functions and the seeded generator."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt.testing.conformance.support import (
    ALL_DTYPES,
    assert_close,
    check_meta,
    dt,
    to_device,
    to_numpy,
)

LARGE = 300_007


def _np_fill(shape, value, dtype):
    if dtype == "bfloat16":
        return np.full(shape, value, np.float32)
    return np.full(shape, value, dtype)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape", [(2, 3), (0,), (), (1,), (LARGE,)], ids=str)
def test_zeros_ones(device, need, dtype, shape):
    need("fill", dtype=dtype)
    for fn, value in ((devrt.zeros, 0), (devrt.ones, 1)):
        t = fn(*shape, dtype=dt(dtype), device=device)
        check_meta(t, dtype, shape)
        assert t.device.type == device
        assert_close(t, _np_fill(shape, value, dtype))
        t2 = fn(shape, dtype=dt(dtype), device=device)  # the shape as a tuple
        check_meta(t2, dtype, shape)


def test_default_dtypes(device, need):
    need("fill", dtype="float32")
    check_meta(devrt.zeros(2, device=device), "float32", (2,))
    check_meta(devrt.ones(2, device=device), "float32", (2,))
    check_meta(devrt.empty(2, device=device), "float32", (2,))
    need("fill", dtype="int64")
    check_meta(devrt.full((2,), 3, device=device), "int64", (2,))  # an int value: int64
    check_meta(devrt.full((2,), 3.5, device=device), "float32", (2,))  # a float: float32
    need("fill", dtype="bool")
    check_meta(devrt.full((2,), True, device=device), "bool", (2,))


@pytest.mark.parametrize(
    "dtype,value",
    [
        ("bool", True),
        ("uint8", 200),
        ("int32", -7),
        ("int32", 2**31 - 1),
        ("int64", 2**40 + 3),
        ("int64", -(2**62)),
        ("float16", 0.5),
        ("bfloat16", -2.25),
        ("float32", 0.1),
        ("float64", 0.1),
        ("float64", -np.inf),
        ("float32", np.nan),
    ],
)
@pytest.mark.parametrize("shape", [(3, 4), (LARGE,), ()], ids=str)
def test_full(device, need, dtype, value, shape):
    need("fill", dtype=dtype)
    t = devrt.full(shape, value, dtype=dt(dtype), device=device)
    check_meta(t, dtype, shape)
    assert_close(t, _np_fill(shape, value, dtype))


def test_full_int_value_exact(device, need):
    # a large int64 fill value is not routed through a double
    need("fill", dtype="int64")
    v = 2**53 + 1
    t = devrt.full((5,), v, dtype=devrt.int64, device=device)
    assert to_numpy(t).tolist() == [v] * 5


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_empty(device, dtype):
    t = devrt.empty(3, 0, 2, dtype=dt(dtype), device=device)
    check_meta(t, dtype, (3, 0, 2))
    t = devrt.empty((4, 5), dtype=dt(dtype), device=device)
    check_meta(t, dtype, (4, 5))
    assert t.is_contiguous()


ARANGE = [
    ((5,), {}),
    ((2, 9), {}),
    ((2, 9, 3), {}),
    ((10, 0, -3), {}),
    ((0, 1, 0.1), {}),
    ((-1.5, 2.5, 0.5), {}),
    ((1, 1), {}),  # empty
    ((3, 3, -1), {}),  # empty
    ((-2.5, 2, 1.5), {"dtype": "int64"}),  # counts from -2 by 1 to 2
    ((-2.5, 2, 1.5), {"dtype": "int32"}),  # counts from -2 by 1, ceil(4.5 / 1.5) values
    ((0, 10, 3), {"dtype": "float64"}),
    ((0, 7), {"dtype": "int32"}),
    ((0.5, 4), {"dtype": "int64"}),
    ((1, 2.5, 0.25), {"dtype": "float32"}),
    ((0, LARGE), {}),
    ((0, 3.0, 1e-5), {"dtype": "float64"}),
]


def _arange_reference(args, dtype):
    """NumPy's arange for the value sequence; devrt's dtype rule (int64 for
    integer arguments, float32 for any float, as PyTorch)."""
    if dtype is None:
        dtype = "float32" if any(isinstance(a, float) for a in args) else "int64"
    start, stop, step = (0, args[0], 1) if len(args) == 1 else (*args, 1)[:3]
    n = max(0, int(np.ceil((stop - start) / step)))
    if dtype.startswith("int"):
        # PyTorch's integer ranges: start and step truncated; int64 counts the
        # truncated span
        if dtype == "int64":
            n = max(0, int(np.ceil((int(stop) - int(start)) / int(step))))
        start, step = int(start), int(step)
    values = start + np.arange(n, dtype=np.float64) * step
    return values.astype(dtype), dtype


@pytest.mark.parametrize("args,kw", ARANGE, ids=str)
def test_arange(device, need, args, kw):
    expected, dtype = _arange_reference(args, kw.get("dtype"))
    need("arange", dtype=dtype)
    kwargs = {"dtype": dt(kw["dtype"])} if "dtype" in kw else {}
    t = devrt.arange(*args, device=device, **kwargs)
    check_meta(t, dtype, expected.shape)
    assert_close(t, expected, dtype, rtol=1e-6, atol=1e-6)


def test_arange_errors(device):
    with pytest.raises(ValueError):
        devrt.arange(0, 5, 0, device=device)
    with pytest.raises((TypeError, ValueError)):
        devrt.arange(0, 5, dtype=devrt.bool, device=device)
    with pytest.raises(ValueError):
        devrt.arange(0, float("inf"), device=device)
    # a step away from the end, or one that truncates to 0 (as PyTorch)
    for args in [(5, 1), (0, 5, -1), (-3,)]:
        with pytest.raises(ValueError, match=r"^\[arange\] the range from"):
            devrt.arange(*args, device=device)
    with pytest.raises(ValueError, match=r"^\[arange\] step must be non-zero"):
        devrt.arange(0, 5, 0.5, dtype=devrt.int64, device=device)


LINSPACE = [
    (0, 1, 5),
    (-3, 7, 11),
    (1, 1, 4),
    (2.5, -1.5, 9),
    (0, 1, 1),
    (0, 1, 0),
    (0, 1, 2),
    (-1, 1, LARGE),
]


@pytest.mark.parametrize("start,end,steps", LINSPACE, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linspace(device, need, dtype, start, end, steps):
    need("arange", "add", "sub", "mul", "lt", "where", dtype=dtype)
    t = devrt.linspace(start, end, steps, dtype=dt(dtype), device=device)
    expected = np.linspace(start, end, steps).astype(dtype)
    check_meta(t, dtype, (steps,))
    tol = {"rtol": 1e-6, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-12, "atol": 1e-12}
    assert_close(t, expected, **tol)
    if steps >= 1:
        assert to_numpy(t)[0] == np.asarray(start, dtype)  # the endpoints exactly
    if steps >= 2:
        assert to_numpy(t)[-1] == np.asarray(end, dtype)


@pytest.mark.parametrize(
    "start,end,steps", [(0, 10, 4), (0, 1, 5), (-5, 5, 3), (0, 100, 7), (3, -3, 4)], ids=str
)
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_linspace_integer_dtype(device, need, dtype, start, end, steps):
    # the points are computed in floating point, then converted (NumPy's
    # astype, PyTorch's linspace with an integer dtype): the end is reached
    need("arange", dtype=dtype)
    t = devrt.linspace(start, end, steps, dtype=dt(dtype), device=device)
    check_meta(t, dtype, (steps,))
    assert_close(t, np.linspace(start, end, steps).astype(dtype))


def test_full_float_value_into_int_dtype(device, need):
    need("fill", dtype="int32")
    t = devrt.full((3,), 2.7, dtype=devrt.int32, device=device)
    assert_close(t, np.full(3, 2.7).astype(np.int32))  # truncation toward zero
    t = devrt.full((3,), -2.7, dtype=devrt.int32, device=device)
    assert_close(t, np.full(3, -2.7).astype(np.int32))


def test_linspace_is_symmetric_in_its_dtype(device, need):
    # As PyTorch: float32 points are computed in float32, the first half
    # from start up and the second from end down.
    need("arange", "add", "sub", "mul", "lt", "where", dtype="float32")
    for start, end, steps in [(0, 1, 7), (1, 0, 4), (0.1, 0.7, 13), (-2, 3, 6)]:
        t = devrt.linspace(start, end, steps, device=device)
        s, e = np.float32(start), np.float32(end)
        step = (e - s) / np.float32(steps - 1)
        i = np.arange(steps, dtype=np.float32)
        expected = np.where(i < steps // 2, s + step * i, e - step * (np.float32(steps - 1) - i))
        np.testing.assert_array_equal(to_numpy(t), expected.astype(np.float32))


def test_linspace_default_dtype_and_errors(device, need):
    need("arange", "add", "sub", "mul", "lt", "where", dtype="float32")
    check_meta(devrt.linspace(0, 1, 3, device=device), "float32", (3,))
    with pytest.raises(ValueError):
        devrt.linspace(0, 1, -1, device=device)


# --- random ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rand_range_and_stats(device, need, dtype):
    need("random_uniform", dtype=dtype)
    devrt.manual_seed(1)
    t = devrt.rand(100_000, dtype=dt(dtype), device=device)
    check_meta(t, dtype, (100_000,))
    x = to_numpy(t)
    assert x.min() >= 0.0 and x.max() < 1.0
    assert abs(x.mean() - 0.5) < 0.005  # sd of the mean: 0.0009
    assert abs(x.var() - 1 / 12) < 0.002
    # roughly uniform: each tenth holds ~10%
    counts = np.histogram(x, bins=10, range=(0, 1))[0]
    assert np.all(np.abs(counts - 10_000) < 600)
    assert len(np.unique(x)) > 99_000  # not a short cycle


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_randn_stats(device, need, dtype):
    need("random_normal", dtype=dtype)
    devrt.manual_seed(2)
    t = devrt.randn(100_000, dtype=dt(dtype), device=device)
    check_meta(t, dtype, (100_000,))
    x = to_numpy(t).astype(np.float64)
    assert np.all(np.isfinite(x))
    assert abs(x.mean()) < 0.015  # sd of the mean: 0.003
    assert abs(x.std() - 1.0) < 0.015
    # tails of a normal: P(|x| > 1) ~ 0.3173, P(|x| > 2) ~ 0.0455
    assert abs(np.mean(np.abs(x) > 1) - 0.3173) < 0.01
    assert abs(np.mean(np.abs(x) > 2) - 0.0455) < 0.004
    # symmetric and not correlated with its neighbour
    assert abs(np.mean(x > 0) - 0.5) < 0.01
    assert abs(np.corrcoef(x[:-1], x[1:])[0, 1]) < 0.02


@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("low,high", [(0, 10), (-5, 5), (3, 4), (-(2**31), 2**31 - 1)], ids=str)
def test_randint_bounds(device, need, dtype, low, high):
    need("random_integers", dtype=dtype)
    devrt.manual_seed(3)
    t = devrt.randint(low, high, (50_000,), dtype=dt(dtype), device=device)
    check_meta(t, dtype, (50_000,))
    x = to_numpy(t)
    assert x.min() >= low and x.max() < high  # high is exclusive
    if high - low <= 10:
        assert set(np.unique(x).tolist()) == set(range(low, high))  # every value drawn
        counts = np.bincount(x - low)
        assert np.all(np.abs(counts - 50_000 / (high - low)) < 0.1 * 50_000 / (high - low))
    else:
        assert x.min() < low + (high - low) // 100 and x.max() > high - (high - low) // 100


def test_randint_forms_and_errors(device, need):
    need("random_integers", dtype="int64")
    t = devrt.randint(5, (3, 4), device=device)  # randint(high, size)
    check_meta(t, "int64", (3, 4))
    x = to_numpy(t)
    assert x.min() >= 0 and x.max() < 5
    t = devrt.randint(2, 4, size=(7,), device=device)
    check_meta(t, "int64", (7,))
    assert set(to_numpy(t).tolist()) <= {2, 3}
    with pytest.raises(ValueError):
        devrt.randint(3, 3, (2,), device=device)
    with pytest.raises(TypeError):
        devrt.randint(0, 3, (2,), dtype=devrt.float32, device=device)


def test_random_float_dtype_required(device):
    with pytest.raises(TypeError):
        devrt.rand(3, dtype=devrt.int64, device=device)
    with pytest.raises(TypeError):
        devrt.randn(3, dtype=devrt.int32, device=device)


@pytest.mark.parametrize(
    "fn,dtype",
    [
        (lambda s, d, dev: devrt.rand(*s, dtype=d, device=dev), "float32"),
        (lambda s, d, dev: devrt.randn(*s, dtype=d, device=dev), "float64"),
        (lambda s, d, dev: devrt.randint(-100, 100, s, dtype=d, device=dev), "int32"),
    ],
    ids=["rand", "randn", "randint"],
)
def test_manual_seed_reproducible(device, need, fn, dtype):
    op = {"float32": "random_uniform", "float64": "random_normal", "int32": "random_integers"}[
        dtype
    ]
    need(op, dtype=dtype)
    devrt.manual_seed(1234)
    a = to_numpy(fn((50, 40), dt(dtype), device))
    b = to_numpy(fn((50, 40), dt(dtype), device))
    assert not np.array_equal(a, b)  # the stream advances
    devrt.manual_seed(1234)
    a2 = to_numpy(fn((50, 40), dt(dtype), device))
    b2 = to_numpy(fn((50, 40), dt(dtype), device))
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)
    devrt.manual_seed(1235)
    assert not np.array_equal(to_numpy(fn((50, 40), dt(dtype), device)), a)
    assert devrt.initial_seed() == 1235


def test_random_stream_is_counter_based(device, need):
    # element i of the stream uses counter offset + i (core/include/devrt/rng.h):
    # draws of 10 then 5 values equal one draw of 15, and a large draw (split
    # over threads) starts with the values of a small one.
    need("random_uniform", dtype="float32")
    devrt.manual_seed(77)
    first = np.concatenate(
        [to_numpy(devrt.rand(10, device=device)), to_numpy(devrt.rand(5, device=device))]
    )
    devrt.manual_seed(77)
    whole = to_numpy(devrt.rand(15, device=device))
    np.testing.assert_array_equal(first, whole)
    devrt.manual_seed(77)
    big = to_numpy(devrt.rand(LARGE, device=device))
    np.testing.assert_array_equal(big[:15], whole)
    devrt.manual_seed(77)
    shaped = to_numpy(devrt.rand(3, 5, device=device))
    np.testing.assert_array_equal(shaped.ravel(), whole)


def test_random_same_on_every_device(device, need):
    # counter-based: the same seed gives the same numbers on every device
    need("random_uniform", dtype="float32")
    need("random_normal", dtype="float64")
    need("random_integers", dtype="int64")
    results = {}
    for dev in dict.fromkeys(["cpu", device]):
        devrt.manual_seed(99)
        results[dev] = (
            to_numpy(devrt.rand(1000, device=dev)),
            to_numpy(devrt.randn(1000, dtype=devrt.float64, device=dev)),
            to_numpy(devrt.randint(0, 1000, (1000,), device=dev)),
        )
    for got, ref in zip(results[device], results["cpu"], strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)


def test_random_empty_and_zero_d(device, need):
    need("random_uniform", dtype="float32")
    check_meta(devrt.rand(0, 3, device=device), "float32", (0, 3))
    t = devrt.rand(device=device)
    check_meta(t, "float32", ())
    assert 0 <= to_numpy(t) < 1


def test_rand_float64_has_full_precision(device, need):
    # float64 uniforms are not float32 values in disguise
    need("random_uniform", dtype="float64")
    x = to_numpy(devrt.rand(1000, dtype=devrt.float64, device=device))
    assert np.any(x.astype(np.float32).astype(np.float64) != x)


# --- *_like ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "float16"])
def test_like_functions(device, need, dtype):
    need("fill", dtype=dtype)
    src = devrt.zeros(2, 3, dtype=dt(dtype), device=device)
    for fn, value in ((devrt.zeros_like, 0), (devrt.ones_like, 1)):
        t = fn(src)
        check_meta(t, dtype, (2, 3))
        assert t.device == src.device
        assert_close(t, _np_fill((2, 3), value, dtype))
    t = devrt.full_like(src, 7 if dtype != "bool" else True)
    check_meta(t, dtype, (2, 3))
    assert_close(t, _np_fill((2, 3), 7 if dtype != "bool" else True, dtype))
    e = devrt.empty_like(src)
    check_meta(e, dtype, (2, 3))
    assert e.device == src.device
    need("fill", dtype="float64")
    t = devrt.ones_like(src, dtype=devrt.float64)  # dtype override
    check_meta(t, "float64", (2, 3))
    assert_close(t, np.ones((2, 3)))


def test_like_from_noncontiguous(device, need):
    need("fill", dtype="float32")
    src = devrt.zeros(4, 6, device=device).T[:, ::2]
    t = devrt.ones_like(src)
    check_meta(t, "float32", (6, 2))
    assert_close(t, np.ones((6, 2), np.float32))


def test_rand_like_randn_like(device, need):
    need("random_uniform", "random_normal", dtype="float64")
    src = to_device(np.zeros((200, 300)), device)
    u = devrt.rand_like(src)
    check_meta(u, "float64", (200, 300))
    assert u.device == src.device
    x = to_numpy(u)
    assert x.min() >= 0 and x.max() < 1 and abs(x.mean() - 0.5) < 0.01
    n = devrt.randn_like(src)
    check_meta(n, "float64", (200, 300))
    y = to_numpy(n)
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    with pytest.raises(TypeError):
        devrt.rand_like(to_device(np.zeros(3, np.int64), device))


def test_tensor_constructor(device, need):
    t = devrt.tensor([[1, 2], [3, 4]], device=device)
    check_meta(t, "int64", (2, 2))
    assert_close(t, np.array([[1, 2], [3, 4]]))
    t = devrt.tensor([1.5, 2.0], device=device)
    check_meta(t, "float32", (2,))  # Python floats: float32, as PyTorch
    t = devrt.tensor(3.5, device=device)
    check_meta(t, "float32", ())
    assert to_numpy(t) == 3.5
    t = devrt.tensor([True, False], device=device)
    check_meta(t, "bool", (2,))
    t = devrt.tensor(np.arange(3, dtype=np.float64), device=device)
    check_meta(t, "float64", (3,))  # a NumPy array keeps its dtype
    t = devrt.tensor([1, 2], dtype=devrt.float64, device=device)
    check_meta(t, "float64", (2,))
    assert_close(t, np.array([1.0, 2.0]))
