"""``tf.nn.rnn_cell`` (also ``tf.contrib.rnn``): TF1's recurrent cells.

A cell is a ``tf.layers.Layer``: ``cell(inputs, state)`` returns
``(output, new_state)`` for one time step, and its variables are made at
the first call in its own variable scope under the caller's
("rnn/basic_lstm_cell/kernel"). Later calls (the next time steps) reuse
them. Layouts and gate orders are TensorFlow's, so that TF1 checkpoints
and code that reads variables by name keep working:

- ``BasicRNNCell``: ``kernel`` [input + units, units], ``bias`` [units];
  h' = activation([x, h] @ kernel + bias).
- ``BasicLSTMCell``, ``LSTMCell``: ``kernel`` [input + units (or num_proj),
  4 * units], ``bias`` [4 * units], gates i, j, f, o in that order:
  c' = c * sigmoid(f + forget_bias) + sigmoid(i) * tanh(j),
  h' = tanh(c') * sigmoid(o). ``LSTMCell`` adds peepholes (``w_i_diag``,
  ``w_f_diag``, ``w_o_diag``), clipping and a projection
  (``projection/kernel`` [units, num_proj]).
- ``GRUCell``: ``gates/kernel`` [input + units, 2 * units] (r, u; bias
  initialised to 1), ``candidate/kernel`` [input + units, units];
  h' = u * h + (1 - u) * tanh([x, r * h] @ candidate/kernel + candidate/bias).

Every cell is built of graph ops (MatMul, Add, Sigmoid, Tanh ...), so
``tf.gradients`` and the optimizers differentiate it like any other graph.
"""

from __future__ import annotations

import collections
from typing import Any

from devrt.graph import framework as fw
from devrt.graph import init_ops, math_ops, nn
from devrt.graph.array_ops import _getitem, concat, split
from devrt.graph.constant_ops import zeros
from devrt.graph.dtypes import as_dtype
from devrt.graph.layers import Layer, _activation
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _apply, _shape_ref, _t, get_static_value
from devrt.graph.variable_scope import variable_scope

__all__ = [
    "BasicLSTMCell",
    "BasicRNNCell",
    "DropoutWrapper",
    "GRUCell",
    "LSTMCell",
    "LSTMStateTuple",
    "MultiRNNCell",
    "RNNCell",
]


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """``tf.nn.rnn_cell.LSTMStateTuple``: an LSTM's (cell state c, output h)."""

    __slots__ = ()

    @property
    def dtype(self) -> Any:
        return self.c.dtype


def _map_structure(fn: Any, *structures: Any) -> Any:
    """`fn` applied to the leaves of equally nested tuples/lists (namedtuples kept)."""
    first = structures[0]
    if isinstance(first, (tuple, list)):
        parts = [_map_structure(fn, *items) for items in zip(*structures)]
        if isinstance(first, LSTMStateTuple):
            return LSTMStateTuple(*parts)
        return type(first)(parts)
    return fn(*structures)


def _flatten(structure: Any) -> list[Any]:
    if isinstance(structure, (tuple, list)):
        return [leaf for item in structure for leaf in _flatten(item)]
    return [structure]


def _batch_column(reference: Tensor, axis: int) -> Tensor:
    """A [batch, 1] slice of `reference`, whose dimension `axis` is the batch:
    the run-time batch size for tensors made from it."""
    rank = reference.shape.ndims
    if rank is None:
        raise ValueError("[zero_state] the batch size comes from a tensor of unknown rank")
    key = tuple(slice(None) if k == axis else 0 for k in range(rank))
    return _apply("Reshape", [_getitem(reference, key)], {"shape": [-1, 1]})


def _zeros(batch_size: Any, size: int, dtype: Any) -> Tensor:
    """Zeros of shape [batch_size, size]: a Const for an int batch size, and
    for ``tf.shape(x)[i]`` (or a [batch, ...] tensor's batch dimension) the
    ZerosLike of a batch column of x broadcast against zeros of [size]."""
    if isinstance(batch_size, Tensor):
        static = get_static_value(batch_size)
        if static is not None:
            batch_size = int(static)
    if not isinstance(batch_size, Tensor):
        return zeros([int(batch_size), size], dtype)
    ref = _shape_ref(batch_size)
    if ref is None:
        raise ValueError(
            "[zero_state] batch_size must be an int or tf.shape(x)[i] of a tensor x, got "
            f"{batch_size.name} of shape {batch_size.shape}"
        )
    column = _apply("ZerosLike", [_batch_column(*ref)], {})
    if column.dtype != dtype:
        column = _apply("Cast", [column], {"dtype": dtype.as_devrt_dtype})
    return _apply("Add", [column, zeros([size], dtype)], {})


