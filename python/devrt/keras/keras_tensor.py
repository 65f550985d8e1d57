"""Symbolic tensors of the functional API.

``keras.Input(shape)`` returns a KerasTensor: a shape and dtype with no
value. Calling a layer on KerasTensors records a Node (the layer, its
arguments, its outputs) and returns new KerasTensors; a functional Model
later replays those nodes on real tensors. Output shapes come from the
layer's ``compute_output_shape`` or, where it has none, from running the
layer once on small zero tensors (see ``Layer.compute_output_spec``).
"""

from __future__ import annotations

from typing import Any

from devrt.keras import backend


class KerasTensor:
    """A placeholder for a tensor in a functional model: ``shape`` (a tuple
    with ``None`` for unknown sizes), ``dtype`` (a string) and the node
    that produces it."""

    def __init__(self, shape: Any, dtype: Any = None, name: str | None = None) -> None:
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = backend.standardize_dtype(dtype)
        self.name = name
        self._keras_history: tuple[Any, int, int] | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        name = f", name={self.name}" if self.name else ""
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}{name}>"

    def __bool__(self) -> bool:
        raise TypeError(
            "A symbolic KerasTensor has no value and cannot be used as a Python bool; "
            "use keras.ops functions to build the computation"
        )

    def __len__(self) -> int:
        if not self.shape or self.shape[0] is None:
            raise TypeError(f"len() of a KerasTensor with shape {self.shape}")
        return self.shape[0]

    # Arithmetic on KerasTensors records keras.ops nodes.
    def _op(self, name: str, *args: Any) -> Any:
        from devrt.keras import ops

        return getattr(ops, name)(*args)

    def __add__(self, other: Any) -> Any:
        return self._op("add", self, other)

    def __radd__(self, other: Any) -> Any:
        return self._op("add", other, self)

    def __sub__(self, other: Any) -> Any:
        return self._op("subtract", self, other)

    def __rsub__(self, other: Any) -> Any:
        return self._op("subtract", other, self)

    def __mul__(self, other: Any) -> Any:
        return self._op("multiply", self, other)

    def __rmul__(self, other: Any) -> Any:
        return self._op("multiply", other, self)

    def __truediv__(self, other: Any) -> Any:
        return self._op("divide", self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return self._op("divide", other, self)

    def __matmul__(self, other: Any) -> Any:
        return self._op("matmul", self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return self._op("matmul", other, self)

    def __neg__(self) -> Any:
        return self._op("negative", self)

    def __pow__(self, other: Any) -> Any:
        return self._op("power", self, other)

    def __getitem__(self, key: Any) -> Any:
        from devrt.keras import ops

        return ops.getitem(self, key)


class Node:
    """One layer call in a functional graph: ``layer(*args, **kwargs) -> outputs``,
    where args and kwargs may hold KerasTensors (the node's inputs)."""

    def __init__(self, layer: Any, args: tuple, kwargs: dict, outputs: Any) -> None:
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.input_tensors = [t for t in flatten((args, kwargs)) if is_keras_tensor(t)]
        self.output_tensors = [t for t in flatten(outputs) if is_keras_tensor(t)]
        index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        for i, t in enumerate(self.output_tensors):
            t._keras_history = (layer, index, i)

    @property
    def parent_nodes(self) -> list[Node]:
        nodes = []
        for t in self.input_tensors:
            layer, index, _ = t._keras_history
            nodes.append(layer._inbound_nodes[index])
        return nodes


def is_keras_tensor(x: Any) -> bool:
    return isinstance(x, KerasTensor)


def flatten(structure: Any) -> list:
    """The leaves of nested lists, tuples and dicts, in order (dicts by key
    order as given)."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for value in structure.values() for leaf in flatten(value)]
    return [structure]


def map_structure(fn: Any, structure: Any) -> Any:
    if isinstance(structure, list):
        return [map_structure(fn, s) for s in structure]
    if isinstance(structure, tuple):
        return tuple(map_structure(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    return fn(structure)


def any_symbolic(args: tuple, kwargs: dict) -> bool:
    for a in args:
        if isinstance(a, KerasTensor) or (
            isinstance(a, (list, tuple, dict)) and any(map(is_keras_tensor, flatten(a)))
        ):
            return True
    for a in kwargs.values():
        if isinstance(a, KerasTensor):
            return True
    return False
