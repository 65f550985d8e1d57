"""tf.errors: the exceptions that ``Session.run`` raises.

Each class is also a standard Python exception, so code may catch either:
an error in the fed values or the graph (an unfed placeholder, a feed of
the wrong shape, a shape mismatch found at run time) is an
``InvalidArgumentError``, which is a ``ValueError`` (and an ``IndexError``
for an index out of range); reading a variable that
no initializer has set in the session is a ``FailedPreconditionError``,
which is a ``RuntimeError``. The message is the core's, unchanged.

Difference from TensorFlow: the classes take only a message (no node_def,
op or error code arguments are needed to raise them).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AbortedError",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "OpError",
    "OutOfRangeError",
    "ResourceExhaustedError",
    "UnimplementedError",
]


class OpError(Exception):
    """``tf.errors.OpError``: the base of the errors raised by running a graph."""

    def __init__(self, node_def: Any = None, op: Any = None, message: str | None = None) -> None:
        if message is None and isinstance(node_def, str):
            message, node_def = node_def, None
        super().__init__(message or "")
        self.node_def = node_def
        self.op = op

    @property
    def message(self) -> str:
        return str(self)


class InvalidArgumentError(OpError, ValueError):
    """A bad value or shape reached an op at run time (also a ValueError)."""


class _IndexArgumentError(InvalidArgumentError, IndexError):
    """An index out of range (a gather's, say): TensorFlow raises
    InvalidArgumentError; it stays an IndexError for Python code."""


class FailedPreconditionError(OpError, RuntimeError):
    """The graph read state that is not set up, such as an uninitialised
    variable (also a RuntimeError)."""


class NotFoundError(OpError, ValueError):
    """A file or an entry of it was not found (also a ValueError)."""


class OutOfRangeError(OpError, IndexError):
    """An input was exhausted (also an IndexError)."""


class ResourceExhaustedError(OpError, MemoryError):
    """A device ran out of memory (also a MemoryError)."""


class UnimplementedError(OpError, NotImplementedError):
    """The operation has no implementation (also a NotImplementedError)."""


class InternalError(OpError, RuntimeError):
    """The core failed (also a RuntimeError)."""


class AbortedError(OpError, RuntimeError):
    """The run was aborted (also a RuntimeError)."""


def translate(exc: Exception) -> Exception:
    """The tf.errors exception to raise for an exception from the core's
    ``Session.run``; the message is kept."""
    if isinstance(exc, OpError):
        return exc
    msg = str(exc)
    if type(exc) is ValueError:
        return InvalidArgumentError(msg)
    if type(exc) is IndexError:
        return _IndexArgumentError(msg)
    if type(exc) is RuntimeError and "initiali" in msg.lower():
        return FailedPreconditionError(msg)
    return exc
