"""``keras.callbacks``: hooks into ``fit``, ``evaluate`` and ``predict``.

A ``Callback`` overrides the hooks it needs; ``CallbackList`` calls them
all. What a callback reads from the model: ``stop_training`` (a bool the
training loop checks after every batch and epoch), ``optimizer.learning_rate``
(a float, settable), ``get_weights``/``set_weights``, ``save`` and
``save_weights``, ``metrics`` (to tell whether a monitored metric rises or
falls), and ``history`` (set by ``History``).
"""

from __future__ import annotations

import collections
import csv
import importlib.util
import json
import math
import operator
import os
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from devrt.keras.utils.progbar import Progbar, print_msg


def _default(hook: Callable) -> Callable:
    """Marks a `Callback` hook as doing nothing of its own, so `CallbackList`
    can leave it out of the per-batch dispatch."""
    hook._is_default = True  # type: ignore[attr-defined]
    return hook


def _is_default(hook: Any) -> bool:
    return getattr(hook, "_is_default", False)


def _float(value: Any) -> Any:
    """A Python number for a scalar log value (a 0-d array or tensor)."""
    if isinstance(value, (float, int, str)) or value is None:
        return value
    try:
        if getattr(value, "ndim", 0) == 0 or getattr(value, "shape", ()) == ():
            return float(value)
    except (TypeError, ValueError):
        pass
    return value


def _pythonify_logs(logs: dict | None) -> dict:
    """One dict of Python numbers, shared by every callback of one hook call
    (a callback may add entries, e.g. `learning_rate`, that later ones see)."""
    if not logs:
        return {} if logs is None else logs
    return {k: _float(v) for k, v in logs.items()}


class Callback:
    """Base class of callbacks: every hook does nothing.

    Attributes:
        params: the loop's parameters (`verbose`, `epochs`, `steps`).
        model: the model being trained, evaluated or run.
    """

    def __init__(self) -> None:
        self.params: dict | None = None
        self._model: Any = None

    def set_params(self, params: dict) -> None:
        self.params = params

    def set_model(self, model: Any) -> None:
        self._model = model

    @property
    def model(self) -> Any:
        return self._model

    @_default
    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Old name of `on_train_batch_begin`, still called by its default."""

    @_default
    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Old name of `on_train_batch_end`, still called by its default."""

    @_default
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the start of training epoch `epoch` (0-based)."""

    @_default
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the end of training epoch `epoch`. `logs` holds the
        epoch's metrics (`loss`, ...) and, after validation, the `val_` ones."""

    @_default
    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before training batch `batch` (0-based, within the epoch)."""
        self.on_batch_begin(batch, logs=logs)

    @_default
    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after training batch `batch`; `logs` holds the running
        metrics of the epoch so far."""
        self.on_batch_end(batch, logs=logs)

    @_default
    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before a batch of `evaluate` or of validation in `fit`."""

    @_default
    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after a batch of `evaluate` or of validation in `fit`."""

    @_default
    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before a batch of `predict`."""

    @_default
    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after a batch of `predict`; `logs["outputs"]` may hold it."""

    @_default
    def on_train_begin(self, logs: dict | None = None) -> None:
        """Called once at the start of `fit`."""

    @_default
    def on_train_end(self, logs: dict | None = None) -> None:
        """Called once at the end of `fit`, with the last epoch's logs."""

    @_default
    def on_test_begin(self, logs: dict | None = None) -> None:
        """Called at the start of `evaluate` or of validation."""

    @_default
    def on_test_end(self, logs: dict | None = None) -> None:
        """Called at the end of `evaluate` or of validation, with its metrics."""

    @_default
    def on_predict_begin(self, logs: dict | None = None) -> None:
        """Called at the start of `predict`."""

    @_default
    def on_predict_end(self, logs: dict | None = None) -> None:
        """Called at the end of `predict`."""


# Each batch hook of CallbackList -> the callback hooks that decide whether a
# callback takes part (the train hooks' defaults call the old names).
_BATCH_HOOKS = {
    "on_batch_begin": ("on_batch_begin",),
    "on_batch_end": ("on_batch_end",),
    "on_train_batch_begin": ("on_train_batch_begin", "on_batch_begin"),
    "on_train_batch_end": ("on_train_batch_end", "on_batch_end"),
    "on_test_batch_begin": ("on_test_batch_begin",),
    "on_test_batch_end": ("on_test_batch_end",),
    "on_predict_batch_begin": ("on_predict_batch_begin",),
    "on_predict_batch_end": ("on_predict_batch_end",),
}


