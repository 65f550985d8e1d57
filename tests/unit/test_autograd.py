"""Autograd engine and API semantics (CPU): accumulation, retain_graph,
errors, in-place and version checks, autograd.grad, detach, grad modes,
graph introspection, .data, retain_grad, custom Functions, comparisons with
PyTorch, and memory (the lecture programs: tests/frontends/test_lecture_programs.py).

Expected values are derived by hand (calculus) or with NumPy, never read
back from devrt.
"""

from __future__ import annotations

import gc
import threading
import weakref

import numpy as np
import pytest

import devrt
from devrt.testing.gradcheck import GradcheckError, gradcheck


def t64(values, requires_grad=False):
    t = devrt.from_numpy(np.array(values, dtype=np.float64))
    if requires_grad:
        t.requires_grad_(True)
    return t


def np_of(t) -> np.ndarray:
    return np.array(t.detach().cpu().numpy(), copy=True)


def assert_values(t, expected, rtol=1e-12, atol=1e-12):
    assert t is not None, "no gradient"
    np.testing.assert_allclose(np_of(t), np.asarray(expected, dtype=np.float64), rtol, atol)


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


# --- accumulation, reuse, broadcasting ------------------------------------------------


def test_gradient_accumulates_across_backward_calls():
    x = t64([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    assert_values(x.grad, [2.0, -4.0, 6.0])
    (x * 3.0).sum().backward()
    assert_values(x.grad, [5.0, -1.0, 9.0])
    x.grad = None
    (x * 3.0).sum().backward()
    assert_values(x.grad, [3.0, 3.0, 3.0])


def test_zero_grad_then_backward_starts_over():
    x = t64([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad.zero_()
    assert_values(x.grad, [0.0, 0.0])
    (x * x * x).sum().backward()
    assert_values(x.grad, [3.0, 12.0])


def test_tensor_used_several_times():
    a = np.array([0.5, -1.0, 2.0])
    x = t64(a, requires_grad=True)
    y = x * x * x + x.exp() * x - x / (x * x + 1.0)
    y.sum().backward()
    expected = 3 * a**2 + np.exp(a) * (1 + a) - (1 - a**2) / (a**2 + 1) ** 2
    assert_values(x.grad, expected, rtol=1e-12)


def test_diamond_graph():
    a = np.array([0.3, -0.7])
    x = t64(a, requires_grad=True)
    h = x * 2.0
    out = (h.sin() * h.exp() + h).sum()
    out.backward()
    hh = 2 * a
    expected = 2 * (np.cos(hh) * np.exp(hh) + np.sin(hh) * np.exp(hh) + 1)
    assert_values(x.grad, expected)


@pytest.mark.parametrize("shape_b", [(3,), (1, 3), (2, 1), (), (1, 1), (2, 3)], ids=str)
def test_broadcasting_sums_gradient_back(rng, shape_b):
    a = rng.standard_normal((2, 3))
    b = rng.standard_normal(shape_b)
    ta, tb = t64(a, True), t64(b, True)
    w = rng.standard_normal((2, 3))
    ((ta * tb) * t64(w)).sum().backward()
    assert tuple(tb.grad.shape) == shape_b
    assert tuple(ta.grad.shape) == (2, 3)
    full = a * w  # d/db of sum(w * a * b) before summing over broadcast axes
    axes = tuple(i for i in range(2) if len(shape_b) < 2 - i or shape_b[i - 2 + len(shape_b)] == 1)
    expected_b = full.sum(axis=axes, keepdims=True).reshape(shape_b)
    assert_values(tb.grad, expected_b)
    assert_values(ta.grad, np.broadcast_to(b, (2, 3)) * w)


def test_broadcast_add_bias():
    x = t64(np.ones((4, 3)), True)
    bias = t64([0.1, 0.2, 0.3], True)
    (x + bias).sum().backward()
    assert_values(bias.grad, [4.0, 4.0, 4.0])
    assert_values(x.grad, np.ones((4, 3)))


def test_backward_of_several_roots():
    x = t64([1.0, 2.0], True)
    a, b = x * 2.0, x * x
    devrt.autograd.backward([a.sum(), b.sum()])
    assert_values(x.grad, [4.0, 6.0])


def test_backward_of_several_roots_with_gradients():
    x = t64([1.0, 2.0], True)
    a, b = x * 2.0, x * x
    devrt.autograd.backward([a, b], [t64([1.0, 10.0]), t64([100.0, 1000.0])])
    assert_values(x.grad, [2.0 + 200.0, 20.0 + 4000.0])


# --- retain_graph and the freed graph ----------------------------------------------------


def test_retain_graph_allows_second_backward():
    x = t64([1.0, 2.0, 3.0], True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert_values(x.grad, [4.0, 8.0, 12.0])


def test_second_backward_without_retain_graph_raises():
    x = t64([1.0, 2.0, 3.0], True)
    y = (x.exp() * x).sum()
    y.backward()
    first = np_of(x.grad)
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    # the failed backward accumulated nothing
    np.testing.assert_array_equal(np_of(x.grad), first)


@pytest.mark.parametrize("op", ["exp", "mul", "div", "matmul", "softmax", "index", "pow"])
def test_second_backward_through_saving_op_raises(op):
    x = t64([[0.5, 1.0], [1.5, 2.0]], True)
    fn = {
        "exp": lambda t: t.exp(),
        "mul": lambda t: t * t,
        "div": lambda t: 1.0 / t,
        "matmul": lambda t: t @ t,
        "softmax": lambda t: t.softmax(1),
        "index": lambda t: t[[0, 1, 1]],
        "pow": lambda t: t**3,
    }[op]
    y = fn(x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_autograd_grad_without_retain_graph_frees_graph():
    x = t64([1.0, 2.0], True)
    y = (x * x).sum()
    devrt.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="retain_graph"):
        devrt.autograd.grad(y, x)


def test_retain_graph_then_grad():
    x = t64([1.0, 2.0], True)
    y = (x.sin() * x).sum()
    (g1,) = devrt.autograd.grad(y, x, retain_graph=True)
    (g2,) = devrt.autograd.grad(y, x)
    np.testing.assert_array_equal(np_of(g1), np_of(g2))


# --- backward errors and explicit gradients ------------------------------------------------


def test_backward_of_non_scalar_without_gradient_raises():
    x = t64([1.0, 2.0], True)
    with pytest.raises(RuntimeError):
        (x * 2.0).backward()
    assert x.grad is None


def test_backward_of_tensor_without_grad_raises():
    x = t64([1.0, 2.0])
    with pytest.raises(RuntimeError):
        (x * 2.0).sum().backward()


def test_backward_with_explicit_gradient():
    a = np.array([1.0, 2.0, 3.0])
    x = t64(a, True)
    y = x * x
    g = np.array([0.5, -1.0, 2.0])
    y.backward(t64(g))
    assert_values(x.grad, 2 * a * g)


def test_backward_with_explicit_gradient_of_other_dtype_and_from_list():
    x = t64([1.0, 2.0], True)
    (x * 3.0).backward(devrt.tensor([1.0, 2.0], dtype=devrt.float32))
    assert x.grad.dtype == devrt.float64
    assert_values(x.grad, [3.0, 6.0])
    (x * 3.0).backward([1.0, 1.0])
    assert_values(x.grad, [6.0, 9.0])


def test_backward_with_wrongly_shaped_gradient_raises():
    x = t64([1.0, 2.0], True)
    with pytest.raises((RuntimeError, ValueError)):
        (x * 2.0).backward(t64([1.0, 2.0, 3.0]))


def test_backward_on_a_leaf():
    x = t64([1.0, 2.0], True)
    g = t64([3.0, 4.0])
    x.backward(g)
    assert_values(x.grad, [3.0, 4.0])
    g.add_(100.0)  # the gradient is not the caller's tensor
    assert_values(x.grad, [3.0, 4.0])


def test_scalar_backward_of_zero_d_result():
    x = t64(2.0, True)
    (x * x * x).backward()
    assert x.grad.shape == ()
    assert_values(x.grad, 12.0)


# --- leaf gradients are independent tensors --------------------------------------------------


def test_leaf_gradients_do_not_alias_each_other():
    """Two leaves of one add get the same gradient values; writing one .grad
    must not change the other (as PyTorch, which gives each its own)."""
    a = t64([1.0, 2.0], True)
    b = t64([3.0, 4.0], True)
    (a + b).backward(t64([1.0, 1.0]))
    a.grad.zero_()
    assert_values(b.grad, [1.0, 1.0])


def test_leaf_gradient_does_not_alias_retained_gradient():
    x = t64([1.0, 2.0], True)
    y = x + 1.0
    y.retain_grad()
    (y * 2.0).sum().backward()
    assert_values(y.grad, [2.0, 2.0])
    x.grad.mul_(10.0)
    assert_values(x.grad, [20.0, 20.0])
    assert_values(y.grad, [2.0, 2.0])


def test_gradient_of_sum_has_independent_elements():
    """x.sum() broadcasts one seed to x's shape; .grad must still be a tensor
    whose elements can be written one by one."""
    x = t64([1.0, 2.0, 3.0], True)
    x.sum().backward()
    x.grad[0] = 5.0
    assert_values(x.grad, [5.0, 1.0, 1.0])


def test_gradients_of_mean_then_sgd_step_are_elementwise():
    x = t64(np.zeros((2, 2)), True)
    x.mean().backward()
    with devrt.no_grad():
        x.grad[0, 0] += 1.0
        x -= x.grad
    assert_values(x, [[-1.25, -0.25], [-0.25, -0.25]])


# --- requires_grad and dtypes ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "uint8"])
def test_requires_grad_on_non_float_raises_type_error(dtype):
    data = [1, 0, 1]
    t = devrt.tensor(data, dtype=getattr(devrt, dtype))
    with pytest.raises(TypeError):
        t.requires_grad_()
    with pytest.raises(TypeError):
        t.requires_grad = True
    with pytest.raises(TypeError):
        devrt.tensor(data, dtype=getattr(devrt, dtype), requires_grad=True)
    assert not t.requires_grad
    t.requires_grad = False  # turning it off is fine


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_requires_grad_on_floats(dtype):
    t = devrt.tensor([1.0, 2.0], dtype=getattr(devrt, dtype))
    assert t.requires_grad_() is t
    assert t.requires_grad and t.is_leaf


def test_requires_grad_setter_and_method():
    x = t64([1.0])
    assert not x.requires_grad
    x.requires_grad = True
    assert x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    y = x.requires_grad_()
    assert y is x and x.requires_grad


def test_requires_grad_off_on_non_leaf_raises():
    x = t64([1.0], True)
    y = x * 2.0
    with pytest.raises(RuntimeError):
        y.requires_grad_(False)
    y.requires_grad_(True)  # a no-op


def test_int_results_do_not_require_grad():
    x = t64([1.5, -2.5], True)
    assert not (x > 0).requires_grad
    assert not x.argmax().requires_grad
    assert not x.long().requires_grad


@pytest.mark.parametrize("factory", ["randn", "rand", "zeros", "ones", "empty", "full", "arange"])
def test_factories_accept_requires_grad(factory):
    """As torch (the lecture program writes torch.randn(..., requires_grad=True))."""
    if factory == "full":
        t = devrt.full((2, 3), 1.5, dtype=devrt.float64, requires_grad=True)
    elif factory == "arange":
        t = devrt.arange(0.0, 3.0, dtype=devrt.float64, requires_grad=True)
    else:
        t = getattr(devrt, factory)(2, 3, dtype=devrt.float64, requires_grad=True)
    assert t.requires_grad and t.is_leaf


# --- in-place operations and saved tensors -------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    ["add_", "mul_", "iadd", "setitem", "zero_", "fill_", "copy_", "exp_", "clamp_", "mask_set"],
)
def test_inplace_on_leaf_requiring_grad_raises(mutate):
    # A non-leaf is rebased instead (tests/unit/test_inplace_autograd.py).
    x = t64([1.0, 2.0], True)
    with pytest.raises(
        RuntimeError, match=r"^\[\w+\] a (view of a )?leaf tensor that requires grad"
    ):
        _mutate(x, mutate)
    np.testing.assert_array_equal(np_of(x), [1.0, 2.0])


def _mutate(t, how):
    if how == "add_":
        t.add_(1.0)
    elif how == "mul_":
        t.mul_(2.0)
    elif how == "iadd":
        t += 1.0
    elif how == "setitem":
        t[0] = 7.0
    elif how == "zero_":
        t.zero_()
    elif how == "fill_":
        t.fill_(3.0)
    elif how == "copy_":
        t.copy_(devrt.ones(t.shape, dtype=t.dtype))
    elif how == "exp_":
        t.exp_()
    elif how == "clamp_":
        t.clamp_(min=10.0)
    elif how == "mask_set":
        t[t > -100.0] = 0.0
    else:
        raise ValueError(how)


def test_inplace_allowed_under_no_grad():
    x = t64([1.0, 2.0], True)
    with devrt.no_grad():
        x.add_(1.0)
        x *= 2.0
        x[0] = 0.0
    assert_values(x, [0.0, 6.0])
    assert x.requires_grad and x.is_leaf


@pytest.mark.parametrize(
    "mutate",
    ["add_", "mul_", "iadd", "setitem", "zero_", "fill_", "copy_", "exp_", "clamp_", "mask_set"],
)
def test_saved_input_modified_through_alias_raises(mutate):
    x = t64([1.0, 2.0, 3.0], True)
    a = t64([4.0, 5.0, 6.0], True)
    b = a.detach()
    y = (x * b).sum()  # mul saves b for x's gradient
    _mutate(b, mutate)
    with pytest.raises(RuntimeError, match="(?i)in.?place|version"):
        y.backward()


def test_saved_input_modified_through_plain_tensor_raises():
    x = t64([1.0, 2.0], True)
    b = t64([3.0, 4.0])
    y = (x * b).sum()
    b.add_(1)
    with pytest.raises(RuntimeError, match="(?i)in.?place|version"):
        y.backward()


def test_saved_output_modified_through_alias_raises():
    x = t64([0.5, 1.0], True)
    y = x.exp()  # exp saves its output
    y.detach().add_(1.0)
    with pytest.raises(RuntimeError, match="(?i)in.?place|version"):
        y.sum().backward()


def test_saved_tensor_modified_through_view_of_its_storage_raises():
    x = t64([1.0, 2.0], True)
    base = t64([3.0, 4.0, 5.0])
    b = base[1:]
    y = (x * b).sum()
    base[0] = 100.0  # another part of the same storage
    with pytest.raises(RuntimeError, match="(?i)in.?place|version"):
        y.backward()


def test_modifying_unsaved_or_unrelated_tensors_is_fine():
    x = t64([1.0, 2.0], True)
    b = t64([3.0, 4.0])
    other = t64([0.0, 0.0])
    y = (x + b).sum()  # add saves nothing
    b.add_(1.0)
    other.add_(1.0)
    y.backward()
    assert_values(x.grad, [1.0, 1.0])


def test_modification_after_backward_is_fine():
    x = t64([1.0, 2.0], True)
    b = t64([3.0, 4.0])
    (x * b).sum().backward()
    b.add_(1.0)
    assert_values(x.grad, [3.0, 4.0])


# --- autograd.grad ------------------------------------------------------------------------


def test_autograd_grad_returns_tuple_and_leaves_grad_untouched():
    a = np.array([1.0, -2.0])
    x = t64(a, True)
    w = t64([3.0, 4.0], True)
    y = (x * x * w).sum()
    g = devrt.autograd.grad(y, [x, w])
    assert isinstance(g, tuple) and len(g) == 2
    assert_values(g[0], 2 * a * np.array([3.0, 4.0]))
    assert_values(g[1], a * a)
    assert x.grad is None and w.grad is None


def test_autograd_grad_single_input_and_existing_grad():
    x = t64([1.0, 2.0], True)
    x.grad = t64([10.0, 20.0])
    (g,) = devrt.autograd.grad((x * 3.0).sum(), x)
    assert_values(g, [3.0, 3.0])
    assert_values(x.grad, [10.0, 20.0])


def test_autograd_grad_allow_unused():
    x = t64([1.0, 2.0], True)
    unused = t64([1.0], True)
    y = (x * x).sum()
    gx, gu = devrt.autograd.grad(y, [x, unused], allow_unused=True)
    assert gu is None
    assert_values(gx, [2.0, 4.0])


def test_autograd_grad_unused_raises():
    x = t64([1.0, 2.0], True)
    unused = t64([1.0], True)
    y = (x * x).sum()
    with pytest.raises(RuntimeError):
        devrt.autograd.grad(y, [x, unused])


def test_autograd_grad_input_not_requiring_grad_raises():
    x = t64([1.0, 2.0], True)
    c = t64([1.0, 2.0])
    with pytest.raises(RuntimeError):
        devrt.autograd.grad((x * c).sum(), c)


def test_autograd_grad_of_non_leaf_and_with_grad_outputs():
    a = np.array([0.5, 1.5])
    x = t64(a, True)
    h = x.exp()
    y = h * h
    (gh,) = devrt.autograd.grad(y, h, grad_outputs=t64([1.0, -1.0]), retain_graph=True)
    assert_values(gh, 2 * np.exp(a) * np.array([1.0, -1.0]))
    (gx,) = devrt.autograd.grad([y], [x], [t64([1.0, 1.0])])
    assert_values(gx, 2 * np.exp(2 * a))
    assert x.grad is None and h.grad is None


def test_autograd_grad_several_outputs_add_up():
    x = t64([1.0, 2.0], True)
    (g,) = devrt.autograd.grad([(x * x).sum(), (x * 3.0).sum()], [x])
    assert_values(g, [5.0, 7.0])


def test_variable_is_a_tensor():
    x = devrt.autograd.Variable(t64([1.0, 2.0]), requires_grad=True)
    assert isinstance(x, devrt.Tensor) and x.requires_grad


# --- detach, .data --------------------------------------------------------------------------


def test_detach_shares_storage_and_has_no_history():
    x = t64([1.0, 2.0, 3.0], True)
    y = x * 2.0
    d = y.detach()
    assert d.grad_fn is None and not d.requires_grad and d.is_leaf
    assert d.data_ptr() == y.data_ptr()
    with devrt.no_grad():
        y[0] = 42.0
    assert d[0].item() == 42.0
    e = x.detach()
    assert e.data_ptr() == x.data_ptr()
    assert not (e * 3.0).requires_grad


def test_gradient_does_not_flow_through_detach():
    a = np.array([1.0, 2.0])
    x = t64(a, True)
    (x * x.detach()).sum().backward()
    assert_values(x.grad, a)


def test_data_getter():
    x = t64([1.0, 2.0], True)
    d = x.data
    assert not d.requires_grad and d.grad_fn is None
    assert d.data_ptr() == x.data_ptr()
    d.mul_(3.0)  # allowed, and seen through x
    assert_values(x, [3.0, 6.0])
    assert x.requires_grad and x.is_leaf


def test_data_setter():
    x = t64([1.0, 2.0], True)
    x.data = t64([5.0, 6.0, 7.0])
    assert_values(x, [5.0, 6.0, 7.0])
    assert x.requires_grad and x.is_leaf and tuple(x.shape) == (3,)
    (x * x).sum().backward()
    assert_values(x.grad, [10.0, 12.0, 14.0])


# --- grad modes -------------------------------------------------------------------------------


def test_no_grad_context_manager():
    x = t64([1.0, 2.0], True)
    with devrt.no_grad():
        assert not devrt.is_grad_enabled()
        y = x * 2.0
        z = x.exp().sum()
    assert devrt.is_grad_enabled()
    for t in (y, z):
        assert not t.requires_grad and t.grad_fn is None and t.is_leaf
    assert (x * 2.0).requires_grad


def test_no_grad_decorator():
    x = t64([1.0, 2.0], True)

    @devrt.no_grad()
    def f(t):
        return t * 2.0, devrt.is_grad_enabled()

    y, enabled = f(x)
    assert not enabled and not y.requires_grad
    assert devrt.is_grad_enabled()
    assert f.__name__ == "f"


def test_no_grad_bare_decorator():
    """As torch (2.x): @no_grad without parentheses."""

    @devrt.no_grad
    def f():
        return devrt.is_grad_enabled()

    assert f() is False
    assert devrt.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = t64([1.0, 2.0], True)
    with devrt.no_grad():
        with devrt.enable_grad():
            y = x * 2.0
            assert devrt.is_grad_enabled()
        assert not devrt.is_grad_enabled()
        z = x * 2.0

        @devrt.enable_grad()
        def f(t):
            return t * 3.0

        w = f(x)
    assert y.requires_grad and not z.requires_grad and w.requires_grad
    y.sum().backward()
    assert_values(x.grad, [2.0, 2.0])


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with devrt.no_grad():
            raise ValueError("boom")
    assert devrt.is_grad_enabled()

    @devrt.no_grad()
    def bad():
        raise KeyError("x")

    with pytest.raises(KeyError):
        bad()
    assert devrt.is_grad_enabled()


def test_set_grad_enabled_function_context_and_decorator():
    x = t64([1.0], True)
    try:
        devrt.set_grad_enabled(False)
        assert not devrt.is_grad_enabled()
        assert not (x * 2.0).requires_grad
        devrt.set_grad_enabled(True)
        assert devrt.is_grad_enabled()
        with devrt.set_grad_enabled(False):
            assert not (x * 2.0).requires_grad
            with devrt.set_grad_enabled(True):
                assert (x * 2.0).requires_grad
            assert not devrt.is_grad_enabled()
        assert devrt.is_grad_enabled()
        with devrt.no_grad():
            with devrt.set_grad_enabled(True):
                assert (x * 2.0).requires_grad
            assert not devrt.is_grad_enabled()

        @devrt.set_grad_enabled(False)
        def f():
            return devrt.is_grad_enabled()

        assert devrt.is_grad_enabled()  # defining the decorator changes nothing
        assert f() is False
        assert devrt.is_grad_enabled()
        assert devrt.autograd.is_grad_enabled() is devrt.is_grad_enabled()
    finally:
        devrt.set_grad_enabled(True)


def test_grad_mode_is_per_thread():
    seen = []
    with devrt.no_grad():
        th = threading.Thread(target=lambda: seen.append(devrt.is_grad_enabled()))
        th.start()
        th.join()
    assert seen == [True]


# --- graph introspection ------------------------------------------------------------------------


def test_is_leaf():
    x = t64([1.0], True)
    c = t64([1.0])
    assert x.is_leaf and c.is_leaf
    assert not (x * 2.0).is_leaf
    assert (c * 2.0).is_leaf  # no history without requires_grad
    assert x.detach().is_leaf
    assert not x[0].is_leaf and not x.reshape(1, 1).is_leaf


def test_grad_fn_names_and_next_functions():
    x = t64([1.0, 2.0], True)
    w = t64([3.0, 4.0], True)
    assert x.grad_fn is None
    m = x * w
    assert m.grad_fn.name().startswith("MulBackward")
    nf = m.grad_fn.next_functions
    assert len(nf) == 2
    assert all(fn is not None and fn.name() == "AccumulateGrad" for fn, _ in nf)
    e = m.exp()
    assert e.grad_fn.name().startswith("ExpBackward")
    (inner, nr), *_ = e.grad_fn.next_functions
    assert inner.name().startswith("MulBackward") and nr == 0
    s = (e + 1.0).sum()
    assert s.grad_fn.name().startswith("SumBackward")
    assert s.grad_fn.next_functions[0][0].name().startswith("AddBackward")
    # a constant operand has no node
    k = x * t64([2.0, 2.0])
    fns = [fn for fn, _ in k.grad_fn.next_functions]
    assert fns[0].name() == "AccumulateGrad" and fns[1] is None
    assert "Backward" in repr(m.grad_fn)


def test_retain_grad_on_non_leaf():
    a = np.array([1.0, 2.0])
    x = t64(a, True)
    h = x * 3.0
    h.retain_grad()
    assert h.retains_grad
    y = h * h
    y.sum().backward(retain_graph=True)
    assert_values(h.grad, 2 * 3 * a)
    assert_values(x.grad, 18 * a)
    y.sum().backward()
    assert_values(h.grad, 2 * 2 * 3 * a)  # retained gradients accumulate too


def test_non_leaf_grad_is_none_without_retain_grad():
    x = t64([1.0, 2.0], True)
    h = x * 3.0
    (h * h).sum().backward()
    assert h.grad is None and not h.retains_grad
    assert x.grad is not None


def test_retain_grad_on_leaf_and_on_constant():
    x = t64([1.0], True)
    x.retain_grad()  # no-op on a leaf
    (x * 2.0).sum().backward()
    assert_values(x.grad, [2.0])
    with pytest.raises(RuntimeError):
        t64([1.0]).retain_grad()


def test_grad_setter_checks_shape():
    x = t64([1.0, 2.0], True)
    x.grad = t64([0.5, 0.5])
    assert_values(x.grad, [0.5, 0.5])
    with pytest.raises((ValueError, RuntimeError)):
        x.grad = t64([1.0, 2.0, 3.0])
    x.grad = None
    assert x.grad is None


# --- custom autograd.Function ------------------------------------------------------------------


class MyReLU(devrt.autograd.Function):
    needs = []

    @staticmethod
    def forward(ctx, x):
        MyReLU.needs.append(ctx.needs_input_grad)
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[x < 0] = 0
        return grad_input


def test_custom_function_relu_matches_builtin(rng):
    x = t64(rng.standard_normal((5, 4)))
    w1 = t64(rng.standard_normal((4, 6)), True)
    w2 = t64(rng.standard_normal((6, 3)), True)
    MyReLU.needs.clear()
    h = x.mm(w1)
    r = MyReLU.apply(h)
    assert r.grad_fn.name() == "MyReLUBackward"
    assert r.grad_fn.next_functions[0][0].name().startswith("MatmulBackward")
    loss = (r.mm(w2) ** 2).sum()
    loss.backward()
    assert MyReLU.needs == [(True,)]
    g1, g2 = np_of(w1.grad), np_of(w2.grad)
    # the same by hand
    xs, a1, a2 = np_of(x), np_of(w1), np_of(w2)
    hh = xs @ a1
    rr = np.maximum(hh, 0)
    gy = 2 * (rr @ a2)
    np.testing.assert_allclose(g2, rr.T @ gy, rtol=1e-12)
    np.testing.assert_allclose(g1, xs.T @ ((gy @ a2.T) * (hh > 0)), rtol=1e-12)


def test_custom_function_needs_input_grad_and_no_record_in_forward():
    seen = {}

    class Probe(devrt.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = ctx.needs_input_grad
            seen["inner"] = (a * b).requires_grad
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, None

    a, b = t64([1.0], True), t64([2.0])
    y = Probe.apply(a, b)
    assert seen == {"needs": (True, False), "inner": False}
    assert y.requires_grad and not y.is_leaf
    y.sum().backward()
    assert_values(a.grad, [1.0])


def test_custom_function_with_non_tensor_argument():
    class MulConstant(devrt.autograd.Function):
        @staticmethod
        def forward(ctx, t, constant):
            ctx.constant = constant
            return t * constant

        @staticmethod
        def backward(ctx, g):
            assert ctx.needs_input_grad == (True, False)
            return g * ctx.constant, None

    x = t64([1.0, 2.0], True)
    y = MulConstant.apply(x.exp(), 2.5)  # a built-in op before
    (y * y).sum().backward()  # and after
    a = np.array([1.0, 2.0])
    assert_values(x.grad, 2 * 2.5 * np.exp(a) * 2.5 * np.exp(a))


def test_custom_function_with_two_outputs():
    class ExpSin(devrt.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return t.exp(), t.sin()

        @staticmethod
        def backward(ctx, ge, gs):
            (t,) = ctx.saved_tensors
            return ge * t.exp() + gs * t.cos()

    a = np.array([0.3, -0.8])
    x = t64(a, True)
    e, s = ExpSin.apply(x)
    assert e.grad_fn is not None and s.grad_fn is not None
    (e * 2.0 + s * 3.0).sum().backward()
    assert_values(x.grad, 2 * np.exp(a) + 3 * np.cos(a))
    x.grad = None
    e, s = ExpSin.apply(x)
    s.sum().backward()  # only one output used: the other's gradient is zero
    assert_values(x.grad, np.cos(a))


def test_custom_function_passes_gradcheck():
    class Cube(devrt.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return t * t * t

        @staticmethod
        def backward(ctx, g):
            (t,) = ctx.saved_tensors
            return g * 3.0 * t * t

    x = t64([[0.5, -1.0], [2.0, 0.1]], True)
    assert gradcheck(lambda t: Cube.apply(t).sin(), (x,), atol=1e-7, rtol=1e-6)


def test_gradcheck_detects_wrong_gradients():
    """The checker used by the backend tests can fail."""

    class WrongCube(devrt.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return t * t * t

        @staticmethod
        def backward(ctx, g):
            (t,) = ctx.saved_tensors
            return g * 2.9 * t * t

    x = t64([[0.5, -1.0], [2.0, 0.1]], True)
    with pytest.raises(GradcheckError):
        gradcheck(WrongCube.apply, (x,))
    assert gradcheck(WrongCube.apply, (x,), raise_exception=False) is False

    # A gradient of the wrong dtype cannot reach gradcheck: the engine casts
    # a Function's gradients to their input's dtype, as PyTorch does
    # (test_custom_function_gradient_takes_its_input_dtype).


def test_custom_function_saved_tensor_modified_raises():
    x = t64([1.0, -1.0], True)
    h = x * 2.0
    y = MyReLU.apply(h)  # saves h
    h.detach().add_(1.0)  # modified through an alias
    with pytest.raises(RuntimeError, match="(?i)in.?place|version"):
        y.sum().backward()


def test_custom_function_second_backward():
    x = t64([1.0, -1.0], True)
    y = (MyReLU.apply(x) * 2.0).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert_values(x.grad, [4.0, 0.0])
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_custom_function_without_grad_records_nothing():
    x = t64([1.0, -1.0])
    y = MyReLU.apply(x)
    assert not y.requires_grad and y.grad_fn is None
    with devrt.no_grad():
        y = MyReLU.apply(t64([1.0], True))
    assert not y.requires_grad and y.grad_fn is None


def test_custom_function_wrong_gradient_count_raises():
    class Bad(devrt.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    y = Bad.apply(t64([1.0], True), t64([1.0], True))
    with pytest.raises(RuntimeError):
        y.sum().backward()


def test_custom_function_gradient_takes_its_input_dtype():
    """A backward returning float64 for a float32 input: the input's .grad
    is float32 (PyTorch casts the returned gradient to the input's dtype)."""

    class Twice(devrt.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 2.0

        @staticmethod
        def backward(ctx, g):
            return g.double() * 2.0

    x = devrt.tensor([1.0, 2.0], dtype=devrt.float32, requires_grad=True)
    Twice.apply(x).sum().backward()
    assert x.grad.dtype == devrt.float32
    assert_values(x.grad, [2.0, 2.0])


def test_custom_function_gradient_of_wrong_shape_raises():
    """PyTorch: "Function ...Backward returned an invalid gradient at index 0"."""

    class BadShape(devrt.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 2.0

        @staticmethod
        def backward(ctx, g):
            return devrt.ones(3, dtype=devrt.float64)

    x = t64([1.0, 2.0], True)
    with pytest.raises(RuntimeError):
        BadShape.apply(x).sum().backward()
    assert x.grad is None or tuple(x.grad.shape) == (2,)


# --- comparisons with PyTorch ----------------------------------------------------------------------

TORCH_CASES = {
    "mlp": (
        [(4, 5), (5, 3), (4, 3)],
        lambda L, x, w, y: ((x.mm(w).clamp(min=0) - y) ** 2).sum(),
    ),
    "softmax_log_softmax": (
        [(3, 4)],
        lambda L, x: (x.softmax(1) * x.log_softmax(0) * x).sum(),
    ),
    "var_std": ([(3, 4)], lambda L, x: x.var(1).sum() + x.std(0, correction=0).sum() + x.var()),
    "repeated_index": ([(4, 3)], lambda L, x: (x[[0, 0, 3, 0]] ** 3).sum()),
    "mask": ([(3, 4)], lambda L, x: x[x > 0].exp().sum()),
    "where": ([(3, 4)], lambda L, x: L.where(x > 0, x, x * 0.1).pow(2).sum()),
    "pow_broadcast": ([(2, 3), (3,)], lambda L, a, b: (a.abs() ** b).sum()),
    "max_dim_amax": ([(3, 4)], lambda L, x: x.max(1).values.sum() + x.amax(0).sum()),
    "prod": ([(3, 4)], lambda L, x: x.prod(1).sum() + x.prod()),
    "batched_matmul_vec": ([(2, 3, 4), (4,)], lambda L, a, v: ((a @ v).sin()).sum()),
    "views": (
        [(2, 3, 4)],
        lambda L, x: (
            x.permute(2, 0, 1).reshape(4, 6)[1:, ::2] * x.transpose(0, 2)[0, :, 1:]
        ).sum(),
    ),
    "maximum_minimum": ([(3, 4), (4,)], lambda L, a, b: (L.maximum(a, b) * L.minimum(a, -b)).sum()),
    "ties_amax": (None, lambda L, x: x.amax() + x.max()),
}


@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_gradients_match_torch(rng, name):
    torch = pytest.importorskip("torch")
    shapes, fn = TORCH_CASES[name]
    if shapes is None:
        arrays = [np.array([[1.0, 3.0, -2.0], [3.0, 0.5, 3.0]])]
    else:
        arrays = [rng.standard_normal(s) for s in shapes]
    d_in = [t64(a, True) for a in arrays]
    t_in = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    d_out = fn(devrt, *d_in)
    t_out = fn(torch, *t_in)
    np.testing.assert_allclose(d_out.item(), t_out.item(), rtol=1e-12)
    d_out.backward()
    t_out.backward()
    for i, (d, t) in enumerate(zip(d_in, t_in, strict=True)):
        np.testing.assert_allclose(
            np_of(d.grad), t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"input {i}"
        )


def test_error_behaviour_matches_torch():
    torch = pytest.importorskip("torch")
    for make in (t64, lambda a, rg=False: torch.tensor(a, requires_grad=rg)):
        x = make([1.0, 2.0], True)
        with pytest.raises(RuntimeError):
            (x * 2.0).backward()
        y = (x * x).sum()
        y.backward()
        with pytest.raises(RuntimeError):
            y.backward()
        with pytest.raises(RuntimeError):
            x.add_(1.0)


DEEP_GRAPH = """
import devrt
x = devrt.tensor([1.0], dtype=devrt.float64, requires_grad=True)
y = x
for _ in range({n}):
    y = y + 1.0
y.sum().backward()
assert x.grad.item() == 1.0, x.grad
del y  # frees a chain of {n} nodes
y = x
for _ in range({n}):
    y = y * 1.0
del y  # again, without a backward
print("freed")
"""


def test_deep_graph_is_built_backpropagated_and_freed():
    """A 200k-op chain (PyTorch frees such graphs iteratively): in a child
    process, since a recursive destructor overflows the C stack."""
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-c", DEEP_GRAPH.format(n=200_000)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "freed" in r.stdout, (r.returncode, r.stderr[-2000:])


# --- memory --------------------------------------------------------------------------------------


def allocated(collect: bool = True) -> int:
    if collect:
        gc.collect()
    return devrt.memory_stats()["allocated"]


def _small_net(rng):
    x = t64(rng.standard_normal((16, 64)))
    y = t64(rng.standard_normal((16, 4)))
    w1 = t64(rng.standard_normal((64, 32)) * 0.1, True)
    w2 = t64(rng.standard_normal((32, 4)) * 0.1, True)
    return x, y, w1, w2


def _step(x, y, w1, w2, reset):
    loss = (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()
    loss.backward()
    with devrt.no_grad():
        w1 -= 1e-3 * w1.grad
        w2 -= 1e-3 * w2.grad
        if reset == "zero_":
            w1.grad.zero_()
            w2.grad.zero_()
        else:
            w1.grad = None
            w2.grad = None
    return loss.item()


@pytest.mark.parametrize("reset", ["zero_", "none"])
def test_training_loop_memory_returns_to_start_each_step(rng, reset):
    x, y, w1, w2 = _small_net(rng)
    first = _step(x, y, w1, w2, reset)  # .grad buffers now exist (zero_) or not (none)
    start = allocated()
    losses = []
    for i in range(100):
        losses.append(_step(x, y, w1, w2, reset))
        # no gc.collect(): reference counting alone must free each step's graph
        now = allocated(collect=False)
        assert now == start, f"step {i}: allocated {now - start:+d} bytes vs the start"
    assert losses[-1] < first


def test_saved_tensors_are_freed_by_backward():
    n = 1 << 16  # 512 KiB per float64 buffer
    x = t64(np.linspace(-1, 1, n), True)
    start = allocated()
    # exp saves its output, sin its input (the same buffer), the second exp
    # its output: two n-sized buffers held by the graph
    loss = x.exp().sin().exp().sum()
    held = allocated() - start
    assert held >= 2 * 8 * n
    loss.backward()  # frees them although `loss` (and its graph) is alive
    after = allocated() - start
    grad_bytes = x.grad.nbytes
    assert after <= grad_bytes + 4096, (held, after, grad_bytes)
    del loss
    x.grad = None
    assert allocated() <= start


def test_retain_graph_keeps_saved_tensors_until_graph_dies():
    n = 1 << 16
    x = t64(np.linspace(-1, 1, n), True)
    start = allocated()
    loss = x.exp().sin().exp().sum()
    loss.backward(retain_graph=True)
    x.grad = None
    assert allocated() - start >= 2 * 8 * n
    del loss
    assert allocated() <= start


def test_graph_freed_when_output_dropped_without_backward():
    n = 1 << 16
    x = t64(np.linspace(-1, 1, n), True)
    w = t64(np.linspace(1, 2, n))
    start = allocated()
    for _ in range(5):
        y = ((x * w).exp() * x).tanh()
        del y
    assert allocated() <= start


def test_custom_function_graph_is_freed_after_backward():
    refs = []

    class Exp(devrt.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            refs.append(weakref.ref(ctx))
            r = t.exp()
            ctx.save_for_backward(r)
            return r

        @staticmethod
        def backward(ctx, g):
            (r,) = ctx.saved_tensors
            return g * r

    x = t64(np.zeros(1 << 14), True)
    start = allocated()
    y = Exp.apply(x)
    y.sum().backward()
    del y
    x.grad = None
    assert allocated() <= start
    assert refs[0]() is None


@pytest.mark.parametrize("saves", ["input", "output"])
def test_custom_function_graph_is_freed_without_backward(saves):
    """A Function whose ctx saves its own output (as an Exp would) must not
    keep the graph alive through a reference cycle when no backward runs."""
    refs = []

    class Exp(devrt.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            refs.append(weakref.ref(ctx))
            r = t.exp()
            ctx.save_for_backward(r if saves == "output" else t)
            return r

        @staticmethod
        def backward(ctx, g):
            (s,) = ctx.saved_tensors
            return g * (s if saves == "output" else s.exp())

    x = t64(np.zeros(1 << 14), True)
    start = allocated()
    for _ in range(3):
        y = Exp.apply(x)
        del y
    leaked = allocated() - start
    assert all(r() is None for r in refs), "ctx (and its node) still alive"
    assert leaked <= 0, f"{leaked} bytes still allocated"


def test_grad_of_an_input_listed_twice():
    # as torch.autograd.grad: each listing gets the full gradient
    a = devrt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    ga, gb = devrt.autograd.grad((a * a).sum(), [a, a])
    np.testing.assert_allclose(ga.numpy(), [2.0, 4.0, 6.0])
    np.testing.assert_allclose(gb.numpy(), [2.0, 4.0, 6.0])
