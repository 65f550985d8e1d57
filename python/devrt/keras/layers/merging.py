"""Merging layers: Add, Subtract, Multiply, Average, Maximum, Minimum,
Concatenate, Dot. Each takes a list of tensors; the elementwise ones
broadcast as NumPy does."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import devrt
from devrt.keras.layers.layer import Layer
from devrt.nn import functional as F


def _broadcast_shape(a: tuple, b: tuple) -> tuple:
    """NumPy broadcasting of two shapes with None for unknown sizes."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x == 1:
            out.append(y)
        elif y == 1 or x is None or y is None or x == y:
            out.append(x if y is None or y == 1 else y)
        else:
            raise ValueError(f"Inputs have incompatible shapes. Received shapes {a} and {b}")
    return tuple(reversed(out))


class Merge(Layer):
    """An elementwise merge of a list of tensors."""

    min_inputs = 1

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def _check_inputs(self, shapes: Any) -> list[tuple]:
        if not isinstance(shapes, (list, tuple)) or not all(
            isinstance(s, (list, tuple)) for s in shapes
        ):
            raise ValueError(
                f"A merge layer should be called on a list of inputs. Received: "
                f"input_shape={shapes} (not a list of shapes)"
            )
        if len(shapes) < self.min_inputs:
            raise ValueError(
                f"A merge layer should be called on a list of at least {self.min_inputs} "
                f"inputs. Got {len(shapes)} inputs. Full input_shape received: {shapes}"
            )
        return [tuple(s) for s in shapes]

    def build(self, input_shape: Any) -> None:
        self.compute_output_shape(input_shape)
        self.built = True

    def call(self, inputs: Any) -> devrt.Tensor:
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"A merge layer should be called on a list of inputs. Received: inputs={inputs}"
            )
        return self._merge(list(inputs))

    def _merge(self, inputs: list) -> devrt.Tensor:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shapes = self._check_inputs(input_shape)
        out = shapes[0]
        for shape in shapes[1:]:
            out = _broadcast_shape(out, shape)
        return out


def _check_broadcast(inputs: list) -> None:
    shape = tuple(inputs[0].shape)
    for x in inputs[1:]:
        shape = _broadcast_shape(shape, tuple(x.shape))


def _fold(op: Callable[[Any, Any], devrt.Tensor], inputs: list) -> devrt.Tensor:
    """``op`` applied pairwise from the left over inputs that broadcast."""
    _check_broadcast(inputs)
    out = inputs[0]
    for x in inputs[1:]:
        out = op(out, x)
    return out


class Add(Merge):
    def _merge(self, inputs: list) -> devrt.Tensor:
        return _fold(operator.add, inputs)


class Subtract(Merge):
    min_inputs = 2

    def _check_inputs(self, shapes: Any) -> list[tuple]:
        shapes = super()._check_inputs(shapes)
        if len(shapes) != 2:
            raise ValueError(
                f"A `Subtract` layer should be called on exactly 2 inputs. Received: "
                f"input_shape={shapes}"
            )
        return shapes

    def _merge(self, inputs: list) -> devrt.Tensor:
        if len(inputs) != 2:
            raise ValueError(
                f"A `Subtract` layer should be called on exactly 2 inputs. Received "
                f"{len(inputs)} inputs"
            )
        return _fold(operator.sub, inputs)


class Multiply(Merge):
    def _merge(self, inputs: list) -> devrt.Tensor:
        return _fold(operator.mul, inputs)


class Average(Merge):
    def _merge(self, inputs: list) -> devrt.Tensor:
        return _fold(operator.add, inputs) / len(inputs)


class Maximum(Merge):
    def _merge(self, inputs: list) -> devrt.Tensor:
        return _fold(devrt.maximum, inputs)


class Minimum(Merge):
    def _merge(self, inputs: list) -> devrt.Tensor:
        return _fold(devrt.minimum, inputs)


