"""Second derivatives on every device: the gradient of each differentiable
op, taken with ``create_graph=True``, is itself differentiated and checked
against central finite differences of that gradient in float64
(devrt.testing.gradcheck.gradgradcheck). The derivative rules are written in
terms of catalogue ops, so a rule that records is differentiable again."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt.testing.conformance.support import to_device
from devrt.testing.gradcheck import gradgradcheck

TOL = {"atol": 1e-5, "rtol": 1e-4}

# Every check clones seeds (copy) and sums, scales and adds gradients; the
# cases add the ops of their forward and of its rules.
BASE = ("copy", "add", "mul", "sum", "neg", "fill", "sub", "where", "div")


def _need(need, *ops):
    need(*BASE, *ops, dtype="float64")


def _x(rng, shape, device, low=-1.0, high=1.0):
    return to_device(devrt.from_numpy(rng.uniform(low, high, shape)), device).requires_grad_(True)


# name -> (function of the inputs, input ranges, ops its forward and rules run)
UNARY = {
    "exp": (devrt.exp, (-1, 1)),
    "log": (devrt.log, (0.5, 2)),
    "sqrt": (devrt.sqrt, (0.5, 2)),
    "rsqrt": (devrt.rsqrt, (0.5, 2)),
    "sin": (devrt.sin, (-2, 2)),
    "cos": (devrt.cos, (-2, 2)),
    "tan": (devrt.tan, (-1, 1)),
    "tanh": (devrt.tanh, (-2, 2)),
    "sigmoid": (devrt.sigmoid, (-2, 2)),
    "erf": (devrt.erf, (-1, 1)),
    "log1p": (devrt.log1p, (0, 1)),
    "expm1": (devrt.expm1, (-1, 1)),
    "reciprocal": (devrt.reciprocal, (0.5, 2)),
    "abs": (devrt.abs, (0.2, 1)),
    "neg": (devrt.neg, (-1, 1)),
    "softmax": (lambda x: devrt.softmax(x, dim=-1), (-1, 1)),
    "log_softmax": (lambda x: devrt.log_softmax(x, dim=-1), (-1, 1)),
    "prod": (lambda x: x.prod(dim=1), (0.5, 1.5)),
    "var": (lambda x: x.var(dim=0), (-1, 1)),
    "cumsum": (lambda x: (x * x).cumsum(dim=1), (-1, 1)),
    "max": (lambda x: (x * x).amax(dim=1), (-1, 1)),
    "mean": (lambda x: (x * x).mean(dim=0), (-1, 1)),
    "slice": (lambda x: (x * x)[:, 1::2], (-1, 1)),
    "select": (lambda x: (x * x)[1], (-1, 1)),
    "index": (lambda x: (x * x)[devrt.tensor([2, 0, 2])], (-1, 1)),
    "permute_expand": (lambda x: (x.T * x.T).expand(2, 4, 3), (-1, 1)),
}

# Ops besides BASE that a case's forward and rules run, where not its name.
UNARY_OPS = {
    "sin": ("sin", "cos"),
    "cos": ("sin", "cos"),
    "erf": ("erf", "exp"),
    "abs": ("abs", "sign"),
    "softmax": ("softmax", "exp"),
    "log_softmax": ("log_softmax", "exp"),
    "prod": ("prod", "eq", "logical_and"),
    "var": ("var", "mean"),
    "cumsum": ("cumsum", "index"),
    "max": ("max", "eq", "ne", "logical_or"),
    "mean": ("mean",),
    "slice": ("index", "index_put", "arange"),
    "select": ("index", "index_put"),
    "index": ("index", "index_put"),
    "permute_expand": (),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_second_derivative(device, need, rng, name):
    fn, (low, high) = UNARY[name]
    _need(need, *UNARY_OPS.get(name, (name,)))
    x = _x(rng, (3, 4), device, low, high)
    gradgradcheck(fn, (x,), **TOL)


BINARY = {
    "add": lambda a, b: (a + b) * (a + b),
    "sub": lambda a, b: (a - b) * a,
    "mul": lambda a, b: a * b * a,
    "div": lambda a, b: a / b,
    "atan2": lambda a, b: devrt.atan2(a * b, b - 2.0),
    "hypot": lambda a, b: devrt.hypot(a, b * a),
    "pow": lambda a, b: a**b,
    "maximum": lambda a, b: devrt.maximum(a * a, b),
    "where": lambda a, b: devrt.where(a > 0, a * b, b * b),
    "matmul": lambda a, b: (a @ b.T) * (a @ b.T),
    "cat": lambda a, b: devrt.cat([a * b, b * b], dim=0),
}

BINARY_OPS = {
    "pow": ("pow", "log", "eq", "ge", "logical_and"),
    "maximum": ("maximum", "eq", "gt"),
    "where": ("gt",),
    "matmul": ("matmul",),
    "cat": ("index_put", "arange"),
    "atan2": ("atan2", "add"),
    "hypot": ("hypot",),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_second_derivative(device, need, rng, name):
    _need(need, *BINARY_OPS.get(name, (name,)))
    a = _x(rng, (3, 4), device, 0.5, 1.5)
    b = _x(rng, (3, 4), device, 0.5, 1.5)
    if name == "maximum":  # away from ties
        b = to_device(devrt.from_numpy(rng.uniform(0.0, 0.5, (3, 4))), device)
        b.requires_grad_(True)
    gradgradcheck(BINARY[name], (a, b), **TOL)


def test_conv2d_second_derivative(device, need, rng):
    _need(need, "im2col", "col2im", "matmul")
    x = _x(rng, (2, 2, 5, 5), device)
    w = _x(rng, (3, 2, 3, 3), device)

    def f(x, w):
        y = devrt.nn.functional.conv2d(x, w, padding=1)
        return y * y

    gradgradcheck(f, (x, w), atol=1e-4, rtol=1e-3)


def test_hessian_vector_product(device, need, rng):
    """grad(grad(f)·v) is the Hessian of f times v: for f = sum(x^4),
    H = diag(12 x^2)."""
    _need(need, "pow")
    x = _x(rng, (5,), device)
    v = to_device(devrt.from_numpy(rng.standard_normal(5)), device)
    (g,) = devrt.autograd.grad((x**4).sum(), x, create_graph=True)
    (hv,) = devrt.autograd.grad((g * v).sum(), x)
    xs, vs = x.detach().cpu().numpy(), v.cpu().numpy()
    np.testing.assert_allclose(hv.cpu().numpy(), 12 * xs**2 * vs, rtol=1e-10)
