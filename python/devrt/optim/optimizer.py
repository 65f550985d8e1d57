"""The Optimizer base class: parameter groups, per-parameter state, and the
state_dict layout of ``torch.optim`` (state keyed by parameter index).

Subclasses implement ``_update(group)``; ``step`` runs it for every group
under ``devrt.no_grad()``. Updates are in-place core ops on whole tensors.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

from devrt import _C
from devrt._C import Tensor
from devrt.autograd.grad_mode import enable_grad, no_grad


class _RequiredParameter:
    """The default of a hyper-parameter that has none (torch's ``required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _check_nonnegative(name: str, value: Any, what: str | None = None) -> None:
    if isinstance(value, Tensor):
        value = value.item()
    if not 0.0 <= value:
        raise ValueError(f"Invalid {what or name} value: {value}")


def as_number(value: Any) -> Any:
    """A hyper-parameter as a Python number (a 0-d tensor `lr` is allowed)."""
    return value.item() if isinstance(value, Tensor) else value


class Optimizer:
    """Base class of all optimizers.

    `params` is an iterable of tensors, of ``(name, tensor)`` pairs, or of
    dicts each defining a parameter group (a ``"params"`` entry plus any
    hyper-parameters that override `defaults`).
    """

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors "
                f"or dicts, but got {type(params).__name__}"
            )
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # --- groups -----------------------------------------------------------------

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group of parameters with its own hyper-parameters (for example
        a layer to unfreeze while fine-tuning)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs; use a list instead"
            )
        else:
            params = list(params)
        names = []
        if params and isinstance(params[0], tuple):
            names = [name for name, _ in params]
            params = [p for _, p in params]
            group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is "
                    f"{type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        if any(("param_names" in g) != bool(names) for g in self.param_groups):
            raise ValueError(
                "all optimizer param groups must be given with parameter names, or all without"
            )
        self.param_groups.append(group)

    # --- stepping -------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Resets the gradients of every parameter: drops them (the default) or
        fills them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    with no_grad():
                        p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Performs one optimization step. `closure` re-evaluates the model and
        returns the loss; it runs with gradients enabled."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                self._update(group)
        return loss

    def _update(self, group: dict[str, Any]) -> None:
        raise NotImplementedError(f"[{type(self).__name__}] subclasses must implement _update")

    @staticmethod
    def _grad(p: Tensor, maximize: bool) -> Tensor:
        return -p.grad if maximize else p.grad

    # --- state_dict -----------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as ``{"state": {index: {...}}, "param_groups":
        [{..., "params": [index, ...]}]}``, indices counting parameters across
        groups in order (the layout of ``torch.optim``). Tensors are references,
        not copies."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores a state from `state_dict` (as returned by ``state_dict()``).
        Floating-point state tensors are cast to their parameter's dtype and
        device; ``step`` counters are kept as they are."""
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError(
                "[load_state_dict] expected a dict with 'state' and 'param_groups' entries"
            )
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError(
                f"loaded state dict has a different number of parameter groups "
                f"({len(saved_groups)}) than the optimizer ({len(groups)})"
            )
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group that doesn't match the "
                    f"size of optimizer's group: group {i} has {len(s['params'])} "
                    f"parameters, the optimizer's has {len(g['params'])}"
                )
        id_map = dict(
            zip(
                chain.from_iterable(s["params"] for s in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )
        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                param = id_map[key]
                state[param] = _cast_state(param, value, key=None)
            else:
                state[key] = value
        new_groups = []
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
            new_groups.append(s)
        self.__setstate__({"state": state, "param_groups": new_groups})

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for group in self.param_groups:
            for name, default in self.defaults.items():
                if default is not required:
                    group.setdefault(name, default)

    def __repr__(self) -> str:
        out = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            out += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    out += f"    {key}: {group[key]}\n"
        return out + ")"

    # --- helpers for subclasses ---------------------------------------------------

    @staticmethod
    def _step_counter(state: dict[str, Any]) -> float:
        """Advances ``state["step"]`` (a 0-d float32 tensor, as torch keeps it)
        and returns the new count."""
        step = state.get("step")
        if step is None:
            step = state["step"] = _C.zeros((), dtype=_C.float32)
        elif not isinstance(step, Tensor):
            step = state["step"] = _C.full((), float(step), dtype=_C.float32)
        step.add_(1)
        return step.item()


def _cast_state(param: Tensor, value: Any, key: str | None) -> Any:
    """A copy of a loaded state value, its tensors moved to `param`'s device
    (and dtype, for floating-point ones other than ``step``)."""
    if isinstance(value, Tensor):
        if key == "step":
            return value.clone()
        if value.is_floating_point() and param.is_floating_point():
            return value.to(dtype=param.dtype, device=param.device, copy=True)
        return value.to(device=param.device, copy=True)
    if isinstance(value, dict):
        return {k: _cast_state(param, v, key=k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(param, v, key=key) for v in value)
    return value


def check_hyperparameters(**values: Any) -> None:
    """Raises torch's ValueError for a negative learning rate, epsilon, ..."""
    labels = {"lr": "learning rate", "eps": "epsilon", "weight_decay": "weight_decay"}
    for name, value in values.items():
        _check_nonnegative(name, value, labels.get(name))
