"""``tf.train`` optimizers: GradientDescent, Momentum, Adam, RMSProp and
Adagrad, with TF1's ``minimize`` / ``compute_gradients`` /
``apply_gradients`` and slot variables.

An update is graph ops only: ``apply_gradients`` builds, for each variable
with a gradient, its write nodes under "<Name>/update_<var>/" (the fused
ApplyGradientDescent and ApplyAdam, which update their variables in place
in one pass, or Assign/AssignSub nodes), and groups them with a NoOp named
like the optimizer ("Adam"), so a training step is one ``Session.run`` of
that op inside the executor. Slot variables
("w/Adam", "w/Adam_1") and non-slot variables ("beta1_power") are
non-trainable Variables in ``GLOBAL_VARIABLES``, so
``global_variables_initializer`` initialises them; create the
initializer after ``minimize``, as in TF.

The update rules are TF1's kernels (ApplyGradientDescent, ApplyMomentum,
ApplyAdam, ApplyRMSProp, ApplyAdagrad). Within a run, every read of a
variable that does not depend on a write sees the value from before the
run (the executor orders writes last), which is what these rules assume.
"""

from __future__ import annotations

from typing import Any

from devrt._composite import optimizers as rules
from devrt._composite.graph import GRAPH
from devrt.graph import conversion
from devrt.graph import framework as fw
from devrt.graph.array_ops import cast
from devrt.graph.constant_ops import constant, zeros
from devrt.graph.control_flow_ops import group
from devrt.graph.framework import GraphKeys
from devrt.graph.gradients import gradients
from devrt.graph.tensor import Operation, Tensor
from devrt.graph.tensor_util import _apply, _t
from devrt.graph.variables import Variable, assign, assign_add, trainable_variables

__all__ = [
    "AdagradOptimizer",
    "AdamOptimizer",
    "GradientDescentOptimizer",
    "MomentumOptimizer",
    "Optimizer",
    "RMSPropOptimizer",
    "create_global_step",
    "get_global_step",
    "get_or_create_global_step",
    "global_step",
]


def _call_if_callable(value: Any) -> Any:
    return value() if callable(value) else value


