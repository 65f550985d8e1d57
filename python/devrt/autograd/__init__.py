"""devrt.autograd: reverse-mode differentiation recorded by the C++ core."""

from __future__ import annotations

from collections.abc import Sequence

from devrt import _C
from devrt._C import Tensor
from devrt.autograd.function import Function, FunctionCtx
from devrt.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = [
    "Function",
    "FunctionCtx",
    "Variable",
    "backward",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
]


def _as_list(x) -> list:
    if x is None:
        return []
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def backward(
    tensors,
    grad_tensors=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulates the gradients of `tensors` into the leaves' ``.grad``.
    With `create_graph`, the gradients are recorded too, so that they can be
    differentiated again; `retain_graph` then defaults to True."""
    tensors = _as_list(tensors)
    grads = _as_list(grad_tensors) or [None] * len(tensors)
    retain = create_graph if retain_graph is None else bool(retain_graph)
    _C._backward(tensors, grads, retain, bool(create_graph))


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """The gradients of `outputs` with respect to `inputs` (``.grad``
    untouched). With `create_graph`, the gradients carry a history of their
    own (a gradient penalty, a Hessian-vector product); `retain_graph` then
    defaults to True."""
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    grads = _as_list(grad_outputs) or [None] * len(outputs)
    retain = create_graph if retain_graph is None else bool(retain_graph)
    return tuple(_C._grad(outputs, inputs, grads, retain, allow_unused, bool(create_graph)))


def Variable(data: Tensor, requires_grad: bool = False) -> Tensor:  # noqa: N802
    """The legacy wrapper: a Variable is a Tensor now."""
    if requires_grad:
        data.requires_grad_(True)
    return data


def __getattr__(name: str):
    # torch.autograd.gradcheck / gradgradcheck: the checkers live with the
    # test kit and load on first use.
    if name in ("gradcheck", "gradgradcheck"):
        from devrt.testing import gradcheck as checkers

        return getattr(checkers, name)
    raise AttributeError(f"module 'devrt.autograd' has no attribute {name!r}")
