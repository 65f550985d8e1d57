"""devrt.nn.functional: layers and losses as functions, as torch.nn.functional.

Every function is a composition of devrt tensor ops (no NumPy, no loops over
elements), so each runs on any device and is differentiable through the
core's derivative rules.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import devrt
from devrt import _C
from devrt._composite import activations as _act
from devrt._composite import losses as _loss
from devrt._composite import normalization as _norm
from devrt._composite.eager import EAGER
from devrt._errors import public_op as _public_op

Tensor = _C.Tensor

__all__ = [
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "cross_entropy",
    "dropout",
    "embedding",
    "gelu",
    "huber_loss",
    "interpolate",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsigmoid",
    "mse_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "pad",
    "relu",
    "scaled_dot_product_attention",
    "sigmoid",
    "silu",
    "softmax",
    "smooth_l1_loss",
    "softplus",
    "tanh",
    "upsample",
]


# --- helpers --------------------------------------------------------------------


def _inplace(input: Tensor, result: Tensor, inplace: bool) -> Tensor:
    """Writes `result` into `input` for ``inplace=True``.

    Note: where `input` requires grad and grad mode is on, the out-of-place
    result is returned instead: `result` was computed from `input`, whose
    value its rule may have saved, so writing it back would make backward
    fail (an in-place method such as ``relu_`` copies what its rule reads).
    Code such as ``nn.ReLU(inplace=True)`` uses the returned value, which is
    the same.
    """
    if not inplace or (devrt.is_grad_enabled() and input.requires_grad):
        return result
    input.copy_(result)
    return input


def _legacy_reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    """The `reduction` string that torch's deprecated size_average/reduce mean."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _tensor_input(op: str, input: Any) -> Tensor:
    """`input`, which must be a tensor: the composites also compute on plain
    numbers (for hyperparameters), which a function of a tensor must not
    take silently."""
    if not isinstance(input, Tensor):
        raise TypeError(f"[{op}] argument 'input' must be a Tensor, got {type(input).__name__}")
    return input


def _some_tensor(op: str, a: Any, b: Any) -> None:
    """A function of two operands needs a tensor among them."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(
            f"[{op}] expected a tensor operand, got {type(a).__name__} and {type(b).__name__}"
        )


def _number(op: str, arg: str, value: Any) -> float:
    """`value`, a parameter of the formula (a slope, a beta, a delta), as a
    float; anything but a real number is a TypeError (a list or a tensor
    would broadcast into the result)."""
    numpy_scalar = type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0
    if not isinstance(value, numbers.Real) and not numpy_scalar:
        raise TypeError(f"[{op}] argument '{arg}' must be a number, got {type(value).__name__}")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise ValueError(f"[{op}] argument '{arg}': Python integer {value} does not fit in int64")
    return float(value)


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"[{op}] {reduction!r} is not a valid value for reduction")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _class_dim(input: Tensor) -> int:
    return 1 if input.ndim >= 2 else 0


def _class_shape(input: Tensor) -> list[int]:
    """The shape that lines a per-class vector up with `input`'s class dim."""
    shape = [1] * input.ndim
    shape[_class_dim(input)] = input.shape[_class_dim(input)]
    return shape


# --- linear, activations ------------------------------------------------------------


@_public_op
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``."""
    out = devrt.matmul(input, weight.t() if weight.ndim == 2 else weight)
    return out if bias is None else out + bias


@_public_op
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return _inplace(input, devrt.relu(input), inplace)


@_public_op
def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    negative_slope = _number("leaky_relu", "negative_slope", negative_slope)
    return _inplace(input, devrt.where(input > 0, input, input * negative_slope), inplace)


@_public_op
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x * Phi(x)`` (erf form), or its tanh approximation for
    ``approximate='tanh'``."""
    if approximate == "none":
        return input * 0.5 * (1.0 + devrt.erf(input * (1.0 / math.sqrt(2.0))))
    if approximate == "tanh":
        inner = (input + 0.044715 * input * input * input) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (1.0 + devrt.tanh(inner))
    raise ValueError(f"[gelu] approximate must be 'none' or 'tanh', got {approximate!r}")


