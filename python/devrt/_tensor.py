"""The parts of the Tensor surface that are plain Python: construction from
data, indexing syntax, printing and conversions to Python objects. Every
numeric operation they perform is a core op."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from devrt import _C
from devrt._C import Tensor
from devrt._errors import public_op

_DEFAULT_FOR_KIND = {"f": _C.float32, "i": _C.int64, "u": None, "b": _C.bool}


def _numpy_from_data(data: Any, dtype: Any) -> np.ndarray:
    """A new NumPy array holding `data` (nested sequences, arrays, numbers)."""
    try:
        arr = np.array(data, copy=True)
    except ValueError as exc:
        raise ValueError(f"[tensor] ragged nested sequence: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"[tensor] cannot build a tensor from {type(data).__name__} of NumPy dtype "
            f"{arr.dtype}; devrt holds bool, uint8, int32, int64 and floating types"
        )
    if not isinstance(data, (np.ndarray, np.generic)) and dtype is None:
        # Python floats become float32 and ints int64, as PyTorch does.
        default = _DEFAULT_FOR_KIND.get(arr.dtype.kind)
        if default is not None:
            dtype = default
    if dtype is not None:
        dt = _C.dtype_from_name(dtype) if isinstance(dtype, str) else dtype
        if dt is _C.bfloat16:
            return arr  # converted by the core below
        arr = arr.astype(np.dtype(dt.name) if isinstance(dt, _C.dtype) else dt)
    return arr


@public_op
def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (nested sequences, arrays, numbers)."""
    if isinstance(data, Tensor):
        out = data.detach().to(device=device, dtype=dtype, copy=True)
    elif isinstance(data, (bool, numbers.Number)) and not isinstance(data, (complex, np.generic)):
        out = _C._scalar_tensor(data, dtype, device)
    else:
        arr = _numpy_from_data(data, dtype)
        out = _C.from_numpy(arr)
        if dtype is not None:
            out = out.to(dtype=dtype)
        if device is not None:
            out = out.to(device)
    if requires_grad:
        out.requires_grad_(True)
    return out


@public_op
def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like tensor(), but shares memory with a Tensor or NumPy array when it can."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    if isinstance(data, np.ndarray) and dtype is None and device is None:
        try:
            return _C.from_numpy(data)
        except (TypeError, ValueError):
            pass
    return tensor(data, dtype=dtype, device=device)


def _like_input(name: str, input: Any) -> None:
    """The input of a *_like function is a tensor (not a number, as PyTorch)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"[{name}] argument 'input' must be a Tensor, got {type(input).__name__}")


def _like(name: str, fill: Any):
    def fn(
        input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        _like_input(name, input)
        kw = {
            "dtype": input.dtype if dtype is None else dtype,
            "device": input.device if device is None else device,
            "requires_grad": requires_grad,
        }
        if fill is None:
            return _C.empty(input.shape, **kw)
        if fill == "rand":
            return _C.rand(input.shape, **kw)
        if fill == "randn":
            return _C.randn(input.shape, **kw)
        return _C.full(input.shape, fill, **kw)

    fn.__name__ = name
    fn.__doc__ = f"A tensor shaped like `input` ({name.removesuffix('_like')})."
    return public_op(fn, name)


zeros_like = _like("zeros_like", 0)
ones_like = _like("ones_like", 1)
empty_like = _like("empty_like", None)
rand_like = _like("rand_like", "rand")
randn_like = _like("randn_like", "randn")


@public_op
def full_like(
    input: Tensor,
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor shaped like `input`, filled with `fill_value`."""
    _like_input("full_like", input)
    return _C.full(
        input.shape,
        fill_value,
        dtype=input.dtype if dtype is None else dtype,
        device=input.device if device is None else device,
        requires_grad=requires_grad,
    )


# --- indexing -----------------------------------------------------------------


def _index_tensor(key: Any, like: Tensor) -> Tensor:
    if isinstance(key, Tensor):
        return key
    empty = isinstance(key, (list, tuple)) and len(key) == 0
    t = tensor(key, dtype=_C.int64 if empty else None, device=like.device)
    if t.dtype not in (_C.bool, _C.int64, _C.int32, _C.uint8):
        raise IndexError(f"[index] indices must be integers or booleans, got {t.dtype}")
    return t


