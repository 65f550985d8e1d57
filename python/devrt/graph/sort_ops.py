"""``tf.sort`` and ``tf.argsort``, as TensorFlow builds them: ``top_k``
over the whole axis (moved last), of the values for a descending order and
of their negation for an ascending one, so ties keep their index order."""

from __future__ import annotations

from typing import Any

from devrt.graph import framework as fw
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _apply, _int, _t

__all__ = ["argsort", "sort"]


def _top_k_along(x: Tensor, axis: Any, direction: str, what: str) -> tuple[Tensor, Tensor]:
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(
            f"[{what}] direction must be 'ASCENDING' or 'DESCENDING', got {direction!r}"
        )
    rank = x.shape.rank
    if rank is None or rank == 0:
        raise ValueError(f"[{what}] the input's rank must be known and at least 1, got {x.shape}")
    axis = _int(axis, what, "axis")
    if not -rank <= axis < rank:
        raise ValueError(f"[{what}] axis {axis} is out of range for a tensor of rank {rank}")
    axis %= rank
    n = x.shape.as_list()[axis]
    if n is None:
        raise ValueError(f"[{what}] the size of axis {axis} of {x.shape} must be known")
    if x.dtype.is_bool or not (x.dtype.is_floating or x.dtype.is_integer) or x.dtype.is_unsigned:
        raise TypeError(f"[{what}] cannot sort values of dtype {x.dtype.name}")
    perm = None
    if axis != rank - 1:
        perm = list(range(rank))
        perm[axis], perm[-1] = perm[-1], perm[axis]
        x = _apply("Transpose", [x], {"perm": perm})
    if direction == "ASCENDING":
        x = _apply("Neg", [x], {})
    op = fw._graph_of([x])._create_op("TopKV2", [x], {"k": n}, "TopKV2")
    values, indices = op.outputs
    if direction == "ASCENDING":
        values = _apply("Neg", [values], {})
    if perm is not None:
        values = _apply("Transpose", [values], {"perm": perm})
        indices = _apply("Transpose", [indices], {"perm": perm})
    return values, indices


def sort(values: Any, axis: Any = -1, direction: str = "ASCENDING", name: str | None = None):
    """``tf.sort``: `values` sorted along `axis` (whose size must be known)."""
    x = _t(values, "sort")
    with fw.name_scope(name, "sort", [x]) as scope:
        out, _ = _top_k_along(x, axis, direction, "sort")
        return _apply("Identity", [out], {}, scope)


def argsort(
    values: Any, axis: Any = -1, direction: str = "ASCENDING", stable: bool = False, name=None
):
    """``tf.argsort``: the int32 indices that sort `values` along `axis`
    (always stable: ties keep their index order)."""
    x = _t(values, "argsort")
    with fw.name_scope(name, "argsort", [x]) as scope:
        _, idx = _top_k_along(x, axis, direction, "argsort")
        return _apply("Identity", [idx], {}, scope)
