"""devrt.graph's Conv2D and MaxPool run NHWC throughout (core conv2d_nhwc and
max_pool2d_nhwc): both layouts of the convolution's columns (patch rows at
stride 1, strided columns otherwise), batches of several chunks, explicit
asymmetric padding, the channels-last pooling kernels' tie and NaN rules,
and first and second derivatives, against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import devrt.graph as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def same_pads(n, k, s, d):
    """TensorFlow's SAME padding (before, after) of one dimension."""
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def torch_conv_nhwc(x, f, strides, padding, dilations=(1, 1)):
    """TensorFlow's NHWC conv2d with an HWIO filter, in PyTorch."""
    xt = x.permute(0, 3, 1, 2)
    if padding == "SAME":
        top, bottom = same_pads(x.shape[1], f.shape[0], strides[0], dilations[0])
        left, right = same_pads(x.shape[2], f.shape[1], strides[1], dilations[1])
        xt = F.pad(xt, (left, right, top, bottom))
    y = F.conv2d(xt, f.permute(3, 2, 0, 1), stride=strides, dilation=dilations)
    return y.permute(0, 2, 3, 1)


CASES = [
    # (input NHWC, filter HWIO, strides, padding, dilations)
    ((5, 9, 8, 4), (3, 3, 4, 6), (1, 1), "SAME", (1, 1)),  # patch rows
    ((3, 7, 7, 1), (5, 5, 1, 3), (1, 1), "SAME", (1, 1)),  # one channel: columns
    ((2, 28, 4, 1), (3, 17, 1, 2), (1, 1), "SAME", (1, 1)),  # one channel, wide: patch rows
    ((2, 8, 9, 3), (3, 3, 3, 4), (2, 2), "SAME", (1, 1)),  # stride 2: strided columns
    ((2, 9, 7, 2), (3, 2, 2, 5), (2, 1), "VALID", (1, 1)),
    ((2, 6, 5, 3), (2, 2, 3, 4), (1, 1), "SAME", (1, 1)),  # asymmetric padding
    ((2, 9, 9, 3), (3, 3, 3, 2), (1, 1), "SAME", (2, 1)),  # dilated rows: patch rows
    ((1, 9, 9, 2), (3, 3, 2, 2), (1, 1), "SAME", (1, 2)),  # dilated columns: NCHW path
    ((40, 20, 20, 16), (3, 3, 16, 8), (1, 1), "SAME", (1, 1)),  # several chunks
    ((64, 48, 48, 1), (5, 5, 1, 8), (1, 1), "SAME", (1, 1)),  # several chunks, columns
    # the CPU's direct kernels: channels around a vector's width, strides,
    # the input gradient by phases (16 channels or more) and by patches
    ((1, 6, 7, 17), (1, 1, 17, 1), (1, 1), "VALID", (1, 1)),
    ((2, 9, 8, 20), (3, 3, 20, 17), (1, 1), "SAME", (1, 1)),
    ((2, 11, 10, 24), (3, 3, 24, 100), (2, 2), "SAME", (1, 1)),
    ((2, 13, 12, 16), (3, 2, 16, 64), (3, 2), "VALID", (2, 1)),
    ((1, 14, 14, 32), (5, 5, 32, 64), (1, 1), "SAME", (1, 1)),  # Deep MNIST's second
    ((3, 28, 28, 1), (5, 5, 1, 32), (1, 1), "SAME", (1, 1)),  # and first
    ((2, 10, 9, 3), (4, 3, 3, 33), (2, 3), "SAME", (1, 1)),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv2d_values_and_gradients_match_pytorch(case, dtype):
    xs, fs, strides, padding, dilations = case
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal(xs).astype(dtype)
    f_np = rng.standard_normal(fs).astype(dtype)
    x = tf.placeholder(dtype, [None, None, None, xs[3]])
    f = tf.Variable(f_np)
    y = tf.nn.conv2d(x, f, [1, *strides, 1], padding, dilations=[1, *dilations, 1])
    seed = tf.placeholder(dtype)
    gx, gf = tf.gradients(tf.reduce_sum(y * seed), [x, f])
    xt = torch.tensor(x_np, requires_grad=True)
    ft = torch.tensor(f_np, requires_grad=True)
    want = torch_conv_nhwc(xt, ft, strides, padding, dilations)
    g_np = rng.standard_normal(tuple(want.shape)).astype(dtype)
    want.backward(torch.tensor(g_np))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got, got_gx, got_gf = sess.run([y, gx, gf], {x: x_np, seed: g_np})
    assert got.dtype == np.dtype(dtype)
    for g, w in (
        (got, want.detach().numpy()),
        (got_gx, xt.grad.numpy()),
        (got_gf, ft.grad.numpy()),
    ):
        # float32 sums of up to 10^5 products: an error relative to the largest
        scale = np.abs(w).max()
        tol = 2e-5 * scale if dtype == "float32" else 1e-12 * scale
        np.testing.assert_allclose(g, w, rtol=0, atol=tol)


@pytest.mark.parametrize(
    "case",
    [
        ((2, 6, 6, 3), (3, 3, 3, 2), (1, 1), "SAME"),
        ((2, 7, 6, 2), (3, 2, 2, 3), (2, 2), "SAME"),
        ((2, 5, 5, 1), (3, 3, 1, 2), (1, 1), "VALID"),
    ],
    ids=str,
)
def test_conv2d_second_derivative_matches_pytorch(case):
    # The gradient of a gradient: the NHWC rule's recorded form.
    xs, fs, strides, padding = case
    rng = np.random.default_rng(1)
    x_np, f_np = rng.standard_normal(xs), rng.standard_normal(fs)
    x = tf.placeholder(tf.float64, list(xs))
    f = tf.placeholder(tf.float64, list(fs))
    y = tf.nn.conv2d(x, f, [1, *strides, 1], padding)
    (gx,) = tf.gradients(tf.reduce_sum(tf.square(y)), [x])
    second = tf.gradients(tf.reduce_sum(tf.square(gx)), [x, f])
    xt = torch.tensor(x_np, requires_grad=True)
    ft = torch.tensor(f_np, requires_grad=True)
    yt = torch_conv_nhwc(xt, ft, strides, padding)
    (gxt,) = torch.autograd.grad((yt**2).sum(), [xt], create_graph=True)
    want = torch.autograd.grad((gxt**2).sum(), [xt, ft])
    with tf.Session() as sess:
        got = sess.run(second, {x: x_np, f: f_np})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-10, atol=1e-10)


