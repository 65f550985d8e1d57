"""``keras.initializers``: callables ``init(shape, dtype)`` returning a new
devrt tensor, with Keras 3's names, defaults and configs.

Unseeded draws come from devrt's global generator (``devrt.manual_seed``,
``keras.utils.set_random_seed``). A seeded initializer gives the same
values on every call, as in Keras: it draws from its own NumPy generator
and hands the values to devrt.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import devrt
from devrt._composite import initializers as _init
from devrt._composite.eager import EAGER
from devrt.keras import backend, serialization


class Initializer:
    _keras_module = "keras.initializers"

    def __call__(self, shape: Any, dtype: Any = None) -> devrt.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Initializer:
        return cls(**config)

    def clone(self) -> Initializer:
        return type(self).from_config(self.get_config())


def _make(values: np.ndarray, dtype: Any) -> devrt.Tensor:
    return backend.convert_to_tensor(values, dtype=backend.standardize_dtype(dtype))


def _device_dtype(dtype: Any) -> tuple[Any, str]:
    return backend.dtype_of(dtype), backend.current_device()


class Zeros(Initializer):
    def __call__(self, shape: Any, dtype: Any = None) -> devrt.Tensor:
        dt, dev = _device_dtype(dtype)
        return devrt.zeros(tuple(shape), dtype=dt, device=dev)


class Ones(Initializer):
    def __call__(self, shape: Any, dtype: Any = None) -> devrt.Tensor:
        dt, dev = _device_dtype(dtype)
        return devrt.ones(tuple(shape), dtype=dt, device=dev)


class Constant(Initializer):
    def __init__(self, value: Any = 0.0) -> None:
        self.value = value

    def __call__(self, shape: Any, dtype: Any = None) -> devrt.Tensor:
        dt, dev = _device_dtype(dtype)
        if np.ndim(self.value) == 0:
            return devrt.full(tuple(shape), float(self.value), dtype=dt, device=dev)
        return _make(np.broadcast_to(np.asarray(self.value), tuple(shape)), dtype)

    def get_config(self) -> dict:
        return {"value": serialization.serialize_keras_object(self.value)}


class Identity(Initializer):
    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def __call__(self, shape: Any, dtype: Any = None) -> devrt.Tensor:
        if len(shape) != 2:
            raise ValueError(
                f"Identity matrix initializer can only be used for 2D matrices. "
                f"Received: shape={tuple(shape)} of rank {len(shape)}."
            )
        dt, dev = _device_dtype(dtype)
        return devrt.eye(shape[0], shape[1], dtype=dt, device=dev) * self.gain

    def get_config(self) -> dict:
        return {"gain": self.gain}


class RandomInitializer(Initializer):
    def __init__(self, seed: int | None = None) -> None:
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"`seed` argument should be an int or None. Received: seed={seed}")
        self.seed = seed

    def _rng(self) -> np.random.Generator | None:
        return None if self.seed is None else np.random.default_rng(self.seed)

    def _uniform(self, shape: Any, dtype: Any, low: float, high: float) -> devrt.Tensor:
        rng = self._rng()
        if rng is not None:
            return _make(rng.uniform(low, high, size=tuple(shape)), dtype)
        dt, dev = _device_dtype(dtype)
        return EAGER.random_uniform(shape, dt, low, high, device=dev)

    def _normal(
        self, shape: Any, dtype: Any, mean: float, stddev: float, truncated: bool = False
    ) -> devrt.Tensor:
        rng = self._rng()
        if rng is not None:
            values = rng.standard_normal(size=tuple(shape))
            while truncated and (bad := np.abs(values) > 2.0).any():
                values[bad] = rng.standard_normal(size=int(bad.sum()))
            return _make(values * stddev + mean, dtype)
        dt, dev = _device_dtype(dtype)
        sampler = EAGER.truncated_normal if truncated else EAGER.random_normal
        return sampler(shape, dt, mean, stddev, device=dev)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class RandomNormal(RandomInitializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def __call__(self, shape: Any, dtype: Any = None) -> devrt.Tensor:
        return self._normal(shape, dtype, self.mean, self.stddev)

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomNormal):
    def __call__(self, shape: Any, dtype: Any = None) -> devrt.Tensor:
        return self._normal(shape, dtype, self.mean, self.stddev, truncated=True)


class RandomUniform(RandomInitializer):
    def __init__(
        self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None
    ) -> None:
        self.minval, self.maxval = minval, maxval
        super().__init__(seed)

    def __call__(self, shape: Any, dtype: Any = None) -> devrt.Tensor:
        return self._uniform(shape, dtype, self.minval, self.maxval)

    def get_config(self) -> dict:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


def compute_fans(shape: Any) -> tuple[int, int]:
    """Keras' fan-in and fan-out: a kernel's receptive field times its
    input and output channels."""
    return _init.fans(shape)


class VarianceScaling(RandomInitializer):
    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
    ) -> None:
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(
                f"Invalid `mode` argument: expected one of fan_in, fan_out, "
                f"fan_avg. Received: mode={mode}"
            )
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError(
                f"Invalid `distribution` argument: expected one of uniform, "
                f"truncated_normal, untruncated_normal. Received: {distribution}"
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution
        super().__init__(seed)

    def __call__(self, shape: Any, dtype: Any = None) -> devrt.Tensor:
        fan_in, fan_out = compute_fans(shape)
        value = _init.variance_scaling_parameter(
            self.scale, self.mode, self.distribution, fan_in, fan_out
        )
        if self.seed is None:
            dt, dev = _device_dtype(dtype)
            return _init.sample(EAGER, self.distribution, shape, dt, value, device=dev)
        if self.distribution == "uniform":
            return self._uniform(shape, dtype, -value, value)
        return self._normal(shape, dtype, 0.0, value, self.distribution == "truncated_normal")

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
        }


def _scaling(name: str, scale: float, mode: str, distribution: str) -> type:
    def __init__(
        self: Any, seed: int | None = None, input_axes: Any = None, output_axes: Any = None
    ) -> None:
        VarianceScaling.__init__(self, scale, mode, distribution, seed)
        self.input_axes, self.output_axes = input_axes, output_axes

    def get_config(self: Any) -> dict:
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}

    return type(
        name,
        (VarianceScaling,),
        {"__init__": __init__, "get_config": get_config, "__module__": __name__},
    )


GlorotUniform = _scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(RandomInitializer):
    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        self.gain = gain
        super().__init__(seed)

    def __call__(self, shape: Any, dtype: Any = None) -> devrt.Tensor:
        if len(shape) < 2:
            raise ValueError(
                f"The tensor to initialize must be at least two-dimensional. "
                f"Received: shape={tuple(shape)} of rank {len(shape)}."
            )
        rows = math.prod(shape[:-1])
        cols = shape[-1]
        rng = self._rng() or np.random.default_rng(int(devrt.randint(0, 2**31 - 1, (1,))[0]))
        # A factorization, done once at creation on the host like any other
        # initial value; training never runs it.
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return _make(self.gain * q.reshape(tuple(shape)), dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "gain": self.gain}


_CLASSES = {
    cls.__name__: cls
    for cls in (
        Zeros,
        Ones,
        Constant,
        Identity,
        RandomNormal,
        TruncatedNormal,
        RandomUniform,
        VarianceScaling,
        GlorotUniform,
        GlorotNormal,
        HeUniform,
        HeNormal,
        LecunUniform,
        LecunNormal,
        Orthogonal,
    )
}
_ALIASES = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "identity": Identity,
    "random_normal": RandomNormal,
    "truncated_normal": TruncatedNormal,
    "random_uniform": RandomUniform,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal,
    "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal,
    "zero": Zeros,
    "one": Ones,
    "uniform": RandomUniform,
    "normal": RandomNormal,
}
_ALL = {**_CLASSES, **_ALIASES}

# Names users know from the functions of older Keras.
zeros, ones, glorot_uniform, glorot_normal = Zeros, Ones, GlorotUniform, GlorotNormal
he_uniform, he_normal, lecun_uniform, lecun_normal = HeUniform, HeNormal, LecunUniform, LecunNormal
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
constant, orthogonal, identity, variance_scaling = Constant, Orthogonal, Identity, VarianceScaling


def serialize(initializer: Any) -> Any:
    return serialization.serialize_keras_object(initializer)


def deserialize(config: Any, custom_objects: dict | None = None) -> Any:
    return serialization.deserialize_keras_object(config, _ALL, custom_objects, "initializer")


def get(identifier: Any) -> Any:
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    if np.ndim(identifier) == 0:
        return Constant(identifier)
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")
