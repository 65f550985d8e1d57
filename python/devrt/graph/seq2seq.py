"""``tf.contrib.seq2seq``: ``sequence_loss``, the weighted cross-entropy of
a sequence of logits, as TF1's sequence-to-sequence tutorials use it."""

from __future__ import annotations

from typing import Any

from devrt.graph import framework as fw
from devrt.graph import math_ops
from devrt.graph.array_ops import reshape
from devrt.graph.nn import sparse_softmax_cross_entropy_with_logits
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _t

__all__ = ["sequence_loss"]


def _weighted_mean(total: Tensor, weight: Tensor, axis: Any, count: bool) -> Tensor:
    """sum(total over axis) / (the sum of weight over axis, or with `count` the
    number of its non-zero entries); 0 where that is 0."""
    num = math_ops.reduce_sum(total, axis=axis)
    if count:
        den = math_ops.cast(math_ops.count_nonzero(weight, axis=axis), num.dtype)
    else:
        den = math_ops.reduce_sum(weight, axis=axis)
    return math_ops.div_no_nan(num, den)


def sequence_loss(
    logits: Any,
    targets: Any,
    weights: Any,
    average_across_timesteps: bool = True,
    average_across_batch: bool = True,
    sum_over_timesteps: bool = False,
    sum_over_batch: bool = False,
    softmax_loss_function: Any = None,
    name: str | None = None,
) -> Tensor:
    """``tf.contrib.seq2seq.sequence_loss``: the cross-entropy of `logits`
    [batch, time, classes] at the integer `targets` [batch, time], times
    `weights` [batch, time]. Averaged (divided by the sum of the weights)
    over the time steps and/or the batch, or summed and divided by the
    number of non-zero weights (``sum_over_*``); a scalar when both
    dimensions are reduced, [batch] or [time] when one is, else [batch, time].
    `softmax_loss_function(labels=, logits=)` replaces the cross-entropy."""
    what = "sequence_loss"
    if average_across_timesteps and sum_over_timesteps:
        raise ValueError(
            f"[{what}] average_across_timesteps and sum_over_timesteps cannot both be set"
        )
    if average_across_batch and sum_over_batch:
        raise ValueError(f"[{what}] average_across_batch and sum_over_batch cannot both be set")
    x = _t(logits, what)
    y = _t(targets, what)
    w = _t(weights, what, x.dtype)
    for arg, t, rank in (("logits", x, 3), ("targets", y, 2), ("weights", w, 2)):
        if t.shape.ndims != rank:
            raise ValueError(
                f"[{what}] {arg} must be a tensor of rank {rank} ([batch, time"
                f"{', classes' if rank == 3 else ''}]), got shape {t.shape}"
            )
    classes = x.shape[-1]
    if classes is None:
        raise ValueError(f"[{what}] the number of classes (last dim of logits) must be known")
    with fw.name_scope(name, "sequence_loss", [x, y, w]):
        if softmax_loss_function is None:
            crossent = sparse_softmax_cross_entropy_with_logits(labels=y, logits=x)
        else:
            # The function sees [batch * time, classes] logits, as in TensorFlow.
            steps = x.shape[1]
            if steps is None:
                raise ValueError(
                    f"[{what}] a softmax_loss_function needs the time dimension of logits "
                    f"{x.shape} known"
                )
            flat = softmax_loss_function(
                labels=reshape(y, [-1]), logits=reshape(x, [-1, int(classes)])
            )
            crossent = reshape(flat, [-1, int(steps)])
        crossent = math_ops.multiply(crossent, w)
        time_avg = average_across_timesteps or sum_over_timesteps
        batch_avg = average_across_batch or sum_over_batch
        count = sum_over_timesteps or sum_over_batch
        if time_avg and batch_avg:
            return _weighted_mean(crossent, w, None, count)
        if time_avg or batch_avg:
            return _weighted_mean(crossent, w, [0] if batch_avg else [1], count)
        return crossent
