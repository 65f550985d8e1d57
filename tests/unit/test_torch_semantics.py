"""The eager API against PyTorch where devrt follows PyTorch: result dtype,
shape and values (or an exception where PyTorch raises) for the families a
differential comparison with PyTorch turned up, and the documented places
where devrt differs (docs/eager.md, "Different from PyTorch")."""

from __future__ import annotations

import math

import numpy as np
import pytest

import devrt

torch = pytest.importorskip("torch")

NAN = math.nan
NO_ARITHMETIC = ("uint8", "float16", "bfloat16")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def run_both(fn):
    """fn(devrt) and fn(torch): the results, or the exception type raised."""
    out = []
    for lib in (devrt, torch):
        try:
            out.append(fn(lib))
        except (TypeError, ValueError, IndexError, RuntimeError, NotImplementedError) as e:
            out.append(e)
    return out


def assert_same(got, want):
    """A devrt result equals a PyTorch one: dtype, shape and values (NaN
    equal to NaN, -0.0 equal to 0.0); tuples and lists element by element;
    an exception in one is an exception in the other."""
    want_name = (
        None
        if isinstance(want, (Exception, tuple, list))
        else str(want.dtype).removeprefix("torch.")
    )
    if isinstance(got, NotImplementedError) and want_name in NO_ARITHMETIC:
        # The dtype PyTorch gives, which has no arithmetic kernels in devrt
        # (docs/eager.md): the error names it.
        assert f"no kernel for dtype {want_name}" in str(got), got
        return
    if isinstance(want, Exception) or isinstance(got, Exception):
        assert isinstance(got, Exception) and isinstance(want, Exception), (got, want)
        return
    if isinstance(want, (tuple, list)):
        assert len(got) == len(want), (got, want)
        for g, w in zip(got, want):
            assert_same(g, w)
        return
    assert got.dtype.name == str(want.dtype).removeprefix("torch."), (got.dtype, want.dtype)
    assert tuple(got.shape) == tuple(want.shape), (got.shape, want.shape)
    w = want.detach().to(torch.float64 if want.dtype.is_floating_point else want.dtype).numpy()
    g = got.detach().to(devrt.float64 if got.dtype.is_floating_point else got.dtype).numpy()
    np.testing.assert_array_equal(g, w)


def check(fn):
    got, want = run_both(fn)
    assert_same(got, want)


def t(lib, value, dtype):
    return lib.tensor(value, dtype=getattr(lib, dtype))


# --- type promotion -----------------------------------------------------------

PROMOTION = [
    # (left dtype, left is 0-d, right dtype, right is 0-d)
    ("int32", False, "int64", True),
    ("int32", False, "float64", True),
    ("int32", False, "float32", True),
    ("uint8", False, "int64", True),
    ("uint8", False, "int32", True),
    ("bool", False, "int32", True),
    ("bool", False, "float64", True),
    ("float32", False, "float64", True),
    ("int64", True, "int32", False),
    ("float64", True, "int32", False),
    ("int32", True, "int64", True),
    ("uint8", True, "int32", True),
    ("int32", True, "float64", True),
    ("int32", False, "int64", False),
    ("int32", False, "float32", False),
]
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "remainder": lambda a, b: a % b,
    "floor_divide": lambda a, b: a // b,
    "bitwise_and": lambda a, b: a & b,
    "bitwise_or": lambda a, b: a | b,
    "bitwise_xor": lambda a, b: a ^ b,
    "maximum": lambda a, b: a.maximum(b),
    "eq": lambda a, b: a == b,
}


def operand(lib, dtype, zero_dim, values):
    v = values[0] if zero_dim else values
    return t(lib, v, dtype)