class Optimizer:
    """``tf.train.Optimizer``: the base class. Subclasses define
    ``_create_slots(var_list)``, ``_prepare()``, ``_apply_dense(grad, var)``
    and optionally ``_finish(update_ops, name)``."""

    GATE_NONE = 0
    GATE_OP = 1
    GATE_GRAPH = 2

    def __init__(self, use_locking: bool, name: str) -> None:
        if not name:
            raise ValueError("[Optimizer] Must specify the optimizer name")
        self._use_locking = use_locking
        self._name = name
        self._slots: dict[str, dict[int, Variable]] = {}
        self._non_slots: dict[tuple[str, int], Variable] = {}

    def get_name(self) -> str:
        return self._name

    # --- the TF1 API -------------------------------------------------------------------

    def minimize(
        self,
        loss: Any,
        global_step: Any = None,
        var_list: Any = None,
        gate_gradients: int = GATE_OP,
        aggregation_method: Any = None,
        colocate_gradients_with_ops: bool = False,
        name: str | None = None,
        grad_loss: Any = None,
    ) -> Operation:
        """``compute_gradients`` then ``apply_gradients``: the training op."""
        grads_and_vars = self.compute_gradients(loss, var_list=var_list, grad_loss=grad_loss)
        if not [v for g, v in grads_and_vars if g is not None]:
            raise ValueError(
                "[Optimizer.minimize] No gradients provided for any variable, check your graph "
                "for ops that do not support gradients, between variables "
                f"{[v.name for _, v in grads_and_vars]} and loss {loss}."
            )
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def compute_gradients(
        self,
        loss: Any,
        var_list: Any = None,
        gate_gradients: int = GATE_OP,
        aggregation_method: Any = None,
        colocate_gradients_with_ops: bool = False,
        grad_loss: Any = None,
    ) -> list[tuple[Tensor | None, Variable]]:
        """[(gradient or None, variable)] for `var_list` (default: the
        trainable variables of the loss's graph)."""
        loss = _t(_call_if_callable(loss), "Optimizer.compute_gradients")
        if var_list is None:
            with loss.graph.as_default():
                var_list = trainable_variables()
        else:
            var_list = list(var_list)
        if not var_list:
            raise ValueError("[Optimizer.compute_gradients] No variables to optimize.")
        for v in var_list:
            if not isinstance(v, Variable):
                raise TypeError(f"[Optimizer.compute_gradients] {v!r} is not a tf.Variable")
        grads = gradients(loss, var_list, grad_ys=None if grad_loss is None else [grad_loss])
        return list(zip(grads, var_list))

    def apply_gradients(
        self, grads_and_vars: Any, global_step: Any = None, name: str | None = None
    ) -> Operation:
        """The op applying each (gradient, variable) update, then (with
        `global_step`) incrementing the step."""
        grads_and_vars = tuple(grads_and_vars)
        if not grads_and_vars:
            raise ValueError("[Optimizer.apply_gradients] No variables provided.")
        for g, v in grads_and_vars:
            if not isinstance(v, Variable):
                raise TypeError(f"[Optimizer.apply_gradients] {v!r} is not a tf.Variable")
            if g is not None and not isinstance(g, Tensor):
                raise TypeError(f"[Optimizer.apply_gradients] gradient {g!r} is not a Tensor")
        var_list = [v for g, v in grads_and_vars if g is not None]
        if not var_list:
            raise ValueError(
                "[Optimizer.apply_gradients] No gradients provided for any variable: "
                f"{[v.name for _, v in grads_and_vars]}."
            )
        graph = var_list[0].graph
        with graph.as_default():
            with fw.init_scope():
                self._create_slots(var_list)
            update_ops = []
            with graph.name_scope(name or self._name) as scope:
                self._prepare()
                for grad, var in grads_and_vars:
                    if grad is None:
                        continue
                    with graph.name_scope("update_" + var.op.name):
                        update_ops.append(self._apply_dense(grad, var))
                if global_step is None:
                    train_op = self._finish(update_ops, scope)
                else:
                    with graph.control_dependencies([self._finish(update_ops, "update")]):
                        train_op = assign_add(global_step, 1, name=scope).op
            train_ops = graph.get_collection_ref(GraphKeys.TRAIN_OP)
            if train_op not in train_ops:
                train_ops.append(train_op)
            return train_op

    def get_slot(self, var: Variable, name: str) -> Variable | None:
        return self._slots.get(name, {}).get(id(var))

    def get_slot_names(self) -> list[str]:
        return sorted(self._slots)

    def variables(self) -> list[Variable]:
        """The optimizer's slot and non-slot variables."""
        out = list(self._non_slots.values())
        for slots in self._slots.values():
            out.extend(slots.values())
        return sorted(out, key=lambda v: v.name)

    # --- for subclasses -------------------------------------------------------------------

    def _create_slots(self, var_list: list[Variable]) -> None:
        pass

    def _prepare(self) -> None:
        pass

    def _apply_dense(self, grad: Tensor, var: Variable) -> Any:
        raise NotImplementedError

    def _finish(self, update_ops: list[Any], name: str) -> Operation:
        return group(*update_ops, name=name)

    def _slot(self, var: Variable, slot_name: str, op_name: str, fill: float = 0.0) -> Variable:
        """The slot `slot_name` of `var`, a Variable "<var>/<op_name>" made at
        the first call and filled with `fill`."""
        slots = self._slots.setdefault(slot_name, {})
        found = slots.get(id(var))
        if found is None:
            shape, dtype = var.shape.as_list(), var.dtype

            def initial():
                return zeros(shape, dtype) if fill == 0.0 else constant(fill, dtype, shape)

            with var.graph.name_scope(None), var.graph.device(var.device or ""):
                found = Variable(initial, trainable=False, name=f"{var.op.name}/{op_name}")
            slots[id(var)] = found
        return found

    def _non_slot(self, name: str, initial_value: float, graph: fw.Graph) -> Variable:
        key = (name, id(graph))
        found = self._non_slots.get(key)
        if found is None:
            with graph.as_default(), graph.name_scope(None):
                found = Variable(initial_value, trainable=False, name=name)
            self._non_slots[key] = found
        return found

    def _hyper(self, value: Any, var: Variable) -> Tensor:
        return cast(value, var.dtype)

    def _tensor(self, value: Any, name: str) -> Tensor:
        value = _call_if_callable(value)
        if isinstance(value, Tensor) or hasattr(value, "_to_tensor"):
            return _t(value, f"{self._name}Optimizer")
        return conversion.convert_to_tensor(value, name=name)


class GradientDescentOptimizer(Optimizer):
    """``tf.train.GradientDescentOptimizer``: var -= lr * grad."""

    def __init__(
        self, learning_rate: Any, use_locking: bool = False, name: str = "GradientDescent"
    ):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate

    def _prepare(self) -> None:
        self._lr = self._tensor(self._learning_rate, "learning_rate")

    def _apply_dense(self, grad: Tensor, var: Variable) -> Any:
        (update,) = rules.sgd(GRAPH, var, grad, self._hyper(self._lr, var), "ApplyGradientDescent")
        return update.op


