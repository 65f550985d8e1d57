"""Shared helpers for the benchmarks. The timing (interleaved rounds in one
process, the median per-call time of each contender) is devrt's own
``devrt.utils.benchmark``, which ``devrt bench`` uses too."""

from __future__ import annotations

import os

from devrt.utils.benchmark import calibrate, compare, per_call

__all__ = ["blas_setting", "calibrate", "compare", "per_call", "try_import_tf", "try_import_torch"]


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
