"""Module functions (and their Tensor methods) written in Python over the
core's ops: each is a short composition of catalogue ops, with no
arithmetic of its own."""

from __future__ import annotations

import functools
import math
import operator
from typing import Any

from devrt import _C, return_types
from devrt._errors import public_op
from devrt.autograd.grad_mode import no_grad

Tensor = _C.Tensor


def _operator_index(op: str, value: Any) -> int:
    """`value` as an int argument of `op`: an int or a NumPy integer, never a
    bool (as PyTorch's int arguments)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        return operator.index(value)
    except TypeError:
        raise TypeError(f"[{op}] expected an int, got {type(value).__name__}") from None


def _is_int(value: Any) -> bool:
    """Whether `value` is an int argument as PyTorch takes one: an int or a
    NumPy integer, not a bool or a tensor."""
    if isinstance(value, (bool, Tensor)):
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def _flag(op: str, name: str, value: Any) -> bool:
    """A flag argument (keepdim): True or False only, as PyTorch's."""
    if not isinstance(value, bool):
        raise TypeError(f"[{op}] argument '{name}' must be a bool, got {type(value).__name__}")
    return value


def _require_tensor(op: str, **named: Any) -> None:
    for name, value in named.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"[{op}] {name} must be a Tensor, got {type(value).__name__}")


def _named_result(fn: Any, result: type) -> Any:
    """The binding `fn` (max or min, function or method), returning the
    (values, indices) tuple of its reducing form as the named tuple `result`
    (as torch.return_types); its other forms return a tensor. Errors come
    from the binding itself."""

    @functools.wraps(fn)
    def named(*args: Any, **kwargs: Any) -> Any:
        out = fn(*args, **kwargs)
        return result(*out) if type(out) is tuple else out

    return named


# devrt.max and devrt.min
_max = _named_result(_C.max, return_types.max)
_min = _named_result(_C.min, return_types.min)


@public_op
def isnan(input: Tensor) -> Tensor:
    """Where `input` is NaN (never, for integers)."""
    _require_tensor("isnan", input=input)
    return input != input


@public_op
def isinf(input: Tensor) -> Tensor:
    """Where `input` is +inf or -inf."""
    _require_tensor("isinf", input=input)
    if not input.is_floating_point():
        return _C.zeros(input.shape, dtype=_C.bool, device=input.device)
    return input.abs() == math.inf


@public_op
def isfinite(input: Tensor) -> Tensor:
    """Where `input` is neither NaN nor infinite (x - x is 0 exactly there)."""
    _require_tensor("isfinite", input=input)
    if not input.is_floating_point():
        return _C.ones(input.shape, dtype=_C.bool, device=input.device)
    return (input - input) == 0


