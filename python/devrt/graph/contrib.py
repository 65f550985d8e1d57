"""``tf.contrib``: the few contrib names TF1 programs commonly use, as a
namespace (``tf.contrib.layers.xavier_initializer()``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from devrt.graph import init_ops, seq2seq
from devrt.graph import layers as _layers
from devrt.graph import nn as _nn
from devrt.graph import rnn as _rnn
from devrt.graph import rnn_cell as _rnn_cell
from devrt.graph.framework import GraphKeys
from devrt.graph.tensor_util import _t
from devrt.graph.variable_scope import get_variable, variable_scope

__all__ = ["layers", "rnn", "seq2seq"]


def xavier_initializer(uniform: bool = True, seed: Any = None, dtype: Any = "float32"):
    """``tf.contrib.layers.xavier_initializer``: Glorot uniform, or with
    ``uniform=False`` a truncated normal of variance 1 / fan_avg (as contrib's
    variance_scaling_initializer(factor=1.0, mode='FAN_AVG'))."""
    if uniform:
        return init_ops.GlorotUniform(seed=seed, dtype=dtype)
    return init_ops.GlorotNormal(seed=seed, dtype=dtype)


def variance_scaling_initializer(
    factor: float = 2.0,
    mode: str = "FAN_IN",
    uniform: bool = False,
    seed: Any = None,
    dtype="float32",
):
    """``tf.contrib.layers.variance_scaling_initializer`` (contrib's argument names)."""
    return init_ops.VarianceScaling(
        factor, mode.lower(), "uniform" if uniform else "truncated_normal", seed, dtype
    )


def l2_regularizer(scale: float, scope: Any = None):
    """``tf.contrib.layers.l2_regularizer``: w -> scale * l2_loss(w)."""
    if scale < 0:
        raise ValueError(f"[l2_regularizer] scale cannot be negative: {scale}")

    def regularize(weights: Any):
        if scale == 0:
            return None
        w = _t(weights, "l2_regularizer")
        return _nn.l2_loss(w) * scale

    return regularize


def l1_regularizer(scale: float, scope: Any = None):
    """``tf.contrib.layers.l1_regularizer``: w -> scale * sum(|w|)."""
    from devrt.graph.math_ops import abs as _abs
    from devrt.graph.math_ops import reduce_sum

    def regularize(weights: Any):
        if scale == 0:
            return None
        return reduce_sum(_abs(_t(weights, "l1_regularizer"))) * scale

    return regularize


def fully_connected(
    inputs: Any,
    num_outputs: int,
    activation_fn: Any = _nn.relu,
    normalizer_fn: Any = None,
    normalizer_params: Any = None,
    weights_initializer: Any = None,
    weights_regularizer: Any = None,
    biases_initializer: Any = "zeros",
    biases_regularizer: Any = None,
    reuse: Any = None,
    variables_collections: Any = None,
    outputs_collections: Any = None,
    trainable: bool = True,
    scope: Any = None,
):
    """``tf.contrib.layers.fully_connected``: activation_fn(inputs @ weights +
    biases), ReLU by default, with the variables "fully_connected/weights"
    (xavier uniform) and "fully_connected/biases" (zeros) in the variable
    scope `scope`. With `normalizer_fn` there are no biases and the product
    goes through normalizer_fn(x, **normalizer_params); `biases_initializer`
    None also leaves the biases out. Inputs of rank above 2 are multiplied
    along their last dimension."""
    what = "fully_connected"
    x = _t(inputs, what)
    depth = x.shape[-1] if x.shape.ndims else None
    if depth is None:
        raise ValueError(f"[{what}] the last dimension of the inputs must be known: {x.shape}")
    n = int(num_outputs)
    with variable_scope(scope, default_name="fully_connected", values=[x], reuse=reuse):
        w = get_variable(
            "weights",
            [int(depth), n],
            x.dtype,
            weights_initializer or init_ops.GlorotUniform(),
            weights_regularizer,
            trainable,
        )
        made = [w]
        out = _layers._matmul_last(x, w, n, what)
        if normalizer_fn is not None:
            out = normalizer_fn(out, **(normalizer_params or {}))
        elif biases_initializer is not None:
            init = init_ops.Zeros() if biases_initializer == "zeros" else biases_initializer
            b = get_variable("biases", [n], x.dtype, init, biases_regularizer, trainable)
            made.append(b)
            out = _nn.bias_add(out, b)
        if activation_fn is not None:
            out = activation_fn(out)
        g = x.graph
        for v in made:
            if v not in g.get_collection(GraphKeys.MODEL_VARIABLES):
                g.add_to_collection(GraphKeys.MODEL_VARIABLES, v)
            for key in variables_collections or []:
                g.add_to_collection(key, v)
        for key in outputs_collections or []:
            g.add_to_collection(key, out)
        return out


layers = SimpleNamespace(
    xavier_initializer=xavier_initializer,
    xavier_initializer_conv2d=xavier_initializer,
    variance_scaling_initializer=variance_scaling_initializer,
    l2_regularizer=l2_regularizer,
    l1_regularizer=l1_regularizer,
    flatten=_layers.flatten,
    fully_connected=fully_connected,
    linear=lambda inputs, num_outputs, **kw: fully_connected(
        inputs, num_outputs, activation_fn=None, **kw
    ),
)

rnn = SimpleNamespace(
    **{name: getattr(_rnn_cell, name) for name in _rnn_cell.__all__},
    static_rnn=_rnn.static_rnn,
    static_bidirectional_rnn=_rnn.static_bidirectional_rnn,
)
