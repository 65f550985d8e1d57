"""Datasets: the map-style and iterable protocols, tensors as a dataset,
subsets, concatenation and random splits."""

from __future__ import annotations

import bisect
import math
import warnings
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import Any, Generic, TypeVar

from devrt._C import Tensor
from devrt.utils.data.generator import Generator, as_generator, resolve

T_co = TypeVar("T_co", covariant=True)

__all__ = [
    "ConcatDataset",
    "Dataset",
    "IterableDataset",
    "Subset",
    "TensorDataset",
    "random_split",
]


class Dataset(Generic[T_co]):
    """A map-style dataset: ``dataset[i]`` returns sample `i`. Subclasses
    implement ``__getitem__`` and usually ``__len__`` (samplers need it)."""

    def __getitem__(self, index: Any) -> T_co:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """A dataset read as a stream: subclasses implement ``__iter__``. With
    several DataLoader workers each worker iterates its own copy; split the
    work with ``get_worker_info()``."""

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other: Dataset):
        raise TypeError("[IterableDataset] concatenation of iterable datasets is not supported")


class TensorDataset(Dataset[tuple]):
    """Sample `i` is ``tuple(t[i] for t in tensors)``; every tensor has the
    same first dimension."""

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("[TensorDataset] needs at least one tensor")
        for t in tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"[TensorDataset] expected tensors, got {type(t).__name__}")
            if t.ndim == 0:
                raise ValueError("[TensorDataset] a 0-d tensor has no samples to index")
        sizes = [t.shape[0] for t in tensors]
        if any(s != sizes[0] for s in sizes):
            raise ValueError(f"[TensorDataset] size mismatch between tensors: first dims {sizes}")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset[T_co]):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> T_co:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list:
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset[T_co]):
    """Map-style datasets one after the other."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("[ConcatDataset] datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("[ConcatDataset] does not support IterableDataset")
        self.cumulative_sizes = list(accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> T_co:
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][idx - start]


def random_split(
    dataset: Dataset[T_co],
    lengths: Sequence[int | float],
    generator: Generator | int | None = None,
) -> list[Subset[T_co]]:
    """Splits `dataset` into non-overlapping random subsets of the given
    `lengths`, or of the given fractions of its length (the remainder goes
    round-robin to the first subsets). A seeded `generator` (or int seed)
    makes the split reproducible."""
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            sizes.append(int(math.floor(n * frac)))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.",
                    stacklevel=2,
                )
        lengths = sizes
    if any(int(length) != length or length < 0 for length in lengths):
        raise ValueError(f"[random_split] lengths must be non-negative integers, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(
            f"Sum of input lengths ({sum(lengths)}) does not equal the length of the input "
            f"dataset ({n})!"
        )
    indices = resolve(as_generator(generator)).randperm(n)
    return [
        Subset(dataset, indices[end - length : end])
        for end, length in zip(accumulate(lengths), lengths)
    ]
