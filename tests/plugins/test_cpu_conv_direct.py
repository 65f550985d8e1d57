"""The CPU backend's direct channels-last convolution kernels (conv2d_nhwc
and its gradients): registered for float32 exactly where the processor has
AVX-512, and taken by NCHW and NHWC convolutions alike. Their values are
checked against NumPy with the conformance suite (test_conv) and against
PyTorch with the graph's (test_graph_conv_pool_nhwc)."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt import _C
from devrt.testing import supports

OPS = [
    "conv2d_nhwc",
    "conv2d_nhwc_backward_input",
    "conv2d_nhwc_backward_filter",
    "conv2d_nhwc_relu",
    "conv2d_nhwc_relu_pool",
    "conv2d_nhwc_backward_filter_bias",
    "conv2d_nhwc_pool_backward_input",
    "conv2d_nhwc_pool_backward_filter_bias",
]


def avx512() -> bool:
    with open("/proc/cpuinfo") as f:
        return any(line.startswith("flags") and " avx512f" in line for line in f)


def test_registered_for_float32_where_the_processor_has_avx512():
    for op in OPS:
        assert supports("cpu", op, "float32") == avx512(), op
        assert not supports("cpu", op, "float64"), op


def test_float32_agrees_with_the_float64_im2col_path():
    # float64 has no direct kernels: the same convolution through im2col and
    # matmul, forward and both gradients, NCHW with a bias.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 20, 9, 11))
    w = rng.standard_normal((40, 20, 3, 5))
    b = rng.standard_normal(40)
    r = rng.standard_normal((3, 40, 5, 6))
    geo = dict(stride=(2, 2), padding=(1, 2), dilation=(1, 1), groups=1)
    out = {}
    for dtype in ("float32", "float64"):
        tx, tw, tb = (devrt.tensor(a.astype(dtype), requires_grad=True) for a in (x, w, b))
        y = _C.conv2d(tx, tw, tb, **geo)
        (y * devrt.tensor(r.astype(dtype))).sum().backward()
        out[dtype] = [t.detach().numpy() for t in (y, tx.grad, tw.grad, tb.grad)]
    for got, want in zip(out["float32"], out["float64"], strict=True):
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * np.abs(want).max())


@pytest.mark.parametrize("pool", [False, True], ids=["relu", "relu_pool"])
def test_fused_chain_without_taps_still_gives_the_bias_gradient(pool):
    # No input channels: the convolution is 0, the chain's output relu(b),
    # the filter's gradient empty and the bias's the masked sum of g (the
    # kernel's pass without taps); an empty batch gives a zero bias gradient.
    # With a 2x2 pooling joined to the chain every window ties on relu(b):
    # each pooled gradient is spread in quarters over its window, whose sum
    # is the bias's gradient (the pooled-gradient kernel's path for empty
    # filters).
    import devrt.graph as tf

    b_np = np.array([0.5, -1.0, 2.0], np.float32)
    w = 6 if pool else 5
    out = (2, 3) if pool else (4, 5)
    for n, c in [(2, 0), (0, 2)]:
        g = tf.Graph()
        with g.as_default():
            x = tf.placeholder(tf.float32, [None, 4, w, c])
            f = tf.Variable(np.ones((3, 3, c, 3), np.float32))
            b = tf.Variable(b_np)
            y = tf.nn.relu(tf.nn.conv2d(x, f, [1, 1, 1, 1], "SAME") + b)
            if pool:
                y = tf.nn.max_pool(y, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
            seed = tf.placeholder(tf.float32, [None, *out, 3])
            gf, gb = tf.gradients(tf.reduce_sum(y * seed), [f, b])
            init = tf.global_variables_initializer()
        s = np.arange(n * out[0] * out[1] * 3, dtype=np.float32).reshape(n, *out, 3) + 0.25
        with tf.Session(graph=g) as sess:
            sess.run(init)
            got_y, got_gf, got_gb = sess.run(
                [y, gf, gb], {x: np.zeros((n, 4, w, c), np.float32), seed: s}
            )
            assert sess.stats["fused"] == 1 and sess.stats["fused_pools"] == pool
        np.testing.assert_array_equal(got_y, np.broadcast_to(np.maximum(b_np, 0), got_y.shape))
        assert got_gf.shape == (3, 3, c, 3) and not got_gf.any()
        np.testing.assert_allclose(got_gb, s.sum(axis=(0, 1, 2)) * (b_np > 0), rtol=1e-6)