def _sequence_as_tuple(key: Any) -> bool:
    """PyTorch's reading of a list key: one that holds a tensor, a sequence, a
    slice, None or an ellipsis (and has fewer than 32 items) is a tuple of
    indices, so that ``x[[[0, 1], [1, 0]]]`` is ``x[[0, 1], [1, 0]]``."""
    if not isinstance(key, list) or len(key) >= 32:
        return False
    return any(
        k is None or k is Ellipsis or isinstance(k, (Tensor, slice, list, tuple, range, np.ndarray))
        for k in key
    )


def _is_bool_scalar(k: Any) -> bool:
    return isinstance(k, bool) or (isinstance(k, Tensor) and k.ndim == 0 and k.dtype is _C.bool)


def _parse_key(t: Tensor, key: Any) -> tuple[Tensor, list]:
    """Applies the basic part of an index (ints, slices, None, ...) as views
    and returns the view with the per-dimension advanced indices left over."""
    if _sequence_as_tuple(key):
        key = tuple(key)
    elif not isinstance(key, tuple):
        key = (key,)
    for k in key:
        if isinstance(k, np.bool_):
            raise IndexError(
                "[index] a NumPy bool is not an index: use a Python bool or a bool tensor"
            )
    # A uint8 tensor is a mask, as a bool one (PyTorch's older reading).
    key = tuple(k.to(_C.bool) if isinstance(k, Tensor) and k.dtype is _C.uint8 else k for k in key)
    consumed = 0
    for k in key:
        if k is None or k is Ellipsis or _is_bool_scalar(k):
            continue
        if isinstance(k, Tensor) and k.dtype is _C.bool:
            consumed += max(k.ndim, 1)
        elif isinstance(k, np.ndarray) and k.dtype == np.bool_:
            consumed += max(k.ndim, 1)
        else:
            consumed += 1
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError("[index] an index can only have a single ellipsis ('...')")
    if consumed > t.ndim:
        raise IndexError(
            f"[index] too many indices for tensor of dimension {t.ndim} (got {consumed})"
        )
    view = t
    dim = 0  # the dimension of `view` the next key applies to
    source_dim = 0  # the same dimension, counted in `t`
    advanced: list = []
    for k in key:
        if k is Ellipsis:
            skip = t.ndim - consumed
            advanced.extend([None] * skip)
            dim += skip
            source_dim += skip
        elif k is None:
            view = view.unsqueeze(dim)
            advanced.append(None)
            dim += 1
        elif isinstance(k, slice):
            step = 1 if k.step is None else int(k.step)
            start = None if k.start is None else int(k.start)
            stop = None if k.stop is None else int(k.stop)
            view = view._slice(dim, start, stop, step)
            advanced.append(None)
            dim += 1
            source_dim += 1
        elif _is_bool_scalar(k):
            # A new dimension of size 1, kept (True) or emptied (False) by an
            # advanced index, as in PyTorch.
            view = view.unsqueeze(dim)
            advanced.append(tensor([0] if bool(k) else [], dtype=_C.int64, device=t.device))
            dim += 1
        elif isinstance(k, numbers.Integral) or (
            isinstance(k, Tensor)
            and k.ndim == 0
            and not k.is_floating_point()
            and k.dtype is not _C.bool
        ):
            k = int(k)
            n = view.shape[dim]
            if not -n <= k < n:
                raise IndexError(
                    f"[index] index {k} is out of range for dimension {source_dim} with size {n}"
                )
            view = view._select(dim, k)
            source_dim += 1
        elif isinstance(k, (Tensor, list, tuple, np.ndarray, range)):
            idx = _index_tensor(list(k) if isinstance(k, range) else k, view)
            advanced.append(idx)
            step = idx.ndim if idx.dtype is _C.bool else 1
            dim += step
            source_dim += step
        else:
            raise IndexError(
                f"[index] only integers, slices, ellipsis, None, and integer or boolean "
                f"tensors are valid indices, got {type(k).__name__}"
            )
    return view, advanced


