"""``keras.optimizers.schedules``: learning rates that change with the step.

A schedule is called with the optimizer's iteration counter (an int64
Variable, or a Python int) and returns a 0-d devrt tensor of float type,
computed with devrt ops on the counter's device, so an optimizer step reads
it without copying anything to the host. The formulas, defaults and config
keys are Keras 3's.
"""

from __future__ import annotations

import math
from typing import Any

import devrt
from devrt.keras import backend

__all__ = [
    "CosineDecay",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "deserialize",
    "serialize",
]


def _step_as(step: Any, dtype: devrt.dtype) -> devrt.Tensor:
    """`step` as a 0-d tensor of `dtype` (a Python number goes to the
    current device)."""
    if isinstance(step, devrt.Tensor):
        return step if step.dtype is dtype else step.to(dtype)
    return backend.convert_to_tensor(step, dtype=dtype)


class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step)`` and ``get_config()``."""

    def __call__(self, step: Any) -> devrt.Tensor:
        raise NotImplementedError(
            f"[{type(self).__name__}] a learning rate schedule must override __call__(step)"
        )

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(
            f"[{type(self).__name__}] a learning rate schedule must override get_config() "
            "to be serializable"
        )

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        return cls(**config)

    def _float_dtype(self) -> devrt.dtype:
        # Keras computes in the dtype of the initial rate: floatx for a float.
        return backend.dtype_of(backend.floatx())


def _check_decay_steps(value: Any, arg: str = "decay_steps") -> None:
    if value <= 0:
        raise ValueError(f"Argument `{arg}` must be > 0. Received: {arg}={value}")


class _RateDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: their arguments,
    their config and the progress ``step / decay_steps`` (floored with
    `staircase`) that their formulas apply `decay_rate` to."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool,
        name: str,
    ) -> None:
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name
        _check_decay_steps(decay_steps)

    def _progress(self, step: Any) -> devrt.Tensor:
        p = _step_as(step, self._float_dtype()) / float(self.decay_steps)
        return p.floor() if self.staircase else p

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with
    `staircase` the exponent is floored."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "ExponentialDecay",
    ) -> None:
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step: Any) -> devrt.Tensor:
        p = self._progress(step)
        return devrt.pow(float(self.decay_rate), p) * float(self.initial_learning_rate)


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after."""

    def __init__(
        self, boundaries: list[Any], values: list[Any], name: str = "PiecewiseConstant"
    ) -> None:
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                f"values={values} of length {len(values)}."
            )
        self.boundaries = boundaries
        self.values = values
        self.name = name
        self._tables: dict[tuple[str, str], tuple[devrt.Tensor, devrt.Tensor]] = {}

    def __call__(self, step: Any) -> devrt.Tensor:
        if not isinstance(step, devrt.Tensor):
            step = backend.convert_to_tensor(step)
        key = (str(step.device), step.dtype.name)
        tables = self._tables.get(key)
        if tables is None:
            # Boundaries take the step's type, as Keras casts them.
            bounds = devrt.tensor(list(self.boundaries), device=step.device).to(step.dtype)
            values = devrt.tensor(
                [float(v) for v in self.values], dtype=self._float_dtype(), device=step.device
            )
            tables = self._tables[key] = (bounds, values)
        bounds, values = tables
        # The number of boundaries the step has passed is the index of its value.
        return values[(step > bounds).sum()]

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - step / decay_steps) ** power + end``, the step
    held at `decay_steps`, or (`cycle`) `decay_steps` stretched to the next
    multiple past the step."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
        name: str = "PolynomialDecay",
    ) -> None:
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name
        _check_decay_steps(decay_steps)

    def __call__(self, step: Any) -> devrt.Tensor:
        step = _step_as(step, self._float_dtype())
        decay_steps = float(self.decay_steps)
        if self.cycle:
            multiplier = devrt.where(step == 0, 1.0, (step / decay_steps).ceil())
            p = step / (multiplier * decay_steps)
        else:
            p = step.clamp(max=decay_steps) / decay_steps
        start, end = float(self.initial_learning_rate), float(self.end_learning_rate)
        return devrt.pow(1.0 - p, float(self.power)) * (start - end) + end

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``; with
    `staircase` the quotient is floored."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "InverseTimeDecay",
    ) -> None:
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step: Any) -> devrt.Tensor:
        p = self._progress(step)
        return float(self.initial_learning_rate) / (p * float(self.decay_rate) + 1.0)


class CosineDecay(LearningRateSchedule):
    """Cosine decay from `initial_learning_rate` (or, after a linear warmup of
    `warmup_steps` to `warmup_target`, from `warmup_target`) down to
    ``alpha`` times that rate over `decay_steps`."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target
        _check_decay_steps(decay_steps)

    def _decay(self, step: devrt.Tensor, decay_from: float) -> devrt.Tensor:
        fraction = step / float(self.decay_steps)
        cosine = ((fraction * math.pi).cos() + 1.0) * 0.5
        alpha = float(self.alpha)
        return (cosine * (1.0 - alpha) + alpha) * decay_from

    def __call__(self, step: Any) -> devrt.Tensor:
        step = _step_as(step, self._float_dtype())
        initial = float(self.initial_learning_rate)
        if self.warmup_target is None:
            return self._decay(step.clamp(max=float(self.decay_steps)), initial)
        warmup_steps, target = float(self.warmup_steps), float(self.warmup_target)
        step = step.clamp(max=float(self.decay_steps) + warmup_steps)
        # Both branches are scalars: computing both and picking one keeps the
        # choice on the device.
        warm = (step / warmup_steps) * (target - initial) + initial
        return devrt.where(step < warmup_steps, warm, self._decay(step - warmup_steps, target))

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


_SCHEDULES = {
    cls.__name__: cls
    for cls in (
        LearningRateSchedule,
        ExponentialDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        InverseTimeDecay,
        CosineDecay,
    )
}


def serialize(learning_rate_schedule: LearningRateSchedule) -> dict[str, Any]:
    """The schedule as Keras writes it: ``{"module", "class_name", "config",
    "registered_name"}``."""
    cls = type(learning_rate_schedule)
    builtin = _SCHEDULES.get(cls.__name__) is cls
    return {
        "module": "keras.optimizers.schedules" if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": learning_rate_schedule.get_config(),
        "registered_name": None if builtin else cls.__name__,
    }


def deserialize(
    config: dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> LearningRateSchedule:
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"[schedules.deserialize] expected a dict with 'class_name' and 'config', got {config!r}"
        )
    name = config["class_name"]
    custom = custom_objects or {}
    cls = custom.get(config.get("registered_name") or name) or custom.get(name)
    cls = cls or _SCHEDULES.get(name)
    if cls is None:
        raise ValueError(
            f"[schedules.deserialize] unknown schedule {name!r}; known: "
            + ", ".join(sorted(_SCHEDULES))
        )
    return cls.from_config(dict(config.get("config") or {}))
