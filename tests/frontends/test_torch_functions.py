"""Module functions and Tensor methods that PyTorch programs commonly call
beyond the op catalogue's own names (python/devrt/_pyops.py, and add/sub
with alpha): checked against NumPy, and against PyTorch where installed."""

from __future__ import annotations

import math

import numpy as np
import pytest

import devrt
from devrt.testing.gradcheck import gradcheck

SPECIAL = np.array([1.0, -0.0, np.inf, -np.inf, np.nan, 3.0e38], np.float32)


def test_isnan_isinf_isfinite():
    t = devrt.tensor(SPECIAL)
    for fn, ref in [
        (devrt.isnan, np.isnan),
        (devrt.isinf, np.isinf),
        (devrt.isfinite, np.isfinite),
    ]:
        got = fn(t)
        assert got.dtype is devrt.bool
        np.testing.assert_array_equal(got.numpy(), ref(SPECIAL))
        np.testing.assert_array_equal(getattr(t, fn.__name__)().numpy(), ref(SPECIAL))
    ints = devrt.tensor([1, -2, 3])
    assert not devrt.isnan(ints).any() and not devrt.isinf(ints).any()
    assert devrt.isfinite(ints).all()
    with pytest.raises(TypeError, match=r"^\[isnan\] input must be a Tensor, got list"):
        devrt.isnan([1.0])


@pytest.mark.parametrize("equal_nan", [False, True])
def test_isclose_and_allclose_match_numpy(equal_nan):
    a = np.array([1.0, 1.0 + 1e-6, 1.1, np.inf, -np.inf, np.nan, 0.0], np.float64)
    b = np.array([1.0, 1.0, 1.0, np.inf, np.inf, np.nan, 1e-9], np.float64)
    got = devrt.isclose(devrt.tensor(a), devrt.tensor(b), equal_nan=equal_nan)
    np.testing.assert_array_equal(got.numpy(), np.isclose(a, b, equal_nan=equal_nan))
    assert devrt.allclose(devrt.tensor(a[:2]), devrt.tensor(b[:2]))
    assert not devrt.allclose(devrt.tensor(a), devrt.tensor(b), equal_nan=equal_nan)
    assert devrt.tensor(a[:2]).allclose(devrt.tensor(b[:2]), rtol=0, atol=1e-5)
    flags = devrt.tensor([True, False])
    assert devrt.isclose(flags, devrt.tensor([True, True])).tolist() == [True, False]
    assert devrt.isclose(devrt.tensor([3, 4]), devrt.tensor([3, 5])).tolist() == [True, False]
    with pytest.raises(ValueError, match=r"^\[isclose\] rtol and atol must be non-negative"):
        devrt.isclose(devrt.tensor(a), devrt.tensor(b), rtol=-1)


def test_equal():
    a = devrt.arange(6.0).reshape(2, 3)
    assert devrt.equal(a, a.clone()) and a.equal(a)
    assert not devrt.equal(a, a.reshape(3, 2))
    assert not devrt.equal(a, a + 1)


def test_addmm_dot_outer(rng):
    c, m1, m2 = (
        rng.standard_normal((2, 4)),
        rng.standard_normal((2, 3)),
        rng.standard_normal((3, 4)),
    )
    t = [devrt.tensor(v) for v in (c, m1, m2)]
    np.testing.assert_allclose(devrt.addmm(*t).numpy(), c + m1 @ m2)
    np.testing.assert_allclose(
        devrt.addmm(*t, beta=0.5, alpha=2).numpy(), 0.5 * c + 2 * (m1 @ m2), rtol=1e-12
    )
    np.testing.assert_allclose(t[0].addmm(t[1], t[2], alpha=-1).numpy(), c - m1 @ m2)
    # beta = 0 does not read input: its NaNs stay out
    nan = devrt.full((2, 4), math.nan, dtype=devrt.float64)
    assert devrt.isfinite(devrt.addmm(nan, t[1], t[2], beta=0)).all()
    with pytest.raises(
        ValueError, match=r"^\[addmm\] mat1 and mat2 must be 2-D, got shapes \(3,\)"
    ):
        devrt.addmm(t[0], devrt.ones(3, dtype=devrt.float64), t[2])
    u, v = rng.standard_normal(3), rng.standard_normal(5)
    assert float(devrt.dot(devrt.tensor(u), devrt.tensor(u))) == pytest.approx(float(u @ u))
    np.testing.assert_allclose(
        devrt.outer(devrt.tensor(u), devrt.tensor(v)).numpy(), np.outer(u, v)
    )
    with pytest.raises(ValueError, match=r"^\[dot\] expects two 1-D tensors of one length"):
        devrt.dot(devrt.tensor(u), devrt.tensor(v))
    with pytest.raises(TypeError, match=r"^\[dot\] expects two tensors of one dtype"):
        devrt.dot(devrt.tensor(u), devrt.tensor(u).float())


