"""``tf.no_op``, ``tf.group`` and ``tf.tuple``: nodes that order others
through control inputs; ``tf.cond``: a conditional on Switch and Merge
nodes; ``tf.while_loop``: a loop on one While node that runs its cond and
body sub-graphs (docs/graph.md).
"""

from __future__ import annotations

import builtins
from typing import Any

from devrt.graph import framework as fw
from devrt.graph.array_ops import identity
from devrt.graph.gradients import stop_gradient
from devrt.graph.tensor import Operation, Tensor
from devrt.graph.tensor_array_ops import TensorArray
from devrt.graph.tensor_shape import TensorShape
from devrt.graph.tensor_util import _apply, _t

__all__ = [
    "cond",
    "group",
    "no_op",
    "tuple",
    "while_loop",
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


def _flatten(value: Any, what: str, none: str = "a branch returned None") -> list[Tensor]:
    if isinstance(value, (list, builtins.tuple)):
        return [t for v in value for t in _flatten(v, what, none)]
    if isinstance(value, dict):
        return [t for k in sorted(value) for t in _flatten(value[k], what, none)]
    if value is None:
        raise ValueError(f"[{what}] {none}; return tensors")
    return [value]


def _pack(structure: Any, flat: list[Tensor]) -> Any:
    """`flat` (consumed) in the nesting of `structure`: lists stay lists,
    named tuples (``LSTMStateTuple``) keep their type, other tuples are
    tuples; dicts in sorted key order, as ``_flatten`` walks them."""
    if isinstance(structure, (list, builtins.tuple)):
        items = [_pack(v, flat) for v in structure]
        if isinstance(structure, list):
            return items
        if hasattr(structure, "_fields"):
            return type(structure)(*items)
        return builtins.tuple(items)
    if isinstance(structure, dict):
        return {k: _pack(structure[k], flat) for k in sorted(structure)}
    if isinstance(structure, TensorArray):
        return structure._with(flat.pop(0))
    return flat.pop(0)


def _skeleton(value: Any) -> Any:
    """The nesting of `value` with its leaves as "*": what two structures
    must share (a list and a tuple of the same items match, as in
    TensorFlow's while_loop)."""
    if isinstance(value, (list, builtins.tuple)):
        return builtins.tuple(_skeleton(v) for v in value)
    if isinstance(value, dict):
        return {k: _skeleton(value[k]) for k in sorted(value)}
    return "*"


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


def _invariants(loop_vars: Any, shape_invariants: Any) -> list[Any]:
    """`shape_invariants` flattened along the structure of `loop_vars`: one
    entry (a TensorShape, a list of dims or None) per loop variable."""
    if isinstance(loop_vars, (list, builtins.tuple, dict)):
        keys = sorted(loop_vars) if isinstance(loop_vars, dict) else range(len(loop_vars))
        ok = isinstance(
            shape_invariants, dict if isinstance(loop_vars, dict) else (list, builtins.tuple)
        )
        if not ok or len(shape_invariants) != len(loop_vars):
            raise ValueError(
                f"[while_loop] shape_invariants {shape_invariants!r} do not have the "
                "structure of loop_vars"
            )
        try:
            return [s for k in keys for s in _invariants(loop_vars[k], shape_invariants[k])]
        except KeyError:
            raise ValueError(
                f"[while_loop] shape_invariants {shape_invariants!r} do not have the "
                "structure of loop_vars"
            ) from None
    return [shape_invariants]


def _array_invariant(array: TensorArray) -> TensorShape:
    """The shape a TensorArray keeps in a loop: its element shape, with any
    number of elements when it is dynamic."""
    s = array.flow.shape
    if s.ndims is None or not array.dynamic_size:
        return s
    return TensorShape([None] + s.as_list()[1:])


def while_loop(
    cond: Any,
    body: Any,
    loop_vars: Any,
    shape_invariants: Any = None,
    parallel_iterations: int = 10,
    back_prop: bool = True,
    swap_memory: bool = False,
    name: str | None = None,
    maximum_iterations: Any = None,
    return_same_structure: bool = False,
) -> Any:
    """``tf.while_loop``: repeats ``loop_vars = body(*loop_vars)`` while
    ``cond(*loop_vars)`` holds, at most `maximum_iterations` times, and
    returns the final loop variables.

    `loop_vars` is a tensor, or a (nested) list, tuple, named tuple or dict
    of tensors (and values convertible to tensors); a list or tuple is
    passed to `cond` and `body` as separate arguments, anything else as one.
    `body` returns the same structure, with the same dtypes. Each variable
    keeps its shape across iterations unless its entry of
    `shape_invariants` (same structure, TensorShapes) is less specific.
    The result has the structure of `loop_vars`, except that one tensor is
    returned alone unless `return_same_structure`.

    The loop is one While node: the cond and body are built once, as a
    sub-graph that reads the variables (and every tensor they use from
    outside) through Arg nodes. ``tf.gradients`` differentiates through
    every iteration run (``back_prop=False`` stops them);
    `parallel_iterations` and `swap_memory` are accepted and ignored (the
    iterations run one after the other)."""
    for what, fn in (("cond", cond), ("body", body)):
        if not callable(fn):
            raise TypeError(f"[while_loop] {what} must be callable, got {type(fn).__name__}")
    if not isinstance(parallel_iterations, int) or parallel_iterations < 1:
        raise ValueError(
            f"[while_loop] parallel_iterations must be a positive int, got {parallel_iterations!r}"
        )
    if loop_vars is None or (isinstance(loop_vars, (list, builtins.tuple, dict)) and not loop_vars):
        raise ValueError("[while_loop] no loop variables given")
    spread = isinstance(loop_vars, (list, builtins.tuple))
    leaves = _flatten(loop_vars, "while_loop", "a loop variable is None")
    arrays = [isinstance(v, TensorArray) for v in leaves]
    flat_init = [v.flow if a else _t(v, "while_loop") for v, a in zip(leaves, arrays)]
    if shape_invariants is None:
        invariants = [
            _array_invariant(v) if a else t.shape for v, a, t in zip(leaves, arrays, flat_init)
        ]
    else:
        invariants = []
        for t, inv in zip(flat_init, _invariants(loop_vars, shape_invariants)):
            inv = t.shape if inv is None else TensorShape(inv)
            if not inv.is_compatible_with(t.shape):
                raise ValueError(
                    f"[while_loop] the shape invariant {inv} is not compatible with the shape "
                    f"{t.shape} of loop variable {t.name}"
                )
            invariants.append(inv)
    g = fw._graph_of(flat_init)
    with g.as_default(), fw.name_scope(name, "while", flat_init) as scope:
        limit = None
        if maximum_iterations is not None:
            limit = _t(maximum_iterations, "while_loop")
            if not limit.dtype.is_integer or limit.shape.ndims not in (None, 0):
                raise ValueError(
                    "[while_loop] maximum_iterations must be an integer scalar, got "
                    f"{limit.dtype.name} of shape {limit.shape}"
                )
            # A counter is one more loop variable, the first.
            counter = _t(0, "while_loop", limit.dtype)
            flat_init.insert(0, counter)
            invariants.insert(0, counter.shape)
        frame = fw._WhileFrame(g, scope)
        for t, inv in zip(flat_init, invariants):
            frame.arg(t.dtype, inv, "loop_var", t.device)
        user_args = frame.args[1:] if limit is not None else frame.args
        packed = _pack(loop_vars, list(user_args))
        g._while_stack.append(frame)
        try:
            call = packed if spread else [packed]
            pred = _t(cond(*call), "while_loop")
            if pred.dtype.name != "bool":
                raise TypeError(f"[while_loop] cond must return a bool, got {pred.dtype.name}")
            if pred.shape.ndims not in (None, 0):
                raise ValueError(f"[while_loop] cond must return a scalar, got shape {pred.shape}")
            result = body(*call)
            result = list(result) if isinstance(result, (list, builtins.tuple)) else [result]
            if _skeleton(result) != _skeleton(list(call)):
                raise ValueError(
                    "[while_loop] the body returned a structure other than loop_vars': "
                    f"{_skeleton(result)} for {_skeleton(list(call))} (* is a tensor)"
                )
            # Numbers take their variable's dtype; tensors keep theirs.
            flat_out = []
            for k, (v, t, a) in enumerate(
                zip(_flatten(result, "while_loop", "the body returned None"), user_args, arrays)
            ):
                if a != isinstance(v, TensorArray):
                    raise TypeError(
                        f"[while_loop] loop variable {k} is {'a' if a else 'not a'} TensorArray "
                        f"but the body returns {type(v).__name__}"
                    )
                tensor = isinstance(v, Tensor) or hasattr(v, "_to_tensor")
                flat_out.append(v.flow if a else _t(v, "while_loop", None if tensor else t.dtype))
            if limit is not None:
                i = frame.args[0]
                pred = _apply("LogicalAnd", [_apply("Less", [i, limit]), pred])
                flat_out.insert(0, _apply("Add", [i, _t(1, "while_loop", limit.dtype)]))
            # Results made outside the loop (a variable passed through, an
            # outside tensor) are read through Args too.
            pred = pred if pred.op._id in frame.inside else frame.captured(pred)
            flat_out = [t if t.op._id in frame.inside else frame.captured(t) for t in flat_out]
        finally:
            g._while_stack.pop()
        for k, (t, out, inv) in enumerate(
            zip(flat_init, flat_out, invariants), start=-1 if limit is not None else 0
        ):
            if out.dtype != t.dtype:
                raise TypeError(
                    f"[while_loop] loop variable {k} ({t.name}) enters the loop as "
                    f"{t.dtype.name} but the body returns {out.dtype.name}"
                )
            if not out.shape.is_compatible_with(inv):
                raise ValueError(
                    f"[while_loop] loop variable {k} ({t.name}) enters the loop with shape {inv} "
                    f"but the body returns shape {out.shape}; pass shape_invariants to let its "
                    "shape change"
                )
        op = g._create_op(
            "While",
            flat_init + frame.captures + frame.args + [pred] + flat_out,
            {"n_vars": len(flat_init), "n_captured": len(frame.captures)},
            scope,
            control_inputs=frame.controls,
        )
        outputs = list(op.outputs)
        if limit is not None:
            outputs = outputs[1:]
        if not back_prop:
            outputs = [stop_gradient(t) for t in outputs]
    packed = _pack(loop_vars, list(outputs))
    if len(outputs) == 1 and not return_same_structure:
        return _pack(leaves[0], outputs)  # the one loop variable, bare
    return packed
