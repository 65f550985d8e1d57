"""Helpers for testing devrt and its backends."""

from __future__ import annotations

import functools

import devrt


@functools.cache
def _kernel_table() -> dict[str, dict[str, list[str]]]:
    return {op["name"]: op["kernels"] for op in devrt.catalogue()}


def device_type(device: str) -> str:
    return str(device).split(":")[0]


def supports(device: str, op: str, dtype: object | None = None) -> bool:
    """Whether `device` has a kernel for `op` (for `dtype`, if given): the
    backend's capability manifest, as registered."""
    _kernel_table.cache_clear()
    kernels = _kernel_table().get(op, {}).get(device_type(device))
    if kernels is None:
        return False
    if dtype is None:
        return True
    name = dtype if isinstance(dtype, str) else dtype.name
    return name in kernels


def missing(device: str, ops: list[str], dtype: object | None = None) -> list[str]:
    """The ops of `ops` that `device` cannot run for `dtype`."""
    return [op for op in ops if not supports(device, op, dtype)]
