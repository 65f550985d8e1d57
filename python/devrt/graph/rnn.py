"""``tf.nn.dynamic_rnn``, ``tf.nn.static_rnn``, ``tf.nn.bidirectional_dynamic_rnn``
and ``tf.reverse_sequence``: a cell (devrt.graph.rnn_cell) run over time.

Over a time dimension known when the graph is built, the functions unroll
the cell: one cell call per time step, all sharing the cell's variables,
and no loop runs. ``dynamic_rnn`` and
``bidirectional_dynamic_rnn`` over a time dimension unknown until run
(``tf.placeholder(tf.float32, [None, None, depth])``) run the cell in a
``tf.while_loop`` over the time steps, collecting the outputs in a
``tf.TensorArray``. With ``sequence_length``, as in TensorFlow, the outputs
past each sequence's end are zeros and its state stays the one of its last
step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from devrt.graph import dtypes
from devrt.graph import framework as fw
from devrt.graph.array_ops import _getitem, reverse, shape, stack, transpose, unstack
from devrt.graph.control_flow_ops import while_loop
from devrt.graph.conversion import _make_const
from devrt.graph.rnn_cell import _map_structure
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_array_ops import TensorArray
from devrt.graph.tensor_util import _apply, _t
from devrt.graph.variable_scope import variable_scope

__all__ = [
    "bidirectional_dynamic_rnn",
    "dynamic_rnn",
    "reverse_sequence",
    "static_bidirectional_rnn",
    "static_rnn",
]


def _sequence_length(sequence_length: Any, what: str) -> Tensor | None:
    if sequence_length is None:
        return None
    seq = _t(sequence_length, what)
    if not seq.dtype.is_integer:
        raise TypeError(f"[{what}] sequence_length must be integers, got {seq.dtype.name}")
    if seq.shape.ndims not in (None, 1):
        raise ValueError(
            f"[{what}] sequence_length must be a vector of length batch_size, got shape {seq.shape}"
        )
    return seq


def _initial_state(cell: Any, initial_state: Any, dtype: Any, x: Tensor, axis: int, what: str):
    """`initial_state`, else the cell's zero state for the batch of `x`
    (dimension `axis`)."""
    if initial_state is not None:
        return initial_state
    if dtype is None:
        raise ValueError(f"[{what}] If there is no initial_state, you must give a dtype.")
    batch = x.shape[axis]
    if batch is None:
        batch = _getitem(shape(x), axis)
    return cell.zero_state(batch, dtype)


def _copy_through(t: Any, seq: Tensor, out: Tensor, new_state: Any, state: Any, what: str):
    """Step `t`'s (output, state) where t < seq, else (zeros, `state`): the
    outputs past a sequence's end are zeros and its state is copied through."""
    with fw.name_scope(None, "CopyThroughFinished", [out]):
        step = _t(t, what, seq.dtype) if not isinstance(t, Tensor) else t
        if step.dtype != seq.dtype:
            step = _apply("Cast", [step], {"dtype": seq.dtype.as_devrt_dtype})
        live = _apply("ExpandDims", [_apply("Less", [step, seq], {})], {"axis": 1})
        out = _apply("Select", [live, out, _apply("ZerosLike", [out], {})], {})
        new_state = _map_structure(
            lambda new, old: _apply("Select", [live, new, _t(old, what)], {}), new_state, state
        )
    return out, new_state


def _unroll(cell: Any, steps: list[Tensor], state: Any, seq: Tensor | None, what: str):
    """The cell over `steps` ([batch, depth] each): (outputs, final state).
    With `seq`, step t's output is zeroed and its state kept where t >= seq."""
    outputs = []
    for t, x in enumerate(steps):
        out, new_state = cell(x, state)
        if seq is not None:
            out, new_state = _copy_through(t, seq, out, new_state, state, what)
        outputs.append(out)
        state = new_state
    return outputs, state


