"""``keras.layers.Embedding``: rows of an ``(input_dim, output_dim)`` table
picked by integer indices, through devrt's ``embedding``."""

from __future__ import annotations

from typing import Any

import devrt
from devrt.keras import constraints, initializers, regularizers
from devrt.keras.keras_tensor import KerasTensor
from devrt.keras.layers.layer import Layer, _add_weight_of
from devrt.nn import functional as F


class Embedding(Layer):
    """Maps indices in ``[0, input_dim)`` of any shape to vectors of size
    `output_dim`: output shape ``(*input_shape, output_dim)``."""

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "uniform",
        embeddings_regularizer: Any = None,
        embeddings_constraint: Any = None,
        mask_zero: bool = False,
        weights: Any = None,
        lora_rank: int | None = None,
        lora_alpha: float | None = None,
        quantization_config: Any = None,
        **kwargs: Any,
    ) -> None:
        for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"`{name}` must be a positive integer. Received: {name}={value} "
                    f"(of type {type(value).__name__})."
                )
        kwargs.pop("input_length", None)  # deprecated in Keras, ignored there too
        if lora_rank is not None or quantization_config is not None:
            raise NotImplementedError(
                "[Embedding] LoRA and quantization are not supported by devrt"
            )
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = mask_zero
        self.supports_masking = mask_zero
        self.autocast = False
        if weights is not None:
            self._build_by_run(None)
            if not (isinstance(weights, list) and len(weights) == 1):
                weights = [weights]
            self.set_weights(weights)

    def build(self, input_shape: Any = None) -> None:
        self.embeddings = _add_weight_of(self, "embeddings", (self.input_dim, self.output_dim))
        self.built = True

    def call(self, inputs: devrt.Tensor) -> devrt.Tensor:
        if inputs.dtype is not devrt.int64 and inputs.dtype is not devrt.int32:
            inputs = inputs.to(devrt.int64)
        try:
            return F.embedding(inputs, self.embeddings)
        except IndexError:
            raise ValueError(
                f"[{self.name}] indices must lie in [0, {self.input_dim}) for an Embedding of "
                f"input_dim={self.input_dim}; got values from {int(inputs.min())} to "
                f"{int(inputs.max())} in an input of shape {tuple(inputs.shape)}"
            ) from None

    def compute_mask(self, inputs: devrt.Tensor, mask: Any = None) -> Any:
        return (inputs != 0) if self.mask_zero else None

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (*input_shape, self.output_dim)

    def compute_output_spec(self, inputs: Any, *args: Any, **kwargs: Any) -> KerasTensor:
        return KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.compute_dtype)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
            "quantization_config": None,
        }
