"""``keras.config``: global settings of the Keras front end."""

from __future__ import annotations

from devrt.keras.backend import (  # noqa: F401
    backend,
    epsilon,
    floatx,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)

_SAFE_MODE = True


def enable_unsafe_deserialization() -> None:
    """Allow loading files whose configs hold Python code (``Lambda`` layers)."""
    global _SAFE_MODE
    _SAFE_MODE = False


def in_safe_mode() -> bool:
    return _SAFE_MODE


def disable_interactive_logging() -> None:
    from devrt.keras.utils import progbar

    progbar.INTERACTIVE = False


def enable_interactive_logging() -> None:
    from devrt.keras.utils import progbar

    progbar.INTERACTIVE = True


def is_interactive_logging_enabled() -> bool:
    from devrt.keras.utils import progbar

    return progbar.INTERACTIVE


def dtype_policy() -> str:
    return floatx()
