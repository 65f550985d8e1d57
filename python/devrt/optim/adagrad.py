"""Adagrad and Adadelta: per-coordinate step sizes from accumulated squares."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from devrt import _C
from devrt._composite import optimizers as rules
from devrt._composite.eager import EAGER
from devrt.optim.optimizer import Optimizer, as_number, check_hyperparameters


class Adagrad(Optimizer):
    """``torch.optim.Adagrad``: for each parameter, with ``g`` its gradient
    (negated when `maximize`) and ``t`` the step count::

        g = g + weight_decay * p
        s = s + g * g                        (s starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_hyperparameters(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        if differentiable or fused:
            raise NotImplementedError(
                "[Adagrad] differentiable=True and fused=True are not supported by devrt"
            )
        defaults: dict[str, Any] = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        # As torch, the accumulators exist from the start (state_dict shows them).
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _C.zeros((), dtype=_C.float32)
                state["sum"] = _C.full(
                    p.shape, group["initial_accumulator_value"], dtype=p.dtype, device=p.device
                )

    def _update(self, group: dict[str, Any]) -> None:
        lr = as_number(group["lr"])
        for p in group["params"]:
            if p.grad is None:
                continue
            g = self._grad(p, group["maximize"])
            state = self.state[p]
            if "sum" not in state:
                state["sum"] = _C.full(
                    p.shape, group["initial_accumulator_value"], dtype=p.dtype, device=p.device
                )
            step = self._step_counter(state)
            if group["weight_decay"] != 0:
                g = g + p * group["weight_decay"]
            clr = lr / (1 + (step - 1) * group["lr_decay"])
            rules.adagrad(
                EAGER, p, g, state["sum"], lr=clr, eps=group["eps"], eps_inside_sqrt=False
            )


class Adadelta(Optimizer):
    """``torch.optim.Adadelta``: for each parameter, with ``g`` its gradient
    (negated when `maximize`)::

        g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g
        d = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * d * d
        p = p - lr * d
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_hyperparameters(lr=lr, eps=eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if differentiable:
            raise NotImplementedError("[Adadelta] differentiable=True is not supported by devrt")
        defaults: dict[str, Any] = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "capturable": capturable,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any]) -> None:
        lr = as_number(group["lr"])
        rho, eps = group["rho"], group["eps"]
        for p in group["params"]:
            if p.grad is None:
                continue
            g = self._grad(p, group["maximize"])
            state = self.state[p]
            if "square_avg" not in state:
                state["square_avg"] = _C.zeros(p.shape, dtype=p.dtype, device=p.device)
                state["acc_delta"] = _C.zeros(p.shape, dtype=p.dtype, device=p.device)
            self._step_counter(state)
            if group["weight_decay"] != 0:
                g = g + p * group["weight_decay"]
            rules.adadelta(
                EAGER, p, g, state["square_avg"], state["acc_delta"], lr=lr, rho=rho, eps=eps
            )
