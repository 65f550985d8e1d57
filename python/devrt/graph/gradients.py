"""``tf.gradients``: symbolic derivatives as one ``Gradients`` node.

The node's inputs are the ys, the xs that some y depends on and, when
given, one grad_y per y; it has one output per x: the gradient of
``sum(ys)`` (weighted by grad_ys) with respect to that x. The core computes
it with the eager derivative rules (see docs/graph.md). Which xs are
connected is decided here, on the graph, as TF decides: a path must run
from x to a y through floating-point tensors and through inputs that have
a derivative (not a comparison, an argmax, a shape, a random op, the
condition of a Select or the indices of a gather or one-hot). An
unconnected x gets None (or zeros with ``unconnected_gradients="zero"``)
and is left out of the node.
"""

from __future__ import annotations

from typing import Any

from devrt.graph import framework as fw
from devrt.graph.constant_ops import zeros_like
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _apply, _t

__all__ = ["gradients", "stop_gradient"]

# Ops whose outputs carry no derivative to any input.
_NO_GRADIENT = frozenset(
    {
        "ArgMax",
        "ArgMin",
        "Equal",
        "NotEqual",
        "Less",
        "LessEqual",
        "Greater",
        "GreaterEqual",
        "LogicalAnd",
        "LogicalOr",
        "LogicalNot",
        "Shape",
        "OneHot",
        "ZerosLike",
        "OnesLike",
        "RandomUniformLike",
        "Floor",
        "Ceil",
        "Round",
        "Sign",
        "FloorDiv",
        "StopGradient",
    }
)
# Inputs that carry no derivative: op -> input indices.
_NO_GRADIENT_INPUTS = {"Select": {0}, "GatherV2": {1}}


def _connected(ys: list[Tensor]) -> set[tuple[int, int]]:
    """The (node id, output) pairs from which a y can be differentiated."""
    reached: set[tuple[int, int]] = set()
    stack = []
    for y in ys:
        key = (y.op._id, y.value_index)
        if key not in reached and y.dtype.is_floating:
            reached.add(key)
            stack.append(y.op)
    seen: set[int] = set()
    while stack:
        op = stack.pop()
        if op._id in seen or op.type in _NO_GRADIENT:
            continue
        seen.add(op._id)
        if op.type == "Cast" and not (
            op.inputs[0].dtype.is_floating and op.outputs[0].dtype.is_floating
        ):
            continue
        blocked = _NO_GRADIENT_INPUTS.get(op.type, ())
        for i, x in enumerate(op.inputs):
            if i in blocked or not x.dtype.is_floating:
                continue
            reached.add((x.op._id, x.value_index))
            stack.append(x.op)
    return reached


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _x_tensor(x: Any) -> Tensor:
    # A variable is differentiated at its Variable node's output (its "ref"),
    # as TF does, so every read of it contributes.
    if hasattr(x, "_graph_element"):
        return x._graph_element()
    return _t(x, "gradients")


def gradients(
    ys: Any,
    xs: Any,
    grad_ys: Any = None,
    name: str = "gradients",
    colocate_gradients_with_ops: bool = False,
    gate_gradients: bool = False,
    aggregation_method: Any = None,
    stop_gradients: Any = None,
    unconnected_gradients: str = "none",
) -> list[Tensor | None]:
    """``tf.gradients(ys, xs, grad_ys=None)``: a list with, for each x, the
    gradient of sum(ys) with respect to x, or None where no y depends on x.

    `colocate_gradients_with_ops`, `gate_gradients` and `aggregation_method`
    are accepted and ignored. Difference from TensorFlow: `stop_gradients`
    is not supported (the IR has no StopGradient op)."""
    if stop_gradients:
        raise NotImplementedError("[gradients] stop_gradients is not supported by devrt")
    if unconnected_gradients not in ("none", "zero"):
        raise ValueError(f"[gradients] unknown unconnected_gradients {unconnected_gradients!r}")
    y_list = [_t(y, "gradients") for y in _as_list(ys)]
    x_list = [_x_tensor(x) for x in _as_list(xs)]
    if grad_ys is not None:
        gy = _as_list(grad_ys)
        if len(gy) != len(y_list):
            raise ValueError(f"[gradients] Passed {len(gy)} grad_ys for {len(y_list)} ys")
    g = fw._graph_of(y_list + x_list)
    reached = _connected(y_list)
    unique: list[Tensor] = []
    slot: dict[tuple[int, int], int] = {}
    for x in x_list:
        key = (x.op._id, x.value_index)
        if key in reached and x.dtype.is_floating and key not in slot:
            slot[key] = len(unique)
            unique.append(x)
    outputs: list[Any] = [None] * len(unique)
    if unique:
        inputs = y_list + unique
        if grad_ys is not None:
            for y, v in zip(y_list, gy):
                if v is None:
                    inputs.append(_apply("OnesLike", [y], {}))
                else:
                    inputs.append(_t(v, "gradients", y.dtype))
        attrs = {"n_ys": len(y_list), "n_xs": len(unique)}
        outputs = list(g._create_op("Gradients", inputs, attrs, name or "gradients").outputs)
    result: list[Tensor | None] = []
    for x in x_list:
        i = slot.get((x.op._id, x.value_index))
        if i is not None:
            result.append(outputs[i])
        elif unconnected_gradients == "zero":
            result.append(zeros_like(x))
        else:
            result.append(None)
    return result


def stop_gradient(input: Any, name: str | None = None) -> Tensor:
    """``tf.stop_gradient``: `input`'s value, as a constant for
    ``tf.gradients``."""
    return _apply("StopGradient", [_t(input, "stop_gradient")], {}, name or "StopGradient")
