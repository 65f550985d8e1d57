"""``tf.Variable``, the variable collections, initializer groups and the
state ops ``tf.assign``/``assign_add``/``assign_sub``.

A Variable is TF1's ref variable built of IR nodes, named as TF names them:

    w          Variable     holds the value, in the session (``w:0``)
    w/Assign   Assign       the initializer: sets w to its initial value
    w/read     Identity     the value that ops using ``w`` read

Values live in the session: a new session holds no value for a variable
until its initializer (or ``Saver.restore``) runs; reading it before is a
``FailedPreconditionError`` (a RuntimeError).

Difference from TensorFlow: ``dtype`` is the plain dtype (no ``_ref``
dtypes), and ``initialized_value()`` is the initial value itself (the IR
has no conditional to test whether the variable is set).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from devrt.graph import conversion, dtypes
from devrt.graph import framework as fw
from devrt.graph.array_ops import _getitem, identity
from devrt.graph.control_flow_ops import group, no_op
from devrt.graph.framework import GraphKeys
from devrt.graph.math_ops import _install_operators
from devrt.graph.tensor import Operation, Tensor
from devrt.graph.tensor_shape import TensorShape

__all__ = [
    "Variable",
    "VariableV1",
    "all_variables",
    "assign",
    "assign_add",
    "assign_sub",
    "global_variables",
    "global_variables_initializer",
    "initialize_all_variables",
    "initialize_local_variables",
    "initialize_variables",
    "local_variables",
    "local_variables_initializer",
    "model_variables",
    "moving_average_variables",
    "trainable_variables",
    "variables_initializer",
]


class Variable:
    """``tf.Variable`` (TF1's RefVariable): a value kept in the session across
    runs. Use it as a tensor (its ``read`` value), fetch it, feed it, and
    update it with ``assign``/``assign_add``/``assign_sub``."""

    # NumPy defers to the reflected operators, as for Tensor.
    __array_ufunc__ = None
    __array_priority__ = 100

    def __init__(
        self,
        initial_value: Any = None,
        trainable: bool | None = None,
        collections: Any = None,
        validate_shape: bool = True,
        caching_device: Any = None,
        name: str | None = None,
        variable_def: Any = None,
        dtype: Any = None,
        expected_shape: Any = None,
        import_scope: Any = None,
        constraint: Any = None,
        use_resource: Any = None,
        synchronization: Any = None,
        aggregation: Any = None,
        shape: Any = None,
    ) -> None:
        if variable_def is not None:
            raise NotImplementedError("[Variable] variable_def is not supported by devrt")
        if initial_value is None:
            raise ValueError("[Variable] initial_value must be specified.")
        trainable = True if trainable is None else bool(trainable)
        from_fn = callable(initial_value)
        g = fw.get_default_graph() if from_fn else fw._graph_of([initial_value])
        if collections is None:
            collections = [GraphKeys.GLOBAL_VARIABLES]
        collections = list(collections)
        if trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections.append(GraphKeys.TRAINABLE_VARIABLES)
        with (
            g.as_default(),
            g._outside_control_flow(),
            g.control_dependencies(None),
            g.name_scope(name or "Variable") as scope,
        ):
            if from_fn:
                with g.name_scope("Initializer"):
                    initial_value = initial_value()
            value = conversion._convert(initial_value, dtype, "initial_value", None, g, "Variable")
            var_shape = value.shape
            if shape is not None:
                var_shape = (
                    TensorShape(shape).merge_with(var_shape)
                    if validate_shape
                    else (TensorShape(shape))
                )
            if not var_shape.is_fully_defined():
                raise ValueError(
                    f"[Variable] the shape of '{scope[:-1]}' must be fully defined, got "
                    f"{var_shape} (from its initial value {value.name})"
                )
            attrs = {"dtype": value.dtype.as_devrt_dtype, "shape": var_shape.as_list()}
            var_op = g._create_op("Variable", [], attrs, scope)
            self._variable = var_op.outputs[0]
            self._initializer_op = g._create_op("Assign", [self._variable, value], {}, "Assign")
            self._snapshot = identity(self._variable, name="read")
        self._initial_value = value
        self._trainable = trainable
        self._constraint = constraint
        g._variables[var_op._id] = self
        g.add_to_collections(collections, self)

    @classmethod
    def _from_graph(
        cls,
        var_op: Operation,
        initializer: Operation | None,
        snapshot: Tensor | None,
        initial_value: Tensor | None,
        trainable: bool,
    ) -> Variable:
        """The Variable for nodes that already exist (an imported graph)."""
        self = cls.__new__(cls)
        self._variable = var_op.outputs[0]
        self._initializer_op = initializer
        self._snapshot = snapshot if snapshot is not None else self._variable
        self._initial_value = initial_value
        self._trainable = trainable
        self._constraint = None
        var_op.graph._variables[var_op._id] = self
        return self

    # --- conversions -----------------------------------------------------------------

    def _to_tensor(self) -> Tensor:
        # Note: the IR has value semantics: a read that does not depend on a
        # write sees the value from before the run. Inside
        # control_dependencies a use of the variable must read it after those
        # ops (as TF1's aliasing ref reads do), so it gets a new read node,
        # which carries the control inputs, instead of the shared snapshot.
        if self.graph._current_control_inputs():
            return identity(self._variable, name="read")
        return self._snapshot

    def _graph_element(self) -> Tensor:
        return self._variable

    def _ref(self) -> Tensor:
        return self._variable

    def value(self) -> Tensor:
        """The tensor that ops using this variable read (``<name>/read``)."""
        return self._snapshot

    def read_value(self) -> Tensor:
        """A new Identity of the variable."""
        return identity(self._variable, name="read")

    def initialized_value(self) -> Tensor:
        """The initial value (see the module docstring for the difference from TF)."""
        return self._initial_value

    # --- properties --------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._variable.name

    @property
    def op(self) -> Operation:
        return self._variable.op

    @property
    def graph(self) -> fw.Graph:
        return self._variable.graph

    @property
    def device(self) -> str:
        return self._variable.device

    @property
    def dtype(self) -> dtypes.DType:
        return self._variable.dtype

    @property
    def shape(self) -> TensorShape:
        return self._variable.shape

    def get_shape(self) -> TensorShape:
        return self.shape

    @property
    def initializer(self) -> Operation:
        return self._initializer_op

    @property
    def initial_value(self) -> Tensor:
        return self._initial_value

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def constraint(self) -> Any:
        return self._constraint

    # --- state -------------------------------------------------------------------------

    def assign(self, value: Any, use_locking: Any = None, name: str | None = None, read_value=True):
        """An Assign node; returns its output (the new value), or the
        Operation with ``read_value=False``."""
        out = assign(self, value, name=name)
        return out if read_value else out.op

    def assign_add(self, delta: Any, use_locking: Any = None, name=None, read_value=True):
        out = assign_add(self, delta, name=name)
        return out if read_value else out.op

    def assign_sub(self, delta: Any, use_locking: Any = None, name=None, read_value=True):
        out = assign_sub(self, delta, name=name)
        return out if read_value else out.op

    def eval(self, session: Any = None) -> np.ndarray:
        """The variable's value in `session` (default: the default session)."""
        from devrt.graph import session as session_mod

        return session_mod._run_with_default(self._variable, None, session, "Variable.eval")

    def load(self, value: Any, session: Any = None) -> None:
        """Sets the variable's value in `session` without running a node."""
        from devrt.graph import session as session_mod

        sess = session or session_mod.get_default_session()
        if sess is None:
            raise ValueError("[Variable.load] no session given and no default session")
        sess._set_variable(self, value, "Variable.load")

    def __iter__(self):
        raise TypeError("[Variable] 'Variable' object is not iterable.")

    def __repr__(self) -> str:
        return f"<tf.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}>"


VariableV1 = Variable
Variable.__getitem__ = _getitem  # type: ignore[attr-defined]
_install_operators(Variable)


# --- state ops -------------------------------------------------------------------------


def _ref_tensor(ref: Any, what: str) -> Tensor:
    if isinstance(ref, Variable):
        return ref._variable
    if isinstance(ref, Tensor) and ref.op.type == "Variable":
        return ref
    raise TypeError(f"[{what}] ref must be a Variable (or its Variable node's output), got {ref!r}")


def _state_op(op_type: str, ref: Any, value: Any, name: str | None, what: str) -> Tensor:
    var = _ref_tensor(ref, what)
    v = conversion._convert(value, var.dtype, None, None, var.graph, what)
    return var.graph._create_op(op_type, [var, v], {}, name or op_type).outputs[0]


def assign(ref: Any, value: Any, validate_shape: Any = None, use_locking: Any = None, name=None):
    """``tf.assign``: sets `ref` to `value`; the output is the new value."""
    return _state_op("Assign", ref, value, name, "assign")


def assign_add(ref: Any, value: Any, use_locking: Any = None, name: str | None = None):
    """``tf.assign_add``: ref += value; the output is the new value."""
    return _state_op("AssignAdd", ref, value, name, "assign_add")


def assign_sub(ref: Any, value: Any, use_locking: Any = None, name: str | None = None):
    """``tf.assign_sub``: ref -= value; the output is the new value."""
    return _state_op("AssignSub", ref, value, name, "assign_sub")


# --- collections and initializers --------------------------------------------------------


def global_variables(scope: str | None = None) -> list[Variable]:
    """``tf.global_variables``."""
    return fw.get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


all_variables = global_variables


def trainable_variables(scope: str | None = None) -> list[Variable]:
    """``tf.trainable_variables``."""
    return fw.get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope: str | None = None) -> list[Variable]:
    """``tf.local_variables``."""
    return fw.get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def model_variables(scope: str | None = None) -> list[Variable]:
    """``tf.model_variables``."""
    return fw.get_collection(GraphKeys.MODEL_VARIABLES, scope)


def moving_average_variables(scope: str | None = None) -> list[Variable]:
    """``tf.moving_average_variables``."""
    return fw.get_collection(GraphKeys.MOVING_AVERAGE_VARIABLES, scope)


def variables_initializer(var_list: Any, name: str = "init") -> Operation:
    """``tf.variables_initializer``: a NoOp running every initializer of `var_list`."""
    inits = [v.initializer for v in var_list if v.initializer is not None]
    if not inits:
        return no_op(name=name)
    return group(*inits, name=name)


initialize_variables = variables_initializer


def global_variables_initializer() -> Operation:
    """``tf.global_variables_initializer``: ``init``, initializing every global variable."""
    return variables_initializer(global_variables())


initialize_all_variables = global_variables_initializer


def local_variables_initializer() -> Operation:
    """``tf.local_variables_initializer``."""
    return variables_initializer(local_variables(), name="init")


initialize_local_variables = local_variables_initializer
