"""Differential fuzzer of the graph front end (``import devrt.graph as tf``):
random op constructors (math, array, nn, losses, layers) on placeholders of
random partial shapes and dtypes, with arguments of the wrong kind now and
then, run by ``Session.run`` with random feeds (of the right shape, of a
wrong shape or dtype, of a tensor the graph does not hold) and random
fetches (nested lists, tuples and dicts of tensors, non-tensors).

The property: building and running either raise a standard exception
(the TF-style classes of devrt.graph.errors are subclasses of them) whose
message starts with ``[op]``, or succeed with the values, shapes and dtypes
of a NumPy evaluation of the same op, in the structure of the fetches; a
static shape the graph infers agrees with the value's. A wrong feed or
fetch must raise. GRAPH_DEVIATIONS lists the known differences (none is
skipped otherwise).

As the eager fuzzer (test_fuzz_differential.py), hypothesis runs in a child
process that announces each case, CI runs a fixed derandomized budget, and
longer runs go by hand:

    DEVRT_FUZZ_EXAMPLES=5000 DEVRT_FUZZ_SEED=3 pytest tests/unit/test_fuzz_graph.py
    python tools/fuzz.py --graph --seeds 1 2 --examples 5000
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

EXAMPLES = int(os.environ.get("DEVRT_FUZZ_EXAMPLES", "400"))
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
DTYPES = ["float32", "float64", "int32", "int64", "bool"]
TOLERANCE = {"float64": (1e-9, 1e-12), "float32": (2e-4, 1e-5)}


class Disagreement(AssertionError):
    pass


def _np_ops():
    """name -> (kind, constructor name, NumPy oracle)."""
    import numpy as np

    def softmax(x, axis=-1):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    unary = {
        "abs": np.abs, "negative": np.negative, "exp": np.exp, "log": np.log,
        "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
        "sigmoid": sigmoid, "floor": np.floor, "ceil": np.ceil, "square": np.square,
        "rsqrt": lambda x: 1 / np.sqrt(x), "reciprocal": lambda x: 1 / x, "sign": np.sign,
        "log1p": np.log1p, "expm1": np.expm1, "is_nan": np.isnan, "is_finite": np.isfinite,
        "logical_not": np.logical_not, "nn.relu": lambda x: np.maximum(x, 0),
        "nn.softplus": lambda x: np.logaddexp(0, x), "nn.softmax": softmax,
        "nn.log_softmax": lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True)),
        "nn.relu6": lambda x: np.minimum(np.maximum(x, 0), 6),
    }  # fmt: skip
    binary = {
        "add": np.add, "subtract": np.subtract, "multiply": np.multiply,
        "truediv": np.true_divide, "maximum": np.maximum, "minimum": np.minimum,
        "pow": np.power, "equal": np.equal, "not_equal": np.not_equal, "less": np.less,
        "greater_equal": np.greater_equal, "floordiv": np.floor_divide,
        "floormod": np.mod, "squared_difference": lambda a, b: (a - b) ** 2,
        "logical_and": np.logical_and, "logical_or": np.logical_or,
    }  # fmt: skip
    reductions = {
        "reduce_sum": np.sum, "reduce_mean": np.mean, "reduce_max": np.max,
        "reduce_min": np.min, "reduce_prod": np.prod, "reduce_all": np.all,
        "reduce_any": np.any,
    }  # fmt: skip
    return unary, binary, reductions


@dataclass
class Case:
    """One graph: placeholders (shape, dtype), an op built on them, feeds
    and fetches."""

    op: str
    placeholders: list  # (partial shape or None, dtype)
    values: list  # the arrays fed, one per placeholder
    args: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)
    fetch: str = "plain"  # "plain", "list", "dict", "nested", "bad"
    feed: str = "right"  # "right", "wrong_shape", "wrong_dtype", "unknown", "missing"
    wrong_kind: bool = False  # an argument of the wrong kind was put in

    def __repr__(self) -> str:
        ph = ", ".join(f"{d}{s if s is None else list(s)}" for s, d in self.placeholders)
        fed = ", ".join(f"{v.dtype}{list(v.shape)}" for v in self.values)
        return (
            f"{self.op}(ph=[{ph}], args={self.args!r:.200}, kwargs={self.kwargs!r:.200}) "
            f"feed={self.feed}[{fed}] fetch={self.fetch}"
        )


def _draw_case(draw) -> Case:
    import hypothesis.strategies as st
    import numpy as np

    unary, binary, reductions = _np_ops()
    family = draw(
        st.sampled_from(
            ["unary", "binary", "reduction", "matmul", "reshape", "transpose", "concat",
             "cumsum", "expand_dims", "squeeze", "loss", "dense", "cast", "gather"]
        )
    )  # fmt: skip
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))

    def value(shape, dtype):
        if dtype == "bool":
            return rng.integers(0, 2, size=shape).astype(bool)
        if dtype.startswith("int"):
            return rng.integers(1, 6, size=shape).astype(dtype)
        return np.asarray(np.round(rng.normal(0, 2, size=shape), 3)).astype(dtype)

    def shape(ndim=None):
        n = draw(st.integers(0, 3)) if ndim is None else ndim
        return tuple(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))

    def partial(s):
        """What the placeholder declares of shape `s`."""
        how = draw(st.sampled_from(["exact", "exact", "some_none", "unknown_rank"]))
        if how == "exact":
            return s
        if how == "unknown_rank":
            return None
        return tuple(None if draw(st.booleans()) else d for d in s)

    def axis(ndim):
        return draw(
            st.one_of(
                st.none(),
                st.integers(-ndim - 1, ndim),
                st.lists(st.integers(-ndim, max(ndim - 1, 0)), max_size=2, unique=True),
            )
        )

    dtype = draw(st.sampled_from(DTYPES))
    floats = draw(st.sampled_from(["float32", "float64"]))
    s = shape()
    args: list = []
    kwargs: dict = {}
    if family == "unary":
        op = draw(st.sampled_from(sorted(unary)))
        if op == "logical_not":
            dtype = "bool"
        elif op not in ("abs", "negative", "sign", "square") and not op.startswith("is_"):
            dtype = floats  # float functions (TensorFlow has no integer kernels)
        elif dtype == "bool":
            dtype = floats
        phs = [(s, dtype)]
    elif family == "binary":
        op = draw(st.sampled_from(sorted(binary)))
        if op.startswith("logical"):
            dtype = "bool"
        elif dtype == "bool":
            dtype = floats
        s2 = s[len(s) - draw(st.integers(0, len(s))) :]
        s2 = tuple(1 if draw(st.integers(0, 3)) == 0 else d for d in s2)
        if draw(st.integers(0, 9)) == 0:
            s2 = shape()  # (usually) not broadcastable
        other = dtype if draw(st.integers(0, 7)) else draw(st.sampled_from(DTYPES))
        phs = [(s, dtype), (s2, other)]
    elif family == "reduction":
        op = draw(st.sampled_from(sorted(reductions)))
        if op in ("reduce_all", "reduce_any"):
            dtype = "bool"
        elif dtype == "bool":
            dtype = floats
        phs = [(s, dtype)]
        kwargs["axis"] = axis(len(s))
        if draw(st.booleans()):
            kwargs["keepdims"] = draw(st.booleans())
    elif family == "matmul":
        op = "matmul"
        n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
        k2 = k if draw(st.integers(0, 5)) else draw(st.integers(1, 3))
        ta, tb = draw(st.booleans()), draw(st.booleans())
        a = (k, n) if ta else (n, k)
        b = (m, k2) if tb else (k2, m)
        if draw(st.booleans()):
            batch = draw(st.integers(1, 2))
            a, b = (batch, *a), (batch, *b)
        phs = [(a, floats), (b, floats)]
        kwargs = {"transpose_a": ta, "transpose_b": tb}
    elif family == "reshape":
        op = "reshape"
        phs = [(s, dtype)]
        numel = math.prod(s)
        args = [draw(st.sampled_from([[numel], [-1], [1, -1], [-1, 1], [numel + 1], [-1, -1], []]))]
    elif family == "transpose":
        op = "transpose"
        phs = [(s, dtype)]
        if draw(st.booleans()):
            perm = list(draw(st.permutations(list(range(len(s))))))
            if draw(st.integers(0, 4)) == 0:
                perm = draw(st.lists(st.integers(-1, len(s)), max_size=len(s) + 1))
            kwargs["perm"] = perm
    elif family == "concat":
        op = draw(st.sampled_from(["concat", "stack"]))
        n = draw(st.integers(1, 3))
        shapes = [s]
        for _ in range(n - 1):
            t = list(s)
            if t and draw(st.integers(0, 3)) == 0:
                t[draw(st.integers(0, len(t) - 1))] = draw(st.integers(0, 3))
            shapes.append(tuple(t))
        phs = [(t, dtype) for t in shapes]
        kwargs["axis"] = draw(st.integers(-len(s) - 2, len(s) + 1))
    elif family == "cumsum":
        op = "cumsum"
        if dtype == "bool":
            dtype = floats
        phs = [(s, dtype)]
        kwargs["axis"] = draw(st.integers(-len(s) - 1, len(s)))
        kwargs["exclusive"] = draw(st.booleans())
        kwargs["reverse"] = draw(st.booleans())
    elif family == "expand_dims":
        op = "expand_dims"
        phs = [(s, dtype)]
        kwargs["axis"] = draw(st.integers(-len(s) - 2, len(s) + 1))
    elif family == "squeeze":
        op = "squeeze"
        s = tuple(1 if draw(st.booleans()) else d for d in s)
        phs = [(s, dtype)]
        if draw(st.booleans()):
            kwargs["axis"] = draw(st.lists(st.integers(-len(s) - 1, len(s)), max_size=2))
    elif family == "loss":
        op = draw(
            st.sampled_from(
                ["losses.mean_squared_error", "losses.absolute_difference",
                 "nn.sigmoid_cross_entropy_with_logits", "nn.l2_loss"]
            )
        )  # fmt: skip
        phs = [(s, floats), (s, floats)] if op != "nn.l2_loss" else [(s, floats)]
    elif family == "dense":
        op = "layers.dense"
        s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        phs = [(s, floats)]
        args = [draw(st.integers(1, 3))]
    elif family == "cast":
        op = "cast"
        phs = [(s, dtype)]
        args = [draw(st.sampled_from(DTYPES))]
    else:
        op = "gather"
        if not s:
            s = (2,)
        phs = [(s, dtype), (shape(draw(st.integers(0, 2))), "int32")]
        kwargs["axis"] = draw(st.integers(-len(s) - 1, len(s)))
    values = [value(sh, dt) for sh, dt in phs]
    if op == "gather":
        ax = kwargs["axis"]
        size = s[ax] if -len(s) <= ax < len(s) else 1
        hi = size + (3 if draw(st.integers(0, 5)) == 0 else 0)
        values[1] = rng.integers(0, max(hi, 1), size=values[1].shape).astype(np.int32)
    declared = [(partial(sh), dt) for sh, dt in phs]
    # Arguments of the wrong kind, now and then.
    wrong_kind = False
    if draw(st.integers(0, 7)) == 0:
        slots = [("a", i) for i in range(len(args))] + [("k", k) for k in kwargs]
        if slots:
            where, key = draw(st.sampled_from(slots))
            bad = draw(st.sampled_from([None, "abc", 2**70, -(2**40), math.nan, [1.5], 1.5]))
            if where == "a":
                args[key] = bad
            else:
                kwargs[key] = bad
            wrong_kind = True
    fetch = draw(st.sampled_from(["plain", "plain", "list", "dict", "nested", "bad"]))
    feed = draw(
        st.sampled_from(
            ["right"] * 6 + ["wrong_shape", "wrong_dtype", "unknown", "missing", "bad_key"]
        )
    )
    return Case(op, declared, values, args, kwargs, fetch, feed, wrong_kind)


def _numpy(case: Case):
    """The NumPy value of the op, or the exception NumPy raises."""
    import numpy as np

    unary, binary, reductions = _np_ops()
    vals, op, kw = case.values, case.op, case.kwargs
    with np.errstate(all="ignore"):
        if op in ("nn.softmax", "nn.log_softmax") and vals[0].ndim == 0:
            raise ValueError("softmax of a 0-d tensor")
        if op in ("nn.softmax", "nn.log_softmax") and vals[0].size == 0:
            return vals[0]  # (NumPy's max has no identity)
        if op in unary:
            return unary[op](vals[0])
        if op in binary:
            a, b = vals
            if a.dtype != b.dtype:
                raise TypeError("mixed dtypes")
            if op in ("floordiv", "floormod", "truediv") and a.dtype.kind in "iu":
                if (b == 0).any():
                    raise ZeroDivisionError
            r = binary[op](a, b)
            return r.astype(a.dtype) if op in ("pow", "squared_difference") else r
        if op in reductions:
            ax = kw.get("axis")
            ax = tuple(ax) if isinstance(ax, list) else ax
            nd = vals[0].ndim
            for a in ax if isinstance(ax, tuple) else () if ax is None else (ax,):
                if not -nd <= a < nd:  # (NumPy takes axis 0 of a 0-d array)
                    raise ValueError(f"axis {a} out of range for rank {nd}")
            # keepdims is taken for its truth value, as TensorFlow does
            r = reductions[op](vals[0], axis=ax, keepdims=bool(kw.get("keepdims", False)))
            return np.asarray(r).astype(vals[0].dtype)
        if op == "matmul":
            a, b = vals
            if kw["transpose_a"]:
                a = np.swapaxes(a, -1, -2)
            if kw["transpose_b"]:
                b = np.swapaxes(b, -1, -2)
            return a @ b
        if op == "reshape":
            return vals[0].reshape(case.args[0])
        if op == "transpose":
            perm, nd = kw.get("perm"), vals[0].ndim
            if perm is not None:  # negative entries count from the end, as NumPy's
                perm = [p + nd if -nd <= p < 0 else p for p in perm]
                if sorted(perm) != list(range(nd)):
                    raise ValueError("bad perm")
            return np.transpose(vals[0], perm)
        if op == "concat" and len(vals) == 1:
            return vals[0]  # an Identity, whatever the axis (as TensorFlow)
        if op == "concat":
            if vals[0].ndim == 0:
                raise ValueError("0-d")
            return np.concatenate(vals, axis=kw["axis"])
        if op == "stack":
            return np.stack(vals, axis=kw["axis"])
        if op == "cumsum":
            x, ax = vals[0], kw["axis"]
            if x.ndim == 0:
                raise ValueError("0-d")
            if kw["reverse"]:
                x = np.flip(x, ax)
            r = np.cumsum(x, axis=ax).astype(x.dtype)
            if kw["exclusive"]:
                r = r - x
            return np.flip(r, ax) if kw["reverse"] else r
        if op == "expand_dims":
            if not -vals[0].ndim - 1 <= kw["axis"] <= vals[0].ndim:
                raise ValueError("axis")
            return np.expand_dims(vals[0], kw["axis"])
        if op == "squeeze":
            ax = kw.get("axis")
            return np.squeeze(vals[0], axis=tuple(ax) if ax else None)
        # The losses divide by the number of (nonzero-weight) entries, 0
        # for none.
        if op == "losses.mean_squared_error":
            d = (vals[0] - vals[1]) ** 2
            return np.asarray(d.mean() if d.size else 0).astype(vals[0].dtype)
        if op == "losses.absolute_difference":
            d = np.abs(vals[0] - vals[1])
            return np.asarray(d.mean() if d.size else 0).astype(vals[0].dtype)
        if op == "nn.sigmoid_cross_entropy_with_logits":
            x, z = vals
            return (np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))).astype(x.dtype)
        if op == "nn.l2_loss":
            return np.asarray((vals[0] ** 2).sum() / 2).astype(vals[0].dtype)
        if op == "cast":
            return vals[0].astype(np.dtype(case.args[0]))
        if op == "gather":
            ax = 0 if kw["axis"] is None else kw["axis"]
            x, idx = vals
            if not -x.ndim <= ax < x.ndim:
                raise IndexError("axis out of range")
            if x.shape[ax] == 0 and idx.size:
                raise IndexError("out of range")
            if x.size == 0:  # nothing is read: only the shape counts
                return np.zeros(x.shape[:ax] + idx.shape + x.shape[ax:][1:], x.dtype)
            if (idx >= x.shape[ax]).any():
                raise IndexError("out of range")
            return np.take(x, idx, axis=ax)
    return None  # layers.dense: checked against the layer's own variables


def _build(tf, case: Case, phs):
    op = case.op
    fn = tf
    for part in op.split("."):
        fn = getattr(fn, part)
    if op in ("concat", "stack"):
        return fn(phs, *case.args, **case.kwargs)
    if op == "losses.mean_squared_error" or op == "losses.absolute_difference":
        return fn(phs[0], phs[1], *case.args, **case.kwargs)
    if op == "nn.sigmoid_cross_entropy_with_logits":
        return fn(logits=phs[0], labels=phs[1])
    return fn(*phs, *case.args, **case.kwargs)


def _check_rule(where: str, exc: BaseException) -> None:
    if not isinstance(exc, STANDARD):
        raise Disagreement(f"rule ({where}): {type(exc).__name__} is not standard: {exc}")
    if not str(exc).startswith("["):
        raise Disagreement(f"rule ({where}): no [op] prefix: {type(exc).__name__}: {exc}")


def _close(got, want) -> str | None:
    import numpy as np

    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        return f"shape {got.shape} vs {want.shape}"
    if got.dtype != want.dtype:
        return f"dtype {got.dtype} vs {want.dtype}"
    if want.dtype.kind != "f":
        return (
            None if np.array_equal(got, want) else f"values {got.ravel()[:6]} vs {want.ravel()[:6]}"
        )
    rtol, atol = TOLERANCE[str(want.dtype)]
    if np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
        return None
    return f"values {got.ravel()[:6]} vs {want.ravel()[:6]}"


OPEN = "open (found by this fuzzer, not fixed yet): "  # as in test_fuzz_differential

GRAPH_DEVIATIONS: list = [
    (
        "mixed dtypes of binary ops",
        "docs/graph.md: operands of two dtypes are promoted as in eager devrt (TensorFlow raises)",
        lambda case, outcome: (
            case.op in _np_ops()[1]
            and case.placeholders[0][1] != case.placeholders[1][1]
            and outcome.startswith("devrt succeeded")
        ),
    ),
]
"""(family, documentation, predicate(case, outcome) -> bool)."""


def check(case: Case, stats: dict, log=None) -> None:  # noqa: C901 - one path per outcome
    import numpy as np

    import devrt.graph as tf

    def disagree(outcome: str) -> None:
        family = next((f for f, _d, p in GRAPH_DEVIATIONS if p(case, outcome)), None)
        if log is not None:
            log(case, outcome, family)
        if family is not None:
            stats.setdefault("known", {}).setdefault(family, 0)
            stats["known"][family] += 1
            return
        raise Disagreement(outcome)

    wrong = None
    if case.feed == "wrong_shape":  # one more dimension than the value has
        v = case.values[0]
        wrong = np.zeros(v.shape + (2,), v.dtype)
        if case.placeholders[0][0] is None:  # any rank goes: the fed value is the value
            case.values[0] = wrong
    try:
        want = _numpy(case)
        np_error = None
    except Exception as exc:  # noqa: BLE001 - NumPy refusing is one outcome
        want, np_error = None, exc
    graph = tf.Graph()
    with graph.as_default():
        phs = [tf.placeholder(getattr(tf, dt), shape=sh) for sh, dt in case.placeholders]
        try:
            out = _build(tf, case, phs)
        except Exception as exc:  # noqa: BLE001
            _check_rule("build", exc)
            if np_error is None and case.op != "layers.dense" and case.feed == "right":
                # A wrong-kind argument, or a shape the declared partial
                # shapes rule out, may fail at build time only.
                declared_ok = all(
                    sh is None or len(sh) == v.ndim
                    for (sh, _), v in zip(case.placeholders, case.values)
                )
                if declared_ok and not case.wrong_kind:
                    disagree(f"devrt raised at build: {type(exc).__name__}: {str(exc)[:160]}")
            stats["raised"] = stats.get("raised", 0) + 1
            return
        init = tf.global_variables_initializer() if case.op == "layers.dense" else None
        # The static shape must admit the value's shape.
        static = out.shape
        if want is not None and static.rank is not None:
            dims = static.as_list()
            if len(dims) != np.ndim(want) or any(
                d is not None and d != w for d, w in zip(dims, np.shape(want))
            ):
                disagree(f"static shape {dims} vs value {np.shape(want)}")
        feed_dict = {p: v for p, v in zip(phs, case.values)}
        must_raise = False
        if case.feed == "wrong_shape":
            feed_dict[phs[0]] = wrong
            must_raise = case.placeholders[0][0] is not None
        elif case.feed == "wrong_dtype":  # strings that are no numbers
            feed_dict[phs[0]] = np.full(case.values[0].shape, "abc")
            # (a non-empty string is True for a bool placeholder, as in NumPy)
            must_raise = case.values[0].size > 0 and case.values[0].dtype != bool
        elif case.feed == "unknown":
            with tf.Graph().as_default():
                feed_dict[tf.placeholder(tf.float32)] = np.zeros(2, np.float32)
            must_raise = True
        elif case.feed == "missing":
            del feed_dict[phs[0]]
            must_raise = True
        elif case.feed == "bad_key":
            feed_dict["not a tensor:0"] = 1.0
            must_raise = True
        fetches: object = out
        if case.fetch == "list":
            fetches = [out, out]
        elif case.fetch == "dict":
            fetches = {"a": out, "b": [out]}
        elif case.fetch == "nested":
            fetches = ({"x": (out,)}, [out])
        elif case.fetch == "bad":
            fetches = [out, 3]
            must_raise = True
        with tf.Session() as sess:
            try:
                if init is not None:
                    sess.run(init)
                got = sess.run(fetches, feed_dict=feed_dict)
            except Exception as exc:  # noqa: BLE001
                _check_rule("run", exc)
                if not must_raise and np_error is None:
                    disagree(f"devrt raised at run: {type(exc).__name__}: {str(exc)[:160]}")
                stats["raised"] = stats.get("raised", 0) + 1
                return
            if must_raise:
                disagree(f"devrt succeeded with feed={case.feed} fetch={case.fetch}")
                return
            if case.feed != "right" and case.feed != "wrong_shape":
                stats["agree"] = stats.get("agree", 0) + 1
                return  # an empty wrong-dtype feed
            # The structure of the fetches.
            if case.fetch == "list":
                assert isinstance(got, list) and len(got) == 2, type(got)
                got = got[0]
            elif case.fetch == "dict":
                assert set(got) == {"a", "b"} and isinstance(got["b"], list), got
                got = got["a"]
            elif case.fetch == "nested":
                assert isinstance(got, tuple) and isinstance(got[0]["x"], tuple), got
                got = got[1][0]
            if case.op == "layers.dense":
                kernel, bias = sess.run(graph.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES))
                want = case.values[0] @ kernel + bias
            if np_error is not None:
                disagree(f"devrt succeeded where NumPy raised {type(np_error).__name__}")
                return
            diff = _close(got, want)
            if diff:
                disagree(diff)
                return
    stats["agree"] = stats.get("agree", 0) + 1


def _child(examples: int, seed: int | None, collect: str | None) -> None:
    import warnings

    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    warnings.simplefilter("ignore")
    stats: dict = {}
    found: list = []

    def log(case, outcome, family):
        record = {"call": repr(case), "label": case.op, "outcome": outcome, "family": family}
        with open(collect, "a") as f:
            f.write(json.dumps(record) + "\n")

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
        case = _draw_case(data.draw)
        print(json.dumps({"call": repr(case)}), flush=True)
        try:
            check(case, stats, log if collect else None)
        except (Disagreement, AssertionError) as exc:
            if collect is None:
                raise AssertionError(f"{case!r}: {exc}") from None
            if str(exc).startswith("rule") or not isinstance(exc, Disagreement):
                log(case, str(exc), None)
            found.append(case)
        except Exception as exc:  # noqa: BLE001 - a long run goes on past a bug of its own
            if collect is None:
                raise
            log(case, f"fuzzer error: {type(exc).__name__}: {exc}", None)
            found.append(case)

    if seed is not None:
        prop = hseed(seed)(prop)
    prop()
    print(json.dumps({"stats": stats, "found": len(found)}), flush=True)


def run_child(examples: int, seed: int | None, collect: str | None = None, timeout=850):
    """Runs the fuzzer in a child; (returncode, last case, stdout, stderr)."""
    argv = [sys.executable, __file__, str(examples), "none" if seed is None else str(seed)]
    if collect:
        argv.append(collect)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    last = None
    for line in proc.stdout.splitlines():
        if line.startswith('{"call"'):
            last = json.loads(line)["call"]
    return proc.returncode, last, proc.stdout, proc.stderr


def test_deviation_table_is_documented():
    sys.path.insert(0, os.path.dirname(__file__))
    from test_fuzz_differential import _documented

    assert not _documented(GRAPH_DEVIATIONS)


@pytest.mark.timeout(900)
def test_graph_differential_fuzz():
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
