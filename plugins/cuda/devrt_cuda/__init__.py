"""devrt's CUDA backend: the pluggy hook module of libdevrt_cuda.

devrt finds it through the ``devrt.backends`` entry point of the
``devrt-cuda`` package, like any third-party backend. Its hook loads the
native library beside this file, whose ``devrt_plugin_init`` registers the
``cuda`` device type and its kernels. Without a driver or a GPU the device
type registers with no devices, and :func:`unavailable_reason` says why.

The functions below are what ``devrt.cuda`` calls: devices, streams,
events and the TF32 switch, through the library's C functions (ctypes).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

from devrt.hookspecs import hookimpl

_LIBRARY = "libdevrt_cuda.so"
_lib: ctypes.CDLL | None = None


def library_path() -> Path:
    """The native library, next to this module."""
    for folder in map(Path, __path__):  # noqa: F821 - set for packages
        candidate = folder / _LIBRARY
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"[cuda] {_LIBRARY} not found beside {__file__}; reinstall devrt-cuda")


def _load() -> ctypes.CDLL:
    """The library the hook loaded (the same handle: dlopen counts it)."""
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(os.fspath(library_path()))
        vp, i, pi = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)
        pvp = ctypes.POINTER(ctypes.c_void_p)
        signatures = {
            "devrt_cuda_last_error": ([], ctypes.c_char_p),
            "devrt_cuda_unavailable_reason": ([], ctypes.c_char_p),
            "devrt_cuda_device_count": ([], i),
            "devrt_cuda_device_name": ([i, ctypes.c_char_p, ctypes.c_size_t], i),
            "devrt_cuda_device_memory": (
                [i, ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_size_t)],
                i,
            ),
            "devrt_cuda_versions": ([pi, pi], i),
            "devrt_cuda_set_device": ([i], i),
            "devrt_cuda_current_device": ([pi], i),
            "devrt_cuda_stream_create": ([i, i, pvp], i),
            "devrt_cuda_stream_destroy": ([vp], i),
            "devrt_cuda_stream_synchronize": ([vp], i),
            "devrt_cuda_stream_query": ([vp, pi], i),
            "devrt_cuda_current_stream": ([i, pvp], i),
            "devrt_cuda_set_stream": ([i, vp], i),
            "devrt_cuda_stream_wait_event": ([vp, vp], i),
            "devrt_cuda_event_create": ([i, pvp], i),
            "devrt_cuda_event_destroy": ([vp], i),
            "devrt_cuda_event_record": ([vp, vp], i),
            "devrt_cuda_event_synchronize": ([vp], i),
            "devrt_cuda_event_query": ([vp, pi], i),
            "devrt_cuda_event_elapsed": ([vp, vp, ctypes.POINTER(ctypes.c_float)], i),
            "devrt_cuda_set_allow_tf32": ([i], None),
            "devrt_cuda_get_allow_tf32": ([], i),
            "devrt_cuda_cudnn_version": ([], i),
        }
        for name, (args, res) in signatures.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = args, res
        _lib = lib
    return _lib


def call(op: str, name: str, *args) -> None:
    """Calls the library's ``name``; a non-zero status raises, naming `op`."""
    lib = _load()
    status = getattr(lib, name)(*args)
    if status != 0:
        why = lib.devrt_cuda_last_error().decode(errors="replace")
        error = {2: ValueError, 3: IndexError, 4: TypeError, 5: NotImplementedError}.get(
            status, RuntimeError
        )
        raise error(f"[{op}] {why}")


def device_count() -> int:
    return _load().devrt_cuda_device_count()


def unavailable_reason() -> str | None:
    """Why the backend sees no GPU, or None when it sees one."""
    reason = _load().devrt_cuda_unavailable_reason().decode(errors="replace")
    return reason or None


def device_name(device: int) -> str:
    out = ctypes.create_string_buffer(256)
    call("get_device_name", "devrt_cuda_device_name", device, out, len(out))
    return out.value.decode(errors="replace")


