"""Fetchers: turn one entry of the index sampler into one batch. The same
code runs in the main process and in worker processes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class MapFetcher:
    """``collate([dataset[i] for i in indices])`` (one sample when not
    batching); uses ``dataset.__getitems__`` when the dataset has one."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable, drop_last: bool):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.getitems = getattr(dataset, "__getitems__", None)

    def fetch(self, index: Any) -> Any:
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if callable(self.getitems):
            data = self.getitems(index)
        else:
            data = [self.dataset[i] for i in index]
        return self.collate_fn(data)


class IterableFetcher:
    """The next ``len(placeholders)`` samples of the dataset's iterator;
    raises StopIteration once it is exhausted (or before a short last batch
    when `drop_last`)."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable, drop_last: bool):
        self.iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, placeholders: Any) -> Any:
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        data = []
        for _ in placeholders:
            try:
                data.append(next(self.iterator))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(placeholders)):
            raise StopIteration
        return self.collate_fn(data)


def make_fetcher(
    iterable: bool, dataset: Any, auto_collation: bool, collate_fn: Callable, drop_last: bool
) -> MapFetcher | IterableFetcher:
    cls = IterableFetcher if iterable else MapFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)