class CallbackList(Callback):
    """Calls every hook on a list of callbacks.

    Args:
        callbacks: a list (possibly nested) of `Callback`s.
        add_history: append a `History` unless the list has one.
        add_progbar: append a `ProgbarLogger` unless the list has one.
        model: the model, given to every callback (`set_model`).
        **params: given to every callback (`set_params`); the training loop
            passes `verbose`, `epochs` and `steps`.

    Note: batch hooks run every batch, so which callbacks take part in each
    is worked out once, here: a callback whose hook is still `Callback`'s
    (marked `_is_default`) is left out, and with no callback left a batch
    hook loops over an empty tuple. Use `append` (not `.callbacks.append`)
    to add a callback later.
    """

    def __init__(
        self,
        callbacks: Iterable[Callback] | Callback | None = None,
        add_history: bool = False,
        add_progbar: bool = False,
        model: Any = None,
        **params: Any,
    ) -> None:
        super().__init__()
        self.callbacks: list[Callback] = _flatten(callbacks) if callbacks else []
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self._progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self._plan_batch_hooks()
        self.set_model(model)
        self.set_params(params)

    def _plan_batch_hooks(self) -> None:
        for hook, deciders in _BATCH_HOOKS.items():
            takers = tuple(
                getattr(c, hook)
                for c in self.callbacks
                if not all(_is_default(getattr(c, d)) for d in deciders)
            )
            setattr(self, "_" + hook, takers)

    def append(self, callback: Callback) -> None:
        """Adds `callback` (with this list's model and params)."""
        self.callbacks.append(callback)
        if self._model is not None:
            callback.set_model(self._model)
        if self.params:
            callback.set_params(self.params)
        self._plan_batch_hooks()

    def set_params(self, params: dict) -> None:
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model: Any) -> None:
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    # Batch hooks: no log conversion (the loop passes Python floats).
    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        for hook in self._on_batch_begin:
            hook(batch, logs=logs)

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        for hook in self._on_batch_end:
            hook(batch, logs=logs)

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        for hook in self._on_train_batch_begin:
            hook(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        for hook in self._on_train_batch_end:
            hook(batch, logs=logs)

    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        for hook in self._on_test_batch_begin:
            hook(batch, logs=logs)

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        for hook in self._on_test_batch_end:
            hook(batch, logs=logs)

    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        for hook in self._on_predict_batch_begin:
            hook(batch, logs=logs)

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        for hook in self._on_predict_batch_end:
            hook(batch, logs=logs)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        logs = _pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = _pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    def on_train_begin(self, logs: dict | None = None) -> None:
        logs = _pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def on_train_end(self, logs: dict | None = None) -> None:
        logs = _pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_train_end(logs)

    def on_test_begin(self, logs: dict | None = None) -> None:
        logs = _pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_test_begin(logs)

    def on_test_end(self, logs: dict | None = None) -> None:
        logs = _pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_test_end(logs)

    def on_predict_begin(self, logs: dict | None = None) -> None:
        logs = _pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_predict_begin(logs)

    def on_predict_end(self, logs: dict | None = None) -> None:
        logs = _pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_predict_end(logs)


def _flatten(callbacks: Any) -> list:
    if isinstance(callbacks, (list, tuple)):
        return [c for item in callbacks for c in _flatten(item)]
    return [callbacks]


class History(Callback):
    """Records the epoch logs: `history[name]` is a list with one value per
    epoch, `epoch` the epoch numbers. `fit` returns it; `model.history` is it."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epoch = []
        if self.model is not None:
            self.model.history = self

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        self.model.history = self


class ProgbarLogger(Callback):
    """Prints the progress bar (verbose=1) or one line per epoch (verbose=2),
    with `Epoch i/n` above each epoch when there are several. Validation
    inside `fit` draws nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0
        self.progbar: Progbar | None = None
        self.target: int | None = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params: dict) -> None:
        verbose = params["verbose"]
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params["epochs"]
        self.target = params["steps"]

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._called_in_fit = True

    def on_test_begin(self, logs: dict | None = None) -> None:
        if not self._called_in_fit:
            self._reset_progbar()
            self._maybe_init_progbar()

    def on_predict_begin(self, logs: dict | None = None) -> None:
        self._reset_progbar()
        self._maybe_init_progbar()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._reset_progbar()
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            print_msg(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._update_progbar(batch, None)  # the outputs are not metrics

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._finalize_progbar(logs)

    def on_test_end(self, logs: dict | None = None) -> None:
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs: dict | None = None) -> None:
        self._finalize_progbar(logs)

    def _reset_progbar(self) -> None:
        self.seen = 0
        self.progbar = None

    def _maybe_init_progbar(self) -> None:
        if self.progbar is None:
            # Every value is shown as the loop reports it (running means).
            self.progbar = Progbar(
                target=self.target, verbose=self.verbose, unit_name="step", stateless_metrics=set()
            )

    def _update_progbar(self, batch: int, logs: dict | None) -> None:
        if self.progbar is None:
            self._maybe_init_progbar()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, logs, finalize=False)  # type: ignore[union-attr]

    def _finalize_progbar(self, logs: dict | None) -> None:
        if self.progbar is None:
            self._maybe_init_progbar()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.target  # type: ignore[union-attr]
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)  # type: ignore[union-attr]


