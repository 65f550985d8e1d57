"""``devrt.cuda``: the PyTorch-style namespace of the CUDA devices.

devrt's core knows device types, not CUDA: these functions answer through
the registry (the ``cuda`` device type, its device count, its memory) and
through the plugin that registered it (``devrt-cuda``, whose hook module
``devrt_cuda`` drives streams, events and devices). Without that plugin, or
without a GPU, :func:`is_available` is False and :func:`unavailable_reason`
says why.
"""

from __future__ import annotations

import contextlib
from typing import Any

from devrt import _C, plugins
from devrt._C import OutOfMemoryError
from devrt._errors import public_op

__all__ = [
    "Event",
    "OutOfMemoryError",
    "Stream",
    "current_device",
    "current_stream",
    "default_stream",
    "device",
    "device_count",
    "empty_cache",
    "get_device_name",
    "is_available",
    "manual_seed",
    "manual_seed_all",
    "max_memory_allocated",
    "mem_get_info",
    "memory_allocated",
    "memory_reserved",
    "memory_stats",
    "reset_peak_memory_stats",
    "set_device",
    "stream",
    "synchronize",
    "unavailable_reason",
]


def _cuda_backend() -> dict | None:
    for b in _C.backends():
        if b["name"] == "cuda" and b["registered"]:
            return b
    return None


def _plugin() -> Any:
    """The hook module of the plugin that registered ``cuda``, or None."""
    for status in plugins.plugin_status():
        if status.loaded and "cuda" in status.backends:
            return plugins.plugin_manager().get_plugin(status.name)
    return None


def _require(op: str) -> Any:
    plugin = _plugin()
    if plugin is None or not is_available():
        raise RuntimeError(f"[{op}] CUDA unavailable: {unavailable_reason()}")
    return plugin


def _index(op: str, device: Any) -> int:
    """The ordinal of `device` (None: the current one; an int, "cuda:1", a
    devrt.device)."""
    if device is None:
        return current_device()
    if isinstance(device, int) and not isinstance(device, bool):
        index = device
    else:
        d = device if isinstance(device, _C.device) else _C.device(device)
        if d.type != "cuda":
            raise ValueError(f"[{op}] expected a cuda device, got {d}")
        index = 0 if d.index is None else d.index
    if not 0 <= index < device_count():
        raise ValueError(f"[{op}] cuda:{index} does not exist ({device_count()} CUDA devices)")
    return index


@public_op
def is_available() -> bool:
    """True when a CUDA backend is loaded and sees at least one GPU."""
    b = _cuda_backend()
    return b is not None and b["device_count"] > 0


@public_op
def device_count() -> int:
    b = _cuda_backend()
    return 0 if b is None else b["device_count"]


@public_op
def unavailable_reason() -> str | None:
    """Why is_available() is False, or None when it is True."""
    if is_available():
        return None
    for status in plugins.plugin_status():
        if status.name == "cuda" and not status.loaded:
            return f"the cuda plugin failed to load: {status.error}"
    plugin = _plugin()
    if plugin is not None:
        return f"the cuda backend is loaded but sees no GPU: {plugin.unavailable_reason()}"
    if _cuda_backend() is not None:
        return "the cuda backend is loaded but sees no GPU"
    return "no CUDA backend is installed (pip install ./plugins/cuda: the devrt-cuda package)"


@public_op
def synchronize(device: Any = None) -> None:
    """Wait for all work on a CUDA device (the current one by default)."""
    _require("synchronize")
    _C.synchronize(f"cuda:{_index('synchronize', device)}")


@public_op
def current_device() -> int:
    return _require("current_device").current_device()


@public_op
def set_device(device: Any) -> None:
    index = _index("set_device", device)
    _require("set_device").set_device(index)


class device:  # noqa: N801 - torch.cuda.device
    """Context manager making `device` current, as ``torch.cuda.device``."""

    def __init__(self, device: Any):
        self.index = None if device is None else _index("device", device)
        self.previous: int | None = None

    def __enter__(self) -> device:
        if self.index is not None:
            self.previous = current_device()
            set_device(self.index)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            set_device(self.previous)


@public_op
def get_device_name(device: Any = None) -> str:
    return _require("get_device_name").device_name(_index("get_device_name", device))


@public_op
def mem_get_info(device: Any = None) -> tuple[int, int]:
    """(free, total) bytes of the device, as the driver reports them."""
    return _require("mem_get_info").mem_get_info(_index("mem_get_info", device))


