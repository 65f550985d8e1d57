"""Initializers' math written once: the fans of a weight shape and the
variance-scaling rule (Glorot/Xavier, He/Kaiming, LeCun), for
``devrt.nn.init``, ``tf`` initializers (``init_ops``, ``tf.contrib``) and
``keras.initializers``.
"""

from __future__ import annotations

import math
from typing import Any

from devrt._composite.protocol import Ops

# The standard deviation of a unit normal truncated to (-2, 2): a truncated
# normal of stddev s / TRUNCATED_STDDEV has variance s ** 2.
TRUNCATED_STDDEV = 0.87962566103423978


def fans(shape: Any, out_first: bool = False) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight `shape`: a kernel's receptive field
    (its other dimensions) times its input and output channels. Keras and
    TF kernels are (..., in, out); torch weights (`out_first`) are (out,
    in, ...). A scalar counts 1 and 1, a vector its length for both."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if out_first:
        return shape[1] * math.prod(shape[2:]), shape[0] * math.prod(shape[2:])
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def variance_scaling_parameter(
    scale: float, mode: str, distribution: str, fan_in: float, fan_out: float
) -> float:
    """The stddev (normal, truncated normal) or the limit (uniform) of
    samples of variance ``scale / n``, n being `fan_in`, `fan_out` or
    their average (`mode`), at least 1."""
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    variance = scale / max(1.0, n)
    if distribution == "truncated_normal":
        return math.sqrt(variance) / TRUNCATED_STDDEV
    if distribution == "untruncated_normal":
        return math.sqrt(variance)
    return math.sqrt(3.0 * variance)


def variance_scaling(
    ops: Ops,
    shape: Any,
    dtype: Any,
    scale: float,
    mode: str,
    distribution: str,
    seed: Any = None,
    device: Any = None,
) -> Any:
    """Samples of shape `shape` with the variance ``scale / n`` of
    ``variance_scaling_parameter``, from `distribution` ("truncated_normal",
    "untruncated_normal" or "uniform"), with the fans of a (..., in, out)
    kernel."""
    fan_in, fan_out = fans(shape)
    value = variance_scaling_parameter(scale, mode, distribution, fan_in, fan_out)
    return sample(ops, distribution, shape, dtype, value, seed, device)


def sample(
    ops: Ops,
    distribution: str,
    shape: Any,
    dtype: Any,
    value: float,
    seed: Any = None,
    device: Any = None,
) -> Any:
    """Zero-mean samples of `distribution` with stddev (normals) or limit
    (uniform) `value`."""
    if distribution == "truncated_normal":
        return ops.truncated_normal(shape, dtype, 0.0, value, seed, device)
    if distribution == "untruncated_normal":
        return ops.random_normal(shape, dtype, 0.0, value, seed, device)
    return ops.random_uniform(shape, dtype, -value, value, seed, device)