class RNNCell(Layer):
    """``tf.nn.rnn_cell.RNNCell``: the base of the cells. A subclass defines
    ``state_size``, ``output_size``, ``build`` and ``call(inputs, state)``."""

    _base_name = "rnn_cell"

    def __init__(self, trainable: bool = True, name: str | None = None, dtype: Any = None, **kw):
        reuse = kw.pop("_reuse", None)
        super().__init__(trainable=trainable, name=name, dtype=dtype, _reuse=reuse)

    @property
    def state_size(self) -> Any:
        raise NotImplementedError(f"[{type(self).__name__}] state_size is not defined")

    @property
    def output_size(self) -> Any:
        raise NotImplementedError(f"[{type(self).__name__}] output_size is not defined")

    def __call__(self, inputs: Any, state: Any, scope: Any = None) -> Any:
        """(output, new state) for one step. A `scope` given at the first call
        becomes the cell's variable scope ("<scope>/kernel"), as in TensorFlow;
        without one, the cell's scope is "<current scope>/<cell name>"."""
        if scope is not None and self._scope is None:
            x = _t(inputs, type(self).__name__)
            with x.graph.as_default(), variable_scope(scope, reuse=self._reuse) as sc:
                self._scope = sc
                return self._build_and_call(x, (state,), {})
        return super().__call__(inputs, state)

    def zero_state(self, batch_size: Any, dtype: Any) -> Any:
        """Zeros in the structure of ``state_size``, each [batch_size, size]."""
        dt = as_dtype(dtype)
        with fw.name_scope(None, f"{type(self).__name__}ZeroState"):
            return _map_structure(lambda n: _zeros(batch_size, int(n), dt), self.state_size)

    def _input_depth(self, input_shape: Any) -> int:
        depth = input_shape[-1] if input_shape.ndims else None
        if input_shape.ndims != 2 or depth is None:
            raise ValueError(
                f"[{type(self).__name__}] inputs must be [batch, depth] with a known depth, "
                f"got shape {input_shape}"
            )
        return int(depth)

    def _linear(self, args: list[Tensor], kernel: Any, bias: Any) -> Tensor:
        """concat(args, 1) @ kernel + bias."""
        x = concat(args, 1)
        return nn.bias_add(math_ops.matmul(x, kernel), bias)


class _UnitsCell(RNNCell):
    """A cell of `num_units` units whose output and state are [batch, num_units]
    (unless a subclass says otherwise), with an activation (tanh by default)."""

    def __init__(self, num_units, activation, reuse, name, dtype, **kwargs):
        super().__init__(name=name, dtype=dtype, _reuse=reuse, **kwargs)
        self._num_units = int(num_units)
        self._activation = _activation(activation) or math_ops.tanh

    @property
    def state_size(self) -> Any:
        return self._num_units

    @property
    def output_size(self) -> int:
        return self._num_units


class BasicRNNCell(_UnitsCell):
    """``tf.nn.rnn_cell.BasicRNNCell``: h' = activation([x, h] @ kernel + bias)
    (tanh by default); output and state are both h'."""

    _base_name = "basic_rnn_cell"

    def __init__(self, num_units, activation=None, reuse=None, name=None, dtype=None, **kwargs):
        super().__init__(num_units, activation, reuse, name, dtype, **kwargs)

    def build(self, input_shape: Any) -> None:
        depth = self._input_depth(input_shape)
        self._kernel = self.add_weight("kernel", [depth + self._num_units, self._num_units])
        self._bias = self.add_weight("bias", [self._num_units], None, init_ops.Zeros())

    def call(self, inputs: Tensor, state: Any) -> Any:
        out = self._activation(self._linear([inputs, state], self._kernel, self._bias))
        return out, out


