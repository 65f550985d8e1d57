"""devrt's exception rule for the functions written in Python: every error
a user sees is a standard exception type whose message starts with ``[op]``.

The bindings keep the rule in C++ (``python/src/call_errors.cpp``); the
Python functions of the public surface are wrapped by :func:`public_op`,
which restates what Python itself raises for them (a missing argument,
``'<' not supported``, ``'NoneType' object has no attribute 'dtype'``)
under the op's name. Errors that already follow the rule pass untouched.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

# Python's own argument errors name the function: "addmm() missing ...".
_FUNCTION_PREFIX = re.compile(r"^[\w.<>]+\(\) ")


def restated(op: str, exc: BaseException) -> BaseException | None:
    """`exc` as a standard exception under ``[op]``; None when it already
    follows the rule (or is not one this rule restates)."""
    message = str(exc)
    if message.startswith("["):
        return None
    if isinstance(exc, (TypeError, AttributeError)):
        kind: type[Exception] = TypeError
    elif isinstance(exc, IndexError) and not isinstance(exc, ValueError):
        kind = IndexError
    elif isinstance(exc, OverflowError):
        kind = OverflowError
    elif isinstance(exc, ValueError):  # NumPy's AxisError included
        kind = ValueError
    else:
        return None
    return kind(f"[{op}] {_FUNCTION_PREFIX.sub('', message, count=1)}")


def public_op(fn: Callable, name: str | None = None) -> Callable:
    """`fn`, raising its errors under the exception rule with op name `name`
    (by default its own)."""
    op = name or fn.__name__.lstrip("_")

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
            new = restated(op, exc)
            if new is None:
                raise
            # Arguments that do not fit the signature fail before fn runs:
            # the original adds nothing then.
            cause = exc if exc.__traceback__ and exc.__traceback__.tb_next else None
            raise new from cause

    checked.__wrapped_op__ = op  # type: ignore[attr-defined]
    return checked