def _loop(cell: Any, x: Tensor, state: Any, seq: Tensor | None, loop_args: dict, what: str):
    """The cell over the time-major `x` [time, batch, depth] in a while_loop:
    (outputs [time, batch, output size], final state). The outputs are
    written to a TensorArray whose first value, zeros of [time, batch,
    output size] made from `x`, gives the loop the shape the graph knows."""
    if not isinstance(cell.output_size, int):
        raise NotImplementedError(
            f"[{what}] a cell with a nested output_size ({cell.output_size!r}) over a time "
            "dimension unknown when the graph is built"
        )
    steps = _getitem(shape(x), 0)
    inputs = TensorArray(x.dtype, flow=x)
    column = _apply("ZerosLike", [_getitem(x, (slice(None), slice(None), slice(0, 1)))], {})
    zeros = _make_const(x.graph, np.zeros(cell.output_size), x.dtype, None, what)
    outputs = TensorArray(x.dtype, flow=_apply("Add", [column, zeros], {}))

    def body(t, outputs, state):
        out, new_state = cell(inputs.read(t), state)
        if seq is not None:
            out, new_state = _copy_through(t, seq, out, new_state, state, what)
        return t + 1, outputs.write(t, out), new_state

    _, outputs, state = while_loop(
        lambda t, outputs, state: t < steps,
        body,
        (_t(0, what, steps.dtype), outputs, state),
        **loop_args,
    )
    return outputs.stack(), state


def dynamic_rnn(
    cell: Any,
    inputs: Any,
    sequence_length: Any = None,
    initial_state: Any = None,
    dtype: Any = None,
    parallel_iterations: Any = None,
    swap_memory: bool = False,
    time_major: bool = False,
    scope: Any = None,
) -> tuple[Tensor, Any]:
    """``tf.nn.dynamic_rnn``: (outputs, final state) of `cell` over `inputs`
    [batch, time, depth] ([time, batch, depth] when `time_major`), in the
    variable scope `scope` (default "rnn"). Over a time dimension known when
    the graph is built the cell is unrolled; over one unknown until run it
    runs in a while_loop (see the module's docstring; `parallel_iterations`
    and `swap_memory` go to the loop). Nested inputs are not supported."""
    what = "dynamic_rnn"
    if isinstance(inputs, (tuple, list)):
        raise NotImplementedError(f"[{what}] nested inputs are not supported; pass one tensor")
    x = _t(inputs, what)
    if x.shape.ndims is None or x.shape.ndims < 3:
        raise ValueError(
            f"[{what}] inputs must have rank 3 or more ([batch, time, depth]), got shape {x.shape}"
        )
    time_axis, batch_axis = (0, 1) if time_major else (1, 0)
    steps = x.shape[time_axis]
    if steps == 0:
        raise ValueError(
            f"[{what}] the time dimension (axis {time_axis}) of inputs of shape {x.shape} is 0"
        )
    seq = _sequence_length(sequence_length, what)
    with variable_scope(scope or "rnn"):
        state = _initial_state(cell, initial_state, dtype, x, batch_axis, what)
        if steps is not None:
            outs, state = _unroll(cell, unstack(x, axis=time_axis), state, seq, what)
            return stack(outs, axis=time_axis), state
        if x.shape.ndims != 3:
            raise ValueError(
                f"[{what}] inputs over a time dimension unknown when the graph is built must be "
                f"[batch, time, depth], got shape {x.shape}"
            )
        loop_args = {"parallel_iterations": parallel_iterations or 32, "swap_memory": swap_memory}
        x_tm = x if time_major else transpose(x, [1, 0, 2])
        outs, state = _loop(cell, x_tm, state, seq, loop_args, what)
        return (outs if time_major else transpose(outs, [1, 0, 2])), state


