"""DataLoader: batches from a dataset, in the main process or in worker
processes (see worker.py for the workers' side)."""

from __future__ import annotations

import itertools
import multiprocessing
import queue
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from devrt.utils.data import worker
from devrt.utils.data.collate import default_collate, default_convert
from devrt.utils.data.dataset import Dataset, IterableDataset
from devrt.utils.data.fetch import make_fetcher
from devrt.utils.data.generator import Generator, as_generator, resolve
from devrt.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]


class _InfiniteConstantSampler(Sampler[None]):
    """The index sampler of an iterable dataset: placeholders, forever."""

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


class DataLoader:
    """Iterates over `dataset` in batches (``torch.utils.data.DataLoader``).

    `batch_size` samples (None: no batching) are drawn in order, or shuffled
    by a seeded `generator` (a ``Generator``, an int seed, or devrt's global
    generator), or by a custom `sampler` / `batch_sampler`, and merged by
    `collate_fn`. With ``num_workers > 0`` worker processes load batches
    ahead (`prefetch_factor` each); `worker_init_fn(worker_id)` runs first in
    each; `persistent_workers` keeps them between epochs. `pin_memory` is
    accepted and ignored (devrt has no pinned host memory yet).
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable | None = None,
        batch_sampler: Sampler | Iterable | None = None,
        num_workers: int = 0,
        collate_fn: Callable | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Generator | int | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                "multiprocessing."
            )
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing. Let "
                "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None."
            )
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 1:
            raise ValueError("prefetch_factor option should be positive")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.generator = as_generator(generator)
        self._iterable = isinstance(dataset, IterableDataset)

        if self._iterable:
            if shuffle not in (False, None):
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                    f"but got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified sampler option, "
                    f"but got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified batch_sampler "
                    f"option, but got batch_sampler={batch_sampler}"
                )
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive "
                "with drop_last"
            )
        if sampler is None:
            if self._iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=self.generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._iterator: _BaseIter | None = None

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Sampler | Iterable:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self) -> _BaseIter:
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if not self.persistent_workers:
            return _MultiProcessIter(self)
        if self._iterator is None or not self._iterator._finalizer.alive:
            self._iterator = _MultiProcessIter(self)
        else:
            self._iterator.reset(self)
        return self._iterator

    def __len__(self) -> int:
        if self._iterable:
            length = len(self.dataset)  # type: ignore[arg-type]
            if self.batch_size is not None:
                if self.drop_last:
                    return length // self.batch_size
                return -(-length // self.batch_size)
            return length
        return len(self._index_sampler)  # type: ignore[arg-type]


class _BaseIter:
    def __init__(self, loader: DataLoader) -> None:
        self._dataset = loader.dataset
        self._iterable = loader._iterable
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._collate_fn = loader.collate_fn
        self._index_sampler = loader._index_sampler
        self._loader_len = loader.__len__
        self._start_sampler(loader)

    def _start_sampler(self, loader: DataLoader) -> None:
        # The workers' base seed comes first from the loader's generator, so
        # that the order is the same with and without workers.
        self._base_seed = resolve(loader.generator).random_seed()
        self._sampler_iter = iter(self._index_sampler)

    def _next_index(self) -> Any:
        return next(self._sampler_iter)

    def __iter__(self) -> _BaseIter:
        return self

    def __len__(self) -> int:
        return self._loader_len()


class _SingleProcessIter(_BaseIter):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._fetcher = make_fetcher(
            self._iterable, self._dataset, self._auto_collation, self._collate_fn, self._drop_last
        )

    def __next__(self) -> Any:
        return self._fetcher.fetch(self._next_index())


class _MultiProcessIter(_BaseIter):
    """Keeps ``prefetch_factor * num_workers`` tasks in flight, sent round
    robin to the workers' index queues, and hands results back in task order
    (or as they arrive, when not `in_order`)."""

    def __init__(self, loader: DataLoader) -> None:
        self._num_workers = loader.num_workers
        self._prefetch = loader.prefetch_factor
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        self._in_order = loader.in_order
        super().__init__(loader)
        ctx = loader.multiprocessing_context
        if ctx is None:
            ctx = multiprocessing
        elif isinstance(ctx, str):
            ctx = multiprocessing.get_context(ctx)
        self._result_queue = ctx.Queue()
        self._done_event = ctx.Event()
        self._index_queues: list[Any] = []
        self._workers: list[Any] = []
        self._finalizer = weakref.finalize(
            self, _shutdown, self._workers, self._index_queues, self._result_queue, self._done_event
        )
        for worker_id in range(self._num_workers):
            index_queue = ctx.Queue()
            index_queue.cancel_join_thread()
            w = ctx.Process(
                target=worker.worker_loop,
                args=(
                    self._iterable,
                    self._dataset,
                    index_queue,
                    self._result_queue,
                    self._done_event,
                    self._auto_collation,
                    self._collate_fn,
                    self._drop_last,
                    self._base_seed,
                    loader.worker_init_fn,
                    worker_id,
                    self._num_workers,
                ),
                daemon=True,
            )
            w.start()
            self._index_queues.append(index_queue)
            self._workers.append(w)
        self._epoch = 0
        self._start_epoch()

    def reset(self, loader: DataLoader) -> None:
        """Starts a persistent loader's next epoch: every worker acknowledges
        the marker; results of an abandoned epoch still queued are dropped."""
        self._start_sampler(loader)
        self._epoch += 1
        marker = worker.ResumeIteration(self._epoch)
        for q in self._index_queues:
            q.put(marker)
        pending = self._num_workers
        while pending:
            idx, _ = self._get_data()
            if idx == marker:
                pending -= 1
        self._start_epoch()

    def _start_epoch(self) -> None:
        self._send_idx = 0  # the next task to send
        self._rcvd_idx = 0  # the next task to return (in order)
        self._task_info: dict[int, tuple] = {}  # idx -> (worker_id,) or (worker_id, data)
        self._active = [True] * self._num_workers
        self._next_worker = itertools.cycle(range(self._num_workers))
        for _ in range(self._prefetch * self._num_workers):
            self._try_put_index()

    def _try_put_index(self) -> None:
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_id = next(self._next_worker)
            if self._active[worker_id]:
                break
        else:
            return  # every worker has exhausted its iterable dataset
        self._index_queues[worker_id].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_id,)
        self._send_idx += 1

    def _get_data(self) -> tuple[Any, Any]:
        """The next (task index, data) from any worker; raises when a worker
        died or `timeout` passed."""
        waited = 0.0
        while True:
            wait = worker.STATUS_CHECK_INTERVAL
            if self._timeout > 0:
                wait = min(wait, self._timeout - waited)
            try:
                idx, payload = self._result_queue.get(timeout=wait)
            except queue.Empty:
                waited += wait
                dead = [w.pid for w in self._workers if not w.is_alive()]
                if dead:
                    self._shutdown_workers()
                    pids = ", ".join(str(p) for p in dead)
                    raise RuntimeError(
                        f"[DataLoader] worker (pid(s) {pids}) exited unexpectedly"
                    ) from None
                if self._timeout > 0 and waited >= self._timeout:
                    raise RuntimeError(
                        f"[DataLoader] timed out after {self._timeout} seconds"
                    ) from None
                continue
            return idx, (payload if payload is None else worker.unpickle(payload))

    def __next__(self) -> Any:
        while True:
            # Skip tasks sent to workers that have since run out of data.
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info is not None and (len(info) == 2 or self._active[info[0]]):
                    break
                self._task_info.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._shutdown_workers()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._process(info[1])
            idx, data = self._get_data()
            if isinstance(data, worker.IterableStop):
                self._active[data.worker_id] = False
                if not self._persistent:
                    self._index_queues[data.worker_id].put(None)
                self._task_info.pop(idx, None)
                self._try_put_index()
                continue
            if idx == self._rcvd_idx or not self._in_order:
                self._task_info.pop(idx, None)
                if idx == self._rcvd_idx:
                    self._rcvd_idx += 1
                return self._process(data)
            self._task_info[idx] += (data,)

    def _process(self, data: Any) -> Any:
        self._try_put_index()
        if isinstance(data, worker.ExceptionWrapper):
            data.reraise()
        return data

    def _shutdown_workers(self) -> None:
        self._finalizer()


def _shutdown(workers: list, index_queues: list, result_queue: Any, done_event: Any) -> None:
    """Stops the workers: those idle exit on the None, the rest are terminated.

    Note: this runs from a ``weakref.finalize`` that holds the queues, not
    from ``__del__``. An iterator dropped inside a reference cycle (a caught
    worker exception's traceback) is collected after the queues' own
    finalizers ran, which stop their feeder threads, so a None put from
    ``__del__`` would never reach the workers."""
    try:
        done_event.set()
        for q in index_queues:
            q.put(None)
        deadline = time.monotonic() + worker.STATUS_CHECK_INTERVAL
        for w in workers:
            w.join(timeout=max(0.0, deadline - time.monotonic()))
        for q in [*index_queues, result_queue]:
            q.cancel_join_thread()
            q.close()
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
