"""``tf.TensorArray``: a list of tensors of one dtype and shape, written one
element at a time (typically one per iteration of a ``tf.while_loop``) and
read back or stacked.

A TensorArray is its elements stacked on a first axis: one tensor, its
``flow``, made by a ``TensorArrayZeros`` node and replaced by each
``TensorArrayWrite`` (docs/graph.md). A loop carries it as one loop
variable, and gradients flow through writes, reads and ``stack`` as
through any node.
"""

from __future__ import annotations

from typing import Any

from devrt.graph import dtypes
from devrt.graph import framework as fw
from devrt.graph.array_ops import identity, shape
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_shape import TensorShape
from devrt.graph.tensor_util import _apply, _t

__all__ = ["TensorArray"]


def _index(value: Any, what: str) -> Tensor:
    """An index or size: a Python int becomes an int32 constant, a tensor
    is taken as it is (the core checks it is an integer scalar)."""
    if isinstance(value, Tensor) or hasattr(value, "_to_tensor"):
        return _t(value, what)
    return _t(value, what, dtypes.int32)


class TensorArray:
    """``tf.TensorArray(dtype, size, dynamic_size=False, element_shape=None,
    name=None)``: `size` elements (an int or an integer scalar tensor), each
    zeros until written. A dynamic array grows when an index past its end
    is written. Without `element_shape` the first write sets it.

    Differences from TensorFlow: reading an element not yet written gives
    zeros (TensorFlow raises), an element may be written again, and
    `clear_after_read` and `colocate_with_first_write_call` have no effect."""

    def __init__(
        self,
        dtype: Any,
        size: Any = None,
        dynamic_size: bool | None = None,
        clear_after_read: bool | None = None,
        tensor_array_name: str | None = None,
        handle: Any = None,
        flow: Any = None,
        infer_shape: bool = True,
        element_shape: Any = None,
        colocate_with_first_write_call: bool = True,
        name: str | None = None,
    ) -> None:
        if handle is not None:
            raise NotImplementedError("[TensorArray] handle is not supported by devrt")
        try:
            self._dtype = dtypes.as_dtype(dtype)
        except TypeError as exc:
            raise TypeError(f"[TensorArray] {exc}") from None
        self._dynamic = bool(dynamic_size)
        if flow is not None:
            self._flow = _t(flow, "TensorArray", self._dtype)
            return
        if size is None:
            raise ValueError("[TensorArray] size must be given (0 for a dynamic array)")
        elem = None if element_shape is None else TensorShape(element_shape)
        attrs = {
            "dtype": self._dtype.as_devrt_dtype,
            "element_shape": elem.as_list()
            if elem is not None and elem.is_fully_defined()
            else None,
        }
        with fw.name_scope(name or tensor_array_name, "TensorArray"):
            self._flow = _apply("TensorArrayZeros", [_index(size, "TensorArray")], attrs)

    def _with(self, flow: Tensor) -> TensorArray:
        """This array's kind of array holding `flow`."""
        out = TensorArray.__new__(TensorArray)
        out._dtype, out._dynamic, out._flow = self._dtype, self._dynamic, flow
        return out

    @property
    def flow(self) -> Tensor:
        """The elements stacked on a first axis."""
        return self._flow

    @property
    def dtype(self) -> dtypes.DType:
        return self._dtype

    @property
    def dynamic_size(self) -> bool:
        return self._dynamic

    @property
    def element_shape(self) -> TensorShape:
        s = self._flow.shape
        return TensorShape(None) if s.ndims is None else TensorShape(s.as_list()[1:])

    def write(self, index: Any, value: Any, name: str | None = None) -> TensorArray:
        """A new array with element `index` set to `value`."""
        if not (isinstance(value, Tensor) or hasattr(value, "_to_tensor")):
            value = _t(value, "TensorArray.write", self._dtype)
        idx = _index(index, "TensorArray.write")
        flow = _apply(
            "TensorArrayWrite",
            [self._flow, idx, _t(value, "TensorArray.write")],
            {"dynamic_size": self._dynamic},
            name or "TensorArrayWrite",
        )
        return self._with(flow)

    def read(self, index: Any, name: str | None = None) -> Tensor:
        """Element `index` (an int or an integer scalar tensor)."""
        idx = _index(index, "TensorArray.read")
        return _apply("GatherV2", [self._flow, idx], {"axis": 0}, name or "TensorArrayRead")

    def gather(self, indices: Any, element_shape: Any = None, name: str | None = None) -> Tensor:
        """The elements at `indices`, stacked."""
        idx = _index(indices, "TensorArray.gather")
        return _apply("GatherV2", [self._flow, idx], {"axis": 0}, name or "TensorArrayGather")

    def stack(self, name: str | None = None) -> Tensor:
        """All the elements, stacked on a new first axis."""
        return identity(self._flow, name=name or "TensorArrayStack")

    def unstack(self, value: Any, name: str | None = None) -> TensorArray:
        """A new array whose elements are the slices of `value` along its
        first axis."""
        v = _t(value, "TensorArray.unstack", None if isinstance(value, Tensor) else self._dtype)
        if v.dtype != self._dtype:
            raise TypeError(
                f"[TensorArray.unstack] a value of dtype {v.dtype.name} for a TensorArray of "
                f"dtype {self._dtype.name}"
            )
        if v.shape.ndims == 0:
            raise ValueError("[TensorArray.unstack] the value must have a first axis, got a scalar")
        return self._with(identity(v, name=name or "TensorArrayUnstack"))

    def size(self, name: str | None = None) -> Tensor:
        """The number of elements (int32)."""
        return shape(self._flow, name=name)[0]

    def identity(self) -> TensorArray:
        return self._with(identity(self._flow))

    def close(self, name: str | None = None) -> None:
        """Nothing to release."""
        return None
