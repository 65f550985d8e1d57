"""Turning a list of samples into a batch (``default_collate``) and host data
into tensors (``default_convert``)."""

from __future__ import annotations

import collections.abc
import numbers
from typing import Any

import numpy as np

from devrt import _C
from devrt._C import Tensor
from devrt._tensor import as_tensor, tensor
from devrt.autograd.grad_mode import no_grad

__all__ = ["default_collate", "default_convert"]

_STRING_KINDS = "SaUO"  # NumPy dtypes that hold strings or objects


def _stack(batch: list[Tensor]) -> Tensor:
    """The tensors of `batch` stacked along a new first dimension, each
    copied by a core op into its row of a preallocated result."""
    first = batch[0]
    for i, t in enumerate(batch):
        if t.shape != first.shape:
            raise RuntimeError(
                f"[default_collate] stack expects each tensor to be equal size, but got "
                f"{list(first.shape)} at entry 0 and {list(t.shape)} at entry {i}"
            )
        if t.dtype != first.dtype or t.device != first.device:
            raise RuntimeError(
                f"[default_collate] stack expects tensors of one dtype and device, but got "
                f"{first.dtype} on {first.device} at entry 0 and {t.dtype} on {t.device} "
                f"at entry {i}"
            )
    out = _C.empty((len(batch), *first.shape), dtype=first.dtype, device=first.device)
    with no_grad():
        for i, t in enumerate(batch):
            out[i] = t
    return out


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def default_collate(batch: list) -> Any:
    """Collates a list of samples into a batch, recursively: tensors are
    stacked along a new first dimension; NumPy arrays and numbers become
    tensors (Python floats float64, ints int64); strings stay a list; dicts,
    named tuples and sequences are collated field by field (sequences give
    lists, as in PyTorch)."""
    elem = batch[0]
    elem_type = type(elem)
    if isinstance(elem, Tensor):
        return _stack(batch)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in _STRING_KINDS:
            raise TypeError(_type_error(elem.dtype))
        return as_tensor(np.stack(batch))
    if isinstance(elem, np.generic):
        if elem.dtype.kind in _STRING_KINDS:
            raise TypeError(_type_error(elem.dtype))
        return as_tensor(np.array(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=_C.float64)
    if isinstance(elem, bool):
        return tensor(batch, dtype=_C.bool)
    if isinstance(elem, numbers.Integral):
        return tensor(batch, dtype=_C.int64)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return elem_type(fields)
        except TypeError:
            return fields
    if _is_namedtuple(elem):
        return elem_type(*(default_collate(list(samples)) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError(
                "[default_collate] each element in list of batch should be of equal size"
            )
        return [default_collate(list(samples)) for samples in zip(*batch)]
    raise TypeError(_type_error(elem_type))


def _type_error(what: Any) -> str:
    return (
        f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        f"found {what}"
    )


def default_convert(data: Any) -> Any:
    """Converts NumPy arrays (and NumPy scalars) in `data` to tensors,
    recursively; everything else is left as it is. The collate function of a
    DataLoader that does not batch (``batch_size=None``)."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray) or isinstance(data, np.generic):
        if data.dtype.kind in _STRING_KINDS:
            return data
        return as_tensor(data)
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        fields = {key: default_convert(data[key]) for key in data}
        try:
            return type(data)(fields)
        except TypeError:
            return fields
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