@pytest.mark.parametrize("op", list(BINARY))
@pytest.mark.parametrize("da,za,db,zb", PROMOTION, ids=str)
def test_binary_promotion_ranks_0d_below_tensors(op, da, za, db, zb):
    left = [5, 3, 1] if da != "bool" else [True, False, True]
    right = [2, 1, 3] if db != "bool" else [True, True, False]
    floats = "float" in da or "float" in db
    if op.startswith("bitwise") and floats:
        pytest.skip("bitwise ops take no floats (both raise: test_bitwise_float_raises)")
    fn = BINARY[op]
    check(lambda L: fn(operand(L, da, za, left), operand(L, db, zb, right)))


def test_bitwise_float_raises():
    got, want = run_both(lambda L: t(L, [5, 7], "int32") & t(L, 2.0, "float64"))
    assert isinstance(want, Exception)
    assert isinstance(got, TypeError) and str(got).startswith("[bitwise_and]")


@pytest.mark.parametrize("number", [2, 2.5, True])
@pytest.mark.parametrize("dtype", ["bool", "uint8", "int32", "int64", "float32", "float64"])
def test_python_numbers_rank_lowest(dtype, number):
    values = [1, 0, 1] if dtype in ("bool", "uint8") else [1, -2, 3]
    if dtype == "bool" and number is True:
        pytest.skip("bool + bool: test_bool_arithmetic_counts_in_int64")
    check(lambda L: t(L, values, dtype) * number)
    check(lambda L: number - t(L, values, dtype))
    check(
        lambda L: t(L, values, dtype).maximum(
            t(L, number, "float64" if isinstance(number, float) else "int64")
        )
    )


def test_float16_with_0d_float64_stays_float16():
    # float16 arithmetic has no CPU kernel: the dtype decision is checked
    # through the error naming it, and through where (which has a kernel).
    got = devrt.where(
        devrt.tensor([True, False]), t(devrt, [1.0, 2.0], "float16"), t(devrt, 3.0, "float64")
    )
    want = torch.where(
        torch.tensor([True, False]), t(torch, [1.0, 2.0], "float16"), t(torch, 3.0, "float64")
    )
    assert_same(got, want)
    with pytest.raises(NotImplementedError, match=r"^\[add\] no kernel for dtype float16"):
        t(devrt, [1.0, 2.0], "float16") + t(devrt, 3.0, "float64")


def test_where_ranks_0d_operands():
    for da, db in [("int32", "int64"), ("int32", "float64"), ("bool", "int32")]:
        check(
            lambda L, da=da, db=db: L.where(
                t(L, [True, False], "bool"), t(L, [1, 0], da), t(L, 1, db)
            )
        )


def test_inplace_with_0d_other():
    def fn(L):
        x = t(L, [1, 2, 3], "int32")
        x += t(L, 7, "int64")
        return x

    check(fn)


def test_bool_arithmetic_counts_in_int64():
    # Documented difference: PyTorch's bool + bool is a logical or.
    r = t(devrt, [True, False], "bool") + t(devrt, [True, True], "bool")
    assert r.dtype is devrt.int64 and r.tolist() == [2, 1]


def test_dot_and_addmm_dtypes():
    check(lambda L: L.dot(t(L, [1, 2], "int32"), t(L, [3, 4], "int32")))
    check(lambda L: L.dot(t(L, [1.5, 2], "float32"), t(L, [3, 4], "float32")))
    with pytest.raises(TypeError, match=r"^\[dot\] .*int32 and .*int64"):
        devrt.dot(t(devrt, [1, 2], "int32"), t(devrt, [3, 4], "int64"))
    check(
        lambda L: L.addmm(
            t(L, [[1, 2]], "int64"), t(L, [[1, 2]], "int64"), t(L, [[1, 2], [3, 4]], "int64")
        )
    )
    with pytest.raises(TypeError, match=r"^\[addmm\] .*float64, .*float32 and .*float32"):
        devrt.addmm(devrt.ones(1, 2, dtype=devrt.float64), devrt.ones(1, 2), devrt.ones(2, 2))
    got, want = run_both(lambda L: L.addmm(L.ones(1, 2, dtype=L.int64), L.ones(1, 2), L.ones(2, 2)))
    assert isinstance(got, TypeError) and isinstance(want, Exception)


