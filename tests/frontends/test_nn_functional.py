"""devrt.nn.functional and the loss modules: values against NumPy formulas,
values and gradients against PyTorch, reductions, edge cases and errors.

Expected values come from NumPy or PyTorch, never from devrt itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import devrt
import devrt.nn as nn
import devrt.nn.functional as F

REDUCTIONS = ["none", "mean", "sum"]


def np_of(t) -> np.ndarray:
    return np.array(t.detach().cpu().numpy(), copy=True)


def d64(a, requires_grad=False):
    t = devrt.from_numpy(np.array(a, dtype=np.float64))
    return t.requires_grad_(True) if requires_grad else t


def close(t, expected, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(np_of(t), np.asarray(expected), rtol=rtol, atol=atol)


def np_reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def np_log_softmax(x, axis):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


@pytest.fixture
def rng():
    return np.random.default_rng(20)


def against_torch(ours_fn, torch_fn, inputs, grad_of):
    """Runs both on float64 copies of `inputs` (NumPy arrays; integer arrays
    stay integer) and compares the value and the gradients of the inputs
    whose positions are in `grad_of`."""
    torch = pytest.importorskip("torch")
    ours = [
        devrt.from_numpy(a.copy()).requires_grad_(i in grad_of)
        if i in grad_of
        else devrt.from_numpy(a.copy())
        for i, a in enumerate(inputs)
    ]
    theirs = [torch.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(inputs)]
    y, ty = ours_fn(*ours), torch_fn(*theirs)
    close(y, ty.detach().numpy(), rtol=1e-9, atol=1e-12)
    g = np.random.default_rng(0).standard_normal(tuple(ty.shape))
    y.backward(d64(g))
    ty.backward(torch.tensor(g))
    for i in grad_of:
        close(ours[i].grad, theirs[i].grad.numpy(), rtol=1e-8, atol=1e-12)


# --- regression losses ----------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_and_l1_against_numpy(rng, reduction):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    close(F.mse_loss(d64(a), d64(b), reduction=reduction), np_reduce((a - b) ** 2, reduction))
    close(nn.MSELoss(reduction=reduction)(d64(a), d64(b)), np_reduce((a - b) ** 2, reduction))
    close(F.l1_loss(d64(a), d64(b), reduction=reduction), np_reduce(np.abs(a - b), reduction))
    close(nn.L1Loss(reduction=reduction)(d64(a), d64(b)), np_reduce(np.abs(a - b), reduction))


def test_mse_gradient_against_numpy(rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    at = d64(a, requires_grad=True)
    F.mse_loss(at, d64(b)).backward()
    close(at.grad, 2 * (a - b) / a.size)


def test_legacy_size_average_and_reduce():
    a, b = d64([1.0, 3.0]), d64([0.0, 0.0])
    close(F.mse_loss(a, b, size_average=False), 10.0)
    close(F.mse_loss(a, b, reduce=False), [1.0, 9.0])
    assert nn.MSELoss(size_average=False).reduction == "sum"
    assert nn.L1Loss(reduce=False).reduction == "none"


def test_invalid_reduction():
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(d64([1.0]), d64([1.0]), reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="max")


# --- classification losses --------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_class_indices_against_numpy(rng, reduction):
    x, t = rng.standard_normal((6, 4)), np.array([0, 3, 1, 1, 2, 3])
    w = rng.random(4) + 0.5
    logp = np_log_softmax(x, 1)
    picked = -logp[np.arange(6), t]
    close(
        F.cross_entropy(d64(x), devrt.from_numpy(t), reduction=reduction),
        np_reduce(picked, reduction),
    )
    weighted = picked * w[t]
    expected = {"none": weighted, "sum": weighted.sum(), "mean": weighted.sum() / w[t].sum()}
    loss = nn.CrossEntropyLoss(weight=d64(w), reduction=reduction)(d64(x), devrt.from_numpy(t))
    close(loss, expected[reduction])


def test_cross_entropy_gradient_is_softmax_minus_onehot(rng):
    x, t = rng.standard_normal((5, 3)), np.array([0, 2, 1, 1, 0])
    xt = d64(x, requires_grad=True)
    F.cross_entropy(xt, devrt.from_numpy(t)).backward()
    close(xt.grad, (np.exp(np_log_softmax(x, 1)) - np.eye(3)[t]) / 5)


def test_cross_entropy_ignore_index_and_probabilities_against_numpy(rng):
    x, t = rng.standard_normal((5, 3)), np.array([0, -100, 2, 1, -100])
    logp = np_log_softmax(x, 1)
    keep = t != -100
    expected = -logp[np.arange(5)[keep], t[keep]].mean()
    close(F.cross_entropy(d64(x), devrt.from_numpy(t)), expected)
    none = F.cross_entropy(d64(x), devrt.from_numpy(t), reduction="none")
    assert np_of(none)[1] == 0 and np_of(none)[4] == 0
    close(
        F.cross_entropy(d64(x), devrt.from_numpy(np.array([0, 1, 1, 1, 2])), ignore_index=1),
        -(logp[0, 0] + logp[4, 2]) / 2,
    )

    p = rng.random((5, 3))
    p /= p.sum(1, keepdims=True)
    close(F.cross_entropy(d64(x), d64(p)), -(p * logp).sum(1).mean())
    smooth = p * 0.8 + 0.2 / 3
    close(
        F.cross_entropy(d64(x), d64(p), label_smoothing=0.2, reduction="sum"),
        -(smooth * logp).sum(),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "shape, weighted, smoothing, ignore",
    [
        ((7, 5), False, 0.0, -100),
        ((7, 5), True, 0.0, 2),
        ((7, 5), True, 0.3, 2),
        ((7, 5), False, 0.1, -100),
        ((2, 5, 3, 4), True, 0.2, 1),
        ((5,), False, 0.0, -100),
        ((5,), True, 0.25, -100),
    ],
)
def test_cross_entropy_class_indices_match_torch(
    rng, reduction, shape, weighted, smoothing, ignore
):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape)
    target_shape = (shape[0], *shape[2:]) if len(shape) > 1 else ()
    classes = shape[1] if len(shape) > 1 else shape[0]
    t = rng.integers(0, classes, target_shape)
    w = rng.random(classes) + 0.5
    inputs = [x, t, w] if weighted else [x, t]

    def ours(*a):
        return F.cross_entropy(
            *a, ignore_index=ignore, reduction=reduction, label_smoothing=smoothing
        )

    def theirs(*a):
        return torch.nn.functional.cross_entropy(
            *a, ignore_index=ignore, reduction=reduction, label_smoothing=smoothing
        )

    against_torch(ours, theirs, inputs, grad_of=[0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probabilities_match_torch(rng, reduction):
    torch = pytest.importorskip("torch")
    x, p = rng.standard_normal((2, 4, 3)), rng.random((2, 4, 3))
    p /= p.sum(1, keepdims=True)
    w = rng.random(4) + 0.5
    against_torch(
        lambda a, b, c: F.cross_entropy(a, b, c, reduction=reduction, label_smoothing=0.15),
        lambda a, b, c: torch.nn.functional.cross_entropy(
            a, b, c, reduction=reduction, label_smoothing=0.15
        ),
        [x, p, w],
        grad_of=[0, 1],
    )


def test_cross_entropy_is_stable_for_large_logits():
    x = d64([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]], requires_grad=True)
    loss = F.cross_entropy(x, devrt.tensor([0, 2]), reduction="none")
    close(loss, [0.0, 1 + math.log1p(math.exp(-1))], atol=1e-9)
    loss.sum().backward()
    assert np.all(np.isfinite(np_of(x.grad)))


def test_cross_entropy_errors():
    x = d64(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="shape"):
        F.cross_entropy(x, devrt.tensor([0, 1]))
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        F.cross_entropy(x, devrt.tensor([0, 4, 1]))
    with pytest.raises(IndexError, match="ignore_index"):
        F.cross_entropy(x, devrt.tensor([0, -1, 1]))
    with pytest.raises(ValueError, match="probability targets"):
        F.cross_entropy(x, d64(np.zeros((3, 3))))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, devrt.tensor([0, 1, 2]), label_smoothing=1.5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_against_numpy_and_torch(rng, reduction):
    x, t = np_log_softmax(rng.standard_normal((6, 4)), 1), np.array([1, 0, 3, -100, 2, 1])
    w = rng.random(4) + 0.5
    keep = t != -100
    picked = np.where(keep, -x[np.arange(6), np.where(keep, t, 0)] * w[np.where(keep, t, 0)], 0.0)
    expected = {"none": picked, "sum": picked.sum(), "mean": picked.sum() / w[t[keep]].sum()}
    close(
        nn.NLLLoss(weight=d64(w), reduction=reduction)(d64(x), devrt.from_numpy(t)),
        expected[reduction],
    )
    torch = pytest.importorskip("torch")
    against_torch(
        lambda a, b, c: F.nll_loss(a, b, c, reduction=reduction, ignore_index=2),
        lambda a, b, c: torch.nn.functional.nll_loss(a, b, c, reduction=reduction, ignore_index=2),
        [rng.standard_normal((3, 4, 5)), rng.integers(0, 4, (3, 5)), w],
        grad_of=[0],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_against_numpy_and_torch(rng, reduction):
    p, y, w = rng.random((4, 3)) * 0.98 + 0.01, rng.random((4, 3)), rng.random(3)
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    close(F.binary_cross_entropy(d64(p), d64(y), reduction=reduction), np_reduce(loss, reduction))
    close(
        nn.BCELoss(weight=d64(w), reduction=reduction)(d64(p), d64(y)),
        np_reduce(loss * w, reduction),
    )
    torch = pytest.importorskip("torch")
    against_torch(
        lambda a, b, c: F.binary_cross_entropy(a, b, c, reduction=reduction),
        lambda a, b, c: torch.nn.functional.binary_cross_entropy(a, b, c, reduction=reduction),
        [p, y, w],
        grad_of=[0],
    )


def test_binary_cross_entropy_clamps_logs_at_the_ends():
    p = d64([0.0, 1.0, 0.5], requires_grad=True)
    loss = F.binary_cross_entropy(p, d64([1.0, 0.0, 1.0]), reduction="none")
    close(loss, [100.0, 100.0, math.log(2)])
    loss.sum().backward()
    assert np.all(np.isfinite(np_of(p.grad)))
    with pytest.raises(ValueError, match="same as input size"):
        F.binary_cross_entropy(p, d64([1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_against_numpy_and_torch(rng, reduction):
    x, y = rng.standard_normal((4, 3)) * 3, rng.random((4, 3))
    w, pos = rng.random(3), rng.random(3) * 3
    sig = 1 / (1 + np.exp(-x))
    loss = -(pos * y * np.log(sig) + (1 - y) * np.log(1 - sig)) * w
    module = nn.BCEWithLogitsLoss(weight=d64(w), pos_weight=d64(pos), reduction=reduction)
    close(module(d64(x), d64(y)), np_reduce(loss, reduction), rtol=1e-9)
    torch = pytest.importorskip("torch")
    x[0, 0] = 0.0  # softplus's kink: the gradient there is -1/2
    against_torch(
        lambda a, b, c, d: F.binary_cross_entropy_with_logits(
            a, b, c, reduction=reduction, pos_weight=d
        ),
        lambda a, b, c, d: torch.nn.functional.binary_cross_entropy_with_logits(
            a, b, c, reduction=reduction, pos_weight=d
        ),
        [x, y, w, pos],
        grad_of=[0, 1],
    )


def test_bce_with_logits_is_stable_for_large_logits():
    x = d64([1000.0, -1000.0, 50.0, -50.0, 0.0], requires_grad=True)
    y = d64([0.0, 1.0, 1.0, 0.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    close(loss, [1000.0, 1000.0, math.log1p(math.exp(-50)), math.log1p(math.exp(-50)), math.log(2)])
    loss.sum().backward()
    close(x.grad, [1.0, -1.0, -1 / (1 + math.exp(50)), 1 / (1 + math.exp(50)), -0.5], atol=1e-15)


# --- activations, softmax, dropout, linear -------------------------------------------------------


def test_softmax_implicit_dim_warns_and_follows_torch():
    x = d64(np.arange(6.0).reshape(2, 3))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = F.softmax(x)
    close(y, np.exp(np_log_softmax(np_of(x), 1)))
    with pytest.warns(UserWarning):
        close(F.log_softmax(d64(np.arange(3.0))), np_log_softmax(np.arange(3.0), 0))
    close(F.softmax(x, dim=0, dtype=devrt.float32), np.exp(np_log_softmax(np_of(x), 0)), rtol=1e-6)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(d64([1.0]), approximate="sigmoid")


def test_leaky_relu_gradient():
    x = d64([-2.0, 0.0, 3.0], requires_grad=True)
    F.leaky_relu(x, 0.1).sum().backward()
    close(x.grad, [0.1, 0.1, 1.0])


def test_functional_dropout():
    x = devrt.ones(1000, dtype=devrt.float64)
    assert F.dropout(x, 0.4, training=False) is x
    devrt.manual_seed(11)
    a = np_of(F.dropout(x, 0.4))
    devrt.manual_seed(11)
    np.testing.assert_array_equal(np_of(F.dropout(x, 0.4)), a)  # the mask comes from devrt.rand
    assert abs((a == 0).mean() - 0.4) < 0.06
    np.testing.assert_allclose(a[a != 0], 1 / 0.6)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, -0.1)


def test_linear_variants():
    w, b = d64([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), d64([0.5, 0.0, -0.5])
    close(F.linear(d64([1.0, 1.0]), w, b), [3.5, 7.0, 10.5])
    close(F.linear(d64([[1.0, 0.0]]), w), [[1.0, 3.0, 5.0]])
    close(F.linear(d64(np.ones((2, 4, 2))), w, b).reshape(-1, 3)[0], [3.5, 7.0, 10.5])


# --- batch_norm, embedding, one_hot ---------------------------------------------------------------


def test_functional_batch_norm_updates_given_running_stats(rng):
    x = rng.standard_normal((6, 2, 3))
    mean, var = devrt.zeros(2, dtype=devrt.float64), devrt.ones(2, dtype=devrt.float64)
    w, b = d64([2.0, 0.5]), d64([0.0, 1.0])
    y = F.batch_norm(d64(x), mean, var, w, b, training=True, momentum=0.5, eps=1e-3)
    m, v = x.mean((0, 2)), x.var((0, 2))
    close(
        y,
        (x - m[None, :, None]) / np.sqrt(v[None, :, None] + 1e-3) * np_of(w)[None, :, None]
        + np_of(b)[None, :, None],
    )
    close(mean, 0.5 * m)
    close(var, 0.5 + 0.5 * x.var((0, 2), ddof=1))
    y = F.batch_norm(d64(x), mean, var, training=False)
    close(y, (x - np_of(mean)[None, :, None]) / np.sqrt(np_of(var)[None, :, None] + 1e-5))
    with pytest.raises(ValueError, match="running_mean"):
        F.batch_norm(d64(x), None, None, training=False)


def test_functional_embedding():
    w = d64(np.arange(8.0).reshape(4, 2), requires_grad=True)
    idx = devrt.tensor([3, 0, 3])
    out = F.embedding(idx, w, padding_idx=0)
    close(out, [[6.0, 7.0], [0.0, 1.0], [6.0, 7.0]])
    out.sum().backward()
    close(w.grad, [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [2.0, 2.0]])
    with pytest.raises(NotImplementedError, match="sparse"):
        F.embedding(idx, w, sparse=True)


def test_one_hot():
    torch = pytest.importorskip("torch")
    for values, n in [([0, 2, 1], -1), ([[1, 0], [3, 3]], 5), ([], 3)]:
        ours = F.one_hot(devrt.tensor(values, dtype=devrt.int64), n)
        theirs = torch.nn.functional.one_hot(torch.tensor(values, dtype=torch.int64), n)
        assert ours.dtype is devrt.int64
        np.testing.assert_array_equal(np_of(ours), theirs.numpy())
    with pytest.raises(ValueError, match="smaller than num_classes"):
        F.one_hot(devrt.tensor([0, 3]), 3)
    with pytest.raises(ValueError, match="non-negative"):
        F.one_hot(devrt.tensor([-1]))
    with pytest.raises(TypeError, match="int64"):
        F.one_hot(devrt.tensor([1.0]))
