"""The base of Keras-style optimizers: iteration counter, learning rate
(a float, a schedule or a callable), slot variables, gradient clipping,
weight decay, loss scaling, gradient accumulation and Keras' config.

Note: a step is in-place devrt ops under ``devrt.no_grad()`` on whole
tensors. Everything that changes per step (learning rate, bias corrections)
is a 0-d tensor on the variables' device, so a step never waits for the
device; per-step scalars are computed once per step, not per variable, and
each variable's slots are a tuple found by position (built once in
``build``). Subclasses implement ``_update(grads, indices, lr)`` as a loop
over the variables; a user's subclass may instead implement Keras'
``update_step(gradient, variable, learning_rate)``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import devrt
from devrt._composite import optimizers as rules
from devrt._composite.eager import EAGER
from devrt.keras import backend
from devrt.keras.optimizers import schedules
from devrt.keras.variables import Variable

Tensor = devrt.Tensor

# Config keys every optimizer writes, in Keras' order.
_BASE_KEYS = (
    "name",
    "learning_rate",
    "weight_decay",
    "clipnorm",
    "global_clipnorm",
    "clipvalue",
    "use_ema",
    "ema_momentum",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
)


class Optimizer:
    """``keras.optimizers.Optimizer(learning_rate, weight_decay=None,
    clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
    ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
    gradient_accumulation_steps=None, name=None)``.

    Subclasses take their own arguments and pass these common keyword
    arguments on in ``**kwargs``; the ``...`` in their signatures stands
    for them."""

    def __init__(
        self,
        learning_rate: Any,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        cls = type(self).__name__
        if kwargs.pop("decay", None) is not None:
            warnings.warn(
                "Argument `decay` is no longer supported and will be ignored.", stacklevel=3
            )
        if kwargs:
            raise ValueError(f"[{cls}] argument(s) not recognized: {kwargs}")
        if use_ema:
            raise NotImplementedError(
                f"[{cls}] use_ema=True (a moving average of the weights) is not supported by "
                "devrt's Keras front end; leave use_ema=False"
            )
        if gradient_accumulation_steps and not gradient_accumulation_steps >= 2:
            raise ValueError(
                f"[{cls}] `gradient_accumulation_steps` must be an integer >= 2. "
                f"Received: gradient_accumulation_steps={gradient_accumulation_steps}"
            )
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                f"[{cls}] only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}"
            )
        self.name = name or backend.unique_name(backend.to_snake_case(cls))
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.built = False
        self._variables: list[Variable] = []
        self._trainable_variables: list[Variable] = []
        self._index: dict[int, int] = {}
        self._all_indices: list[int] = []
        self._slots: list[tuple] = []
        self._grad_accumulators: list[Variable] = []
        self._decayed: list[int] | None = None
        self._exclude_ids: set[int] = set()
        self._exclude_pattern: re.Pattern | None = None
        self._iterations = self._new_variable(0, "iteration", "int64")
        self._learning_rate: Any = None
        self._set_learning_rate(learning_rate, cls)

    # --- variables ------------------------------------------------------------

    def _new_variable(self, value: Any, name: str, dtype: Any, device: Any = None) -> Variable:
        if not isinstance(value, Tensor):
            device = device or backend.current_device()
            value = devrt.full((), value, dtype=backend.dtype_of(dtype), device=device)
        variable = Variable(value, dtype=dtype, trainable=False, name=name)
        variable.path = f"{self.name}/{name}"
        self._variables.append(variable)
        return variable

    def add_variable(
        self,
        shape: Any,
        initializer: Any = "zeros",
        dtype: Any = None,
        aggregation: str = "none",
        name: str | None = None,
        device: Any = None,
    ) -> Variable:
        """A non-trainable optimizer variable (Keras' ``add_variable``);
        `initializer` is "zeros", "ones", a number or ``fn(shape, dtype)``."""
        shape = tuple(int(d) for d in shape)
        dt = backend.dtype_of(dtype)
        device = device or backend.current_device()
        if isinstance(initializer, str) and initializer in ("zeros", "ones"):
            value = (devrt.zeros if initializer == "zeros" else devrt.ones)(
                shape, dtype=dt, device=device
            )
        elif isinstance(initializer, (int, float)):
            value = devrt.full(shape, float(initializer), dtype=dt, device=device)
        else:
            value = backend.convert_to_tensor(initializer(shape, dtype=dt.name), dtype=dt)
            value = value.to(device) if str(value.device) != str(device) else value
        variable = Variable(value, dtype=dt.name, trainable=False, name=name or "variable")
        variable.path = f"{self.name}/{variable.name}"
        variable.aggregation = aggregation
        self._variables.append(variable)
        return variable

    def add_variable_from_reference(
        self, reference_variable: Any, name: str | None = None, initializer: Any = "zeros"
    ) -> Variable:
        """A variable shaped, typed and placed like `reference_variable`,
        named ``"{reference path with / as _}_{name}"`` as Keras names it."""
        name = name or "var"
        ref = getattr(reference_variable, "path", None)
        if ref is None:
            ref = str(getattr(reference_variable, "name", "variable")).replace(":", "_")
        return self.add_variable(
            reference_variable.shape,
            initializer=initializer,
            dtype=reference_variable.dtype,
            name=f"{ref.replace('/', '_')}_{name}",
            device=reference_variable.device,
        )

    def add_optimizer_variables(
        self, trainable_variables: Sequence[Any], name: Any, initializer: Any = "zeros"
    ) -> Any:
        """One variable per trainable variable for each name in `name`
        (interleaved per variable, the order Keras creates them in); a list,
        or a tuple of lists when `name` is a list."""
        names = [name] if isinstance(name, str) else list(name)
        inits = (
            initializer if isinstance(initializer, (list, tuple)) else [initializer] * len(names)
        )
        out: tuple[list, ...] = tuple([] for _ in names)
        for variable in trainable_variables:
            for i, (slot, init) in enumerate(zip(names, inits)):
                out[i].append(self.add_variable_from_reference(variable, slot, init))
        return out[0] if isinstance(name, str) else out

    @property
    def variables(self) -> list[Variable]:
        """iteration, learning_rate (for a float rate), then the slots, in
        Keras' order (the ``.keras`` file stores them by this index)."""
        return list(self._variables)

    @property
    def iterations(self) -> Tensor:
        if self.gradient_accumulation_steps:
            return self._iterations // self.gradient_accumulation_steps
        return self._iterations

    def build(self, variables: Iterable[Any]) -> None:
        """Records the variables this optimizer updates; subclasses then add
        their slots. Idempotent."""
        if self.built:
            return
        variables = list(variables)
        if variables:
            self._move_to(variables[0].device)
        self._trainable_variables = variables
        self._index = {id(v): i for i, v in enumerate(variables)}
        self._all_indices = list(range(len(variables)))
        self._slots = [() for _ in variables]
        if self.gradient_accumulation_steps:
            self._grad_accumulators = self.add_optimizer_variables(
                variables, "gradient_accumulator"
            )
        self.built = True

    def _move_to(self, device: Any) -> None:
        # The counter and rate were made where the optimizer was created;
        # they must live with the variables they update.
        for variable in self._variables:
            if variable.device != device:
                with devrt.no_grad():
                    variable.data = variable.detach().to(device)

    # --- learning rate ----------------------------------------------------------

    def _set_learning_rate(self, learning_rate: Any, where: str) -> None:
        if isinstance(learning_rate, schedules.LearningRateSchedule) or (
            callable(learning_rate) and not isinstance(learning_rate, Tensor)
        ):
            if isinstance(self._learning_rate, Variable):
                self._variables.remove(self._learning_rate)
            self._learning_rate = learning_rate
            return
        if isinstance(learning_rate, Tensor):
            learning_rate = learning_rate.item()
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)):
            try:
                learning_rate = float(learning_rate)  # NumPy scalars
            except (TypeError, ValueError):
                raise ValueError(
                    f"[{where}] `learning_rate` should be a float, a LearningRateSchedule or "
                    f"a callable. Received instead: learning_rate={learning_rate!r}"
                ) from None
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            raise TypeError(
                f"[{where}] this optimizer was created with a LearningRateSchedule as its "
                "learning rate, so its learning rate is not settable; create it with a "
                "float learning_rate instead"
            )
        if isinstance(self._learning_rate, Variable):
            _assign(self._learning_rate, float(learning_rate))
            return
        variable = self._new_variable(
            float(learning_rate), "learning_rate", backend.floatx(), self._iterations.device
        )
        # The rate sits right after the counter, as in Keras.
        self._variables.remove(variable)
        self._variables.insert(1, variable)
        self._learning_rate = variable

    def _current_learning_rate(self) -> Tensor:
        """The rate of this step, a 0-d tensor on the variables' device."""
        lr = self._learning_rate
        if isinstance(lr, Variable):
            return lr
        if isinstance(lr, schedules.LearningRateSchedule):
            lr = lr(self._iterations)
        else:
            lr = lr()
        if not isinstance(lr, Tensor):
            lr = devrt.full(
                (), float(lr), dtype=backend.dtype_of(None), device=self._iterations.device
            )
        return lr

    @property
    def learning_rate(self) -> float:
        """The current learning rate as a float (settable with a float, a
        schedule or a callable)."""
        return float(self._current_learning_rate().item())

    @learning_rate.setter
    def learning_rate(self, learning_rate: Any) -> None:
        self._set_learning_rate(learning_rate, type(self).__name__)

    # --- applying gradients ---------------------------------------------------------

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Any]]) -> Variable:
        """Applies ``[(gradient, variable), ...]``; returns ``iterations``."""
        pairs = list(grads_and_vars)
        if pairs:
            grads, variables = zip(*pairs)
            self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads: Sequence[Any], trainable_variables: Sequence[Any] | None = None) -> None:
        """Updates `trainable_variables` (default: those the optimizer was
        built with) by `grads`; builds on first use, skips None gradients,
        and advances ``iterations`` by one."""
        if len(grads) == 0:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    f"[{self.name}] when passing `grads` without `variables`, the optimizer must "
                    "already be built: call optimizer.build(trainable_variables) first"
                )
            if len(grads) != len(self._trainable_variables):
                raise ValueError(
                    f"[{self.name}] got {len(grads)} gradients for the "
                    f"{len(self._trainable_variables)} variables the optimizer was built with"
                )
            indices = self._all_indices
        else:
            if not self.built:
                self.build(trainable_variables)
            indices = self._indices_of(trainable_variables)
        self._apply_indexed(grads, indices)

    def _indices_of(self, variables: Sequence[Any]) -> list[int]:
        """The places of `variables` among those the optimizer was built with."""
        index = self._index
        try:
            indices = [index[id(v)] for v in variables]
        except KeyError:
            unknown = next(v for v in variables if id(v) not in index)
            raise ValueError(
                f"[{self.name}] unknown variable {getattr(unknown, 'path', unknown)}: this "
                "optimizer updates only the variables it was built with; create a new "
                "optimizer for new variables"
            ) from None
        return self._all_indices if indices == self._all_indices else indices

    def _apply_indexed(self, grads: Sequence[Any], indices: list[int]) -> None:
        """``apply`` once the variables are known by their places (``fit``
        finds them once, before its first update)."""
        grads, indices = self._filter_gradients(grads, indices)
        with devrt.no_grad():
            if self.loss_scale_factor is not None:
                grads = [g / self.loss_scale_factor for g in grads]
            if self.gradient_accumulation_steps:
                self._accumulate_or_step(grads, indices)
            else:
                self._step(grads, indices)
            self._iterations.add_(1)

    def _filter_gradients(self, grads: Sequence[Any], indices: list[int]) -> tuple[list, list]:
        variables = self._trainable_variables
        kept_grads, kept = [], []
        missing = []
        for g, i in zip(grads, indices):
            if g is None:
                missing.append(i)
                continue
            if not isinstance(g, Tensor):
                var = variables[i]
                g = backend.convert_to_tensor(g, dtype=var.dtype, device=str(var.device))
            kept_grads.append(g)
            kept.append(i)
        if not kept_grads:
            raise ValueError(f"[{self.name}] no gradients provided for any variable")
        if kept == self._all_indices:
            kept = self._all_indices  # lets weight decay use its precomputed list
        if missing:
            names = [getattr(variables[i], "path", str(i)) for i in missing]
            warnings.warn(
                f"Gradients do not exist for variables {names} when minimizing the loss. "
                "If using `model.compile()`, did you forget to provide a `loss` argument?",
                stacklevel=3,
            )
        return kept_grads, kept

    def _step(self, grads: list, indices: list[int]) -> None:
        grads = self._clip_gradients(grads)
        lr = self._current_learning_rate()
        if self.weight_decay is not None:
            self._apply_weight_decay(indices, lr)
        self._update(grads, indices, lr)

    def _accumulate_or_step(self, grads: list, indices: list[int]) -> None:
        # Note: whether this is an update step is decided on the host, so
        # accumulation reads the counter back once per step.
        steps = self.gradient_accumulation_steps
        accumulators = [self._grad_accumulators[i] for i in indices]
        if (int(self._iterations.item()) + 1) % steps == 0:
            self._step([(g + a) / steps for g, a in zip(grads, accumulators)], indices)
            for a in self._grad_accumulators:
                a.zero_()
        else:
            for g, a in zip(grads, accumulators):
                a.add_(g)

    def _clip_gradients(self, grads: list) -> list:
        if self.clipnorm and self.clipnorm > 0:
            c = float(self.clipnorm)
            return [g * c / (g * g).sum().sqrt().clamp(min=c) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            c = float(self.global_clipnorm)
            norm = devrt.stack([(g * g).sum() for g in grads]).sum().sqrt()
            # A non-finite norm makes the scale NaN, as in Keras.
            scale = norm.reciprocal().clamp(max=1.0 / c) * c + (norm - norm)
            return [g * scale for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            v = float(self.clipvalue)
            return [g.clamp(-v, v) for g in grads]
        return grads

    # --- weight decay ------------------------------------------------------------

    def exclude_from_weight_decay(
        self, var_list: Iterable[Any] | None = None, var_names: Iterable[str] | None = None
    ) -> None:
        """Variables (or variables whose name contains one of `var_names`)
        that weight decay skips; call before the optimizer is built."""
        if self.built:
            raise ValueError(
                f"[{self.name}] exclude_from_weight_decay() can only be configured before the "
                "optimizer is built"
            )
        self._exclude_ids = {id(v) for v in var_list or ()}
        names = list(var_names or ())
        self._exclude_pattern = re.compile("|".join(set(names))) if names else None

    def _apply_weight_decay(self, indices: list[int], lr: Tensor) -> None:
        # Keras: variable *= 1 - weight_decay * learning_rate, before the update.
        if self._decayed is None:
            self._decayed = [
                i
                for i, v in enumerate(self._trainable_variables)
                if id(v) not in self._exclude_ids
                and not (self._exclude_pattern and self._exclude_pattern.search(v.name))
            ]
        decayed = self._decayed
        if indices is not self._all_indices:
            chosen = set(indices)
            decayed = [i for i in decayed if i in chosen]
        factor = rules.decoupled_decay_factor(EAGER, lr, float(self.weight_decay))
        variables = self._trainable_variables
        for i in decayed:
            var = variables[i]
            EAGER.assign_mul(var, factor if var.dtype is factor.dtype else factor.to(var.dtype))

    # --- the update -----------------------------------------------------------------

    def _update(self, grads: list, indices: list[int], lr: Tensor) -> None:
        """Updates ``variables[i]`` by ``grads[k]`` for ``i = indices[k]``.
        The default calls Keras' per-variable ``update_step``."""
        variables = self._trainable_variables
        for g, i in zip(grads, indices):
            self.update_step(g, variables[i], lr)

    def update_step(self, gradient: Tensor, variable: Variable, learning_rate: Tensor) -> None:
        raise NotImplementedError(f"[{type(self).__name__}] must implement update_step")

    def _get_variable_index(self, variable: Any) -> int:
        return self._index[id(variable)]

    def assign(self, variable: Variable, value: Any) -> None:
        variable.assign(value)

    def assign_add(self, variable: Variable, value: Any) -> None:
        variable.assign_add(value)

    def assign_sub(self, variable: Variable, value: Any) -> None:
        variable.assign_sub(value)

    @staticmethod
    def _as_dtype(value: Tensor, dtype: devrt.dtype) -> Tensor:
        return value if value.dtype is dtype else value.to(dtype)

    def _local_step(self) -> Tensor:
        """``iterations + 1`` as a float32 0-d tensor (the step number the
        update is about to take, for bias corrections)."""
        return self.iterations.to(devrt.float32) + 1.0

    # --- Keras' other methods ---------------------------------------------------------

    def scale_loss(self, loss: Any) -> Any:
        return loss * self.loss_scale_factor if self.loss_scale_factor is not None else loss

    def finalize_variable_values(self, var_list: Any) -> None:
        """Nothing to finalize without a moving average of the weights."""

    def set_weights(self, weights: Sequence[Any]) -> None:
        if not self.built:
            raise ValueError(
                f"[{self.name}] set_weights() on an optimizer that is not built: call "
                "optimizer.build(trainable_variables) first"
            )
        for variable, weight in zip(self._variables, weights):
            if tuple(variable.shape) != tuple(getattr(weight, "shape", ())):
                raise ValueError(
                    f"[{self.name}] optimizer variable {variable.path} has shape "
                    f"{tuple(variable.shape)}, the weight {tuple(weight.shape)}"
                )
            _assign(variable, weight)

    def get_weights(self) -> list[Any]:
        return [v.numpy() for v in self._variables]

    def save_own_variables(self, store: Any) -> None:
        for i, variable in enumerate(self._variables):
            store[str(i)] = variable.numpy()

    def load_own_variables(self, store: Any) -> None:
        if len(store.keys()) != len(self._variables):
            warnings.warn(
                f"Skipping variable loading for optimizer '{self.name}', because it has "
                f"{len(self._variables)} variables whereas the saved optimizer has "
                f"{len(store.keys())} variables.",
                stacklevel=2,
            )
            return
        for i, variable in enumerate(self._variables):
            _assign(variable, store[str(i)])

    # --- config -----------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            learning_rate: Any = schedules.serialize(lr)
        elif isinstance(lr, Variable):
            learning_rate = float(lr.numpy())
        else:
            learning_rate = {
                "module": getattr(lr, "__module__", "builtins"),
                "class_name": "function",
                "config": getattr(lr, "__name__", repr(lr)),
                "registered_name": "function",
            }
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None
    ) -> Optimizer:
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(
                config["learning_rate"], custom_objects=custom_objects
            )
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def _assign(variable: Variable, value: Any) -> None:
    """``variable.assign(value)``; a 0-d variable (counter, rate) is filled
    from the number, so NumPy scalars and 0-d arrays keep its shape."""
    if variable.ndim == 0:
        if isinstance(value, Tensor):
            value = value.item()
        with devrt.no_grad():
            variable.fill_(backend.convert_to_numpy(value).reshape(()).item())
    else:
        variable.assign(value)
