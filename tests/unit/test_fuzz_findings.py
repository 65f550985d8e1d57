"""One small test for each distinct failure the differential fuzzers
(test_fuzz_differential.py, test_fuzz_graph.py) found.

The fixed ones are plain tests. The ones still open are strict xfails, each
named after its "open" entry of the fuzzer's deviation table: when a fix
makes one pass, pytest fails it as XPASS; then delete its xfail mark and
the table entry together.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import devrt
import devrt.graph as tf
import devrt.nn.functional as F

torch = pytest.importorskip("torch")


def _run(fetches, feeds):
    with tf.Session() as sess:
        return sess.run(fetches, feed_dict=feeds)


# --- fixed: devrt.graph ---------------------------------------------------------------


@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 3)])
@pytest.mark.parametrize("axis", [None, 0, -1])
def test_graph_reduce_any_all_of_empty_axes(shape, axis):
    with tf.Graph().as_default():
        x = tf.placeholder(tf.bool, shape)
        value = np.zeros(shape, bool)
        got_any, got_all = _run(
            [tf.reduce_any(x, axis=axis), tf.reduce_all(x, axis=axis)], {x: value}
        )
    np.testing.assert_array_equal(got_any, np.any(value, axis=axis))
    np.testing.assert_array_equal(got_all, np.all(value, axis=axis))


def test_graph_reduce_any_all_values():
    value = np.array([[True, False, True], [True, True, True]])
    with tf.Graph().as_default():
        x = tf.placeholder(tf.bool, [None, 3])
        got = _run([tf.reduce_any(x, 1), tf.reduce_all(x, 1), tf.reduce_all(x)], {x: value})
    np.testing.assert_array_equal(got[0], value.any(1))
    np.testing.assert_array_equal(got[1], value.all(1))
    assert got[2] == value.all()


def test_graph_squeeze_empty_axis_list_squeezes_every_size_1_dim():
    value = np.arange(3.0, dtype=np.float32).reshape(1, 3, 1)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [1, 3, 1])
        y = tf.squeeze(x, axis=[])
        assert y.shape.as_list() == [3]
        np.testing.assert_array_equal(_run(y, {x: value}), np.squeeze(value))


def test_graph_gather_axis_out_of_range():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [3])
        with pytest.raises(IndexError, match=r"^\[gather\] axis -2 is out of range .*rank 1"):
            tf.gather(x, tf.constant(0), axis=-2)
        with pytest.raises(IndexError, match=r"^\[gather\] axis 1 is out of range"):
            tf.gather(x, tf.constant(0), axis=1)


@pytest.mark.parametrize(
    "build, kind, pattern",
    [
        (lambda x: tf.reshape(x, None), TypeError, r"^\[reshape\] `shape` must be .*NoneType"),
        (lambda x: tf.transpose(x, perm=1.5), TypeError, r"^\[transpose\] `perm` must be"),
        (lambda x: tf.squeeze(x, axis=1.5), TypeError, r"^\[squeeze\] `axis` must be"),
        (lambda x: tf.reduce_sum(x, axis="a"), TypeError, r"^\[reduce_sum\] `axis` must be"),
        (lambda x: tf.layers.dense(x, None), TypeError, r"^\[dense\] `units` must be an int"),
        (lambda x: tf.layers.dense(x, 0), ValueError, r"^\[dense\] `units` must be a positive"),
        (lambda x: tf.layers.dense(x, 1.5), TypeError, r"^\[dense\] `units` must be an int"),
    ],
)
def test_graph_wrong_kinds_raise_under_the_op(build, kind, pattern):
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [2, 1])
        with pytest.raises(kind, match=pattern):
            build(x)


# --- fixed: eager ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32"])
def test_logsumexp_of_an_empty_dim_is_a_float_with_a_gradient(dtype):
    floating = dtype.startswith("float")
    x = devrt.zeros(3, 0, dtype=getattr(devrt, dtype), requires_grad=floating)
    t = torch.zeros(3, 0, dtype=getattr(torch, dtype), requires_grad=floating)
    got, want = devrt.logsumexp(x, dim=1), torch.logsumexp(t, dim=1)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    if floating:
        assert got.requires_grad
        got.sum().backward()
        assert tuple(x.grad.shape) == (3, 0)


@pytest.mark.parametrize("name, arg", [("huber_loss", "delta"), ("smooth_l1_loss", "beta")])
@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_and_smooth_l1_values_and_gradients_with_infinite_inputs(name, arg, delta):
    v = np.array([1.0, 0.5, 0.7, -3.0, 1.6, math.inf, -math.inf, 1.5, 2.5])
    target = np.full(v.shape, 0.5)
    out = []
    for lib in (devrt, torch):
        x = lib.tensor(v, requires_grad=True)
        loss = getattr(lib.nn.functional, name)(
            x, lib.tensor(target), reduction="none", **{arg: delta}
        )
        loss.sum().backward()
        out.append((loss.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-12)


@pytest.mark.parametrize(
    "call, pattern",
    [
        (
            lambda F, x: F.softplus(x, beta=[1, 2]),
            r"^\[softplus\] argument 'beta' must be a number",
        ),
        (lambda F, x: F.softplus(x, beta=()), r"^\[softplus\] argument 'beta' must be a number"),
        (lambda F, x: F.softplus(x, threshold="a"), r"^\[softplus\] argument 'threshold'"),
        (lambda F, x: F.leaky_relu(x, [1, 2]), r"^\[leaky_relu\] argument 'negative_slope'"),
        (lambda F, x: F.huber_loss(x, x, delta="a"), r"^\[huber_loss\] argument 'delta'"),
        (lambda F, x: F.smooth_l1_loss(x, x, beta=()), r"^\[smooth_l1_loss\] argument 'beta'"),
    ],
)
def test_formula_parameters_must_be_numbers(call, pattern):
    # A list or a tuple once broadcast into the result (or failed in [mul]).
    with pytest.raises(TypeError, match=pattern):
        call(devrt.nn.functional, devrt.tensor([1.0, -2.0]))


def test_a_formula_parameter_beyond_int64_raises():
    with pytest.raises(ValueError, match=r"^\[softplus\] argument 'beta': Python integer"):
        devrt.nn.functional.softplus(devrt.tensor([1.0]), beta=2**70)


@pytest.mark.parametrize("slope", [0.2, np.float32(0.2), 1, np.True_])
def test_leaky_relu_and_softplus_take_numbers(slope):
    x = np.array([1.5, -2.0, 0.0, 30.0])
    got = devrt.nn.functional.leaky_relu(devrt.tensor(x), slope).numpy()
    want = torch.nn.functional.leaky_relu(torch.tensor(x), float(slope)).numpy()
    np.testing.assert_allclose(got, want)
    got = devrt.nn.functional.softplus(devrt.tensor(x), beta=slope).numpy()
    want = torch.nn.functional.softplus(torch.tensor(x), beta=float(slope)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)


def _grads(lib, f, *arrays):
    """f(*tensors) and the gradients of its sum, as NumPy arrays."""
    xs = [lib.tensor(a, requires_grad=True) for a in arrays]
    y = f(lib, *xs)
    y.sum().backward()
    return [y.detach().numpy()] + [x.grad.numpy() for x in xs]


def test_arange_of_a_numpy_bool_is_float32_and_eye_takes_no_m_none():
    got, want = devrt.arange(np.True_), torch.arange(np.True_)
    assert str(got.dtype) == "devrt.float32" == str(want.dtype).replace("torch", "devrt")
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert devrt.arange(True).dtype is devrt.int64
    with pytest.raises(TypeError, match=r"^\[eye\]"):
        devrt.eye(3, None)
    with pytest.raises(TypeError, match=r"^\[eye\] expected an int, got bool"):
        devrt.eye(True)
    _same(lambda lib: lib.eye(2, 3).numpy())


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.clamp(lib.tensor([1, 2], dtype=lib.int32), max=np.True_),
        lambda lib: lib.tensor([1, 2], dtype=lib.int32) + np.True_,
        lambda lib: lib.full((2,), np.True_),
        lambda lib: lib.where(lib.tensor([True, False]), lib.tensor([1, 2]), np.False_),
    ],
)
def test_a_numpy_bool_is_a_float_number(call):
    got, want = call(devrt), call(torch)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize(
    "call, pattern",
    [
        (
            lambda: devrt.ones(2, 2).transpose(True, 0),
            r"^\[transpose\] argument 'dim0' must be an int, got bool",
        ),
        (
            lambda: devrt.ones(2).unsqueeze(np.True_),
            r"^\[unsqueeze\] argument 'dim' must be an int",
        ),
        (
            lambda: devrt.ones(3).narrow(0, np.float32(1.5), 1),
            r"^\[narrow\] argument 'start' must be an int",
        ),
        (lambda: devrt.ones(2).sum(True), r"^\[sum\] expected a shape .*got bool"),
        (lambda: devrt.zeros(True), r"^\[zeros\] expected a shape .*got bool"),
        (lambda: devrt.zeros([2, np.True_]), r"^\[zeros\] shape entries must be ints"),
        (lambda: devrt.ones(2, 2).split(True, 0), r"^\[split\] expected a shape .*got bool"),
        (
            lambda: devrt.ones(2, 2).sum(0, keepdim=1),
            r"^\[sum\] argument 'keepdim' must be a bool, got int",
        ),
        (
            lambda: devrt.ones(2, 2).std(0, keepdim=np.True_),
            r"^\[std\] argument 'keepdim' must be a bool",
        ),
        (lambda: devrt.ones(2, 2).any(0, keepdim=2), r"^\[any\] argument 'keepdim' must be a bool"),
    ],
)
def test_bools_and_numpy_floats_are_not_ints_nor_ints_bools(call, pattern):
    with pytest.raises(TypeError, match=pattern):
        call()


def test_numpy_integers_are_ints_for_dims_and_sizes():
    _same(lambda lib: lib.zeros(np.int64(2), np.int32(3)).numpy())
    _same(lambda lib: lib.ones(np.int64(3)).view(np.int64(3)).numpy())
    _same(lambda lib: lib.ones(2, 3).sum(np.int64(1)).numpy())
    _same(lambda lib: lib.ones(4, 3).chunk(np.int64(2))[1].numpy())
    _same(lambda lib: lib.ones(2, 3).transpose(np.int32(0), 1).numpy())


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.add(2, 3),
        lambda lib: lib.add(2, 3, alpha=2),
        lambda lib: lib.sub(2.5, np.float32(3)),
        lambda lib: lib.mul(True, 3),
        lambda lib: lib.div(2, 3),
        lambda lib: lib.floor_divide(7, 2),
        lambda lib: lib.multiply(2.0, 3),
    ],
)
def test_arithmetic_of_two_numbers_is_a_0d_tensor(call):
    got, want = call(devrt), call(torch)
    assert got.shape == () and str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_allclose(got.numpy(), want.numpy())


def test_only_arithmetic_takes_two_numbers():
    for name in ("maximum", "atan2", "eq"):
        with pytest.raises(TypeError, match=rf"^\[{name}\] expected a tensor operand"):
            getattr(devrt, name)(2, 3)


@pytest.mark.parametrize(
    "value, dtype",
    [(-1, "uint8"), (-255, "uint8"), (255, "uint8"), (2**31 - 1, "int32"), (-(2.0**63), "int64"),
     (math.inf, "float16"), (math.nan, "float32"), (65504.0, "float16"), (2.5, "bool")],
)  # fmt: skip
def test_full_and_fill_take_values_the_dtype_holds(value, dtype):
    _same(lambda lib: lib.full((2,), value, dtype=getattr(lib, dtype)).float().numpy())
    _same(lambda lib: lib.zeros(2, dtype=getattr(lib, dtype)).fill_(value).float().numpy())


@pytest.mark.parametrize(
    "value, dtype",
    [(-256, "uint8"), (256, "uint8"), (-1.0, "uint8"), (255.5, "uint8"), (2**31, "int32"),
     (math.inf, "int32"), (-math.inf, "int64"), (2.0**63, "int64"), (1e30, "float16"), (65520.0, "float16"),
     (1e300, "float32"), (1e39, "bfloat16")],
)  # fmt: skip
def test_full_and_fill_refuse_values_the_dtype_cannot_hold(value, dtype):
    for lib in (devrt, torch) if value != 2.0**63 else (devrt,):  # PyTorch wraps 2**63
        with pytest.raises((ValueError, RuntimeError), match=r"\[full\] value .* cannot|overflow"):
            lib.full((2,), value, dtype=getattr(lib, dtype))
    with pytest.raises(ValueError, match=r"^\[fill_\] value .* cannot be converted to dtype"):
        devrt.zeros(0, dtype=getattr(devrt, dtype)).fill_(value)
    with pytest.raises(ValueError, match=r"^\[full\]"):
        devrt.full_like(devrt.zeros(2, dtype=getattr(devrt, dtype)), value)


@pytest.mark.parametrize(
    "shapes, dim",
    [([(0,), (2, 3)], 1), ([(2, 3), (0,), (2, 1)], 1), ([(0,), (0,)], 5), ([(0,), (3,)], 0),
     ([(0,)], -3)],
)  # fmt: skip
def test_cat_skips_1d_empty_tensors(shapes, dim):
    arrays = [np.arange(math.prod(s), dtype=np.float64).reshape(s) for s in shapes]
    got = _grads(devrt, lambda lib, *xs: lib.cat(xs, dim) * 2, *arrays)
    want = _grads(torch, lambda lib, *xs: lib.cat(xs, dim) * 2, *arrays)
    for a, b in zip(got, want, strict=True):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_cat_with_a_1d_empty_tensor_still_checks_the_others():
    with pytest.raises(IndexError, match=r"^\[cat\] axis 2 is out of range"):
        devrt.cat([devrt.ones(2, 3), devrt.zeros(0)], dim=2)
    _same(lambda lib: lib.cat([lib.zeros(0, dtype=lib.int32), lib.ones(2, 3)], 1).numpy())
    assert devrt.cat([devrt.zeros(0, dtype=devrt.int32), devrt.ones(2)]).dtype is devrt.float32


@pytest.mark.parametrize("correction", [0.5, 1.5, 2.5, 3.0, True])
@pytest.mark.parametrize("dim", [None, 1, (0, 1)])
def test_std_and_var_with_a_float_correction(correction, dim):
    v = np.array([[1.0, 2.0, 4.0, 3.5], [0.5, -1.0, 3.0, 0.25]])
    for name in ("std", "var"):

        def f(lib, x, name=name):
            kw = {} if dim is None else {"dim": dim}
            return getattr(x, name)(correction=correction, **kw)

        for a, b in zip(_grads(devrt, f, v), _grads(torch, f, v), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_std_correction_must_be_a_number():
    with pytest.raises(TypeError, match=r"^\[std\] argument 'correction' must be a number"):
        devrt.ones(3).std(correction="a")


@pytest.mark.parametrize(
    "lo, hi",
    [([1.0, 0.0, 2.0], None), (None, [0.5, 3.0, 2.0]), ([1.0, 0.0, 2.0], [0.5, 3.0, 2.0]),
     ([0.0, 2.5, 2.0], [[2.0], [math.nan]]), ([2.0], [2.0]), ([3.0, 0.5, 2.5], [1.0])],
)  # fmt: skip
def test_clamp_with_tensor_bounds_values_and_gradients(lo, hi):
    v = np.array([[0.5, 3.0, 2.0], [-1.0, 2.0, 4.0]])
    arrays = [v] + [np.asarray(b) for b in (lo, hi) if b is not None]

    def f(lib, x, *bounds):
        it = iter(bounds)
        return lib.clamp(
            x, min=None if lo is None else next(it), max=None if hi is None else next(it)
        )

    for a, b in zip(_grads(devrt, f, *arrays), _grads(torch, f, *arrays), strict=True):
        np.testing.assert_array_equal(a, b)


def test_clamp_bounds_are_both_numbers_or_both_tensors():
    with pytest.raises(TypeError, match=r"^\[clamp\] min and max must both be numbers or both"):
        devrt.clamp(devrt.ones(2), min=devrt.tensor(0.0), max=1)
    _same(lambda lib: lib.clamp(lib.tensor([1, 5]), min=lib.tensor(2.5)).numpy())
    got = devrt.clamp(devrt.tensor([True, False]), min=devrt.tensor(False))
    assert got.dtype is devrt.bool and got.tolist() == [True, False]


@pytest.mark.parametrize("kw", [{"max": 0.5}, {"max": 0}, {"min": 2}])
def test_clamp_of_a_bool_tensor_computes_in_the_bounds_type(kw):
    got, want = (lib.clamp(lib.tensor([True, False]), **kw) for lib in (devrt, torch))
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(NotImplementedError, match=r"^\[clamp\] is not defined for a bool"):
        devrt.clamp(devrt.tensor([True]), min=False, max=True)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_with_dim_of_bool_and_0d_tensors(name):
    for make in (
        lambda lib: lib.tensor([[False, True], [True, True]]),
        lambda lib: lib.tensor(3.0),
    ):
        for dim in (0, -1):
            got, want = (getattr(make(lib), name)(dim=dim) for lib in (devrt, torch))
            np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
            np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
    with pytest.raises(TypeError, match=r"^\[argmax\] is not defined for bool"):
        devrt.tensor([True]).argmax()


@pytest.mark.parametrize("call", [
    lambda lib: lib.flip(lib.tensor(2.0), (-1,)),
    lambda lib: lib.logsumexp(lib.tensor(2.0), 0),
    lambda lib: lib.logsumexp(lib.tensor(2.0), -1, keepdim=True),
    lambda lib: lib.tensor(2.0).norm(dim=0),
])  # fmt: skip
def test_dims_0_and_minus_1_of_a_0d_tensor(call):
    _same(lambda lib: call(lib).detach().numpy())


@pytest.mark.parametrize("call", [
    lambda: devrt.tensor(1.0).transpose(0, 1),
    lambda: devrt.tensor(1.0).flatten(1),
    lambda: devrt.tensor(1.0).flatten(0, -2),
    lambda: devrt.flip(devrt.tensor(1.0), 1),
    lambda: devrt.tensor(1.0).unbind(0),
])  # fmt: skip
def test_other_dims_of_a_0d_tensor_raise_index_error(call):
    with pytest.raises(IndexError, match=r"^\[\w+\]"):
        call()


def test_split_by_0_needs_an_empty_dim():
    with pytest.raises(ValueError, match=r"^\[split\] split size must be positive \(or 0"):
        devrt.ones(2).split(0)


def test_setitem_with_leading_size_1_dims_and_advanced_indices():
    def assign(lib):
        x = lib.zeros(3, 2)
        x[[0, 2]] = lib.ones(1, 1, 2, 2) * 5
        x[1:2, :] = lib.tensor([[[7.0, 8.0]]])
        return x.numpy()

    _same(assign)


def test_an_index_into_a_dim_of_size_0_raises_on_read_too():
    """As PyTorch: an empty result checks only indices into a dim of size 0."""
    for lib in (devrt, torch):
        with pytest.raises(IndexError, match=r"^\[index\] index is out of bounds|out of bounds"):
            lib.zeros(0, 0)[lib.tensor([0])]
    _same(lambda lib: lib.zeros(3, 0)[lib.tensor([0, 5])].numpy())
    _same(lambda lib: lib.zeros(0, 2)[lib.tensor([], dtype=lib.int64)].numpy())


def test_std_and_var_with_an_empty_dim_list_have_the_gradient_over_every_dim():
    """Documented: PyTorch's backward reads dim=() as no dim (infinities)."""
    v = np.array([[1.0, 2.0], [4.0, 8.0]])
    for name in ("std", "var"):
        got = _grads(devrt, lambda lib, x, name=name: getattr(x, name)(dim=()), v)
        want = _grads(torch, lambda lib, x, name=name: getattr(x, name)(), v)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12)


