"""Math ops of ``tf``: elementwise unary and binary ops, matmul, reductions,
argmax/argmin, clipping, and the Tensor operators (``+ - * / // % ** @``,
``< <= > >=``, unary ``-``, ``abs``, ``& | ^ ~``).

A Python value meeting a tensor is converted to the tensor's dtype, as TF
does (so ``x_int32 * 0.5`` is a TypeError). Difference from TensorFlow:
two tensors of different dtypes are promoted by the core, as eager ops
are, instead of raising.
"""

from __future__ import annotations

import builtins
import collections
from typing import Any

import numpy as np

from devrt.graph import conversion, dtypes
from devrt.graph import framework as fw
from devrt.graph.array_ops import cast
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _apply, _axes, _int, _t

__all__ = [
    "abs",
    "accumulate_n",
    "add",
    "add_n",
    "argmax",
    "argmin",
    "cumsum",
    "top_k",
    "ceil",
    "clip_by_global_norm",
    "clip_by_norm",
    "clip_by_value",
    "cos",
    "count_nonzero",
    "div",
    "div_no_nan",
    "divide",
    "equal",
    "erf",
    "exp",
    "expm1",
    "atan2",
    "floor",
    "floordiv",
    "floormod",
    "global_norm",
    "greater",
    "greater_equal",
    "is_finite",
    "is_inf",
    "is_nan",
    "less",
    "less_equal",
    "log",
    "log1p",
    "log_sigmoid",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "matmul",
    "maximum",
    "minimum",
    "mod",
    "multiply",
    "negative",
    "norm",
    "not_equal",
    "pow",
    "realdiv",
    "reciprocal",
    "reduce_all",
    "reduce_any",
    "reduce_logsumexp",
    "reduce_max",
    "reduce_mean",
    "reduce_min",
    "reduce_prod",
    "reduce_std",
    "reduce_sum",
    "reduce_variance",
    "round",
    "rsqrt",
    "scalar_mul",
    "sigmoid",
    "sign",
    "sin",
    "sqrt",
    "square",
    "squared_difference",
    "subtract",
    "tan",
    "tanh",
    "truediv",
]


# --- elementwise ----------------------------------------------------------------------
def _binary(op_type: str, x: Any, y: Any, name: str | None, what: str) -> Tensor:
    a, b = conversion.convert_n([x, y], what)
    return _apply(op_type, [a, b], {}, name or op_type)


def _unary(op_type: str, x: Any, name: str | None, what: str) -> Tensor:
    return _apply(op_type, [_t(x, what)], {}, name or op_type)


