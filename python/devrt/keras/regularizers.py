"""``keras.regularizers``: penalties on weights, computed with devrt ops."""

from __future__ import annotations

from typing import Any

import devrt
from devrt.keras import serialization


class Regularizer:
    _keras_module = "keras.regularizers"

    def __call__(self, x: devrt.Tensor) -> devrt.Tensor:
        return devrt.zeros((), dtype=x.dtype, device=x.device)

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Regularizer:
        return cls(**config)


def _check(name: str, value: Any) -> float:
    value = float(value)
    if value < 0 or value != value:
        raise ValueError(
            f"Value for argument {name} should be a positive float. Received: {name}={value}"
        )
    return value


class L1L2(Regularizer):
    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = _check("l1", l1), _check("l2", l2)

    def __call__(self, x: devrt.Tensor) -> devrt.Tensor:
        penalty = None
        if self.l1:
            penalty = devrt.abs(x).sum() * self.l1
        if self.l2:
            term = (x * x).sum() * self.l2
            penalty = term if penalty is None else penalty + term
        return super().__call__(x) if penalty is None else penalty

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self) -> dict:
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    def __init__(self, factor: float = 0.01, mode: str = "rows") -> None:
        self.factor = _check("factor", factor)
        if mode not in ("rows", "columns"):
            raise ValueError(
                f"Invalid value for argument `mode`. Expected one of "
                f"{{'rows', 'columns'}}. Received: mode={mode}"
            )
        self.mode = mode

    def __call__(self, x: devrt.Tensor) -> devrt.Tensor:
        if x.ndim != 2:
            raise ValueError(
                f"Inputs to OrthogonalRegularizer must have rank 2. "
                f"Received: inputs.shape={tuple(x.shape)}"
            )
        x = x if self.mode == "rows" else x.T
        x = x / devrt.clamp((x * x).sum(dim=1, keepdim=True).sqrt(), min=1e-12)
        product = x @ x.T
        size = x.shape[0]
        off = product * (1 - devrt.eye(size, dtype=x.dtype, device=x.device))
        return self.factor * devrt.abs(off).sum() / (size * (size - 1) if size > 1 else 1)

    def get_config(self) -> dict:
        return {"factor": self.factor, "mode": self.mode}


l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer
_ALL = {
    "L1": L1,
    "L2": L2,
    "L1L2": L1L2,
    "OrthogonalRegularizer": OrthogonalRegularizer,
    "l1": L1,
    "l2": L2,
    "l1_l2": L1L2,
    "orthogonal_regularizer": OrthogonalRegularizer,
}


def serialize(regularizer: Any) -> Any:
    return serialization.serialize_keras_object(regularizer)


def deserialize(config: Any, custom_objects: dict | None = None) -> Any:
    return serialization.deserialize_keras_object(config, _ALL, custom_objects, "regularizer")


def get(identifier: Any) -> Any:
    if identifier is None:
        return None
    return serialization.get_keras_object(identifier, deserialize, "regularizer")
