"""devrt's CPU backend: the pluggy hook module of libdevrt_cpu.

It is found through the ``devrt.backends`` entry point like any third-party
backend. The kernels live in the native library next to this file; matmul
runs on OpenBLAS from the scipy-openblas32 wheel.
"""

from __future__ import annotations

import os
from pathlib import Path

from devrt.hookspecs import hookimpl

_LIBRARY = "libdevrt_cpu.so"


def library_path() -> Path:
    """The native library, next to this module (also in an editable install,
    where the package's directories span the source and install trees)."""
    here = [Path(p) for p in __path__]  # noqa: F821 - set for packages
    for folder in here:
        candidate = folder / _LIBRARY
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"[cpu] {_LIBRARY} not found in {', '.join(map(str, here))}; reinstall devrt"
    )


@hookimpl
def devrt_register_backends(registry) -> None:
    # Importing the wheel loads libscipy_openblas into the process, where the
    # backend library's dependency on it then resolves.
    import scipy_openblas32  # noqa: F401

    registry.load_library(library_path())


@hookimpl
def devrt_describe() -> dict:
    import scipy_openblas32

    from devrt import _C

    return {
        "threads": _C.num_threads(),
        "blas": scipy_openblas32.get_openblas_config().strip(),
        "library": os.fspath(library_path()),
    }
