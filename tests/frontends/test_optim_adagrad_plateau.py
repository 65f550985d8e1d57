"""Adagrad, Adadelta and ReduceLROnPlateau: one step against the NumPy
formula, several steps against PyTorch, and the plateau schedule against
PyTorch and a hand-worked sequence."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
import devrt.optim as optim

P0 = np.array([[0.5, -1.2, 2.0], [0.3, 0.0, -0.7]])


def loss_of(p, lib):
    """A non-quadratic loss, so that each step's gradient differs."""
    return ((p * p * p).sum() * 0.1 + (p * lib.tensor(P0[::-1].copy())).sum()) ** 2


def run_devrt(make, steps):
    p = devrt.tensor(P0, dtype=devrt.float64, requires_grad=True)
    opt = make([p])
    for _ in range(steps):
        opt.zero_grad()
        loss_of(p, devrt).backward()
        opt.step()
    return p.detach().numpy(), opt


def run_torch(torch, make, steps):
    p = torch.tensor(P0, requires_grad=True)
    opt = make([p])
    for _ in range(steps):
        opt.zero_grad()
        loss_of(p, torch).backward()
        opt.step()
    return p.detach().numpy()


def grad0():
    p = devrt.tensor(P0, dtype=devrt.float64, requires_grad=True)
    loss_of(p, devrt).backward()
    return p.grad.numpy()


def test_adagrad_one_step_matches_numpy():
    g = grad0() + 0.1 * P0
    s = 0.5 + g * g
    want = P0 - 0.3 * g / (np.sqrt(s) + 1e-10)
    got, opt = run_devrt(
        lambda ps: optim.Adagrad(ps, lr=0.3, weight_decay=0.1, initial_accumulator_value=0.5), 1
    )
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert set(opt.state_dict()["state"][0]) == {"step", "sum"}


def test_adadelta_one_step_matches_numpy():
    g = grad0()
    v = 0.1 * g * g
    delta = np.sqrt(1e-6) / np.sqrt(v + 1e-6) * g
    got, opt = run_devrt(lambda ps: optim.Adadelta(ps, lr=0.5), 1)
    np.testing.assert_allclose(got, P0 - 0.5 * delta, rtol=1e-12)
    state = opt.state_dict()["state"][0]
    np.testing.assert_allclose(state["acc_delta"].numpy(), 0.1 * delta * delta, rtol=1e-12)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("Adagrad", {}),
        ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.2)),
        ("Adagrad", dict(lr=0.05, maximize=True)),
        ("Adadelta", {}),
        ("Adadelta", dict(lr=0.7, rho=0.8, eps=1e-5, weight_decay=0.02)),
        ("Adadelta", dict(maximize=True)),
    ],
)
def test_optimizers_match_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    want = run_torch(torch, lambda ps: getattr(torch.optim, name)(ps, **kwargs), 8)
    got, _ = run_devrt(lambda ps: getattr(optim, name)(ps, **kwargs), 8)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_optimizer_state_dict_round_trip():
    got, opt = run_devrt(lambda ps: optim.Adadelta(ps), 3)
    p = devrt.tensor(got, requires_grad=True)
    fresh = optim.Adadelta([p])
    fresh.load_state_dict(opt.state_dict())
    assert float(fresh.state[p]["step"]) == 3.0


def test_hyperparameter_errors():
    p = [devrt.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adagrad(p, lr=-1)
    with pytest.raises(ValueError, match="Invalid rho value"):
        optim.Adadelta(p, rho=1.5)


# --- ReduceLROnPlateau ----------------------------------------------------------------------

METRICS = [1.0, 0.9, 0.95, 0.93, 0.91, 0.92, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99, 1.0]


def lrs_devrt(metrics, **kwargs):
    opt = optim.SGD([devrt.zeros(1, requires_grad=True)], lr=1.0)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    out = []
    for m in metrics:
        sched.step(m)
        out.append(opt.param_groups[0]["lr"])
    assert sched.get_last_lr() == [out[-1]]
    return out


def test_plateau_hand_worked():
    # patience 2: the 3rd non-improving epoch in a row cuts the rate.
    lrs = lrs_devrt([1.0, 1.0, 1.0, 1.0, 0.5, 0.6, 0.6, 0.6], patience=2, factor=0.5)
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25]
    # max mode, an absolute threshold, a cooldown and a floor.
    lrs = lrs_devrt(
        [1, 1, 1, 1, 1, 1, 1],
        mode="max",
        patience=0,
        factor=0.1,
        cooldown=1,
        min_lr=0.05,
        threshold=0.5,
        threshold_mode="abs",
    )
    assert lrs == [1.0, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(patience=2),
        dict(mode="max", patience=1, factor=0.5, cooldown=2),
        dict(patience=0, threshold=0.05, threshold_mode="abs", min_lr=0.02),
    ],
)
def test_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    want = []
    for m in METRICS:
        sched.step(m)
        want.append(opt.param_groups[0]["lr"])
    assert lrs_devrt(METRICS, **kwargs) == pytest.approx(want, rel=1e-12)


def test_plateau_accepts_tensor_metric_and_state_dict():
    opt = optim.SGD([devrt.zeros(1, requires_grad=True)], lr=1.0)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    sched.step(devrt.tensor(2.0))
    sched.step(devrt.tensor(3.0))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    state = sched.state_dict()
    assert "optimizer" not in state and state["best"] == 2.0
    other = optim.lr_scheduler.ReduceLROnPlateau(opt)
    other.load_state_dict(state)
    assert other.best == 2.0 and other.patience == 0
    with pytest.raises(ValueError, match=r"Factor should be < 1.0"):
        optim.lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match=r"mode avg is unknown"):
        optim.lr_scheduler.ReduceLROnPlateau(opt, mode="avg")


# --- LBFGS ---------------------------------------------------------------------------------


def run_lbfgs(lib, steps, **kwargs):
    p = lib.tensor(P0, dtype=lib.float64, requires_grad=True)
    opt = lib.optim.LBFGS([p], **kwargs)

    def closure():
        opt.zero_grad()
        loss = loss_of(p, lib)
        loss.backward()
        return loss

    losses = [float(opt.step(closure).detach()) for _ in range(steps)]
    return p.detach().numpy().copy(), losses, opt.state[p]["func_evals"]


def test_lbfgs_first_iteration_is_a_scaled_gradient_step():
    g = grad0()
    got, _, evals = run_lbfgs(devrt, 1, lr=0.8, max_iter=1)
    want = P0 - min(1.0, 1.0 / np.abs(g).sum()) * 0.8 * g
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert evals == 1


@pytest.mark.parametrize(
    "kwargs", [{}, dict(lr=0.5, history_size=3, max_iter=7), dict(max_iter=4, max_eval=3)]
)
def test_lbfgs_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    want, want_losses, want_evals = run_lbfgs(torch, 3, **kwargs)
    got, losses, evals = run_lbfgs(devrt, 3, **kwargs)
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-8, atol=1e-12)
    assert evals == want_evals
    assert losses[-1] < losses[0]


def test_lbfgs_errors():
    p = [devrt.zeros(2, requires_grad=True)]
    with pytest.raises(NotImplementedError, match=r"^\[LBFGS\] line_search_fn='strong_wolfe'"):
        optim.LBFGS(p, line_search_fn="strong_wolfe")
    with pytest.raises(RuntimeError, match=r"^\[LBFGS\] step\(\) needs a closure"):
        optim.LBFGS(p).step()
