"""``keras.utils.PyDataset``: a dataset written in Python, indexed by batch.

A subclass returns whole batches from ``__getitem__`` and their count from
``__len__`` (or the ``num_batches`` property, None for an endless dataset).
``fit`` calls ``on_epoch_begin``/``on_epoch_end`` around each epoch.
``workers``, ``use_multiprocessing`` and ``max_queue_size`` are kept for
Keras compatibility; devrt reads the batches in the training thread.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from typing import Any


class PyDataset:
    """Base class of datasets that produce one batch per index.

    Args:
        workers: number of workers Keras would read batches with.
        use_multiprocessing: whether Keras would read them in processes.
        max_queue_size: how many batches Keras would read ahead.
    """

    def __init__(
        self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10
    ) -> None:
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self) -> None:
        warn = False
        for name, default in (
            ("_workers", 1),
            ("_use_multiprocessing", False),
            ("_max_queue_size", 10),
        ):
            if not hasattr(self, name):
                setattr(self, name, default)
                warn = True
        if warn:
            warnings.warn(
                "Your `PyDataset` class should call `super().__init__(**kwargs)` in "
                "its constructor. `**kwargs` can include `workers`, "
                "`use_multiprocessing`, `max_queue_size`. Do not pass these "
                "arguments to `fit()`, as they will be ignored.",
                stacklevel=3,
            )

    @property
    def workers(self) -> int:
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = value

    def __getitem__(self, index: int) -> Any:
        """The batch at position `index`."""
        raise NotImplementedError(
            f"[PyDataset] {type(self).__name__} must implement __getitem__(index)"
        )

    def __iter__(self) -> Iterator[Any]:
        try:
            num_batches = self.num_batches
        except NotImplementedError:
            num_batches = None
        indices = itertools.count() if num_batches is None else range(num_batches)
        for index in indices:
            yield self[index]

    @property
    def num_batches(self) -> int | None:
        """The number of batches, or None for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            "You need to implement the `num_batches` property:\n\n"
            "@property\ndef num_batches(self):\n  return ..."
        )

    def on_epoch_begin(self) -> None:
        """Called at the beginning of every epoch."""

    def on_epoch_end(self) -> None:
        """Called at the end of every epoch."""
