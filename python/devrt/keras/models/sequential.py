"""``keras.Sequential``: a stack of layers, each feeding the next."""

from __future__ import annotations

from typing import Any

from devrt.keras import serialization
from devrt.keras.keras_tensor import KerasTensor
from devrt.keras.layers.core import InputLayer
from devrt.keras.layers.layer import Layer, training_scope
from devrt.keras.models.model import Model


class Sequential(Model):
    _keras_module = "keras"

    def __init__(
        self, layers: Any = None, trainable: bool = True, name: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(trainable=trainable, name=name, **kwargs)
        self._input_layer: InputLayer | None = None
        self._stack: list[Layer] = []
        self._build_input_shape: tuple | None = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build()

    # --- the stack -------------------------------------------------------------

    def add(self, layer: Any, rebuild: bool = True) -> None:
        if isinstance(layer, KerasTensor):
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            raise ValueError(
                "Only instances of `keras.Layer` can be added to a Sequential model. "
                f"Received: {layer} (of type {type(layer)})"
            )
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self._stack:
                raise ValueError(
                    f"Sequential model '{self.name}' has already been configured to use an input; "
                    "an InputLayer can only be its first layer."
                )
            self._input_layer = layer
        else:
            if any(layer.name == other.name for other in self._stack):
                raise ValueError(
                    f"All layers added to a Sequential model should have unique names. Name "
                    f"'{layer.name}' is already the name of a layer in this model. Update the "
                    "`name` argument to pass a unique name."
                )
            if not self._stack and self._input_layer is None and layer._input_shape_arg is not None:
                self._input_layer = InputLayer(
                    shape=layer._input_shape_arg, batch_size=layer._batch_size_arg
                )
            self._stack.append(layer)
        self._sync_layers()
        if rebuild:
            self._maybe_build()

    def pop(self, rebuild: bool = True) -> Layer:
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        layer = self._stack.pop()
        self.built = False
        self._sync_layers()
        if rebuild:
            self._maybe_build()
        return layer

    def _sync_layers(self) -> None:
        self._layers = list(self._stack)

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    def _maybe_build(self) -> None:
        if self._input_layer is not None and self._stack:
            self._symbolic_build(self._input_layer.batch_shape)

    def _symbolic_build(self, batch_shape: tuple) -> None:
        """Build every layer by calling the stack on a KerasTensor of
        `batch_shape`; the shapes it records serve ``summary``."""
        x: Any = (
            self._input_layer.output
            if self._input_layer is not None
            else KerasTensor(batch_shape, dtype=self.dtype)
        )
        for layer in self._stack:
            x = layer(x)
        self._outputs = x
        self._build_input_shape = tuple(batch_shape)
        self.built = True

    def build(self, input_shape: Any = None) -> None:
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError(
                    "You must provide an `input_shape` argument to build a Sequential model "
                    "that has no Input."
                )
            input_shape = self._input_layer.batch_shape
        input_shape = tuple(input_shape)
        if self._input_layer is None:
            self._input_layer = InputLayer(batch_shape=(None, *input_shape[1:]))
        self._symbolic_build(self._input_layer.batch_shape)

    def call(self, inputs: Any, training: Any = None, mask: Any = None) -> Any:
        # `training` reaches the layers through the call context, so each
        # layer call takes the short path of a plain call.
        with training_scope(training):
            x = inputs
            for layer in self._stack:
                x = layer(x)
        return x

    # --- introspection ------------------------------------------------------------

    @property
    def input_shape(self) -> Any:
        if self._input_layer is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined input shape yet.")
        return self._input_layer.batch_shape

    @property
    def output_shape(self) -> Any:
        if not self.built or getattr(self, "_outputs", None) is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined output shape yet.")
        return self._outputs.shape

    @property
    def inputs(self) -> list:
        return [] if self._input_layer is None else [self._input_layer.output]

    @property
    def input(self) -> Any:
        if self._input_layer is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined input yet.")
        return self._input_layer.output

    @property
    def outputs(self) -> list:
        return [self._outputs] if getattr(self, "_outputs", None) is not None else []

    @property
    def output(self) -> Any:
        return self._outputs

    @property
    def output_names(self) -> list[str]:
        return [self._stack[-1].name] if self._stack else ["output"]

    # --- configs --------------------------------------------------------------------

    def get_config(self) -> dict:
        layers = []
        if self._input_layer is not None:
            layers.append(serialization.serialize_keras_object(self._input_layer))
        for layer in self._stack:
            entry = serialization.serialize_keras_object(layer)
            build = layer.get_build_config()
            if build is not None:
                entry["build_config"] = build
            layers.append(entry)
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy,
            "layers": layers,
        }
        if self._build_input_shape is not None:
            config["build_input_shape"] = list(self._build_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Sequential:
        from devrt.keras import layers as layers_module

        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config.get("layers", []):
            layer = layers_module.deserialize(entry, custom_objects=custom_objects)
            model.add(layer, rebuild=False)
        if model._input_layer is None and config.get("build_input_shape"):
            model.build(tuple(config["build_input_shape"]))
        else:
            model._maybe_build()
        return model
