"""Parameter: a tensor that a Module registers as one of its parameters."""

from __future__ import annotations

from typing import Any

import devrt
from devrt import _C


class Parameter(_C.Tensor):
    """A tensor that is a module parameter: assigning one to a Module
    attribute registers it, and it requires grad by default.

    ``Parameter(t)`` shares `t`'s memory (as ``torch.nn.Parameter`` does);
    the results of ops on a Parameter are plain tensors.
    """

    def __init__(self, data: _C.Tensor | None = None, requires_grad: bool = True) -> None:
        if data is None:
            data = devrt.empty(0)
        elif not isinstance(data, _C.Tensor):
            raise TypeError(
                f"[Parameter] expected a devrt.Tensor as data, got {type(data).__name__}"
            )
        super().__init__(data)
        self.requires_grad_(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + _C.Tensor.__repr__(self)

    __str__ = __repr__

    def __deepcopy__(self, memo: dict) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.detach().clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol: int) -> tuple:
        # The data pickles as a plain tensor; the Parameter is rebuilt around it.
        return (_rebuild_parameter, (self.detach(), self.requires_grad))


def _rebuild_parameter(data: Any, requires_grad: bool) -> Parameter:
    return Parameter(data, requires_grad)
