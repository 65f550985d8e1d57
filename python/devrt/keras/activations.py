"""``keras.activations``: element-wise functions by name or as callables.

Each computes with devrt ops; where ``devrt.nn.functional`` already has
the function, this calls it rather than keep a second copy.
"""

from __future__ import annotations

from typing import Any

import devrt
from devrt._composite import activations as _act
from devrt._composite import ops_for
from devrt.keras import serialization
from devrt.nn import functional as F


def linear(x: Any) -> Any:
    return x


def relu(
    x: Any, negative_slope: float = 0.0, max_value: float | None = None, threshold: float = 0.0
) -> Any:
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return devrt.relu(x)
    out = devrt.where(x >= threshold, x, (x - threshold) * negative_slope)
    return out if max_value is None else devrt.clamp(out, max=max_value)


def relu6(x: Any) -> Any:
    return devrt.clamp(x, 0.0, 6.0)


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Any:
    return F.leaky_relu(x, negative_slope)


def sigmoid(x: Any) -> Any:
    return devrt.sigmoid(x)


def hard_sigmoid(x: Any) -> Any:
    return devrt.clamp(x * (1.0 / 6.0) + 0.5, 0.0, 1.0)


def tanh(x: Any) -> Any:
    return devrt.tanh(x)


def softmax(x: Any, axis: int = -1) -> Any:
    return devrt.softmax(x, axis)


def log_softmax(x: Any, axis: int = -1) -> Any:
    return devrt.log_softmax(x, axis)


def softplus(x: Any) -> Any:
    return _act.softplus(ops_for(x), x)


def softsign(x: Any) -> Any:
    return _act.softsign(ops_for(x), x)


def silu(x: Any) -> Any:
    return F.silu(x)


swish = silu


def gelu(x: Any, approximate: bool = False) -> Any:
    return F.gelu(x, approximate="tanh" if approximate else "none")


def elu(x: Any, alpha: float = 1.0) -> Any:
    return _act.elu(ops_for(x), x, alpha)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x: Any) -> Any:
    return elu(x, _SELU_ALPHA) * _SELU_SCALE


def exponential(x: Any) -> Any:
    return devrt.exp(x)


def mish(x: Any) -> Any:
    return x * devrt.tanh(softplus(x))


def hard_silu(x: Any) -> Any:
    return x * hard_sigmoid(x)


hard_swish = hard_silu

_ALL = {
    fn.__name__: fn
    for fn in (
        linear,
        relu,
        relu6,
        leaky_relu,
        sigmoid,
        hard_sigmoid,
        tanh,
        softmax,
        log_softmax,
        softplus,
        softsign,
        silu,
        gelu,
        elu,
        selu,
        exponential,
        mish,
        hard_silu,
    )
}
_ALL["swish"] = silu
_ALL["hard_swish"] = hard_silu
_NAME_OF = {fn: name for name, fn in _ALL.items() if name not in ("swish", "hard_swish")}


def serialize(activation: Any) -> Any:
    if activation is None:
        return None
    name = _NAME_OF.get(activation)
    if name is not None:
        return name
    return serialization.serialize_keras_object(activation)


def deserialize(config: Any, custom_objects: dict | None = None) -> Any:
    return serialization.deserialize_keras_object(config, _ALL, custom_objects, "activation")


def get(identifier: Any) -> Any:
    """An activation function from a name (``"relu"``), a config, a callable
    or ``None`` (linear)."""
    if identifier is None:
        return linear
    return serialization.get_keras_object(identifier, deserialize, "activation function")