# --- open: strict xfails, one per "open" entry of the deviation tables ------------------


def _same(f):
    """f(devrt) and f(torch) give equal values (both must succeed)."""
    a, b = f(devrt), f(torch)
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float))


def _open(family: str):
    return pytest.mark.xfail(strict=True, reason=f"open fuzzer finding: {family}")


def test_relu_and_abs_gradients_at_nan():
    def grads(lib):
        x = lib.tensor([math.nan, 1.0], requires_grad=True)
        (lib.relu(x) + lib.abs(x)).sum().backward()
        return x.grad.numpy()

    _same(grads)


def test_flip_dim_0_of_a_0d_tensor():
    _same(lambda lib: lib.flip(lib.tensor(1.0), (0,)).numpy())


def test_transpose_of_a_0d_tensor_with_dim_1_raises():
    with pytest.raises(IndexError, match=r"^\[transpose\]"):
        devrt.tensor(1.0).transpose(1, 0)


def test_cumsum_of_a_0d_tensor_backward():
    def grad(lib):
        x = lib.tensor(2.0, requires_grad=True)
        lib.cumsum(x, 0).backward()
        return x.grad.numpy()

    _same(grad)


def test_clamp_and_max_of_bool_tensors():
    _same(lambda lib: lib.clamp(lib.tensor([True, False]), max=0.5).numpy())
    _same(lambda lib: lib.tensor([False, True]).max(dim=0)[1].numpy())


