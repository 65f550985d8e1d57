"""The ONNX graph an export builds: nodes, initializers and the names of
the traced values."""

from __future__ import annotations

from typing import Any

import numpy as np

import devrt
from devrt import _C
from devrt.onnx._trace import Traced

Tensor = _C.Tensor


def onnx_dtype(onnx: Any, dtype: Any) -> int:
    codes = {
        "bool": onnx.TensorProto.BOOL,
        "uint8": onnx.TensorProto.UINT8,
        "int32": onnx.TensorProto.INT32,
        "int64": onnx.TensorProto.INT64,
        "float16": onnx.TensorProto.FLOAT16,
        "bfloat16": onnx.TensorProto.BFLOAT16,
        "float32": onnx.TensorProto.FLOAT,
        "float64": onnx.TensorProto.DOUBLE,
    }
    return codes[dtype.name]


class Graph:
    """Nodes and initializers of the graph under construction. Parameters
    and buffers (`params`, ``{id: (name, tensor)}``) become initializers
    under their names when first read; other tensors that are not traced
    values become constant initializers."""

    def __init__(self, onnx: Any, opset: int, params: dict[int, tuple[str, Tensor]]) -> None:
        self.onnx, self.opset, self.params = onnx, opset, params
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.names: dict[int, str] = {}
        self.keep: list[Any] = []  # holds every named tensor, so ids stay unique
        self._used: set[str] = set()
        self._count = 0

    # --- names -----------------------------------------------------------------------------

    def knows(self, t: Tensor) -> bool:
        return id(t) in self.names or id(t) in self.params

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"/{hint}_{self._count}"

    def bind(self, out: Tensor, name: str) -> Tensor:
        """Names the op result `out`; returns the traced value to hand back."""
        value = out if isinstance(out, Traced) else Traced(out)
        self.names[id(value)] = name
        self.keep.append(value)
        return value

    def name_input(self, t: Tensor, name: str) -> None:
        self.names[id(t)] = name
        self.keep.append(t)

    def value(self, x: Any, like: Any = None) -> str:
        """The name of `x` (a tensor or a Python number), cast to `like`'s
        dtype (a tensor or dtype) when given."""
        dtype = like.dtype if isinstance(like, Tensor) else like
        if not isinstance(x, Tensor):
            if dtype is None:
                raise TypeError(f"[onnx.export] cannot place the number {x!r} without a dtype")
            return self.constant(devrt.tensor(x, dtype=dtype), "Constant")
        if id(x) in self.names:
            name = self.names[id(x)]
        elif id(x) in self.params:
            name, t = self.params[id(x)]
            self._initializer(name, t)
            self.names[id(x)] = name
            self.keep.append(x)
        else:
            name = self.constant(x, "Constant")
            self.names[id(x)] = name
            self.keep.append(x)
        if dtype is not None and x.dtype != dtype:
            name = self.op("Cast", name, to=onnx_dtype(self.onnx, dtype))
        return name

    # --- nodes and initializers --------------------------------------------------------------

    def op(self, op_type: str, *inputs: str | None, outputs: int = 1, **attrs: Any) -> Any:
        """Adds a node; returns its output name (or names, for several)."""
        names = [self.fresh(f"{op_type}_output") for _ in range(outputs)]
        ins = ["" if i is None else i for i in inputs]
        while ins and ins[-1] == "":
            ins.pop()
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(
            self.onnx.helper.make_node(op_type, ins, names, name=self.fresh(op_type), **attrs)
        )
        return names[0] if outputs == 1 else names

    def _initializer(self, name: str, t: Tensor) -> None:
        if name in self._used:
            return
        from devrt.serialization import _tensor_bytes

        self._used.add(name)
        raw = _tensor_bytes(t).tobytes()
        self.initializers.append(
            self.onnx.helper.make_tensor(
                name, onnx_dtype(self.onnx, t.dtype), list(t.shape), raw, raw=True
            )
        )

    def constant(self, t: Tensor, hint: str) -> str:
        name = self.fresh(hint)
        self._initializer(name, t)
        return name

    def ints(self, values: Any) -> str:
        """A constant 1-D int64 tensor (shapes, axes)."""
        name = self.fresh("Constant")
        self._used.add(name)
        self.initializers.append(
            self.onnx.numpy_helper.from_array(np.asarray(list(values), dtype=np.int64), name)
        )
        return name
