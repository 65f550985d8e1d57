"""``tf.nn``: activations, softmax and cross-entropies, convolution and
pooling, dropout, normalisation helpers. Composite functions are built of
IR ops under a name scope of their own, and their result is named like the
scope (``xent`` for ``name="xent"``), as TF names them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from devrt._composite import activations as _act
from devrt._composite import losses as _loss
from devrt._composite import normalization as _norm
from devrt._composite.graph import GRAPH
from devrt.graph import framework as fw
from devrt.graph.array_ops import gather
from devrt.graph.math_ops import sigmoid, tanh, top_k
from devrt.graph.random_ops import _seed_attr, random_uniform
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _apply, _int, _int_list, _t

__all__ = [
    "avg_pool",
    "batch_normalization",
    "bias_add",
    "conv2d",
    "dropout",
    "elu",
    "embedding_lookup",
    "l2_loss",
    "l2_normalize",
    "leaky_relu",
    "log_softmax",
    "max_pool",
    "moments",
    "relu",
    "relu6",
    "sigmoid",
    "sigmoid_cross_entropy_with_logits",
    "softmax",
    "softmax_cross_entropy_with_logits",
    "softmax_cross_entropy_with_logits_v2",
    "softplus",
    "softsign",
    "sparse_softmax_cross_entropy_with_logits",
    "swish",
    "tanh",
    "top_k",
    "xw_plus_b",
]


# --- activations ----------------------------------------------------------------------
def relu(features: Any, name: str | None = None) -> Tensor:
    """``tf.nn.relu``."""
    return _apply("Relu", [_t(features, "relu")], {}, name or "Relu")


def relu6(features: Any, name: str | None = None) -> Tensor:
    """``tf.nn.relu6``: min(max(x, 0), 6)."""
    x = _t(features, "relu6")
    with fw.name_scope(name, "Relu6", [x]) as scope:
        return _apply("Minimum", [_apply("Relu", [x], {}), _t(6, "relu6", x.dtype)], {}, scope)


def leaky_relu(features: Any, alpha: float = 0.2, name: str | None = None) -> Tensor:
    """``tf.nn.leaky_relu``: max(x, alpha * x) (for alpha <= 1)."""
    x = _t(features, "leaky_relu")
    with fw.name_scope(name, "LeakyRelu", [x]) as scope:
        return _apply(
            "Maximum", [x, _apply("Mul", [x, _t(alpha, "leaky_relu", x.dtype)], {})], {}, scope
        )


def elu(features: Any, name: str | None = None) -> Tensor:
    """``tf.nn.elu``: x for x > 0, exp(x) - 1 otherwise."""
    x = _t(features, "elu")
    with fw.name_scope(name, "Elu", [x]) as scope:
        return _act.elu(GRAPH, x, name=scope)


def softplus(features: Any, name: str | None = None) -> Tensor:
    """``tf.nn.softplus``: max(x, 0) + log1p(exp(-|x|)), stable for large |x|."""
    x = _t(features, "softplus")
    with fw.name_scope(name, "Softplus", [x]) as scope:
        return _act.softplus(GRAPH, x, name=scope)


def softsign(features: Any, name: str | None = None) -> Tensor:
    """``tf.nn.softsign``: x / (1 + |x|)."""
    x = _t(features, "softsign")
    with fw.name_scope(name, "Softsign", [x]) as scope:
        return _act.softsign(GRAPH, x, name=scope)


def swish(features: Any, beta: float = 1.0, name: str | None = None) -> Tensor:
    """``tf.nn.swish``: x * sigmoid(beta * x)."""
    x = _t(features, "swish")
    with fw.name_scope(name, "swish", [x]) as scope:
        return _act.swish(GRAPH, x, beta, name=scope)


def _axis(axis: Any, dim: Any, what: str) -> int:
    if axis is None:
        axis = dim
    return -1 if axis is None else _int(axis, what, "axis")


def softmax(logits: Any, axis: Any = None, name: str | None = None, dim: Any = None) -> Tensor:
    """``tf.nn.softmax`` (`dim` is TF1's old name of `axis`)."""
    x = _t(logits, "softmax")
    return _apply("Softmax", [x], {"axis": _axis(axis, dim, "softmax")}, name or "Softmax")


def log_softmax(logits: Any, axis: Any = None, name: str | None = None, dim: Any = None):
    """``tf.nn.log_softmax``."""
    x = _t(logits, "log_softmax")
    return _apply(
        "LogSoftmax", [x], {"axis": _axis(axis, dim, "log_softmax")}, name or "LogSoftmax"
    )


# --- losses ---------------------------------------------------------------------------


def softmax_cross_entropy_with_logits_v2(
    labels: Any = None, logits: Any = None, axis: Any = None, name: str | None = None, dim=None
) -> Tensor:
    """``tf.nn.softmax_cross_entropy_with_logits_v2``: -sum(labels *
    log_softmax(logits)) over `axis`; one value per example."""
    if labels is None or logits is None:
        raise ValueError("[softmax_cross_entropy_with_logits] labels and logits are required")
    x = _t(logits, "softmax_cross_entropy_with_logits")
    y = _t(labels, "softmax_cross_entropy_with_logits", x.dtype)
    axis = _axis(axis, dim, "softmax_cross_entropy_with_logits")
    with fw.name_scope(name, "softmax_cross_entropy_with_logits", [x, y]) as scope:
        return _loss.softmax_cross_entropy(GRAPH, y, x, axis, name=scope)


def softmax_cross_entropy_with_logits(
    _sentinel: Any = None,
    labels: Any = None,
    logits: Any = None,
    dim: Any = -1,
    name=None,
    axis=None,
) -> Tensor:
    """``tf.nn.softmax_cross_entropy_with_logits`` (TF1's deprecated v1).

    Difference from TensorFlow: TF's v1 does not propagate gradients into
    `labels`; here it does, as v2 (the IR has no StopGradient op). Gradients
    with respect to the logits are the same."""
    if _sentinel is not None:
        raise ValueError(
            "[softmax_cross_entropy_with_logits] use named arguments (labels=, logits=)"
        )
    return softmax_cross_entropy_with_logits_v2(
        labels, logits, axis if axis is not None else dim, name
    )


def sparse_softmax_cross_entropy_with_logits(
    _sentinel: Any = None, labels: Any = None, logits: Any = None, name: str | None = None
) -> Tensor:
    """``tf.nn.sparse_softmax_cross_entropy_with_logits``: -log_softmax(logits)
    at the integer `labels` (via a one-hot of the class count, which must be
    known when the graph is built)."""
    if _sentinel is not None:
        raise ValueError(
            "[sparse_softmax_cross_entropy_with_logits] use named arguments (labels=, logits=)"
        )
    x = _t(logits, "sparse_softmax_cross_entropy_with_logits")
    y = _t(labels, "sparse_softmax_cross_entropy_with_logits")
    if not y.dtype.is_integer:
        raise ValueError(
            f"[sparse_softmax_cross_entropy_with_logits] labels must be integers, got {y.dtype.name}"
        )
    depth = x.shape[-1] if x.shape.ndims else None
    if depth is None:
        raise ValueError(
            "[sparse_softmax_cross_entropy_with_logits] the last dimension of logits must be "
            f"known, got shape {x.shape}"
        )
    if (
        x.shape.ndims is not None
        and y.shape.ndims is not None
        and y.shape.ndims != x.shape.ndims - 1
    ):
        raise ValueError(
            "[sparse_softmax_cross_entropy_with_logits] Rank mismatch: Rank of labels (received "
            f"{y.shape.ndims}) should equal rank of logits minus 1 (received {x.shape.ndims})."
        )
    with fw.name_scope(name, "SparseSoftmaxCrossEntropyWithLogits", [x, y]) as scope:
        return _loss.sparse_softmax_cross_entropy(GRAPH, y, x, -1, name=scope)


def sigmoid_cross_entropy_with_logits(
    _sentinel: Any = None, labels: Any = None, logits: Any = None, name: str | None = None
) -> Tensor:
    """``tf.nn.sigmoid_cross_entropy_with_logits``: max(x, 0) - x * z +
    log1p(exp(-|x|)), elementwise."""
    if _sentinel is not None:
        raise ValueError(
            "[sigmoid_cross_entropy_with_logits] use named arguments (labels=, logits=)"
        )
    x = _t(logits, "sigmoid_cross_entropy_with_logits")
    z = _t(labels, "sigmoid_cross_entropy_with_logits", x.dtype)
    with fw.name_scope(name, "logistic_loss", [x, z]) as scope:
        return _loss.sigmoid_cross_entropy(GRAPH, z, x, name=scope)


def l2_loss(t: Any, name: str | None = None) -> Tensor:
    """``tf.nn.l2_loss``: sum(t**2) / 2."""
    x = _t(t, "l2_loss")
    with fw.name_scope(name, "L2Loss", [x]) as scope:
        s = _apply("Sum", [_apply("Square", [x], {})], {"axes": None, "keepdims": False})
        return _apply("Mul", [s, _t(0.5, "l2_loss", x.dtype)], {}, scope)


# --- convolution and pooling ----------------------------------------------------------


def _hw(value: Any, what: str, arg: str, data_format: str) -> list[int]:
    """A 1-, 2- or 4-element stride/ksize/dilation as the IR's 2 (h, w)."""
    vals = _int_list(value, what, arg)
    if len(vals) == 1:
        return vals * 2
    if len(vals) == 2:
        return vals
    if len(vals) == 4:
        n, c = (0, 3) if data_format == "NHWC" else (0, 1)
        if vals[n] != 1 or vals[c] != 1:
            raise ValueError(f"[{what}] {arg} {vals} must be 1 in the batch and channel dimensions")
        return [vals[1], vals[2]] if data_format == "NHWC" else [vals[2], vals[3]]
    raise ValueError(f"[{what}] {arg} must have 1, 2 or 4 elements, got {vals}")


def _padding(padding: Any, what: str) -> str:
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"[{what}] padding must be 'SAME' or 'VALID', got {padding!r}")
    return padding.upper()


