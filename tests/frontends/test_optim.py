"""devrt.optim: every optimizer against hand-written NumPy formulas and, where
PyTorch is installed, against torch.optim (same initial parameters and
gradients -> same parameters after several steps); parameter groups,
state_dict round trips, and the learning-rate schedules.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest

import devrt
from devrt import optim
from devrt.optim import lr_scheduler

STEPS = 5
SHAPES = [(3, 4), (5,)]


def _data(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]
    return params, grads


def np_of(t) -> np.ndarray:
    return np.array(t.detach().numpy(), copy=True)


def run_devrt(name, kwargs, params, grads):
    ps = [devrt.tensor(p, requires_grad=True) for p in params]
    opt = getattr(optim, name)(ps, **kwargs)
    for gs in grads:
        for p, g in zip(ps, gs):
            p.grad = devrt.tensor(g)
        opt.step()
    return [np_of(p) for p in ps], opt


# --- NumPy references, written from PyTorch's documented algorithms -----------------


def ref_sgd(
    p, gs, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False
):
    b = None
    for g in gs:
        g = -g if maximize else g
        g = g + weight_decay * p
        if momentum != 0:
            b = g.copy() if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
    return p


def ref_adam(
    p,
    gs,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0,
    amsgrad=False,
    maximize=False,
    decoupled=False,
):
    b1, b2 = betas
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    vmax = np.zeros_like(p)
    for t, g in enumerate(gs, start=1):
        g = -g if maximize else g
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        if amsgrad:
            vmax = np.maximum(vmax, v)
            v_hat = vmax / (1 - b2**t)
        else:
            v_hat = v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def ref_adamw(p, gs, weight_decay=1e-2, **kw):
    return ref_adam(p, gs, weight_decay=weight_decay, decoupled=True, **kw)


def ref_rmsprop(
    p,
    gs,
    lr=1e-2,
    alpha=0.99,
    eps=1e-8,
    weight_decay=0,
    momentum=0,
    centered=False,
    maximize=False,
):
    v = np.zeros_like(p)
    b = np.zeros_like(p)
    g_avg = np.zeros_like(p)
    for g in gs:
        g = -g if maximize else g
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g
            avg = np.sqrt(v - g_avg * g_avg) + eps
        else:
            avg = np.sqrt(v) + eps
        if momentum > 0:
            b = momentum * b + g / avg
            p = p - lr * b
        else:
            p = p - lr * g / avg
    return p


REFERENCES = {"SGD": ref_sgd, "Adam": ref_adam, "AdamW": ref_adamw, "RMSprop": ref_rmsprop}

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "maximize": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "maximize": True}),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for n, kw in CASES]


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_matches_numpy_reference(name, kwargs):
    params, grads = _data(np.float64)
    got, _ = run_devrt(name, kwargs, params, grads)
    for i, (p, g) in enumerate(zip(got, zip(*grads))):
        expected = REFERENCES[name](params[i].copy(), list(g), **kwargs)
        np.testing.assert_allclose(p, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    params, grads = _data(np.float32)
    got, _ = run_devrt(name, kwargs, params, grads)
    tp = [torch.tensor(p, requires_grad=True) for p in params]
    topt = getattr(torch.optim, name)(tp, **kwargs)
    for gs in grads:
        for p, g in zip(tp, gs):
            p.grad = torch.tensor(g)
        topt.step()
    for a, b in zip(got, tp):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_defaults_match_torch():
    torch = pytest.importorskip("torch")
    for name in REFERENCES:
        ours = getattr(optim, name)([devrt.zeros(1, requires_grad=True)])
        theirs = getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)])
        assert ours.defaults == theirs.defaults, name
        assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"], name


def test_update_is_in_place_and_records_nothing():
    p = devrt.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    (p * p).sum().backward()
    version = p._version
    opt.step()
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    assert p._version > version
    assert devrt.is_grad_enabled()
    state = opt.state[p]
    assert state["step"].item() == 1.0 and state["step"].dtype == devrt.float32
    assert not state["exp_avg"].requires_grad


def test_parameters_without_grad_are_skipped():
    a = devrt.tensor([1.0], requires_grad=True)
    b = devrt.tensor([2.0], requires_grad=True)
    opt = optim.SGD([a, b], lr=1.0, momentum=0.5)
    a.grad = devrt.tensor([1.0])
    opt.step()
    assert a.item() == 0.0 and b.item() == 2.0
    assert b not in opt.state


def test_zero_grad():
    p = devrt.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * 3).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(np_of(p.grad), [0.0, 0.0])
    opt.zero_grad()
    assert p.grad is None


def test_closure_runs_with_grad_enabled():
    p = devrt.tensor([3.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with devrt.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    assert p.item() == 3.0 - 0.25 * 6.0


def test_param_groups():
    a = devrt.tensor([1.0], requires_grad=True)
    b = devrt.tensor([1.0], requires_grad=True)
    c = devrt.tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": [c], "momentum": 0})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5, 0.1]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.9, 0]
    for p in (a, b, c):
        p.grad = devrt.tensor([1.0])
    opt.step()
    np.testing.assert_allclose([a.item(), b.item(), c.item()], [0.9, 0.5, 0.9], rtol=1e-6)


def test_named_parameters_are_accepted():
    p = devrt.zeros(2, requires_grad=True)
    opt = optim.SGD([("w", p)], lr=0.1)
    assert opt.param_groups[0]["params"] == [p]
    assert opt.param_groups[0]["param_names"] == ["w"]


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda p: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
        (lambda p: optim.SGD(p, lr=0.1), TypeError, "iterable of Tensors"),
        (lambda p: optim.SGD([{"params": {p}}], lr=0.1), TypeError, "ordered collections"),
        (lambda p: optim.SGD([p, p], lr=0.1), ValueError, "duplicate parameters"),
        (lambda p: optim.SGD([p * 2], lr=0.1), ValueError, "non-leaf"),
        (lambda p: optim.SGD([1.0], lr=0.1), TypeError, "can only optimize Tensors"),
        (lambda p: optim.SGD([p], lr=-1.0), ValueError, "Invalid learning rate"),
        (lambda p: optim.SGD([p], nesterov=True), ValueError, "Nesterov momentum requires"),
        (lambda p: optim.Adam([p], betas=(1.0, 0.9)), ValueError, "beta parameter at index 0"),
        (lambda p: optim.Adam([p], eps=-1.0), ValueError, "Invalid epsilon"),
        (lambda p: optim.RMSprop([p], alpha=-0.1), ValueError, "Invalid alpha"),
        (lambda p: optim.RMSprop([p], momentum=-0.1), ValueError, "Invalid momentum"),
    ],
)
def test_errors(make, error, match):
    p = devrt.zeros(2, requires_grad=True)
    with pytest.raises(error, match=match):
        make(p)


def test_parameter_in_two_groups_is_refused():
    p = devrt.zeros(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})


# --- state_dict -------------------------------------------------------------------------


def _two_group_optimizer(name, kwargs, params):
    ps = [devrt.tensor(p, requires_grad=True) for p in params]
    opt = getattr(optim, name)([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.02}], **kwargs)
    return ps, opt


def _steps(ps, opt, grads):
    for gs in grads:
        for p, g in zip(ps, gs):
            p.grad = devrt.tensor(g)
        opt.step()


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_state_dict_round_trip_resumes_exactly(name, kwargs):
    params, grads = _data(np.float64)
    ps, opt = _two_group_optimizer(name, kwargs, params)
    _steps(ps, opt, grads)  # uninterrupted: all steps

    ps1, opt1 = _two_group_optimizer(name, kwargs, params)
    _steps(ps1, opt1, grads[:2])
    saved = copy.deepcopy(opt1.state_dict())
    ps2 = [devrt.tensor(np_of(p), requires_grad=True) for p in ps1]
    _, opt2 = _two_group_optimizer(name, kwargs, params)
    opt2 = getattr(optim, name)([{"params": ps2[:1]}, {"params": ps2[1:], "lr": 0.5}], **kwargs)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[1]["lr"] == 0.02  # hyper-parameters come from the state dict
    assert opt2.param_groups[1]["params"][0] is ps2[1]
    _steps(ps2, opt2, grads[2:])
    for a, b in zip(ps, ps2):
        np.testing.assert_array_equal(np_of(a), np_of(b))


def test_state_dict_layout():
    params, grads = _data(np.float32)
    ps, opt = _two_group_optimizer("Adam", {"amsgrad": True}, params)
    _steps(ps, opt, grads[:1])
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert set(sd["state"]) == {0, 1}
    assert set(sd["state"][1]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["state"][1]["exp_avg"].shape == SHAPES[1]


def test_state_dict_matches_torch_and_loads_torch_state():
    torch = pytest.importorskip("torch")
    params, grads = _data(np.float32)
    kwargs = {"lr": 0.01, "weight_decay": 0.05}
    tp = [torch.tensor(p, requires_grad=True) for p in params]
    topt = torch.optim.AdamW(tp, **kwargs)
    for gs in grads[:3]:
        for p, g in zip(tp, gs):
            p.grad = torch.tensor(g)
        topt.step()
    tsd = topt.state_dict()
    # torch's state dict, its tensors turned into devrt tensors, loads into devrt.
    converted = {
        "state": {
            i: {k: devrt.tensor(v.numpy()) for k, v in s.items()} for i, s in tsd["state"].items()
        },
        "param_groups": tsd["param_groups"],
    }
    ps = [devrt.tensor(p.detach().numpy(), requires_grad=True) for p in tp]
    opt = optim.AdamW(ps, **kwargs)
    opt.load_state_dict(converted)
    for gs in grads[3:]:
        for p, g in zip(tp, gs):
            p.grad = torch.tensor(g)
        topt.step()
        for p, g in zip(ps, gs):
            p.grad = devrt.tensor(g)
        opt.step()
    for a, b in zip(ps, tp):
        np.testing.assert_allclose(np_of(a), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    sd = opt.state_dict()
    assert sd["param_groups"] == topt.state_dict()["param_groups"]
    assert {i: set(s) for i, s in sd["state"].items()} == {
        i: set(s) for i, s in topt.state_dict()["state"].items()
    }


def test_load_state_dict_casts_to_parameter_dtype():
    p = devrt.zeros(3, dtype=devrt.float64, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    buf = devrt.ones(3)  # float32
    opt.load_state_dict(
        {"state": {0: {"momentum_buffer": buf}}, "param_groups": opt.state_dict()["param_groups"]}
    )
    loaded = opt.state[p]["momentum_buffer"]
    assert loaded.dtype == devrt.float64
    loaded.zero_()
    assert buf.sum().item() == 3.0  # a copy, not the caller's tensor


def test_load_state_dict_errors():
    a = devrt.zeros(2, requires_grad=True)
    b = devrt.zeros(2, requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1)
    other = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(other.state_dict())
    small = optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict(small.state_dict())
    with pytest.raises(ValueError, match=r"\[load_state_dict\]"):
        opt.load_state_dict({"state": {}})


def test_repr():
    opt = optim.SGD([devrt.zeros(1, requires_grad=True)], lr=0.1)
    assert repr(opt).startswith("SGD (\nParameter Group 0\n")
    assert "    lr: 0.1\n" in repr(opt)


def test_tensor_learning_rate():
    p = devrt.tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=devrt.tensor(0.5))
    p.grad = devrt.tensor([1.0])
    opt.step()
    assert p.item() == 0.5


# --- learning-rate schedules -----------------------------------------------------------------


def _lrs(scheduler_cls, kwargs, epochs=25, lib=None):
    lib_optim = optim if lib is None else lib.optim
    p = devrt.zeros(1, requires_grad=True) if lib is None else lib.zeros(1, requires_grad=True)
    opt = lib_optim.SGD([{"params": [p]}], lr=0.1)
    sched = getattr(lib_optim.lr_scheduler, scheduler_cls)(opt, **kwargs)
    out = [sched.get_last_lr()[0]]
    for _ in range(epochs):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr()[0])
        assert opt.param_groups[0]["lr"] == out[-1]
    return out, sched


SCHEDULES = [
    ("StepLR", {"step_size": 3}),
    ("StepLR", {"step_size": 2, "gamma": 0.5}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.01}),
]


@pytest.mark.parametrize(("cls", "kwargs"), SCHEDULES)
def test_schedule_closed_forms(cls, kwargs):
    got, _ = _lrs(cls, kwargs)
    for epoch, lr in enumerate(got):
        if cls == "StepLR":
            expected = 0.1 * kwargs.get("gamma", 0.1) ** (epoch // kwargs["step_size"])
        else:
            eta_min, t_max = kwargs.get("eta_min", 0.0), kwargs["T_max"]
            expected = eta_min + (0.1 - eta_min) * (1 + math.cos(math.pi * epoch / t_max)) / 2
        assert lr == pytest.approx(expected, rel=1e-9, abs=1e-12), epoch


@pytest.mark.parametrize(("cls", "kwargs"), SCHEDULES)
def test_schedules_match_torch(cls, kwargs):
    torch = pytest.importorskip("torch")
    ours, sched = _lrs(cls, kwargs)
    theirs, tsched = _lrs(cls, kwargs, lib=torch)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    assert sched.state_dict().keys() == tsched.state_dict().keys()


def test_scheduler_state_dict_and_resume():
    _, sched = _lrs("StepLR", {"step_size": 3}, epochs=4)
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 4 and state["base_lrs"] == [0.1]
    p = devrt.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    resumed = lr_scheduler.StepLR(opt, step_size=99)
    resumed.load_state_dict(state)
    opt.param_groups[0]["lr"] = resumed.get_last_lr()[0]
    opt.step()
    resumed.step()
    resumed.step()  # epoch 6: a multiple of 3
    assert resumed.get_last_lr()[0] == pytest.approx(0.1 * 0.1**2)


def test_scheduler_step_with_epoch_uses_closed_form():
    p = devrt.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    opt.step()
    with pytest.warns(UserWarning, match="deprecated"):
        sched.step(5)
    assert sched.get_last_lr() == [0.25]


def test_scheduler_warns_when_stepped_before_optimizer():
    p = devrt.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2 = optim.SGD([p], lr=1.0)
    sched2 = lr_scheduler.StepLR(opt2, step_size=1)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


def test_scheduler_errors():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)
    opt = optim.SGD([devrt.zeros(1, requires_grad=True)], lr=1.0)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=1, last_epoch=3)
    with pytest.raises(NotImplementedError, match=r"\[LRScheduler\] subclasses must"):
        lr_scheduler.LRScheduler(opt)


def test_get_lr_outside_step_warns():
    opt = optim.SGD([devrt.zeros(1, requires_grad=True)], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=1)
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()