# --- add/sub with alpha ---------------------------------------------------------


@pytest.mark.parametrize("op", ["add", "sub"])
@pytest.mark.parametrize("alpha", [0.1, 1 / 3, 3, -2.5e-3])
def test_alpha_rounds_once_in_float32(op, alpha):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(257).astype(np.float32)
    b = rng.standard_normal(257).astype(np.float32)
    check(lambda L: getattr(L, op)(L.tensor(a), L.tensor(b), alpha=alpha))
    check(lambda L: getattr(L.tensor(a), op)(L.tensor(b), alpha=alpha))


def test_alpha_gradient():
    def fn(L):
        a = L.tensor([0.1, 0.7], requires_grad=True)
        b = L.tensor([0.3, 1e-3], requires_grad=True)
        (L.sub(a, b, alpha=0.1) * L.tensor([1.0, 2.0])).sum().backward()
        return a.grad, b.grad

    check(fn)


# --- reductions ---------------------------------------------------------------

X = [[1.0, 2.0, 3.0], [4.0, 5.0, 7.0]]


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "std", "var", "norm", "all", "any"])
@pytest.mark.parametrize("dim", [(), []])
@pytest.mark.parametrize("keepdim", [False, True])
def test_empty_dim_list(op, dim, keepdim):
    # sum, mean, amax, amin, std, var and norm reduce every dim; all and any
    # reduce none (as PyTorch 2.13).
    check(lambda L: getattr(L.tensor(X), op)(dim=dim, keepdim=keepdim))
    if op not in ("norm",):
        check(lambda L: getattr(L, op)(L.tensor(X), dim=dim, keepdim=keepdim))


def test_logsumexp_empty_dim_list():
    check(lambda L: L.logsumexp(L.tensor(X), dim=(), keepdim=True))
    # Documented difference: PyTorch 2.13 raises without keepdim; devrt
    # reduces every dim, as sum does.
    r = devrt.logsumexp(devrt.tensor(X), dim=())
    assert r.shape == () and math.isclose(
        r.item(), torch.logsumexp(torch.tensor(X), dim=(0, 1)).item(), rel_tol=1e-6
    )


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int32", "int64", "float32"])
def test_all_any_dtypes(dtype):
    v = [[1, 0], [1, 1]]
    for op in ("all", "any"):
        check(lambda L, op=op: getattr(L, op)(t(L, v, dtype)))
        check(lambda L, op=op: getattr(t(L, v, dtype), op)(1))
        check(lambda L, op=op: getattr(L, op)(t(L, v, dtype), dim=0, keepdim=True))


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int32", "int64", "float32"])
@pytest.mark.parametrize("to", [None, "int32", "int64", "float64"])
def test_sum_mean_cumsum_dtype(dtype, to):
    v = [[1, 0], [1, 1]]
    kw = {} if to is None else {"dtype": to}

    def arg(L):
        return {} if to is None else {"dtype": getattr(L, to)}

    check(lambda L: L.sum(t(L, v, dtype), **arg(L)))
    check(lambda L: t(L, v, dtype).sum(0, **arg(L)))
    check(lambda L: L.cumsum(t(L, v, dtype), 0, **arg(L)))
    check(lambda L: t(L, v, dtype).cumsum(1, **arg(L)))
    if to is not None and "float" in to:
        check(lambda L: L.mean(t(L, v, dtype), **arg(L)))
        check(lambda L: t(L, v, dtype).mean(1, **arg(L)))
    assert kw is not None


def test_mean_of_integers_is_float32():
    # Documented difference: PyTorch raises for the mean of an integer tensor.
    r = devrt.tensor([1, 2]).mean()
    assert r.dtype is devrt.float32 and r.item() == 1.5


