"""devrt.einsum: Einstein summation as a composition of views, sums and
batched matmuls.

The operands are contracted left to right, two at a time. Before each
contraction, labels that no later operand and not the output needs are
summed away; the labels the pair shares become either batch dimensions
(still needed later) or the contracted dimension of one matmul:
``(batch, M, K) @ (batch, K, N)``. A label repeated within one operand
(``'ii->i'``, ``'ii'``) takes its diagonal by a product with the identity.
"""

from __future__ import annotations

import math
from typing import Any

import devrt
from devrt import _C
from devrt._errors import public_op

Tensor = _C.Tensor

# Labels the ellipsis dimensions take internally: outside [a-zA-Z].
_ELLIPSIS_BASE = 0x100


def _parse(equation: str, operands: list[Tensor]) -> tuple[list[list[str]], list[str]]:
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(
            f"[einsum] the equation {equation!r} names {len(terms)} operands, but "
            f"{len(operands)} were given"
        )
    ellipsis_dims = 0
    parsed = []
    for term, op in zip(terms, operands):
        explicit = term.replace("...", "")
        for ch in explicit:
            if not ch.isalpha():
                raise ValueError(f"[einsum] invalid subscript {ch!r} in {equation!r}")
        if "..." in term:
            covered = op.ndim - len(explicit)
            if covered < 0:
                raise ValueError(
                    f"[einsum] the subscript {term!r} has more dimensions than the "
                    f"operand of shape {tuple(op.shape)}"
                )
            ellipsis_dims = max(ellipsis_dims, covered)
            fill = [chr(_ELLIPSIS_BASE + ellipsis_dims - covered + i) for i in range(covered)]
            head, _, tail = term.partition("...")
            labels = [*head, *fill, *tail]
        else:
            labels = list(term)
        if len(labels) != op.ndim:
            raise ValueError(
                f"[einsum] the subscript {term!r} has {len(labels)} dimensions for an operand "
                f"of shape {tuple(op.shape)}"
            )
        parsed.append(labels)
    broadcast = [chr(_ELLIPSIS_BASE + i) for i in range(ellipsis_dims)]
    if arrow:
        head, dots, tail = rhs.partition("...")
        # Ellipsis dimensions the output leaves out are summed, as in PyTorch.
        output = [*head, *(broadcast if dots else []), *tail]
        known = {label for labels in parsed for label in labels}
        for ch in output:
            if ch not in known:
                raise ValueError(f"[einsum] output subscript {ch!r} does not appear in the inputs")
        if len(set(output)) != len(output):
            raise ValueError(f"[einsum] output subscripts repeat a label in {equation!r}")
    else:
        counts: dict[str, int] = {}
        for labels in parsed:
            for label in labels:
                counts[label] = counts.get(label, 0) + 1
        single = sorted(
            label for label, n in counts.items() if n == 1 and ord(label) < _ELLIPSIS_BASE
        )
        output = [*broadcast, *single]
    return parsed, output


def _diagonal(t: Tensor, labels: list[str]) -> tuple[Tensor, list[str]]:
    """Merges repeated labels of one operand into one dimension (its diagonal)."""
    while len(set(labels)) != len(labels):
        seen: dict[str, int] = {}
        for j, label in enumerate(labels):
            if label in seen:
                i = seen[label]
                n = t.shape[i]
                if t.shape[j] != n:
                    raise ValueError(
                        f"[einsum] subscript {label!r} is repeated for dimensions of sizes "
                        f"{n} and {t.shape[j]}"
                    )
                shape = [1] * t.ndim
                shape[i] = shape[j] = n
                eye = devrt.eye(n, dtype=t.dtype, device=t.device).reshape(shape)
                t = (t * eye).sum(j)
                labels = labels[:j] + labels[j + 1 :]
                break
            seen[label] = j
    return t, labels


def _sum_unneeded(t: Tensor, labels: list[str], needed: set[str]) -> tuple[Tensor, list[str]]:
    dims = [i for i, label in enumerate(labels) if label not in needed]
    if dims:
        t = t.sum(dims)
        labels = [label for label in labels if label in needed]
    return t, labels


def _contract(
    a: Tensor, la: list[str], b: Tensor, lb: list[str], needed: set[str]
) -> tuple[Tensor, list[str]]:
    batch = [x for x in la if x in lb and x in needed]
    summed = [x for x in la if x in lb and x not in needed]
    free_a = [x for x in la if x not in lb]
    free_b = [x for x in lb if x not in la]
    size = {}
    for t, labels in ((a, la), (b, lb)):
        for label, n in zip(labels, t.shape):
            if size.get(label, 1) not in (1, n) and n != 1:
                raise ValueError(
                    f"[einsum] operands do not broadcast: subscript {label!r} has sizes "
                    f"{size[label]} and {n}"
                )
            size[label] = max(size.get(label, 1), n)

    def arrange(t: Tensor, labels: list[str], order: list[str]) -> Tensor:
        t = t.permute([labels.index(x) for x in order])
        shared = batch + summed
        target = [size[x] if x in shared else n for x, n in zip(order, t.shape)]
        return t.expand(target) if list(t.shape) != target else t

    a = arrange(a, la, batch + free_a + summed)
    b = arrange(b, lb, batch + summed + free_b)
    nb = [size[x] for x in batch]
    m = [size[x] for x in free_a]
    k = [size[x] for x in summed]
    n = [size[x] for x in free_b]
    out = devrt.matmul(
        a.reshape(*nb, math.prod(m), math.prod(k)),
        b.reshape(*nb, math.prod(k), math.prod(n)),
    )
    return out.reshape(*nb, *m, *n), batch + free_a + free_b


@public_op
def einsum(equation: str, *operands: Any) -> Tensor:
    """Sums the product of the operands over the subscripts that the output
    (after ``->``, or else every subscript used once, in alphabetical
    order) does not name. ``...`` stands for broadcast leading dimensions.
    The operands may also be passed as one list."""
    if not isinstance(equation, str):
        raise TypeError(
            f"[einsum] argument 'equation' must be a str, got {type(equation).__name__}"
        )
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("[einsum] must provide at least one operand")
    for i, op in enumerate(operands):
        if not isinstance(op, Tensor):
            raise TypeError(f"[einsum] operand {i} must be a Tensor, got {type(op).__name__}")
    parsed, output = _parse(equation, list(operands))
    terms = [_diagonal(t, labels) for t, labels in zip(operands, parsed)]
    t, labels = terms[0]
    for i in range(1, len(terms)):
        later = set(output).union(*(set(lb) for _, lb in terms[i + 1 :]))
        b, lb = terms[i]
        t, labels = _sum_unneeded(t, labels, later | set(lb))
        b, lb = _sum_unneeded(b, lb, later | set(labels))
        t, labels = _contract(t, labels, b, lb, later)
    t, labels = _sum_unneeded(t, labels, set(output))
    return t.permute([labels.index(x) for x in output]) if labels else t
