"""Converters: each turns one recorded call into ONNX nodes.

A converter is called as ``converter(graph, out, *args, **kwargs)`` with the
arguments of the call it records and its result `out`, and returns
``graph.bind(out, name)``, the traced value of the node output `name`. A
converter's ``check(*args, **kwargs)``, where it has one, runs before the
op: it refuses calls that would change the model's state (batch norm
updating its statistics) before they do. The
traced shapes are known, so attributes that depend on them (padding
``'same'``, pooling windows, squeezed axes) are computed here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from devrt import _C
from devrt.onnx._graph import Graph

Tensor = _C.Tensor

CONVERTERS: dict[str, Callable] = {}
# Other spellings of the same op (methods, operators, module functions).
ALIASES: dict[str, str] = {}


def converter(*names: str) -> Callable:
    def register(fn: Callable) -> Callable:
        CONVERTERS[names[0]] = fn
        for alias in names[1:]:
            ALIASES[alias] = names[0]
        return fn

    return register


def _unsupported(op: str, why: str) -> NotImplementedError:
    return NotImplementedError(f"[onnx.export] {op}: {why} is not supported by the exporter")


def _pair(x: Any, n: int = 2) -> list[int]:
    return [int(x)] * n if isinstance(x, int) else [int(v) for v in x]


def _axis(dim: int, ndim: int) -> int:
    return dim + ndim if dim < 0 else dim


# --- elementwise ------------------------------------------------------------------------------


def _binary(op_type: str, reflected: bool = False) -> Callable:
    def convert(g: Graph, out: Tensor, a: Any, b: Any, *, alpha: Any = None) -> Tensor:
        if reflected:
            a, b = b, a
        rhs = g.value(b, like=out)
        if alpha is not None and alpha != 1:
            rhs = g.op("Mul", rhs, g.value(alpha, like=out))
        return g.bind(out, g.op(op_type, g.value(a, like=out), rhs))

    return convert


for _names, _op in (
    (("add", "__add__", "__iadd__", "add_", "F.add"), "Add"),
    (("sub", "__sub__", "__isub__", "sub_", "subtract"), "Sub"),
    (("mul", "__mul__", "__imul__", "mul_", "multiply"), "Mul"),
    (("div", "__truediv__", "__itruediv__", "div_", "divide", "true_divide"), "Div"),
    (("pow", "__pow__"), "Pow"),
    (("maximum",), "Max"),
    (("minimum",), "Min"),
):
    converter(*_names)(_binary(_op))
for _names, _op in (
    (("radd", "__radd__"), "Add"),
    (("rsub", "__rsub__"), "Sub"),
    (("rmul", "__rmul__"), "Mul"),
    (("rdiv", "__rtruediv__"), "Div"),
    (("rpow", "__rpow__"), "Pow"),
):
    converter(*_names)(_binary(_op, reflected=True))


@converter("matmul", "__matmul__", "mm", "bmm")
def _matmul(g: Graph, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    return g.bind(out, g.op("MatMul", g.value(a, like=out), g.value(b, like=out)))


@converter("rmatmul", "__rmatmul__")
def _rmatmul(g: Graph, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    return _matmul(g, out, b, a)


def _unary(op_type: str) -> Callable:
    def convert(g: Graph, out: Tensor, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return g.bind(out, g.op(op_type, g.value(x, like=out)))

    return convert


for _names, _op in (
    (("neg", "__neg__", "negative"), "Neg"),
    (("relu", "F.relu", "relu_"), "Relu"),
    (("sigmoid", "F.sigmoid"), "Sigmoid"),
    (("tanh", "F.tanh"), "Tanh"),
    (("exp",), "Exp"),
    (("log",), "Log"),
    (("sqrt",), "Sqrt"),
    (("abs", "__abs__"), "Abs"),
    (("erf",), "Erf"),
    (("reciprocal",), "Reciprocal"),
    (("sin",), "Sin"),
    (("cos",), "Cos"),
    (("floor",), "Floor"),
    (("ceil",), "Ceil"),
):
    converter(*_names)(_unary(_op))


@converter("rsqrt")
def _rsqrt(g: Graph, out: Tensor, x: Tensor) -> Tensor:
    return g.bind(out, g.op("Reciprocal", g.op("Sqrt", g.value(x, like=out))))


@converter("F.leaky_relu")
def _leaky_relu(
    g: Graph, out: Tensor, x: Tensor, negative_slope: float = 0.01, inplace: bool = False
) -> Tensor:
    return g.bind(out, g.op("LeakyRelu", g.value(x), alpha=float(negative_slope)))


@converter("F.silu")
def _silu(g: Graph, out: Tensor, x: Tensor, inplace: bool = False) -> Tensor:
    name = g.value(x)
    return g.bind(out, g.op("Mul", name, g.op("Sigmoid", name)))


@converter("F.gelu")
def _gelu(g: Graph, out: Tensor, x: Tensor, approximate: str = "none") -> Tensor:
    name = g.value(x)
    if g.opset >= 20:
        return g.bind(out, g.op("Gelu", name, approximate=approximate))
    half = g.op("Mul", name, g.value(0.5, like=x))
    if approximate == "tanh":  # x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.op("Mul", g.op("Mul", name, name), name)
        inner = g.op("Add", name, g.op("Mul", cube, g.value(0.044715, like=x)))
        inner = g.op("Mul", inner, g.value(math.sqrt(2.0 / math.pi), like=x))
        return g.bind(
            out, g.op("Mul", half, g.op("Add", g.value(1.0, like=x), g.op("Tanh", inner)))
        )
    scaled = g.op("Div", name, g.value(math.sqrt(2.0), like=x))  # x/2 (1 + erf(x / sqrt 2))
    return g.bind(out, g.op("Mul", half, g.op("Add", g.value(1.0, like=x), g.op("Erf", scaled))))


def _softmax(op_type: str, name: str) -> Callable:
    def convert(
        g: Graph, out: Tensor, x: Tensor, dim: Any = None, _stacklevel: int = 3, dtype: Any = None
    ) -> Tensor:
        if dim is None:  # the legacy implicit choice
            dim = 0 if x.ndim in (0, 1, 3) else 1
        return g.bind(out, g.op(op_type, g.value(x, like=out), axis=int(dim)))

    return convert


converter("softmax", "F.softmax")(_softmax("Softmax", "softmax"))
converter("log_softmax", "F.log_softmax")(_softmax("LogSoftmax", "log_softmax"))


def _dropout_check(x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> None:
    if training and p > 0:
        raise _unsupported("dropout", "dropout in training mode (call model.eval() first)")


@converter("F.dropout")
def _dropout(g: Graph, out: Tensor, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    return g.bind(out, g.value(x))


_dropout.check = _dropout_check


# --- layers -----------------------------------------------------------------------------------


@converter("F.linear")
def _linear(g: Graph, out: Tensor, x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    if x.ndim == 2 and weight.ndim == 2:
        b = None if bias is None else g.value(bias, like=out)
        return g.bind(out, g.op("Gemm", g.value(x), g.value(weight), b, transB=1))
    w = g.value(weight)
    y = g.op("MatMul", g.value(x), g.op("Transpose", w) if weight.ndim == 2 else w)
    return g.bind(out, y if bias is None else g.op("Add", y, g.value(bias, like=out)))


def _batched(g: Graph, x: Tensor, rank: int) -> str:
    """`x` with a batch dimension of 1 added when it has rank - 1 dimensions."""
    return g.value(x) if x.ndim == rank else g.op("Unsqueeze", g.value(x), g.ints([0]))


def _unbatched(g: Graph, out: Tensor, x: Tensor, rank: int, y: str) -> Tensor:
    return g.bind(out, y if x.ndim == rank else g.op("Squeeze", y, g.ints([0])))


def _conv_pads(op: str, padding: Any, kernel: list[int], dilation: list[int]) -> list[int]:
    if padding == "valid":
        return [0] * (2 * len(kernel))
    if padding == "same":  # the extra pixel of an odd total goes at the end
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return [t // 2 for t in total] + [t - t // 2 for t in total]
    if isinstance(padding, str):
        raise ValueError(f"[onnx.export] {op}: unknown padding {padding!r}")
    pads = _pair(padding, len(kernel))
    return pads + pads


def _conv(g: Graph, out: Tensor, op: str, x: Tensor, weight: Tensor, bias: Any, spatial: int,
          stride: Any, padding: Any, dilation: Any, groups: int) -> Tensor:  # fmt: skip
    kernel = list(weight.shape[2:])
    dilation = _pair(dilation, spatial)
    y = g.op(
        "Conv",
        _batched(g, x, spatial + 2),
        g.value(weight),
        None if bias is None else g.value(bias),
        kernel_shape=kernel,
        strides=_pair(stride, spatial),
        pads=_conv_pads(op, padding, kernel, dilation),
        dilations=dilation,
        group=int(groups),
    )
    return _unbatched(g, out, x, spatial + 2, y)


@converter("F.conv2d", "conv2d")
def _conv2d(g: Graph, out: Tensor, x: Tensor, weight: Tensor, bias: Any = None, stride: Any = 1,
            padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:  # fmt: skip
    return _conv(g, out, "conv2d", x, weight, bias, 2, stride, padding, dilation, groups)


@converter("F.conv1d")
def _conv1d(g: Graph, out: Tensor, x: Tensor, weight: Tensor, bias: Any = None, stride: Any = 1,
            padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:  # fmt: skip
    return _conv(g, out, "conv1d", x, weight, bias, 1, stride, padding, dilation, groups)


@converter("F.conv_transpose2d")
def _conv_transpose2d(g: Graph, out: Tensor, x: Tensor, weight: Tensor, bias: Any = None,
                      stride: Any = 1, padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                      dilation: Any = 1) -> Tensor:  # fmt: skip
    pads = _pair(padding)
    y = g.op(
        "ConvTranspose",
        _batched(g, x, 4),
        g.value(weight),
        None if bias is None else g.value(bias),
        kernel_shape=list(weight.shape[2:]),
        strides=_pair(stride),
        pads=pads + pads,
        output_padding=_pair(output_padding),
        dilations=_pair(dilation),
        group=int(groups),
    )
    return _unbatched(g, out, x, 4, y)


def _pool(g: Graph, out: Tensor, x: Tensor, op_type: str, kernel_size: Any, stride: Any,
          padding: Any, ceil_mode: bool, **attrs: Any) -> Tensor:  # fmt: skip
    kernel = _pair(kernel_size)
    pads = _pair(padding)
    y = g.op(
        op_type,
        _batched(g, x, 4),
        kernel_shape=kernel,
        strides=kernel if stride is None or stride == [] else _pair(stride),
        pads=pads + pads,
        ceil_mode=int(bool(ceil_mode)),
        **attrs,
    )
    return _unbatched(g, out, x, 4, y)


@converter("F.max_pool2d")
def _max_pool2d(g: Graph, out: Tensor, x: Tensor, kernel_size: Any, stride: Any = None,
                padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False) -> Tensor:  # fmt: skip
    dilations = _pair(dilation)
    return _pool(g, out, x, "MaxPool", kernel_size, stride, padding, ceil_mode, dilations=dilations)


@converter("F.avg_pool2d")
def _avg_pool2d(g: Graph, out: Tensor, x: Tensor, kernel_size: Any, stride: Any = None,
                padding: Any = 0, ceil_mode: bool = False,
                count_include_pad: bool = True) -> Tensor:  # fmt: skip
    include = int(bool(count_include_pad))
    return _pool(g, out, x, "AveragePool", kernel_size, stride, padding, ceil_mode,
                 count_include_pad=include)  # fmt: skip


@converter("F.adaptive_avg_pool2d")
def _adaptive_avg_pool2d(g: Graph, out: Tensor, x: Tensor, output_size: Any) -> Tensor:
    (h, w), (oh, ow) = x.shape[-2:], out.shape[-2:]
    if (oh, ow) == (1, 1):
        return _unbatched(g, out, x, 4, g.op("GlobalAveragePool", _batched(g, x, 4)))
    if h % oh or w % ow:
        raise _unsupported(
            "adaptive_avg_pool2d",
            f"an output size {(oh, ow)} that does not divide the input size {(h, w)}",
        )
    kernel = [h // oh, w // ow]
    y = g.op("AveragePool", _batched(g, x, 4), kernel_shape=kernel, strides=kernel)
    return _unbatched(g, out, x, 4, y)


@converter("F.batch_norm")
def _batch_norm(g: Graph, out: Tensor, x: Tensor, running_mean: Any, running_var: Any,
                weight: Any = None, bias: Any = None, training: bool = False,
                momentum: float = 0.1, eps: float = 1e-5) -> Tensor:  # fmt: skip
    channels = x.shape[1]
    scale = g.value(weight) if weight is not None else g.value(_C.ones(channels, dtype=x.dtype))
    shift = g.value(bias) if bias is not None else g.value(_C.zeros(channels, dtype=x.dtype))
    y = g.op(
        "BatchNormalization",
        g.value(x),
        scale,
        shift,
        g.value(running_mean, like=x),
        g.value(running_var, like=x),
        epsilon=float(eps),
    )
    return g.bind(out, y)


def _batch_norm_check(x: Tensor, running_mean: Any, running_var: Any, weight: Any = None,
                      bias: Any = None, training: bool = False, *args: Any) -> None:  # fmt: skip
    if training:
        raise _unsupported("batch_norm", "batch norm in training mode (call model.eval() first)")


_batch_norm.check = _batch_norm_check


@converter("F.layer_norm")
def _layer_norm(g: Graph, out: Tensor, x: Tensor, normalized_shape: Any, weight: Any = None,
                bias: Any = None, eps: float = 1e-5) -> Tensor:  # fmt: skip
    shape = [normalized_shape] if isinstance(normalized_shape, int) else list(normalized_shape)
    scale = g.value(weight) if weight is not None else g.value(_C.ones(shape, dtype=x.dtype))
    shift = None if bias is None else g.value(bias)
    y = g.op("LayerNormalization", g.value(x), scale, shift, axis=-len(shape), epsilon=float(eps))
    return g.bind(out, y)


@converter("F.embedding")
def _embedding(g: Graph, out: Tensor, indices: Tensor, weight: Tensor, padding_idx: Any = None,
               *args: Any, **kwargs: Any) -> Tensor:  # fmt: skip
    return g.bind(out, g.op("Gather", g.value(weight), g.value(indices), axis=0))


def _embedding_check(indices: Tensor, weight: Tensor, padding_idx: Any = None,
                     max_norm: Any = None, *args: Any, **kwargs: Any) -> None:  # fmt: skip
    if max_norm is not None:
        raise _unsupported("embedding", "max_norm (it rewrites the weights as it runs)")


_embedding.check = _embedding_check


# --- shapes -----------------------------------------------------------------------------------


def _shape_args(args: tuple) -> list[int]:
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = tuple(args[0])
    return [int(a) for a in args]


def _reshape_to(g: Graph, out: Tensor, x: Tensor, target: list[int]) -> Tensor:
    # Leading sizes equal to the input's are written as 0 ("copy the input's
    # size"), so a batch dimension declared dynamic stays dynamic.
    shape = list(target)
    for i, size in enumerate(shape):
        if i >= x.ndim or size != x.shape[i]:
            break
        shape[i] = 0
    return g.bind(out, g.op("Reshape", g.value(x), g.ints(shape)))


@converter("view", "reshape", "F.reshape")
def _view(g: Graph, out: Tensor, x: Tensor, *shape: Any, **kwargs: Any) -> Tensor:
    if "shape" in kwargs:
        shape = (kwargs["shape"],)
    if len(shape) == 1 and not isinstance(shape[0], (int, list, tuple)):
        raise _unsupported("view", f"a view as {shape[0]!r}")
    return _reshape_to(g, out, x, _shape_args(shape))


@converter("flatten")
def _flatten(g: Graph, out: Tensor, x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if x.ndim == 0:
        return _reshape_to(g, out, x, [1])
    start = _axis(start_dim, x.ndim)
    return _reshape_to(g, out, x, list(x.shape[:start]) + [-1] + list(out.shape[start + 1 :]))


@converter("permute")
def _permute(g: Graph, out: Tensor, x: Tensor, *dims: Any) -> Tensor:
    perm = [_axis(d, x.ndim) for d in _shape_args(dims)]
    return g.bind(out, g.op("Transpose", g.value(x), perm=perm))


@converter("transpose")
def _transpose(g: Graph, out: Tensor, x: Tensor, dim0: int, dim1: int) -> Tensor:
    perm = list(range(x.ndim))
    a, b = _axis(dim0, x.ndim), _axis(dim1, x.ndim)
    perm[a], perm[b] = perm[b], perm[a]
    return g.bind(out, g.op("Transpose", g.value(x), perm=perm))


@converter("t")
def _t(g: Graph, out: Tensor, x: Tensor) -> Tensor:
    if x.ndim < 2:
        return g.bind(out, g.value(x))
    return g.bind(out, g.op("Transpose", g.value(x), perm=[1, 0]))


@converter("unsqueeze")
def _unsqueeze(g: Graph, out: Tensor, x: Tensor, dim: int) -> Tensor:
    return g.bind(out, g.op("Unsqueeze", g.value(x), g.ints([_axis(dim, x.ndim + 1)])))


@converter("squeeze")
def _squeeze(g: Graph, out: Tensor, x: Tensor, dim: Any = None) -> Tensor:
    if dim is None:
        axes = [i for i, n in enumerate(x.shape) if n == 1]
    else:
        dims = [dim] if isinstance(dim, int) else list(dim)
        axes = sorted({_axis(d, x.ndim) for d in dims if x.shape[_axis(d, x.ndim)] == 1})
    if not axes:
        return g.bind(out, g.value(x))
    return g.bind(out, g.op("Squeeze", g.value(x), g.ints(axes)))


@converter("contiguous", "clone", "detach", "cpu", "cuda")
def _identity(g: Graph, out: Tensor, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    return g.bind(out, g.value(x))


@converter("to", "float", "double", "half", "bfloat16", "long", "int", "bool", "type_as")
def _cast(g: Graph, out: Tensor, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    return g.bind(out, g.value(x, like=out))


@converter("cat", "concat", "concatenate")
def _cat(g: Graph, out: Tensor, tensors: Any, dim: int = 0) -> Tensor:
    names = [g.value(t, like=out) for t in tensors]
    return g.bind(out, g.op("Concat", *names, axis=_axis(dim, out.ndim)))


def _reduce(op_type: str, axes_as_input_from: int) -> Callable:
    def convert(g: Graph, out: Tensor, x: Tensor, dim: Any = None, keepdim: bool = False,
                *, dtype: Any = None) -> Tensor:  # fmt: skip
        if dim is None:
            axes = list(range(x.ndim))
        else:
            axes = sorted({_axis(d, x.ndim) for d in ([dim] if isinstance(dim, int) else dim)})
        name = g.value(x, like=out)
        if g.opset >= axes_as_input_from:
            y = g.op(op_type, name, g.ints(axes), keepdims=int(bool(keepdim)))
        else:
            y = g.op(op_type, name, axes=axes, keepdims=int(bool(keepdim)))
        return g.bind(out, y)

    return convert


converter("mean")(_reduce("ReduceMean", 18))
converter("sum")(_reduce("ReduceSum", 13))


@converter("__getitem__")
def _getitem(g: Graph, out: Tensor, x: Tensor, index: Any) -> Tensor:
    items = list(index) if isinstance(index, tuple) else [index]
    for item in items:
        if not (item is None or item is Ellipsis or isinstance(item, (int, slice))):
            raise _unsupported("__getitem__", f"indexing with a {type(item).__name__}")
    if any(isinstance(i, bool) for i in items):
        raise _unsupported("__getitem__", "indexing with a bool")
    if Ellipsis in items:
        at = items.index(Ellipsis)
        fill = x.ndim - sum(i is not None for i in items if i is not Ellipsis)
        items[at : at + 1] = [slice(None)] * fill
    # Python's slice rules are ONNX Slice's (negative and out-of-range
    # bounds), so bounds stay as written and follow the input's sizes.
    starts, ends, axes, steps, squeeze, new = [], [], [], [], [], []
    dim = out_dim = 0
    for item in items:
        if item is None:
            new.append(out_dim)
            out_dim += 1
            continue
        if isinstance(item, int):
            starts.append(item)
            ends.append(item + 1 if item != -1 else 2**63 - 1)
            squeeze.append(dim)
        else:
            if item == slice(None):
                dim, out_dim = dim + 1, out_dim + 1
                continue
            starts.append(0 if item.start is None else item.start)
            ends.append(2**63 - 1 if item.stop is None else item.stop)
            out_dim += 1
        axes.append(dim)
        steps.append(1 if isinstance(item, int) or item.step is None else item.step)
        dim += 1
    name = g.value(x)
    if axes:
        name = g.op("Slice", name, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps))
    if squeeze:
        name = g.op("Squeeze", name, g.ints(squeeze))
    if new:
        name = g.op("Unsqueeze", name, g.ints(new))
    return g.bind(out, name)


@converter("expand")
def _expand(g: Graph, out: Tensor, x: Tensor, *sizes: Any) -> Tensor:
    # ONNX Expand broadcasts: a size of 1 keeps the input's size, as -1 does here.
    shape = [1 if s == -1 else s for s in _shape_args(sizes)]
    return g.bind(out, g.op("Expand", g.value(x), g.ints(shape)))
