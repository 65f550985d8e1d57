"""``keras.ops``: the functions custom layers compute with.

Each takes devrt tensors, NumPy arrays or Python numbers and returns a
devrt tensor, computed by devrt ops. Called on KerasTensors (inside a
functional model's definition) each records a node instead, so
``keras.ops.add(x, y)`` works on ``keras.Input`` results too.
"""

from __future__ import annotations

import builtins
import functools
from typing import Any

import numpy as np

import devrt
from devrt.keras import activations, backend
from devrt.keras.keras_tensor import any_symbolic
from devrt.nn import functional as F

_t = backend.convert_to_tensor


# The layer class of each op that has been called on KerasTensors, by class
# name, as Keras names its operations ("Add", "Matmul", "Relu").
OP_CLASSES: dict[str, type] = {}


def _op_class(fn: Any) -> type:
    from devrt.keras.layers.layer import Layer

    class_name = "".join(part.title() for part in fn.__name__.split("_"))
    cls = OP_CLASSES.get(class_name)
    if cls is None:
        module = (
            "keras.src.ops.nn" if fn.__module__ == activations.__name__ else "keras.src.ops.numpy"
        )

        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs)

        def init(self: Any, name: str | None = None, **kwargs: Any) -> None:
            Layer.__init__(self, name=name or backend.unique_name(fn.__name__), **kwargs)
            self.built = True

        def get_config(self: Any) -> dict:
            return {"name": self.name}

        cls = OP_CLASSES[class_name] = type(
            class_name,
            (Layer,),
            {
                "__init__": init,
                "call": call,
                "get_config": get_config,
                "_keras_module": module,
                "__module__": __name__,
                "__doc__": f"The node of ``keras.ops.{fn.__name__}`` in a functional model.",
            },
        )
    return cls


