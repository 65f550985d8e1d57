"""keras.losses against NumPy transcriptions of Keras 3's formulas and,
where Keras 3 is installed, against Keras itself; sample weights,
reductions, bad input and finite-difference gradients."""

from __future__ import annotations

import os

import numpy as np
import pytest

import devrt
from devrt.keras import losses

EPS = 1e-7


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras is loaded with a backend other than torch")
    return keras


def _data(seed=0, shape=(8, 3)):
    rng = np.random.default_rng(seed)
    probs = rng.random(shape).astype("float32")
    probs /= probs.sum(-1, keepdims=True)
    logits = rng.standard_normal(shape).astype("float32")
    binary = (rng.random(shape) > 0.5).astype("float32")
    onehot = np.eye(shape[-1], dtype="float32")[rng.integers(0, shape[-1], shape[:-1])]
    labels = onehot.argmax(-1)
    weights = rng.random(shape[0]).astype("float32")
    return probs, logits, binary, onehot, labels, weights


def _np_log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _np_cce(t, p, from_logits):
    logp = (
        _np_log_softmax(p)
        if from_logits
        else np.log(np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS))
    )
    return -(t * logp).sum(-1)


def _np_bce(t, p, from_logits):
    if from_logits:
        return (np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))).mean(-1)
    p = np.clip(p, EPS, 1 - EPS)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(-1)


def _np_huber(t, p, d=1.0):
    e = p - t
    a = np.abs(e)
    return np.where(a <= d, 0.5 * e * e, d * a - 0.5 * d * d).mean(-1)


def _cases():
    probs, logits, binary, onehot, labels, _ = _data()
    return [
        ("mse", losses.MeanSquaredError(), onehot, logits, ((onehot - logits) ** 2).mean(-1)),
        ("mae", losses.MeanAbsoluteError(), onehot, logits, np.abs(onehot - logits).mean(-1)),
        ("huber", losses.Huber(), onehot, logits, _np_huber(onehot, logits)),
        ("huber2", losses.Huber(delta=0.5), onehot, logits, _np_huber(onehot, logits, 0.5)),
        ("bce", losses.BinaryCrossentropy(), binary, probs, _np_bce(binary, probs, False)),
        (
            "bce_logits",
            losses.BinaryCrossentropy(from_logits=True),
            binary,
            logits,
            _np_bce(binary, logits, True),
        ),
        (
            "bce_smooth",
            losses.BinaryCrossentropy(label_smoothing=0.2),
            binary,
            probs,
            _np_bce(binary * 0.8 + 0.1, probs, False),
        ),
        ("cce", losses.CategoricalCrossentropy(), onehot, probs, _np_cce(onehot, probs, False)),
        (
            "cce_logits",
            losses.CategoricalCrossentropy(from_logits=True),
            onehot,
            logits,
            _np_cce(onehot, logits, True),
        ),
        (
            "cce_smooth",
            losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
            onehot,
            logits,
            _np_cce(onehot * 0.9 + 0.1 / 3, logits, True),
        ),
        (
            "scce",
            losses.SparseCategoricalCrossentropy(),
            labels,
            probs,
            _np_cce(onehot, probs, False),
        ),
        (
            "scce_logits",
            losses.SparseCategoricalCrossentropy(from_logits=True),
            labels,
            logits,
            _np_cce(onehot, logits, True),
        ),
    ]


