"""``tf.contrib``: the few contrib names TF1 programs commonly use, as a
namespace (``tf.contrib.layers.xavier_initializer()``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from devrt.graph import init_ops
from devrt.graph import layers as _layers
from devrt.graph import nn as _nn
from devrt.graph import rnn as _rnn
from devrt.graph import rnn_cell as _rnn_cell
from devrt.graph.tensor_util import _t

__all__ = ["layers", "rnn"]


def xavier_initializer(uniform: bool = True, seed: Any = None, dtype: Any = "float32"):
    """``tf.contrib.layers.xavier_initializer``: Glorot uniform, or with
    ``uniform=False`` a truncated normal of variance 1 / fan_avg (as contrib's
    variance_scaling_initializer(factor=1.0, mode='FAN_AVG'))."""
    if uniform:
        return init_ops.GlorotUniform(seed=seed, dtype=dtype)
    return init_ops.GlorotNormal(seed=seed, dtype=dtype)


def variance_scaling_initializer(
    factor: float = 2.0,
    mode: str = "FAN_IN",
    uniform: bool = False,
    seed: Any = None,
    dtype="float32",
):
    """``tf.contrib.layers.variance_scaling_initializer`` (contrib's argument names)."""
    return init_ops.VarianceScaling(
        factor, mode.lower(), "uniform" if uniform else "truncated_normal", seed, dtype
    )


def l2_regularizer(scale: float, scope: Any = None):
    """``tf.contrib.layers.l2_regularizer``: w -> scale * l2_loss(w)."""
    if scale < 0:
        raise ValueError(f"[l2_regularizer] scale cannot be negative: {scale}")

    def regularize(weights: Any):
        if scale == 0:
            return None
        w = _t(weights, "l2_regularizer")
        return _nn.l2_loss(w) * scale

    return regularize


def l1_regularizer(scale: float, scope: Any = None):
    """``tf.contrib.layers.l1_regularizer``: w -> scale * sum(|w|)."""
    from devrt.graph.math_ops import abs as _abs
    from devrt.graph.math_ops import reduce_sum

    def regularize(weights: Any):
        if scale == 0:
            return None
        return reduce_sum(_abs(_t(weights, "l1_regularizer"))) * scale

    return regularize


layers = SimpleNamespace(
    xavier_initializer=xavier_initializer,
    xavier_initializer_conv2d=xavier_initializer,
    variance_scaling_initializer=variance_scaling_initializer,
    l2_regularizer=l2_regularizer,
    l1_regularizer=l1_regularizer,
    flatten=_layers.flatten,
)

rnn = SimpleNamespace(
    **{name: getattr(_rnn_cell, name) for name in _rnn_cell.__all__},
    static_rnn=_rnn.static_rnn,
)
