"""Convolution layers: Conv1D, Conv2D, Conv2DTranspose (and the
Convolution1D/2D aliases).

Weights are stored as Keras stores them (Conv kernels ``(*kernel_size,
in // groups, filters)``, Conv2DTranspose kernels ``(kh, kw, filters,
in)``) and viewed as devrt's OIHW layout at call time. Every convolution
runs as devrt's NCHW ``conv2d`` (a 1-D convolution is a 2-D one of height
1); channels_last inputs are permuted to NCHW and back. A transposed
convolution is ``fold`` (col2im) of the kernel applied to each pixel.

Note: "same" padding follows Keras (and TensorFlow): the total padding is
split with the extra pixel at the end. When both sides are equal it is the
convolution's own padding argument; otherwise an explicit zero pad.
"""

from __future__ import annotations

from typing import Any

import devrt
from devrt.keras import activations, backend, constraints, initializers, regularizers
from devrt.keras.keras_tensor import KerasTensor
from devrt.keras.layers.layer import InputSpec, Layer, _add_weight_of
from devrt.nn import functional as F


def standardize_tuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    """An int or a sequence of `n` ints as an n-tuple, as Keras checks it."""
    if isinstance(value, int):
        return (value,) * n
    try:
        out = tuple(value)
    except TypeError:
        raise ValueError(
            f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value}"
        ) from None
    if len(out) != n or not all(isinstance(v, int) and not isinstance(v, bool) for v in out):
        raise ValueError(
            f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value}"
        )
    return out


def standardize_padding(value: Any, allow_causal: bool = False) -> str:
    padding = str(value).lower()
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    if padding not in allowed:
        raise ValueError(
            f"The `padding` argument must be one of {allowed}. Received: padding={value}"
        )
    return padding


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) "same" padding of one dimension, the extra pixel after."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + effective - size)
    return total // 2, total - total // 2


def conv_output_length(
    size: int | None, kernel: int, stride: int, padding: str, dilation: int = 1
) -> int | None:
    if size is None:
        return None
    if padding in ("same", "causal"):
        return -(-size // stride)
    effective = (kernel - 1) * dilation + 1
    return (size - effective) // stride + 1 if size >= effective else 0


def as_2d(value: tuple[int, ...], rank: int) -> tuple[int, ...]:
    """A per-dimension value of a layer of `rank` 1 or 2 as the (H, W) pair
    of the 2-D op that runs it (a 1-D layer has H = 1)."""
    return (1, *value) if rank == 1 else value


def spatial_pads(
    padding: str,
    sizes: Any,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> list[tuple[int, int]]:
    """(before, after) of H and W for "valid", "same" or "causal" `padding`
    of an input whose H and W are `sizes` (causal pads W, the steps, before)."""
    if padding == "valid":
        return [(0, 0), (0, 0)]
    if padding == "causal":
        return [(0, 0), ((kernel[1] - 1) * dilation[1], 0)]
    return [same_pads(sizes[i], kernel[i], stride[i], dilation[i]) for i in range(2)]


def spatial_output_shape(
    input_shape: Any, data_format: str, lengths: Any, channels: int | None = None
) -> tuple:
    """The output shape of a layer whose output's spatial sizes are
    ``lengths(input spatial sizes)`` and whose channels are `channels` (the
    input's when None)."""
    input_shape = tuple(input_shape)
    last = data_format == "channels_last"
    spatial = input_shape[1:-1] if last else input_shape[2:]
    out = tuple(lengths(spatial))
    if channels is None:
        channels = input_shape[-1] if last else input_shape[1]
    if last:
        return (input_shape[0], *out, channels)
    return (input_shape[0], channels, *out)


def to_channels_first(x: devrt.Tensor, rank: int, data_format: str) -> devrt.Tensor:
    """`x` as (N, C, H, W): a 1-D input gets H = 1."""
    if data_format == "channels_last":
        x = x.permute(0, rank + 1, *range(1, rank + 1))
    return x.unsqueeze(2) if rank == 1 else x


def from_channels_first(y: devrt.Tensor, rank: int, data_format: str) -> devrt.Tensor:
    if rank == 1:
        y = y.squeeze(2)
    if data_format == "channels_last":
        y = y.permute(0, *range(2, rank + 2), 1)
    return y


def pad_spatial(
    x: devrt.Tensor, pads: list[tuple[int, int]], value: float = 0.0
) -> tuple[devrt.Tensor, tuple[int, int]]:
    """Pads an (N, C, H, W) tensor by the (before, after) pairs of H and W.

    Returns the tensor and the symmetric padding that is left for the op's
    own padding argument: all of it when every pair is symmetric, else
    nothing (the pad is then explicit)."""
    if all(a == b for a, b in pads):
        return x, (pads[0][0], pads[1][0])
    (ht, hb), (wl, wr) = pads
    return F.pad(x, (wl, wr, ht, hb), value=value), (0, 0)


def check_rank(layer: Layer, x: Any, rank: int) -> None:
    if x.ndim != rank + 2:
        raise ValueError(
            f"Input 0 of layer '{layer.name}' is incompatible with the layer: expected "
            f"ndim={rank + 2}, found ndim={x.ndim}. Full shape received: {tuple(x.shape)}"
        )


class ShapeFromFormula:
    """A layer whose output shape is a formula of its input shape: the
    functional API uses ``compute_output_shape`` instead of running the
    layer on zeros (which fails for small unknown spatial sizes)."""

    def compute_output_spec(self, inputs: Any, *args: Any, **kwargs: Any) -> KerasTensor:
        return KerasTensor(self.compute_output_shape(tuple(inputs.shape)), dtype=inputs.dtype)


class BaseConv(ShapeFromFormula, Layer):
    """The convolution of rank 1 or 2 shared by Conv1D and Conv2D."""

    rank = 2

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = 1,
        groups: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        lora_rank: int | None = None,
        lora_alpha: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if lora_rank is not None:
            raise NotImplementedError(f"[{type(self).__name__}] LoRA is not supported by devrt")
        rank = self.rank
        self.filters = filters
        self.groups = groups
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(padding, allow_causal=rank == 1)
        self.data_format = backend.standardize_data_format(data_format)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=rank + 2)
        if filters is not None and filters <= 0:
            raise ValueError(
                "Invalid value for argument `filters`. Expected a strictly positive value. "
                f"Received filters={filters}."
            )
        if groups <= 0:
            raise ValueError(
                f"The number of groups must be a positive integer. Received: groups={groups}."
            )
        if filters is not None and filters % groups != 0:
            raise ValueError(
                "The number of filters must be evenly divisible by the number of groups. "
                f"Received: groups={groups}, filters={filters}."
            )
        if not all(self.kernel_size):
            raise ValueError(
                f"The argument `kernel_size` cannot contain 0. Received "
                f"kernel_size={self.kernel_size}."
            )
        if not all(self.strides):
            raise ValueError(
                f"The argument `strides` cannot contains 0. Received strides={self.strides}"
            )
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}"
            )
        self._linear = self.activation is activations.linear

    @property
    def _channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    def build(self, input_shape: Any) -> None:
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(
                f"[{self.name}] the channel dimension of the inputs should be defined. "
                f"Found None. Full input shape received: {input_shape}"
            )
        if channels % self.groups != 0:
            raise ValueError(
                "The number of input channels must be evenly divisible by the number of "
                f"groups. Received groups={self.groups}, but the input has {channels} "
                f"channels (full input shape is {input_shape})."
            )
        self.kernel = _add_weight_of(self, "kernel", self._kernel_shape(channels))
        self.bias = _add_weight_of(self, "bias", (self.filters,)) if self.use_bias else None
        self.input_spec = InputSpec(min_ndim=self.rank + 2, axes={self._channel_axis: channels})
        self.built = True

    def _kernel_shape(self, channels: int) -> tuple:
        return (*self.kernel_size, channels // self.groups, self.filters)

    def _oihw_kernel(self) -> devrt.Tensor:
        k = self.kernel
        if self.rank == 1:  # (k, in, out) -> (out, in, 1, k)
            return k.permute(2, 1, 0).unsqueeze(2)
        return k.permute(3, 2, 0, 1)

    def call(self, inputs: devrt.Tensor) -> devrt.Tensor:
        check_rank(self, inputs, self.rank)
        x = to_channels_first(inputs, self.rank, self.data_format)
        stride = as_2d(self.strides, self.rank)
        dilation = as_2d(self.dilation_rate, self.rank)
        kernel = as_2d(self.kernel_size, self.rank)
        pads = spatial_pads(self.padding, x.shape[2:], kernel, stride, dilation)
        x, padding = pad_spatial(x, pads)
        y = F.conv2d(
            x,
            self._oihw_kernel(),
            self.bias,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=self.groups,
        )
        y = from_channels_first(y, self.rank, self.data_format)
        return y if self._linear else self.activation(y)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return spatial_output_shape(
            input_shape, self.data_format, self._output_lengths, self.filters
        )

    def _output_lengths(self, spatial: tuple) -> list[int | None]:
        return [
            conv_output_length(s, k, st, self.padding, d)
            for s, k, st, d in zip(
                spatial, self.kernel_size, self.strides, self.dilation_rate, strict=True
            )
        ]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "groups": self.groups,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint),
            }
        )
        return config


class Conv1D(BaseConv):
    """1-D convolution over (batch, steps, channels) (channels_last) or
    (batch, channels, steps); ``padding`` may also be "causal"."""

    rank = 1

    def __init__(self, filters: int, kernel_size: Any, **kwargs: Any) -> None:
        super().__init__(filters, kernel_size, **kwargs)


class Conv2D(BaseConv):
    """2-D convolution over (batch, rows, cols, channels) (channels_last) or
    (batch, channels, rows, cols)."""

    rank = 2

    def __init__(self, filters: int, kernel_size: Any, **kwargs: Any) -> None:
        super().__init__(filters, kernel_size, **kwargs)


def _transpose_crops(
    kernel: int, stride: int, dilation: int, padding: str, output_padding: int | None
) -> tuple[int, int]:
    """How much to cut from each side of the full transposed convolution
    (size ``(in - 1) * stride + effective_kernel``) to get Keras' output; a
    negative amount is a zero pad."""
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(effective, stride) - effective if output_padding is None else output_padding
        left, right = effective - 1, effective - 1 + extra
    else:
        if output_padding is None:
            total = stride + effective - 2
        else:
            total = effective + effective % 2 - 2 + output_padding
        left = min(total // 2 + total % 2, effective - 1)
        right = total - left
    return effective - 1 - left, effective - 1 - right


class Conv2DTranspose(BaseConv):
    """The transpose (gradient) of Conv2D. Kernel ``(kh, kw, filters, in)``."""

    rank = 2

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        output_padding: Any = None,
        data_format: str | None = None,
        dilation_rate: Any = (1, 1),
        **kwargs: Any,
    ) -> None:
        if kwargs.pop("groups", 1) != 1:
            raise ValueError("[Conv2DTranspose] groups other than 1 are not supported")
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            **kwargs,
        )
        self.output_padding = (
            None
            if output_padding is None
            else standardize_tuple(output_padding, 2, "output_padding")
        )
        if self.output_padding is not None:
            for p, s in zip(self.output_padding, self.strides, strict=True):
                if p >= s:
                    raise ValueError(
                        "Strides must be greater than output padding. Received strides="
                        f"{self.strides}, output_padding={self.output_padding}."
                    )

    def _kernel_shape(self, channels: int) -> tuple:
        return (*self.kernel_size, self.filters, channels)

    def _crops(self) -> list[tuple[int, int]]:
        outpad = self.output_padding or (None, None)
        return [
            _transpose_crops(k, s, d, self.padding, p)
            for k, s, d, p in zip(
                self.kernel_size, self.strides, self.dilation_rate, outpad, strict=True
            )
        ]

    def call(self, inputs: devrt.Tensor) -> devrt.Tensor:
        check_rank(self, inputs, 2)
        x = to_channels_first(inputs, 2, self.data_format)
        # The whole transposed convolution, then Keras' crop of its padding;
        # the kernel (kh, kw, out, in) as F's (in, out, kh, kw).
        y = F.conv_transpose2d(
            x,
            self.kernel.permute(3, 2, 0, 1),
            stride=self.strides,
            padding=0,
            dilation=self.dilation_rate,
        )
        (ct, cb), (cl, cr) = self._crops()
        if ct or cb or cl or cr:
            y = F.pad(y, (-cl, -cr, -ct, -cb))
        if self.bias is not None:
            y = y + self.bias.reshape(1, self.filters, 1, 1)
        y = from_channels_first(y, 2, self.data_format)
        return y if self._linear else self.activation(y)

    def _output_lengths(self, spatial: tuple) -> list[int | None]:
        out = []
        for size, k, s, d, (a, b) in zip(
            spatial, self.kernel_size, self.strides, self.dilation_rate, self._crops(), strict=True
        ):
            out.append(None if size is None else (size - 1) * s + (k - 1) * d + 1 - a - b)
        return out

    def get_config(self) -> dict:
        config = super().get_config()
        del config["groups"]
        ordered = {}
        for key, value in config.items():
            ordered[key] = value
            if key == "padding":
                ordered["output_padding"] = self.output_padding
        return ordered


Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution2DTranspose = Conv2DTranspose