def _data_format(data_format: Any, what: str) -> str:
    fmt = data_format or "NHWC"
    if fmt not in ("NHWC", "NCHW"):
        raise ValueError(f"[{what}] data_format must be 'NHWC' or 'NCHW', got {fmt!r}")
    return fmt


def _nhwc_in(x: Tensor, fmt: str) -> Tensor:
    return x if fmt == "NHWC" else _apply("Transpose", [x], {"perm": [0, 2, 3, 1]})


def _nhwc_out(x: Tensor, fmt: str, name: str | None) -> Tensor:
    if fmt == "NHWC":
        return _apply("Identity", [x], {}, name) if name else x
    return _apply("Transpose", [x], {"perm": [0, 3, 1, 2]}, name)


def conv2d(
    input: Any,
    filter: Any = None,
    strides: Any = None,
    padding: Any = None,
    use_cudnn_on_gpu: bool = True,
    data_format: str = "NHWC",
    dilations: Any = (1, 1, 1, 1),
    name: str | None = None,
    filters: Any = None,
) -> Tensor:
    """``tf.nn.conv2d``: input NHWC (or NCHW), filter HWIO; strides and
    dilations of 1, 2 or 4 elements; padding "SAME" or "VALID" (explicit
    paddings are not supported)."""
    if filter is None:
        filter = filters
    if filter is None or strides is None or padding is None:
        raise ValueError("[conv2d] filter, strides and padding are required")
    fmt = _data_format(data_format, "conv2d")
    x = _t(input, "conv2d")
    w = _t(filter, "conv2d", x.dtype)
    attrs = {
        "strides": _hw(strides, "conv2d", "strides", fmt),
        "padding": _padding(padding, "conv2d"),
        "dilations": _hw(dilations, "conv2d", "dilations", fmt),
    }
    if fmt == "NHWC":
        return _apply("Conv2D", [x, w], attrs, name or "Conv2D")
    with fw.name_scope(name, "Conv2D", [x, w]) as scope:
        y = _apply("Conv2D", [_nhwc_in(x, fmt), w], attrs)
        return _nhwc_out(y, fmt, scope)


