"""``keras.Model``: a layer that trains. ``Model(inputs, outputs)`` makes a
functional model; subclasses define ``call``."""

from __future__ import annotations

import json
from typing import Any

import devrt
from devrt.keras import backend
from devrt.keras.layers.layer import Layer, count_weights
from devrt.keras.models.trainer import Trainer


class Model(Trainer, Layer):
    _keras_module = "keras"

    def __new__(cls, *args: Any, **kwargs: Any) -> Model:
        if cls is Model and (len(args) >= 2 or "inputs" in kwargs or "outputs" in kwargs):
            from devrt.keras.models.functional import Functional

            return Functional.__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if (
            type(self) is not Model
            and (len(args) >= 2 or "outputs" in kwargs)
            and not hasattr(self, "_functional_init_done")
        ):
            # A subclass of Model called with (inputs, outputs): a functional model.
            from devrt.keras.models.functional import Functional

            Functional.__init__(self, *args, **kwargs)  # type: ignore[arg-type]
            return
        trainable = kwargs.pop("trainable", True)
        name = kwargs.pop("name", None)
        dtype = kwargs.pop("dtype", None)
        Layer.__init__(self, trainable=trainable, name=name, dtype=dtype, **kwargs)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f"Model {type(self).__name__} does not have a `call()` method implemented."
        )

    def build(self, input_shape: Any = None) -> None:
        """Build a subclassed model by calling it once on zeros of `input_shape`."""
        if self.built:
            return
        if input_shape is None:
            raise ValueError(
                f"[{self.name}] build() needs an input shape: model.build((None, 784))"
            )
        if type(self).call is Model.call:
            self.built = True
            return
        self.built = True
        try:
            shape = tuple(2 if d is None else d for d in input_shape)
            with devrt.no_grad():
                self.call(
                    devrt.zeros(
                        shape, dtype=backend.dtype_of(self.dtype), device=backend.current_device()
                    )
                )
        except Exception as error:
            self.built = False
            raise ValueError(
                f"[{self.name}] could not build the model by calling it on an input of shape "
                f"{input_shape}: {error}"
            ) from error
        self._clear_losses()

    def _build_by_run(self, input_shape: Any) -> None:
        # Called on data: a subclassed model that keeps Model's build builds
        # its layers in the call that follows, not in an extra call on zeros.
        if type(self).build is Model.build:
            self._build_shapes_dict = {"input_shape": input_shape}
            self.built = True
            return
        super()._build_by_run(input_shape)

    def build_from_config(self, config: dict) -> None:
        # A subclassed model builds by calling build() (on zeros), not by
        # the deferred build of a call on data.
        if config and config.get("input_shape") is not None and not self.built:
            from devrt.keras.layers.layer import _as_tuples

            self.build(_as_tuples(config["input_shape"]))
        else:
            super().build_from_config(config)

    def _require_built(self, op: str) -> None:
        if (
            not self.built
            or not self.weights
            and self._layers
            and not all(layer.built for layer in self._layers)
        ):
            raise ValueError(
                f"[{op}] This model has not yet been built. Build the model first by calling "
                "`build()` or by calling the model on a batch of data."
            )

    # --- layers and weights -------------------------------------------------

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None and name is not None:
            raise ValueError(
                f"Provide only a layer name or a layer index. Received: index={index}, name={name}."
            )
        if index is not None:
            if len(self.layers) <= index:
                raise ValueError(
                    f"Was asked to retrieve layer at index {index} but model only has "
                    f"{len(self.layers)} layers."
                )
            return self.layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError(
                f"No such layer: {name}. Existing layers are: "
                f"{[layer.name for layer in self.layers]}."
            )
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def count_params(self) -> int:
        self._require_built("count_params")
        return count_weights(self.weights)

    # --- configs, summary, files ----------------------------------------------

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable}
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Model:
        if "layers" in config and "input_layers" in config:
            from devrt.keras.models.functional import functional_from_config

            return functional_from_config(cls, config, custom_objects)
        return cls(**config)

    def to_json(self, **kwargs: Any) -> str:
        from devrt.keras import serialization

        return json.dumps(serialization.serialize_keras_object(self), **kwargs)

    def summary(
        self,
        line_length: int | None = None,
        positions: Any = None,
        print_fn: Any = None,
        expand_nested: bool = False,
        show_trainable: bool = False,
        layer_range: Any = None,
    ) -> None:
        from devrt.keras.models.summary import print_summary

        print_summary(
            self, line_length=line_length, print_fn=print_fn, show_trainable=show_trainable
        )

    def save(
        self, filepath: Any, overwrite: bool = True, zipped: Any = None, **kwargs: Any
    ) -> None:
        from devrt.keras import saving

        saving.save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(
        self, filepath: Any, overwrite: bool = True, max_shard_size: Any = None
    ) -> None:
        from devrt.keras import saving

        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: Any, skip_mismatch: bool = False, **kwargs: Any) -> None:
        from devrt.keras import saving

        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