def _getitem(self: Tensor, key: Any) -> Tensor:
    """``self[key]``: a view for ints, slices, None and Ellipsis; a copy
    for integer or bool tensors and lists (advanced indexing, as NumPy)."""

    view, advanced = _parse_key(self, key)
    if any(a is not None for a in advanced):
        return _C._index(view, advanced)
    return view


def _setitem(self: Tensor, key: Any, value: Any) -> None:
    """``self[key] = value``: writes a number, a tensor or a nested sequence
    (broadcast) into the elements ``self[key]`` selects, in place."""

    view, advanced = _parse_key(self, key)
    # Recorded by autograd where the value or self has history: self's history
    # is rebased onto the write (docs/eager.md, "In-place writes").
    if isinstance(value, Tensor):
        values = value
    elif isinstance(value, (bool, numbers.Number)) and not isinstance(value, complex):
        # A number the dtype cannot hold (NaN into int64) raises, as PyTorch;
        # float16 and bfloat16 take it as a cast from float64 (to inf) there.
        half = self.dtype in (_C.float16, _C.bfloat16)
        try:
            values = _C.full((), value, dtype=_C.float64 if half else self.dtype)
        except ValueError as e:
            raise ValueError("[setitem]" + str(e).partition("]")[2]) from None
        values = values.to(device=self.device, dtype=self.dtype)
    else:
        values = tensor(value, dtype=self.dtype, device=self.device)
    # Leading dimensions of size 1 are dropped, as in PyTorch (x[i] = row of
    # shape (1, n)): broadcasting adds back any the destination has.
    lead = 0
    while lead < values.ndim and values.shape[lead] == 1:
        lead += 1
    if lead:
        values = values.reshape(tuple(values.shape[lead:]))
    if any(a is not None for a in advanced):
        _C._index_put_(view, advanced, values.to(self.dtype), False)
    else:
        _C._copy_(view, values)


@public_op
def _index_put_(self: Tensor, indices: Any, values: Tensor, accumulate: bool = False) -> Tensor:
    """``self[indices] = values`` (``+=`` with `accumulate`, where repeated
    indices add up) for a tuple of index tensors (or None); returns self."""

    if not isinstance(indices, (tuple, list)):
        raise TypeError(
            f"[index_put_] argument 'indices' must be a tuple of Tensors, "
            f"got {type(indices).__name__}"
        )
    for i, index in enumerate(indices):
        if index is not None and not isinstance(index, Tensor):
            raise TypeError(
                f"[index_put_] argument 'indices' must be a tuple of Tensors or None, "
                f"got {type(index).__name__} at position {i}"
            )
    if not isinstance(values, Tensor):
        raise TypeError(
            f"[index_put_] argument 'values' must be a Tensor, got {type(values).__name__}"
        )
    _C._index_put_(self, list(indices), values, accumulate)
    return self


# --- Python conversions and printing -----------------------------------------------


def _host_numpy(t: Tensor) -> np.ndarray:
    if t.dtype is _C.bfloat16:
        t = t.float()
    return t.numpy(force=True)


@public_op
def _tolist(self: Tensor) -> Any:
    """The elements as nested Python lists of numbers (a number for a 0-d
    tensor)."""

    return _host_numpy(self).tolist()


def _single(self: Tensor, what: str) -> Any:
    if self.numel() != 1:
        raise ValueError(
            f"[{what}] only a tensor with one element can be converted to a Python "
            f"{what}, got shape {tuple(self.shape)}"
        )
    return self.item()


def _float(self: Tensor) -> float:
    """The value of a one-element tensor as a Python float."""
    return float(_single(self, "float"))


def _int(self: Tensor) -> int:
    """The value of a one-element tensor as a Python int (truncated)."""
    return int(_single(self, "int"))


def _bool(self: Tensor) -> bool:
    """The truth value of a one-element tensor."""

    if self.numel() != 1:
        raise ValueError(
            f"[bool] the truth value of a tensor with {self.numel()} elements is "
            f"ambiguous; use .any() or .all()"
        )
    return bool(self.item())


