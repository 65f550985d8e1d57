"""npdev's memory: NumPy byte arrays that only this package looks inside.

devrt never reads or writes these buffers itself; every byte that crosses
between the host and the device goes through ``copy_in`` and ``copy_out``
(the :class:`devrt.protocols.Memory` protocol). devrt's caching allocator
sits in front of ``allocate`` and ``free``, so they run rarely.
"""

from __future__ import annotations

import os

import numpy as np

# The device's capacity in bytes; NPDEV_MEMORY overrides it (e.g. to try
# devrt's out-of-memory handling).
DEFAULT_CAPACITY = 1 << 30


class Arena:
    """Per device, a budget of ``capacity`` bytes handed out as ``np.uint8``
    arrays. ``allocate`` raises MemoryError when the budget is spent: devrt
    then empties its cache, retries once and raises
    ``devrt.OutOfMemoryError``."""

    def __init__(self, device_count: int = 1, capacity: int | None = None):
        if capacity is None:
            capacity = int(os.environ.get("NPDEV_MEMORY", DEFAULT_CAPACITY))
        self.capacity = capacity
        self.in_use = [0] * device_count

    def allocate(self, device: int, nbytes: int) -> np.ndarray:
        nbytes = max(nbytes, 1)  # every buffer a distinct array, even an empty one
        if self.in_use[device] + nbytes > self.capacity:
            raise MemoryError(
                f"npdev:{device} cannot allocate {nbytes} bytes: "
                f"{self.in_use[device]} of {self.capacity} in use"
            )
        self.in_use[device] += nbytes
        return np.empty(nbytes, dtype=np.uint8)

    def free(self, device: int, buffer: np.ndarray) -> None:
        self.in_use[device] -= buffer.size

    def copy_in(self, device: int, buffer: np.ndarray, offset: int, host: memoryview) -> None:
        buffer[offset : offset + host.nbytes] = np.frombuffer(host, dtype=np.uint8)

    def copy_out(self, device: int, buffer: np.ndarray, offset: int, host: memoryview) -> None:
        np.frombuffer(host, dtype=np.uint8)[:] = buffer[offset : offset + host.nbytes]

    def copy(self, device, dst, dst_offset, src, src_offset, nbytes) -> None:
        dst[dst_offset : dst_offset + nbytes] = src[src_offset : src_offset + nbytes]