def _pool(op_type, what, value, input_, ksize, strides, padding, data_format, name):
    """max_pool and avg_pool: `value` (or its alias `input_`) pooled by `op_type`."""
    value = value if value is not None else input_
    if ksize is None or strides is None or padding is None:
        raise ValueError(f"[{what}] ksize, strides and padding are required")
    fmt = _data_format(data_format, what)
    x = _t(value, what)
    attrs = {
        "ksize": _hw(ksize, what, "ksize", fmt),
        "strides": _hw(strides, what, "strides", fmt),
        "padding": _padding(padding, what),
    }
    if fmt == "NHWC":
        return _apply(op_type, [x], attrs, name or op_type)
    with fw.name_scope(name, op_type, [x]) as scope:
        return _nhwc_out(_apply(op_type, [_nhwc_in(x, fmt)], attrs), fmt, scope)


def max_pool(
    value: Any = None,
    ksize: Any = None,
    strides: Any = None,
    padding: Any = None,
    data_format: str = "NHWC",
    name: str | None = None,
    input: Any = None,
) -> Tensor:
    """``tf.nn.max_pool``: NHWC (or NCHW); ksize and strides of 1, 2 or 4 elements."""
    return _pool("MaxPool", "max_pool", value, input, ksize, strides, padding, data_format, name)


