"""RMSprop, plain or centered, with optional momentum."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from devrt import _C
from devrt._composite import optimizers as rules
from devrt._composite.eager import EAGER
from devrt.optim.optimizer import Optimizer, as_number, check_hyperparameters


class RMSprop(Optimizer):
    """``torch.optim.RMSprop``: for each parameter, with ``g`` its gradient
    (negated when `maximize`)::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v) + eps
        (centered: m = alpha * m + (1 - alpha) * g;  avg = sqrt(v - m * m) + eps)
        b = momentum * b + g / avg;  p = p - lr * b     (momentum > 0)
        p = p - lr * g / avg                            (otherwise)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_hyperparameters(
            lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha
        )
        if differentiable:
            raise NotImplementedError("[RMSprop] differentiable=True is not supported by devrt")
        defaults: dict[str, Any] = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any]) -> None:
        lr = as_number(group["lr"])
        alpha, eps, momentum = group["alpha"], group["eps"], group["momentum"]
        weight_decay = group["weight_decay"]
        for p in group["params"]:
            if p.grad is None:
                continue
            g = self._grad(p, group["maximize"])
            state = self.state[p]
            if "square_avg" not in state:
                state["step"] = _C.zeros((), dtype=_C.float32)
                state["square_avg"] = _C.zeros(p.shape, dtype=p.dtype, device=p.device)
                if momentum > 0:
                    state["momentum_buffer"] = _C.zeros(p.shape, dtype=p.dtype, device=p.device)
                if group["centered"]:
                    state["grad_avg"] = _C.zeros(p.shape, dtype=p.dtype, device=p.device)
            self._step_counter(state)
            if weight_decay != 0:
                g = g + p * weight_decay
            rules.rmsprop(
                EAGER,
                p,
                g,
                state["square_avg"],
                lr=lr,
                rho=alpha,
                eps=eps,
                mg=state["grad_avg"] if group["centered"] else None,
                mom=state["momentum_buffer"] if momentum > 0 else None,
                momentum=momentum,
                eps_inside_sqrt=False,
            )
