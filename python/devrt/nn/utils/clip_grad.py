"""Gradient clipping: by total norm and by value, as torch.nn.utils.

Norms are devrt reductions over whole gradient tensors and the scaling is an
in-place core op run under ``devrt.no_grad()``; the total norm stays a 0-d
tensor on the first gradient's device. ``foreach`` is accepted for
compatibility and ignored: devrt always works tensor by tensor.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import devrt
from devrt import _C

Tensor = _C.Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]

_TensorOrTensors = Tensor | Iterable[Tensor]


def _tensor_list(name: str, what: str, tensors: Any) -> list[Tensor]:
    """`tensors` (one tensor or an iterable of them) as a list."""
    if isinstance(tensors, Tensor):
        return [tensors]
    try:
        items = list(tensors)
    except TypeError:
        raise TypeError(
            f"[{name}] {what} must be a Tensor or an iterable of Tensors, "
            f"got {type(tensors).__name__}"
        ) from None
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"[{name}] {what}[{i}] is a {type(t).__name__}, not a Tensor")
    return items


def _grads(name: str, parameters: Any) -> list[Tensor]:
    return [p.grad for p in _tensor_list(name, "parameters", parameters) if p.grad is not None]


def _vector_norm(t: Tensor, p: float) -> Tensor:
    """The `p`-norm of `t` flattened, as a 0-d tensor (p = 0 counts non-zeros,
    +-inf is the largest/smallest magnitude)."""
    if p == 2.0:
        return (t * t).sum().sqrt()
    if p == 1.0:
        return t.abs().sum()
    if p == math.inf:
        return t.abs().max()
    if p == -math.inf:
        return t.abs().min()
    if p == 0.0:
        return t.ne(0).sum().to(t.dtype)
    return (t.abs() ** p).sum() ** (1.0 / p)


def _is_finite(t: Tensor) -> bool:
    return bool(t.abs() < math.inf)  # NaN compares False as well


def _total_norm(
    name: str, grads: list[Tensor], norm_type: float, error_if_nonfinite: bool
) -> Tensor:
    norm_type = float(norm_type)
    if not grads:
        return devrt.tensor(0.0)
    device = grads[0].device
    norms = [_vector_norm(g, norm_type).to(device) for g in grads]
    total = _vector_norm(devrt.stack(norms), norm_type)
    if error_if_nonfinite and not _is_finite(total):
        raise RuntimeError(
            f"[{name}] the total norm of order {norm_type} of the gradients is "
            f"{total.item()}, which is non-finite, so they cannot be clipped; pass "
            f"error_if_nonfinite=False to scale them by it anyway"
        )
    return total


def get_total_norm(
    tensors: _TensorOrTensors,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """The `norm_type`-norm of the norms of `tensors` (the norm of all of them
    concatenated), a 0-d tensor; ``devrt.tensor(0.0)`` when there are none.
    Raises RuntimeError for a NaN or infinite norm if `error_if_nonfinite`."""
    tensors = _tensor_list("get_total_norm", "tensors", tensors)
    return _total_norm("get_total_norm", tensors, norm_type, error_if_nonfinite)


def _scale_grads(grads: list[Tensor], max_norm: float, total_norm: Tensor) -> None:
    coef = (float(max_norm) / (total_norm + 1e-6)).clamp(max=1.0)
    with devrt.no_grad():
        for g in grads:
            g.mul_(coef.to(g.device))


def clip_grads_with_norm_(
    parameters: _TensorOrTensors,
    max_norm: float,
    total_norm: Tensor,
    foreach: bool | None = None,
) -> None:
    """Scales the gradients of `parameters` in place by
    ``min(1, max_norm / (total_norm + 1e-6))``."""
    grads = _grads("clip_grads_with_norm_", parameters)
    if not grads:
        return
    if not isinstance(total_norm, Tensor):
        raise TypeError(
            f"[clip_grads_with_norm_] total_norm must be a Tensor, got {type(total_norm).__name__}"
        )
    _scale_grads(grads, max_norm, total_norm)


def clip_grad_norm_(
    parameters: _TensorOrTensors,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scales the gradients of `parameters` in place so that their total
    `norm_type`-norm (computed as if they were concatenated; ``inf`` for the
    largest magnitude) is at most `max_norm`, by
    ``min(1, max_norm / (total_norm + 1e-6))``. Parameters without a gradient
    are skipped. Returns the total norm before clipping, a 0-d tensor.
    Raises RuntimeError for a NaN or infinite norm if `error_if_nonfinite`."""
    grads = _grads("clip_grad_norm_", parameters)
    total = _total_norm("clip_grad_norm_", grads, norm_type, error_if_nonfinite)
    if grads:
        _scale_grads(grads, max_norm, total)
    return total


def clip_grad_value_(
    parameters: _TensorOrTensors, clip_value: float, foreach: bool | None = None
) -> None:
    """Clamps the gradients of `parameters` in place to
    ``[-clip_value, clip_value]``; parameters without a gradient are skipped."""
    clip_value = float(clip_value)
    with devrt.no_grad():
        for g in _grads("clip_grad_value_", parameters):
            g.clamp_(min=-clip_value, max=clip_value)
