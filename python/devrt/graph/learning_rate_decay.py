"""``tf.train`` learning-rate schedules: graph tensors of the global step,
so the rate changes as the step variable advances.
"""

from __future__ import annotations

import math
from typing import Any

from devrt.graph import dtypes
from devrt.graph import framework as fw
from devrt.graph.array_ops import cast
from devrt.graph.tensor_util import _apply, _t

__all__ = [
    "cosine_decay",
    "exponential_decay",
    "inverse_time_decay",
    "natural_exp_decay",
    "piecewise_constant",
    "polynomial_decay",
]


def _step(global_step: Any, dtype: dtypes.DType, what: str):
    if global_step is None:
        raise ValueError(f"[{what}] global_step is required")
    return cast(_t(global_step, what), dtype)


def _float(value: Any, dtype: dtypes.DType, what: str):
    return (
        cast(_t(value, what), dtype)
        if hasattr(value, "_to_tensor") or isinstance(value, fw.Tensor)
        else _t(value, what, dtype)
    )


def _learning_rate(learning_rate: Any, what: str) -> tuple[Any, dtypes.DType]:
    """`learning_rate` as a tensor of its floating dtype (float32 when it
    has none), and that dtype."""
    lr = _t(learning_rate, what)
    dt = lr.dtype if lr.dtype.is_floating else dtypes.float32
    return cast(lr, dt), dt


def _progress(global_step: Any, decay_steps: Any, staircase: bool, dt: dtypes.DType, what: str):
    """step / decay_steps, floored with `staircase`."""
    p = _apply("RealDiv", [_step(global_step, dt, what), _float(decay_steps, dt, what)], {})
    if staircase:
        p = _apply("Floor", [p], {})
    return p


def _capped_step(global_step: Any, decay_steps: Any, dt: dtypes.DType, what: str):
    """(min(step, decay_steps), decay_steps)."""
    steps = _float(decay_steps, dt, what)
    return _apply("Minimum", [_step(global_step, dt, what), steps], {}), steps


def exponential_decay(
    learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None
):
    """``tf.train.exponential_decay``: lr * decay_rate ** (step / decay_steps),
    the exponent floored with `staircase`."""
    with fw.name_scope(name, "ExponentialDecay", [learning_rate, global_step]) as scope:
        lr, dt = _learning_rate(learning_rate, "exponential_decay")
        p = _progress(global_step, decay_steps, staircase, dt, "exponential_decay")
        factor = _apply("Pow", [_float(decay_rate, dt, "exponential_decay"), p], {})
        return _apply("Mul", [lr, factor], {}, scope)


def inverse_time_decay(
    learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None
):
    """``tf.train.inverse_time_decay``: lr / (1 + decay_rate * step / decay_steps)."""
    with fw.name_scope(name, "InverseTimeDecay", [learning_rate, global_step]) as scope:
        lr, dt = _learning_rate(learning_rate, "inverse_time_decay")
        p = _progress(global_step, decay_steps, staircase, dt, "inverse_time_decay")
        den = _apply(
            "Add",
            [
                _t(1, "inverse_time_decay", dt),
                _apply("Mul", [_float(decay_rate, dt, "inverse_time_decay"), p], {}),
            ],
            {},
        )
        return _apply("RealDiv", [lr, den], {}, scope)


def polynomial_decay(
    learning_rate,
    global_step,
    decay_steps,
    end_learning_rate=0.0001,
    power=1.0,
    cycle=False,
    name=None,
):
    """``tf.train.polynomial_decay`` (without `cycle`): (lr - end) *
    (1 - min(step, decay_steps) / decay_steps) ** power + end."""
    if cycle:
        raise NotImplementedError("[polynomial_decay] cycle=True is not supported")
    with fw.name_scope(name, "PolynomialDecay", [learning_rate, global_step]) as scope:
        lr, dt = _learning_rate(learning_rate, "polynomial_decay")
        step, steps = _capped_step(global_step, decay_steps, dt, "polynomial_decay")
        frac = _apply(
            "Sub", [_t(1, "polynomial_decay", dt), _apply("RealDiv", [step, steps], {})], {}
        )
        end = _float(end_learning_rate, dt, "polynomial_decay")
        scaled = _apply(
            "Mul",
            [
                _apply("Sub", [lr, end], {}),
                _apply("Pow", [frac, _float(power, dt, "polynomial_decay")], {}),
            ],
            {},
        )
        return _apply("Add", [scaled, end], {}, scope)


def cosine_decay(learning_rate, global_step, decay_steps, alpha=0.0, name=None):
    """``tf.train.cosine_decay``: lr * ((1 - alpha) * 0.5 * (1 + cos(pi *
    min(step, decay_steps) / decay_steps)) + alpha)."""
    with fw.name_scope(name, "CosineDecay", [learning_rate, global_step]) as scope:
        lr, dt = _learning_rate(learning_rate, "cosine_decay")
        step, steps = _capped_step(global_step, decay_steps, dt, "cosine_decay")
        angle = _apply(
            "Mul", [_t(math.pi, "cosine_decay", dt), _apply("RealDiv", [step, steps], {})], {}
        )
        cos = _apply(
            "Mul",
            [
                _t(0.5, "cosine_decay", dt),
                _apply("Add", [_t(1, "cosine_decay", dt), _apply("Cos", [angle], {})], {}),
            ],
            {},
        )
        a = _float(alpha, dt, "cosine_decay")
        decayed = _apply(
            "Add",
            [_apply("Mul", [_apply("Sub", [_t(1, "cosine_decay", dt), a], {}), cos], {}), a],
            {},
        )
        return _apply("Mul", [lr, decayed], {}, scope)


def piecewise_constant(x, boundaries, values, name=None):
    """``tf.train.piecewise_constant``: values[0] while x <= boundaries[0],
    values[i] while x <= boundaries[i], values[-1] after; a Select chain."""
    if len(values) != len(boundaries) + 1:
        raise ValueError("[piecewise_constant] values must have one more entry than boundaries")
    with fw.name_scope(name, "PiecewiseConstant", [x]) as scope:
        t = _t(x, "piecewise_constant")
        vals = [_t(v, "piecewise_constant") for v in values]
        out = vals[-1]
        for i in reversed(range(len(boundaries))):
            b = _t(boundaries[i], "piecewise_constant", t.dtype)
            last = i == 0
            out = _apply(
                "Select",
                [_apply("LessEqual", [t, b], {}), vals[i], out],
                {},
                scope if last else None,
            )
        return out


def natural_exp_decay(
    learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None
):
    """``tf.train.natural_exp_decay``: lr * exp(-decay_rate * step / decay_steps),
    the ratio floored with `staircase`."""
    with fw.name_scope(name, "NaturalExpDecay", [learning_rate, global_step]) as scope:
        lr, dt = _learning_rate(learning_rate, "natural_exp_decay")
        p = _progress(global_step, decay_steps, staircase, dt, "natural_exp_decay")
        rate = _apply("Neg", [_float(decay_rate, dt, "natural_exp_decay")], {})
        factor = _apply("Exp", [_apply("Mul", [rate, p], {})], {})
        return _apply("Mul", [lr, factor], {}, scope)
