"""Custom differentiable operations written in Python (autograd.Function).

The forward runs without recording; its outputs get one node whose backward
calls the class's ``backward``. That node joins the same C++ graph as the
built-in ops.
"""

from __future__ import annotations

from typing import Any

from devrt import _C
from devrt._C import Tensor
from devrt.autograd.grad_mode import no_grad


class FunctionCtx:
    """The ``ctx`` passed to forward and backward."""

    def __init__(self, needs_input_grad: tuple[bool, ...]):
        self.needs_input_grad = needs_input_grad
        self._saved: tuple = ()
        self._versions: tuple = ()
        self._released = False

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        self._saved = tensors
        self._versions = tuple(None if t is None else t._version for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        if self._released:
            raise RuntimeError(
                "[backward] trying to backward through a custom Function a second "
                "time; its saved tensors were freed (pass retain_graph=True)"
            )
        for t, v in zip(self._saved, self._versions, strict=True):
            if t is not None and t._version != v:
                raise RuntimeError(
                    f"[backward] a tensor saved by a custom Function was modified in "
                    f"place (version {t._version}, saved at {v})"
                )
        return self._saved

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        self._non_differentiable = {id(t) for t in tensors}


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``,
    then call ``YourFunction.apply(*args)``."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any) -> Any:
        raise NotImplementedError("[Function] subclasses must implement forward")

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Any) -> Any:
        raise NotImplementedError("[Function] subclasses must implement backward")

    @classmethod
    def apply(cls, *args: Any) -> Any:
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        with no_grad():
            result = cls.forward(ctx, *args)
        if not (_C.is_grad_enabled() and any(needs)):
            return result
        outputs = result if isinstance(result, tuple) else (result,)
        skip = getattr(ctx, "_non_differentiable", set())
        tracked = [o for o in outputs if isinstance(o, Tensor) and id(o) not in skip]
        tensor_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]

        def backward(grads: list) -> list:
            grads_in = cls.backward(ctx, *grads)
            if not isinstance(grads_in, tuple):
                grads_in = (grads_in,)
            if len(grads_in) != len(args):
                raise RuntimeError(
                    f"[backward] {cls.__name__}.backward returned {len(grads_in)} "
                    f"gradients for {len(args)} inputs"
                )
            return [grads_in[i] for i in tensor_positions]

        def release() -> None:
            ctx._released = True
            ctx._saved = ()

        # An output saved for backward is kept as a detached alias: the node
        # then holds no reference back to the tensor that holds the node.
        outputs_by_id = {id(o): o for o in tracked}
        ctx._saved = tuple(
            t.detach() if t is not None and id(t) in outputs_by_id else t for t in ctx._saved
        )
        _C._record_function(
            backward,
            [args[i] for i in tensor_positions],
            tracked,
            f"{cls.__name__}Backward",
            release,
        )
        return result