def test_cumsum_float32_accumulates_wider():
    check(lambda L: L.cumsum(t(L, [3e38, 3e38, -3e38, -3e38, 1.0], "float32"), 0))
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 1000)).astype(np.float32) * 1e4
    got = devrt.tensor(a).cumsum(1).numpy()
    want = np.cumsum(a.astype(np.float64), axis=1).astype(np.float32)
    np.testing.assert_array_equal(got, want)


# --- elementwise edge cases -------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {"min": NAN},
        {"max": NAN},
        {"min": 0.0, "max": NAN},
        {"min": NAN, "max": 1.0},
        {"min": 3, "max": 2},
    ],
)
def test_clamp_bounds(kw):
    check(lambda L: L.clamp(t(L, [1.0, NAN, -2.0, 5.0], "float32"), **kw))
    check(lambda L: t(L, [1.0, NAN, -2.0], "float64").clamp(**kw))


def test_clamp_nan_bound_gradient():
    def fn(L):
        x = L.tensor([1.0, -2.0, 3.0], requires_grad=True)
        L.clamp(x, min=NAN).sum().backward()
        return x.grad

    check(fn)


def test_sign():
    check(lambda L: L.sign(t(L, [True, False], "bool")))
    check(lambda L: L.sign(t(L, [NAN, -0.0, 0.0, -2.5, 3.0, -math.inf], "float32")))
    check(lambda L: L.sign(t(L, [NAN, -0.0], "float64")))
    check(lambda L: L.sign(t(L, [-3, 0, 5], "int32")))
    # sign(-0.0) is +0.0 in both
    assert math.copysign(1.0, devrt.sign(devrt.tensor(-0.0)).item()) == 1.0


@pytest.mark.parametrize("n", [0, 1, 5, 6, 7, 10])
@pytest.mark.parametrize("chunks", [1, 3, 4, 6, 8])
def test_chunk_sizes(n, chunks):
    check(lambda L: L.arange(n).chunk(chunks))
    check(lambda L: L.chunk(L.arange(2 * n).reshape(2, n), chunks, dim=1))


def test_chunk_errors():
    with pytest.raises(ValueError, match=r"^\[chunk\] chunks must be positive, got 0"):
        devrt.arange(4).chunk(0)
    with pytest.raises(ValueError, match=r"^\[chunk\] .*0-d"):
        devrt.tensor(1.0).chunk(2)
    a, b = devrt.zeros(0).chunk(2)  # distinct empty views, as PyTorch's
    assert a is not b and a.shape == b.shape == (0,)


@pytest.mark.parametrize("args", [(1,), (0,), ([0],), ([1],), ((),), (2, 5), ([1], -3)])
def test_split_of_a_0d_tensor_raises(args):
    """As PyTorch's: a 0-d tensor has nothing to split, whatever the sizes
    and the dim."""
    with pytest.raises(RuntimeError, match="split expects at least a 1-dimensional tensor"):
        torch.tensor(1.0).split(*args)
    with pytest.raises(ValueError, match=r"^\[split\] needs a tensor of at least one dim.*0-d"):
        devrt.tensor(1.0).split(*args)
    with pytest.raises(ValueError, match=r"^\[split\] needs a tensor of at least one dim.*0-d"):
        devrt.split(devrt.tensor(1.0, dtype=devrt.float16), *args)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_along_a_dim_return_named_tuples(name):
    data = [[1.0, 5.0, 5.0], [7.0, 2.0, 7.0]]
    calls = [
        lambda L: getattr(L, name)(L.tensor(data), 1),
        lambda L: getattr(L.tensor(data), name)(dim=0, keepdim=True),
        lambda L: getattr(L.tensor([True, False]), name)(0),
    ]
    for call in calls:
        got, want = call(devrt), call(torch)
        assert type(got) is getattr(devrt.return_types, name)
        assert got._fields == ("values", "indices")
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w.numpy())
    # The other forms return a tensor.
    x = devrt.tensor(data)
    assert isinstance(getattr(devrt, name)(x), devrt.Tensor)
    assert isinstance(getattr(x, name)(devrt.zeros(3)), devrt.Tensor)


