"""Recurrent layers: SimpleRNN, LSTM, GRU, their cells, and the generic
``RNN(cell)``.

Weights live in the cell, as in Keras: ``kernel`` (input_dim, gates *
units), ``recurrent_kernel`` (units, gates * units) and ``bias``; LSTM gates
in the order i, f, c, o, GRU gates z, r, h (with ``reset_after`` its bias
is (2, 3 * units): input bias, then recurrent bias).

The layer projects the whole input sequence through the kernel in one
matmul, then steps through time with one matmul by the recurrent kernel per
step; the autograd tape records the loop like any other eager code. A
user cell (any layer with ``state_size`` and ``call(inputs, states)``) is
stepped through its own ``call``.

Note: dropout masks are drawn once per call and shared by every step, as
Keras does. With ``recurrent_dropout`` a gated cell draws one input mask and
one recurrent mask per gate (Keras' implementation 1: each gate sees its own
dropped units), otherwise one input mask for all gates. The recurrent masks
apply to the state where it meets the recurrent kernel only; a GRU carries
the unmasked state into ``z * h + (1 - z) * hh``, as Keras does.
"""

from __future__ import annotations

from typing import Any

import devrt
from devrt.keras import activations, constraints, initializers, regularizers
from devrt.keras.layers.layer import InputSpec, Layer, _add_weight_of
from devrt.nn import functional as F


def _masked_matmul(x: devrt.Tensor, kernel: devrt.Tensor, masks: Any) -> devrt.Tensor:
    """``x @ kernel``; with dropout masks (one for all gates, or one per gate),
    the columns of gate g see ``x * masks[g]``."""
    if masks is None:
        return devrt.matmul(x, kernel)
    if len(masks) == 1:
        return devrt.matmul(x * masks[0], kernel)
    blocks = kernel.chunk(len(masks), -1)
    return devrt.cat([devrt.matmul(x * m, k) for m, k in zip(masks, blocks, strict=True)], -1)


_CELL_KEYS = (
    "units",
    "activation",
    "recurrent_activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "unit_forget_bias",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "reset_after",
    "seed",
)


class _UnitForgetBias:
    """The LSTM bias initializer with ``unit_forget_bias``: the forget gate's
    quarter starts at one, the rest from the bias initializer."""

    def __init__(self, initializer: Any, units: int) -> None:
        self.initializer, self.units = initializer, units

    def __call__(self, shape: Any, dtype: Any = None) -> devrt.Tensor:
        u = self.units
        ones = initializers.get("ones")
        return devrt.cat(
            [self.initializer((u,), dtype), ones((u,), dtype), self.initializer((2 * u,), dtype)]
        )


class _GatedCell(Layer):
    """What SimpleRNNCell, LSTMCell and GRUCell share: the weights, the
    configs, and the split of a step into the input projection (done for all
    steps at once by the RNN layer) and the recurrent part."""

    gates = 1

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("implementation", None)  # an execution hint of Keras' own
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                f"Received an invalid value for argument `units`, expected a positive "
                f"integer, got {units}."
            )
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.seed = seed
        self.state_size = units
        self.output_size = units

    def _bias_shape(self) -> tuple:
        return (self.gates * self.units,)

    def _bias_initializer(self) -> Any:
        return self.bias_initializer

    def build(self, input_shape: Any) -> None:
        g = self.gates * self.units
        self.kernel = _add_weight_of(self, "kernel", (input_shape[-1], g))
        self.recurrent_kernel = _add_weight_of(
            self, "recurrent_kernel", (self.units, g), attr="recurrent"
        )
        self.bias = (
            _add_weight_of(self, "bias", self._bias_shape(), initializer=self._bias_initializer())
            if self.use_bias
            else None
        )
        self.built = True

    def project(self, inputs: devrt.Tensor, masks: Any = None) -> devrt.Tensor:
        """The input part of every gate, ``inputs @ kernel + bias``, for
        inputs of shape (..., input_dim), with the input dropout `masks`."""
        x = _masked_matmul(inputs, self.kernel, masks)
        return x if self.bias is None else x + self.bias

    def step(
        self, projected: devrt.Tensor, states: list, masks: Any = None
    ) -> tuple[devrt.Tensor, list]:
        """One step from the projected inputs, with the recurrent dropout
        `masks` (None, or a list of one per gate or one for all)."""
        raise NotImplementedError

    def dropout_masks(self, like: devrt.Tensor, rate: float) -> list:
        """Dropout masks of `like`'s shape: one per gate where the cell has
        recurrent dropout (Keras' implementation 1), else one."""
        count = self.gates if self.recurrent_dropout > 0.0 else 1
        return [F.dropout(devrt.ones_like(like), rate) for _ in range(count)]

    def get_initial_state(self, batch_size: int) -> list:
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [
            devrt.zeros((batch_size, s), dtype=self.kernel.dtype, device=self.kernel.device)
            for s in sizes
        ]

    def call(self, inputs: devrt.Tensor, states: Any, training: Any = False) -> tuple:
        """One step on (batch, input_dim) inputs, as Keras' cells."""
        nested = isinstance(states, (list, tuple))
        states = list(states) if nested else [states]
        keep = rec_keep = None
        if training and 0.0 < self.dropout < 1.0:
            keep = self.dropout_masks(inputs, self.dropout)
        if training and 0.0 < self.recurrent_dropout < 1.0:
            rec_keep = self.dropout_masks(states[0], self.recurrent_dropout)
        output, new_states = self.step(self.project(inputs, keep), states, rec_keep)
        return output, (new_states if nested or len(new_states) > 1 else new_states[0])

    def get_config(self) -> dict:
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


class SimpleRNNCell(_GatedCell):
    """``h = activation(x @ kernel + h @ recurrent_kernel + bias)``."""

    gates = 1

    def __init__(self, units: int, **kwargs: Any) -> None:
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, **kwargs)

    def step(
        self, projected: devrt.Tensor, states: list, masks: Any = None
    ) -> tuple[devrt.Tensor, list]:
        h = self.activation(projected + _masked_matmul(states[0], self.recurrent_kernel, masks))
        return h, [h]

    def get_config(self) -> dict:
        config = super().get_config()
        del config["recurrent_activation"]
        return config


class LSTMCell(_GatedCell):
    """The LSTM step: gates i, f, c, o; states [h, c]."""

    gates = 4

    def __init__(self, units: int, unit_forget_bias: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.unit_forget_bias = unit_forget_bias
        self.state_size = [units, units]

    def _bias_initializer(self) -> Any:
        if self.unit_forget_bias:
            return _UnitForgetBias(self.bias_initializer, self.units)
        return self.bias_initializer

    def step(
        self, projected: devrt.Tensor, states: list, masks: Any = None
    ) -> tuple[devrt.Tensor, list]:
        h_tm1, c_tm1 = states
        z = projected + _masked_matmul(h_tm1, self.recurrent_kernel, masks)
        z_i, z_f, z_c, z_o = z.chunk(4, -1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_tm1 + i * self.activation(z_c)
        o = self.recurrent_activation(z_o)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self) -> dict:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_GatedCell):
    """The GRU step: gates z (update), r (reset), h (candidate). With
    ``reset_after`` (Keras 3's default) the reset gate multiplies the
    recurrent projection, which has a bias of its own."""

    gates = 3

    def __init__(self, units: int, reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.reset_after = reset_after

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def project(self, inputs: devrt.Tensor, masks: Any = None) -> devrt.Tensor:
        x = _masked_matmul(inputs, self.kernel, masks)
        if self.bias is None:
            return x
        return x + (self.bias[0] if self.reset_after else self.bias)

    def step(
        self, projected: devrt.Tensor, states: list, masks: Any = None
    ) -> tuple[devrt.Tensor, list]:
        h_tm1 = states[0]
        u = self.units
        x_z, x_r, x_h = projected.chunk(3, -1)
        if self.reset_after:
            inner = _masked_matmul(h_tm1, self.recurrent_kernel, masks)
            if self.bias is not None:
                inner = inner + self.bias[1]
            r_z, r_r, r_h = inner.chunk(3, -1)
        else:
            per_gate = masks is not None and len(masks) > 1
            inner = _masked_matmul(
                h_tm1, self.recurrent_kernel[:, : 2 * u], masks[:2] if per_gate else masks
            )
            r_z, r_r = inner.chunk(2, -1)
        z = self.recurrent_activation(x_z + r_z)
        r = self.recurrent_activation(x_r + r_r)
        if self.reset_after:
            hh = self.activation(x_h + r * r_h)
        else:
            h_h = h_tm1 if masks is None else h_tm1 * masks[-1]
            hh = self.activation(x_h + devrt.matmul(r * h_h, self.recurrent_kernel[:, 2 * u :]))
        h = z * h_tm1 + (1.0 - z) * hh
        return h, [h]

    def get_config(self) -> dict:
        return {**super().get_config(), "reset_after": self.reset_after}


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


class RNN(Layer):
    """Runs `cell` over the time axis of (batch, timesteps, features) inputs.

    Returns the last output, or every output with ``return_sequences``
    (in the order processed: reversed with ``go_backwards``), followed by the
    final states with ``return_state``."""

    def __init__(
        self,
        cell: Any,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ) -> None:
        if isinstance(cell, (list, tuple)):
            raise NotImplementedError("[RNN] stacked cells (a list of cells) are not supported")
        if not hasattr(cell, "call") or not hasattr(cell, "state_size"):
            raise ValueError(
                "Argument `cell` should have a `call` method and a `state_size` attribute. "
                f"Received: cell={cell}"
            )
        if stateful:
            raise NotImplementedError("[RNN] stateful=True is not supported by devrt")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = stateful
        self.unroll = unroll
        self.zero_output_for_mask = zero_output_for_mask
        self.supports_masking = True
        self.input_spec = InputSpec(min_ndim=3)

    def build(self, input_shape: Any) -> None:
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], tuple):
            input_shape = input_shape[0]
        if len(input_shape) < 3:
            raise ValueError(
                f"[{self.name}] expected an input of shape (batch, timesteps, features), "
                f"got {input_shape}"
            )
        if not self.cell.built:
            self.cell._build_by_run((input_shape[0], *input_shape[2:]))
            self.cell.built = True
        self.built = True

    def _initial_state(self, batch: int, like: devrt.Tensor) -> list:
        if hasattr(self.cell, "get_initial_state"):
            return _as_list(self.cell.get_initial_state(batch))
        sizes = _as_list(self.cell.state_size)
        return [devrt.zeros((batch, s), dtype=like.dtype, device=like.device) for s in sizes]

    def get_initial_state(self, batch_size: int) -> list:
        return self._initial_state(batch_size, None)

    def call(
        self,
        sequences: devrt.Tensor,
        initial_state: Any = None,
        mask: Any = None,
        training: Any = False,
    ) -> Any:
        if sequences.ndim != 3:
            raise ValueError(
                f"Input 0 of layer '{self.name}' is incompatible with the layer: expected "
                f"ndim=3, found ndim={sequences.ndim}. Full shape received: "
                f"{tuple(sequences.shape)}"
            )
        batch, steps = sequences.shape[0], sequences.shape[1]
        if initial_state is None:
            states = self._initial_state(batch, sequences)
        else:
            states = _as_list(initial_state)
            want = len(_as_list(self.cell.state_size))
            if len(states) != want:
                raise ValueError(
                    f"[{self.name}] the cell has {want} states; initial_state holds "
                    f"{len(states)} tensors"
                )
        if self.go_backwards:
            sequences = sequences.flip(1)
            mask = None if mask is None else mask.flip(1)
        cell = self.cell
        fused = isinstance(cell, _GatedCell)
        if fused:
            keep = rec_keep = None
            if training and 0.0 < cell.dropout < 1.0:
                keep = cell.dropout_masks(sequences[:, :1], cell.dropout)
            if training and 0.0 < cell.recurrent_dropout < 1.0:
                rec_keep = cell.dropout_masks(states[0], cell.recurrent_dropout)
            projected = cell.project(sequences, keep)
        outputs = []
        output = None
        for t in range(steps):
            if fused:
                out, new_states = cell.step(projected[:, t], states, rec_keep)
            else:
                kwargs = {"training": training} if cell._call_has_training_arg else {}
                out, new_states = cell.call(sequences[:, t], states, **kwargs)
                new_states = _as_list(new_states)
            if mask is not None:
                keep_t = mask[:, t].reshape(batch, 1).to(devrt.bool)
                new_states = [devrt.where(keep_t, n, o) for n, o in zip(new_states, states)]
                if self.zero_output_for_mask:
                    prev = devrt.zeros_like(out)
                else:
                    prev = devrt.zeros_like(out) if output is None else output
                out = devrt.where(keep_t, out, prev)
            states = new_states
            output = out
            if self.return_sequences:
                outputs.append(out)
        if steps == 0:
            raise ValueError(f"[{self.name}] the input has no timesteps: {tuple(sequences.shape)}")
        result = devrt.stack(outputs, 1) if self.return_sequences else output
        if self.return_state:
            return [result, *states]
        return result

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None:
            return None
        mask = mask[0] if isinstance(mask, (list, tuple)) else mask
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(_as_list(self.cell.state_size))
        return output_mask

    def get_config(self) -> dict:
        from devrt.keras import layers

        return {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "cell": layers.serialize(self.cell),
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> RNN:
        from devrt.keras import layers

        config = dict(config)
        cell = layers.deserialize(config.pop("cell"), custom_objects=custom_objects)
        return cls(cell, **config)


class _CellRNN(RNN):
    """An RNN layer that makes its own cell from the cell's arguments (the
    SimpleRNN, LSTM and GRU layers); its config is the cell's, flattened."""

    cell_class: type = _GatedCell
    cell_name = "cell"

    def __init__(
        self,
        units: int,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        use_cudnn: Any = "auto",
        **kwargs: Any,
    ) -> None:
        cell_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _CELL_KEYS}
        kwargs.pop("implementation", None)
        cell = self.cell_class(
            units,
            name=self.cell_name,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            **cell_kwargs,
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            **kwargs,
        )
        self.input_spec = InputSpec(ndim=3)

    def __getattr__(self, name: str) -> Any:
        # units, activation, ... read through to the cell, as in Keras.
        if name in _CELL_KEYS and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def get_config(self) -> dict:
        config = super().get_config()
        del config["cell"]
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        cell_config["activity_regularizer"] = None
        if self.activity_regularizer is not None:
            cell_config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return {**config, **cell_config}

    @classmethod
    def from_config(cls, config: dict) -> _CellRNN:
        config = dict(config)
        config.pop("implementation", None)
        return cls(**config)


class SimpleRNN(_CellRNN):
    """Fully connected RNN: ``h_t = activation(x_t @ kernel + h_{t-1} @
    recurrent_kernel + bias)``."""

    cell_class = SimpleRNNCell
    cell_name = "simple_rnn_cell"

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("seed", None)
        return config


class LSTM(_CellRNN):
    """Long short-term memory (Hochreiter 1997); states [h, c]."""

    cell_class = LSTMCell
    cell_name = "lstm_cell"


class GRU(_CellRNN):
    """Gated recurrent unit (Cho et al. 2014), ``reset_after=True`` by
    default as in Keras 3."""

    cell_class = GRUCell
    cell_name = "gru_cell"
