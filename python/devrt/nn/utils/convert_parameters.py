"""Parameters to one flat vector and back, as torch.nn.utils."""

from __future__ import annotations

from collections.abc import Iterable

import devrt
from devrt import _C

Tensor = _C.Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _same_device(name: str, params: list[Tensor]) -> None:
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"[{name}] parameters[{i}] is a {type(p).__name__}, not a Tensor")
        if p.device != params[0].device:
            raise TypeError(
                f"[{name}] parameters[{i}] is on {p.device} but parameters[0] is on "
                f"{params[0].device}; all parameters must be on one device"
            )


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """The parameters flattened and concatenated into one 1-D tensor (a new
    tensor, differentiable with respect to them)."""
    params = list(parameters)
    _same_device("parameters_to_vector", params)
    return devrt.cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Sets each parameter's data to its consecutive slice of the 1-D `vec`,
    in order; the parameters then share `vec`'s memory, as in torch."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"[vector_to_parameters] vec must be a Tensor, got {type(vec).__name__}")
    if vec.dim() != 1:
        raise ValueError(f"[vector_to_parameters] vec must be 1-D, got shape {tuple(vec.shape)}")
    params = list(parameters)
    _same_device("vector_to_parameters", params)
    needed = sum(p.numel() for p in params)
    if vec.numel() < needed:
        raise ValueError(
            f"[vector_to_parameters] vec has {vec.numel()} elements but the parameters "
            f"need {needed}"
        )
    offset = 0
    for p in params:
        n = p.numel()
        p.data = vec[offset : offset + n].reshape(p.shape).data
        offset += n