def test_add_of_two_numbers():
    _same(lambda lib: lib.add(2, 3).numpy())


def test_zeros_with_a_numpy_integer_size():
    _same(lambda lib: lib.zeros(np.int64(2)).numpy())


@pytest.mark.parametrize(
    "call",
    [
        lambda: devrt.ones_like(devrt.ones(2), dtype=np.float32(1.5)),
        lambda: devrt.ones(4).view(None),  # once a float64 view of the float32 bits
        lambda: devrt.ones(4).view(np.float32(1.0)),
        lambda: devrt.zeros(2, dtype=np.array([1])),
        lambda: devrt.ones(2).to(np.int64(3)),
    ],
)
def test_only_types_names_and_dtypes_are_dtypes(call):
    with pytest.raises(TypeError, match=r"^\[\w+\] not a dtype: "):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda d: devrt.eye(2, dtype=d),
        lambda d: devrt.randperm(3, dtype=d),
        lambda d: devrt.ones(2).type(d),
    ],
)
def test_a_tensor_is_not_a_dtype(call):
    # .to(t) takes t's dtype: these once made an int64 result of a tensor "dtype".
    with pytest.raises(TypeError, match=r"^\[\w+\] not a dtype: tensor"):
        call(devrt.tensor([1, 2]))


@pytest.mark.parametrize("dtype", [np.float32, np.dtype("int32"), "float16", devrt.bool, float])
def test_numpy_types_names_and_dtypes_stay_dtypes(dtype):
    want = {np.float32: "float32", "float16": "float16", float: "float64"}
    got = devrt.ones(2, dtype=dtype).dtype
    name = want.get(dtype) if not isinstance(dtype, (np.dtype, devrt.dtype)) else None
    assert str(got).split(".")[-1] == (name or str(dtype).split(".")[-1])


@pytest.mark.parametrize("name", ["cat", "stack"])
def test_cat_and_stack_of_a_tensor_raise(name):
    with pytest.raises(TypeError, match=rf"^\[{name}\] argument 'tensors'"):
        getattr(devrt, name)(devrt.ones(2, 2))


@pytest.mark.parametrize("value", [math.nan, math.inf, 1e30])
def test_full_of_an_integer_dtype_refuses_values_it_cannot_hold(value):
    with pytest.raises((ValueError, RuntimeError, OverflowError), match=r"^\[full\]"):
        devrt.full((2,), value, dtype=devrt.int64)


@pytest.mark.parametrize("dim", [True, np.True_, np.float32(1.5)])
def test_a_bool_or_a_numpy_float_is_not_a_dim(dim):
    with pytest.raises(TypeError, match=r"^\[gather\]"):
        devrt.ones(2, 2).gather(dim, devrt.zeros(2, 2, dtype=devrt.int64))


def test_gather_with_an_empty_index_of_another_rank():
    _same(lambda lib: lib.ones(2).gather(0, lib.zeros(0, 0, dtype=lib.int64)).numpy())


def test_keepdim_must_be_a_bool():
    with pytest.raises(TypeError, match=r"^\[argmax\]"):
        devrt.ones(2, 2).argmax(dim=0, keepdim=2**70)


def test_split_of_an_empty_dim_by_0():
    def pieces(lib):
        return [tuple(p.shape) for p in lib.zeros(1, 0, 1).split(0, -2)]

    assert pieces(devrt) == pieces(torch)


def test_clamp_with_tensor_bounds():
    _same(lambda lib: lib.clamp(lib.tensor([0.5, 3.0]), min=lib.tensor([1.0, 0.0])).numpy())


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_with_a_tensor_for_dim_raise(name):
    with pytest.raises(TypeError, match=rf"^\[{name}\]"):
        getattr(devrt.ones(2, 3), name)(dim=devrt.tensor(1))


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_overloads_follow_pytorch(name):
    """max(x), max(x, dim, keepdim), max(x, other) and max(x, other=...)."""
    x = devrt.tensor([[1.0, 5.0], [4.0, 2.0]])
    y = devrt.tensor([[3.0, 3.0], [3.0, 3.0]])
    pick = max if name == "max" else min
    fn, method = getattr(devrt, name), getattr(x, name)
    assert fn(x).item() == pick(1.0, 5.0, 4.0, 2.0)
    for r in (fn(x, 1), method(1), fn(x, dim=1), method(dim=1, keepdim=False)):
        assert r.values.tolist() == [pick(1.0, 5.0), pick(4.0, 2.0)]
    assert tuple(method(1, True).values.shape) == (2, 1)
    elementwise = [[pick(a, 3.0) for a in row] for row in x.tolist()]
    for r in (fn(x, y), method(y), fn(x, other=y), method(other=y)):
        assert r.tolist() == elementwise
    with pytest.raises(TypeError, match=rf"^\[{name}\] keepdim must be a bool"):
        method(1, 2)
    with pytest.raises(TypeError, match=rf"^\[{name}\] dim must be an int, got float"):
        method(1.5)
    with pytest.raises(TypeError, match=rf"^\[{name}\] other must be a Tensor"):
        method(other=2)
    with pytest.raises(TypeError, match=rf"^\[{name}\] got an unexpected keyword"):
        method(axis=1)


