"""``tf.losses``: TF1's loss functions with weights and reductions.

Each computes per-element losses, multiplies them by `weights` (a scalar or
a tensor broadcastable to the losses) and reduces them by `reduction`; the
default, ``Reduction.SUM_BY_NONZERO_WEIGHTS``, divides the weighted sum by
the number of non-zero weights (0 when there are none), which with unit
weights is the mean. The result is added to `loss_collection`
(``tf.GraphKeys.LOSSES``), where ``get_total_loss`` finds it.
"""

from __future__ import annotations

from typing import Any

from devrt._composite import losses as _loss
from devrt._composite.graph import GRAPH
from devrt.graph import dtypes, nn
from devrt.graph import framework as fw
from devrt.graph.array_ops import cast
from devrt.graph.framework import GraphKeys
from devrt.graph.math_ops import add_n
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _apply, _t

__all__ = [
    "Reduction",
    "absolute_difference",
    "add_loss",
    "compute_weighted_loss",
    "get_losses",
    "get_regularization_loss",
    "get_regularization_losses",
    "get_total_loss",
    "huber_loss",
    "log_loss",
    "mean_squared_error",
    "sigmoid_cross_entropy",
    "softmax_cross_entropy",
    "sparse_softmax_cross_entropy",
]


class Reduction:
    """``tf.losses.Reduction``."""

    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls) -> tuple[str, ...]:
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE, cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key: str) -> None:
        if key not in cls.all():
            raise ValueError(f"[losses] Invalid Reduction Key {key}.")


def _sum_all(x: Tensor) -> Tensor:
    return _apply("Sum", [x], {"axes": None, "keepdims": False})


def _safe_div(num: Tensor, den: Tensor, name: str | None) -> Tensor:
    zero = _t(0, "losses", den.dtype)
    positive = _apply("Greater", [den, zero], {})
    safe = _apply("Select", [positive, den, _t(1, "losses", den.dtype)], {})
    q = _apply("RealDiv", [num, safe], {})
    return _apply("Select", [positive, q, _apply("ZerosLike", [q], {})], {}, name)


