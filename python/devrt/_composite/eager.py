"""The protocol on eager devrt tensors (``EAGER``), and on KerasTensors
(``KERAS_SYMBOLIC``), whose primitives record ``keras.ops`` nodes.

Eager primitives are the core's ops; writes are the in-place ops
(``mul_``, ``add_``, ``sub_``, ``copy_``), so an update rule written
against the protocol updates parameters and state in place, as the eager
optimizers did before the rules moved here. Two numbers compute on the
host, in Python's float.
"""

from __future__ import annotations

import math
import operator
from typing import Any

from devrt import _C
from devrt._composite.protocol import Ops

Tensor = _C.Tensor


def _host_or(fn: Any, host: Any) -> Any:
    def op(x: Any, name: str | None = None) -> Any:
        return fn(x) if isinstance(x, Tensor) else host(x)

    return staticmethod(op)


class EagerOps(Ops):
    """The protocol on devrt tensors: the core's ops, writes in place."""

    kind = "eager"

    # The core's functions and in-place methods themselves: a primitive
    # costs no Python frame of its own.
    add = staticmethod(operator.add)
    sub = staticmethod(operator.sub)
    mul = staticmethod(operator.mul)
    div = staticmethod(operator.truediv)
    greater = staticmethod(operator.gt)
    greater_equal = staticmethod(operator.ge)
    maximum = staticmethod(_C.maximum)
    minimum = staticmethod(_C.minimum)
    where = staticmethod(_C.where)

    # The fast path of the update rules: a temporary the rule made itself is
    # reused in place (the protocol's fresh primitives).
    add_ = staticmethod(Tensor.add_)
    sub_ = staticmethod(Tensor.sub_)
    mul_ = staticmethod(Tensor.mul_)
    div_ = staticmethod(Tensor.div_)
    sqrt_ = staticmethod(Tensor.sqrt_)

    neg = _host_or(_C.neg, operator.neg)
    sqrt = _host_or(_C.sqrt, math.sqrt)
    rsqrt = _host_or(_C.rsqrt, lambda x: 1.0 / math.sqrt(x))
    exp = _host_or(_C.exp, math.exp)
    log = _host_or(_C.log, math.log)
    log1p = _host_or(_C.log1p, math.log1p)
    expm1 = _host_or(_C.expm1, math.expm1)
    abs = _host_or(_C.abs, abs)
    tanh = _host_or(_C.tanh, math.tanh)
    sigmoid = _host_or(_C.sigmoid, lambda x: 1.0 / (1.0 + math.exp(-x)))
    erf = _host_or(_C.erf, math.erf)
    relu = _host_or(_C.relu, lambda x: max(x, 0.0))

    @staticmethod
    def square(x: Any, name: str | None = None) -> Any:
        return x * x

    @staticmethod
    def sum(x: Any, axes: Any = None, keepdims: bool = False, name: str | None = None) -> Any:
        return x.sum(axes, keepdim=keepdims)

    @staticmethod
    def mean(x: Any, axes: Any = None, keepdims: bool = False, name: str | None = None) -> Any:
        return x.mean(axes, keepdim=keepdims)

    @staticmethod
    def variance(
        x: Any, axes: Any = None, keepdims: bool = False, mean: Any = None, name: str | None = None
    ) -> Any:
        # The catalogue's var, one pass; a given mean is not needed.
        return x.var(axes, keepdim=keepdims, correction=0)

    @staticmethod
    def softmax(x: Any, axis: int, name: str | None = None) -> Any:
        return _C.softmax(x, axis)

    @staticmethod
    def log_softmax(x: Any, axis: int, name: str | None = None) -> Any:
        return _C.log_softmax(x, axis)

    @staticmethod
    def reshape(x: Any, shape: Any, name: str | None = None) -> Any:
        return x.reshape(shape)

    @staticmethod
    def matmul(a: Any, b: Any, name: str | None = None) -> Any:
        return _C.matmul(a, b)

    @staticmethod
    def take_along(x: Any, labels: Any, axis: int, name: str | None = None) -> Any:
        return x.gather(axis, labels.unsqueeze(axis)).squeeze(axis)

    @staticmethod
    def cast(x: Any, like: Any, name: str | None = None) -> Any:
        return x if x.dtype is like.dtype else x.to(like.dtype)

    @staticmethod
    def const(value: Any, like: Any, name: str | None = None) -> Any:
        # Python numbers keep a tensor's dtype in every eager op.
        return value

    # --- random samples (initializers) ------------------------------------------------

    @staticmethod
    def random_uniform(
        shape: Any, dtype: Any, low: float, high: float, seed: Any = None, device: Any = None
    ) -> Any:
        # Eager samples come from devrt's generator (devrt.manual_seed).
        return _C.rand(tuple(shape), dtype=dtype, device=device) * (high - low) + low

    @staticmethod
    def random_normal(
        shape: Any, dtype: Any, mean: float, stddev: float, seed: Any = None, device: Any = None
    ) -> Any:
        return _C.randn(tuple(shape), dtype=dtype, device=device) * stddev + mean

    @staticmethod
    def truncated_normal(
        shape: Any, dtype: Any, mean: float, stddev: float, seed: Any = None, device: Any = None
    ) -> Any:
        # Values beyond two standard deviations are drawn again.
        shape = tuple(shape)
        values = _C.randn(shape, dtype=dtype, device=device)
        bad = _C.abs(values) > 2.0
        while bool(bad.any()):
            values = _C.where(bad, _C.randn(shape, dtype=dtype, device=device), values)
            bad = _C.abs(values) > 2.0
        return values * stddev + mean

    @staticmethod
    def read(ref: Any) -> Any:
        return ref

    assign = staticmethod(Tensor.copy_)
    assign_add = staticmethod(Tensor.add_)
    assign_sub = staticmethod(Tensor.sub_)
    assign_mul = staticmethod(Tensor.mul_)

    @staticmethod
    def assign_mul_add(ref: Any, scale: Any, value: Any, name: str | None = None) -> Any:
        return ref.mul_(scale).add_(value)

    @staticmethod
    def assign_mul_sub(ref: Any, scale: Any, value: Any, name: str | None = None) -> Any:
        return ref.mul_(scale).sub_(value)

    @staticmethod
    def sgd_step(param: Any, grad: Any, lr: Any, name: str | None = None) -> Any:
        # The catalogue's sgd_step: one pass over the parameter where the
        # device has the kernel. A gradient of another dtype goes through
        # the primitives, which promote, and so does a write that autograd
        # would record (the fused op never is).
        if not isinstance(grad, Tensor) or grad.dtype is not param.dtype:
            return None
        if (grad.requires_grad or param.requires_grad) and _C.is_grad_enabled():
            return None
        return (_C.sgd_step(param, grad, lr),)

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
        # The catalogue's adam_step: one kernel over the parameter and its
        # state where the device has it. A gradient of another dtype goes
        # through the primitives, which promote.
        if grad.dtype is not param.dtype:
            return None
        _C.adam_step(
            param,
            grad,
            m,
            v,
            step_size,
            root_divisor,
            beta1=beta1,
            beta2=beta2,
            eps=eps,
            max_exp_avg_sq=v_max,
        )
        return (param, m, v) if v_max is None else (param, m, v, v_max)


