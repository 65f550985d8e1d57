"""``devrt.cuda``: whether a CUDA backend is loaded, and why not."""

from __future__ import annotations

from devrt import _C, plugins


def _cuda_backend() -> dict | None:
    for b in _C.backends():
        if b["name"] == "cuda" and b["registered"]:
            return b
    return None


def is_available() -> bool:
    """True when a CUDA backend is loaded and sees at least one GPU."""
    b = _cuda_backend()
    return b is not None and b["device_count"] > 0


def device_count() -> int:
    b = _cuda_backend()
    return 0 if b is None else b["device_count"]


def unavailable_reason() -> str | None:
    """Why is_available() is False, or None when it is True."""
    if is_available():
        return None
    for status in plugins.plugin_status():
        if status.name == "cuda" and not status.loaded:
            return f"the cuda plugin failed to load: {status.error}"
    if _cuda_backend() is not None:
        return "the cuda backend is loaded but sees no GPU"
    return "devrt was built without its CUDA backend (no nvcc or cuBLAS/cuDNN wheels at build time)"


def synchronize(device: object = None) -> None:
    """Wait for all work on a CUDA device."""
    _C.synchronize("cuda" if device is None else device)