ARANGE = [
    (5,),
    (5.0,),
    (0, 5, 1),
    (5, 0, -1),
    (0, 1, 0.1),
    (1, 0, -0.3),
    (0, 0, 1),
    (3, 3, -1),
    (0.5, 3, 1),
    (0, 5, 1.5),
    (1, 2, 0.3),
    (-3, 3, 2),
    (0, 10, 3),
    (-2.5, 2, 1.5),
]


@pytest.mark.parametrize("args", ARANGE, ids=str)
@pytest.mark.parametrize("dtype", [None, "int64", "int32", "float32", "float64"])
def test_arange(args, dtype):
    def fn(L):
        kw = {} if dtype is None else {"dtype": getattr(L, dtype)}
        return L.arange(*args, **kw)

    got, want = run_both(fn)
    if isinstance(want, Exception):
        # (PyTorch raises for an int64 step that truncates to 0, and repeats
        # start for int32: docs/eager.md)
        assert isinstance(got, ValueError), got
        assert str(got).startswith("[arange] ") and ("step" in str(got) or "range" in str(got))
        return
    if not got.dtype.is_floating_point:
        assert_same(got, want)
    else:  # PyTorch's vectorised kernel rounds its lanes its own way
        assert got.dtype.name == str(want.dtype).removeprefix("torch.")
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("args", [(0, 5, -1), (5, 0, 1), (-5,), (0, 5, 0), (0, 5, 0.5)], ids=str)
def test_arange_raises(args):
    dtype = devrt.int64 if args == (0, 5, 0.5) else None
    with pytest.raises(ValueError, match=r"^\[arange\] "):
        devrt.arange(*args, dtype=dtype)
    with pytest.raises((RuntimeError, ValueError)):
        torch.arange(*args, dtype=None if dtype is None else torch.int64)


LINSPACE = [
    (0, 1, 5),
    (0, 1, 1),
    (0, 1, 0),
    (1, 0, 4),
    (2, 2, 3),
    (0, 10, 11),
    (-1, 1, 2),
    (0, 1, 7),
    (3, 1, 1),
]
LINSPACE += [(-1.5, 10, 4), (0.1, 0.7, 13), (1e-3, 1e3, 9)]


@pytest.mark.parametrize("args", LINSPACE, ids=str)
@pytest.mark.parametrize("dtype", [None, "float64", "int64"])
def test_linspace(args, dtype):
    def fn(L):
        kw = {} if dtype is None else {"dtype": getattr(L, dtype)}
        return L.linspace(*args, **kw)

    check(fn)


def test_linspace_raises():
    with pytest.raises(ValueError, match=r"^\[linspace\] number of steps must be non-negative"):
        devrt.linspace(0, 1, -1)


# --- indexing -------------------------------------------------------------------


def x24(L):
    return L.arange(24, dtype=L.float32).reshape(2, 3, 4)


INDEX_KEYS = {
    "nested list": lambda L: [[0, 1], [1, 0]],
    "nested list pair": lambda L: [[[0, 1], [1, 0]], [[1, 2], [0, 0]]],
    "list with slice": lambda L: [slice(None), [0, 2]],
    "list with None": lambda L: [None, [0, 1]],
    "flat list": lambda L: [1, 0, 1],
    "list pair": lambda L: ([0, 1], [1, 2]),
    "list of bools": lambda L: [True, False],
    "uint8 mask": lambda L: t(L, [1, 0], "uint8"),
    "uint8 mask 2-d": lambda L: t(L, [[1, 0, 1], [0, 0, 1]], "uint8"),
    "uint8 mask and int": lambda L: (t(L, [1, 0], "uint8"), 1),
    "bool mask 2-d": lambda L: t(L, [[1, 0, 1], [0, 0, 1]], "bool"),
    "0-d bool true": lambda L: t(L, True, "bool"),
    "0-d bool false": lambda L: t(L, False, "bool"),
    "python true": lambda L: True,
    "python false": lambda L: False,
    "bool and slice": lambda L: (True, slice(None), [0, 1]),
    "None nested": lambda L: (None, [[0], [1]], slice(None), [1, 2]),
    "int32 tensor": lambda L: t(L, [1, 0, 1], "int32"),
}


