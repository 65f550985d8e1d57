"""natdev: a devrt device whose kernels are C++ (src/natdev.cpp).

devrt finds this module through the ``devrt.backends`` entry point of the
installed package; its hook loads the native library installed beside it,
whose ``devrt_plugin_init`` registers the device type and its kernels
through devrt's C ABI.
"""

from __future__ import annotations

import os
from pathlib import Path

from devrt.hookspecs import hookimpl

_LIBRARY = "libdevrt_natdev.so"


def library_path() -> Path:
    path = Path(__file__).with_name(_LIBRARY)
    if not path.exists():
        raise FileNotFoundError(f"[natdev] {_LIBRARY} not found beside {__file__}; reinstall")
    return path


@hookimpl
def devrt_register_backends(registry) -> None:
    registry.load_library(library_path())


@hookimpl
def devrt_describe() -> dict:
    return {"library": os.fspath(library_path())}
