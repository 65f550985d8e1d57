"""Optimizer update rules, once for ``devrt.optim``, ``tf.train`` and
``keras.optimizers``.

Each rule updates one parameter (or variable) `param` from its gradient
`grad` and its state tensors, through the protocol's writes, and returns
the new values it wrote (parameter first): eager front ends ignore them,
the graph groups them into the training op. Hyperparameters are numbers or
scalar tensors; the front ends keep their own argument checking, state
creation, weight decay and step counting, and pass the conventions in
which their frameworks differ as arguments, so each gets its framework's
exact numbers. `name` names the parameter's write in a graph
("ApplyAdam").

The rules use the protocol's fresh primitives (``mul_``, ``div_`` ...) on
the temporaries they make, so an eager step allocates no more than the
hand-written in-place optimizers did.
"""

from __future__ import annotations

from typing import Any

from devrt._composite.protocol import Ops, named


def decoupled_decay_factor(ops: Ops, lr: Any, weight_decay: Any) -> Any:
    """``1 - lr * weight_decay``: decoupled weight decay (AdamW, Keras'
    `weight_decay`) multiplies each parameter by it before the update."""
    return ops.sub(1, ops.mul(lr, weight_decay))


def sgd(ops: Ops, param: Any, grad: Any, lr: Any, name: str | None = None) -> tuple:
    """``param -= grad * lr``.

    An implementation with ``sgd_step`` (eager: the catalogue's fused op, one
    pass in place; graph: an ``ApplyGradientDescent`` node) does it in one
    go, with the same roundings; it returns None for what it does not take,
    and the rule then runs as primitives.
    """
    fused = getattr(ops, "sgd_step", None)
    if fused is not None:
        written = fused(param, grad, lr, **named(name))
        if written is not None:
            return written
    return (ops.assign_sub(param, ops.mul(grad, lr), **named(name)),)


def momentum(
    ops: Ops,
    param: Any,
    grad: Any,
    buf: Any,
    lr: Any,
    momentum: Any,
    *,
    dampening: float = 0.0,
    nesterov: bool = False,
    update_buffer: bool = True,
    name: str | None = None,
) -> tuple:
    """Heavy-ball momentum with the learning rate outside the buffer
    (``torch.optim.SGD``, ``tf.train.MomentumOptimizer``)::

        buf = momentum * buf + (1 - dampening) * grad   (when update_buffer)
        step = grad + momentum * buf  if nesterov  else  buf
        param -= step * lr

    `update_buffer` False uses `buf` as it is (torch's first step, whose
    buffer is a copy of the gradient)."""
    if update_buffer:
        scaled = grad if dampening == 0 else ops.mul(grad, 1 - dampening)
        buf = ops.assign_mul_add(buf, momentum, scaled)
    if nesterov:
        step = ops.mul_(ops.add_(ops.mul(buf, momentum), grad), lr)
    else:
        step = ops.mul(buf, lr)
    return ops.assign_sub(param, step, **named(name)), buf


def velocity(
    ops: Ops,
    param: Any,
    grad: Any,
    m: Any,
    lr: Any,
    momentum: float,
    *,
    nesterov: bool = False,
    name: str | None = None,
) -> tuple:
    """Momentum with the learning rate inside the velocity
    (``keras.optimizers.SGD``)::

        step = grad * lr;  m = momentum * m - step
        param += m        or, nesterov,  param = (param - step) + momentum * m
    """
    step = ops.mul(grad, lr)
    m = ops.assign_mul_sub(m, momentum, step)
    if nesterov:
        # One write: a graph orders two writes of one variable in no way.
        new = ops.add_(ops.sub(ops.read(param), step), ops.mul(m, momentum))
        return ops.assign(param, new, **named(name)), m
    return ops.assign_add(param, m, **named(name)), m


def adam_scales(
    ops: Ops, lr: Any, beta1_power: Any, beta2_power: Any, *, epsilon_hat: bool
) -> tuple[Any, Any]:
    """Adam's step size and the divisor of ``sqrt(v)``, from the learning
    rate and ``beta1 ** t``, ``beta2 ** t``: with `epsilon_hat` (TF1,
    Keras) the bias corrections fold into the step size,
    ``lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)``, and the divisor is
    None, so epsilon is added to the uncorrected root; otherwise (torch)
    the step size is ``lr / (1 - beta1 ** t)`` and the divisor
    ``sqrt(1 - beta2 ** t)``, so epsilon is added after the correction.
    Numbers compute on the host, as torch computes them."""
    if epsilon_hat:
        root = ops.sqrt(ops.sub(1, beta2_power))
        return ops.div(ops.mul(lr, root), ops.sub(1, beta1_power)), None
    return ops.div(lr, ops.sub(1, beta1_power)), ops.sqrt(ops.sub(1, beta2_power))


