"""Recording the ops one forward call runs, at the level of the public API.

While a :class:`Tracer` is active, the functions of ``devrt`` and
``devrt.nn.functional`` and the methods of ``devrt.Tensor`` are replaced by
wrappers (and put back exactly afterwards). A wrapper called from user code
(not from inside another recorded op) with a traced value among its
arguments runs the original, then hands the call to the converter of that
op, which adds ONNX nodes; an op without a converter raises
``NotImplementedError`` naming it. Ops called inside a recorded op (the
matmul and add inside ``F.linear``) are not recorded: the converter emits
the whole op.

Traced values are the model's inputs, parameters and buffers, and the
results of recorded ops. Results are re-wrapped as :class:`Traced`, a
Tensor subclass sharing their memory, because the arithmetic operators of
the base class are C slots that setting attributes would replace for good:
only ``Traced`` (and ``nn.Parameter``, a Python class already) carries
wrapped operators. Any other tensor an op reads is a constant.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import devrt
import devrt.nn.functional as F
from devrt import _C
from devrt.nn.parameter import Parameter

Tensor = _C.Tensor


class Traced(Tensor):
    """A value of the traced forward call (an alias of the op's result)."""


# Methods that read a tensor's metadata or move it out of devrt's ops: never ops.
_NOT_OPS = {
    "backward", "data_ptr", "dim", "element_size", "equal", "allclose", "is_contiguous",
    "is_floating_point", "item", "numel", "numpy", "requires_grad_", "retain_grad",
    "size", "storage_offset", "stride", "tolist", "type", "ndimension", "nelement",
}  # fmt: skip
# Dunders that are conversions or bookkeeping rather than ops.
_NOT_OP_DUNDERS = {
    "__array__", "__bool__", "__dlpack__", "__dlpack_device__", "__float__", "__format__",
    "__hash__", "__index__", "__init__", "__int__", "__len__", "__reduce_ex__", "__repr__",
    "__str__", "__deepcopy__", "__iter__",
}  # fmt: skip
# Functions of devrt and devrt.nn.functional that are not ops on tensors.
_NOT_OP_FUNCTIONS = {
    "dtype_from_name", "empty_cache", "from_dlpack", "from_numpy", "initial_seed",
    "manual_seed", "memory_stats", "reset_peak_memory_stats", "synchronize",
    "is_grad_enabled", "get_fallback", "placement_report", "reset_placement_report",
    "set_fallback", "hookimpl", "get_cmake_dir", "get_include", "get_library",
    "plugin_status", "register_plugin", "is_tensor", "numel", "get_num_threads",
    "set_num_threads", "catalogue", "save", "load", "backends", "broadcast_shapes",
    "allclose", "equal", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
}  # fmt: skip
# Ops whose result depends on a traced tensor's shape and dtype only: kept as
# constants of the traced sizes.
CONSTANT_OPS = {
    "new_empty", "new_full", "new_ones", "new_tensor", "new_zeros", "empty_like",
    "full_like", "ones_like", "zeros_like",
}  # fmt: skip


def _methods() -> list[str]:
    names = []
    for name, value in vars(Tensor).items():
        if not callable(value) or name in _NOT_OPS or name in _NOT_OP_DUNDERS:
            continue
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
            continue
        names.append(name)
    return names


def _functions(module: Any) -> list[str]:
    return [
        name
        for name, value in vars(module).items()
        if callable(value)
        and not isinstance(value, type)
        and not name.startswith("_")
        and name not in _NOT_OP_FUNCTIONS
        and (getattr(value, "__module__", "") or "").startswith("devrt")
    ]


def _leaves(obj: Any):
    if isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _leaves(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _leaves(item)
    else:
        yield obj


class Tracer:
    """Records a forward call into `graph` (an ``onnx.export`` graph under
    construction) through `converters` (``{op name: converter}``)."""

    _active: Tracer | None = None

    def __init__(self, graph: Any, converters: dict[str, Callable], aliases: dict[str, str]):
        self.graph, self.converters, self.aliases = graph, converters, aliases
        self.depth = 0

    def is_traced(self, obj: Any) -> bool:
        return isinstance(obj, Tensor) and self.graph.knows(obj)

    def call(self, op: str, original: Callable, args: tuple, kwargs: dict) -> Any:
        if not any(self.is_traced(a) for a in _leaves((args, kwargs))):
            return original(*args, **kwargs)
        name = self.aliases.get(op, op)
        if name in CONSTANT_OPS:
            return original(*args, **kwargs)
        converter = self.converters.get(name)
        if converter is None:
            raise NotImplementedError(
                f"[onnx.export] the op {op} is not supported by devrt's ONNX exporter "
                f"(called on {self._describe(args)})"
            )
        self.depth += 1
        try:
            check = getattr(converter, "check", None)
            if check is not None:
                check(*args, **kwargs)
            out = original(*args, **kwargs)
            result = converter(self.graph, out, *args, **kwargs)
        finally:
            self.depth -= 1
        return out if result is None else result

    @staticmethod
    def _describe(args: tuple) -> str:
        parts = []
        for a in args:
            if isinstance(a, Tensor):
                parts.append(f"a {a.dtype.name} tensor of shape {list(a.shape)}")
            else:
                parts.append(type(a).__name__)
        return ", ".join(parts) or "no arguments"

    @contextlib.contextmanager
    def active(self):
        """Installs the wrappers for the duration of a ``with`` block."""
        if Tracer._active is not None:
            raise RuntimeError("[onnx.export] an export is already running")
        saved: list[tuple[Any, str, Any, bool]] = []

        def patch(owner: Any, name: str, op: str, original: Any) -> None:
            saved.append((owner, name, vars(owner).get(name), name in vars(owner)))
            setattr(owner, name, _wrap(op, original))

        try:
            for name in _methods():
                original = vars(Tensor)[name]
                if name.startswith("__"):
                    # Operators: on Python subclasses only (see the module note).
                    patch(Parameter, name, name, original)
                else:
                    patch(Tensor, name, name, original)
            for module, prefix in ((devrt, ""), (F, "F.")):
                for name in _functions(module):
                    patch(module, name, prefix + name, getattr(module, name))
            Tracer._active = self
            yield self
        finally:
            Tracer._active = None
            for owner, name, value, had in reversed(saved):
                if had:
                    setattr(owner, name, value)
                else:
                    delattr(owner, name)


def _wrap(op: str, original: Callable) -> Callable:
    def traced(*args: Any, **kwargs: Any) -> Any:
        tracer = Tracer._active
        if tracer is None or tracer.depth:
            return original(*args, **kwargs)
        return tracer.call(op, original, args, kwargs)

    traced.__name__ = getattr(original, "__name__", op)
    traced.__doc__ = getattr(original, "__doc__", None)
    return traced


# Traced values carry the wrapped operators for good: they exist only while
# an export runs, and outside one the wrappers call the originals.
for _name in _methods():
    if _name.startswith("__"):
        setattr(Traced, _name, _wrap(_name, vars(Tensor)[_name]))