@public_op
def isclose(
    input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    """Where ``|input - other| <= atol + rtol * |other|``; equal infinities
    are close, NaNs only with `equal_nan`."""
    _require_tensor("isclose", input=input, other=other)
    if rtol < 0 or atol < 0:
        raise ValueError(f"[isclose] rtol and atol must be non-negative, got {rtol} and {atol}")
    if input.dtype is _C.bool or other.dtype is _C.bool:
        return input == other
    diff = (input - other).abs()  # inf or NaN where either side is not finite
    close = ((diff <= atol + rtol * other.abs()) & isfinite(diff)) | (input == other)
    if equal_nan:
        close = close | (isnan(input) & isnan(other))
    return close


@public_op
def allclose(
    input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """Whether every element of `input` is close to `other` (see isclose)."""
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


@public_op
def equal(input: Tensor, other: Tensor) -> bool:
    """Whether the two tensors have one shape and equal elements."""
    _require_tensor("equal", input=input, other=other)
    return input.shape == other.shape and bool((input == other).all())


@public_op
def addmm(
    input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: float = 1, alpha: float = 1
) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``; with beta 0, `input` is not
    read (its NaNs do not propagate)."""
    _require_tensor("addmm", input=input, mat1=mat1, mat2=mat2)
    if mat1.ndim != 2 or mat2.ndim != 2:
        raise ValueError(
            f"[addmm] mat1 and mat2 must be 2-D, got shapes {tuple(mat1.shape)} and {tuple(mat2.shape)}"
        )
    if not input.dtype == mat1.dtype == mat2.dtype:
        raise TypeError(
            f"[addmm] expects input, mat1 and mat2 of one dtype, got "
            f"{input.dtype}, {mat1.dtype} and {mat2.dtype}"
        )
    n, p = mat1.shape[0], mat2.shape[1]
    try:
        target = _C.broadcast_shapes(tuple(input.shape), (n, p))
    except ValueError:
        target = None
    if target != (n, p):
        raise ValueError(
            f"[addmm] input of shape {tuple(input.shape)} does not broadcast to the "
            f"product's shape ({n}, {p})"
        )
    out = mat1.mm(mat2)
    if alpha != 1:
        out = out * alpha
    if beta == 0:
        return out
    return out + (input if beta == 1 else input * beta)


@public_op
def dot(input: Tensor, other: Tensor) -> Tensor:
    """The inner product of two 1-D tensors of one length."""
    _require_tensor("dot", input=input, other=other)
    if input.ndim != 1 or other.ndim != 1 or input.shape != other.shape:
        raise ValueError(
            f"[dot] expects two 1-D tensors of one length, got shapes "
            f"{tuple(input.shape)} and {tuple(other.shape)}"
        )
    if input.dtype is not other.dtype:
        raise TypeError(
            f"[dot] expects two tensors of one dtype, got {input.dtype} and {other.dtype}"
        )
    # The sum keeps the operands' dtype (an integer sum would widen to int64).
    return (input * other).sum(dtype=input.dtype)


@public_op
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """The outer product of two 1-D tensors."""
    _require_tensor("outer", input=input, vec2=vec2)
    if input.ndim != 1 or vec2.ndim != 1:
        raise ValueError(
            f"[outer] expects 1-D tensors, got shapes {tuple(input.shape)} and {tuple(vec2.shape)}"
        )
    return input.unsqueeze(1) * vec2.unsqueeze(0)


@public_op
def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices of `input` along `dim`, as views, each without that dimension."""
    _require_tensor("unbind", input=input)
    (d,) = _dims("unbind", input, dim)
    return tuple(select(input, d, i) for i in range(input.shape[d]))


@public_op
def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The view of `input` at `index` along `dim`, without that dimension."""
    _require_tensor("select", input=input)
    (d,) = _dims("select", input, dim)
    size = input.shape[d]
    if not -size <= index < size:
        raise IndexError(
            f"[select] index {index} is out of range for dimension {dim} of size {size}"
        )
    return input[(slice(None),) * d + (index,)]


@public_op
def where(condition: Tensor, input: Any = None, other: Any = None) -> Any:
    """``where(condition, input, other)`` picks elementwise; ``where(condition)``
    is ``condition.nonzero(as_tuple=True)``, the index tensors of its
    non-zero elements."""
    if input is None and other is None:
        _require_tensor("where", condition=condition)
        if condition.ndim == 0:
            condition = condition.reshape(1)
        return unbind(_C.nonzero(condition), 1)
    if input is None or other is None:
        raise TypeError("[where] expects a condition alone, or a condition, input and other")
    return _C.where(condition, input, other)


_NO_M = object()  # eye's m when not given: PyTorch has no m=None


@public_op
def eye(
    n: int,
    m: Any = _NO_M,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """The n x m identity matrix (m = n by default)."""
    n = _operator_index("eye", n)
    m = n if m is _NO_M else _operator_index("eye", m)  # m=None is refused
    if n < 0 or m < 0:
        raise ValueError(f"[eye] n and m must be non-negative, got {n} and {m}")
    rows = _C.arange(n, dtype=_C.int64, device=device).unsqueeze(1)
    ones = rows == _C.arange(m, dtype=_C.int64, device=device)
    out = ones.to(dtype=_C.float32 if dtype is None else dtype)  # (a tensor is no dtype)
    return out.requires_grad_() if requires_grad else out


@public_op
def randperm(
    n: int,
    *,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A random permutation of 0 .. n-1 (int64 by default). Orders of
    indices are host data, drawn as DataLoader's shuffles are: from
    `generator`, or from a seed of devrt's global generator, so
    ``devrt.manual_seed`` makes them reproducible."""
    from devrt.utils.data.generator import resolve

    if n < 0:
        raise ValueError(f"[randperm] n must be non-negative, got {n}")
    order = _C.from_numpy(resolve(generator).randperm_array(n))
    out = order if dtype is None else order.to(dtype=dtype)
    if device is not None:
        out = out.to(device)
    return out.requires_grad_() if requires_grad else out


@public_op
def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over `dim`, shifted by the (detached) maximum so
    that nothing overflows; its gradient is the softmax."""
    _require_tensor("logsumexp", input=input)
    _flag("logsumexp", "keepdim", keepdim)
    if not input.is_floating_point():  # a float function: integers in float
        input = input.to(_C.float32)
    # An empty dim list reduces every dim, as sum's does.
    dims = _dims("logsumexp", input, dim, scalar=True) or tuple(range(input.ndim))
    if any(input.shape[d] == 0 for d in dims):
        # An empty sum: log 0 = -inf, nothing to overflow. Computed from the
        # input, so that its dtype is a float one and it has a gradient.
        out = input.exp().sum(dim=dims, keepdim=True).log()
        return out if keepdim else out.squeeze(dims)
    m = input.detach().amax(dim=dims, keepdim=True)
    m = where(isfinite(m), m, 0.0)  # all -inf (or an inf): no shift
    out = (input - m).exp().sum(dim=dims, keepdim=True).log() + m
    return out if keepdim else out.squeeze(dims)


@public_op
def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort `input` along `dim` (always stably; NaN after
    every number, or before them when descending)."""
    _require_tensor("argsort", input=input)
    return _C._argsort(input, dim, bool(descending))


@public_op
def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """(values, indices) of `input` sorted along `dim` (see argsort)."""
    from devrt import return_types

    _require_tensor("sort", input=input)
    _dims("sort", input.reshape(1) if input.ndim == 0 else input, dim)
    indices = argsort(input, dim, descending)
    return return_types.sort(_C.gather(input, dim, indices), indices)


@public_op
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """(values, indices) of the `k` largest (or smallest) elements along `dim`,
    in order; ties keep their order in `input`."""
    from devrt import return_types

    _require_tensor("topk", input=input)
    return return_types.topk(*_C._topk(input, k, dim, bool(largest)))


@public_op
def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """The running sum along `dim` (bool and integers in int64, or `dtype`:
    the input is cast to it, and so is the result)."""
    _require_tensor("cumsum", input=input)
    if isinstance(dtype, Tensor):
        raise TypeError("[cumsum] dtype must be a dtype, got Tensor")
    if dtype is None:
        return _C._cumsum(input, dim)
    out = _C._cumsum(input.to(dtype), dim)
    return out if out.dtype == dtype else out.to(dtype)


def _triangle(op: str, input: Tensor, diagonal: int, lower: bool) -> Tensor:
    _require_tensor(op, input=input)
    if input.ndim < 2:
        raise ValueError(f"[{op}] expects at least 2 dimensions, got shape {tuple(input.shape)}")
    rows, cols = input.shape[-2], input.shape[-1]
    i = _C.arange(rows, dtype=_C.int64, device=input.device).unsqueeze(1) + diagonal
    j = _C.arange(cols, dtype=_C.int64, device=input.device)
    keep = (j <= i) if lower else (j >= i)
    return _C.where(keep, input, _C.zeros((), dtype=input.dtype, device=input.device))


@public_op
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle (j <= i + diagonal) of the last two dimensions."""
    return _triangle("tril", input, diagonal, True)


@public_op
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle (j >= i + diagonal) of the last two dimensions."""
    return _triangle("triu", input, diagonal, False)


def _dims(op: str, input: Tensor, dims: Any, *, scalar: bool = False) -> tuple:
    """`dims` as non-negative dims of `input`. With `scalar`, a 0-d tensor
    takes dim 0 and -1 as in PyTorch, and has no dim to act on: ()."""
    sequence = isinstance(dims, (list, tuple, range))
    if not sequence and not _is_int(dims):
        raise TypeError(
            f"[{op}] dims must be an int or a sequence of ints, got {type(dims).__name__}"
        )
    dims = tuple(dims) if sequence else (dims,)
    out = []
    for d in dims:
        if not _is_int(d):
            raise TypeError(f"[{op}] dims must be ints, got {type(d).__name__}")
        d = operator.index(d)
        rank = 1 if scalar and input.ndim == 0 else input.ndim
        k = d + rank if d < 0 else d
        if not 0 <= k < rank:
            raise IndexError(f"[{op}] dim {d} is out of range for {input.ndim} dimensions")
        out.append(k)
    if len(set(out)) != len(out):
        raise ValueError(f"[{op}] dims {list(dims)} name a dimension twice")
    return tuple(out) if input.ndim else ()


@public_op
def flip(input: Tensor, dims: Any) -> Tensor:
    """`input` reversed along each of `dims`, as a new tensor (the core's
    flip: devrt has no negative strides)."""
    _require_tensor("flip", input=input)
    out = input
    for d in _dims("flip", input, dims, scalar=True):
        if input.shape[d] > 1:
            out = _C._flip(out, d)
    return out if out is not input else input.clone()


@public_op
def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """`input` shifted cyclically by `shifts` along `dims` (the flattened
    tensor when `dims` is None)."""
    _require_tensor("roll", input=input)
    if dims is None:
        if not isinstance(shifts, int):
            raise ValueError("[roll] without dims, shifts must be one int")
        return roll(input.reshape(-1), shifts, 0).reshape(input.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = _dims("roll", input, dims)
    if len(shifts) != len(dims):
        raise ValueError(f"[roll] {len(shifts)} shifts for {len(dims)} dims")
    out = input
    for shift, d in zip(shifts, dims, strict=True):
        n = input.shape[d]
        k = shift % n if n else 0
        if k:
            out = _C.cat([out.narrow(d, n - k, k), out.narrow(d, 0, n - k)], d)
    return out if out is not input else input.clone()


@public_op
def _repeat(self: Tensor, *sizes: Any) -> Tensor:
    """The tensor tiled `sizes` times along each dimension (leading sizes
    add dimensions), as a new tensor."""
    if len(sizes) == 1 and not hasattr(sizes[0], "__index__"):
        sizes = tuple(sizes[0])
    if len(sizes) < self.ndim:
        raise ValueError(
            f"[repeat] {len(sizes)} repeat sizes for a tensor of {self.ndim} dimensions"
        )
    sizes = tuple(_operator_index("repeat", r) for r in sizes)
    if any(r < 0 for r in sizes):
        raise ValueError(f"[repeat] sizes must be non-negative, got {list(sizes)}")
    shape = (1,) * (len(sizes) - self.ndim) + tuple(self.shape)
    spread, tiled, final = [], [], []
    for r, n in zip(sizes, shape, strict=True):
        spread += [1, n]
        tiled += [int(r), n]
        final.append(int(r) * n)
    out = self.reshape(spread).expand(tiled).reshape(final)
    return out.clone() if out._is_view_of(self) else out  # always a new tensor


class inference_mode(no_grad):  # noqa: N801 - mirrors torch.inference_mode
    """``torch.inference_mode``: in devrt, no_grad (a context manager and
    decorator); ``inference_mode(False)`` changes nothing."""

    def __init__(self, mode: Any = True) -> None:
        super().__init__()
        self._off = mode is False

    def __enter__(self) -> None:
        if self._off:
            self._prev.append(_C.is_grad_enabled())
            return
        super().__enter__()

    def __call__(self, fn: Any) -> Any:
        if self._off:
            return fn
        return super().__call__(fn)


# --- Tensor methods --------------------------------------------------------------------------

_TYPE_NAMES = {
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "float16": "HalfTensor",
    "bfloat16": "BFloat16Tensor",
    "int64": "LongTensor",
    "int32": "IntTensor",
    "uint8": "ByteTensor",
    "bool": "BoolTensor",
}
_TYPE_DTYPES = {name: dtype for dtype, name in _TYPE_NAMES.items()}


@public_op
def _type(self: Tensor, dtype: Any = None, non_blocking: bool = False) -> Any:
    """Without a dtype, the tensor's type name ("devrt.FloatTensor"); with
    one (a dtype or such a name), the tensor cast to it."""
    if dtype is None:
        return f"devrt.{_TYPE_NAMES[self.dtype.name]}"
    if isinstance(dtype, str):
        name = dtype.rsplit(".", 1)[-1]
        if name not in _TYPE_DTYPES:
            raise ValueError(f"[type] unknown tensor type '{dtype}'")
        dtype = getattr(_C, _TYPE_DTYPES[name])
    return self.to(dtype=dtype)  # (a tensor is no dtype)


@public_op
def _uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill this tensor with uniform values in [a, b) and return it
    (nn.init.uniform_)."""

    from devrt.nn import init

    return init.uniform_(self, a, b, generator=generator)


@public_op
def _normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill this tensor with normal values of the given mean and std and
    return it (nn.init.normal_)."""

    from devrt.nn import init

    return init.normal_(self, mean, std, generator=generator)


@public_op
def _norm(self: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
    """The vector p-norm over `dim` (all elements by default): p = 2 (or
    'fro'), inf, -inf, 0 (the count of non-zeros), or any other number."""
    _flag("norm", "keepdim", keepdim)
    if p == "fro":
        p = 2
    if not isinstance(p, int | float):
        raise ValueError(f"[norm] p must be a number, 'fro', inf or -inf, got {p!r}")
    x = self.abs()
    # No dim, or an empty dim list, reduces every dim.
    dims = (() if dim is None else _dims("norm", self, dim, scalar=True)) or tuple(range(self.ndim))
    kw = {"dim": dims, "keepdim": keepdim} if dims else {}
    if p == math.inf:
        return x.amax(**kw)
    if p == -math.inf:
        return x.amin(**kw)
    if p == 0:
        return (x != 0).to(x.dtype).sum(**kw)
    if p == 1:
        return x.sum(**kw)
    total = (x * x if p == 2 else x**p).sum(**kw)
    # The root's gradient at 0 is infinite: where the total is 0 the norm is
    # 0 with a zero gradient (as in torch), not NaN.
    zero = total == 0
    safe = where(zero, 1.0, total)
    root = safe.sqrt() if p == 2 else safe ** (1.0 / p)
    return where(zero, 0.0, root)


TENSOR_METHODS = {
    "max": _named_result(Tensor.max, return_types.max),
    "min": _named_result(Tensor.min, return_types.min),
    "isnan": isnan,
    "isinf": isinf,
    "isfinite": isfinite,
    "isclose": isclose,
    "allclose": allclose,
    "equal": equal,
    "addmm": addmm,
    "dot": dot,
    "outer": outer,
    "unbind": unbind,
    "select": select,
    "logsumexp": logsumexp,
    "tril": tril,
    "triu": triu,
    "repeat": _repeat,
    "flip": flip,
    "argsort": argsort,
    "sort": sort,
    "topk": topk,
    "cumsum": cumsum,
    "roll": roll,
    "type": _type,
    "uniform_": _uniform_,
    "normal_": _normal_,
    "norm": _norm,
}
