"""devrt.optim.lr_scheduler: ExponentialLR, MultiStepLR, LambdaLR and
MultiplicativeLR against their NumPy formulas and, where PyTorch is
installed, against torch.optim.lr_scheduler (same learning-rate sequences,
same state-dict keys); state_dict round trips, step(epoch) and the errors.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

import devrt
from devrt import optim
from devrt.optim import lr_scheduler

EPOCHS = 12
BASE_LRS = [0.1, 0.03]


class Warmup:
    """A callable object: its state (``__dict__``) goes into the state dict."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup

    def __call__(self, epoch: int) -> float:
        return min(1.0, (epoch + 1) / self.warmup)


def decay(epoch: int) -> float:
    return 0.9**epoch


def shrink(epoch: int) -> float:
    return 0.8 if epoch % 3 == 0 else 0.95


SCHEDULES = [
    ("ExponentialLR", {"gamma": 0.9}),
    ("ExponentialLR", {"gamma": 1.1}),
    ("MultiStepLR", {"milestones": [2, 5, 9]}),
    ("MultiStepLR", {"milestones": [6, 3, 3], "gamma": 0.5}),  # unsorted, repeated
    ("LambdaLR", {"lr_lambda": decay}),
    ("LambdaLR", {"lr_lambda": [Warmup(4), lambda e: 1.0 / (e + 1)]}),
    ("MultiplicativeLR", {"lr_lambda": shrink}),
    ("MultiplicativeLR", {"lr_lambda": (lambda e: 0.5, shrink)}),
]
IDS = [f"{c}-{i}" for i, (c, _) in enumerate(SCHEDULES)]


def _optimizer(lib):
    p = lib.zeros(1, requires_grad=True)
    q = lib.zeros(1, requires_grad=True)
    return lib.optim.SGD([{"params": [p]}, {"params": [q], "lr": BASE_LRS[1]}], lr=BASE_LRS[0])


def _lrs(cls, kwargs, epochs=EPOCHS, lib=devrt):
    """Learning rates of both groups at epochs 0..epochs, and the schedule."""
    opt = _optimizer(lib)
    sched = getattr(lib.optim.lr_scheduler, cls)(opt, **kwargs)
    out = [sched.get_last_lr()]
    for _ in range(epochs):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
        assert [g["lr"] for g in opt.param_groups] == out[-1]
    return np.array(out), sched


def _per_group(fns):
    return list(fns) if isinstance(fns, (list, tuple)) else [fns] * len(BASE_LRS)


def expected_lrs(cls, kwargs, epochs=EPOCHS):
    """The documented formulas, epoch by epoch, with NumPy."""
    e = np.arange(epochs + 1)
    base = np.array(BASE_LRS)
    if cls == "ExponentialLR":
        return base[None, :] * kwargs["gamma"] ** e[:, None]
    if cls == "MultiStepLR":
        ms = np.sort(kwargs["milestones"])
        passed = np.searchsorted(ms, e, side="right")
        return base[None, :] * kwargs.get("gamma", 0.1) ** passed[:, None]
    fns = _per_group(kwargs["lr_lambda"])
    factors = np.array([[fn(int(k)) for fn in fns] for k in e])
    if cls == "LambdaLR":
        return base[None, :] * factors
    factors[0] = 1.0  # MultiplicativeLR: the product of the factors of epochs 1..e
    return base[None, :] * np.cumprod(factors, axis=0)


@pytest.mark.parametrize(("cls", "kwargs"), SCHEDULES, ids=IDS)
def test_schedules_match_formulas(cls, kwargs):
    got, _ = _lrs(cls, kwargs)
    np.testing.assert_allclose(got, expected_lrs(cls, kwargs), rtol=1e-12, atol=0)


@pytest.mark.parametrize(("cls", "kwargs"), SCHEDULES, ids=IDS)
def test_schedules_match_torch(cls, kwargs):
    torch = pytest.importorskip("torch")
    ours, sched = _lrs(cls, kwargs)
    theirs, tsched = _lrs(cls, kwargs, lib=torch)
    np.testing.assert_array_equal(ours, theirs)
    ours_sd, theirs_sd = sched.state_dict(), tsched.state_dict()
    assert ours_sd.keys() == theirs_sd.keys()
    for key in ("last_epoch", "base_lrs", "_last_lr", "_step_count", "milestones", "gamma"):
        if key in theirs_sd:
            assert ours_sd[key] == theirs_sd[key], key
    if "lr_lambdas" in theirs_sd:
        assert ours_sd["lr_lambdas"] == theirs_sd["lr_lambdas"]


@pytest.mark.parametrize(("cls", "kwargs"), SCHEDULES, ids=IDS)
def test_state_dict_round_trip_resumes_exactly(cls, kwargs):
    expected, _ = _lrs(cls, kwargs)
    _, first = _lrs(cls, kwargs, epochs=5)
    saved = copy.deepcopy(first.state_dict())
    assert "optimizer" not in saved and saved["last_epoch"] == 5
    snapshot = copy.deepcopy(saved)

    opt = _optimizer(devrt)
    fresh = dict(kwargs)
    if cls in ("LambdaLR", "MultiplicativeLR"):
        # fresh callables; a callable object's state comes back from the state dict
        fresh["lr_lambda"] = [
            Warmup(99) if isinstance(fn, Warmup) else fn for fn in _per_group(kwargs["lr_lambda"])
        ]
    resumed = getattr(lr_scheduler, cls)(opt, **fresh)
    resumed.load_state_dict(saved)
    assert saved.keys() == snapshot.keys()  # the caller's dict is left as it was
    for group, lr in zip(opt.param_groups, resumed.get_last_lr()):
        group["lr"] = lr
    got = [resumed.get_last_lr()]
    for _ in range(EPOCHS - 5):
        opt.step()
        resumed.step()
        got.append(resumed.get_last_lr())
    np.testing.assert_allclose(np.array(got), expected[5:], rtol=1e-12, atol=0)


