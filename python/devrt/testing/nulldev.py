"""``nulldev``: a device that allocates and computes nothing, for testing
the layers above the kernels.

Its memory is bookkeeping only: a buffer is its size, so a tensor of any
size costs no host memory, while devrt's caching allocator, its memory
stats and out-of-memory handling run as on any device. Copies to the
device are counted and dropped; copies back to the host count and deliver
zeros. Every kernel (one per op and dtype the CPU backend has) returns at
once without writing its outputs, so every value reads back as zero.

What it is for: shapes, dtypes, devices, autograd's wiring, graph planning
and the bytes that cross between host and device, checked on models of any
size at no arithmetic cost, on any machine. It is not a device under test:
the conformance suite leaves it out (``fixtures.NOT_UNDER_TEST``), and a
kernel check (``DEVRT_CHECK_KERNELS=1``) rejects its kernels, which write
nothing by design.

Register it with ``devrt.testing.nulldev.register()``; ``MEMORY`` holds its
counters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import devrt
from devrt.hookspecs import hookimpl

NAME = "nulldev"


class NullBuffer:
    """A buffer of ``nbytes`` bytes that are never stored."""

    __slots__ = ("nbytes",)

    def __init__(self, nbytes: int):
        self.nbytes = nbytes


@dataclass
class NullMemory:
    """The device's memory (:class:`devrt.protocols.Memory`): sizes and
    counters, no bytes. ``capacity`` bounds the bytes in use; beyond it
    ``allocate`` raises MemoryError, which devrt turns into
    ``devrt.OutOfMemoryError``."""

    capacity: int = 1 << 48
    in_use: int = 0
    peak: int = 0
    allocations: int = 0
    bytes_in: int = 0
    bytes_out: int = 0

    def reset(self) -> None:
        """Zero the counters of copies and allocations (not ``in_use``)."""
        self.peak = self.in_use
        self.allocations = self.bytes_in = self.bytes_out = 0

    def allocate(self, device: int, nbytes: int) -> NullBuffer:
        if self.in_use + nbytes > self.capacity:
            raise MemoryError(
                f"{NAME}:{device} cannot allocate {nbytes} bytes: "
                f"{self.in_use} of {self.capacity} in use"
            )
        self.in_use += nbytes
        self.peak = max(self.peak, self.in_use)
        self.allocations += 1
        return NullBuffer(nbytes)

    def free(self, device: int, buffer: NullBuffer) -> None:
        self.in_use -= buffer.nbytes

    def copy_in(self, device: int, buffer: NullBuffer, offset: int, host: memoryview) -> None:
        self.bytes_in += host.nbytes

    def copy_out(self, device: int, buffer: NullBuffer, offset: int, host: memoryview) -> None:
        self.bytes_out += host.nbytes
        np.frombuffer(host, dtype=np.uint8)[:] = 0

    def copy(self, device, dst, dst_offset, src, src_offset, nbytes) -> None:
        pass


MEMORY = NullMemory()


def _nothing(inputs, outputs, attrs) -> None:
    """Every op's kernel: computes nothing, writes nothing."""


class _NullBackend:
    @hookimpl
    def devrt_register_backends(self, registry) -> None:
        registry.register_backend(NAME, device_count=1, memory=MEMORY)
        for op in devrt.catalogue():
            dtypes = op["kernels"].get("cpu")
            if dtypes:
                registry.register_kernel(op["name"], NAME, dtypes, _nothing)

    @hookimpl
    def devrt_describe(self) -> dict:
        return {"kernels": "compute nothing; memory is bookkeeping (devrt.testing.nulldev)"}


def register() -> str:
    """Register ``nulldev`` once per process; returns its name."""
    status = next((s for s in devrt.plugin_status() if s.name == NAME), None)
    if status is None:
        status = devrt.register_plugin(_NullBackend(), name=NAME)
    if not status.loaded:
        raise RuntimeError(f"[nulldev] the backend failed to register: {status.error}")
    return NAME
