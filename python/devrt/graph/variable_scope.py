"""``tf.variable_scope`` and ``tf.get_variable``: variables named by scope
and shared by name.

Each graph keeps a store of the variables that ``get_variable`` created,
keyed by their full names ("layer1/weights"). A scope prefixes those names,
carries the reuse mode (None, True or ``tf.AUTO_REUSE``; a sub-scope
inherits it, and ``reuse=False`` inherits too, as TF1) and default
initializer, regularizer and dtype, and opens a name scope for the ops
built inside. As in TF, variable names depend only on variable scopes, so
re-entering a scope reuses its variable names while its ops get a new
name scope ("layer1_1/MatMul").

Difference from TensorFlow: partitioners and custom getters are not
supported.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

from devrt.graph import dtypes, init_ops
from devrt.graph import framework as fw
from devrt.graph.framework import GraphKeys
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_shape import TensorShape
from devrt.graph.variables import Variable

__all__ = [
    "AUTO_REUSE",
    "VariableScope",
    "get_variable",
    "get_variable_scope",
    "variable_scope",
]


class _ReuseMode:
    def __repr__(self) -> str:
        return "tf.AUTO_REUSE"


AUTO_REUSE = _ReuseMode()


class VariableScope:
    """``tf.VariableScope``: a name prefix for variables and their defaults."""

    def __init__(
        self,
        reuse: Any,
        name: str = "",
        initializer: Any = None,
        regularizer: Any = None,
        caching_device: Any = None,
        partitioner: Any = None,
        custom_getter: Any = None,
        name_scope: str = "",
        dtype: Any = dtypes.float32,
        use_resource: Any = None,
        constraint: Any = None,
    ) -> None:
        self._name = name
        self._reuse = reuse
        self._initializer = initializer
        self._regularizer = regularizer
        self._dtype = dtype
        self._name_scope = name_scope
        self._constraint = constraint

    @property
    def name(self) -> str:
        return self._name

    @property
    def original_name_scope(self) -> str:
        return self._name_scope

    @property
    def reuse(self) -> Any:
        return self._reuse

    @property
    def initializer(self) -> Any:
        return self._initializer

    @property
    def regularizer(self) -> Any:
        return self._regularizer

    @property
    def dtype(self) -> Any:
        return self._dtype

    @property
    def constraint(self) -> Any:
        return self._constraint

    def reuse_variables(self) -> None:
        self._reuse = True

    def set_initializer(self, initializer: Any) -> None:
        self._initializer = initializer

    def set_regularizer(self, regularizer: Any) -> None:
        self._regularizer = regularizer

    def set_dtype(self, dtype: Any) -> None:
        self._dtype = dtype

    def get_variable(self, var_store: Any, name: str, *args: Any, **kwargs: Any) -> Variable:
        with _scope_stack(fw.get_default_graph(), self):
            return get_variable(name, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<tf.VariableScope '{self._name}' reuse={self._reuse}>"


def _stack(g: fw.Graph) -> list[VariableScope]:
    if not g._var_scope_stack:
        g._var_scope_stack.append(VariableScope(reuse=False))
    return g._var_scope_stack


def _full_name(scope: VariableScope, name: str) -> str:
    """`name` under `scope`: "<scope>/<name>", or `name` in the root scope."""
    return f"{scope.name}/{name}" if scope.name else name


def get_variable_scope() -> VariableScope:
    """``tf.get_variable_scope``: the current variable scope."""
    return _stack(fw.get_default_graph())[-1]


@contextlib.contextmanager
def _scope_stack(g: fw.Graph, scope: VariableScope) -> Iterator[VariableScope]:
    stack = _stack(g)
    stack.append(scope)
    try:
        yield scope
    finally:
        stack.pop()


@contextlib.contextmanager
def variable_scope(
    name_or_scope: Any,
    default_name: str | None = None,
    values: Any = None,
    initializer: Any = None,
    regularizer: Any = None,
    caching_device: Any = None,
    partitioner: Any = None,
    custom_getter: Any = None,
    reuse: Any = None,
    dtype: Any = None,
    use_resource: Any = None,
    constraint: Any = None,
    auxiliary_name_scope: bool = True,
) -> Iterator[VariableScope]:
    """``tf.variable_scope``: a scope named `name_or_scope` (a string or a
    VariableScope to re-enter), or a unique `default_name` when that is None."""
    if partitioner is not None or custom_getter is not None:
        raise NotImplementedError(
            "[variable_scope] partitioners and custom getters are not supported"
        )
    if name_or_scope is None and default_name is None:
        raise TypeError("[variable_scope] if default_name is None then name_or_scope is required")
    g = fw._graph_of(values or [])
    parent = _stack(g)[-1]
    if isinstance(name_or_scope, VariableScope):
        full = name_or_scope.name
        base = name_or_scope
        name_scope_name = name_or_scope.original_name_scope or None
    else:
        if name_or_scope is None:
            full = _unique_scope(g, parent, default_name)
            local = full.rsplit("/", 1)[-1]
        else:
            local = str(name_or_scope)
            full = _full_name(parent, local)
        base = parent
        name_scope_name = local
    # reuse=False (or None) inherits: TF1 cannot turn reuse off in a sub-scope.
    new_reuse = reuse or (base.reuse if base is not parent else False) or parent.reuse
    g._var_scope_counts[full] = g._var_scope_counts.get(full, 0) + 1
    # On leaving, the unique names of the sub-scopes start again (as in TF),
    # so that re-entering a scope with reuse finds "conv2d", not "conv2d_2";
    # re-entering a VariableScope object restores the counts it found.
    counts_before = dict(g._var_scope_counts)
    with contextlib.ExitStack() as stack:
        stack.callback(_close_subscopes, g, full, name_or_scope, counts_before)
        stack.enter_context(g.as_default())
        if auxiliary_name_scope:
            ns = stack.enter_context(g.name_scope(name_scope_name))
        else:
            ns = g.get_name_scope() + "/" if g.get_name_scope() else ""
        scope = VariableScope(
            reuse=new_reuse,
            name=full,
            initializer=initializer if initializer is not None else base.initializer,
            regularizer=regularizer if regularizer is not None else base.regularizer,
            name_scope=ns,
            dtype=dtype if dtype is not None else base.dtype,
            constraint=constraint if constraint is not None else base.constraint,
        )
        stack.enter_context(_scope_stack(g, scope))
        yield scope


def _close_subscopes(g: fw.Graph, full: str, name_or_scope: Any, counts_before: dict) -> None:
    if isinstance(name_or_scope, VariableScope):
        g._var_scope_counts = counts_before
        return
    for key in g._var_scope_counts:
        if key.startswith(full + "/"):
            g._var_scope_counts[key] = 0


def _unique_scope(g: fw.Graph, parent: VariableScope, default_name: str) -> str:
    """`default_name` under `parent`, suffixed "_<n>" for the n-th use, as TF."""
    full = _full_name(parent, default_name)
    if not g._var_scope_counts.get(full, 0):
        return full
    i = 1
    while g._var_scope_counts.get(f"{full}_{i}", 0):
        i += 1
    return f"{full}_{i}"


def _accepts_partition_info(fn: Any) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True
    return "partition_info" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def get_variable(
    name: str,
    shape: Any = None,
    dtype: Any = None,
    initializer: Any = None,
    regularizer: Any = None,
    trainable: bool | None = None,
    collections: Any = None,
    caching_device: Any = None,
    partitioner: Any = None,
    validate_shape: bool = True,
    use_resource: Any = None,
    custom_getter: Any = None,
    constraint: Any = None,
    synchronization: Any = None,
    aggregation: Any = None,
) -> Variable:
    """``tf.get_variable``: the variable "<scope>/<name>", created unless it
    exists. Sharing needs ``reuse=True`` (it must exist) or
    ``tf.AUTO_REUSE``. The default initializer is the scope's, else
    glorot_uniform for floating-point dtypes and zeros otherwise, as TF."""
    if partitioner is not None or custom_getter is not None:
        raise NotImplementedError(
            "[get_variable] partitioners and custom getters are not supported"
        )
    g = fw.get_default_graph()
    scope = get_variable_scope()
    full = _full_name(scope, name)
    shape = None if shape is None else TensorShape(shape)
    found = g._var_store.get(full)
    if found is not None:
        if scope.reuse is False or scope.reuse is None:
            raise ValueError(
                f"[get_variable] Variable {full} already exists, disallowed. Did you mean to set "
                "reuse=True or reuse=tf.AUTO_REUSE in VarScope?"
            )
        if shape is not None and not shape.is_compatible_with(found.shape):
            raise ValueError(
                f"[get_variable] Trying to share variable {full}, but specified shape {shape} "
                f"and found shape {found.shape}."
            )
        if dtype is not None and dtypes.as_dtype(dtype) != found.dtype:
            raise ValueError(
                f"[get_variable] Trying to share variable {full}, but specified dtype "
                f"{dtypes.as_dtype(dtype).name} and found dtype {found.dtype.name}."
            )
        return found
    if scope.reuse is True:
        raise ValueError(
            f"[get_variable] Variable {full} does not exist, or was not created with "
            "tf.get_variable(). Did you mean to set reuse=tf.AUTO_REUSE in VarScope?"
        )
    if initializer is None:
        initializer = scope.initializer
    dt = dtypes.as_dtype(dtype if dtype is not None else scope.dtype or dtypes.float32)
    if initializer is None:
        initializer = init_ops.GlorotUniform() if dt.is_floating else init_ops.Zeros()
    if callable(initializer):
        if shape is None or not shape.is_fully_defined():
            raise ValueError(
                f"[get_variable] Shape of a new variable ({full}) must be fully defined, "
                f"but instead was {shape}."
            )
        dims = shape.as_list()
        if _accepts_partition_info(initializer):

            def init_value():
                return initializer(dims, dtype=dt, partition_info=None)

        else:

            def init_value():
                return initializer(dims, dtype=dt)

        value: Any = init_value
        var_dtype: Any = dt
    else:
        value = initializer
        var_dtype = dtype if dtype is not None else (None if isinstance(value, Tensor) else dt)
    with g.name_scope(None):
        v = Variable(
            initial_value=value,
            trainable=trainable,
            collections=collections,
            validate_shape=validate_shape,
            name=full,
            dtype=var_dtype,
            shape=shape if not callable(initializer) else None,
            constraint=constraint,
        )
    g._var_store[full] = v
    regularizer = regularizer if regularizer is not None else scope.regularizer
    if regularizer is not None:
        with g.name_scope(f"{v.op.name}/Regularizer/"):
            loss = regularizer(v)
        if loss is not None:
            g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
    return v
