"""What ``compile`` resolves: the loss of each output (with its weight) and
the metrics of each output, named as Keras names them in the logs."""

from __future__ import annotations

from typing import Any

import devrt
from devrt.keras.keras_tensor import flatten


def _per_output(name: str, spec: Any, output_names: list[str]) -> list:
    """`spec` (one value, a list in output order, or a dict by output name)
    as one entry per output."""
    n = len(output_names)
    if spec is None or (isinstance(spec, (list, tuple, dict)) and not spec):
        return [None] * n
    if isinstance(spec, dict):
        unknown = set(spec) - set(output_names)
        if unknown:
            raise ValueError(
                f"[compile] {name} names unknown outputs {sorted(unknown)}; the model's outputs "
                f"are {output_names}"
            )
        return [spec.get(out) for out in output_names]
    if isinstance(spec, (list, tuple)) and n > 1:
        if len(spec) != n:
            raise ValueError(
                f"[compile] {name} has {len(spec)} entries but the model has {n} outputs "
                f"({output_names})"
            )
        return list(spec)
    return [spec] * n


class CompileLoss:
    """The compiled loss: ``sum(weight_i * loss_i(y_true_i, y_pred_i, sw))``."""

    def __init__(self, loss: Any, loss_weights: Any, output_names: list[str]) -> None:
        from devrt.keras import losses

        self.output_names = output_names
        specs = _per_output("loss", loss, output_names)
        self.losses = [None if s is None else _as_loss(losses, losses.get(s)) for s in specs]
        if all(fn is None for fn in self.losses):
            raise ValueError("[compile] no loss to optimize: pass loss= to compile()")
        weights = _per_output("loss_weights", loss_weights, output_names)
        self.weights = [1.0 if w is None else float(w) for w in weights]
        self.single = len(output_names) == 1
        # Multi-output models log each output's loss too, as "<output>_loss".
        self.totals: dict[str, list[float]] = {}

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any) -> devrt.Tensor:
        if self.single:
            return self.losses[0](y_true, y_pred, sample_weight=sample_weight)
        trues = _structure_per_output("y", y_true, self.output_names)
        preds = _structure_per_output("the model's output", y_pred, self.output_names)
        sws = (
            _structure_per_output("sample_weight", sample_weight, self.output_names)
            if isinstance(sample_weight, (list, tuple, dict))
            else [sample_weight] * len(self.output_names)
        )
        total = None
        for name, fn, w, t, p, sw in zip(
            self.output_names, self.losses, self.weights, trues, preds, sws
        ):
            if fn is None or t is None:
                continue
            value = fn(t, p, sample_weight=sw)
            entry = self.totals.setdefault(f"{name}_loss", [0.0, 0])
            n = int(p.shape[0]) if p.ndim else 1
            entry[0] += value.item() * n
            entry[1] += n
            value = value if w == 1.0 else value * w
            total = value if total is None else total + value
        if total is None:
            raise ValueError("[fit] the targets y name none of the model's outputs with a loss")
        return total

    def pair_function(self) -> Any:
        """The loss of a single-output model as a function of the targets and
        the output, tensors of one shape, dtype and device (see
        ``Loss._pair_function``), or None."""
        from devrt.keras import losses

        fn = self.losses[0]
        if not self.single or not isinstance(fn, losses.Loss):
            return None
        return fn._pair_function()

    def reset_state(self) -> None:
        self.totals.clear()

    def result(self) -> dict[str, float]:
        return {k: total / n for k, (total, n) in self.totals.items() if n}


def _as_loss(losses: Any, fn: Any) -> Any:
    """A per-sample loss function becomes a Loss that weights and reduces."""
    if isinstance(fn, losses.Loss):
        return fn
    return losses.LossFunctionWrapper(fn, name=getattr(fn, "__name__", None))


def _structure_per_output(what: str, value: Any, output_names: list[str]) -> list:
    if isinstance(value, dict):
        return [value.get(name) for name in output_names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(output_names):
            raise ValueError(
                f"[fit] {what} has {len(value)} entries but the model has "
                f"{len(output_names)} outputs ({output_names})"
            )
        return list(value)
    return [value] + [None] * (len(output_names) - 1)


class CompileMetrics:
    """The metrics of each output, built on the first batch (when the output
    shapes that resolve "accuracy" are known)."""

    def __init__(
        self, metrics: Any, weighted_metrics: Any, output_names: list[str], loss: Any
    ) -> None:
        self.specs = _per_output("metrics", metrics, output_names)
        self.weighted_specs = _per_output("weighted_metrics", weighted_metrics, output_names)
        self.output_names = output_names
        self.loss = _per_output("loss", loss, output_names)
        self.built = False
        self.metrics: list = []
        self._entries: list[tuple[int, Any, bool]] = []

    def build(self, y_true: Any, y_pred: Any) -> None:
        from devrt.keras import metrics as metrics_module

        preds = flatten(y_pred)
        single = len(self.output_names) == 1
        for i, name in enumerate(self.output_names):
            for weighted, specs in ((False, self.specs[i]), (True, self.weighted_specs[i])):
                if specs is None:
                    continue
                for spec in specs if isinstance(specs, (list, tuple)) else [specs]:
                    shape = tuple(preds[i].shape) if i < len(preds) else None
                    if isinstance(spec, str) and spec in ("accuracy", "acc"):
                        metric = metrics_module.resolve_accuracy(spec, self.loss[i], shape)
                    else:
                        metric = metrics_module.get(spec)
                        if not hasattr(metric, "update_state"):
                            metric = metrics_module.MeanMetricWrapper(
                                metric, name=getattr(metric, "__name__", str(spec))
                            )
                    if isinstance(spec, str):
                        metric.name = spec  # a metric named by a string logs under it
                    if not single:
                        metric.name = f"{name}_{metric.name}"
                    self.metrics.append(metric)
                    self._entries.append((i, metric, weighted))
        self.built = True

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any) -> None:
        if not self.built:
            self.build(y_true, y_pred)
        if not self._entries:
            return
        single = len(self.output_names) == 1
        trues = [y_true] if single else _structure_per_output("y", y_true, self.output_names)
        preds = (
            [y_pred]
            if single
            else _structure_per_output("the model's output", y_pred, self.output_names)
        )
        for i, metric, weighted in self._entries:
            if trues[i] is None:
                continue
            metric.update_state(trues[i], preds[i], sample_weight if weighted else None)

    def reset_state(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

    def result(self) -> dict[str, float]:
        return {m.name: float(m.result()) for m in self.metrics}
