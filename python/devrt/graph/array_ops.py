"""Array ops of ``tf``: shapes, reshaping, joining and splitting, slicing
and indexing, casts, selection, one-hot and gather. Each builds IR nodes;
NumPy only prepares the static arguments (shapes, axes, slice specs) that
the IR takes as attributes.

Difference from TensorFlow: IR attributes are static, so shapes, axes,
slice bounds and multiples must be known when the graph is built (see
tensor_util). ``tf.reshape(x, [tf.shape(x)[0], -1])`` is recognised.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from devrt.graph import conversion, dtypes
from devrt.graph import framework as fw
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_shape import TensorShape
from devrt.graph.tensor_util import (
    _apply,
    _axes,
    _int,
    _int_list,
    _normalize_axis,
    _shape_ref,
    _t,
    get_static_value,
)

__all__ = [
    "cast",
    "concat",
    "expand_dims",
    "gather",
    "identity",
    "one_hot",
    "rank",
    "reshape",
    "reverse",
    "shape",
    "size",
    "slice",
    "split",
    "squeeze",
    "stack",
    "strided_slice",
    "tile",
    "to_double",
    "to_float",
    "to_int32",
    "to_int64",
    "transpose",
    "unstack",
    "where",
    "where_v2",
]


# --- shapes ------------------------------------------------------------------------------


def shape(input: Any, name: str | None = None, out_type: Any = dtypes.int32) -> Tensor:
    """``tf.shape``: the run-time shape (``Shape``, int64 in the IR, cast to
    `out_type`)."""
    x = _t(input, "shape")
    out_type = dtypes.as_dtype(out_type)
    if out_type == dtypes.int64:
        return _apply("Shape", [x], {}, name)
    with fw.name_scope(name, "Shape", [x]) as scope:
        return cast(_apply("Shape", [x], {}), out_type, name=scope)


def size(input: Any, name: str | None = None, out_type: Any = dtypes.int32) -> Tensor:
    """``tf.size``: the number of elements, at run time."""
    x = _t(input, "size")
    with fw.name_scope(name, "Size", [x]) as scope:
        n = _apply("Prod", [_apply("Shape", [x], {})], {"axes": None, "keepdims": False})
        return cast(n, out_type, name=scope)


def rank(input: Any, name: str | None = None) -> Tensor:
    """``tf.rank``: a Const when the rank is known, else computed."""
    x = _t(input, "rank")
    if x.shape.ndims is not None:
        return conversion._make_const(x.graph, x.shape.ndims, dtypes.int32, name or "Rank", "rank")
    with fw.name_scope(name, "Rank", [x]) as scope:
        r = _apply("Shape", [_apply("Shape", [x], {})], {})
        return cast(_apply("Squeeze", [r], {"axes": [0]}), dtypes.int32, name=scope)


def _reshape_target(x: Tensor, shape: Any) -> list[int]:
    if isinstance(shape, TensorShape):
        shape = [-1 if d is None else d for d in shape.as_list()]
    if isinstance(shape, Tensor):
        static = get_static_value(shape)
        if static is None:
            raise ValueError(
                f"[reshape] the target shape {shape} must be known when the graph is built"
            )
        return [int(v) for v in np.atleast_1d(static)]
    if isinstance(shape, (int, np.integer)):
        shape = [shape]
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise TypeError(f"[reshape] `shape` must be a list of ints, got {type(shape).__name__}")
    out: list[int | None] = []
    refs: list[int] = []  # dims of x named by tf.shape(x)[j] entries
    for d in shape:
        if isinstance(d, Tensor) or hasattr(d, "_to_tensor"):
            static = get_static_value(d)
            if static is not None:
                out.append(int(static))
                continue
            ref = _shape_ref(d)
            if ref is None or ref[0] is not x:
                raise ValueError(
                    f"[reshape] entry {d} of the target shape must be known when the graph is "
                    "built (or be tf.shape(x)[j] of the tensor reshaped)"
                )
            refs.append(ref[1])
            out.append(None)
        else:
            out.append(_int(d, "reshape", "shape"))
    unknown = [i for i, d in enumerate(out) if d is None or d == -1]
    if len(unknown) > 1 and -1 in out and refs:
        # [tf.shape(x)[0], -1]: the -1 is the product of x's other known dims.
        dims = x.shape.as_tuple()
        others = [d for j, d in enumerate(dims or ()) if j not in refs]
        if dims is not None and all(dims[j] is None for j in refs) and None not in others:
            known = int(np.prod([d for d in out if d is not None and d != -1], dtype=np.int64))
            out[out.index(-1)] = int(np.prod(others, dtype=np.int64)) // max(known, 1)
            unknown = [i for i, d in enumerate(out) if d is None or d == -1]
    if len(unknown) > 1:
        raise ValueError(f"[reshape] the target shape {shape} has more than one unknown entry")
    return [-1 if d is None else d for d in out]


def reshape(tensor: Any, shape: Any, name: str | None = None) -> Tensor:
    """``tf.reshape``: one entry of `shape` may be -1."""
    x = _t(tensor, "reshape")
    return _apply("Reshape", [x], {"shape": _reshape_target(x, shape)}, name)


def transpose(a: Any, perm: Any = None, name: str = "transpose", conjugate: bool = False):
    """``tf.transpose``: `perm` None reverses the dimensions."""
    x = _t(a, "transpose")
    perm = None if perm is None else _int_list(perm, "transpose", "perm")
    return _apply("Transpose", [x], {"perm": perm}, name)


def expand_dims(input: Any, axis: Any = None, name: str | None = None, dim: Any = None):
    """``tf.expand_dims`` (`dim` is TF1's old name of `axis`)."""
    if axis is None:
        axis = dim
    if axis is None:
        raise ValueError("[expand_dims] axis is required")
    x = _t(input, "expand_dims")
    return _apply("ExpandDims", [x], {"axis": _int(axis, "expand_dims", "axis")}, name)


def squeeze(input: Any, axis: Any = None, name: str | None = None, squeeze_dims: Any = None):
    """``tf.squeeze``: `axis` None (or empty, TF's default) removes every
    size-1 dimension."""
    if axis is None:
        axis = squeeze_dims
    if isinstance(axis, (list, builtins.tuple)) and not axis:
        axis = None
    x = _t(input, "squeeze")
    return _apply("Squeeze", [x], {"axes": _axes(axis, "squeeze")}, name)


def concat(values: Any, axis: Any, name: str = "concat") -> Tensor:
    """``tf.concat`` (one value: an Identity, as TF)."""
    if not isinstance(values, (list, builtins.tuple)):
        values = [values]
    xs = conversion.convert_n(list(values), "concat")
    axis = _int(axis, "concat", "axis")
    if len(xs) == 1:
        return identity(xs[0], name=name)
    return _apply("ConcatV2", xs, {"axis": axis}, name)


def stack(values: Any, axis: int = 0, name: str = "stack") -> Tensor:
    """``tf.stack`` (``Pack``)."""
    xs = conversion.convert_n(list(values), "stack")
    return _apply("Pack", xs, {"axis": _int(axis, "stack", "axis")}, name)


def _axis_slice(x: Tensor, axis: int, begin: int, end: int | None, shrink: bool) -> Tensor:
    n = axis + 1
    full = (1 << axis) - 1
    end_mask = full | ((1 << axis) if end is None else 0)
    attrs = {
        "begin": [0] * axis + [begin],
        "end": [0] * axis + [0 if end is None else end],
        "strides": [1] * n,
        "begin_mask": full,
        "end_mask": end_mask,
        "shrink_axis_mask": (1 << axis) if shrink else 0,
    }
    return _apply("StridedSlice", [x], attrs)


def unstack(value: Any, num: int | None = None, axis: int = 0, name: str = "unstack"):
    """``tf.unstack``: one StridedSlice per index (`num` or a known dim)."""
    x = _t(value, "unstack")
    axis = _normalize_axis(_int(axis, "unstack", "axis"), x.shape.ndims, "unstack")
    if num is None:
        num = x.shape[axis] if x.shape.ndims is not None else None
        if num is None:
            raise ValueError(f"[unstack] cannot infer num from shape {x.shape}")
    with fw.name_scope(name, "unstack", [x]):
        return [_axis_slice(x, axis, i, i + 1, True) for i in builtins.range(int(num))]


def split(value: Any, num_or_size_splits: Any, axis: Any = 0, num: Any = None, name: str = "split"):
    """``tf.split``: static sizes (an int splits evenly), one StridedSlice each."""
    x = _t(value, "split")
    axis = _normalize_axis(_int(axis, "split", "axis"), x.shape.ndims, "split")
    dim = x.shape[axis] if x.shape.ndims is not None else None
    if isinstance(num_or_size_splits, (int, np.integer)):
        k = int(num_or_size_splits)
        if dim is None or dim % k:
            raise ValueError(f"[split] cannot split dimension {dim} into {k} equal parts")
        sizes = [dim // k] * k
    else:
        sizes = _int_list(num_or_size_splits, "split", "num_or_size_splits")
        if -1 in sizes:
            if dim is None:
                raise ValueError("[split] a -1 size needs a known dimension")
            sizes[sizes.index(-1)] = dim - (sum(sizes) + 1)
    with fw.name_scope(name, "split", [x]):
        out, start = [], 0
        for s in sizes:
            out.append(_axis_slice(x, axis, start, start + s, False))
            start += s
        return out


def slice(input_: Any, begin: Any, size: Any, name: str | None = None) -> Tensor:  # noqa: A001
    """``tf.slice``: `size` -1 runs to the end of the dimension."""
    x = _t(input_, "slice")
    begin = _int_list(begin, "slice", "begin")
    size = _int_list(size, "slice", "size")
    end_mask = builtins.sum(1 << k for k, s in enumerate(size) if s == -1)
    attrs = {
        "begin": begin,
        "end": [0 if s == -1 else b + s for b, s in zip(begin, size)],
        "strides": [1] * len(begin),
        "begin_mask": 0,
        "end_mask": end_mask,
        "shrink_axis_mask": 0,
    }
    return _apply("StridedSlice", [x], attrs, name or "Slice")


def strided_slice(
    input_: Any,
    begin: Any,
    end: Any,
    strides: Any = None,
    begin_mask: int = 0,
    end_mask: int = 0,
    ellipsis_mask: int = 0,
    new_axis_mask: int = 0,
    shrink_axis_mask: int = 0,
    var: Any = None,
    name: str | None = None,
) -> Tensor:
    """``tf.strided_slice``. Difference from TensorFlow: `ellipsis_mask` and
    `new_axis_mask` are not supported here (use indexing, which supports
    ``...`` and None)."""
    if ellipsis_mask or new_axis_mask:
        raise NotImplementedError(
            "[strided_slice] ellipsis_mask and new_axis_mask are not supported; index with "
            "x[..., None] instead"
        )
    x = _t(input_, "strided_slice")
    begin = _int_list(begin, "strided_slice", "begin")
    attrs = {
        "begin": begin,
        "end": _int_list(end, "strided_slice", "end"),
        "strides": [1] * len(begin)
        if strides is None
        else _int_list(strides, "strided_slice", "strides"),
        "begin_mask": int(begin_mask),
        "end_mask": int(end_mask),
        "shrink_axis_mask": int(shrink_axis_mask),
    }
    return _apply("StridedSlice", [x], attrs, name or "strided_slice")


def _index_value(v: Any, what: str) -> Any:
    if v is None or isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        return None if v is None else int(v)
    if isinstance(v, Tensor) or hasattr(v, "_to_tensor"):
        static = get_static_value(v)
        if static is not None and np.ndim(static) == 0 and np.asarray(static).dtype.kind in "iu":
            return int(static)
        raise TypeError(f"[{what}] an index tensor must be known when the graph is built")
    raise TypeError(
        f"[{what}] Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and "
        f"scalar int32/int64 tensors are valid indices, got {v!r}"
    )


def _getitem(tensor: Any, key: Any) -> Tensor:
    """``tensor[key]``: ints, slices, ``...`` and None (``tf.newaxis``).

    The IR's StridedSlice has no ellipsis or new-axis masks: ``...`` is
    expanded here from the known rank, and each None becomes an ExpandDims
    after the slice."""
    what = "Tensor.__getitem__"
    x = _t(tensor, what)
    items = list(key) if isinstance(key, builtins.tuple) else [key]
    if builtins.sum(1 for k in items if k is Ellipsis) > 1:
        raise ValueError(f"[{what}] an index can only have a single ellipsis ('...')")
    real = builtins.sum(1 for k in items if k is not None and k is not Ellipsis)
    if Ellipsis in items:
        at = items.index(Ellipsis)
        if x.shape.ndims is not None:
            fill = [builtins.slice(None)] * builtins.max(x.shape.ndims - real, 0)
            items[at : at + 1] = fill
        elif at == len(items) - 1 or all(k is None for k in items[at + 1 :]):
            items[at : at + 1] = []
        else:
            raise ValueError(f"[{what}] '...' before other indices needs a known rank")
    begin, end, strides = [], [], []
    begin_mask = end_mask = shrink = 0
    new_axes: list[int] = []
    out_axis = 0
    for k in items:
        if k is None:
            new_axes.append(out_axis)
            out_axis += 1
            continue
        dim = len(begin)
        if isinstance(k, builtins.slice):
            start = _index_value(k.start, what)
            stop = _index_value(k.stop, what)
            step = _index_value(k.step, what)
            if step == 0:
                raise ValueError(f"[{what}] slice step cannot be zero")
            begin.append(0 if start is None else start)
            end.append(0 if stop is None else stop)
            strides.append(1 if step is None else step)
            begin_mask |= (start is None) << dim
            end_mask |= (stop is None) << dim
            out_axis += 1
        else:
            i = _index_value(k, what)
            begin.append(i)
            end.append(i + 1)
            strides.append(1)
            shrink |= 1 << dim
    with fw.name_scope(None, "strided_slice", [x]) as scope:
        out = x
        if begin:
            attrs = {
                "begin": begin,
                "end": end,
                "strides": strides,
                "begin_mask": begin_mask,
                "end_mask": end_mask,
                "shrink_axis_mask": shrink,
            }
            out = _apply("StridedSlice", [x], attrs, None if new_axes else scope)
        for j, axis in enumerate(new_axes):
            last = j == len(new_axes) - 1
            out = _apply("ExpandDims", [out], {"axis": axis}, scope if last else None)
        if out is x:
            out = identity(x, name=scope)
        return out


def reverse(tensor: Any, axis: Any, name: str | None = None) -> Tensor:
    """``tf.reverse``: a GatherV2 of the reversed indices along each of
    `axis`, whose sizes must be known."""
    x = _t(tensor, "reverse")
    axes = [
        _normalize_axis(a, x.shape.ndims, "reverse") for a in _int_list(axis, "reverse", "axis")
    ]
    with fw.name_scope(name, "ReverseV2", [x]) as scope:
        out = x
        for k, a in enumerate(axes):
            n = x.shape[a]
            if n is None:
                raise ValueError(f"[reverse] dimension {a} of {x.shape} must be known")
            idx = conversion._make_const(
                x.graph, np.arange(n - 1, -1, -1, dtype=np.int64), None, None, "reverse"
            )
            last = k == len(axes) - 1
            out = _apply("GatherV2", [out, idx], {"axis": a}, scope if last else None)
        return out if axes else identity(x, name=scope)


def tile(input: Any, multiples: Any, name: str | None = None) -> Tensor:
    """``tf.tile`` for static `multiples`: ConcatV2 of copies (the IR has no Tile)."""
    x = _t(input, "tile")
    mult = _int_list(multiples, "tile", "multiples")
    with fw.name_scope(name, "Tile", [x]) as scope:
        out = x
        for axis, m in enumerate(mult):
            if m != 1:
                out = _apply("ConcatV2", [out] * m, {"axis": axis})
        return identity(out, name=scope)


# --- element types and selection ------------------------------------------------------


def cast(x: Any, dtype: Any, name: str | None = None) -> Tensor:
    """``tf.cast``: x itself when it already has `dtype`, as TF."""
    t = _t(x, "cast")
    dt = dtypes.as_dtype(dtype)
    if t.dtype == dt:
        return t
    return _apply("Cast", [t], {"dtype": dt.as_devrt_dtype}, name or "Cast")


def to_float(x: Any, name: str = "ToFloat") -> Tensor:
    return cast(x, dtypes.float32, name)


def to_double(x: Any, name: str = "ToDouble") -> Tensor:
    return cast(x, dtypes.float64, name)


def to_int32(x: Any, name: str = "ToInt32") -> Tensor:
    return cast(x, dtypes.int32, name)


def to_int64(x: Any, name: str = "ToInt64") -> Tensor:
    return cast(x, dtypes.int64, name)


def where(condition: Any, x: Any = None, y: Any = None, name: str | None = None) -> Tensor:
    """``tf.where(condition, x, y)`` (``Select``, broadcasting); with
    `condition` alone, the int64 coordinates of its true entries (``Where``)."""
    if x is None and y is None:
        return _where_indices(condition, name)
    if x is None or y is None:
        raise ValueError("[where] x and y must both be given, or neither")
    cond = _t(condition, "where", dtypes.bool)
    a, b = conversion.convert_n([x, y], "where")
    return _apply("Select", [cond, a, b], {}, name or "Select")


where_v2 = where


def one_hot(
    indices: Any,
    depth: Any,
    on_value: Any = None,
    off_value: Any = None,
    axis: Any = None,
    dtype: Any = None,
    name: str | None = None,
) -> Tensor:
    """``tf.one_hot``: ``OneHot``, then a Select for other on/off values and a
    Transpose for an `axis` other than -1."""
    idx = _t(indices, "one_hot")
    depth = _int(depth, "one_hot", "depth")
    if dtype is None:
        for v in (on_value, off_value):
            if v is not None:
                dtype = _t(v, "one_hot").dtype if isinstance(v, Tensor) else None
                if dtype is None:
                    dtype = dtypes.as_dtype(conversion._constant_array(v, None, "one_hot").dtype)
                break
    dt = dtypes.as_dtype(dtype or dtypes.float32)
    with fw.name_scope(name, "one_hot", [idx]) as scope:
        plain = on_value is None and off_value is None
        out_name = scope if plain and axis in (None, -1) else None
        if plain:
            out = _apply("OneHot", [idx], {"depth": depth, "dtype": dt.as_devrt_dtype}, out_name)
        else:
            mask = _apply("OneHot", [idx], {"depth": depth, "dtype": dtypes.bool.as_devrt_dtype})
            on = _t(1 if on_value is None else on_value, "one_hot", dt)
            off = _t(0 if off_value is None else off_value, "one_hot", dt)
            out = _apply("Select", [mask, on, off], {}, scope if axis in (None, -1) else None)
        if axis not in (None, -1):
            r = idx.shape.ndims
            if r is None:
                raise ValueError("[one_hot] an axis other than -1 needs indices of known rank")
            perm = list(builtins.range(r))
            perm.insert(_int(axis, "one_hot", "axis"), r)
            out = _apply("Transpose", [out], {"perm": perm}, scope)
        return out


def gather(
    params: Any,
    indices: Any,
    validate_indices: Any = None,
    name: str | None = None,
    axis: Any = None,
    batch_dims: int = 0,
) -> Tensor:
    """``tf.gather`` (``GatherV2``); `batch_dims` must be 0."""
    if batch_dims:
        raise NotImplementedError("[gather] batch_dims is not supported")
    p = _t(params, "gather")
    i = _t(indices, "gather")
    axis = 0 if axis is None else _int(axis, "gather", "axis")
    rank = p.shape.rank
    if rank is not None and not -rank <= axis < builtins.max(rank, 1):
        raise IndexError(f"[gather] axis {axis} is out of range for params of rank {rank}")
    return _apply("GatherV2", [p, i], {"axis": axis}, name or "GatherV2")


def identity(input: Any, name: str | None = None) -> Tensor:
    """``tf.identity``."""
    return _apply("Identity", [_t(input, "identity")], {}, name or "Identity")


Tensor.__getitem__ = _getitem  # type: ignore[assignment]


# --- masks ---------------------------------------------------------------------------


def _where_indices(condition: Any, name: str | None) -> Tensor:
    """The one-argument ``tf.where``: int64 coordinates of the true entries."""
    cond = _t(condition, "where")
    return _apply("Where", [cond], {}, name or "Where")


def sequence_mask(
    lengths: Any, maxlen: Any = None, dtype: Any = dtypes.bool, name: str | None = None
) -> Tensor:
    """``tf.sequence_mask``: ``mask[..., j] = j < lengths[...]``, of last
    dimension `maxlen` (default: the largest length, known at run time)."""
    lengths = _t(lengths, "sequence_mask")
    if not lengths.dtype.is_integer:
        raise TypeError(f"[sequence_mask] lengths must be integers, got {lengths.dtype.name}")
    with fw.name_scope(name, "SequenceMask", [lengths]):
        if maxlen is None:
            limit = _apply("Max", [lengths], {"axes": None, "keepdims": False})
        else:
            limit = cast(_t(maxlen, "sequence_mask"), lengths.dtype)
        zero = _t(0, "sequence_mask", lengths.dtype)
        one = _t(1, "sequence_mask", lengths.dtype)
        row = _apply("Range", [zero, limit, one], {})
        static = None if maxlen is None else get_static_value(limit)
        if static is not None:
            row = reshape(row, [int(static)])
        mask = _apply("Less", [row, expand_dims(lengths, -1)], {})
        dt = dtypes.as_dtype(dtype)
        return mask if dt == dtypes.bool else cast(mask, dt)


def boolean_mask(tensor: Any, mask: Any, name: str = "boolean_mask", axis: Any = None) -> Tensor:
    """``tf.boolean_mask``: the entries (or slices) of `tensor` where the
    bool `mask` is True. `mask`'s dimensions are `tensor`'s from `axis` on;
    its rank must be known, and `tensor`'s dimensions outside the mask's
    must be known when the graph is built (all but the first if `axis` is 0)."""
    x = _t(tensor, "boolean_mask")
    m = _t(mask, "boolean_mask")
    if m.dtype != dtypes.bool:
        raise TypeError(f"[boolean_mask] mask must be bool, got {m.dtype.name}")
    k = m.shape.rank
    if k is None or k == 0:
        raise ValueError(f"[boolean_mask] the mask's rank must be known and not 0, got {m.shape}")
    axis = 0 if axis is None else _int(axis, "boolean_mask", "axis")
    dims = x.shape.as_list() if x.shape.rank is not None else None
    if dims is None:
        raise ValueError("[boolean_mask] the tensor's rank must be known")
    if axis < 0:
        axis += len(dims)
    if not 0 <= axis <= len(dims) - k:
        raise ValueError(
            f"[boolean_mask] a mask of shape {m.shape} does not fit the tensor of shape "
            f"{x.shape} at axis {axis}"
        )
    if not TensorShape(dims[axis : axis + k]).is_compatible_with(m.shape):
        raise ValueError(
            f"[boolean_mask] the mask's shape {m.shape} is not the tensor's {x.shape} at "
            f"dimensions {axis}..{axis + k - 1}"
        )
    outer = dims[:axis] + dims[axis + k :]
    if k > 1 and any(d is None for d in outer):
        raise ValueError(
            f"[boolean_mask] the dimensions of {x.shape} outside a mask of rank {k} must be known"
        )
    with fw.name_scope(name, "boolean_mask", [x, m]) as scope:
        flat = x if k == 1 else reshape(x, dims[:axis] + [-1] + dims[axis + k :])
        where = _where_indices(reshape(m, [-1]), None)
        indices = squeeze(where, [1])
        return _apply("GatherV2", [flat, indices], {"axis": axis}, scope)
