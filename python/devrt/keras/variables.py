"""``keras.Variable``: a devrt tensor that a layer, metric or optimizer owns.

A Variable *is* a devrt tensor (as ``nn.Parameter`` is), so every op takes
it directly and autograd records through it with no conversion on the hot
path. A trainable variable requires grad; assignment writes in place
without recording.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import devrt
from devrt.keras import backend


class Variable(devrt.Tensor):
    """``keras.Variable(initializer, shape=None, dtype=None, trainable=True,
    name=None)``: `initializer` is a value (array, tensor, number) or a
    callable ``initializer(shape, dtype)``."""

    def __init__(
        self,
        initializer: Any,
        shape: Any = None,
        dtype: Any = None,
        trainable: bool = True,
        autocast: bool = True,
        aggregation: str = "none",
        synchronization: str = "auto",
        name: str | None = None,
    ) -> None:
        if isinstance(initializer, str):
            from devrt.keras import initializers

            initializer = initializers.get(initializer)
        dtype = backend.standardize_dtype(dtype)
        if callable(initializer) and not isinstance(initializer, devrt.Tensor):
            if shape is None:
                raise ValueError(
                    "[Variable] a callable initializer needs a shape: "
                    "Variable(initializer, shape=..., dtype=...)"
                )
            value = initializer(tuple(int(d) for d in shape), dtype=dtype)
        else:
            value = initializer
        value = backend.convert_to_tensor(value, dtype=dtype)
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise ValueError(
                f"[Variable] initial value has shape {tuple(value.shape)}, expected {tuple(shape)}"
            )
        # The variable owns its storage: never alias the caller's array.
        super().__init__(value.detach().clone().contiguous())
        self.name = name or "variable"
        self.path = self.name
        self._trainable = bool(trainable)
        self.aggregation = aggregation
        self.synchronization = synchronization
        self.autocast = autocast
        self.requires_grad_(self._trainable and self.is_floating_point())

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        self.requires_grad_(self._trainable and self.is_floating_point())

    @property
    def value(self) -> devrt.Tensor:
        return self

    def assign(self, value: Any) -> Variable:
        value = backend.convert_to_tensor(value, dtype=self.dtype, device=str(self.device))
        if tuple(value.shape) != tuple(self.shape):
            raise ValueError(
                f"[Variable.assign] {self.path}: the value has shape {tuple(value.shape)}, "
                f"the variable {tuple(self.shape)}"
            )
        with devrt.no_grad():
            self.copy_(value)
        return self

    def assign_add(self, value: Any) -> Variable:
        with devrt.no_grad():
            self.add_(value)
        return self

    def assign_sub(self, value: Any) -> Variable:
        with devrt.no_grad():
            self.sub_(value)
        return self

    def numpy(self, *, force: bool = False) -> np.ndarray:  # type: ignore[override]
        """A copy of the value as a NumPy array (Keras semantics: never a view)."""
        return np.array(devrt.Tensor.numpy(self.detach().cpu(), force=True), copy=True)

    def __repr__(self) -> str:
        return (
            f"<Variable path={self.path}, shape={tuple(self.shape)}, "
            f"dtype={self.dtype.name}, value={self.numpy()}>"
        )

    __str__ = __repr__

    def __deepcopy__(self, memo: dict) -> Variable:
        result = Variable(self.detach().clone(), trainable=self._trainable, name=self.name)
        result.path = self.path
        memo[id(self)] = result
        return result
