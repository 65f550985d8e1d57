"""The fused optimizer updates (``adam_step``, ``sgd_step``) against NumPy, on every
device: through the device's kernel where it has one, through the core's
sequence of ops elsewhere and for operands the kernel does not take
(non-contiguous ones), with the same roundings either way."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt import _C
from devrt.testing import supports

# What the core runs on a device without the kernel (or for strided operands).
COMPOSITE_OPS = ["mul", "add", "sqrt", "div", "sub", "copy"]
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def need_adam(device, need, dtype, amsgrad=False):
    """The kernel where the device has it, else the ops of the core's sequence."""
    if supports(device, "adam_step", dtype):
        need("adam_step", dtype=dtype)
    else:
        need(*COMPOSITE_OPS, *(["maximum"] if amsgrad else []), dtype=dtype)


def reference(p, g, m, v, v_max, step_size, root_divisor, beta1=BETA1, beta2=BETA2, eps=EPS):
    """The update in NumPy, in the dtype of p, one rounding per operation in
    the order the op specifies (1 - beta in double, rounded once)."""
    t = p.dtype.type
    m = m * t(beta1) + g * t(1.0 - beta1)
    v = v * t(beta2) + (g * g) * t(1.0 - beta2)
    second = v if v_max is None else np.maximum(v_max, v)
    root = np.sqrt(second)
    if root_divisor is not None:
        root = root / t(root_divisor)
    p = p - (m * t(step_size)) / (root + t(eps))
    return p, m, v, second


def state(rng, shape, dtype):
    """param, grad, m, v, v_max: v and v_max non-negative, as Adam keeps them."""
    p, g, m = (rng.standard_normal(shape).astype(dtype) for _ in range(3))
    v, v_max = (np.abs(rng.standard_normal(shape)).astype(dtype) for _ in range(2))
    return p, g, m, v, v_max


def tol(dtype):
    return dict(rtol=1e-6, atol=1e-6) if dtype == "float32" else dict(rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("root_divisor", [None, 0.75])
def test_adam_step_matches_numpy(device, need, rng, dtype, amsgrad, root_divisor):
    need_adam(device, need, dtype, amsgrad)
    arrays = state(rng, (37, 129), dtype)  # odd sizes: vector tails, uneven splits
    p, g, m, v, v_max = (devrt.tensor(a, device=device) for a in arrays)
    versions = [t._version for t in (p, m, v, v_max)]
    out = _C.adam_step(
        p,
        g,
        m,
        v,
        0.0125,
        root_divisor,
        beta1=BETA1,
        beta2=BETA2,
        eps=EPS,
        max_exp_avg_sq=v_max if amsgrad else None,
    )
    assert out is p
    expected = reference(
        arrays[0], *arrays[1:4], arrays[4] if amsgrad else None, 0.0125, root_divisor
    )
    for got, want in zip((p, m, v), expected):
        np.testing.assert_allclose(got.cpu().numpy(), want, **tol(dtype))
    if amsgrad:
        np.testing.assert_allclose(v_max.cpu().numpy(), expected[3], **tol(dtype))
        assert v_max._version > versions[3]
    else:
        np.testing.assert_array_equal(v_max.cpu().numpy(), arrays[4])
    np.testing.assert_array_equal(g.cpu().numpy(), arrays[1])
    assert all(t._version > before for t, before in zip((p, m, v), versions))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adam_step_kernel_rounds_as_the_ops_do(device, need, rng, dtype):
    # Contiguous operands take the kernel (where the device has it), strided
    # views of the same values the core's ops: the results agree bit for bit.
    need_adam(device, need, dtype, amsgrad=True)
    need(*COMPOSITE_OPS, "maximum", dtype=dtype)
    arrays = state(rng, (1000, 67), dtype)
    contiguous = [devrt.tensor(a, device=device) for a in arrays]
    strided = []
    for a in arrays:
        wide = devrt.tensor(np.zeros((a.shape[0], 2 * a.shape[1]), a.dtype), device=device)
        view = wide[:, ::2]
        view.copy_(devrt.tensor(a, device=device))
        strided.append(view)
    for ts in (contiguous, strided):
        step_size = devrt.tensor(3e-3, dtype=dtype, device=device)
        divisor = devrt.tensor(0.5, dtype=dtype, device=device)
        _C.adam_step(
            ts[0], ts[1], ts[2], ts[3], step_size, divisor,
            beta1=0.8, beta2=0.99, eps=1e-6, max_exp_avg_sq=ts[4],
        )  # fmt: skip
    for a, b in zip(contiguous, strided):
        np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())


