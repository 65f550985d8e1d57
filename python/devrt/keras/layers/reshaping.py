"""Reshaping layers: Flatten, Reshape, Permute, RepeatVector, ZeroPadding2D,
UpSampling2D. Each is a view or one devrt op; nothing is copied that a view
can express (a Flatten of a contiguous tensor is a reshape)."""

from __future__ import annotations

import math
from typing import Any

import devrt
from devrt.keras import backend
from devrt.keras.layers.convolutional import ShapeFromFormula, standardize_tuple
from devrt.keras.layers.layer import InputSpec, Layer
from devrt.nn import functional as F


class Flatten(ShapeFromFormula, Layer):
    """(batch, ...) -> (batch, prod(...)); channels_first inputs are first
    put channels last, as Keras does, so the order matches."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = backend.standardize_data_format(data_format)
        self.input_spec = InputSpec(min_ndim=1)
        self.built = True

    def call(self, inputs: devrt.Tensor) -> devrt.Tensor:
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = inputs.permute(0, *range(2, inputs.ndim), 1)
        return inputs.reshape(inputs.shape[0], -1)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        rest = input_shape[1:]
        flat = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], flat)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format}


def _resolve_shape(layer: str, known: tuple, target: tuple) -> tuple:
    """`target` with its -1 resolved against the element count of `known`
    (None where the count is unknown)."""
    if list(target).count(-1) > 1:
        raise ValueError(
            f"[{layer}] there must be at most one unknown dimension (-1) in target_shape. "
            f"Received: target_shape={target}."
        )
    if any(d is None for d in known):
        return tuple(None if d == -1 else d for d in target)
    total = math.prod(known)
    fixed = math.prod(d for d in target if d != -1)
    if -1 in target:
        if fixed == 0 or total % fixed:
            raise ValueError(
                f"The total size of the tensor must be unchanged. Received: input_shape="
                f"{known}, target_shape={target}"
            )
        return tuple(total // fixed if d == -1 else d for d in target)
    if fixed != total:
        raise ValueError(
            f"The total size of the tensor must be unchanged. Received: input_shape="
            f"{known}, target_shape={target}"
        )
    return target


class Reshape(ShapeFromFormula, Layer):
    """Reshapes the non-batch dimensions to `target_shape` (one -1 allowed)."""

    def __init__(self, target_shape: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        self.built = True

    def call(self, inputs: devrt.Tensor) -> devrt.Tensor:
        shape = _resolve_shape(self.name, tuple(inputs.shape[1:]), self.target_shape)
        return inputs.reshape(inputs.shape[0], *shape)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], *_resolve_shape(self.name, input_shape[1:], self.target_shape))

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": self.target_shape}


class Permute(ShapeFromFormula, Layer):
    """Permutes the non-batch axes; `dims` counts from 1, as in Keras."""

    def __init__(self, dims: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(
                "Invalid permutation argument `dims` for Permute Layer. The set of indices "
                f"in `dims` must be consecutive and start from 1. Received dims={dims}"
            )
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)
        self.built = True

    def call(self, inputs: devrt.Tensor) -> devrt.Tensor:
        return inputs.permute(0, *self.dims)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self) -> dict:
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(ShapeFromFormula, Layer):
    """(batch, features) -> (batch, n, features)."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(n, int):
            raise TypeError(f"Expected an integer value for `n`, got {type(n)}.")
        self.n = n
        self.input_spec = InputSpec(ndim=2)
        self.built = True

    def call(self, inputs: devrt.Tensor) -> devrt.Tensor:
        return inputs.unsqueeze(1).expand(inputs.shape[0], self.n, inputs.shape[1])

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self) -> dict:
        return {**super().get_config(), "n": self.n}


def _spatial_axes(data_format: str) -> tuple[int, int]:
    return (1, 2) if data_format == "channels_last" else (2, 3)


class ZeroPadding2D(ShapeFromFormula, Layer):
    """Pads rows and columns with zeros: `padding` is an int, (rows, cols),
    or ((top, bottom), (left, right))."""

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.data_format = backend.standardize_data_format(data_format)
        if isinstance(padding, int):
            self.padding = ((padding, padding), (padding, padding))
        elif hasattr(padding, "__len__") and len(padding) == 2:
            self.padding = tuple(
                standardize_tuple(p, 2, f"{which} entry of padding")
                for p, which in zip(padding, ("1st", "2nd"), strict=True)
            )
        else:
            raise ValueError(
                "`padding` should be either an int, a tuple of 2 ints, or a tuple of 2 "
                f"tuples of 2 ints ((top, bottom), (left, right)). Received: padding={padding}."
            )
        self.input_spec = InputSpec(ndim=4)
        self.built = True

    def call(self, inputs: devrt.Tensor) -> devrt.Tensor:
        (top, bottom), (left, right) = self.padding
        if self.data_format == "channels_last":
            return F.pad(inputs, (0, 0, left, right, top, bottom))
        return F.pad(inputs, (left, right, top, bottom))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        out = list(input_shape)
        for axis, (a, b) in zip(_spatial_axes(self.data_format), self.padding, strict=True):
            if out[axis] is not None:
                out[axis] += a + b
        return tuple(out)

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class UpSampling2D(ShapeFromFormula, Layer):
    """Repeats rows `size[0]` and columns `size[1]` times (nearest neighbour)."""

    def __init__(
        self,
        size: Any = (2, 2),
        data_format: str | None = None,
        interpolation: str = "nearest",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_format = backend.standardize_data_format(data_format)
        self.size = standardize_tuple(size, 2, "size")
        if interpolation != "nearest":
            raise NotImplementedError(
                f"[UpSampling2D] interpolation={interpolation!r} is not supported by devrt "
                "(only 'nearest')"
            )
        self.interpolation = interpolation
        self.input_spec = InputSpec(ndim=4)
        self.built = True

    def call(self, inputs: devrt.Tensor) -> devrt.Tensor:
        sh, sw = self.size
        h_axis, w_axis = _spatial_axes(self.data_format)
        shape = list(inputs.shape)
        # A broadcast view with a size-s axis after each of H and W, then one copy.
        x = inputs.unsqueeze(w_axis + 1).unsqueeze(h_axis + 1)
        wide = shape[: h_axis + 1] + [sh] + shape[h_axis + 1 : w_axis + 1] + [sw]
        wide += shape[w_axis + 1 :]
        shape[h_axis] *= sh
        shape[w_axis] *= sw
        return x.expand(*wide).reshape(*shape)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        out = list(input_shape)
        for axis, s in zip(_spatial_axes(self.data_format), self.size, strict=True):
            if out[axis] is not None:
                out[axis] *= s
        return tuple(out)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "size": self.size,
            "data_format": self.data_format,
            "interpolation": self.interpolation,
        }
