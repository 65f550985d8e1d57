"""Activations written once: ``devrt.nn.functional``, ``tf.nn`` /
``tf.math`` and ``keras.activations`` call these.

Each branch that could overflow is fed an input confined to its own side
by a ``where`` on the same condition (never a clamp or maximum, whose
derivative at the boundary would split), so neither the value nor the
derivative of the branch that is not taken can be inf or NaN.
"""

from __future__ import annotations

import math
from typing import Any

from devrt._composite.protocol import Ops, named


def softplus(
    ops: Ops, x: Any, beta: float = 1.0, threshold: float | None = None, name: str | None = None
) -> Any:
    """``log(1 + exp(beta * x)) / beta``, as ``max(z, 0) + log1p(exp(-|z|))``
    with ``z = beta * x``, so exp never overflows; its derivative at 0 is
    1/2. Where ``z > threshold`` (when given) the result is `x` itself."""
    z = x if beta == 1 else ops.mul(x, beta)
    if math.isinf(beta):
        return _softplus_infinite_beta(ops, x, z, threshold, name)
    positive = ops.greater(z, 0)
    smooth = ops.add(
        ops.where(positive, z, 0.0),
        ops.log1p(ops.exp(ops.where(positive, ops.neg(z), z))),
        **named(name if beta == 1 and threshold is None else None),
    )
    if beta != 1:
        smooth = ops.div(smooth, beta, **named(name if threshold is None else None))
    if threshold is None:
        return smooth
    return ops.where(ops.greater(z, threshold), x, smooth, **named(name))


def _softplus_infinite_beta(ops: Ops, x: Any, z: Any, threshold: float | None, name: str | None):
    """softplus at an infinite beta, as PyTorch's: ``z = beta * x`` is an
    infinity or NaN (at x = 0), so ``log1p(exp(z)) / beta`` is 0 where z is
    -inf and NaN elsewhere (inf / inf); past the threshold the result is
    `x`. The derivative is 0, NaN, or 1 past the threshold. It must not go
    through z: the zero gradient an unselected branch gets, times beta, is
    NaN. So the NaN branch is fed `x` only where it is selected."""
    below = ops.greater(ops.neg(z), 0)
    over = None if threshold is None else ops.greater(z, threshold)
    rest = ops.where(below, 0.0, x)
    if over is not None:
        rest = ops.where(over, 0.0, rest)
    smooth = ops.where(below, 0.0, ops.mul(rest, math.nan), **named(name if over is None else None))
    return smooth if over is None else ops.where(over, x, smooth, **named(name))


def swish(ops: Ops, x: Any, beta: float = 1.0, name: str | None = None) -> Any:
    """``x * sigmoid(beta * x)`` (SiLU for beta 1)."""
    return ops.mul(x, ops.sigmoid(x if beta == 1 else ops.mul(x, beta)), **named(name))


def log_sigmoid(ops: Ops, x: Any, name: str | None = None) -> Any:
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large |x|."""
    return ops.neg(softplus(ops, ops.neg(x)), **named(name))


def softsign(ops: Ops, x: Any, name: str | None = None) -> Any:
    """``x / (1 + |x|)``."""
    return ops.div(x, ops.add(ops.abs(x), 1), **named(name))


def elu(ops: Ops, x: Any, alpha: float = 1.0, name: str | None = None) -> Any:
    """`x` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    positive = ops.greater(x, 0)
    neg = ops.expm1(ops.where(positive, 0.0, x))
    if alpha != 1:
        neg = ops.mul(neg, alpha)
    return ops.where(positive, x, neg, **named(name))
