"""``devrt.backends.mps``: devrt has no Apple Metal backend."""

from __future__ import annotations


def is_available() -> bool:
    """False: devrt has no MPS backend."""
    return False


def is_built() -> bool:
    """False: devrt has no MPS backend."""
    return False
