"""Random ops of ``tf`` and the seeds they take: ``set_random_seed``,
``random_normal``, ``random_uniform``, ``truncated_normal``.

The IR's random ops (``RandomStandardNormal``, ``RandomUniform``,
``RandomUniformLike``) draw new numbers at each run from a stream keyed by
their `seed` attribute. Seeds follow TF's rules: with a graph-level seed
(``tf.set_random_seed``) and no op seed, the op seed is the number of ops
in the graph so far, so rebuilding the same graph gives the same numbers
in every session; with neither, each op gets a fresh random seed when it
is built (TF draws new numbers per session instead; here a graph's numbers
differ from those of any other graph built, and a seeded graph repeats).
The pair (graph seed, op seed) is folded into the one integer the IR takes,
and an op built of several draws gives each draw its own seed.
"""

from __future__ import annotations

import math
import secrets
from typing import Any

from devrt.graph import dtypes
from devrt.graph import framework as fw
from devrt.graph.array_ops import cast
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _apply, _like_from_shape, _static_shape, _t

__all__ = [
    "get_seed",
    "random_normal",
    "random_shuffle",
    "random_uniform",
    "set_random_seed",
    "truncated_normal",
]

DEFAULT_GRAPH_SEED = 87654321
_MAX_SEED = 2**31 - 1


def set_random_seed(seed: int | None) -> None:
    """``tf.set_random_seed``: the default graph's graph-level seed."""
    fw.get_default_graph().seed = None if seed is None else int(seed)


def get_seed(op_seed: int | None) -> tuple[int | None, int | None]:
    """``tf.get_seed``: the (graph seed, op seed) pair an op uses, as TF."""
    g = fw.get_default_graph()
    if g.seed is not None:
        return g.seed, g._last_id if op_seed is None else int(op_seed)
    if op_seed is not None:
        return DEFAULT_GRAPH_SEED, int(op_seed)
    return None, None


def _seed_attr(op_seed: int | None, draw: int = 0) -> int:
    """The IR seed of draw `draw` of an op: both seeds folded into one
    non-negative 31-bit integer (a splitmix-style mix, so that nearby pairs
    give unrelated streams), or a fresh random one without any seed."""
    graph_seed, seed = get_seed(op_seed)
    if graph_seed is None:
        # No seed anywhere: numbers differ from one built graph to the next,
        # as TF's differ between sessions (the IR needs an int).
        return secrets.randbelow(_MAX_SEED)
    z = graph_seed * 0x9E3779B97F4A7C15 + seed * 0xBF58476D1CE4E5B9 + draw * 0x94D049BB133111EB
    z &= 2**64 - 1
    z ^= z >> 31
    z = (z * 0xBF58476D1CE4E5B9) & (2**64 - 1)
    z ^= z >> 29
    return z % _MAX_SEED


def _float_dtype(dtype: Any, what: str) -> dtypes.DType:
    dt = dtypes.as_dtype(dtype)
    if not dt.is_floating:
        raise ValueError(f"[{what}] dtype must be a floating point type, got {dt.name}")
    return dt


def _uniform01(shape: Any, dt: dtypes.DType, seed: int | None, draw: int, what: str) -> Tensor:
    like = _like_from_shape(shape)
    attrs = {"dtype": dt.as_devrt_dtype, "seed": _seed_attr(seed, draw)}
    if like is not None:
        return _apply("RandomUniformLike", [like], attrs)
    attrs["shape"] = _static_shape(shape, what)
    return fw.get_default_graph()._create_op("RandomUniform", [], attrs)._outputs[0]


def _standard_normal(shape: Any, dt: dtypes.DType, seed: int | None, draw: int, what: str):
    like = _like_from_shape(shape)
    if like is None:
        attrs = {
            "shape": _static_shape(shape, what),
            "dtype": dt.as_devrt_dtype,
            "seed": _seed_attr(seed, draw),
        }
        g = fw.get_default_graph()
        return g._create_op("RandomStandardNormal", [], attrs)._outputs[0]
    # A shape known only at run time: Box-Muller from two uniform draws
    # (1 - u lies in (0, 1], so the log is finite).
    u1 = _uniform01(shape, dt, seed, 2 * draw + 1000, what)
    u2 = _uniform01(shape, dt, seed, 2 * draw + 1001, what)
    one = _t(1, what, dt)
    r = _apply(
        "Sqrt",
        [_apply("Mul", [_t(-2, what, dt), _apply("Log", [_apply("Sub", [one, u1], {})], {})], {})],
    )
    return _apply("Mul", [r, _apply("Cos", [_apply("Mul", [u2, _t(2 * math.pi, what, dt)], {})])])


def _scale_shift(x: Tensor, scale: Any, shift: Any, scope: str, what: str) -> Tensor:
    s = _t(scale, what, x.dtype)
    m = _t(shift, what, x.dtype)
    return _apply("Add", [_apply("Mul", [x, s], {}), m], {}, scope)


def random_normal(
    shape: Any,
    mean: Any = 0.0,
    stddev: Any = 1.0,
    dtype: Any = dtypes.float32,
    seed: int | None = None,
    name: str | None = None,
) -> Tensor:
    """``tf.random_normal``: N(mean, stddev**2) of `shape` (static, or
    ``tf.shape(x)``), new numbers at each run."""
    dt = _float_dtype(dtype, "random_normal")
    with fw.name_scope(name, "random_normal") as scope:
        x = _standard_normal(shape, dt, seed, 0, "random_normal")
        return _scale_shift(x, stddev, mean, scope, "random_normal")


