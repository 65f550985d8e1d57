"""Backend discovery: pluggy plugins from the ``devrt.backends`` entry points."""

from __future__ import annotations

import importlib
import os
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy

from devrt import _C, hookspecs, protocols
from devrt._errors import public_op
from devrt.protocols import Kernel, Memory

# Backends shipped with devrt. They are listed as entry points like any
# third-party backend; the list below only keeps them loading when entry
# points are disabled or the package metadata is missing (a source checkout).
BUILTIN_PLUGINS = {"cpu": "devrt_cpu"}


@dataclass
class PluginStatus:
    name: str
    target: str
    loaded: bool = False
    error: str | None = None
    traceback: str | None = None
    backends: list[str] = field(default_factory=list)
    # Device types a failed plugin had registered, removed again with its
    # kernels.
    rolled_back: list[str] = field(default_factory=list)


class BackendRegistry:
    """What a plugin's ``devrt_register_backends`` hook receives."""

    def __init__(self, status: PluginStatus):
        self._status = status

    def load_library(self, path: str | os.PathLike) -> None:
        """Load a native backend library and run its ``devrt_plugin_init``."""
        before = {b["name"] for b in _C.backends() if b["registered"]}
        _C.load_plugin_library(os.fspath(path))
        after = {b["name"] for b in _C.backends() if b["registered"]}
        self._status.backends.extend(sorted(after - before))

    def register_backend(
        self, name: str, device_count: int = 1, memory: Memory | None = None
    ) -> None:
        """Register a device type whose kernels are Python callables.

        Its memory is host memory (kernels receive NumPy arrays), or, given
        ``memory`` (a :class:`devrt.protocols.Memory`), the backend's own:
        kernels then receive :class:`devrt.protocols.DeviceView` objects.
        """
        if memory is not None:
            protocols.check_memory(name, memory)
        _C.register_python_backend(name, device_count, memory)
        self._status.backends.append(name)

    def register_kernel(
        self,
        op: str,
        backend: str,
        dtypes: Iterable[Any],
        fn: Kernel,
        *,
        override: bool = False,
    ) -> None:
        """Register ``fn(inputs, outputs, attrs)`` (a
        :class:`devrt.protocols.Kernel`) for ``op`` on ``backend``.

        ``dtypes`` are devrt dtypes or their names (aliases such as
        ``"float"`` included). A kernel that another plugin registered for
        the same op and device type is replaced only with
        ``override=True``; otherwise that is an error. View ops and the
        core's composites take no kernels.
        """
        protocols.check_kernel(op, fn)
        _C.register_python_kernel(op, backend, list(dtypes), fn, override)


_manager: pluggy.PluginManager | None = None
_status: dict[str, PluginStatus] = {}


def plugin_manager() -> pluggy.PluginManager:
    global _manager
    if _manager is None:
        _manager = pluggy.PluginManager("devrt")
        _manager.add_hookspecs(hookspecs)
    return _manager


def _register(name: str, target: str, load: Callable[[], Any]) -> PluginStatus:
    status = PluginStatus(name=name, target=target)
    _status[name] = status
    pm = plugin_manager()
    try:
        plugin = load()
        others = [p for p in pm.get_plugins()]
        pm.register(plugin, name=name)
        # Run this plugin's hook alone, so that one failure stays its own;
        # the core records what it registers as this plugin's.
        caller = pm.subset_hook_caller("devrt_register_backends", remove_plugins=others)
        _C.begin_plugin_registration(name)
        try:
            caller(registry=BackendRegistry(status))
        finally:
            _C.end_plugin_registration()
        status.loaded = True
    except Exception as exc:  # a broken plugin must not break devrt
        status.error = f"{type(exc).__name__}: {exc}"
        status.traceback = traceback.format_exc()
        # Take back what it registered before it failed.
        status.rolled_back = _C.unregister_plugin(name)
        status.backends = []
        if pm.get_plugin(name) is not None:
            pm.unregister(name=name)
    return status


def load_plugins() -> None:
    """Discover and register every backend plugin (once per process)."""
    # Built-ins first: a third-party plugin may use CPU tensors while it
    # registers, and the CPU backend must own host memory before that.
    targets: dict[str, tuple[str, Callable[[], Any]]] = {
        name: (module, lambda m=module: importlib.import_module(m))
        for name, module in BUILTIN_PLUGINS.items()
    }
    if os.environ.get("DEVRT_DISABLE_PLUGIN_AUTOLOAD", "") not in ("1", "true", "yes"):
        for ep in entry_points(group="devrt.backends"):
            targets.setdefault(ep.name, (ep.value, ep.load))
    for name, (target, load) in targets.items():
        if name not in _status:
            _register(name, target, load)


def register_plugin(plugin: Any, name: str | None = None) -> PluginStatus:
    """Register a plugin object (a module or any object with hookimpls) now.

    Returns its status; a plugin that raises is reported there, not raised.
    """
    name = name or getattr(plugin, "__name__", None) or repr(plugin)
    if name in _status and _status[name].loaded:
        raise ValueError(f"[register_plugin] a plugin named {name!r} is already registered")
    return _register(name, repr(plugin), lambda: plugin)


@public_op
def plugin_status() -> list[PluginStatus]:
    """Every plugin seen this process, loaded or failed."""
    return list(_status.values())


def describe() -> dict[str, dict[str, Any]]:
    """Each loaded plugin's ``devrt_describe`` result, by plugin name."""
    out = {}
    for impl in plugin_manager().hook.devrt_describe.get_hookimpls():
        try:
            out[impl.plugin_name] = impl.function() or {}
        except Exception as exc:
            out[impl.plugin_name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out