def avg_pool(
    value: Any = None,
    ksize: Any = None,
    strides: Any = None,
    padding: Any = None,
    data_format: str = "NHWC",
    name: str | None = None,
    input: Any = None,
) -> Tensor:
    """``tf.nn.avg_pool``: as max_pool, averaging (padding excluded from the
    count with "SAME", as TF)."""
    return _pool("AvgPool", "avg_pool", value, input, ksize, strides, padding, data_format, name)


def bias_add(value: Any, bias: Any, data_format: str | None = None, name: str | None = None):
    """``tf.nn.bias_add``: value + bias along the channel dimension (the last
    one, or the second for NCHW)."""
    x = _t(value, "bias_add")
    b = _t(bias, "bias_add", x.dtype)
    if b.shape.ndims not in (None, 1):
        raise ValueError(f"[bias_add] bias must be 1-D, got shape {b.shape}")
    with fw.name_scope(name, "BiasAdd", [x, b]) as scope:
        if data_format in ("NCHW", "NCDHW", "NCW") and x.shape.ndims is not None:
            b = _apply("Reshape", [b], {"shape": [-1] + [1] * (x.shape.ndims - 2)})
        return _apply("Add", [x, b], {}, scope)


def xw_plus_b(x: Any, weights: Any, biases: Any, name: str | None = None) -> Tensor:
    """``tf.nn.xw_plus_b``: matmul(x, weights) + biases."""
    a = _t(x, "xw_plus_b")
    with fw.name_scope(name, "xw_plus_b", [a]) as scope:
        mm = _apply(
            "MatMul",
            [a, _t(weights, "xw_plus_b", a.dtype)],
            {"transpose_a": False, "transpose_b": False},
        )
        return _apply("Add", [mm, _t(biases, "xw_plus_b", a.dtype)], {}, scope)


# --- dropout and normalisation ---------------------------------------------------------


def dropout(
    x: Any,
    keep_prob: Any = None,
    noise_shape: Any = None,
    seed: int | None = None,
    name: str | None = None,
    rate: Any = None,
) -> Tensor:
    """``tf.nn.dropout(x, keep_prob)`` or ``(x, rate=...)``: each element is
    kept with probability keep_prob (a number or a tensor, such as a
    placeholder) and scaled by 1/keep_prob, with a new mask at each run."""
    if (keep_prob is None) == (rate is None):
        raise ValueError("[dropout] give exactly one of keep_prob and rate")
    t = _t(x, "dropout")
    if not t.dtype.is_floating:
        raise ValueError(f"[dropout] x must be a floating point tensor, got {t.dtype.name}")
    static = keep_prob if rate is None else None
    if rate is not None and not (isinstance(rate, Tensor) or hasattr(rate, "_to_tensor")):
        static = 1.0 - float(rate)
    if isinstance(static, (int, float)):
        if not 0.0 < static <= 1.0:
            raise ValueError(f"[dropout] keep_prob must be in (0, 1], got {static}")
        if static == 1.0:
            return t
    with fw.name_scope(name, "dropout", [t]) as scope:
        if rate is None:
            keep = _t(keep_prob, "dropout", t.dtype)
        elif static is not None:
            keep = _t(static, "dropout", t.dtype)
        else:
            keep = _apply("Sub", [_t(1, "dropout", t.dtype), _t(rate, "dropout", t.dtype)], {})
        if keep.shape.ndims is None:
            # A probability is a scalar: a placeholder of unknown shape is
            # read as one, so that the result keeps x's shape, as in TF.
            keep = _apply("Reshape", [keep], {"shape": []})
        if noise_shape is None:
            attrs = {"dtype": t.dtype.as_devrt_dtype, "seed": _seed_attr(seed)}
            u = _apply("RandomUniformLike", [t], attrs)
        else:
            u = random_uniform(noise_shape, dtype=t.dtype, seed=seed)
        mask = _apply("Floor", [_apply("Add", [keep, u], {})], {})
        return _apply("Mul", [_apply("RealDiv", [t, keep], {}), mask], {}, scope)


