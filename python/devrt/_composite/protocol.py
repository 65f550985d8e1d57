"""The op protocol that composites are written against.

A composite (softplus, batch norm, cross-entropy, an optimizer's update
rule, an initializer) is a function whose first argument is an ``Ops``:
the handful of primitives below, implemented once for eager devrt tensors
(``EAGER``, in ``eager.py``: the core's ops, in place where a write is
meant) and once for graph tensors (``GRAPH``, in ``graph.py``: IR nodes,
``Assign`` nodes for writes). Keras tensors are eager devrt tensors, or
KerasTensors, whose primitives are ``keras.ops`` calls that record nodes
(``KERAS_SYMBOLIC``, in ``eager.py``). A front end passes the
implementation it runs on; ``ops_for`` picks one from the operands' types,
once per composite call, never per primitive.

Operands are tensors of the implementation or Python numbers. A binary
primitive given a number and a tensor takes the number in the tensor's
dtype; given two numbers it computes on the host, in Python's float (what
hyperparameters such as bias corrections need). The graph's primitives
take an optional ``name`` for their node; a composite passes its own
``name`` to its last primitive as ``**named(name)`` (nothing when None),
so its output is named after the front end's scope, as TF names it, while
the eager primitives stay the core's functions themselves, with no Python
frame of their own on the optimizers' hot path.

The primitives (all return a new value unless they write):

- elementwise: ``add sub mul div neg square sqrt rsqrt exp log log1p expm1
  abs tanh sigmoid erf relu maximum minimum``
- selection and comparison: ``where(cond, a, b)``, ``greater(a, b)``,
  ``greater_equal(a, b)``
- reductions over ``axes`` (a list of ints, or None for all) with
  ``keepdims``: ``sum mean``, and ``variance`` (biased; it may take the
  keepdims ``mean`` the caller already has); ``softmax(x, axis)``,
  ``log_softmax(x, axis)``
- shape: ``reshape(x, shape)``, ``matmul(a, b)``, ``take_along(x, labels,
  axis)`` (the entries of `x` at the integer `labels` along `axis`, which
  is removed), ``cast(x, like)`` (to ``like``'s dtype)
- constants: ``const(value, like)``, a scalar in ``like``'s dtype
- random samples (for initializers): ``random_uniform(shape, dtype, low,
  high, seed, device)``, ``random_normal(shape, dtype, mean, stddev, seed,
  device)`` and ``truncated_normal(...)`` (a normal whose values beyond two
  standard deviations are drawn again); the graph's take the op seed, the
  eager ones draw from devrt's generator
- the fresh primitives ``add_ sub_ mul_ div_`` (binary) and ``sqrt_``: the
  same values as their plain forms, for a first operand that the composite
  itself has just computed and uses nowhere else. Eager reuses its storage
  in place, which is the update rules' fast path (one allocation fewer per
  use, as the optimizers were written before the rules moved here); the
  graph builds the plain node. Only for values that are not differentiated
  (the update rules run without autograd).
- writes into a variable or parameter ``ref``, each returning the new
  value: ``assign(ref, value)``, ``assign_add(ref, value)``,
  ``assign_sub(ref, value)``, ``assign_mul(ref, value)``,
  ``assign_mul_add(ref, scale, value)`` (``ref = ref * scale + value``, the
  moving average every update rule keeps) and ``assign_mul_sub`` (``ref =
  ref * scale - value``); ``read(ref)`` is a variable's current value as a
  tensor.
- optional fused updates, absent or None where an implementation has none:
  ``sgd_step(param, grad, lr, name)``, one gradient-descent step written in
  place (see ``optimizers.sgd``), and ``adam_step(param, grad, m, v, *,
  beta1, beta2, eps, step_size, root_divisor, v_max, name)``, one Adam step
  (see ``optimizers.adam``); each returns the written values, or None for
  arguments it does not take.
"""

from __future__ import annotations

from typing import Any

_NO_NAME: dict[str, str] = {}


def named(name: str | None) -> dict[str, str]:
    """The keyword arguments that name a primitive's node: ``{}`` for None."""
    return _NO_NAME if name is None else {"name": name}


class Ops:
    """The primitives composites use; see the module docstring."""

    kind = "abstract"

    def __repr__(self) -> str:
        return f"<devrt composite ops: {self.kind}>"


def ops_for(*values: Any) -> Ops:
    """The implementation for `values`: graph if one of them is a graph
    tensor or variable, Keras-symbolic if one is a KerasTensor, else eager."""
    from devrt._composite.eager import EAGER, KERAS_SYMBOLIC

    for v in values:
        module = type(v).__module__
        if module.startswith("devrt.graph"):
            from devrt._composite.graph import GRAPH

            return GRAPH
        if module == "devrt.keras.keras_tensor":
            return KERAS_SYMBOLIC
    return EAGER