def _index(self: Tensor) -> int:
    """A one-element integer tensor as a Python int, so that it can index
    sequences."""

    if self.dtype.is_floating_point or self.dtype is _C.bool or self.numel() != 1:
        raise TypeError(
            f"[index] only a one-element integer tensor can be used as an index, got "
            f"{self.dtype} of shape {tuple(self.shape)}"
        )
    return int(self.item())


def _len(self: Tensor) -> int:
    """The size of the first dimension."""

    if self.ndim == 0:
        raise TypeError("[len] len() of a 0-d tensor")
    return self.shape[0]


def _iter(self: Tensor):
    """The views ``self[0]``, ``self[1]``, ... along the first dimension."""

    if self.ndim == 0:
        raise TypeError("[iter] iteration over a 0-d tensor")
    return (self._select(0, i) for i in range(self.shape[0]))


def _float_formatter(arr: np.ndarray):
    """PyTorch's choice of format: whole numbers as `3.`, others with four
    decimals, scientific notation for wide ranges; padded to one width."""
    finite = arr[np.isfinite(arr)].astype(np.float64)
    magnitude = np.abs(finite[finite != 0])
    integral = bool(np.all(finite == np.round(finite)))
    sci = magnitude.size > 0 and (
        magnitude.max() / magnitude.min() > 1000
        or magnitude.max() > 1e8
        or (not integral and magnitude.min() < 1e-4)
    )
    if sci:
        fmt = "{:.4e}".format
    elif integral:
        fmt = lambda v: f"{v:.0f}."  # noqa: E731
    else:
        fmt = "{:.4f}".format
    # The width comes from the non-zero values, as PyTorch's (-0. is not wider).
    nonzero = finite[finite != 0]
    width = (
        max((len(fmt(v)) for v in (nonzero.min(), nonzero.max())), default=0) if nonzero.size else 0
    )
    return lambda v: fmt(v).rjust(width) if np.isfinite(v) else str(v)


def _repr(self: Tensor) -> str:
    """``tensor([...])`` as PyTorch prints it, with the device, a dtype other
    than the default ones and the autograd state."""

    arr = _host_numpy(self)
    prefix = "tensor("
    if arr.size == 0:
        body = "[]"
    else:
        formatter = {"float_kind": _float_formatter(arr)} if arr.dtype.kind == "f" else None
        body = np.array2string(
            arr, separator=", ", prefix=prefix, formatter=formatter, threshold=1000, edgeitems=3
        ).replace(", ...,", ",  ...,")
    extras = []
    if self.device.type != "cpu":
        extras.append(f"device='{self.device}'")
    if (
        self.dtype not in (_C.float32, _C.int64, _C.bool)
        or arr.size == 0
        and self.dtype is not _C.float32
    ):
        extras.append(f"dtype={self.dtype!r}")
    grad_fn = self.grad_fn
    if grad_fn is not None:
        extras.append(f"grad_fn=<{grad_fn.name()}>")
    elif getattr(self, "requires_grad", False):
        extras.append("requires_grad=True")
    if arr.size == 0 and self.ndim > 1:
        extras.append(f"size={tuple(self.shape)}")
    return prefix + body + "".join(", " + e for e in extras) + ")"


def _format(self: Tensor, spec: str) -> str:
    """``format(t, spec)``: a 0-d tensor formats as its number."""

    if self.ndim == 0:
        return format(self.item(), spec)
    return format(_repr(self), spec)


def _new(kind: str):
    def fn(self: Tensor, *args: Any, dtype: Any = None, device: Any = None) -> Tensor:
        dtype = self.dtype if dtype is None else dtype
        device = self.device if device is None else device
        if kind in ("tensor", "full") and len(args) != (1 if kind == "tensor" else 2):
            wanted = "data" if kind == "tensor" else "size and fill_value"
            raise TypeError(f"[new_{kind}] takes {wanted}, got {len(args)} positional arguments")
        if kind == "tensor":
            return tensor(args[0], dtype=dtype, device=device)
        if kind == "full":
            return _C.full(args[0], args[1], dtype=dtype, device=device)
        return getattr(_C, kind)(*args, dtype=dtype, device=device)

        fn.__name__ = f"new_{kind}"

    fn.__doc__ = (
        f"devrt.{kind}(...) with this tensor's dtype and device unless `dtype` "
        "or `device` is given."
    )
    return public_op(fn)


