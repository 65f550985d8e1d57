"""Checked calls of Python kernels, for backend authors.

With ``DEVRT_CHECK_KERNELS=1`` in the environment (or
``devrt.protocols.set_check_kernels(True)``), every Python kernel runs
through :func:`checked_call`: its outputs are first filled with a poison
pattern, and the call fails with :class:`KernelCheckError` when the kernel
returns a value, changes one of its inputs, or leaves an output element
unwritten. A written value that happens to equal the poison is told apart by
running the kernel a second time over another pattern.

``index_put`` outputs keep their contents (the op writes only the indexed
elements), and so do strided outputs on a backend with its own memory and
the outputs of in-place ops, which are their inputs; those are not
poisoned, and an input that is also an output may be written. The checks cost copies of every operand: a debugging aid,
never for timing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["KernelCheckError", "checked_call"]

_PATTERNS = (0xA5, 0x5A)


class KernelCheckError(RuntimeError):
    """A Python kernel broke its contract (see devrt.protocols.Kernel)."""


def _describe(x: Any) -> str:
    return f"{x.dtype}, shape {tuple(x.shape)}"


def _bits(itemsize: int, byte: int) -> int:
    return int.from_bytes(bytes([byte]) * itemsize, "little")


class _HostOperands:
    """Operands that are NumPy arrays over host memory."""

    def snapshot(self, x: np.ndarray) -> bytes:
        return np.ascontiguousarray(x).tobytes()

    def can_poison(self, x: np.ndarray) -> bool:
        return True

    def overlaps(self, a: np.ndarray, b: np.ndarray) -> bool:
        return bool(np.may_share_memory(a, b))

    def poison(self, x: np.ndarray, byte: int) -> None:
        # An unsigned view of the same width keeps every bit, bool included.
        x.view(f"u{x.itemsize}")[...] = _bits(x.itemsize, byte)

    def poisoned(self, x: np.ndarray, byte: int) -> np.ndarray:
        return x.view(f"u{x.itemsize}") == _bits(x.itemsize, byte)


class _DeviceOperands:
    """Operands that are DeviceViews of a backend's own memory."""

    def __init__(self, memory: Any):
        self.memory = memory

    def _span(self, v: Any) -> tuple[int, int]:
        lo = hi = 0
        for size, stride in zip(v.shape, v.strides):
            reach = (size - 1) * stride
            lo, hi = (lo + reach, hi) if reach < 0 else (lo, hi + reach)
        return v.offset + lo * v.itemsize, (hi - lo + 1) * v.itemsize

    def snapshot(self, v: Any) -> bytes:
        if v.size == 0:
            return b""
        start, nbytes = self._span(v)
        host = bytearray(nbytes)
        self.memory.copy_out(v.device, v.buffer, start, memoryview(host))
        return bytes(host)

    def can_poison(self, v: Any) -> bool:
        return v.is_contiguous()

    def overlaps(self, a: Any, b: Any) -> bool:
        if a.size == 0 or b.size == 0 or a.buffer is not b.buffer:
            return False
        (a0, an), (b0, bn) = self._span(a), self._span(b)
        return a0 < b0 + bn and b0 < a0 + an

    def poison(self, v: Any, byte: int) -> None:
        if v.size:
            data = bytes([byte]) * (v.size * v.itemsize)
            self.memory.copy_in(v.device, v.buffer, v.offset, memoryview(data))

    def poisoned(self, v: Any, byte: int) -> np.ndarray:
        raw = np.frombuffer(self.snapshot(v), dtype=f"u{v.itemsize}")
        return raw == _bits(v.itemsize, byte)


def checked_call(
    fn: Any,
    op: str,
    inputs: list[Any],
    outputs: list[Any],
    attrs: dict[str, Any],
    memory: Any = None,
) -> None:
    """Run ``fn(inputs, outputs, attrs)`` and check that it kept the kernel
    contract; raise KernelCheckError naming what it broke."""
    io = _HostOperands() if memory is None else _DeviceOperands(memory)
    # An in-place op's output is one of its inputs: it holds the input's
    # values (never poisoned), and writing it is what the kernel is for.
    aliased_in = {i for i, x in enumerate(inputs) if any(io.overlaps(x, o) for o in outputs)}
    aliased_out = {i for i, o in enumerate(outputs) if any(io.overlaps(x, o) for x in inputs)}
    before = {i: io.snapshot(x) for i, x in enumerate(inputs) if i not in aliased_in}
    checked = [
        i
        for i, o in enumerate(outputs)
        if op != "index_put" and i not in aliased_out and io.can_poison(o)
    ]

    def run(byte: int) -> list[np.ndarray]:
        for i in checked:
            io.poison(outputs[i], byte)
        result = fn(inputs, outputs, attrs)
        if result is not None:
            raise KernelCheckError(
                f"returned {type(result).__name__} {result!r:.80}; a kernel writes its "
                f"outputs and returns None (DEVRT_CHECK_KERNELS)"
            )
        for i, b in before.items():
            x = inputs[i]
            if io.snapshot(x) != b:
                raise KernelCheckError(
                    f"wrote to input {i} ({_describe(x)}); a kernel writes only its "
                    f"outputs (DEVRT_CHECK_KERNELS)"
                )
        return [io.poisoned(outputs[i], byte) for i in checked]

    first = run(_PATTERNS[0])
    if not any(m.any() for m in first):
        return
    # A value the kernel wrote may equal the poison: what keeps both
    # patterns was never written. An in-place kernel cannot run twice (it
    # would apply itself twice), so there one pattern decides.
    second = run(_PATTERNS[1]) if not aliased_in else first
    for i, a, b in zip(checked, first, second):
        left = int(np.count_nonzero(a & b))
        if left:
            o = outputs[i]
            raise KernelCheckError(
                f"left {left} of {a.size} elements of output {i} ({_describe(o)}) "
                f"unwritten (DEVRT_CHECK_KERNELS)"
            )
