"""``tf.nn.conv2d_transpose`` and ``tf.nn.conv1d``, built of the IR's
``Conv2D`` and array ops.

The transposed convolution is the gradient of ``conv2d`` with respect to
its input, computed as a convolution: the input is spread out with
``stride - 1`` zeros between its pixels, padded with zeros so that a
"VALID" stride-1 convolution of the kernel flipped in space (input and
output channels swapped) lands on ``output_shape``. The padding is the one
``conv2d`` of ``output_shape`` with the same strides and padding would use,
so ``conv2d_transpose`` and ``conv2d`` are adjoint, as in TensorFlow.
"""

from __future__ import annotations

from typing import Any

from devrt.graph import framework as fw
from devrt.graph.array_ops import _axis_slice, reverse, transpose
from devrt.graph.nn import _data_format, _hw, _nhwc_in, _nhwc_out, _padding, conv2d
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _apply, _int_list, _static_masked, _t, get_static_value

__all__ = ["conv1d", "conv2d_transpose"]


def _zeros_along(x: Tensor, axis: int, n: int) -> Tensor:
    """Zeros shaped like `x` but of size `n` along `axis`."""
    zero = _apply("ZerosLike", [_axis_slice(x, axis, 0, 1, False)], {})
    return zero if n == 1 else _apply("ConcatV2", [zero] * n, {"axis": axis})


def _spread(x: Tensor, axis: int, stride: int) -> Tensor:
    """`x` with ``stride - 1`` zeros between its entries along `axis`
    (a known dimension): size (n - 1) * stride + 1."""
    if stride == 1:
        return x
    dims = x.shape.as_list()
    n = dims[axis]
    col = _apply("ExpandDims", [x], {"axis": axis + 1})
    wide = _apply("ConcatV2", [col, _zeros_along(col, axis + 1, stride - 1)], {"axis": axis + 1})
    target = [-1 if d is None else d for d in dims]
    target[axis] = n * stride
    flat = _apply("Reshape", [wide], {"shape": target})
    return _axis_slice(flat, axis, 0, (n - 1) * stride + 1, False)


def _pad(x: Tensor, axis: int, before: int, after: int) -> Tensor:
    parts = [_zeros_along(x, axis, before)] if before else []
    parts.append(x)
    if after:
        parts.append(_zeros_along(x, axis, after))
    return parts[0] if len(parts) == 1 else _apply("ConcatV2", parts, {"axis": axis})