def static_rnn(
    cell: Any,
    inputs: Any,
    initial_state: Any = None,
    dtype: Any = None,
    sequence_length: Any = None,
    scope: Any = None,
) -> tuple[list[Tensor], Any]:
    """``tf.nn.static_rnn`` (``tf.contrib.rnn.static_rnn``): `cell` over the
    list `inputs` of [batch, depth] tensors, in the variable scope `scope`
    (default "rnn"); returns (list of outputs, final state)."""
    what = "static_rnn"
    if not isinstance(inputs, (tuple, list)):
        raise TypeError(f"[{what}] inputs must be a sequence, got {type(inputs).__name__}")
    if not inputs:
        raise ValueError(f"[{what}] inputs must not be empty")
    steps = [_t(x, what) for x in inputs]
    seq = _sequence_length(sequence_length, what)
    with variable_scope(scope or "rnn"):
        state = _initial_state(cell, initial_state, dtype, steps[0], 0, what)
        return _unroll(cell, steps, state, seq, what)


def reverse_sequence(
    input: Any,
    seq_lengths: Any,
    seq_axis: Any = None,
    batch_axis: Any = None,
    name: str | None = None,
    seq_dim: Any = None,
    batch_dim: Any = None,
) -> Tensor:
    """``tf.reverse_sequence``: along `seq_axis`, reverses the first
    seq_lengths[b] entries of each batch entry b and leaves the rest. The
    dimensions after the batch and sequence axes must be known (the
    sequence axis may be unknown until run): the input is gathered, as rows
    of [batch * time, ...]."""
    what = "reverse_sequence"
    x = _t(input, what)
    seq = _sequence_length(seq_lengths, what)
    seq_axis = seq_dim if seq_axis is None else seq_axis
    batch_axis = (batch_dim if batch_dim is not None else 0) if batch_axis is None else batch_axis
    rank = x.shape.ndims
    if seq_axis is None or rank is None:
        raise ValueError(
            f"[{what}] seq_axis and the rank of the input (shape {x.shape}) are needed"
        )
    seq_axis, batch_axis = int(seq_axis) % rank, int(batch_axis) % rank
    if seq_axis == batch_axis:
        raise ValueError(f"[{what}] seq_axis and batch_axis must differ, both are {seq_axis}")
    rest = [a for a in range(rank) if a not in (batch_axis, seq_axis)]
    perm = [batch_axis, seq_axis] + rest
    dims = x.shape.as_list()
    steps, rest_dims = dims[seq_axis], [dims[a] for a in rest]
    if None in rest_dims:
        raise ValueError(
            f"[{what}] the dimensions after the batch and sequence axes must be known, got "
            f"shape {x.shape}"
        )
    with fw.name_scope(name, "ReverseSequence", [x, seq]) as scope:
        xt = transpose(x, perm)
        rows = _apply("Reshape", [xt], {"shape": [-1] + rest_dims})
        lengths = _apply("ExpandDims", [seq], {"axis": 1})  # [batch, 1]
        if steps is None:
            t = _time_index(xt, 1, seq.dtype, reverse=False)
            steps = _apply("Cast", [_getitem(shape(xt), 1)], {"dtype": seq.dtype.as_devrt_dtype})
        else:
            t = _make_const(x.graph, np.arange(steps), seq.dtype, None, what)
        one = _t(1, what, seq.dtype)
        flipped = _apply("Sub", [_apply("Sub", [lengths, one], {}), t], {})
        source = _apply("Select", [_apply("Less", [t, lengths], {}), flipped, t], {})
        batch_index = _apply(
            "Cumsum", [_apply("OnesLike", [lengths], {})], {"axis": 0, "exclusive": 1, "reverse": 0}
        )
        base = _apply("Mul", [batch_index, _t(steps, what, seq.dtype)], {})
        index = _apply("Add", [base, source], {})  # [batch, time] rows of `rows`
        out = _apply("GatherV2", [rows, index], {"axis": 0})
        inverse = [perm.index(a) for a in range(rank)]
        return transpose(out, inverse, name=scope)


def _time_index(x: Tensor, axis: int, dtype: Any, reverse: bool) -> Tensor:
    """The vector 0, 1, ..., n - 1 (n - 1, ..., 0 when `reverse`) of `dtype`
    for dimension `axis` of `x`, whose size may be unknown until run: the
    exclusive running sum of ones along it."""
    line = _getitem(x, tuple(slice(None) if k == axis else 0 for k in range(x.shape.ndims)))
    ones = _apply("Cast", [_apply("OnesLike", [line], {})], {"dtype": dtype.as_devrt_dtype})
    return _apply("Cumsum", [ones], {"axis": 0, "exclusive": 1, "reverse": int(reverse)})


