"""Views share storage with their base, have NumPy's strides, and reshape
copies exactly when NumPy's no-copy reshape is impossible."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import devrt


def base_pair(shape=(2, 3, 4)):
    n = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    return devrt.tensor(n), n.copy()


def elem_strides(arr: np.ndarray) -> tuple[int, ...]:
    return tuple(s // arr.itemsize for s in arr.strides)


def significant(shape, strides):
    """Strides of the dimensions whose stride matters (size > 1)."""
    return tuple(s for n, s in zip(shape, strides, strict=True) if n > 1)


def elem_offset(view: np.ndarray, base: np.ndarray) -> int:
    return (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // (
        base.itemsize
    )


# Each case: the devrt view and the NumPy view of the same base.
VIEWS = {
    "transpose": (lambda t: t.transpose(0, 2), lambda n: n.swapaxes(0, 2)),
    "transpose-neg": (lambda t: t.transpose(-1, -2), lambda n: n.swapaxes(-1, -2)),
    "permute": (lambda t: t.permute(2, 0, 1), lambda n: n.transpose(2, 0, 1)),
    "permute-fn": (lambda t: devrt.permute(t, (1, 2, 0)), lambda n: n.transpose(1, 2, 0)),
    "T": (lambda t: t.T, lambda n: n.T),
    "mT": (lambda t: t.mT, lambda n: np.swapaxes(n, -1, -2)),
    "t-2d": (lambda t: t[0].t(), lambda n: n[0].T),
    "expand": (lambda t: t[:1].expand(5, 3, 4), lambda n: np.broadcast_to(n[:1], (5, 3, 4))),
    "expand-new-dims": (
        lambda t: t[0, 0].expand(2, 3, 4),
        lambda n: np.broadcast_to(n[0, 0], (2, 3, 4)),
    ),
    "expand-minus-one": (
        lambda t: t[:, :1].expand(-1, 3, -1),
        lambda n: np.broadcast_to(n[:, :1], (2, 3, 4)),
    ),
    "squeeze": (lambda t: t[:, 1:2].squeeze(1), lambda n: n[:, 1:2].squeeze(1)),
    "squeeze-all": (lambda t: t[:1, :, 2:3].squeeze(), lambda n: n[:1, :, 2:3].squeeze()),
    "unsqueeze": (lambda t: t.unsqueeze(1), lambda n: np.expand_dims(n, 1)),
    "unsqueeze-last": (lambda t: t.unsqueeze(-1), lambda n: np.expand_dims(n, -1)),
    "flatten": (lambda t: t.flatten(), lambda n: n.reshape(-1)),
    "flatten-range": (lambda t: t.flatten(1), lambda n: n.reshape(2, 12)),
    "flatten-of-slice": (lambda t: t[:, :, 1].flatten(), None),
    "narrow": (lambda t: t.narrow(2, 1, 2), lambda n: n[:, :, 1:3]),
    "narrow-dim0": (lambda t: t.narrow(0, 1, 1), lambda n: n[1:2]),
    "select": (lambda t: t[1], lambda n: n[1]),
    "select-last": (lambda t: t[:, -1], lambda n: n[:, -1]),
    "slice-step": (lambda t: t[:, ::2, 1:], lambda n: n[:, ::2, 1:]),
    "slice-mixed": (lambda t: t[1, 1:, ::3], lambda n: n[1, 1:, ::3]),
    "slice-ellipsis": (lambda t: t[..., 1::2], lambda n: n[..., 1::2]),
    "newaxis": (lambda t: t[:, None, 1], lambda n: n[:, None, 1]),
    "view": (lambda t: t.view(4, 6), lambda n: n.reshape(4, 6)),
    "view-infer": (lambda t: t.view(-1, 2), lambda n: n.reshape(-1, 2)),
    "reshape": (lambda t: t.reshape(6, 4), lambda n: n.reshape(6, 4)),
    "reshape-fn": (lambda t: devrt.reshape(t, (3, 8)), lambda n: n.reshape(3, 8)),
    "transpose-then-slice": (
        lambda t: t.transpose(0, 1)[1:, :, ::2],
        lambda n: n.swapaxes(0, 1)[1:, :, ::2],
    ),
    "slice-then-view": (lambda t: t[:, 1:].view(2, 8), lambda n: n[:, 1:].reshape(2, 8)),
    "detach": (lambda t: t.detach(), lambda n: n[...]),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_view_shares_storage(name):
    make, _ = VIEWS[name]
    t, _ = base_pair()
    v = make(t)
    assert v._is_view_of(t)
    assert t._is_view_of(v)


@pytest.mark.parametrize("name", [k for k, (_, np_fn) in VIEWS.items() if np_fn is not None])
def test_view_geometry_matches_numpy(name):
    make, np_make = VIEWS[name]
    t, n = base_pair()
    v, nv = make(t), np_make(n)
    assert v.shape == nv.shape
    assert significant(v.shape, v.stride()) == significant(nv.shape, elem_strides(nv))
    assert v.storage_offset() == elem_offset(nv, n)
    assert v.data_ptr() - t.data_ptr() == elem_offset(nv, n) * 4
    np.testing.assert_array_equal(v.numpy(), nv)
    assert v.tolist() == nv.tolist()


@pytest.mark.parametrize(
    "name",
    [
        "transpose",
        "permute",
        "T",
        "mT",
        "t-2d",
        "expand",
        "flatten",
        "flatten-range",
        "narrow",
        "view",
        "reshape",
        "transpose-then-slice",
    ],
)
def test_view_strides_match_numpy_exactly(name):
    # Where both define every stride (no size-1 dims), they are equal.
    make, np_make = VIEWS[name]
    t, n = base_pair()
    v, nv = make(t), np_make(n)
    assert v.stride() == elem_strides(nv)
    for d in range(v.ndim):
        assert v.stride(d) == elem_strides(nv)[d]


@pytest.mark.parametrize(
    "name", [k for k in VIEWS if not k.startswith("expand") and VIEWS[k][1] is not None]
)
def test_writing_through_view_is_visible_in_base(name):
    make, np_make = VIEWS[name]
    t, n = base_pair()
    v, nv = make(t), np_make(n)
    v.fill_(-7.0)
    nv[...] = -7.0
    np.testing.assert_array_equal(t.numpy(), n)


@pytest.mark.parametrize("name", ["transpose", "slice-step", "narrow", "select", "view", "T"])
def test_writing_through_view_by_setitem_and_inplace_op(name):
    make, np_make = VIEWS[name]
    t, n = base_pair()
    v, nv = make(t), np_make(n)
    v[...] = 5.0
    nv[...] = 5.0
    v.add_(1.0)
    nv += 1.0
    v.mul_(devrt.tensor(2.0))
    nv *= 2.0
    np.testing.assert_array_equal(t.numpy(), n)


@pytest.mark.parametrize("name", ["transpose", "slice-step", "narrow", "select", "view", "expand"])
def test_writing_base_is_visible_in_view(name):
    make, np_make = VIEWS[name]
    t, n = base_pair()
    v = make(t)
    t.fill_(3.0)
    n.fill(3.0)
    nv = np_make(n)
    np.testing.assert_array_equal(v.numpy(), nv)
    t[0, 0, 0] = 100.0
    n[0, 0, 0] = 100.0
    np.testing.assert_array_equal(v.numpy(), np_make(n))


def test_view_of_view_shares_storage_with_root():
    t, _ = base_pair()
    v = t.transpose(0, 1)[1:].unsqueeze(0).squeeze(0).narrow(2, 1, 2)
    assert v._is_view_of(t)
    v.fill_(0.0)
    assert t[:, 1:, 1:3].sum().item() == 0.0
    assert t.sum().item() > 0.0


def test_separate_tensors_are_not_views():
    a, _ = base_pair()
    b, _ = base_pair()
    assert not a._is_view_of(b)
    assert not a.clone()._is_view_of(a)
    assert not (a + 0)._is_view_of(a)


def test_numpy_strides_in_bytes_for_views():
    t, n = base_pair()
    v = t.permute(2, 0, 1)[:, 1:]
    nv = n.transpose(2, 0, 1)[:, 1:]
    assert v.numpy().strides == nv.strides


# --- reshape copies only when it must ----------------------------------------


def _sources():
    """(devrt view, NumPy view, base) triples of varied layouts."""
    out = []
    for shape in [(2, 3, 4), (4, 6), (6, 1, 4), (2, 1, 3, 2)]:
        t, n = base_pair(shape)
        out.append(("contiguous", t, n))
        out.append(("transposed", t.transpose(0, -1), n.swapaxes(0, -1)))
        out.append(("sliced", t[..., 1:], n[..., 1:]))
        out.append(("stepped", t[::2], n[::2]))
        if t.ndim >= 3:
            out.append(("permuted", t.permute(1, 0, *range(2, t.ndim)), n.swapaxes(0, 1)))
    t, n = base_pair((3, 1))
    out.append(("expanded", t.expand(3, 4), np.broadcast_to(n, (3, 4))))
    t, n = base_pair((1, 4))
    out.append(("expanded-rows", t.expand(3, 4), np.broadcast_to(n, (3, 4))))
    return out


def _factorizations(n: int, max_len: int = 4):
    """Shapes (including size-1 dims) with n elements."""
    divs = [d for d in range(1, n + 1) if n % d == 0]
    shapes = set()
    for k in range(1, max_len + 1):
        for combo in itertools.product(divs, repeat=k):
            if int(np.prod(combo)) == n:
                shapes.add(combo)
    return sorted(shapes)


def _reshape_cases():
    cases = []
    rng = np.random.default_rng(7)
    for label, t, n in _sources():
        shapes = _factorizations(int(np.prod(t.shape)))
        pick = rng.choice(len(shapes), size=min(12, len(shapes)), replace=False)
        for i in sorted(pick):
            cases.append(pytest.param(t, n, shapes[i], id=f"{label}{tuple(t.shape)}->{shapes[i]}"))
    return cases


@pytest.mark.parametrize("t, n, target", _reshape_cases())
def test_reshape_copies_exactly_when_numpy_must(t, n, target):
    root_t, root_n = t, n
    r = t.reshape(target)
    nr = n.reshape(target)
    # NumPy's reshape copies only when no strides describe the result.
    numpy_views = np.shares_memory(nr, root_n)
    assert r._is_view_of(root_t) == numpy_views
    np.testing.assert_array_equal(r.numpy(), nr)
    if numpy_views:
        assert significant(r.shape, r.stride()) == significant(nr.shape, elem_strides(nr))


@pytest.mark.parametrize("t, n, target", _reshape_cases())
def test_view_succeeds_exactly_when_no_copy_is_needed(t, n, target):
    numpy_views = np.shares_memory(n.reshape(target), n)
    if numpy_views:
        v = t.view(target)
        assert v._is_view_of(t)
        np.testing.assert_array_equal(v.numpy(), n.reshape(target))
    else:
        with pytest.raises(ValueError, match=r"^\[view\].*reshape"):
            t.view(target)


def test_reshape_of_non_viewable_returns_an_independent_copy():
    t, n = base_pair()
    tt = t.transpose(0, 1)
    r = tt.reshape(-1)
    assert not r._is_view_of(t)
    assert r.is_contiguous()
    np.testing.assert_array_equal(r.numpy(), n.swapaxes(0, 1).reshape(-1))
    r.fill_(0.0)
    np.testing.assert_array_equal(t.numpy(), n)  # the base is untouched


def test_reshape_of_empty_tensor_is_a_view():
    t = devrt.zeros(0, 3)
    r = t.reshape(3, 0, 5)
    assert r.shape == (3, 0, 5)
    assert r._is_view_of(t)


def test_flatten_of_non_contiguous_copies():
    t, n = base_pair()
    f = t.transpose(0, 2).flatten()
    assert not f._is_view_of(t)
    np.testing.assert_array_equal(f.numpy(), n.swapaxes(0, 2).reshape(-1))


# --- contiguity -----------------------------------------------------------------


def test_contiguous_returns_self_when_contiguous():
    t, _ = base_pair()
    assert t.is_contiguous()
    assert t.contiguous() is t
    v = t[1]  # a contiguous view
    assert v.is_contiguous()
    assert v.contiguous() is v


@pytest.mark.parametrize("name", ["transpose", "slice-step", "narrow", "expand", "T", "mT"])
def test_contiguous_copies_when_not_contiguous(name):
    make, np_make = VIEWS[name]
    t, n = base_pair()
    v = make(t)
    assert not v.is_contiguous()
    c = v.contiguous()
    assert c is not v
    assert c.is_contiguous()
    assert not c._is_view_of(t)
    assert c.stride() == elem_strides(np.ascontiguousarray(np_make(n)))
    np.testing.assert_array_equal(c.numpy(), np_make(n))


@pytest.mark.parametrize("name", [k for k, (_, f) in VIEWS.items() if f is not None])
def test_is_contiguous_agrees_with_numpy(name):
    make, np_make = VIEWS[name]
    t, n = base_pair()
    assert make(t).is_contiguous() == np_make(n).flags.c_contiguous


# --- T and mT -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 3, 4), (2, 1, 3, 4)])
def test_T_reverses_dimensions(shape):
    t, n = base_pair(shape)
    np.testing.assert_array_equal(t.T.numpy(), n.T)
    assert t.T.shape == n.T.shape
    assert t.T._is_view_of(t)


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4), (2, 1, 3, 4)])
def test_mT_swaps_the_last_two_dimensions(shape):
    t, n = base_pair(shape)
    m = t.mT
    assert m.shape == shape[:-2] + (shape[-1], shape[-2])
    np.testing.assert_array_equal(m.numpy(), np.swapaxes(n, -1, -2))
    assert m._is_view_of(t)


def test_t_of_vector_is_itself():
    t, n = base_pair((5,))
    assert t.t().shape == (5,)
    assert t.t()._is_view_of(t)


def test_squeeze_keeps_dims_that_are_not_one():
    t = devrt.zeros(2, 1, 3)
    assert t.squeeze(0).shape == (2, 1, 3)
    assert t.squeeze(1).shape == (2, 3)
    assert t.squeeze().shape == (2, 3)
    assert devrt.squeeze(t, 1)._is_view_of(t)


def test_expand_has_zero_strides_and_no_copy():
    t = devrt.tensor([[1.0], [2.0]])
    e = t.expand(2, 3)
    assert e.stride() == (1, 0)
    assert e._is_view_of(t)
    assert e.tolist() == [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    t[1, 0] = 5.0
    assert e.tolist() == [[1.0, 1.0, 1.0], [5.0, 5.0, 5.0]]
    ea = devrt.zeros(1).expand_as(devrt.zeros(4, 2))
    assert ea.shape == (4, 2) and ea.stride() == (0, 0)


def test_reduction_keepdim_false_returns_correct_values_after_view():
    t, n = base_pair()
    np.testing.assert_allclose(t.transpose(0, 2).sum(1).numpy(), n.swapaxes(0, 2).sum(1))


# --- narrow and view(dtype) ------------------------------------------------------


@pytest.mark.parametrize(
    "dim, start, length, np_index",
    [
        (0, 1, 1, np.s_[1:2]),
        (1, 0, 2, np.s_[:, 0:2]),
        (0, -1, 1, np.s_[-1:]),  # a negative start counts from the end, as PyTorch
        (1, -2, 2, np.s_[:, -2:]),
        (2, 1, 0, np.s_[:, :, 1:1]),
    ],
    ids=["row", "columns", "negative-start", "negative-start-columns", "empty"],
)
def test_narrow_selects_exactly_length_elements(dim, start, length, np_index):
    t, n = base_pair()
    v = t.narrow(dim, start, length)
    assert v.shape[dim] == length
    assert v._is_view_of(t)
    np.testing.assert_array_equal(v.numpy(), n[np_index])


@pytest.mark.parametrize(
    "dim, start, length", [(0, 1, 5), (1, 3, 1), (2, 2, 3), (0, -3, 1), (0, 0, -1)]
)
def test_narrow_out_of_range_raises(dim, start, length):
    # PyTorch: "start (1) + length (5) exceeds dimension size (2)"; never a
    # silently shorter result.
    t, _ = base_pair()
    with pytest.raises((IndexError, ValueError), match=r"^\[\w+\]"):
        t.narrow(dim, start, length)


@pytest.mark.parametrize(
    "src, dst", [("float32", "int32"), ("int32", "float32"), ("int64", "float64")]
)
def test_view_as_dtype_reinterprets_the_bits(src, dst):
    # As PyTorch's Tensor.view(dtype) and NumPy's ndarray.view(dtype): same
    # storage, bits reinterpreted, no conversion.
    n = np.array([1, 2, -3], dtype=src)
    t = devrt.tensor(n)
    v = t.view(getattr(devrt, dst))
    assert v.dtype is getattr(devrt, dst)
    assert v._is_view_of(t)
    np.testing.assert_array_equal(v.numpy(), n.view(dst))
