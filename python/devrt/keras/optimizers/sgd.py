"""SGD with optional (Nesterov) momentum, Keras 3's formulation."""

from __future__ import annotations

from typing import Any

from devrt._composite import optimizers as rules
from devrt._composite.eager import EAGER
from devrt.keras.optimizers.optimizer import Optimizer


class SGD(Optimizer):
    """``keras.optimizers.SGD(learning_rate=0.01, momentum=0.0,
    nesterov=False, ...)``; for each variable ``w`` with gradient ``g``::

        w = w - lr * g                                  (momentum 0)
        m = momentum * m - lr * g                       (otherwise)
        w = w + m                  or, nesterov,  w = w + momentum * m - lr * g
    """

    def __init__(
        self,
        learning_rate: Any = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
            raise ValueError("[SGD] `momentum` must be a float between [0, 1].")
        if not 0 <= momentum <= 1:
            raise ValueError(f"[SGD] `momentum` must be a float between [0, 1], got {momentum}")
        self.momentum = float(momentum)
        self.nesterov = nesterov

    def build(self, variables: Any) -> None:
        if self.built:
            return
        variables = list(variables)
        super().build(variables)
        self.momentums = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(variables, "momentum")
            self._slots = [(m,) for m in self.momentums]

    def _update(self, grads: list, indices: list[int], lr: Any) -> None:
        variables, slots = self._trainable_variables, self._slots
        dtype = lr.dtype
        if self.momentum == 0:
            for g, i in zip(grads, indices):
                var = variables[i]
                rules.sgd(EAGER, var, g, lr if var.dtype is dtype else lr.to(var.dtype))
            return
        momentum, nesterov = self.momentum, self.nesterov
        for g, i in zip(grads, indices):
            var = variables[i]
            rate = lr if var.dtype is dtype else lr.to(var.dtype)
            rules.velocity(EAGER, var, g, slots[i][0], rate, momentum, nesterov=nesterov)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config
