"""The fused gradient kernels (``relu_backward``) against NumPy, on every
device: through the device's kernel where it has one, through the core's
where(y <= 0, 0, g) elsewhere, for operands the kernel does not take and
when autograd records the gradient; with the same values either way."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt import _C
from devrt.testing import supports
from devrt.testing.conformance.support import LAYOUTS, assert_close, laid_out, to_device
from devrt.testing.gradcheck import gradgradcheck

# What the core runs on a device without the kernel.
COMPOSITE_OPS = ["le", "where", "fill"]


def need_relu_backward(device, need, dtype):
    if supports(device, "relu_backward", dtype):
        need("relu_backward", dtype=dtype)
    else:
        need(*COMPOSITE_OPS, dtype=dtype)
        need("where", dtype="bool")


def relu_outputs(rng, shape, dtype):
    """relu's output y with its special points: zeros of both signs, NaN,
    and negatives (a y below 0 is not relu's, but the op takes any y)."""
    y = np.maximum(rng.standard_normal(shape), 0).astype(dtype)
    flat = y.reshape(-1)
    flat[::7] = 0.0
    flat[1::11] = -0.0
    flat[2::13] = np.nan
    flat[3::17] = -1.5
    return y


def reference(g, y):
    """PyTorch's threshold_backward at 0: only y <= 0 stops g."""
    return np.where(y <= 0, np.zeros_like(g), g)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(37, 129), (5,), (), (0, 3)])
def test_relu_backward_matches_numpy(device, need, rng, dtype, shape):
    need_relu_backward(device, need, dtype)
    y = relu_outputs(rng, shape, dtype) if np.prod(shape) else np.zeros(shape, dtype)
    g = rng.standard_normal(shape).astype(dtype)
    g.reshape(-1)[5::19] = np.inf  # inf and NaN gradients pass where y > 0
    g.reshape(-1)[6::23] = np.nan
    out = _C.relu_backward(to_device(g, device), to_device(y, device))
    assert out.dtype == devrt.tensor(g).dtype and tuple(out.shape) == shape
    assert str(out.device) == str(devrt.tensor(0.0, device=device).device)
    expected = reference(g, y)
    got = out.cpu().numpy()
    # Exact: a select, no arithmetic; the signs of zeros included.
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_relu_backward_on_strided_operands(device, need, rng, layout):
    need_relu_backward(device, need, "float32")
    need("copy", dtype="float32")
    y = relu_outputs(rng, (6, 9), "float32")
    g = rng.standard_normal((6, 9)).astype("float32")
    if layout == "expanded":  # rows that repeat (NaN is not equal to itself)
        y[:] = np.nan_to_num(y[:1], nan=2.0)
    out = _C.relu_backward(laid_out(g, device, "transposed"), laid_out(y, device, layout))
    assert_close(out, reference(g, y))


def test_relu_backward_of_mixed_dtypes(device, need, rng):
    """A y of another dtype than g: the core's ops (in g's dtype)."""
    need(*COMPOSITE_OPS, dtype="float64")
    need("le", "copy", dtype="float32")
    need("where", dtype="bool")
    y = relu_outputs(rng, (4, 5), "float32")
    g = rng.standard_normal((4, 5))
    out = _C.relu_backward(to_device(g, device), to_device(y, device))
    assert out.dtype == devrt.float64
    assert_close(out, reference(g, y.astype(np.float64)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_gradient_is_relu_backward(device, need, rng, dtype):
    """relu's derivative rule: the gradient of relu at y's special points
    (0 and NaN pass nothing and g), as relu_backward gives it."""
    need_relu_backward(device, need, dtype)
    need("relu", "copy", dtype=dtype)
    x = relu_outputs(rng, (8, 33), dtype)
    x.reshape(-1)[4::9] = -2.0
    g = rng.standard_normal((8, 33)).astype(dtype)
    t = to_device(x, device).requires_grad_(True)
    devrt.relu(t).backward(to_device(g, device))
    np.testing.assert_array_equal(t.grad.cpu().numpy(), reference(g, np.maximum(x, 0)))


def test_relu_second_derivative_through_the_recorded_gradient(device, need, rng):
    """With create_graph the rule records where(y <= 0, 0, g), whose
    gradient in g is checked by finite differences."""
    need(*COMPOSITE_OPS, "relu", "mul", "sum", "copy", dtype="float64")
    need("where", dtype="bool")
    x = rng.uniform(0.2, 1.0, (4, 6)) * rng.choice([-1.0, 1.0], (4, 6))
    t = to_device(x, device).requires_grad_(True)

    def f(a):
        return devrt.relu(a) * a

    gradgradcheck(f, (t,), atol=1e-6, rtol=1e-6)


def test_relu_backward_refuses_bad_operands(device, need):
    need("fill", dtype="float32")
    g = devrt.zeros(2, 3, device=device)
    with pytest.raises(ValueError, match=r"^\[relu_backward\] g has shape \[2, 3\], y \[3, 2\]"):
        _C.relu_backward(g, devrt.zeros(3, 2, device=device))
    with pytest.raises(ValueError, match=r"^\[relu_backward\] g has shape \[2, 3\], y \[3\]"):
        _C.relu_backward(g, devrt.zeros(3, device=device))
    need("fill", dtype="int64")
    with pytest.raises(TypeError, match=r"^\[relu_backward\] g must be floating, got int64"):
        _C.relu_backward(
            devrt.zeros(3, dtype=devrt.int64, device=device), devrt.zeros(3, device=device)
        )
    if device != "cpu":
        with pytest.raises(
            ValueError, match=r"^\[relu_backward\] expected all tensors on one device"
        ):
            _C.relu_backward(g, devrt.zeros(2, 3))