def _reverse_time(x: Tensor, seq: Tensor | None, time_axis: int, batch_axis: int) -> Tensor:
    if seq is None:
        if x.shape[time_axis] is None:
            index = _time_index(x, time_axis, dtypes.int32, reverse=True)
            return _apply("GatherV2", [x, index], {"axis": time_axis})
        return reverse(x, [time_axis])
    return reverse_sequence(x, seq, seq_axis=time_axis, batch_axis=batch_axis)


def bidirectional_dynamic_rnn(
    cell_fw: Any,
    cell_bw: Any,
    inputs: Any,
    sequence_length: Any = None,
    initial_state_fw: Any = None,
    initial_state_bw: Any = None,
    dtype: Any = None,
    parallel_iterations: Any = None,
    swap_memory: bool = False,
    time_major: bool = False,
    scope: Any = None,
) -> tuple[tuple[Tensor, Tensor], tuple[Any, Any]]:
    """``tf.nn.bidirectional_dynamic_rnn``: `cell_fw` over `inputs` and
    `cell_bw` over them reversed in time (each sequence within its
    `sequence_length`), in the variable scopes "bidirectional_rnn/fw" and
    ".../bw". Returns ((output_fw, output_bw), (state_fw, state_bw)), the
    backward outputs in the inputs' time order."""
    what = "bidirectional_dynamic_rnn"
    x = _t(inputs, what)
    seq = _sequence_length(sequence_length, what)
    time_axis, batch_axis = (0, 1) if time_major else (1, 0)
    with variable_scope(scope or "bidirectional_rnn"):
        with variable_scope("fw") as fw_scope:
            out_fw, state_fw = dynamic_rnn(
                cell_fw,
                x,
                seq,
                initial_state_fw,
                dtype,
                parallel_iterations,
                swap_memory,
                time_major,
                scope=fw_scope,
            )
        with variable_scope("bw") as bw_scope:
            x_bw = _reverse_time(x, seq, time_axis, batch_axis)
            out_bw, state_bw = dynamic_rnn(
                cell_bw,
                x_bw,
                seq,
                initial_state_bw,
                dtype,
                parallel_iterations,
                swap_memory,
                time_major,
                scope=bw_scope,
            )
            out_bw = _reverse_time(out_bw, seq, time_axis, batch_axis)
    return (out_fw, out_bw), (state_fw, state_bw)


def static_bidirectional_rnn(
    cell_fw: Any,
    cell_bw: Any,
    inputs: Any,
    initial_state_fw: Any = None,
    initial_state_bw: Any = None,
    dtype: Any = None,
    sequence_length: Any = None,
    scope: Any = None,
) -> tuple[list[Tensor], Any, Any]:
    """``tf.nn.static_bidirectional_rnn`` (``tf.contrib.rnn.static_bidirectional_rnn``):
    the list `inputs` of [batch, depth] tensors through `cell_fw` forwards
    and `cell_bw` backwards (as bidirectional_dynamic_rnn, with the same
    variable names); returns (list of [batch, fw units + bw units] outputs,
    state_fw, state_bw)."""
    what = "static_bidirectional_rnn"
    if not isinstance(inputs, (tuple, list)) or not inputs:
        raise ValueError(f"[{what}] inputs must be a non-empty list of tensors, got {inputs!r}")
    x = stack([_t(t, what) for t in inputs], axis=0)
    (out_fw, out_bw), (state_fw, state_bw) = bidirectional_dynamic_rnn(
        cell_fw,
        cell_bw,
        x,
        sequence_length,
        initial_state_fw,
        initial_state_bw,
        dtype,
        time_major=True,
        scope=scope,
    )
    both = _apply("ConcatV2", [out_fw, out_bw], {"axis": 2})
    return unstack(both, axis=0), state_fw, state_bw