@pytest.mark.parametrize("key", list(INDEX_KEYS))
def test_advanced_index_get(key):
    check(lambda L: x24(L)[INDEX_KEYS[key](L)])


@pytest.mark.parametrize("key", [k for k in INDEX_KEYS if not k.startswith("uint8")])
def test_advanced_index_set(key):
    def fn(L):
        x = x24(L)
        x[INDEX_KEYS[key](L)] = -1.0
        return x

    check(fn)


def test_uint8_mask_set():
    # Documented difference: PyTorch refuses a uint8 mask with a number value
    # (and takes it with a tensor value); devrt takes it as a mask both ways.
    def fn(L, value):
        x = x24(L)
        x[t(L, [[1, 0, 1], [0, 0, 1]], "uint8")] = value(L)
        return x

    check(lambda L: fn(L, lambda L: L.full((4,), -1.0)))
    got = fn(devrt, lambda L: -1.0)
    want = fn(torch, lambda L: L.full((4,), -1.0))
    assert_same(got, want)


def test_nested_list_too_many_indices():
    got, want = run_both(lambda L: L.arange(5)[[[0, 1], [2, 3]]])
    assert isinstance(want, IndexError) and isinstance(got, IndexError)
    assert str(got).startswith("[index] too many indices")


# --- gather and scatter_add ---------------------------------------------------------

SCATTER = {
    "same shapes": ([[0, 1, 2, 0], [0, 1, 0, 0]], (2, 4), 0),
    "src larger than index": ([[0, 1], [2, 2]], (2, 3), 0),
    "dim 1": ([[0, 1], [3, 3]], (2, 2), 1),
    "dim -1": ([[0, 3, 3]], (3, 3), -1),
}


@pytest.mark.parametrize("case", list(SCATTER))
def test_scatter_add(case):
    index, src_shape, dim = SCATTER[case]

    def fn(L):
        src = L.arange(1, 1 + math.prod(src_shape), dtype=L.float32).reshape(src_shape)
        out = L.zeros(3, 4).scatter_add(dim, L.tensor(index), src)
        inplace = L.zeros(3, 4)
        inplace.scatter_add_(dim, L.tensor(index), src)
        return out, L.scatter_add(L.ones(3, 4), dim, L.tensor(index), src), inplace

    check(fn)


def test_scatter_add_gradient():
    # src larger than the index: its gradient is the upstream gradient
    # gathered at the index, 0 outside the index's extent (PyTorch 2.13's
    # backward fails on this shape, so its gradient is taken on the used part).
    def fn(L, src_shape):
        x = L.zeros(3, 4, requires_grad=True)
        src = L.arange(math.prod(src_shape), dtype=L.float32).reshape(src_shape).requires_grad_()
        out = x.scatter_add(0, L.tensor([[0, 1], [2, 2]]), src)
        (out * L.arange(12, dtype=L.float32).reshape(3, 4)).sum().backward()
        return x.grad, src.grad

    gx, gs = fn(devrt, (2, 3))
    tx, ts = fn(torch, (2, 2))
    assert_same(gx, tx)
    np.testing.assert_array_equal(gs.numpy(), np.pad(ts.numpy(), ((0, 0), (0, 1))))