def test_adam_step_on_non_contiguous_operands(device, need, rng):
    need_adam(device, need, "float32")
    need(*COMPOSITE_OPS, dtype="float32")
    arrays = state(rng, (12, 9), "float32")
    # param transposed, grad a strided slice, m and v contiguous
    p_base = devrt.tensor(np.ascontiguousarray(arrays[0].T), device=device)
    g_base = devrt.tensor(np.repeat(arrays[1], 2, axis=1), device=device)
    p, g = p_base.t(), g_base[:, ::2]
    m, v = (devrt.tensor(a, device=device) for a in arrays[2:4])
    assert not p.is_contiguous() and not g.is_contiguous()
    _C.adam_step(p, g, m, v, 0.01, beta1=BETA1, beta2=BETA2, eps=EPS)
    expected = reference(*arrays[:4], None, 0.01, None)
    for got, want in zip((p, m, v), expected):
        np.testing.assert_allclose(got.cpu().numpy(), want, **tol("float32"))


def test_adam_step_reads_a_gradient_that_shares_memory(device, need, rng):
    # grad is m itself: the update reads the old m as the gradient.
    need_adam(device, need, "float64")
    p, _, m, v, _ = state(rng, (5, 7), "float64")
    pt, mt, vt = (devrt.tensor(a, device=device) for a in (p, m, v))
    _C.adam_step(pt, mt, mt, vt, 0.1, beta1=BETA1, beta2=BETA2, eps=EPS)
    expected = reference(p, m, m, v, None, 0.1, None)
    for got, want in zip((pt, mt, vt), expected):
        np.testing.assert_allclose(got.cpu().numpy(), want, **tol("float64"))


def test_adam_step_takes_step_size_as_a_tensor(device, need, rng):
    # A schedule's value stays a tensor (no host read); other dtypes are cast.
    need_adam(device, need, "float32")
    arrays = state(rng, (64,), "float32")
    p, g, m, v = (devrt.tensor(a, device=device) for a in arrays[:4])
    step_size = devrt.tensor(0.02, dtype=devrt.float64, device=device)
    _C.adam_step(p, g, m, v, step_size, beta1=0.5, beta2=0.75, eps=1e-3)
    expected = reference(*arrays[:4], None, np.float32(0.02), None, 0.5, 0.75, 1e-3)
    np.testing.assert_allclose(p.cpu().numpy(), expected[0], **tol("float32"))


def test_adam_step_is_not_recorded(device, need, rng):
    need_adam(device, need, "float32")
    arrays = state(rng, (3, 4), "float32")
    p = devrt.tensor(arrays[0], device=device, requires_grad=True)
    g = devrt.tensor(arrays[1], device=device)
    m, v = (devrt.tensor(a, device=device) for a in arrays[2:4])
    _C.adam_step(p, g, m, v, 0.1, beta1=BETA1, beta2=BETA2, eps=EPS)
    assert p.grad_fn is None and p.requires_grad and p.is_leaf
    assert m.grad_fn is None and not m.requires_grad
    expected = reference(*arrays[:4], None, 0.1, None)
    np.testing.assert_allclose(p.detach().cpu().numpy(), expected[0], **tol("float32"))


def test_adam_step_on_empty_tensors(device, need):
    need_adam(device, need, "float32")
    p, g, m, v = (devrt.tensor(np.zeros((0, 3), np.float32), device=device) for _ in range(4))
    _C.adam_step(p, g, m, v, 0.1, beta1=BETA1, beta2=BETA2, eps=EPS)
    assert p.shape == (0, 3)