# Directions of Keras' built-in metrics, for `mode="auto"` when the model's
# metric objects do not say (`_direction` "up" or "down").
_RISING_METRICS = {
    "accuracy", "acc", "binary_accuracy", "categorical_accuracy",
    "sparse_categorical_accuracy", "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy", "auc", "precision", "recall",
    "f1_score", "fbeta_score", "r2_score", "iou", "mean_iou", "one_hot_iou",
    "binary_iou", "cosine_similarity",
}  # fmt: skip
_FALLING_METRICS = {
    "loss", "mae", "mse", "mape", "msle", "rmse", "mean_absolute_error",
    "mean_squared_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "root_mean_squared_error",
    "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "kl_divergence", "poisson", "hinge",
    "squared_hinge", "categorical_hinge", "log_cosh_error", "logcosh",
}  # fmt: skip


def _model_metrics(model: Any) -> list:
    """The metric objects of `model`, containers opened."""
    found: list = []
    pending = list(getattr(model, "metrics", None) or [])
    while pending:
        metric = pending.pop(0)
        inner = getattr(metric, "metrics", None)
        if isinstance(inner, (list, tuple)) and not hasattr(metric, "_direction"):
            pending.extend(inner)
        else:
            found.append(metric)
    return found


class MonitorCallback(Callback):
    """Base of the callbacks that watch one logged quantity (`monitor`) and
    ask whether it improved by more than `min_delta` in direction `mode`
    ("min", "max", or "auto": from the metric)."""

    def __init__(
        self, monitor: str = "val_loss", mode: str = "auto", baseline: float | None = None,
        min_delta: float = 0,
    ) -> None:  # fmt: skip
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(
                f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.",
                stacklevel=2,
            )
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op: Callable | None = None

    def _set_monitor_op(self) -> None:
        if self.mode == "min":
            self.monitor_op = operator.lt
        elif self.mode == "max":
            self.monitor_op = operator.gt
        else:
            name = self.monitor.removeprefix("val_")
            if name == "loss":
                self.monitor_op = operator.lt
            for metric in _model_metrics(self.model):
                direction = getattr(metric, "_direction", None)
                if getattr(metric, "name", None) == name and direction in ("up", "down"):
                    self.monitor_op = operator.gt if direction == "up" else operator.lt
            if self.monitor_op is None and name in _RISING_METRICS:
                self.monitor_op = operator.gt
            elif self.monitor_op is None and name in _FALLING_METRICS:
                self.monitor_op = operator.lt
            if self.monitor_op is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, "
                    "but Keras isn't able to automatically determine whether that "
                    "metric should be maximized or minimized. Pass `mode='max'` in "
                    "order to monitor based on the highest metric value, or pass "
                    "`mode='min'` in order to use the lowest value."
                )
        if self.monitor_op is operator.lt:
            self.min_delta *= -1

    def _is_improvement(self, monitor_value: float, reference_value: float | None) -> bool:
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))  # type: ignore[misc]