def test_addmm_gradient_through_its_ops(rng):
    c = devrt.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    m1 = devrt.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    m2 = devrt.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    devrt.addmm(c, m1, m2, beta=3, alpha=2).sum().backward()
    np.testing.assert_allclose(c.grad.numpy(), np.full((2, 4), 3.0))
    np.testing.assert_allclose(m1.grad.numpy(), 2 * np.ones((2, 4)) @ m2.detach().numpy().T)


def test_add_and_sub_take_alpha():
    a, b = devrt.tensor([1.0, 2.0]), devrt.tensor([10.0, 20.0])
    np.testing.assert_array_equal(devrt.add(a, b, alpha=2).numpy(), [21.0, 42.0])
    np.testing.assert_array_equal(a.sub(b, alpha=0.5).numpy(), [-4.0, -8.0])
    np.testing.assert_array_equal(devrt.sub(a, 1, alpha=3).numpy(), [-2.0, -1.0])
    a.add_(b, alpha=-0.1)
    np.testing.assert_allclose(a.numpy(), [0.0, 0.0], atol=1e-6)
    with pytest.raises(TypeError):
        devrt.add(a, b, 2)  # alpha is keyword-only, as in PyTorch


def test_eye_randperm_unbind_select_and_where():
    np.testing.assert_array_equal(devrt.eye(3).numpy(), np.eye(3, dtype=np.float32))
    e = devrt.eye(2, 4, dtype=devrt.int64)
    assert e.dtype is devrt.int64 and e.numpy().tolist() == np.eye(2, 4).tolist()
    devrt.manual_seed(3)
    p = devrt.randperm(10)
    devrt.manual_seed(3)
    assert p.dtype is devrt.int64 and sorted(p.tolist()) == list(range(10))
    assert devrt.randperm(10).tolist() == p.tolist()  # the global seed decides
    g = devrt.Generator().manual_seed(0)
    assert sorted(devrt.randperm(7, generator=g).tolist()) == list(range(7))
    with pytest.raises(ValueError, match=r"^\[randperm\] n must be non-negative"):
        devrt.randperm(-1)
    x = devrt.arange(6.0).reshape(2, 3)
    rows = devrt.unbind(x)
    assert [r.tolist() for r in rows] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert [c.tolist() for c in x.unbind(-1)] == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    assert (
        x.select(1, 2).tolist() == [2.0, 5.0]
        and devrt.select(x, 0, -1).tolist() == rows[1].tolist()
    )
    with pytest.raises(IndexError, match=r"^\[unbind\] dim 2 is out of range"):
        x.unbind(2)
    i, j = devrt.where(x > 2)
    np.testing.assert_array_equal(np.stack([i.numpy(), j.numpy()]), np.nonzero(x.numpy() > 2))
    np.testing.assert_array_equal(
        devrt.where(x > 2, x, 0.0).numpy(), np.where(x.numpy() > 2, x.numpy(), 0)
    )
    with pytest.raises(TypeError, match=r"^\[where\] expects a condition alone"):
        devrt.where(x > 2, x)