def _symbolic(fn: Any) -> Any:
    """Let `fn` take KerasTensors: it then becomes a node of the functional graph."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if any_symbolic(args, kwargs):
            return _op_class(fn)()(*args, **kwargs)
        return fn(*args, **kwargs)

    wrapper._op_function = fn  # type: ignore[attr-defined]
    return wrapper


def op_class(class_name: str) -> type | None:
    """The node class of the op Keras names `class_name` (for loading configs)."""
    if not OP_CLASSES:
        for obj in list(globals().values()):
            fn = getattr(obj, "_op_function", None)
            if fn is not None:
                _op_class(fn)
    return OP_CLASSES.get(class_name)


def _pair(x: Any, y: Any) -> tuple[devrt.Tensor, Any]:
    """Binary operands: tensors stay, a Python number stays a scalar (weak
    type, as in Keras), anything else becomes a tensor."""
    if not isinstance(x, devrt.Tensor):
        if isinstance(y, devrt.Tensor) and isinstance(x, (int, float, bool)):
            return devrt.full((), x, dtype=y.dtype, device=y.device), y
        x = _t(x)
    if not isinstance(y, (devrt.Tensor, int, float, bool)):
        y = _t(y)
    return x, y


def _axis(axis: Any) -> Any:
    if axis is None:
        return None
    return tuple(axis) if isinstance(axis, (list, tuple)) else int(axis)


def _reduce(fn: str, x: Any, axis: Any, keepdims: bool) -> devrt.Tensor:
    x = _t(x)
    axis = _axis(axis)
    if axis == ():
        # Keras (as NumPy) reduces nothing over an empty axis tuple, where
        # the eager API reduces every dim: a new axis of size 1 stands in.
        return getattr(x.unsqueeze(0), fn)(dim=0)
    if axis is None:
        out = getattr(x, fn)()
        return out.reshape((1,) * x.ndim) if keepdims else out
    return getattr(x, fn)(dim=axis, keepdim=keepdims)


# --- conversion ------------------------------------------------------------


def convert_to_tensor(x: Any, dtype: Any = None, sparse: Any = None) -> devrt.Tensor:
    return _t(x, dtype=dtype)


def convert_to_numpy(x: Any) -> np.ndarray:
    return backend.convert_to_numpy(x)


@_symbolic
def cast(x: Any, dtype: Any) -> devrt.Tensor:
    return _t(x).to(backend.dtype_of(dtype))


def shape(x: Any) -> tuple:
    return tuple(x.shape)


def ndim(x: Any) -> int:
    return len(x.shape)


def is_tensor(x: Any) -> bool:
    return isinstance(x, devrt.Tensor)


def stop_gradient(x: Any) -> devrt.Tensor:
    return _t(x).detach()


# --- elementwise -------------------------------------------------------------


@_symbolic
def add(x1: Any, x2: Any) -> devrt.Tensor:
    x1, x2 = _pair(x1, x2)
    return x1 + x2


@_symbolic
def subtract(x1: Any, x2: Any) -> devrt.Tensor:
    x1, x2 = _pair(x1, x2)
    return x1 - x2


@_symbolic
def multiply(x1: Any, x2: Any) -> devrt.Tensor:
    x1, x2 = _pair(x1, x2)
    return x1 * x2


@_symbolic
def divide(x1: Any, x2: Any) -> devrt.Tensor:
    x1, x2 = _pair(x1, x2)
    return x1 / x2


true_divide = divide


@_symbolic
def power(x1: Any, x2: Any) -> devrt.Tensor:
    x1, x2 = _pair(x1, x2)
    return x1**x2


@_symbolic
def maximum(x1: Any, x2: Any) -> devrt.Tensor:
    x1, x2 = _pair(x1, x2)
    return devrt.maximum(x1, x2 if isinstance(x2, devrt.Tensor) else devrt.full_like(x1, x2))


@_symbolic
def minimum(x1: Any, x2: Any) -> devrt.Tensor:
    x1, x2 = _pair(x1, x2)
    return devrt.minimum(x1, x2 if isinstance(x2, devrt.Tensor) else devrt.full_like(x1, x2))


def _unary(name: str, method: str) -> Any:
    def fn(x: Any) -> devrt.Tensor:
        return getattr(_t(x), method)()

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``keras.ops.{name}``: element-wise, by devrt's ``{method}``."
    return _symbolic(fn)


negative = _unary("negative", "neg")
abs = _unary("abs", "abs")  # noqa: A001
absolute = abs
sign = _unary("sign", "sign")
exp = _unary("exp", "exp")
expm1 = _unary("expm1", "expm1")
log = _unary("log", "log")
log1p = _unary("log1p", "log1p")
sqrt = _unary("sqrt", "sqrt")
rsqrt = _unary("rsqrt", "rsqrt")
sin = _unary("sin", "sin")
cos = _unary("cos", "cos")
tan = _unary("tan", "tan")
tanh = _unary("tanh", "tanh")
floor = _unary("floor", "floor")
ceil = _unary("ceil", "ceil")
round = _unary("round", "round")  # noqa: A001
reciprocal = _unary("reciprocal", "reciprocal")
logical_not = _unary("logical_not", "logical_not")
erf = _unary("erf", "erf")


@_symbolic
def square(x: Any) -> devrt.Tensor:
    x = _t(x)
    return x * x


@_symbolic
def clip(x: Any, x_min: Any, x_max: Any) -> devrt.Tensor:
    return devrt.clamp(_t(x), x_min, x_max)


@_symbolic
def where(condition: Any, x1: Any = None, x2: Any = None) -> Any:
    if x1 is None and x2 is None:
        return devrt.where(_t(condition))
    return devrt.where(_t(condition, dtype="bool"), _t(x1), _t(x2))


def _compare(name: str, method: str) -> Any:
    def fn(x1: Any, x2: Any) -> devrt.Tensor:
        x1, x2 = _pair(x1, x2)
        return getattr(x1, method)(x2)

    fn.__name__ = fn.__qualname__ = name
    return _symbolic(fn)


equal = _compare("equal", "eq")
not_equal = _compare("not_equal", "ne")
greater = _compare("greater", "gt")
greater_equal = _compare("greater_equal", "ge")
less = _compare("less", "lt")
less_equal = _compare("less_equal", "le")
logical_and = _compare("logical_and", "logical_and")
arctan2 = _compare("arctan2", "atan2")
logical_or = _compare("logical_or", "logical_or")
logical_xor = _compare("logical_xor", "logical_xor")

# --- neural-network functions (keras.ops and keras.ops.nn) -------------------

relu = _symbolic(activations.relu)
relu6 = _symbolic(activations.relu6)
sigmoid = _symbolic(activations.sigmoid)
softplus = _symbolic(activations.softplus)
softsign = _symbolic(activations.softsign)
silu = swish = _symbolic(activations.silu)
gelu = _symbolic(activations.gelu)
elu = _symbolic(activations.elu)
selu = _symbolic(activations.selu)
leaky_relu = _symbolic(activations.leaky_relu)
hard_sigmoid = _symbolic(activations.hard_sigmoid)


@_symbolic
def softmax(x: Any, axis: int = -1) -> devrt.Tensor:
    return devrt.softmax(_t(x), axis)


@_symbolic
def log_softmax(x: Any, axis: int = -1) -> devrt.Tensor:
    return devrt.log_softmax(_t(x), axis)


@_symbolic
def one_hot(x: Any, num_classes: int, axis: int = -1, dtype: Any = None) -> devrt.Tensor:
    out = F.one_hot(_t(x).to(devrt.int64), num_classes).to(backend.dtype_of(dtype))
    return out if axis == -1 else out.permute(*_move_last(out.ndim, axis))


def _move_last(ndim: int, axis: int) -> list[int]:
    axis = axis % ndim
    order = list(range(ndim - 1))
    order.insert(axis, ndim - 1)
    return order


@_symbolic
def moments(x: Any, axes: Any, keepdims: bool = False) -> tuple:
    return mean(x, axes, keepdims), var(x, axes, keepdims)


# --- linear algebra and shapes ------------------------------------------------


@_symbolic
def matmul(x1: Any, x2: Any) -> devrt.Tensor:
    return devrt.matmul(_t(x1), _t(x2))


@_symbolic
def dot(x1: Any, x2: Any) -> devrt.Tensor:
    x1, x2 = _t(x1), _t(x2)
    if x1.ndim == 0 or x2.ndim == 0:
        return x1 * x2
    return devrt.matmul(x1, x2)


@_symbolic
def transpose(x: Any, axes: Any = None) -> devrt.Tensor:
    x = _t(x)
    axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(axes)
    return x.permute(*axes)


@_symbolic
def reshape(x: Any, newshape: Any) -> devrt.Tensor:
    newshape = (newshape,) if isinstance(newshape, int) else tuple(newshape)
    return _t(x).reshape(tuple(-1 if d is None else d for d in newshape))


@_symbolic
def expand_dims(x: Any, axis: int) -> devrt.Tensor:
    x = _t(x)
    return x.unsqueeze(axis if axis >= 0 else x.ndim + 1 + axis)


@_symbolic
def squeeze(x: Any, axis: Any = None) -> devrt.Tensor:
    x = _t(x)
    return x.squeeze() if axis is None else x.squeeze(_axis(axis))


@_symbolic
def concatenate(xs: Any, axis: int = 0) -> devrt.Tensor:
    return devrt.cat([_t(x) for x in xs], dim=axis)


@_symbolic
def stack(x: Any, axis: int = 0) -> devrt.Tensor:
    return devrt.stack([_t(v) for v in x], dim=axis)


@_symbolic
def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list:
    x = _t(x)
    size = x.shape[axis]
    if isinstance(indices_or_sections, int):
        if size % indices_or_sections:
            raise ValueError(
                f"[split] axis {axis} of size {size} does not split into "
                f"{indices_or_sections} equal sections"
            )
        return list(devrt.split(x, size // indices_or_sections, dim=axis))
    bounds = [0, *indices_or_sections, size]
    return list(devrt.split(x, [b - a for a, b in zip(bounds, bounds[1:])], dim=axis))


@_symbolic
def broadcast_to(x: Any, shape: Any) -> devrt.Tensor:
    return _t(x).expand(*shape)


@_symbolic
def tile(x: Any, repeats: Any) -> devrt.Tensor:
    x = _t(x)
    repeats = (repeats,) if isinstance(repeats, int) else tuple(repeats)
    if len(repeats) < x.ndim:
        repeats = (1,) * (x.ndim - len(repeats)) + repeats
    return x.repeat(*repeats)


@_symbolic
def repeat(x: Any, repeats: int, axis: int | None = None) -> devrt.Tensor:
    x = _t(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis = axis % x.ndim
    expanded = x.unsqueeze(axis + 1)
    sizes = list(expanded.shape)
    sizes[axis + 1] = repeats
    shape = list(x.shape)
    shape[axis] *= repeats
    return expanded.expand(*sizes).reshape(tuple(shape))


@_symbolic
def take(x: Any, indices: Any, axis: int | None = None) -> devrt.Tensor:
    x, indices = _t(x), _t(indices).to(devrt.int64)
    if axis is None:
        x, axis = x.reshape(-1), 0
    flat = devrt.index_select(x, axis, indices.reshape(-1))
    axis = axis % x.ndim
    return flat.reshape((*x.shape[:axis], *indices.shape, *x.shape[axis + 1 :]))


@_symbolic
def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = None) -> Any:
    x = _t(x)
    widths = [tuple(p) for p in pad_width]
    flat = [n for before, after in reversed(widths) for n in (before, after)]
    return F.pad(x, flat, mode=mode, value=0.0 if constant_values is None else constant_values)


@_symbolic
def getitem(x: Any, key: Any) -> devrt.Tensor:
    return _t(x)[key]


# --- reductions -----------------------------------------------------------------


@_symbolic
def sum(x: Any, axis: Any = None, keepdims: bool = False) -> devrt.Tensor:  # noqa: A001
    return _reduce("sum", x, axis, keepdims)


@_symbolic
def mean(x: Any, axis: Any = None, keepdims: bool = False) -> devrt.Tensor:
    return _reduce("mean", x, axis, keepdims)


@_symbolic
def max(x: Any, axis: Any = None, keepdims: bool = False) -> devrt.Tensor:  # noqa: A001
    return _reduce("amax", x, axis, keepdims)


@_symbolic
def min(x: Any, axis: Any = None, keepdims: bool = False) -> devrt.Tensor:  # noqa: A001
    return _reduce("amin", x, axis, keepdims)


amax, amin = max, min


@_symbolic
def prod(x: Any, axis: Any = None, keepdims: bool = False) -> devrt.Tensor:
    return _reduce("prod", x, axis, keepdims)


@_symbolic
def var(x: Any, axis: Any = None, keepdims: bool = False) -> devrt.Tensor:
    """The population variance (the catalogue's var with correction 0)."""
    x = _t(x)
    axis = _axis(axis)
    if axis == ():  # nothing reduced, as in _reduce
        return x.unsqueeze(0).var(dim=0, correction=0)
    if axis is None:
        out = x.var(correction=0)
        return out.reshape((1,) * x.ndim) if keepdims else out
    return x.var(dim=axis, correction=0, keepdim=keepdims)


@_symbolic
def std(x: Any, axis: Any = None, keepdims: bool = False) -> devrt.Tensor:
    return var(x, axis, keepdims).sqrt()


@_symbolic
def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> devrt.Tensor:
    x = _t(x)
    return x.reshape(-1).argmax() if axis is None else x.argmax(dim=axis, keepdim=keepdims)


@_symbolic
def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> devrt.Tensor:
    x = _t(x)
    return x.reshape(-1).argmin() if axis is None else x.argmin(dim=axis, keepdim=keepdims)


@_symbolic
def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> devrt.Tensor:
    x = _t(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    if _axis(axis) == ():  # nothing reduced, as in _reduce
        return devrt.logsumexp(x.unsqueeze(0), 0)
    return devrt.logsumexp(x, _axis(axis), keepdim=keepdims)


@_symbolic
def cumsum(x: Any, axis: int | None = None, dtype: Any = None) -> devrt.Tensor:
    x = _t(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    return devrt.cumsum(x, axis, dtype=None if dtype is None else backend.dtype_of(dtype))


@_symbolic
def sort(x: Any, axis: int = -1) -> devrt.Tensor:
    return devrt.sort(_t(x), dim=axis).values


@_symbolic
def argsort(x: Any, axis: int = -1) -> devrt.Tensor:
    return devrt.argsort(_t(x), dim=axis)


@_symbolic
def top_k(x: Any, k: int, sorted: bool = True) -> tuple:  # noqa: A002
    out = devrt.topk(_t(x), k, dim=-1, sorted=sorted)
    return out.values, out.indices


@_symbolic
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> devrt.Tensor:  # noqa: A002
    x = _t(x)
    if ord not in (None, 2, "fro", "euclidean"):
        raise NotImplementedError(f"[norm] ord={ord!r} is not supported by devrt")
    return _reduce("sum", x * x, axis, keepdims).sqrt()


# --- creation ---------------------------------------------------------------------


def _dt(dtype: Any) -> Any:
    return backend.dtype_of(dtype)


def zeros(shape: Any, dtype: Any = None) -> devrt.Tensor:
    return devrt.zeros(tuple(shape), dtype=_dt(dtype), device=backend.current_device())


def ones(shape: Any, dtype: Any = None) -> devrt.Tensor:
    return devrt.ones(tuple(shape), dtype=_dt(dtype), device=backend.current_device())


def full(shape: Any, fill_value: Any, dtype: Any = None) -> devrt.Tensor:
    return devrt.full(tuple(shape), fill_value, dtype=_dt(dtype), device=backend.current_device())


@_symbolic
def zeros_like(x: Any, dtype: Any = None) -> devrt.Tensor:
    x = _t(x)
    return devrt.zeros_like(x, dtype=x.dtype if dtype is None else _dt(dtype))


@_symbolic
def ones_like(x: Any, dtype: Any = None) -> devrt.Tensor:
    x = _t(x)
    return devrt.ones_like(x, dtype=x.dtype if dtype is None else _dt(dtype))


@_symbolic
def full_like(x: Any, fill_value: Any, dtype: Any = None) -> devrt.Tensor:
    x = _t(x)
    return devrt.full_like(x, fill_value, dtype=x.dtype if dtype is None else _dt(dtype))


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> devrt.Tensor:
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        is_int = builtins.all(isinstance(v, int) for v in (start, stop, step))
        dtype = "int32" if is_int else backend.floatx()
    return devrt.arange(start, stop, step, dtype=_dt(dtype), device=backend.current_device())


def eye(n: int, m: int | None = None, k: int = 0, dtype: Any = None) -> devrt.Tensor:
    if k != 0:
        raise NotImplementedError("[eye] k != 0 is not supported by devrt")
    return devrt.eye(n, n if m is None else m, dtype=_dt(dtype), device=backend.current_device())


class nn:  # noqa: N801 - the keras.ops.nn namespace
    relu = staticmethod(relu)
    relu6 = staticmethod(relu6)
    sigmoid = staticmethod(sigmoid)
    softmax = staticmethod(softmax)
    log_softmax = staticmethod(log_softmax)
    softplus = staticmethod(softplus)
    softsign = staticmethod(softsign)
    silu = staticmethod(silu)
    swish = staticmethod(swish)
    gelu = staticmethod(gelu)
    elu = staticmethod(elu)
    selu = staticmethod(selu)
    leaky_relu = staticmethod(leaky_relu)
    hard_sigmoid = staticmethod(hard_sigmoid)
    one_hot = staticmethod(one_hot)
    moments = staticmethod(moments)


class numpy:  # noqa: N801 - the keras.ops.numpy namespace
    pass


for _name in list(globals()):
    _obj = globals()[_name]
    if (
        callable(_obj)
        and not _name.startswith("_")
        and not isinstance(_obj, type)
        and getattr(_obj, "__module__", None) in (__name__, activations.__name__)
    ):
        setattr(numpy, _name, staticmethod(_obj))
del _name, _obj
