"""``keras.models``: Model, Sequential, and loading models from files and configs."""

from __future__ import annotations

import json
from typing import Any

from devrt.keras.models.functional import Functional
from devrt.keras.models.model import Model
from devrt.keras.models.sequential import Sequential


def _all_models() -> dict[str, type]:
    return {"Model": Model, "Functional": Functional, "Sequential": Sequential}


def model_from_json(json_string: str, custom_objects: dict | None = None) -> Model:
    from devrt.keras import layers

    return layers.deserialize(json.loads(json_string), custom_objects=custom_objects)


def model_from_config(config: dict, custom_objects: dict | None = None) -> Model:
    from devrt.keras import layers

    return layers.deserialize(config, custom_objects=custom_objects)


def load_model(
    filepath: Any,
    custom_objects: dict | None = None,
    compile: bool = True,  # noqa: A002
    safe_mode: bool = True,
) -> Model:
    from devrt.keras import saving

    return saving.load_model(
        filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode
    )


def clone_model(model: Model, input_tensors: Any = None, clone_function: Any = None) -> Model:
    """A new model of the same architecture with freshly initialized weights."""
    from devrt.keras import layers, serialization

    return layers.deserialize(serialization.serialize_keras_object(model))


__all__ = [
    "Functional",
    "Model",
    "Sequential",
    "clone_model",
    "load_model",
    "model_from_config",
    "model_from_json",
]
