"""Conv1d, ConvTranspose2d, interpolate/Upsample and the SmoothL1, Huber and
KL-divergence losses: values against NumPy references, values and
gradients against PyTorch, errors. Expected values never come from devrt."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
import devrt.nn as nn
import devrt.nn.functional as F


def d64(a, requires_grad=False):
    t = devrt.tensor(np.asarray(a, dtype=np.float64), dtype=devrt.float64)
    return t.requires_grad_(True) if requires_grad else t


def np_of(t):
    return np.array(t.detach().numpy(), copy=True)


def against_torch(torch_fn, devrt_fn, *arrays, rtol=1e-10, atol=1e-12):
    """Compares outputs and the gradients of every array argument."""
    torch = pytest.importorskip("torch")
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    d_in = [d64(a, True) for a in arrays]
    t_out, d_out = torch_fn(*t_in), devrt_fn(*d_in)
    assert tuple(d_out.shape) == tuple(t_out.shape)
    np.testing.assert_allclose(np_of(d_out), t_out.detach().numpy(), rtol=rtol, atol=atol)
    w = np.random.default_rng(9).normal(size=tuple(t_out.shape))
    (t_out * torch.tensor(w)).sum().backward()
    (d_out * d64(w)).sum().backward()
    for a, b in zip(t_in, d_in):
        np.testing.assert_allclose(np_of(b.grad), a.grad.numpy(), rtol=rtol, atol=atol)


rng = np.random.default_rng(0)

# --- Conv1d ------------------------------------------------------------------------------


def np_conv1d(x, w, b, stride, pad, dil):
    n, c, length = x.shape
    o, _, k = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    out_len = (length + 2 * pad - dil * (k - 1) - 1) // stride + 1
    out = np.zeros((n, o, out_len))
    for t in range(out_len):
        window = xp[:, :, t * stride : t * stride + dil * (k - 1) + 1 : dil]
        out[:, :, t] = np.einsum("nck,ock->no", window, w)
    return out + b[None, :, None]


def test_conv1d_matches_numpy():
    x, w, b = rng.normal(size=(2, 3, 11)), rng.normal(size=(4, 3, 3)), rng.normal(size=4)
    got = F.conv1d(d64(x), d64(w), d64(b), stride=2, padding=1, dilation=2)
    np.testing.assert_allclose(np_of(got), np_conv1d(x, w, b, 2, 1, 2), rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [dict(stride=2, padding=1, dilation=2, groups=2), dict(padding="same"), dict(padding="valid")],
)
def test_conv1d_matches_torch(kwargs):
    x, w, b = (
        rng.normal(size=(2, 4, 9)),
        rng.normal(size=(6, 4 // kwargs.get("groups", 1), 3)),
        rng.normal(size=6),
    )
    against_torch(
        lambda x, w, b: __import__("torch").nn.functional.conv1d(x, w, b, **kwargs),
        lambda x, w, b: F.conv1d(x, w, b, **kwargs),
        x,
        w,
        b,
    )


def test_conv1d_module_and_unbatched_input():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = torch.nn.Conv1d(3, 5, 4, stride=2, padding=1).double()
    dm = nn.Conv1d(3, 5, 4, stride=2, padding=1).double()
    assert {k: tuple(v.shape) for k, v in dm.state_dict().items()} == {
        k: tuple(v.shape) for k, v in tm.state_dict().items()
    }
    dm.load_state_dict({k: d64(v.numpy()) for k, v in tm.state_dict().items()})
    x = rng.normal(size=(3, 10))
    np.testing.assert_allclose(np_of(dm(d64(x))), tm(torch.tensor(x)).detach().numpy(), rtol=1e-12)


# --- ConvTranspose2d --------------------------------------------------------------------------


def np_conv_transpose2d(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    _, o, kh, kw = w.shape
    full = np.zeros((n, o, (h - 1) * stride + kh, (wd - 1) * stride + kw))
    for i in range(h):
        for j in range(wd):
            full[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw] += np.einsum(
                "nc,cokl->nokl", x[:, :, i, j], w
            )
    out = full[:, :, pad : full.shape[2] - pad, pad : full.shape[3] - pad]
    return out + b[None, :, None, None]


def test_conv_transpose2d_matches_numpy():
    x, w, b = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=2)
    got = F.conv_transpose2d(d64(x), d64(w), d64(b), stride=2, padding=1)
    np.testing.assert_allclose(np_of(got), np_conv_transpose2d(x, w, b, 2, 1), rtol=1e-12)


@pytest.mark.parametrize(
    ("stride", "padding", "output_padding", "groups", "dilation"),
    [(1, 0, 0, 1, 1), (2, 1, 1, 2, 1), (2, 0, 1, 1, 2), (3, 2, 0, 1, 1)],
)
def test_conv_transpose2d_matches_torch(stride, padding, output_padding, groups, dilation):
    x, w = rng.normal(size=(2, 4, 5, 6)), rng.normal(size=(4, 3, 3, 2))
    b = rng.normal(size=3 * groups)
    args = (stride, padding, output_padding, groups, dilation)
    against_torch(
        lambda x, w, b: __import__("torch").nn.functional.conv_transpose2d(x, w, b, *args),
        lambda x, w, b: F.conv_transpose2d(x, w, b, *args),
        x,
        w,
        b,
    )


def test_conv_transpose2d_module_matches_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2, bias=True).double()
    dm = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2).double()
    assert tuple(dm.weight.shape) == tuple(tm.weight.shape) == (4, 3, 3, 3)
    dm.load_state_dict({k: d64(v.numpy()) for k, v in tm.state_dict().items()})
    x = rng.normal(size=(2, 4, 5, 5))
    for size in (None, (10, 10)):
        want = tm(torch.tensor(x), output_size=size).detach().numpy()
        got = np_of(dm(d64(x), output_size=size))
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(ValueError, match=r"^\[ConvTranspose2d\] requested an output size"):
        dm(d64(x), output_size=(12, 12))


# --- interpolate / Upsample ----------------------------------------------------------------

INTERPOLATIONS = [
    dict(scale_factor=2),
    dict(size=(8, 11)),
    dict(size=(3, 4)),
    dict(size=(9, 10), mode="nearest-exact"),
    dict(scale_factor=2, mode="bilinear"),
    dict(scale_factor=1.7, mode="bilinear"),
    dict(size=(3, 4), mode="bilinear"),
    dict(size=(8, 11), mode="bilinear", align_corners=True),
    dict(scale_factor=(2.5, 1.5), mode="bilinear", recompute_scale_factor=True),
]


def test_nearest_upsampling_matches_numpy():
    x = rng.normal(size=(2, 3, 4, 5))
    got = F.interpolate(d64(x), scale_factor=2)
    np.testing.assert_array_equal(np_of(got), x.repeat(2, axis=2).repeat(2, axis=3))


def test_bilinear_align_corners_matches_numpy():
    x = rng.normal(size=(1, 1, 3, 2))
    got = np_of(F.interpolate(d64(x), size=(5, 3), mode="bilinear", align_corners=True))
    # Rows at source positions 0, .5, 1, 1.5, 2; columns at 0, .5, 1.
    rows = np.stack(
        [
            x[0, 0, 0],
            (x[0, 0, 0] + x[0, 0, 1]) / 2,
            x[0, 0, 1],
            (x[0, 0, 1] + x[0, 0, 2]) / 2,
            x[0, 0, 2],
        ]
    )
    want = np.stack([rows[:, 0], rows.mean(1), rows[:, 1]], axis=1)
    np.testing.assert_allclose(got[0, 0], want, rtol=1e-12)


@pytest.mark.parametrize("kwargs", INTERPOLATIONS)
def test_interpolate_matches_torch(kwargs):
    x = rng.normal(size=(2, 3, 5, 7))
    against_torch(
        lambda x: __import__("torch").nn.functional.interpolate(x, **kwargs),
        lambda x: F.interpolate(x, **kwargs),
        x,
    )


def test_linear_and_upsample_modules_match_torch():
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(2, 3, 5))
    against_torch(
        lambda x: torch.nn.functional.interpolate(x, scale_factor=3, mode="linear"),
        lambda x: F.interpolate(x, scale_factor=3, mode="linear"),
        x,
    )
    x = rng.normal(size=(1, 2, 4, 3))
    for t_mod, d_mod in [
        (
            torch.nn.Upsample(scale_factor=2, mode="bilinear"),
            nn.Upsample(scale_factor=2, mode="bilinear"),
        ),
        (torch.nn.Upsample(size=(7, 5)), nn.Upsample(size=(7, 5))),
        (torch.nn.UpsamplingBilinear2d(scale_factor=2), nn.UpsamplingBilinear2d(scale_factor=2)),
        (torch.nn.UpsamplingNearest2d(size=6), nn.UpsamplingNearest2d(size=6)),
    ]:
        np.testing.assert_allclose(np_of(d_mod(d64(x))), t_mod(torch.tensor(x)).numpy(), rtol=1e-12)


def test_interpolate_errors():
    x = devrt.zeros(1, 1, 4, 4)
    with pytest.raises(NotImplementedError, match=r"^\[interpolate\] mode 'bicubic'"):
        F.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match=r"^\[interpolate\] exactly one of size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match=r"^\[interpolate\] mode 'bilinear' expects a 4-D"):
        F.interpolate(devrt.zeros(1, 1, 4), scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match=r"^\[interpolate\] align_corners option"):
        F.interpolate(x, scale_factor=2, align_corners=True)


# --- losses ------------------------------------------------------------------------------

REDUCTIONS = ["none", "mean", "sum"]


def np_reduce(loss, reduction):
    return {
        "none": loss,
        "mean": loss.mean(),
        "sum": loss.sum(),
        "batchmean": loss.sum() / loss.shape[0],
    }[reduction]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_smooth_l1_and_huber_match_numpy(reduction):
    a, t = rng.normal(size=(4, 5)) * 2, rng.normal(size=(4, 5)) * 2
    d = np.abs(a - t)
    smooth = np.where(d < 0.7, 0.5 * d * d / 0.7, d - 0.35)
    huber = np.where(d <= 1.5, 0.5 * d * d, 1.5 * (d - 0.75))
    np.testing.assert_allclose(
        np_of(F.smooth_l1_loss(d64(a), d64(t), reduction=reduction, beta=0.7)),
        np_reduce(smooth, reduction),
    )
    np.testing.assert_allclose(
        np_of(nn.HuberLoss(reduction, delta=1.5)(d64(a), d64(t))), np_reduce(huber, reduction)
    )
    np.testing.assert_allclose(
        np_of(nn.SmoothL1Loss(reduction=reduction, beta=0.0)(d64(a), d64(t))),
        np_reduce(d, reduction),
    )


@pytest.mark.parametrize("reduction", [*REDUCTIONS, "batchmean"])
def test_kl_div_matches_numpy(reduction):
    logits = rng.normal(size=(3, 4))
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    target = rng.dirichlet(np.ones(4), size=3)
    target[0, 1] = 0.0
    pointwise = np.where(target > 0, target * (np.log(np.where(target > 0, target, 1)) - logp), 0.0)
    got = nn.KLDivLoss(reduction=reduction)(d64(logp), d64(target))
    np.testing.assert_allclose(np_of(got), np_reduce(pointwise, reduction), rtol=1e-12)
    log_t = np.log(target[1:])
    got = F.kl_div(d64(logp[1:]), d64(log_t), reduction=reduction, log_target=True)
    want = np.exp(log_t) * (log_t - logp[1:])
    np.testing.assert_allclose(np_of(got), np_reduce(want, reduction), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
def test_losses_match_torch(reduction):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    a, t = rng.normal(size=(4, 5)) * 2, rng.normal(size=(4, 5)) * 2
    against_torch(
        lambda a, t: tf.smooth_l1_loss(a, t, reduction=reduction, beta=0.7),
        lambda a, t: F.smooth_l1_loss(a, t, reduction=reduction, beta=0.7),
        a,
        t,
    )
    against_torch(
        lambda a, t: tf.huber_loss(a, t, reduction=reduction, delta=1.5),
        lambda a, t: F.huber_loss(a, t, reduction=reduction, delta=1.5),
        a,
        t,
    )
    logp = a - np.log(np.exp(a).sum(1, keepdims=True))
    # No zero in the target: PyTorch's gradient with respect to a zero target is NaN.
    target = np.exp(t) / np.exp(t).sum(1, keepdims=True)
    for red in (reduction, "batchmean"):
        against_torch(
            lambda x, y, red=red: tf.kl_div(x, y, reduction=red),
            lambda x, y, red=red: F.kl_div(x, y, reduction=red),
            logp,
            target,
        )
        against_torch(
            lambda x, y, red=red: tf.kl_div(x, y, reduction=red, log_target=True),
            lambda x, y, red=red: F.kl_div(x, y, reduction=red, log_target=True),
            logp,
            logp[::-1].copy(),
        )


def test_loss_errors():
    x = devrt.zeros(3)
    with pytest.raises(ValueError, match=r"^\[kl_div\] 'avg' is not a valid value"):
        F.kl_div(x, x, reduction="avg")
    with pytest.raises(ValueError, match=r"^\[KLDivLoss\] 'avg' is not a valid value"):
        nn.KLDivLoss(reduction="avg")
    with pytest.raises(ValueError, match=r"^\[huber_loss\] delta must be positive"):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match=r"^\[smooth_l1_loss\] beta must be non-negative"):
        F.smooth_l1_loss(x, x, beta=-1.0)
