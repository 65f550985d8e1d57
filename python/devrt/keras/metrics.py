"""``keras.metrics``: Keras 3's metrics, accumulated on the device.

A metric keeps its state in non-trainable Variables on the device of the
data it sees; ``update_state`` only adds to them with devrt ops (nothing is
read back to the host), and ``result`` returns a devrt scalar. The formulas,
names and configs are Keras 3's, AUC's bucketed confusion counts and its
interpolation included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import devrt
import devrt.nn.functional as F
from devrt.keras import backend, losses
from devrt.keras.losses import divide_no_nan, squeeze_or_expand_to_same_rank, to_tensor
from devrt.keras.variables import Variable

Tensor = devrt.Tensor

__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "Mean",
    "MeanAbsoluteError",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "Metric",
    "Precision",
    "Recall",
    "RootMeanSquaredError",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "Sum",
    "TopKCategoricalAccuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "deserialize",
    "get",
    "resolve_accuracy",
    "serialize",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
]

NEG_INF = -1e10


# --- base classes -----------------------------------------------------------------------


class Metric:
    """``keras.metrics.Metric(dtype=None, name=None)``: subclasses create
    state with ``add_variable`` and implement ``update_state`` and
    ``result``."""

    def __init__(self, dtype: Any = None, name: str | None = None) -> None:
        self.name = name or backend.unique_name(backend.to_snake_case(type(self).__name__))
        self._dtype = backend.standardize_dtype(dtype or backend.floatx())
        self._variables: list[Variable] = []

    @property
    def dtype(self) -> str:
        return self._dtype

    @property
    def variables(self) -> list[Variable]:
        return list(self._variables)

    def add_variable(
        self,
        shape: Any,
        initializer: Any = "zeros",
        dtype: Any = None,
        aggregation: str = "sum",
        name: str | None = None,
    ) -> Variable:
        shape = tuple(int(d) for d in shape)
        dt = backend.dtype_of(dtype or self._dtype)
        if initializer in (None, "zeros"):
            value = devrt.zeros(shape, dtype=dt, device=backend.current_device())
        else:
            value = backend.convert_to_tensor(initializer(shape, dtype=dt.name), dtype=dt)
        variable = Variable(value, dtype=dt.name, trainable=False, name=name or "variable")
        variable.path = f"{self.name.replace('/', '>')}/{variable.name}"
        variable.aggregation = aggregation
        self._variables.append(variable)
        return variable

    add_weight = add_variable

    def _follow(self, x: Tensor) -> None:
        """Moves the state to `x`'s device the first time data arrives
        from elsewhere (metrics are made before the model is placed)."""
        variables = self._variables
        if variables and variables[0].device != x.device:
            with devrt.no_grad():
                for v in variables:
                    v.data = v.detach().to(x.device)

    def reset_state(self) -> None:
        with devrt.no_grad():
            for v in self._variables:
                v.zero_()

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"[{type(self).__name__}] a Metric must implement update_state")

    def result(self) -> Tensor:
        raise NotImplementedError(f"[{type(self).__name__}] a Metric must implement result")

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self._dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def _samplewise(
    values: Tensor, sample_weight: Any, reduce: str, dtype: str
) -> tuple[Tensor, Tensor | None]:
    """Keras' reduction of values (and weights) to one value per sample."""
    values = to_tensor(values, dtype)
    if sample_weight is not None:
        sample_weight = to_tensor(sample_weight, dtype)
        if sample_weight.device != values.device:
            sample_weight = sample_weight.to(values.device)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        w_ndim, v_ndim = sample_weight.ndim, values.ndim
        if v_ndim > w_ndim:
            values = getattr(values, reduce)(dim=list(range(w_ndim, v_ndim)))
        sample_weight = sample_weight.expand(*values.shape)
        values = values * sample_weight
        if w_ndim > 1:
            sample_weight = getattr(sample_weight, reduce)(dim=list(range(1, w_ndim)))
    if values.ndim > 1:
        values = getattr(values, reduce)(dim=list(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the values."""

    def __init__(self, name: str = "sum", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values, _ = _samplewise(values, sample_weight, "sum", self._dtype)
        self._follow(values)
        with devrt.no_grad():
            self.total.add_(values.sum())

    def result(self) -> Tensor:
        return self.total.detach().clone()


class Mean(Metric):
    """The (weighted) mean of the values."""

    def __init__(self, name: str = "mean", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")
        self.count = self.add_variable((), name="count")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values, sample_weight = _samplewise(values, sample_weight, "mean", self._dtype)
        self._follow(values)
        with devrt.no_grad():
            self.total.add_(values.sum())
            if sample_weight is not None:
                self.count.add_(sample_weight.sum())
            else:
                self.count.add_(float(values.shape[0]) if values.ndim >= 1 else 1.0)

    def result(self) -> Tensor:
        return divide_no_nan(self.total.detach(), self.count.detach())


class MeanMetricWrapper(Mean):
    """The mean of a per-sample function ``fn(y_true, y_pred, **kwargs)``."""

    def __init__(
        self, fn: Callable[..., Any], name: str | None = None, dtype: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(
            name=name or backend.unique_name(backend.to_snake_case(type(self).__name__)),
            dtype=dtype,
        )
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        with devrt.no_grad():
            values = self._fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": losses.serialize(self._fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        config = dict(config)
        if "fn" in config:
            fn = config["fn"]
            config["fn"] = get(fn) if isinstance(fn, str) else _deserialize_fn(fn)
        return cls(**config)


def _deserialize_fn(config: Any) -> Callable[..., Any]:
    if isinstance(config, dict) and config.get("class_name") == "function":
        name = config["config"]
        fn = _FUNCTIONS.get(name) or losses.ALL_OBJECTS_DICT.get(name)
        if fn is None:
            raise ValueError(f"[metrics.deserialize] unknown function {name!r}")
        return fn
    return losses.deserialize(config)


class _BuiltinMetric(losses._FnArguments, MeanMetricWrapper):
    _base_config = Metric.get_config


# --- accuracy ----------------------------------------------------------------------------


def _floatx(x: Tensor) -> Tensor:
    return x.to(backend.dtype_of(None))


def accuracy(y_true: Any, y_pred: Any) -> Tensor:
    y_pred = to_tensor(y_pred)
    y_true = losses._like(y_true, y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return _floatx(y_true == y_pred)


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> Tensor:
    """1 where ``(y_pred > threshold) == y_true``, else 0."""
    y_pred = to_tensor(y_pred)
    y_true = to_tensor(y_true)
    if y_true.device != y_pred.device:
        y_true = y_true.to(y_pred.device)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    predicted = (y_pred > float(threshold)).to(y_true.dtype)
    return _floatx(y_true == predicted)


def _matches_like_labels(y_true: Tensor, y_pred: Tensor, squeeze_always: bool) -> Tensor:
    """argmax(y_pred) == y_true, shaped as Keras shapes it."""
    original = tuple(y_true.shape)
    reshape = False
    if y_true.ndim == y_pred.ndim and (squeeze_always or y_true.shape[-1] == 1):
        y_true = y_true.squeeze(-1)
        reshape = True
    predicted = y_pred.argmax(-1).to(y_true.dtype)
    matches = _floatx(y_true == predicted)
    if reshape:
        matches = matches.reshape(original)
    return matches


def categorical_accuracy(y_true: Any, y_pred: Any) -> Tensor:
    """1 where ``argmax(y_true) == argmax(y_pred)``, else 0."""
    y_pred = to_tensor(y_pred)
    y_true = losses._like(to_tensor(y_true).argmax(-1), y_pred)
    return _matches_like_labels(y_true, y_pred, squeeze_always=True)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> Tensor:
    """1 where ``y_true == argmax(y_pred)``, else 0."""
    y_pred = to_tensor(y_pred)
    y_true = losses._like(y_true, y_pred)
    matches = _matches_like_labels(y_true, y_pred, squeeze_always=False)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = matches.squeeze(-1)
    return matches


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> Tensor:
    """1 where the true class' score is among the `k` largest, else 0."""
    y_pred = to_tensor(y_pred)
    labels = to_tensor(y_true).argmax(-1)
    if labels.device != y_pred.device:
        labels = labels.to(y_pred.device)
    shape = tuple(labels.shape)
    if y_pred.ndim > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    labels = labels.reshape(-1)
    k = min(int(k), y_pred.shape[-1])
    kth = devrt.topk(y_pred, k, -1)[0][..., -1:]
    matches = _floatx((y_pred.gather(-1, labels.long().unsqueeze(-1)) >= kth).squeeze(-1))
    return matches.reshape(shape)


class Accuracy(_BuiltinMetric):
    def __init__(self, name: str = "accuracy", dtype: Any = None) -> None:
        super().__init__(fn=accuracy, name=name, dtype=dtype)


class BinaryAccuracy(_BuiltinMetric):
    _config_keys = ("threshold",)

    def __init__(
        self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5
    ) -> None:
        super().__init__(fn=binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(_BuiltinMetric):
    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(fn=categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(_BuiltinMetric):
    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(fn=sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(_BuiltinMetric):
    _config_keys = ("k",)

    def __init__(
        self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype: Any = None
    ) -> None:
        super().__init__(fn=top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


# --- regression and probabilistic ----------------------------------------------------------


class MeanSquaredError(_BuiltinMetric):
    def __init__(self, name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(fn=losses.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(_BuiltinMetric):
    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(fn=losses.mean_absolute_error, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """``sqrt`` of the (weighted) mean of the squared errors."""

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = to_tensor(y_pred, self._dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(losses._like(y_true, y_pred), y_pred)
        with devrt.no_grad():
            error = y_pred - y_true
            super().update_state(error * error, sample_weight=sample_weight)

    def result(self) -> Tensor:
        return super().result().sqrt()


class BinaryCrossentropy(_BuiltinMetric):
    _config_keys = ("from_logits", "label_smoothing")

    def __init__(
        self,
        name: str = "binary_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(
            losses.binary_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
        )


class CategoricalCrossentropy(_BuiltinMetric):
    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        name: str = "categorical_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
    ) -> None:
        super().__init__(
            losses.categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class SparseCategoricalCrossentropy(_BuiltinMetric):
    _config_keys = ("from_logits", "ignore_class", "axis")

    def __init__(
        self,
        name: str = "sparse_categorical_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        ignore_class: int | None = None,
        axis: int = -1,
    ) -> None:
        super().__init__(
            losses.sparse_categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )


# --- confusion-matrix metrics ---------------------------------------------------------------


def _is_evenly_distributed(thresholds: list[float]) -> bool:
    n = len(thresholds)
    if n < 3:
        return False
    eps = backend.epsilon()
    return all(
        abs(t - i / (n - 1)) <= eps + 1e-5 * abs(i / (n - 1)) for i, t in enumerate(thresholds)
    )


def _parse_thresholds(thresholds: Any, default: float) -> list[float]:
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
    for t in values:
        if t is None or not 0 <= t <= 1:
            raise ValueError(f"Threshold values must be in [0, 1]. Received: {values}")
    return [float(t) for t in values]


class _Confusion:
    """The inputs of one confusion-matrix update, prepared as Keras does:
    labels and scores as float vectors, and per-entry weights."""

    def __init__(
        self,
        y_true: Any,
        y_pred: Any,
        sample_weight: Any,
        top_k: int | None = None,
        class_id: int | None = None,
        label_weights: Tensor | None = None,
    ) -> None:
        y_pred = to_tensor(y_pred, "float32")
        y_true = losses._like(y_true, y_pred)
        y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
        if sample_weight is not None:
            sample_weight = losses._like(sample_weight, y_pred).unsqueeze(-1)
            _, sample_weight = squeeze_or_expand_to_same_rank(
                y_true, sample_weight, expand_rank_1=False
            )
        if top_k is not None:
            y_pred = _filter_top_k(y_pred, top_k)
        if class_id is not None:
            if y_pred.ndim == 1:
                raise ValueError(
                    "When class_id is provided, y_pred must be a 2D array with shape "
                    f"(num_samples, num_classes), found shape: {tuple(y_pred.shape)}"
                )
            y_true = y_true[..., class_id, None]
            y_pred = y_pred[..., class_id, None]
        weights = None
        if sample_weight is not None:
            weights = sample_weight.expand(*y_pred.shape).reshape(-1)
        if label_weights is not None:
            lw = label_weights.unsqueeze(0).expand(*y_pred.shape).reshape(-1)
            weights = lw if weights is None else weights * lw
        self.y_true = y_true.reshape(-1)
        self.y_pred = y_pred.reshape(-1)
        self.weights = weights

    def counts(self, thresholds: Tensor, wanted: tuple[str, ...]) -> dict[str, Tensor]:
        """tp/fp/tn/fn per threshold, comparing every score with every
        threshold (``score > threshold`` is positive)."""
        pred_pos = self.y_pred.unsqueeze(0) > thresholds.unsqueeze(1)
        label_pos = self.y_true.bool().unsqueeze(0)
        pairs = {
            "tp": (label_pos, pred_pos),
            "fp": (~label_pos, pred_pos),
            "tn": (~label_pos, ~pred_pos),
            "fn": (label_pos, ~pred_pos),
        }
        out = {}
        for key in wanted:
            label, pred = pairs[key]
            both = label & pred
            if self.weights is None:
                out[key] = both.to(thresholds.dtype).sum(1)
            else:
                out[key] = devrt.where(both, self.weights.unsqueeze(0), 0.0).sum(1)
        return out

    def bucketed_counts(self, num_thresholds: int, with_epsilon: bool) -> dict[str, Tensor]:
        """The same counts for evenly spaced thresholds in one pass: each
        score falls in one bucket, and a reversed running sum gives the
        counts above each threshold."""
        weights = 1.0 if self.weights is None else self.weights
        y_pred = self.y_pred.clamp(0.0, 1.0)
        y_true = self.y_true.bool().to(y_pred.dtype)
        true_labels = y_true * weights
        false_labels = (1.0 - y_true) * weights
        buckets = (y_pred * float(num_thresholds - 1)).ceil() - 1.0
        if with_epsilon:
            buckets = buckets.relu()
        buckets = buckets.long()
        zeros = devrt.zeros(num_thresholds, dtype=y_pred.dtype, device=y_pred.device)
        tp = zeros.scatter_add(0, buckets, true_labels).flip([0]).cumsum(0).flip([0])
        fp = zeros.scatter_add(0, buckets, false_labels).flip([0]).cumsum(0).flip([0])
        return {"tp": tp, "fp": fp, "tn": false_labels.sum() - fp, "fn": true_labels.sum() - tp}


def _filter_top_k(x: Tensor, k: int) -> Tensor:
    indices = devrt.topk(x, k, -1)[1]
    mask = F.one_hot(indices, x.shape[-1]).sum(-2).to(x.dtype)
    return x * mask + NEG_INF * (1.0 - mask)


class _ThresholdMetric(Metric):
    """Precision and Recall: true positives and one other count per threshold."""

    _other = ""

    def __init__(
        self,
        thresholds: Any = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = _parse_thresholds(thresholds, default)
        self._evenly = _is_evenly_distributed(self.thresholds)
        n = len(self.thresholds)
        self.true_positives = self.add_variable((n,), name="true_positives")
        other = {"fp": "false_positives", "fn": "false_negatives"}[self._other]
        setattr(self, other, self.add_variable((n,), name=other))
        self._other_var = getattr(self, other)
        self._threshold_tensor: Tensor | None = None

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        with devrt.no_grad():
            data = _Confusion(y_true, y_pred, sample_weight, self.top_k, self.class_id)
            self._follow(data.y_pred)
            if self._evenly:
                counts = data.bucketed_counts(len(self.thresholds), with_epsilon=False)
            else:
                t = self._threshold_tensor
                if t is None or t.device != data.y_pred.device:
                    t = self._threshold_tensor = devrt.tensor(
                        self.thresholds, dtype=devrt.float32, device=data.y_pred.device
                    )
                counts = data.counts(t, ("tp", self._other))
            self.true_positives.add_(counts["tp"])
            self._other_var.add_(counts[self._other])

    def result(self) -> Tensor:
        tp = self.true_positives.detach()
        result = divide_no_nan(tp, tp + self._other_var.detach())
        return result[0] if len(self.thresholds) == 1 else result

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_ThresholdMetric):
    """``tp / (tp + fp)`` at each of `thresholds` (default 0.5), among the
    `top_k` scores or for class `class_id` when given."""

    _other = "fp"


class Recall(_ThresholdMetric):
    """``tp / (tp + fn)`` at each of `thresholds` (default 0.5)."""

    _other = "fn"


class AUC(Metric):
    """Area under the ROC or PR curve from confusion counts at
    `num_thresholds` thresholds, summed as Keras sums it (interpolation,
    or minoring/majoring)."""

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        dtype: Any = None,
        thresholds: Any = None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights: Any = None,
        from_logits: bool = False,
    ) -> None:
        curves = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
        if str(curve).lower() not in curves:
            raise ValueError(
                f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC", "PRGAIN"]'
            )
        methods = ("interpolation", "majoring", "minoring")
        if str(summation_method).lower() not in methods:
            raise ValueError(
                f'Invalid AUC summation method value: "{summation_method}". '
                'Expected values are ["interpolation", "majoring", "minoring"]'
            )
        if multi_label:
            raise NotImplementedError(
                "[AUC] multi_label=True is not supported by devrt's Keras front end; "
                "use one AUC per label"
            )
        if num_labels:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            inner = sorted(float(t) for t in thresholds)
            self._evenly = _is_evenly_distributed([0.0, *inner, 1.0])
        else:
            if num_thresholds <= 1:
                raise ValueError(
                    "Argument `num_thresholds` must be an integer > 1. "
                    f"Received: num_thresholds={num_thresholds}"
                )
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        eps = backend.epsilon()
        # End points just below 0 and above 1 catch scores of exactly 0 and 1.
        self._thresholds = [0.0 - eps, *inner, 1.0 + eps]
        self.curve = curves[str(curve).lower()]
        self.summation_method = str(summation_method).lower()
        super().__init__(name=name, dtype=dtype)
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = label_weights
        self._label_weights = None if label_weights is None else to_tensor(label_weights, "float32")
        self._from_logits = from_logits
        n = self.num_thresholds
        self.true_positives = self.add_variable((n,), name="true_positives")
        self.false_positives = self.add_variable((n,), name="false_positives")
        self.true_negatives = self.add_variable((n,), name="true_negatives")
        self.false_negatives = self.add_variable((n,), name="false_negatives")
        self._threshold_tensor: Tensor | None = None

    @property
    def thresholds(self) -> list[float]:
        return list(self._thresholds)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        with devrt.no_grad():
            y_pred = to_tensor(y_pred, "float32")
            if self._from_logits:
                y_pred = y_pred.sigmoid()
            label_weights = self._label_weights
            if label_weights is not None and label_weights.device != y_pred.device:
                label_weights = self._label_weights = label_weights.to(y_pred.device)
            data = _Confusion(y_true, y_pred, sample_weight, label_weights=label_weights)
            self._follow(data.y_pred)
            if self._evenly:
                counts = data.bucketed_counts(self.num_thresholds, with_epsilon=True)
            else:
                t = self._threshold_tensor
                if t is None or t.device != data.y_pred.device:
                    t = self._threshold_tensor = devrt.tensor(
                        self._thresholds, dtype=devrt.float32, device=data.y_pred.device
                    )
                counts = data.counts(t, ("tp", "fp", "tn", "fn"))
            self.true_positives.add_(counts["tp"])
            self.false_positives.add_(counts["fp"])
            self.true_negatives.add_(counts["tn"])
            self.false_negatives.add_(counts["fn"])

    def _interpolate_pr_auc(self, tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
        # Davis & Goadrich: precision interpolated along the number of
        # predicted positives between neighbouring thresholds.
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = divide_no_nan(dtp, dp.clamp(min=0.0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = devrt.where(both, divide_no_nan(p[:-1], p[1:].clamp(min=0.0)), 1.0)
        increment = divide_no_nan(
            slope * (dtp + intercept * ratio.log()), (tp[1:] + fn[1:]).clamp(min=0.0)
        )
        return increment.sum()

    def result(self) -> Tensor:
        tp, fp = self.true_positives.detach(), self.false_positives.detach()
        tn, fn = self.true_negatives.detach(), self.false_negatives.detach()
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc(tp, fp, fn)
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, divide_no_nan(tp, tp + fp)
        else:
            scale = divide_no_nan(tp + fn, tn + fp)
            no_tp = tp == 0
            x = devrt.where(no_tp, 0.0, 1.0 - scale * divide_no_nan(fn, tp)).clamp(min=0.0)
            y = devrt.where(no_tp, 1.0, 1.0 - scale * divide_no_nan(fp, tp))
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = devrt.minimum(y[:-1], y[1:])
        else:
            heights = devrt.maximum(y[:-1], y[1:])
        return ((x[:-1] - x[1:]) * heights).sum()

    def get_config(self) -> dict[str, Any]:
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": self.label_weights,
            "from_logits": self._from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


# --- lookup -------------------------------------------------------------------------------

_CLASSES = (
    Metric,
    Mean,
    Sum,
    MeanMetricWrapper,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
    MeanSquaredError,
    MeanAbsoluteError,
    RootMeanSquaredError,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    Precision,
    Recall,
    AUC,
)
_FUNCTIONS = {
    fn.__name__: fn
    for fn in (
        accuracy,
        binary_accuracy,
        categorical_accuracy,
        sparse_categorical_accuracy,
        top_k_categorical_accuracy,
    )
}
ALL_OBJECTS_DICT: dict[str, Any] = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update({backend.to_snake_case(cls.__name__): cls for cls in _CLASSES})
ALL_OBJECTS_DICT.update(
    {
        "acc": Accuracy,
        "bce": BinaryCrossentropy,
        "BCE": BinaryCrossentropy,
        "mse": MeanSquaredError,
        "MSE": MeanSquaredError,
        "mae": MeanAbsoluteError,
        "MAE": MeanAbsoluteError,
        "rmse": RootMeanSquaredError,
    }
)
_BASES = ("Metric", "Mean", "Sum", "MeanMetricWrapper", "metric", "mean_metric_wrapper")


def _unknown(name: Any) -> ValueError:
    known = ", ".join(sorted(k for k in ALL_OBJECTS_DICT if k not in _BASES))
    return ValueError(f"[metrics.get] unknown metric {name!r}; known: {known}")


def serialize(metric: Any) -> dict[str, Any]:
    if isinstance(metric, Metric):
        return losses._serialize_instance(metric, "keras.metrics", ALL_OBJECTS_DICT)
    return losses.serialize(metric)


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Any:
    custom = custom_objects or {}
    if isinstance(config, str):
        obj = custom.get(config) or ALL_OBJECTS_DICT.get(config) or _FUNCTIONS.get(config)
        if obj is None:
            raise _unknown(config)
        return obj
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"[metrics.deserialize] cannot interpret {config!r}")
    if config["class_name"] == "function":
        return _deserialize_fn(config)
    return losses._deserialize_class(config, custom, ALL_OBJECTS_DICT, _unknown)


def get(identifier: Any) -> Any:
    """A metric from a name or alias (``"accuracy"``, ``"acc"``, ``"mae"``,
    ``"auc"``, ``"precision"``, ...), a config dict, a `Metric` or a
    callable; names of classes give an instance."""
    return losses._get(identifier, deserialize, ALL_OBJECTS_DICT, _unknown, "metrics", "metric")


_SPARSE_LOSSES = ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy")


def resolve_accuracy(
    name: str,
    loss: Any = None,
    output_shape: Any = None,
    y_true_shape: Any = None,
) -> Metric:
    """The metric that ``"accuracy"``/``"acc"`` stands for, as Keras'
    compile picks it: binary when the output's last dimension is 1, sparse
    categorical when the labels have a lower rank than the output (or a last
    dimension of 1 against several classes), categorical otherwise. Without
    `y_true_shape`, the labels are taken to have the output's shape, except
    under a sparse crossentropy loss, whose labels lack the class axis."""
    shape = tuple(output_shape) if output_shape is not None else (None, 1)
    if y_true_shape is None:
        sparse_loss = (
            isinstance(loss, losses.SparseCategoricalCrossentropy)
            or loss is losses.sparse_categorical_crossentropy
            or (isinstance(loss, str) and loss in _SPARSE_LOSSES)
        )
        y_true_shape = shape[:-1] if sparse_loss else shape
    y_true_shape = tuple(y_true_shape)
    is_binary = shape[-1] == 1
    is_sparse = len(y_true_shape) < len(shape) or (
        len(y_true_shape) > 0 and y_true_shape[-1] == 1 and (shape[-1] or 0) > 1
    )
    if is_binary:
        return BinaryAccuracy(name=str(name))
    if is_sparse:
        return SparseCategoricalAccuracy(name=str(name))
    return CategoricalAccuracy(name=str(name))