class EarlyStopping(MonitorCallback):
    """Stops training when `monitor` has not improved for `patience` epochs.

    Args:
        monitor: the logged quantity to watch.
        min_delta: the least change that counts as an improvement.
        patience: epochs without improvement before stopping.
        verbose: 1 prints when it stops and when it restores weights.
        mode: "auto", "min" or "max".
        baseline: a value the quantity must beat; until it does, epochs
            count against `patience` even when they improve.
        restore_best_weights: at the end of training, put back the weights
            of the best epoch.
        start_from_epoch: epochs to wait before watching at all.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights: list | None = None
        self.best_epoch = 0
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # The first watched epoch's weights, in case none improves.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_msg(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs: dict | None) -> Any:
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(logs)}",
                stacklevel=2,
            )
        return value


class ModelCheckpoint(MonitorCallback):
    """Saves the model (`save`, to a `.keras` file) or its weights
    (`save_weights`, to a `.weights.h5` file) after every epoch or every
    `save_freq` batches.

    `filepath` may hold `{epoch:02d}` and any log key (`{val_loss:.2f}`).
    With `save_best_only`, a file is written only when `monitor` improves
    (from `initial_value_threshold`, if given).
    """

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen: int | None = None
        self._current_epoch = 0
        if save_freq != "epoch" and not isinstance(save_freq, int):
            raise ValueError(
                f"Unrecognized save_freq: {save_freq}. "
                "Expected save_freq are 'epoch' or integer values"
            )
        if save_weights_only:
            if not self.filepath.endswith(".weights.h5"):
                raise ValueError(
                    "When using `save_weights_only=True` in `ModelCheckpoint`, the "
                    "filepath provided must end in `.weights.h5` (Keras weights "
                    f"format). Received: filepath={self.filepath}"
                )
        elif not self.filepath.endswith((".keras", ".h5")):
            raise ValueError(
                "The filepath provided must end in `.keras` (Keras model format). "
                f"Received: filepath={self.filepath}"
            )
        if save_freq == "epoch":
            # Saving per epoch only: back to the default batch hook, which
            # keeps this callback out of CallbackList's per-batch dispatch.
            self.on_train_batch_end = super().on_train_batch_end  # type: ignore[method-assign]

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._current_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save_on_batch(self, batch: int) -> bool:
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1  # a new epoch
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:  # type: ignore[operator]
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch: int, logs: dict | None, filepath: str) -> bool:
        logs = logs or {}
        if not self.save_best_only:
            if self.verbose > 0:
                print_msg(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=3)
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print_msg(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} "
                    f"to {current:.5f}, saving model to {filepath}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    def _save_model(self, epoch: int, batch: int | None, logs: dict | None) -> None:
        filepath = self._get_file_path(epoch, batch, logs or {})
        if os.path.isdir(filepath):
            raise OSError(
                "Please specify a non-directory filepath for ModelCheckpoint. "
                f"Filepath used is an existing directory: {filepath}"
            )
        if not self._should_save_model(epoch, logs, filepath):
            return
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _get_file_path(self, epoch: int, batch: int | None, logs: dict) -> str:
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as error:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: {error}'
            ) from error


def _learning_rate(optimizer: Any) -> float:
    return float(optimizer.learning_rate)


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of every epoch to
    `schedule(epoch, lr)` (or `schedule(epoch)`); logs it as `learning_rate`."""

    def __init__(self, schedule: Callable, verbose: int = 0) -> None:
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:
            learning_rate = self.schedule(epoch, _learning_rate(optimizer))
        except TypeError:  # a schedule of the epoch alone
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.float32, np.float64)):
            raise ValueError(
                f"The output of the `schedule` function should be a float. Got: {learning_rate}"
            )
        optimizer.learning_rate = learning_rate
        if self.verbose > 0:
            print_msg(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                f"{learning_rate}."
            )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = _learning_rate(self.model.optimizer)