def adam(
    ops: Ops,
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
) -> tuple:
    """One Adam step, with `step_size` and `root_divisor` from
    ``adam_scales``::

        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad ** 2
        v_max = max(v_max, v)        (AMSGrad, when `v_max` is given; it replaces v)
        param -= m * step_size / (sqrt(v) [/ root_divisor] + eps)

    An implementation with ``adam_step`` (eager: the catalogue's fused op,
    one pass in place; graph: an ``ApplyAdam`` node) does it in one go,
    with the same roundings; it returns None for what it does not take,
    and the rule then runs as primitives.
    """
    fused = getattr(ops, "adam_step", None)
    if fused is not None:
        written = fused(
            param,
            grad,
            m,
            v,
            beta1=beta1,
            beta2=beta2,
            eps=eps,
            step_size=step_size,
            root_divisor=root_divisor,
            v_max=v_max,
            name=name,
        )
        if written is not None:
            return written
    m_t = ops.assign_mul_add(m, beta1, ops.mul(grad, ops.sub(1, beta1)))
    v_t = ops.assign_mul_add(v, beta2, ops.mul_(ops.square(grad), ops.sub(1, beta2)))
    second = v_t if v_max is None else ops.assign(v_max, ops.maximum(ops.read(v_max), v_t))
    root = ops.sqrt(second)
    if root_divisor is not None:
        root = ops.div_(root, root_divisor)
    step = ops.div_(ops.mul(m_t, step_size), ops.add_(root, eps))
    written = (ops.assign_sub(param, step, **named(name)), m_t, v_t)
    return written if v_max is None else (*written, second)


def rmsprop(
    ops: Ops,
    param: Any,
    grad: Any,
    ms: Any,
    *,
    lr: Any,
    rho: Any,
    eps: Any,
    mg: Any = None,
    mom: Any = None,
    momentum: Any = 0.0,
    eps_inside_sqrt: bool,
    center_before_eps: bool = True,
    name: str | None = None,
) -> tuple:
    """One RMSprop step; `mg` (the mean gradient) makes it centered, `mom`
    (a momentum buffer) adds momentum::

        ms = rho * ms + (1 - rho) * grad ** 2
        mg = rho * mg + (1 - rho) * grad                     (centered)
        var = ms  or, centered,  ms - mg ** 2

    then, with `eps_inside_sqrt` (TF1, Keras: the learning rate inside the
    momentum buffer)::

        step = grad * lr / sqrt(var + eps)
        mom = momentum * mom + step;  param -= mom           (with `mom`)
        param -= step                                        (otherwise)

    and otherwise (torch)::

        step = grad / (sqrt(var) + eps)
        mom = momentum * mom + step;  param -= mom * lr      (with `mom`)
        param -= step * lr                                   (otherwise)

    `center_before_eps` False adds eps to ms before subtracting ``mg ** 2``
    (Keras' order; TF1 subtracts first)."""
    ms_t = ops.assign_mul_add(ms, rho, ops.mul_(ops.square(grad), ops.sub(1, rho)))
    written = [ms_t]
    var, fresh = ms_t, False  # whether `var` is a temporary of this rule
    if eps_inside_sqrt and not center_before_eps:
        var, fresh = ops.add(var, eps), True
    if mg is not None:
        mg_t = ops.assign_mul_add(mg, rho, ops.mul(grad, ops.sub(1, rho)))
        written.append(mg_t)
        var = (ops.sub_ if fresh else ops.sub)(var, ops.square(mg_t))
        fresh = True
    if eps_inside_sqrt and center_before_eps:
        var = (ops.add_ if fresh else ops.add)(var, eps)
        fresh = True
    root = (ops.sqrt_ if fresh else ops.sqrt)(var)
    if eps_inside_sqrt:
        step = ops.div_(ops.mul(grad, lr), root)
    else:
        step = ops.div(grad, ops.add_(root, eps))
    if mom is not None:
        step = ops.assign_mul_add(mom, momentum, step)
        written.append(step)
        if not eps_inside_sqrt:
            step = ops.mul(step, lr)
    elif not eps_inside_sqrt:
        step = ops.mul_(step, lr)
    return (ops.assign_sub(param, step, **named(name)), *written)


def adagrad(
    ops: Ops,
    param: Any,
    grad: Any,
    acc: Any,
    *,
    lr: Any,
    eps: Any = None,
    eps_inside_sqrt: bool,
    name: str | None = None,
) -> tuple:
    """One Adagrad step::

    acc = acc + grad ** 2
    param -= grad * lr / sqrt(acc + eps)        (eps_inside_sqrt: Keras; TF1 has no eps)
    param -= grad / (sqrt(acc) + eps) * lr      (otherwise: torch)
    """
    acc_t = ops.assign_add(acc, ops.square(grad))
    if eps_inside_sqrt:
        root = ops.sqrt(acc_t) if eps is None else ops.sqrt_(ops.add(acc_t, eps))
        step = ops.div_(ops.mul(grad, lr), root)
    else:
        step = ops.mul_(ops.div(grad, ops.add_(ops.sqrt(acc_t), eps)), lr)
    return ops.assign_sub(param, step, **named(name)), acc_t


def adadelta(
    ops: Ops,
    param: Any,
    grad: Any,
    square_avg: Any,
    acc_delta: Any,
    *,
    lr: Any,
    rho: Any,
    eps: Any,
    name: str | None = None,
) -> tuple:
    """One Adadelta step (the same formula in torch, TF1 and Keras; only the
    defaults differ)::

        square_avg = rho * square_avg + (1 - rho) * grad ** 2
        delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * grad
        acc_delta = rho * acc_delta + (1 - rho) * delta ** 2
        param -= lr * delta
    """
    keep = ops.sub(1, rho)
    sq_t = ops.assign_mul_add(square_avg, rho, ops.mul_(ops.square(grad), keep))
    scale = ops.div_(ops.sqrt_(ops.add(ops.read(acc_delta), eps)), ops.sqrt_(ops.add(sq_t, eps)))
    delta = ops.mul_(scale, grad)
    acc_t = ops.assign_mul_add(acc_delta, rho, ops.mul_(ops.square(delta), keep))
    return ops.assign_sub(param, ops.mul(delta, lr), **named(name)), sq_t, acc_t
