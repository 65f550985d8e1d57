"""Configs as Keras 3 writes them: ``{"module", "class_name", "config",
"registered_name"}`` dicts, plain names for built-in functions, and the
registry of custom objects (``keras.saving.register_keras_serializable``).

One place turns objects into configs and back, for layers, activations,
initializers, regularizers, losses, metrics, optimizers and models alike.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

_GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}
_GLOBAL_CUSTOM_NAMES: dict[Any, str] = {}
_SCOPE = threading.local()


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Any:
    """Decorator: register a class or function under ``"package>name"``."""

    def decorator(obj: Any) -> Any:
        registered = f"{package}>{name or obj.__name__}"
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() method.")
        _GLOBAL_CUSTOM_OBJECTS[registered] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = registered
        return obj

    return decorator


def get_registered_name(obj: Any) -> str:
    return _GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", type(obj).__name__))


def get_registered_object(
    name: str, custom_objects: dict | None = None, module_objects: dict | None = None
) -> Any:
    for table in (
        _scope_objects(),
        custom_objects or {},
        _GLOBAL_CUSTOM_OBJECTS,
        module_objects or {},
    ):
        if name in table:
            return table[name]
    return None


def get_custom_objects() -> dict[str, Any]:
    return _GLOBAL_CUSTOM_OBJECTS


def _scope_objects() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for objects in getattr(_SCOPE, "stack", []):
        merged.update(objects)
    return merged


@contextlib.contextmanager
def custom_object_scope(custom_objects: dict[str, Any] | None) -> Iterator[None]:
    stack = _SCOPE.__dict__.setdefault("stack", [])
    stack.append(dict(custom_objects or {}))
    try:
        yield
    finally:
        stack.pop()


CustomObjectScope = custom_object_scope


def serialize_keras_object(obj: Any) -> Any:
    """The config Keras 3 writes for `obj`."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, type):
        raise TypeError(f"[serialize] cannot serialize the class {obj.__name__}")
    registered = _GLOBAL_CUSTOM_NAMES.get(type(obj))
    if callable(obj) and not hasattr(obj, "get_config"):
        # A function: built-ins by name, registered ones as Keras does.
        fname = _GLOBAL_CUSTOM_NAMES.get(obj)
        if fname is None:
            return getattr(obj, "__name__", str(obj))
        return {
            "module": None,
            "class_name": "function",
            "config": fname,
            "registered_name": "function",
        }
    config = obj.get_config()
    cls = type(obj)
    # devrt's own classes say which Keras module they stand for; a user's
    # subclass is written under its own module, as Keras writes it.
    own = cls.__module__.startswith("devrt.keras") or "_keras_module" in cls.__dict__
    out = {
        "module": getattr(cls, "_keras_module", None) if own else cls.__module__,
        "class_name": type(obj).__name__,
        "config": config,
        "registered_name": registered,
    }
    build_config = obj.get_build_config() if hasattr(obj, "get_build_config") else None
    if build_config:
        out["build_config"] = build_config
    if getattr(obj, "compiled", False) and hasattr(obj, "get_compile_config"):
        compile_config = obj.get_compile_config()
        if compile_config:
            out["compile_config"] = compile_config
    return out


def deserialize_keras_object(
    config: Any,
    module_objects: dict[str, Any] | None = None,
    custom_objects: dict[str, Any] | None = None,
    kind: str = "object",
) -> Any:
    """An object from its config: a name, a ``{"class_name", "config"}``
    dict, or ``None``."""
    if config is None:
        return None
    if isinstance(config, str):
        obj = get_registered_object(config, custom_objects, module_objects)
        if obj is None:
            known = ", ".join(sorted(module_objects or {}))
            raise ValueError(f"Unknown {kind}: '{config}'. Known {kind}s: {known}")
        return obj() if isinstance(obj, type) else obj
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"[deserialize] cannot read a {kind} config from {config!r}")
    class_name = config["class_name"]
    inner = config.get("config", {})
    if class_name == "function":
        fn = get_registered_object(inner, custom_objects, module_objects)
        if fn is None:
            raise ValueError(f"Unknown {kind} function: '{inner}'")
        return fn
    if class_name == "__lambda__":
        from devrt.keras import config as keras_config

        if keras_config.in_safe_mode():
            raise ValueError(
                f"[deserialize] the {kind} config holds a Python lambda; loading it would run "
                "code from the file. Pass safe_mode=False (or call "
                "keras.config.enable_unsafe_deserialization()) if you trust the file."
            )
        raise NotImplementedError("[deserialize] devrt cannot rebuild Python lambdas")
    cls = None
    registered = config.get("registered_name")
    if registered:
        cls = get_registered_object(registered, custom_objects, module_objects)
    if cls is None:
        cls = get_registered_object(class_name, custom_objects, module_objects)
    if cls is None:
        known = ", ".join(sorted(module_objects or {}))
        raise ValueError(
            f"Unknown {kind}: '{class_name}'. Please ensure you are using a "
            "`keras.utils.custom_object_scope` and that this object is included in the scope, "
            f"or registered with `keras.saving.register_keras_serializable`. Known {kind}s: "
            f"{known}"
        )
    if not hasattr(cls, "from_config"):
        return cls(**inner) if isinstance(cls, type) else cls
    with custom_object_scope(custom_objects):
        obj = cls.from_config(inner)
        build_config = config.get("build_config")
        if build_config and hasattr(obj, "build_from_config") and not getattr(obj, "built", True):
            obj.build_from_config(build_config)
    return obj


def get_keras_object(identifier: Any, deserialize: Any, kind: str) -> Any:
    """What a module's ``get`` (activations, constraints, regularizers)
    does once ``None`` is handled: a name or a config dict goes through the
    module's `deserialize`, a callable comes back as it is, anything else
    raises ``Could not interpret {kind} identifier``."""
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret {kind} identifier: {identifier!r}")


serialize = serialize_keras_object
deserialize = deserialize_keras_object