@pytest.mark.parametrize(
    "index,src,err,msg",
    [
        ([[0, 5]], (1, 2), IndexError, r"index 5 is out of bounds for dimension 0 with size 3"),
        ([[0, -1]], (1, 2), IndexError, r"index -1 is out of bounds"),
        (
            [[0, 1, 2, 0], [0, 1, 0, 0]],
            (1, 2),
            ValueError,
            r"index of shape \[2, 4\] is larger than src",
        ),
        (
            [[0, 1, 2, 0, 1]],
            (1, 5),
            ValueError,
            r"index of shape \[1, 5\] is larger than the input",
        ),
        ([0, 1], (2,), ValueError, r"index of shape \[2\] must have as many dimensions"),
    ],
    ids=str,
)
def test_scatter_add_errors(index, src, err, msg):
    with pytest.raises(err, match=r"^\[scatter_add\] " + msg):
        devrt.zeros(3, 4).scatter_add(0, devrt.tensor(index), devrt.ones(*src))
    with pytest.raises(RuntimeError):
        torch.zeros(3, 4).scatter_add(0, torch.tensor(index), torch.ones(*src))


def test_scatter_add_dtypes_must_match():
    with pytest.raises(
        TypeError,
        match=r"^\[scatter_add\] src of dtype float64 must have the input's dtype float32",
    ):
        devrt.zeros(3, 4).scatter_add(
            0, devrt.tensor([[0, 1]]), devrt.ones(1, 2, dtype=devrt.float64)
        )
    with pytest.raises(
        TypeError, match=r"^\[scatter_add\] index must be an integer tensor, got float32"
    ):
        devrt.zeros(3, 4).scatter_add(0, devrt.tensor([[0.0, 1.0]]), devrt.ones(1, 2))


@pytest.mark.parametrize(
    "index", [[[0, 4], [0, 0], [1, 1]], [[0, -1]], [[4]], [[0, 1, 2, 3, 4]]], ids=str
)
def test_gather_out_of_range_raises_index_error(index):
    x = devrt.arange(12, dtype=devrt.float32).reshape(3, 4)
    with pytest.raises(
        IndexError, match=r"^\[gather\] index -?\d+ is out of bounds for dimension 1 with size 4"
    ):
        devrt.gather(x, 1, devrt.tensor(index))
    with pytest.raises(IndexError, match=r"^\[gather\] index"):
        x.t().gather(0, devrt.tensor(index).t())
    with pytest.raises(RuntimeError):
        torch.gather(torch.arange(12.0).reshape(3, 4), 1, torch.tensor(index))


def test_gather_and_scatter_add_of_0d_tensors():
    check(lambda L: L.gather(L.tensor(5.0), 0, L.tensor(0)))
    check(lambda L: L.tensor(5.0).scatter_add(0, L.tensor(0), L.tensor(2.0)))
    with pytest.raises(
        IndexError, match=r"^\[gather\] index 3 is out of bounds for dimension 0 with size 1"
    ):
        devrt.gather(devrt.tensor(5.0), 0, devrt.tensor(3))
    with pytest.raises(IndexError, match=r"^\[scatter_add\] index -1 is out of bounds"):
        devrt.tensor(5.0).scatter_add(0, devrt.tensor(-1), devrt.tensor(2.0))
    with pytest.raises(RuntimeError):
        torch.gather(torch.tensor(5.0), 0, torch.tensor(3))


def test_gather_matches():
    check(lambda L: L.gather(x24(L)[0], 1, L.tensor([[0, 3], [0, 0]])))
    check(lambda L: L.gather(x24(L)[0], 1, t(L, [[0, 3, 1, 2]], "int32")))
    check(lambda L: L.gather(x24(L)[0].t(), 0, L.tensor([[0, 3, 1], [3, 2, 1]])))


# --- gradients --------------------------------------------------------------------