class ReduceLROnPlateau(MonitorCallback):
    """Multiplies the learning rate by `factor` (never below `min_lr`) when
    `monitor` has not improved by `min_delta` for `patience` epochs, then
    waits `cooldown` epochs before counting again."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}"
            )
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self) -> None:
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._reset()

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = _learning_rate(optimizer)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                f"which is not available. Available metrics are: {','.join(logs)}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = _learning_rate(optimizer)
                # Compared in float32, the optimizer's precision.
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        print_msg(
                            f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning "
                            f"rate to {new_lr}."
                        )
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class CSVLogger(Callback):
    """Writes one CSV row per epoch: `epoch` and the logs, keys sorted (a
    missing value is `NA`); `append` continues an existing file."""

    def __init__(
        self, filename: str | os.PathLike, separator: str = ",", append: bool = False
    ) -> None:
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer: csv.DictWriter | None = None
        self.keys: list[str] | None = None
        self.append_header = True
        self.csv_file: Any = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode)  # noqa: SIM115 (closed at train end)
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}

        def handle_value(value: Any) -> Any:
            if isinstance(value, str):
                return value
            if isinstance(value, Iterable) and not (
                isinstance(value, np.ndarray) and value.ndim == 0
            ):
                return f'"[{", ".join(map(str, value))}]"'
            return value

        if self.keys is None:
            self.keys = sorted(logs)
            # Without validation in the first epoch, keep room for it.
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend([f"val_{k}" for k in self.keys])
        if self.writer is None:

            class Dialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch"] + self.keys, dialect=Dialect
            )
            if self.append_header:
                self.writer.writeheader()
        row = collections.OrderedDict({"epoch": epoch})
        row.update((key, handle_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class TerminateOnNaN(Callback):
    """Stops training (or, with `raise_error`, raises) when a batch's loss
    is NaN or infinite."""

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if math.isnan(loss) or math.isinf(loss):
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered at batch {batch}. Loss value: "
                    f"{loss}. Terminating training immediately."
                )
            print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions: `on_epoch_begin(epoch, logs)`,
    `on_epoch_end(epoch, logs)`, `on_train_begin(logs)`, `on_train_end(logs)`,
    `on_train_batch_begin(batch, logs)`, `on_train_batch_end(batch, logs)`;
    any other hook by keyword (`on_batch_end=...`)."""

    def __init__(
        self,
        on_epoch_begin: Callable | None = None,
        on_epoch_end: Callable | None = None,
        on_train_begin: Callable | None = None,
        on_train_end: Callable | None = None,
        on_train_batch_begin: Callable | None = None,
        on_train_batch_end: Callable | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.__dict__.update(kwargs)
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
        }
        for name, hook in hooks.items():
            if hook is not None:
                setattr(self, name, hook)


class RemoteMonitor(Callback):
    """POSTs each epoch's logs to `root + path`: as JSON with
    `send_as_json`, else as the form field `field` holding the JSON."""

    def __init__(
        self,
        root: str = "http://localhost:9000",
        path: str = "/publish/epoch/end/",
        field: str = "data",
        headers: dict | None = None,
        send_as_json: bool = False,
    ) -> None:
        super().__init__()
        self.root = root
        self.path = path
        self.field = field
        self.headers = headers
        self.send_as_json = send_as_json

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        send = {"epoch": epoch}
        for k, v in (logs or {}).items():
            send[k] = v.item() if isinstance(v, (np.ndarray, np.generic)) else v
        headers = dict(self.headers or {})
        if self.send_as_json:
            body = json.dumps(send).encode()
            headers.setdefault("Content-Type", "application/json")
        else:
            body = urllib.parse.urlencode({self.field: json.dumps(send)}).encode()
        request = urllib.request.Request(self.root + self.path, data=body, headers=headers)
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except (urllib.error.URLError, OSError):
            warnings.warn(f"Could not reach RemoteMonitor root server at {self.root}", stacklevel=2)


if importlib.util.find_spec("tensorboard") is None:

    class TensorBoard(Callback):
        """Accepted so that Keras programs run; writes nothing. devrt has no
        TensorBoard writer, and the `tensorboard` package that would read
        the logs is not installed."""

        def __init__(self, log_dir: str = "logs", **kwargs: Any) -> None:
            super().__init__()
            self.log_dir = os.fspath(log_dir)
            warnings.warn(
                "[TensorBoard] the tensorboard package is not installed; this "
                "callback writes no logs",
                stacklevel=2,
            )
