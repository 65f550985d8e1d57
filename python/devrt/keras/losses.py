"""``keras.losses``: Keras 3's losses as classes and per-sample functions.

Every value is computed with devrt ops on devrt tensors, so a loss runs on
the device of its inputs and is differentiable through the core's rules.
The clipping of probabilities by epsilon (1e-7), the reductions and the
sample-weight rules are Keras 3's; the binary crossentropy itself is
``devrt.nn.functional``'s.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import devrt
import devrt.nn.functional as F
from devrt._composite import losses as _loss
from devrt._composite.eager import EAGER
from devrt.keras import backend

Tensor = devrt.Tensor

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "Huber",
    "Loss",
    "LossFunctionWrapper",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "SparseCategoricalCrossentropy",
    "binary_crossentropy",
    "categorical_crossentropy",
    "deserialize",
    "get",
    "huber",
    "mae",
    "mean_absolute_error",
    "mean_squared_error",
    "mse",
    "serialize",
    "sparse_categorical_crossentropy",
]

_REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


# --- helpers shared with keras.metrics ---------------------------------------------


def to_tensor(x: Any, dtype: Any = None) -> Tensor:
    """`x` as a devrt tensor (of `dtype` if given); tensors keep their device."""
    if isinstance(x, Tensor):
        if dtype is not None:
            want = backend.dtype_of(dtype)
            if x.dtype is not want:
                x = x.to(want)
        return x
    tensor = backend.convert_to_tensor(x, dtype=dtype)
    shape = getattr(x, "shape", None)
    if shape is None and isinstance(x, (int, float, bool)):
        shape = ()
    if shape is not None and tuple(tensor.shape) != tuple(shape):
        tensor = tensor.reshape(tuple(shape))
    return tensor


def _like(x: Any, other: Tensor) -> Tensor:
    """`x` as a tensor of `other`'s dtype on `other`'s device."""
    x = to_tensor(x, dtype=other.dtype)
    return x if x.device == other.device else x.to(other.device)


def squeeze_or_expand_to_same_rank(
    x1: Tensor, x2: Tensor, expand_rank_1: bool = True
) -> tuple[Tensor, Tensor]:
    """Keras' rule: when the ranks differ by one and the longer one ends in
    a dimension of 1, squeeze it (or expand a rank-1 partner instead)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2.unsqueeze(-1)
        else:
            x1 = x1.squeeze(-1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1.unsqueeze(-1)
        else:
            x2 = x2.squeeze(-1)
    return x1, x2


def _check_same_shape(op: str, y_true: Tensor, y_pred: Tensor) -> None:
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(
            f"[{op}] y_true shape {tuple(y_true.shape)} does not match "
            f"y_pred shape {tuple(y_pred.shape)}"
        )


def _pair(op: str, y_true: Any, y_pred: Any) -> tuple[Tensor, Tensor]:
    """(y_true, y_pred) as tensors of y_pred's float type, of one shape."""
    if (
        type(y_true) is Tensor
        and type(y_pred) is Tensor
        and y_true.dtype is y_pred.dtype
        and y_true.shape == y_pred.shape
        and y_pred.is_floating_point()
        and y_true.device == y_pred.device
    ):
        return y_true, y_pred  # a training step's batch: nothing to convert
    y_pred = to_tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.to(backend.dtype_of(None))
    y_true, y_pred = squeeze_or_expand_to_same_rank(_like(y_true, y_pred), y_pred)
    _check_same_shape(op, y_true, y_pred)
    return y_true, y_pred


def divide_no_nan(x: Tensor, y: Tensor) -> Tensor:
    """``x / y``, and 0 where ``y`` is 0."""
    zero = y == 0
    return devrt.where(zero, 0.0, x / devrt.where(zero, 1.0, y))


def standardize_reduction(reduction: Any) -> Any:
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"Invalid value for argument `reduction`. Expected one of {set(_REDUCTIONS)}. "
            f"Received: reduction={reduction}"
        )
    return reduction


def reduce_values(
    values: Tensor, sample_weight: Tensor | None = None, reduction: Any = "sum_over_batch_size"
) -> Tensor:
    if reduction is None or reduction == "none" or tuple(values.shape) in ((), (0,)):
        return values
    loss = values.sum()
    if reduction in ("sum_over_batch_size", "mean", "mean_with_sample_weight"):
        if reduction == "mean_with_sample_weight" and sample_weight is not None:
            return divide_no_nan(loss, sample_weight.sum().to(loss.dtype))
        count = values.numel()
        return loss / count if count else loss * 0.0
    return loss