def test_adam_step_refuses_bad_operands(device):
    def t(shape=(2, 3), dtype="float32"):
        # copied to the device: no kernel of its own is needed
        return devrt.tensor(np.zeros(shape, dtype), device=device)

    def step(p, g, m, v, step_size=0.1, **kw):
        _C.adam_step(p, g, m, v, step_size, beta1=BETA1, beta2=BETA2, eps=EPS, **kw)

    with pytest.raises(ValueError, match=r"^\[adam_step\] grad has shape \[2, 4\], param \[2, 3\]"):
        step(t(), t((2, 4)), t(), t())
    with pytest.raises(ValueError, match=r"^\[adam_step\] v_max has shape \[3\], param \[2, 3\]"):
        step(t(), t(), t(), t(), max_exp_avg_sq=t((3,)))
    with pytest.raises(TypeError, match=r"^\[adam_step\] m has dtype float64, param float32"):
        step(t(), t(), t(dtype="float64"), t())
    with pytest.raises(TypeError, match=r"^\[adam_step\] param must be floating, got int64"):
        i = t(dtype="int64")
        step(i, t(dtype="int64"), t(dtype="int64"), t(dtype="int64"))
    with pytest.raises(
        ValueError, match=r"^\[adam_step\] step_size must be a 0-d tensor, got shape \[2\]"
    ):
        step(t(), t(), t(), t(), t((2,)))
    with pytest.raises(TypeError, match=r"^\[adam_step\] step_size must be floating, got int64"):
        step(t(), t(), t(), t(), t((), "int64"))
    with pytest.raises(TypeError, match=r"^\[adam_step\] step_size must be a number.*str"):
        step(t(), t(), t(), t(), "0.1")
    p = t()
    with pytest.raises(ValueError, match=r"^\[adam_step\] the tensors it writes .* share memory"):
        step(p, t(), p, t())
    with pytest.raises(ValueError, match=r"^\[adam_step\] the tensors it writes .* share memory"):
        base = t((2, 6))
        step(t(), t(), base[:, :3], base[:, 2:5])


# --- sgd_step ------------------------------------------------------------------------------


def need_sgd(device, need, dtype):
    """The kernel where the device has it, else the core's mul and sub."""
    if supports(device, "sgd_step", dtype):
        need("sgd_step", dtype=dtype)
    else:
        need("mul", "sub", dtype=dtype)


