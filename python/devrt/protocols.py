"""What a backend written in Python provides: kernels, and optionally memory.

A kernel is any callable ``fn(inputs, outputs, attrs) -> None`` (the
:class:`Kernel` protocol). It computes into ``outputs``, which the core has
already allocated with their final shapes and dtypes, and returns nothing.
``attrs`` maps the op's attribute names, in the order the catalogue lists
them (``devrt.catalogue()``, ``docs/kernels.md``), to Python values.

On a backend whose memory is host memory (``register_backend(name)``),
inputs and outputs are NumPy arrays viewing that memory. On a backend with
memory of its own (``register_backend(name, memory=...)``, the
:class:`Memory` protocol), they are :class:`DeviceView` objects: the
backend's own buffer objects, with the geometry to read them.

Both are checked when registered: a kernel that cannot be called with three
positional arguments, or a memory object that lacks one of the methods below
or takes other arguments, is refused with a TypeError naming it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "DeviceView",
    "Kernel",
    "Memory",
    "check_kernel",
    "check_memory",
    "checking_kernels",
    "set_check_kernels",
]


@runtime_checkable
class Kernel(Protocol):
    """``fn(inputs, outputs, attrs)``: compute ``outputs`` from ``inputs``.

    ``inputs`` and ``outputs`` are lists of NumPy arrays (host memory) or of
    :class:`DeviceView` (a backend with its own memory); ``attrs`` is a dict.
    A kernel writes every element of every output (``index_put`` only the
    indexed ones), writes nothing else, and returns None; raising reports an
    error for the op.
    """

    def __call__(self, inputs: list[Any], outputs: list[Any], attrs: dict[str, Any], /) -> None: ...


@runtime_checkable
class Memory(Protocol):
    """The memory of a device that is not host memory.

    ``device`` is the device's ordinal. A buffer is whatever object
    ``allocate`` returns (a bytearray, a handle to accelerator memory, ...);
    devrt keeps it alive until it passes it to ``free``, and hands it to the
    backend's kernels inside :class:`DeviceView`. Offsets and sizes are in
    bytes. ``host`` is a writable (``copy_out``) or read-only (``copy_in``)
    memoryview of ``nbytes`` bytes of host memory, valid during the call only.
    Every method runs with the GIL held.
    """

    def allocate(self, device: int, nbytes: int) -> Any:
        """A new buffer of at least ``nbytes`` bytes (``MemoryError`` when
        the device is full: devrt then empties its cache and retries once)."""
        ...

    def free(self, device: int, buffer: Any) -> None:
        """Give back a buffer ``allocate`` returned."""
        ...

    def copy_in(self, device: int, buffer: Any, offset: int, host: memoryview) -> None:
        """Host to device: copy all of ``host`` into ``buffer`` at ``offset``."""
        ...

    def copy_out(self, device: int, buffer: Any, offset: int, host: memoryview) -> None:
        """Device to host: fill all of ``host`` from ``buffer`` at ``offset``."""
        ...

    def copy(
        self,
        device: int,
        dst: Any,
        dst_offset: int,
        src: Any,
        src_offset: int,
        nbytes: int,
    ) -> None:
        """Device to device, within one device; the ranges do not overlap."""
        ...


# Note: not frozen. A kernel call builds one view per operand, and a frozen
# dataclass's __init__ costs five times a plain one's: for a Python backend
# that is a tenth of a small training step.
@dataclass(slots=True)
class DeviceView:
    """An operand of a kernel on a backend with its own memory, made afresh
    for each call.

    Element ``(i0, i1, ...)`` lies at byte
    ``offset + (i0 * strides[0] + i1 * strides[1] + ...) * itemsize`` of
    ``buffer``. Strides are in elements and may be 0 (a broadcast operand).
    A view with no element (a 0 in its shape) names no buffer: ``buffer`` is
    None and there is nothing to read or write.
    """

    buffer: Any
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    dtype: str  # a devrt dtype name: "float32", ...
    itemsize: int
    device: int

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def is_contiguous(self) -> bool:
        expected = 1
        for size, stride in zip(reversed(self.shape), reversed(self.strides)):
            if size != 1 and stride != expected:
                return False
            expected *= size
        return True


def _takes(fn: Any, n: int) -> bool:
    """Whether fn can be called with n positional arguments."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature
        return True
    try:
        sig.bind(*range(n))
    except TypeError:
        return False
    return True


def _describe(fn: Any) -> str:
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    try:
        return f"{name}{inspect.signature(fn)}"
    except (TypeError, ValueError):
        return name


def check_kernel(op: str, fn: Any) -> None:
    """Refuse what cannot be a :class:`Kernel` for ``op``."""
    if not callable(fn):
        raise TypeError(f"[register_kernel] the kernel for '{op}' is not callable: {fn!r}")
    if not _takes(fn, 3):
        raise TypeError(
            f"[register_kernel] the kernel for '{op}' must take (inputs, outputs, attrs); "
            f"{_describe(fn)} does not"
        )


_MEMORY_ARITY = {"allocate": 2, "free": 2, "copy_in": 4, "copy_out": 4, "copy": 6}


def check_memory(backend: str, memory: Any) -> None:
    """Refuse what cannot be a :class:`Memory` for ``backend``."""
    for method, arity in _MEMORY_ARITY.items():
        fn = getattr(memory, method, None)
        if fn is None or not callable(fn):
            raise TypeError(
                f"[register_backend] the memory of '{backend}' has no method {method}() "
                f"(see devrt.protocols.Memory)"
            )
        if not _takes(fn, arity):
            raise TypeError(
                f"[register_backend] the memory of '{backend}': {method}() must take "
                f"{arity} arguments besides self (see devrt.protocols.Memory); "
                f"{_describe(fn)} does not"
            )


def set_check_kernels(on: bool) -> None:
    """Check every Python kernel call from now on (see devrt.kernel_check);
    ``DEVRT_CHECK_KERNELS=1`` turns it on from the start."""
    from devrt import _C

    _C.set_check_kernels(bool(on))


def checking_kernels() -> bool:
    """Whether Python kernel calls are checked."""
    from devrt import _C

    return _C.check_kernels()
