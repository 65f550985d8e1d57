"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from devrt._composite import optimizers as rules
from devrt._composite.eager import EAGER
from devrt.optim.optimizer import Optimizer, as_number, check_hyperparameters


class SGD(Optimizer):
    """``torch.optim.SGD``: for each parameter, with ``g`` its gradient
    (negated when `maximize`)::

        g = g + weight_decay * p
        b = g                                          (first step)
        b = momentum * b + (1 - dampening) * g         (later steps)
        g = g + momentum * b  if nesterov  else  b     (when momentum != 0)
        p = p - lr * g
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_hyperparameters(lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if differentiable:
            raise NotImplementedError("[SGD] differentiable=True is not supported by devrt")
        defaults: dict[str, Any] = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any]) -> None:
        lr = as_number(group["lr"])
        momentum, dampening = group["momentum"], group["dampening"]
        weight_decay, nesterov = group["weight_decay"], group["nesterov"]
        for p in group["params"]:
            if p.grad is None:
                continue
            g = self._grad(p, group["maximize"])
            if weight_decay != 0:
                g = g + p * weight_decay
            if momentum == 0:
                rules.sgd(EAGER, p, g, lr)
                continue
            state = self.state[p]
            buf = state.get("momentum_buffer")
            first = buf is None
            if first:
                buf = state["momentum_buffer"] = g.detach().clone()
            rules.momentum(
                EAGER,
                p,
                g,
                buf,
                lr,
                momentum,
                dampening=dampening,
                nesterov=nesterov,
                update_buffer=not first,
            )
