"""cat, stack, split, chunk, gather, scatter_add, index_select and
masked_fill against NumPy, with their gradients, on every device that has
the ops they are built from."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt.testing.gradcheck import gradcheck

JOIN_OPS = ["copy"]
INDEX_OPS = ["index", "arange", "copy"]


def dev(a, device, grad=False):
    return devrt.tensor(a, device=device, requires_grad=grad)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_and_stack(device, need, rng, dim):
    need(*JOIN_OPS, dtype="float64")
    parts = [rng.standard_normal((2, 3, 4)) for _ in range(3)]
    ts = [dev(p, device) for p in parts]
    np.testing.assert_array_equal(devrt.cat(ts, dim).cpu().numpy(), np.concatenate(parts, dim))
    np.testing.assert_array_equal(devrt.stack(ts, dim).cpu().numpy(), np.stack(parts, dim))


def test_cat_promotes_and_gradients(device, need, rng):
    need(*JOIN_OPS, "sum", "mul", dtype="float64")
    a = dev(rng.standard_normal((2, 3)), device, True)
    b = dev(rng.standard_normal((4, 3)), device, True)
    gradcheck(lambda a, b: devrt.cat([a, b], 0) * 1.0, (a, b))
    mixed = devrt.cat([devrt.ones(2, dtype=devrt.int64), devrt.ones(1)], 0)
    assert mixed.dtype is devrt.float32


def test_split_and_chunk_are_views():
    t = devrt.arange(10.0)
    parts = devrt.split(t, 4)
    assert [p.shape for p in parts] == [(4,), (4,), (2,)]
    assert all(p._is_view_of(t) for p in parts)
    assert [p.shape for p in t.split([3, 7])] == [(3,), (7,)]
    assert [p.shape for p in t.chunk(3)] == [(4,), (4,), (2,)]
    # pieces of ceil(n / chunks): possibly fewer than asked; an empty
    # dimension gives `chunks` empty pieces (as PyTorch)
    assert [p.shape for p in devrt.arange(6).chunk(4)] == [(2,), (2,), (2,)]
    assert [p.shape for p in devrt.arange(10).chunk(6)] == [(2,)] * 5
    assert [p.shape for p in devrt.zeros(2, 0).chunk(3, 1)] == [(2, 0)] * 3
    with pytest.raises(ValueError, match=r"\[split\] sizes .* sum to 5"):
        t.split([2, 3])


def test_gather_and_gradient(device, need, rng):
    need(*INDEX_OPS, "index_put", "fill", dtype="float64")
    x = rng.standard_normal((3, 4))
    idx = np.array([[0, 3], [1, 1], [2, 0]])
    out = devrt.gather(dev(x, device), 1, dev(idx, device))
    np.testing.assert_array_equal(out.cpu().numpy(), np.take_along_axis(x, idx, 1))
    gradcheck(lambda t: t.gather(1, dev(idx, device)), (dev(x, device, True),))


def test_scatter_add_and_gradient(device, need, rng):
    need(*INDEX_OPS, "index_put", "fill", dtype="float64")
    x = rng.standard_normal((3, 4))
    src = rng.standard_normal((3, 2))
    idx = np.array([[0, 0], [3, 1], [2, 2]])
    expected = x.copy()
    for i in range(3):
        for j in range(2):
            expected[i, idx[i, j]] += src[i, j]
    out = devrt.scatter_add(dev(x, device), 1, dev(idx, device), dev(src, device))
    np.testing.assert_allclose(out.cpu().numpy(), expected)
    gradcheck(
        lambda a, s: a.scatter_add(1, dev(idx, device), s),
        (dev(x, device, True), dev(src, device, True)),
    )


def test_scatter_add_src_larger_than_index(device, need, rng):
    # As PyTorch: only the index's extent of src is added, and src's
    # gradient is zero outside it.
    need(*INDEX_OPS, "index_put", "fill", dtype="float64")
    x = rng.standard_normal((3, 4))
    src = rng.standard_normal((2, 3))
    idx = np.array([[0, 1], [2, 2]])
    expected = x.copy()
    for i in range(2):
        for j in range(2):
            expected[idx[i, j], j] += src[i, j]
    out = dev(x, device).scatter_add(0, dev(idx, device), dev(src, device))
    np.testing.assert_allclose(out.cpu().numpy(), expected)
    gradcheck(
        lambda a, s: a.scatter_add(0, dev(idx, device), s),
        (dev(x, device, True), dev(src, device, True)),
    )
    with pytest.raises(
        TypeError,
        match=r"^\[scatter_add\] src of dtype float32 must have the input's dtype float64",
    ):
        dev(x, device).scatter_add(0, dev(idx, device), dev(src, device).float())
    with pytest.raises(
        ValueError, match=r"^\[scatter_add\] index of shape \[2, 2\] is larger than src"
    ):
        dev(x, device).scatter_add(0, dev(idx, device), dev(src[:1], device))


def test_index_select_and_masked_fill(device, need, rng):
    need(*INDEX_OPS, "where", "fill", dtype="float64")
    x = rng.standard_normal((4, 5))
    idx = np.array([4, 0, 0])
    got = devrt.index_select(dev(x, device), 1, dev(idx, device))
    np.testing.assert_array_equal(got.cpu().numpy(), x[:, idx])
    mask = x > 0
    filled = dev(x, device).masked_fill(dev(mask, device), -1.0)
    np.testing.assert_array_equal(filled.cpu().numpy(), np.where(mask, -1.0, x))


@pytest.mark.parametrize("inplace", [False, True])
def test_masked_fill_with_a_0d_tensor_value_and_its_gradient(device, need, rng, inplace):
    # The value is a tensor, not a number read from it: its gradient is the
    # result's gradient summed over the filled places (as PyTorch's).
    need(*INDEX_OPS, "where", "fill", "sum", "mul", dtype="float64")
    x = rng.standard_normal((3, 4))
    m = dev(x > 0, device)

    def fill(x, v):
        return x.clone().masked_fill_(m, v) if inplace else x.masked_fill(m, v)

    got = fill(dev(x, device), dev(np.float64(2.5), device))
    np.testing.assert_array_equal(got.cpu().numpy(), np.where(x > 0, 2.5, x))
    gradcheck(fill, (dev(x, device, True), dev(np.float64(0.5), device, True)))
    # Into a tensor without history, the value's gradient still flows.
    v = dev(np.float64(0.5), device, True)
    w = rng.standard_normal((3, 4))
    (fill(dev(x, device), v) * dev(w, device)).sum().backward()
    np.testing.assert_allclose(v.grad.cpu().numpy(), w[x > 0].sum())


@pytest.mark.parametrize(
    "op, call",
    [
        ("gather", lambda x, i: devrt.gather(x, 1, i.reshape(1, 1).expand(4, 1))),
        ("index_select", lambda x, i: devrt.index_select(x, 1, i)),
        ("scatter_add", lambda x, i: devrt.scatter_add(x, 1, i.reshape(1, 1), x[:1, :1])),
        ("embedding", lambda x, i: devrt.nn.functional.embedding(i, x.t())),
    ],
)
@pytest.mark.parametrize("bad", [-1, 5])
def test_gathers_refuse_indices_out_of_range(device, need, op, call, bad):
    # As in PyTorch, a negative index is out of range here; advanced
    # indexing alone counts it from the end.
    need(*INDEX_OPS, "index_put", "fill", dtype="float64")
    x = dev(np.arange(20.0).reshape(4, 5), device)
    i = dev(np.array([bad]), device)
    with pytest.raises(
        IndexError, match=rf"^\[{op}\] index {bad} is out of bounds for dimension \d with size 5"
    ):
        call(x, i)
    if bad < 0:
        np.testing.assert_array_equal(x[:, i].cpu().numpy(), [[4.0], [9.0], [14.0], [19.0]])


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: devrt.cat([], 0), ValueError, r"\[cat\] expects a non-empty"),
        (
            lambda: devrt.cat([devrt.ones(2, 3), devrt.ones(3, 3)], 1),
            ValueError,
            r"\[cat\] tensor 1 has shape \[3, 3\]",
        ),
        (
            lambda: devrt.stack([devrt.ones(2), devrt.ones(3)]),
            ValueError,
            r"\[stack\] tensor 1 has shape \[3\]",
        ),
        (
            lambda: devrt.gather(devrt.ones(2, 2), 1, devrt.ones(2, 2)),
            TypeError,
            r"\[gather\] index must be an integer",
        ),
        (
            lambda: devrt.gather(devrt.ones(2, 2), 1, devrt.zeros(2, dtype=devrt.int64)),
            ValueError,
            r"\[gather\] index of shape \[2\]",
        ),
        (
            lambda: devrt.ones(2).masked_fill(devrt.ones(2), 0.0),
            TypeError,
            r"\[masked_fill\] mask must be a bool",
        ),
        (
            lambda: devrt.ones(2).masked_fill(devrt.ones(2) > 0, devrt.ones(2)),
            ValueError,
            r"^\[masked_fill\] value must be a number or a 0-d tensor, got a tensor of shape \[2\]",
        ),
    ],
)
def test_join_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