class MomentumOptimizer(Optimizer):
    """``tf.train.MomentumOptimizer``: accum = momentum * accum + grad;
    var -= lr * accum, or with Nesterov var -= lr * (grad + momentum * accum)."""

    def __init__(
        self,
        learning_rate: Any,
        momentum: Any,
        use_locking: bool = False,
        name: str = "Momentum",
        use_nesterov: bool = False,
    ) -> None:
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._momentum = momentum
        self._use_nesterov = use_nesterov

    def _create_slots(self, var_list):
        for v in var_list:
            self._slot(v, "momentum", self._name)

    def _prepare(self) -> None:
        self._lr = self._tensor(self._learning_rate, "learning_rate")
        self._mom = self._tensor(self._momentum, "momentum")

    def _apply_dense(self, grad, var):
        accum = self.get_slot(var, "momentum")
        lr, mom = self._hyper(self._lr, var), self._hyper(self._mom, var)
        update, _ = rules.momentum(
            GRAPH, var, grad, accum, lr, mom, nesterov=self._use_nesterov, name="ApplyMomentum"
        )
        return update.op


class AdamOptimizer(Optimizer):
    """``tf.train.AdamOptimizer``: with t the step,
    lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t);
    m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
    var -= lr_t m / (sqrt(v) + epsilon). beta1^t and beta2^t are the
    variables "beta1_power" and "beta2_power", multiplied after each step."""

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta1: Any = 0.9,
        beta2: Any = 0.999,
        epsilon: Any = 1e-08,
        use_locking: bool = False,
        name: str = "Adam",
    ) -> None:
        super().__init__(use_locking, name)
        self._lr_value, self._b1, self._b2, self._eps = learning_rate, beta1, beta2, epsilon

    def _create_slots(self, var_list):
        graph = var_list[0].graph
        first = min(var_list, key=lambda v: v.name)
        with graph.device(first.device or ""):
            self._non_slot("beta1_power", _call_if_callable(self._b1), graph)
            self._non_slot("beta2_power", _call_if_callable(self._b2), graph)
        for v in var_list:
            self._slot(v, "m", self._name)
            self._slot(v, "v", self._name + "_1")

    def _get_beta_accumulators(self) -> tuple[Variable, Variable]:
        graph = fw.get_default_graph()
        return self._non_slots[("beta1_power", id(graph))], self._non_slots[
            ("beta2_power", id(graph))
        ]

    def _prepare(self) -> None:
        self._lr = self._tensor(self._lr_value, "learning_rate")
        self._beta1 = self._tensor(self._b1, "beta1")
        self._beta2 = self._tensor(self._b2, "beta2")
        self._epsilon = self._tensor(self._eps, "epsilon")

    def _apply_dense(self, grad, var):
        b1p, b2p = (self._hyper(p.value(), var) for p in self._get_beta_accumulators())
        lr = self._hyper(self._lr, var)
        b1, b2 = self._hyper(self._beta1, var), self._hyper(self._beta2, var)
        eps = self._hyper(self._epsilon, var)
        lr_t, _ = rules.adam_scales(GRAPH, lr, b1p, b2p, epsilon_hat=True)
        written = rules.adam(
            GRAPH,
            var,
            grad,
            self.get_slot(var, "m"),
            self.get_slot(var, "v"),
            beta1=b1,
            beta2=b2,
            eps=eps,
            step_size=lr_t,
            name="ApplyAdam",
        )
        return group(*written)

    def _finish(self, update_ops, name):
        b1p, b2p = self._get_beta_accumulators()
        graph = b1p.graph
        with graph.control_dependencies(update_ops), graph.device(b1p.device or ""):
            u1 = assign(b1p, _apply("Mul", [b1p.value(), cast(self._beta1, b1p.dtype)], {}))
            u2 = assign(b2p, _apply("Mul", [b2p.value(), cast(self._beta2, b2p.dtype)], {}))
        return group(*update_ops, u1, u2, name=name)


class RMSPropOptimizer(Optimizer):
    """``tf.train.RMSPropOptimizer``: ms = decay ms + (1 - decay) g^2 (ms
    starts at ones, as TF1); mom = momentum mom + lr g / sqrt(ms + epsilon);
    var -= mom. `centered` subtracts the squared mean gradient from ms."""

    def __init__(
        self,
        learning_rate: Any,
        decay: Any = 0.9,
        momentum: Any = 0.0,
        epsilon: Any = 1e-10,
        use_locking: bool = False,
        centered: bool = False,
        name: str = "RMSProp",
    ) -> None:
        super().__init__(use_locking, name)
        self._lr_value, self._decay_value = learning_rate, decay
        self._mom_value, self._eps_value = momentum, epsilon
        self._centered = centered

    def _create_slots(self, var_list):
        for v in var_list:
            self._slot(v, "rms", self._name, fill=1.0)
            if self._centered:
                self._slot(v, "mg", self._name + "_1")
            self._slot(v, "momentum", self._name + ("_2" if self._centered else "_1"))

    def _prepare(self) -> None:
        self._lr = self._tensor(self._lr_value, "learning_rate")
        self._decay = self._tensor(self._decay_value, "decay")
        self._mom = self._tensor(self._mom_value, "momentum")
        self._eps = self._tensor(self._eps_value, "epsilon")

    def _apply_dense(self, grad, var):
        written = rules.rmsprop(
            GRAPH,
            var,
            grad,
            self.get_slot(var, "rms"),
            lr=self._hyper(self._lr, var),
            rho=self._hyper(self._decay, var),
            eps=self._hyper(self._eps, var),
            mg=self.get_slot(var, "mg") if self._centered else None,
            mom=self.get_slot(var, "momentum"),
            momentum=self._hyper(self._mom, var),
            eps_inside_sqrt=True,
            name="ApplyRMSProp",
        )
        return group(*written)


