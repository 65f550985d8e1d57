"""Adagrad, Keras 3's formulation."""

from __future__ import annotations

from typing import Any

from devrt._composite import optimizers as rules
from devrt._composite.eager import EAGER
from devrt.keras.optimizers.optimizer import Optimizer


class Adagrad(Optimizer):
    """``keras.optimizers.Adagrad(learning_rate=0.001,
    initial_accumulator_value=0.1, epsilon=1e-7, ...)``; for each variable
    ``w`` with gradient ``g``::

        acc = acc + g * g                 (acc starts at initial_accumulator_value)
        w = w - lr * g / sqrt(acc + epsilon)
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def build(self, var_list: Any) -> None:
        if self.built:
            return
        var_list = list(var_list)
        super().build(var_list)
        self._accumulators = self.add_optimizer_variables(
            var_list, "accumulator", initializer=float(self.initial_accumulator_value)
        )
        self._slots = [(a,) for a in self._accumulators]

    def _update(self, grads: list, indices: list[int], lr: Any) -> None:
        variables, slots = self._trainable_variables, self._slots
        epsilon, dtype = float(self.epsilon), lr.dtype
        for g, i in zip(grads, indices):
            var = variables[i]
            rate = lr if var.dtype is dtype else lr.to(var.dtype)
            rules.adagrad(EAGER, var, g, slots[i][0], lr=rate, eps=epsilon, eps_inside_sqrt=True)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon,
            }
        )
        return config
