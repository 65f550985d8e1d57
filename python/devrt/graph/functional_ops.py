"""``tf.map_fn``, ``tf.scan``, ``tf.foldl`` and ``tf.foldr``: a function
applied along the first dimension of tensors, in a ``tf.while_loop`` whose
results are collected in ``tf.TensorArray``s (docs/graph.md).

Each function takes `elems`, a tensor or a nested structure (lists, tuples,
named tuples, dicts) of tensors sharing their first dimension, whose size
may be unknown until run. Gradients flow through the loop to `elems`, the
initializer and every tensor `fn` reads from outside.
"""

from __future__ import annotations

from typing import Any

from devrt.graph import dtypes
from devrt.graph import framework as fw
from devrt.graph.array_ops import _getitem, shape
from devrt.graph.control_flow_ops import _flatten, _pack, _skeleton, while_loop
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_array_ops import TensorArray
from devrt.graph.tensor_shape import TensorShape
from devrt.graph.tensor_util import _apply, _t, get_static_value

__all__ = ["foldl", "foldr", "map_fn", "scan"]


def _elements(elems: Any, what: str) -> tuple[list[Tensor], Tensor]:
    """The tensors of `elems` flattened, and the size of their first
    dimension (an int32 scalar tensor, a constant when known)."""
    flat = [_t(e, what) for e in _flatten(elems, what, "an element of elems is None")]
    if not flat:
        raise ValueError(f"[{what}] elems must hold at least one tensor")
    for e in flat:
        if e.shape.ndims == 0:
            raise ValueError(f"[{what}] the elements must have a first dimension, got a scalar {e}")
    sizes = {e.shape[0] for e in flat if e.shape.ndims is not None} - {None}
    if len(sizes) > 1:
        raise ValueError(
            f"[{what}] the elements have different first dimensions: "
            f"{[tuple(e.shape.as_list() or ()) for e in flat]}"
        )
    if sizes:
        n = _t(sizes.pop(), what, dtypes.int32)
    else:
        n = _getitem(shape(flat[0]), 0)
    return flat, n


def _stack_of_zeros(reference: Tensor, like: Tensor) -> Tensor | None:
    """Zeros of shape [n] + like's shape, n the first dimension of
    `reference`: a TensorArray's first value whose shape the graph knows as
    far as those of `reference` and `like` are known. None where a rank is
    unknown."""
    if reference.shape.ndims is None or like.shape.ndims is None:
        return None
    line = _getitem(reference, (slice(None),) + (0,) * (reference.shape.ndims - 1))
    column = _apply("ZerosLike", [line], {})
    if column.dtype != like.dtype:
        column = _apply("Cast", [column], {"dtype": like.dtype.as_devrt_dtype})
    column = _apply("Reshape", [column], {"shape": [-1] + [1] * like.shape.ndims})
    zeros = _apply("ExpandDims", [_apply("ZerosLike", [like], {})], {"axis": 0})
    return _apply("Add", [column, zeros], {})


def _array_like(reference: Tensor, n: Tensor, like: Tensor) -> TensorArray:
    flow = _stack_of_zeros(reference, like)
    if flow is None:
        return TensorArray(like.dtype, size=n)
    return TensorArray(like.dtype, flow=flow)


def _with_shape(stacked: Tensor, n: Tensor, element: TensorShape) -> Tensor:
    """`stacked`, a TensorArray's elements of static shape `element`: a
    Reshape gives the graph the shape [n] + element when at most one of its
    dimensions is unknown; otherwise only Python sees it (``set_shape``)."""
    if element.ndims is None:
        return stacked
    static_n = get_static_value(n)
    dims = [None if static_n is None else int(static_n)] + element.as_list()
    if dims.count(None) <= 1:
        return _apply("Reshape", [stacked], {"shape": [-1 if d is None else d for d in dims]})
    stacked.set_shape(dims)
    return stacked


def _loop_args(parallel_iterations: Any, back_prop: bool, swap_memory: bool) -> dict:
    return {
        "parallel_iterations": parallel_iterations or 10,
        "back_prop": back_prop,
        "swap_memory": swap_memory,
    }


def map_fn(
    fn: Any,
    elems: Any,
    dtype: Any = None,
    parallel_iterations: Any = None,
    back_prop: bool = True,
    swap_memory: bool = False,
    infer_shape: bool = True,
    name: str | None = None,
    fn_output_signature: Any = None,
) -> Any:
    """``tf.map_fn``: ``fn`` applied to each slice of `elems` along its first
    dimension, the results stacked. `fn` receives a slice in the structure
    of `elems` and returns a structure of tensors: that of `elems` with its
    dtypes, unless `dtype` (or `fn_output_signature`), a structure of
    dtypes, says otherwise."""
    what = "map_fn"
    if not callable(fn):
        raise TypeError(f"[{what}] fn must be callable, got {type(fn).__name__}")
    signature = fn_output_signature if dtype is None else dtype
    flat, n = _elements(elems, what)
    with fw.name_scope(name, "map", flat):
        if signature is None:
            out_structure, out_dtypes = elems, [e.dtype for e in flat]
        else:
            out_structure = signature
            try:
                out_dtypes = [dtypes.as_dtype(d) for d in _flatten(signature, what)]
            except TypeError as exc:
                raise TypeError(f"[{what}] dtype: {exc}") from None
        arrays = [TensorArray(d, size=n) for d in out_dtypes]
        shapes: list[TensorShape] = []

        def body(i, arrays):
            value = fn(_pack(elems, [_apply("GatherV2", [e, i], {"axis": 0}) for e in flat]))
            if _skeleton(value) != _skeleton(out_structure):
                raise ValueError(
                    f"[{what}] fn returned the structure {_skeleton(value)} where "
                    f"{_skeleton(out_structure)} was expected (* is a tensor; pass dtype for "
                    "another structure than that of elems)"
                )
            results = []
            for k, (v, d) in enumerate(zip(_flatten(value, what, "fn returned None"), out_dtypes)):
                tensor = isinstance(v, Tensor) or hasattr(v, "_to_tensor")
                v = _t(v, what, None if tensor else d)
                if v.dtype != d:
                    raise TypeError(
                        f"[{what}] fn returned a {v.dtype.name} tensor for output {k}, of dtype "
                        f"{d.name} (pass dtype for other dtypes than those of elems)"
                    )
                shapes.append(v.shape)
                results.append(v)
            return i + 1, [a.write(i, v) for a, v in zip(arrays, results)]

        _, arrays = while_loop(
            lambda i, arrays: i < n,
            body,
            (_t(0, what, dtypes.int32), arrays),
            **_loop_args(parallel_iterations, back_prop, swap_memory),
        )
        stacked = [a.stack() for a in arrays]
        if infer_shape:
            stacked = [_with_shape(t, n, s) for t, s in zip(stacked, shapes)]
        return _pack(out_structure, stacked)