def moments(
    x: Any, axes: Any, shift: Any = None, name: str | None = None, keep_dims=None, keepdims=None
):
    """``tf.nn.moments``: (mean, variance) over `axes`."""
    if keepdims is None:
        keepdims = bool(keep_dims)
    t = _t(x, "moments")
    axes = _int_list(axes, "moments", "axes")
    with fw.name_scope(name, "moments", [t]):
        mean, var = _norm.moments(GRAPH, t, axes, bool(keepdims), name="variance")
        if not keepdims:
            mean = _apply("Squeeze", [mean], {"axes": axes}, "mean")
        else:
            mean = _apply("Identity", [mean], {}, "mean")
        return mean, var


def batch_normalization(
    x: Any,
    mean: Any,
    variance: Any,
    offset: Any,
    scale: Any,
    variance_epsilon: float,
    name: str | None = None,
) -> Tensor:
    """``tf.nn.batch_normalization``: (x - mean) * scale / sqrt(variance + eps) + offset."""
    t = _t(x, "batch_normalization")
    with fw.name_scope(name, "batchnorm", [t]) as scope:

        def like_t(value: Any) -> Any:
            return None if value is None else _t(value, "batch_normalization", t.dtype)

        return _norm.normalize(
            GRAPH,
            t,
            like_t(mean),
            like_t(variance),
            like_t(scale),
            like_t(offset),
            like_t(variance_epsilon),
            name=scope,
        )


def l2_normalize(x: Any, axis: Any = None, epsilon: float = 1e-12, name=None, dim=None):
    """``tf.nn.l2_normalize``: x / sqrt(max(sum(x**2, axis), epsilon))."""
    if axis is None:
        axis = dim
    t = _t(x, "l2_normalize")
    axes = None if axis is None else _int_list(axis, "l2_normalize", "axis")
    with fw.name_scope(name, "l2_normalize", [t]) as scope:
        s = _apply("Sum", [_apply("Square", [t], {})], {"axes": axes, "keepdims": True})
        inv = _apply(
            "Rsqrt", [_apply("Maximum", [s, _t(epsilon, "l2_normalize", t.dtype)], {})], {}
        )
        return _apply("Mul", [t, inv], {}, scope)


def embedding_lookup(params: Any, ids: Any, partition_strategy: str = "mod", name=None, **kwargs):
    """``tf.nn.embedding_lookup`` for one params tensor: gather rows."""
    if isinstance(params, (list, tuple)):
        if len(params) != 1:
            raise NotImplementedError("[embedding_lookup] sharded params are not supported")
        params = params[0]
    return gather(params, ids, name=name or "embedding_lookup")


# --- classification helpers, weighted logistic loss, local response normalization ---


def in_top_k(predictions: Any, targets: Any, k: Any, name: str | None = None) -> Tensor:
    """``tf.nn.in_top_k`` (``tf.math.in_top_k``): whether ``predictions[i,
    targets[i]]`` is among the `k` largest of row i. As in TensorFlow, a
    value tied with the k-th largest counts as in the top k, and a target
    out of range or a non-finite prediction at it gives False. The number
    of classes must be known when the graph is built."""
    from devrt.graph.array_ops import cast, one_hot

    p = _t(predictions, "in_top_k")
    t = _t(targets, "in_top_k")
    k = _int(k, "in_top_k", "k")
    if p.shape.rank is not None and p.shape.rank != 2:
        raise ValueError(f"[in_top_k] predictions must be [batch, classes], got {p.shape}")
    if t.shape.rank is not None and t.shape.rank != 1:
        raise ValueError(f"[in_top_k] targets must be a vector, got {t.shape}")
    if not t.dtype.is_integer:
        raise TypeError(f"[in_top_k] targets must be int32 or int64, got {t.dtype.name}")
    classes = p.shape.as_list()[1] if p.shape.rank is not None else None
    if classes is None:
        raise ValueError(f"[in_top_k] the number of classes of {p.shape} must be known")
    with fw.name_scope(name, "in_top_k", [p, t]) as scope:
        is_target = one_hot(t, classes, on_value=True, off_value=False, dtype="bool")
        zero = _t(0, "in_top_k", p.dtype)
        value = _apply(
            "Sum",
            [_apply("Select", [is_target, p, zero], {})],
            {"axes": [1], "keepdims": True},
        )
        above = _apply("Greater", [p, value], {})
        count = _apply("Sum", [cast(above, "int32")], {"axes": [1], "keepdims": False})
        in_top = _apply("Less", [count, _t(k, "in_top_k", "int32")], {})
        valid = _apply(
            "LogicalAnd",
            [
                _apply("GreaterEqual", [t, _t(0, "in_top_k", t.dtype)], {}),
                _apply("Less", [t, _t(classes, "in_top_k", t.dtype)], {}),
            ],
            {},
        )
        finite = _apply(
            "Less",
            [
                _apply("Abs", [_apply("Squeeze", [value], {"axes": [1]})], {}),
                _t(float("inf"), "in_top_k", p.dtype),
            ],
            {},
        )
        return _apply("LogicalAnd", [_apply("LogicalAnd", [valid, finite], {}), in_top], {}, scope)


