"""The training loop of Keras models: ``compile``, ``fit``, ``evaluate``,
``predict`` and the ``*_on_batch`` calls.

One training step is the model's forward call under ``training=True``,
the compiled loss (plus the layers' regularization and added losses), one
backward pass through devrt's autograd, and one optimizer update. The loss
is tracked as a Python float; metrics accumulate on the device.

Note: this is the hot path of ``fit``. Everything that can be decided once
per ``fit`` (the trainable variables, whether any layer adds losses,
whether any callback watches batches) is decided before the first batch.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

import devrt
from devrt import _C
from devrt.keras import backend
from devrt.keras.keras_tensor import flatten, map_structure
from devrt.keras.layers import layer as layer_module
from devrt.keras.models import data_adapter
from devrt.keras.models.compile_utils import CompileLoss, CompileMetrics
from devrt.keras.optimizers.optimizer import Optimizer


class _MeanTracker:
    """The running loss of an epoch, weighted by batch size.

    A training step's loss stays a tensor on the device until the value is
    read (at the end of the epoch, or when a callback reads a batch's logs):
    reading each one back would make every step wait for the device. The
    pending losses are then read back in one transfer and added on the host
    in step order, so the result is the same as reading each at once."""

    def __init__(self, name: str = "loss") -> None:
        self.name = name
        self.total = 0.0
        self.count = 0
        self._pending: list[devrt.Tensor] = []
        self._sizes: list[int] = []

    def update(self, value: float, n: int) -> None:
        self.total += value * n
        self.count += n

    def update_tensor(self, value: devrt.Tensor, n: int) -> None:
        """Adds a 0-d loss tensor of `n` samples without reading it back."""
        if value.ndim:
            self.update(value.item(), n)  # one value or item's error, at this batch
            return
        self._pending.append(value)
        self._sizes.append(n)
        if len(self._pending) >= _MAX_PENDING:
            self._settle()

    def _settle(self) -> None:
        values = devrt.stack(self._pending).tolist()
        for value, n in zip(values, self._sizes):
            self.total += value * n
            self.count += n
        self._pending.clear()
        self._sizes.clear()

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0
        self._pending.clear()
        self._sizes.clear()

    def result(self) -> float:
        if self._pending:
            self._settle()
        return self.total / self.count if self.count else 0.0


# The most losses a tracker holds on the device before reading them back.
_MAX_PENDING = 512


class _LazyLogs(Mapping):
    """A batch's logs, computed on first read: a progress bar that redraws
    every 50 ms reads them rarely, and then the batch pays nothing for them."""

    def __init__(self, compute: Any) -> None:
        self._compute = compute
        self._logs: dict[str, float] | None = None

    def _get(self) -> dict[str, float]:
        if self._logs is None:
            self._logs = self._compute()
        return self._logs

    def __getitem__(self, key: str) -> float:
        return self._get()[key]

    def __iter__(self) -> Any:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


class _StepPlan:
    """What one ``fit`` (or ``train_on_batch``) decides once for all its
    steps; the rest is decided on the first batch, once the model is built
    and the first output is known."""

    __slots__ = ("indices", "loss", "plain_call", "regularized", "trainable")

    def __init__(self, model: Any) -> None:
        # A model whose `call` sees `training` from the call context (it takes
        # the argument, or no other keywords) is called as layers inside a
        # model are: with no keyword arguments, on the short path.
        self.plain_call = model._call_has_training_arg or not model._call_accepts_kwargs
        self.trainable: list | None = None
        self.regularized = False
        self.indices: list[int] | None = None
        self.loss: Any = None

    def decide(self, model: Any, y: Any, y_pred: Any, sample_weight: Any) -> None:
        """The trainable variables and whether any has a regularizer, their
        places in the optimizer (unless a subclass replaces ``apply``), and
        whether the loss may skip the conversions and checks it made on
        this batch."""
        weights = model.trainable_weights
        self.trainable = trainable = [v for v in weights if v.requires_grad]
        self.regularized = any(getattr(w, "regularizer", None) is not None for w in weights)
        model._check_targets(y, y_pred)
        optimizer = model.optimizer
        if trainable and type(optimizer).apply is Optimizer.apply:
            optimizer.build(trainable)
            self.indices = optimizer._indices_of(trainable)
        compiled = model._compile_loss
        pair = compiled.pair_function() if compiled is not None else None
        if (
            pair is not None
            and sample_weight is None
            and type(y) is devrt.Tensor
            and type(y_pred) is devrt.Tensor
            and y_pred.dtype.name == compiled.losses[0].dtype
            and y.dtype is y_pred.dtype
            and y.device == y_pred.device
        ):
            self.loss = pair


def _batch_size(x: Any) -> int:
    for leaf in flatten(x):
        if leaf is not None:
            return int(leaf.shape[0])
    return 0


class Trainer:
    """The compile/fit/evaluate/predict half of ``keras.Model``."""

    compiled = False
    optimizer: Any = None
    stop_training = False
    history: Any = None

    # --- compile ------------------------------------------------------------

    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        loss_weights: Any = None,
        metrics: Any = None,
        weighted_metrics: Any = None,
        run_eagerly: bool = False,
        steps_per_execution: int = 1,
        jit_compile: Any = "auto",
        auto_scale_loss: bool = True,
    ) -> None:
        from devrt.keras import losses as losses_module
        from devrt.keras import metrics as metrics_module
        from devrt.keras import optimizers

        self.optimizer = optimizers.get(optimizer)
        # Unknown names fail here, listing the known ones, not at the first batch.
        for spec in flatten(loss):
            if isinstance(spec, str):
                losses_module.get(spec)
        for spec in flatten(metrics) + flatten(weighted_metrics):
            if isinstance(spec, str) and spec not in ("accuracy", "acc"):
                metrics_module.get(spec)
        self.loss = loss
        self._loss_spec = loss
        self._loss_weights_spec = loss_weights
        self._metrics_spec = metrics
        self._weighted_metrics_spec = weighted_metrics
        self._compile_loss = None
        self._compile_metrics = None
        self._loss_tracker = _MeanTracker("loss")
        self.run_eagerly = run_eagerly
        self.steps_per_execution = steps_per_execution
        self.jit_compile = False
        self.compiled = True
        self._compile_config = {
            "optimizer": optimizers.serialize(self.optimizer),
            "loss": _serialize_spec(loss),
            "loss_weights": loss_weights,
            "metrics": _serialize_spec(metrics),
            "weighted_metrics": _serialize_spec(weighted_metrics),
            "run_eagerly": run_eagerly,
            "steps_per_execution": steps_per_execution,
            "jit_compile": False,
        }

    def get_compile_config(self) -> dict | None:
        return getattr(self, "_compile_config", None) if self.compiled else None

    def compile_from_config(self, config: dict) -> None:
        from devrt.keras import losses, metrics, optimizers

        config = dict(config)
        config["optimizer"] = (
            optimizers.deserialize(config["optimizer"])
            if isinstance(config.get("optimizer"), dict)
            else config.get("optimizer", "rmsprop")
        )
        for key, module in (("loss", losses), ("metrics", metrics), ("weighted_metrics", metrics)):
            config[key] = _deserialize_spec(config.get(key), module)
        self.compile(**{k: v for k, v in config.items() if k != "jit_compile"})
        if self.built and self.optimizer is not None:
            self.optimizer.build(self.trainable_variables)

    def _require_compiled(self, op: str) -> None:
        if not self.compiled:
            raise RuntimeError(
                f"[{op}] You must call `compile()` before using the model: "
                "model.compile(optimizer=..., loss=...)"
            )

    def _output_names(self) -> list[str]:
        names = getattr(self, "output_names", None)
        return list(names) if names else ["output"]

    def _ensure_compiled_objects(self) -> None:
        if self._compile_loss is None and self._loss_spec is not None:
            self._compile_loss = CompileLoss(
                self._loss_spec, self._loss_weights_spec, self._output_names()
            )
        if self._compile_metrics is None:
            self._compile_metrics = CompileMetrics(
                self._metrics_spec,
                self._weighted_metrics_spec,
                self._output_names(),
                self._loss_spec,
            )

    @property
    def metrics(self) -> list:
        out: list = []
        if self.compiled:
            out.append(self._loss_tracker)
            if self._compile_metrics is not None:
                out.extend(self._compile_metrics.metrics)
        return out

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    # --- one step ------------------------------------------------------------

    def compute_loss(
        self,
        x: Any = None,
        y: Any = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> devrt.Tensor:
        """The compiled loss of a batch plus the model's own losses
        (``add_loss`` and weight regularization)."""
        total = None
        if self._compile_loss is not None and y is not None:
            total = self._compile_loss(y, y_pred, sample_weight)
        extra = self.losses
        if extra:
            penalty = extra[0]
            for term in extra[1:]:
                penalty = penalty + term
            total = penalty if total is None else total + penalty
        if total is None:
            raise ValueError(
                "[fit] no loss to optimize: compile() was given no loss and the model adds none"
            )
        return total

    def _prepare_step_state(self) -> None:
        self._step_plan = _StepPlan(self)

    def _train_step(self, x: Any, y: Any, sample_weight: Any) -> devrt.Tensor:
        """One step; returns the loss, a 0-d tensor."""
        plan = self._step_plan
        training = layer_module._TRAINING
        training.append(True)
        try:
            if layer_module._LOSS_HOLDERS:
                self._clear_losses()
            if plan.plain_call and isinstance(x, devrt.Tensor) and self.built:
                y_pred = self(x)
            else:
                y_pred = self(x, training=True)
        finally:
            training.pop()
        if self._compile_metrics is None or self._compile_loss is None:
            self._ensure_compiled_objects()
        if plan.trainable is None:
            plan.decide(self, y, y_pred, sample_weight)
        trainable = plan.trainable
        if plan.regularized or layer_module._LOSS_HOLDERS or y is None:
            loss = self.compute_loss(x, y, y_pred, sample_weight)
        elif (
            plan.loss is not None
            and sample_weight is None
            and type(y) is devrt.Tensor
            and type(y_pred) is devrt.Tensor
            and y.shape == y_pred.shape
        ):
            loss = plan.loss(y, y_pred)
        else:
            loss = self._compile_loss(y, y_pred, sample_weight)
        if not trainable:
            raise ValueError("[fit] the model has no trainable weights: nothing to train")
        # The gradients alone, not accumulated into `.grad` (which would then
        # have to be cleared again).
        grads = _C._grad([loss], trainable, [None], False, True, False)
        if plan.indices is not None:
            self.optimizer._apply_indexed(grads, plan.indices)
        else:
            self.optimizer.apply(list(grads), trainable)
        metrics = self._compile_metrics
        if metrics._entries or not metrics.built:
            with devrt.no_grad():
                metrics.update_state(
                    y,
                    y_pred.detach() if isinstance(y_pred, devrt.Tensor) else y_pred,
                    sample_weight,
                )
        return loss.detach()

    def _test_step(self, x: Any, y: Any, sample_weight: Any) -> devrt.Tensor | None:
        """One evaluation step; returns the loss (a 0-d tensor) or None."""
        with devrt.no_grad():
            y_pred = self(x, training=False)
            self._ensure_compiled_objects()
            loss = (
                self.compute_loss(x, y, y_pred, sample_weight)
                if (y is not None or self.losses)
                else None
            )
            self._compile_metrics.update_state(y, y_pred, sample_weight)
        return loss

    def _check_targets(self, y: Any, y_pred: Any) -> None:
        """Clear errors for targets that cannot fit the outputs, before the
        loss reports them in its own terms."""
        if isinstance(y, devrt.Tensor) and isinstance(y_pred, devrt.Tensor):
            if y.shape[0] != y_pred.shape[0]:
                raise ValueError(
                    f"[fit] the targets have {y.shape[0]} samples in a batch but the model "
                    f"produced {y_pred.shape[0]}"
                )

    # --- fit ----------------------------------------------------------------

    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: Any = "auto",
        callbacks: Any = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: Any = True,
        class_weight: dict | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
        validation_freq: int = 1,
    ) -> Any:

        self._require_compiled("fit")
        if x is None:
            raise ValueError("[fit] x is required")
        data = data_adapter.adapter_for(
            x, y, sample_weight, batch_size, steps_per_epoch, shuffle, class_weight, op="fit"
        )
        val_data = None
        if validation_split:
            if not isinstance(data, data_adapter.ArrayAdapter):
                raise ValueError(
                    "[fit] validation_split is only supported for arrays and tensors, "
                    f"not {type(x).__name__}; pass validation_data instead"
                )
            data, val_arrays = data.split(validation_split)
            val_data = data_adapter.ArrayAdapter(
                *val_arrays,
                batch_size=validation_batch_size or data.batch_size,
                device=data.device,
                op="fit",
            )
        elif validation_data is not None:
            val_data = self._validation_adapter(
                validation_data, validation_batch_size or batch_size, validation_steps
            )
        cbs = self._callback_list(callbacks, data, verbose, epochs=epochs, add_history=True)
        self.stop_training = False
        self._prepare_step_state()
        tracker = self._loss_tracker
        cbs.on_train_begin()
        logs: dict[str, float] = {}
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            cbs.on_epoch_begin(epoch)
            # Batch hooks nobody overrides cost nothing, not even the logs.
            begin_hooks = cbs._on_train_batch_begin
            end_hooks = cbs._on_train_batch_end
            step = -1
            for step, (bx, by, bsw) in enumerate(data.epoch()):
                if begin_hooks:
                    cbs.on_train_batch_begin(step)
                loss = self._train_step(bx, by, bsw)
                tracker.update_tensor(
                    loss, bx.shape[0] if type(bx) is devrt.Tensor else _batch_size(bx)
                )
                if end_hooks:
                    cbs.on_train_batch_end(step, _LazyLogs(self._logs))
                if self.stop_training:
                    break
            if step < 0:
                if epoch == initial_epoch:
                    raise ValueError("[fit] the input data produced no batches")
                # A generator that is spent: Keras warns and stops, as here.
                warnings.warn(
                    "Your input ran out of data; interrupting training. Make sure that your "
                    "dataset or generator can generate at least `steps_per_epoch * epochs` "
                    f"batches. You may need to use the `.repeat()` function when building your "
                    f"dataset. (epoch {epoch + 1} of {epochs} had no batch)",
                    stacklevel=2,
                )
                break
            logs = self._logs()
            if val_data is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._run_evaluation(val_data, cbs_for_test=None)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return self.history

    def _callback_list(
        self, callbacks: Any, data: Any, verbose: Any, epochs: int = 1, add_history: bool = False
    ) -> Any:
        """The callbacks of one fit, evaluate or predict, with Keras' progress
        bar unless `verbose` is 0; `steps` is unknown for a generator."""
        from devrt.keras import callbacks as callbacks_module

        verbose = 1 if verbose == "auto" else int(verbose)
        return callbacks_module.CallbackList(
            callbacks,
            add_history=add_history,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=epochs,
            steps=getattr(data, "steps", None),
        )

    def _validation_adapter(
        self, validation_data: Any, batch_size: int | None, steps: int | None
    ) -> Any:
        if (
            isinstance(validation_data, (list, tuple))
            and len(validation_data) in (2, 3)
            and data_adapter._is_array_structure(validation_data[0])
        ):
            vx, vy = validation_data[0], validation_data[1]
            vsw = validation_data[2] if len(validation_data) == 3 else None
            return data_adapter.adapter_for(vx, vy, vsw, batch_size, steps, False, op="evaluate")
        return data_adapter.adapter_for(
            validation_data, batch_size=batch_size, steps=steps, op="evaluate"
        )

    def _logs(self) -> dict[str, float]:
        """The running values, keys sorted as Keras logs them."""
        logs = {"loss": self._loss_tracker.result()}
        if self._compile_metrics is not None and self._compile_metrics.metrics:
            logs.update(self._compile_metrics.result())
        if self._compile_loss is not None and self._compile_loss.totals:
            logs.update(self._compile_loss.result())
        return dict(sorted(logs.items()))

    def _reset_metrics(self) -> None:
        self._loss_tracker.reset_state()
        if self._compile_metrics is not None:
            self._compile_metrics.reset_state()
        if self._compile_loss is not None:
            self._compile_loss.reset_state()

    def _values(self, logs: dict[str, float]) -> Any:
        """evaluate's list: the loss, then the metrics in compile order."""
        values = [logs["loss"]]
        if self._compile_loss is not None:
            values += [logs[k] for k in self._compile_loss.result()]
        if self._compile_metrics is not None:
            values += [logs[m.name] for m in self._compile_metrics.metrics if m.name in logs]
        return values[0] if len(values) == 1 else values

    # --- evaluate and predict --------------------------------------------------

    def _run_evaluation(self, data: Any, cbs_for_test: Any) -> dict[str, float]:
        tracker = _MeanTracker("loss")
        saved = self._loss_tracker
        self._loss_tracker = tracker
        try:
            self._reset_metrics()
            if cbs_for_test is not None:
                cbs_for_test.on_test_begin()
            for step, (bx, by, bsw) in enumerate(data.epoch()):
                if cbs_for_test is not None:
                    cbs_for_test.on_test_batch_begin(step)
                loss = self._test_step(bx, by, bsw)
                if loss is None:
                    tracker.update(float("nan"), _batch_size(bx))
                else:
                    tracker.update_tensor(loss, _batch_size(bx))
                if cbs_for_test is not None:
                    cbs_for_test.on_test_batch_end(step, self._logs())
            logs = self._logs()
            if cbs_for_test is not None:
                cbs_for_test.on_test_end(logs)
            return logs
        finally:
            self._loss_tracker = saved

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: Any = "auto",
        sample_weight: Any = None,
        steps: int | None = None,
        callbacks: Any = None,
        return_dict: bool = False,
        **kwargs: Any,
    ) -> Any:

        self._require_compiled("evaluate")
        if kwargs:
            raise ValueError(f"[evaluate] unrecognized arguments: {sorted(kwargs)}")
        data = data_adapter.adapter_for(
            x, y, sample_weight, batch_size, steps, False, op="evaluate"
        )
        cbs = self._callback_list(callbacks, data, verbose)
        logs = self._run_evaluation(data, cbs)
        return logs if return_dict else self._values(logs)

    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: Any = "auto",
        steps: int | None = None,
        callbacks: Any = None,
    ) -> Any:

        data = data_adapter.adapter_for(x, None, None, batch_size, steps, False, op="predict")
        cbs = self._callback_list(callbacks, data, verbose)
        cbs.on_predict_begin()
        outputs: list = []
        with devrt.no_grad():
            for step, (bx, _, _) in enumerate(data.epoch()):
                cbs.on_predict_batch_begin(step)
                out = self(bx, training=False)
                outputs.append(map_structure(backend.convert_to_numpy, out))
                cbs.on_predict_batch_end(step, {"outputs": out})
        cbs.on_predict_end()
        if not outputs:
            raise ValueError("[predict] the input data produced no batches")
        return _concat_structures(outputs)

    # --- single batches -----------------------------------------------------------

    def train_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        class_weight: dict | None = None,
        return_dict: bool = False,
    ) -> Any:
        self._require_compiled("train_on_batch")
        data = data_adapter.ArrayAdapter(
            x,
            y,
            sample_weight,
            batch_size=1 << 62,
            class_weight=class_weight,
            device=backend.current_device(),
            op="train_on_batch",
        )
        self._prepare_step_state()
        bx, by, bsw = next(data.epoch())
        self._reset_metrics()
        loss = self._train_step(bx, by, bsw)
        self._loss_tracker.update_tensor(loss, _batch_size(bx))
        return self._single_batch_result(return_dict)

    def test_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> Any:
        self._require_compiled("test_on_batch")
        data = data_adapter.ArrayAdapter(
            x,
            y,
            sample_weight,
            batch_size=1 << 62,
            device=backend.current_device(),
            op="test_on_batch",
        )
        logs = self._run_evaluation(data, None)
        return logs if return_dict else self._values(logs)

    def predict_on_batch(self, x: Any) -> Any:
        with devrt.no_grad():
            out = self(data_adapter._to_device(x, backend.current_device()), training=False)
        return map_structure(backend.convert_to_numpy, out)

    def _single_batch_result(self, return_dict: bool) -> Any:
        logs = self._logs()
        return logs if return_dict else self._values(logs)


def _concat_structures(batches: list) -> Any:
    first = batches[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(batches, axis=0)
    if isinstance(first, (list, tuple)):
        return type(first)(_concat_structures([b[i] for b in batches]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _concat_structures([b[k] for b in batches]) for k in first}
    return batches


def _serialize_spec(spec: Any) -> Any:
    from devrt.keras import serialization

    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, (list, tuple)):
        return [_serialize_spec(s) for s in spec]
    if isinstance(spec, dict):
        return {k: _serialize_spec(v) for k, v in spec.items()}
    return serialization.serialize_keras_object(spec)


def _deserialize_spec(spec: Any, module: Any) -> Any:
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, list):
        return [_deserialize_spec(s, module) for s in spec]
    if isinstance(spec, dict) and "class_name" in spec:
        return module.deserialize(spec)
    if isinstance(spec, dict):
        return {k: _deserialize_spec(v, module) for k, v in spec.items()}
    return spec