def compute_weighted_loss(
    losses: Any,
    weights: Any = 1.0,
    scope: str | None = None,
    loss_collection: Any = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """``tf.losses.compute_weighted_loss``: `losses` * `weights`, reduced."""
    Reduction.validate(reduction)
    x = _t(losses, "compute_weighted_loss")
    with fw.name_scope(scope, "weighted_loss", [x]):
        w = _t(weights, "compute_weighted_loss", x.dtype)
        weighted = _apply("Mul", [x, w], {})
        if reduction == Reduction.NONE:
            loss = _apply("Identity", [weighted], {}, "value")
        else:
            total = _sum_all(weighted)
            if reduction == Reduction.SUM:
                loss = _apply("Identity", [total], {}, "value")
            elif reduction == Reduction.MEAN:
                w_full = _apply("Mul", [w, _apply("OnesLike", [x], {})], {})
                loss = _safe_div(total, _sum_all(w_full), "value")
            else:
                if reduction == Reduction.SUM_OVER_BATCH_SIZE:
                    count = _sum_all(_apply("OnesLike", [x], {}))
                else:
                    w_full = _apply("Mul", [w, _apply("OnesLike", [x], {})], {})
                    nonzero = _apply("NotEqual", [w_full, _t(0, "losses", x.dtype)], {})
                    count = _sum_all(cast(nonzero, x.dtype))
                loss = _safe_div(total, count, "value")
    if loss_collection:
        loss.graph.add_to_collection(loss_collection, loss)
    return loss


def _prepared(labels: Any, predictions: Any, what: str) -> tuple[Tensor, Tensor]:
    p = _t(predictions, what)
    y = _t(labels, what)
    if y.dtype != p.dtype:
        y = cast(y, p.dtype)
    if not p.shape.is_compatible_with(y.shape):
        raise ValueError(f"[{what}] Shapes {p.shape} and {y.shape} are incompatible")
    return y, p


def _abs_error(y: Tensor, p: Tensor) -> Tensor:
    return _loss.absolute_error(GRAPH, y, p)


def _pointwise_loss(
    what: str,
    labels: Any,
    predictions: Any,
    weights: Any,
    scope: str | None,
    loss_collection: Any,
    reduction: str,
    per_element: Any,
) -> Tensor:
    """The loss `what` of (labels, predictions): per_element(y, p) in the
    name scope `what`, weighted and reduced."""
    y, p = _prepared(labels, predictions, what)
    with fw.name_scope(scope, what, [y, p]) as ns:
        return compute_weighted_loss(per_element(y, p), weights, ns, loss_collection, reduction)


def mean_squared_error(
    labels: Any,
    predictions: Any,
    weights: Any = 1.0,
    scope: str | None = None,
    loss_collection: Any = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """``tf.losses.mean_squared_error``: (predictions - labels)**2, reduced."""

    def per_element(y, p):
        return _loss.squared_error(GRAPH, y, p)

    return _pointwise_loss(
        "mean_squared_error",
        labels,
        predictions,
        weights,
        scope,
        loss_collection,
        reduction,
        per_element,
    )


def absolute_difference(
    labels,
    predictions,
    weights=1.0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """``tf.losses.absolute_difference``: |predictions - labels|, reduced."""
    return _pointwise_loss(
        "absolute_difference",
        labels,
        predictions,
        weights,
        scope,
        loss_collection,
        reduction,
        _abs_error,
    )


def huber_loss(
    labels,
    predictions,
    weights=1.0,
    delta=1.0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """``tf.losses.huber_loss``: 0.5 e**2 for |e| <= delta, else delta (|e| - 0.5 delta)."""

    def per_element(y, p):
        return _loss.huber(GRAPH, y, p, delta)

    return _pointwise_loss(
        "huber_loss", labels, predictions, weights, scope, loss_collection, reduction, per_element
    )


def log_loss(
    labels,
    predictions,
    weights=1.0,
    epsilon=1e-7,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """``tf.losses.log_loss``: -y log(p + eps) - (1 - y) log(1 - p + eps)."""

    def per_element(y, p):
        eps = _t(epsilon, "log_loss", p.dtype)
        log_p = GRAPH.log(GRAPH.add(p, eps))
        log_not_p = GRAPH.log(GRAPH.add(GRAPH.sub(1, p), eps))
        return _loss.binary_cross_entropy(GRAPH, y, log_p, log_not_p)

    return _pointwise_loss(
        "log_loss", labels, predictions, weights, scope, loss_collection, reduction, per_element
    )


def _smooth(labels: Tensor, smoothing: float, num_classes: Any, what: str) -> Tensor:
    if not smoothing:
        return labels
    # The class count is a tensor, so smoothing / classes divides in the graph.
    return _loss.smooth_labels(GRAPH, labels, smoothing, cast(num_classes, labels.dtype))


def softmax_cross_entropy(
    onehot_labels: Any,
    logits: Any,
    weights: Any = 1.0,
    label_smoothing: float = 0,
    scope: str | None = None,
    loss_collection: Any = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """``tf.losses.softmax_cross_entropy``: the cross-entropy of each example,
    weighted and reduced; `label_smoothing` mixes the labels with uniform."""
    x = _t(logits, "softmax_cross_entropy")
    y = _t(onehot_labels, "softmax_cross_entropy")
    y = cast(y, x.dtype)
    with fw.name_scope(scope, "softmax_cross_entropy_loss", [x, y]) as ns:
        if label_smoothing:
            depth = x.shape[-1]
            if depth is None:
                raise ValueError(
                    "[softmax_cross_entropy] label_smoothing needs a known class count"
                )
            y = _smooth(
                y, label_smoothing, _t(int(depth), "softmax_cross_entropy"), "softmax_cross_entropy"
            )
        losses = nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=x, name="xentropy")
        return compute_weighted_loss(losses, weights, ns, loss_collection, reduction)


def sparse_softmax_cross_entropy(
    labels: Any,
    logits: Any,
    weights: Any = 1.0,
    scope: str | None = None,
    loss_collection: Any = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """``tf.losses.sparse_softmax_cross_entropy``: for integer class `labels`."""
    x = _t(logits, "sparse_softmax_cross_entropy")
    y = _t(labels, "sparse_softmax_cross_entropy")
    with fw.name_scope(scope, "sparse_softmax_cross_entropy_loss", [x, y]) as ns:
        losses = nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x, name="xentropy")
        return compute_weighted_loss(losses, weights, ns, loss_collection, reduction)


def sigmoid_cross_entropy(
    multi_class_labels: Any,
    logits: Any,
    weights: Any = 1.0,
    label_smoothing: float = 0,
    scope: str | None = None,
    loss_collection: Any = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """``tf.losses.sigmoid_cross_entropy``: elementwise logistic loss, weighted
    and reduced; `label_smoothing` pulls the labels towards 1/2."""
    x = _t(logits, "sigmoid_cross_entropy")
    y = cast(_t(multi_class_labels, "sigmoid_cross_entropy"), x.dtype)
    with fw.name_scope(scope, "sigmoid_cross_entropy_loss", [x, y]) as ns:
        if label_smoothing:
            y = _smooth(y, label_smoothing, _t(2, "sigmoid_cross_entropy"), "sigmoid_cross_entropy")
        losses = nn.sigmoid_cross_entropy_with_logits(labels=y, logits=x)
        return compute_weighted_loss(losses, weights, ns, loss_collection, reduction)


# --- collections ------------------------------------------------------------------------


def add_loss(loss: Any, loss_collection: Any = GraphKeys.LOSSES) -> None:
    """``tf.losses.add_loss``."""
    if loss_collection:
        fw.get_default_graph().add_to_collection(loss_collection, loss)


def get_losses(scope: str | None = None, loss_collection: Any = GraphKeys.LOSSES) -> list[Any]:
    """``tf.losses.get_losses``."""
    return fw.get_collection(loss_collection, scope)


def get_regularization_losses(scope: str | None = None) -> list[Any]:
    """``tf.losses.get_regularization_losses``."""
    return fw.get_collection(GraphKeys.REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope: str | None = None, name: str = "total_regularization_loss"):
    """``tf.losses.get_regularization_loss``: their sum (0.0 when none)."""
    losses = get_regularization_losses(scope)
    if not losses:
        return _t(0.0, "get_regularization_loss", dtypes.float32)
    return add_n(losses, name=name)


def get_total_loss(add_regularization_losses: bool = True, name: str = "total_loss", scope=None):
    """``tf.losses.get_total_loss``: the sum of the collected losses (and
    regularization losses); ValueError when there are none."""
    losses = get_losses(scope)
    if add_regularization_losses:
        losses = losses + get_regularization_losses(scope)
    if not losses:
        raise ValueError("[get_total_loss] No losses found in the collections")
    return add_n(losses, name=name)
