"""Where the installed devrt keeps what a native backend builds against.

A backend written in C or C++ includes the C ABI (``devrt/c_api.h``) and
links ``libdevrt_core``, the one registry of the process; both ship in the
wheel, with a CMake package that wraps them (``find_package(devrt)``,
target ``devrt::core``). See docs/backends.md, "The native path".
"""

from __future__ import annotations

import sys
from pathlib import Path

from devrt._errors import public_op

__all__ = ["get_cmake_dir", "get_include", "get_library"]


def _installed(op: str, relative: str) -> Path:
    # Note: in an editable install the package spans the source tree and the
    # install tree; what the build installs lies in the latter only.
    import devrt

    folders = [Path(p) for p in devrt.__path__]
    for folder in folders:
        candidate = folder / relative
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"[{op}] {relative} not found in {', '.join(map(str, folders))}; reinstall devrt"
    )


@public_op
def get_include() -> str:
    """The folder to put on the include path: it holds ``devrt/c_api.h``."""
    return str(_installed("get_include", "include/devrt/c_api.h").parent.parent)


@public_op
def get_cmake_dir() -> str:
    """The folder holding ``devrtConfig.cmake``: pass it to CMake as
    ``devrt_DIR`` (or on ``CMAKE_PREFIX_PATH``) for ``find_package(devrt)``."""
    return str(_installed("get_cmake_dir", "share/cmake/devrt/devrtConfig.cmake").parent)


@public_op
def get_library() -> str:
    """The path of ``libdevrt_core``, which a native backend links."""
    suffix = ".dylib" if sys.platform == "darwin" else ".so"
    return str(_installed("get_library", f"lib/libdevrt_core{suffix}"))
