"""RMSprop (plain or centered, with optional momentum), Keras 3's formulation."""

from __future__ import annotations

from typing import Any

from devrt._composite import optimizers as rules
from devrt._composite.eager import EAGER
from devrt.keras.optimizers.optimizer import Optimizer


class RMSprop(Optimizer):
    """``keras.optimizers.RMSprop(learning_rate=0.001, rho=0.9,
    momentum=0.0, epsilon=1e-7, centered=False, ...)``; for each variable
    ``w`` with gradient ``g``::

        v = rho * v + (1 - rho) * g * g
        a = rho * a + (1 - rho) * g                     (centered)
        d = sqrt(v + epsilon)     or, centered,   d = sqrt(v + epsilon - a * a)
        step = lr * g / d
        m = momentum * m + step;  w = w - m             (momentum > 0)
        w = w - step                                    (otherwise)
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def build(self, var_list: Any) -> None:
        if self.built:
            return
        var_list = list(var_list)
        super().build(var_list)
        # Keras' order: all velocities, then all momentums, then all averages.
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._average_gradients = []
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(var_list, "average_gradient")
        n = len(var_list)
        self._slots = list(
            zip(
                self._velocities,
                self._momentums or [None] * n,
                self._average_gradients or [None] * n,
            )
        )

    def _update(self, grads: list, indices: list[int], lr: Any) -> None:
        variables, slots = self._trainable_variables, self._slots
        rho, epsilon, momentum = float(self.rho), float(self.epsilon), float(self.momentum)
        dtype = lr.dtype
        for g, i in zip(grads, indices):
            var = variables[i]
            velocity, mom, average = slots[i]
            rules.rmsprop(
                EAGER,
                var,
                g,
                velocity,
                lr=lr if var.dtype is dtype else lr.to(var.dtype),
                rho=rho,
                eps=epsilon,
                mg=average,
                mom=mom,
                momentum=momentum,
                eps_inside_sqrt=True,
                center_before_eps=False,
            )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "rho": self.rho,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "centered": self.centered,
            }
        )
        return config