EAGER = EagerOps()


def _keras(fn_name: str, arity: int) -> Any:
    def op(*args: Any, name: str | None = None) -> Any:
        from devrt.keras import ops as kops

        return getattr(kops, fn_name)(*args[:arity])

    return staticmethod(op)


class KerasSymbolicOps(EagerOps):
    """The protocol on KerasTensors: each primitive is the ``keras.ops``
    function that records it as a node of the functional model, replayed
    on devrt tensors when the model runs. A KerasTensor has no storage, so
    the writes are refused."""

    kind = "keras-symbolic"

    add = add_ = _keras("add", 2)
    sub = sub_ = _keras("subtract", 2)
    mul = mul_ = _keras("multiply", 2)
    div = div_ = _keras("divide", 2)
    maximum = _keras("maximum", 2)
    minimum = _keras("minimum", 2)
    greater = _keras("greater", 2)
    greater_equal = _keras("greater_equal", 2)
    neg = _keras("negative", 1)
    square = _keras("square", 1)
    sqrt = sqrt_ = _keras("sqrt", 1)
    exp = _keras("exp", 1)
    log = _keras("log", 1)
    log1p = _keras("log1p", 1)
    expm1 = _keras("expm1", 1)
    abs = _keras("abs", 1)
    tanh = _keras("tanh", 1)
    sigmoid = _keras("sigmoid", 1)
    relu = _keras("relu", 1)
    rsqrt = _keras("rsqrt", 1)
    erf = _keras("erf", 1)
    where = _keras("where", 3)
    matmul = _keras("matmul", 2)
    reshape = _keras("reshape", 2)

    @staticmethod
    def sum(x: Any, axes: Any = None, keepdims: bool = False, name: str | None = None) -> Any:
        from devrt.keras import ops as kops

        return kops.sum(x, axes, keepdims)

    @staticmethod
    def mean(x: Any, axes: Any = None, keepdims: bool = False, name: str | None = None) -> Any:
        from devrt.keras import ops as kops

        return kops.mean(x, axes, keepdims)

    @staticmethod
    def variance(
        x: Any, axes: Any = None, keepdims: bool = False, mean: Any = None, name: str | None = None
    ) -> Any:
        from devrt.keras import ops as kops

        return kops.var(x, axes, keepdims)

    @staticmethod
    def softmax(x: Any, axis: int, name: str | None = None) -> Any:
        from devrt.keras import ops as kops

        return kops.softmax(x, axis)

    @staticmethod
    def log_softmax(x: Any, axis: int, name: str | None = None) -> Any:
        from devrt.keras import ops as kops

        return kops.log_softmax(x, axis)

    @staticmethod
    def take_along(x: Any, labels: Any, axis: int, name: str | None = None) -> Any:
        from devrt.keras import ops as kops

        picked = kops.multiply(kops.one_hot(labels, x.shape[axis], axis, x.dtype), x)
        return kops.sum(picked, axis)

    @staticmethod
    def cast(x: Any, like: Any, name: str | None = None) -> Any:
        from devrt.keras import ops as kops

        return kops.cast(x, like.dtype)

    @staticmethod
    def _no_write(*args: Any, name: str | None = None) -> Any:
        raise TypeError(
            "[composite] a KerasTensor has no value to write into; update rules run on "
            "variables, not on symbolic tensors"
        )

    assign = assign_add = assign_sub = assign_mul = assign_mul_add = assign_mul_sub = _no_write
    adam_step = sgd_step = None  # the rules' primitives refuse the writes


KERAS_SYMBOLIC = KerasSymbolicOps()