class Stream:
    """A CUDA stream (``torch.cuda.Stream``). ``with devrt.cuda.stream(s):``
    runs devrt's kernels and copies on it; entering and leaving orders the
    new stream after the old, so devrt's cached memory stays safe to reuse."""

    def __init__(self, device: Any = None, priority: int = 0, *, _handle: int | None = None):
        plugin = _require("Stream")
        self.device_index = _index("Stream", device)
        self._owned = _handle is None
        self.cuda_stream = (
            plugin.stream_create(self.device_index, priority) if _handle is None else _handle
        )

    def synchronize(self) -> None:
        _plugin().stream_synchronize(self.cuda_stream)

    def query(self) -> bool:
        return _plugin().stream_query(self.cuda_stream)

    def wait_event(self, event: Event) -> None:
        _plugin().stream_wait_event(self.cuda_stream, event.cuda_event)

    def wait_stream(self, stream: Stream) -> None:
        self.wait_event(stream.record_event())

    def record_event(self, event: Event | None = None) -> Event:
        event = Event() if event is None else event
        event.record(self)
        return event

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stream) and other.cuda_stream == self.cuda_stream

    def __hash__(self) -> int:
        return hash((self.cuda_stream, self.device_index))

    def __repr__(self) -> str:
        return (
            f"<devrt.cuda.Stream device=cuda:{self.device_index} cuda_stream={self.cuda_stream:#x}>"
        )

    def __del__(self) -> None:
        # Also at interpreter exit, when the plugin may be gone already.
        with contextlib.suppress(Exception):
            plugin = _plugin()
            if self._owned and self.cuda_stream and plugin is not None:
                if plugin.current_stream(self.device_index) == self.cuda_stream:
                    plugin.set_stream(self.device_index, 0)
                plugin.stream_destroy(self.cuda_stream)


@public_op
def current_stream(device: Any = None) -> Stream:
    """The stream devrt's work on `device` runs on now."""
    index = _index("current_stream", device)
    return Stream(index, _handle=_require("current_stream").current_stream(index))


@public_op
def default_stream(device: Any = None) -> Stream:
    """The legacy default stream (handle 0), devrt's stream unless changed."""
    _require("default_stream")
    return Stream(_index("default_stream", device), _handle=0)


@public_op
@contextlib.contextmanager
def stream(s: Stream | None):
    """Runs the block's devrt work on stream `s` (None: no change)."""
    if s is None:
        yield
        return
    plugin = _require("stream")
    previous = plugin.current_stream(s.device_index)
    plugin.set_stream(s.device_index, s.cuda_stream)
    try:
        yield
    finally:
        plugin.set_stream(s.device_index, previous)


class Event:
    """A CUDA event (``torch.cuda.Event``); ``elapsed_time`` in milliseconds."""

    def __init__(
        self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False
    ):
        if interprocess:
            raise NotImplementedError("[Event] interprocess events are not supported")
        self.enable_timing = enable_timing
        self.cuda_event = _require("Event").event_create(enable_timing)

    def record(self, stream: Stream | None = None) -> None:
        stream = current_stream() if stream is None else stream
        _plugin().event_record(self.cuda_event, stream.cuda_stream)

    def wait(self, stream: Stream | None = None) -> None:
        stream = current_stream() if stream is None else stream
        stream.wait_event(self)

    def query(self) -> bool:
        return _plugin().event_query(self.cuda_event)

    def synchronize(self) -> None:
        _plugin().event_synchronize(self.cuda_event)

    def elapsed_time(self, end_event: Event) -> float:
        """Milliseconds from this event to `end_event` (both recorded, with
        enable_timing=True)."""
        if not (self.enable_timing and end_event.enable_timing):
            raise ValueError("[elapsed_time] both events need enable_timing=True")
        return _plugin().event_elapsed(self.cuda_event, end_event.cuda_event)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            plugin = _plugin()
            if self.cuda_event and plugin is not None:
                plugin.event_destroy(self.cuda_event)


@public_op
def manual_seed(seed: int) -> None:
    """Seeds devrt's one generator: every device draws the same counter-based
    stream (devrt/rng.h), so CUDA numbers equal the CPU's for the seed."""
    _C.manual_seed(int(seed))


manual_seed_all = manual_seed


def _stats(op: str, device: Any) -> dict:
    _require(op)
    return _C.memory_stats(f"cuda:{_index(op, device)}")


@public_op
def memory_stats(device: Any = None) -> dict:
    """The caching allocator's stats for the device (allocated, reserved,
    peak_allocated, allocations, cache_hits, device_allocs)."""
    return _stats("memory_stats", device)


@public_op
def memory_allocated(device: Any = None) -> int:
    return _stats("memory_allocated", device)["allocated"]


@public_op
def max_memory_allocated(device: Any = None) -> int:
    return _stats("max_memory_allocated", device)["peak_allocated"]


@public_op
def memory_reserved(device: Any = None) -> int:
    return _stats("memory_reserved", device)["reserved"]


@public_op
def reset_peak_memory_stats(device: Any = None) -> None:
    _require("reset_peak_memory_stats")
    _C.reset_peak_memory_stats(f"cuda:{_index('reset_peak_memory_stats', device)}")


@public_op
def empty_cache() -> None:
    """Gives every cached block of every CUDA device back to the driver."""
    if is_available():
        for index in range(device_count()):
            _C.empty_cache(f"cuda:{index}")
