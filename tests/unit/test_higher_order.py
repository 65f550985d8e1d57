"""Higher-order gradients in eager code (create_graph=True), compared with
PyTorch where it is installed: a WGAN-GP gradient penalty on an MLP and a
CNN critic, a Hessian-vector product, backward(create_graph=True) and the
errors of what is not twice differentiable. Per-op second derivatives on
every device: devrt.testing.conformance.test_second_order."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
import devrt.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(arr, requires_grad=False):
    a = devrt.from_numpy(np.array(arr, dtype=np.float64))
    b = torch.tensor(np.array(arr, dtype=np.float64))
    if requires_grad:
        a.requires_grad_(True)
        b.requires_grad_(True)
    return a, b


def _close(a, b, tol=1e-10):
    a = np.zeros(()) if a is None else a.detach().numpy()
    b = np.zeros(()) if b is None else b.detach().numpy()
    np.testing.assert_allclose(np.broadcast_to(a, np.shape(b)), b, rtol=tol, atol=tol)


def test_gradient_penalty_mlp_matches_pytorch():
    rng = np.random.default_rng(0)
    params = [
        _pair(rng.standard_normal(s), True) for s in [(8, 4), (8,), (8, 8), (8,), (1, 8), (1,)]
    ]
    x_d, x_t = _pair(rng.standard_normal((6, 4)), True)

    def penalty(lib, fn, x, ps):
        w1, b1, w2, b2, w3, b3 = ps
        h = fn.leaky_relu(x @ w1.T + b1, 0.2)
        h = lib.tanh(h @ w2.T + b2)
        d = h @ w3.T + b3
        (g,) = lib.autograd.grad(d.sum(), x, create_graph=True)
        pen = ((g.norm(2, dim=1) - 1) ** 2).mean()
        (d.mean() + 10 * pen).backward()
        return pen

    pd = penalty(devrt, F, x_d, [p[0] for p in params])
    pt = penalty(torch, TF, x_t, [p[1] for p in params])
    _close(pd, pt)
    for a, b in params:
        _close(a.grad, b.grad)
    _close(x_d.grad, x_t.grad)


def test_gradient_penalty_cnn_matches_pytorch():
    rng = np.random.default_rng(1)
    w_d, w_t = _pair(rng.standard_normal((4, 2, 3, 3)) * 0.3, True)
    v_d, v_t = _pair(rng.standard_normal((1, 4 * 3 * 3)) * 0.3, True)
    x_d, x_t = _pair(rng.standard_normal((3, 2, 6, 6)), True)

    def penalty(lib, fn, x, w, v):
        h = fn.conv2d(x, w, stride=2, padding=1)
        h = lib.tanh(h).reshape(x.shape[0], -1)
        d = h @ v.T
        (g,) = lib.autograd.grad(d.sum(), x, create_graph=True)
        pen = (g * g).sum()
        pen.backward()
        return pen

    _close(penalty(devrt, F, x_d, w_d, v_d), penalty(torch, TF, x_t, w_t, v_t))
    _close(w_d.grad, w_t.grad)
    _close(v_d.grad, v_t.grad)
    _close(x_d.grad, x_t.grad)


def test_hessian_vector_product_matches_pytorch():
    rng = np.random.default_rng(2)
    w_d, w_t = _pair(rng.standard_normal((5, 3)))
    x_d, x_t = _pair(rng.standard_normal(3), True)
    v = rng.standard_normal(3)

    def hvp(lib, x, w):
        y = (lib.tanh(w @ x) ** 2).sum() + (x.exp() * x.sin()).sum() + lib.softmax(x, 0)[0]
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (hv,) = lib.autograd.grad((g * lib.tensor(v)).sum(), x)
        return g, hv

    (g_d, hv_d), (g_t, hv_t) = hvp(devrt, x_d, w_d), hvp(torch, x_t, w_t)
    _close(g_d, g_t)
    _close(hv_d, hv_t)


def test_backward_create_graph_gives_differentiable_grads():
    x = devrt.tensor([1.0, 2.0, 3.0], dtype=devrt.float64, requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert g.grad_fn is not None and g.requires_grad
    np.testing.assert_allclose(g.detach().numpy(), [3.0, 12.0, 27.0])
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0, 18.0])


def test_without_create_graph_grads_have_no_history():
    x = devrt.tensor([1.0, 2.0], requires_grad=True)
    (g,) = devrt.autograd.grad((x * x).sum(), x)
    assert not g.requires_grad and g.grad_fn is None
    (x.exp()).sum().backward()
    assert x.grad.grad_fn is None


def test_create_graph_retains_the_graph_by_default():
    x = devrt.tensor([0.5, 1.5], requires_grad=True)
    y = (x.sin() * x).sum()
    devrt.autograd.grad(y, x, create_graph=True)
    (g,) = devrt.autograd.grad(y, x)  # would raise if freed
    assert g is not None


def test_third_derivative():
    x = devrt.tensor([0.3, -0.7], dtype=devrt.float64, requires_grad=True)
    (g1,) = devrt.autograd.grad(x.sin().sum(), x, create_graph=True)
    (g2,) = devrt.autograd.grad(g1.sum(), x, create_graph=True)
    (g3,) = devrt.autograd.grad(g2.sum(), x)
    np.testing.assert_allclose(g3.numpy(), -np.cos([0.3, -0.7]), rtol=1e-12)


def test_max_pool_second_derivative_matches_pytorch():
    """The pooling kernel's backward is not differentiable; with
    create_graph the rule routes the gradient through recorded ops."""
    rng = np.random.default_rng(3)
    x_d, x_t = _pair(rng.standard_normal((2, 3, 6, 6)), True)

    def second(lib, fn, x):
        y = fn.max_pool2d(x * x * x, 3, stride=2, padding=1)
        (g,) = lib.autograd.grad((y * y).sum(), x, create_graph=True)
        (g * g).sum().backward()
        return g

    _close(second(devrt, F, x_d), second(torch, TF, x_t))
    _close(x_d.grad, x_t.grad)