def random_uniform(
    shape: Any,
    minval: Any = 0,
    maxval: Any = None,
    dtype: Any = dtypes.float32,
    seed: int | None = None,
    name: str | None = None,
) -> Tensor:
    """``tf.random_uniform``: U[minval, maxval) of `shape` (static, or
    ``tf.shape(x)``); `maxval` defaults to 1 for floats and is required for
    integers, which are drawn as floor(u * (maxval - minval)) + minval."""
    dt = dtypes.as_dtype(dtype)
    with fw.name_scope(name, "random_uniform") as scope:
        if dt.is_floating:
            u = _uniform01(shape, dt, seed, 0, "random_uniform")
            lo = _t(minval, "random_uniform", dt)
            hi = _t(1 if maxval is None else maxval, "random_uniform", dt)
            return _apply(
                "Add", [_apply("Mul", [u, _apply("Sub", [hi, lo], {})], {}), lo], {}, scope
            )
        if not dt.is_integer:
            raise ValueError(f"[random_uniform] unsupported dtype {dt.name}")
        if maxval is None:
            raise ValueError("[random_uniform] Must specify maxval for integer dtype")
        u = _uniform01(shape, dtypes.float64, seed, 0, "random_uniform")
        lo = cast(_t(minval, "random_uniform", dt), dtypes.float64)
        hi = cast(_t(maxval, "random_uniform", dt), dtypes.float64)
        span = _apply("Sub", [hi, lo], {})
        v = _apply("Add", [_apply("Floor", [_apply("Mul", [u, span], {})], {}), lo], {})
        return _apply("Cast", [v], {"dtype": dt.as_devrt_dtype}, scope)


_TRUNCATION_ROUNDS = 3


def truncated_normal(
    shape: Any,
    mean: Any = 0.0,
    stddev: Any = 1.0,
    dtype: Any = dtypes.float32,
    seed: int | None = None,
    name: str | None = None,
) -> Tensor:
    """``tf.truncated_normal``: N(mean, stddev**2) restricted to two stddevs.

    Difference from TensorFlow: TF redraws each value beyond two stddevs
    until it falls inside. The IR has no loops, so this draws once and then
    redraws, in 3 further rounds, every value still outside [-2, 2]
    (a Select per round); a value outside after all 4 draws (probability
    0.0455**4, about 4e-6 per element) is clipped to +-2 stddevs."""
    dt = _float_dtype(dtype, "truncated_normal")
    with fw.name_scope(name, "truncated_normal") as scope:
        two = _t(2, "truncated_normal", dt)
        x = _standard_normal(shape, dt, seed, 0, "truncated_normal")
        for k in range(1, _TRUNCATION_ROUNDS + 1):
            again = _standard_normal(shape, dt, seed, k, "truncated_normal")
            outside = _apply("Greater", [_apply("Abs", [x], {}), two], {})
            x = _apply("Select", [outside, again, x], {})
        x = _apply("Maximum", [_apply("Minimum", [x, two], {}), _apply("Neg", [two], {})], {})
        return _scale_shift(x, stddev, mean, scope, "truncated_normal")


def random_shuffle(value: Any, seed: int | None = None, name: str | None = None) -> Tensor:
    """``tf.random_shuffle`` (``tf.random.shuffle``): `value` with its first
    dimension in a random order, a new one each run. The order ranks a
    uniform draw per row: ``top_k`` of the draws when the first dimension is
    known, otherwise the rank of each draw among the others (quadratic in
    the number of rows)."""
    x = _t(value, "random_shuffle")
    if x.shape.rank == 0:
        raise ValueError("[random_shuffle] the value must have at least one dimension")
    with fw.name_scope(name, "random_shuffle", [x]) as scope:
        n = x.shape.as_list()[0] if x.shape.rank is not None else None
        if n is not None:
            u = _uniform01([n], dtypes.float32, seed, 0, "random_shuffle")
            op = fw._graph_of([u])._create_op("TopKV2", [u], {"k": n}, "TopKV2")
            order = op.outputs[1]
        else:
            if x.shape.rank is None:
                raise ValueError("[random_shuffle] the value's rank must be known")
            # A vector of the rows' runtime count, for the draws to take its shape.
            rows = _apply("ZerosLike", [x], {})
            if x.shape.rank > 1:
                rows = _apply(
                    "Sum", [rows], {"axes": list(range(1, x.shape.rank)), "keepdims": False}
                )
            attrs = {"dtype": dtypes.float32.as_devrt_dtype, "seed": _seed_attr(seed, 0)}
            u = _apply("RandomUniformLike", [rows], attrs)
            index = _apply("Cumsum", [_apply("OnesLike", [u], {})], _EXCLUSIVE)
            below = _apply(
                "LogicalOr",
                [
                    _apply("Less", [_col(u), _row(u)], {}),
                    _apply(
                        "LogicalAnd",
                        [
                            _apply("Equal", [_col(u), _row(u)], {}),
                            _apply("Less", [_col(index), _row(index)], {}),
                        ],
                        {},
                    ),
                ],
                {},
            )
            # rank[i]: how many draws come before draw i; order[k] = the i of rank k.
            rank = _apply("Sum", [cast(below, dtypes.float32)], {"axes": [0], "keepdims": False})
            hit = _apply("Equal", [_col(rank), _row(index)], {})
            order = _apply("ArgMax", [cast(hit, dtypes.int32)], {"axis": 0})
        return _apply("GatherV2", [x, order], {"axis": 0}, scope)


_EXCLUSIVE = {"axis": 0, "exclusive": 1, "reverse": 0}


def _col(v: Tensor) -> Tensor:
    return _apply("ExpandDims", [v], {"axis": 1})


def _row(v: Tensor) -> Tensor:
    return _apply("ExpandDims", [v], {"axis": 0})