def _lstm_state(state: Any, num_units: int, is_tuple: bool, what: str) -> tuple[Any, Any]:
    if is_tuple:
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ValueError(f"[{what}] the state must be an LSTMStateTuple (c, h), got {state!r}")
        return state[0], state[1]
    c, h = split(_t(state, what), [num_units, -1], axis=1)
    return c, h


class BasicLSTMCell(_UnitsCell):
    """``tf.nn.rnn_cell.BasicLSTMCell``: gates i, j, f, o from one kernel
    [input + units, 4 * units]; `forget_bias` is added to f. The state is
    ``LSTMStateTuple(c, h)``, or with ``state_is_tuple=False`` their
    concatenation [batch, 2 * units]."""

    _base_name = "basic_lstm_cell"

    def __init__(
        self,
        num_units,
        forget_bias=1.0,
        state_is_tuple=True,
        activation=None,
        reuse=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(num_units, activation, reuse, name, dtype, **kwargs)
        self._forget_bias = float(forget_bias)
        self._state_is_tuple = bool(state_is_tuple)

    @property
    def state_size(self) -> Any:
        n = self._num_units
        return LSTMStateTuple(n, n) if self._state_is_tuple else 2 * n

    def build(self, input_shape: Any) -> None:
        depth = self._input_depth(input_shape)
        n = self._num_units
        self._kernel = self.add_weight("kernel", [depth + n, 4 * n])
        self._bias = self.add_weight("bias", [4 * n], None, init_ops.Zeros())

    def call(self, inputs: Tensor, state: Any) -> Any:
        what = type(self).__name__
        c, h = _lstm_state(state, self._num_units, self._state_is_tuple, what)
        i, j, f, o = split(self._linear([inputs, h], self._kernel, self._bias), 4, axis=1)
        forget = math_ops.sigmoid(math_ops.add(f, _t(self._forget_bias, what, f.dtype)))
        new_c = math_ops.add(
            math_ops.multiply(c, forget),
            math_ops.multiply(math_ops.sigmoid(i), self._activation(j)),
        )
        new_h = math_ops.multiply(self._activation(new_c), math_ops.sigmoid(o))
        if self._state_is_tuple:
            return new_h, LSTMStateTuple(new_c, new_h)
        return new_h, concat([new_c, new_h], 1)


def _clip(x: Tensor, bound: Any, what: str) -> Tensor:
    if bound is None:
        return x
    return math_ops.clip_by_value(x, -float(bound), float(bound))


class LSTMCell(_UnitsCell):
    """``tf.nn.rnn_cell.LSTMCell``: BasicLSTMCell's gates (i, j, f, o), plus
    optional peepholes (``use_peepholes``: c enters the i and f gates, the
    new c the o gate, through diagonal weights), ``cell_clip`` on c, and a
    projection of the output to ``num_proj`` units (clipped by
    ``proj_clip``). The kernel is [input + (num_proj or units), 4 * units]
    and made with `initializer`; the state is LSTMStateTuple(c, output).
    Sharded kernels (``num_unit_shards``, ``num_proj_shards``) are not
    supported."""

    _base_name = "lstm_cell"

    def __init__(
        self,
        num_units,
        use_peepholes=False,
        cell_clip=None,
        initializer=None,
        num_proj=None,
        proj_clip=None,
        num_unit_shards=None,
        num_proj_shards=None,
        forget_bias=1.0,
        state_is_tuple=True,
        activation=None,
        reuse=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(num_units, activation, reuse, name, dtype, **kwargs)
        if num_unit_shards is not None or num_proj_shards is not None:
            raise NotImplementedError("[LSTMCell] sharded kernels are not supported")
        self._use_peepholes = bool(use_peepholes)
        self._cell_clip, self._proj_clip = cell_clip, proj_clip
        self._initializer = initializer
        self._num_proj = None if num_proj is None else int(num_proj)
        self._forget_bias = float(forget_bias)
        self._state_is_tuple = bool(state_is_tuple)

    @property
    def state_size(self) -> Any:
        out = self.output_size
        if self._state_is_tuple:
            return LSTMStateTuple(self._num_units, out)
        return self._num_units + out

    @property
    def output_size(self) -> int:
        return self._num_proj or self._num_units

    def build(self, input_shape: Any) -> None:
        depth = self._input_depth(input_shape)
        n, init = self._num_units, self._initializer
        self._kernel = self.add_weight("kernel", [depth + self.output_size, 4 * n], None, init)
        self._bias = self.add_weight("bias", [4 * n], None, init_ops.Zeros())
        if self._use_peepholes:
            self._w_f_diag = self.add_weight("w_f_diag", [n], None, init)
            self._w_i_diag = self.add_weight("w_i_diag", [n], None, init)
            self._w_o_diag = self.add_weight("w_o_diag", [n], None, init)
        if self._num_proj is not None:
            self._proj = self.add_weight("projection/kernel", [n, self._num_proj], None, init)

    def call(self, inputs: Tensor, state: Any) -> Any:
        what = "LSTMCell"
        c, m = _lstm_state(state, self._num_units, self._state_is_tuple, what)
        i, j, f, o = split(self._linear([inputs, m], self._kernel, self._bias), 4, axis=1)
        mul, add, sigmoid = math_ops.multiply, math_ops.add, math_ops.sigmoid
        f = add(f, _t(self._forget_bias, what, f.dtype))
        if self._use_peepholes:
            f = add(f, mul(self._w_f_diag, c))
            i = add(i, mul(self._w_i_diag, c))
        new_c = add(mul(sigmoid(f), c), mul(sigmoid(i), self._activation(j)))
        new_c = _clip(new_c, self._cell_clip, what)
        if self._use_peepholes:
            o = add(o, mul(self._w_o_diag, new_c))
        new_m = mul(sigmoid(o), self._activation(new_c))
        if self._num_proj is not None:
            new_m = _clip(math_ops.matmul(new_m, self._proj), self._proj_clip, what)
        if self._state_is_tuple:
            return new_m, LSTMStateTuple(new_c, new_m)
        return new_m, concat([new_c, new_m], 1)


class GRUCell(_UnitsCell):
    """``tf.nn.rnn_cell.GRUCell``: reset and update gates r, u from
    ``gates/kernel`` (bias initialised to 1.0 unless `bias_initializer`),
    the candidate from ``candidate/kernel`` applied to [x, r * h];
    h' = u * h + (1 - u) * candidate."""

    _base_name = "gru_cell"

    def __init__(
        self,
        num_units,
        activation=None,
        reuse=None,
        kernel_initializer=None,
        bias_initializer=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(num_units, activation, reuse, name, dtype, **kwargs)
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    def build(self, input_shape: Any) -> None:
        depth, n = self._input_depth(input_shape), self._num_units
        kinit = self._kernel_initializer
        gate_bias = self._bias_initializer or init_ops.Constant(1.0)
        cand_bias = self._bias_initializer or init_ops.Zeros()
        self._gate_kernel = self.add_weight("gates/kernel", [depth + n, 2 * n], None, kinit)
        self._gate_bias = self.add_weight("gates/bias", [2 * n], None, gate_bias)
        self._cand_kernel = self.add_weight("candidate/kernel", [depth + n, n], None, kinit)
        self._cand_bias = self.add_weight("candidate/bias", [n], None, cand_bias)

    def call(self, inputs: Tensor, state: Any) -> Any:
        gates = self._linear([inputs, state], self._gate_kernel, self._gate_bias)
        r, u = split(math_ops.sigmoid(gates), 2, axis=1)
        candidate = self._linear(
            [inputs, math_ops.multiply(r, state)], self._cand_kernel, self._cand_bias
        )
        c = self._activation(candidate)
        one_minus_u = math_ops.subtract(_t(1.0, "GRUCell", u.dtype), u)
        new_h = math_ops.add(math_ops.multiply(u, state), math_ops.multiply(one_minus_u, c))
        return new_h, new_h


class MultiRNNCell(RNNCell):
    """``tf.nn.rnn_cell.MultiRNNCell``: cells stacked in depth; cell k runs
    in the variable scope "cell_k" under "multi_rnn_cell". The state is the
    tuple of the cells' states (``state_is_tuple=False`` is not supported)."""

    _base_name = "multi_rnn_cell"

    def __init__(self, cells, state_is_tuple=True):
        super().__init__()
        if not cells:
            raise ValueError("[MultiRNNCell] must specify at least one cell")
        if not state_is_tuple:
            raise NotImplementedError(
                "[MultiRNNCell] state_is_tuple=False (concatenated states) is not supported"
            )
        self._cells = list(cells)

    @property
    def state_size(self) -> tuple:
        return tuple(cell.state_size for cell in self._cells)

    @property
    def output_size(self) -> int:
        return self._cells[-1].output_size

    def zero_state(self, batch_size: Any, dtype: Any) -> tuple:
        with fw.name_scope(None, "MultiRNNCellZeroState"):
            return tuple(cell.zero_state(batch_size, dtype) for cell in self._cells)

    def call(self, inputs: Tensor, state: Any) -> Any:
        if not isinstance(state, (tuple, list)) or len(state) != len(self._cells):
            raise ValueError(
                f"[MultiRNNCell] expected a state tuple of {len(self._cells)} cells' states, "
                f"got {state!r}"
            )
        out, new_states = inputs, []
        for k, (cell, cell_state) in enumerate(zip(self._cells, state)):
            with variable_scope(f"cell_{k}"):
                out, new_state = cell(out, cell_state)
            new_states.append(new_state)
        return out, tuple(new_states)


def _keep_prob(value: Any, arg: str) -> Any:
    if isinstance(value, (int, float)) and not 0.0 < float(value) <= 1.0:
        raise ValueError(f"[DropoutWrapper] Parameter {arg} must be between 0 and 1: {value}")
    return value


class DropoutWrapper(RNNCell):
    """``tf.nn.rnn_cell.DropoutWrapper``: dropout on the wrapped cell's
    inputs, outputs and new state (each kept with its keep probability: a
    number or a tensor such as a placeholder), with a new mask at every time
    step. As TensorFlow, the c of an LSTMStateTuple is never dropped.
    ``variational_recurrent`` masks are not supported."""

    def __init__(
        self,
        cell,
        input_keep_prob=1.0,
        output_keep_prob=1.0,
        state_keep_prob=1.0,
        variational_recurrent=False,
        input_size=None,
        dtype=None,
        seed=None,
        dropout_state_filter_visitor=None,
    ):
        super().__init__()
        if variational_recurrent:
            raise NotImplementedError("[DropoutWrapper] variational_recurrent is not supported")
        self._cell = cell
        self._input_keep = _keep_prob(input_keep_prob, "input_keep_prob")
        self._output_keep = _keep_prob(output_keep_prob, "output_keep_prob")
        self._state_keep = _keep_prob(state_keep_prob, "state_keep_prob")
        self._seed = seed
        self._state_filter = dropout_state_filter_visitor

    @property
    def wrapped_cell(self) -> Any:
        return self._cell

    @property
    def state_size(self) -> Any:
        return self._cell.state_size

    @property
    def output_size(self) -> Any:
        return self._cell.output_size

    def zero_state(self, batch_size: Any, dtype: Any) -> Any:
        return self._cell.zero_state(batch_size, dtype)

    def _drop(self, x: Tensor, keep: Any) -> Tensor:
        if isinstance(keep, (int, float)) and float(keep) == 1.0:
            return x
        return nn.dropout(x, keep_prob=keep, seed=self._seed)

    def __call__(self, inputs: Any, state: Any, scope: Any = None) -> Any:
        # No variables of its own: the wrapped cell keeps its scope and names.
        x = self._drop(_t(inputs, "DropoutWrapper"), self._input_keep)
        out, new_state = self._cell(x, state, scope=scope)
        out = self._drop(out, self._output_keep)
        if not (isinstance(self._state_keep, (int, float)) and float(self._state_keep) == 1.0):
            new_state = self._drop_state(new_state)
        return out, new_state

    def _drop_state(self, state: Any) -> Any:
        if isinstance(state, LSTMStateTuple):
            return LSTMStateTuple(state.c, self._drop_state(state.h))
        if isinstance(state, (tuple, list)):
            return type(state)(self._drop_state(s) for s in state)
        if self._state_filter is not None and not self._state_filter(state):
            return state
        return self._drop(state, self._state_keep)
