"""The state the Keras front end keeps: float type, epsilon, image layout,
the device new variables and inputs live on, and layer-name counters.

``keras.backend`` and ``keras.config`` both read it. Every tensor the
front end makes is a devrt tensor; this module only decides where and of
what type.
"""

from __future__ import annotations

import collections
import contextlib
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

import devrt

_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"
_DEVICES: list[str] = []
_NAME_COUNTS: collections.Counter = collections.Counter()


def backend() -> str:
    """The name of the engine under this front end."""
    return "devrt"


def floatx() -> str:
    return _FLOATX


def set_floatx(value: str) -> None:
    global _FLOATX
    if value not in ("float16", "bfloat16", "float32", "float64"):
        raise ValueError(
            f"[set_floatx] unknown float type {value!r}; "
            "expected 'float16', 'bfloat16', 'float32' or 'float64'"
        )
    _FLOATX = str(value)


def epsilon() -> float:
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


def image_data_format() -> str:
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    global _IMAGE_DATA_FORMAT
    data_format = str(data_format).lower()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(
            "[set_image_data_format] expected 'channels_first' or 'channels_last', "
            f"got {data_format!r}"
        )
    _IMAGE_DATA_FORMAT = data_format


def standardize_data_format(data_format: str | None) -> str:
    if data_format is None:
        return _IMAGE_DATA_FORMAT
    data_format = str(data_format).lower()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(
            f"data_format must be 'channels_first' or 'channels_last', got {data_format!r}"
        )
    return data_format


# --- devices ----------------------------------------------------------------


def current_device() -> str:
    """Where new variables and converted inputs go: the innermost
    ``keras.device(...)`` scope, else ``cpu``."""
    return _DEVICES[-1] if _DEVICES else "cpu"


def _device_name(name: Any) -> str:
    name = str(name)
    # TensorFlow's spellings ("/gpu:0", "/device:GPU:0") name the same devices.
    match = re.fullmatch(r"/?(?:device:)?([A-Za-z_]+)(?::(\d+))?", name)
    if match is None:
        raise ValueError(f"[device] cannot parse device name {name!r}")
    kind, index = match.group(1).lower(), match.group(2)
    kind = {"gpu": "cuda"}.get(kind, kind)
    devrt.device(kind if index is None else f"{kind}:{index}")  # validates the name
    return kind if index is None else f"{kind}:{index}"


@contextlib.contextmanager
def device(device_name: Any) -> Iterator[None]:
    """``with keras.device("cpu"):`` — variables created and data passed to
    ``fit``/``predict`` inside the scope live on that device."""
    _DEVICES.append(_device_name(device_name))
    try:
        yield
    finally:
        _DEVICES.pop()


# --- tensors ----------------------------------------------------------------


def standardize_dtype(dtype: Any) -> str:
    """A dtype's name as Keras writes it (``"float32"``)."""
    return dtype_of(dtype).name


def dtype_of(dtype: Any) -> devrt.dtype:
    """The devrt dtype of `dtype` (None is floatx; devrt's names and aliases,
    NumPy dtypes); raises for what devrt does not know."""
    if isinstance(dtype, devrt.dtype):
        return dtype
    if dtype is None:
        dtype = _FLOATX
    elif not isinstance(dtype, str):
        dtype = getattr(dtype, "name", None) or np.dtype(dtype).name
    return devrt.dtype_from_name(dtype)


def is_tensor(x: Any) -> bool:
    return isinstance(x, devrt.Tensor)


def convert_to_tensor(x: Any, dtype: Any = None, device: str | None = None) -> devrt.Tensor:
    """`x` as a devrt tensor on `device` (default: the current device).
    Python floats become floatx, as in Keras; NumPy arrays keep their dtype."""
    want = None if dtype is None else dtype_of(dtype)
    if isinstance(x, devrt.Tensor):
        if want is not None and x.dtype != want:
            x = x.to(want)
        if device is not None and str(x.device) != device:
            x = x.to(device)
        return x
    if getattr(x, "_keras_history", None) is not None:
        raise TypeError(
            "[convert_to_tensor] a symbolic KerasTensor (from keras.Input) has no value; "
            "call the model on data instead"
        )
    array = np.asarray(x)
    if want is None:
        if array.dtype == np.float64 and not isinstance(x, np.ndarray):
            array = array.astype(_FLOATX)
        elif array.dtype == np.uint16 or array.dtype.kind in "USOV":
            raise TypeError(
                f"[convert_to_tensor] cannot convert {type(x).__name__} of "
                f"dtype {array.dtype} to a tensor"
            )
    else:
        array = array.astype(want.name, copy=False)
    tensor = devrt.from_numpy(np.ascontiguousarray(array).reshape(array.shape))
    target = device or current_device()
    return tensor if target == "cpu" else tensor.to(target)


def convert_to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, devrt.Tensor):
        return np.asarray(x.detach().cpu().numpy())
    return np.asarray(x)


# --- names ------------------------------------------------------------------


def to_snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def unique_name(base: str) -> str:
    """``dense``, ``dense_1``, ``dense_2``, ... as Keras numbers them."""
    count = _NAME_COUNTS[base]
    _NAME_COUNTS[base] += 1
    return base if count == 0 else f"{base}_{count}"


def clear_session() -> None:
    """Forget the layer-name counters (``keras.backend.clear_session``)."""
    _NAME_COUNTS.clear()
