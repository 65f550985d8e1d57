"""Recurrent layers: RNN, LSTM, GRU and their single-step cells.

Parameter names, shapes, gate orders and initialisation are PyTorch's, so a
PyTorch state dict loads and gives the same outputs: LSTM gates stack as
(i, f, g, o), GRU gates as (r, z, n) with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.

Each layer and direction projects the whole input sequence with one matmul,
then takes one recurrent matmul per step. A padded batch and a
PackedSequence go through the same loop: the input is held packed
(time-major rows, ``batch_sizes[t]`` rows at step t) and step t updates the
first ``batch_sizes[t]`` rows of the state, leaving the sequences that have
ended (forward) or not yet begun (reverse) as they are.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import devrt
from devrt.nn import functional as F
from devrt.nn import init
from devrt.nn.modules.module import Module
from devrt.nn.parameter import Parameter
from devrt.nn.utils.rnn import PackedSequence

Tensor = devrt.Tensor

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# --- one step, given the input's projection -------------------------------------------


def _rnn_step(mode: str, xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    pre = xw + F.linear(h, w_hh, b_hh)
    return devrt.tanh(pre) if mode == "RNN_TANH" else devrt.relu(pre)


def _lstm_step(
    xw: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh: Tensor | None
) -> tuple[Tensor, Tensor]:
    i, f, g, o = (xw + F.linear(h, w_hh, b_hh)).chunk(4, -1)
    c = devrt.sigmoid(f) * c + devrt.sigmoid(i) * devrt.tanh(g)
    return devrt.sigmoid(o) * devrt.tanh(c), c


def _gru_step(xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    x_r, x_z, x_n = xw.chunk(3, -1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, -1)
    r = devrt.sigmoid(x_r + h_r)
    z = devrt.sigmoid(x_z + h_z)
    n = devrt.tanh(x_n + r * h_n)
    return n + z * (h - n)


def _step(mode: str, xw: Tensor, state: tuple, w_hh: Tensor, b_hh: Tensor | None) -> tuple:
    if mode == "LSTM":
        return _lstm_step(xw, state[0], state[1], w_hh, b_hh)
    if mode == "GRU":
        return (_gru_step(xw, state[0], w_hh, b_hh),)
    return (_rnn_step(mode, xw, state[0], w_hh, b_hh),)


def _run_direction(
    mode: str,
    data: Tensor,
    batch_sizes: list[int],
    state: tuple,
    weights: tuple,
    reverse: bool,
) -> tuple[Tensor, tuple]:
    """One layer in one direction over packed `data` (rows of all steps):
    returns the packed outputs and the final state."""
    w_ih, w_hh, b_ih, b_hh = weights
    projected = devrt.split(F.linear(data, w_ih, b_ih), batch_sizes, 0)
    outputs: list[Tensor | None] = [None] * len(batch_sizes)
    steps = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
    for t in steps:
        rows = batch_sizes[t]
        held = state[0].shape[0]
        active = tuple(s.narrow(0, 0, rows) for s in state) if rows < held else state
        new = _step(mode, projected[t], active, w_hh, b_hh)
        outputs[t] = new[0]
        if rows < held:
            new = tuple(
                devrt.cat([n, s.narrow(0, rows, held - rows)], 0) for n, s in zip(new, state)
            )
        state = new
    return devrt.cat(outputs, 0), state


# --- the layers -------------------------------------------------------------------------


class RNNBase(Module):
    """Holds the parameters of a multi-layer, possibly bidirectional
    recurrent layer and runs it; RNN, LSTM and GRU choose the step."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = self._op_name(mode)
        if proj_size:
            raise NotImplementedError(f"[{name}] proj_size > 0 is not supported by devrt")
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool):
            raise ValueError(f"[{name}] dropout should be a number in range [0, 1]")
        if not 0 <= dropout <= 1:
            raise ValueError(
                f"[{name}] dropout should be a number in range [0, 1] representing the "
                f"probability of an element being zeroed, got {dropout}"
            )
        for what, value in (("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(
                    f"[{name}] {what} should be of type int, got: {type(value).__name__}"
                )
            if value <= 0:
                raise ValueError(f"[{name}] {what} must be greater than zero, got {value}")
        if dropout and num_layers == 1:
            warnings.warn(
                f"dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                stacklevel=3,
            )
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate_size = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        kw = {"dtype": dtype or devrt.float32, "device": device}
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = {
                    "weight_ih": (gate_size, layer_input),
                    "weight_hh": (gate_size, hidden_size),
                }
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                for prefix, shape in shapes.items():
                    setattr(self, prefix + suffix, Parameter(devrt.empty(*shape, **kw)))
                    self._flat_weights_names.append(prefix + suffix)
        self.reset_parameters()

    @staticmethod
    def _op_name(mode: str) -> str:
        return "RNN" if mode.startswith("RNN") else mode

    def reset_parameters(self) -> None:
        # PyTorch's default: every weight and bias from U(-1/sqrt(hidden), 1/sqrt(hidden)).
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def flatten_parameters(self) -> None:
        """Nothing to do: devrt keeps the weights as separate tensors."""

    @property
    def _flat_weights(self) -> list[Tensor]:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Tensor]]:
        per = 4 if self.bias else 2
        flat = self._flat_weights
        return [flat[i : i + per] for i in range(0, len(flat), per)]

    def _layer_weights(self, layer: int, direction: int) -> tuple:
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        get = lambda prefix: getattr(self, prefix + suffix, None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    # -- checks, as PyTorch words them --

    def _check_input(self, name: str, input: Tensor, batch_sizes: list[int] | None) -> None:
        expected = 2 if batch_sizes is not None else 3
        if input.ndim != expected:
            raise RuntimeError(f"[{name}] input must have {expected} dimensions, got {input.ndim}")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"[{name}] input.size(-1) must be equal to input_size. Expected "
                f"{self.input_size}, got {input.shape[-1]}"
            )
        dtype = self.weight_ih_l0.dtype
        if input.dtype != dtype:
            raise ValueError(
                f"[{name}] input dtype ({input.dtype}) does not match weight dtype ({dtype}). "
                f"Convert input: input.to({dtype}), or convert model: model.to({dtype})"
            )

    def _check_hidden(self, name: str, hx: Tensor, expected: tuple, which: str) -> None:
        if tuple(hx.shape) != expected:
            raise RuntimeError(f"[{name}] Expected {which} size {expected}, got {list(hx.shape)}")

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        name = self._op_name(self.mode)
        lstm = self.mode == "LSTM"
        directions = 2 if self.bidirectional else 1
        packed = isinstance(input, PackedSequence)
        if packed:
            data = input.data
            batch_sizes = [int(v) for v in input.batch_sizes.tolist()]
            batch = batch_sizes[0]
            unbatched = False
            self._check_input(name, data, batch_sizes)
        else:
            if not isinstance(input, Tensor):
                raise TypeError(
                    f"[{name}] argument 'input' must be a Tensor or PackedSequence, "
                    f"got {type(input).__name__}"
                )
            if input.ndim not in (2, 3):
                raise ValueError(
                    f"[{name}] Expected input to be 2D or 3D, got {input.ndim}D input instead"
                )
            unbatched = input.ndim == 2
            x = input.unsqueeze(1) if unbatched else input
            if self.batch_first and not unbatched:
                x = x.transpose(0, 1)
            self._check_input(name, x, None)
            steps, batch = x.shape[0], x.shape[1]
            batch_sizes = [batch] * steps
            data = x.reshape(steps * batch, self.input_size)
        expected = (self.num_layers * directions, batch, self.hidden_size)
        if hx is None:
            zeros = devrt.zeros(expected, dtype=data.dtype, device=data.device)
            states = (zeros, zeros) if lstm else (zeros,)
        else:
            states = tuple(hx) if lstm else (hx,)
            if lstm and (len(states) != 2 or not all(isinstance(s, Tensor) for s in states)):
                raise TypeError(f"[{name}] hx must be a tuple (h_0, c_0) of Tensors")
            if not all(isinstance(s, Tensor) for s in states):
                raise TypeError(
                    f"[{name}] argument 'hx' must be a Tensor, got {type(states[0]).__name__}"
                )
            want = 2 if unbatched else 3
            if any(s.ndim != want for s in states):
                kind = "unbatched 2-D" if unbatched else "batched 3-D"
                dims = [f"{s.ndim}-D" for s in states]
                got = f"({', '.join(dims)}) tensors" if lstm else f"{dims[0]} tensor"
                raise RuntimeError(
                    f"[{name}] For {kind} input, {'hx and cx' if lstm else 'hx'} should also "
                    f"be {want}-D but got {got}"
                )
            if unbatched:
                states = tuple(s.unsqueeze(1) for s in states)
            if packed and input.sorted_indices is not None:
                states = tuple(s.index_select(1, input.sorted_indices) for s in states)
            for i, s in enumerate(states):
                which = f"hidden[{i}]" if lstm else "hidden"
                self._check_hidden(name, s, expected, which)
        finals: list[list[Tensor]] = [[] for _ in states]
        layer_input = data
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                k = layer * directions + direction
                out, state = _run_direction(
                    self.mode,
                    layer_input,
                    batch_sizes,
                    tuple(s[k] for s in states),
                    self._layer_weights(layer, direction),
                    reverse=direction == 1,
                )
                outputs.append(out)
                for kept, s in zip(finals, state):
                    kept.append(s)
            layer_input = outputs[0] if directions == 1 else devrt.cat(outputs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        final = tuple(devrt.stack(kept, 0) for kept in finals)
        if packed:
            if input.unsorted_indices is not None:
                final = tuple(s.index_select(1, input.unsorted_indices) for s in final)
            output: Any = PackedSequence(
                layer_input, input.batch_sizes, input.sorted_indices, input.unsorted_indices
            )
        else:
            output = layer_input.reshape(len(batch_sizes), batch, -1)
            if unbatched:
                output = output.squeeze(1)
                final = tuple(s.squeeze(1) for s in final)
            elif self.batch_first:
                output = output.transpose(0, 1)
        return output, (final if lstm else final[0])

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``
    (or relu with ``nonlinearity='relu'``)."""

    def __init__(self, *args: Any, nonlinearity: str = "tanh", **kwargs: Any) -> None:
        if len(args) > 3:  # nonlinearity is the fourth positional argument in torch
            nonlinearity, args = args[3], args[:3] + args[4:]
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"[RNN] Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory; forward returns ``output, (h_n, c_n)``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit; forward returns ``output, h_n``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("GRU", *args, **kwargs)


# --- the cells ----------------------------------------------------------------------------


class RNNCellBase(Module):
    """One step of a recurrent layer, with parameters weight_ih, weight_hh,
    bias_ih, bias_hh."""

    _mode = "RNN_TANH"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        num_chunks: int = 1,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        kw = {"dtype": dtype or devrt.float32, "device": device}
        self.weight_ih = Parameter(devrt.empty(num_chunks * hidden_size, input_size, **kw))
        self.weight_hh = Parameter(devrt.empty(num_chunks * hidden_size, hidden_size, **kw))
        if bias:
            self.bias_ih = Parameter(devrt.empty(num_chunks * hidden_size, **kw))
            self.bias_hh = Parameter(devrt.empty(num_chunks * hidden_size, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def _prepare(self, input: Tensor, hx: Any, count: int) -> tuple[Tensor, tuple, bool]:
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(
                f"[{name}] argument 'input' must be a Tensor, got {type(input).__name__}"
            )
        if input.ndim not in (1, 2):
            raise ValueError(f"[{name}] Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"[{name}] input has inconsistent input_size: got {input.shape[-1]} "
                f"expected {self.input_size}"
            )
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        if hx is None:
            zeros = devrt.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
            return x, (zeros,) * count, unbatched
        states = tuple(hx) if count == 2 else (hx,)
        for i, s in enumerate(states):
            if s.ndim != input.ndim:
                raise RuntimeError(
                    f"[{name}] {'1-D' if unbatched else '2-D'} input needs a "
                    f"{'1-D' if unbatched else '2-D'} hidden state, got hidden{i} "
                    f"of shape {tuple(s.shape)}"
                )
            s = s.unsqueeze(0) if unbatched else s
            if s.shape[0] != x.shape[0]:
                raise RuntimeError(
                    f"[{name}] Input batch size {x.shape[0]} doesn't match hidden{i} batch "
                    f"size {s.shape[0]}"
                )
            if s.shape[1] != self.hidden_size:
                raise RuntimeError(
                    f"[{name}] hidden{i} has inconsistent hidden_size: got {s.shape[1]}, "
                    f"expected {self.hidden_size}"
                )
        return x, tuple(s.unsqueeze(0) if unbatched else s for s in states), unbatched

    def _run(self, input: Tensor, hx: Any, count: int) -> tuple:
        x, state, unbatched = self._prepare(input, hx, count)
        xw = F.linear(x, self.weight_ih, self.bias_ih)
        new = _step(self._mode, xw, state, self.weight_hh, self.bias_hh)
        return tuple(s.squeeze(0) for s in new) if unbatched else new

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s


class RNNCell(RNNCellBase):
    """``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or relu)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"[RNNCell] Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._run(input, hx, 1)[0]


class LSTMCell(RNNCellBase):
    """One LSTM step; forward returns ``(h', c')``."""

    _mode = "LSTM"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Tensor]:
        return self._run(input, hx, 2)


class GRUCell(RNNCellBase):
    """One GRU step; forward returns ``h'``."""

    _mode = "GRU"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._run(input, hx, 1)[0]
