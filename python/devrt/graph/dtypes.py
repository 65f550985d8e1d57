"""tf.dtypes: the DType objects of the graph front end (``tf.float32`` ...).

A ``DType`` wraps a devrt dtype (what the core stores in node attributes)
and adds TensorFlow's properties (`name`, `as_numpy_dtype`, `is_floating`,
`base_dtype`, `min`/`max`). Two DTypes compare equal when they wrap the same
devrt dtype; a DType also compares equal to that devrt dtype, to the NumPy
dtype and to the dtype's name, as ``tf.float32 == np.float32`` does.

Difference from TensorFlow: there are no reference dtypes (``float32_ref``);
a variable's dtype is its plain dtype, whose `base_dtype` is itself.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from devrt import _C

__all__ = [
    "DType",
    "as_dtype",
    "bfloat16",
    "bool",
    "float16",
    "float32",
    "float64",
    "half",
    "double",
    "int32",
    "int64",
    "uint8",
]


class DType:
    """``tf.DType``: the type of the elements of a tensor."""

    __slots__ = ("_devrt",)

    def __init__(self, devrt_dtype: Any) -> None:
        self._devrt = devrt_dtype

    @property
    def name(self) -> str:
        return self._devrt.name

    @property
    def as_devrt_dtype(self) -> Any:
        """The devrt dtype (``devrt.float32`` ...) that the core uses (devrt only)."""
        return self._devrt

    @property
    def as_numpy_dtype(self) -> type:
        """The NumPy scalar type, e.g. ``np.float32``. bfloat16 has none in
        NumPy; its values travel as float32."""
        return _NUMPY[self.name]

    @property
    def base_dtype(self) -> DType:
        return self

    @property
    def real_dtype(self) -> DType:
        return self

    @property
    def is_floating(self) -> builtins.bool:
        return self.name in ("float16", "bfloat16", "float32", "float64")

    @property
    def is_integer(self) -> builtins.bool:
        return self.name in ("uint8", "int32", "int64")

    @property
    def is_unsigned(self) -> builtins.bool:
        return self.name in ("uint8", "bool")

    @property
    def is_bool(self) -> builtins.bool:
        return self.name == "bool"

    @property
    def is_complex(self) -> builtins.bool:
        return False

    @property
    def is_numpy_compatible(self) -> builtins.bool:
        return self.name != "bfloat16"

    @property
    def size(self) -> int:
        return self._devrt.itemsize

    def _limit(self, which: str) -> Any:
        """The smallest ("min") or largest ("max") value of the dtype."""
        if self.is_bool:
            return which == "max"
        if self.is_floating:
            return float(getattr(np.finfo(_NUMPY[self.name]), which))
        return int(getattr(np.iinfo(_NUMPY[self.name]), which))

    @property
    def min(self) -> Any:
        return self._limit("min")

    @property
    def max(self) -> Any:
        return self._limit("max")

    def is_compatible_with(self, other: Any) -> builtins.bool:
        return self == as_dtype(other)

    def __eq__(self, other: object) -> builtins.bool:
        if isinstance(other, DType):
            return self._devrt == other._devrt
        try:
            return self._devrt == as_dtype(other)._devrt
        except TypeError:
            return False

    def __ne__(self, other: object) -> builtins.bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"tf.{self.name}"

    def __str__(self) -> str:
        return f"<dtype: '{self.name}'>"

    def __reduce__(self) -> Any:
        return (as_dtype, (self.name,))


_NUMPY = {
    "bool": np.bool_,
    "uint8": np.uint8,
    "int32": np.int32,
    "int64": np.int64,
    "float16": np.float16,
    "bfloat16": np.float32,
    "float32": np.float32,
    "float64": np.float64,
}

bool = DType(_C.bool)  # noqa: A001 - tf.bool
uint8 = DType(_C.uint8)
int32 = DType(_C.int32)
int64 = DType(_C.int64)
float16 = DType(_C.float16)
bfloat16 = DType(_C.bfloat16)
float32 = DType(_C.float32)
float64 = DType(_C.float64)
half = float16
double = float64

_BY_NAME = {d.name: d for d in (bool, uint8, int32, int64, float16, bfloat16, float32, float64)}
_BY_NAME.update({"half": float16, "double": float64, "float": float32})


def as_dtype(type_value: Any) -> DType:
    """``tf.as_dtype``: a DType from a DType, a devrt dtype, a NumPy dtype or
    scalar type, a Python type (`float` is float64, `int` is int64, as NumPy
    has them) or a name such as ``"float32"``."""
    if isinstance(type_value, DType):
        return type_value
    if isinstance(type_value, _C.dtype):
        return _BY_NAME[type_value.name]
    if type_value is None:
        raise TypeError("[as_dtype] cannot convert None to a DType")
    if isinstance(type_value, str):
        found = _BY_NAME.get(type_value)
        if found is None:
            raise TypeError(f"[as_dtype] cannot convert {type_value!r} to a DType")
        return found
    try:
        np_dtype = np.dtype(type_value)
    except TypeError:
        raise TypeError(f"[as_dtype] cannot convert {type_value!r} to a DType") from None
    found = _BY_NAME.get(np_dtype.name)
    if found is None:
        raise TypeError(
            f"[as_dtype] devrt has no dtype for NumPy {np_dtype}; it holds "
            + ", ".join(sorted(d for d in _BY_NAME if d not in ("half", "double", "float")))
        )
    return found