def test_full_like_of_a_numpy_scalar_raises():
    with pytest.raises(TypeError, match=r"^\[full_like\]"):
        devrt.full_like(np.True_, 1)


def test_indexing_with_a_0d_bool_mask():
    _same(lambda lib: lib.ones(2)[lib.tensor(True)].numpy())


def test_assigning_values_with_a_leading_size_1_dim():
    def assign(lib):
        x = lib.zeros(3)
        x[:2] = lib.ones(1, 2)
        return x.numpy()

    _same(assign)


def test_out_of_range_index_with_an_empty_result_raises():
    x = devrt.zeros(0, 1, 3)
    with pytest.raises(IndexError, match=r"^\["):
        x[devrt.tensor([0, 1, 2]), 1:1] = -2


def test_cat_of_an_empty_1d_tensor_along_dim_1():
    _same(lambda lib: lib.cat([lib.zeros(0)], dim=1).numpy())


def test_std_with_a_float_correction():
    _same(lambda lib: lib.tensor([1.0, 2.0, 4.0]).std(correction=0.5).numpy())


def test_graph_cumsum_of_a_0d_tensor_raises():
    with tf.Graph().as_default(), pytest.raises(IndexError, match=r"^\["):
        tf.cumsum(tf.constant(1.0), axis=0)


def test_graph_reduce_mean_over_axis_0_of_a_0d_value_raises():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32)  # the rank is known at run time only
        y = tf.reduce_mean(x, axis=0)
        with pytest.raises(IndexError, match=r"^\["):
            _run(y, {x: np.float32(1.0)})


def test_graph_gather_out_of_range_into_an_empty_result_raises():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32)
        y = tf.gather(x, tf.constant(5), axis=0)
        with pytest.raises(IndexError, match=r"^\["):
            _run(y, {x: np.zeros((0, 0), np.float32)})


def test_graph_gather_with_an_axis_out_of_range_at_run_time_raises():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32)  # the rank is known at run time only
        y = tf.gather(x, tf.constant([[0, 0], [0, 0]]), axis=-2)
        with pytest.raises(IndexError, match=r"^\["):
            _run(y, {x: np.ones(1, np.float32)})


def test_graph_softmax_of_a_0d_value_raises():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32)  # the rank is known at run time only
        y = tf.nn.log_softmax(x)
        with pytest.raises((ValueError, IndexError), match=r"^\["):
            _run(y, {x: np.float32(1.0)})


