"""The CPU fallback and the placement report.

With the fallback on, an op whose device has no kernel for it runs on the
CPU: its operands are copied to the host, the CPU kernel runs, and its
outputs are copied back to the device. Eager code, autograd and graph
sessions all reach kernels through the one dispatcher, so all of them fall
back alike. Each such call is counted, per op and device, in the placement
report.

The mode is ``"off"`` (the default: a missing kernel raises
``NotImplementedError``), ``"cpu"`` or ``"strict"`` (a missing kernel raises
``NotImplementedError`` that names the refused fallback, whatever
``DEVRT_FALLBACK`` says: for conformance runs). ``DEVRT_FALLBACK`` sets the
starting mode; :func:`set_fallback` changes it.
"""

from __future__ import annotations

from typing import TypedDict

from devrt import _C
from devrt._errors import public_op

__all__ = ["get_fallback", "placement_report", "reset_placement_report", "set_fallback"]


class Placement(TypedDict):
    """One line of the placement report."""

    op: str  # catalogue name
    device: str  # where the op's tensors live, e.g. "mydev:0"
    ran_on: str  # where it ran instead: "cpu"
    calls: int
    bytes_to_host: int  # operands copied from the device
    bytes_from_host: int  # outputs copied back to the device
    bytes: int  # both directions


@public_op
def set_fallback(mode: str | None, /) -> None:
    """Run ops a device lacks on the CPU (``"cpu"``), refuse that loudly
    (``"strict"``), or raise as usual (``None`` or ``"off"``)."""
    if mode is None:
        mode = "off"
    if not isinstance(mode, str):
        raise TypeError(
            f"[set_fallback] the mode must be None, 'off', 'cpu' or 'strict', "
            f"got {type(mode).__name__}"
        )
    _C.set_fallback(mode)


@public_op
def get_fallback() -> str | None:
    """The current mode: ``None`` (off), ``"cpu"`` or ``"strict"``."""
    mode = _C.get_fallback()
    return None if mode == "off" else mode


@public_op
def placement_report() -> list[Placement]:
    """Every op that ran away from its tensors' device since the last reset:
    per op and device, where it ran, the number of calls and the bytes moved.
    Ops that ran on their own device are not listed (counting them would
    cost every op)."""
    return _C.placement_report()


@public_op
def reset_placement_report() -> None:
    """Forget every line of the placement report."""
    _C.reset_placement_report()