def apply_mask(
    sample_weight: Tensor | None, mask: Tensor | None, dtype: Any, reduction: Any
) -> Tensor | None:
    """Folds a validity mask into the sample weights; for the averaging
    reductions the valid entries weigh ``total / valid``, so the average
    runs over the valid entries only."""
    if mask is None:
        return sample_weight
    if reduction in ("mean", "sum_over_batch_size"):
        valid = mask.to(dtype).sum()
        weight = divide_no_nan(devrt.full_like(valid, float(mask.numel())), valid)
        float_mask = devrt.where(mask.bool(), weight, 0.0)
    else:
        float_mask = mask.to(dtype)
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight.to(dtype))
    return sample_weight * float_mask


def reduce_weighted_values(
    values: Tensor,
    sample_weight: Any = None,
    mask: Tensor | None = None,
    reduction: Any = "sum_over_batch_size",
    dtype: Any = None,
) -> Tensor:
    reduction = standardize_reduction(reduction)
    if dtype is not None:
        values = to_tensor(values, dtype)
    if sample_weight is not None:
        sample_weight = _like(sample_weight, values)
    sample_weight = apply_mask(sample_weight, mask, values.dtype, reduction)
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        values = values * sample_weight
    return reduce_values(values, sample_weight, reduction)


# --- per-sample functions --------------------------------------------------------------


def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """``mean((y_true - y_pred) ** 2, axis=-1)``."""
    y_true, y_pred = _pair("mean_squared_error", y_true, y_pred)
    return F.mse_loss(y_pred, y_true, reduction="none").mean(-1)


def _mean_squared_error_of_all(y_true: Any, y_pred: Any) -> Tensor:
    y_true, y_pred = _pair("mean_squared_error", y_true, y_pred)
    return _mean_squared_error_of_pair(y_true, y_pred)


