"""``tf.gradients``: symbolic derivatives as ordinary graph nodes.

The core emits them (``devrt::graph::add_gradients``): one ``VJP`` node per
node on a path from an x to a y, computing that node's vector-Jacobian
product with the eager derivative rules when a plan runs it, and ``Add``
nodes where the gradients of one tensor meet. Which xs are connected is
decided on the graph, as TF decides: a path must run from x to a y through
floating-point tensors and through inputs that have a derivative (not a
comparison, an argmax, a shape, a random op, the condition of a Select or
the indices of a gather or one-hot). An unconnected x gets None (or zeros
with ``unconnected_gradients="zero"``). Gradients are tensors like any
other: they can be differentiated again, saved and run without this code
(docs/graph.md).
"""

from __future__ import annotations

from typing import Any

from devrt.graph import framework as fw
from devrt.graph.constant_ops import zeros_like
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _apply, _t

__all__ = ["gradients", "stop_gradient"]


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
    seeds = None
    if grad_ys is not None:
        seeds = [None if v is None else _t(v, "gradients", y.dtype) for y, v in zip(y_list, gy)]
    if g._finalized:
        raise RuntimeError("[Graph] Graph is finalized and cannot be modified.")
    scope = g.unique_name(name or "gradients")
    first_new = len(g._ops)
    found = g._c.add_gradients(
        [y._as_node_output() for y in y_list],
        [x._as_node_output() for x in x_list],
        [None if v is None else v._as_node_output() for v in (seeds or [])],
        scope,
    )
    for node in g._c.nodes()[first_new:]:
        g._mark_name_used(node.name)
        g._register(node)
    result: list[Tensor | None] = []
    for x, out in zip(x_list, found):
        if out is not None:
            node, index = out
            result.append(g._op_of(node).outputs[index])
        elif unconnected_gradients == "zero":
            result.append(zeros_like(x))
        else:
            result.append(None)
    return result


def stop_gradient(input: Any, name: str | None = None) -> Tensor:
    """``tf.stop_gradient``: `input`'s value, as a constant for
    ``tf.gradients``."""
    return _apply("StopGradient", [_t(input, "stop_gradient")], {}, name or "StopGradient")