@public_op
def _view_as(self: Tensor, other: Tensor) -> Tensor:
    """``self.view(other.shape)``."""
    if not isinstance(other, Tensor):
        raise TypeError(f"[view_as] argument 'other' must be a Tensor, got {type(other).__name__}")
    return self.view(other.shape)


def _rebuild(array: np.ndarray, dtype: str, device: str, requires_grad: bool) -> Tensor:
    t = _C.from_numpy(array)
    if dtype == "bfloat16":
        t = t.view(_C.bfloat16)
    t = t.to(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _reduce_ex(self: Tensor, protocol: int):
    """Pickling (DataLoader workers, multiprocessing): the data travels as a
    NumPy array; autograd history does not travel."""
    host = self.detach().cpu()
    # NumPy has no bfloat16: its bits travel as float16 (same item size).
    bits = host.view(_C.float16) if host.dtype is _C.bfloat16 else host
    array = bits.numpy().copy()
    return (_rebuild, (array, self.dtype.name, str(self.device), self.requires_grad))


def _cuda_array_interface(self: Tensor) -> dict:
    """``__cuda_array_interface__`` (version 3) of a tensor in CUDA memory,
    so that CuPy, Numba and PyTorch see it without a copy. ``stream`` is the
    stream devrt's work on the tensor's device is queued on (1: the legacy
    default stream); a consumer on another stream waits for it."""
    if self.device.type != "cuda":
        # AttributeError, so that hasattr() says no for every other device.
        raise AttributeError(
            f"[__cuda_array_interface__] the tensor is on {self.device}, not on a cuda device"
        )
    if self.dtype is _C.bfloat16:
        raise AttributeError(
            "[__cuda_array_interface__] bfloat16 has no type string; use DLPack "
            "(__dlpack__) for bfloat16 tensors"
        )
    from devrt import cuda

    handle = cuda._plugin().current_stream(self.device.index or 0)
    itemsize = self.itemsize
    return {
        "shape": tuple(self.shape),
        "typestr": np.dtype(self.dtype.name).str,
        "data": (self.data_ptr() if self.numel() else 0, False),
        "strides": None if self.is_contiguous() else tuple(s * itemsize for s in self.stride()),
        "version": 3,
        "stream": handle or 1,
    }


def _is_device_type(name: str) -> property:
    return property(
        lambda self: self.device.type == name, doc=f"Whether the tensor is on a {name} device."
    )


def _install() -> None:
    """Attaches the Python-level methods to the core's Tensor class."""
    methods = {
        "__getitem__": _getitem,
        "__setitem__": _setitem,
        "index_put_": _index_put_,
        "tolist": _tolist,
        "__repr__": _repr,
        "__str__": _repr,
        "__format__": _format,
        "__bool__": _bool,
        "__float__": _float,
        "__int__": _int,
        "__index__": _index,
        "__len__": _len,
        "__iter__": _iter,
        "new_tensor": _new("tensor"),
        "new_zeros": _new("zeros"),
        "new_ones": _new("ones"),
        "new_empty": _new("empty"),
        "new_full": _new("full"),
        "__reduce_ex__": _reduce_ex,
        "view_as": _view_as,
        "is_cpu": _is_device_type("cpu"),
        "is_mps": _is_device_type("mps"),
        "is_xpu": _is_device_type("xpu"),
        "is_meta": _is_device_type("meta"),
        "__cuda_array_interface__": property(_cuda_array_interface),
    }
    from devrt import _pyops

    methods.update(_pyops.TENSOR_METHODS)
    for name, fn in methods.items():
        setattr(Tensor, name, fn)
    # NumPy defers binary operators with a Tensor to the Tensor.
    Tensor.__array_priority__ = 1000
