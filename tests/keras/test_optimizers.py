"""keras.optimizers and keras.optimizers.schedules: each update against a
NumPy transcription of Keras 3's formula, and, where Keras 3 is installed,
against Keras itself (same initial weights and gradients, several steps)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import devrt
from devrt.keras import optimizers
from devrt.keras.optimizers import schedules
from devrt.keras.variables import Variable

STEPS = 5
SHAPES = [(4, 3), (3,)]


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras is loaded with a backend other than torch")
    return keras


def _problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype("float32") for s in SHAPES]
    grads = [[rng.standard_normal(s).astype("float32") for s in SHAPES] for _ in range(STEPS)]
    return init, grads


def _run_devrt(opt, init, grads):
    variables = [Variable(w.copy(), name=f"w{i}") for i, w in enumerate(init)]
    for step in grads:
        opt.apply_gradients(zip([devrt.from_numpy(g.copy()) for g in step], variables))
    return [v.numpy() for v in variables]


def _run_keras(opt, init, grads):
    keras = _keras()
    variables = [keras.Variable(w.copy(), name=f"w{i}") for i, w in enumerate(init)]
    for step in grads:
        opt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in step], variables))
    return [keras.ops.convert_to_numpy(v) for v in variables]


# --- NumPy transcriptions of Keras 3's update rules -------------------------------------


def _clip(grads, clipnorm=None, clipvalue=None, global_clipnorm=None):
    if clipnorm:
        return [g * clipnorm / max(np.sqrt((g * g).sum()), clipnorm) for g in grads]
    if global_clipnorm:
        norm = np.sqrt(sum((g * g).sum() for g in grads))
        return [g * global_clipnorm * min(1 / norm, 1 / global_clipnorm) for g in grads]
    if clipvalue:
        return [np.clip(g, -clipvalue, clipvalue) for g in grads]
    return grads


def _reference(kind, init, grads, lr, **kw):
    w = [x.astype("float64") for x in init]
    state = {}
    wd = kw.pop("weight_decay", None)
    clip = {k: kw.pop(k) for k in ("clipnorm", "clipvalue", "global_clipnorm") if k in kw}
    for t, step in enumerate(grads, start=1):
        step = _clip([g.astype("float64") for g in step], **clip)
        for i, g in enumerate(step):
            if wd is not None:
                w[i] = w[i] * (1 - wd * lr)
            s = state.setdefault(i, {})
            if kind == "sgd":
                mom, nesterov = kw.get("momentum", 0.0), kw.get("nesterov", False)
                if mom == 0:
                    w[i] = w[i] - lr * g
                else:
                    m = s["m"] = mom * s.get("m", 0.0) - lr * g
                    w[i] = w[i] + (mom * m - lr * g if nesterov else m)
            elif kind == "adam":
                b1, b2, eps = kw.get("beta_1", 0.9), kw.get("beta_2", 0.999), 1e-7
                m = s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
                v = s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
                if kw.get("amsgrad"):
                    v = s["vh"] = np.maximum(s.get("vh", 0.0), v)
                alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
                w[i] = w[i] - alpha * m / (np.sqrt(v) + eps)
            elif kind == "rmsprop":
                rho, mom, eps = kw.get("rho", 0.9), kw.get("momentum", 0.0), 1e-7
                v = s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g * g
                denom = v + eps
                if kw.get("centered"):
                    a = s["a"] = rho * s.get("a", 0.0) + (1 - rho) * g
                    denom = denom - a * a
                inc = lr * g / np.sqrt(denom)
                if mom > 0:
                    inc = s["mom"] = mom * s.get("mom", 0.0) + inc
                w[i] = w[i] - inc
            elif kind == "adagrad":
                acc = s["acc"] = s.get("acc", kw.get("initial_accumulator_value", 0.1)) + g * g
                w[i] = w[i] - lr * g / np.sqrt(acc + 1e-7)
            elif kind == "adadelta":
                rho, eps = kw.get("rho", 0.95), kw.get("epsilon", 1e-7)
                acc = s["acc"] = rho * s.get("acc", 0.0) + (1 - rho) * g * g
                delta = np.sqrt(s.get("delta", 0.0) + eps) / np.sqrt(acc + eps) * g
                s["delta"] = rho * s.get("delta", 0.0) + (1 - rho) * delta * delta
                w[i] = w[i] - lr * delta
    return w


CASES = [
    ("sgd", optimizers.SGD, "SGD", {"learning_rate": 0.1}),
    ("sgd", optimizers.SGD, "SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("sgd", optimizers.SGD, "SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("adam", optimizers.Adam, "Adam", {"learning_rate": 0.01}),
    ("adam", optimizers.Adam, "Adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("adam", optimizers.AdamW, "AdamW", {"learning_rate": 0.01, "weight_decay": 0.004}),
    ("adam", optimizers.AdamW, "AdamW", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("rmsprop", optimizers.RMSprop, "RMSprop", {"learning_rate": 0.01}),
    ("rmsprop", optimizers.RMSprop, "RMSprop", {"learning_rate": 0.01, "centered": True}),
    ("rmsprop", optimizers.RMSprop, "RMSprop", {"learning_rate": 0.01, "momentum": 0.5}),
    (
        "rmsprop",
        optimizers.RMSprop,
        "RMSprop",
        {"learning_rate": 0.01, "momentum": 0.5, "centered": True},
    ),
    ("adagrad", optimizers.Adagrad, "Adagrad", {"learning_rate": 0.1}),
    ("adadelta", optimizers.Adadelta, "Adadelta", {"learning_rate": 1.0}),
    ("adadelta", optimizers.Adadelta, "Adadelta", {"learning_rate": 0.5, "rho": 0.8}),
    ("sgd", optimizers.SGD, "SGD", {"learning_rate": 0.1, "weight_decay": 0.01}),
    ("sgd", optimizers.SGD, "SGD", {"learning_rate": 0.1, "clipnorm": 1.0}),
    ("sgd", optimizers.SGD, "SGD", {"learning_rate": 0.1, "clipvalue": 0.3}),
    ("adam", optimizers.Adam, "Adam", {"learning_rate": 0.01, "global_clipnorm": 1.0}),
    ("sgd", optimizers.SGD, "SGD", {"learning_rate": 0.1, "momentum": 0.5, "clipnorm": 0.5}),
]
IDS = [f"{cls}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for _, _, cls, kw in CASES]


@pytest.mark.parametrize("kind,cls,keras_name,kwargs", CASES, ids=IDS)
def test_update_matches_numpy_reference(kind, cls, keras_name, kwargs):
    init, grads = _problem()
    got = _run_devrt(cls(**kwargs), init, grads)
    want = _reference(kind, init, grads, **_reference_kwargs(kwargs))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)


def _reference_kwargs(kwargs):
    out = dict(kwargs)
    out["lr"] = out.pop("learning_rate")
    return out


@pytest.mark.parametrize("kind,cls,keras_name,kwargs", CASES, ids=IDS)
def test_update_matches_keras(kind, cls, keras_name, kwargs):
    keras = _keras()
    init, grads = _problem(1)
    got = _run_devrt(cls(**kwargs), init, grads)
    want = _run_keras(getattr(keras.optimizers, keras_name)(**kwargs), init, grads)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_sgd_without_momentum_is_plain_descent():
    w = Variable(np.array([1.0, 2.0], "float32"), name="w")
    opt = optimizers.SGD(learning_rate=0.5)
    opt.apply([devrt.tensor([1.0, -2.0])], [w])
    np.testing.assert_allclose(w.numpy(), [0.5, 3.0])
    assert int(opt.iterations.item()) == 1


@pytest.mark.parametrize(
    "cls,kwargs,expected",
    [
        (optimizers.SGD, {}, ["iteration", "learning_rate"]),
        (
            optimizers.SGD,
            {"momentum": 0.9},
            ["iteration", "learning_rate", "a_momentum", "b_momentum"],
        ),
        (
            optimizers.Adam,
            {"amsgrad": True},
            [
                "iteration",
                "learning_rate",
                "a_momentum",
                "a_velocity",
                "b_momentum",
                "b_velocity",
                "a_velocity_hat",
                "b_velocity_hat",
            ],
        ),
        (
            optimizers.RMSprop,
            {"momentum": 0.5, "centered": True},
            [
                "iteration",
                "learning_rate",
                "a_velocity",
                "b_velocity",
                "a_momentum",
                "b_momentum",
                "a_average_gradient",
                "b_average_gradient",
            ],
        ),
        (
            optimizers.Adagrad,
            {},
            ["iteration", "learning_rate", "a_accumulator", "b_accumulator"],
        ),
    ],
)
def test_variables_in_keras_order(cls, kwargs, expected):
    a = Variable(np.zeros((2, 3), "float32"), name="a")
    b = Variable(np.zeros(3, "float32"), name="b")
    opt = cls(name="opt", **kwargs)
    opt.build([a, b])
    assert [v.name for v in opt.variables] == expected
    assert [v.path for v in opt.variables] == [f"opt/{n}" for n in expected]
    assert opt.variables[0].dtype == devrt.int64 and tuple(opt.variables[0].shape) == ()
    assert all(not v.requires_grad for v in opt.variables)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"])
def test_variable_order_and_config_match_keras(name):
    keras = _keras()
    kwargs = {"SGD": {"momentum": 0.9}, "RMSprop": {"momentum": 0.5, "centered": True}}.get(
        name, {}
    )
    if name == "Adam":
        kwargs = {"amsgrad": True}
    ours = getattr(optimizers, name)(name="opt", **kwargs)
    theirs = getattr(keras.optimizers, name)(name="opt", **kwargs)
    ours.build([Variable(np.zeros((2, 3), "float32"), name="k"), Variable(np.zeros(3), name="b")])
    theirs.build(
        [
            keras.Variable(np.zeros((2, 3), "float32"), name="k"),
            keras.Variable(np.zeros(3), name="b"),
        ]
    )
    assert [v.path for v in ours.variables] == [v.path for v in theirs.variables]
    assert ours.get_config() == theirs.get_config()


def test_apply_skips_missing_gradients_and_warns():
    a = Variable(np.ones(2, "float32"), name="a")
    b = Variable(np.ones(2, "float32"), name="b")
    opt = optimizers.SGD(learning_rate=1.0, momentum=0.5)
    with pytest.warns(UserWarning, match="b"):
        opt.apply([devrt.ones(2), None], [a, b])
    np.testing.assert_allclose(a.numpy(), [0.0, 0.0])
    np.testing.assert_allclose(b.numpy(), [1.0, 1.0])
    with pytest.raises(ValueError, match="no gradients"):
        opt.apply([None, None], [a, b])


def test_apply_without_variables_needs_a_built_optimizer():
    opt = optimizers.Adam()
    with pytest.raises(ValueError, match="build"):
        opt.apply([devrt.ones(2)])
    a = Variable(np.ones(2, "float32"), name="a")
    opt.build([a])
    opt.apply([devrt.ones(2)])
    assert int(opt.iterations.item()) == 1
    with pytest.raises(ValueError, match="unknown variable"):
        opt.apply([devrt.ones(2)], [Variable(np.ones(2, "float32"), name="c")])


def test_learning_rate_property():
    opt = optimizers.SGD(learning_rate=0.25)
    assert opt.learning_rate == 0.25
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5 and float(opt.variables[1].item()) == 0.5
    sched = optimizers.Adam(learning_rate=schedules.ExponentialDecay(0.1, 10, 0.5))
    assert sched.learning_rate == pytest.approx(0.1)
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        sched.learning_rate = 0.3
    assert len(sched.variables) == 1  # no learning_rate variable under a schedule
    calls = optimizers.SGD(learning_rate=lambda: 0.2)
    assert calls.learning_rate == pytest.approx(0.2)


def test_schedule_drives_the_update():
    init, grads = _problem(2)
    sched = schedules.PiecewiseConstantDecay([1, 3], [0.1, 0.01, 0.001])
    got = _run_devrt(optimizers.SGD(learning_rate=sched), init, grads)
    want = [x.astype("float64") for x in init]
    for t, step in enumerate(grads):
        lr = 0.1 if t <= 1 else (0.01 if t <= 3 else 0.001)
        want = [w - lr * g for w, g in zip(want, step)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_gradient_accumulation_matches_keras():
    keras = _keras()
    init, grads = _problem(3)
    kwargs = {"learning_rate": 0.01, "gradient_accumulation_steps": 2}
    got = _run_devrt(optimizers.Adam(**kwargs), init, grads)
    want = _run_keras(keras.optimizers.Adam(**kwargs), init, grads)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_loss_scale_factor_unscales_gradients():
    init, grads = _problem(4)
    got = _run_devrt(
        optimizers.SGD(learning_rate=0.1, loss_scale_factor=8.0),
        init,
        [[g * 8.0 for g in step] for step in grads],
    )
    want = _run_devrt(optimizers.SGD(learning_rate=0.1), init, grads)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)


def test_float64_variables():
    w = Variable(np.array([1.0, 2.0]), dtype="float64", name="w")
    opt = optimizers.Adam(learning_rate=0.1)
    opt.apply([devrt.tensor([1.0, 1.0], dtype=devrt.float64)], [w])
    assert w.dtype == devrt.float64
    np.testing.assert_allclose(w.numpy(), [0.9, 1.9], rtol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="not recognized"):
        optimizers.SGD(lr=0.1)
    with pytest.raises(ValueError, match="Only one of|only one of"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(NotImplementedError, match="use_ema"):
        optimizers.Adam(use_ema=True)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=2.0)
    with pytest.raises(ValueError, match="weight_decay"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD(learning_rate="fast")


def test_get_serialize_deserialize():
    assert isinstance(optimizers.get("adam"), optimizers.Adam)
    assert isinstance(optimizers.get("RMSprop"), optimizers.RMSprop)
    assert isinstance(optimizers.get("ADAMW"), optimizers.AdamW)
    assert isinstance(optimizers.get("sgd"), optimizers.SGD)
    assert isinstance(optimizers.get("adagrad"), optimizers.Adagrad)
    opt = optimizers.SGD(learning_rate=0.5, momentum=0.9, nesterov=True)
    assert optimizers.get(opt) is opt
    config = optimizers.serialize(opt)
    assert config["module"] == "keras.optimizers" and config["class_name"] == "SGD"
    back = optimizers.get(config)
    assert isinstance(back, optimizers.SGD)
    assert back.get_config() == opt.get_config()
    with pytest.raises(ValueError, match="adagrad, adam, adamw, rmsprop, sgd"):
        optimizers.get("adamax")
    # Keras writes the backend's module for its own optimizers.
    keras_style = {
        "module": "keras.src.backend.torch.optimizers.torch_adam",
        "class_name": "Adam",
        "config": {"learning_rate": 0.002, "name": "adam"},
        "registered_name": "Adam",
    }
    assert optimizers.deserialize(keras_style).learning_rate == pytest.approx(0.002)


def test_schedule_round_trips_through_config():
    sched = schedules.CosineDecay(0.1, 100, alpha=0.1, warmup_target=0.5, warmup_steps=10)
    opt = optimizers.Adam(learning_rate=sched)
    config = opt.get_config()
    assert config["learning_rate"] == {
        "module": "keras.optimizers.schedules",
        "class_name": "CosineDecay",
        "config": sched.get_config(),
        "registered_name": None,
    }
    back = optimizers.Adam.from_config(config)
    assert isinstance(back._learning_rate, schedules.CosineDecay)
    assert back._learning_rate.get_config() == sched.get_config()


def test_optimizer_config_loads_in_keras():
    keras = _keras()
    sched = schedules.ExponentialDecay(0.1, 10, 0.9, staircase=True)
    config = optimizers.serialize(optimizers.Adam(learning_rate=sched, amsgrad=True))
    theirs = keras.optimizers.deserialize(config)
    assert isinstance(theirs, keras.optimizers.Adam) and theirs.amsgrad
    ours = optimizers.deserialize(keras.optimizers.serialize(theirs))
    assert ours.get_config() == theirs.get_config()


# --- schedules ---------------------------------------------------------------------------


def _schedule_cases():
    return [
        (schedules.ExponentialDecay(0.1, 10, 0.5), lambda s: 0.1 * 0.5 ** (s / 10)),
        (
            schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True),
            lambda s: 0.1 * 0.5 ** math.floor(s / 10),
        ),
        (
            schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]),
            lambda s: 1.0 if s <= 10 else (0.5 if s <= 20 else 0.1),
        ),
        (
            schedules.CosineDecay(0.1, 50, alpha=0.1),
            lambda s: 0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi * min(s, 50) / 50)) + 0.1),
        ),
        (
            schedules.CosineDecay(0.0, 40, warmup_target=0.2, warmup_steps=10),
            lambda s: (
                0.2 * s / 10
                if s < 10
                else 0.2 * 0.5 * (1 + math.cos(math.pi * (min(s, 50) - 10) / 40))
            ),
        ),
        (schedules.InverseTimeDecay(0.1, 10, 0.5), lambda s: 0.1 / (1 + 0.5 * s / 10)),
        (
            schedules.InverseTimeDecay(0.1, 10, 0.5, staircase=True),
            lambda s: 0.1 / (1 + 0.5 * math.floor(s / 10)),
        ),
        (
            schedules.PolynomialDecay(0.1, 20, end_learning_rate=0.01, power=2.0),
            lambda s: (0.1 - 0.01) * (1 - min(s, 20) / 20) ** 2 + 0.01,
        ),
        (
            schedules.PolynomialDecay(0.1, 20, end_learning_rate=0.01, cycle=True),
            lambda s: (0.1 - 0.01) * (1 - s / (20 * max(1, math.ceil(s / 20)))) + 0.01,
        ),
    ]


STEPS_TO_CHECK = [0, 1, 5, 10, 11, 15, 20, 21, 35, 60]


@pytest.mark.parametrize("index", range(9))
def test_schedule_matches_formula(index):
    sched, formula = _schedule_cases()[index]
    for step in STEPS_TO_CHECK:
        got = float(sched(devrt.tensor(step, dtype=devrt.int64)).item())
        assert got == pytest.approx(formula(step), rel=1e-5, abs=1e-7), step
        assert float(sched(step).item()) == pytest.approx(got)


@pytest.mark.parametrize("index", range(9))
def test_schedule_matches_keras(index):
    keras = _keras()
    sched, _ = _schedule_cases()[index]
    theirs = getattr(keras.optimizers.schedules, type(sched).__name__)(**sched.get_config())
    for step in STEPS_TO_CHECK:
        want = float(keras.ops.convert_to_numpy(theirs(step)))
        got = float(sched(devrt.tensor(step, dtype=devrt.int64)).item())
        assert got == pytest.approx(want, rel=1e-6, abs=1e-8), step
    assert schedules.serialize(sched) == keras.optimizers.schedules.serialize(theirs)


def test_schedule_serialization_and_errors():
    sched = schedules.PolynomialDecay(0.1, 20)
    back = schedules.deserialize(schedules.serialize(sched))
    assert type(back) is schedules.PolynomialDecay and back.get_config() == sched.get_config()
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="length"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1])
    with pytest.raises(ValueError, match="unknown schedule"):
        schedules.deserialize({"class_name": "Nope", "config": {}})


def test_update_runs_on_every_device(device):
    w = Variable(devrt.ones(3, device=device), name="w")
    opt = optimizers.Adam(learning_rate=0.1)
    try:
        opt.apply([devrt.ones(3, device=device)], [w])
    except NotImplementedError as error:
        if device == "cpu":
            raise
        pytest.skip(f"{device} lacks a kernel: {error}")
    assert str(opt.iterations.device) == str(w.device)
    np.testing.assert_allclose(w.numpy(), np.full(3, 0.9), rtol=1e-5)