def test_lambda_state_dict_saves_callable_objects_only():
    opt = _optimizer(devrt)
    sched = lr_scheduler.LambdaLR(opt, [Warmup(4), decay])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"warmup": 4}, None]
    assert "optimizer" not in state
    sched.lr_lambdas[0].warmup = 10
    sched.load_state_dict(state)
    assert sched.lr_lambdas[0].warmup == 4 and sched.lr_lambdas[1] is decay


@pytest.mark.parametrize(
    ("cls", "kwargs", "epoch", "expected"),
    [
        ("ExponentialLR", {"gamma": 0.5}, 3, 0.1 * 0.5**3),
        ("MultiStepLR", {"milestones": [2, 4, 4]}, 4, 0.1 * 0.1**3),
        ("MultiStepLR", {"milestones": [2, 4, 4]}, 3, 0.1 * 0.1),
        ("LambdaLR", {"lr_lambda": decay}, 6, 0.1 * 0.9**6),
    ],
)
def test_step_with_epoch_uses_closed_form(cls, kwargs, epoch, expected):
    opt = _optimizer(devrt)
    sched = getattr(lr_scheduler, cls)(opt, **kwargs)
    opt.step()
    with pytest.warns(UserWarning, match="deprecated"):
        sched.step(epoch)
    assert sched.get_last_lr()[0] == pytest.approx(expected, rel=1e-12)
    assert sched.last_epoch == epoch


def test_step_with_epoch_matches_torch():
    torch = pytest.importorskip("torch")
    for cls, kwargs in SCHEDULES:
        if cls == "MultiplicativeLR":
            continue  # no closed form: step(epoch) applies one more factor
        lrs = []
        for lib in (devrt, torch):
            opt = _optimizer(lib)
            sched = getattr(lib.optim.lr_scheduler, cls)(opt, **kwargs)
            opt.step()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sched.step(7)
            lrs.append(sched.get_last_lr())
        assert lrs[0] == lrs[1], cls


def test_resuming_with_last_epoch_does_not_advance():
    torch = pytest.importorskip("torch")
    for cls, kwargs in SCHEDULES:
        got = []
        for lib in (devrt, torch):
            opt = _optimizer(lib)
            for group in opt.param_groups:
                group["initial_lr"] = group["lr"]
            sched = getattr(lib.optim.lr_scheduler, cls)(opt, last_epoch=4, **kwargs)
            seq = [sched.get_last_lr()]
            for _ in range(3):
                opt.step()
                sched.step()
                seq.append(sched.get_last_lr())
            got.append(seq)
        np.testing.assert_array_equal(np.array(got[0]), np.array(got[1]), err_msg=cls)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (
            lambda opt: lr_scheduler.LambdaLR(opt, [decay]),
            ValueError,
            r"^\[LambdaLR\] Expected 2 lr_lambdas \(one per parameter group\), but got 1",
        ),
        (
            lambda opt: lr_scheduler.MultiplicativeLR(opt, [decay, shrink, decay]),
            ValueError,
            r"^\[MultiplicativeLR\] Expected 2 lr_lambdas .* but got 3",
        ),
        (
            lambda opt: lr_scheduler.LambdaLR(opt, 0.5),
            TypeError,
            r"^\[LambdaLR\] lr_lambda should be a function, but got float",
        ),
        (
            lambda opt: lr_scheduler.MultiplicativeLR(opt, [decay, "x"]),
            TypeError,
            r"^\[MultiplicativeLR\] .* got str \(for parameter group 1\)",
        ),
        (lambda opt: lr_scheduler.LambdaLR(object(), decay), TypeError, "is not an Optimizer"),
        (lambda opt: lr_scheduler.ExponentialLR(object(), 0.9), TypeError, "is not an Optimizer"),
        (
            lambda opt: lr_scheduler.MultiStepLR(opt, [2], last_epoch=3),
            KeyError,
            "initial_lr",
        ),
    ],
)
def test_errors(make, error, match):
    with pytest.raises(error, match=match):
        make(_optimizer(devrt))


@pytest.mark.parametrize(("cls", "kwargs"), SCHEDULES, ids=IDS)
def test_get_lr_outside_step_warns(cls, kwargs):
    opt = _optimizer(devrt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # construction itself does not warn
        sched = getattr(lr_scheduler, cls)(opt, **kwargs)
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()


def test_exported():
    for name in ("ExponentialLR", "MultiStepLR", "LambdaLR", "MultiplicativeLR"):
        assert name in lr_scheduler.__all__
        assert getattr(optim.lr_scheduler, name) is getattr(lr_scheduler, name)
