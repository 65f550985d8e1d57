"""devrt.nn.utils: gradient clipping (by total norm, by value) and the
parameter/vector conversions, against NumPy formulas and, where PyTorch is
installed, against torch.nn.utils (same parameters and gradients -> same
norms and gradients); in-place semantics and the error paths.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import devrt
import devrt.nn as nn
from devrt.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
    parameters_to_vector,
    vector_to_parameters,
)

SHAPES = [(3, 4), (5,), (2, 1, 3)]
NORM_TYPES = [2.0, 1.0, 3.0, 0.5, math.inf]


def np_of(t) -> np.ndarray:
    return np.array(t.detach().cpu().numpy(), copy=True)


def _data(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    return params, grads


def _params(lib, params, grads, skip=()):
    """Parameters of `lib` (devrt or torch) with the given gradients; the
    indices in `skip` get none."""
    out = []
    for i, (p, g) in enumerate(zip(params, grads)):
        t = lib.tensor(p, requires_grad=True)
        if i not in skip:
            t.grad = lib.tensor(g)
        out.append(t)
    return out


def ref_total_norm(grads, norm_type):
    flat = np.concatenate([g.ravel() for g in grads])
    if norm_type == math.inf:
        return np.abs(flat).max()
    return (np.abs(flat) ** norm_type).sum() ** (1.0 / norm_type)


def ref_clip(grads, max_norm, norm_type):
    total = ref_total_norm(grads, norm_type)
    coef = min(max_norm / (total + 1e-6), 1.0)
    return total, [g * coef for g in grads]


# --- clip_grad_norm_ ---------------------------------------------------------------------


@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_numpy(norm_type, max_norm):
    params, grads = _data()
    ps = _params(devrt, params, grads, skip=(1,))
    total = clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    used = [grads[0], grads[2]]
    expected_total, expected = ref_clip(used, max_norm, norm_type)
    assert total.shape == () and total.dtype == devrt.float64
    np.testing.assert_allclose(total.item(), expected_total, rtol=1e-12)
    np.testing.assert_allclose(np_of(ps[0].grad), expected[0], rtol=1e-12)
    np.testing.assert_allclose(np_of(ps[2].grad), expected[1], rtol=1e-12)
    assert ps[1].grad is None
    if max_norm < expected_total:
        new_total = ref_total_norm([np_of(ps[0].grad), np_of(ps[2].grad)], norm_type)
        assert new_total == pytest.approx(max_norm, rel=1e-5)
    else:  # coefficient clamped to 1: gradients unchanged
        np.testing.assert_array_equal(np_of(ps[0].grad), grads[0])


@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    params, grads = _data(np.float32)
    ps = _params(devrt, params, grads, skip=(1,))
    tp = _params(torch, params, grads, skip=(1,))
    total = clip_grad_norm_(ps, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    assert total.dtype == devrt.float32
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-6)
    for a, b in zip(ps, tp):
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            np.testing.assert_allclose(np_of(a.grad), b.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_clip_grad_norm_is_in_place_and_records_nothing():
    params, grads = _data()
    ps = _params(devrt, params, grads)
    before = [p.grad for p in ps]
    versions = [g._version for g in before]
    clip_grad_norm_(ps, 0.1)
    assert all(p.grad is g for p, g in zip(ps, before))
    assert all(p.grad._version > v for p, v in zip(ps, versions))
    assert all(p.grad.grad_fn is None and not p.grad.requires_grad for p in ps)
    assert devrt.is_grad_enabled()


def test_clip_grad_norm_inputs():
    params, grads = _data()
    # a single tensor and a generator (consumed once) are accepted
    p = _params(devrt, params, grads)[0]
    total = clip_grad_norm_(p, 1.0)
    assert total.item() == pytest.approx(np.linalg.norm(grads[0]), rel=1e-12)
    ps = _params(devrt, params, grads)
    total = clip_grad_norm_((q for q in ps), 1.0, norm_type="inf")  # float() of a string
    assert total.item() == pytest.approx(np.abs(np.concatenate([g.ravel() for g in grads])).max())
    # a module's parameters after backward
    devrt.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    (net(devrt.randn(5, 4)) ** 2).sum().backward()
    expected_total, expected = ref_clip([np_of(q.grad) for q in net.parameters()], 0.3, 2.0)
    total = clip_grad_norm_(net.parameters(), max_norm=0.3)
    assert total.item() == pytest.approx(expected_total, rel=1e-6)
    for q, e in zip(net.parameters(), expected):
        np.testing.assert_allclose(np_of(q.grad), e, rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_without_gradients():
    ps = [devrt.zeros(2, requires_grad=True), devrt.zeros(3, requires_grad=True)]
    total = clip_grad_norm_(ps, 1.0)
    assert total.shape == () and total.item() == 0.0 and total.dtype == devrt.float32
    assert all(p.grad is None for p in ps)
    assert clip_grad_norm_([], 1.0, error_if_nonfinite=True).item() == 0.0


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_clip_grad_norm_nonfinite(bad):
    p = devrt.zeros(3, requires_grad=True)
    p.grad = devrt.tensor([1.0, bad, 2.0])
    with pytest.raises(RuntimeError, match=r"^\[clip_grad_norm_\] the total norm of order 2\.0"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(np_of(p.grad), [1.0, bad, 2.0])  # untouched on error
    with pytest.raises(RuntimeError, match=f"is {bad}"):
        clip_grad_norm_(p, 1.0, norm_type=1, error_if_nonfinite=True)
    total = clip_grad_norm_(p, 1.0)  # scaled by the non-finite norm anyway
    assert not math.isfinite(total.item())


def test_clip_grad_norm_nonfinite_matches_torch():
    torch = pytest.importorskip("torch")
    g = np.array([1.0, math.inf, -2.0], dtype=np.float32)
    p, tp = devrt.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)
    p.grad, tp.grad = devrt.tensor(g), torch.tensor(g)
    total = clip_grad_norm_(p, 1.0)
    ttotal = torch.nn.utils.clip_grad_norm_(tp, 1.0)
    assert total.item() == ttotal.item() == math.inf
    np.testing.assert_array_equal(np_of(p.grad), tp.grad.numpy())


def test_clip_grad_norm_foreach_is_accepted():
    params, grads = _data()
    for foreach in (None, False, True):
        ps = _params(devrt, params, grads)
        total = clip_grad_norm_(ps, 1.0, foreach=foreach)
        assert total.item() == pytest.approx(ref_total_norm(grads, 2.0), rel=1e-12)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: clip_grad_norm_(3.0, 1.0), TypeError, r"^\[clip_grad_norm_\] parameters must"),
        (
            lambda: clip_grad_norm_([devrt.zeros(1), "w"], 1.0),
            TypeError,
            r"^\[clip_grad_norm_\] parameters\[1\] is a str",
        ),
        (lambda: clip_grad_value_(None, 1.0), TypeError, r"^\[clip_grad_value_\] .*NoneType"),
        (lambda: get_total_norm([1.0]), TypeError, r"^\[get_total_norm\] tensors\[0\] is a float"),
        (
            lambda: clip_grads_with_norm_(_grad_param(), 1.0, 2.0),
            TypeError,
            r"^\[clip_grads_with_norm_\] total_norm must be a Tensor, got float",
        ),
    ],
)
def test_clip_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def _grad_param():
    p = devrt.zeros(2, requires_grad=True)
    p.grad = devrt.ones(2)
    return p


# --- get_total_norm / clip_grads_with_norm_ ------------------------------------------------


@pytest.mark.parametrize("norm_type", [*NORM_TYPES, 0.0, -math.inf])
def test_get_total_norm_and_clip_grads_with_norm(norm_type):
    params, grads = _data()
    grads[0][0, :2] = 0.0  # zeros matter for norm 0 and -inf
    ts = [devrt.tensor(g) for g in grads]
    total = get_total_norm(ts, norm_type)
    norms = [np.linalg.norm(g.ravel(), norm_type) for g in grads]
    np.testing.assert_allclose(total.item(), np.linalg.norm(norms, norm_type), rtol=1e-12)
    if norm_type > 0:
        ps = _params(devrt, params, grads)
        clip_grads_with_norm_(ps, 0.7, total)
        coef = min(0.7 / (total.item() + 1e-6), 1.0)
        for p, g in zip(ps, grads):
            np.testing.assert_allclose(np_of(p.grad), g * coef, rtol=1e-12)
    assert get_total_norm([]).item() == 0.0


def test_get_total_norm_matches_torch():
    torch = pytest.importorskip("torch")
    if not hasattr(torch.nn.utils, "get_total_norm"):
        pytest.skip("torch.nn.utils.get_total_norm needs torch >= 2.6")
    _, grads = _data(np.float32)
    grads[1][:2] = 0.0
    for norm_type in [*NORM_TYPES, 0.0, -math.inf]:
        ours = get_total_norm([devrt.tensor(g) for g in grads], norm_type)
        theirs = torch.nn.utils.get_total_norm([torch.tensor(g) for g in grads], norm_type)
        np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-6, err_msg=str(norm_type))
    with pytest.raises(RuntimeError, match=r"^\[get_total_norm\]"):
        get_total_norm(devrt.tensor([math.nan]), error_if_nonfinite=True)


def test_clip_on_device(device, need):
    need("mul", "sum", "sqrt", "add", "div", "clamp", "cat", "lt", "abs", dtype="float32")
    params, grads = _data(np.float32)
    ps = [devrt.tensor(p, requires_grad=True).to(device) for p in params]
    for p, g in zip(ps, grads):
        p.grad = devrt.tensor(g).to(device)
    total = clip_grad_norm_(ps, 0.5, error_if_nonfinite=True)
    assert total.device.type == devrt.device(device).type
    expected_total, expected = ref_clip([g.astype(np.float64) for g in grads], 0.5, 2.0)
    assert total.item() == pytest.approx(expected_total, rel=1e-5)
    for p, e in zip(ps, expected):
        assert p.grad.device.type == devrt.device(device).type
        np.testing.assert_allclose(np_of(p.grad), e, rtol=1e-5, atol=1e-6)
    clip_grad_value_(ps, 0.01)
    assert all(np.abs(np_of(p.grad)).max() <= 0.01 for p in ps)


# --- clip_grad_value_ ----------------------------------------------------------------------


@pytest.mark.parametrize("clip_value", [0.3, 1.0, 10.0])
def test_clip_grad_value_matches_numpy(clip_value):
    params, grads = _data()
    ps = _params(devrt, params, grads, skip=(2,))
    before = ps[0].grad
    assert clip_grad_value_(ps, clip_value) is None
    assert ps[0].grad is before and ps[2].grad is None
    for p, g in zip(ps[:2], grads):
        np.testing.assert_array_equal(np_of(p.grad), np.clip(g, -clip_value, clip_value))
    assert devrt.is_grad_enabled()


def test_clip_grad_value_matches_torch():
    torch = pytest.importorskip("torch")
    params, grads = _data(np.float32)
    ps = _params(devrt, params, grads, skip=(0,))
    tp = _params(torch, params, grads, skip=(0,))
    clip_grad_value_(ps, 0.4)
    torch.nn.utils.clip_grad_value_(tp, 0.4)
    clip_grad_value_(ps[1], 0.2)  # a single tensor
    torch.nn.utils.clip_grad_value_(tp[1], 0.2)
    assert ps[0].grad is None
    for a, b in zip(ps[1:], tp[1:]):
        np.testing.assert_array_equal(np_of(a.grad), b.grad.numpy())


# --- parameters_to_vector / vector_to_parameters ------------------------------------------


def test_parameters_to_vector():
    params, _ = _data()
    ps = [devrt.tensor(p, requires_grad=True) for p in params]
    vec = parameters_to_vector(iter(ps))
    np.testing.assert_array_equal(np_of(vec), np.concatenate([p.ravel() for p in params]))
    assert vec.shape == (sum(p.size for p in params),)
    weights = devrt.arange(vec.numel()).double()
    (vec * weights).sum().backward()  # differentiable back to each parameter
    offset = 0
    for p in ps:
        n = p.numel()
        np.testing.assert_array_equal(np_of(p.grad).ravel(), np.arange(offset, offset + n))
        offset += n


def test_vector_to_parameters_round_trip_and_shares_memory():
    params, _ = _data()
    ps = [nn.Parameter(devrt.tensor(p)) for p in params]
    n = sum(p.size for p in params)
    vec = devrt.arange(n).double()
    vector_to_parameters(vec, ps)
    offset = 0
    for p, shape in zip(ps, SHAPES):
        assert isinstance(p, nn.Parameter) and p.is_leaf and p.requires_grad
        assert p.shape == shape
        size = int(np.prod(shape))
        np.testing.assert_array_equal(np_of(p), np.arange(offset, offset + size).reshape(shape))
        offset += size
    np.testing.assert_array_equal(np_of(parameters_to_vector(ps)), np_of(vec))
    vec.mul_(2.0)  # the parameters view vec's memory, as in torch
    assert ps[1].tolist()[0] == 2.0 * 12
    # a longer vector is accepted; the tail is unused
    vector_to_parameters(devrt.zeros(n + 3, dtype=devrt.float64), ps)
    assert all(np.all(np_of(p) == 0) for p in ps)


def test_vector_conversions_match_torch():
    torch = pytest.importorskip("torch")
    params, _ = _data(np.float32)
    ps = [nn.Parameter(devrt.tensor(p)) for p in params]
    tp = [torch.nn.Parameter(torch.tensor(p)) for p in params]
    np.testing.assert_array_equal(
        np_of(parameters_to_vector(ps)), torch.nn.utils.parameters_to_vector(tp).detach().numpy()
    )
    vec = np.random.default_rng(1).standard_normal(sum(p.size for p in params))
    vec = vec.astype(np.float32)
    vector_to_parameters(devrt.tensor(vec), ps)
    torch.nn.utils.vector_to_parameters(torch.tensor(vec), tp)
    for a, b in zip(ps, tp):
        np.testing.assert_array_equal(np_of(a), b.detach().numpy())


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda ps: vector_to_parameters([1.0, 2.0], ps),
            TypeError,
            r"^\[vector_to_parameters\] vec must be a Tensor, got list",
        ),
        (
            lambda ps: vector_to_parameters(devrt.zeros(2, 4), ps),
            ValueError,
            r"^\[vector_to_parameters\] vec must be 1-D, got shape \(2, 4\)",
        ),
        (
            lambda ps: vector_to_parameters(devrt.zeros(5), ps),
            ValueError,
            r"^\[vector_to_parameters\] vec has 5 elements but the parameters need 7",
        ),
        (
            lambda ps: parameters_to_vector([*ps, 1.0]),
            TypeError,
            r"^\[parameters_to_vector\] parameters\[2\] is a float",
        ),
    ],
)
def test_vector_errors(call, error, match):
    ps = [nn.Parameter(devrt.zeros(2, 2)), nn.Parameter(devrt.zeros(3))]
    with pytest.raises(error, match=match):
        call(ps)


def test_exposed_as_devrt_nn_utils():
    assert devrt.nn.utils.clip_grad_norm_ is clip_grad_norm_
    assert "utils" in nn.__all__
    assert set(devrt.nn.utils.__all__) >= {
        "clip_grad_norm_",
        "clip_grad_value_",
        "parameters_to_vector",
        "vector_to_parameters",
    }