CASES = _cases()
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("index", range(len(CASES)), ids=IDS)
def test_loss_matches_numpy(index):
    _, loss, y_true, y_pred, per_sample = CASES[index]
    weights = _data()[-1]
    got = loss(y_true, y_pred)
    assert tuple(got.shape) == ()
    np.testing.assert_allclose(got.item(), per_sample.mean(), rtol=1e-5, atol=1e-6)
    got = loss(y_true, y_pred, sample_weight=weights)
    np.testing.assert_allclose(got.item(), (per_sample * weights).mean(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("index", range(len(CASES)), ids=IDS)
def test_loss_matches_keras(index):
    keras = _keras()
    _, loss, y_true, y_pred, _ = CASES[index]
    theirs = getattr(keras.losses, type(loss).__name__).from_config(loss.get_config())
    weights = _data()[-1]
    for sw in (None, weights, weights[:, None]):
        want = keras.ops.convert_to_numpy(theirs(y_true, y_pred, sample_weight=sw))
        got = loss(y_true, y_pred, sample_weight=sw).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    fn = getattr(keras.losses, losses.get(type(loss).__name__).fn.__name__)
    kw = loss._fn_kwargs
    want = keras.ops.convert_to_numpy(fn(y_true, y_pred, **kw))
    got = loss.fn(y_true, y_pred, **kw).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["sum", "none", None, "mean", "mean_with_sample_weight"])
def test_reductions_match_keras(reduction):
    keras = _keras()
    probs, _, _, onehot, _, weights = _data(1)
    ours = losses.CategoricalCrossentropy(reduction=reduction)
    theirs = keras.losses.CategoricalCrossentropy(reduction=reduction)
    for sw in (None, weights):
        want = keras.ops.convert_to_numpy(theirs(onehot, probs, sample_weight=sw))
        np.testing.assert_allclose(ours(onehot, probs, sample_weight=sw).numpy(), want, rtol=1e-5)


def test_reductions_against_numpy():
    _, logits, _, onehot, _, weights = _data(2)
    per = ((onehot - logits) ** 2).mean(-1)
    mse = losses.MeanSquaredError
    np.testing.assert_allclose(mse(reduction="sum")(onehot, logits).item(), per.sum(), rtol=1e-5)
    np.testing.assert_allclose(mse(reduction="none")(onehot, logits).numpy(), per, rtol=1e-5)
    np.testing.assert_allclose(
        mse(reduction="mean_with_sample_weight")(onehot, logits, sample_weight=weights).item(),
        (per * weights).sum() / weights.sum(),
        rtol=1e-5,
    )
    with pytest.raises(ValueError, match="reduction"):
        mse(reduction="average")


def test_ignore_class_averages_over_valid_entries():
    _, logits, _, onehot, labels, _ = _data(3)
    labels = labels.copy()
    labels[:3] = -1
    per = _np_cce(onehot, logits, True)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    np.testing.assert_allclose(loss(labels, logits).item(), per[3:].mean(), rtol=1e-5)
    raw = losses.sparse_categorical_crossentropy(labels, logits, from_logits=True, ignore_class=-1)
    np.testing.assert_allclose(raw.numpy()[:3], 0.0)


def test_ignore_class_matches_keras():
    keras = _keras()
    _, logits, _, _, labels, weights = _data(4)
    labels = labels.copy()
    labels[::3] = 1
    for sw in (None, weights):
        ours = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=1)
        theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=1)
        want = keras.ops.convert_to_numpy(theirs(labels, logits, sample_weight=sw))
        np.testing.assert_allclose(ours(labels, logits, sample_weight=sw).item(), want, rtol=1e-5)


def test_shapes_are_squeezed_or_expanded_as_keras():
    rng = np.random.default_rng(5)
    y = rng.random(6).astype("float32")
    p = rng.random((6, 1)).astype("float32")
    np.testing.assert_allclose(
        losses.MeanSquaredError()(y, p).item(), ((y - p[:, 0]) ** 2).mean(), rtol=1e-6
    )
    sparse = losses.SparseCategoricalCrossentropy()(np.array([[0], [1]]), np.full((2, 2), 0.5))
    np.testing.assert_allclose(sparse.item(), np.log(2), rtol=1e-5)


def test_bad_shapes_name_both_shapes():
    with pytest.raises(
        ValueError,
        match=r"\[categorical_crossentropy\] y_true shape \(8, 3\) "
        r"does not match y_pred shape \(8, 4\)",
    ):
        losses.categorical_crossentropy(np.ones((8, 3)), np.ones((8, 4)))
    with pytest.raises(ValueError, match=r"\(8, 3\).*\(8, 4\)"):
        losses.CategoricalCrossentropy()(np.ones((8, 3)), np.ones((8, 4)))
    with pytest.raises(ValueError, match=r"\(8, 2\).*\(8, 5\)"):
        losses.MeanSquaredError()(np.ones((8, 2)), np.ones((8, 5)))
    with pytest.raises(ValueError, match=r"\(8, 3\).*\(8, 4\)"):
        losses.SparseCategoricalCrossentropy()(np.ones((8, 3)), np.ones((8, 4)))