def add(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``tf.add``."""
    return _binary("Add", x, y, name, "add")


def subtract(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``tf.subtract``."""
    return _binary("Sub", x, y, name, "subtract")


def multiply(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``tf.multiply``."""
    return _binary("Mul", x, y, name, "multiply")


def scalar_mul(scalar: Any, x: Any, name: str | None = None) -> Tensor:
    """``tf.scalar_mul``."""
    return _binary("Mul", scalar, x, name, "scalar_mul")


def realdiv(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``tf.realdiv`` (``RealDiv``)."""
    return _binary("RealDiv", x, y, name, "realdiv")


_TRUEDIV = {"uint8": dtypes.float32, "int32": dtypes.float64, "int64": dtypes.float64}


def truediv(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``tf.truediv``: integers are cast first (uint8 to float32, int32 and
    int64 to float64), as TF does."""
    a, b = conversion.convert_n([x, y], "truediv")
    with fw.name_scope(name, "truediv", [a, b]) as scope:
        target = _TRUEDIV.get(a.dtype.name)
        if target is not None:
            a, b = cast(a, target), cast(b, target)
        return _apply("RealDiv", [a, b], {}, scope)


def divide(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``tf.divide``: Python 3 division (``truediv``)."""
    return truediv(x, y, name=name)


def div(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``tf.div`` (TF1, deprecated): floor division for integers, real
    division for floating point."""
    a, b = conversion.convert_n([x, y], "div")
    op = "FloorDiv" if a.dtype.is_integer and b.dtype.is_integer else "RealDiv"
    return _apply(op, [a, b], {}, name or "div")


def div_no_nan(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``tf.div_no_nan``: 0 where `y` is 0."""
    a, b = conversion.convert_n([x, y], "div_no_nan")
    with fw.name_scope(name, "div_no_nan", [a, b]) as scope:
        zero = _t(0, "div_no_nan", b.dtype)
        is_zero = _apply("Equal", [b, zero], {})
        safe = _apply("Select", [is_zero, _t(1, "div_no_nan", b.dtype), b], {})
        q = _apply("RealDiv", [a, safe], {})
        return _apply("Select", [is_zero, _apply("ZerosLike", [q], {}), q], {}, scope)


def floordiv(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``tf.floordiv``."""
    return _binary("FloorDiv", x, y, name, "floordiv")


def floormod(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``tf.floormod`` (also ``tf.mod``)."""
    return _binary("FloorMod", x, y, name, "floormod")


mod = floormod


def maximum(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``tf.maximum``."""
    return _binary("Maximum", x, y, name, "maximum")


def minimum(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``tf.minimum``."""
    return _binary("Minimum", x, y, name, "minimum")


def pow(x: Any, y: Any, name: str | None = None) -> Tensor:  # noqa: A001
    """``tf.pow``."""
    return _binary("Pow", x, y, name, "pow")


def squared_difference(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``tf.squared_difference``: (x - y)**2."""
    a, b = conversion.convert_n([x, y], "squared_difference")
    with fw.name_scope(name, "SquaredDifference", [a, b]) as scope:
        return _apply("Square", [_apply("Sub", [a, b], {})], {}, scope)


def equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    return _binary("Equal", x, y, name, "equal")


def not_equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    return _binary("NotEqual", x, y, name, "not_equal")


def less(x: Any, y: Any, name: str | None = None) -> Tensor:
    return _binary("Less", x, y, name, "less")


def less_equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    return _binary("LessEqual", x, y, name, "less_equal")


def greater(x: Any, y: Any, name: str | None = None) -> Tensor:
    return _binary("Greater", x, y, name, "greater")


def greater_equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    return _binary("GreaterEqual", x, y, name, "greater_equal")


def logical_and(x: Any, y: Any, name: str | None = None) -> Tensor:
    return _binary("LogicalAnd", _t(x, "logical_and", dtypes.bool), y, name, "logical_and")


def logical_or(x: Any, y: Any, name: str | None = None) -> Tensor:
    return _binary("LogicalOr", _t(x, "logical_or", dtypes.bool), y, name, "logical_or")


def logical_not(x: Any, name: str | None = None) -> Tensor:
    return _apply("LogicalNot", [_t(x, "logical_not", dtypes.bool)], {}, name or "LogicalNot")


def logical_xor(x: Any, y: Any, name: str = "LogicalXor") -> Tensor:
    """``tf.logical_xor``: (x | y) & ~(x & y)."""
    a, b = conversion.convert_n([_t(x, "logical_xor", dtypes.bool), y], "logical_xor")
    with fw.name_scope(name, "LogicalXor", [a, b]) as scope:
        either = _apply("LogicalOr", [a, b], {})
        both = _apply("LogicalNot", [_apply("LogicalAnd", [a, b], {})], {})
        return _apply("LogicalAnd", [either, both], {}, scope)


def negative(x: Any, name: str | None = None) -> Tensor:
    return _unary("Neg", x, name, "negative")


def abs(x: Any, name: str | None = None) -> Tensor:  # noqa: A001
    return _unary("Abs", x, name, "abs")


def sign(x: Any, name: str | None = None) -> Tensor:
    return _unary("Sign", x, name, "sign")


def exp(x: Any, name: str | None = None) -> Tensor:
    return _unary("Exp", x, name, "exp")


def expm1(x: Any, name: str | None = None) -> Tensor:
    """``tf.expm1``: exp(x) - 1, accurate near 0."""
    return _unary("expm1", x, name or "Expm1", "expm1")


def log(x: Any, name: str | None = None) -> Tensor:
    return _unary("Log", x, name, "log")


def log1p(x: Any, name: str | None = None) -> Tensor:
    return _unary("Log1p", x, name, "log1p")


def sqrt(x: Any, name: str | None = None) -> Tensor:
    return _unary("Sqrt", x, name, "sqrt")


def rsqrt(x: Any, name: str | None = None) -> Tensor:
    return _unary("Rsqrt", x, name, "rsqrt")


def square(x: Any, name: str | None = None) -> Tensor:
    return _unary("Square", x, name, "square")


def reciprocal(x: Any, name: str | None = None) -> Tensor:
    return _unary("Reciprocal", x, name, "reciprocal")


def sin(x: Any, name: str | None = None) -> Tensor:
    return _unary("Sin", x, name, "sin")


def cos(x: Any, name: str | None = None) -> Tensor:
    return _unary("Cos", x, name, "cos")


def tan(x: Any, name: str | None = None) -> Tensor:
    return _unary("tan", x, name or "Tan", "tan")


def atan2(y: Any, x: Any, name: str | None = None) -> Tensor:
    """``tf.atan2``: the angle of the point (x, y), in (-pi, pi]."""
    return _binary("atan2", y, x, name or "Atan2", "atan2")


def tanh(x: Any, name: str | None = None) -> Tensor:
    return _unary("Tanh", x, name, "tanh")


def sigmoid(x: Any, name: str | None = None) -> Tensor:
    return _unary("Sigmoid", x, name, "sigmoid")


def log_sigmoid(x: Any, name: str | None = None) -> Tensor:
    """``tf.log_sigmoid``: -(max(-x, 0) + log1p(exp(-|x|))), stable for large |x|."""
    from devrt._composite import activations
    from devrt._composite.graph import GRAPH

    t = _t(x, "log_sigmoid")
    with fw.name_scope(name, "LogSigmoid", [t]) as scope:
        return activations.log_sigmoid(GRAPH, t, name=scope)


def erf(x: Any, name: str | None = None) -> Tensor:
    return _unary("Erf", x, name, "erf")


def floor(x: Any, name: str | None = None) -> Tensor:
    return _unary("Floor", x, name, "floor")


def ceil(x: Any, name: str | None = None) -> Tensor:
    return _unary("Ceil", x, name, "ceil")


def round(x: Any, name: str | None = None) -> Tensor:  # noqa: A001
    """``tf.round``: half to even, as the core's Round."""
    return _unary("Round", x, name, "round")


def is_nan(x: Any, name: str | None = None) -> Tensor:
    """``tf.is_nan``: x != x."""
    t = _t(x, "is_nan")
    return _apply("NotEqual", [t, t], {}, name or "IsNan")


def is_inf(x: Any, name: str | None = None) -> Tensor:
    """``tf.is_inf``: |x| == inf."""
    t = _t(x, "is_inf")
    with fw.name_scope(name, "IsInf", [t]) as scope:
        inf = _t(np.inf, "is_inf", t.dtype)
        return _apply("Equal", [_apply("Abs", [t], {}), inf], {}, scope)


def is_finite(x: Any, name: str | None = None) -> Tensor:
    """``tf.is_finite``: x - x == 0 (nan for inf and nan)."""
    t = _t(x, "is_finite")
    with fw.name_scope(name, "IsFinite", [t]) as scope:
        zero = _t(0, "is_finite", t.dtype)
        return _apply("Equal", [_apply("Sub", [t, t], {}), zero], {}, scope)


# --- matmul ---------------------------------------------------------------------------


def matmul(
    a: Any,
    b: Any,
    transpose_a: bool = False,
    transpose_b: bool = False,
    adjoint_a: bool = False,
    adjoint_b: bool = False,
    a_is_sparse: bool = False,
    b_is_sparse: bool = False,
    name: str | None = None,
) -> Tensor:
    """``tf.matmul`` (batched when the rank is above 2); adjoint is transpose
    for real dtypes."""
    x, y = conversion.convert_n([a, b], "matmul")
    attrs = {
        "transpose_a": builtins.bool(transpose_a or adjoint_a),
        "transpose_b": builtins.bool(transpose_b or adjoint_b),
    }
    return _apply("MatMul", [x, y], attrs, name or "MatMul")


# --- reductions ---------------------------------------------------------------------


def _reduce_args(axis, keepdims, reduction_indices, keep_dims, what):
    if reduction_indices is not None:
        if axis is not None:
            raise ValueError(f"[{what}] cannot specify both 'axis' and 'reduction_indices'")
        axis = reduction_indices
    if keep_dims is not None:
        if keepdims is not None:
            raise ValueError(f"[{what}] cannot specify both 'keepdims' and 'keep_dims'")
        keepdims = keep_dims
    return {"axes": _axes(axis, what), "keepdims": builtins.bool(keepdims)}


def _reducer(op_type: str, what: str, doc: str):
    def reduce(
        input_tensor: Any,
        axis: Any = None,
        keepdims: Any = None,
        name: str | None = None,
        reduction_indices: Any = None,
        keep_dims: Any = None,
    ) -> Tensor:
        attrs = _reduce_args(axis, keepdims, reduction_indices, keep_dims, what)
        return _apply(op_type, [_t(input_tensor, what)], attrs, name or op_type)

    reduce.__name__ = reduce.__qualname__ = what
    reduce.__doc__ = (
        f"``tf.{what}`` ({op_type}): {doc} over `axis` (None: all). TF1's "
        "`reduction_indices` and `keep_dims` are accepted."
    )
    return reduce


reduce_sum = _reducer("Sum", "reduce_sum", "the sum")
reduce_mean = _reducer("Mean", "reduce_mean", "the mean")
reduce_max = _reducer("Max", "reduce_max", "the maximum")
reduce_min = _reducer("Min", "reduce_min", "the minimum")
reduce_prod = _reducer("Prod", "reduce_prod", "the product")


def _bool_reducer(op_type: str, what: str):
    def reduce(
        input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None
    ):
        attrs = _reduce_args(axis, keepdims, reduction_indices, keep_dims, what)
        x = _t(input_tensor, what, dtypes.bool)
        with fw.name_scope(name, what.title().replace("_", ""), [x]) as scope:
            r = _apply(op_type, [cast(x, dtypes.float32)], attrs)
            return _apply("Cast", [r], {"dtype": dtypes.bool.as_devrt_dtype}, scope)

    reduce.__name__ = reduce.__qualname__ = what
    reduce.__doc__ = (
        f"``tf.{what}``: {op_type} of the input cast to float32 (0 or 1), cast back to "
        "bool; an empty reduction gives the identity (False for any, True for all)."
    )
    return reduce


# Sum and Prod, not Max and Min: they have identities for empty reductions.
reduce_any = _bool_reducer("Sum", "reduce_any")
reduce_all = _bool_reducer("Prod", "reduce_all")


def reduce_logsumexp(
    input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None
):
    """``tf.reduce_logsumexp``: m + log(sum(exp(x - m))) with m the maximum."""
    attrs = _reduce_args(axis, keepdims, reduction_indices, keep_dims, "reduce_logsumexp")
    x = _t(input_tensor, "reduce_logsumexp")
    with fw.name_scope(name, "ReduceLogSumExp", [x]) as scope:
        m = _apply("Max", [x], {"axes": attrs["axes"], "keepdims": True})
        s = _apply("Sum", [_apply("Exp", [_apply("Sub", [x, m], {})], {})], attrs)
        if not attrs["keepdims"]:
            m = (
                _apply("Squeeze", [m], {"axes": attrs["axes"]})
                if attrs["axes"] is not None
                else (_apply("Reshape", [m], {"shape": []}))
            )
        return _apply("Add", [m, _apply("Log", [s], {})], {}, scope)


def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    """``tf.math.reduce_variance``: mean((x - mean(x))**2)."""
    x = _t(input_tensor, "reduce_variance")
    axes = _axes(axis, "reduce_variance")
    with fw.name_scope(name, "reduce_variance", [x]) as scope:
        mean = _apply("Mean", [x], {"axes": axes, "keepdims": True})
        sq = _apply("Square", [_apply("Sub", [x, mean], {})], {})
        return _apply("Mean", [sq], {"axes": axes, "keepdims": builtins.bool(keepdims)}, scope)


def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    """``tf.math.reduce_std``: sqrt of reduce_variance."""
    x = _t(input_tensor, "reduce_std")
    with fw.name_scope(name, "reduce_std", [x]) as scope:
        return _apply("Sqrt", [reduce_variance(x, axis, keepdims)], {}, scope)


def count_nonzero(
    input_tensor=None,
    axis=None,
    keepdims=None,
    dtype=dtypes.int64,
    name=None,
    reduction_indices=None,
    keep_dims=None,
    input=None,
):
    """``tf.count_nonzero``."""
    attrs = _reduce_args(axis, keepdims, reduction_indices, keep_dims, "count_nonzero")
    x = _t(input_tensor if input_tensor is not None else input, "count_nonzero")
    with fw.name_scope(name, "count_nonzero", [x]) as scope:
        zero = False if x.dtype == dtypes.bool else 0
        nz = _apply("NotEqual", [x, _t(zero, "count_nonzero", x.dtype)], {})
        s = _apply("Sum", [cast(nz, dtypes.int64)], attrs)
        return (
            cast(s, dtype, name=scope)
            if dtypes.as_dtype(dtype) != dtypes.int64
            else (_apply("Identity", [s], {}, scope))
        )


def _arg(op_type: str, input: Any, axis: Any, name: Any, dimension: Any, output_type: Any, what):
    if axis is None:
        axis = dimension
    axis = 0 if axis is None else _int(axis, what, "axis")
    x = _t(input, what)
    out_type = dtypes.as_dtype(output_type)
    if out_type == dtypes.int64:
        return _apply(op_type, [x], {"axis": axis}, name or op_type)
    with fw.name_scope(name, op_type, [x]) as scope:
        return cast(_apply(op_type, [x], {"axis": axis}), out_type, name=scope)


def argmax(input, axis=None, name=None, dimension=None, output_type=dtypes.int64):
    """``tf.argmax``: `axis` None means 0, as TF1."""
    return _arg("ArgMax", input, axis, name, dimension, output_type, "argmax")


def argmin(input, axis=None, name=None, dimension=None, output_type=dtypes.int64):
    """``tf.argmin``: `axis` None means 0, as TF1."""
    return _arg("ArgMin", input, axis, name, dimension, output_type, "argmin")


def cumsum(x: Any, axis: Any = 0, exclusive: bool = False, reverse: bool = False, name=None):
    """``tf.cumsum``: the running sum along `axis`; `exclusive` leaves each
    element out of its own sum, `reverse` sums from the end."""
    t = _t(x, "cumsum")
    attrs = {
        "axis": _int(axis, "cumsum", "axis"),
        "exclusive": int(bool(exclusive)),
        "reverse": int(bool(reverse)),
    }
    return _apply("Cumsum", [t], attrs, name or "Cumsum")


TopKV2 = collections.namedtuple("TopKV2", ["values", "indices"])
TopKV2.__doc__ = "``tf.nn.top_k``'s result: (values, indices)."


def top_k(input: Any, k: Any = 1, sorted: bool = True, name: str | None = None) -> TopKV2:
    """``tf.nn.top_k``: the `k` largest entries of the last axis, largest
    first (ties in index order), and their int32 indices."""
    x = _t(input, "top_k")
    op = fw._graph_of([x])._create_op("TopKV2", [x], {"k": _int(k, "top_k", "k")}, name or "TopKV2")
    return TopKV2(op._outputs[0], op._outputs[1])


# --- sums and clipping ------------------------------------------------------------------


def add_n(inputs: Any, name: str | None = None) -> Tensor:
    """``tf.add_n``: a chain of Adds."""
    if not isinstance(inputs, (list, builtins.tuple)) or not inputs:
        raise ValueError("[add_n] inputs must be a non-empty list of tensors")
    xs = conversion.convert_n(list(inputs), "add_n")
    with fw.name_scope(name, "AddN", xs) as scope:
        if len(xs) == 1:
            return _apply("Identity", xs, {}, scope)
        out = xs[0]
        for i, x in enumerate(xs[1:]):
            out = _apply("Add", [out, x], {}, scope if i == len(xs) - 2 else None)
        return out


accumulate_n = add_n


def clip_by_value(t: Any, clip_value_min: Any, clip_value_max: Any, name: str | None = None):
    """``tf.clip_by_value``: Maximum(Minimum(t, max), min)."""
    x = _t(t, "clip_by_value")
    with fw.name_scope(name, "clip_by_value", [x]) as scope:
        lo, hi = (_t(v, "clip_by_value", x.dtype) for v in (clip_value_min, clip_value_max))
        return _apply("Maximum", [_apply("Minimum", [x, hi], {}), lo], {}, scope)


def _l2_sum(x: Tensor, axes: Any, keepdims: bool) -> Tensor:
    return _apply("Sum", [_apply("Square", [x], {})], {"axes": axes, "keepdims": keepdims})


def clip_by_norm(t: Any, clip_norm: Any, axes: Any = None, name: str | None = None) -> Tensor:
    """``tf.clip_by_norm``: t * clip_norm / max(||t||, clip_norm)."""
    x = _t(t, "clip_by_norm")
    with fw.name_scope(name, "clip_by_norm", [x]) as scope:
        c = _t(clip_norm, "clip_by_norm", x.dtype)
        l2 = _apply("Sqrt", [_l2_sum(x, _axes(axes, "clip_by_norm"), True)], {})
        scaled = _apply("Mul", [x, c], {})
        return _apply("RealDiv", [scaled, _apply("Maximum", [l2, c], {})], {}, scope)


def global_norm(t_list: Any, name: str | None = None) -> Tensor:
    """``tf.global_norm``: sqrt of the sum of squares of every tensor (None skipped)."""
    xs = [_t(t, "global_norm") for t in t_list if t is not None]
    if not xs:
        raise ValueError("[global_norm] t_list holds no tensors")
    with fw.name_scope(name, "global_norm", xs) as scope:
        sums = [_l2_sum(x, None, False) for x in xs]
        total = add_n(sums) if len(sums) > 1 else sums[0]
        return _apply("Sqrt", [total], {}, scope)


def clip_by_global_norm(t_list: Any, clip_norm: Any, use_norm: Any = None, name=None):
    """``tf.clip_by_global_norm``: (tensors scaled by clip_norm / max(norm,
    clip_norm), norm); None entries stay None."""
    t_list = list(t_list)
    with fw.name_scope(name, "clip_by_global_norm", [t for t in t_list if t is not None]):
        norm = global_norm(t_list) if use_norm is None else _t(use_norm, "clip_by_global_norm")
        c = _t(clip_norm, "clip_by_global_norm", norm.dtype)
        scale = _apply("RealDiv", [c, _apply("Maximum", [norm, c], {})], {})
        out = []
        for t in t_list:
            if t is None:
                out.append(None)
                continue
            x = _t(t, "clip_by_global_norm")
            out.append(_apply("Mul", [x, cast(scale, x.dtype)], {}))
        return out, norm


def norm(
    tensor: Any,
    ord: Any = "euclidean",
    axis: Any = None,
    keepdims: Any = None,
    name=None,
    keep_dims=None,
):
    """``tf.norm`` for vector norms: 'euclidean'/2, 1 and np.inf over `axis`."""
    if keep_dims is not None:
        keepdims = keep_dims
    x = _t(tensor, "norm")
    axes = _axes(axis, "norm")
    kd = builtins.bool(keepdims)
    with fw.name_scope(name, "norm", [x]) as scope:
        if ord in ("euclidean", 2, 2.0, "fro"):
            return _apply("Sqrt", [_l2_sum(x, axes, kd)], {}, scope)
        if ord in (1, 1.0):
            return _apply("Sum", [_apply("Abs", [x], {})], {"axes": axes, "keepdims": kd}, scope)
        if ord == np.inf:
            return _apply("Max", [_apply("Abs", [x], {})], {"axes": axes, "keepdims": kd}, scope)
        raise ValueError(f"[norm] ord {ord!r} is not supported (use 'euclidean', 1 or np.inf)")


# --- operators ----------------------------------------------------------------------------


def _install_operators(cls: type) -> None:
    """Gives `cls` (Tensor, Variable) TF's operators, building nodes named
    as TF1 names them (``add``, ``mul``, ``truediv`` ...)."""

    def binary(fn, name):
        def op(self, other):
            return fn(self, other, name=name)

        def rop(self, other):
            return fn(other, self, name=name)

        return op, rop

    for dunder, fn, name in (
        ("add", add, "add"),
        ("sub", subtract, "sub"),
        ("mul", multiply, "mul"),
        ("truediv", truediv, "truediv"),
        ("floordiv", floordiv, "floordiv"),
        ("mod", floormod, "mod"),
        ("pow", pow, "pow"),
        ("matmul", matmul, "MatMul"),
        ("and", logical_and, "LogicalAnd"),
        ("or", logical_or, "LogicalOr"),
        ("xor", logical_xor, "LogicalXor"),
    ):
        op, rop = binary(fn, name)
        setattr(cls, f"__{dunder}__", op)
        setattr(cls, f"__r{dunder}__", rop)
    for dunder, fn, name in (
        ("lt", less, "Less"),
        ("le", less_equal, "LessEqual"),
        ("gt", greater, "Greater"),
        ("ge", greater_equal, "GreaterEqual"),
    ):
        setattr(cls, f"__{dunder}__", binary(fn, name)[0])
    cls.__neg__ = lambda self: negative(self, name="Neg")
    cls.__abs__ = lambda self: abs(self, name="Abs")
    cls.__invert__ = lambda self: logical_not(self, name="LogicalNot")


_install_operators(Tensor)