def test_tensor_type_uniform_normal_and_norm(rng):
    t = devrt.ones(3)
    assert t.type() == "devrt.FloatTensor"
    assert t.type(devrt.float64).dtype is devrt.float64
    assert t.type("torch.LongTensor").dtype is devrt.int64
    with pytest.raises(ValueError, match=r"^\[type\] unknown tensor type"):
        t.type("torch.Nonsense")
    u = devrt.zeros(1000).uniform_(-2, 3)
    assert -2 <= float(u.min()) and float(u.max()) < 3 and abs(float(u.mean()) - 0.5) < 0.2
    n = devrt.zeros(1000, dtype=devrt.float64).normal_(5, 0.1)
    assert abs(float(n.mean()) - 5) < 0.02 and abs(float(n.std()) - 0.1) < 0.02
    x = rng.standard_normal((3, 4))
    tx = devrt.tensor(x)
    for p in (2, 1, 3, math.inf, -math.inf, 0):
        np.testing.assert_allclose(float(tx.norm(p)), np.linalg.norm(x.ravel(), p), rtol=1e-12)
    np.testing.assert_allclose(tx.norm(dim=1).numpy(), np.linalg.norm(x, axis=1), rtol=1e-12)
    assert tx.norm(dim=0, keepdim=True).shape == (1, 4)
    with pytest.raises(ValueError, match=r"^\[norm\] p must be a number"):
        tx.norm("nuc")


def test_inference_mode():
    w = devrt.ones(2, requires_grad=True)
    with devrt.inference_mode():
        assert not (w * 2).requires_grad
    with devrt.inference_mode(False):
        assert (w * 2).requires_grad

    @devrt.inference_mode()
    def f():
        return w * 2

    assert not f().requires_grad and devrt.is_grad_enabled()


def test_match_pytorch_where_installed(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 4))
    for lib, conv in ((devrt, devrt.tensor), (torch, torch.tensor)):
        t = conv(x)
        out = [
            lib.addmm(t[:, :2], t[:, :3], t[:3, :2], beta=0.5, alpha=2),
            t.norm(),
            t.norm(1, dim=0),
            lib.eye(3, 2, dtype=lib.float64),
            lib.add(t, t, alpha=-3),
        ]
        if lib is devrt:
            mine = [o.numpy() for o in out]
        else:
            theirs = [o.numpy() for o in out]
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# --- logsumexp, tril/triu, repeat and the nn additions -------------------------------------


def test_logsumexp_matches_numpy_and_does_not_overflow(rng):
    x = rng.standard_normal((3, 4)) * 300  # exp would overflow unshifted
    t = devrt.tensor(x)
    m = x.max(axis=1, keepdims=True)
    expected = (np.log(np.exp(x - m).sum(axis=1, keepdims=True)) + m).ravel()
    np.testing.assert_allclose(devrt.logsumexp(t, 1).numpy(), expected, rtol=1e-12)
    assert t.logsumexp((0, 1), keepdim=True).shape == (1, 1)
    neg = devrt.full((2,), -math.inf, dtype=devrt.float64)
    assert devrt.logsumexp(neg, 0).item() == -math.inf
    empty = devrt.logsumexp(devrt.ones(2, 0), 1)  # log of an empty sum
    assert empty.tolist() == [-math.inf, -math.inf]
    small = devrt.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    gradcheck(lambda a: devrt.logsumexp(a, 1), (small,))


def test_tril_triu_and_repeat(rng):
    x = rng.standard_normal((2, 3, 4))
    t = devrt.tensor(x)
    for k in (-1, 0, 2):
        np.testing.assert_array_equal(devrt.tril(t, k).numpy(), np.tril(x, k))
        np.testing.assert_array_equal(t.triu(k).numpy(), np.triu(x, k))
    with pytest.raises(ValueError, match=r"^\[tril\] expects at least 2 dimensions"):
        devrt.tril(devrt.ones(3))
    np.testing.assert_array_equal(t.repeat(2, 1, 1, 3).numpy(), np.tile(x, (2, 1, 1, 3)))
    np.testing.assert_array_equal(t.repeat((1, 2, 1)).numpy(), np.tile(x, (1, 2, 1)))
    with pytest.raises(ValueError, match=r"^\[repeat\] 2 repeat sizes for a tensor of 3"):
        t.repeat(2, 2)
    a = devrt.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    gradcheck(lambda a: a.repeat(2, 2).tril(1), (a,))