def test_sparse_labels_out_of_range_name_label_and_classes():
    with pytest.raises(ValueError, match=r"label 7 .* 4 classes"):
        losses.SparseCategoricalCrossentropy()(np.array([0, 7, 1]), np.full((3, 4), 0.25))
    with pytest.raises(ValueError, match=r"label -2 .* 4 classes"):
        losses.sparse_categorical_crossentropy(np.array([0, -2, 1]), np.full((3, 4), 0.25))


def _finite_difference(fn, y_true, y_pred, h=1e-6):
    grad = np.zeros_like(y_pred)
    it = np.nditer(y_pred, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        plus, minus = y_pred.copy(), y_pred.copy()
        plus[i] += h
        minus[i] -= h
        grad[i] = (fn(y_true, plus) - fn(y_true, minus)) / (2 * h)
    return grad


@pytest.mark.parametrize(
    "make",
    [
        lambda: losses.CategoricalCrossentropy(from_logits=True, dtype="float64"),
        lambda: losses.CategoricalCrossentropy(dtype="float64"),
        lambda: losses.BinaryCrossentropy(dtype="float64"),
        lambda: losses.BinaryCrossentropy(from_logits=True, dtype="float64"),
        lambda: losses.Huber(delta=0.5, dtype="float64"),
        lambda: losses.MeanSquaredError(dtype="float64"),
        lambda: losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64"),
    ],
)
def test_gradient_matches_finite_differences(make):
    loss = make()
    rng = np.random.default_rng(6)
    y_pred = rng.uniform(0.1, 0.9, (4, 3))
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        y_true = np.array([0, 2, 1, 2])
    elif isinstance(loss, losses.CategoricalCrossentropy):
        y_true = np.eye(3)[[0, 2, 1, 2]]
    else:
        y_true = rng.random((4, 3)).round()
    x = devrt.from_numpy(y_pred.copy()).requires_grad_()
    loss(y_true, x, sample_weight=np.array([1.0, 0.5, 2.0, 0.0])).backward()

    def value(t, p):
        return loss(t, p, sample_weight=np.array([1.0, 0.5, 2.0, 0.0])).item()

    np.testing.assert_allclose(
        x.grad.numpy(), _finite_difference(value, y_true, y_pred), rtol=1e-5, atol=1e-7
    )


def test_get_names_aliases_and_configs():
    assert losses.get("mse") is losses.mean_squared_error
    assert losses.get("MSE") is losses.mean_squared_error
    assert losses.get("mean_squared_error") is losses.mean_squared_error
    assert isinstance(losses.get("MeanSquaredError"), losses.MeanSquaredError)
    assert losses.get("mae") is losses.mean_absolute_error
    assert losses.get("bce") is losses.binary_crossentropy
    assert losses.get("huber") is losses.huber
    assert losses.get("sparse_categorical_crossentropy") is losses.sparse_categorical_crossentropy
    loss = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    assert losses.get(loss) is loss
    back = losses.get(losses.serialize(loss))
    assert isinstance(back, losses.CategoricalCrossentropy)
    assert back.get_config() == loss.get_config()
    assert losses.deserialize(losses.serialize(losses.mse)) is losses.mean_squared_error
    with pytest.raises(ValueError, match="unknown loss 'msee'.*mean_squared_error"):
        losses.get("msee")


@pytest.mark.parametrize(
    "cls",
    [
        "MeanSquaredError",
        "MeanAbsoluteError",
        "BinaryCrossentropy",
        "CategoricalCrossentropy",
        "SparseCategoricalCrossentropy",
    ],
)
def test_config_and_serialization_match_keras(cls):
    keras = _keras()
    ours, theirs = getattr(losses, cls)(), getattr(keras.losses, cls)()
    assert ours.get_config() == theirs.get_config()
    assert losses.serialize(ours) == keras.losses.serialize(theirs)
    assert losses.serialize(losses.mse) == keras.losses.serialize(keras.losses.mean_squared_error)


def test_loss_runs_on_every_device(device):
    y_pred = devrt.tensor([[0.2, 0.8], [0.6, 0.4]], device=device)
    y_true = devrt.tensor([[0.0, 1.0], [1.0, 0.0]], device=device)
    try:
        value = losses.CategoricalCrossentropy()(y_true, y_pred)
    except NotImplementedError as error:
        if device == "cpu":
            raise
        pytest.skip(f"{device} lacks a kernel: {error}")
    assert str(value.device) == str(y_pred.device)
    np.testing.assert_allclose(value.item(), -(np.log(0.8) + np.log(0.6)) / 2, rtol=1e-5)
