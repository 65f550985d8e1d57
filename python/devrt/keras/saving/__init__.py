"""``keras.saving``: ``.keras`` model files and ``.weights.h5`` weight files
in Keras 3's own format, and the registry of custom objects."""

from __future__ import annotations

from devrt.keras.saving.saving_lib import load_model, load_weights, save_model, save_weights
from devrt.keras.serialization import (
    CustomObjectScope,
    custom_object_scope,
    deserialize_keras_object,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    serialize_keras_object,
)

__all__ = [
    "CustomObjectScope",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "load_model",
    "load_weights",
    "register_keras_serializable",
    "save_model",
    "save_weights",
    "serialize_keras_object",
]