def _fold(
    fn: Any,
    elems: Any,
    initializer: Any,
    reverse: bool,
    collect: bool,
    loop_args: dict,
    name: str | None,
    what: str,
) -> tuple[Any, list[Tensor]]:
    """The accumulator of `fn` over `elems` (from the last element back when
    `reverse`) and, when `collect`, each step's accumulator stacked (in the
    elements' order). Without `initializer` the first element (the last
    when `reverse`) is the first accumulator."""
    if not callable(fn):
        raise TypeError(f"[{what}] fn must be callable, got {type(fn).__name__}")
    flat, n = _elements(elems, what)
    with fw.name_scope(name, what, flat):
        one = _t(1, what, dtypes.int32)
        last = _apply("Sub", [n, one], {})

        def position(k: Tensor) -> Tensor:
            return _apply("Sub", [last, k], {}) if reverse else k

        def element(index: Tensor) -> Any:
            return _pack(elems, [_apply("GatherV2", [e, index], {"axis": 0}) for e in flat])

        if initializer is None:
            structure, start = elems, one
            first = position(_t(0, what, dtypes.int32))
            acc = [_apply("GatherV2", [e, first], {"axis": 0}) for e in flat]
        else:
            structure, start = initializer, _t(0, what, dtypes.int32)
            acc = [_t(a, what) for a in _flatten(initializer, what, "the initializer is None")]
        arrays = [_array_like(flat[0], n, a) for a in acc] if collect else []
        if collect and initializer is None:
            arrays = [a.write(first, v) for a, v in zip(arrays, acc)]

        def body(k, acc, arrays):
            value = fn(_pack(structure, list(acc)), element(position(k)))
            if _skeleton(value) != _skeleton(structure):
                raise ValueError(
                    f"[{what}] fn returned the structure {_skeleton(value)} for an accumulator "
                    f"of structure {_skeleton(structure)} (* is a tensor)"
                )
            new = []
            for j, (v, a) in enumerate(zip(_flatten(value, what, "fn returned None"), acc)):
                tensor = isinstance(v, Tensor) or hasattr(v, "_to_tensor")
                v = _t(v, what, None if tensor else a.dtype)
                if v.dtype != a.dtype:
                    raise TypeError(
                        f"[{what}] fn returned a {v.dtype.name} tensor for accumulator {j}, "
                        f"of dtype {a.dtype.name}"
                    )
                new.append(v)
            arrays = [t.write(position(k), v) for t, v in zip(arrays, new)]
            return _apply("Add", [k, one], {}), new, arrays

        _, acc, arrays = while_loop(
            lambda k, acc, arrays: _apply("Less", [k, n], {}),
            body,
            (start, acc, arrays),
            **loop_args,
        )
        return _pack(structure, list(acc)), [a.stack() for a in arrays]


def scan(
    fn: Any,
    elems: Any,
    initializer: Any = None,
    parallel_iterations: int = 10,
    back_prop: bool = True,
    swap_memory: bool = False,
    infer_shape: bool = True,
    reverse: bool = False,
    name: str | None = None,
) -> Any:
    """``tf.scan``: the accumulators ``a = fn(a, x)`` over the slices `x` of
    `elems` along their first dimension (from the last when `reverse`),
    stacked in the elements' order, in the structure of `initializer` (of
    `elems` without one, the first element being the first accumulator)."""
    loop_args = _loop_args(parallel_iterations, back_prop, swap_memory)
    structure = elems if initializer is None else initializer
    _, stacked = _fold(fn, elems, initializer, reverse, True, loop_args, name, "scan")
    return _pack(structure, stacked)


def foldl(
    fn: Any,
    elems: Any,
    initializer: Any = None,
    parallel_iterations: int = 10,
    back_prop: bool = True,
    swap_memory: bool = False,
    name: str | None = None,
) -> Any:
    """``tf.foldl``: the last accumulator of ``a = fn(a, x)`` over the slices
    `x` of `elems` along their first dimension, first to last; without
    `initializer` the first element is the first accumulator."""
    loop_args = _loop_args(parallel_iterations, back_prop, swap_memory)
    return _fold(fn, elems, initializer, False, False, loop_args, name, "foldl")[0]


def foldr(
    fn: Any,
    elems: Any,
    initializer: Any = None,
    parallel_iterations: int = 10,
    back_prop: bool = True,
    swap_memory: bool = False,
    name: str | None = None,
) -> Any:
    """``tf.foldr``: as ``foldl``, from the last element to the first."""
    loop_args = _loop_args(parallel_iterations, back_prop, swap_memory)
    return _fold(fn, elems, initializer, True, False, loop_args, name, "foldr")[0]
