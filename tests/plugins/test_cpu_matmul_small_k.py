"""The CPU backend's float32 products with a short reduction (K <= 256, at
least 4M multiply-adds: a dense layer's weight gradient over a batch), which
it computes tile by tile without BLAS where the processor has AVX-512, and
with BLAS elsewhere: against NumPy in float64 for the operand layouts a
gradient hands it (transposed and strided views) and for the edges of its
tiles (8 rows, panels of 48 and 16 columns)."""

from __future__ import annotations

import numpy as np
import pytest

import devrt

SHAPES = [
    # (m, k, n)
    (3136, 128, 1024),  # Deep MNIST's dense weight gradient
    (301, 100, 203),  # rows past a tile, columns past a panel and a vector
    (64, 256, 300),  # the longest reduction taken
    (1000, 17, 250),
    (48, 200, 520),
]


def check(got, a, b):
    want = a.astype(np.float64) @ b.astype(np.float64)
    scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.all(np.abs(got - want) <= 1e-6 * a.shape[1] * scale + 1e-30)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_transposed_a_as_a_weight_gradient(shape):
    m, k, n = shape
    rng = np.random.default_rng(m)
    x = rng.standard_normal((k, m), dtype=np.float32)
    g = rng.standard_normal((k, n), dtype=np.float32)
    check((devrt.tensor(x).T @ devrt.tensor(g)).numpy(), x.T, g)


@pytest.mark.parametrize("shape", SHAPES[1:], ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "b_transposed", "strided"])
def test_operand_layouts(shape, layout):
    m, k, n = shape
    rng = np.random.default_rng(k)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    ta, tb = devrt.tensor(a), devrt.tensor(b)
    if layout == "b_transposed":
        tb = devrt.tensor(np.ascontiguousarray(b.T)).T
    elif layout == "strided":
        wide = rng.standard_normal((m, 2 * k), dtype=np.float32)
        a = wide[:, ::2]
        ta = devrt.tensor(wide)[:, ::2]
    check((ta @ tb).numpy(), a, b)


def test_nan_and_inf_propagate():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((64, 128), dtype=np.float32)
    b = rng.standard_normal((128, 600), dtype=np.float32)
    a[3, 5] = np.nan
    b[7, 40] = np.inf
    got = (devrt.tensor(a) @ devrt.tensor(b)).numpy()
    want = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-4, atol=1e-3)


def test_linear_weight_gradient():
    # nn.Linear's weight gradient g^T x over a batch of 128 is such a product.
    rng = np.random.default_rng(2)
    x = rng.standard_normal((128, 784), dtype=np.float32)
    g = rng.standard_normal((128, 300), dtype=np.float32)
    layer = devrt.nn.Linear(784, 300)
    layer(devrt.tensor(x)).backward(devrt.tensor(g))
    check(layer.weight.grad.numpy(), g.T, x)
    np.testing.assert_allclose(layer.bias.grad.numpy(), g.sum(0), rtol=1e-4, atol=1e-4)
