"""``tf.layers``: TF1's layer objects and functions (``dense``, ``conv2d``,
``max_pooling2d``, ``average_pooling2d``, ``flatten``, ``dropout``,
``batch_normalization``).

A layer owns a variable scope, chosen at its first call as TF1 chooses it:
the given `name`, or a unique default ("dense", "dense_1" ...) under the
enclosing variable scope. Its variables are made with ``get_variable`` in
that scope ("dense/kernel", "dense/bias"), and its ops are built in the
matching name scope ("dense/MatMul", "dense/BiasAdd"). Calling a layer
object again reuses its variables; the functional form creates a new layer
each time, so reusing variables takes ``name=`` with ``reuse=True`` (or an
enclosing ``variable_scope(..., reuse=True)``).

Differences from TensorFlow: activity regularizers and constraints are not
applied; batch normalization is the unfused algorithm (the moving variance
is updated with the biased batch variance) and has no renorm.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from devrt._composite import normalization as _norm
from devrt._composite.graph import GRAPH
from devrt.graph import convolution, init_ops, math_ops, nn
from devrt.graph import framework as fw
from devrt.graph.array_ops import _reshape_target, identity
from devrt.graph.control_flow_ops import _select_on_scalar
from devrt.graph.framework import GraphKeys
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _apply, _int, _int_list, _t
from devrt.graph.variable_scope import get_variable, variable_scope

__all__ = [
    "AveragePooling2D",
    "BatchNormalization",
    "Conv1D",
    "Conv2D",
    "Conv2DTranspose",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "MaxPooling2D",
    "average_pooling2d",
    "batch_normalization",
    "conv1d",
    "conv2d",
    "conv2d_transpose",
    "dense",
    "dropout",
    "flatten",
    "max_pooling2d",
]

_ACTIVATIONS = {
    "relu": nn.relu,
    "sigmoid": math_ops.sigmoid,
    "tanh": math_ops.tanh,
    "softmax": nn.softmax,
    "elu": nn.elu,
    "softplus": nn.softplus,
    "relu6": nn.relu6,
    "linear": None,
}


def _activation(activation: Any) -> Any:
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"[layers] unknown activation {activation!r}")
        return _ACTIVATIONS[activation]
    return activation


def _pair(value: Any, what: str, arg: str) -> list[int]:
    vals = _int_list(value, what, arg)
    if len(vals) == 1:
        return vals * 2
    if len(vals) != 2:
        raise ValueError(f"[{what}] {arg} must be an int or a pair, got {value!r}")
    return vals


def _single(value: Any, what: str, arg: str) -> int:
    vals = _int_list(value, what, arg)
    if len(vals) != 1:
        raise ValueError(f"[{what}] {arg} must be an int or a 1-tuple, got {value!r}")
    return vals[0]


def _data_format(data_format: str, what: str) -> str:
    if data_format == "channels_last":
        return "NHWC"
    if data_format == "channels_first":
        return "NCHW"
    raise ValueError(f"[{what}] data_format must be 'channels_last' or 'channels_first'")


def _layer_padding(padding: str, what: str) -> str:
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"[{what}] padding must be 'valid' or 'same', got {padding!r}")
    return padding.upper()


def _positive(value: Any, what: str, arg: str) -> int:
    """`value` as a positive int, or a TypeError/ValueError under ``[what]``."""
    out = _int(value, what, arg)
    if out <= 0:
        raise ValueError(f"[{what}] `{arg}` must be a positive int, got {out}")
    return out


class Layer:
    """``tf.layers.Layer``: builds its variables at the first call (``build``),
    then ``call`` builds its ops, each time it is called."""

    _base_name = "layer"

    def __init__(
        self, trainable: bool = True, name: str | None = None, dtype: Any = None, **kwargs
    ):
        self.trainable = trainable
        self._given_name = name
        self._reuse = kwargs.pop("_reuse", None)
        self.dtype = dtype
        self.built = False
        self._scope: Any = None
        self._trainable_weights: list[Any] = []
        self._non_trainable_weights: list[Any] = []
        self._updates: list[Any] = []
        self._losses: list[Any] = []

    @property
    def name(self) -> str:
        if self._scope is not None:
            return self._scope.name.rsplit("/", 1)[-1]
        return self._given_name or self._base_name

    @property
    def scope_name(self) -> str:
        return self._scope.name if self._scope is not None else self.name

    def add_weight(
        self,
        name: str,
        shape: Any,
        dtype: Any = None,
        initializer: Any = None,
        regularizer: Any = None,
        trainable: bool = True,
        constraint: Any = None,
    ) -> Any:
        """A variable "<layer scope>/<name>" made with get_variable."""
        trainable = trainable and self.trainable
        v = get_variable(
            name,
            shape=shape,
            dtype=dtype or self.dtype,
            initializer=initializer,
            regularizer=regularizer,
            trainable=trainable,
        )
        (self._trainable_weights if trainable else self._non_trainable_weights).append(v)
        if regularizer is not None:
            self._losses.extend(v.graph.get_collection(GraphKeys.REGULARIZATION_LOSSES)[-1:])
        return v

    def build(self, input_shape: Any) -> None:
        self.built = True

    def call(self, inputs: Any, **kwargs: Any) -> Any:
        return inputs

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        x = inputs if isinstance(inputs, (list, tuple)) else _t(inputs, type(self).__name__)
        values = list(x) if isinstance(x, (list, tuple)) else [x]
        g = fw._graph_of(values)
        with g.as_default():
            if self._scope is None:
                with variable_scope(
                    self._given_name, default_name=self._base_name, reuse=self._reuse, values=values
                ) as scope:
                    self._scope = scope
                    return self._build_and_call(x, args, kwargs)
            reuse = True if self.built else self._reuse
            with variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False):
                with g.name_scope(self._scope.original_name_scope or None):
                    return self._build_and_call(x, args, kwargs)

    def _build_and_call(self, x: Any, args: Any, kwargs: Any) -> Any:
        if not self.built:
            self.build(x.shape if isinstance(x, Tensor) else [t.shape for t in x])
            self.built = True
        return self.call(x, *args, **kwargs)

    # --- weights -----------------------------------------------------------------------

    @property
    def trainable_weights(self) -> list[Any]:
        return list(self._trainable_weights)

    @property
    def non_trainable_weights(self) -> list[Any]:
        return list(self._non_trainable_weights)

    @property
    def weights(self) -> list[Any]:
        return self.trainable_weights + self.non_trainable_weights

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    @property
    def updates(self) -> list[Any]:
        return list(self._updates)

    @property
    def losses(self) -> list[Any]:
        return list(self._losses)


class _KernelLayer(Layer):
    """What Dense and Conv2D share: a kernel, an optional bias and an
    activation, applied as activation(op(inputs, kernel) + bias)."""

    def _init_kernel_bias(
        self,
        activation: Any,
        use_bias: bool,
        kernel_initializer: Any,
        bias_initializer: Any,
        kernel_regularizer: Any,
        bias_regularizer: Any,
    ) -> None:
        self.activation = _activation(activation)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer or init_ops.Zeros()
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel = self.bias = None

    def _build_kernel_bias(self, kernel_shape: list[int], units: int) -> None:
        self.kernel = self.add_weight(
            "kernel", kernel_shape, None, self.kernel_initializer, self.kernel_regularizer
        )
        if self.use_bias:
            self.bias = self.add_weight(
                "bias", [units], None, self.bias_initializer, self.bias_regularizer
            )

    def _input_channels(self, input_shape: Any, rank: int = 4) -> int:
        """The channel size of convolution inputs of shape `input_shape`."""
        what = type(self).__name__
        if input_shape.ndims != rank:
            raise ValueError(f"[{what}] inputs must have rank {rank}, got shape {input_shape}")
        channels = input_shape[-1] if self.data_format in ("NHWC", "NWC") else input_shape[1]
        if channels is None:
            raise ValueError(
                f"[{what}] the channel dimension of the inputs must be defined: {input_shape}"
            )
        return int(channels)

    def _bias_and_activation(self, out: Tensor, data_format: str | None = None) -> Tensor:
        if self.use_bias:
            out = nn.bias_add(out, self.bias, data_format=data_format)
        if self.activation is not None:
            out = self.activation(out)
        return out


def _matmul_last(inputs: Tensor, kernel: Any, units: int, what: str) -> Tensor:
    """inputs @ kernel along the last dimension of `inputs` (of any rank >= 2)."""
    rank = inputs.shape.ndims
    if rank is None or rank <= 2:
        return math_ops.matmul(inputs, kernel)
    in_dim = int(inputs.shape[-1])
    flat = _apply("Reshape", [inputs], {"shape": [-1, in_dim]})
    out = math_ops.matmul(flat, kernel)
    dims = inputs.shape.as_list()[:-1] + [units]
    if dims.count(None) > 1:
        raise ValueError(f"[{what}] inputs of shape {inputs.shape} have too many unknown dims")
    return _apply("Reshape", [out], {"shape": [-1 if d is None else d for d in dims]})


class Dense(_KernelLayer):
    """``tf.layers.Dense``: activation(inputs @ kernel + bias); inputs of rank
    above 2 are multiplied along their last dimension."""

    _base_name = "dense"

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = None,
        bias_initializer: Any = None,
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        trainable: bool = True,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(trainable=trainable, name=name, **kwargs)
        self.units = _positive(units, "dense", "units")
        self._init_kernel_bias(
            activation,
            use_bias,
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
        )

    def build(self, input_shape: Any) -> None:
        last = input_shape[-1] if input_shape.ndims else None
        if last is None:
            raise ValueError(
                "[Dense] The last dimension of the inputs to `Dense` should be defined. "
                f"Found `None` (input shape {input_shape})."
            )
        self._build_kernel_bias([int(last), self.units], self.units)

    def call(self, inputs: Tensor) -> Tensor:
        return self._bias_and_activation(_matmul_last(inputs, self.kernel, self.units, "Dense"))


class Conv2D(_KernelLayer):
    """``tf.layers.Conv2D``: activation(conv2d(inputs, kernel) + bias), kernel
    of shape (kh, kw, in, filters)."""

    _base_name = "conv2d"

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        data_format: str = "channels_last",
        dilation_rate: Any = (1, 1),
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = None,
        bias_initializer: Any = None,
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        trainable: bool = True,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(trainable=trainable, name=name, **kwargs)
        self.filters = _positive(filters, "conv2d", "filters")
        self.kernel_size = _pair(kernel_size, "Conv2D", "kernel_size")
        self.strides = _pair(strides, "Conv2D", "strides")
        self.padding = _layer_padding(padding, "Conv2D")
        self.data_format = _data_format(data_format, "Conv2D")
        self.dilation_rate = _pair(dilation_rate, "Conv2D", "dilation_rate")
        self._init_kernel_bias(
            activation,
            use_bias,
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
        )

    def build(self, input_shape: Any) -> None:
        channels = self._input_channels(input_shape)
        self._build_kernel_bias(self.kernel_size + [channels, self.filters], self.filters)

    def call(self, inputs: Tensor) -> Tensor:
        out = nn.conv2d(
            inputs,
            self.kernel,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
            dilations=self.dilation_rate,
        )
        return self._bias_and_activation(out, self.data_format)


class Conv1D(_KernelLayer):
    """``tf.layers.Conv1D``: activation(conv1d(inputs, kernel) + bias), kernel
    of shape (k, in, filters), inputs (batch, width, channels) or with
    ``channels_first`` (batch, channels, width)."""

    _base_name = "conv1d"

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        data_format: str = "channels_last",
        dilation_rate: Any = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = None,
        bias_initializer: Any = None,
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        trainable: bool = True,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(trainable=trainable, name=name, **kwargs)
        self.filters = int(filters)
        self.kernel_size = _single(kernel_size, "Conv1D", "kernel_size")
        self.strides = _single(strides, "Conv1D", "strides")
        self.padding = _layer_padding(padding, "Conv1D")
        self.data_format = "NWC" if _data_format(data_format, "Conv1D") == "NHWC" else "NCW"
        self.dilation_rate = _single(dilation_rate, "Conv1D", "dilation_rate")
        self._init_kernel_bias(
            activation,
            use_bias,
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
        )

    def build(self, input_shape: Any) -> None:
        channels = self._input_channels(input_shape, rank=3)
        self._build_kernel_bias([self.kernel_size, channels, self.filters], self.filters)

    def call(self, inputs: Tensor) -> Tensor:
        out = convolution.conv1d(
            inputs,
            self.kernel,
            self.strides,
            self.padding,
            data_format=self.data_format,
            dilations=self.dilation_rate,
        )
        return self._bias_and_activation(out, self.data_format)


class Conv2DTranspose(Conv2D):
    """``tf.layers.Conv2DTranspose``: activation(conv2d_transpose(inputs,
    kernel) + bias), kernel of shape (kh, kw, filters, in); each spatial
    output size is size * stride, plus max(kernel - stride, 0) for "valid"."""

    _base_name = "conv2d_transpose"

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        data_format: str = "channels_last",
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = None,
        bias_initializer: Any = None,
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        trainable: bool = True,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            filters,
            kernel_size,
            strides,
            padding,
            data_format,
            (1, 1),
            activation,
            use_bias,
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
            trainable=trainable,
            name=name,
            **kwargs,
        )

    def build(self, input_shape: Any) -> None:
        channels = self._input_channels(input_shape)
        self._build_kernel_bias(self.kernel_size + [self.filters, channels], self.filters)

    def call(self, inputs: Tensor) -> Tensor:
        dims = inputs.shape.as_list()
        spatial = [1, 2] if self.data_format == "NHWC" else [2, 3]
        out = [None, 0, 0, 0]
        for k, axis in enumerate(spatial):
            size, kernel, stride = dims[axis], self.kernel_size[k], self.strides[k]
            if size is None:
                raise ValueError(f"[Conv2DTranspose] spatial sizes must be known: {inputs.shape}")
            extra = max(kernel - stride, 0) if self.padding == "VALID" else 0
            out[axis] = size * stride + extra
        out[3 if self.data_format == "NHWC" else 1] = self.filters
        y = convolution.conv2d_transpose(
            inputs,
            self.kernel,
            out,
            self.strides,
            self.padding,
            data_format=self.data_format,
        )
        return self._bias_and_activation(y, self.data_format)


class _Pooling2D(Layer):
    _op = ""

    def __init__(
        self,
        pool_size: Any,
        strides: Any,
        padding: str = "valid",
        data_format: str = "channels_last",
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        what = type(self).__name__
        self.pool_size = _pair(pool_size, what, "pool_size")
        self.strides = _pair(strides, what, "strides")
        self.padding = _layer_padding(padding, what)
        self.data_format = _data_format(data_format, what)

    def call(self, inputs: Tensor) -> Tensor:
        pool = nn.max_pool if self._op == "MaxPool" else nn.avg_pool
        return pool(inputs, self.pool_size, self.strides, self.padding, self.data_format)


class MaxPooling2D(_Pooling2D):
    """``tf.layers.MaxPooling2D``."""

    _base_name = "max_pooling2d"
    _op = "MaxPool"


class AveragePooling2D(_Pooling2D):
    """``tf.layers.AveragePooling2D``."""

    _base_name = "average_pooling2d"
    _op = "AvgPool"


class Flatten(Layer):
    """``tf.layers.Flatten``: (batch, -1); the dims after the batch must be known."""

    _base_name = "flatten"

    def __init__(self, data_format: str = "channels_last", name: str | None = None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.data_format = _data_format(data_format, "Flatten")

    def call(self, inputs: Tensor) -> Tensor:
        x = inputs
        if self.data_format == "NCHW" and x.shape.ndims and x.shape.ndims > 2:
            perm = [0] + list(range(2, x.shape.ndims)) + [1]
            x = _apply("Transpose", [x], {"perm": perm})
        rest = x.shape.as_list()[1:] if x.shape.ndims is not None else None
        if rest is None or None in rest:
            raise ValueError(f"[Flatten] the dims after the batch must be known, got {x.shape}")
        n = int(np.prod(rest, dtype=np.int64))
        return _apply("Reshape", [x], {"shape": _reshape_target(x, [-1, n])})


class Dropout(Layer):
    """``tf.layers.Dropout``: drops with probability `rate` when `training`
    (a bool, or a bool tensor such as a placeholder: a Select then picks
    the dropped or the plain inputs at run time)."""

    _base_name = "dropout"

    def __init__(
        self, rate: float = 0.5, noise_shape: Any = None, seed: Any = None, name=None, **kwargs
    ):
        super().__init__(name=name, **kwargs)
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed

    def call(self, inputs: Tensor, training: Any = False) -> Tensor:
        if isinstance(training, (bool, np.bool_)) or training is None:
            if not training or self.rate == 0:
                return identity(inputs)
            return nn.dropout(inputs, rate=self.rate, noise_shape=self.noise_shape, seed=self.seed)
        dropped = nn.dropout(inputs, rate=self.rate, noise_shape=self.noise_shape, seed=self.seed)
        return _select_on_scalar(training, dropped, inputs, "Dropout")


class BatchNormalization(Layer):
    """``tf.layers.BatchNormalization``: normalises with the batch moments
    when `training` (and then adds updates of the moving mean and variance
    to ``tf.GraphKeys.UPDATE_OPS``), with the moving ones otherwise;
    `training` may be a bool tensor."""

    _base_name = "batch_normalization"

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = None,
        gamma_initializer: Any = None,
        moving_mean_initializer: Any = None,
        moving_variance_initializer: Any = None,
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        renorm: bool = False,
        trainable: bool = True,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        for ignored in (
            "fused",
            "virtual_batch_size",
            "adjustment",
            "renorm_clipping",
            "renorm_momentum",
        ):
            kwargs.pop(ignored, None)
        super().__init__(trainable=trainable, name=name, **kwargs)
        if renorm:
            raise NotImplementedError("[BatchNormalization] renorm is not supported")
        self.axis = axis
        self.momentum = momentum
        self.epsilon = epsilon
        self.center, self.scale = center, scale
        self.beta_initializer = beta_initializer or init_ops.Zeros()
        self.gamma_initializer = gamma_initializer or init_ops.Ones()
        self.moving_mean_initializer = moving_mean_initializer or init_ops.Zeros()
        self.moving_variance_initializer = moving_variance_initializer or init_ops.Ones()
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape: Any) -> None:
        rank = input_shape.ndims
        if rank is None:
            raise ValueError("[BatchNormalization] inputs must have a known rank")
        self._axis = self.axis % rank
        dim = input_shape[self._axis]
        if dim is None:
            raise ValueError(
                f"[BatchNormalization] axis {self.axis} of {input_shape} must be known"
            )
        shape = [int(dim)]
        if self.scale:
            self.gamma = self.add_weight(
                "gamma", shape, None, self.gamma_initializer, self.gamma_regularizer
            )
        if self.center:
            self.beta = self.add_weight(
                "beta", shape, None, self.beta_initializer, self.beta_regularizer
            )
        self.moving_mean = self.add_weight(
            "moving_mean", shape, None, self.moving_mean_initializer, trainable=False
        )
        self.moving_variance = self.add_weight(
            "moving_variance", shape, None, self.moving_variance_initializer, trainable=False
        )

    def call(self, inputs: Tensor, training: Any = False) -> Tensor:
        rank = inputs.shape.ndims
        axes = [a for a in range(rank) if a != self._axis]
        bshape = [1] * rank
        bshape[self._axis] = -1

        def bcast(t):
            if t is None or self._axis == rank - 1:
                return t
            return _apply("Reshape", [_t(t, "BatchNormalization")], {"shape": bshape})

        params = dict(
            offset=bcast(self.beta), scale=bcast(self.gamma), variance_epsilon=self.epsilon
        )
        moving = (self.moving_mean, self.moving_variance)
        if isinstance(training, (bool, np.bool_)) or training is None:
            if not training:
                return nn.batch_normalization(inputs, bcast(moving[0]), bcast(moving[1]), **params)
            mean, var = nn.moments(inputs, axes)
            decay = _t(1.0 - self.momentum, "BatchNormalization", inputs.dtype)
        else:
            what = "BatchNormalization"
            flag = _t(training, what)
            batch_mean, batch_var = nn.moments(inputs, axes)
            mean = _select_on_scalar(flag, batch_mean, _t(moving[0], what), what)
            var = _select_on_scalar(flag, batch_var, _t(moving[1], what), what)
            one_minus = _t(1.0 - self.momentum, what, inputs.dtype)
            decay = _select_on_scalar(flag, one_minus, _t(0.0, what, inputs.dtype), what)
        for v, value in zip(moving, (mean, var)):
            with fw.name_scope(None, "AssignMovingAvg", [v]):
                update = _norm.assign_moving_average(GRAPH, v, value, decay)
            self._updates.append(update)
            inputs.graph.add_to_collection(GraphKeys.UPDATE_OPS, update)
        return nn.batch_normalization(inputs, bcast(mean), bcast(var), **params)


# --- the functional forms ------------------------------------------------------------------


def dense(
    inputs,
    units,
    activation=None,
    use_bias=True,
    kernel_initializer=None,
    bias_initializer=None,
    kernel_regularizer=None,
    bias_regularizer=None,
    activity_regularizer=None,
    kernel_constraint=None,
    bias_constraint=None,
    trainable=True,
    name=None,
    reuse=None,
):
    """``tf.layers.dense``: a new Dense layer applied to `inputs` (kernel
    glorot_uniform and bias zeros by default, as TF)."""
    layer = Dense(
        units,
        activation,
        use_bias,
        kernel_initializer,
        bias_initializer,
        kernel_regularizer,
        bias_regularizer,
        activity_regularizer,
        kernel_constraint,
        bias_constraint,
        trainable,
        name,
        _reuse=reuse,
    )
    return layer(inputs)


def conv2d(
    inputs,
    filters,
    kernel_size,
    strides=(1, 1),
    padding="valid",
    data_format="channels_last",
    dilation_rate=(1, 1),
    activation=None,
    use_bias=True,
    kernel_initializer=None,
    bias_initializer=None,
    kernel_regularizer=None,
    bias_regularizer=None,
    activity_regularizer=None,
    kernel_constraint=None,
    bias_constraint=None,
    trainable=True,
    name=None,
    reuse=None,
):
    """``tf.layers.conv2d``: a new Conv2D layer applied to `inputs`."""
    layer = Conv2D(
        filters,
        kernel_size,
        strides,
        padding,
        data_format,
        dilation_rate,
        activation,
        use_bias,
        kernel_initializer,
        bias_initializer,
        kernel_regularizer,
        bias_regularizer,
        activity_regularizer,
        kernel_constraint,
        bias_constraint,
        trainable,
        name,
        _reuse=reuse,
    )
    return layer(inputs)


def max_pooling2d(
    inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None
):
    """``tf.layers.max_pooling2d``."""
    return MaxPooling2D(pool_size, strides, padding, data_format, name)(inputs)


def average_pooling2d(
    inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None
):
    """``tf.layers.average_pooling2d``."""
    return AveragePooling2D(pool_size, strides, padding, data_format, name)(inputs)


def flatten(inputs, name=None, data_format="channels_last"):
    """``tf.layers.flatten``."""
    return Flatten(data_format, name)(inputs)


def dropout(inputs, rate=0.5, noise_shape=None, seed=None, training=False, name=None):
    """``tf.layers.dropout``: identity unless `training` (see Dropout)."""
    return Dropout(rate, noise_shape, seed, name)(inputs, training=training)


def batch_normalization(
    inputs,
    axis=-1,
    momentum=0.99,
    epsilon=1e-3,
    center=True,
    scale=True,
    beta_initializer=None,
    gamma_initializer=None,
    moving_mean_initializer=None,
    moving_variance_initializer=None,
    beta_regularizer=None,
    gamma_regularizer=None,
    beta_constraint=None,
    gamma_constraint=None,
    training=False,
    trainable=True,
    name=None,
    reuse=None,
    renorm=False,
    **kwargs,
):
    """``tf.layers.batch_normalization`` (see BatchNormalization)."""
    layer = BatchNormalization(
        axis,
        momentum,
        epsilon,
        center,
        scale,
        beta_initializer,
        gamma_initializer,
        moving_mean_initializer,
        moving_variance_initializer,
        beta_regularizer,
        gamma_regularizer,
        beta_constraint,
        gamma_constraint,
        renorm,
        trainable,
        name,
        _reuse=reuse,
        **kwargs,
    )
    return layer(inputs, training=training)


def conv1d(
    inputs,
    filters,
    kernel_size,
    strides=1,
    padding="valid",
    data_format="channels_last",
    dilation_rate=1,
    activation=None,
    use_bias=True,
    kernel_initializer=None,
    bias_initializer=None,
    kernel_regularizer=None,
    bias_regularizer=None,
    activity_regularizer=None,
    kernel_constraint=None,
    bias_constraint=None,
    trainable=True,
    name=None,
    reuse=None,
):
    """``tf.layers.conv1d``: a new Conv1D layer applied to `inputs`."""
    layer = Conv1D(
        filters,
        kernel_size,
        strides,
        padding,
        data_format,
        dilation_rate,
        activation,
        use_bias,
        kernel_initializer,
        bias_initializer,
        kernel_regularizer,
        bias_regularizer,
        trainable=trainable,
        name=name,
        _reuse=reuse,
    )
    return layer(inputs)


def conv2d_transpose(
    inputs,
    filters,
    kernel_size,
    strides=(1, 1),
    padding="valid",
    data_format="channels_last",
    activation=None,
    use_bias=True,
    kernel_initializer=None,
    bias_initializer=None,
    kernel_regularizer=None,
    bias_regularizer=None,
    activity_regularizer=None,
    kernel_constraint=None,
    bias_constraint=None,
    trainable=True,
    name=None,
    reuse=None,
):
    """``tf.layers.conv2d_transpose``: a new Conv2DTranspose layer applied to `inputs`."""
    layer = Conv2DTranspose(
        filters,
        kernel_size,
        strides,
        padding,
        data_format,
        activation,
        use_bias,
        kernel_initializer,
        bias_initializer,
        kernel_regularizer,
        bias_regularizer,
        trainable=trainable,
        name=name,
        _reuse=reuse,
    )
    return layer(inputs)
