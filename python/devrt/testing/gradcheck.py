"""A finite-difference gradient checker, as ``torch.autograd.gradcheck``.

The analytic gradient comes from :func:`devrt.autograd.grad`; the numerical
one from central differences computed on the host in float64 from forward
passes run under ``no_grad``. Both are vector-Jacobian products with the
same random cotangent ``v`` for every output, so one backward checks the
whole Jacobian: for every input element ``x_i``,

    d/dx_i  sum_k <v_k, f_k(x)>  ==  autograd.grad(f(x), x, v)[i].

Inputs may live on any device and have any floating dtype; a perturbed input
is rebuilt from NumPy in the input's own dtype, and the step actually taken
(after rounding to that dtype) is the one divided by, so float32 inputs work
with a larger ``eps``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import devrt

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck", "numerical_grads", "analytic_grads"]


class GradcheckError(AssertionError):
    """The analytic and numerical gradients disagree."""


def _host(t: Any) -> np.ndarray:
    c = t.detach().cpu()
    if c.dtype is devrt.bfloat16:
        c = c.float()
    return np.array(c.numpy(), dtype=np.float64, copy=True)


def _as_tuple(x: Any) -> tuple:
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _rebuild(arr: np.ndarray, like: Any) -> Any:
    """A new tensor (no autograd) with `arr`'s values, `like`'s dtype and device."""
    t = devrt.from_numpy(np.array(arr, dtype=np.float64, order="C"))
    if t.dtype != like.dtype:
        t = t.to(like.dtype)
    return t.to(like.device)


def _float_outputs(out: Any) -> tuple:
    outs = _as_tuple(out)
    return tuple(o for o in outs if isinstance(o, devrt.Tensor) and o.is_floating_point())


def _cotangents(fn: Callable, inputs: Sequence[Any], seed: int) -> list[np.ndarray]:
    with devrt.no_grad():
        outs = _float_outputs(fn(*inputs))
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.0, 1.0, tuple(o.shape)) for o in outs]


def _objective(fn: Callable, inputs: Sequence[Any], vs: list[np.ndarray]) -> float:
    with devrt.no_grad():
        outs = _float_outputs(fn(*inputs))
    if len(outs) != len(vs):
        raise GradcheckError(f"fn returned {len(outs)} float outputs, then {len(vs)}")
    return float(sum(np.sum(_host(o) * v) for o, v in zip(outs, vs, strict=True)))


def _diff_positions(inputs: Sequence[Any]) -> list[int]:
    return [
        i
        for i, t in enumerate(inputs)
        if isinstance(t, devrt.Tensor) and t.is_floating_point() and t.requires_grad
    ]


def numerical_grads(
    fn: Callable, inputs: Sequence[Any], vs: list[np.ndarray], eps: float = 1e-6
) -> list[np.ndarray]:
    """Central differences of sum_k <v_k, f_k(inputs)> for every input that
    requires grad (float64 NumPy arrays, in input order)."""
    inputs = list(inputs)
    plain = [
        _rebuild(_host(t), t) if isinstance(t, devrt.Tensor) and t.requires_grad else t
        for t in inputs
    ]
    result = []
    for i in _diff_positions(inputs):
        base = _host(inputs[i])
        g = np.zeros_like(base)
        flat = g.reshape(-1)
        for j in range(base.size):
            vals = []
            steps = []
            for sign in (1.0, -1.0):
                arr = base.copy().reshape(-1)
                arr[j] += sign * eps
                pert = _rebuild(arr.reshape(base.shape), inputs[i])
                steps.append(_host(pert).reshape(-1)[j])
                args = list(plain)
                args[i] = pert
                vals.append(_objective(fn, args, vs))
            h = steps[0] - steps[1]
            if h == 0:
                raise GradcheckError(f"eps={eps} vanishes in {inputs[i].dtype} at element {j}")
            flat[j] = (vals[0] - vals[1]) / h
        result.append(g)
    return result


def analytic_grads(fn: Callable, inputs: Sequence[Any], vs: list[np.ndarray]) -> list[Any]:
    """devrt.autograd.grad of fn's float outputs with cotangents `vs`, for
    every input that requires grad (None where unused)."""
    outs = _float_outputs(fn(*inputs))
    pos = _diff_positions(inputs)
    targets = [inputs[i] for i in pos]
    pairs = [(o, v) for o, v in zip(outs, vs, strict=True) if o.requires_grad]
    if not pairs:
        return [None] * len(targets)
    grads = devrt.autograd.grad(
        [o for o, _ in pairs],
        targets,
        grad_outputs=[_rebuild(v, o) for o, v in pairs],
        allow_unused=True,
    )
    return list(grads)


def gradcheck(
    fn: Callable,
    inputs: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Checks the gradients of `fn` at `inputs` (the tensors among them that
    require grad) against central finite differences.

    Returns True, or raises GradcheckError (returns False when
    ``raise_exception`` is False). Besides the values it checks that each
    analytic gradient has its input's shape, dtype and device, and that an
    input with a non-zero numerical gradient got one.
    """
    inputs = _as_tuple(inputs)
    pos = _diff_positions(inputs)
    if not pos:
        raise ValueError("[gradcheck] no input is a floating tensor that requires grad")
    vs = _cotangents(fn, inputs, seed)
    try:
        analytic = analytic_grads(fn, inputs, vs)
        numeric = numerical_grads(fn, inputs, vs, eps)
        for k, (i, a, n) in enumerate(zip(pos, analytic, numeric, strict=True)):
            x = inputs[i]
            if a is None:
                if np.any(np.abs(n) > atol):
                    raise GradcheckError(
                        f"input {i}: no analytic gradient, numerical gradient is\n{n}"
                    )
                continue
            problems = []
            if tuple(a.shape) != tuple(x.shape):
                problems.append(f"shape {tuple(a.shape)} != input shape {tuple(x.shape)}")
            if a.dtype != x.dtype:
                problems.append(f"dtype {a.dtype} != input dtype {x.dtype}")
            if str(a.device) != str(x.device):
                problems.append(f"device {a.device} != input device {x.device}")
            if problems:
                raise GradcheckError(f"input {i} (#{k} differentiable): " + "; ".join(problems))
            got = _host(a)
            if not np.allclose(got, n, rtol=rtol, atol=atol):
                err = np.abs(got - n)
                raise GradcheckError(
                    f"input {i}: analytic and numerical gradients differ "
                    f"(max abs error {err.max():.3g})\n"
                    f"analytic:\n{got}\nnumerical:\n{n}"
                )
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def gradgradcheck(
    fn: Callable,
    inputs: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Checks second derivatives: the gradient of fn (taken with
    ``create_graph=True`` for a fixed random cotangent) is itself checked by
    gradcheck against central finite differences of that gradient."""
    inputs = _as_tuple(inputs)
    pos = _diff_positions(inputs)
    if not pos:
        raise ValueError("[gradgradcheck] no input is a floating tensor that requires grad")
    vs = _cotangents(fn, inputs, seed)

    def first_derivative(*args: Any) -> tuple:
        # Recorded even where the checker evaluates under no_grad: the
        # derivative is computed by autograd itself.
        with devrt.enable_grad():
            args = list(args)
            for i in pos:
                if not args[i].requires_grad:
                    args[i] = args[i].detach().requires_grad_(True)
            pairs = [
                (o, v)
                for o, v in zip(_float_outputs(fn(*args)), vs, strict=True)
                if o.requires_grad
            ]
            targets = [args[i] for i in pos]
            grads = devrt.autograd.grad(
                [o for o, _ in pairs],
                targets,
                grad_outputs=[_rebuild(v, o) for o, v in pairs],
                create_graph=True,
                allow_unused=True,
            )
        return tuple(
            devrt.zeros_like(t) if g is None else g for g, t in zip(grads, targets, strict=True)
        )

    return gradcheck(
        first_derivative,
        inputs,
        eps=eps,
        atol=atol,
        rtol=rtol,
        seed=seed + 1,
        raise_exception=raise_exception,
    )