def test_activations_softplus_silu(rng):
    F = devrt.nn.functional
    x = np.concatenate([rng.standard_normal(8) * 3, [-800.0, 800.0, 0.0]])
    t = devrt.tensor(x)
    sig = np.exp(-np.logaddexp(0, -x))  # 1 / (1 + exp(-x)) without overflow
    np.testing.assert_allclose(F.silu(t).numpy(), x * sig, rtol=1e-12)
    np.testing.assert_allclose(F.softplus(t).numpy(), np.logaddexp(0, x), rtol=1e-12)
    np.testing.assert_allclose(
        F.softplus(t, beta=2, threshold=5).numpy(),
        np.where(2 * x > 5, x, np.logaddexp(0, 2 * x) / 2),
        rtol=1e-12,
    )
    assert devrt.isfinite(F.softplus(t)).all()
    g = devrt.tensor(x, requires_grad=True)
    F.softplus(g).sum().backward()  # no overflow in the gradient either
    np.testing.assert_allclose(g.grad.numpy(), sig, rtol=1e-12)
    small = devrt.tensor(rng.standard_normal(5), requires_grad=True)
    gradcheck(lambda a: F.silu(a) + F.softplus(a, beta=0.5), (small,))
    assert repr(devrt.nn.Softplus(beta=2)) == "Softplus(beta=2, threshold=20.0)"
    np.testing.assert_array_equal(devrt.nn.SiLU()(t).numpy(), F.silu(t).numpy())


def test_layer_norm_and_module(rng):
    F = devrt.nn.functional
    x = rng.standard_normal((2, 3, 4))
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    mean = x.mean(-1, keepdims=True)
    ref = (x - mean) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * w + b
    got = F.layer_norm(devrt.tensor(x), (4,), devrt.tensor(w), devrt.tensor(b))
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10, atol=1e-12)
    ln = devrt.nn.LayerNorm([3, 4], dtype=devrt.float64)
    assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"]
    y = ln(devrt.tensor(x))
    np.testing.assert_allclose(y.numpy().reshape(2, -1).mean(1), 0, atol=1e-12)
    assert "elementwise_affine=True" in repr(ln)
    assert devrt.nn.LayerNorm(4, elementwise_affine=False).weight is None
    with pytest.raises(ValueError, match=r"^\[layer_norm\] normalized_shape \[5\] must match"):
        F.layer_norm(devrt.tensor(x), 5)
    args = [devrt.tensor(v, requires_grad=True) for v in (x[:1, :2], w, b)]
    gradcheck(lambda a, w, b: F.layer_norm(a, (4,), w, b), tuple(args))


def test_pad_and_normalize(rng):
    F = devrt.nn.functional
    x = rng.standard_normal((2, 3, 4))
    t = devrt.tensor(x)
    got = F.pad(t, (1, 2, 0, 1), value=-1.0)
    np.testing.assert_array_equal(
        got.numpy(), np.pad(x, ((0, 0), (0, 1), (1, 2)), constant_values=-1.0)
    )
    np.testing.assert_array_equal(
        F.pad(t, (-1, 1)).numpy(), np.pad(x[..., 1:], ((0, 0),) * 2 + ((0, 1),))
    )
    with pytest.raises(NotImplementedError, match=r"^\[pad\] mode 'reflect' is not supported"):
        F.pad(t, (1, 1), mode="reflect")
    with pytest.raises(ValueError, match=r"^\[pad\] pad \[1\] must hold"):
        F.pad(t, (1,))
    a = devrt.tensor(x[:1], requires_grad=True)
    gradcheck(lambda a: F.pad(a, (2, 1, 1, 0)), (a,))
    n = F.normalize(t, dim=2)
    np.testing.assert_allclose(n.numpy(), x / np.linalg.norm(x, axis=2, keepdims=True), rtol=1e-12)
    zero = F.normalize(devrt.zeros(2, 3, dtype=devrt.float64))
    assert devrt.isfinite(zero).all()


