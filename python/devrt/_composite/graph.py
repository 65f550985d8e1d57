"""The protocol on graph tensors (``GRAPH``): each primitive adds an IR
node; writes are ``Assign``/``AssignAdd``/``AssignSub`` nodes whose output
is the new value, as ``tf.assign`` gives it, and the fused updates an
``ApplyGradientDescent`` node that writes its variable and an ``ApplyAdam``
node that writes its three. A number next to a tensor
becomes a constant of the tensor's dtype; two numbers compute on the host.
"""

from __future__ import annotations

from typing import Any

from devrt._composite.protocol import Ops
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _apply, _t
from devrt.graph.variables import _ref_tensor, assign, assign_add, assign_sub

_WHAT = "composite"


def _is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor) or hasattr(x, "_to_tensor")


def _pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    if _is_tensor(a):
        a = _t(a, _WHAT)
        return a, _t(b, _WHAT, a.dtype)
    b = _t(b, _WHAT)
    return _t(a, _WHAT, b.dtype), b


def _binary(op_type: str, host: Any) -> Any:
    def op(a: Any, b: Any, name: str | None = None) -> Any:
        if not (_is_tensor(a) or _is_tensor(b)):
            return host(a, b)
        return _apply(op_type, list(_pair(a, b)), {}, name)

    return staticmethod(op)


def _unary(op_type: str) -> Any:
    def op(x: Any, name: str | None = None) -> Any:
        return _apply(op_type, [_t(x, _WHAT)], {}, name)

    return staticmethod(op)


def _reduction(op_type: str) -> Any:
    def op(x: Any, axes: Any = None, keepdims: bool = False, name: str | None = None) -> Any:
        axes = None if axes is None else list(axes)
        return _apply(op_type, [_t(x, _WHAT)], {"axes": axes, "keepdims": bool(keepdims)}, name)

    return staticmethod(op)


