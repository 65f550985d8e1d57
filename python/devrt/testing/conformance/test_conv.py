"""conv2d, max/avg pooling and unfold/fold against NumPy references, with
gradients checked by finite differences, on every device that has the ops."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import devrt
from devrt import _C
from devrt.testing.gradcheck import gradcheck

CONV_OPS = ["im2col", "matmul", "add", "copy", "fill"]
GRAD_OPS = ["col2im", "sum", "mul", "where", "eq", "index_put", "max"]
# max pooling's composite and its gradient (the max rule, then col2im)
POOL_GRAD_OPS = ["im2col", "col2im", "max", "sum", "div", "mul", "eq", "ne", "logical_or"]


def patches(x, kh, kw, stride, padding, dilation, pad_value=0.0):
    """(N, C, H, W) -> (N, C, OH, OW, kh, kw) windows, NumPy only."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    win = sliding_window_view(xp, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(2, 3))
    return win[:, :, ::sh, ::sw, ::dh, ::dw]


def conv_reference(x, w, b, stride, padding, dilation, groups):
    n, c = x.shape[:2]
    oc, cg, kh, kw = w.shape
    p = patches(x, kh, kw, stride, padding, dilation)
    out = []
    for g in range(groups):
        pg = p[:, g * cg : (g + 1) * cg]
        wg = w[g * (oc // groups) : (g + 1) * (oc // groups)]
        out.append(np.einsum("nchwij,ocij->nohw", pg, wg))
    y = np.concatenate(out, axis=1)
    return y if b is None else y + b[None, :, None, None]


CASES = [
    dict(stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1),
    dict(stride=(2, 1), padding=(0, 2), dilation=(1, 1), groups=2),
    dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=1),
    # taps of whole rows and columns on padding, strides that skip columns
    dict(stride=(3, 3), padding=(4, 3), dilation=(1, 2), groups=1),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv2d_matches_numpy(device, need, rng, case, dtype):
    need(*CONV_OPS, dtype=dtype)
    x = rng.standard_normal((2, 4, 7, 6)).astype(dtype)
    w = rng.standard_normal((6, 4 // case["groups"], 3, 2)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    y = _C.conv2d(
        devrt.tensor(x, device=device),
        devrt.tensor(w, device=device),
        devrt.tensor(b, device=device),
        **case,
    )
    expected = conv_reference(x, w, b, **case)
    assert y.dtype.name == dtype and y.shape == expected.shape
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(y.cpu().numpy(), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("case", CASES)
def test_conv2d_gradients(device, need, rng, case):
    need(*CONV_OPS, *GRAD_OPS, dtype="float64")
    x = devrt.tensor(rng.standard_normal((2, 4, 6, 5)), device=device, requires_grad=True)
    w = devrt.tensor(
        rng.standard_normal((4, 4 // case["groups"], 2, 3)), device=device, requires_grad=True
    )
    b = devrt.tensor(rng.standard_normal(4), device=device, requires_grad=True)
    gradcheck(lambda x, w, b: _C.conv2d(x, w, b, **case), (x, w, b))


def test_conv2d_over_batch_chunks(device, need, rng):
    # Images of 72 x 14400 columns (4 MiB each in float32): the core
    # convolves them two at a time, the last chunk alone, and its gradients
    # recompute the columns chunk by chunk.
    need(*CONV_OPS, *GRAD_OPS, dtype="float32")
    x = rng.standard_normal((5, 8, 120, 120)).astype(np.float32)
    w = rng.standard_normal((3, 8, 3, 3)).astype(np.float32)
    r = rng.standard_normal((5, 3, 120, 120)).astype(np.float32)
    geo = dict(stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1)
    tx = devrt.tensor(x, device=device, requires_grad=True)
    tw = devrt.tensor(w, device=device, requires_grad=True)
    y = _C.conv2d(tx, tw, None, **geo)
    np.testing.assert_allclose(
        y.detach().cpu().numpy(), conv_reference(x, w, None, **geo), rtol=1e-4, atol=1e-3
    )
    (y * devrt.tensor(r, device=device)).sum().backward()
    p = patches(x, 3, 3, (1, 1), (1, 1), (1, 1))
    np.testing.assert_allclose(
        tw.grad.cpu().numpy(), np.einsum("nohw,nchwij->ocij", r, p), rtol=1e-3, atol=1e-1
    )
    # each image alone is one chunk: the chunked input gradient must agree
    for i in range(5):
        xi = devrt.tensor(x[i : i + 1], device=device, requires_grad=True)
        yi = _C.conv2d(xi, devrt.tensor(w, device=device), None, **geo)
        (yi * devrt.tensor(r[i : i + 1], device=device)).sum().backward()
        np.testing.assert_allclose(
            tx.grad.cpu().numpy()[i : i + 1], xi.grad.cpu().numpy(), rtol=1e-5, atol=1e-5
        )


def conv_input_gradient(r, w, x_shape, stride, padding, dilation):
    """The gradient of sum(conv2d(x, w) * r) for x (one group), NumPy only:
    each tap's share scattered back to where im2col read it."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n, c, h, wd = x_shape
    kh, kw = w.shape[2:]
    oh, ow = r.shape[2:]
    gp = np.einsum("nohw,ocij->nchwij", r, w)
    gx = np.zeros((n, c, h + 2 * ph + sh + (kh - 1) * dh, wd + 2 * pw + sw + (kw - 1) * dw))
    for i in range(kh):
        for j in range(kw):
            gx[:, :, i * dh : i * dh + sh * oh : sh, j * dw : j * dw + sw * ow : sw] += gp[
                ..., i, j
            ]
    return gx[:, :, ph : ph + h, pw : pw + wd]


# Channel counts around a vector's width (1, 3, 16, 17, 20, 32 in; 1, 17,
# 64, 100 out), batch 1, 1x1 to 5x5 kernels, VALID and SAME, strides with
# and without dilation: the geometry a device's direct convolution kernels
# (the CPU's) take, against NumPy. (N, C, H, W), (OC, kh, kw), stride,
# padding, dilation.
ODD_SHAPES = [
    ((1, 17, 6, 7), (1, 1, 1), (1, 1), (0, 0), (1, 1)),
    ((2, 3, 9, 8), (17, 3, 3), (1, 1), (1, 1), (1, 1)),
    ((2, 20, 8, 9), (64, 3, 3), (1, 1), (1, 1), (1, 1)),
    ((1, 32, 10, 10), (100, 5, 5), (1, 1), (2, 2), (1, 1)),
    ((1, 32, 7, 7), (64, 5, 5), (1, 1), (0, 0), (1, 1)),
    ((2, 24, 11, 10), (33, 3, 3), (2, 2), (1, 1), (1, 1)),
    ((2, 16, 13, 12), (17, 3, 2), (3, 2), (0, 1), (2, 1)),
    ((3, 1, 12, 12), (32, 5, 5), (1, 1), (2, 2), (1, 1)),
    ((2, 5, 9, 9), (20, 2, 4), (3, 2), (1, 2), (2, 1)),
    ((1, 18, 5, 6), (1, 3, 3), (1, 1), (3, 2), (1, 1)),  # padding beyond the kernel
]


@pytest.mark.parametrize("case", ODD_SHAPES, ids=str)
@pytest.mark.parametrize("views", [False, True], ids=["contiguous", "views"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv2d_odd_shapes_match_numpy(device, need, rng, case, views, dtype):
    need(*CONV_OPS, *GRAD_OPS, dtype=dtype)
    (n, c, h, w), (oc, kh, kw), stride, padding, dilation = case
    geo = dict(stride=stride, padding=padding, dilation=dilation, groups=1)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((oc, c, kh, kw)).astype(dtype)
    b = rng.standard_normal(oc).astype(dtype)
    if views:
        # x every other channel of a channels-last array, the weights a
        # permuted view of HWIO
        xb = np.zeros((n, h, w, 2 * c), dtype)
        xb[..., ::2] = x.transpose(0, 2, 3, 1)
        base_x = devrt.tensor(xb, device=device, requires_grad=True)
        base_w = devrt.tensor(wt.transpose(2, 3, 1, 0).copy(), device=device, requires_grad=True)
        tx = base_x.permute(0, 3, 1, 2)[:, ::2]
        tw = base_w.permute(3, 2, 0, 1)
        assert not tx.is_contiguous()
    else:
        tx = base_x = devrt.tensor(x, device=device, requires_grad=True)
        tw = base_w = devrt.tensor(wt, device=device, requires_grad=True)
    tb = devrt.tensor(b, device=device, requires_grad=True)
    y = _C.conv2d(tx, tw, tb, **geo)
    x64, w64 = x.astype(np.float64), wt.astype(np.float64)
    expected = conv_reference(x64, w64, b.astype(np.float64), **geo)
    assert y.shape == expected.shape

    def close(got, want):
        # float32 sums of up to 800 products: an error relative to the largest
        tol = 1e-5 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(got, want, rtol=0, atol=tol * np.abs(want).max())

    close(y.detach().cpu().numpy(), expected)
    r = rng.standard_normal(expected.shape)
    (y * devrt.tensor(r.astype(dtype), device=device)).sum().backward()
    gx = conv_input_gradient(r, w64, x.shape, stride, padding, dilation)
    gw = np.einsum("nohw,nchwij->ocij", r, patches(x64, kh, kw, stride, padding, dilation))
    got_gx, got_gw = base_x.grad.cpu().numpy(), base_w.grad.cpu().numpy()
    if views:
        assert not got_gx[..., 1::2].any()
        got_gx, got_gw = got_gx[..., ::2].transpose(0, 3, 1, 2), got_gw.transpose(3, 2, 0, 1)
    close(got_gx, gx)
    close(got_gw, gw)
    close(tb.grad.cpu().numpy(), r.sum(axis=(0, 2, 3)))


@pytest.mark.parametrize(
    "case",
    [
        ((1, 17, 5, 4), (3, 3, 3), (1, 1), (1, 1), (1, 1)),
        ((2, 2, 5, 6), (17, 3, 2), (2, 1), (1, 0), (1, 1)),
        ((1, 16, 7, 6), (2, 2, 3), (2, 2), (1, 1), (2, 1)),
    ],
    ids=str,
)
def test_conv2d_float32_gradients_by_finite_differences(device, need, rng, case):
    # conv2d is linear in x and in w, so central differences with a large
    # step are exact but for float32 rounding.
    need(*CONV_OPS, *GRAD_OPS, dtype="float32")
    (n, c, h, w), (oc, kh, kw), stride, padding, dilation = case
    geo = dict(stride=stride, padding=padding, dilation=dilation, groups=1)
    x = devrt.tensor(rng.standard_normal((n, c, h, w)).astype(np.float32), device=device)
    wt = devrt.tensor(rng.standard_normal((oc, c, kh, kw)).astype(np.float32), device=device)
    gradcheck(
        lambda x, w: _C.conv2d(x, w, None, **geo),
        (x.requires_grad_(), wt.requires_grad_()),
        eps=0.5,
        atol=2e-3,
        rtol=1e-3,
    )


POOLS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1)),
]


def pool_geometry(args):
    """(kernel, stride, padding) pairs of max_pool2d's keyword arguments."""

    def pair(v):
        return (v, v) if isinstance(v, int) else tuple(v)

    k = args["kernel_size"]
    return pair(k), pair(args.get("stride", k)), pair(args.get("padding", 0))


@pytest.mark.parametrize("args", POOLS)
def test_max_pool2d(device, need, rng, args):
    need("im2col", "max", "copy", dtype="float32")
    x = rng.standard_normal((2, 3, 7, 8)).astype(np.float32)
    y = _C.max_pool2d(devrt.tensor(x, device=device), **args)
    (kh, kw), s, p = pool_geometry(args)
    expected = patches(x, kh, kw, s, p, (1, 1), pad_value=-np.inf).max(axis=(4, 5))
    np.testing.assert_array_equal(y.cpu().numpy(), expected)


@pytest.mark.parametrize("include_pad", [True, False])
def test_avg_pool2d(device, need, rng, include_pad):
    need("im2col", "sum", "div", "copy", "fill", dtype="float64")
    x = rng.standard_normal((2, 3, 7, 8))
    y = _C.avg_pool2d(
        devrt.tensor(x, device=device),
        kernel_size=3,
        stride=2,
        padding=1,
        count_include_pad=include_pad,
    )
    win = patches(x, 3, 3, (2, 2), (1, 1), (1, 1))
    if include_pad:
        expected = win.sum(axis=(4, 5)) / 9
    else:
        count = patches(np.ones_like(x), 3, 3, (2, 2), (1, 1), (1, 1)).sum(axis=(4, 5))
        expected = win.sum(axis=(4, 5)) / count
    np.testing.assert_allclose(y.cpu().numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pool_gradients(device, need, rng, pool):
    need(*POOL_GRAD_OPS, "where", dtype="float64")
    # Distinct values keep max away from ties, where it is not differentiable.
    x = rng.permutation(2 * 2 * 6 * 5).reshape(2, 2, 6, 5) / 7.0
    t = devrt.tensor(x, device=device, requires_grad=True)
    fn = _C.max_pool2d if pool == "max" else _C.avg_pool2d
    gradcheck(lambda t: fn(t, kernel_size=3, stride=2, padding=1), (t,))


def max_pool_grad_reference(x, g, kh, kw, stride, padding):
    """Each window's gradient shared evenly among its maximal taps."""
    (sh, sw), (ph, pw) = stride, padding
    win = patches(x, kh, kw, stride, padding, (1, 1), pad_value=-np.inf)
    hit = (win == win.max(axis=(4, 5), keepdims=True)) | np.isnan(win)
    share = g[..., None, None] * hit / hit.sum(axis=(4, 5), keepdims=True)
    n, c, h, w = x.shape
    gx = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    for oy in range(g.shape[2]):
        for ox in range(g.shape[3]):
            gx[:, :, oy * sh : oy * sh + kh, ox * sw : ox * sw + kw] += share[:, :, oy, ox]
    return gx[:, :, ph : ph + h, pw : pw + w]


@pytest.mark.parametrize("args", POOLS + [dict(kernel_size=3, stride=1, padding=1)])
def test_max_pool2d_ties_share_the_gradient(device, need, rng, args):
    # Few distinct values (as after a relu): most windows hold ties, and
    # overlapping windows sum their shares; a NaN tap is its window's
    # maximum. Devices with pooling kernels and those running the core's
    # composite give the same gradient.
    need(*POOL_GRAD_OPS, "copy", dtype="float64")
    x = rng.integers(0, 3, (2, 3, 7, 8)).astype(np.float64)
    x[0, 0, 2, 3] = x[1, 2, 4, 4] = x[1, 2, 4, 5] = np.nan  # a NaN is the maximum
    t = devrt.tensor(x, device=device, requires_grad=True)
    y = _C.max_pool2d(t, **args)
    g = rng.standard_normal(tuple(y.shape))
    y.backward(devrt.tensor(g, device=device))
    (kh, kw), s, p = pool_geometry(args)
    expected = max_pool_grad_reference(x, g, kh, kw, s, p)
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(t.grad.cpu().numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("hw", [(14, 14), (28, 28), (7, 9), (4, 34), (5, 16)])
def test_max_pool2d_2x2_float32(device, need, rng, hw):
    """max_pool2d(2) in float32 (rows of 7, 14, 17 and 8 windows, odd
    heights and widths): the maxima and the gradient shared among tied
    taps, a NaN tap being its window's maximum, exactly as the reference."""
    need(*POOL_GRAD_OPS, "copy", dtype="float32")
    x = rng.integers(-2, 3, (2, 3, *hw)).astype(np.float32)
    x.reshape(-1)[::23] = np.nan
    t = devrt.tensor(x, device=device, requires_grad=True)
    y = _C.max_pool2d(t, kernel_size=2)
    win = patches(x, 2, 2, (2, 2), (0, 0), (1, 1), pad_value=-np.inf)
    expected_y = np.where(np.isnan(win).any(axis=(4, 5)), np.nan, win.max(axis=(4, 5)))
    np.testing.assert_array_equal(y.detach().cpu().numpy(), expected_y)
    g = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    y.backward(devrt.tensor(g, device=device))
    expected = max_pool_grad_reference(x.astype(np.float64), g, 2, 2, (2, 2), (0, 0))
    np.testing.assert_allclose(t.grad.cpu().numpy(), expected, rtol=1e-6, atol=1e-7)


def test_unfold_fold_are_adjoint(device, need, rng):
    need("im2col", "col2im", "mul", "sum", dtype="float64")
    x = rng.standard_normal((2, 3, 6, 7))
    c = rng.standard_normal((2, 3 * 2 * 3, 3 * 5))
    geo = dict(kernel_size=(2, 3), dilation=(2, 1), padding=(1, 0), stride=(2, 1))
    u = _C.unfold(devrt.tensor(x, device=device), **geo)
    f = _C.fold(devrt.tensor(c, device=device), output_size=(6, 7), **geo)
    assert u.shape == c.shape and f.shape == x.shape
    # <unfold(x), c> == <x, fold(c)>
    np.testing.assert_allclose(
        float((u.cpu().numpy() * c).sum()), float((x * f.cpu().numpy()).sum()), rtol=1e-10
    )


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x, w: _C.conv2d(x, w[:, :2]), r"\[conv2d\] input of shape .*4 channels"),
        (lambda x, w: _C.conv2d(x[0], w), r"\[conv2d\] expects a 4-D"),
        (lambda x, w: _C.conv2d(x, w, groups=3), r"\[conv2d\] groups=3"),
        (lambda x, w: _C.conv2d(x, w, stride=0), r"\[conv2d\] stride and dilation"),
        (lambda x, w: _C.max_pool2d(x, 9), r"\[max_pool2d\] input of shape .* too small"),
        (lambda x, w: _C.max_pool2d(x, 2, padding=2), r"\[max_pool2d\] padding"),
    ],
)
def test_conv_errors(call, match):
    x, w = devrt.randn(1, 4, 5, 5), devrt.randn(6, 4, 3, 3)
    with pytest.raises(ValueError, match=match):
        call(x, w)