GRADS = {
    "var constant": (lambda L, x: x.var(), [2.0, 2.0, 2.0]),
    "std constant": (lambda L, x: x.std(), [2.0, 2.0, 2.0]),
    "std constant rows": (lambda L, x: x.std(dim=1).sum(), [[2.0, 2.0], [1.0, 3.0]]),
    "std constant columns": (lambda L, x: x.std(dim=0).sum(), [[1.0, 2.0], [1.0, 5.0]]),
    "std correction 0 one element": (lambda L, x: x.std(correction=0), [2.0]),
    "var correction 0 one element": (lambda L, x: x.var(correction=0), [2.0]),
    "std biased": (lambda L, x: x.std(unbiased=False), [1.0, 2.0, 4.0]),
    "exp sin": (lambda L, x: (x.exp() * x.sin()).sum(), [0.1, 0.5]),
    "clamp sqrt log tanh": (
        lambda L, x: ((x * 2).clamp(min=0.5).sqrt().log() + x.tanh()).mean(),
        [0.1, 0.5, 2.0],
    ),
    "std var norm": (lambda L, x: x.std() * x.var() + x.norm(), [0.1, 0.5, 2.0]),
    "logsumexp": (lambda L, x: L.logsumexp(x * x, dim=0).sum(), [[0.1, 0.5], [2.0, -1.0]]),
    "normalise rows": (
        lambda L, x: (x / x.sum(1, keepdim=True)).pow(2).sum(),
        [[0.1, 0.5], [2.0, -1.0]],
    ),
    "cumsum prod": (lambda L, x: x.cumsum(0).prod(), [0.1, 0.5, 2.0, -1.0]),
    "amax abs": (lambda L, x: x.amax(dim=1).sum() + x.abs().sum(), [[0.1, 0.5], [2.0, 3.0]]),
    "norm at zero": (lambda L, x: x.norm(), [0.0, 0.0]),
    "add alpha": (lambda L, x: L.add(x, x * x, alpha=0.5).sum(), [0.1, -2.0]),
    "sum dim ()": (lambda L, x: x.sum(dim=()) * x.mean(dim=()), [[0.1, -2.0], [3.0, 4.0]]),
}


@pytest.mark.parametrize("case", list(GRADS))
def test_gradients_match_torch(case):
    fn, value = GRADS[case]
    grads = []
    for L in (devrt, torch):
        x = L.tensor(value, requires_grad=True)
        fn(L, x).backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=2e-6, atol=1e-7, equal_nan=True)
    assert not np.isnan(grads[1]).any() and not np.isnan(grads[0]).any()


def test_prod_takes_a_dim_list():
    # Documented difference: PyTorch's prod takes one dim; devrt's a list,
    # as sum's (an empty one reduces every dim).
    x = devrt.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.prod(dim=(0, 1)).item() == 24.0
    assert x.prod(dim=()).item() == 24.0
    assert x.prod(dim=[], keepdim=True).shape == (1, 1)


def test_alpha_float64_rounds_twice():
    # Documented difference: float64 add with alpha is a + (alpha * b), two
    # roundings, where PyTorch's fused multiply-add rounds once.
    a, b, alpha = 0.1, 0.3, 0.1
    got = devrt.add(
        devrt.tensor([a], dtype=devrt.float64), devrt.tensor([b], dtype=devrt.float64), alpha=alpha
    )
    assert got.item() == a + (alpha * b)


def test_remainder_gradients_follow_pytorch():
    """remainder(a, b) = a - floor(a / b) * b: d/da = 1, d/db = -floor(a / b),
    summed over broadcast dimensions."""

    def grads(lib):
        a = lib.tensor([[1.5, -2.5, 3.0], [0.2, 7.1, -4.4]], requires_grad=True)
        b = lib.tensor([0.7, 0.9, -1.1], requires_grad=True)
        (lib.remainder(a, b) * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        return a.grad.numpy(), b.grad.numpy()

    for got, want in zip(grads(devrt), grads(torch)):
        np.testing.assert_allclose(got, want, rtol=1e-6)
