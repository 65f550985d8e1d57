"""Adam and AdamW (Adam with decoupled weight decay)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from devrt import _C
from devrt._composite import optimizers as rules
from devrt._composite.eager import EAGER
from devrt.optim.optimizer import Optimizer, as_number, check_hyperparameters


class Adam(Optimizer):
    """``torch.optim.Adam``: for each parameter, at step ``t``, with ``g`` its
    gradient (negated when `maximize`)::

        g = g + weight_decay * p          (or p = p * (1 - lr * weight_decay)
                                           when decoupled_weight_decay)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)             (amsgrad; then v_max replaces v below)
        denom = sqrt(v) / sqrt(1 - beta2 ** t) + eps
        p = p - lr / (1 - beta1 ** t) * m / denom
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        check_hyperparameters(lr=lr, eps=eps, weight_decay=weight_decay)
        for i, beta in enumerate(betas):
            if not 0.0 <= as_number(beta) < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        if differentiable:
            raise NotImplementedError(
                f"[{type(self).__name__}] differentiable=True is not supported by devrt"
            )
        defaults: dict[str, Any] = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any]) -> None:
        lr = as_number(group["lr"])
        beta1, beta2 = (as_number(b) for b in group["betas"])
        eps, weight_decay = group["eps"], group["weight_decay"]
        for p in group["params"]:
            if p.grad is None:
                continue
            g = self._grad(p, group["maximize"])
            state = self.state[p]
            if "exp_avg" not in state:
                state["step"] = _C.zeros((), dtype=_C.float32)
                state["exp_avg"] = _C.zeros(p.shape, dtype=p.dtype, device=p.device)
                state["exp_avg_sq"] = _C.zeros(p.shape, dtype=p.dtype, device=p.device)
            if group["amsgrad"] and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = _C.zeros(p.shape, dtype=p.dtype, device=p.device)
            step = self._step_counter(state)
            if weight_decay != 0:
                if group["decoupled_weight_decay"]:
                    EAGER.assign_mul(p, rules.decoupled_decay_factor(EAGER, lr, weight_decay))
                else:
                    g = g + p * weight_decay
            # Bias corrections are host scalars, computed as torch computes them.
            step_size, root_divisor = rules.adam_scales(
                EAGER, lr, beta1**step, beta2**step, epsilon_hat=False
            )
            rules.adam(
                EAGER,
                p,
                g,
                state["exp_avg"],
                state["exp_avg_sq"],
                beta1=beta1,
                beta2=beta2,
                eps=eps,
                step_size=step_size,
                root_divisor=root_divisor,
                v_max=state.get("max_exp_avg_sq") if group["amsgrad"] else None,
            )


class AdamW(Adam):
    """``torch.optim.AdamW``: Adam whose weight decay shrinks the parameter
    directly (``p = p * (1 - lr * weight_decay)``) instead of adding to the
    gradient; `weight_decay` defaults to 1e-2."""

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )
