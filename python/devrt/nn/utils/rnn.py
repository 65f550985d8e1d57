"""Variable-length sequences for the recurrent layers, as torch.nn.utils.rnn.

A PackedSequence holds the steps of a batch of sequences, sorted by
decreasing length, packed time-major: step t contributes the rows of the
``batch_sizes[t]`` sequences still running at t. The lengths and orders are
host data (Python ints and CPU int64 tensors), as in PyTorch; the values
move only through devrt ops (index_select, cat, split, stack).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import devrt
from devrt._errors import public_op as _public_op

Tensor = devrt.Tensor

__all__ = [
    "PackedSequence",
    "pack_padded_sequence",
    "pack_sequence",
    "pad_packed_sequence",
    "pad_sequence",
]


class PackedSequence(NamedTuple):
    """``data`` (sum of lengths, *), ``batch_sizes`` (a CPU int64 tensor, one
    count per step), and the permutation from the caller's batch order to
    the sorted one (``sorted_indices``) and back (``unsorted_indices``),
    None when the batch came sorted."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """The same packing with `data` (and the index tensors, which keep
        their dtype) moved or cast as ``Tensor.to``."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self

        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(data.device)

        return PackedSequence(
            data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices)
        )

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def float(self) -> PackedSequence:
        return self.to(devrt.float32)

    def double(self) -> PackedSequence:
        return self.to(devrt.float64)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda


def _host_lengths(op: str, lengths: Any) -> list[int]:
    if isinstance(lengths, Tensor):
        if lengths.ndim != 1 or lengths.is_floating_point():
            raise ValueError(
                f"[{op}] lengths must be a 1-D integer tensor, got {lengths.dtype} of shape "
                f"{tuple(lengths.shape)}"
            )
        return [int(v) for v in lengths.tolist()]
    return [int(v) for v in lengths]


def _inverse(order: list[int]) -> list[int]:
    inverse = [0] * len(order)
    for position, index in enumerate(order):
        inverse[index] = position
    return inverse


@_public_op
def pack_padded_sequence(
    input: Tensor, lengths: Any, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Packs a padded batch ``(T, B, *)`` (``(B, T, *)`` when `batch_first`)
    whose sequence b has ``lengths[b]`` valid steps. With `enforce_sorted`
    the lengths must already decrease; otherwise the batch is sorted here
    and the permutation kept for unpacking."""
    op = "pack_padded_sequence"
    lens = _host_lengths(op, lengths)
    batch_dim = 0 if batch_first else 1
    if input.ndim < 2 or len(lens) != input.shape[batch_dim]:
        raise ValueError(
            f"[{op}] expected {input.shape[batch_dim] if input.ndim >= 2 else 'a batch of'} "
            f"lengths for an input of shape {tuple(input.shape)}, got {len(lens)}"
        )
    if enforce_sorted:
        if any(a < b for a, b in zip(lens, lens[1:])):
            raise RuntimeError(
                f"[{op}] `lengths` array must be sorted in decreasing order when "
                f"`enforce_sorted` is True, got {lens}. You can pass `enforce_sorted=False` "
                f"to pack_padded_sequence and/or pack_sequence to sidestep this requirement "
                f"if you do not need ONNX exportability."
            )
        order = None
    else:
        order = sorted(range(len(lens)), key=lambda b: -lens[b])
        lens = [lens[b] for b in order]
    if lens and lens[-1] <= 0:
        raise RuntimeError(
            f"[{op}] Length of all samples has to be greater than 0, but found an element "
            f"in 'lengths' that is <= 0"
        )
    steps = input.shape[1 - batch_dim]
    if lens and lens[0] > steps:
        raise RuntimeError(
            f"[{op}] the longest length {lens[0]} exceeds the {steps} steps of the input "
            f"of shape {tuple(input.shape)}"
        )
    x = input.transpose(0, 1) if batch_first else input
    sorted_indices = unsorted_indices = None
    if order is not None:
        sorted_indices = devrt.tensor(order, dtype=devrt.int64, device=input.device)
        unsorted_indices = devrt.tensor(_inverse(order), dtype=devrt.int64, device=input.device)
        x = x.index_select(1, sorted_indices)
    batch_sizes = [sum(1 for n in lens if n > t) for t in range(lens[0] if lens else 0)]
    data = devrt.cat([x[t, :bs] for t, bs in enumerate(batch_sizes)], 0)
    return PackedSequence(
        data, devrt.tensor(batch_sizes, dtype=devrt.int64), sorted_indices, unsorted_indices
    )


@_public_op
def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """The inverse of pack_padded_sequence: ``(padded, lengths)``, padded
    with `padding_value` to `total_length` steps (default: the longest),
    in the caller's original batch order."""
    op = "pad_packed_sequence"
    data, batch_sizes = sequence.data, [int(v) for v in sequence.batch_sizes.tolist()]
    steps = len(batch_sizes)
    if total_length is not None and total_length < steps:
        raise ValueError(
            f"[{op}] Expected total_length to be at least the length of the longest "
            f"sequence in input, but got total_length={total_length} and max sequence "
            f"length being {steps}"
        )
    batch = batch_sizes[0] if batch_sizes else 0
    rows = []
    for chunk in devrt.split(data, batch_sizes, 0):
        if chunk.shape[0] < batch:
            filler = devrt.full(
                (batch - chunk.shape[0], *data.shape[1:]),
                padding_value,
                dtype=data.dtype,
                device=data.device,
            )
            chunk = devrt.cat([chunk, filler], 0)
        rows.append(chunk)
    if total_length is not None and total_length > steps:
        filler = devrt.full(
            (batch, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device
        )
        rows.extend([filler] * (total_length - steps))
    padded = devrt.stack(rows, 0)
    lengths = [sum(1 for bs in batch_sizes if bs > b) for b in range(batch)]
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = [lengths[b] for b in sequence.unsorted_indices.tolist()]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, devrt.tensor(lengths, dtype=devrt.int64)


@_public_op
def pad_sequence(
    sequences: Sequence[Tensor] | Tensor,
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stacks sequences ``(L_i, *)`` into ``(L_max, B, *)`` (``(B, L_max, *)``
    when `batch_first`), padding each on `padding_side` with `padding_value`."""
    op = "pad_sequence"
    if padding_side not in ("left", "right"):
        raise ValueError(f"[{op}] padding_side must be 'left' or 'right', got {padding_side!r}")
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError(f"[{op}] received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = longest - s.shape[0]
        if missing:
            filler = devrt.full(
                (missing, *s.shape[1:]), padding_value, dtype=s.dtype, device=s.device
            )
            s = devrt.cat([s, filler] if padding_side == "right" else [filler, s], 0)
        padded.append(s)
    return devrt.stack(padded, 0 if batch_first else 1)


@_public_op
def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Packs a list of sequences ``(L_i, *)``: pad_sequence, then
    pack_padded_sequence with their lengths."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)