class Concatenate(Merge):
    """Concatenates a list of tensors along `axis`; all other sizes must match."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shapes = self._check_inputs(input_shape)
        self._check_shapes(shapes)
        axis = self.axis % len(shapes[0])
        out = list(shapes[0])
        for shape in shapes[1:]:
            for i, d in enumerate(shape):
                if i == axis:
                    out[i] = None if out[i] is None or d is None else out[i] + d
                elif out[i] is None:
                    out[i] = d
        return tuple(out)

    def _check_shapes(self, shapes: list[tuple]) -> None:
        ndim = len(shapes[0])
        bad = any(len(s) != ndim for s in shapes) or not -ndim <= self.axis < ndim
        if not bad:
            axis = self.axis % ndim
            for i in range(ndim):
                if i == axis:
                    continue
                sizes = {s[i] for s in shapes if s[i] is not None}
                if len(sizes) > 1:
                    bad = True
        if bad:
            raise ValueError(
                "A `Concatenate` layer requires inputs with matching shapes except for the "
                f"concatenation axis. Received: input_shape={shapes}"
            )

    def _merge(self, inputs: list) -> devrt.Tensor:
        self._check_shapes([tuple(x.shape) for x in inputs])
        return devrt.cat(inputs, self.axis)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


class Dot(Merge):
    """The dot product of two batches of tensors over `axes` (an int or a
    pair), as Keras' batch_dot; with `normalize`, the inputs are first
    L2-normalized along those axes (cosine proximity)."""

    min_inputs = 2

    def __init__(self, axes: Any, normalize: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)) or len(axes) != 2:
                raise ValueError(
                    f"Invalid format for argument `axes`: list of two ints expected. "
                    f"Received: axes={axes}"
                )
            if not all(isinstance(a, int) for a in axes):
                raise ValueError(
                    f"Invalid format for argument `axes`: list of two ints expected. "
                    f"Received: axes={axes}"
                )
        self.axes = axes
        self.normalize = normalize
        self.supports_masking = False

    def _resolved_axes(self, shape1: tuple, shape2: tuple) -> tuple[int, int]:
        axes = (self.axes, self.axes) if isinstance(self.axes, int) else tuple(self.axes)
        return axes[0] % len(shape1), axes[1] % len(shape2)

    def _check(self, shape1: tuple, shape2: tuple) -> tuple[int, int]:
        a1, a2 = self._resolved_axes(shape1, shape2)
        if a1 == 0 or a2 == 0:
            raise ValueError(
                f"[Dot] cannot take the dot product over the batch axis: axes={self.axes}"
            )
        if shape1[a1] is not None and shape2[a2] is not None and shape1[a1] != shape2[a2]:
            raise ValueError(
                f"Incompatible input shapes: axis values {shape1[a1]} (at axis {a1}) != "
                f"{shape2[a2]} (at axis {a2}). Full input shapes: {shape1}, {shape2}"
            )
        return a1, a2

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shapes = self._check_inputs(input_shape)
        if len(shapes) != 2:
            raise ValueError(
                f"A `Dot` layer should be called on a list of 2 inputs. Received: "
                f"input_shape={shapes}"
            )
        s1, s2 = shapes
        a1, a2 = self._check(s1, s2)
        out = (s1[0],) + tuple(d for i, d in enumerate(s1[1:], 1) if i != a1)
        out += tuple(d for i, d in enumerate(s2[1:], 1) if i != a2)
        return out if len(out) > 1 else (*out, 1)

    def _merge(self, inputs: list) -> devrt.Tensor:
        if len(inputs) != 2:
            raise ValueError(
                f"A `Dot` layer should be called on exactly 2 inputs. Received {len(inputs)}"
            )
        x, y = inputs
        a1, a2 = self._check(tuple(x.shape), tuple(y.shape))
        if self.normalize:
            x = F.normalize(x, dim=a1)
            y = F.normalize(y, dim=a2)
        # x -> (B, X, d), y -> (B, d, Y), one batched matmul, then unflatten.
        x_rest = [i for i in range(1, x.ndim) if i != a1]
        y_rest = [i for i in range(1, y.ndim) if i != a2]
        xm = x.permute(0, *x_rest, a1).reshape(x.shape[0], -1, x.shape[a1])
        ym = y.permute(0, a2, *y_rest).reshape(y.shape[0], y.shape[a2], -1)
        out = devrt.matmul(xm, ym)
        shape = [x.shape[0], *(x.shape[i] for i in x_rest), *(y.shape[i] for i in y_rest)]
        return out.reshape(*shape) if len(shape) > 1 else out.reshape(shape[0], 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def add(inputs: list, **kwargs: Any) -> Any:
    return Add(**kwargs)(inputs)


def subtract(inputs: list, **kwargs: Any) -> Any:
    return Subtract(**kwargs)(inputs)


def multiply(inputs: list, **kwargs: Any) -> Any:
    return Multiply(**kwargs)(inputs)


def average(inputs: list, **kwargs: Any) -> Any:
    return Average(**kwargs)(inputs)


def maximum(inputs: list, **kwargs: Any) -> Any:
    return Maximum(**kwargs)(inputs)


def minimum(inputs: list, **kwargs: Any) -> Any:
    return Minimum(**kwargs)(inputs)


def concatenate(inputs: list, axis: int = -1, **kwargs: Any) -> Any:
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs: list, axes: Any = -1, **kwargs: Any) -> Any:
    return Dot(axes=axes, **kwargs)(inputs)
