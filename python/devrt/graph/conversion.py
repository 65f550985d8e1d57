"""``tf.convert_to_tensor`` and the rules that turn Python and NumPy values
into ``Const`` nodes.

As TF: Python floats become float32 and ints int32 (int64 when too large),
bools bool; NumPy values keep their dtype unless one is requested; a
Python float cannot become an integer tensor (TypeError). A list holding
tensors is packed (``Pack``). Within one op, values that are not tensors
take the dtype of the first tensor among the op's inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import devrt
from devrt import _C
from devrt.graph import dtypes
from devrt.graph.framework import Graph, _graph_of, get_default_graph
from devrt.graph.tensor import Operation, Tensor, _is_tensor_like

__all__ = ["convert_n", "convert_to_tensor"]


def _fits_int32(arr: np.ndarray) -> bool:
    return arr.size == 0 or (arr.min() >= -(2**31) and arr.max() < 2**31)


def _constant_array(value: Any, dtype: dtypes.DType | None, what: str) -> np.ndarray:
    """`value` (Python numbers, nested lists, NumPy arrays) as a new NumPy
    array of `dtype`, following TF's rules: Python floats become float32 and
    ints int32 (int64 if too large); NumPy values keep their dtype unless
    `dtype` says otherwise; a Python float cannot become an integer."""
    from_numpy = isinstance(value, (np.ndarray, np.generic))
    try:
        arr = np.array(value)
    except ValueError as exc:
        raise ValueError(f"[{what}] cannot convert a ragged sequence to a tensor: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"[{what}] cannot convert {value!r} (of type {type(value).__name__}) to a tensor"
        )
    if dtype is None:
        if from_numpy:
            dtype = dtypes.as_dtype(arr.dtype)
        elif arr.dtype.kind == "f":
            dtype = dtypes.float32
        elif arr.dtype.kind in "iu":
            dtype = dtypes.int32 if _fits_int32(arr) else dtypes.int64
        else:
            dtype = dtypes.bool
    elif not from_numpy:
        if (dtype.is_integer and arr.dtype.kind == "f") or (
            dtype.is_bool and arr.dtype.kind != "b"
        ):
            raise TypeError(
                f"[{what}] Expected {dtype.name}, got {value!r} of type "
                f"'{type(value).__name__}' instead."
            )
    return np.array(arr, dtype=dtype.as_numpy_dtype, copy=True, order="C")


def _devrt_tensor(arr: np.ndarray, dtype: dtypes.DType) -> Any:
    # Note: not np.ascontiguousarray, which turns a 0-d array into a 1-d one.
    t = devrt.from_numpy(np.require(arr, requirements="C"))
    if t.dtype != dtype.as_devrt_dtype:
        t = t.to(dtype=dtype.as_devrt_dtype)
    return t


def _make_const(graph: Graph, value: Any, dtype: Any, name: str | None, what: str) -> Tensor:
    dtype = None if dtype is None else dtypes.as_dtype(dtype)
    if isinstance(value, _C.Tensor):
        t = value.detach().to(device="cpu", copy=True)
        if dtype is not None and t.dtype != dtype.as_devrt_dtype:
            t = t.to(dtype=dtype.as_devrt_dtype)
    else:
        arr = _constant_array(value, dtype, what)
        t = _devrt_tensor(arr, dtype or dtypes.as_dtype(arr.dtype))
    return graph._create_op("Const", [], {"value": t}, name or "Const")._outputs[0]


def convert_to_tensor(
    value: Any,
    dtype: Any = None,
    name: str | None = None,
    preferred_dtype: Any = None,
    dtype_hint: Any = None,
) -> Tensor:
    """``tf.convert_to_tensor``: a Tensor as is, a Variable's value, a list
    holding tensors packed (``Pack``), anything else a ``Const`` in the
    default graph. A requested `dtype` must match a tensor's dtype."""
    return _convert(value, dtype, name, preferred_dtype or dtype_hint, None)


def _convert(
    value: Any,
    dtype: Any,
    name: str | None,
    preferred: Any,
    graph: Graph | None,
    what: str = "convert_to_tensor",
) -> Tensor:
    dtype = None if dtype is None else dtypes.as_dtype(dtype)
    if hasattr(value, "_to_tensor"):
        value = value._to_tensor()
    if isinstance(value, Tensor):
        if dtype is not None and value.dtype != dtype:
            raise ValueError(
                f"[{what}] Tensor conversion requested dtype {dtype.name} for Tensor with "
                f"dtype {value.dtype.name}: {value!r}"
            )
        return value
    if isinstance(value, Operation):
        raise TypeError(f"[{what}] cannot convert an Operation ({value.name}) to a Tensor")
    graph = graph or get_default_graph()
    if isinstance(value, (list, tuple)) and _contains_tensor(value):
        if dtype is None:
            parts = convert_n(list(value), what, graph)
        else:
            parts = [_convert(v, dtype, None, None, graph, what) for v in value]
        return graph._create_op("Pack", parts, {"axis": 0}, name or "packed")._outputs[0]
    if dtype is None and preferred is not None:
        try:
            return _make_const(graph, value, preferred, name, what)
        except TypeError:
            pass
    return _make_const(graph, value, dtype, name, what)


def _contains_tensor(values: Any) -> bool:
    for v in values:
        if _is_tensor_like(v):
            return True
        if isinstance(v, (list, tuple)) and _contains_tensor(v):
            return True
    return False


def convert_n(values: list[Any], name: str, graph: Graph | None = None) -> list[Tensor]:
    """Converts `values` for one op: every non-tensor takes the dtype of the
    first tensor among them (as TF's op wrappers infer a type attribute),
    or of the first value when none is a tensor."""
    graph = graph or _graph_of(values)
    # Tensor-likes are converted once (a variable read may add a node).
    tensors = {
        i: _convert(v, None, None, None, graph, name)
        for i, v in enumerate(values)
        if _is_tensor_like(v)
    }
    dtype = tensors[min(tensors)].dtype if tensors else None
    out = []
    for i, v in enumerate(values):
        t = tensors[i] if i in tensors else _convert(v, dtype, None, None, graph, name)
        if dtype is None:
            dtype = t.dtype
        out.append(t)
    return out
