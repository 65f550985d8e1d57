"""``tf.no_op``, ``tf.group`` and ``tf.tuple``: nodes that order others
through control inputs; ``tf.cond``: a conditional on Switch and Merge nodes
(``while_loop`` is not provided).
"""

from __future__ import annotations

import builtins
from typing import Any

from devrt.graph import framework as fw
from devrt.graph.array_ops import identity
from devrt.graph.tensor import Operation, Tensor
from devrt.graph.tensor_util import _apply, _t

__all__ = [
    "cond",
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


def _flatten(value: Any, what: str) -> list[Tensor]:
    if isinstance(value, (list, builtins.tuple)):
        return [t for v in value for t in _flatten(v, what)]
    if isinstance(value, dict):
        return [t for k in sorted(value) for t in _flatten(value[k], what)]
    if value is None:
        raise ValueError(f"[{what}] a branch returned None; return tensors")
    return [value]


def _pack(structure: Any, flat: list[Tensor]) -> Any:
    if isinstance(structure, (list, builtins.tuple)):
        items = [_pack(v, flat) for v in structure]
        return type(structure)(items) if isinstance(structure, list) else builtins.tuple(items)
    if isinstance(structure, dict):
        return {k: _pack(structure[k], flat) for k in sorted(structure)}
    return flat.pop(0)


def cond(
    pred: Any,
    true_fn: Any = None,
    false_fn: Any = None,
    strict: bool = False,
    name: str | None = None,
    fn1: Any = None,
    fn2: Any = None,
) -> Any:
    """``tf.cond``: the results of ``true_fn()`` when the scalar bool `pred`
    holds at run time, else those of ``false_fn()``. Only the branch taken
    runs (including the variable updates in it), and gradients flow through
    the branch taken only.

    Each branch's nodes read the tensors made outside it through a Switch
    on `pred`, whose output for the other branch is dead: a node that reads
    a dead value is skipped and its outputs are dead too. Merge nodes pick
    each result from the branch taken. Both branches must return the same
    structure of tensors with the same dtypes."""
    true_fn = true_fn if true_fn is not None else fn1
    false_fn = false_fn if false_fn is not None else fn2
    if not callable(true_fn) or not callable(false_fn):
        raise TypeError("[cond] true_fn and false_fn must be callable")
    p = _t(pred, "cond")
    if p.dtype.name != "bool":
        raise TypeError(f"[cond] the predicate must be a bool tensor, got {p.dtype.name}")
    if p.shape.ndims not in (None, 0):
        raise ValueError(f"[cond] the predicate must be a scalar, got shape {p.shape}")
    g = p.graph
    with fw.name_scope(name, "cond", [p]):
        results = []
        for taken_when, fn in ((True, true_fn), (False, false_fn)):
            branch = fw._CondBranch(g, p, taken_when, len(g._ops))
            # Nodes of the branch that read nothing from outside it
            # (constants) run after its pivot, dead when it is not taken.
            pivot = identity(branch.switched(p), name="switch_t" if taken_when else "switch_f")
            g._cond_stack.append(branch)
            try:
                with g.control_dependencies([pivot]):
                    value = fn()
                flat = [_t(v, "cond") for v in _flatten(value, "cond")]
            finally:
                g._cond_stack.pop()
            flat = [branch.switched(t) if t.op._id < branch.first_id else t for t in flat]
            results.append((value, flat))
        (structure, taken), (other, not_taken) = results
        if len(taken) != len(not_taken):
            raise ValueError(
                f"[cond] true_fn and false_fn return different structures: "
                f"{len(taken)} and {len(not_taken)} tensors"
            )
        merged = []
        for t, f in zip(taken, not_taken):
            if t.dtype != f.dtype:
                raise TypeError(
                    f"[cond] the branches return {t.dtype.name} and {f.dtype.name} tensors"
                )
            merged.append(_apply("Merge", [f, t, p], {}, "Merge"))
        if not isinstance(structure, (list, builtins.tuple, dict)):
            return merged[0]
        return _pack(structure, merged)
