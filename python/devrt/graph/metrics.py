"""``tf.metrics``: streaming metrics, each a ``(value, update_op)`` pair.

A metric keeps its running sums in local variables (collections
``tf.GraphKeys.LOCAL_VARIABLES`` and ``metric_variables``, not trainable),
which ``tf.local_variables_initializer()`` sets to zero. ``update_op``
adds one batch to the sums and gives the metric over everything seen so
far; ``value`` reads the sums without changing them. Everything is graph
ops, built in a variable scope named after the metric, as TF names them
(``accuracy/total``, ``accuracy/count``).
"""

from __future__ import annotations

from typing import Any

from devrt.graph import array_ops, constant_ops, dtypes, math_ops
from devrt.graph import framework as fw
from devrt.graph.framework import GraphKeys
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _t
from devrt.graph.variable_scope import variable_scope
from devrt.graph.variables import Variable, assign_add

__all__ = [
    "accuracy",
    "auc",
    "false_negatives",
    "false_positives",
    "mean",
    "mean_absolute_error",
    "mean_squared_error",
    "precision",
    "recall",
    "root_mean_squared_error",
    "true_negatives",
    "true_positives",
]

METRIC_VARIABLES = "metric_variables"


def _metric_variable(shape: list[int], name: str) -> Variable:
    return Variable(
        lambda: constant_ops.zeros(shape, dtypes.float32),
        trainable=False,
        collections=[GraphKeys.LOCAL_VARIABLES, METRIC_VARIABLES],
        name=name,
    )


def _collect(metrics_collections: Any, updates_collections: Any, value: Any, update: Any) -> None:
    for what, names in (
        ("metrics_collections", metrics_collections),
        ("updates_collections", updates_collections),
    ):
        if names is not None and not isinstance(names, (list, tuple)):
            raise ValueError(f"[metrics] {what} should be a list or tuple, got {names!r}")
    if metrics_collections:
        fw.add_to_collections(metrics_collections, value)
    if updates_collections:
        fw.add_to_collections(updates_collections, update)


def _check_shapes(a: Tensor, b: Tensor, what: str, names: str) -> None:
    if not a.shape.is_compatible_with(b.shape):
        raise ValueError(f"[{what}] {names} must have the same shape, got {a.shape} and {b.shape}")


def _weighted(values: Tensor, weights: Any, what: str) -> tuple[Tensor, Tensor]:
    """(sum of values * weights, sum of the weights broadcast to values)."""
    if weights is None:
        return math_ops.reduce_sum(values), math_ops.cast(array_ops.size(values), dtypes.float32)
    w = math_ops.cast(_t(weights, what), dtypes.float32)
    w = w * constant_ops.ones_like(values)
    return math_ops.reduce_sum(values * w), math_ops.reduce_sum(w)


def mean(
    values: Any,
    weights: Any = None,
    metrics_collections: Any = None,
    updates_collections: Any = None,
    name: str | None = None,
) -> tuple[Tensor, Tensor]:
    """``tf.metrics.mean``: the (weighted) mean of every value seen."""
    with variable_scope(name, "mean", [values, weights]):
        values = math_ops.cast(_t(values, "metrics.mean"), dtypes.float32)
        total = _metric_variable([], "total")
        count = _metric_variable([], "count")
        batch_total, batch_count = _weighted(values, weights, "metrics.mean")
        update_total = assign_add(total, batch_total)
        update_count = assign_add(count, batch_count)
        value = math_ops.div_no_nan(total.value(), count.value(), name="value")
        update_op = math_ops.div_no_nan(update_total, update_count, name="update_op")
    _collect(metrics_collections, updates_collections, value, update_op)
    return value, update_op


def accuracy(
    labels: Any,
    predictions: Any,
    weights: Any = None,
    metrics_collections: Any = None,
    updates_collections: Any = None,
    name: str | None = None,
) -> tuple[Tensor, Tensor]:
    """``tf.metrics.accuracy``: how often `predictions` equals `labels`."""
    labels = _t(labels, "metrics.accuracy")
    predictions = _t(predictions, "metrics.accuracy")
    _check_shapes(labels, predictions, "metrics.accuracy", "labels and predictions")
    if labels.dtype != predictions.dtype:
        predictions = math_ops.cast(predictions, labels.dtype)
    is_correct = math_ops.cast(math_ops.equal(predictions, labels), dtypes.float32)
    return mean(is_correct, weights, metrics_collections, updates_collections, name or "accuracy")