def test_nn_additions_match_pytorch_where_installed(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 4))
    outs = {}
    for lib in (devrt, torch):
        F = lib.nn.functional
        t = lib.tensor(x, requires_grad=True)
        y = (
            F.layer_norm(t, (4,)).sum() * 2
            + F.softplus(t, beta=3).sum()
            + F.silu(t).sum()
            + F.pad(t, (1, 1, 2, 0), value=0.5).pow(2).sum()
            + F.normalize(t, dim=1).sum()
            + lib.logsumexp(t, 2).sum()
            + t.tril().sum()
            + t.repeat(1, 2, 1).pow(2).sum()
        )
        y.backward()
        outs[lib.__name__] = (float(y.detach()), t.grad.numpy())
    assert outs["devrt"][0] == pytest.approx(outs["torch"][0], rel=1e-12)
    np.testing.assert_allclose(outs["devrt"][1], outs["torch"][1], rtol=1e-10, atol=1e-12)


def test_flip_and_roll_match_numpy(rng):
    x = rng.standard_normal((2, 3, 4))
    t = devrt.tensor(x)
    for dims in (0, (0, 2), (-1,), (1, 0, 2)):
        np.testing.assert_array_equal(devrt.flip(t, dims).numpy(), np.flip(x, dims))
    assert not devrt.flip(devrt.ones(1, 2), 0)._is_view_of(devrt.ones(1))  # a new tensor
    for shifts, dims in ((1, 0), ((2, -5), (1, 2)), (7, None), (-3, -1)):
        np.testing.assert_array_equal(t.roll(shifts, dims).numpy(), np.roll(x, shifts, dims))
    with pytest.raises(IndexError, match=r"^\[flip\] dim 3 is out of range"):
        t.flip(3)
    with pytest.raises(ValueError, match=r"^\[flip\] dims \[0, -3\] name a dimension twice"):
        t.flip((0, -3))
    with pytest.raises(ValueError, match=r"^\[roll\] 2 shifts for 1 dims"):
        t.roll((1, 2), 0)
    a = devrt.tensor(x[:, :2, :3], requires_grad=True)
    gradcheck(lambda a: a.flip((0, 2)).roll(1, 1) * devrt.arange(3.0), (a,))


def test_alpha_scales_other_in_the_dtype_the_result_computes_in():
    torch = pytest.importorskip("torch")
    # an int tensor scaled by a huge alpha and added to floats computes in
    # float32, not in a wrapping int product
    got = devrt.add(devrt.tensor([1.5, 2.5]), devrt.tensor([3], dtype=devrt.int32), alpha=2**62)
    want = torch.add(torch.tensor([1.5, 2.5]), torch.tensor([3], dtype=torch.int32), alpha=2**62)
    np.testing.assert_allclose(got.numpy(), want.numpy())
    # a number times alpha that leaves int64 is refused, naming add
    with pytest.raises(ValueError, match=r"^\[add\] other \* alpha, 3 \* 4611686018427387904,"):
        devrt.add(devrt.tensor([1]), 3, alpha=2**62)
    # the error of a bad operand names the op, not the product inside it
    with pytest.raises(TypeError, match=r"^\[sub\] expected a tensor operand, got 3 and \[1, 2\]"):
        devrt.sub(3, [1, 2], alpha=2)
    # a sequence operand is scaled as a tensor operand is
    got = devrt.tensor([1, 2]).add([1.5, 2.5], alpha=2)
    np.testing.assert_array_equal(got.numpy(), np.array([4.0, 7.0], np.float32))
    # the alpha in a message is written as Python writes it
    with pytest.raises(TypeError, match=r"^\[add\] alpha must be an integer .* int32, got 1.0$"):
        devrt.tensor([1], dtype=devrt.int32).add(devrt.tensor([1], dtype=devrt.int32), alpha=1.0)


