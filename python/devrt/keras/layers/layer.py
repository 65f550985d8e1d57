"""``keras.layers.Layer``: the base of every layer and model.

A layer owns Variables (made by ``add_weight`` in ``build``), tracks the
layers assigned to its attributes, builds itself from the shape of its
first input, and calls ``call`` on devrt tensors. Called on KerasTensors
it records a functional Node instead (see ``keras_tensor``).

Note: the eager call path is the fit loop's hot path. Once built, a call
costs a few attribute reads and one dict lookup before ``call`` runs; keep
it that way.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from typing import Any

import numpy as np

import devrt
from devrt.keras import backend
from devrt.keras.keras_tensor import (
    KerasTensor,
    Node,
    any_symbolic,
    flatten,
    map_structure,
)
from devrt.keras.variables import Variable

# The `training` flag of the outermost call that set one; inner layers that
# are not given their own inherit it, as in Keras.
_TRAINING: list[bool] = []


# Layers holding losses from ``add_loss`` since the last clear: a training
# step clears and reads them without walking every layer of the model.
_LOSS_HOLDERS: list[Layer] = []


class training_scope:  # noqa: N801 (a context manager, used as a function)
    """Inner layer calls see `training` (unless it is None or already so).
    A class rather than a generator: a model call enters one per step."""

    __slots__ = ("_value",)

    def __init__(self, training: Any) -> None:
        if training is None or (_TRAINING and _TRAINING[-1] == bool(training)):
            self._value = None
        else:
            self._value = bool(training)

    def __enter__(self) -> None:
        if self._value is not None:
            _TRAINING.append(self._value)

    def __exit__(self, *exc: Any) -> None:
        if self._value is not None:
            _TRAINING.pop()


class InputSpec:
    """What a layer accepts: ``ndim``, ``min_ndim``, ``max_ndim``, ``dtype``,
    ``axes`` (a dict of axis -> size)."""

    def __init__(
        self,
        dtype: Any = None,
        shape: Any = None,
        ndim: int | None = None,
        max_ndim: int | None = None,
        min_ndim: int | None = None,
        axes: dict | None = None,
        allow_last_axis_squeeze: bool = False,
        name: str | None = None,
        optional: bool = False,
    ) -> None:
        self.dtype = dtype
        self.shape = shape
        self.ndim = len(shape) if shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.axes = dict(axes or {})
        self.name = name
        self.optional = optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name != "_accepted":
            object.__setattr__(self, "_accepted", None)

    def check(self, layer: str, shape: tuple) -> None:
        # A layer sees the same shape batch after batch: the last shape that
        # passed is not checked again (until the spec changes).
        if shape == self._accepted:
            return
        self._check(layer, shape)
        self._accepted = shape

    def _check(self, layer: str, shape: tuple) -> None:
        ndim = len(shape)
        if self.ndim is not None and ndim != self.ndim:
            raise ValueError(
                f"Input 0 of layer '{layer}' is incompatible with the layer: "
                f"expected ndim={self.ndim}, found ndim={ndim}. Full shape received: {shape}"
            )
        if self.min_ndim is not None and ndim < self.min_ndim:
            raise ValueError(
                f"Input 0 of layer '{layer}' is incompatible with the layer: "
                f"expected min_ndim={self.min_ndim}, found ndim={ndim}. "
                f"Full shape received: {shape}"
            )
        if self.max_ndim is not None and ndim > self.max_ndim:
            raise ValueError(
                f"Input 0 of layer '{layer}' is incompatible with the layer: "
                f"expected max_ndim={self.max_ndim}, found ndim={ndim}. "
                f"Full shape received: {shape}"
            )
        for axis, size in self.axes.items():
            got = shape[axis] if -ndim <= axis < ndim else None
            if size is not None and got is not None and got != size:
                raise ValueError(
                    f"Input 0 of layer '{layer}' is incompatible with the layer: "
                    f"expected axis {axis} of input shape to have value {size}, "
                    f"but received input with shape {shape}"
                )

    def get_config(self) -> dict:
        return {
            "dtype": self.dtype,
            "shape": self.shape,
            "ndim": self.ndim,
            "max_ndim": self.max_ndim,
            "min_ndim": self.min_ndim,
            "axes": self.axes,
        }


def _shape_of(x: Any) -> Any:
    return map_structure(lambda t: tuple(t.shape) if hasattr(t, "shape") else None, x)


def _policy_name(dtype: Any) -> str | None:
    if dtype is None:
        return None
    if isinstance(dtype, dict):  # a serialized DTypePolicy
        return dtype.get("config", {}).get("name", backend.floatx())
    name = getattr(dtype, "name", dtype)
    if name == "mixed_float16" or name == "mixed_bfloat16":
        raise NotImplementedError(f"[Layer] the dtype policy {name!r} is not supported by devrt")
    return backend.standardize_dtype(name)


class Layer:
    """Base layer. Subclasses create weights in ``build(input_shape)`` with
    ``add_weight`` and compute in ``call(inputs, ...)``."""

    _keras_module = "keras.layers"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_marks_built", False):
            # As in Keras, a build() that returns has built the layer, whoever called it.
            @functools.wraps(build)
            def marked(self: Layer, *args: Any, **kw: Any) -> Any:
                result = build(self, *args, **kw)
                if self._build_shapes_dict is None and args:
                    self._build_shapes_dict = {"input_shape": _as_lists(args[0])}
                self.built = True
                return result

            marked._marks_built = True  # type: ignore[attr-defined]
            cls.build = marked

    def __init__(
        self,
        *,
        activity_regularizer: Any = None,
        trainable: bool = True,
        dtype: Any = None,
        autocast: bool = True,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        from devrt.keras import regularizers

        self._init_tracking()
        input_dim = kwargs.pop("input_dim", None)
        input_shape = (input_dim,) if input_dim is not None else kwargs.pop("input_shape", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        batch_size = kwargs.pop("batch_size", None)
        if batch_input_shape is not None:
            batch_size, input_shape = batch_input_shape[0], tuple(batch_input_shape[1:])
        if kwargs:
            raise ValueError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}"
            )
        if not isinstance(trainable, bool):
            raise ValueError(
                f"Expected `trainable` to be a boolean. Received: trainable={trainable} "
                f"(of type {type(trainable)})"
            )
        self._input_shape_arg = None if input_shape is None else tuple(input_shape)
        self._batch_size_arg = batch_size
        self.name = name or backend.unique_name(backend.to_snake_case(type(self).__name__))
        if not isinstance(self.name, str) or "/" in self.name:
            raise ValueError(f"[Layer] invalid layer name {self.name!r}: a string without '/'")
        self._dtype = _policy_name(dtype) or backend.floatx()
        self._trainable = trainable
        self.autocast = autocast
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.built = False
        self.input_spec: InputSpec | list | None = None
        self.supports_masking = False
        self._build_shapes_dict: dict | None = None
        self._inbound_nodes: list[Node] = []
        self._path: str | None = None
        params = inspect.signature(self.call).parameters
        self._call_has_training_arg = "training" in params
        self._call_has_mask_arg = "mask" in params
        self._call_accepts_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())

    def _init_tracking(self) -> None:
        if "_layers" in self.__dict__:
            return
        d = self.__dict__
        d["_layers"] = []
        d["_trainable_variables"] = []
        d["_non_trainable_variables"] = []
        d["_losses"] = []
        d["_metrics"] = []

    def __setattr__(self, name: str, value: Any) -> None:
        if "_layers" not in self.__dict__:
            if isinstance(value, (Layer, Variable)) or (
                isinstance(value, (list, tuple)) and any(isinstance(v, Layer) for v in value)
            ):
                raise RuntimeError(
                    f"[{type(self).__name__}] call super().__init__() before assigning "
                    f"layers or variables to attributes (assigning {name!r})"
                )
        elif not name.startswith("_"):
            self._track(value)
        object.__setattr__(self, name, value)

    def _track(self, value: Any) -> None:
        if isinstance(value, Layer):
            if value is not self and not any(value is layer for layer in self._layers):
                self._layers.append(value)
        elif isinstance(value, Variable):
            if not any(value is v for v in self._all_own_variables()):
                store = (
                    self._trainable_variables if value.trainable else self._non_trainable_variables
                )
                store.append(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                self._track(item)
        elif isinstance(value, dict):
            for item in value.values():
                self._track(item)

    def _all_own_variables(self) -> list[Variable]:
        return self._trainable_variables + self._non_trainable_variables

    # --- properties -----------------------------------------------------

    @property
    def path(self) -> str:
        return self._path or self.name

    @property
    def dtype(self) -> str:
        """The dtype of the layer's variables."""
        return self._dtype

    @property
    def compute_dtype(self) -> str:
        return self._dtype

    @property
    def variable_dtype(self) -> str:
        return self._dtype

    @property
    def dtype_policy(self) -> dict:
        return {
            "module": "keras",
            "class_name": "DTypePolicy",
            "config": {"name": self._dtype},
            "registered_name": None,
        }

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        value = bool(value)
        self._trainable = value
        for v in self._trainable_variables:
            v.trainable = value
        for layer in self._layers:
            layer.trainable = value

    @property
    def weights(self) -> list[Variable]:
        seen: set[int] = set()
        out: list[Variable] = []
        for w in itertools.chain(
            self._all_own_variables(), *(layer.weights for layer in self._layers)
        ):
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
        return out

    variables = weights

    @property
    def trainable_weights(self) -> list[Variable]:
        if not self.trainable:
            return []
        return [w for w in self.weights if w.trainable]

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self) -> list[Variable]:
        if not self.trainable:
            return self.weights
        return [w for w in self.weights if not w.trainable]

    non_trainable_variables = non_trainable_weights

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def _flatten_layers(self, include_self: bool = True) -> list[Layer]:
        out, seen = [], set()
        stack = [self] if include_self else list(reversed(self._layers))
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            out.append(layer)
            stack.extend(reversed(layer._layers))
        return out

    @property
    def losses(self) -> list[devrt.Tensor]:
        """Losses added by ``add_loss`` during the last call, and the weight
        regularization penalties (computed now, so they follow the weights)."""
        losses = []
        for layer in self._flatten_layers():
            losses.extend(layer._losses)
        for w in self.trainable_weights:
            regularizer = getattr(w, "regularizer", None)
            if regularizer is not None:
                losses.append(regularizer(w))
        return losses

    def add_loss(self, loss: Any) -> None:
        if not self._losses:
            _LOSS_HOLDERS.append(self)
        self._losses.append(loss)

    def _clear_losses(self) -> None:
        for layer in _LOSS_HOLDERS:
            layer._losses.clear()
        _LOSS_HOLDERS.clear()

    @property
    def metrics(self) -> list:
        return list(self._metrics)

    # --- weights ----------------------------------------------------------

    def add_weight(
        self,
        shape: Any = None,
        initializer: Any = None,
        dtype: Any = None,
        trainable: bool = True,
        autocast: bool = True,
        regularizer: Any = None,
        constraint: Any = None,
        aggregation: str = "none",
        overwrite_with_gradient: bool = False,
        name: str | None = None,
    ) -> Variable:
        from devrt.keras import constraints, initializers, regularizers

        self._init_tracking()
        shape = () if shape is None else tuple(shape)
        if any(d is None for d in shape):
            raise ValueError(
                f"[{self.name}] add_weight needs a fully defined shape, got {shape} "
                f"for weight {name!r}"
            )
        dtype = backend.standardize_dtype(dtype or self._dtype)
        if initializer is None:
            initializer = "glorot_uniform" if "float" in dtype else "zeros"
        initializer = initializers.get(initializer)
        with backend.device(backend.current_device()):
            variable = Variable(
                initializer, shape=shape, dtype=dtype, trainable=trainable, name=name
            )
        variable.path = f"{self.path}/{variable.name}"
        variable.regularizer = regularizers.get(regularizer)
        variable.constraint = constraints.get(constraint)
        variable.overwrite_with_gradient = overwrite_with_gradient
        if not self.trainable:
            variable.trainable = False
            variable._layer_trainable = True
        store = self._trainable_variables if trainable else self._non_trainable_variables
        store.append(variable)
        return variable

    def get_weights(self) -> list[np.ndarray]:
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights: list) -> None:
        params = self.weights
        if len(params) != len(weights):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list "
                f"of length {len(weights)}, but the layer was expecting {len(params)} weights."
            )
        for variable, value in zip(params, weights):
            value = np.asarray(value)
            if tuple(variable.shape) != value.shape:
                raise ValueError(
                    f"Layer {self.name} weight shape {tuple(variable.shape)} is not compatible "
                    f"with provided weight shape {value.shape}."
                )
        for variable, value in zip(params, weights):
            variable.assign(value)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer "
                "isn't built. You can build it manually via: `layer.build(input_shape)`."
            )
        return count_weights(self.weights)

    # --- building and calling ----------------------------------------------

    def build(self, input_shape: Any = None) -> None:
        self.built = True

    def _build_by_run(self, input_shape: Any) -> None:
        """Build from a shape: ``build`` when the layer defines it."""
        if self.built:
            return
        self._build_shapes_dict = {"input_shape": _as_lists(input_shape)}
        self.build(input_shape)
        self.built = True

    def build_from_config(self, config: dict) -> None:
        """Build from ``get_build_config()``'s dict, as Keras does: from its
        ``input_shape``, or with ``build(**shapes_dict)``."""
        if not config or self.built:
            return
        if config.get("input_shape") is not None:
            self._build_by_run(_as_tuples(config["input_shape"]))
        elif config.get("shapes_dict"):
            self.build(**{k: _as_tuples(v) for k, v in config["shapes_dict"].items()})

    def get_build_config(self) -> dict | None:
        if self._build_shapes_dict is not None:
            return dict(self._build_shapes_dict)
        return None

    def _check_input_spec(self, shape: Any) -> None:
        spec = self.input_spec
        if isinstance(spec, InputSpec) and isinstance(shape, tuple):
            spec.check(self.name, shape)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f"Layer {type(self).__name__} does not have a `call()` method implemented."
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not args and "inputs" in kwargs:
            args = (kwargs.pop("inputs"),)
        first = args[0] if args else None
        if isinstance(first, devrt.Tensor) and self.built and not kwargs:
            # The hot path: a built layer called on a tensor, no keyword arguments.
            spec = self.input_spec
            if spec is not None and type(spec) is InputSpec:
                spec.check(self.name, first.shape)
            if _TRAINING and self._call_has_training_arg:
                return self._finish(self.call(*args, training=_TRAINING[-1]))
            return self._finish(self.call(*args))
        if any_symbolic(args, kwargs):
            return self._symbolic_call(args, kwargs)
        if args and not isinstance(first, devrt.Tensor):
            args = (_to_tensors(first),) + args[1:]
        if not self.built:
            shape = _shape_of(args[0]) if args else None
            self._check_input_spec(shape)
            self._build_by_run(shape)
        elif self.input_spec is not None and args:
            self._check_input_spec(_shape_of(args[0]))
        training = kwargs.get("training")
        if training is None and _TRAINING:
            training = _TRAINING[-1]
        if self._call_has_training_arg:
            if training is not None:
                kwargs["training"] = training
        elif "training" in kwargs and not self._call_accepts_kwargs:
            del kwargs["training"]
        if "mask" in kwargs and not self._call_has_mask_arg and not self._call_accepts_kwargs:
            del kwargs["mask"]
        if training is None:
            return self._finish(self.call(*args, **kwargs))
        _TRAINING.append(bool(training))
        try:
            return self._finish(self.call(*args, **kwargs))
        finally:
            _TRAINING.pop()

    def _finish(self, outputs: Any) -> Any:
        if self.activity_regularizer is not None:
            for out in flatten(outputs):
                self.add_loss(self.activity_regularizer(out) / out.shape[0])
        return outputs

    # --- the functional API ----------------------------------------------

    def compute_output_shape(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _symbolic_call(self, args: tuple, kwargs: dict) -> Any:
        if not self.built:
            shape = _shape_of(args[0]) if args else None
            self._check_input_spec(shape)
            self._build_by_run(shape)
        else:
            self._check_input_spec(_shape_of(args[0]))
        outputs = self.compute_output_spec(*args, **kwargs)
        Node(self, args, kwargs, outputs)
        return outputs

    def compute_output_spec(self, *args: Any, **kwargs: Any) -> Any:
        """KerasTensors for the outputs of ``self(*args, **kwargs)``.

        From ``compute_output_shape`` where the layer defines it; otherwise by
        running the layer on zero tensors in place of the KerasTensors: once
        with the unknown sizes set to 2 and once to 3, so that an output size
        that follows an unknown input size comes out unknown."""
        if type(self).compute_output_shape is not Layer.compute_output_shape and args:
            try:
                shape = self.compute_output_shape(_shape_of(args[0]))
            except NotImplementedError:
                shape = None
            if shape is not None:
                dtype = (
                    getattr(args[0], "dtype", None)
                    if not isinstance(args[0], (list, tuple, dict))
                    else None
                )
                dtype = dtype if dtype is not None and "float" not in str(dtype) else self._dtype
                return _shapes_to_tensors(shape, dtype)
        runs = [self._run_on_zeros(args, kwargs, size) for size in (2, 3)]

        def merge(a: Any, b: Any) -> Any:
            shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
            return KerasTensor(shape, dtype=a.dtype.name)

        return _zip_map(merge, runs[0], runs[1])

    def _run_on_zeros(self, args: tuple, kwargs: dict, size: int) -> Any:
        def zeros(t: Any) -> Any:
            if isinstance(t, KerasTensor):
                shape = tuple(size if d is None else d for d in t.shape)
                return devrt.zeros(
                    shape, dtype=backend.dtype_of(t.dtype), device=backend.current_device()
                )
            return t

        real_args = map_structure(zeros, args)
        real_kwargs = {k: map_structure(zeros, v) for k, v in kwargs.items()}
        if self._call_has_training_arg and "training" not in real_kwargs:
            real_kwargs["training"] = False
        with devrt.no_grad():
            out = self.call(*real_args, **real_kwargs)
        self._clear_losses()
        return out

    def _node_input(self, index: int = 0) -> Any:
        if not self._inbound_nodes:
            raise AttributeError(
                f"Layer '{self.name}' has never been called and thus has no defined input."
            )
        node = self._inbound_nodes[index]
        return node.input_tensors[0] if len(node.input_tensors) == 1 else node.input_tensors

    @property
    def input(self) -> Any:
        return self._node_input(0)

    @property
    def output(self) -> Any:
        if not self._inbound_nodes:
            raise AttributeError(
                f"Layer '{self.name}' has never been called and thus has no defined output."
            )
        return self._inbound_nodes[0].outputs

    @property
    def input_shape(self) -> Any:
        return _shape_of(self.input)

    @property
    def output_shape(self) -> Any:
        return _shape_of(self.output)

    # --- configs ------------------------------------------------------------

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype_policy}
        if self.activity_regularizer is not None:
            from devrt.keras import regularizers

            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    def __getstate__(self) -> dict:
        raise TypeError(
            f"[{type(self).__name__}] layers are not picklable; save models with model.save()"
        )


