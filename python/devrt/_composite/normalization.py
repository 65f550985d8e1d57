"""Normalisations written once: batch norm (``F.batch_norm``,
``tf.layers.BatchNormalization`` / ``tf.nn.batch_normalization``,
``keras.layers.BatchNormalization``) and layer norm (``F.layer_norm``,
``keras.layers.LayerNormalization``), with the moving averages of their
running statistics in each front end's convention.
"""

from __future__ import annotations

from typing import Any

from devrt._composite.protocol import Ops, named


def moments(
    ops: Ops, x: Any, axes: Any, keepdims: bool = False, name: str | None = None
) -> tuple[Any, Any]:
    """(mean, biased variance) of `x` over `axes`; the mean keeps the
    reduced dimensions, the variance keeps them when `keepdims`."""
    mean = ops.mean(x, axes, keepdims=True)
    return mean, ops.variance(x, axes, keepdims, mean=mean, **named(name))


def normalize(
    ops: Ops,
    x: Any,
    mean: Any,
    var: Any,
    scale: Any = None,
    offset: Any = None,
    eps: Any = 1e-5,
    name: str | None = None,
) -> Any:
    """``(x - mean) * (rsqrt(var + eps) * scale) + offset`` (scale and
    offset optional), with every statistic already shaped to broadcast
    against `x`. The scale folds into the inverse deviation, which has the
    statistics' size, not the input's."""
    inv = ops.rsqrt(ops.add(var, eps))
    if scale is not None:
        inv = ops.mul(inv, scale)
    out = ops.mul(ops.sub(x, mean), inv, **named(None if offset is not None else name))
    return out if offset is None else ops.add(out, offset, **named(name))


def running_average(ops: Ops, ref: Any, value: Any, keep: float, weight: float) -> Any:
    """``ref = ref * keep + value * weight``, written into `ref`: torch's
    running statistics (keep ``1 - momentum``, weight ``momentum``) and
    Keras' moving ones (keep ``momentum``, weight ``1 - momentum``)."""
    return ops.assign_mul_add(ref, keep, ops.mul(value, weight))


def assign_moving_average(ops: Ops, ref: Any, value: Any, decay: Any) -> Any:
    """``ref -= (ref - value) * decay``, TF1's AssignMovingAvg (decay ``1 -
    momentum``, a tensor when training is decided at run time)."""
    return ops.assign_sub(ref, ops.mul(ops.sub(ops.read(ref), value), decay))


def layer_norm(
    ops: Ops,
    x: Any,
    axes: Any,
    scale: Any = None,
    offset: Any = None,
    eps: float = 1e-5,
    name: str | None = None,
) -> Any:
    """``(x - mean) * rsqrt(var + eps) * scale + offset`` with the biased
    moments of each sample over `axes`."""
    centred = ops.sub(x, ops.mean(x, axes, keepdims=True))
    var = ops.mean(ops.square(centred), axes, keepdims=True)
    out = ops.mul(centred, ops.rsqrt(ops.add(var, eps)))
    if scale is not None:
        out = ops.mul(out, scale)
    return out if offset is None else ops.add(out, offset, **named(name))