class AdagradOptimizer(Optimizer):
    """``tf.train.AdagradOptimizer``: accum += g^2; var -= lr g / sqrt(accum)."""

    def __init__(
        self,
        learning_rate: Any,
        initial_accumulator_value: float = 0.1,
        use_locking: bool = False,
        name: str = "Adagrad",
    ) -> None:
        if initial_accumulator_value <= 0.0:
            raise ValueError("[AdagradOptimizer] initial_accumulator_value must be positive")
        super().__init__(use_locking, name)
        self._lr_value = learning_rate
        self._initial = initial_accumulator_value

    def _create_slots(self, var_list):
        for v in var_list:
            self._slot(v, "accumulator", self._name, fill=self._initial)

    def _prepare(self) -> None:
        self._lr = self._tensor(self._lr_value, "learning_rate")

    def _apply_dense(self, grad, var):
        written = rules.adagrad(
            GRAPH,
            var,
            grad,
            self.get_slot(var, "accumulator"),
            lr=self._hyper(self._lr, var),
            eps_inside_sqrt=True,
            name="ApplyAdagrad",
        )
        return group(*written)


class AdadeltaOptimizer(Optimizer):
    """``tf.train.AdadeltaOptimizer``: accum = rho accum + (1 - rho) g^2;
    update = sqrt(accum_update + epsilon) / sqrt(accum + epsilon) g;
    accum_update = rho accum_update + (1 - rho) update^2; var -= lr update."""

    def __init__(
        self,
        learning_rate: Any = 0.001,
        rho: Any = 0.95,
        epsilon: Any = 1e-8,
        use_locking: bool = False,
        name: str = "Adadelta",
    ) -> None:
        super().__init__(use_locking, name)
        self._lr_value, self._rho_value, self._eps_value = learning_rate, rho, epsilon

    def _create_slots(self, var_list):
        for v in var_list:
            self._slot(v, "accum", self._name)
            self._slot(v, "accum_update", self._name + "_1")

    def _prepare(self) -> None:
        self._lr = self._tensor(self._lr_value, "lr")
        self._rho = self._tensor(self._rho_value, "rho")
        self._eps = self._tensor(self._eps_value, "epsilon")

    def _apply_dense(self, grad, var):
        written = rules.adadelta(
            GRAPH,
            var,
            grad,
            self.get_slot(var, "accum"),
            self.get_slot(var, "accum_update"),
            lr=self._hyper(self._lr, var),
            rho=self._hyper(self._rho, var),
            eps=self._hyper(self._eps, var),
            name="ApplyAdadelta",
        )
        return group(*written)


# --- the global step ---------------------------------------------------------------------


def get_global_step(graph: fw.Graph | None = None) -> Variable | None:
    """``tf.train.get_global_step``: the GLOBAL_STEP variable, or None."""
    g = graph or fw.get_default_graph()
    found = g.get_collection(GraphKeys.GLOBAL_STEP)
    if len(found) > 1:
        raise TypeError("[get_global_step] Multiple tensors in global_step collection.")
    return found[0] if found else None


def create_global_step(graph: fw.Graph | None = None) -> Variable:
    """``tf.train.create_global_step``: an int64 variable "global_step"
    starting at 0, non-trainable, in GLOBAL_STEP; ValueError if one exists."""
    g = graph or fw.get_default_graph()
    if get_global_step(g) is not None:
        raise ValueError('[create_global_step] "global_step" already exists.')
    with g.as_default(), g.name_scope(None), fw.init_scope():
        return Variable(
            lambda: zeros([], "int64"),
            trainable=False,
            name="global_step",
            collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP],
        )


def get_or_create_global_step(graph: fw.Graph | None = None) -> Variable:
    """``tf.train.get_or_create_global_step``."""
    found = get_global_step(graph)
    return found if found is not None else create_global_step(graph)


def global_step(sess: Any, global_step_tensor: Any) -> int:
    """``tf.train.global_step``: the step's value as a Python int."""
    return int(sess.run(global_step_tensor))