@pytest.mark.parametrize("values", [[True, False, True], [1, 2, 3]])
def test_logsumexp_of_bools_and_integers_computes_in_float(values):
    _same(lambda lib: lib.logsumexp(lib.tensor(values), 0).numpy())


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: F.silu(np.int64(2)), r"^\[silu\] argument 'input' must be a Tensor, got int64"),
        (lambda: F.softplus(2.0), r"^\[softplus\] argument 'input' must be a Tensor, got float"),
        (lambda: F.logsigmoid(2.0), r"^\[logsigmoid\] argument 'input' must be a Tensor"),
        (lambda: F.layer_norm(2.0, (1,)), r"^\[layer_norm\] argument 'input' must be a Tensor"),
        (lambda: F.huber_loss(2.0, 1.0), r"^\[huber_loss\] expected a tensor operand"),
        (lambda: F.smooth_l1_loss(2.0, 1.0), r"^\[smooth_l1_loss\] expected a tensor operand"),
        (lambda: devrt.ones(2).flip(devrt.tensor([0])), r"^\[flip\] dims must be an int or"),
        (lambda: devrt.ones(2).flip([True]), r"^\[flip\] dims must be ints, got bool"),
        (
            lambda: devrt.cumsum(devrt.ones(2), 0, dtype=devrt.tensor([1])),
            r"^\[cumsum\] dtype must be a dtype",
        ),
        (lambda: devrt.linspace(0, 1, True), r"^\[linspace\] steps must be an int, got bool"),
    ],
)
def test_wrong_kinds_found_after_the_semantics_fixes(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_a_numpy_bool_is_not_an_index_but_a_python_bool_is():
    with pytest.raises(IndexError, match=r"^\[index\] a NumPy bool is not an index"):
        devrt.ones(2)[np.True_]
    _same(lambda lib: lib.ones(2)[True].numpy())
    _same(lambda lib: lib.ones(2)[False].numpy())


def test_huber_of_a_tensor_and_a_number_is_computed():
    """A number operand (documented) is taken as a tensor of that value."""
    got = F.huber_loss(devrt.tensor([0.5, 3.0]), 1.0, reduction="none")
    np.testing.assert_allclose(got.numpy(), [0.125, 1.5])


def test_a_float_alpha_is_refused_only_for_an_integer_result():
    """int + float * alpha is a float result: PyTorch takes a float alpha."""
    _same(lambda lib: lib.add(lib.tensor([1, 2]), lib.tensor([0.5, 1.0]), alpha=0.5).numpy())
    _same(lambda lib: lib.sub(lib.tensor([1, 2]), lib.tensor([0.5, 1.0]), alpha=0.5).numpy())
    with pytest.raises(TypeError, match=r"^\[add\] alpha must be an integer"):
        devrt.add(devrt.tensor([1, 2]), devrt.tensor([3, 4]), alpha=0.5)
    with pytest.raises(TypeError, match=r"^\[add\] alpha must be an integer"):
        devrt.tensor([1, 2]).add_(devrt.tensor([0.5, 1.0]), alpha=0.5)


def test_scatter_add_and_gather_of_an_empty_index_check_no_sizes():
    """An empty index reads and writes nothing, as in PyTorch."""
    _same(
        lambda lib: (
            lib.zeros(0, 2, 3)
            .scatter_add(0, lib.zeros(3, 3, 0, dtype=lib.int64), lib.ones(3, 3, 0))
            .numpy()
        )
    )
    _same(lambda lib: lib.zeros(1, 0).gather(0, lib.zeros(0, 1, dtype=lib.int64)).numpy())


@pytest.mark.parametrize(
    "start, end, steps, dtype",
    [
        (2, 3.5, 4, "uint8"),
        (-2.7, 5.9, 7, "int64"),
        (0.5, 10.5, 5, "int32"),
        (3.9, 3.9, 1, "int64"),
    ],
)
def test_linspace_of_integers_truncates_start_and_end_first(start, end, steps, dtype):
    _same(lambda lib: lib.linspace(start, end, steps, dtype=getattr(lib, dtype)).numpy())


def test_a_number_operand_is_not_checked_against_the_dtype():
    """Only full and fill_ refuse a value the dtype cannot hold."""
    for call in (
        lambda lib: lib.eq(lib.zeros(0, dtype=lib.uint8), -(2**40)),
        lambda lib: lib.tensor([1, 2], dtype=lib.int32) + 2**40,
    ):
        got, want = call(devrt), call(torch)
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("index", [0, 5])
def test_graph_gather_of_an_empty_value_checks_indices_into_a_dim_of_size_0_only(index):
    """An index into a dim of size 0 raises; otherwise nothing is read."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32)
        y = tf.gather(x, tf.constant([0, index]), axis=0)
        with pytest.raises(IndexError, match=r"^\[GatherV2 'GatherV2'\] .*out of bounds"):
            _run(y, {x: np.zeros((0, 2), np.float32)})
        assert _run(y, {x: np.zeros((3, 0), np.float32)}).shape == (2, 0)


@pytest.mark.parametrize(
    "a, b",
    [("float16", "int32"), ("float32", "int64"), ("float64", "int32"), ("int32", "float32")],
)
@pytest.mark.parametrize("name", ["add", "sub"])
def test_add_with_a_float_alpha_keeps_the_dtype_of_its_operands(a, b, name):
    def call(lib):
        x = lib.tensor(1.5, dtype=getattr(lib, a)) if a.startswith("float") else lib.tensor(3)
        y = lib.tensor(2, dtype=getattr(lib, b)) if b.startswith("int") else lib.tensor(2.5)
        return getattr(lib, name)(x.to(getattr(lib, a)), y.to(getattr(lib, b)), alpha=0.5)

    got, want = call(devrt), call(torch)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    if got.dtype is not devrt.float16:
        np.testing.assert_allclose(got.numpy(), want.numpy())


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_and_minimum_give_a_nan_result_the_gradient_of_both_sides(name):
    a = np.array([math.nan, 1.0, 2.0, 3.0, math.inf])
    b = np.array([1.0, math.nan, 2.0, 0.5, math.inf])
    f = lambda lib, x, y: getattr(lib, name)(x, y) * lib.tensor([1.0, 2.0, 3.0, 4.0, 5.0])  # noqa: E731
    for got, want in zip(_grads(devrt, f, a, b), _grads(torch, f, a, b), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ["huber_loss", "smooth_l1_loss", "l1_loss", "mse_loss"])
def test_regression_losses_have_a_nan_gradient_at_a_nan_input(name):
    v = np.array([math.nan, 0.5, 3.0, -2.0])

    def f(lib, x):
        return getattr(lib.nn.functional, name)(
            x, lib.zeros(4, dtype=lib.float64), reduction="none"
        )

    for got, want in zip(_grads(devrt, f, v), _grads(torch, f, v), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "call, kind, pattern",
    [
        # (PyTorch raises TypeError for each of these too)
        (lambda: devrt.full(np.int64(2), 1.0), TypeError, r"^\[full\] argument 'size' must be a"),
        (lambda: devrt.full(2, 1.0), TypeError, r"^\[full\] argument 'size' must be a"),
        (lambda: devrt.ones(2).sub(devrt.ones(2), alpha=None), TypeError, r"^\[sub\] argument 'alpha'"),
        (lambda: devrt.ones(2, 2).logsumexp(0, keepdim=2**70), TypeError, r"^\[logsumexp\] argument 'keepdim'"),
        (lambda: devrt.ones(2, 2).norm(dim=0, keepdim=1), TypeError, r"^\[norm\] argument 'keepdim'"),
    ],
)  # fmt: skip
def test_more_wrong_kinds_the_long_run_found(call, kind, pattern):
    with pytest.raises(kind, match=pattern):
        call()


@pytest.mark.parametrize(
    "dtype, key, value",
    [
        ("int32", (), -(2**40)),
        ("int64", (), math.nan),
        ("uint8", (), -(2**40)),
        ("int32", 0, math.inf),
    ],
)
def test_assigning_a_number_the_dtype_cannot_hold_raises(dtype, key, value):
    for shape in ((2,), (0,)):
        x = devrt.zeros(*shape, dtype=getattr(devrt, dtype))
        if key == 0 and not shape[0]:
            continue
        with pytest.raises(ValueError, match=r"^\[setitem\] value .* cannot be converted"):
            x[key] = value
        t = torch.zeros(*shape, dtype=getattr(torch, dtype))
        with pytest.raises(RuntimeError, match="overflow"):
            t[key] = value
    _same(lambda lib: _assign(lib.zeros(3, dtype=lib.int32), slice(None), 2.7).numpy())


def _assign(x, key, value):
    x[key] = value
    return x


def test_scatter_add_of_an_empty_index_checks_no_src_shape():
    _same(
        lambda lib: (
            lib.zeros(0, 0, 2, dtype=lib.int64)
            .scatter_add(0, lib.zeros(0, 0, 1, dtype=lib.int64), lib.ones(2, dtype=lib.int64))
            .numpy()
        )
    )


def test_linspace_of_uint8_takes_its_ends_in_uint8():
    _same(lambda lib: lib.linspace(0, -2, 4, dtype=lib.uint8).numpy())


@pytest.mark.parametrize(
    "dtype, value",
    [("float16", -1.1e12), ("bfloat16", 1e300), ("uint8", -1), ("bool", 5), ("float32", 1e30)],
)
def test_assigning_a_number_as_pytorch_does(dtype, value):
    _same(lambda lib: _assign(lib.zeros(3, dtype=getattr(lib, dtype)), (), value).float().numpy())
    with pytest.raises(ValueError, match=r"^\[setitem\] value .* float32"):
        _assign(devrt.zeros(3), (), 1e300)


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.arange(2, 2.5, -1.5, dtype=lib.int64),
        lambda lib: lib.arange(2.7, 2.2, 1, dtype=lib.int32),
        lambda lib: lib.linspace(-1.5, -2, 5, dtype=lib.uint8),
        lambda lib: lib.linspace(0, 300, 5, dtype=lib.uint8),
        lambda lib: lib.linspace(0, 1e300, 5, dtype=lib.float32),
    ],
)
def test_ranges_refuse_what_pytorch_refuses(call):
    with pytest.raises(RuntimeError):
        call(torch)
    with pytest.raises(ValueError, match=r"^\[(arange|linspace)\]"):
        call(devrt)
    _same(lambda lib: lib.linspace(-2, 2, 3, dtype=lib.uint8).numpy())


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.arange(0, None, dtype=lib.float64),
        lambda lib: lib.arange(None),
        lambda lib: lib.arange(None, 3),
        lambda lib: lib.arange(2, None, 1),
    ],
)
def test_arange_refuses_an_explicit_none(call):
    with pytest.raises(TypeError):
        call(torch)
    with pytest.raises(TypeError, match=r"^\[arange\] (start|end) must be a number, got NoneType"):
        call(devrt)


def test_arange_counts_to_a_lone_end_by_position_or_keyword():
    _same(lambda lib: lib.arange(4).numpy())
    _same(lambda lib: lib.arange(end=4).numpy())
    _same(lambda lib: lib.arange(start=1, end=4).numpy())
    _same(lambda lib: lib.arange(1, 7, step=2).numpy())
    for call in (lambda lib: lib.arange(), lambda lib: lib.arange(start=3)):
        with pytest.raises(TypeError):
            call(torch)
        with pytest.raises(TypeError, match=r"^\[arange\] missing argument 'end'"):
            call(devrt)
    with pytest.raises(TypeError, match=r"^\[arange\] got start both"):
        devrt.arange(1, 4, start=0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_cross_entropy_at_the_ends_of_0_1_as_pytorch(dtype):
    # The floored logs' own derivatives vanish where the log is floored:
    # PyTorch's gradients are (x - y) / max(x (1 - x), 1e-12) and -logit(x),
    # and log(1 - x) is log1p(-x) (a loss of 1e-300 at x = 1e-300, y = 0).
    points = [0.0, 1.0, 0.5, 1e-300, 1e-8, 0.999, 1 - 1e-16]
    for x_value in points:
        for y_value in (0.0, 1.0, 0.3):
            got = []
            for lib in (devrt, torch):
                x = lib.tensor(x_value, dtype=getattr(lib, dtype), requires_grad=True)
                y = lib.tensor(y_value, dtype=getattr(lib, dtype), requires_grad=True)
                loss = lib.nn.functional.binary_cross_entropy(x, y)
                loss.backward()
                got.append((loss.item(), x.grad.item(), y.grad.item()))
            assert got[0] == got[1], (x_value, y_value, got)


@pytest.mark.parametrize("value", [1.5, -0.25, float("nan")])
def test_binary_cross_entropy_refuses_what_is_not_a_probability(value):
    for x in ([value], [0.5, value]):
        with pytest.raises(RuntimeError):
            torch.nn.functional.binary_cross_entropy(torch.tensor(x), torch.ones(len(x)))
        with pytest.raises(ValueError, match=r"^\[binary_cross_entropy\] the input's values"):
            devrt.nn.functional.binary_cross_entropy(devrt.tensor(x), devrt.ones(len(x)))


def test_add_with_alpha_scales_in_the_dtype_it_computes_in():
    _same(
        lambda lib: (
            lib.tensor([[0.2]], dtype=lib.float64)
            .add(lib.tensor([0.705333333], dtype=lib.float32), alpha=1.5)
            .numpy()
        )
    )
    got = devrt.tensor([[0.2]], dtype=devrt.float64).add(
        devrt.tensor([0.705333333], dtype=devrt.float32), alpha=1.5
    )
    want = torch.tensor([[0.2]], dtype=torch.float64).add(
        torch.tensor([0.705333333], dtype=torch.float32), alpha=1.5
    )
    assert got.item() == want.item()


def test_scatter_add_of_an_empty_index_of_another_rank():
    _same(
        lambda lib: (
            lib.ones(2, dtype=lib.int64)
            .scatter_add(0, lib.zeros(1, 0, 1, dtype=lib.int64), lib.ones(1, 0, 1, dtype=lib.int64))
            .numpy()
        )
    )
    with pytest.raises(TypeError, match=r"^\[scatter_add\] index must be an integer tensor"):
        devrt.ones(2).scatter_add(0, devrt.zeros(0), devrt.ones(0))


# --- fixed: the run over seeds 21..30, and in-place ops and where of numbers -------------


def _grad_of(lib, f, value, dtype="float64"):
    x = lib.tensor(value, dtype=getattr(lib, dtype), requires_grad=True)
    y = f(lib, x)
    y.backward(lib.ones_like(y) * 0.75)
    return y.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 2.0])
@pytest.mark.parametrize(
    "f",
    [
        lambda lib, x: lib.nn.functional.softmax(x, 0),
        lambda lib, x: lib.softmax(x, -1, dtype=lib.float32),
        lambda lib, x: x.softmax(0),
        lambda lib, x: lib.log_softmax(x, 0),
        lambda lib, x: x.log_softmax(-1),
    ],
)
def test_softmax_of_a_0d_tensor_has_pytorchs_gradient(f, value):
    """A 0-d slice is its own sum: the gradient is 0, or NaN at a NaN output."""
    for got, want in zip(
        _grad_of(devrt, f, value, "float32"), _grad_of(torch, f, value, "float32")
    ):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("beta", [math.inf, -math.inf])
@pytest.mark.parametrize("threshold", [20.0, math.inf, -1.0])
def test_softplus_with_an_infinite_beta_has_pytorchs_gradient(beta, threshold):
    values = [1.5, -2.0, 0.0, math.nan, math.inf, -math.inf, 1e-300]

    def f(lib, x):
        return lib.nn.functional.softplus(x, beta=beta, threshold=threshold)

    for got, want in zip(_grad_of(devrt, f, values), _grad_of(torch, f, values)):
        np.testing.assert_array_equal(got, want)


def test_softplus_with_a_finite_beta_is_unchanged():
    values = [1.5, -2.0, 0.0, 30.0, -30.0]
    for beta in (1.0, 0.5, 2.0, 1e300):

        def f(lib, x, beta=beta):
            return lib.nn.functional.softplus(x, beta=beta)

        for got, want in zip(_grad_of(devrt, f, values), _grad_of(torch, f, values)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("alpha", [[1, 2], (2,), "a", None, object()])
@pytest.mark.parametrize("name", ["add", "sub"])
def test_alpha_must_be_a_number(name, alpha):
    for call in (
        lambda lib: getattr(lib, name)(lib.ones(2), lib.ones(2), alpha=alpha),
        lambda lib: getattr(lib.ones(2), name + "_")(1.0, alpha=alpha),
    ):
        with pytest.raises(TypeError):
            call(torch)
        with pytest.raises(TypeError, match=rf"^\[{name}\] argument 'alpha' must be a number"):
            call(devrt)


def test_alpha_may_be_a_numpy_number_or_a_0d_tensor():
    for alpha in (np.int64(3), np.float32(0.1), np.float64(1.5), "tensor"):

        def call(lib, alpha=alpha):
            a = lib.tensor(2.0, dtype=lib.float64) if alpha == "tensor" else alpha
            return lib.add(lib.tensor([1.0, 2.0], dtype=lib.float64), 3.0, alpha=a).numpy()

        np.testing.assert_array_equal(call(devrt), call(torch))
    with pytest.raises(TypeError, match=r"^\[add\] argument 'alpha' must be a number, got Tensor"):
        devrt.add(devrt.ones(2), 1.0, alpha=devrt.ones(2))


@pytest.mark.parametrize("alpha", [np.float32(1.5), np.float64(1.5), np.bool_(True), 1.0])
@pytest.mark.parametrize("name", ["add", "sub"])
def test_a_numpy_float_alpha_is_a_float_for_an_integer_result(name, alpha):
    with pytest.raises(RuntimeError, match="alpha must not be a floating point"):
        getattr(torch, name)(torch.tensor(3), 2, alpha=alpha)
    for call in (
        lambda lib: getattr(lib, name)(lib.tensor(3), 2, alpha=alpha),
        lambda lib: getattr(lib.tensor([3, 4]), name + "_")(2, alpha=alpha),
    ):
        with pytest.raises(TypeError, match=rf"^\[{name}\] alpha must be an integer .* int64"):
            call(devrt)


def test_a_bool_alpha_needs_bool_operands():
    for a, b in ((devrt.ones(2), 2), (devrt.ones(2, dtype=devrt.int32), devrt.ones(2))):
        with pytest.raises(TypeError, match=r"^\[add\] a bool alpha is taken only where both"):
            devrt.add(a, b, alpha=True)
    with pytest.raises(RuntimeError, match="Boolean alpha only supported for Boolean results"):
        torch.add(torch.ones(2), 2, alpha=True)
    # bools take one (their sum counts in int64: docs/eager.md)
    x = devrt.tensor([True, False])
    np.testing.assert_array_equal(devrt.add(x, x, alpha=False).numpy(), [1, 0])


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.sub(lib.tensor(1.0), True, alpha=-1),
        lambda lib: lib.sub(lib.tensor([1.0, 2.0]), True, alpha=2),
        lambda lib: lib.tensor([1.0, 2.0]).sub(False, alpha=0.5),
        lambda lib: lib.ones(2).sub_(True, alpha=2),
        lambda lib: lib.sub(2, True, alpha=2),
        lambda lib: lib.sub(True, lib.ones(2), alpha=3),
    ],
)
def test_sub_with_a_bool_raises_whatever_its_alpha(call):
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool"):
        call(torch)
    with pytest.raises(TypeError, match=r"^\[sub\] is not defined for bool operands"):
        call(devrt)


@pytest.mark.parametrize("steps", [np.int64(2), np.int32(3), np.uint8(0), "tensor"])
def test_linspace_takes_a_numpy_integer_steps(steps):
    def call(lib):
        n = lib.tensor(4) if isinstance(steps, str) else steps
        return lib.linspace(2, 1, n, dtype=lib.float32).numpy()

    np.testing.assert_array_equal(call(devrt), call(torch))
    for bad in (np.bool_(True), True, 2.0, np.float64(2.0)):
        with pytest.raises(TypeError, match=r"^\[linspace\] steps must be an int"):
            devrt.linspace(0, 1, bad)


@pytest.mark.parametrize(
    "start, end, dtype",
    [(-1.5, -2, "uint8"), (300, 1, "uint8"), (math.nan, 1, "int64"), (1e300, 0, "float32")],
)
def test_linspace_of_no_steps_is_empty_whatever_its_ends(start, end, dtype):
    for lib in (devrt, torch):
        got = lib.linspace(start, end, 0, dtype=getattr(lib, dtype))
        assert tuple(got.shape) == (0,) and str(got.dtype).endswith(dtype)
    with pytest.raises(ValueError, match=r"^\[linspace\] value"):
        devrt.linspace(start, end, 1, dtype=getattr(devrt, dtype))
    with pytest.raises(ValueError, match=r"^\[linspace\] number of steps must be non-negative"):
        devrt.linspace(start, end, -1, dtype=getattr(devrt, dtype))


@pytest.mark.parametrize("swap", [False, True])
def test_matmul_of_a_matrix_and_a_vector_of_two_dtypes_promotes(swap):
    """Documented in docs/eager.md: matmul promotes where PyTorch requires
    one dtype, for a vector operand too."""
    a = np.arange(8.0).reshape(2, 2, 2) / 4
    v = np.array([3, -2])

    def call(lib, cast=False):
        m = lib.tensor(a, dtype=lib.float32)[::2]  # stepped, (1, 2, 2)
        x = lib.tensor(v).to(lib.float32 if cast else lib.int64)
        return lib.matmul(x, m) if swap else lib.matmul(m, x)

    with pytest.raises(RuntimeError, match="expected scalar type|same dtype"):
        call(torch)
    got = call(devrt)
    assert got.dtype == devrt.float32
    np.testing.assert_array_equal(got.numpy(), call(torch, cast=True).numpy())


def test_pow_of_integers_to_a_float64_exponent_has_a_float64_gradient():
    """d/db a^b = a^b log a, with log a taken in float64, not in float32."""

    def grad(lib):
        b = lib.tensor(0.251, dtype=lib.float64, requires_grad=True)
        lib.pow(lib.tensor([7, 4, 9]), b).sum().backward()
        return b.grad.item()

    assert math.isclose(grad(devrt), grad(torch), rel_tol=1e-14)


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.pow(lib.zeros(0, 1, 2, dtype=lib.int32), -1),
        lambda lib: lib.zeros(0, dtype=lib.int64) ** -2,
        lambda lib: lib.zeros(0, dtype=lib.int64).pow_(-1),
        lambda lib: lib.pow(lib.zeros(0, dtype=lib.bool), np.int64(-1)),
        lambda lib: lib.tensor([2, 3]) ** -1,
    ],
)
def test_integers_to_a_negative_integer_number_raise_even_when_empty(call):
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        call(torch)
    with pytest.raises(ValueError, match=r"^\[pow\] integers to negative integer powers"):
        call(devrt)


def test_integers_to_a_negative_integer_tensor_or_float_number_are_computed():
    _same(lambda lib: lib.pow(lib.zeros(0, dtype=lib.int32), lib.tensor(-1)).numpy())
    _same(lambda lib: (lib.tensor([2, 4]) ** -1.0).numpy())


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.ones(2, 2, 2, dtype=lib.bfloat16).unbind(np.int64(2)),
        lambda lib: lib.unbind(lib.ones(2, 3), np.int32(-1)),
        lambda lib: lib.ones(2, 3).select(np.int64(1), 0),
        lambda lib: lib.ones(2, 3).flip(np.int64(1)),
        lambda lib: lib.ones(2, 3).flip((np.uint8(0), 1)),
        lambda lib: lib.roll(lib.arange(6).reshape(2, 3), 1, np.int64(1)),
    ],
)
def test_dims_take_numpy_integers(call):
    got, want = call(devrt), call(torch)
    got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.float().numpy(), w.float().numpy())
    with pytest.raises(TypeError, match=r"^\[unbind\] dims must be an int"):
        devrt.ones(2).unbind(np.bool_(False))
    with pytest.raises(TypeError, match=r"^\[flip\] dims must be ints"):
        devrt.ones(2).flip((np.float32(0),))


def test_var_of_one_element_with_the_default_correction():
    """Documented in docs/eager.md: the value is PyTorch's (NaN); the
    gradient is that of (x - mean) * 2 / (N - 1), NaN for N = 1, where
    PyTorch's gives inf at a NaN input."""
    for value in (math.nan, math.inf, 3.0):
        x = devrt.tensor([[value]], dtype=devrt.float64, requires_grad=True)
        y = x.t().var()
        with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
            want = torch.tensor([[value]]).t().var()
        assert math.isnan(y.item()) and math.isnan(want.item())
        y.backward()
        assert math.isnan(x.grad.item())


@pytest.mark.parametrize(
    "a, b, dtype",
    [
        (1, 2.5, "float32"),
        (1.5, 2.5, "float32"),
        (True, 2.5, "float32"),
        (np.float64(1.0), 2, "float32"),
        (1, 2, "int64"),
        (np.int32(1), True, "int64"),
        (True, False, "bool"),
    ],
)
def test_where_of_two_numbers_gives_the_default_dtype_of_their_kind(a, b, dtype):
    for lib in (devrt, torch):
        got = lib.where(lib.tensor([True, False]), a, b)
        assert str(got.dtype).endswith(dtype), (lib.__name__, got.dtype)
    _same(lambda lib: lib.where(lib.tensor([True, False]), a, b).double().numpy())
    # a number with a tensor still takes the tensor's dtype
    got = devrt.where(devrt.tensor([True, False]), devrt.ones(2, dtype=devrt.float64), 2.5)
    assert got.dtype == devrt.float64


FLOAT_UNARY = [
    "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh", "sigmoid", "erf", "log1p",
    "expm1", "reciprocal",
]  # fmt: skip


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("name", FLOAT_UNARY)
def test_in_place_float_functions_of_integer_tensors_raise(name, dtype):
    def call(lib):
        x = lib.tensor([1, 2]).to(getattr(lib, dtype))
        return getattr(x, name + "_")()

    with pytest.raises(RuntimeError, match="result type Float can't be cast"):
        call(torch)
    x = devrt.tensor([1, 2]).to(getattr(devrt, dtype))
    with pytest.raises(
        TypeError,
        match=rf"^\[{name}\] result type float32 cannot be stored in-place into a {dtype}",
    ):
        getattr(x, name + "_")()
    np.testing.assert_array_equal(x.numpy(), np.array([1, 2]).astype(dtype))  # untouched


@pytest.mark.parametrize("name", ["abs", "neg", "floor", "ceil", "round", "sign", "relu"])
def test_in_place_functions_that_keep_integers_still_write_them(name):
    _same(lambda lib: getattr(lib.tensor([3, -2, 0]), name + "_")().numpy())


def test_in_place_clamp_of_an_integer_tensor_with_a_float_bound_raises():
    for bounds in ((0.5, None), (None, devrt.tensor(1.5))):
        with pytest.raises(TypeError, match=r"^\[clamp\] result type float32 cannot be stored"):
            devrt.tensor([1, 2]).clamp_(*bounds)
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        torch.tensor([1, 2]).clamp_(0.5)
    _same(lambda lib: lib.tensor([1, 5]).clamp_(2, 4).numpy())
    _same(lambda lib: lib.tensor([1.0, 5.0]).clamp_(2.5).numpy())


@pytest.mark.parametrize("exponent", [0, 0.0, "tensor"])
def test_pow_to_the_0_has_a_0_gradient_at_0_nan_and_infinities(exponent):
    """a^0 is 1 everywhere: the gradient is 0, not 0 * a^-1 (NaN at a = 0)."""

    def grad(lib):
        a = lib.tensor([0.0, -0.0, math.nan, math.inf, -math.inf, 2.0], requires_grad=True)
        b = lib.zeros(6) if exponent == "tensor" else exponent
        lib.pow(a, b).sum().backward()
        return a.grad.numpy()

    np.testing.assert_array_equal(grad(devrt), grad(torch))
    np.testing.assert_array_equal(grad(devrt), np.zeros(6))


@pytest.mark.parametrize(
    "call, kind, pattern",
    [
        (
            lambda lib: lib.where(lib.tensor([1, 0]), 1.0, 2.0),
            TypeError,
            r"^\[where\] condition must be a bool tensor, got a tensor of dtype int64",
        ),
        (
            lambda lib: lib.where(lib.tensor([True, False]), (), lib.ones(2)),
            TypeError,
            r"^\[where\] argument 'input' must be a Tensor or a number, got tuple",
        ),
        (
            lambda lib: lib.ones(2).where(lib.tensor([True, False]), [1.0, 2.0]),
            TypeError,
            r"^\[where\] argument 'other' must be a Tensor or a number, got list",
        ),
        (
            lambda lib: lib.where(lib.tensor([True]), lib.ones(1, dtype=lib.uint8), -(2**40)),
            ValueError,
            r"^\[where\] value -1099511627776 cannot be converted to dtype uint8",
        ),
        (
            lambda lib: lib.where(lib.tensor([True]), lib.ones(1), 1e300),
            ValueError,
            r"^\[where\] value 1e\+300 cannot be converted to dtype float32",
        ),
    ],
)
def test_where_refuses_what_pytorch_refuses(call, kind, pattern):
    with pytest.raises((TypeError, RuntimeError)):
        call(torch)
    with pytest.raises(kind, match=pattern):
        call(devrt)


def test_where_takes_what_pytorch_takes():
    cond = [True, False]
    _same(lambda lib: lib.where(lib.tensor(cond), lib.ones(2, dtype=lib.uint8), -1).numpy())
    _same(lambda lib: lib.where(lib.tensor(cond), lib.ones(2, dtype=lib.float16), 1e10).numpy())
    _same(lambda lib: lib.where(lib.tensor(cond), lib.ones(2, dtype=lib.int32), math.nan).numpy())
    with pytest.warns(UserWarning, match="uint8 condition"):
        want = torch.where(torch.tensor([1, 0], dtype=torch.uint8), 1.0, 2.0)
    got = devrt.where(devrt.tensor([1, 0], dtype=devrt.uint8), 1.0, 2.0)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_split_takes_a_numpy_integer_size():
    """Documented in docs/eager.md: PyTorch's Tensor.split refuses one."""
    with pytest.raises(TypeError, match="split_with_sizes"):
        torch.ones(2, 2, 4).transpose(0, 1).split(np.int64(2), 2)
    got = devrt.ones(2, 2, 4).transpose(0, 1).split(np.int64(3), 2)
    want = torch.ones(2, 2, 4).transpose(0, 1).split(3, 2)
    assert [tuple(g.shape) for g in got] == [tuple(w.shape) for w in want]


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.arange(0.5, 0.5, math.inf),
        lambda lib: lib.arange(0.0, 5.0, math.inf),
        lambda lib: lib.arange(1.0, 0.0, -math.inf, dtype=lib.float64),
        lambda lib: lib.arange(-1.5, 0.5, 0.5, dtype=lib.int32),
        lambda lib: lib.arange(0.0, 1.0, 0.5, dtype=lib.int32),
        lambda lib: lib.arange(0.0, -1.0, -0.5, dtype=lib.int32),
    ],
)
def test_arange_with_an_infinite_or_truncated_step_as_pytorch(call):
    got, want = call(devrt), call(torch)
    assert got.dtype.name == str(want.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda lib: lib.arange(0.0, 5.0, math.inf, dtype=lib.int32), r"step inf .* int32"),
        (lambda lib: lib.arange(-1.5, 0.5, 0.5, dtype=lib.int64), r"step must be non-zero"),
        (lambda lib: lib.arange(0.0, 0.0, math.nan), r"step must be non-zero, got nan"),
        (lambda lib: lib.arange(0.0, math.inf, 1.0), r"start and end must be finite"),
    ],
)
def test_arange_refuses_an_unusable_step_or_range(call, pattern):
    with pytest.raises((RuntimeError, ValueError)):
        call(torch)
    with pytest.raises(ValueError, match=r"^\[arange\] " + pattern):
        call(devrt)


