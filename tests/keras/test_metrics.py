"""keras.metrics against NumPy and, where Keras 3 is installed, against
Keras itself: several batches, sample weights, reset, configs, lookup."""

from __future__ import annotations

import os

import numpy as np
import pytest

import devrt
from devrt.keras import metrics


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras is loaded with a backend other than torch")
    return keras


def _batches(kind, seed=0, n=3, size=16, classes=4):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        w = rng.random(size).astype("float32")
        if kind == "binary":
            t = (rng.random((size, 1)) > 0.5).astype("float32")
            p = rng.random((size, 1)).astype("float32")
        elif kind == "categorical":
            p = rng.random((size, classes)).astype("float32")
            t = np.eye(classes, dtype="float32")[rng.integers(0, classes, size)]
        elif kind == "sparse":
            p = rng.random((size, classes)).astype("float32")
            t = rng.integers(0, classes, (size, 1)).astype("float32")
        else:
            t = rng.standard_normal((size, 3)).astype("float32")
            p = rng.standard_normal((size, 3)).astype("float32")
        out.append((t, p, w))
    return out


def _numpy_value(name, batches, weighted):
    per, ws = [], []
    for t, p, w in batches:
        if name == "binary_accuracy":
            v = ((p > 0.5).astype("float32") == t).astype("float32")[:, 0]
        elif name == "categorical_accuracy":
            v = (t.argmax(-1) == p.argmax(-1)).astype("float32")
        elif name == "sparse_categorical_accuracy":
            v = (t[:, 0] == p.argmax(-1)).astype("float32")
        elif name == "top_k_categorical_accuracy":
            k_th = np.sort(p, -1)[:, -2]
            v = (p[np.arange(len(p)), t.argmax(-1)] >= k_th).astype("float32")
        elif name in ("mean_squared_error", "root_mean_squared_error"):
            v = ((t - p) ** 2).mean(-1)
        elif name == "mean_absolute_error":
            v = np.abs(t - p).mean(-1)
        per.append(v)
        ws.append(w if weighted else np.ones_like(w))
    per, ws = np.concatenate(per), np.concatenate(ws)
    value = (per * ws).sum() / ws.sum()
    return np.sqrt(value) if name == "root_mean_squared_error" else value