def weighted_cross_entropy_with_logits(
    labels: Any = None,
    logits: Any = None,
    pos_weight: Any = None,
    name: str | None = None,
    targets: Any = None,
) -> Tensor:
    """``tf.nn.weighted_cross_entropy_with_logits``: the logistic loss with
    the positive term weighted, ``(1 - z) x + (1 + (pos_weight - 1) z)
    softplus(-x)`` (the shared composite's ``pos_weight`` form)."""
    if labels is None:
        labels = targets
    if labels is None or logits is None or pos_weight is None:
        raise ValueError(
            "[weighted_cross_entropy_with_logits] labels, logits and pos_weight are required"
        )
    x = _t(logits, "weighted_cross_entropy_with_logits")
    z = _t(labels, "weighted_cross_entropy_with_logits", x.dtype)
    if not x.shape.is_compatible_with(z.shape):
        raise ValueError(
            f"[weighted_cross_entropy_with_logits] logits and labels must have the same shape, "
            f"got {x.shape} and {z.shape}"
        )
    q = pos_weight
    if isinstance(q, Tensor) or hasattr(q, "_to_tensor"):
        q = _t(q, "weighted_cross_entropy_with_logits", x.dtype)
    with fw.name_scope(name, "logistic_loss", [x, z]) as scope:
        return _loss.sigmoid_cross_entropy(GRAPH, z, x, pos_weight=q, name=scope)


def local_response_normalization(
    input: Any,
    depth_radius: int = 5,
    bias: float = 1.0,
    alpha: float = 1.0,
    beta: float = 0.5,
    name: str | None = None,
) -> Tensor:
    """``tf.nn.lrn`` (``tf.nn.local_response_normalization``): ``x / (bias +
    alpha * s) ** beta`` where ``s`` sums ``x ** 2`` over the channels within
    `depth_radius` of each channel (NHWC). The window sum is a MatMul with a
    band of ones, so the input's dimensions but the batch must be known."""
    x = _t(input, "lrn")
    if x.shape.rank != 4:
        raise ValueError(f"[lrn] input must be 4-D (NHWC), got {x.shape}")
    if not x.dtype.is_floating:
        raise TypeError(f"[lrn] input must be floating point, got {x.dtype.name}")
    dims = x.shape.as_list()
    if any(d is None for d in dims[1:]):
        raise ValueError(f"[lrn] the input's dimensions but the batch must be known, got {x.shape}")
    r = _int(depth_radius, "lrn", "depth_radius")
    if r < 0:
        raise ValueError(f"[lrn] depth_radius must be >= 0, got {r}")
    from devrt.graph.constant_ops import constant

    c = dims[3]
    channel = np.arange(c)
    band = (np.abs(channel[:, None] - channel[None, :]) <= r).astype(x.dtype.as_numpy_dtype)
    with fw.name_scope(name, "LRN", [x]) as scope:
        squares = _apply("Reshape", [_apply("Mul", [x, x], {})], {"shape": [-1, c]})
        window = _apply("MatMul", [squares, constant(band)], {})
        window = _apply("Reshape", [window], {"shape": [-1] + dims[1:]})
        scale = _apply(
            "Add",
            [_t(bias, "lrn", x.dtype), _apply("Mul", [window, _t(alpha, "lrn", x.dtype)], {})],
            {},
        )
        return _apply("Mul", [x, _apply("Pow", [scale, _t(-beta, "lrn", x.dtype)], {})], {}, scope)


lrn = local_response_normalization