@pytest.mark.parametrize(
    "dtype, bounds, pattern",
    [
        ("int32", {"min": -(2**40)}, r"value -1099511627776 .* int32"),
        ("int32", {"max": 2**31}, r"value 2147483648 .* int32"),
        ("int32", {"min": 0, "max": 2**40}, r"value 1099511627776 .* int32"),
        ("float32", {"min": 1e300}, r"value 1e\+300 .* float32"),
    ],
)
def test_clamp_refuses_a_bound_its_dtype_cannot_hold(dtype, bounds, pattern):
    with pytest.raises(RuntimeError, match="overflow"):
        torch.clamp(torch.tensor([1, 2], dtype=getattr(torch, dtype)), **bounds)
    x = devrt.tensor([1, 2], dtype=getattr(devrt, dtype))
    with pytest.raises(ValueError, match=r"^\[clamp\] " + pattern):
        devrt.clamp(x, **bounds)
    _same(lambda lib: lib.clamp(lib.tensor([1, 2], dtype=lib.int32), max=2**31 - 1).numpy())
    _same(lambda lib: lib.clamp(lib.tensor([1.0, 2.0]), max=math.inf).numpy())


@pytest.mark.parametrize("op", ["add", "sub"])
@pytest.mark.parametrize("shape", [(), (2,)])
def test_alpha_scales_a_numpy_bool_as_the_float_one(op, shape):
    def call(lib):
        x = lib.full(shape, 3, dtype=lib.int32)
        return getattr(lib, op)(x, np.True_, alpha=2)

    got, want = call(devrt), call(torch)
    assert got.dtype is devrt.float32 and want.dtype is torch.float32
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("layout", ["contiguous", "stepped"])
def test_kl_div_at_zero_and_negative_targets_as_pytorch(layout):
    """target * log(target) is PyTorch's xlogy: 0 at target 0, NaN below it,
    and its gradient NaN at 0; a non-contiguous target must read the same."""
    inputs = np.array([[0.3, -0.2, 0.5]], np.float32)
    targets = np.array([0.5, 9.0, 0.0, 9.0, -0.7, 9.0], np.float32)

    def run(lib):
        x = lib.tensor(inputs, requires_grad=True)
        base = lib.tensor(
            targets if layout == "stepped" else targets[::2].copy(), requires_grad=True
        )
        t = base[::2] if layout == "stepped" else base
        y = lib.nn.functional.kl_div(x, t, reduction="none")
        y.sum().backward()
        return y.detach().numpy(), x.grad.numpy(), base.grad.numpy()

    for got, want in zip(run(devrt), run(torch)):
        np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda: devrt.argsort(devrt.ones(3), 1.5), r"^\[argsort\] argument 'dim' must be an int"),
        (lambda: devrt.cumsum(devrt.ones(3), 1.5), r"^\[cumsum\] argument 'dim' must be an int"),
        (lambda: devrt.topk(devrt.ones(3), None), r"^\[topk\] argument 'k' must be an int"),
    ],
)
def test_functions_on_private_bindings_name_the_public_op(call, pattern):
    with pytest.raises(TypeError, match=pattern):
        call()