def sgd_reference(p, g, lr):
    """param - grad * lr in p's dtype: the product rounded, then the difference."""
    t = p.dtype.type
    return p - g * t(lr)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sgd_step_matches_numpy(device, need, rng, dtype):
    need_sgd(device, need, dtype)
    p0, g0 = (rng.standard_normal((37, 129)).astype(dtype) for _ in range(2))
    p, g = (devrt.tensor(a, device=device) for a in (p0, g0))
    before = p._version
    out = _C.sgd_step(p, g, 0.0125)
    assert out is p and p._version > before
    np.testing.assert_array_equal(p.cpu().numpy(), sgd_reference(p0, g0, 0.0125))
    np.testing.assert_array_equal(g.cpu().numpy(), g0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sgd_step_kernel_rounds_as_the_ops_do(device, need, rng, dtype):
    # Contiguous operands take the kernel (where the device has it), strided
    # views of the same values the core's mul and sub: bit for bit the same,
    # and the same as the unfused update p -= g * lr.
    need_sgd(device, need, dtype)
    need("mul", "sub", "copy", dtype=dtype)
    p0, g0 = (rng.standard_normal((1000, 67)).astype(dtype) for _ in range(2))
    contiguous = [devrt.tensor(a, device=device) for a in (p0, g0)]
    strided = []
    for a in (p0, g0):
        wide = devrt.tensor(np.zeros((a.shape[0], 2 * a.shape[1]), a.dtype), device=device)
        view = wide[:, ::2]
        view.copy_(devrt.tensor(a, device=device))
        strided.append(view)
    lr = devrt.tensor(3e-3, dtype=dtype, device=device)
    for p, g in (contiguous, strided):
        _C.sgd_step(p, g, lr)
    unfused = devrt.tensor(p0, device=device)
    unfused -= devrt.tensor(g0, device=device) * lr
    np.testing.assert_array_equal(contiguous[0].cpu().numpy(), strided[0].cpu().numpy())
    np.testing.assert_array_equal(contiguous[0].cpu().numpy(), unfused.cpu().numpy())


def test_sgd_step_reads_a_gradient_that_shares_memory(device, need, rng):
    need_sgd(device, need, "float64")
    need("copy", dtype="float64")
    p0 = rng.standard_normal((6, 8))
    # grad is param itself: p - p * lr
    p = devrt.tensor(p0, device=device)
    _C.sgd_step(p, p, 0.25)
    np.testing.assert_array_equal(p.cpu().numpy(), sgd_reference(p0, p0, 0.25))
    # grad overlaps param shifted by one column: it is read before the write
    base = devrt.tensor(p0, device=device)
    _C.sgd_step(base[:, :7], base[:, 1:], 0.5)
    expected = p0.copy()
    expected[:, :7] = sgd_reference(p0[:, :7], p0[:, 1:], 0.5)
    np.testing.assert_array_equal(base.cpu().numpy(), expected)


def test_sgd_step_takes_lr_as_a_tensor(device, need, rng):
    # A schedule's value stays a tensor (no host read); other dtypes are cast.
    need_sgd(device, need, "float32")
    need("copy", dtype="float64")
    p0, g0 = (rng.standard_normal(64).astype(np.float32) for _ in range(2))
    p, g = (devrt.tensor(a, device=device) for a in (p0, g0))
    _C.sgd_step(p, g, devrt.tensor(0.02, dtype=devrt.float64, device=device))
    np.testing.assert_array_equal(p.cpu().numpy(), sgd_reference(p0, g0, np.float32(0.02)))


def test_sgd_step_on_non_contiguous_operands(device, need, rng):
    need_sgd(device, need, "float32")
    need("mul", "sub", "copy", dtype="float32")
    p0, g0 = (rng.standard_normal((12, 9)).astype(np.float32) for _ in range(2))
    p = devrt.tensor(np.ascontiguousarray(p0.T), device=device).t()
    g = devrt.tensor(np.repeat(g0, 2, axis=1), device=device)[:, ::2]
    assert not p.is_contiguous() and not g.is_contiguous()
    _C.sgd_step(p, g, 0.1)
    np.testing.assert_array_equal(p.cpu().numpy(), sgd_reference(p0, g0, 0.1))


def test_sgd_step_is_not_recorded(device, need, rng):
    need_sgd(device, need, "float32")
    p0, g0 = (rng.standard_normal((3, 4)).astype(np.float32) for _ in range(2))
    p = devrt.tensor(p0, device=device, requires_grad=True)
    g = devrt.tensor(g0, device=device, requires_grad=True)
    _C.sgd_step(p, g, 0.1)
    assert p.grad_fn is None and p.requires_grad and p.is_leaf
    np.testing.assert_array_equal(p.detach().cpu().numpy(), sgd_reference(p0, g0, 0.1))


def test_sgd_step_on_empty_tensors(device, need):
    need_sgd(device, need, "float32")
    p, g = (devrt.tensor(np.zeros((0, 3), np.float32), device=device) for _ in range(2))
    _C.sgd_step(p, g, 0.1)
    assert p.shape == (0, 3)


def test_sgd_step_refuses_bad_operands(device):
    def t(shape=(2, 3), dtype="float32"):
        # copied to the device: no kernel of its own is needed
        return devrt.tensor(np.zeros(shape, dtype), device=device)

    with pytest.raises(ValueError, match=r"^\[sgd_step\] grad has shape \[2, 4\], param \[2, 3\]"):
        _C.sgd_step(t(), t((2, 4)), 0.1)
    with pytest.raises(TypeError, match=r"^\[sgd_step\] grad has dtype float64, param float32"):
        _C.sgd_step(t(), t(dtype="float64"), 0.1)
    with pytest.raises(TypeError, match=r"^\[sgd_step\] param must be floating, got int64"):
        _C.sgd_step(t(dtype="int64"), t(dtype="int64"), 1)
    with pytest.raises(ValueError, match=r"^\[sgd_step\] lr must be a 0-d tensor, got shape \[2\]"):
        _C.sgd_step(t(), t(), t((2,)))
    with pytest.raises(TypeError, match=r"^\[sgd_step\] lr must be floating, got int64"):
        _C.sgd_step(t(), t(), t((), "int64"))
    with pytest.raises(TypeError, match=r"^\[sgd_step\] lr must be a number.*str"):
        _C.sgd_step(t(), t(), "0.1")
