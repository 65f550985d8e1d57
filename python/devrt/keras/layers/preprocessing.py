"""Preprocessing layers: Rescaling."""

from __future__ import annotations

from typing import Any

import numpy as np

import devrt
from devrt.keras import backend
from devrt.keras.layers.layer import Layer


class Rescaling(Layer):
    """``inputs * scale + offset`` in the layer's float type (e.g.
    ``Rescaling(1 / 255)`` for images). A per-channel `scale` lines up with
    the channel axis of ``keras.config.image_data_format()``."""

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset
        self.supports_masking = True
        self.built = True

    def _constant(self, value: Any, like: devrt.Tensor, image: bool) -> Any:
        if np.ndim(value) == 0 and not isinstance(value, devrt.Tensor):
            return float(value)
        t = backend.convert_to_tensor(value, dtype=like.dtype, device=str(like.device))
        if image and t.ndim and backend.image_data_format() == "channels_first":
            t = t.reshape(*t.shape, *(1,) * (3 - t.ndim))
        return t

    def call(self, inputs: devrt.Tensor) -> devrt.Tensor:
        dtype = backend.dtype_of(self.compute_dtype)
        x = inputs if inputs.dtype is dtype else inputs.to(dtype)
        return x * self._constant(self.scale, x, True) + self._constant(self.offset, x, False)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict:
        from devrt.keras import serialization

        return {
            **super().get_config(),
            "scale": serialization.serialize_keras_object(self.scale),
            "offset": serialization.serialize_keras_object(self.offset),
        }