def test_topk_is_one_op_for_eager_and_graph():
    """devrt.topk and the graph's TopKV2 run the core's topk and its shape
    rule, so their values, indices and errors agree."""
    a = np.array([[3.0, 1.0, 4.0, 1.0], [5.0, 9.0, 2.0, 6.0]], np.float32)
    eager = devrt.topk(devrt.tensor(a), 2)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4])
        values, indices = tf.nn.top_k(x, 2)
        assert values.shape.as_list() == [None, 2]
        got = _run([values, indices], {x: a})
    np.testing.assert_array_equal(got[0], eager.values.numpy())
    np.testing.assert_array_equal(got[1], eager.indices.numpy().astype(np.int32))
    with pytest.raises(ValueError, match=r"^\[topk\] k \(5\) must lie in \[0, 4\]"):
        devrt.topk(devrt.tensor(a), 5)
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match=r"k \(5\) must lie in \[0, 4\] .* \(\?, 4\)"):
            tf.nn.top_k(tf.placeholder(tf.float32, [None, 4]), 5)
        late = tf.nn.top_k(tf.placeholder(tf.float32, [None, None]), 5)
        with pytest.raises(ValueError, match=r"k \(5\) must lie in \[0, 4\] .* \(2, 4\)"):
            _run(late, {late[0].op.inputs[0]: a})


