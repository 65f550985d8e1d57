"""Initializers of ``tf``: objects called as ``init(shape, dtype=None,
partition_info=None)`` that build the tensor of an initial value, as
``tf.get_variable`` and the layers call them. Their random numbers come
from the graph's random ops (see random_ops), seeded like any random op.
"""

from __future__ import annotations

from typing import Any

from devrt._composite import initializers as _init
from devrt._composite.graph import GRAPH
from devrt.graph import constant_ops, dtypes, random_ops, tensor_util

__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "Initializer",
    "Ones",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "constant_initializer",
    "glorot_normal_initializer",
    "glorot_uniform_initializer",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "ones_initializer",
    "random_normal_initializer",
    "random_uniform_initializer",
    "truncated_normal_initializer",
    "uniform_unit_scaling_initializer",
    "variance_scaling_initializer",
    "zeros_initializer",
]


class Initializer:
    """``tf.keras.initializers.Initializer`` as TF1 has it: callable with
    (shape, dtype=None, partition_info=None), configurable from get_config."""

    dtype: Any = None

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None):
        raise NotImplementedError

    def _dtype(self, dtype: Any) -> dtypes.DType:
        if dtype is not None:
            return dtypes.as_dtype(dtype)
        return dtypes.as_dtype(self.dtype) if self.dtype is not None else dtypes.float32

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        return cls(**config)


class _Fill(Initializer):
    """Zeros and Ones: the shape filled by ``constant_ops.<_fill>``."""

    _fill = ""

    def __init__(self, dtype: Any = dtypes.float32) -> None:
        self.dtype = dtype

    def __call__(self, shape, dtype=None, partition_info=None):
        return getattr(constant_ops, self._fill)(shape, self._dtype(dtype))

    def get_config(self):
        return {"dtype": dtypes.as_dtype(self.dtype).name}


class Zeros(_Fill):
    """``tf.zeros_initializer``."""

    _fill = "zeros"


class Ones(_Fill):
    """``tf.ones_initializer``."""

    _fill = "ones"


class Constant(Initializer):
    """``tf.constant_initializer(value)``: a scalar fills the shape; a value
    of as many elements is reshaped to it."""

    def __init__(self, value: Any = 0, dtype: Any = dtypes.float32, verify_shape: bool = False):
        self.value = value
        self.dtype = dtype
        self.verify_shape = verify_shape

    def __call__(self, shape, dtype=None, partition_info=None, verify_shape=None):
        verify = self.verify_shape if verify_shape is None else verify_shape
        return constant_ops.constant(self.value, self._dtype(dtype), shape, verify_shape=verify)

    def get_config(self):
        return {"value": self.value, "dtype": dtypes.as_dtype(self.dtype).name}


class _Normal(Initializer):
    """RandomNormal and TruncatedNormal: samples of ``random_ops.<_sample>``."""

    _sample = ""

    def __init__(self, mean=0.0, stddev=1.0, seed=None, dtype=dtypes.float32) -> None:
        self.mean, self.stddev, self.seed, self.dtype = mean, stddev, seed, dtype

    def __call__(self, shape, dtype=None, partition_info=None):
        return getattr(random_ops, self._sample)(
            shape, self.mean, self.stddev, self._dtype(dtype), self.seed
        )

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomNormal(_Normal):
    """``tf.random_normal_initializer``."""

    _sample = "random_normal"


class RandomUniform(Initializer):
    """``tf.random_uniform_initializer``."""

    def __init__(self, minval=0.0, maxval=None, seed=None, dtype=dtypes.float32) -> None:
        self.minval, self.maxval, self.seed, self.dtype = minval, maxval, seed, dtype

    def __call__(self, shape, dtype=None, partition_info=None):
        dt = self._dtype(dtype)
        maxval = self.maxval
        if maxval is None and dt.is_floating:
            maxval = 1.0
        return random_ops.random_uniform(shape, self.minval, maxval, dt, self.seed)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(_Normal):
    """``tf.truncated_normal_initializer`` (see random_ops.truncated_normal)."""

    _sample = "truncated_normal"


class VarianceScaling(Initializer):
    """``tf.variance_scaling_initializer``: samples of variance scale / n,
    n being fan_in, fan_out or their average (`mode`); `distribution`
    "truncated_normal" (TF1's "normal"), "untruncated_normal" or "uniform"."""

    def __init__(
        self,
        scale=1.0,
        mode="fan_in",
        distribution="truncated_normal",
        seed=None,
        dtype=dtypes.float32,
    ) -> None:
        if scale <= 0.0:
            raise ValueError("[variance_scaling_initializer] `scale` must be a positive float")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"[variance_scaling_initializer] invalid mode {mode!r}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError(
                f"[variance_scaling_initializer] invalid distribution {distribution!r}"
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.seed, self.dtype = seed, dtype

    def __call__(self, shape, dtype=None, partition_info=None):
        dt = self._dtype(dtype)
        dims = tensor_util._static_shape(shape, "variance_scaling_initializer")
        return _init.variance_scaling(
            GRAPH, dims, dt, self.scale, self.mode, self.distribution, self.seed
        )

    def get_config(self):
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
        }


class _Glorot(VarianceScaling):
    """GlorotUniform and GlorotNormal: scale 1, fan_avg, of `_distribution`."""

    _distribution = ""

    def __init__(self, seed=None, dtype=dtypes.float32) -> None:
        super().__init__(1.0, "fan_avg", self._distribution, seed, dtype)

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(_Glorot):
    """``tf.glorot_uniform_initializer``: U(-l, l), l = sqrt(6 / (fan_in + fan_out))."""

    _distribution = "uniform"


class GlorotNormal(_Glorot):
    """``tf.glorot_normal_initializer``: truncated normal of stddev
    sqrt(2 / (fan_in + fan_out))."""

    _distribution = "truncated_normal"


def he_normal(seed=None) -> VarianceScaling:
    return VarianceScaling(2.0, "fan_in", "truncated_normal", seed)


def he_uniform(seed=None) -> VarianceScaling:
    return VarianceScaling(2.0, "fan_in", "uniform", seed)


def lecun_normal(seed=None) -> VarianceScaling:
    return VarianceScaling(1.0, "fan_in", "truncated_normal", seed)


def lecun_uniform(seed=None) -> VarianceScaling:
    return VarianceScaling(1.0, "fan_in", "uniform", seed)


def uniform_unit_scaling_initializer(factor=1.0, seed=None, dtype=dtypes.float32):
    """``tf.uniform_unit_scaling_initializer``: U(-l, l), l = factor * sqrt(3 / fan_in)."""
    return VarianceScaling(factor**2, "fan_in", "uniform", seed, dtype)


zeros_initializer = Zeros
ones_initializer = Ones
constant_initializer = Constant
random_normal_initializer = RandomNormal
random_uniform_initializer = RandomUniform
truncated_normal_initializer = TruncatedNormal
variance_scaling_initializer = VarianceScaling
glorot_uniform_initializer = GlorotUniform
glorot_normal_initializer = GlorotNormal
