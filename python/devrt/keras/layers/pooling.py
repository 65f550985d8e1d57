"""Pooling layers: Max/AveragePooling1D/2D and the global poolings, with
Keras' MaxPool2D-style aliases.

Windowed pooling runs as devrt's NCHW ``max_pool2d``/``avg_pool2d`` (a
1-D pooling is a 2-D one of height 1), channels_last permuted to NCHW and
back.

Note: "same" padding follows Keras on TensorFlow and JAX: padded cells never
win a max and are not counted in an average. Where the padding is uneven
the max pads with -inf and the average divides the window sums by the count
of real cells (Keras' torch backend replicates the edge there instead, so
its averages differ from these, and from its other backends, at such edges).
"""

from __future__ import annotations

from typing import Any

import devrt
from devrt.keras import backend
from devrt.keras.layers.convolutional import (
    ShapeFromFormula,
    as_2d,
    check_rank,
    conv_output_length,
    from_channels_first,
    pad_spatial,
    spatial_output_shape,
    spatial_pads,
    standardize_padding,
    standardize_tuple,
    to_channels_first,
)
from devrt.keras.layers.layer import InputSpec, Layer
from devrt.nn import functional as F


class BasePooling(ShapeFromFormula, Layer):
    rank = 2
    mode = "max"

    def __init__(
        self,
        pool_size: Any,
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.pool_size = standardize_tuple(pool_size, self.rank, "pool_size")
        strides = pool_size if strides is None else strides
        self.strides = standardize_tuple(strides, self.rank, "strides")
        self.padding = standardize_padding(padding)
        self.data_format = backend.standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self.built = True

    def call(self, inputs: devrt.Tensor) -> devrt.Tensor:
        check_rank(self, inputs, self.rank)
        x = to_channels_first(inputs, self.rank, self.data_format)
        kernel, stride = as_2d(self.pool_size, self.rank), as_2d(self.strides, self.rank)
        pads = spatial_pads(self.padding, x.shape[2:], kernel, stride)
        if self.mode == "max":
            x, padding = pad_spatial(x, pads, value=float("-inf"))
            y = F.max_pool2d(x, kernel, stride, padding=padding)
        else:
            padded, padding = pad_spatial(x, pads)
            y = F.avg_pool2d(padded, kernel, stride, padding=padding, count_include_pad=False)
            if padded is not x:
                # Explicit zero pad: rescale the window means to real cells only.
                with devrt.no_grad():
                    ones = devrt.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
                    share = F.avg_pool2d(pad_spatial(ones, pads)[0], kernel, stride)
                y = y / share
        return from_channels_first(y, self.rank, self.data_format)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return spatial_output_shape(input_shape, self.data_format, self._output_lengths)

    def _output_lengths(self, spatial: tuple) -> list[int | None]:
        return [
            conv_output_length(s, k, st, self.padding)
            for s, k, st in zip(spatial, self.pool_size, self.strides, strict=True)
        ]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "padding": self.padding,
            "strides": self.strides,
            "data_format": self.data_format,
        }


class MaxPooling1D(BasePooling):
    rank, mode = 1, "max"

    def __init__(
        self,
        pool_size: Any = 2,
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class MaxPooling2D(BasePooling):
    rank, mode = 2, "max"

    def __init__(
        self,
        pool_size: Any = (2, 2),
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class AveragePooling1D(BasePooling):
    rank, mode = 1, "average"


class AveragePooling2D(BasePooling):
    rank, mode = 2, "average"


class BaseGlobalPooling(ShapeFromFormula, Layer):
    rank = 2
    mode = "max"

    def __init__(
        self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.data_format = backend.standardize_data_format(data_format)
        self.keepdims = keepdims
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self.built = True

    def _axes(self) -> tuple[int, ...]:
        if self.data_format == "channels_last":
            return tuple(range(1, self.rank + 1))
        return tuple(range(2, self.rank + 2))

    def call(self, inputs: devrt.Tensor) -> devrt.Tensor:
        check_rank(self, inputs, self.rank)
        if self.mode == "max":
            return inputs.amax(dim=self._axes(), keepdim=self.keepdims)
        return inputs.mean(dim=self._axes(), keepdim=self.keepdims)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        axes = self._axes()
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over the steps of (batch, steps, features)."""

    rank, mode = 1, "average"
    # Note: Keras' mask argument (average over the unmasked steps) is not supported.


class GlobalAveragePooling2D(BaseGlobalPooling):
    rank, mode = 2, "average"


class GlobalMaxPooling1D(BaseGlobalPooling):
    rank, mode = 1, "max"


class GlobalMaxPooling2D(BaseGlobalPooling):
    rank, mode = 2, "max"


MaxPool1D = MaxPooling1D
MaxPool2D = MaxPooling2D
AvgPool1D = AveragePooling1D
AvgPool2D = AveragePooling2D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalMaxPool2D = GlobalMaxPooling2D