CASES = [
    ("binary_accuracy", metrics.BinaryAccuracy, "binary", {}),
    ("categorical_accuracy", metrics.CategoricalAccuracy, "categorical", {}),
    ("sparse_categorical_accuracy", metrics.SparseCategoricalAccuracy, "sparse", {}),
    ("top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy, "categorical", {"k": 2}),
    ("mean_squared_error", metrics.MeanSquaredError, "regression", {}),
    ("mean_absolute_error", metrics.MeanAbsoluteError, "regression", {}),
    ("root_mean_squared_error", metrics.RootMeanSquaredError, "regression", {}),
]


@pytest.mark.parametrize("name,cls,kind,kwargs", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("weighted", [False, True])
def test_mean_metrics_match_numpy(name, cls, kind, kwargs, weighted):
    metric = cls(**kwargs)
    batches = _batches(kind)
    for t, p, w in batches:
        metric.update_state(t, p, sample_weight=w if weighted else None)
    result = metric.result()
    assert isinstance(result, devrt.Tensor) and tuple(result.shape) == ()
    np.testing.assert_allclose(result.item(), _numpy_value(name, batches, weighted), rtol=1e-5)
    metric.reset_state()
    assert metric.result().item() == 0.0
    assert all(not v.requires_grad for v in metric.variables)


KERAS_CASES = [
    *[(c[1].__name__, c[2], c[3]) for c in CASES],
    ("Accuracy", "sparse", {}),
    ("Precision", "binary", {}),
    ("Precision", "binary", {"thresholds": [0.2, 0.5, 0.7]}),
    ("Precision", "binary", {"thresholds": [0.0, 0.5, 1.0]}),
    ("Precision", "categorical", {"top_k": 2}),
    ("Precision", "categorical", {"class_id": 1}),
    ("Recall", "binary", {}),
    ("Recall", "binary", {"thresholds": [0.3, 0.6]}),
    ("Recall", "categorical", {"class_id": 2, "thresholds": 0.4}),
    ("AUC", "binary", {}),
    ("AUC", "binary", {"curve": "PR"}),
    ("AUC", "binary", {"num_thresholds": 7}),
    ("AUC", "binary", {"summation_method": "minoring"}),
    ("AUC", "binary", {"curve": "PR", "summation_method": "majoring"}),
    ("AUC", "binary", {"thresholds": [0.1, 0.35, 0.8]}),
    ("AUC", "binary", {"from_logits": True}),
    ("AUC", "categorical", {}),
    ("BinaryCrossentropy", "binary", {}),
    ("CategoricalCrossentropy", "categorical", {"from_logits": True}),
    ("SparseCategoricalCrossentropy", "sparse", {}),
]


@pytest.mark.parametrize(
    "cls,kind,kwargs", KERAS_CASES, ids=[f"{c}-{k}" for c, _, k in KERAS_CASES]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_metrics_match_keras(cls, kind, kwargs, weighted):
    keras = _keras()
    ours, theirs = getattr(metrics, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs)
    for t, p, w in _batches(kind, seed=7):
        if kwargs.get("from_logits"):
            p = p * 6 - 3
        sw = w if weighted else None
        ours.update_state(t, p, sample_weight=sw)
        theirs.update_state(t, p, sample_weight=sw)
    want = keras.ops.convert_to_numpy(theirs.result())
    np.testing.assert_allclose(ours.result().numpy(), want, rtol=1e-5, atol=1e-6)
    assert [v.path.split("/")[-1] for v in ours.variables] == [
        v.path.split("/")[-1] for v in theirs.variables
    ]
    theirs_config = theirs.get_config()
    ours_config = ours.get_config()
    ours_config.pop("name"), theirs_config.pop("name")
    assert ours_config == theirs_config


def test_auc_against_numpy_rank_statistic():
    rng = np.random.default_rng(3)
    t = (rng.random(400) > 0.4).astype("float32")
    p = np.clip(t * 0.3 + rng.random(400) * 0.7, 0, 1).astype("float32")
    auc = metrics.AUC(num_thresholds=1000)
    auc.update_state(t, p)
    pos, neg = p[t == 1], p[t == 0]
    exact = (pos[:, None] > neg[None, :]).mean()
    assert auc.result().item() == pytest.approx(exact, abs=2e-3)


def test_mean_and_sum():
    mean, total = metrics.Mean(), metrics.Sum()
    mean.update_state([1.0, 2.0, 3.0])
    mean.update_state([[4.0, 6.0]], sample_weight=[2.0])
    total.update_state([1.0, 2.0, 3.0], sample_weight=[1.0, 0.0, 2.0])
    assert mean.result().item() == pytest.approx((1 + 2 + 3 + 5 * 2) / 5)
    assert total.result().item() == pytest.approx(7.0)
    assert [v.path for v in mean.variables] == ["mean/total", "mean/count"]


def test_mean_metric_wrapper_and_call():
    from devrt.keras import losses

    metric = metrics.MeanMetricWrapper(losses.mean_absolute_error, name="mae_wrap")
    value = metric(np.zeros((2, 2)), np.ones((2, 2)))
    assert value.item() == pytest.approx(1.0)
    config = metric.get_config()
    assert config["fn"]["config"] == "mean_absolute_error"
    back = metrics.deserialize(metrics.serialize(metric))
    assert back._fn is losses.mean_absolute_error


def test_function_forms():
    np.testing.assert_allclose(
        metrics.binary_accuracy(np.array([[1.0], [0.0]]), np.array([[0.7], [0.6]])).numpy(),
        [[1.0], [0.0]],
    )
    np.testing.assert_allclose(
        metrics.categorical_accuracy(np.eye(3), np.eye(3)[[0, 2, 2]]).numpy(), [1.0, 0.0, 1.0]
    )
    np.testing.assert_allclose(
        metrics.sparse_categorical_accuracy(np.array([0, 1]), np.eye(2)[[0, 0]]).numpy(),
        [1.0, 0.0],
    )


def test_get_and_resolve_accuracy():
    for name, cls in [
        ("accuracy", metrics.Accuracy),
        ("acc", metrics.Accuracy),
        ("mae", metrics.MeanAbsoluteError),
        ("mse", metrics.MeanSquaredError),
        ("auc", metrics.AUC),
        ("AUC", metrics.AUC),
        ("precision", metrics.Precision),
        ("recall", metrics.Recall),
        ("binary_accuracy", metrics.BinaryAccuracy),
        ("SparseCategoricalAccuracy", metrics.SparseCategoricalAccuracy),
    ]:
        assert isinstance(metrics.get(name), cls), name
    with pytest.raises(ValueError, match="unknown metric 'acuracy'.*accuracy"):
        metrics.get("acuracy")
    resolve = metrics.resolve_accuracy
    assert isinstance(resolve("accuracy", "binary_crossentropy", (None, 1)), metrics.BinaryAccuracy)
    assert isinstance(
        resolve("acc", "sparse_categorical_crossentropy", (None, 10)),
        metrics.SparseCategoricalAccuracy,
    )
    assert isinstance(
        resolve("acc", "categorical_crossentropy", (None, 10)), metrics.CategoricalAccuracy
    )
    assert isinstance(
        resolve("acc", "mse", (None, 10), y_true_shape=(None,)), metrics.SparseCategoricalAccuracy
    )
    assert isinstance(
        resolve("acc", "mse", (None, 10), y_true_shape=(None, 1)),
        metrics.SparseCategoricalAccuracy,
    )
    assert resolve("acc", "mse", (None, 1)).name == "acc"


def test_update_state_stays_on_the_device(device):
    metric = metrics.BinaryAccuracy()
    t = devrt.tensor([[1.0], [0.0]], device=device)
    p = devrt.tensor([[0.9], [0.8]], device=device)
    try:
        metric.update_state(t, p)
    except NotImplementedError as error:
        if device == "cpu":
            raise
        pytest.skip(f"{device} lacks a kernel: {error}")
    assert str(metric.variables[0].device) == str(t.device)
    assert metric.result().item() == pytest.approx(0.5)