def test_edge_cases_match_pytorch():
    # norms at zero have a zero gradient; keepdim keeps every dimension
    z = devrt.zeros(3, requires_grad=True)
    z.norm().backward()
    assert z.grad.tolist() == [0.0, 0.0, 0.0]
    assert devrt.ones(2, 3).norm(keepdim=True).shape == (1, 1)
    # integer tensors take no float alpha
    with pytest.raises(TypeError, match=r"^\[add\] alpha must be an integer .* int64, got 2.5"):
        devrt.add(devrt.tensor([1, 2]), devrt.tensor([1, 1]), alpha=2.5)
    with pytest.raises(TypeError, match=r"^\[sub\] alpha must be an integer"):
        devrt.tensor([1, 2]).sub_(devrt.tensor([1, 1]), alpha=0.5)
    # shapes are checked, not broadcast into something else
    with pytest.raises(
        ValueError, match=r"^\[addmm\] input of shape \(4, 2, 3\) does not broadcast"
    ):
        devrt.addmm(devrt.ones(4, 2, 3), devrt.ones(2, 2), devrt.ones(2, 3))
    with pytest.raises(ValueError, match=r"^\[layer_norm\] weight of shape \[4, 1, 1\]"):
        devrt.nn.functional.layer_norm(devrt.ones(2, 3), (3,), devrt.ones(4, 1, 1))
    # results that could have been views are new tensors, as in torch
    a = devrt.ones(2, 2)
    a.repeat(1, 1).fill_(5)
    devrt.nn.functional.pad(a, (0, 0)).fill_(7)
    devrt.nn.functional.pad(a, (-1, 0)).fill_(9)
    assert a.sum().item() == 4.0
    # 0-d inputs
    assert [t.tolist() for t in devrt.where(devrt.tensor(True))] == [[0]]
    top = devrt.topk(devrt.tensor(2.5), 1)
    assert top.values.shape == () and top.indices.item() == 0
    with pytest.raises(IndexError, match=r"^\[topk\] axis 5 is out of range"):
        devrt.topk(devrt.ones(3), 1, dim=5)
    with pytest.raises(IndexError, match=r"^\[sort\] dim 4 is out of range"):
        devrt.sort(devrt.ones(3), dim=4)
    with pytest.raises(IndexError, match=r"^\[select\] index 5 is out of range"):
        devrt.ones(3).select(0, 5)
    assert devrt.ones(2).repeat(np.int64(2)).shape == (4,)
    with devrt.inference_mode(mode=False):
        assert devrt.is_grad_enabled()


def test_cumsum_gradient_keeps_infinities_and_precision():
    x = devrt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (devrt.cumsum(x, 0) * devrt.tensor([math.inf, 1.0, 1.0])).sum().backward()
    assert x.grad.tolist() == [math.inf, 2.0, 1.0]
    x.grad = None
    (devrt.cumsum(x, 0) * devrt.tensor([1.0, 1e8, -1e8])).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, -1e8]


def test_setitem_records_a_value_with_history():
    """Index assignment of a value that requires grad is recorded (the seq2seq
    tutorial's encoder_outputs[ei] = output[0, 0]): the tensor written into
    takes history, and the explicit ways to drop it still work."""
    w = devrt.ones(3, requires_grad=True)
    z = devrt.zeros(2, 3)
    z[0] = w * 2
    z[[1]] = (w * 3).expand(1, 3)
    assert z.requires_grad and not z.is_leaf
    np.testing.assert_array_equal(z.detach().numpy(), [[2, 2, 2], [3, 3, 3]])
    (z * devrt.tensor([[1.0], [10.0]])).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [32, 32, 32])
    z = devrt.zeros(2, 3)
    z[0] = (w * 2).detach()
    with devrt.no_grad():
        z[1] = w * 3
    np.testing.assert_array_equal(z.numpy(), [[2, 2, 2], [3, 3, 3]])
    assert not z.requires_grad
