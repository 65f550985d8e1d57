"""``keras.utils.to_categorical`` and ``keras.utils.normalize``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import devrt
import devrt.nn.functional as F
from devrt.keras import backend


def to_categorical(x: Any, num_classes: int | None = None) -> Any:
    """One-hot encodes class indices: `x` of shape `(..., )` (or `(..., 1)`)
    becomes `(..., num_classes)` of zeros and ones.

    NumPy input (or a list) gives a float64 NumPy array, as in Keras; a devrt
    tensor gives a floatx devrt tensor. `num_classes` defaults to the largest
    index plus one.
    """
    if isinstance(x, devrt.Tensor):
        if x.ndim > 1 and x.shape[-1] == 1:
            x = x.reshape(tuple(x.shape[:-1]))
        if x.dtype is not devrt.int64:
            x = x.to(devrt.int64)
        _check_classes(
            int(x.min()) if x.numel() else 0, int(x.max()) if x.numel() else -1, num_classes
        )
        encoded = F.one_hot(x, -1 if num_classes is None else int(num_classes))
        return encoded.to(backend.dtype_of(backend.floatx()))
    x = np.array(x, dtype="int64")
    input_shape = x.shape
    if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
        input_shape = tuple(input_shape[:-1])
    x = x.reshape(-1)
    _check_classes(int(x.min()) if x.size else 0, int(x.max()) if x.size else -1, num_classes)
    if not num_classes:
        num_classes = int(np.max(x)) + 1 if x.size else 0
    categorical = np.zeros((x.shape[0], num_classes))
    categorical[np.arange(x.shape[0]), x] = 1
    return categorical.reshape(input_shape + (num_classes,))


def _check_classes(smallest: int, largest: int, num_classes: int | None) -> None:
    if smallest < 0:
        raise ValueError(f"[to_categorical] class indices must be non-negative, got {smallest}")
    if num_classes and largest >= num_classes:
        raise ValueError(
            f"[to_categorical] class index {largest} is out of range for num_classes={num_classes}"
        )


def normalize(x: Any, axis: int = -1, order: Any = 2) -> Any:
    """`x` divided by its `order`-norm along `axis` (a zero vector stays zero).

    `order` is an integer >= 1 or `math.inf`. NumPy input gives a NumPy
    array, a devrt tensor a devrt tensor; the arithmetic is devrt's.
    """
    if not (order == math.inf or (isinstance(order, int) and order >= 1)):
        raise ValueError(f"Argument `order` must be an int >= 1. Received: order={order}")
    as_numpy = not isinstance(x, devrt.Tensor)
    if as_numpy:
        array = np.asarray(x)
        if array.dtype.kind not in "fc":
            array = array.astype(backend.floatx())
        x = backend.convert_to_tensor(array)
    if x.ndim == 0:
        x = x.reshape((1,))
    # Dividing by max(norm, epsilon) leaves zero vectors at zero.
    out = F.normalize(x, p=order, dim=axis, eps=backend.epsilon())
    return backend.convert_to_numpy(out) if as_numpy else out