def test_conv2d_of_an_empty_batch():
    x = tf.placeholder(tf.float32, [None, 6, 6, 3])
    f = tf.Variable(np.ones((3, 3, 3, 4), np.float32))
    y = tf.nn.conv2d(x, f, [1, 1, 1, 1], "SAME")
    (gf,) = tf.gradients(tf.reduce_sum(y), [f])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got, got_gf = sess.run([y, gf], {x: np.zeros((0, 6, 6, 3), np.float32)})
    assert got.shape == (0, 6, 6, 4)
    np.testing.assert_array_equal(got_gf, np.zeros((3, 3, 3, 4), np.float32))


def test_conv2d_mismatched_channels_raise():
    x = tf.placeholder(tf.float32, [None, 6, 6, 3])
    f = tf.Variable(np.ones((3, 3, 2, 4), np.float32))
    with pytest.raises(ValueError, match=r"^\[Conv2D.*\(3, 3, 2, 4\)"):
        tf.nn.conv2d(x, f, [1, 1, 1, 1], "SAME")


# --- MaxPool: channels-last kernels (max_pool2d_nhwc) ---------------------------------


def torch_pool_nhwc(x, ksize, strides, padding):
    xt = x.permute(0, 3, 1, 2)
    if padding == "SAME":
        top, bottom = same_pads(x.shape[1], ksize[0], strides[0], 1)
        left, right = same_pads(x.shape[2], ksize[1], strides[1], 1)
        xt = F.pad(xt, (left, right, top, bottom), value=-float("inf"))
    return F.max_pool2d(xt, ksize, strides).permute(0, 2, 3, 1)


