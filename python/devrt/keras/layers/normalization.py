"""Normalization layers: BatchNormalization and LayerNormalization, on
devrt's ``batch_norm`` and ``layer_norm`` composites.

BatchNormalization follows Keras, not torch: ``momentum`` is the weight of
the old moving statistic (``moving = moving * momentum + batch * (1 -
momentum)``) and the moving variance follows the biased batch variance.
The batch statistics are computed here for that update and handed to
``batch_norm`` as the statistics to normalize with.
"""

from __future__ import annotations

import math
from typing import Any

import devrt
from devrt._composite import normalization as _norm
from devrt._composite.eager import EAGER
from devrt.keras import constraints, initializers, regularizers
from devrt.keras.layers.layer import InputSpec, Layer, _add_weight_of
from devrt.nn import functional as F


def _as_channels_3d(x: devrt.Tensor, axis: int) -> devrt.Tensor:
    """`x` as (before, channels, after): a view for a contiguous `x`, and the
    layout ``batch_norm`` normalizes over dimension 1 of."""
    before = math.prod(x.shape[:axis])
    after = math.prod(x.shape[axis + 1 :])
    return x.reshape(before, x.shape[axis], after)


class BatchNormalization(Layer):
    """Normalizes each feature along `axis` by the batch statistics in
    training and by the moving statistics at inference."""

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        synchronized: bool = False,
        renorm: bool = False,
        renorm_clipping: Any = None,
        renorm_momentum: float = 0.99,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if renorm:
            raise NotImplementedError("[BatchNormalization] renorm=True is not supported by devrt")
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise NotImplementedError(
                    f"[BatchNormalization] devrt normalizes along one axis; got axis={axis}"
                )
            axis = axis[0]
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.synchronized = synchronized
        self.renorm = renorm
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum
        self.supports_masking = True
        self.gamma = self.beta = None

    def build(self, input_shape: Any) -> None:
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(
                f"[{self.name}] axis {self.axis} is out of range for an input of shape "
                f"{input_shape}"
            )
        self._axis = self.axis % ndim
        size = input_shape[self._axis]
        if size is None:
            raise ValueError(
                f"[{self.name}] axis {self.axis} of the input should be defined. "
                f"Full input shape received: {input_shape}"
            )
        shape = (size,)
        if self.scale:
            self.gamma = _add_weight_of(self, "gamma", shape)
        if self.center:
            self.beta = _add_weight_of(self, "beta", shape)
        self.moving_mean = self.add_weight(
            name="moving_mean",
            shape=shape,
            initializer=self.moving_mean_initializer,
            trainable=False,
        )
        self.moving_variance = self.add_weight(
            name="moving_variance",
            shape=shape,
            initializer=self.moving_variance_initializer,
            trainable=False,
        )
        self.input_spec = InputSpec(ndim=ndim, axes={self._axis: size})
        self.built = True

    def call(self, inputs: devrt.Tensor, training: Any = None, mask: Any = None) -> devrt.Tensor:
        if mask is not None:
            raise NotImplementedError("[BatchNormalization] masks are not supported by devrt")
        x = _as_channels_3d(inputs, self._axis)
        if training and self.trainable:
            mean, variance = _norm.moments(EAGER, x, [0, 2])
            mean = mean.reshape(variance.shape)
            m = self.momentum
            with devrt.no_grad():
                _norm.running_average(EAGER, self.moving_mean, mean.detach(), m, 1.0 - m)
                _norm.running_average(EAGER, self.moving_variance, variance.detach(), m, 1.0 - m)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        y = F.batch_norm(x, mean, variance, self.gamma, self.beta, training=False, eps=self.epsilon)
        return y.reshape(inputs.shape)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        }


class LayerNormalization(Layer):
    """Normalizes each sample over `axis` (an int or a list of axes), then
    scales by `gamma` and shifts by `beta` (shape: the sizes of `axis`)."""

    def __init__(
        self,
        axis: Any = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        rms_scaling: bool = False,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = list(axis)
        elif isinstance(axis, int):
            self.axis = axis
        else:
            raise TypeError(
                f"Expected an int or a list/tuple of ints for the argument 'axis', "
                f"but received: {axis}"
            )
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.rms_scaling = rms_scaling
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True
        self.gamma = self.beta = None

    def build(self, input_shape: Any) -> None:
        ndim = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if not -ndim <= a < ndim:
                raise ValueError(
                    f"[{self.name}] axis {a} is out of range for an input of shape {input_shape}"
                )
        # Keras keeps the axes as a sorted list once built.
        self.axis = sorted(axes)
        self._axes = sorted(a % ndim for a in axes)
        shape = tuple(input_shape[a] for a in self._axes)
        if self.scale or self.rms_scaling:
            self.gamma = _add_weight_of(self, "gamma", shape)
        if self.center and not self.rms_scaling:
            self.beta = _add_weight_of(self, "beta", shape)
        # Normalized axes that are not the trailing ones are moved there.
        rest = [a for a in range(ndim) if a not in self._axes]
        self._order = rest + self._axes
        self._trailing = self._order == list(range(ndim))
        self._inverse = [self._order.index(a) for a in range(ndim)]
        self.built = True

    def call(self, inputs: devrt.Tensor) -> devrt.Tensor:
        x = inputs if self._trailing else inputs.permute(*self._order)
        shape = tuple(x.shape[x.ndim - len(self._axes) :])
        if self.rms_scaling:
            # Keras' rms_scaling divides by the (centred) standard deviation.
            dims = tuple(range(x.ndim - len(shape), x.ndim))
            y = x * devrt.rsqrt(x.var(dims, keepdim=True, correction=0) + self.epsilon)
            if self.gamma is not None:
                y = y * self.gamma
        else:
            y = F.layer_norm(x, shape, self.gamma, self.beta, eps=self.epsilon)
        return y if self._trailing else y.permute(*self._inverse)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }
