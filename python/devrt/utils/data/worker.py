"""The worker-process side of a multi-process DataLoader.

Protocol: each worker reads ``(task_index, sampler_entry)`` from its own
index queue and writes ``(task_index, batch)`` to the shared result queue.
``None`` tells a worker to exit; a ``ResumeIteration`` marker starts a new
epoch of a persistent worker (answered with the marker). A failure travels
as an ``ExceptionWrapper``, the end of an iterable dataset as an
``IterableStop``. Batches travel pickled (tensors as NumPy arrays); a worker pickles each
result itself, so that an unpicklable batch becomes an error in the main
process rather than a result lost in the queue's feeder thread.
"""

from __future__ import annotations

import os
import pickle
import queue
import random
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Any

import numpy as np

from devrt import _C
from devrt.utils.data.fetch import make_fetcher

# How often a blocked worker checks that its parent lives, and a blocked
# main process that its workers live (seconds).
STATUS_CHECK_INTERVAL = 1.0


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker process."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker process: its id, the number of workers, its seed
    and its copy of the dataset. None in the main process."""
    return _worker_info


@dataclass(frozen=True)
class ResumeIteration:
    """Starts the next epoch of a persistent worker."""

    epoch: int


@dataclass(frozen=True)
class IterableStop:
    """Worker `worker_id` has exhausted its copy of an iterable dataset."""

    worker_id: int


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process with its
    formatted traceback and re-raised there."""

    def __init__(self, where: str) -> None:
        exc_type, exc, _ = sys.exc_info()
        self.exc_msg = "".join(traceback.format_exception(exc_type, exc, exc.__traceback__))
        try:
            pickle.dumps(exc_type)
        except Exception:
            exc_type = RuntimeError  # a class the main process could not import
        self.exc_type = exc_type
        self.where = where

    def reraise(self) -> None:
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        try:
            exc = self.exc_type(msg)
        except Exception:
            # Exception types whose constructor takes other arguments.
            raise RuntimeError(msg) from None
        raise exc


class KeyErrorMessage(str):
    """A KeyError prints the repr of its message; this keeps the newlines."""

    def __repr__(self) -> str:
        return self


def _seed_worker(seed: int, worker_id: int) -> None:
    random.seed(seed)
    _C.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, seed]).generate_state(4))


def _pickled(data: Any, where: str) -> bytes:
    try:
        return bytes(ForkingPickler.dumps(data))
    except Exception:
        return bytes(ForkingPickler.dumps(ExceptionWrapper(where)))


def unpickle(payload: bytes) -> Any:
    return pickle.loads(payload)


def worker_loop(
    iterable: bool,
    dataset: Any,
    index_queue: Any,
    result_queue: Any,
    done_event: Any,
    auto_collation: bool,
    collate_fn: Callable,
    drop_last: bool,
    base_seed: int,
    init_fn: Callable[[int], None] | None,
    worker_id: int,
    num_workers: int,
) -> None:
    """The body of a worker process (see the module's docstring)."""
    global _worker_info
    parent = os.getppid()
    try:
        seed = base_seed + worker_id
        _seed_worker(seed, worker_id)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        where = f"in DataLoader worker process {worker_id}"
        init_error = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_error = ExceptionWrapper(where)
        exhausted = False
        while os.getppid() == parent:
            try:
                task = index_queue.get(timeout=STATUS_CHECK_INTERVAL)
            except queue.Empty:
                continue
            if isinstance(task, ResumeIteration):
                result_queue.put((task, None))
                exhausted = False
                if init_error is None:
                    fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
                continue
            if task is None:
                break
            if done_event.is_set() or exhausted:
                continue
            idx, index = task
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if not iterable:
                        data = ExceptionWrapper(where)
                    else:
                        data = IterableStop(worker_id)
                        exhausted = True
                except Exception:
                    data = ExceptionWrapper(where)
            result_queue.put((idx, _pickled(data, where)))
            del data, idx, index, task
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        # Exit without flushing results nobody will read.
        result_queue.cancel_join_thread()
        result_queue.close()
