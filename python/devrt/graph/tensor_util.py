"""Helpers of the op modules: argument conversion and the values known when
a graph is built (``tf.get_static_value``).

IR attributes are static, so shapes, axes, slice bounds and depths must be
known when a node is built: Python values, constants, or values derived
from shapes the core inferred (``tf.shape(x)[1]`` when x's second dimension
is known). ``_static_masked`` evaluates such tensors with NumPy on their
constant inputs, which is shape bookkeeping, not computation of the graph.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from devrt.graph import conversion
from devrt.graph import framework as fw
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_shape import TensorShape

__all__ = ["get_static_value"]


def _t(value: Any, what: str, dtype: Any = None, graph: fw.Graph | None = None) -> Tensor:
    return conversion._convert(value, dtype, None, None, graph, what)


def _apply(
    op_type: str, inputs: list[Tensor], attrs: dict | None = None, name: str | None = None
) -> Tensor:
    g = fw._graph_of(inputs)
    return g._create_op(op_type, inputs, attrs, name)._outputs[0]


def _int(value: Any, what: str, arg: str) -> int:
    if isinstance(value, Tensor) or hasattr(value, "_to_tensor"):
        static = get_static_value(value)
        if static is None or np.ndim(static) != 0:
            raise ValueError(f"[{what}] `{arg}` must be known when the graph is built, got {value}")
        value = static
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise TypeError(f"[{what}] `{arg}` must be an int, got {value!r}") from None
    if out != value:
        raise TypeError(f"[{what}] `{arg}` must be an int, got {value!r}")
    return out


def _int_list(value: Any, what: str, arg: str) -> list[int]:
    if isinstance(value, TensorShape):
        value = value.as_list()
    if isinstance(value, Tensor) or hasattr(value, "_to_tensor"):
        static = get_static_value(value)
        if static is None:
            raise ValueError(f"[{what}] `{arg}` must be known when the graph is built, got {value}")
        value = np.atleast_1d(static).tolist()
    if isinstance(value, (int, np.integer)):
        return [int(value)]
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(
            f"[{what}] `{arg}` must be an int or a list of ints, got {type(value).__name__}"
        )
    return [_int(v, what, arg) for v in value]


def _axes(axis: Any, what: str) -> list[int] | None:
    return None if axis is None else _int_list(axis, what, "axis")


def _static_shape(shape: Any, what: str) -> list[int]:
    if isinstance(shape, TensorShape):
        if not shape.is_fully_defined():
            raise ValueError(f"[{what}] shape {shape} must be fully defined")
        return shape.as_list()
    out = _int_list(shape, what, "shape")
    if any(d < 0 for d in out):
        raise ValueError(f"[{what}] shape {out} has a negative dimension")
    return out


def _normalize_axis(axis: int, rank: int | None, what: str) -> int:
    if axis < 0:
        if rank is None:
            raise ValueError(f"[{what}] a negative axis needs a known rank")
        axis += rank
    if rank is not None and not 0 <= axis < rank:
        raise ValueError(f"[{what}] axis {axis} is out of range for rank {rank}")
    return axis


def _peel(t: Tensor) -> Tensor:
    """`t` without the Identity and Cast nodes above it."""
    while t.op.type in ("Identity", "Cast"):
        t = t.op.inputs[0]
    return t


def _shape_source(t: Any) -> Tensor | None:
    """x when `t` is ``tf.shape(x)`` (perhaps cast), else None."""
    if not isinstance(t, Tensor):
        return None
    t = _peel(t)
    return t.op.inputs[0] if t.op.type == "Shape" else None


def _shape_ref(t: Any) -> tuple[Tensor, int] | None:
    """(x, j) when `t` is ``tf.shape(x)[j]`` (perhaps cast), else None."""
    if not isinstance(t, Tensor):
        return None
    t = _peel(t)
    op = t.op
    if op.type != "StridedSlice":
        return None
    a = op._node.attrs
    if len(a["begin"]) != 1 or not a["shrink_axis_mask"] & 1:
        return None
    x = _shape_source(op.inputs[0])
    if x is None:
        return None
    j = a["begin"][0]
    if j < 0:
        if x.shape.ndims is None:
            return None
        j += x.shape.ndims
    return x, j


def _slice_numpy(arr: np.ndarray, attrs: dict) -> np.ndarray:
    items: list[Any] = []
    for k, (b, e, s) in enumerate(zip(attrs["begin"], attrs["end"], attrs["strides"])):
        if attrs["shrink_axis_mask"] >> k & 1:
            items.append(b)
        else:
            b = None if attrs["begin_mask"] >> k & 1 else b
            e = None if attrs["end_mask"] >> k & 1 else e
            items.append(builtins.slice(b, e, s))
    return arr[builtins.tuple(items)]


def _static_masked(t: Tensor) -> builtins.tuple[np.ndarray, np.ndarray] | None:
    """(values, known) for a tensor computed at build time from constants and
    static shapes; `known` marks the entries that do not depend on run time."""
    op = t.op
    kind = op.type
    if kind == "Const":
        value = op._node.attrs["value"]
        arr = np.array(value.to(device="cpu").numpy(), copy=True)
        return arr, np.ones(arr.shape, bool)
    if kind == "Shape":
        dims = op.inputs[0].shape.as_tuple()
        if dims is None:
            return None
        arr = np.array([-1 if d is None else d for d in dims], np.int64)
        return arr, np.array([d is not None for d in dims], bool)
    if kind in ("Identity", "Cast"):
        inner = _static_masked(op.inputs[0])
        if inner is None:
            return None
        arr, known = inner
        return arr.astype(t.dtype.as_numpy_dtype), known
    if kind == "Pack":
        parts = [_static_masked(x) for x in op.inputs]
        if any(p is None for p in parts):
            return None
        axis = op._node.attrs["axis"]
        return np.stack([p[0] for p in parts], axis), np.stack([p[1] for p in parts], axis)
    if kind == "StridedSlice":
        inner = _static_masked(op.inputs[0])
        if inner is None:
            return None
        attrs = op._node.attrs
        try:
            return _slice_numpy(inner[0], attrs), _slice_numpy(inner[1], attrs)
        except IndexError:
            return None
    return None


def get_static_value(tensor: Any, partial: bool = False) -> np.ndarray | None:
    """``tf.get_static_value``: the value of `tensor` if it is known when the
    graph is built (constants, and shapes that the core inferred), else None.
    `partial` is accepted; partially known values are returned as None."""
    if hasattr(tensor, "_to_tensor"):
        return None  # a variable's value is only known in a session
    if not isinstance(tensor, Tensor):
        return np.asarray(tensor)
    found = _static_masked(tensor)
    if found is None or not found[1].all():
        return None
    return found[0]


def _like_from_shape(shape: Any) -> Tensor | None:
    """x when `shape` is tf.shape(x) and its value is unknown at build time."""
    if isinstance(shape, Tensor) and get_static_value(shape) is None:
        return _shape_source(shape)
    return None
