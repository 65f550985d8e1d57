"""Loss terms written once: cross-entropies (softmax, sparse, sigmoid and
binary), squared and absolute errors and the Huber loss, for
``devrt.nn.functional``, ``tf.nn`` / ``tf.losses`` and ``keras.losses``.

Each returns the unreduced, per-element (or per-example) loss; reductions,
sample weights and the checking of arguments stay with each front end,
whose conventions differ.
"""

from __future__ import annotations

from typing import Any

from devrt._composite.activations import softplus
from devrt._composite.protocol import Ops, named


def smooth_labels(ops: Ops, labels: Any, smoothing: float, classes: Any) -> Any:
    """``labels * (1 - smoothing) + smoothing / classes``: the labels mixed
    with the uniform distribution over `classes` (2 for binary labels)."""
    return ops.add(ops.mul(labels, 1 - smoothing), ops.div(smoothing, classes))


def categorical_cross_entropy(
    ops: Ops,
    labels: Any,
    log_probs: Any,
    axis: int,
    class_weight: Any = None,
    name: str | None = None,
) -> Any:
    """``-sum(labels * log_probs [* class_weight], axis)``: one value per
    example, from log-probabilities."""
    prod = ops.mul(labels, log_probs)
    if class_weight is not None:
        prod = ops.mul(prod, class_weight)
    return ops.neg(ops.sum(prod, [axis]), **named(name))


def softmax_cross_entropy(
    ops: Ops,
    labels: Any,
    logits: Any,
    axis: int = -1,
    class_weight: Any = None,
    name: str | None = None,
) -> Any:
    """The cross-entropy of ``softmax(logits)`` against the class
    probabilities `labels` along `axis`."""
    log_probs = ops.log_softmax(logits, axis)
    return categorical_cross_entropy(ops, labels, log_probs, axis, class_weight, name)


def sparse_softmax_cross_entropy(
    ops: Ops, labels: Any, logits: Any, axis: int = -1, name: str | None = None
) -> Any:
    """``-log_softmax(logits)`` at the integer class `labels` (the shape of
    `logits` without `axis`)."""
    return sparse_cross_entropy(ops, labels, ops.log_softmax(logits, axis), axis, name)


def sparse_cross_entropy(
    ops: Ops, labels: Any, log_probs: Any, axis: int = -1, name: str | None = None
) -> Any:
    """``-log_probs`` at the integer class `labels` along `axis`."""
    return ops.neg(ops.take_along(log_probs, labels, axis), **named(name))


def sigmoid_cross_entropy(
    ops: Ops, labels: Any, logits: Any, pos_weight: Any = None, name: str | None = None
) -> Any:
    """The binary cross-entropy of ``sigmoid(logits)`` against `labels`,
    elementwise, stable for large |logits|: ``max(x, 0) - x * z +
    log1p(exp(-|x|))``, the ``max`` and ``|x|`` taken by a ``where`` so the
    derivative at 0 is ``1/2 - z``; ``max(x, 0) - x z`` is computed as
    ``(1 - z) x`` or ``-z x`` by the sign of x, so that an infinite logit
    gives an infinite loss, not ``inf - inf``. With `pos_weight` (torch) the positive
    term is weighted: ``(1 - z) x + ((pos_weight - 1) z + 1) softplus(-x)``."""
    x, z = logits, labels
    if pos_weight is not None:
        factor = ops.add(ops.mul(ops.sub(pos_weight, 1), z), 1)
        return ops.add(
            ops.mul(ops.sub(1, z), x), ops.mul(softplus(ops, ops.neg(x)), factor), **named(name)
        )
    positive = ops.greater(x, 0)
    linear = ops.where(positive, ops.mul(x, ops.sub(1, z)), ops.neg(ops.mul(x, z)))
    tail = ops.log1p(ops.exp(ops.where(positive, ops.neg(x), x)))
    return ops.add(linear, tail, **named(name))


def binary_cross_entropy(
    ops: Ops, labels: Any, log_p: Any, log_not_p: Any, name: str | None = None
) -> Any:
    """``-(z log p + (1 - z) log(1 - p))`` from the two logs, which each
    front end clips or offsets in its own way."""
    return ops.neg(
        ops.add(ops.mul(labels, log_p), ops.mul(ops.sub(1, labels), log_not_p)), **named(name)
    )


def squared_error(ops: Ops, labels: Any, predictions: Any, name: str | None = None) -> Any:
    """``(predictions - labels) ** 2``."""
    return ops.square(ops.sub(predictions, labels), **named(name))


def absolute_error(ops: Ops, labels: Any, predictions: Any, name: str | None = None) -> Any:
    """``|predictions - labels|``."""
    return ops.abs(ops.sub(predictions, labels), **named(name))


def huber(
    ops: Ops, labels: Any, predictions: Any, delta: float = 1.0, name: str | None = None
) -> Any:
    """``0.5 d ** 2`` where ``d = |predictions - labels| <= delta``, else
    ``(d - 0.5 delta) * delta``, computed as ``0.5 q ** 2 + delta (d - q)``
    with ``q = min(d, delta)``: no branch is computed for the other side, so
    an infinite `d` has the derivative `delta` (a `where` of both branches
    would give NaN)."""
    d = absolute_error(ops, labels, predictions)
    q = ops.minimum(d, delta)
    return ops.add(ops.mul(ops.square(q), 0.5), ops.mul(ops.sub(d, q), delta), **named(name))
