"""tf.TensorShape and tf.Dimension: the static (partial) shape of a tensor.

A shape has an unknown rank (``TensorShape(None)``) or a list of dimensions,
each an int or unknown (``None``), as the core infers them when a node is
built.

Difference from TensorFlow 1: indexing a shape gives a ``Dimension``, which
here is an ``int`` subclass (so ``shape[1] * 2``, ``range(shape[1])`` and
``shape[1].value`` all work) for a known dimension and plain ``None`` for
an unknown one, rather than ``Dimension(None)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["Dimension", "TensorShape", "as_shape", "dimension_value", "unknown_shape"]


class Dimension(int):
    """A known dimension of a TensorShape: an int with TF1's `.value`."""

    @property
    def value(self) -> int:
        return int(self)

    def __repr__(self) -> str:
        return f"Dimension({int(self)})"


def dimension_value(dim: Any) -> int | None:
    """``tf.compat.dimension_value``: a dimension as an int or None."""
    return None if dim is None else int(dim)


def _as_dim(d: Any) -> int | None:
    if d is None:
        return None
    if hasattr(d, "value") and not isinstance(d, int):
        d = d.value
        if d is None:
            return None
    try:
        v = int(d)
    except (TypeError, ValueError):
        raise TypeError(f"[TensorShape] a dimension must be an int or None, not {d!r}") from None
    if v != d or isinstance(d, bool):
        raise TypeError(f"[TensorShape] a dimension must be an int or None, not {d!r}")
    if v < -1:
        raise ValueError(f"[TensorShape] dimension {v} is negative")
    return None if v == -1 else v


class TensorShape:
    """``tf.TensorShape``: a partial shape (unknown rank, or dims int | None)."""

    __slots__ = ("_dims",)

    def __init__(self, dims: Any) -> None:
        if isinstance(dims, TensorShape):
            self._dims = dims._dims
        elif dims is None:
            self._dims = None
        elif isinstance(dims, int):
            self._dims = (_as_dim(dims),)
        else:
            self._dims = tuple(_as_dim(d) for d in dims)

    # --- properties ---------------------------------------------------------------

    @property
    def dims(self) -> list[Dimension | None] | None:
        if self._dims is None:
            return None
        return [None if d is None else Dimension(d) for d in self._dims]

    @property
    def ndims(self) -> int | None:
        return None if self._dims is None else len(self._dims)

    @property
    def rank(self) -> int | None:
        return self.ndims

    def as_list(self) -> list[int | None]:
        """The dims as a list of int | None; ValueError for an unknown rank."""
        if self._dims is None:
            raise ValueError("[TensorShape] as_list() is not defined on an unknown TensorShape.")
        return list(self._dims)

    def as_tuple(self) -> tuple[int | None, ...] | None:
        """The dims as a tuple, or None for an unknown rank (devrt only)."""
        return self._dims

    def is_fully_defined(self) -> bool:
        return self._dims is not None and all(d is not None for d in self._dims)

    def assert_is_fully_defined(self) -> None:
        if not self.is_fully_defined():
            raise ValueError(f"[TensorShape] Shape {self} is not fully defined")

    def num_elements(self) -> int | None:
        if not self.is_fully_defined():
            return None
        n = 1
        for d in self._dims:
            n *= d
        return n

    # --- relations ----------------------------------------------------------------

    def is_compatible_with(self, other: Any) -> bool:
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return True
        if len(self._dims) != len(other._dims):
            return False
        return all(a is None or b is None or a == b for a, b in zip(self._dims, other._dims))

    def assert_is_compatible_with(self, other: Any) -> None:
        if not self.is_compatible_with(other):
            raise ValueError(f"[TensorShape] Shapes {self} and {as_shape(other)} are incompatible")

    def merge_with(self, other: Any) -> TensorShape:
        other = as_shape(other)
        if self._dims is None:
            return other
        if other._dims is None:
            return self
        self.assert_is_compatible_with(other)
        return TensorShape([a if a is not None else b for a, b in zip(self._dims, other._dims)])

    def concatenate(self, other: Any) -> TensorShape:
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return TensorShape(None)
        return TensorShape(self._dims + other._dims)

    def with_rank(self, rank: int) -> TensorShape:
        if self._dims is None:
            return TensorShape([None] * rank)
        if len(self._dims) != rank:
            raise ValueError(f"[TensorShape] Shape {self} must have rank {rank}")
        return self

    def with_rank_at_least(self, rank: int) -> TensorShape:
        if self._dims is not None and len(self._dims) < rank:
            raise ValueError(f"[TensorShape] Shape {self} must have rank at least {rank}")
        return self

    # --- sequence protocol ----------------------------------------------------------

    def __len__(self) -> int:
        if self._dims is None:
            raise ValueError("[TensorShape] Cannot take the length of shape with unknown rank.")
        return len(self._dims)

    def __iter__(self) -> Iterator[Dimension | None]:
        if self._dims is None:
            raise ValueError("[TensorShape] Cannot iterate over a shape with unknown rank.")
        return iter(self.dims)

    def __getitem__(self, key: Any) -> Any:
        if self._dims is None:
            if isinstance(key, slice):
                return TensorShape(None)
            return None
        if isinstance(key, slice):
            return TensorShape(self._dims[key])
        d = self._dims[key]
        return None if d is None else Dimension(d)

    def __bool__(self) -> bool:
        return self._dims is not None

    def __eq__(self, other: object) -> bool:
        try:
            other = as_shape(other)
        except (TypeError, ValueError):
            return NotImplemented
        return self._dims == other._dims

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash(self._dims)

    def __add__(self, other: Any) -> TensorShape:
        return self.concatenate(other)

    def __radd__(self, other: Any) -> TensorShape:
        return as_shape(other).concatenate(self)

    def __repr__(self) -> str:
        if self._dims is None:
            return "TensorShape(None)"
        return f"TensorShape({list(self._dims)})"

    def __str__(self) -> str:
        if self._dims is None:
            return "<unknown>"
        inner = ", ".join("?" if d is None else str(d) for d in self._dims)
        return f"({inner},)" if len(self._dims) == 1 else f"({inner})"

    def __reduce__(self) -> Any:
        return (TensorShape, (None if self._dims is None else list(self._dims),))


def as_shape(shape: Any) -> TensorShape:
    """``tf.TensorShape(shape)`` unless `shape` already is one."""
    return shape if isinstance(shape, TensorShape) else TensorShape(shape)


def unknown_shape(rank: int | None = None) -> TensorShape:
    return TensorShape(None if rank is None else [None] * rank)
