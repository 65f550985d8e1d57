"""What ``fit``, ``evaluate`` and ``predict`` accept, as one iterator of
``(x, y, sample_weight)`` batches of devrt tensors per epoch.

- arrays: NumPy arrays, devrt tensors, and lists/tuples/dicts of them. They
  move to the device once; a batch is a slice (a view) or, when shuffled,
  one ``index_select`` of the epoch's permutation;
- ``devrt.utils.data`` datasets (batched here) and DataLoaders;
- Python generators and iterators yielding ``x``, ``(x, y)`` or
  ``(x, y, sample_weight)``;
- ``keras.utils.PyDataset``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

import devrt
from devrt.keras import backend
from devrt.keras.keras_tensor import flatten, map_structure


def _is_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, devrt.Tensor)) or (
        hasattr(x, "__array__") and not isinstance(x, (str, bytes))
    )


def _is_array_structure(x: Any) -> bool:
    if x is None:
        return True
    if isinstance(x, (list, tuple)) and x and all(isinstance(v, (int, float)) for v in x):
        return True  # a plain list of numbers is one array
    leaves = flatten(x)
    return bool(leaves) and all(_is_array(v) or isinstance(v, (list,)) for v in leaves)


def _to_device(x: Any, device: str) -> Any:
    def convert(v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, devrt.Tensor):
            return v.detach() if str(v.device) == device else v.detach().to(device)
        array = np.asarray(v)
        if array.dtype == np.float64:
            array = array.astype(backend.floatx())
        return backend.convert_to_tensor(array, device=device)

    if isinstance(x, (list, tuple)) and x and all(isinstance(v, (int, float)) for v in x):
        return convert(x)
    return map_structure(convert, x)


def _num_samples(name: str, x: Any) -> list[int]:
    return [int(v.shape[0]) for v in flatten(x) if v is not None]


def class_weight_to_sample_weight(y: devrt.Tensor, class_weight: dict) -> devrt.Tensor:
    """Per-sample weights from a ``{class: weight}`` dict: the class of a
    sample is its integer label, or the argmax of its one-hot row."""
    labels = y
    if labels.ndim > 1 and labels.shape[-1] > 1:
        labels = labels.argmax(dim=-1)
    elif labels.ndim > 1:
        labels = labels.reshape(-1)
    labels = labels.to(devrt.int64)
    largest = max(int(k) for k in class_weight)
    table = [1.0] * (largest + 1)
    for k, w in class_weight.items():
        table[int(k)] = float(w)
    top = int(labels.max()) if labels.numel() else 0
    if top > largest:
        raise ValueError(
            f"[class_weight] the labels reach class {top} but class_weight only names "
            f"classes up to {largest}"
        )
    weights = devrt.tensor(table, dtype=devrt.float32, device=labels.device)
    return devrt.index_select(weights, 0, labels.reshape(-1))


class ArrayAdapter:
    """Batches of in-memory arrays."""

    def __init__(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        batch_size: int | None = None,
        shuffle: Any = False,
        class_weight: dict | None = None,
        steps: int | None = None,
        device: str = "cpu",
        op: str = "fit",
    ) -> None:
        self.x = _to_device(x, device)
        self.y = _to_device(y, device)
        self.sample_weight = _to_device(sample_weight, device)
        sizes = {
            "x": _num_samples("x", self.x),
            "y": _num_samples("y", self.y),
            "sample_weight": _num_samples("sample_weight", self.sample_weight),
        }
        distinct = {n for values in sizes.values() for n in values}
        if len(distinct) > 1:
            detail = " ".join(
                f"'{name}' sizes: {', '.join(map(str, values))}"
                for name, values in sizes.items()
                if values
            )
            raise ValueError(
                f"[{op}] Data cardinality is ambiguous: make sure all arrays contain the same "
                f"number of samples. {detail}"
            )
        if not distinct:
            raise ValueError(f"[{op}] no input data: x is empty")
        self.num_samples = distinct.pop()
        if class_weight is not None:
            if self.y is None or isinstance(self.y, (list, tuple, dict)):
                raise ValueError("[fit] class_weight needs a single array of targets `y`")
            cw = class_weight_to_sample_weight(self.y, class_weight)
            self.sample_weight = cw if self.sample_weight is None else self.sample_weight * cw
        self.batch_size = int(batch_size or 32)
        if self.batch_size <= 0:
            raise ValueError(f"[{op}] batch_size must be positive, got {batch_size}")
        self.shuffle = shuffle
        self.steps = steps or math.ceil(self.num_samples / self.batch_size)
        self.device = device

    def __len__(self) -> int:
        return self.steps

    def epoch(self) -> Iterator[tuple]:
        n, bs = self.num_samples, self.batch_size
        starts = list(range(0, n, bs))
        x, y, sw = self.x, self.y, self.sample_weight
        perm = None
        if self.shuffle == "batch":
            order = devrt.randperm(len(starts)).tolist()
            starts = [starts[i] for i in order]
        elif self.shuffle is True:
            perm = devrt.randperm(n, device=self.device)
        plain = isinstance(x, devrt.Tensor) and (y is None or isinstance(y, devrt.Tensor))
        for step in range(self.steps):
            start = starts[step % len(starts)]
            size = min(start + bs, n) - start
            if plain and sw is None:
                # Each batch gathers its rows (or views them, unshuffled) just
                # before the step reads them, while they are still in cache.
                if perm is None:
                    yield (
                        x.narrow(0, start, size),
                        None if y is None else y.narrow(0, start, size),
                        None,
                    )
                else:
                    idx = perm.narrow(0, start, size)
                    yield (
                        devrt.index_select(x, 0, idx),
                        None if y is None else devrt.index_select(y, 0, idx),
                        None,
                    )
                continue
            take = (
                _slicer(start, start + size)
                if perm is None
                else _gather(perm.narrow(0, start, size))
            )
            yield map_structure(take, x), map_structure(take, y), map_structure(take, sw)

    def split(self, fraction: float) -> tuple[ArrayAdapter, Any]:
        """Keras' validation_split: the last `fraction` of the samples, taken
        before any shuffling."""
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"[fit] validation_split must be in (0, 1), got {fraction}")
        cut = int(self.num_samples * (1.0 - fraction))
        if cut == 0 or cut == self.num_samples:
            raise ValueError(
                f"[fit] validation_split={fraction} leaves no samples for training or for "
                f"validation out of {self.num_samples}"
            )
        head, tail = _slicer(0, cut), _slicer(cut, self.num_samples)
        val = (
            map_structure(tail, self.x),
            map_structure(tail, self.y),
            map_structure(tail, self.sample_weight),
        )
        self.x = map_structure(head, self.x)
        self.y = map_structure(head, self.y)
        self.sample_weight = map_structure(head, self.sample_weight)
        self.num_samples = cut
        self.steps = math.ceil(cut / self.batch_size)
        return self, val


def _slicer(start: int, stop: int) -> Any:
    def take(v: Any) -> Any:
        return None if v is None else v[start:stop]

    return take


def _gather(idx: devrt.Tensor) -> Any:
    def take(v: Any) -> Any:
        return None if v is None else devrt.index_select(v, 0, idx)

    return take


def _unpack(batch: Any) -> tuple:
    if isinstance(batch, (list, tuple)):
        if len(batch) == 1:
            return batch[0], None, None
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch[0], batch[1], batch[2]
        raise ValueError(
            "Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, "
            f"found a tuple of {len(batch)} elements"
        )
    return batch, None, None


class IterableAdapter:
    """Batches from a DataLoader, a PyDataset, a generator or any iterable."""

    def __init__(self, data: Any, steps: int | None, device: str, py_dataset: bool = False) -> None:
        self.data = data
        self.device = device
        self.py_dataset = py_dataset
        self._iterator: Iterator | None = None
        self.reiterable = py_dataset or iter(data) is not data
        if steps is None and py_dataset:
            steps = len(data)
        elif steps is None and hasattr(data, "__len__") and self.reiterable:
            steps = len(data)
        self.steps = steps

    def __len__(self) -> int | None:  # type: ignore[override]
        return self.steps

    def _source(self) -> Iterator:
        if self.py_dataset:
            return (self.data[i] for i in range(len(self.data)))
        if self.reiterable:
            return iter(self.data)
        if self._iterator is None:
            self._iterator = iter(self.data)
        return self._iterator

    def epoch(self) -> Iterator[tuple]:
        source = self._source()
        count = 0
        while self.steps is None or count < self.steps:
            try:
                batch = next(source)
            except StopIteration:
                if self.steps is not None and not self.reiterable and count == 0:
                    return
                if self.steps is not None and self.reiterable and count < self.steps:
                    source = self._source()
                    continue
                return
            x, y, sw = _unpack(batch)
            yield (
                _to_device(x, self.device),
                _to_device(y, self.device),
                _to_device(sw, self.device),
            )
            count += 1
        if self.py_dataset:
            self.data.on_epoch_end()


def adapter_for(
    x: Any,
    y: Any = None,
    sample_weight: Any = None,
    batch_size: int | None = None,
    steps: int | None = None,
    shuffle: Any = False,
    class_weight: dict | None = None,
    op: str = "fit",
) -> Any:
    from devrt.keras.utils.py_dataset import PyDataset
    from devrt.utils.data import DataLoader, Dataset

    device = backend.current_device()
    if isinstance(x, PyDataset):
        _no_targets(op, "a PyDataset", y, sample_weight)
        return IterableAdapter(x, steps, device, py_dataset=True)
    if isinstance(x, Dataset) and not isinstance(x, DataLoader):
        _no_targets(op, "a Dataset", y, sample_weight)
        loader = DataLoader(x, batch_size=batch_size or 32, shuffle=bool(shuffle) and op == "fit")
        return IterableAdapter(loader, steps, device)
    if isinstance(x, DataLoader) or (
        not _is_array_structure(x) and hasattr(x, "__iter__") and not isinstance(x, dict)
    ):
        _no_targets(op, type(x).__name__, y, sample_weight)
        return IterableAdapter(x, steps, device)
    return ArrayAdapter(x, y, sample_weight, batch_size, shuffle, class_weight, steps, device, op)


def _no_targets(op: str, what: str, y: Any, sample_weight: Any) -> None:
    if y is not None or sample_weight is not None:
        raise ValueError(
            f"[{op}] when x is {what}, it must yield the targets too: do not pass y or "
            "sample_weight"
        )
