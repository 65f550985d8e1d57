"""Differential fuzzer of the eager surface: random calls of a table of ops
(unary and their in-place methods, binary, reductions, scans, the softmax
family, the matmul family, shape and view ops, indexing get and set,
creation ops, `where` of tensors and numbers, nn.functional activations
and losses) on random shapes (0-d and empty included),
non-contiguous views (transposed, sliced with a step, expanded), every
dtype devrt has, broadcasting, random and out-of-range axes and arguments
of the wrong kind, made once on devrt and once on PyTorch.

The property: both raise (devrt's exception a standard type whose message
starts with ``[op]``), or both succeed with equal dtypes, shapes and values
(NaN-aware, tolerances by dtype); for differentiable float calls the
gradients agree too. The known differences are the entries of DEVIATIONS,
each with the sentence of ``docs/eager.md`` that documents it (or, while a
fix is under way, the issue it is tracked by); nothing else is skipped.

Hypothesis runs in a child process (this file run as a script) that
announces each call before making it, so that a crash fails the test with
the call that caused it instead of killing pytest. CI runs a fixed,
derandomized budget; run longer by hand, or with ``tools/fuzz.py`` over
several seeds (it restarts after a crash and sorts what it finds by
family):

    DEVRT_FUZZ_EXAMPLES=5000 DEVRT_FUZZ_SEED=7 pytest tests/unit/test_fuzz_differential.py
    python tools/fuzz.py --seeds 1 2 3 --examples 5000
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

EXAMPLES = int(os.environ.get("DEVRT_FUZZ_EXAMPLES", "600"))
SEED = os.environ.get("DEVRT_FUZZ_SEED")

STANDARD = (
    ValueError,
    TypeError,
    IndexError,
    RuntimeError,
    NotImplementedError,
    MemoryError,
    OverflowError,
)

DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "uint8", "bool"]
FLOATS = {"float32", "float64", "float16", "bfloat16"}
# (rtol, atol) of a comparison of results of each dtype.
TOLERANCE = {
    "float64": (1e-9, 1e-12),
    "float32": (2e-4, 1e-5),
    "float16": (2e-2, 2e-2),
    "bfloat16": (5e-2, 5e-2),
}


# ---------------------------------------------------------------------------
# Calls: what is drawn, built on each library from the same description.


@dataclass(frozen=True)
class T:
    """A tensor argument: the `i`-th tensor of the call."""

    i: int


@dataclass
class TensorSpec:
    shape: tuple
    dtype: str
    seed: int
    view: str = "contiguous"  # "transposed", "stepped", "expanded"
    expanded_dims: tuple = ()
    specials: bool = False  # NaN, infinities and signed zeros among floats
    low: int | None = None  # integer tensors: values in [low, high)
    high: int | None = None
    scale: float = 1.0  # floats: 1e38 (values within +-3e38) puts float32 sums past overflow

    def base_shape(self) -> tuple:
        s = list(self.shape)
        if self.view == "transposed":
            s[0], s[1] = s[1], s[0]
        elif self.view == "stepped":
            s[0] = 2 * s[0]
        elif self.view == "expanded":
            for d in self.expanded_dims:
                s[d] = 1
        return tuple(s)

    def values(self):
        import numpy as np

        rng = np.random.default_rng(self.seed)
        shape = self.base_shape()
        if self.dtype == "bool":
            return rng.integers(0, 2, size=shape).astype(bool)
        if self.dtype not in FLOATS:
            low = self.low if self.low is not None else (0 if self.dtype == "uint8" else -5)
            high = self.high if self.high is not None else 10
            return rng.integers(low, max(high, low + 1), size=shape).astype(np.int64)
        if self.low is not None:  # floats in [low, high), e.g. probabilities
            return np.asarray(np.round(rng.uniform(self.low, self.high, size=shape), 3))
        v = np.asarray(np.round(rng.normal(0, 2, size=shape), 3))
        v = np.asarray(np.clip(v, -3, 3) * self.scale if self.scale != 1 else v)
        if self.specials and v.size:
            pick = rng.random(size=shape) < 0.2
            v[pick] = rng.choice([math.nan, math.inf, -math.inf, 0.0, -0.0], size=int(pick.sum()))
        return v.astype(np.float64)


@dataclass
class Call:
    label: str  # the op's name in reports and in DEVIATIONS
    kind: str  # "fn", "F", "method", "inplace" (the method name_), "getitem", "setitem"
    name: str
    args: list
    kwargs: dict
    tensors: list = field(default_factory=list)
    grad: bool = True  # compare gradients when the call is a float one

    def __repr__(self) -> str:
        shown = ", ".join(
            [_show(a, self.tensors) for a in self.args]
            + [f"{k}={_show(v, self.tensors)}" for k, v in self.kwargs.items()]
        )
        return f"{self.kind}:{self.name}({shown})"


def _show(a, tensors) -> str:
    if isinstance(a, T):
        s = tensors[a.i]
        extra = f", {s.view}" if s.view != "contiguous" else ""
        extra += ", nan/inf" if s.specials and s.dtype in FLOATS else ""
        extra += f", x{s.scale:g}" if s.scale != 1 else ""
        return f"<{s.dtype}{list(s.shape)}{extra}>"
    if isinstance(a, (list, tuple)) and not isinstance(a, str):
        inner = ", ".join(_show(x, tensors) for x in a)
        return f"[{inner}]" if isinstance(a, list) else f"({inner}{',' if len(a) == 1 else ''})"
    if isinstance(a, slice):
        return f"{a.start}:{a.stop}:{a.step}"
    return repr(a)


class Lib:
    """One side of the comparison: devrt or torch."""

    def __init__(self, name: str):
        import importlib

        self.name = name
        self.mod = importlib.import_module(name)
        self.F = importlib.import_module(f"{name}.nn.functional")

    def dtype(self, name: str):
        return getattr(self.mod, name)

    def tensor(self, spec: TensorSpec, requires_grad: bool):
        base = self.mod.tensor(spec.values()).to(self.dtype(spec.dtype))
        if requires_grad:
            base.requires_grad_(True)
        t = base
        if spec.view == "transposed":
            t = base.transpose(0, 1)
        elif spec.view == "stepped":
            t = base[::2]
        elif spec.view == "expanded":
            t = base.expand(*spec.shape)
        return base, t

    def convert(self, a, built):
        if isinstance(a, T):
            return built[a.i]
        if isinstance(a, str) and a.startswith("dtype:"):
            return self.dtype(a[6:])
        if isinstance(a, list):
            return [self.convert(x, built) for x in a]
        if isinstance(a, tuple):
            return tuple(self.convert(x, built) for x in a)
        if isinstance(a, dict):
            return {k: self.convert(v, built) for k, v in a.items()}
        return a

    def run(self, call: Call, requires_grad: bool = False):
        """(result, leaves) of `call` on this library."""
        leaves, built = [], []
        for spec in call.tensors:
            base, t = self.tensor(spec, requires_grad and spec.dtype in ("float32", "float64"))
            leaves.append(base)
            built.append(t)
        args = self.convert(call.args, built)
        kwargs = self.convert(call.kwargs, built)
        if call.kind == "fn":
            out = getattr(self.mod, call.name)(*args, **kwargs)
        elif call.kind == "F":
            out = getattr(self.F, call.name)(*args, **kwargs)
        elif call.kind == "method":
            out = getattr(self.mod.Tensor, call.name)(*args, **kwargs)
        elif call.kind == "inplace":  # the method `name_`, on a copy
            target = args[0].clone() if isinstance(args[0], self.mod.Tensor) else args[0]
            out = getattr(self.mod.Tensor, call.name + "_")(target, *args[1:], **kwargs)
        elif call.kind == "getitem":
            out = args[0][args[1]]
        elif call.kind == "setitem":
            target = args[0].clone()
            target[args[1]] = args[2]
            out = target
        else:
            raise AssertionError(call.kind)
        return out, leaves


def _summary(x, lib: str):
    """A library-neutral description of a result, for comparison."""
    import numpy as np

    if type(x).__name__ == "Tensor" or hasattr(x, "dtype") and hasattr(x, "detach"):
        dtype = str(x.dtype).split(".")[-1]
        x = x.detach()
        if lib == "torch":
            import torch

            values = x.to(torch.float64).numpy() if x.numel() else np.zeros(tuple(x.shape))
        else:
            import devrt

            values = x.to(devrt.float64).numpy() if x.numel() else np.zeros(tuple(x.shape))
        return ("tensor", dtype, tuple(x.shape), values)
    if isinstance(x, (tuple, list)):
        return ("seq", tuple(_summary(v, lib) for v in x))
    if isinstance(x, (bool, int, float)):
        return ("scalar", type(x).__name__, x)
    if x is None:
        return ("none",)
    if "dtype" in type(x).__name__:
        return ("dtype", str(x).split(".")[-1])
    return ("other", type(x).__name__)


def _close(a, b, dtype: str) -> bool:
    import numpy as np

    if a.shape != b.shape:
        return False
    if dtype not in FLOATS:
        return bool(np.array_equal(a, b, equal_nan=True))
    rtol, atol = TOLERANCE[dtype]
    inf = np.isinf(a) | np.isinf(b)
    if not np.array_equal(a[inf], b[inf]):
        return False
    return bool(np.allclose(a[~inf], b[~inf], rtol=rtol, atol=atol, equal_nan=True))


def _loosest(call: Call) -> str | None:
    """The least precise float dtype a call computes in (its tensors' and
    its dtype argument's), whose tolerance its gradients are compared with."""
    names = {s.dtype for s in call.tensors} | {
        v[6:] for v in call.kwargs.values() if isinstance(v, str) and v.startswith("dtype:")
    }
    for name in ("bfloat16", "float16", "float32"):
        if name in names:
            return name
    return None


def _difference(d, t, tolerance: str | None = None) -> str | None:
    """How summaries `d` (devrt) and `t` (torch) differ; None if they agree.
    Floats compare with the tolerance of their dtype, or of `tolerance`."""
    if d[0] != t[0]:
        return f"kind {d[0]} vs {t[0]}"
    if d[0] == "tensor":
        if d[1] != t[1]:
            return f"dtype {d[1]} vs {t[1]}"
        if d[2] != t[2]:
            return f"shape {d[2]} vs {t[2]}"
        if not _close(d[3], t[3], d[1] if tolerance is None or d[1] not in FLOATS else tolerance):
            return f"values {d[3].ravel()[:6]} vs {t[3].ravel()[:6]}"
        return None
    if d[0] == "seq":
        if len(d[1]) != len(t[1]):
            return f"length {len(d[1])} vs {len(t[1])}"
        for i, (a, b) in enumerate(zip(d[1], t[1])):
            diff = _difference(a, b, tolerance)
            if diff:
                return f"[{i}] {diff}"
        return None
    if d[0] == "scalar":
        if d[1] != t[1]:
            return f"scalar type {d[1]} vs {t[1]}"
        a, b = d[2], t[2]
        if isinstance(a, float) and math.isnan(a) and math.isnan(b):
            return None
        if a != b and not (isinstance(a, float) and math.isclose(a, b, rel_tol=1e-5)):
            return f"values {a} vs {b}"
        return None
    return None if d == t else f"{d} vs {t}"


# The ops of the table.

UNARY = [
    "abs", "neg", "exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu",
    "floor", "ceil", "round", "sign", "reciprocal", "rsqrt", "log1p", "expm1", "isnan",
    "isinf", "isfinite", "logical_not", "erf",
]  # fmt: skip
BINARY = [
    "add", "sub", "mul", "div", "true_divide", "pow", "maximum", "minimum", "eq", "ne",
    "lt", "le", "gt", "ge", "remainder", "logical_and", "logical_or", "logical_xor",
    "bitwise_and", "bitwise_or", "bitwise_xor", "floor_divide",
]  # fmt: skip
REDUCTIONS = [
    "sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "std", "var",
    "logsumexp", "all", "any",
]  # fmt: skip
# The unary ops whose in-place method PyTorch has too.
UNARY_INPLACE = [n for n in UNARY if n not in ("isnan", "isinf", "isfinite")]
WHERE_NUMBERS = [1, -3, 2.5, 0.0, True, False]
ACTIVATIONS = ["relu", "gelu", "silu", "leaky_relu", "softplus", "sigmoid", "tanh"]
LOSSES = [
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div",
]  # fmt: skip
NOT_DIFFERENTIABLE = {
    "isnan", "isinf", "isfinite", "logical_not", "eq", "ne", "lt", "le", "gt", "ge",
    "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
    "floor_divide", "argmax", "argmin", "all", "any", "sign", "floor", "ceil", "round",
    "remainder", "getitem_bool",
}  # fmt: skip


# ---------------------------------------------------------------------------
# Known deliberate differences: the only calls whose disagreement with
# PyTorch does not fail. Each entry is (family, documentation, predicate);
# the predicate gets the call and the outcome ("devrt raised", "torch
# raised", "dtype ...", "values ...", "grad ..."). Entries whose
# documentation starts with "open" are known bugs: delete the entry with
# the fix (and run the fuzzer to see it is not needed any more).


def _dtypes(call: Call) -> set:
    return {s.dtype for s in call.tensors}


def _has_specials(call: Call) -> bool:
    return any(s.specials for s in call.tensors)


def _non_finite(a) -> bool:
    return isinstance(a, float) and not math.isfinite(a)


def _reduced_count(call: Call) -> int:
    """The number of elements a reduction of call.tensors[0] over its `dim`
    keyword (all dims when absent or empty) takes in."""
    shape = call.tensors[0].shape if call.tensors else ()
    dim = _kw(call, "dim")
    if not isinstance(dim, (int, tuple, list, type(None))):
        return 1
    dims = (
        range(len(shape))
        if dim in (None, (), [])
        else (dim if isinstance(dim, (tuple, list)) else (dim,))
    )
    return math.prod(shape[d] for d in dims) if shape else 1


def _all_equal(call: Call) -> bool:
    """Whether call.tensors[0] holds one number in every element (NaN is none)."""
    if not call.tensors:
        return False
    values = call.tensors[0].values()
    return values.size > 0 and len({float(v) for v in values.ravel()}) == 1


def _kw(call: Call, key: str, default=None):
    return call.kwargs.get(key, default)


def _is_number(a) -> bool:
    return type(a).__module__ == "numpy" or isinstance(a, (bool, int, float))


def _matches(pattern: str):
    import re

    return lambda call, outcome: re.search(pattern, outcome) is not None


def _ops(*labels: str):
    """Calls of the ops named (as functions, methods or F.*)."""
    return lambda call: call.name in labels


INT_NAMES = r"'(Int|Long|Byte|Bool|Char|Short)'"
FLOAT_ONLY = {
    "softmax", "log_softmax", "mean", "std", "var", "logsumexp", "gelu", "silu", "leaky_relu",
    "softplus", "sigmoid", "tanh", "relu", "exp", "log", "sqrt", "sin", "cos", "tan", "erf",
    "rsqrt", "reciprocal", "log1p", "expm1", "round", "floor", "ceil", "div", "true_divide",
    "pow",
}  # fmt: skip
TWO_OPERANDS = set(BINARY) | set(LOSSES) | {"cross_entropy", "nll_loss"}
OPEN = "open (found by this fuzzer, not fixed yet): "

DEVIATIONS: list = [
    # -- documented in docs/eager.md ---------------------------------------
    (
        "no arithmetic kernels for float16, bfloat16, uint8, bool",
        "docs/eager.md: the eight dtypes (arithmetic in int32, int64, float32, float64; "
        "float16 and bfloat16 are stored and cast)",
        _matches(
            r"^(devrt raised|grad: raised).*no kernel for dtype (float16|bfloat16|uint8|bool)"
        ),
    ),
    (
        "float functions of integer tensors compute in float32",
        "docs/eager.md: Float functions (softmax, log_softmax, mean, std, var, logsumexp, the "
        "elementwise transcendental functions and the activations) take integer and bool "
        "tensors and compute in the default float dtype; PyTorch has no integer kernel for "
        "some of them.",
        lambda call, outcome: (
            call.name in FLOAT_ONLY
            and (
                re.search(
                    rf"^torch raised .*(not implemented for {INT_NAMES}|could not infer output "
                    r"dtype. Input|only support floating point)",
                    outcome,
                )
                is not None
                # PyTorch runs no kernel on an empty tensor and keeps its dtype
                or (
                    re.search(r"^dtype float32 vs (int32|int64|uint8|bool)$", outcome) is not None
                    and any(0 in s.shape for s in call.tensors)
                )
            )
        ),
    ),
    (
        "numbers and sequences for tensor operands",
        "docs/eager.md: Functions of two operands (the elementwise ones, the comparisons and "
        "logical functions, `maximum`, `minimum` and the losses) take a Python or NumPy number, "
        "or a sequence of numbers, for either operand, as the operators do, and an assignment "
        "takes a NumPy scalar as its value; PyTorch requires a tensor there.",
        lambda call, outcome: (
            # (PyTorch also takes a NumPy scalar for a float tensor, and then
            # has no bitwise kernel for it)
            re.search(r"^torch raised (TypeError|AttributeError|NotImplementedError)", outcome)
            is not None
            and (
                (
                    call.name in TWO_OPERANDS
                    and any(_is_number(a) or isinstance(a, (list, tuple)) for a in call.args[:2])
                )
                or (
                    call.kind == "setitem"
                    and (_is_number(call.args[2]) or isinstance(call.args[2], (list, tuple)))
                )
            )
        ),
    ),
    (
        "arithmetic on two bools",
        "docs/eager.md: Arithmetic on two bools (two bool tensors, or a bool tensor and a Python "
        "bool) counts in int64 (`True + True` is 2); PyTorch's is a logical one.",
        lambda call, outcome: (
            call.name in ("add", "mul", "floor_divide", "remainder", "pow")
            and _dtypes(call) == {"bool"}
            and all(isinstance(a, (T, bool)) for a in call.args[:2])
            and (
                "not implemented for 'Bool'" in outcome
                or re.search(r"^dtype int64 vs bool$", outcome) is not None
            )
        ),
    ),
    (
        "matmul of two dtypes",
        "docs/eager.md: `matmul`, `mm` and `bmm` promote operands of two dtypes as the "
        "elementwise ops do (PyTorch requires one dtype; `dot` and `addmm` require it here "
        "too).",
        lambda call, outcome: (
            call.name in ("matmul", "mm", "bmm")
            and len(_dtypes(call)) == 2
            and re.search(
                r"^torch raised RuntimeError: .*(same dtype|m1 and m2|expected scalar type)",
                outcome,
            )
            is not None
        ),
    ),
    (
        "dim=None of max, min and squeeze",
        "docs/eager.md: `max`, `min`, `argmax`, `argmin`, `prod` and `squeeze` take `dim=None` "
        "for all dimensions, where PyTorch wants the argument left out.",
        lambda call, outcome: (
            call.name in ("max", "min", "argmax", "argmin", "prod", "squeeze")
            and (call.kwargs.get("dim", 0) is None or (len(call.args) > 1 and call.args[1] is None))
            and outcome.startswith("torch raised TypeError")
        ),
    ),
    (
        "expand with -1 for a new dim",
        "docs/eager.md: `expand` with -1 for a new leading dimension raises ValueError (PyTorch "
        "makes a shape holding -1 when another new dimension is 0).",
        _matches(r"^devrt raised ValueError: \[expand\] invalid size -1"),
    ),
    (
        "integers to negative integer powers",
        "docs/eager.md: `pow` of integer tensors with a negative integer exponent raises "
        "ValueError, as NumPy's does (PyTorch raises for a number exponent but rounds to 0, 1 "
        "or -1 for a tensor one).",
        _matches(r"^devrt raised ValueError: \[pow\] integers to negative integer powers"),
    ),
    (
        "integer dtype= of a tensor that requires grad",
        "docs/eager.md: A reduction or scan with an integer or bool `dtype=` of a tensor that "
        "requires grad gives a result without history (PyTorch raises).",
        _matches(r"^grad: none vs raised: Autograd not support dtype"),
    ),
    (
        "bool dtype= for cumsum and linspace",
        "docs/eager.md: `cumsum` and `linspace` take a bool `dtype=` (PyTorch has no kernel for "
        "it): the values are computed, then cast.",
        lambda call, outcome: (
            call.name in ("cumsum", "linspace")
            and re.search(
                r"^torch raised NotImplementedError: .* not implemented for 'Bool'", outcome
            )
            is not None
        ),
    ),
    (
        "mean of integers, logsumexp over dim=()",
        "docs/eager.md: `mean` of an integer tensor gives float32 (PyTorch raises); "
        "`logsumexp(dim=())` without `keepdim` reduces every dim (PyTorch 2.13 raises); "
        "`prod` takes a list of dims, as `sum`.",
        lambda call, outcome: (
            (call.name == "mean" and outcome.startswith("torch raised RuntimeError: mean"))
            or (
                call.name == "logsumexp"
                and _kw(call, "dim") == ()
                and outcome.startswith("torch raised RuntimeError")
            )
        ),
    ),
    (
        "assigning through a uint8 mask",
        "docs/eager.md: Assigning a number through a uint8 mask writes it (PyTorch refuses a "
        "uint8 mask there, and takes one with a tensor value).",
        _matches(r"^torch raised RuntimeError: masked_fill_ only supports boolean masks"),
    ),
    (
        "losses of integer operands",
        "docs/eager.md: Losses take integer or bool operands and compute in the float dtype the "
        "operands promote to (PyTorch refuses some of these mixes, such as an integer `kl_div`, "
        "an integer input of `binary_cross_entropy_with_logits` "
        "or an integer target of `huber_loss`).",
        lambda call, outcome: (
            call.name in LOSSES
            and any(d in ("bool", "uint8", "int32", "int64") for d in _dtypes(call))
            and re.search(
                r"Integral inputs not supported|can't be cast to the desired output type|"
                r"Found dtype \w+ but expected|not implemented for '(Long|Int|Bool|Byte)'",
                outcome,
            )
            is not None
        ),
    ),
    (
        "prod over several dims",
        "docs/eager.md: `prod` takes a tuple of dims, as `sum` does (PyTorch's takes one).",
        lambda call, outcome: (
            call.name == "prod"
            and isinstance(call.kwargs.get("dim"), tuple)
            and outcome.startswith("torch raised TypeError")
        ),
    ),
    (
        "assignments through index tensors cast",
        "docs/eager.md: An assignment through index tensors casts the values to the tensor's "
        "dtype, as one through slices does (PyTorch requires the same dtype there).",
        lambda call, outcome: (
            call.kind == "setitem"
            and "Index put requires the source and destination dtypes match" in outcome
        ),
    ),
    (
        "Python ints beyond int64",
        "docs/eager.md: A Python integer outside int64's range as an operand, a bound or a "
        "parameter raises ValueError (PyTorch converts it in ways that depend on the op).",
        _matches(r"^devrt raised ValueError: \[\w+\].* Python integer -?\d+ does not fit"),
    ),
    (
        "one ellipsis per index",
        "docs/eager.md: An index holds at most one `...`, as in NumPy.",
        _matches(r"^devrt raised IndexError: \[index\] an index can only have a single ellipsis"),
    ),
    (
        "results and gradients at NaN and infinite inputs",
        "docs/eager.md: At NaN and infinite inputs a few results differ from PyTorch's where "
        "PyTorch's are not the limit of the function: the gradient of `amax`, `amin`, `max` and "
        "`min` where the extremum is NaN goes to the NaN elements (PyTorch's is NaN across the "
        "slice); `F.gelu` of an infinity in float32 is the infinity or 0 (PyTorch's vectorised "
        "kernel gives NaN); `F.binary_cross_entropy_with_logits` of a logit of -inf is inf "
        "(PyTorch: NaN); `F.leaky_relu` with an infinite `negative_slope` has "
        "NaN gradients where the product of the slope and 0 appears; the gradient of `prod` "
        "where the product is NaN (an infinity times 0) is 0 for the finite factors (PyTorch: "
        "NaN).",
        lambda call, outcome: (
            (_has_specials(call) or any(_non_finite(a) for a in call.args))
            and re.search(r"^(grad.*values|values|grad \[\d\]: None)", outcome) is not None
            and (
                call.name in ("amax", "amin", "max", "min", "prod")
                and outcome.startswith("grad")
                or call.name in ("gelu", "binary_cross_entropy_with_logits")
                or call.name == "leaky_relu"
                and any(_non_finite(a) for a in list(call.args[1:]) + list(call.kwargs.values()))
            )
        ),
    ),
    (
        "the gradient of var and std over dim=()",
        "docs/eager.md: The gradient of `var` and `std` with an empty dim list is that of the "
        "reduction over every dim (PyTorch's backward takes the list as no dim and gives "
        "infinities).",
        lambda call, outcome: (
            call.name in ("var", "std")
            and _kw(call, "dim") in ((), [])
            and outcome.startswith("grad")
        ),
    ),
    (
        "var and std of equal values",
        "docs/eager.md: Where the elements `var` or `std` reduce are all equal, the spread both "
        "devrt and PyTorch compute is the rounding of their mean (about 1e-17 of the value, not "
        "0), and so is the sign of `std`'s gradient there: each library's is noise, and the two "
        "differ.",
        lambda call, outcome: (
            call.name in ("var", "std") and outcome.startswith("grad") and _all_equal(call)
        ),
    ),
    (
        "a NumPy integer split size",
        "docs/eager.md: `split` takes a NumPy integer as its size, as every int argument does "
        "(PyTorch's `Tensor.split` takes one for a list of sizes and raises TypeError).",
        lambda call, outcome: (
            call.name == "split"
            and len(call.args) > 1
            and type(call.args[1]).__module__ == "numpy"
            and outcome.startswith("torch raised TypeError: split_with_sizes")
        ),
    ),
    (
        "var and std with a correction beyond the count",
        "docs/eager.md: Where the `correction` of `var` or `std` (1 when not given) is at least "
        "the number of elements reduced, or NaN, the value is inf or NaN as in PyTorch, and the "
        "gradient may differ from PyTorch's (which is not the derivative of that value either).",
        lambda call, outcome: (
            call.name in ("var", "std")
            and isinstance(_kw(call, "correction", 1), (int, float))
            and not _kw(call, "correction", 1) < _reduced_count(call)  # (NaN too)
            and outcome.startswith("grad")
        ),
    ),
]
"""(family, documentation, predicate(call, outcome) -> bool)."""


def _key_parts(call: Call) -> list:
    key = call.args[1] if len(call.args) > 1 else ()
    return list(key) if isinstance(key, tuple) else [key]


def deviation(call: Call, outcome: str) -> str | None:
    for family, _doc, pred in DEVIATIONS:
        if pred(call, outcome):
            return family
    return None


# ---------------------------------------------------------------------------
# Strategies.

WRONG = [
    None,
    "abc",
    "np.float32(1.5)",
    "np.int64(2)",
    "np.bool_(True)",
    2**70,
    -(2**40),
    2**63,
    math.nan,
    math.inf,
    1.5,
    True,
    [1, 2],
    (),
    object,
]


def _wrong_value(v):
    import numpy as np

    if v == "np.float32(1.5)":
        return np.float32(1.5)
    if v == "np.int64(2)":
        return np.int64(2)
    if v == "np.bool_(True)":
        return np.bool_(True)
    if v is object:
        return object()
    return v


def _strategies():
    import hypothesis.strategies as st

    @st.composite
    def tensor_spec(draw, shape=None, dtype=None, ndim=None, floats_only=False, ints=None):
        if shape is None:
            n = draw(st.integers(0, 3)) if ndim is None else ndim
            shape = tuple(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
        if dtype is None:
            pool = sorted(FLOATS) if floats_only else DTYPES
            dtype = draw(st.sampled_from(pool))
        views = ["contiguous"]
        if len(shape) >= 2:
            views.append("transposed")
        if len(shape) >= 1:
            views += ["stepped", "expanded"]
        view = draw(st.sampled_from(views))
        expanded = ()
        if view == "expanded":
            expanded = tuple(d for d in range(len(shape)) if draw(st.booleans()))
        low, high = ints if ints else (None, None)
        return TensorSpec(
            tuple(shape),
            dtype,
            draw(st.integers(0, 2**31)),
            view,
            expanded,
            ints is None and draw(st.integers(0, 4)) == 0,
            low,
            high,
        )

    def broadcastable(draw, shape):
        """A shape that broadcasts against `shape` (or, rarely, not)."""
        if draw(st.integers(0, 9)) == 0:
            return tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
        keep = draw(st.integers(0, len(shape)))
        tail = list(shape[len(shape) - keep :])
        return tuple(1 if draw(st.integers(0, 2)) == 0 else s for s in tail)

    def dim_arg(draw, ndim, tuples=True):
        choices = [st.integers(-ndim - 2, ndim + 1) if ndim else st.integers(-2, 1)]
        if tuples:
            choices.append(st.lists(st.integers(-ndim - 1, max(ndim, 1)), max_size=3).map(tuple))
        return draw(st.one_of(*choices))

    return st, tensor_spec, broadcastable, dim_arg


def _draw_call(draw) -> Call:  # noqa: C901 - one branch per family of ops
    st, tensor_spec, broadcastable, dim_arg = _strategies()
    family = draw(
        st.sampled_from(
            [
                "unary", "binary", "reduction", "scan", "softmax", "matmul", "shape",
                "getitem", "setitem", "creation", "activation", "loss", "gather",
                "clamp", "cat", "where",
            ]
        )
    )  # fmt: skip
    tensors: list = []

    def add(spec) -> T:
        tensors.append(spec)
        return T(len(tensors) - 1)

    args: list
    kwargs: dict = {}
    kind = "fn"
    if family == "unary":
        name = draw(st.sampled_from(UNARY))
        kinds = ["fn", "method"] + (["inplace"] if name in UNARY_INPLACE else [])
        kind = draw(st.sampled_from(kinds))
        args = [add(draw(tensor_spec()))]
    elif family == "binary":
        name = draw(st.sampled_from(BINARY))
        kind = draw(st.sampled_from(["fn", "method"]))
        a = draw(tensor_spec())
        args = [add(a)]
        if draw(st.integers(0, 3)):
            args.append(add(draw(tensor_spec(shape=broadcastable(draw, a.shape)))))
        else:
            args.append(draw(st.sampled_from([2, -1, 0, 1.5, 0.0, True, -0.5])))
        if name in ("add", "sub") and draw(st.integers(0, 4)) == 0:
            kwargs["alpha"] = draw(st.sampled_from([2, 0.5, -1, 1.5]))
    elif family == "reduction":
        name = draw(st.sampled_from(REDUCTIONS))
        kind = draw(st.sampled_from(["fn", "method"]))
        a = draw(tensor_spec())
        args = [add(a)]
        single = name in ("max", "min", "argmax", "argmin", "logsumexp")
        if name == "logsumexp" or draw(st.booleans()):
            kwargs["dim"] = dim_arg(draw, len(a.shape), tuples=not single or name == "logsumexp")
            if draw(st.booleans()):
                kwargs["keepdim"] = draw(st.booleans())
        if name in ("sum", "mean", "prod") and draw(st.integers(0, 3)) == 0:
            kwargs["dtype"] = "dtype:" + draw(st.sampled_from(DTYPES))
        if name in ("std", "var") and draw(st.booleans()):
            kwargs["correction"] = draw(st.sampled_from([0, 1, 2]))
    elif family == "scan":
        name = "cumsum"
        kind = draw(st.sampled_from(["fn", "method"]))
        a = draw(tensor_spec())
        if draw(st.integers(0, 3)) == 0:  # sums that pass float32's largest value
            a = draw(tensor_spec(shape=(draw(st.integers(3, 6)),), dtype="float32"))
            a.scale = 1e38
        args = [add(a), dim_arg(draw, len(a.shape), tuples=False)]
        if draw(st.integers(0, 3)) == 0:
            kwargs["dtype"] = "dtype:" + draw(st.sampled_from(DTYPES))
    elif family == "softmax":
        name = draw(st.sampled_from(["softmax", "log_softmax"]))
        kind = draw(st.sampled_from(["fn", "F", "method"]))
        a = draw(tensor_spec(floats_only=draw(st.integers(0, 4)) > 0))
        args = [add(a), dim_arg(draw, len(a.shape), tuples=False)]
        if draw(st.integers(0, 3)) == 0:
            kwargs["dtype"] = "dtype:" + draw(st.sampled_from(sorted(FLOATS)))
    elif family == "matmul":
        name = draw(st.sampled_from(["matmul", "mm", "bmm", "dot", "outer", "addmm"]))
        dtype = draw(st.sampled_from(["float32", "float64", "float32", "int64", "float16"]))
        n, k, m, b = (draw(st.integers(0, 3)) for _ in range(4))
        if draw(st.integers(0, 5)) == 0:
            k2 = draw(st.integers(0, 3))  # (usually) mismatched inner sizes
        else:
            k2 = k
        shapes = {
            "matmul": draw(
                st.sampled_from(
                    [
                        ((k,), (k2,)),
                        ((n, k), (k2,)),
                        ((k,), (k2, m)),
                        ((n, k), (k2, m)),
                        ((b, n, k), (k2, m)),
                        ((b, n, k), (1, k2, m)),
                        ((n, k), (b, k2, m)),
                    ]
                )
            ),  # fmt: skip
            "mm": ((n, k), (k2, m)),
            "bmm": ((b, n, k), (b, k2, m)),
            "dot": ((k,), (k2,)),
            "outer": ((n,), (m,)),
            "addmm": ((n, k), (k2, m)),
        }[name]
        if name == "addmm":
            args = [add(draw(tensor_spec(shape=broadcastable(draw, (n, m)), dtype=dtype)))]
        else:
            args = []
        args += [add(draw(tensor_spec(shape=s, dtype=dtype))) for s in shapes]
        kind = "fn" if name == "addmm" else draw(st.sampled_from(["fn", "method"]))
    elif family == "shape":
        name = draw(
            st.sampled_from(
                ["reshape", "view", "transpose", "permute", "squeeze", "unsqueeze", "flatten",
                 "expand", "flip", "t", "contiguous", "split", "chunk", "repeat", "unbind"]
            )
        )  # fmt: skip
        kind = "method"
        a = draw(tensor_spec())
        nd = len(a.shape)
        args = [add(a)]
        numel = math.prod(a.shape)
        if name in ("reshape", "view"):
            divisors = [d for d in range(1, 7) if numel % d == 0] or [1]
            d = draw(st.sampled_from(divisors))
            shape = draw(
                st.sampled_from(
                    [(numel,), (-1,), (d, -1), (-1, d), (d, numel // d if numel else 0),
                     (numel + 1,), (-1, -1), ()]
                )
            )  # fmt: skip
            args.append(shape)
        elif name == "transpose":
            args += [dim_arg(draw, nd, tuples=False), dim_arg(draw, nd, tuples=False)]
        elif name == "permute":
            perm = draw(st.permutations(list(range(nd))))
            if draw(st.integers(0, 3)) == 0:
                perm = draw(st.lists(st.integers(-nd - 1, nd), max_size=nd + 1))
            args.append(tuple(perm))
        elif name in ("squeeze", "unsqueeze"):
            if name == "unsqueeze" or draw(st.booleans()):
                args.append(dim_arg(draw, nd + (name == "unsqueeze"), tuples=False))
        elif name == "flatten":
            if draw(st.booleans()):
                args += [dim_arg(draw, nd, tuples=False), dim_arg(draw, nd, tuples=False)]
        elif name == "expand":
            args.append(
                tuple(draw(st.sampled_from([s, -1, 2] if s == 1 else [s, -1])) for s in a.shape)
                if draw(st.integers(0, 3))
                else tuple(draw(st.lists(st.integers(-1, 3), max_size=4)))
            )
        elif name == "flip":
            args.append(dim_arg(draw, nd, tuples=True))
            if isinstance(args[-1], int):
                args[-1] = (args[-1],)
        elif name in ("split", "chunk"):
            args.append(draw(st.integers(-1, 4)))
            if draw(st.booleans()):
                args.append(dim_arg(draw, nd, tuples=False))
        elif name == "repeat":
            args.append(tuple(draw(st.lists(st.integers(0, 2), min_size=nd, max_size=nd + 1))))
        elif name == "unbind" and draw(st.booleans()):
            args.append(dim_arg(draw, nd, tuples=False))
    elif family in ("getitem", "setitem"):
        kind = family
        name = family
        a = draw(tensor_spec(ndim=draw(st.integers(0, 3))))
        nd = len(a.shape)
        args = [add(a)]
        parts = []
        for d in range(draw(st.integers(0, nd + 1))):
            size = a.shape[d] if d < nd else 1
            part = draw(
                st.sampled_from(
                    ["int", "slice", "none", "ellipsis", "itensor", "list", "bool", "uint8"]
                )
            )
            if part == "int":
                parts.append(draw(st.integers(-size - 1, size)))
            elif part == "slice":
                parts.append(
                    slice(
                        draw(st.one_of(st.none(), st.integers(-4, 4))),
                        draw(st.one_of(st.none(), st.integers(-4, 4))),
                        draw(st.sampled_from([None, 1, 2, 3])),
                    )
                )
            elif part == "none":
                parts.append(None)
            elif part == "ellipsis":
                parts.append(Ellipsis)
            elif part == "itensor":
                parts.append(
                    add(
                        draw(
                            tensor_spec(
                                ndim=draw(st.integers(0, 2)), dtype="int64", ints=(-size, size)
                            )
                        )
                    )
                )
            elif part == "list":
                parts.append(draw(st.lists(st.integers(-size, max(size - 1, 0)), max_size=3)))
            else:  # a mask, bool or (deprecated in PyTorch) uint8
                mask = draw(
                    tensor_spec(shape=a.shape[d:], dtype=part if part == "uint8" else "bool")
                )
                if part == "uint8":
                    mask.low, mask.high = 0, 2
                parts.append(add(mask))
        key = tuple(parts) if len(parts) != 1 or draw(st.booleans()) else parts[0]
        args.append(key)
        if family == "setitem":
            value = draw(
                st.one_of(
                    st.sampled_from([0, 1.5, -2, True]),
                    st.builds(lambda: None).map(
                        lambda _: add(
                            draw(
                                tensor_spec(
                                    shape=tuple(draw(st.lists(st.integers(0, 2), max_size=2))),
                                    dtype=a.dtype,
                                )
                            )
                        )
                    ),
                )
            )
            args.append(value)
    elif family == "creation":
        name = draw(
            st.sampled_from(
                ["zeros", "ones", "full", "arange", "linspace", "eye", "zeros_like",
                 "ones_like", "full_like"]
            )
        )  # fmt: skip
        if name in ("zeros", "ones", "full"):
            args = [tuple(draw(st.lists(st.integers(-1, 3), max_size=3)))]
            if name == "full":
                args.append(draw(st.sampled_from([1, 2.5, True, -3, math.nan])))
        elif name == "arange":
            args = draw(
                st.lists(
                    st.one_of(st.integers(-4, 6), st.sampled_from([0.5, 2.5, -1.5, 0])),
                    min_size=1,
                    max_size=3,
                )
            )
        elif name == "linspace":
            args = [
                draw(st.sampled_from([0, -1.5, 2, 1.0])),
                draw(st.sampled_from([1, 3.5, -2, 0.0])),
                draw(st.integers(-1, 5)),
            ]
        elif name == "eye":
            args = [draw(st.integers(-1, 4))]
            if draw(st.booleans()):
                args.append(draw(st.integers(-1, 4)))
        else:
            args = [add(draw(tensor_spec()))]
            if name == "full_like":
                args.append(draw(st.sampled_from([1, 2.5, True, -3])))
        if draw(st.booleans()):
            kwargs["dtype"] = "dtype:" + draw(st.sampled_from(DTYPES))
    elif family == "activation":
        kind = "F"
        name = draw(st.sampled_from(ACTIVATIONS))
        args = [add(draw(tensor_spec(floats_only=draw(st.integers(0, 5)) > 0)))]
        if name == "leaky_relu" and draw(st.booleans()):
            args.append(draw(st.sampled_from([0.01, 0.2, -1.0, 0])))
        if name == "gelu" and draw(st.booleans()):
            kwargs["approximate"] = draw(st.sampled_from(["none", "tanh"]))
        if name == "softplus" and draw(st.booleans()):
            kwargs["beta"] = draw(st.sampled_from([1, 2.0, 0.5]))
    elif family == "loss":
        kind = "F"
        name = draw(st.sampled_from(LOSSES + ["cross_entropy", "nll_loss"]))
        dtype = draw(st.sampled_from(["float32", "float64"]))
        if name in ("cross_entropy", "nll_loss"):
            n, c = draw(st.integers(0, 3)), draw(st.integers(1, 4))
            logits = draw(tensor_spec(shape=(n, c), dtype=dtype))
            target = draw(
                tensor_spec(shape=(n,), dtype="int64", ints=(-1 if draw(st.booleans()) else 0, c))
            )
            args = [add(logits), add(target)]
        else:
            shape = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
            # Probabilities where the loss wants them (kl_div's target).
            probs = name == "binary_cross_entropy"
            x = draw(tensor_spec(shape=shape, dtype=dtype, ints=(0, 1) if probs else None))
            probs = probs or name == "kl_div"
            y = draw(
                tensor_spec(
                    shape=broadcastable(draw, shape), dtype=dtype, ints=(0, 1) if probs else None
                )
            )
            args = [add(x), add(y)]
        if draw(st.booleans()):
            kwargs["reduction"] = draw(st.sampled_from(["mean", "sum", "none", "bogus"]))
    elif family == "gather":
        name = draw(st.sampled_from(["gather", "scatter_add"]))
        kind = draw(st.sampled_from(["fn", "method"]))
        a = draw(tensor_spec(ndim=draw(st.integers(1, 3))))
        nd = len(a.shape)
        d = dim_arg(draw, nd, tuples=False)
        size = a.shape[d] if -nd <= d < nd else 1
        idx_shape = tuple(min(s, draw(st.integers(0, 2))) for s in a.shape)
        if draw(st.integers(0, 3)) == 0:  # an index larger than the input
            idx_shape = tuple(draw(st.integers(0, 3)) for _ in a.shape)
        bounds = (0, max(size, 1))
        if draw(st.integers(0, 5)) == 0:  # out of range (high > 99 marks it)
            bounds = draw(st.sampled_from([(-3, 0), (size, size + 100)]))
        idx = draw(tensor_spec(shape=idx_shape, dtype="int64", ints=bounds))
        args = [add(a), d, add(idx)]
        if name == "scatter_add":
            args.append(add(draw(tensor_spec(shape=idx_shape, dtype=a.dtype))))
    elif family == "where":
        name = "where"
        cond = draw(tensor_spec(dtype="bool"))
        args = [add(cond)]
        for _ in range(2):  # numbers (two of them, now and then) or tensors
            if draw(st.integers(0, 2)) == 0:
                args.append(draw(st.sampled_from(WHERE_NUMBERS)))
            else:
                args.append(add(draw(tensor_spec(shape=broadcastable(draw, cond.shape)))))
    elif family == "clamp":
        name = "clamp"
        kind = draw(st.sampled_from(["fn", "method"]))
        a = draw(tensor_spec())
        args = [add(a)]
        bounds = st.one_of(st.none(), st.sampled_from([-1, 0.5, 2, 0.0, -0.5, math.nan]))
        kwargs = {"min": draw(bounds), "max": draw(bounds)}
    else:  # cat
        name = draw(st.sampled_from(["cat", "stack"]))
        a = draw(tensor_spec())
        items = [add(a)]
        for _ in range(draw(st.integers(0, 2))):
            shape = list(a.shape)
            if shape and draw(st.booleans()):
                shape[draw(st.integers(0, len(shape) - 1))] = draw(st.integers(0, 3))
            items.append(
                add(draw(tensor_spec(shape=tuple(shape), dtype=draw(st.sampled_from(DTYPES)))))
            )
        args = [items]
        if draw(st.booleans()):
            kwargs["dim"] = dim_arg(draw, len(a.shape) + (name == "stack"), tuples=False)
    # Arguments of the wrong kind, now and then, in any position.
    if draw(st.integers(0, 6)) == 0:
        first = 1 if kind in ("getitem", "setitem") else 0  # x[...] needs a tensor x
        slots = [("a", i) for i in range(first, len(args))] + [("k", k) for k in kwargs]
        if slots:
            where, key = draw(st.sampled_from(slots))
            bad = _wrong_value(draw(st.sampled_from(WRONG)))
            if draw(st.integers(0, 5)) == 0:  # a tensor (where a shape, a dim, ... goes)
                bad = add(TensorSpec((2,), "int64", 0, low=1, high=3))
            if where == "a":
                args[key] = bad
            else:
                kwargs[key] = bad
    grad = name not in NOT_DIFFERENTIABLE and kind != "setitem" and family != "creation"
    return Call(f"{kind}:{name}", kind, name, args, kwargs, tensors, grad)


# ---------------------------------------------------------------------------
# The property.


class Disagreement(AssertionError):
    pass


def _outcome(lib: Lib, call: Call, requires_grad: bool = False):
    try:
        out, leaves = lib.run(call, requires_grad)
        return True, out, leaves
    except Exception as exc:  # noqa: BLE001 - any error is one outcome
        return False, exc, None


def _check_rule(call: Call, exc: BaseException) -> None:
    if not isinstance(exc, STANDARD):
        raise Disagreement(f"rule: {type(exc).__name__} is not a standard type: {exc}")
    if not str(exc).startswith("["):
        raise Disagreement(f"rule: message does not start with [op]: {type(exc).__name__}: {exc}")


def _float_outputs(out) -> list:
    if isinstance(out, (tuple, list)):
        return [o for x in out for o in _float_outputs(x)]
    if getattr(out, "requires_grad", False) and str(out.dtype)[-7:] in ("float32", "float64"):
        return [out]
    return []


def _grads(lib: Lib, call: Call):
    import numpy as np

    ok, out, leaves = _outcome(lib, call, requires_grad=True)
    if not ok:
        return ("raised", out)
    outs = _float_outputs(out)
    if not outs:
        return ("none", None)
    try:
        loss = None
        for o in outs:
            w = np.cos(np.arange(max(o.numel(), 1), dtype=np.float64))[: o.numel()]
            w = lib.mod.tensor(w.reshape(tuple(o.shape))).to(o.dtype)
            term = (o * w).sum()
            loss = term if loss is None else loss + term
        loss.backward()
    except Exception as exc:  # noqa: BLE001
        return ("raised", exc)
    grads = []
    for leaf in leaves:
        if getattr(leaf, "requires_grad", False):
            g = leaf.grad
            grads.append(None if g is None else _summary(g, lib.name))
    return ("ok", grads)


def check(call: Call, devrt_lib: Lib, torch_lib: Lib, stats: dict, log=None) -> None:
    """Raises Disagreement when devrt and torch differ outside DEVIATIONS;
    `log(call, outcome, family)` hears of every disagreement."""
    d_ok, d_out, _ = _outcome(devrt_lib, call)
    t_ok, t_out, _ = _outcome(torch_lib, call)
    if not d_ok:
        _check_rule(call, d_out)
    outcome = None
    if d_ok and not t_ok:
        outcome = f"torch raised {type(t_out).__name__}: {str(t_out)[:120]}"
    elif t_ok and not d_ok:
        outcome = f"devrt raised {type(d_out).__name__}: {str(d_out)[:160]}"
    elif d_ok and t_ok:
        outcome = _difference(_summary(d_out, "devrt"), _summary(t_out, "torch"))
        if outcome is None and call.grad and _dtypes(call) & {"float32", "float64"}:
            dg = _grads(devrt_lib, call)
            tg = _grads(torch_lib, call)
            if dg[0] == "raised":
                _check_rule(call, dg[1])
            if dg[0] != tg[0]:
                outcome = f"grad: {dg[0]} vs {tg[0]}: {dg[1] if dg[0] == 'raised' else tg[1]}"
            elif dg[0] == "ok":
                for i, (a, b) in enumerate(zip(dg[1], tg[1])):
                    if a is None or b is None:
                        z = b if a is None else a
                        if z is not None and z[3].any():
                            outcome = f"grad [{i}]: None vs nonzero"
                            break
                        continue
                    diff = _difference(a, b, _loosest(call))
                    if diff:
                        outcome = f"grad [{i}] {diff}"
                        break
    if outcome is None:
        stats["agree"] = stats.get("agree", 0) + 1
        return
    family = deviation(call, outcome)
    if log is not None:
        log(call, outcome, family)
    if family is not None:
        stats.setdefault("known", {}).setdefault(family, 0)
        stats["known"][family] += 1
        return
    raise Disagreement(outcome)


# ---------------------------------------------------------------------------
# The child process.


def _child(examples: int, seed: int | None, collect: str | None) -> None:
    import warnings

    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    warnings.simplefilter("ignore")
    devrt_lib, torch_lib = Lib("devrt"), Lib("torch")
    stats: dict = {}
    found: list = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=seed is None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(st.data())
    def prop(data):
        call = _draw_call(data.draw)
        print(json.dumps({"call": repr(call)}), flush=True)
        try:
            check(call, devrt_lib, torch_lib, stats, log if collect else None)
        except Disagreement as exc:
            if collect is None:
                raise AssertionError(f"{call!r}: {exc}") from None
            if str(exc).startswith("rule:"):  # the others were logged by check
                log(call, str(exc), None)
            found.append(call)
        except Exception as exc:  # noqa: BLE001 - a long run goes on past a bug of its own
            if collect is None:
                raise
            log(call, f"fuzzer error: {type(exc).__name__}: {exc}", None)
            found.append(call)

    def log(call, outcome, family):
        record = {"call": repr(call), "label": call.label, "outcome": outcome, "family": family}
        with open(collect, "a") as f:
            f.write(json.dumps(record) + "\n")

    if seed is not None:
        prop = hseed(seed)(prop)
    prop()
    print(json.dumps({"stats": stats, "found": len(found)}), flush=True)


def run_child(examples: int, seed: int | None, collect: str | None = None, timeout=850):
    """Runs the fuzzer in a child; (returncode, last call, stdout, stderr)."""
    argv = [sys.executable, __file__, str(examples), "none" if seed is None else str(seed)]
    if collect:
        argv.append(collect)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    last = None
    for line in proc.stdout.splitlines():
        if line.startswith('{"call"'):
            last = json.loads(line)["call"]
    return proc.returncode, last, proc.stdout, proc.stderr


def _documented(table: list) -> list[str]:
    """The entries of a deviation table whose documentation is not what it
    says: a sentence of the docs page it names (whitespace aside), or a
    an "open" finding."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    bad = []
    for family, doc, _pred in table:
        if doc.startswith(OPEN):
            continue
        page, _, sentence = doc.partition(": ")
        text = " ".join((root / page).read_text().split()) if page.endswith(".md") else ""
        if " ".join(sentence.split()) not in text:
            bad.append(family)
    return bad


def test_deviation_table_is_documented():
    assert not _documented(DEVIATIONS)


@pytest.mark.timeout(900)
def test_eager_differential_fuzz():
    rc, last, _, stderr = run_child(EXAMPLES, None if SEED is None else int(SEED))
    if rc < 0:
        pytest.fail(f"crashed (signal {-rc}) in {last}")
    if rc:
        pytest.fail(stderr[-6000:])


if __name__ == "__main__":
    _child(
        int(sys.argv[1]),
        None if sys.argv[2] == "none" else int(sys.argv[2]),
        sys.argv[3] if len(sys.argv) > 3 else None,
    )
