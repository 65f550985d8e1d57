"""``devrt.backends``: called, the device types the core knows (with their
device counts and op coverage); its submodules hold the flags that
PyTorch programs set on ``torch.backends`` (``cudnn``, ``mps``).

Note: ``devrt.backends()`` was a function before this package existed, so
the package's module object is made callable rather than renamed.
"""

from __future__ import annotations

import sys
import types

from devrt import _C
from devrt._errors import public_op


@public_op
def _list_backends() -> list[dict]:
    """Every device type known to the core, with its device count and how many
    catalogue ops it implements."""
    return _C.backends()


class _BackendsModule(types.ModuleType):
    def __call__(self) -> list[dict]:
        """Every device type known to the core, with its device count and how
        many catalogue ops it implements."""
        return _list_backends()


sys.modules[__name__].__class__ = _BackendsModule

from devrt.backends import cuda, cudnn, mps  # noqa: E402 - after the module class is set

__all__ = ["cuda", "cudnn", "mps"]
