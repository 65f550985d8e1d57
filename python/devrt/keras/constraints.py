"""``keras.constraints``: projections applied to a weight after each update."""

from __future__ import annotations

from typing import Any

import devrt
from devrt.keras import serialization


class Constraint:
    _keras_module = "keras.constraints"

    def __call__(self, w: devrt.Tensor) -> devrt.Tensor:
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Constraint:
        return cls(**config)


def _norms(w: devrt.Tensor, axis: Any) -> devrt.Tensor:
    return (w * w).sum(dim=axis, keepdim=True).sqrt()


class MaxNorm(Constraint):
    def __init__(self, max_value: float = 2, axis: Any = 0) -> None:
        self.max_value, self.axis = max_value, axis

    def __call__(self, w: devrt.Tensor) -> devrt.Tensor:
        norms = _norms(w, self.axis)
        desired = devrt.clamp(norms, 0, self.max_value)
        return w * (desired / (norms + 1e-7))

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    def __call__(self, w: devrt.Tensor) -> devrt.Tensor:
        return devrt.relu(w)


class UnitNorm(Constraint):
    def __init__(self, axis: Any = 0) -> None:
        self.axis = axis

    def __call__(self, w: devrt.Tensor) -> devrt.Tensor:
        return w / (_norms(w, self.axis) + 1e-7)

    def get_config(self) -> dict:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    def __init__(
        self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: Any = 0
    ) -> None:
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w: devrt.Tensor) -> devrt.Tensor:
        norms = _norms(w, self.axis)
        desired = self.rate * devrt.clamp(norms, self.min_value, self.max_value)
        desired = desired + (1 - self.rate) * norms
        return w * (desired / (norms + 1e-7))

    def get_config(self) -> dict:
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm
_ALL = {
    "MaxNorm": MaxNorm,
    "NonNeg": NonNeg,
    "UnitNorm": UnitNorm,
    "MinMaxNorm": MinMaxNorm,
    "max_norm": MaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
    "min_max_norm": MinMaxNorm,
}


def serialize(constraint: Any) -> Any:
    return serialization.serialize_keras_object(constraint)


def deserialize(config: Any, custom_objects: dict | None = None) -> Any:
    return serialization.deserialize_keras_object(config, _ALL, custom_objects, "constraint")


def get(identifier: Any) -> Any:
    if identifier is None:
        return None
    return serialization.get_keras_object(identifier, deserialize, "constraint")