def _mean_squared_error_of_pair(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """The mean squared error of all terms, for tensors `_pair` accepts as
    they are (one shape, dtype and device)."""
    if not y_pred.numel():
        return mean_squared_error(y_true, y_pred).sum()
    return _loss.squared_error(EAGER, y_true, y_pred).mean()


def mean_absolute_error(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(|y_true - y_pred|, axis=-1)``."""
    y_true, y_pred = _pair("mean_absolute_error", y_true, y_pred)
    return F.l1_loss(y_pred, y_true, reduction="none").mean(-1)


# Losses whose batch mean is one mean over all terms (see Loss.__call__).
_MEAN_OF_ALL = {mean_squared_error: _mean_squared_error_of_all}
# The same for a pair of tensors already of one shape, dtype and device.
_MEAN_OF_PAIR = {mean_squared_error: _mean_squared_error_of_pair}


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Tensor:
    """``mean(0.5 e**2 if |e| <= delta else delta |e| - 0.5 delta**2)`` over
    the last axis, ``e = y_pred - y_true``."""
    y_true, y_pred = _pair("huber", y_true, y_pred)
    return _loss.huber(EAGER, y_true, y_pred, float(delta)).mean(-1)


def binary_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:
    """Binary crossentropy averaged over `axis`; probabilities are clipped
    to ``[epsilon, 1 - epsilon]`` as Keras does."""
    y_true, y_pred = _pair("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = _loss.smooth_labels(EAGER, y_true, label_smoothing, 2)
    if from_logits:
        loss = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        eps = backend.epsilon()
        loss = F.binary_cross_entropy(y_pred.clamp(eps, 1.0 - eps), y_true, reduction="none")
    return loss.mean(axis)


def _log_probabilities(y_pred: Tensor, from_logits: bool, axis: int) -> Tensor:
    if from_logits:
        return devrt.log_softmax(y_pred, axis)
    eps = backend.epsilon()
    # Keras renormalises probabilities before clipping them.
    probs = y_pred / y_pred.sum(axis, keepdim=True)
    return probs.clamp(eps, 1.0 - eps).log()


def categorical_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:
    """``-sum(y_true * log(p), axis)`` with ``p = softmax(y_pred)`` for logits,
    else ``y_pred`` renormalised and clipped to ``[epsilon, 1 - epsilon]``."""
    if isinstance(axis, bool):
        raise ValueError(f"[categorical_crossentropy] `axis` must be an int, got {axis!r}")
    y_pred = to_tensor(y_pred)
    y_true = _like(y_true, y_pred)
    _check_same_shape("categorical_crossentropy", y_true, y_pred)
    if y_pred.ndim < 1:
        raise ValueError("[categorical_crossentropy] y_true and y_pred must be at least rank 1")
    if label_smoothing:
        y_true = _loss.smooth_labels(EAGER, y_true, label_smoothing, y_true.shape[-1])
    log_probs = _log_probabilities(y_pred, from_logits, axis)
    return _loss.categorical_cross_entropy(EAGER, y_true, log_probs, axis)


def sparse_categorical_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    ignore_class: int | None = None,
    axis: int = -1,
) -> Tensor:
    """Categorical crossentropy against integer class labels; entries equal
    to `ignore_class` give 0."""
    losses, _ = _sparse_crossentropy(y_true, y_pred, from_logits, ignore_class, axis)
    return losses


def _sparse_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool, ignore_class: int | None, axis: int
) -> tuple[Tensor, Tensor | None]:
    op = "sparse_categorical_crossentropy"
    y_pred = to_tensor(y_pred)
    if y_pred.ndim < 1:
        raise ValueError(f"[{op}] y_pred must be at least rank 1, got shape ()")
    y_true = to_tensor(y_true)
    if y_true.device != y_pred.device:
        y_true = y_true.to(y_pred.device)
    class_axis = axis % y_pred.ndim
    if y_true.ndim == y_pred.ndim and y_true.shape[class_axis] == 1:
        y_true = y_true.squeeze(class_axis)
    expected = tuple(d for i, d in enumerate(y_pred.shape) if i != class_axis)
    if tuple(y_true.shape) != expected:
        raise ValueError(
            f"[{op}] y_true shape {tuple(y_true.shape)} does not match y_pred shape "
            f"{tuple(y_pred.shape)}: expected integer labels of shape {expected}"
        )
    classes = y_pred.shape[class_axis]
    labels = y_true.long()
    valid = None
    if ignore_class is not None:
        valid = labels != int(ignore_class)
        labels = devrt.where(valid, labels, 0)
    _check_labels(op, labels, classes)
    log_probs = _log_probabilities(y_pred, from_logits, class_axis)
    losses = _loss.sparse_cross_entropy(EAGER, labels, log_probs, class_axis)
    if valid is not None:
        losses = devrt.where(valid, losses, 0.0)
    return losses, valid


def _check_labels(op: str, labels: Tensor, classes: int) -> None:
    # Note: this reads one flag back from the device per call; the gather
    # below would read out of bounds otherwise.
    bad = (labels < 0) | (labels >= classes)
    if labels.numel() and bool(bad.any()):
        label = int(labels[bad].reshape(-1)[0].item())
        raise ValueError(
            f"[{op}] label {label} is out of range for {classes} classes "
            f"(labels must lie in [0, {classes}))"
        )


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


# --- classes -----------------------------------------------------------------------------


class Loss:
    """``keras.losses.Loss(name=None, reduction="sum_over_batch_size",
    dtype=None)``: subclasses implement ``call(y_true, y_pred)`` returning
    per-sample losses; ``__call__`` weights and reduces them."""

    def __init__(
        self, name: str | None = None, reduction: Any = "sum_over_batch_size", dtype: Any = None
    ) -> None:
        self.name = name or backend.unique_name(backend.to_snake_case(type(self).__name__))
        self.reduction = standardize_reduction(reduction)
        self._dtype = backend.standardize_dtype(dtype or backend.floatx())

    @property
    def dtype(self) -> str:
        return self._dtype

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        if type(y_pred) is not Tensor or y_pred.dtype.name != self._dtype:
            y_pred = to_tensor(y_pred, self._dtype)
        if type(y_true) is not Tensor or y_true.dtype is not y_pred.dtype:
            y_true = _like(y_true, y_pred)
        elif y_true.device != y_pred.device:
            y_true = y_true.to(y_pred.device)
        if sample_weight is None and self.reduction == "sum_over_batch_size":
            # The mean of per-sample means of equal length is the mean of all
            # terms: fewer ops on the training step's path.
            fn = self._mean_of_all_function()
            if fn is not None:
                return _MEAN_OF_ALL[fn](y_true, y_pred)
        losses, mask = self._call_with_mask(y_true, y_pred)
        if (
            sample_weight is None
            and mask is None
            and self.reduction == "sum_over_batch_size"
            and losses.numel()
        ):
            return losses.mean()  # the sum over the batch size, in one op
        return reduce_weighted_values(
            losses, sample_weight=sample_weight, mask=mask, reduction=self.reduction
        )

    def _pair_function(self) -> Callable[[Tensor, Tensor], Tensor] | None:
        """What ``self(y_true, y_pred)`` computes, with no sample weight, as a
        function of two tensors of one shape, of this loss's dtype and on one
        device (a training step's batch, whose checks ``fit`` made once), or
        None where the loss has no such shortcut."""
        if type(self).__call__ is not Loss.__call__ or self.reduction != "sum_over_batch_size":
            return None
        fn = self._mean_of_all_function()
        return None if fn is None else _MEAN_OF_PAIR[fn]

    def _mean_of_all_function(self) -> Callable[..., Tensor] | None:
        """The per-sample function this loss wraps, where its batch mean is
        one mean over all terms (``_MEAN_OF_ALL``) and nothing changes that
        (extra arguments, a subclass's own ``call``); else None."""
        if (
            not isinstance(self, LossFunctionWrapper)
            or type(self).call is not LossFunctionWrapper.call
            or self._fn_kwargs
        ):
            return None
        return self.fn if self.fn in _MEAN_OF_ALL else None

    def _call_with_mask(self, y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, Tensor | None]:
        return self.call(y_true, y_pred), None

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        raise NotImplementedError(f"[{type(self).__name__}] a Loss must implement call()")

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class LossFunctionWrapper(Loss):
    """A `Loss` around a per-sample function ``fn(y_true, y_pred, **kwargs)``."""

    def __init__(
        self,
        fn: Callable[..., Tensor],
        reduction: Any = "sum_over_batch_size",
        name: str | None = None,
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["fn"] = serialize(self.fn)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        config = dict(config)
        if isinstance(config.get("fn"), (dict, str)):
            config["fn"] = deserialize(config["fn"])
        return cls(**config)


class _FnArguments:
    """A built-in loss or metric whose per-sample function's keyword
    arguments (``_fn_kwargs``) are also its attributes, of the same names.
    Its config is ``_base_config`` followed by the attributes named in
    ``_config_keys``, in Keras' order. Shared with keras.metrics."""

    _config_keys: tuple[str, ...] = ()
    _fn_kwargs: dict[str, Any]

    def __init__(self, fn: Callable[..., Tensor], **kwargs: Any) -> None:
        super().__init__(fn, **kwargs)  # type: ignore[call-arg]
        for key, value in self._fn_kwargs.items():
            setattr(self, key, value)

    def _base_config(self) -> dict[str, Any]:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        config = self._base_config()
        config.update({key: getattr(self, key) for key in self._config_keys})
        return config


class _BuiltinLoss(_FnArguments, LossFunctionWrapper):
    _base_config = Loss.get_config


class MeanSquaredError(_BuiltinLoss):
    def __init__(
        self,
        reduction: Any = "sum_over_batch_size",
        name: str = "mean_squared_error",
        dtype: Any = None,
    ) -> None:
        super().__init__(mean_squared_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(_BuiltinLoss):
    def __init__(
        self,
        reduction: Any = "sum_over_batch_size",
        name: str = "mean_absolute_error",
        dtype: Any = None,
    ) -> None:
        super().__init__(mean_absolute_error, name=name, reduction=reduction, dtype=dtype)


class Huber(_BuiltinLoss):
    # Keras 3 leaves `delta` out of the config; it is kept here so that a
    # round trip keeps it (Keras' from_config accepts it).
    _config_keys = ("delta",)

    def __init__(
        self,
        delta: float = 1.0,
        reduction: Any = "sum_over_batch_size",
        name: str = "huber_loss",
        dtype: Any = None,
    ) -> None:
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype, delta=delta)


class BinaryCrossentropy(_BuiltinLoss):
    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: Any = "sum_over_batch_size",
        name: str = "binary_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            binary_crossentropy,
            name=name,
            reduction=reduction,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class CategoricalCrossentropy(_BuiltinLoss):
    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: Any = "sum_over_batch_size",
        name: str = "categorical_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            categorical_crossentropy,
            name=name,
            reduction=reduction,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        # No squeezing: a (N, 1) prediction against (N,) labels is a mistake
        # that should name both shapes, not broadcast.
        return categorical_crossentropy(y_true, y_pred, **self._fn_kwargs)


class SparseCategoricalCrossentropy(_BuiltinLoss):
    _config_keys = ("from_logits", "ignore_class")

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        reduction: Any = "sum_over_batch_size",
        axis: int = -1,
        name: str = "sparse_categorical_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            sparse_categorical_crossentropy,
            name=name,
            reduction=reduction,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )

    def _call_with_mask(self, y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, Tensor | None]:
        return _sparse_crossentropy(y_true, y_pred, self.from_logits, self.ignore_class, self.axis)

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return self._call_with_mask(y_true, y_pred)[0]


# --- lookup and serialization ------------------------------------------------------------

_CLASSES = (
    Loss,
    LossFunctionWrapper,
    MeanSquaredError,
    MeanAbsoluteError,
    Huber,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
)
_FUNCTIONS = (
    mean_squared_error,
    mean_absolute_error,
    huber,
    binary_crossentropy,
    categorical_crossentropy,
    sparse_categorical_crossentropy,
)
ALL_OBJECTS_DICT: dict[str, Any] = {obj.__name__: obj for obj in (*_CLASSES, *_FUNCTIONS)}
ALL_OBJECTS_DICT.update(
    {
        "bce": binary_crossentropy,
        "BCE": binary_crossentropy,
        "mae": mean_absolute_error,
        "MAE": mean_absolute_error,
        "mse": mean_squared_error,
        "MSE": mean_squared_error,
    }
)


def _unknown(name: Any) -> ValueError:
    known = ", ".join(
        sorted(k for k in ALL_OBJECTS_DICT if k not in ("Loss", "LossFunctionWrapper"))
    )
    return ValueError(f"[losses.get] unknown loss {name!r}; known: {known}")


def serialize(loss: Any) -> dict[str, Any]:
    """A loss instance or function as Keras writes it."""
    if isinstance(loss, Loss):
        return _serialize_instance(loss, "keras.losses", ALL_OBJECTS_DICT)
    if callable(loss):
        return {
            "module": "builtins",
            "class_name": "function",
            "config": loss.__name__,
            "registered_name": "function",
        }
    raise ValueError(f"[losses.serialize] cannot serialize {loss!r}")


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Any:
    """A loss from ``serialize``'s dict, or from a name."""
    custom = custom_objects or {}
    if isinstance(config, str):
        obj = custom.get(config) or ALL_OBJECTS_DICT.get(config)
        if obj is None:
            raise _unknown(config)
        return obj
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"[losses.deserialize] cannot interpret {config!r}")
    if config["class_name"] == "function":
        return deserialize(config["config"], custom_objects)
    return _deserialize_class(config, custom, ALL_OBJECTS_DICT, _unknown)


def get(identifier: Any) -> Any:
    """A loss from a name (Keras' names and aliases: ``"mse"``,
    ``"mean_squared_error"``, ``"MeanSquaredError"``, ...), a config dict, a
    `Loss` or any callable. Class names give an instance."""
    return _get(identifier, deserialize, ALL_OBJECTS_DICT, _unknown, "losses", "loss")


# keras.metrics serializes and looks up its objects through these three too;
# what differs (the table of names, the error for an unknown name, the words of
# the messages) is passed in.


def _serialize_instance(obj: Any, module: str, objects: dict[str, Any]) -> dict[str, Any]:
    """A loss or metric instance as Keras writes it: a class of `objects`
    under `module`, any other under its own module and registered name."""
    cls = type(obj)
    builtin = objects.get(cls.__name__) is cls
    return {
        "module": module if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": obj.get_config(),
        "registered_name": None if builtin else cls.__name__,
    }


def _deserialize_class(
    config: dict[str, Any],
    custom: dict[str, Any],
    objects: dict[str, Any],
    unknown: Callable[[Any], ValueError],
) -> Any:
    """An instance from a class's config dict; `custom` is looked up first,
    by registered name and then by class name."""
    name = config["class_name"]
    cls = custom.get(config.get("registered_name") or name) or custom.get(name)
    cls = cls or objects.get(name)
    if cls is None or not inspect.isclass(cls):
        raise unknown(name)
    return cls.from_config(dict(config.get("config") or {}))


def _get(
    identifier: Any,
    deserialize: Callable[[Any], Any],
    objects: dict[str, Any],
    unknown: Callable[[Any], ValueError],
    module: str,
    kind: str,
) -> Any:
    """``get`` of keras.losses (`module` "losses", `kind` "loss") or of
    keras.metrics."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = objects.get(identifier)
        if obj is None:
            raise unknown(identifier)
    else:
        obj = identifier
    if inspect.isclass(obj):
        obj = obj()
    if not callable(obj):
        raise ValueError(f"[{module}.get] could not interpret {kind} identifier: {identifier!r}")
    return obj
