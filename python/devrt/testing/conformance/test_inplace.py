"""In-place ops on tensors with autograd history, on every device: the
destination's history is rebased onto the op (and, through a view, its
base's onto an index_put of the view's elements), so gradients reach both
the old value and the new operand. Checked against central finite
differences in float64 (devrt.testing.gradcheck), like test_gradients.
"""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt.testing.conformance.support import to_device
from devrt.testing.conformance.test_gradients import TOL, leaf, need_grad, uniform
from devrt.testing.gradcheck import gradcheck, gradgradcheck


def _written(x, write):
    write(x)
    return x


# Each case: the ops it needs (forward and rules) and f(a, b) on (2, 3) inputs.
CASES = {
    "add_": (["mul", "add"], lambda a, b: _written(a * 2.0, lambda x: x.add_(b)) * a),
    "mul_": (["add", "mul"], lambda a, b: _written(a + 1.0, lambda x: x.mul_(b)) * a),
    "div_": (["mul", "div"], lambda a, b: _written(a * 3.0, lambda x: x.div_(b * b + 1.0))),
    "iadd_loss": (["mul", "sum"], lambda a, b: _loss_sum(a, b)),
    "tanh_": (["mul", "tanh"], lambda a, b: _written(a * b, lambda x: x.tanh_())),
    "copy_": (["mul", "index_put"], lambda a, b: _written(a * 2.0, lambda x: x.copy_(b)) * a),
    "setitem_row": (
        ["mul", "index_put", "index", "arange", "slice", "select"],
        lambda a, b: _written(a * 1.0, lambda x: x.__setitem__(0, b[1] * 2.0)) * b,
    ),
    "view_mul_": (
        ["mul", "index_put", "index", "arange", "slice", "select"],
        lambda a, b: _written(a * 1.0, lambda x: x[:, 1].mul_(b[:, 0])) * a,
    ),
}


def _loss_sum(a, b):
    loss = (a * b).sum()
    loss += (a * a).sum()
    return loss


@pytest.mark.parametrize("name", list(CASES))
def test_inplace_gradient(device, need, rng, name):
    ops, fn = CASES[name]
    need_grad(need, *ops)
    a = leaf(uniform(rng, (2, 3), -2, 2), device)
    b = leaf(uniform(rng, (2, 3), 0.5, 2), device)
    assert gradcheck(fn, (a, b), **TOL)


@pytest.mark.parametrize("name", ["mul_", "setitem_row"])
def test_inplace_second_order(device, need, rng, name):
    ops, fn = CASES[name]
    need_grad(need, *ops)
    a = leaf(uniform(rng, (2, 3), -2, 2), device)
    b = leaf(uniform(rng, (2, 3), 0.5, 2), device)
    assert gradgradcheck(fn, (a, b), **TOL)


def test_index_assignment_into_a_buffer(device, need, rng):
    """The seq2seq tutorial's encoder_outputs[i] = h: a buffer without
    history takes it from the rows written into it."""
    need_grad(need, "mul", "tanh", "index_put", "arange", "select")

    def fill(a):
        out = to_device(np.zeros((3, 3)), device, "float64")
        h = a[0] * 0.0
        for i in range(3):
            h = (h + a[i]).tanh()
            out[i] = h
        return out

    a = leaf(uniform(rng, (3, 3), -1, 1), device)
    assert gradcheck(fill, (a,), **TOL)


def test_leaf_refuses_and_version_check_raises(device, need):
    need("mul", "add", "copy", dtype="float64")
    a = to_device(np.array([1.0, 2.0, 3.0]), device, "float64")
    a.requires_grad_(True)
    with pytest.raises(RuntimeError, match=r"^\[add\] a leaf tensor that requires grad"):
        a.add_(1.0)
    x = a * 1.0
    y = x * a  # mul saves x
    x.add_(1.0)
    with pytest.raises(RuntimeError, match=r"^\[mul\] one of the tensors needed for gradient"):
        y.sum().backward()
    with devrt.no_grad():
        a.add_(1.0)
    assert a.is_leaf