def _forward_padding(out: int, size: int, k: int, s: int, padding: str, what: str) -> int:
    """The top (left) padding that conv2d of a dimension `out` uses; checks
    that it gives `size` outputs, as the transposed input has."""
    if padding == "SAME":
        expected = -(-out // s)
        top = max((size - 1) * s + k - out, 0) // 2
    else:
        expected = (out - k) // s + 1 if out >= k else 0
        top = 0
    if expected != size:
        raise ValueError(
            f"[{what}] output size {out} does not match the input size {size} with kernel "
            f"{k}, stride {s} and padding {padding} (conv2d of {out} gives {expected})"
        )
    return top


def _output_dims(output_shape: Any, what: str) -> list[Any]:
    """output_shape as 4 entries, each an int or None (known only at run time)."""
    if isinstance(output_shape, Tensor) or hasattr(output_shape, "_to_tensor"):
        t = _t(output_shape, what)
        found = _static_masked(t)
        if found is None or found[0].shape != (4,):
            raise ValueError(
                f"[{what}] output_shape must have 4 entries known when the graph is built "
                f"(the batch may be tf.shape(x)[0]), got {t.name} of shape {t.shape}"
            )
        return [int(v) if ok else None for v, ok in zip(*found)]
    dims = list(output_shape)
    if len(dims) != 4:
        raise ValueError(f"[{what}] output_shape must have 4 entries, got {output_shape!r}")
    out = []
    for d in dims:
        value = get_static_value(d) if isinstance(d, Tensor) else d
        out.append(None if value is None or int(value) < 0 else int(value))
    return out


def conv2d_transpose(
    value: Any = None,
    filter: Any = None,
    output_shape: Any = None,
    strides: Any = None,
    padding: str = "SAME",
    data_format: str = "NHWC",
    name: str | None = None,
    input: Any = None,
    filters: Any = None,
    dilations: Any = None,
) -> Tensor:
    """``tf.nn.conv2d_transpose``: `value` NHWC (or NCHW), `filter`
    [kh, kw, out_channels, in_channels]; `output_shape` (a list or a
    tensor) must have its spatial and channel sizes known when the graph is
    built (its batch may be ``tf.shape(x)[0]``: the batch is the input's).
    Dilations other than 1 are not supported."""
    what = "conv2d_transpose"
    value = input if value is None else value
    filter = filters if filter is None else filter
    if value is None or filter is None or output_shape is None or strides is None:
        raise ValueError(f"[{what}] value, filter, output_shape and strides are required")
    if dilations is not None and any(d != 1 for d in _hw(dilations, what, "dilations", "NHWC")):
        raise NotImplementedError(f"[{what}] dilations other than 1 are not supported")
    fmt = _data_format(data_format, what)
    pad = _padding(padding, what)
    x = _t(value, what)
    w = _t(filter, what, x.dtype)
    sh, sw = _hw(strides, what, "strides", fmt)
    if x.shape.ndims != 4 or w.shape.ndims != 4:
        raise ValueError(
            f"[{what}] value must be 4-D and filter 4-D, got shapes {x.shape} and {w.shape}"
        )
    dims = _output_dims(output_shape, what)
    n_out, h_out, w_out, c_out = dims if fmt == "NHWC" else [dims[0], *dims[2:], dims[1]]
    with fw.name_scope(name, "conv2d_transpose", [x, w]) as scope:
        xn = _nhwc_in(x, fmt)
        _, h, wd, c_in = xn.shape.as_list()
        kh, kw, kc_out, kc_in = w.shape.as_list()
        if None in (h, wd, c_in, kh, kw, kc_out, kc_in, h_out, w_out, c_out):
            raise ValueError(
                f"[{what}] the spatial and channel sizes must be known: value {x.shape}, filter "
                f"{w.shape}, output_shape {dims}"
            )
        if kc_in != c_in or kc_out != c_out:
            raise ValueError(
                f"[{what}] filter {w.shape} must be [kh, kw, {c_out} output channels, {c_in} "
                f"input channels] for value {x.shape} and output_shape {dims}"
            )
        if n_out is not None and xn.shape[0] is not None and n_out != xn.shape[0]:
            raise ValueError(
                f"[{what}] output_shape's batch {n_out} differs from the input's {xn.shape[0]}"
            )
        top = _forward_padding(h_out, h, kh, sh, pad, what)
        left = _forward_padding(w_out, wd, kw, sw, pad, what)
        y = _spread(_spread(xn, 1, sh), 2, sw)
        y = _pad(y, 1, kh - 1 - top, h_out + top - (h - 1) * sh - 1)
        y = _pad(y, 2, kw - 1 - left, w_out + left - (wd - 1) * sw - 1)
        flipped = transpose(reverse(w, [0, 1]), [0, 1, 3, 2])
        attrs = {"strides": [1, 1], "padding": "VALID", "dilations": [1, 1]}
        out = _apply("Conv2D", [y, flipped], attrs)
        return _nhwc_out(out, fmt, scope)


def _width(value: Any, fmt: str, arg: str) -> int:
    """A conv1d stride or dilation of 1 or 3 elements (batch and channel 1)."""
    vals = _int_list(value, "conv1d", arg)
    if len(vals) == 1:
        return vals[0]
    channel = 2 if fmt == "NHWC" else 1
    if len(vals) != 3 or vals[0] != 1 or vals[channel] != 1:
        raise ValueError(
            f"[conv1d] {arg} must be an int or 3 elements with 1 in the batch and channel "
            f"dimensions, got {vals}"
        )
    return vals[3 - channel]


def conv1d(
    value: Any = None,
    filters: Any = None,
    stride: Any = None,
    padding: Any = None,
    use_cudnn_on_gpu: Any = None,
    data_format: str = "NWC",
    name: str | None = None,
    input: Any = None,
    dilations: Any = None,
) -> Tensor:
    """``tf.nn.conv1d``: `value` NWC (or NCW), `filters` [k, in, out]; run as
    a conv2d of height 1, as TensorFlow does."""
    what = "conv1d"
    value = input if value is None else value
    if value is None or filters is None or stride is None or padding is None:
        raise ValueError(f"[{what}] value, filters, stride and padding are required")
    if data_format not in ("NWC", "NCW", None):
        raise ValueError(f"[{what}] data_format must be 'NWC' or 'NCW', got {data_format!r}")
    x = _t(value, what)
    w = _t(filters, what, x.dtype)
    if x.shape.ndims not in (None, 3) or w.shape.ndims not in (None, 3):
        raise ValueError(
            f"[{what}] value must be 3-D and filters 3-D [k, in, out], got shapes {x.shape} and "
            f"{w.shape}"
        )
    fmt = "NCHW" if data_format == "NCW" else "NHWC"
    strides = [1, _width(stride, fmt, "stride")]
    dil = [1, 1] if dilations is None else [1, _width(dilations, fmt, "dilations")]
    with fw.name_scope(name, "conv1d", [x, w]) as scope:
        x4 = _apply("ExpandDims", [x], {"axis": 1 if fmt == "NHWC" else 2})
        w4 = _apply("ExpandDims", [w], {"axis": 0})
        y = conv2d(x4, w4, strides, padding, data_format=fmt, dilations=dil)
        return _apply("Squeeze", [y], {"axes": [1 if fmt == "NHWC" else 2]}, scope)