@_public_op
def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)`` (also called swish)."""
    return _inplace(input, _act.swish(EAGER, _tensor_input("silu", input)), inplace)


@_public_op
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``; linear where ``beta * x >
    threshold`` (devrt._composite.activations.softplus)."""
    beta = _number("softplus", "beta", beta)
    threshold = _number("softplus", "threshold", threshold)
    return _act.softplus(EAGER, _tensor_input("softplus", input), beta, threshold)


@_public_op
def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, stable for large |x|
    (devrt._composite.activations.log_sigmoid)."""
    return _act.log_sigmoid(EAGER, _tensor_input("logsigmoid", input))


@_public_op
def sigmoid(input: Tensor) -> Tensor:
    return devrt.sigmoid(input)


@_public_op
def tanh(input: Tensor) -> Tensor:
    return devrt.tanh(input)


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. "
        f"Change the call to include dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


@_public_op
def softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim, _stacklevel)
    return devrt.softmax(input, dim, dtype=dtype)


@_public_op
def log_softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim, _stacklevel)
    return devrt.log_softmax(input, dim, dtype=dtype)


@_public_op
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zeroes each element with probability `p` (where ``devrt.rand < p``) and
    scales the rest by ``1/(1-p)``; the identity when not training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"[dropout] probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    dtype = input.dtype if input.is_floating_point() else devrt.float32
    drop = devrt.rand(input.shape, dtype=dtype, device=input.device) < p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return _inplace(input, devrt.where(drop, 0.0, input * scale), inplace)


# --- normalization, embedding ---------------------------------------------------------


@_public_op
def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalizes over every dimension but the channel dimension 1.

    Training uses the batch statistics (biased variance) and, when given,
    moves the running statistics toward them by `momentum` (unbiased
    variance), as torch does. Otherwise it uses the running statistics.
    """
    if input.ndim < 2:
        raise ValueError(
            f"[batch_norm] expected an input of at least 2 dimensions, got shape {tuple(input.shape)}"
        )
    channels = input.shape[1]
    shape = [1, channels] + [1] * (input.ndim - 2)
    axes = [0, *range(2, input.ndim)]
    if training:
        count = input.numel() // max(channels, 1)
        if count <= 1:
            raise ValueError(
                f"[batch_norm] expected more than 1 value per channel when training, "
                f"got input size {tuple(input.shape)}"
            )
        mean, var = _norm.moments(EAGER, input, axes, keepdims=True)
        with devrt.no_grad():
            if running_mean is not None:
                _norm.running_average(
                    EAGER, running_mean, mean.reshape(channels), 1.0 - momentum, momentum
                )
            if running_var is not None:
                unbiased = var.reshape(channels) * (count / (count - 1))
                _norm.running_average(EAGER, running_var, unbiased, 1.0 - momentum, momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError(
                "[batch_norm] running_mean and running_var are needed when not training"
            )
        mean = running_mean.reshape(shape)
        var = running_var.reshape(shape)
    return _norm.normalize(
        EAGER,
        input,
        mean,
        var,
        None if weight is None else weight.reshape(shape),
        None if bias is None else bias.reshape(shape),
        eps,
    )


@_public_op
def layer_norm(
    input: Tensor,
    normalized_shape: Any,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalizes over the trailing dimensions `normalized_shape` (biased
    variance), then scales by `weight` and shifts by `bias` if given."""
    _tensor_input("layer_norm", input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or tuple(input.shape[input.ndim - len(shape) :]) != shape:
        raise ValueError(
            f"[layer_norm] normalized_shape {list(shape)} must match the trailing dimensions "
            f"of the input of shape {list(input.shape)}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(
                f"[layer_norm] {name} of shape {list(t.shape)} must have the "
                f"normalized_shape {list(shape)}"
            )
    dims = list(range(input.ndim - len(shape), input.ndim))
    return _norm.layer_norm(EAGER, input, dims, weight, bias, eps)


@_public_op
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """`input` divided by its p-norm along `dim` (at least `eps`)."""
    return input / input.norm(p, dim=dim, keepdim=True).clamp(min=eps)


@_public_op
def pad(input: Tensor, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pads (or, with negative sizes, crops) the trailing dimensions: `pad`
    holds (before, after) pairs from the last dimension backwards, as in
    torch. Only the 'constant' mode is supported."""
    if mode != "constant":
        raise NotImplementedError(f"[pad] mode {mode!r} is not supported (only 'constant')")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(
            f"[pad] pad {list(pad)} must hold (before, after) pairs for at most "
            f"{input.ndim} dimensions"
        )
    out = input
    fill = 0.0 if value is None else value
    for k in range(len(pad) // 2):
        d = input.ndim - 1 - k
        before, after = pad[2 * k], pad[2 * k + 1]
        if before < 0 or after < 0:  # crops first
            start, stop = max(-before, 0), out.shape[d] - max(-after, 0)
            if stop < start:
                raise ValueError(
                    f"[pad] pad {list(pad)} crops dimension {d} of size {input.shape[d]} below zero"
                )
            out = out.narrow(d, start, stop - start)
        parts = []
        for size in (max(before, 0), max(after, 0)):
            shape = list(out.shape)
            shape[d] = size
            parts.append(devrt.full(shape, fill, dtype=out.dtype, device=out.device))
        if parts[0].shape[d] or parts[1].shape[d]:
            out = devrt.cat([parts[0], out, parts[1]], d)
    return out.clone() if out._is_view_of(input) or out is input else out  # a new tensor


@_public_op
def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of `weight` picked by the integer tensor `input`; rows at
    `padding_idx` get no gradient. With `max_norm`, the picked rows of
    `weight` are first renormalized in place, as torch does."""
    if scale_grad_by_freq or sparse:
        raise NotImplementedError(
            "[embedding] scale_grad_by_freq and sparse gradients are not supported"
        )
    if input.is_floating_point() or input.dtype is devrt.bool:
        raise TypeError(f"[embedding] indices must be an integer tensor, got {input.dtype}")
    if padding_idx is not None:
        if not -weight.shape[0] <= padding_idx < weight.shape[0]:
            raise ValueError(
                f"[embedding] padding_idx {padding_idx} must be within num_embeddings {weight.shape[0]}"
            )
        padding_idx %= weight.shape[0]
    if max_norm is not None:
        with devrt.no_grad():
            idx = input.reshape(-1)
            rows = _embedding_rows(weight, idx)
            norms = (rows.abs() ** norm_type).sum(-1, keepdim=True) ** (1.0 / norm_type)
            scale = devrt.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
            weight[idx] = rows * scale
    out = _embedding_rows(weight, input)
    if padding_idx is not None and devrt.is_grad_enabled() and weight.requires_grad:
        # The forward value is unchanged; the detached branch carries no gradient.
        keep = (input != padding_idx).unsqueeze(-1)
        out = devrt.where(keep, out, out.detach())
    return out


def _embedding_rows(weight: Tensor, input: Tensor) -> Tensor:
    """weight[input], where a negative index is out of range (as in torch)
    instead of counting from the end."""
    try:
        return _C._index(weight, (input,), wrap=False)
    except IndexError as e:
        raise IndexError("[embedding]" + str(e).partition("]")[2]) from None


@_public_op
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape ``(*tensor.shape, num_classes)`` with a 1 at each
    class index."""
    if tensor.dtype is not devrt.int64:
        raise TypeError(f"[one_hot] expected an int64 (long) index tensor, got {tensor.dtype}")
    if tensor.numel() > 0:
        if bool((tensor < 0).any()):
            raise ValueError("[one_hot] class values must be non-negative")
        largest = int(tensor.max())
        if num_classes < 0:
            num_classes = largest + 1
        elif largest >= num_classes:
            raise ValueError(
                f"[one_hot] class values must be smaller than num_classes ({num_classes})"
            )
    elif num_classes < 0:
        raise ValueError("[one_hot] can not infer the number of classes from an empty tensor")
    return _C._one_hot(tensor, num_classes, devrt.int64)


# --- losses -------------------------------------------------------------------------------


@_public_op
def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction("mse_loss", reduction)
    return _reduce(_loss.squared_error(EAGER, target, input), reduction)


@_public_op
def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction("l1_loss", reduction)
    return _reduce(_loss.absolute_error(EAGER, target, input), reduction)


def _class_targets(op: str, input: Tensor, target: Tensor, ignore_index: int):
    """Flattens class-index targets for picking: returns (rows, safe, valid),
    where `rows` is the input as (M, C) with the class dim last, `safe` the
    targets with ignored entries set to 0, and `valid` the non-ignored mask."""
    if target.is_floating_point() or target.dtype is devrt.bool:
        raise TypeError(
            f"[{op}] expected class-index targets of an integer dtype, got {target.dtype}"
        )
    cdim = _class_dim(input)
    expected = (input.shape[0], *input.shape[2:]) if input.ndim >= 2 else ()
    if tuple(target.shape) != expected:
        raise ValueError(
            f"[{op}] expected a target of shape {expected} for an input of shape "
            f"{tuple(input.shape)}, got {tuple(target.shape)}"
        )
    classes = input.shape[cdim]
    if input.ndim > 2:
        rows = input.permute(0, *range(2, input.ndim), 1).reshape(-1, classes)
    else:
        rows = input.reshape(-1, classes)
    flat = target.reshape(-1).long()
    valid = flat != ignore_index
    safe = devrt.where(valid, flat, 0)
    if flat.numel() and bool(((safe < 0) | (safe >= classes)).any()):
        raise IndexError(
            f"[{op}] target values must lie in [0, {classes}) or equal ignore_index={ignore_index}"
        )
    return rows, safe, valid


@_public_op
def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """``-input[n, target[n]] * weight[target[n]]``; the mean divides by the
    summed weights of the targets that are not ignored."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction("nll_loss", reduction)
    rows, safe, valid = _class_targets("nll_loss", input, target, ignore_index)
    picked = rows[devrt.arange(rows.shape[0], device=rows.device), safe]
    w = weight[safe] if weight is not None else devrt.ones_like(picked)
    w = devrt.where(valid, w, 0.0)
    loss = devrt.where(valid, -picked * w, 0.0).reshape(target.shape)
    if reduction == "mean":
        return loss.sum() / w.sum()
    return _reduce(loss, reduction)


@_public_op
def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross entropy of logits `input` (class dimension 1, or 0 for 1-D input)
    against class indices or class probabilities `target`."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"[cross_entropy] label_smoothing must be in [0, 1], got {label_smoothing}"
        )
    cdim = _class_dim(input)
    classes = input.shape[cdim]
    logp = devrt.log_softmax(input, cdim)
    class_weight = None if weight is None else weight.reshape(_class_shape(input))

    if target.is_floating_point():  # class probabilities
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(
                f"[cross_entropy] probability targets must have the input's shape "
                f"{tuple(input.shape)}, got {tuple(target.shape)}"
            )
        if label_smoothing > 0:
            target = _loss.smooth_labels(EAGER, target, label_smoothing, classes)
        loss = _loss.categorical_cross_entropy(EAGER, target, logp, cdim, class_weight)
        if reduction == "mean":
            return loss.sum() / max(input.numel() // max(classes, 1), 1)
        return _reduce(loss, reduction)

    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0.0:
        return nll
    # The smoothing term: the (weighted) mean of -log p over the classes.
    smooth = -(logp if class_weight is None else logp * class_weight).sum(cdim)
    valid = target != ignore_index
    smooth = devrt.where(valid, smooth, 0.0)
    if reduction == "mean":
        if weight is None:
            denom = valid.sum()
        else:
            denom = devrt.where(valid, weight[devrt.where(valid, target.long(), 0)], 0.0).sum()
        smooth = smooth.sum() / denom
    else:
        smooth = _reduce(smooth, reduction)
    return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / classes)


def _check_same_size(op: str, input: Tensor, target: Tensor) -> None:
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"[{op}] target size {tuple(target.shape)} must be the same as input size "
            f"{tuple(input.shape)}"
        )


@_public_op
def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """``-(t log x + (1-t) log(1-x))`` on probabilities `input`; each log is
    clamped to >= -100, and the gradients are torch's (the core's
    binary_cross_entropy)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction("binary_cross_entropy", reduction)
    _check_same_size("binary_cross_entropy", input, target)
    loss = _C.binary_cross_entropy(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@_public_op
def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross entropy of ``sigmoid(input)``, computed stably
    (devrt._composite.losses.sigmoid_cross_entropy)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    _check_same_size("binary_cross_entropy_with_logits", input, target)
    loss = _loss.sigmoid_cross_entropy(EAGER, target, input, pos_weight)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# --- convolution and pooling (NCHW), core ops built on im2col -----------------

conv2d = _C.conv2d
max_pool2d = _C.max_pool2d
avg_pool2d = _C.avg_pool2d
unfold = _C.unfold
fold = _C.fold


def _pair(x: Any) -> tuple[int, int]:
    return (x, x) if isinstance(x, int) else tuple(x)


@_public_op
def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size, with PyTorch's windows: cell i
    covers rows floor(i*H/oh) to ceil((i+1)*H/oh)."""
    if input.ndim not in (3, 4):
        raise ValueError(
            f"[adaptive_avg_pool2d] expects a 3-D or 4-D input, got shape {tuple(input.shape)}"
        )
    h, w = input.shape[-2:]
    oh, ow = _pair(output_size)
    oh = h if oh is None else oh
    ow = w if ow is None else ow
    if oh <= 0 or ow <= 0:
        raise ValueError(f"[adaptive_avg_pool2d] output size must be positive, got ({oh}, {ow})")
    if h % oh == 0 and w % ow == 0:
        x = input if input.ndim == 4 else input.unsqueeze(0)
        y = avg_pool2d(x, (h // oh, w // ow))
        return y if input.ndim == 4 else y.squeeze(0)
    # Uneven windows: pooling is linear and separable, out = A_h @ x @ A_w^T
    # with A's rows averaging each window (PyTorch's window bounds).
    return _window_matrix(oh, h, input) @ input @ _window_matrix(ow, w, input).t()


def _window_matrix(out: int, size: int, like: Tensor) -> Tensor:
    a = devrt.zeros(out, size, dtype=like.dtype, device=like.device)
    for i in range(out):
        lo, hi = (i * size) // out, -(-((i + 1) * size) // out)
        a[i, lo:hi] = 1.0 / (hi - lo)
    return a


def _single(x: Any) -> int:
    return x if isinstance(x, int) else int(tuple(x)[0])


@_public_op
def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution over (N, C, L) (or unbatched (C, L)) inputs, run as a
    2-D convolution over a height of 1."""
    if input.ndim not in (2, 3):
        raise ValueError(
            f"[conv1d] expects a 2-D or 3-D input (C, L) or (N, C, L), got shape "
            f"{tuple(input.shape)}"
        )
    if weight.ndim != 3:
        raise ValueError(
            f"[conv1d] expects a 3-D weight (out_channels, in_channels/groups, kernel), got "
            f"shape {tuple(weight.shape)}"
        )
    x = input.unsqueeze(-2)
    pad = padding if isinstance(padding, str) else (0, _single(padding))
    out = conv2d(
        x if input.ndim == 3 else x.unsqueeze(0),
        weight.unsqueeze(2),
        bias,
        (1, _single(stride)),
        pad,
        (1, _single(dilation)),
        groups,
    )
    out = out.squeeze(-2)
    return out if input.ndim == 3 else out.squeeze(0)


@_public_op
def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """The transpose (gradient) of conv2d: each input pixel scatters
    ``weight`` (in_channels, out_channels/groups, kH, kW) into the output.
    One matmul gives every pixel's block of contributions; fold sums the
    overlapping blocks into place."""
    if input.ndim not in (3, 4):
        raise ValueError(
            f"[conv_transpose2d] expects a 3-D or 4-D input, got shape {tuple(input.shape)}"
        )
    if weight.ndim != 4:
        raise ValueError(
            f"[conv_transpose2d] expects a 4-D weight (in_channels, out_channels/groups, kH, "
            f"kW), got shape {tuple(weight.shape)}"
        )
    x = input if input.ndim == 4 else input.unsqueeze(0)
    n, c_in, h, w = x.shape
    if weight.shape[0] != c_in or c_in % groups:
        raise ValueError(
            f"[conv_transpose2d] weight of shape {tuple(weight.shape)} expects "
            f"{weight.shape[0]} input channels (divisible by groups={groups}), got input of "
            f"shape {tuple(input.shape)}"
        )
    kh, kw = weight.shape[2:]
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    oph, opw = _pair(output_padding)
    dh, dw = _pair(dilation)
    if oph >= max(sh, dh) or opw >= max(sw, dw):
        raise ValueError(
            f"[conv_transpose2d] output_padding {(oph, opw)} must be smaller than either "
            f"stride {(sh, sw)} or dilation {(dh, dw)}"
        )
    out_h = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    out_w = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    c_out_g = weight.shape[1]
    # (groups, block, c_in/groups) @ (n, groups, c_in/groups, h*w) -> blocks per pixel.
    wg = weight.reshape(groups, c_in // groups, c_out_g * kh * kw).transpose(1, 2)
    cols = devrt.matmul(wg, x.reshape(n, groups, c_in // groups, h * w))
    cols = cols.reshape(n, groups * c_out_g * kh * kw, h * w)
    out = fold(cols, (out_h, out_w), (kh, kw), (dh, dw), (ph, pw), (sh, sw))
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out if input.ndim == 4 else out.squeeze(0)


# --- resampling ---------------------------------------------------------------------------


def _source_index(
    out_size: int, in_size: int, scale: float | None, mode: str, align_corners: bool
) -> tuple[list[int], list[int], list[float]]:
    """For each output position: the two source positions and the weight of
    the second (PyTorch's coordinate rules). Sizes only, never values."""
    if mode in ("nearest", "nearest-exact"):
        ratio = 1.0 / scale if scale else in_size / out_size
        offset = 0.5 if mode == "nearest-exact" else 0.0
        idx = [min(int(math.floor((i + offset) * ratio)), in_size - 1) for i in range(out_size)]
        return idx, idx, [0.0] * out_size
    if align_corners:
        ratio = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        src = [i * ratio for i in range(out_size)]
    else:
        ratio = 1.0 / scale if scale else in_size / out_size
        src = [max((i + 0.5) * ratio - 0.5, 0.0) for i in range(out_size)]
    lo = [min(int(math.floor(s)), in_size - 1) for s in src]
    hi = [min(i + 1, in_size - 1) for i in lo]
    return lo, hi, [s - i for s, i in zip(src, lo)]


def _resample_axis(x: Tensor, dim: int, out: int, scale: float | None, mode: str, ac: bool):
    lo, hi, frac = _source_index(out, x.shape[dim], scale, mode, ac)
    idx = devrt.tensor(lo, dtype=devrt.int64, device=x.device)
    picked = x.index_select(dim, idx)
    if mode in ("nearest", "nearest-exact"):
        return picked
    shape = [1] * x.ndim
    shape[dim] = out
    t = devrt.tensor(frac, dtype=x.dtype, device=x.device).reshape(shape)
    upper = x.index_select(dim, devrt.tensor(hi, dtype=devrt.int64, device=x.device))
    return picked + (upper - picked) * t


_INTERPOLATE_MODES = {"nearest": (3, 4), "nearest-exact": (3, 4), "linear": (3,), "bilinear": (4,)}


@_public_op
def interpolate(
    input: Tensor,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resizes the trailing spatial dimensions of (N, C, L) or (N, C, H, W)
    inputs to `size` or by `scale_factor`: 'nearest', 'nearest-exact',
    'linear' (3-D) or 'bilinear' (4-D), each axis in turn as gathers of
    source rows and their weighted sum."""
    if mode not in _INTERPOLATE_MODES:
        raise NotImplementedError(
            f"[interpolate] mode {mode!r} is not supported (supported: "
            f"{', '.join(_INTERPOLATE_MODES)})"
        )
    if input.ndim not in _INTERPOLATE_MODES[mode]:
        raise ValueError(
            f"[interpolate] mode {mode!r} expects a "
            f"{' or '.join(f'{d}-D' for d in _INTERPOLATE_MODES[mode])} input, got shape "
            f"{tuple(input.shape)}"
        )
    if antialias:
        raise NotImplementedError("[interpolate] antialias=True is not supported")
    if mode.startswith("nearest") and align_corners is not None:
        raise ValueError(
            "[interpolate] align_corners option can only be set with the interpolating modes: "
            "linear | bilinear | bicubic | trilinear"
        )
    spatial = input.ndim - 2
    if (size is None) == (scale_factor is None):
        raise ValueError("[interpolate] exactly one of size or scale_factor must be defined")
    if size is not None:
        sizes = [int(size)] * spatial if isinstance(size, int) else [int(s) for s in size]
        scales: list[float | None] = [None] * spatial
    else:
        factors = (
            [float(scale_factor)] * spatial
            if isinstance(scale_factor, (int, float))
            else [float(s) for s in scale_factor]
        )
        sizes = [int(math.floor(n * f)) for n, f in zip(input.shape[2:], factors)]
        scales = [None if recompute_scale_factor else f for f in factors]
    if len(sizes) != spatial:
        raise ValueError(
            f"[interpolate] expected {spatial} output sizes for an input of shape "
            f"{tuple(input.shape)}, got {sizes}"
        )
    out = input
    for k in range(spatial):
        out = _resample_axis(out, 2 + k, sizes[k], scales[k], mode, bool(align_corners))
    return out


@_public_op
def upsample(
    input: Tensor,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Tensor:
    return interpolate(input, size, scale_factor, mode, align_corners)


# --- more losses --------------------------------------------------------------------------


@_public_op
def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``
    (the L1 loss for beta 0)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction("smooth_l1_loss", reduction)
    _some_tensor("smooth_l1_loss", input, target)
    beta = _number("smooth_l1_loss", "beta", beta)
    if beta < 0:
        raise ValueError(f"[smooth_l1_loss] beta must be non-negative, got {beta}")
    if beta == 0:
        return _reduce((input - target).abs(), reduction)
    return _reduce(_loss.huber(EAGER, target, input, beta) * (1.0 / beta), reduction)


@_public_op
def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """``0.5 d^2`` where ``|d| <= delta``, else ``delta (|d| - 0.5 delta)``."""
    _check_reduction("huber_loss", reduction)
    _some_tensor("huber_loss", input, target)
    delta = _number("huber_loss", "delta", delta)
    if delta <= 0:
        raise ValueError(f"[huber_loss] delta must be positive, got {delta}")
    loss = _loss.huber(EAGER, target, input, delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@_public_op
def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """Pointwise ``target * (log(target) - input)`` for log-probabilities
    `input` (0 where target is 0, NaN where it is negative), or ``exp(t) * (t - input)`` when the
    target is given as log-probabilities. 'batchmean' divides the sum by
    the batch size."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(f"[kl_div] {reduction!r} is not a valid value for reduction")
    if log_target:
        loss = devrt.exp(target) * (target - input)
    else:
        # target * log(target) is 0 where target is 0 and NaN where it is
        # negative (PyTorch's xlogy), with the gradient of target * log(target)
        # everywhere else (NaN at target 0, as PyTorch's).
        loss = devrt.where(target == 0, 0.0, target * devrt.log(target)) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)


# --- attention ----------------------------------------------------------------------------


def _additive_mask(op: str, mask: Tensor | None, like: Tensor) -> Tensor | None:
    """A boolean mask (True: not allowed) as 0 / -inf; a float mask as is."""
    if mask is None:
        return None
    if mask.dtype is devrt.bool:
        return devrt.zeros(mask.shape, dtype=like.dtype, device=like.device).masked_fill(
            mask, float("-inf")
        )
    if not mask.is_floating_point():
        raise TypeError(
            f"[{op}] only bool and floating types of masks are supported, got {mask.dtype}"
        )
    return mask.to(like.dtype)


def _causal_mask(length: int, source: int, like: Tensor) -> Tensor:
    rows = devrt.arange(length, device=like.device).unsqueeze(1)
    cols = devrt.arange(source, device=like.device).unsqueeze(0)
    return cols > rows


def _attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None,
    dropout_p: float,
    training: bool,
    scale: float | None,
) -> tuple[Tensor, Tensor]:
    """softmax(q k^T * scale + mask) v over the last two dims; returns the
    output and the attention weights."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = devrt.matmul(q, k.transpose(-2, -1)) * scale
    if mask is not None:
        scores = scores + mask
    weights = devrt.softmax(scores, -1)
    if dropout_p > 0.0 and training:
        weights = dropout(weights, dropout_p)
    return devrt.matmul(weights, v), weights


@_public_op
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """``softmax(query @ key^T * scale + mask) @ value`` over (..., L, E) and
    (..., S, E) inputs; a boolean `attn_mask` marks the allowed positions
    (True), a float one is added; `is_causal` allows only j <= i."""
    op = "scaled_dot_product_attention"
    if enable_gqa:
        raise NotImplementedError(f"[{op}] enable_gqa=True is not supported")
    length, source = query.shape[-2], key.shape[-2]
    mask = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"[{op}] pass either attn_mask or is_causal, not both")
        mask = _additive_mask(op, _causal_mask(length, source, query), query)
    elif attn_mask is not None:
        # Here True means "may attend", the opposite of nn.MultiheadAttention's masks.
        blocked = attn_mask.logical_not() if attn_mask.dtype is devrt.bool else attn_mask
        mask = _additive_mask(op, blocked, query)
    out, _ = _attention(query, key, value, mask, dropout_p, dropout_p > 0.0, scale)
    return out
