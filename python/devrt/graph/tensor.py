"""``tf.Tensor`` and ``tf.Operation``: handles on the nodes of a graph.

An ``Operation`` wraps one node of the core's graph; a ``Tensor`` names one
output ``(node, index)`` of it. Shapes and dtypes always come from the core,
which infers them when the node is built. The operators of Tensor are
installed by math_ops and array_ops (as TF installs them), so that this
module needs no op.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from devrt import _C
from devrt.graph import dtypes
from devrt.graph.tensor_shape import TensorShape

if TYPE_CHECKING:
    from devrt.graph.framework import Graph

__all__ = ["Operation", "Tensor"]


class Tensor:
    """``tf.Tensor``: the symbolic output `value_index` of an Operation.

    Arithmetic, comparison (``< <= > >=``), ``@`` and indexing operators build
    nodes (installed by ``math_ops`` and ``array_ops``); ``==`` and hashing
    are by identity, as in TF1 graph mode. The same output always gives the
    same Tensor object, so Tensors work as dict keys (feeds).
    """

    # NumPy defers to the reflected operators (np_array + tensor builds a node).
    __array_ufunc__ = None
    __array_priority__ = 100

    def __init__(self, op: Operation, value_index: int) -> None:
        self._op = op
        self._value_index = value_index
        self._shape_override: TensorShape | None = None

    @property
    def op(self) -> Operation:
        return self._op

    @property
    def value_index(self) -> int:
        return self._value_index

    @property
    def graph(self) -> Graph:
        return self._op.graph

    @property
    def name(self) -> str:
        return f"{self._op.name}:{self._value_index}"

    @property
    def device(self) -> str:
        return self._op.device

    @property
    def dtype(self) -> dtypes.DType:
        return dtypes.as_dtype(self._op._node.dtype(self._value_index))

    @property
    def shape(self) -> TensorShape:
        inferred = TensorShape(self._op._node.shape(self._value_index))
        if self._shape_override is not None:
            return inferred.merge_with(self._shape_override)
        return inferred

    def get_shape(self) -> TensorShape:
        return self.shape

    def set_shape(self, shape: Any) -> None:
        """Refines the static shape seen from Python (``.shape``).

        Difference from TensorFlow: the core's node keeps the shape it
        inferred, so ops built on this tensor infer from that; the refined
        shape serves Python code such as layers that read ``x.shape``."""
        merged = self.shape.merge_with(TensorShape(shape))
        self._shape_override = merged

    def consumers(self) -> list[Operation]:
        """The operations that take this tensor as a data input."""
        out = []
        for op in self.graph._ops:
            if any(n.id == self._op._id and i == self._value_index for n, i in op._node.inputs):
                out.append(op)
        return out

    def eval(self, feed_dict: Any = None, session: Any = None) -> Any:
        """The value of this tensor in `session` (default: the default session)."""
        from devrt.graph import session as session_mod

        return session_mod._run_with_default(self, feed_dict, session, "Tensor.eval")

    def _as_node_output(self) -> tuple[Any, int]:
        return (self._op._node, self._value_index)

    # Symbolic tensors have no truth value, length or elements.

    def __bool__(self) -> bool:
        raise TypeError(
            "[Tensor] Using a `tf.Tensor` as a Python `bool` is not allowed. Use "
            "`if t is not None:` to test if a tensor is defined, and Session.run to get "
            "its value."
        )

    def __len__(self) -> int:
        raise TypeError(
            f"[Tensor] len is not well defined for symbolic Tensors ({self.name}). "
            "Please call `x.shape` rather than `len(x)` for shape information."
        )

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(
            "[Tensor] Tensor objects are only iterable when eager execution is enabled. "
            "To iterate over this tensor use tf.unstack."
        )

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise NotImplementedError(
            f"[Tensor] Cannot convert a symbolic Tensor ({self.name}) to a numpy array; "
            "fetch it with Session.run"
        )

    def __repr__(self) -> str:
        return f"<tf.Tensor '{self.name}' shape={self.shape} dtype={self.dtype.name}>"

    def __str__(self) -> str:
        return f'Tensor("{self.name}", shape={self.shape}, dtype={self.dtype.name})'


class Operation:
    """``tf.Operation``: one node of the graph."""

    def __init__(self, graph: Graph, node: Any) -> None:
        self._graph = graph
        self._node = node
        self._id = node.id
        self._outputs = tuple(Tensor(self, i) for i in range(node.num_outputs))

    @property
    def name(self) -> str:
        return self._node.name

    @property
    def type(self) -> str:
        return self._node.op

    @property
    def graph(self) -> Graph:
        return self._graph

    @property
    def device(self) -> str:
        """The device string as given in the ``tf.device`` scope ("" for none).

        Difference from TensorFlow: the string is not canonicalised."""
        return self._node.device

    @property
    def inputs(self) -> list[Tensor]:
        return [self._graph._op_of(n)._outputs[i] for n, i in self._node.inputs]

    @property
    def outputs(self) -> list[Tensor]:
        return list(self._outputs)

    @property
    def control_inputs(self) -> list[Operation]:
        return [self._graph._op_of(n) for n in self._node.control_inputs]

    def values(self) -> tuple[Tensor, ...]:
        return self._outputs

    def get_attr(self, name: str) -> Any:
        """The attribute `name`: dtypes as DType objects, ``value`` of a Const
        as a devrt Tensor."""
        attrs = self._node.attrs
        if name not in attrs:
            raise ValueError(f"[Operation.get_attr] {self.type} '{self.name}' has no attr {name!r}")
        value = attrs[name]
        return dtypes.as_dtype(value) if isinstance(value, _C.dtype) else value

    @property
    def node_def(self) -> dict[str, Any]:
        """A plain dict standing for TF's NodeDef: name, op, input, device, attr."""
        inputs = [t.name for t in self.inputs] + [f"^{op.name}" for op in self.control_inputs]
        return {
            "name": self.name,
            "op": self.type,
            "input": inputs,
            "device": self.device,
            "attr": dict(self._node.attrs),
        }

    def run(self, feed_dict: Any = None, session: Any = None) -> None:
        """Runs this operation in `session` (default: the default session)."""
        from devrt.graph import session as session_mod

        session_mod._run_with_default(self, feed_dict, session, "Operation.run")

    def __repr__(self) -> str:
        return f"<tf.Operation '{self.name}' type={self.type}>"


def _is_tensor_like(value: Any) -> bool:
    return isinstance(value, Tensor) or hasattr(value, "_to_tensor")
