"""The hooks a devrt backend plugin implements.

devrt finds backends with pluggy (project name ``"devrt"``) through the
entry-point group ``devrt.backends``. An entry point names a module (or any
object) carrying ``@devrt.hookimpl`` functions with the names below. The
built-in CPU backend is found through the very same entry point.

Discovery runs once per process, when ``devrt`` is first imported; kernels
are then called through the core's dispatch table, never through pluggy. A
plugin whose import or hook raises is reported by ``devrt backends`` (and
``devrt.plugin_status()``) with its error, and the other plugins keep working.
Setting ``DEVRT_DISABLE_PLUGIN_AUTOLOAD=1`` skips the entry-point scan: only
the built-in backends load, and further plugins can be added with
``devrt.register_plugin``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from devrt.plugins import BackendRegistry

hookspec = pluggy.HookspecMarker("devrt")
hookimpl = pluggy.HookimplMarker("devrt")


@hookspec
def devrt_register_backends(registry: BackendRegistry) -> None:
    """Register this plugin's device types and their kernels.

    Called once per plugin at discovery (or at ``devrt.register_plugin``).
    Every implementation runs; nothing is returned. A native backend calls
    ``registry.load_library(path)``, which dlopens the library and runs its
    ``devrt_plugin_init`` (see ``devrt/include/devrt/c_api.h``). A backend
    written in Python calls ``registry.register_backend(name)`` and then
    ``registry.register_kernel(op, name, dtypes, fn)`` for each catalogue op
    it implements; ``fn(inputs, outputs, attrs)`` receives NumPy views, or,
    for a backend registered with ``memory=`` (its own memory, see
    ``devrt.protocols``), ``DeviceView`` objects over its own buffers.
    A kernel for an (op, device type) that another plugin registered is
    refused unless registered with ``override=True``; view ops and the
    core's composites take no kernels.
    Raising marks the plugin as failed: the error is reported, not raised,
    and everything the plugin registered (device types and kernels) is
    taken back; kernels it overrode come back.
    """


@hookspec
def devrt_describe() -> dict[str, Any] | None:
    """Return extra facts about the backend for ``devrt backends``.

    Called when the report is printed, never on an op's path. Return a small
    dict of printable values (library versions, thread counts, why a device
    is unavailable), or None. Every implementation's result is shown.
    """
