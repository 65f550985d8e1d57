"""``keras.optimizers``: SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta and their
learning-rate schedules, with Keras 3's formulas, defaults and configs."""

from __future__ import annotations

from typing import Any

from devrt.keras.optimizers import schedules
from devrt.keras.optimizers.adadelta import Adadelta
from devrt.keras.optimizers.adagrad import Adagrad
from devrt.keras.optimizers.adam import Adam, AdamW
from devrt.keras.optimizers.optimizer import Optimizer
from devrt.keras.optimizers.rmsprop import RMSprop
from devrt.keras.optimizers.sgd import SGD

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "deserialize",
    "get",
    "schedules",
    "serialize",
]

_OPTIMIZERS = {
    cls.__name__.lower(): cls for cls in (Optimizer, SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta)
}


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """The optimizer as Keras writes it: ``{"module", "class_name",
    "config", "registered_name"}``."""
    cls = type(optimizer)
    builtin = _OPTIMIZERS.get(cls.__name__.lower()) is cls
    return {
        "module": "keras.optimizers" if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": optimizer.get_config(),
        "registered_name": None if builtin else cls.__name__,
    }


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Optimizer:
    """An optimizer from ``serialize``'s dict (Keras' own files included:
    the class name is matched case-insensitively, whatever the module)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"[optimizers.deserialize] expected a dict with 'class_name' and 'config', "
            f"got {config!r}"
        )
    name = str(config["class_name"])
    custom = custom_objects or {}
    cls = custom.get(config.get("registered_name") or name) or custom.get(name)
    if cls is None:
        cls = _OPTIMIZERS.get(name.lower())
    if cls is None or cls is Optimizer:
        known = ", ".join(n for n in sorted(_OPTIMIZERS) if n != "optimizer")
        raise ValueError(f"[optimizers.get] unknown optimizer {name!r}; known: {known}")
    return cls.from_config(dict(config.get("config") or {}), custom_objects=custom_objects)


def get(identifier: Any) -> Optimizer | None:
    """An optimizer from a name (``"adam"``, case-insensitive), a config
    dict, or an instance (returned as is)."""
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return deserialize({"class_name": identifier, "config": {}})
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"[optimizers.get] could not interpret optimizer identifier: {identifier!r}")
