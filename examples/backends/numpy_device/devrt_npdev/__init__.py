"""npdev: a devrt device written in Python, with memory of its own.

devrt finds this module through the ``devrt.backends`` entry point of the
installed package (see pyproject.toml) and calls its hooks once per
process. ``devrt_register_backends`` registers the device type ``npdev``,
whose tensors live in :class:`~devrt_npdev.memory.Arena` buffers, and one
kernel per catalogue op in :data:`~devrt_npdev.kernels.KERNELS`.
"""

from __future__ import annotations

from devrt.hookspecs import hookimpl
from devrt_npdev.kernels import KERNELS
from devrt_npdev.memory import Arena

NAME = "npdev"
DEVICE_COUNT = 1
MEMORY = Arena(DEVICE_COUNT)


@hookimpl
def devrt_register_backends(registry) -> None:
    registry.register_backend(NAME, device_count=DEVICE_COUNT, memory=MEMORY)
    for op, (fn, dtypes) in KERNELS.items():
        registry.register_kernel(op, NAME, dtypes, fn)


@hookimpl
def devrt_describe() -> dict:
    return {
        "memory": f"NumPy arena, {MEMORY.capacity} bytes per device",
        "kernels": ", ".join(KERNELS),
    }
