"""devrt.utils: data loading (``devrt.utils.data``, mirrors ``torch.utils.data``)."""

from __future__ import annotations

from devrt.utils import data

__all__ = ["data"]
