"""``devrt.accelerator``: the accelerator a program should use, as
``torch.accelerator``. The CPU is not an accelerator; a loaded CUDA backend
that sees a GPU is."""

from __future__ import annotations

from typing import Any

from devrt import _C
from devrt._errors import public_op

_current_index = 0


def _accelerator_type() -> str | None:
    import devrt.cuda

    return "cuda" if devrt.cuda.is_available() else None


@public_op
def is_available() -> bool:
    """True when an accelerator device is usable."""
    return _accelerator_type() is not None


@public_op
def current_accelerator(check_available: bool = False) -> Any:
    """The accelerator's device type as a ``devrt.device`` (``device('cuda')``),
    or None when there is none."""
    kind = _accelerator_type()
    return None if kind is None else _C.device(kind)


@public_op
def device_count() -> int:
    """How many accelerator devices there are (0 without one)."""
    import devrt.cuda

    return devrt.cuda.device_count() if is_available() else 0


@public_op
def current_device_index() -> int:
    """The accelerator device index in use (0 unless set)."""
    return _current_index


current_device_idx = current_device_index


@public_op
def set_device_index(device: Any) -> None:
    """Makes `device` (an index or ``'cuda:N'``) the current accelerator device."""
    global _current_index
    index = device.index if isinstance(device, _C.device) else device
    if isinstance(index, str):
        index = _C.device(index).index
    count = device_count()
    if not isinstance(index, int) or not 0 <= index < max(count, 1) or count == 0:
        raise RuntimeError(
            f"[set_device_index] no accelerator device {device!r} ({count} available)"
        )
    _current_index = index


set_device_idx = set_device_index


@public_op
def synchronize(device: Any = None) -> None:
    """Waits for the work queued on the accelerator (nothing to do without one)."""
    kind = _accelerator_type()
    if kind is not None:
        _C.synchronize(kind if device is None else device)
