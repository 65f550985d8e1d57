"""Shared timing helpers for the benchmarks: interleaved rounds in one
process, reporting the median per-call time of each contender."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable


def per_call(fn: Callable[[], object], number: int) -> float:
    """Seconds per call of fn over `number` calls."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def calibrate(fn: Callable[[], object], target: float = 0.02) -> int:
    """How many calls of fn take about `target` seconds."""
    fn()
    n = 1
    while True:
        t = per_call(fn, n) * n
        if t >= target or n >= 1 << 22:
            return max(1, int(n * target / max(t, 1e-9)))
        n *= 4


def compare(
    contenders: dict[str, Callable[[], object]], rounds: int = 15, settle: float = 0.0
) -> dict[str, float]:
    """Median seconds per call of each contender, measured in interleaved
    rounds so that machine noise hits all of them alike.

    `settle` sleeps between contenders: each library brings its own BLAS
    thread pool, whose threads spin for a while after a call and would steal
    the cores from the next contender. After the pause one call runs
    untimed, since the first call after idling is slower for everyone
    (sleeping workers, clocks and caches warming up)."""
    numbers = {name: calibrate(fn) for name, fn in contenders.items()}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            if settle:
                time.sleep(settle)
                fn()  # untimed: the first call after a pause runs cold
            samples[name].append(per_call(fn, numbers[name]))
    return {name: statistics.median(s) for name, s in samples.items()}


def blas_setting() -> str:
    """OpenBLAS's configuration in this process, which names the kernels it
    runs, and whether the environment forced them; for the headers."""
    from devrt import plugins

    config = plugins.describe().get("cpu", {}).get("blas", "OpenBLAS not loaded")
    forced = {
        k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ
    }
    how = ", ".join(f"{k}={v}" for k, v in forced.items()) or "OpenBLAS's own choice"
    return f"{config} ({how})"


def try_import_torch():
    try:
        import torch

        torch.set_num_threads(2)
        return torch
    except Exception:
        return None


def try_import_tf():
    """TensorFlow on two intra-op threads, or None where it is not installed."""
    try:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(2)
        return tf
    except Exception:
        return None