class GraphOps(Ops):
    """The protocol on graph tensors: IR nodes, ``Assign`` nodes for writes."""

    kind = "graph"

    add = add_ = _binary("Add", lambda a, b: a + b)
    sub = sub_ = _binary("Sub", lambda a, b: a - b)
    mul = mul_ = _binary("Mul", lambda a, b: a * b)
    div = div_ = _binary("RealDiv", lambda a, b: a / b)
    maximum = _binary("Maximum", max)
    minimum = _binary("Minimum", min)
    greater = _binary("Greater", lambda a, b: a > b)
    greater_equal = _binary("GreaterEqual", lambda a, b: a >= b)
    neg = _unary("Neg")
    square = _unary("Square")
    sqrt = sqrt_ = _unary("Sqrt")
    rsqrt = _unary("Rsqrt")
    exp = _unary("Exp")
    log = _unary("Log")
    log1p = _unary("Log1p")
    abs = _unary("Abs")
    tanh = _unary("Tanh")
    sigmoid = _unary("Sigmoid")
    erf = _unary("Erf")
    relu = _unary("Relu")
    sum = _reduction("Sum")
    mean = _reduction("Mean")

    # The catalogue's op, by its catalogue name: exact near 0.
    expm1 = _unary("expm1")

    @staticmethod
    def where(cond: Any, a: Any, b: Any, name: str | None = None) -> Any:
        a, b = _pair(a, b)
        return _apply("Select", [_t(cond, _WHAT), a, b], {}, name)

    @staticmethod
    def variance(
        x: Any, axes: Any = None, keepdims: bool = False, mean: Any = None, name: str | None = None
    ) -> Any:
        # The IR has no variance op: the mean of the squared deviations from
        # `mean` (the keepdims mean over `axes`, computed here if not given).
        if mean is None:
            mean = GRAPH.mean(x, axes, keepdims=True)
        return GRAPH.mean(GRAPH.square(GRAPH.sub(x, mean)), axes, keepdims, name=name)

    @staticmethod
    def softmax(x: Any, axis: int, name: str | None = None) -> Any:
        return _apply("Softmax", [_t(x, _WHAT)], {"axis": axis}, name)

    @staticmethod
    def log_softmax(x: Any, axis: int, name: str | None = None) -> Any:
        return _apply("LogSoftmax", [_t(x, _WHAT)], {"axis": axis}, name)

    @staticmethod
    def reshape(x: Any, shape: Any, name: str | None = None) -> Any:
        return _apply("Reshape", [_t(x, _WHAT)], {"shape": list(shape)}, name)

    @staticmethod
    def matmul(a: Any, b: Any, name: str | None = None) -> Any:
        return _apply("MatMul", list(_pair(a, b)), {}, name)

    @staticmethod
    def take_along(x: Any, labels: Any, axis: int, name: str | None = None) -> Any:
        # A one-hot of the labels times x, summed over the class axis (the
        # last; its size must be known when the graph is built).
        x = _t(x, _WHAT)
        rank = x.shape.ndims
        if rank is None or axis not in (-1, rank - 1) or x.shape[-1] is None:
            raise NotImplementedError(
                f"[take_along] the graph picks along a last axis of known size, got axis "
                f"{axis} of a tensor of shape {x.shape}"
            )
        attrs = {"depth": int(x.shape[-1]), "dtype": x.dtype.as_devrt_dtype}
        one_hot = _apply("OneHot", [_t(labels, _WHAT)], attrs)
        return GRAPH.sum(GRAPH.mul(one_hot, x), [-1], name=name)

    @staticmethod
    def cast(x: Any, like: Any, name: str | None = None) -> Any:
        from devrt.graph.array_ops import cast

        return cast(x, _t(like, _WHAT).dtype, name)

    @staticmethod
    def const(value: Any, like: Any, name: str | None = None) -> Any:
        return _t(value, _WHAT, _t(like, _WHAT).dtype)

    # --- random samples (initializers) ------------------------------------------------

    @staticmethod
    def random_uniform(
        shape: Any, dtype: Any, low: float, high: float, seed: Any = None, device: Any = None
    ) -> Any:
        from devrt.graph import random_ops

        return random_ops.random_uniform(shape, low, high, dtype, seed)

    @staticmethod
    def random_normal(
        shape: Any, dtype: Any, mean: float, stddev: float, seed: Any = None, device: Any = None
    ) -> Any:
        from devrt.graph import random_ops

        return random_ops.random_normal(shape, mean, stddev, dtype, seed)

    @staticmethod
    def truncated_normal(
        shape: Any, dtype: Any, mean: float, stddev: float, seed: Any = None, device: Any = None
    ) -> Any:
        from devrt.graph import random_ops

        return random_ops.truncated_normal(shape, mean, stddev, dtype, seed)

    @staticmethod
    def read(ref: Any) -> Any:
        return ref.value()

    @staticmethod
    def assign(ref: Any, value: Any, name: str | None = None) -> Any:
        return assign(ref, value, name=name)

    @staticmethod
    def assign_add(ref: Any, value: Any, name: str | None = None) -> Any:
        return assign_add(ref, value, name=name)

    @staticmethod
    def assign_sub(ref: Any, value: Any, name: str | None = None) -> Any:
        return assign_sub(ref, value, name=name)

    @staticmethod
    def assign_mul(ref: Any, value: Any, name: str | None = None) -> Any:
        return assign(ref, GRAPH.mul(ref.value(), value), name=name)

    @staticmethod
    def assign_mul_add(ref: Any, scale: Any, value: Any, name: str | None = None) -> Any:
        return assign(ref, GRAPH.add(GRAPH.mul(ref.value(), scale), value), name=name)

    @staticmethod
    def assign_mul_sub(ref: Any, scale: Any, value: Any, name: str | None = None) -> Any:
        return assign(ref, GRAPH.sub(GRAPH.mul(ref.value(), scale), value), name=name)

    @staticmethod
    def sgd_step(param: Any, grad: Any, lr: Any, name: str | None = None) -> Any:
        # One ApplyGradientDescent node writing the variable in place, as
        # TensorFlow's kernel does; other dtypes take the primitives.
        var = _ref_tensor(param, "ApplyGradientDescent")
        dtype = var.dtype
        if dtype.name not in ("float32", "float64"):
            return None
        if not _is_tensor(grad) or _t(grad, _WHAT).dtype != dtype:
            return None
        if _is_tensor(lr) and _t(lr, _WHAT).dtype != dtype:
            return None
        inputs = [var, _t(lr, _WHAT, dtype), _t(grad, _WHAT)]
        op = var.graph._create_op(
            "ApplyGradientDescent", inputs, {}, name or "ApplyGradientDescent"
        )
        return (op.outputs[0],)

    @staticmethod
    def adam_step(
        param: Any,
        grad: Any,
        m: Any,
        v: Any,
        *,
        beta1: Any,
        beta2: Any,
        eps: Any,
        step_size: Any,
        root_divisor: Any = None,
        v_max: Any = None,
        name: str | None = None,
    ) -> Any:
        # One ApplyAdam node writing the three variables in place, as
        # TensorFlow's kernel does (its form has neither a root divisor nor
        # AMSGrad's maximum: those take the primitives).
        if root_divisor is not None or v_max is not None:
            return None
        refs = [_ref_tensor(r, "ApplyAdam") for r in (param, m, v)]
        dtype = refs[0].dtype
        scalars = [_t(x, _WHAT, dtype) for x in (step_size, beta1, beta2, eps)]
        inputs = [*refs, *scalars, _t(grad, _WHAT, dtype)]
        op = refs[0].graph._create_op("ApplyAdam", inputs, {}, name or "ApplyAdam")
        return tuple(op.outputs)


GRAPH = GraphOps()
