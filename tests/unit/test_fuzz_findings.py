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


# --- open: strict xfails, one per "open" entry of the deviation tables ------------------


def _same(f):
    """f(devrt) and f(torch) give equal values (both must succeed)."""
    a, b = f(devrt), f(torch)
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float))


def _open(family: str):
    return pytest.mark.xfail(strict=True, reason=f"open fuzzer finding: {family}")


@_open("results and gradients at NaN and infinite inputs")
def test_relu_and_abs_gradients_at_nan():
    def grads(lib):
        x = lib.tensor([math.nan, 1.0], requires_grad=True)
        (lib.relu(x) + lib.abs(x)).sum().backward()
        return x.grad.numpy()

    _same(grads)


@_open("dims of 0-d tensors")
def test_flip_dim_0_of_a_0d_tensor():
    _same(lambda lib: lib.flip(lib.tensor(1.0), (0,)).numpy())


@_open("dims of 0-d tensors")
def test_transpose_of_a_0d_tensor_with_dim_1_raises():
    with pytest.raises(IndexError, match=r"^\[transpose\]"):
        devrt.tensor(1.0).transpose(1, 0)


@_open("cumsum of a 0-d tensor has no gradient")
def test_cumsum_of_a_0d_tensor_backward():
    def grad(lib):
        x = lib.tensor(2.0, requires_grad=True)
        lib.cumsum(x, 0).backward()
        return x.grad.numpy()

    _same(grad)


@_open("bool tensors in clamp and max(dim)")
def test_clamp_and_max_of_bool_tensors():
    _same(lambda lib: lib.clamp(lib.tensor([True, False]), max=0.5).numpy())
    _same(lambda lib: lib.tensor([False, True]).max(dim=0)[1].numpy())


@_open("elementwise functions of two numbers")
def test_add_of_two_numbers():
    _same(lambda lib: lib.add(2, 3).numpy())


@_open("NumPy integers as sizes")
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


@_open("a tensor as the sequence of cat and stack")
@pytest.mark.parametrize("name", ["cat", "stack"])
def test_cat_and_stack_of_a_tensor_raise(name):
    with pytest.raises(TypeError, match=rf"^\[{name}\] argument 'tensors'"):
        getattr(devrt, name)(devrt.ones(2, 2))


@_open("NaN, infinite and out-of-range values into integer dtypes")
@pytest.mark.parametrize("value", [math.nan, math.inf, 1e30])
def test_full_of_an_integer_dtype_refuses_values_it_cannot_hold(value):
    with pytest.raises((ValueError, RuntimeError, OverflowError), match=r"^\[full\]"):
        devrt.full((2,), value, dtype=devrt.int64)


@_open("bools and NumPy floats taken as ints")
@pytest.mark.parametrize("dim", [True, np.True_, np.float32(1.5)])
def test_a_bool_or_a_numpy_float_is_not_a_dim(dim):
    with pytest.raises(TypeError, match=r"^\[gather\]"):
        devrt.ones(2, 2).gather(dim, devrt.zeros(2, 2, dtype=devrt.int64))


@_open("gather with an empty index of another shape")
def test_gather_with_an_empty_index_of_another_rank():
    _same(lambda lib: lib.ones(2).gather(0, lib.zeros(0, 0, dtype=lib.int64)).numpy())


@_open("ints taken as bools")
def test_keepdim_must_be_a_bool():
    with pytest.raises(TypeError, match=r"^\[argmax\]"):
        devrt.ones(2, 2).argmax(dim=0, keepdim=2**70)


@_open("split of an empty dim by 0")
def test_split_of_an_empty_dim_by_0():
    def pieces(lib):
        return [tuple(p.shape) for p in lib.zeros(1, 0, 1).split(0, -2)]

    assert pieces(devrt) == pieces(torch)


@_open("clamp with tensor bounds")
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


@_open("NumPy scalars as the input of *_like")
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


@_open("out-of-range indices into empty results")
def test_out_of_range_index_with_an_empty_result_raises():
    x = devrt.zeros(0, 1, 3)
    with pytest.raises(IndexError, match=r"^\["):
        x[devrt.tensor([0, 1, 2]), 1:1] = -2


@_open("cat of empty 1-d tensors with an out-of-range dim")
def test_cat_of_an_empty_1d_tensor_along_dim_1():
    _same(lambda lib: lib.cat([lib.zeros(0)], dim=1).numpy())


@_open("std/var with a float correction")
def test_std_with_a_float_correction():
    _same(lambda lib: lib.tensor([1.0, 2.0, 4.0]).std(correction=0.5).numpy())


@_open("cumsum of a 0-d tensor (graph)")
def test_graph_cumsum_of_a_0d_tensor_raises():
    with tf.Graph().as_default(), pytest.raises(IndexError, match=r"^\["):
        tf.cumsum(tf.constant(1.0), axis=0)


@_open("reductions over axis 0 of a 0-d tensor (graph)")
def test_graph_reduce_mean_over_axis_0_of_a_0d_value_raises():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32)  # the rank is known at run time only
        y = tf.reduce_mean(x, axis=0)
        with pytest.raises(IndexError, match=r"^\["):
            _run(y, {x: np.float32(1.0)})


@_open("gather out of range into an empty result (graph)")
def test_graph_gather_out_of_range_into_an_empty_result_raises():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32)
        y = tf.gather(x, tf.constant(5), axis=0)
        with pytest.raises(IndexError, match=r"^\["):
            _run(y, {x: np.zeros((0, 0), np.float32)})


@_open("gather with an axis out of range known at run time only (graph)")
def test_graph_gather_with_an_axis_out_of_range_at_run_time_raises():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32)  # the rank is known at run time only
        y = tf.gather(x, tf.constant([[0, 0], [0, 0]]), axis=-2)
        with pytest.raises(IndexError, match=r"^\["):
            _run(y, {x: np.ones(1, np.float32)})


@_open("softmax of a 0-d value known at run time only (graph)")
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