POOLS = [
    # (input NHWC, ksize, strides, padding)
    ((4, 28, 28, 32), (2, 2), (2, 2), "SAME"),  # the Deep MNIST pools
    ((3, 7, 7, 5), (3, 3), (2, 2), "SAME"),  # overlapping windows
    ((2, 6, 5, 3), (2, 2), (2, 2), "SAME"),  # odd width: one column of padding after
    ((2, 9, 8, 4), (3, 2), (1, 2), "VALID"),
    ((1, 4, 4, 7), (3, 3), (1, 1), "SAME"),
    # windows that cannot overlap: the gradient is written window by window,
    # and the rows and columns no window reads get 0
    ((2, 7, 9, 3), (2, 2), (2, 2), "VALID"),
    ((2, 7, 9, 16), (2, 2), (2, 2), "VALID"),  # 2x2 over whole vectors of channels
    ((2, 8, 8, 3), (2, 2), (3, 3), "VALID"),
    ((1, 5, 7, 2), (2, 3), (2, 3), "SAME"),
]


@pytest.mark.parametrize("case", POOLS, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool_values_and_gradients_match_pytorch(case, dtype):
    # Distinct values: no ties, where PyTorch gives the gradient to one tap.
    xs, ksize, strides, padding = case
    rng = np.random.default_rng(2)
    x_np = rng.permutation(np.prod(xs)).reshape(xs).astype(dtype)
    x = tf.placeholder(dtype, [None, None, None, xs[3]])
    y = tf.nn.max_pool(x, [1, *ksize, 1], [1, *strides, 1], padding)
    seed = tf.placeholder(dtype)
    (gx,) = tf.gradients(tf.reduce_sum(y * seed), [x])
    xt = torch.tensor(x_np, requires_grad=True)
    want = torch_pool_nhwc(xt, ksize, strides, padding)
    g_np = rng.standard_normal(tuple(want.shape)).astype(dtype)
    want.backward(torch.tensor(g_np))
    with tf.Session() as sess:
        got, got_gx = sess.run([y, gx], {x: x_np, seed: g_np})
    np.testing.assert_array_equal(got, want.detach().numpy())
    np.testing.assert_allclose(got_gx, xt.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("repeat", [1, 8], ids=["2 channels", "16 channels"])
def test_max_pool_ties_share_and_nan_wins(repeat):
    # The channels-first kernels' rules: a window's gradient shared equally
    # among its maximal taps; a NaN tap is the maximum and takes it all.
    # Sixteen channels (the pair repeated) take the whole-vector 2x2 path.
    pair = np.zeros((1, 4, 4, 2), np.float32)  # channel 0: all ties
    pair[0, :, :, 1] = [[1, 3, 3, 0], [3, 2, 0, 5], [7, 7, 7, 1], [0, 7, 2, 2]]
    pair[0, 0, 0, 0] = np.nan
    x_np = np.tile(pair, (1, 1, 1, repeat))
    x = tf.placeholder(tf.float32, [None, 4, 4, 2 * repeat])
    y = tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    (gx,) = tf.gradients(tf.reduce_sum(y * 12.0), [x])
    with tf.Session() as sess:
        got, got_gx = sess.run([y, gx], {x: x_np})
    want0 = np.full((4, 4), 3.0, np.float32)  # 12 shared by 4 zero taps
    want0[:2, :2] = [[12, 0], [0, 0]]  # the NaN takes its window's
    want1 = np.array([[0, 6, 0, 0], [6, 0, 0, 12], [4, 4, 12, 0], [0, 4, 0, 0]], np.float32)
    for c in range(0, 2 * repeat, 2):
        assert np.isnan(got[0, 0, 0, c])
        np.testing.assert_array_equal(got[0, :, :, c + 1], [[3, 5], [7, 7]])
        np.testing.assert_array_equal(got_gx[0, :, :, c], want0)
        np.testing.assert_array_equal(got_gx[0, :, :, c + 1], want1)


TAPS_POOLS = [
    # (input NHWC, ksize, strides): windows of at most 8 taps keep their
    # maximal taps for the gradient where the device has max_pool2d_nhwc_taps
    ((2, 6, 8, 16), (2, 2), (2, 2)),  # 2x2 over whole vectors of channels
    ((2, 7, 9, 3), (2, 2), (2, 2)),  # the general rows, an unread row and column
    ((2, 6, 7, 5), (2, 3), (1, 2)),  # overlapping windows: shares summed
    ((1, 5, 6, 4), (3, 2), (2, 1)),
]


@pytest.mark.parametrize("case", TAPS_POOLS, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool_gradient_from_kept_taps_is_the_kernels(case, dtype):
    # Few distinct values (many ties), a NaN, a -0.0 and an inf: the graph's
    # gradient (kept taps where the device has them) is the channels-first
    # kernels' (devrt.nn.functional.max_pool2d), bit for bit where windows do
    # not overlap (where they do, the shares are summed in another order).
    import devrt
    import devrt.nn.functional as DF

    xs, ksize, strides = case
    rng = np.random.default_rng(5)
    x_np = rng.integers(-2, 3, xs).astype(dtype)
    x_np[0, 0, 0, 0] = np.nan
    x_np[0, 1, 1, 1] = -0.0
    x_np[-1, -1, 0, -1] = np.inf
    x = tf.placeholder(dtype, [None, None, None, xs[3]])
    y = tf.nn.max_pool(x, [1, *ksize, 1], [1, *strides, 1], "VALID")
    seed = tf.placeholder(dtype)
    (gx,) = tf.gradients(tf.reduce_sum(y * seed), [x])
    xt = devrt.tensor(x_np.transpose(0, 3, 1, 2).copy(), requires_grad=True)
    want = DF.max_pool2d(xt, ksize, strides)
    g_np = rng.standard_normal(tuple(want.shape)).astype(dtype)
    want.backward(devrt.tensor(g_np))
    with tf.Session() as sess:
        got, got_gx = sess.run([y, gx], {x: x_np, seed: g_np.transpose(0, 2, 3, 1)})
    np.testing.assert_array_equal(got, want.detach().numpy().transpose(0, 2, 3, 1))
    want_gx = xt.grad.numpy().transpose(0, 2, 3, 1)
    if all(s >= k for s, k in zip(strides, ksize, strict=True)):
        np.testing.assert_array_equal(got_gx, want_gx)
    else:
        tol = 1e-6 if dtype == "float32" else 1e-14
        np.testing.assert_allclose(got_gx, want_gx, rtol=tol, atol=tol)
        assert np.isnan(got_gx).sum() == np.isnan(want_gx).sum()


CHAIN_POOLS = [
    # (input NHWC, output channels, pool padding, dtype): 2x2 pools over an
    # even grid join the fused step (conv2d_nhwc_relu_pool, or its two ops
    # where the device lacks the kernel, as for float64 on the CPU), over an
    # odd one they follow it
    ((2, 6, 6, 3), 16, "SAME", "float32", 1),
    ((2, 6, 6, 3), 3, "SAME", "float32", 1),  # channels not a multiple of 8
    ((1, 10, 6, 2), 8, "VALID", "float32", 1),  # one image: bands of rows
    ((3, 7, 5, 3), 16, "SAME", "float32", 1),  # odd grid: padded pooling
    ((2, 6, 6, 3), 16, "SAME", "float64", 1),
    # 20 input channels: the input's gradient correlates the spread gradient
    # band by band (24 output channels: a partial vector of them)
    ((2, 8, 8, 20), 24, "VALID", "float32", 1),
    ((2, 12, 8, 20), 24, "SAME", "float32", 2),  # stride 2: one pass per phase
    ((1, 12, 10, 17), 40, "SAME", "float32", 2),
]


@pytest.mark.parametrize("case", CHAIN_POOLS, ids=str)
def test_fused_chain_pool_gradient_with_nan_and_dead_windows(case):
    # Conv2D + bias + Relu + MaxPool as one step against the same nodes run
    # one by one (the value before relu fetched): windows whose greatest
    # value is NaN (from the NaN in the input) pass their gradient to the
    # NaN taps, those whose greatest value is 0 pass none, the same to the
    # bit.
    shape, channels, padding, dtype, stride = case
    rng = np.random.default_rng(6)
    x_np = np.abs(rng.standard_normal(shape)).astype(dtype)
    x_np[-1, 2, 3, 0] = np.nan
    x = tf.placeholder(dtype, [None, *shape[1:]])
    f = tf.Variable((rng.standard_normal((3, 3, shape[3], channels)) - 0.5).astype(dtype))
    b = tf.Variable(np.zeros(channels, dtype))
    pre = tf.nn.conv2d(x, f, [1, stride, stride, 1], "SAME") + b
    h = tf.nn.relu(pre)
    y = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], padding)
    w = rng.uniform(-1.0, 1.0, (shape[0], *y.shape.as_list()[1:])).astype(dtype)
    grads = tf.gradients(tf.reduce_sum(y * w), [x, f, b])
    even = all(-(-n // stride) % 2 == 0 for n in shape[1:3])
    with tf.Session() as fused:
        fused.run(tf.global_variables_initializer())
        one = fused.run([y, *grads], {x: x_np})
        assert fused.stats["fused"] == 1 and fused.stats["fused_pools"] == even
    for unfused in ([pre], [h]):  # the Relu's value fetched keeps the pool
        with tf.Session() as separate:
            separate.run(tf.global_variables_initializer())
            two = separate.run([y, *grads, *unfused], {x: x_np})[:-1]
            assert separate.stats["fused"] == (0 if unfused == [pre] else 1)
            assert separate.stats["fused_pools"] == 0
        assert np.isnan(one[0]).any() and (one[0] == 0).mean() > 0.2
        assert np.isnan(one[2]).any() and not np.isnan(one[1]).any()
        for got, want in zip(one[:3], two[:3], strict=True):
            np.testing.assert_array_equal(got, want)
        # the bias's gradient: the same sum, in another order where the
        # device takes it from the filter gradient's pass
        np.testing.assert_allclose(one[3], two[3], rtol=1e-6)


@pytest.mark.parametrize("case", CHAIN_POOLS, ids=str)
def test_fused_chain_pool_forward_only(case):
    # A plan without gradients (inference) takes the pool into the fused
    # step as well; the values are those of the nodes run one by one.
    shape, channels, padding, dtype, stride = case
    rng = np.random.default_rng(7)
    x_np = rng.standard_normal(shape).astype(dtype)
    x_np[0, 1, 2, 0] = np.nan
    x = tf.placeholder(dtype, [None, *shape[1:]])
    f = tf.constant(rng.standard_normal((3, 3, shape[3], channels)).astype(dtype))
    b = tf.constant(rng.standard_normal(channels).astype(dtype))
    h = tf.nn.relu(tf.nn.conv2d(x, f, [1, stride, stride, 1], "SAME") + b)
    y = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], padding)
    with tf.Session() as sess:
        one = sess.run(y, {x: x_np})
        assert sess.stats["fused"] == 1
        assert sess.stats["fused_pools"] == all(-(-n // stride) % 2 == 0 for n in shape[1:3])
    with tf.Session() as sess:  # the Relu's value fetched: the pool follows
        two, _ = sess.run([y, h], {x: x_np})
        assert sess.stats["fused"] == 1 and sess.stats["fused_pools"] == 0
    assert np.isnan(one).any() and (one == 0).any()
    np.testing.assert_array_equal(one, two)


def test_max_pool_second_derivative_matches_pytorch():
    # The gradient of the pool's gradient (the recorded form of the rule).
    rng = np.random.default_rng(3)
    x_np = rng.permutation(2 * 5 * 6 * 3).reshape(2, 5, 6, 3) / 10.0
    x = tf.placeholder(tf.float64, [2, 5, 6, 3])
    y = tf.nn.max_pool(x, [1, 3, 3, 1], [1, 2, 2, 1], "SAME")
    (gx,) = tf.gradients(tf.reduce_sum(tf.square(y)), [x])
    (second,) = tf.gradients(tf.reduce_sum(tf.square(gx) * x), [x])
    xt = torch.tensor(x_np, requires_grad=True)
    yt = torch_pool_nhwc(xt, (3, 3), (2, 2), "SAME")
    (gxt,) = torch.autograd.grad((yt**2).sum(), [xt], create_graph=True)
    (want,) = torch.autograd.grad((gxt**2 * xt).sum(), [xt])
    with tf.Session() as sess:
        got = sess.run(second, {x: x_np})
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kw", [3, 17])  # the columns and the patch-rows layouts
def test_conv2d_without_input_channels_gives_zeros(kw):
    x = tf.placeholder(tf.float32, [2, 5, 5, 0])
    f = tf.Variable(np.ones((3, kw, 0, 4), np.float32))
    y = tf.nn.conv2d(x, f, [1, 1, 1, 1], "SAME")
    gx, gf = tf.gradients(tf.reduce_sum(y), [x, f])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got, got_gx, got_gf = sess.run([y, gx, gf], {x: np.ones((2, 5, 5, 0), np.float32)})
    np.testing.assert_array_equal(got, np.zeros((2, 5, 5, 4), np.float32))
    assert got_gx.shape == (2, 5, 5, 0) and got_gf.shape == (3, kw, 0, 4)


def test_fused_chain_pool_gradient_shares_ties():
    # Windows whose greatest value is held by one to four taps: the fused
    # step's gradients spread each window's gradient evenly among them (a
    # third where three tie) as the separate pooling does, and with an
    # identity 1x1 filter the input's gradient is that spread gradient.
    rng = np.random.default_rng(8)
    n, ph, pw, c = 2, 3, 4, 20
    counts = rng.integers(0, 5, (n, ph, pw, c))  # 0: every tap negative
    x_np = np.empty((n, 2 * ph, 2 * pw, c), np.float32)
    for idx in np.ndindex(n, ph, pw, c):
        i, y, x_, ch = idx
        top = float(rng.integers(1, 9))
        k = counts[idx]
        vals = (
            np.where(np.arange(4) < k, top, top - rng.integers(1, 4, 4))
            if k
            else -rng.integers(1, 4, 4)
        )
        vals = rng.permutation(vals.astype(np.float32))
        x_np[i, 2 * y : 2 * y + 2, 2 * x_ : 2 * x_ + 2, ch] = vals.reshape(2, 2)
    x = tf.placeholder(tf.float32, [None, 2 * ph, 2 * pw, c])
    f = tf.Variable(np.eye(c, dtype=np.float32).reshape(1, 1, c, c))
    b = tf.Variable(np.zeros(c, np.float32))
    h = tf.nn.relu(tf.nn.conv2d(x, f, [1, 1, 1, 1], "VALID") + b)
    y = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    w = rng.uniform(-1.0, 1.0, (n, ph, pw, c)).astype(np.float32)
    grads = tf.gradients(tf.reduce_sum(y * w), [x, f, b])
    with tf.Session() as fused:
        fused.run(tf.global_variables_initializer())
        one = fused.run(grads, {x: x_np})
        assert fused.stats["fused_pools"] == 1
    with tf.Session() as separate:
        separate.run(tf.global_variables_initializer())
        two = separate.run([*grads, h], {x: x_np})[:-1]
        assert separate.stats["fused_pools"] == 0
    for got, want in zip(one[:2], two[:2], strict=True):
        np.testing.assert_array_equal(got, want)
    windows = x_np.reshape(n, ph, 2, pw, 2, c)
    top = windows.max(axis=(2, 4), keepdims=True)
    hit = (windows == top) & (top > 0)
    share = w[:, :, None, :, None, :] / np.maximum(hit.sum(axis=(2, 4), keepdims=True), 1)
    want_gx = np.where(hit, share.astype(np.float32), np.float32(0)).reshape(x_np.shape)
    assert {1, 2, 3, 4} <= set(np.unique(hit.sum(axis=(2, 4))))
    np.testing.assert_array_equal(one[0], want_gx)
