"""Placeholders and constants of ``tf``: ``placeholder``,
``placeholder_with_default``, ``constant``, ``zeros``/``ones``/``fill`` and
their ``_like`` forms, and ``range``/``linspace``/``eye`` for static bounds.
NumPy prepares constant values; everything else is IR nodes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from devrt.graph import conversion, dtypes
from devrt.graph import framework as fw
from devrt.graph.array_ops import cast, identity
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_shape import TensorShape
from devrt.graph.tensor_util import (
    _apply,
    _int,
    _like_from_shape,
    _static_shape,
    _t,
    get_static_value,
)

__all__ = [
    "constant",
    "eye",
    "fill",
    "linspace",
    "ones",
    "ones_like",
    "placeholder",
    "placeholder_with_default",
    "range",
    "zeros",
    "zeros_like",
]


def placeholder(dtype: Any, shape: Any = None, name: str | None = None) -> Tensor:
    """``tf.placeholder``: a value fed at ``Session.run``. `shape` may be
    partial (None dims) or None (any rank)."""
    try:
        dt = dtypes.as_dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"[placeholder] {exc}") from None
    dims = None if shape is None else TensorShape(shape).as_tuple()
    attrs = {"dtype": dt.as_devrt_dtype, "shape": None if dims is None else list(dims)}
    g = fw.get_default_graph()
    return g._create_op("Placeholder", [], attrs, name or "Placeholder")._outputs[0]


def placeholder_with_default(input: Any, shape: Any, name: str | None = None) -> Tensor:
    """``tf.placeholder_with_default``: `input` unless a value is fed; a fed
    value may have any shape that fits `shape`."""
    value = _t(input, "placeholder_with_default")
    if not value.shape.is_compatible_with(TensorShape(shape)):
        raise ValueError(
            f"[placeholder_with_default] the default's shape {value.shape} is not "
            f"compatible with {TensorShape(shape)}"
        )
    dims = TensorShape(shape).as_tuple()
    attrs = {"shape": None if dims is None else list(dims)}
    return _apply("PlaceholderWithDefault", [value], attrs, name or "PlaceholderWithDefault")


def constant(
    value: Any,
    dtype: Any = None,
    shape: Any = None,
    name: str = "Const",
    verify_shape: bool = False,
) -> Tensor:
    """``tf.constant``: a Const node. With `shape`, a scalar fills it, a value
    of as many elements is reshaped, and (as TF1) a shorter list is padded
    with its last element unless `verify_shape`."""
    dt = None if dtype is None else dtypes.as_dtype(dtype)
    g = fw.get_default_graph()
    if isinstance(value, Tensor) or hasattr(value, "_to_tensor"):
        raise TypeError("[constant] value must be a constant value, not a Tensor")
    if shape is None:
        return conversion._make_const(g, value, dt, name, "constant")
    if hasattr(value, "detach"):
        value = value.detach().to(device="cpu").numpy()
    arr = conversion._constant_array(value, dt, "constant")
    dims = _static_shape(shape, "constant")
    n = int(np.prod(dims, dtype=np.int64))
    if arr.size == n:
        arr = arr.reshape(dims)
    elif verify_shape:
        raise TypeError(f"[constant] expected shape {dims}, got shape {list(arr.shape)}")
    elif arr.size == 1:
        arr = np.broadcast_to(arr.reshape(()), dims).copy()
    elif 0 < arr.size < n and arr.ndim <= 1:
        arr = np.concatenate([arr.ravel(), np.repeat(arr.ravel()[-1:], n - arr.size)])
        arr = arr.reshape(dims)
    else:
        raise ValueError(
            f"[constant] too many elements provided: needed at most {n}, got {arr.size}"
        )
    return conversion._make_const(g, arr, dt or dtypes.as_dtype(arr.dtype), name, "constant")


def _filled(shape: Any, fill: Any, dtype: Any, name: str | None, what: str, like_op: str):
    dt = dtypes.as_dtype(dtype)
    like = _like_from_shape(shape)
    if like is not None:
        with fw.name_scope(name, what, [like]) as scope:
            out = _apply(like_op, [like], {})
            return cast(out, dt, name=scope) if out.dtype != dt else identity(out, name=scope)
    dims = _static_shape(shape, what)
    arr = np.full(dims, fill, dtype=dt.as_numpy_dtype)
    return conversion._make_const(fw.get_default_graph(), arr, dt, name or what, what)


def zeros(shape: Any, dtype: Any = dtypes.float32, name: str | None = None) -> Tensor:
    """``tf.zeros``: a Const of zeros (``ZerosLike(x)`` for ``tf.zeros(tf.shape(x))``)."""
    return _filled(shape, 0, dtype, name, "zeros", "ZerosLike")


def ones(shape: Any, dtype: Any = dtypes.float32, name: str | None = None) -> Tensor:
    """``tf.ones``: a Const of ones (``OnesLike(x)`` for ``tf.ones(tf.shape(x))``)."""
    return _filled(shape, 1, dtype, name, "ones", "OnesLike")


def fill(dims: Any, value: Any, name: str | None = None) -> Tensor:
    """``tf.fill``: `value` broadcast to `dims` (a Const when both are static)."""
    if not (isinstance(value, Tensor) or hasattr(value, "_to_tensor")):
        dt = dtypes.as_dtype(conversion._constant_array(value, None, "fill").dtype)
        if _like_from_shape(dims) is None:
            return _filled(dims, value, dt, name, "Fill", "OnesLike")
    value = _t(value, "fill")
    with fw.name_scope(name, "Fill", [value]) as scope:
        base = _filled(dims, 0, value.dtype, None, "zeros", "ZerosLike")
        return _apply("Add", [base, value], {}, scope)


def zeros_like(tensor: Any, dtype: Any = None, name: str | None = None, optimize: bool = True):
    """``tf.zeros_like``: a ``ZerosLike`` node (then a Cast for another `dtype`)."""
    return _like("ZerosLike", tensor, dtype, name, "zeros_like")


def ones_like(tensor: Any, dtype: Any = None, name: str | None = None, optimize: bool = True):
    """``tf.ones_like``: a ``OnesLike`` node (then a Cast for another `dtype`)."""
    return _like("OnesLike", tensor, dtype, name, "ones_like")


def _like(op_type: str, tensor: Any, dtype: Any, name: str | None, what: str) -> Tensor:
    x = _t(tensor, what)
    if dtype is None or dtypes.as_dtype(dtype) == x.dtype:
        return _apply(op_type, [x], {}, name)
    with fw.name_scope(name, what, [x]) as scope:
        return cast(_apply(op_type, [x], {}), dtype, name=scope)


def range(start: Any, limit: Any = None, delta: Any = 1, dtype: Any = None, name: str = "range"):  # noqa: A001
    """``tf.range`` for static bounds: a Const (the IR has no Range op)."""
    vals = []
    for v in (start, limit, delta):
        if isinstance(v, Tensor) or hasattr(v, "_to_tensor"):
            static = get_static_value(v)
            if static is None:
                raise NotImplementedError("[range] bounds must be known when the graph is built")
            v = static.item()
        vals.append(v)
    start, limit, delta = vals
    if limit is None:
        start, limit = 0, start
    arr = np.arange(start, limit, delta)
    if dtype is None and arr.dtype.kind == "i":
        dtype = dtypes.int32
    return constant(arr, dtype=dtype or dtypes.float32, name=name)


def linspace(start: Any, stop: Any, num: Any, name: str = "linspace") -> Tensor:
    """``tf.linspace`` for static arguments: a float32 Const."""
    arr = np.linspace(float(start), float(stop), _int(num, "linspace", "num"))
    return constant(arr, dtype=dtypes.float32, name=name)


def eye(
    num_rows: int, num_columns: int | None = None, batch_shape: Any = None, dtype: Any = None
) -> Tensor:
    """``tf.eye``: an identity matrix Const."""
    arr = np.eye(num_rows, num_columns)
    if batch_shape is not None:
        arr = np.broadcast_to(arr, list(batch_shape) + list(arr.shape)).copy()
    return constant(arr, dtype=dtype or dtypes.float32, name="eye")
