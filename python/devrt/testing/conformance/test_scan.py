"""Ops along one axis with an output of the input's shape, on every device
against NumPy: argsort (and sort/topk built on it) and cumsum, with
cumsum's gradient checked by finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt.testing.conformance.support import (
    check_meta,
    laid_out,
    make,
    need_types,
    to_device,
    to_numpy,
)
from devrt.testing.gradcheck import gradcheck

NUMERIC = ["int32", "int64", "float32", "float64"]


def stable_order(a: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """NumPy's stable argsort, with NaN last (first when descending) and
    ties kept in input order either way."""
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    moved = np.moveaxis(a, axis, -1)
    out = np.empty(moved.shape, np.int64)
    for idx in np.ndindex(moved.shape[:-1]):
        row = moved[idx]
        key = [(0 if v != v else 1, -v if v == v else 0) for v in row.tolist()]
        out[idx] = sorted(range(len(row)), key=lambda i: key[i])
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("dtype", NUMERIC)
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_argsort_matches_numpy(device, need, rng, dtype, axis, descending):
    need("argsort", dtype=dtype)
    a = make(rng, (4, 5, 6), dtype, low=-3, high=3)  # ties in plenty
    if dtype.startswith("float"):
        a[0, 1, 2] = a[2, 3, 1] = np.nan
    got = devrt.argsort(to_device(a, device), dim=axis, descending=descending)
    check_meta(got, "int64", a.shape)
    np.testing.assert_array_equal(to_numpy(got), stable_order(a, axis, descending))


@pytest.mark.parametrize("layout", ["transposed", "strided"])
def test_argsort_and_sort_of_strided_views(device, need, rng, layout):
    need("argsort", "index", dtype="float64")
    a = make(rng, (6, 7), "float64")
    t = laid_out(a, device, layout)
    view = to_numpy(t)
    order = stable_order(view, 1, False)
    np.testing.assert_array_equal(to_numpy(t.argsort(dim=1)), order)
    values, indices = devrt.sort(t, dim=1)
    np.testing.assert_array_equal(to_numpy(values), np.take_along_axis(view, order, 1))
    np.testing.assert_array_equal(to_numpy(indices), order)


def test_sort_topk_bool_empty_and_scalar(device, need):
    need("argsort", "index", dtype="int32")
    need("copy", dtype="bool")
    b = to_device(np.array([True, False, True, False]), device)
    assert to_numpy(devrt.argsort(b)).tolist() == [1, 3, 0, 2]
    need("copy", dtype="uint8")
    u = to_device(np.array([200, 7, 255, 7], np.uint8), device)
    assert to_numpy(devrt.argsort(u, descending=True)).tolist() == [2, 0, 1, 3]
    e = devrt.argsort(to_device(np.zeros((3, 0), np.int32), device), dim=1)
    check_meta(e, "int64", (3, 0))
    s = devrt.argsort(to_device(np.array(5, np.int32), device))
    check_meta(s, "int64", ())
    x = to_device(np.array([[3, 1, 4, 1, 5]], np.int32), device)
    top = devrt.topk(x, 3)
    assert to_numpy(top.values).tolist() == [[5, 4, 3]]
    assert to_numpy(top.indices).tolist() == [[4, 2, 0]]
    low = x.topk(2, largest=False)
    assert to_numpy(low.values).tolist() == [[1, 1]] and to_numpy(low.indices).tolist() == [[1, 3]]
    with pytest.raises(ValueError, match=r"^\[topk\] k \(6\) must lie in \[0, 5\]"):
        x.topk(6)
    with pytest.raises(IndexError, match=r"^\[argsort\]"):
        devrt.argsort(x, dim=2)


def test_sort_values_carry_gradients(device, need, rng):
    need("argsort", "index", "index_put", "fill", dtype="float64")
    x = to_device(rng.permutation(12).reshape(3, 4) / 3.0, device)  # no ties
    x.requires_grad_()
    gradcheck(lambda t: devrt.sort(t, dim=0, descending=True).values * 1.0, (x,))
    gradcheck(lambda t: t.topk(2, dim=1).values, (x,))


@pytest.mark.parametrize("dtype", NUMERIC + ["bool"])
@pytest.mark.parametrize("axis", [0, 2, -2])
def test_cumsum_matches_numpy(device, need, rng, dtype, axis):
    compute = "int64" if dtype in ("bool", "int32", "int64") else dtype
    need_types(need, "cumsum", compute, dtype)
    a = make(rng, (3, 4, 5), dtype)
    got = devrt.cumsum(to_device(a, device), axis)
    check_meta(got, compute, a.shape)
    expected = np.cumsum(a.astype(compute), axis=axis)
    if compute.startswith("float"):
        np.testing.assert_allclose(
            to_numpy(got), expected, rtol=1e-5 if compute == "float32" else 1e-12
        )
    else:
        np.testing.assert_array_equal(to_numpy(got), expected)


def test_cumsum_float32_accumulates_wider(device, need, rng):
    # As PyTorch's CPU kernel: float32 running sums accumulate in float64,
    # so a partial sum past float32's range comes back once later terms
    # cancel it, and long sums round once per output.
    need("cumsum", dtype="float32")
    x = np.array([3e38, 3e38, -3e38, -3e38, 1.0], np.float32)
    got = to_numpy(devrt.cumsum(to_device(x, device), 0))
    np.testing.assert_array_equal(got, np.array([3e38, np.inf, 3e38, 0.0, 1.0], np.float32))
    a = (rng.standard_normal((3, 2000)) * 1e4).astype(np.float32)
    got = to_numpy(devrt.cumsum(to_device(a, device), 1))
    np.testing.assert_array_equal(got, np.cumsum(a.astype(np.float64), 1).astype(np.float32))


def test_cumsum_strided_dtype_and_gradient(device, need, rng):
    need("cumsum", "sum", "sub", "add", dtype="float64")
    a = make(rng, (5, 6), "float64")
    t = laid_out(a, device, "transposed")
    np.testing.assert_allclose(to_numpy(t.cumsum(1)), np.cumsum(to_numpy(t), 1), rtol=1e-12)
    ints = to_device(np.array([1, 2, 3], np.int64), device)
    need("copy", dtype="int64")
    f = devrt.cumsum(ints, 0, dtype=devrt.float64)
    check_meta(f, "float64", (3,))
    x = to_device(a, device)
    x.requires_grad_()
    gradcheck(
        lambda t: devrt.cumsum(t, 0) * devrt.arange(6.0, dtype=devrt.float64).to(device), (x,)
    )
    gradcheck(lambda t: t.cumsum(-1), (x,))
