"""``keras.layers``."""

from __future__ import annotations

from typing import Any

from devrt.keras import serialization
from devrt.keras.layers.convolutional import (
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Convolution1D,
    Convolution2D,
    Convolution2DTranspose,
)
from devrt.keras.layers.core import (
    Activation,
    Dense,
    Dropout,
    Identity,
    Input,
    InputLayer,
    Lambda,
)
from devrt.keras.layers.embedding import Embedding
from devrt.keras.layers.layer import InputSpec, Layer
from devrt.keras.layers.merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from devrt.keras.layers.normalization import BatchNormalization, LayerNormalization
from devrt.keras.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AvgPool1D,
    AvgPool2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPool1D,
    MaxPool2D,
    MaxPooling1D,
    MaxPooling2D,
)
from devrt.keras.layers.preprocessing import Rescaling
from devrt.keras.layers.reshaping import (
    Flatten,
    Permute,
    RepeatVector,
    Reshape,
    UpSampling2D,
    ZeroPadding2D,
)
from devrt.keras.layers.rnn import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
)


def _all_layers() -> dict[str, type]:
    return {
        name: obj
        for name, obj in globals().items()
        if isinstance(obj, type) and issubclass(obj, Layer)
    }


def serialize(layer: Layer) -> dict:
    return serialization.serialize_keras_object(layer)


def deserialize(config: Any, custom_objects: dict | None = None) -> Layer:
    from devrt.keras import models, ops

    if isinstance(config, dict) and str(config.get("module", "")).startswith("keras.src.ops"):
        # A keras.ops call recorded in a functional model.
        op = ops.op_class(config.get("class_name", ""))
        if op is not None:
            return op.from_config(config.get("config", {}))
    table = {**_all_layers(), **models._all_models()}
    return serialization.deserialize_keras_object(config, table, custom_objects, "layer")


__all__ = [
    "Activation",
    "Add",
    "Average",
    "AveragePooling1D",
    "AveragePooling2D",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNormalization",
    "Concatenate",
    "Conv1D",
    "Conv2D",
    "Conv2DTranspose",
    "Convolution1D",
    "Convolution2D",
    "Convolution2DTranspose",
    "Dense",
    "Dot",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRU",
    "GRUCell",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "Identity",
    "Input",
    "InputLayer",
    "Lambda",
    "InputSpec",
    "LSTM",
    "LSTMCell",
    "Layer",
    "LayerNormalization",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPooling1D",
    "MaxPooling2D",
    "Maximum",
    "Minimum",
    "Multiply",
    "Permute",
    "RNN",
    "RepeatVector",
    "Rescaling",
    "Reshape",
    "SimpleRNN",
    "SimpleRNNCell",
    "Subtract",
    "UpSampling2D",
    "ZeroPadding2D",
    "add",
    "average",
    "concatenate",
    "deserialize",
    "dot",
    "maximum",
    "minimum",
    "multiply",
    "serialize",
    "subtract",
]