def count_weights(weights: list) -> int:
    """How many numbers `weights` hold."""
    return sum(w.numel() for w in weights)


def _to_tensors(x: Any) -> Any:
    if isinstance(x, (list, tuple, dict)):
        return map_structure(_to_tensors, x)
    if isinstance(x, (np.ndarray, np.generic, float, int)):
        return backend.convert_to_tensor(x)
    return x


def _is_shape(x: Any) -> bool:
    return isinstance(x, (tuple, list)) and all(d is None or isinstance(d, int) for d in x)


def _shapes_to_tensors(shape: Any, dtype: Any) -> Any:
    if _is_shape(shape):
        return KerasTensor(tuple(shape), dtype=dtype)
    if isinstance(shape, dict):
        return {k: _shapes_to_tensors(v, dtype) for k, v in shape.items()}
    return type(shape)(_shapes_to_tensors(s, dtype) for s in shape)


def _zip_map(fn: Any, a: Any, b: Any) -> Any:
    if isinstance(a, (list, tuple)):
        return type(a)(_zip_map(fn, x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return {k: _zip_map(fn, a[k], b[k]) for k in a}
    if isinstance(a, devrt.Tensor):
        return fn(a, b)
    return a


def _as_lists(shape: Any) -> Any:
    if isinstance(shape, tuple) and all(d is None or isinstance(d, int) for d in shape):
        return list(shape)
    if isinstance(shape, (list, tuple)):
        return [_as_lists(s) for s in shape]
    if isinstance(shape, dict):
        return {k: _as_lists(v) for k, v in shape.items()}
    return shape


def _as_tuples(shape: Any) -> Any:
    if isinstance(shape, list) and all(d is None or isinstance(d, int) for d in shape):
        return tuple(shape)
    if isinstance(shape, (list, tuple)):
        return [_as_tuples(s) for s in shape]
    if isinstance(shape, dict):
        return {k: _as_tuples(v) for k, v in shape.items()}
    return shape


def _add_weight_of(
    layer: Layer, name: str, shape: Any, attr: str | None = None, initializer: Any = None
) -> Variable:
    """``layer.add_weight`` of the weight `name` with the layer's own
    ``<attr>_initializer``, ``<attr>_regularizer`` and ``<attr>_constraint``
    (`attr` is `name` unless given); `initializer`, if given, replaces the
    first."""
    attr = attr or name
    if initializer is None:
        initializer = getattr(layer, f"{attr}_initializer")
    return layer.add_weight(
        name=name,
        shape=shape,
        initializer=initializer,
        regularizer=getattr(layer, f"{attr}_regularizer"),
        constraint=getattr(layer, f"{attr}_constraint"),
    )
