"""Adam (optionally AMSGrad) and AdamW, Keras 3's formulation."""

from __future__ import annotations

from typing import Any

import devrt
from devrt._composite import optimizers as rules
from devrt._composite.eager import EAGER
from devrt.keras.optimizers.optimizer import Optimizer


class Adam(Optimizer):
    """``keras.optimizers.Adam(learning_rate=0.001, beta_1=0.9,
    beta_2=0.999, epsilon=1e-7, amsgrad=False, ...)``; at step ``t`` (from
    1), for each variable ``w`` with gradient ``g``::

        alpha = lr * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        v_hat = max(v_hat, v)                     (amsgrad; then v_hat replaces v)
        w = w - alpha * m / (sqrt(v) + epsilon)

    Note that epsilon is added to sqrt(v) *after* the bias correction is
    folded into alpha (Keras' "epsilon hat"), unlike torch.optim.Adam.
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def build(self, var_list: Any) -> None:
        if self.built:
            return
        var_list = list(var_list)
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat")
            self._slots = list(zip(self._momentums, self._velocities, self._velocity_hats))
        else:
            self._slots = list(zip(self._momentums, self._velocities))

    def _update(self, grads: list, indices: list[int], lr: Any) -> None:
        variables, slots = self._trainable_variables, self._slots
        beta_1, beta_2, epsilon = float(self.beta_1), float(self.beta_2), float(self.epsilon)
        t = self._local_step()
        alpha, _ = rules.adam_scales(
            EAGER, lr, devrt.pow(beta_1, t), devrt.pow(beta_2, t), epsilon_hat=True
        )
        dtype, amsgrad = alpha.dtype, self.amsgrad
        for g, i in zip(grads, indices):
            var = variables[i]
            rules.adam(
                EAGER,
                var,
                g,
                slots[i][0],
                slots[i][1],
                beta1=beta_1,
                beta2=beta_2,
                eps=epsilon,
                step_size=alpha if var.dtype is dtype else alpha.to(var.dtype),
                v_max=slots[i][2] if amsgrad else None,
            )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "amsgrad": self.amsgrad,
            }
        )
        return config


class AdamW(Adam):
    """``keras.optimizers.AdamW(learning_rate=0.001, weight_decay=0.004,
    beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, ...)``: Adam whose
    weight decay shrinks each variable by ``1 - weight_decay * lr`` before
    the update."""

    def __init__(
        self,
        learning_rate: Any = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
            weight_decay=weight_decay,
            **kwargs,
        )
        if self.weight_decay is None:
            raise ValueError(
                "[AdamW] argument `weight_decay` must be a float. Received: weight_decay=None"
            )