def _error_mean(
    kind: str, labels: Any, predictions: Any, weights: Any, mc: Any, uc: Any, name: Any
) -> tuple[Tensor, Tensor]:
    labels = math_ops.cast(_t(labels, f"metrics.{kind}"), dtypes.float32)
    predictions = math_ops.cast(_t(predictions, f"metrics.{kind}"), dtypes.float32)
    _check_shapes(labels, predictions, f"metrics.{kind}", "labels and predictions")
    diff = predictions - labels
    errors = math_ops.abs(diff) if kind == "mean_absolute_error" else diff * diff
    return mean(errors, weights, mc, uc, name or kind)


def mean_absolute_error(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """``tf.metrics.mean_absolute_error``."""
    return _error_mean(
        "mean_absolute_error",
        labels,
        predictions,
        weights,
        metrics_collections,
        updates_collections,
        name,
    )


def mean_squared_error(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """``tf.metrics.mean_squared_error``."""
    return _error_mean(
        "mean_squared_error",
        labels,
        predictions,
        weights,
        metrics_collections,
        updates_collections,
        name,
    )


def root_mean_squared_error(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """``tf.metrics.root_mean_squared_error``: the square root of the mean squared error."""
    mse, update_mse = _error_mean(
        "root_mean_squared_error", labels, predictions, weights, None, None, name
    )
    value, update_op = math_ops.sqrt(mse), math_ops.sqrt(update_mse)
    _collect(metrics_collections, updates_collections, value, update_op)
    return value, update_op


# --- counts of a binary condition ------------------------------------------------------


def _as_bool(x: Any, what: str) -> Tensor:
    x = _t(x, what)
    return x if x.dtype == dtypes.bool else math_ops.not_equal(x, constant_ops.zeros([], x.dtype))


def _count(
    kind: str, condition: Tensor, weights: Any, mc: Any, uc: Any, name: Any
) -> tuple[Tensor, Tensor]:
    with variable_scope(name, kind, [condition, weights]):
        count = _metric_variable([], "count")
        batch, _ = _weighted(math_ops.cast(condition, dtypes.float32), weights, f"metrics.{kind}")
        update_op = assign_add(count, batch)
        value = count.value()
    _collect(mc, uc, value, update_op)
    return value, update_op


def _condition(kind: str, labels: Any, predictions: Any) -> Tensor:
    what = f"metrics.{kind}"
    labels, predictions = _as_bool(labels, what), _as_bool(predictions, what)
    _check_shapes(labels, predictions, what, "labels and predictions")
    is_pos = kind in ("true_positives", "false_positives")
    p = predictions if is_pos else math_ops.logical_not(predictions)
    label_true = kind in ("true_positives", "false_negatives")
    lab = labels if label_true else math_ops.logical_not(labels)
    return math_ops.logical_and(lab, p)


def true_positives(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """``tf.metrics.true_positives``: the (weighted) count of labels and predictions both true."""
    cond = _condition("true_positives", labels, predictions)
    return _count("true_positives", cond, weights, metrics_collections, updates_collections, name)


def false_positives(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """``tf.metrics.false_positives``."""
    cond = _condition("false_positives", labels, predictions)
    return _count("false_positives", cond, weights, metrics_collections, updates_collections, name)


def true_negatives(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """``tf.metrics.true_negatives``."""
    cond = _condition("true_negatives", labels, predictions)
    return _count("true_negatives", cond, weights, metrics_collections, updates_collections, name)


def false_negatives(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """``tf.metrics.false_negatives``."""
    cond = _condition("false_negatives", labels, predictions)
    return _count("false_negatives", cond, weights, metrics_collections, updates_collections, name)


def _ratio(kind: str, other: Any, labels, predictions, weights, mc, uc, name):
    """tp / (tp + other), 0 where that is 0 (precision: other = fp; recall: fn)."""
    with variable_scope(name, kind, [labels, predictions, weights]):
        tp, update_tp = true_positives(labels, predictions, weights)
        o, update_o = other(labels, predictions, weights)
        value = math_ops.div_no_nan(tp, tp + o, name="value")
        update_op = math_ops.div_no_nan(update_tp, update_tp + update_o, name="update_op")
    _collect(mc, uc, value, update_op)
    return value, update_op


def precision(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """``tf.metrics.precision``: true positives / (true + false positives);
    labels and predictions are read as bools (nonzero is True)."""
    return _ratio(
        "precision",
        false_positives,
        labels,
        predictions,
        weights,
        metrics_collections,
        updates_collections,
        name,
    )


def recall(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """``tf.metrics.recall``: true positives / (true positives + false negatives)."""
    return _ratio(
        "recall",
        false_negatives,
        labels,
        predictions,
        weights,
        metrics_collections,
        updates_collections,
        name,
    )


# --- area under a curve --------------------------------------------------------------------


def auc(
    labels: Any,
    predictions: Any,
    weights: Any = None,
    num_thresholds: int = 200,
    metrics_collections: Any = None,
    updates_collections: Any = None,
    curve: str = "ROC",
    name: str | None = None,
    summation_method: str = "trapezoidal",
    thresholds: Any = None,
) -> tuple[Tensor, Tensor]:
    """``tf.metrics.auc``: the area under the ROC or PR curve, approximated
    as TF does: confusion counts at `num_thresholds` thresholds evenly
    spread over [0, 1] (plus -1e-7 and 1 + 1e-7), summed by the trapezoidal
    rule (or `"minoring"` / `"majoring"`). `predictions` are probabilities."""
    what = "metrics.auc"
    if curve not in ("ROC", "PR"):
        raise ValueError(f"[{what}] curve must be 'ROC' or 'PR', got {curve!r}")
    if summation_method not in ("trapezoidal", "minoring", "majoring"):
        raise ValueError(
            f"[{what}] summation_method must be 'trapezoidal', 'minoring' or 'majoring' "
            f"(devrt has no 'careful_interpolation'), got {summation_method!r}"
        )
    eps_t = 1e-7
    if thresholds is not None:
        points = sorted(float(t) for t in thresholds)
    else:
        if num_thresholds <= 1:
            raise ValueError(f"[{what}] num_thresholds must be > 1, got {num_thresholds}")
        points = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    points = [0.0 - eps_t] + points + [1.0 + eps_t]
    n = len(points)
    labels = _as_bool(labels, what)
    predictions = math_ops.cast(_t(predictions, what), dtypes.float32)
    _check_shapes(labels, predictions, what, "labels and predictions")
    with variable_scope(name, "auc", [labels, predictions, weights]):
        preds = array_ops.reshape(predictions, [1, -1])
        labs = array_ops.reshape(labels, [1, -1])
        t = constant_ops.constant(points, dtypes.float32, shape=[n, 1])
        pred_pos = math_ops.greater(preds, t)  # [n, batch]
        pred_neg = math_ops.logical_not(pred_pos)
        lab_neg = math_ops.logical_not(labs)
        w = None
        if weights is not None:
            w = math_ops.cast(_t(weights, what), dtypes.float32) * constant_ops.ones_like(
                predictions
            )
            w = array_ops.reshape(w, [1, -1])
        updates = {}
        values = {}
        for key, cond in (
            ("true_positives", math_ops.logical_and(labs, pred_pos)),
            ("false_negatives", math_ops.logical_and(labs, pred_neg)),
            ("true_negatives", math_ops.logical_and(lab_neg, pred_neg)),
            ("false_positives", math_ops.logical_and(lab_neg, pred_pos)),
        ):
            var = _metric_variable([n], key)
            c = math_ops.cast(cond, dtypes.float32)
            if w is not None:
                c = c * w
            updates[key] = assign_add(var, math_ops.reduce_sum(c, axis=1))
            values[key] = var.value()

        def area(v: dict[str, Tensor], op_name: str) -> Tensor:
            tp, fn, tn, fp = (
                v[k]
                for k in ("true_positives", "false_negatives", "true_negatives", "false_positives")
            )
            epsilon = 1.0e-6
            rec = math_ops.divide(tp + epsilon, tp + fn + epsilon)
            if curve == "ROC":
                x, y = math_ops.divide(fp, fp + tn + epsilon), rec
            else:
                x, y = rec, math_ops.divide(tp + epsilon, tp + fp + epsilon)
            dx = x[: n - 1] - x[1:]
            if summation_method == "trapezoidal":
                height = (y[: n - 1] + y[1:]) / 2.0
            elif summation_method == "minoring":
                height = math_ops.minimum(y[: n - 1], y[1:])
            else:
                height = math_ops.maximum(y[: n - 1], y[1:])
            return math_ops.reduce_sum(dx * height, name=op_name)

        value = area(values, "value")
        update_op = area(updates, "update_op")
    _collect(metrics_collections, updates_collections, value, update_op)
    return value, update_op