def mem_get_info(device: int) -> tuple[int, int]:
    free, total = ctypes.c_size_t(), ctypes.c_size_t()
    call(
        "mem_get_info", "devrt_cuda_device_memory", device, ctypes.byref(free), ctypes.byref(total)
    )
    return free.value, total.value


def versions() -> tuple[int, int]:
    """(runtime, driver) versions as CUDA numbers them (13000 for 13.0); the
    driver's is 0 without a driver."""
    runtime, driver = ctypes.c_int(), ctypes.c_int()
    _load().devrt_cuda_versions(ctypes.byref(runtime), ctypes.byref(driver))
    return runtime.value, driver.value


def cudnn_version() -> str:
    """The loaded cuDNN's version, as "9.19.0"."""
    v = _load().devrt_cuda_cudnn_version()
    return f"{v // 10000}.{v % 10000 // 100}.{v % 100}"


def set_device(device: int) -> None:
    call("set_device", "devrt_cuda_set_device", device)


def current_device() -> int:
    out = ctypes.c_int()
    call("current_device", "devrt_cuda_current_device", ctypes.byref(out))
    return out.value


def stream_create(device: int, priority: int = 0) -> int:
    out = ctypes.c_void_p()
    call("Stream", "devrt_cuda_stream_create", device, priority, ctypes.byref(out))
    return out.value or 0


def stream_destroy(stream: int) -> None:
    call("Stream", "devrt_cuda_stream_destroy", stream)


def stream_synchronize(stream: int) -> None:
    call("Stream.synchronize", "devrt_cuda_stream_synchronize", stream)


def stream_query(stream: int) -> bool:
    done = ctypes.c_int()
    call("Stream.query", "devrt_cuda_stream_query", stream, ctypes.byref(done))
    return bool(done.value)


def current_stream(device: int) -> int:
    out = ctypes.c_void_p()
    call("current_stream", "devrt_cuda_current_stream", device, ctypes.byref(out))
    return out.value or 0


def set_stream(device: int, stream: int) -> None:
    call("set_stream", "devrt_cuda_set_stream", device, stream)


def stream_wait_event(stream: int, event: int) -> None:
    call("Stream.wait_event", "devrt_cuda_stream_wait_event", stream, event)


def event_create(enable_timing: bool) -> int:
    out = ctypes.c_void_p()
    call("Event", "devrt_cuda_event_create", int(enable_timing), ctypes.byref(out))
    return out.value or 0


def event_destroy(event: int) -> None:
    call("Event", "devrt_cuda_event_destroy", event)


def event_record(event: int, stream: int) -> None:
    call("Event.record", "devrt_cuda_event_record", event, stream)


def event_synchronize(event: int) -> None:
    call("Event.synchronize", "devrt_cuda_event_synchronize", event)


def event_query(event: int) -> bool:
    done = ctypes.c_int()
    call("Event.query", "devrt_cuda_event_query", event, ctypes.byref(done))
    return bool(done.value)


def event_elapsed(start: int, end: int) -> float:
    ms = ctypes.c_float()
    call("Event.elapsed_time", "devrt_cuda_event_elapsed", start, end, ctypes.byref(ms))
    return ms.value


def set_allow_tf32(allow: bool) -> None:
    _load().devrt_cuda_set_allow_tf32(int(bool(allow)))


def get_allow_tf32() -> bool:
    return bool(_load().devrt_cuda_get_allow_tf32())


@hookimpl
def devrt_register_backends(registry) -> None:
    registry.load_library(library_path())


@hookimpl
def devrt_describe() -> dict:
    runtime, driver = versions()
    info = {
        "library": os.fspath(library_path()),
        "cuda runtime": f"{runtime // 1000}.{runtime % 1000 // 10}",
        "driver": f"{driver // 1000}.{driver % 1000 // 10}" if driver else "none",
        "cudnn": cudnn_version(),
    }
    reason = unavailable_reason()
    if reason is not None:
        info["unavailable"] = reason
    for d in range(device_count()):
        info[f"cuda:{d}"] = device_name(d)
    return info
