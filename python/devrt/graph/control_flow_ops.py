"""``tf.no_op``, ``tf.group`` and ``tf.tuple``: nodes that order others
through control inputs (the IR has no conditionals or loops, so TF's
``cond`` and ``while_loop`` are not provided).
"""

from __future__ import annotations

import builtins
from typing import Any

from devrt.graph import framework as fw
from devrt.graph.array_ops import identity
from devrt.graph.tensor import Operation, Tensor
from devrt.graph.tensor_util import _apply, _t

__all__ = [
    "group",
    "no_op",
    "tuple",
]


def no_op(name: str | None = None) -> Operation:
    """``tf.no_op``: a NoOp node (it runs its control inputs)."""
    return fw.get_default_graph()._create_op("NoOp", [], {}, name or "NoOp")


def _flatten_ops(inputs: Any, out: list[Operation]) -> None:
    for x in inputs:
        if x is None:
            continue
        if isinstance(x, (list, builtins.tuple, set)):
            _flatten_ops(x, out)
        elif isinstance(x, dict):
            _flatten_ops(list(x.values()), out)
        elif isinstance(x, Operation):
            out.append(x)
        elif isinstance(x, Tensor):
            out.append(x.op)
        elif hasattr(x, "_graph_element"):
            out.append(x._graph_element().op)
        else:
            raise TypeError(f"[group] cannot group {type(x).__name__} {x!r}")


def group(*inputs: Any, name: str | None = None) -> Operation:
    """``tf.group``: a NoOp whose control inputs are the ops of `inputs`."""
    ops: list[Operation] = []
    _flatten_ops(inputs, ops)
    g = fw._graph_of(ops)
    return g._create_op("NoOp", [], {}, name or "group_deps", control_inputs=ops)


def tuple(tensors: Any, name: str | None = None, control_inputs: Any = None) -> list:  # noqa: A001
    """``tf.tuple``: Identities of `tensors` that run after all of them (and
    `control_inputs`)."""
    ts = [None if t is None else _t(t, "tuple") for t in tensors]
    with fw.name_scope(name, "tuple", [t for t in ts if t is not None]):
        gate = group([t for t in ts if t is not None], control_inputs or [])
        g = fw._graph_of([gate])
        with g.control_dependencies([gate]):
            return [None if t is None else identity(t) for t in ts]


def _select_on_scalar(pred: Any, true_value: Tensor, false_value: Tensor, what: str) -> Tensor:
    """``true_value`` where the scalar bool `pred` holds at run time, else
    ``false_value``: both are computed, and a Select of `pred` (reshaped to
    a scalar, so that a flag of unknown rank, such as ``tf.placeholder(tf.bool)``,
    broadcasts to nothing) keeps the static shape the two values share, as
    TensorFlow's ``cond`` does. A `pred` of more than one element fails at
    run time in the Reshape."""
    flag = _t(pred, what)
    if flag.dtype.name != "bool":
        raise TypeError(f"[{what}] the predicate must be a bool tensor, got {flag.dtype.name}")
    if flag.shape.ndims not in (None, 0):
        raise ValueError(f"[{what}] the predicate must be a scalar, got shape {flag.shape}")
    if flag.shape.ndims is None:
        flag = _apply("Reshape", [flag], {"shape": []})
    return _apply("Select", [flag, true_value, false_value], {})
