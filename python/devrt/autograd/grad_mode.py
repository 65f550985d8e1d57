"""Switching gradient recording on and off: no_grad, enable_grad."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from devrt import _C
from devrt._errors import public_op


class _GradMode:
    mode: bool

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # `@no_grad` without parentheses decorates at once.
        if cls is not set_grad_enabled and len(args) == 1 and callable(args[0]):
            return cls()(args[0])
        return super().__new__(cls)

    def __init__(self, orig_func: Callable | None = None) -> None:
        self._prev: list[bool] = []

    def __enter__(self) -> None:
        self._prev.append(_C.is_grad_enabled())
        _C._set_grad_enabled(self.mode)

    def __exit__(self, *exc: Any) -> None:
        _C._set_grad_enabled(self._prev.pop())

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 - mirrors torch.no_grad
    """Context manager (and decorator) in which ops record no gradients."""

    mode = False


class enable_grad(_GradMode):  # noqa: N801 - mirrors torch.enable_grad
    """Context manager (and decorator) that turns recording back on."""

    mode = True


class set_grad_enabled(_GradMode):  # noqa: N801 - mirrors torch.set_grad_enabled
    """Sets recording on or off; as a context manager, for its block only."""

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self.mode = bool(mode)
        self._applied = _C.is_grad_enabled()
        _C._set_grad_enabled(self.mode)

    def __enter__(self) -> None:
        self._prev.append(self._applied)

    def __call__(self, fn: Callable) -> Callable:
        _C._set_grad_enabled(self._applied)
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


@public_op
def is_grad_enabled() -> bool:
    return _C.is_grad_enabled()
