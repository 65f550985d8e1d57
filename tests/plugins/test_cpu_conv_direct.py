"""The CPU backend's direct channels-last convolution kernels (conv2d_nhwc
and its gradients): registered for float32 exactly where the processor has
AVX-512, and taken by NCHW and NHWC convolutions alike. Their values are
checked against NumPy with the conformance suite (test_conv) and against
PyTorch with the graph's (test_graph_conv_pool_nhwc)."""

from __future__ import annotations

import numpy as np

import devrt
from devrt import _C
from devrt.testing import supports

OPS = [
    "conv2d_nhwc",
    "conv2d_nhwc_backward_input",
    "conv2d_nhwc_backward_filter",
    "conv2d_nhwc_relu",
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
