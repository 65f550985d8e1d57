"""Candidate samplers and the sampled losses of ``tf.nn``:
``log_uniform_candidate_sampler``, ``uniform_candidate_sampler``,
``nce_loss`` and ``sampled_softmax_loss``.

The samplers draw with graph ops (``RandomUniform`` and, for
``unique=True``, ``TopKV2``), so a new sample is drawn each run, from
devrt's random stream: the classes differ from TensorFlow's draws, the
distribution is the same. Sampling without replacement (``unique=True``)
takes the `num_sampled` largest of ``log p(k) + Gumbel noise`` over all
classes (the Gumbel top-k method, O(range_max) per run) instead of
TensorFlow's rejection loop; its expected counts are TensorFlow's formula
``1 - (1 - p) ** T`` with T, the number of tries, the one that gives
`num_sampled` distinct classes on average (TensorFlow uses the tries of the
actual draw).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from devrt.graph import dtypes, nn
from devrt.graph import framework as fw
from devrt.graph.array_ops import cast, concat, expand_dims, gather, reshape
from devrt.graph.constant_ops import constant, ones_like, zeros_like
from devrt.graph.gradients import stop_gradient
from devrt.graph.math_ops import (
    exp,
    expm1,
    floor,
    log,
    log1p,
    matmul,
    maximum,
    minimum,
    reduce_any,
    reduce_sum,
)
from devrt.graph.random_ops import _seed_attr
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _apply, _int, _t

__all__ = [
    "log_uniform_candidate_sampler",
    "nce_loss",
    "sampled_softmax_loss",
    "uniform_candidate_sampler",
]

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _log_uniform_p(range_max: int) -> np.ndarray:
    k = np.arange(range_max, dtype=np.float64)
    return np.log((k + 2.0) / (k + 1.0)) / math.log(range_max + 1.0)


def _tries_for_unique(p: np.ndarray, num_sampled: int) -> float:
    """T such that ``sum(1 - (1 - p) ** T) = num_sampled`` (bisection on the
    sampler's fixed distribution, not on data)."""
    if num_sampled >= len(p):
        return float("inf")
    lo, hi = float(num_sampled), float(num_sampled)
    while np.sum(-np.expm1(hi * np.log1p(-p))) < num_sampled:
        hi *= 2.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if np.sum(-np.expm1(mid * np.log1p(-p))) < num_sampled:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _check(true_classes: Any, num_true: int, num_sampled: int, range_max: int, unique: bool, what):
    t = _t(true_classes, what)
    if not t.dtype.is_integer:
        raise TypeError(f"[{what}] true_classes must be int64, got {t.dtype.name}")
    if t.shape.rank is not None and (t.shape.rank != 2 or t.shape[1] not in (None, num_true)):
        raise ValueError(
            f"[{what}] true_classes must be [batch, num_true={num_true}], got {t.shape}"
        )
    if range_max <= 0 or num_sampled <= 0:
        raise ValueError(
            f"[{what}] range_max and num_sampled must be positive, got {range_max}, {num_sampled}"
        )
    if unique and num_sampled > range_max:
        raise ValueError(
            f"[{what}] cannot draw {num_sampled} distinct classes out of range_max={range_max}"
        )
    return t


def _uniform(g: fw.Graph, n: int, dtype: dtypes.DType, seed: Any) -> Tensor:
    attrs = {"shape": [n], "dtype": dtype.as_devrt_dtype, "seed": _seed_attr(seed, 0)}
    return g._create_op("RandomUniform", [], attrs).outputs[0]


def _sample(
    true_classes: Any,
    num_true: Any,
    num_sampled: Any,
    unique: bool,
    range_max: Any,
    seed: Any,
    name: Any,
    kind: str,
):
    what = f"{kind}_candidate_sampler"
    num_true = _int(num_true, what, "num_true")
    num_sampled = _int(num_sampled, what, "num_sampled")
    range_max = _int(range_max, what, "range_max")
    t = _check(true_classes, num_true, num_sampled, range_max, bool(unique), what)
    log_uniform = kind == "log_uniform"
    p = _log_uniform_p(range_max) if log_uniform else np.full(range_max, 1.0 / range_max)
    g = fw._graph_of([t])
    with fw.name_scope(name, what, [t]) as scope:
        if unique:
            # Gumbel noise -log(-log(u)) on log p: its top k is a draw without replacement.
            u = _uniform(g, range_max, dtypes.float32, seed)
            keys = constant(np.log(p).astype(np.float32)) - log(-log(u))
            sampled = cast(g._create_op("TopKV2", [keys], {"k": num_sampled}).outputs[1], "int64")
        else:
            u = _uniform(g, num_sampled, dtypes.float64, seed)
            if log_uniform:
                # The inverse of the cumulative distribution.
                k = floor(exp(u * math.log(range_max + 1.0))) - 1.0
            else:
                k = floor(u * float(range_max))
            sampled = cast(minimum(maximum(k, 0.0), range_max - 1.0), dtypes.int64)
        tries = _tries_for_unique(p, num_sampled) if unique else float(num_sampled)

        def expected(classes: Tensor) -> Tensor:
            k = cast(classes, dtypes.float64)
            if log_uniform:
                prob = log((k + 2.0) / (k + 1.0)) * (1.0 / math.log(range_max + 1.0))
            else:
                prob = zeros_like(k) + 1.0 / range_max
            if not unique:
                count = prob * tries
            elif math.isinf(tries):  # every class is drawn
                count = ones_like(prob)
            else:
                count = -expm1(log1p(-prob) * tries)
            return cast(count, dtypes.float32)

        true_expected = expected(t)
        sampled_expected = expected(sampled)
        return (
            _apply("Identity", [sampled], {}, scope),
            stop_gradient(true_expected),
            stop_gradient(sampled_expected),
        )


def log_uniform_candidate_sampler(
    true_classes: Any,
    num_true: Any,
    num_sampled: Any,
    unique: bool,
    range_max: Any,
    seed: Any = None,
    name: str | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """``tf.nn.log_uniform_candidate_sampler``: `num_sampled` int64 classes
    drawn with P(k) = log((k + 2) / (k + 1)) / log(range_max + 1) (Zipf-like,
    for classes sorted by decreasing frequency), and the expected counts of
    the true and the sampled classes (float32)."""
    return _sample(
        true_classes, num_true, num_sampled, unique, range_max, seed, name, "log_uniform"
    )


def uniform_candidate_sampler(
    true_classes: Any,
    num_true: Any,
    num_sampled: Any,
    unique: bool,
    range_max: Any,
    seed: Any = None,
    name: str | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """``tf.nn.uniform_candidate_sampler``: classes drawn uniformly from [0, range_max)."""
    return _sample(true_classes, num_true, num_sampled, unique, range_max, seed, name, "uniform")


def _sampled_logits(
    weights: Any,
    biases: Any,
    labels: Any,
    inputs: Any,
    num_sampled: int,
    num_classes: int,
    num_true: int,
    sampled_values: Any,
    subtract_log_q: bool,
    remove_accidental_hits: bool,
    seed: Any,
    what: str,
) -> tuple[Tensor, Tensor]:
    """TF's ``_compute_sampled_logits``: the logits of the true classes and
    of the sampled ones (minus log of their expected counts), side by side,
    and their labels (1/num_true for each true class, 0 for the sampled)."""
    if isinstance(weights, (list, tuple)):
        if len(weights) != 1:
            raise NotImplementedError(f"[{what}] partitioned weights are not supported")
        weights = weights[0]
    if isinstance(biases, (list, tuple)):
        if len(biases) != 1:
            raise NotImplementedError(f"[{what}] partitioned biases are not supported")
        biases = biases[0]
    w = _t(weights, what)
    b = _t(biases, what, w.dtype)
    x = _t(inputs, what, w.dtype)
    num_true = _int(num_true, what, "num_true")
    lab = _t(labels, what)
    if not lab.dtype.is_integer:
        raise TypeError(f"[{what}] labels must be integers, got {lab.dtype.name}")
    lab = cast(lab, dtypes.int64)
    if lab.shape.rank == 1 and num_true == 1:
        lab = expand_dims(lab, 1)
    if w.shape.rank is not None and w.shape.rank != 2:
        raise ValueError(f"[{what}] weights must be [num_classes, dim], got {w.shape}")
    if x.shape.rank is not None and x.shape.rank != 2:
        raise ValueError(f"[{what}] inputs must be [batch, dim], got {x.shape}")
    if w.shape.rank == 2 and x.shape.rank == 2 and not w.shape[1:].is_compatible_with(x.shape[1:]):
        raise ValueError(
            f"[{what}] weights {w.shape} and inputs {x.shape} differ in their last dimension"
        )
    if sampled_values is None:
        sampled_values = log_uniform_candidate_sampler(
            lab, num_true, num_sampled, True, num_classes, seed=seed
        )
    sampled, true_expected, sampled_expected = sampled_values
    sampled = stop_gradient(cast(_t(sampled, what), dtypes.int64))
    dim = w.shape.as_list()[1] if w.shape.rank == 2 else None
    if dim is None:
        raise ValueError(f"[{what}] the last dimension of weights {w.shape} must be known")
    flat = reshape(lab, [-1])
    true_w = reshape(gather(w, flat), [-1, num_true, dim])
    true_b = reshape(gather(b, flat), [-1, num_true])
    true_logits = reduce_sum(expand_dims(x, 1) * true_w, axis=2) + true_b
    sampled_logits = matmul(x, gather(w, sampled), transpose_b=True) + gather(b, sampled)
    if remove_accidental_hits:
        hits = reduce_any(
            _apply("Equal", [expand_dims(lab, 2), reshape(sampled, [1, 1, -1])], {}), axis=1
        )
        sampled_logits = sampled_logits + cast(hits, w.dtype) * _t(-_FLOAT32_MAX, what, w.dtype)
    if subtract_log_q:
        true_logits = true_logits - _apply("Log", [cast(_t(true_expected, what), w.dtype)], {})
        sampled_logits = sampled_logits - _apply(
            "Log", [cast(_t(sampled_expected, what), w.dtype)], {}
        )
    logits = concat([true_logits, sampled_logits], 1)
    labels_out = concat(
        [
            _apply("OnesLike", [true_logits], {}) / float(num_true),
            _apply("ZerosLike", [sampled_logits], {}),
        ],
        1,
    )
    return logits, labels_out


def nce_loss(
    weights: Any,
    biases: Any,
    labels: Any,
    inputs: Any,
    num_sampled: Any,
    num_classes: Any,
    num_true: Any = 1,
    sampled_values: Any = None,
    remove_accidental_hits: bool = False,
    partition_strategy: str = "mod",
    name: str = "nce_loss",
    seed: Any = None,
) -> Tensor:
    """``tf.nn.nce_loss``: per example, the logistic loss of the true classes
    against `num_sampled` sampled ones (noise-contrastive estimation), with
    the log expected counts subtracted from the logits, as TensorFlow does."""
    with fw.name_scope(name, "nce_loss", []) as scope:
        logits, labels_out = _sampled_logits(
            weights,
            biases,
            labels,
            inputs,
            _int(num_sampled, "nce_loss", "num_sampled"),
            _int(num_classes, "nce_loss", "num_classes"),
            num_true,
            sampled_values,
            True,
            remove_accidental_hits,
            seed,
            "nce_loss",
        )
        losses = nn.sigmoid_cross_entropy_with_logits(labels=labels_out, logits=logits)
        return reduce_sum(losses, axis=1, name=scope)


def sampled_softmax_loss(
    weights: Any,
    biases: Any,
    labels: Any,
    inputs: Any,
    num_sampled: Any,
    num_classes: Any,
    num_true: Any = 1,
    sampled_values: Any = None,
    remove_accidental_hits: bool = True,
    partition_strategy: str = "mod",
    name: str = "sampled_softmax_loss",
    seed: Any = None,
) -> Tensor:
    """``tf.nn.sampled_softmax_loss``: per example, the softmax cross-entropy
    over the true classes and `num_sampled` sampled ones (log expected counts
    subtracted; a sampled class equal to a true one is left out)."""
    with fw.name_scope(name, "sampled_softmax_loss", []) as scope:
        logits, labels_out = _sampled_logits(
            weights,
            biases,
            labels,
            inputs,
            _int(num_sampled, "sampled_softmax_loss", "num_sampled"),
            _int(num_classes, "sampled_softmax_loss", "num_classes"),
            num_true,
            sampled_values,
            True,
            remove_accidental_hits,
            seed,
            "sampled_softmax_loss",
        )
        return nn.softmax_cross_entropy_with_logits_v2(
            labels=stop_gradient(labels_out), logits=logits, name=scope
        )