def test_gather_v2_shape_is_the_shared_take_shape():
    """GatherV2 infers and checks with the core's take_shape: the axis is
    checked once the params' rank is known, even where the indices' is not."""
    a = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    with tf.Graph().as_default():
        p = tf.placeholder(tf.float32, [2, None, 4])
        i = tf.placeholder(tf.int32, [None, 2])
        y = tf.gather(p, i, axis=1)
        assert y.shape.as_list() == [2, None, 2, 4]
        idx = np.array([[0, 2], [1, 1], [2, 0]], np.int32)
        np.testing.assert_array_equal(_run(y, {p: a, i: idx}), np.take(a, idx, axis=1))
        with pytest.raises(IndexError, match=r"axis 3 is out of range"):
            tf.gather(p, tf.placeholder(tf.int32), axis=3)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_take_a_numpy_integer_dim(name):
    x = np.arange(18.0, dtype=np.float32).reshape(3, 2, 3)
    got = getattr(devrt, name)(devrt.tensor(x), dim=np.int64(2))
    want = getattr(torch, name)(torch.tensor(x), dim=np.int64(2))
    np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
    np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
    with pytest.raises(TypeError, match=rf"^\[{name}\] dim must be an int, got bool"):
        getattr(devrt, name)(devrt.tensor(x), True)


def test_linspace_of_one_step_checks_only_its_start():
    _same(lambda lib: lib.linspace(-1.5, math.nan, 1, dtype=lib.int32).numpy())
    for steps in (2, 3):
        with pytest.raises(RuntimeError):
            torch.linspace(-1.5, math.nan, steps, dtype=torch.int32)
        with pytest.raises(ValueError, match=r"^\[linspace\] value nan .* int32"):
            devrt.linspace(-1.5, math.nan, steps, dtype=devrt.int32)
    with pytest.raises(ValueError, match=r"^\[linspace\] value nan .* int32"):
        devrt.linspace(math.nan, 1, 1, dtype=devrt.int32)


def test_clamp_with_a_nan_bound_is_nan_before_the_other_bound_is_checked():
    def call(lib):
        x = lib.ones(3, 1, dtype=lib.float16).expand(3, 2)
        return x.clamp(min=-(2**40), max=math.nan).float().numpy()

    _same(call)
    with pytest.raises(ValueError, match=r"^\[clamp\] value -1099511627776 .* float16"):
        devrt.ones(3, dtype=devrt.float16).clamp(min=-(2**40))


def test_a_float_alpha_is_refused_for_two_integer_numbers():
    """The first of two numbers becomes a tensor (PyTorch makes a NumPy
    integer one), so an integer result takes no float alpha there either."""
    with pytest.raises(RuntimeError, match="alpha must not be"):
        torch.add(np.int64(2), 2, alpha=0.5)
    for a in (np.int64(2), 2):
        with pytest.raises(TypeError, match=r"^\[add\] alpha must be an integer .* int64, got 0.5"):
            devrt.add(a, 2, alpha=0.5)
    _same(lambda lib: lib.add(np.float64(2.0), 2, alpha=0.5).numpy())
