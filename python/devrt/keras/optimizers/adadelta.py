"""Adadelta, Keras 3's formulation."""

from __future__ import annotations

from typing import Any

from devrt._composite import optimizers as rules
from devrt._composite.eager import EAGER
from devrt.keras.optimizers.optimizer import Optimizer


class Adadelta(Optimizer):
    """``keras.optimizers.Adadelta(learning_rate=0.001, rho=0.95,
    epsilon=1e-7, ...)``; for each variable ``w`` with gradient ``g``::

        acc_grad = rho * acc_grad + (1 - rho) * g * g
        delta = sqrt(acc_delta + epsilon) / sqrt(acc_grad + epsilon) * g
        acc_delta = rho * acc_delta + (1 - rho) * delta * delta
        w = w - lr * delta
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def build(self, var_list: Any) -> None:
        if self.built:
            return
        var_list = list(var_list)
        super().build(var_list)
        grads, deltas = self.add_optimizer_variables(
            var_list, ["accumulated_grad", "accumulated_delta_var"]
        )
        self._slots = list(zip(grads, deltas))

    def _update(self, grads: list, indices: list[int], lr: Any) -> None:
        variables, slots = self._trainable_variables, self._slots
        rho, epsilon, dtype = float(self.rho), float(self.epsilon), lr.dtype
        for g, i in zip(grads, indices):
            var = variables[i]
            rate = lr if var.dtype is dtype else lr.to(var.dtype)
            acc_grad, acc_delta = slots[i]
            rules.adadelta(EAGER, var, g, acc_grad, acc_delta, lr=rate, rho=rho, eps=epsilon)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config
