"""Every op of the static-graph IR (docs/graph.md) evaluated by a Session on
every device, through the bindings (devrt._C.Graph / Session), against the
eager devrt op or a NumPy reference; and the gradient nodes (VJP) of every
differentiable op against central finite differences in float64, computed
by running the same graph with perturbed feeds.

Inputs enter through Placeholders with partial shapes and every node is
placed on the device under test. A device that lacks a kernel an op needs
skips with the reason (`need`), as the other backend tests do.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import devrt
from devrt import _C
from devrt.testing.conformance.support import assert_close, to_device, to_numpy

# NumPy references warn on log(0) etc.; the values are what is checked.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

DTYPES = {
    "bool": devrt.bool,
    "int32": devrt.int32,
    "int64": devrt.int64,
    "float32": devrt.float32,
    "float64": devrt.float64,
}


# --- building and running graphs ---------------------------------------------------


class Net:
    """A _C.Graph with every node placed on one device and named for the test."""

    def __init__(self, device: str):
        self.g = _C.Graph()
        self.device = device

    def add(self, op, *inputs, name=None, control=(), **attrs):
        ins = [x if isinstance(x, tuple) else (x, 0) for x in inputs]
        name = name or f"{op}_{len(self.g)}"
        return self.g.add_node(op, ins, attrs, name, self.device, list(control))

    def ph(self, dtype: str, shape, name=None):
        return self.add("Placeholder", name=name, dtype=DTYPES[dtype], shape=shape)

    def const(self, a: np.ndarray, name=None):
        return self.add("Const", name=name, value=devrt.from_numpy(np.array(a, order="C")))


def host_tensor(a: np.ndarray):
    return devrt.from_numpy(np.array(a, copy=True, order="C"))


def feed_list(feeds: dict):
    return [((k, 0) if not isinstance(k, tuple) else k, host_tensor(v)) for k, v in feeds.items()]


def run(net: Net, fetches, feeds=None, sess=None):
    """Runs `fetches` (nodes or (node, index) pairs) and returns the tensors,
    checking that each lives on the net's device."""
    sess = sess or _C.Session(net.g)
    outs = sess.run(
        [f if isinstance(f, tuple) else (f, 0) for f in fetches], [], feed_list(feeds or {})
    )
    for t in outs:
        assert t.device.type == net.device, f"fetched a value on {t.device}, not {net.device}"
    return outs


def run1(net, fetch, feeds=None):
    return run(net, [fetch], feeds)[0]


def dev(a: np.ndarray, device: str):
    """An eager tensor on `device` (for the eager references)."""
    return to_device(np.asarray(a), device)


def check_like_eager(got, expected, tol=None):
    """`got` equals the eager result `expected`: same dtype, shape and values."""
    assert got.dtype == expected.dtype, f"dtype {got.dtype}, eager gives {expected.dtype}"
    assert tuple(got.shape) == tuple(expected.shape)
    assert_close(got, to_numpy(expected), **(tol or {}))


def unknown(shape):
    """The partial shape of a placeholder for an input of `shape`: every
    dimension unknown except the last."""
    return [None] * (len(shape) - 1) + list(shape[-1:])


# --- gradients by finite differences ------------------------------------------------


def graph_gradcheck(net, out, xs, feeds, rng, eps=1e-6, atol=1e-6, rtol=1e-6):
    """Checks the gradient nodes of sum(out * W) (W a fixed random tensor) with
    respect to the placeholders `xs` against central differences of the same
    graph's objective, run with perturbed feeds."""
    (y,) = run(net, [out], feeds)
    assert y.is_floating_point()
    w = rng.uniform(-1.0, 1.0, tuple(y.shape))
    loss = net.add("Sum", net.add("Mul", out, net.const(w)), axes=None, keepdims=False)
    assert loss.shape() in ((), None)  # None when the rank of `out` is unknown
    outs = net.g.add_gradients([(loss, 0)], [(x, 0) for x in xs], [], "gradients")
    sess = _C.Session(net.g)
    # None: no derivative path (an op TensorFlow does not differentiate,
    # such as Sign); the numerical gradient must then be zero.
    fetched = iter(run(net, [o for o in outs if o is not None], feeds, sess))
    grads = [
        next(fetched)
        if o is not None
        else devrt.zeros(tuple(np.shape(feeds[x])), dtype=x.dtype(), device=net.device)
        for x, o in zip(xs, outs)
    ]

    def objective(fd):
        (v,) = sess.run([(loss, 0)], [], feed_list(fd))
        return float(to_numpy(v))

    for x, g in zip(xs, grads):
        base = np.asarray(feeds[x], dtype=np.float64)
        assert tuple(g.shape) == base.shape, f"gradient of shape {tuple(g.shape)} for {x.name}"
        assert g.dtype == x.dtype(), f"gradient of dtype {g.dtype} for {x.name}"
        numeric = np.zeros(base.shape)
        for j in range(base.size):
            vals = []
            for sign in (1.0, -1.0):
                p = base.copy()
                p.reshape(-1)[j] += sign * eps
                vals.append(objective({**feeds, x: p}))
            numeric.reshape(-1)[j] = (vals[0] - vals[1]) / (2 * eps)
        np.testing.assert_allclose(
            to_numpy(g), numeric, rtol=rtol, atol=atol, err_msg=f"d loss / d {x.name}"
        )


# Kernels every gradient check runs besides the op's own: the seed (`fill`),
# the engine's clone of it (`copy`), the objective (`mul`, `sum`).
GRAD_BASE = ["copy", "fill", "mul", "sum"]


def need_grad(need, *ops):
    need(*GRAD_BASE, *ops, dtype="float64")


def away_from_zero(rng, shape, low=0.2, high=2.0):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, shape)


def distinct(rng, shape, spacing=0.1):
    """Values with pairwise gaps of at least `spacing` (no ties)."""
    n = math.prod(shape)
    flat = (rng.permutation(n) - n / 2) * spacing + rng.uniform(0, spacing / 10, n)
    return flat.reshape(shape)


# --- sources, Identity, *Like, Shape -------------------------------------------------


def test_const_and_identity(device, need):
    need("add", dtype="float64")
    net = Net(device)
    c = net.const(np.array([[1.0, 2.0], [3.0, 4.0]]))
    x = net.ph("float64", [None, 2])
    y = net.add("Identity", net.add("Add", c, x))
    assert c.shape() == (2, 2) and c.dtype() == devrt.float64
    assert y.shape() == (2, 2)
    (r,) = run(net, [y], {x: np.array([[10.0, 20.0]])})
    assert_close(r, np.array([[11.0, 22.0], [13.0, 24.0]]))


@pytest.mark.parametrize("op, value", [("ZerosLike", 0), ("OnesLike", 1)])
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_zeros_ones_like(device, need, op, value, dtype):
    need("fill", dtype=dtype)
    net = Net(device)
    x = net.ph(dtype, None)
    y = net.add(op, x)
    assert y.shape() is None and y.dtype() == DTYPES[dtype]
    r = run1(net, y, {x: np.zeros((2, 3), dtype=dtype)})
    assert r.dtype == DTYPES[dtype]
    assert_close(r, np.full((2, 3), value, dtype=dtype))


@pytest.mark.parametrize("shape", [(2, 3, 4), (5,), ()], ids=str)
@pytest.mark.parametrize("partial", ["unknown_rank", "unknown_dims"])
def test_shape(device, shape, partial):
    net = Net(device)
    x = net.ph("float32", None if partial == "unknown_rank" else [None] * len(shape))
    s = net.add("Shape", x)
    assert s.dtype() == devrt.int64
    assert s.shape() == ((None,) if partial == "unknown_rank" else (len(shape),))
    r = run1(net, s, {x: np.zeros(shape, np.float32)})
    assert r.dtype == devrt.int64
    assert_close(r, np.array(shape, dtype=np.int64).reshape(len(shape)))


def test_variables_and_writes(device, need):
    need("add", "sub", "copy", dtype="float64")
    net = Net(device)
    v = net.add("Variable", name="v", dtype=devrt.float64, shape=[2, 2])
    p = net.ph("float64", [None, 2])
    assign = net.add("Assign", v, p)
    inc = net.add("AssignAdd", v, p)
    dec = net.add("AssignSub", v, net.const(np.ones((2, 2))))
    step = net.add("NoOp", control=[inc])
    assert assign.shape() == (2, 2) and step.num_outputs == 0
    sess = _C.Session(net.g)
    feeds = feed_list({p: np.array([[1.0, 2.0], [3.0, 4.0]])})
    assert sess.run([], [assign], feeds) == []
    assert sess.variable(v).device.type == device
    assert sess.run([], [step], feeds) == []
    (r,) = run(net, [dec], sess=sess)
    assert_close(r, np.array([[1.0, 3.0], [5.0, 7.0]]))
    assert_close(sess.variable(v), np.array([[1.0, 3.0], [5.0, 7.0]]))


# --- unary --------------------------------------------------------------------------


def _erf(a):
    return np.vectorize(math.erf)(a)


# name: (catalogue op, eager function, NumPy reference, sampler)
UNARY = {
    "Neg": ("neg", devrt.neg, np.negative, None),
    "Abs": ("abs", devrt.abs, np.abs, None),
    "Sign": ("sign", devrt.sign, np.sign, None),
    "Exp": ("exp", devrt.exp, np.exp, None),
    "Log": ("log", devrt.log, np.log, (0.2, 4.0)),
    "Sqrt": ("sqrt", devrt.sqrt, np.sqrt, (0.2, 4.0)),
    "Rsqrt": ("rsqrt", devrt.rsqrt, lambda a: 1 / np.sqrt(a), (0.2, 4.0)),
    "Square": ("mul", lambda t: devrt.mul(t, t), np.square, None),
    "Reciprocal": ("reciprocal", devrt.reciprocal, lambda a: 1 / a, "nonzero"),
    "Sin": ("sin", devrt.sin, np.sin, None),
    "Cos": ("cos", devrt.cos, np.cos, None),
    "Tanh": ("tanh", devrt.tanh, np.tanh, None),
    "Sigmoid": ("sigmoid", devrt.sigmoid, lambda a: 1 / (1 + np.exp(-a)), None),
    "Relu": ("relu", devrt.relu, lambda a: np.maximum(a, 0), None),
    "Erf": ("erf", devrt.erf, _erf, None),
    "Log1p": ("log1p", devrt.log1p, np.log1p, (-0.6, 3.0)),
    "Floor": ("floor", devrt.floor, np.floor, None),
    "Ceil": ("ceil", devrt.ceil, np.ceil, None),
    "Round": ("round", devrt.round, np.round, None),
}


def sample_unary(rng, name, shape):
    domain = UNARY[name][3]
    if domain is None:
        return rng.uniform(-3, 3, shape)
    if domain == "nonzero":
        return away_from_zero(rng, shape, 0.3, 3.0)
    return rng.uniform(*domain, shape)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(UNARY))
def test_unary(device, need, rng, name, dtype):
    kernel, eager, reference, _ = UNARY[name]
    need(kernel, dtype=dtype)
    a = sample_unary(rng, name, (3, 4)).astype(dtype)
    if name == "Round":
        a[0, :4] = [0.5, 1.5, 2.5, -0.5]  # halves go to the even neighbour
    net = Net(device)
    x = net.ph(dtype, [None, 4])
    y = net.add(name, x)
    assert y.shape() == (None, 4) and y.dtype() == DTYPES[dtype]
    r = run1(net, y, {x: a})
    check_like_eager(r, eager(dev(a, device)))
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {}
    assert_close(r, reference(a.astype(np.float64)).astype(dtype), **tol)


@pytest.mark.parametrize("name", ["Neg", "Abs", "Sign", "Square", "Relu", "Exp", "Sqrt", "Floor"])
def test_unary_of_integers(device, need, rng, name):
    """Integer inputs: exact ops keep the dtype, float-valued ones give the
    eager op's result dtype."""
    kernel, eager, reference, _ = UNARY[name]
    a = rng.integers(0 if name == "Sqrt" else -5, 6, (2, 5)).astype(np.int32)
    try:
        expected = eager(dev(a, device))
    except NotImplementedError as e:
        pytest.skip(f"eager {kernel} of int32 on {device}: {e}")
    net = Net(device)
    x = net.ph("int32", None)
    y = net.add(name, x)
    assert y.dtype() == expected.dtype
    r = run1(net, y, {x: a})
    check_like_eager(r, expected)
    ref = reference(a.astype(np.float64)).astype(to_numpy(expected).dtype)
    assert_close(r, ref, rtol=1e-6)


def test_logical_not(device, need, rng):
    need("logical_not", dtype="bool")
    a = rng.random((3, 4)) < 0.5
    net = Net(device)
    x = net.ph("bool", [3, None])
    y = net.add("LogicalNot", x)
    assert y.dtype() == devrt.bool and y.shape() == (3, None)
    r = run1(net, y, {x: a})
    check_like_eager(r, devrt.logical_not(dev(a, device)))
    assert_close(r, ~a)


# --- binary --------------------------------------------------------------------------

# name: (catalogue op, eager function, NumPy reference)
BINARY = {
    "Add": ("add", devrt.add, np.add),
    "Sub": ("sub", devrt.sub, np.subtract),
    "Mul": ("mul", devrt.mul, np.multiply),
    "RealDiv": ("div", devrt.div, np.true_divide),
    "Pow": ("pow", devrt.pow, np.power),
    "Maximum": ("maximum", devrt.maximum, np.maximum),
    "Minimum": ("minimum", devrt.minimum, np.minimum),
    "FloorDiv": ("floor_divide", devrt.floor_divide, np.floor_divide),
    "FloorMod": ("remainder", devrt.remainder, np.mod),
    "Equal": ("eq", devrt.eq, np.equal),
    "NotEqual": ("ne", devrt.ne, np.not_equal),
    "Less": ("lt", devrt.lt, np.less),
    "LessEqual": ("le", devrt.le, np.less_equal),
    "Greater": ("gt", devrt.gt, np.greater),
    "GreaterEqual": ("ge", devrt.ge, np.greater_equal),
}
COMPARISONS = {"Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual"}


def sample_binary(rng, name, shape, dtype):
    if dtype.startswith("int"):
        if name == "Pow":
            return rng.integers(0, 4, shape).astype(dtype)
        a = rng.integers(-6, 7, shape)
        if name in ("FloorDiv", "FloorMod", "RealDiv"):
            a[a == 0] = 3
        return a.astype(dtype)
    if name == "Pow":
        return rng.uniform(0.2, 2.0, shape).astype(dtype)
    if name in ("FloorDiv", "FloorMod", "RealDiv"):
        return away_from_zero(rng, shape, 0.3, 4.0).astype(dtype)
    # A few exact ties for the comparisons.
    return np.round(rng.uniform(-3, 3, shape)).astype(dtype)


BROADCASTS = [
    # (shape a, placeholder shape a, shape b, placeholder shape b, inferred)
    ((2, 3), [None, 3], (2, 3), [2, None], (2, 3)),
    ((4, 3), [None, 3], (3,), [3], (None, 3)),
    ((4, 1), [None, 1], (1, 5), [1, None], (None, None)),
    ((2, 3), None, (3,), [None], None),
]


@pytest.mark.parametrize("case", range(len(BROADCASTS)))
@pytest.mark.parametrize("dtype", ["float64", "int32"])
@pytest.mark.parametrize("name", list(BINARY))
def test_binary(device, need, rng, name, dtype, case):
    kernel, eager, reference = BINARY[name]
    need(kernel, dtype="float32" if name == "RealDiv" and dtype == "int32" else dtype)
    if name == "RealDiv" and dtype == "int32":
        need("copy", dtype=dtype)
    sa, pa, sb, pb, inferred = BROADCASTS[case]
    a, b = sample_binary(rng, name, sa, dtype), sample_binary(rng, name, sb, dtype)
    net = Net(device)
    x, y = net.ph(dtype, pa), net.ph(dtype, pb)
    z = net.add(name, x, y)
    assert z.shape() == inferred
    r = run1(net, z, {x: a, y: b})
    expected = eager(dev(a, device), dev(b, device))
    assert z.dtype() == expected.dtype
    check_like_eager(r, expected)
    ref = reference(a, b)
    if name == "RealDiv" and dtype == "int32":
        ref = ref.astype(np.float32)
    assert_close(r, ref, rtol=1e-12 if dtype == "float64" else None)


# Every elementwise op of the catalogue is a graph op under its catalogue
# name, with the catalogue's dtype rules: a new op needs no graph code.
CATALOGUE_ELEMENTWISE = [
    (op["name"], op["family"])
    for op in devrt.catalogue()
    if not op["attrs"]
    and op["family"]
    in (
        "unary",
        "unary_float",
        "unary_round",
        "unary_logical",
        "unary_bitwise",
        "binary",
        "binary_float",
        "binary_bitwise",
        "compare",
    )
]


@pytest.mark.parametrize(
    "name, family", CATALOGUE_ELEMENTWISE, ids=[n for n, _ in CATALOGUE_ELEMENTWISE]
)
def test_catalogue_op_by_its_name(device, need, rng, name, family):
    dtype = "int64" if family.endswith("bitwise") else "float64"
    need(name, dtype=dtype)
    arity = 1 if family.startswith("unary") else 2
    if dtype == "int64":
        values = [rng.integers(-20, 20, (2, 3)) for _ in range(arity)]
    else:
        values = [rng.uniform(0.5, 2.0, (2, 3)) for _ in range(arity)]
    net = Net(device)
    phs = [net.ph(dtype, [None, 3]) for _ in range(arity)]
    z = net.add(name, *phs)
    r = run1(net, z, dict(zip(phs, values)))
    expected = getattr(devrt, name)(*(dev(v, device) for v in values))
    assert z.dtype() == expected.dtype and z.shape() == (None, 3)
    check_like_eager(r, expected)


@pytest.mark.parametrize("name", ["atan2", "hypot", "expm1", "tan"])
def test_catalogue_op_gradient_by_its_name(device, need, rng, name):
    arity = 2 if name in ("atan2", "hypot") else 1
    need_grad(need, name, "add", "div", "neg")
    net = Net(device)
    phs = [net.ph("float64", [None, 3]) for _ in range(arity)]
    feeds = {p: rng.uniform(0.5, 1.2, (2, 3)) * rng.choice([-1, 1], (2, 3)) for p in phs}
    graph_gradcheck(net, net.add(name, *phs), phs, feeds, rng)


@pytest.mark.parametrize(
    "ta, tb", [("int32", "float32"), ("int32", "int64"), ("float32", "float64"), ("bool", "int32")]
)
@pytest.mark.parametrize("name", ["Add", "Mul", "Maximum", "Less"])
def test_binary_promotion(device, rng, name, ta, tb):
    """Mixed dtypes are promoted as eager code promotes them."""
    kernel, eager, _ = BINARY[name]
    a = (rng.random((2, 3)) < 0.5) if ta == "bool" else rng.integers(-3, 4, (2, 3)).astype(ta)
    b = rng.integers(-3, 4, (2, 3)).astype(tb)
    try:
        expected = eager(dev(a, device), dev(b, device))
    except NotImplementedError as e:
        pytest.skip(f"eager {kernel} on {device}: {e}")
    net = Net(device)
    x, y = net.ph(ta, [None, 3]), net.ph(tb, [None, 3])
    z = net.add(name, x, y)
    assert z.dtype() == expected.dtype
    check_like_eager(run1(net, z, {x: a, y: b}), expected)


@pytest.mark.parametrize("name", ["LogicalAnd", "LogicalOr"])
def test_logical_binary(device, need, rng, name):
    need(name.lower().replace("logical", "logical_"), dtype="bool")
    a, b = rng.random((4, 3)) < 0.5, rng.random((3,)) < 0.5
    net = Net(device)
    x, y = net.ph("bool", [None, 3]), net.ph("bool", [None])
    z = net.add(name, x, y)
    assert z.dtype() == devrt.bool and z.shape() == (None, 3)
    r = run1(net, z, {x: a, y: b})
    assert_close(r, np.logical_and(a, b) if name == "LogicalAnd" else np.logical_or(a, b))


def test_select(device, need, rng):
    need("where", dtype="float64")
    c = rng.random((4, 3)) < 0.5
    a = rng.standard_normal((4, 3))
    b = rng.standard_normal((3,))
    net = Net(device)
    pc, pa, pb = net.ph("bool", [None, 3]), net.ph("float64", [None, None]), net.ph("float64", [3])
    s = net.add("Select", pc, pa, pb)
    assert s.shape() == (None, 3) and s.dtype() == devrt.float64
    r = run1(net, s, {pc: c, pa: a, pb: b})
    check_like_eager(r, devrt.where(dev(c, device), dev(a, device), dev(b, device)))
    assert_close(r, np.where(c, a, b))


def test_select_needs_a_bool_condition(device):
    net = Net(device)
    c = net.ph("float32", [3], name="cond")
    with pytest.raises(TypeError, match=r"^\[Select 'sel'\].*bool"):
        net.add("Select", c, c, c, name="sel")


# --- MatMul ---------------------------------------------------------------------------

MATMUL = [
    # (shape a, shape b, transpose_a, transpose_b)
    ((2, 3), (3, 4), False, False),
    ((3, 2), (3, 4), True, False),
    ((2, 3), (4, 3), False, True),
    ((3, 2), (4, 3), True, True),
    ((2, 3, 4), (2, 4, 5), False, False),
    ((2, 4, 3), (2, 5, 4), True, True),
    ((2, 1, 3, 4), (5, 4, 2), False, False),
]


def np_matmul(a, b, ta, tb):
    return np.matmul(np.swapaxes(a, -1, -2) if ta else a, np.swapaxes(b, -1, -2) if tb else b)


@pytest.mark.parametrize("case", MATMUL, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matmul(device, need, rng, case, dtype):
    need("matmul", dtype=dtype)
    sa, sb, ta, tb = case
    a, b = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    net = Net(device)
    x, y = net.ph(dtype, unknown(sa)), net.ph(dtype, [None] * len(sb))
    z = net.add("MatMul", x, y, transpose_a=ta, transpose_b=tb)
    expected = np_matmul(a, b, ta, tb)
    partial = [None] * expected.ndim
    if ta:  # a's known last dimension becomes its rows
        partial[-2] = sa[-1]
    assert z.shape() == tuple(partial)
    r = run1(net, z, {x: a, y: b})
    ea = devrt.transpose(dev(a, device), -1, -2) if ta else dev(a, device)
    eb = devrt.transpose(dev(b, device), -1, -2) if tb else dev(b, device)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == "float32" else {}
    check_like_eager(r, devrt.matmul(ea, eb), tol)
    assert_close(r, expected, **tol)


def test_matmul_infers_known_dims(device):
    net = Net(device)
    x, y = net.ph("float32", [None, 3]), net.ph("float32", [4, 3])
    assert net.add("MatMul", x, y, transpose_b=True).shape() == (None, 4)
    u, v = net.ph("float32", [7, 2, 3]), net.ph("float32", [2, 5])
    assert net.add("MatMul", u, v, transpose_a=True).shape() == (7, 3, 5)


# --- reductions ------------------------------------------------------------------------

# name: (catalogue op, eager function, NumPy reference)
REDUCE = {
    "Sum": ("sum", devrt.sum, np.sum),
    "Mean": ("mean", devrt.mean, np.mean),
    "Max": ("max", devrt.amax, np.max),
    "Min": ("min", devrt.amin, np.min),
    "Prod": ("prod", devrt.prod, np.prod),
}
AXES = [None, [1], [0, -1], [2, 0, 1], -1, []]


def reduced_shape(shape, axes, keepdims):
    if axes is None:
        axes = list(range(len(shape)))
    axes = [axes] if isinstance(axes, int) else axes
    axes = {a % len(shape) for a in axes}
    return tuple(1 if i in axes else d for i, d in enumerate(shape) if keepdims or i not in axes)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axes", AXES, ids=str)
@pytest.mark.parametrize("name", list(REDUCE))
def test_reduce(device, need, rng, name, axes, keepdims):
    kernel, eager, reference = REDUCE[name]
    need(kernel, dtype="float64")
    a = rng.uniform(0.5, 1.5, (2, 3, 4))
    net = Net(device)
    x = net.ph("float64", [None, 3, None])
    y = net.add(name, x, axes=axes, keepdims=keepdims)
    partial = reduced_shape((-1, 3, -2), axes, keepdims)
    assert y.shape() == tuple(None if d < 0 else d for d in partial)
    r = run1(net, y, {x: a})
    np_axes = tuple(axes) if isinstance(axes, list) else axes
    expected = reference(a, axis=np_axes, keepdims=keepdims)
    assert_close(r, np.asarray(expected), rtol=1e-12)
    if axes != []:
        dim = tuple(axes) if isinstance(axes, list) else axes
        e = eager(dev(a, device), dim=dim, keepdim=keepdims)
        check_like_eager(r, e)


@pytest.mark.parametrize("name", list(REDUCE))
def test_reduce_unknown_rank(device, need, rng, name):
    kernel, _, reference = REDUCE[name]
    need(kernel, dtype="float32")
    a = rng.uniform(0.5, 1.5, (3, 4)).astype(np.float32)
    net = Net(device)
    x = net.ph("float32", None)
    y = net.add(name, x, axes=[0], keepdims=False)
    assert y.shape() is None
    assert_close(run1(net, y, {x: a}), reference(a, axis=0), rtol=1e-5)


@pytest.mark.parametrize("name", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_arg_reduce(device, need, rng, name, axis, dtype):
    need(name.lower(), dtype=dtype)
    a = distinct(rng, (3, 4, 5)).astype(np.float64)
    a = (a * 10).astype(dtype) if dtype == "int32" else a.astype(dtype)
    net = Net(device)
    x = net.ph(dtype, [None, 4, None])
    y = net.add(name, x, axis=axis)
    expected_shape = [None, 4, None]
    del expected_shape[axis]
    assert y.shape() == tuple(expected_shape) and y.dtype() == devrt.int64
    r = run1(net, y, {x: a})
    ref = np.argmax(a, axis=axis) if name == "ArgMax" else np.argmin(a, axis=axis)
    assert_close(r, ref.astype(np.int64))
    eager = devrt.argmax if name == "ArgMax" else devrt.argmin
    check_like_eager(r, eager(dev(a, device), dim=axis))


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
def test_cumsum(device, need, rng, axis, exclusive, reverse):
    need("cumsum", "index", "sub", dtype="float64")
    a = rng.standard_normal((3, 4))
    net = Net(device)
    x = net.ph("float64", [None, 4])
    y = net.add("Cumsum", x, axis=axis, exclusive=exclusive, reverse=reverse)
    assert y.shape() == (None, 4) and y.dtype() == devrt.float64
    b = np.flip(a, axis) if reverse else a
    ref = np.cumsum(b, axis) - (b if exclusive else 0)
    assert_close(run1(net, y, {x: a}), np.flip(ref, axis) if reverse else ref)
    need_grad(need)
    need("cumsum", "index", "index_put", dtype="float64")
    graph_gradcheck(net, y, [x], {x: a}, rng)


def test_cumsum_of_integers_keeps_their_dtype(device, need):
    # as TensorFlow: the sum wraps in the input's dtype
    need("cumsum", dtype="int64")
    need("copy", dtype="int32")
    need("copy", dtype="int64")
    net = Net(device)
    x = net.ph("int32", [3])
    y = net.add("Cumsum", x, axis=0, exclusive=0, reverse=0)
    assert y.dtype() == devrt.int32
    r = run1(net, y, {x: np.array([1, 2**31 - 1, 3], np.int32)})
    assert to_numpy(r).tolist() == [1, -(2**31), -(2**31) + 3]


def test_top_k(device, need, rng):
    need("argsort", "index", dtype="float64")
    need("copy", dtype="int64")
    a = distinct(rng, (3, 2, 6))
    net = Net(device)
    x = net.ph("float64", [None, 2, 6])
    node = net.add("TopKV2", x, k=3, name="top")
    assert node.shape(0) == (None, 2, 3) and node.dtype(1) == devrt.int32
    values, indices = run(net, [(node, 0), (node, 1)], {x: a})
    order = np.argsort(-a, axis=-1)[..., :3]
    assert_close(values, np.take_along_axis(a, order, -1))
    assert_close(indices, order.astype(np.int32))
    need_grad(need)
    need("index_put", dtype="float64")
    graph_gradcheck(net, (node, 0), [x], {x: a}, rng)
    with pytest.raises(ValueError, match=r"^\[TopKV2 'big'\] k \(7\) must lie in \[0, 6\]"):
        net.add("TopKV2", x, k=7, name="big")


def np_softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax(device, need, rng, name, axis, dtype):
    kernel = "softmax" if name == "Softmax" else "log_softmax"
    need(kernel, dtype=dtype)
    a = (rng.standard_normal((3, 5)) * 3).astype(dtype)
    net = Net(device)
    x = net.ph(dtype, [None, 5])
    y = net.add(name, x, axis=axis)
    assert y.shape() == (None, 5) and y.dtype() == DTYPES[dtype]
    r = run1(net, y, {x: a})
    ref = np_softmax(a.astype(np.float64), axis)
    ref = ref if name == "Softmax" else np.log(ref)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-12}
    assert_close(r, ref.astype(dtype), **tol)
    eager = devrt.softmax if name == "Softmax" else devrt.log_softmax
    check_like_eager(r, eager(dev(a, device), axis), tol)


# --- shapes: Reshape, Transpose, ExpandDims, Squeeze, ConcatV2, Pack ------------------


@pytest.mark.parametrize(
    "shape, partial, target, inferred",
    [
        ((4, 6), [None, 6], [-1, 2, 3], (None, 2, 3)),
        ((4, 6), [4, 6], [-1, 2, 3], (4, 2, 3)),
        ((4, 6), [4, 6], [3, -1], (3, 8)),
        ((4, 6), None, [24], (24,)),
        ((2, 3, 4), [2, None, 4], [-1], (None,)),
        ((1,), [1], [], ()),
    ],
    ids=str,
)
def test_reshape(device, rng, shape, partial, target, inferred):
    a = rng.standard_normal(shape)
    net = Net(device)
    x = net.ph("float64", partial)
    y = net.add("Reshape", x, shape=target)
    assert y.shape() == inferred
    r = run1(net, y, {x: a})
    assert_close(r, a.reshape(target))


def test_reshape_errors(device):
    net = Net(device)
    x = net.ph("float32", [4, 6], name="x")
    with pytest.raises(ValueError, match=r"^\[Reshape 'r1'\].*24.*\(4, 6\)"):
        net.add("Reshape", x, shape=[5, -1], name="r1")
    with pytest.raises(ValueError, match=r"^\[Reshape 'r2'\].*\(4, 6\)"):
        net.add("Reshape", x, shape=[5, 5], name="r2")
    with pytest.raises(ValueError, match=r"^\[Reshape 'r3'\]"):
        net.add("Reshape", x, shape=[-1, -1], name="r3")


@pytest.mark.parametrize(
    "perm, partial, inferred",
    [
        (None, [None, 3, 4], (4, 3, None)),
        ([1, 0, 2], [2, None, 4], (None, 2, 4)),
        ([2, 0, 1], None, None),
        ([-1, 0, 1], [2, 3, 4], (4, 2, 3)),
    ],
    ids=str,
)
def test_transpose(device, need, rng, perm, partial, inferred):
    need("copy", dtype="float64")  # the fetched view is gathered on the device
    a = rng.standard_normal((2, 3, 4))
    net = Net(device)
    x = net.ph("float64", partial)
    y = net.add("Transpose", x, perm=perm)
    assert y.shape() == inferred
    r = run1(net, y, {x: a})
    assert_close(r, np.transpose(a, None if perm is None else [p % 3 for p in perm]))


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_expand_dims(device, rng, axis):
    a = rng.standard_normal((2, 3))
    net = Net(device)
    x = net.ph("float64", [None, 3])
    y = net.add("ExpandDims", x, axis=axis)
    expected = np.expand_dims(a, axis)
    partial = list(np.expand_dims(np.zeros((1, 3)), axis).shape)
    partial[[i for i, d in enumerate(expected.shape) if d == 2][0]] = None
    assert y.shape() == tuple(partial)
    assert_close(run1(net, y, {x: a}), expected)


@pytest.mark.parametrize(
    "shape, partial, axes, inferred",
    [
        ((1, 3, 1, 2), [1, 3, 1, 2], None, (3, 2)),
        ((1, 3, 1, 2), [1, None, 1, 2], [0], (None, 1, 2)),
        ((1, 3, 1, 2), [None, 3, None, 2], [0, -2], (3, 2)),
        ((1, 3, 1, 2), [None, 3, 1, 2], None, None),
        ((3, 1), None, [1], None),
        ((1,), [1], None, ()),
    ],
    ids=str,
)
def test_squeeze(device, rng, shape, partial, axes, inferred):
    a = rng.standard_normal(shape)
    net = Net(device)
    x = net.ph("float64", partial)
    y = net.add("Squeeze", x, axes=axes)
    assert y.shape() == inferred
    r = run1(net, y, {x: a})
    assert_close(r, np.squeeze(a, axis=None if axes is None else tuple(axes)))


def test_squeeze_of_a_dimension_not_one_fails(device):
    net = Net(device)
    x = net.ph("float32", [1, 3], name="x")
    with pytest.raises(ValueError, match=r"^\[Squeeze 'sq'\].*\(1, 3\)"):
        net.add("Squeeze", x, axes=[1], name="sq")


@pytest.mark.parametrize("partial", [None, [None, 3]], ids=["unknown_rank", "unknown_dim"])
def test_squeeze_at_run_time_of_a_dimension_not_one_fails(device, partial):
    """Squeezing a listed dimension whose runtime size is not 1 is an error
    (as in TensorFlow), not a silent no-op, whatever the inferred shape."""
    net = Net(device)
    x = net.ph("float64", partial, name="x")
    y = net.add("Squeeze", x, axes=[0], name="sq")
    with pytest.raises((ValueError, RuntimeError), match=r"\[Squeeze 'sq'\]"):
        run1(net, y, {x: np.ones((2, 3))})


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(device, need, rng, axis):
    need("copy", dtype="float64")
    shapes = {
        0: [(2, 3), (1, 3), (4, 3)],
        1: [(2, 1), (2, 3), (2, 2)],
        -1: [(2, 1), (2, 3), (2, 2)],
    }
    arrays = [rng.standard_normal(s) for s in shapes[axis]]
    net = Net(device)
    k = axis % 2
    phs = []
    for i, s in enumerate(shapes[axis]):
        p = list(s)
        if i == 0:
            p[k] = None  # the joined length is unknown
        else:
            p[1 - k] = None  # known in the first only
        phs.append(net.ph("float64", p))
    y = net.add("ConcatV2", *phs, axis=axis)
    expected_partial = [None, None]
    expected_partial[1 - k] = shapes[axis][0][1 - k]
    assert y.shape() == tuple(expected_partial)
    r = run1(net, y, dict(zip(phs, arrays)))
    assert_close(r, np.concatenate(arrays, axis=axis))
    check_like_eager(r, devrt.cat([dev(a, device) for a in arrays], axis))


def test_concat_infers_the_joined_length(device):
    net = Net(device)
    a, b = net.ph("float32", [2, None]), net.ph("float32", [3, 4])
    assert net.add("ConcatV2", a, b, axis=0).shape() == (5, 4)
    u = net.ph("float32", None)
    assert net.add("ConcatV2", u, b, axis=1).shape() == (3, None)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_pack(device, need, rng, axis):
    need("copy", dtype="float32")
    arrays = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(3)]
    net = Net(device)
    phs = [net.ph("float32", [None, 3]), net.ph("float32", [2, None]), net.ph("float32", None)]
    y = net.add("Pack", *phs, axis=axis)
    partial = [2, 3]
    partial.insert(axis % 3 if axis >= 0 else 2, 3)
    assert y.shape() == tuple(partial)
    r = run1(net, y, dict(zip(phs, arrays)))
    assert_close(r, np.stack(arrays, axis=axis))
    check_like_eager(r, devrt.stack([dev(a, device) for a in arrays], axis))


def test_join_errors(device):
    net = Net(device)
    a, b = net.ph("float32", [2, 3], name="a"), net.ph("float32", [4, 5], name="b")
    with pytest.raises(ValueError, match=r"^\[ConcatV2 'c'\].*\(4, 5\)"):
        net.add("ConcatV2", a, b, axis=0, name="c")
    with pytest.raises(ValueError, match=r"^\[Pack 'p'\].*\(4, 5\)"):
        net.add("Pack", a, b, axis=0, name="p")
    i = net.ph("int32", [2, 3], name="i")
    with pytest.raises(TypeError, match=r"^\[ConcatV2 'c2'\].*int32"):
        net.add("ConcatV2", a, i, axis=0, name="c2")


# --- Cast ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "src, dst",
    [
        ("float64", "int32"),
        ("float32", "int64"),
        ("int32", "float64"),
        ("float64", "float32"),
        ("float32", "bool"),
        ("bool", "float32"),
        ("int64", "int32"),
    ],
)
def test_cast(device, need, rng, src, dst):
    need("copy", dtype=src)
    need("copy", dtype=dst)
    if src == "bool":
        a = rng.random((3, 4)) < 0.5
    elif src.startswith("int"):
        a = rng.integers(-9, 10, (3, 4)).astype(src)
    else:
        a = (rng.uniform(-4, 4, (3, 4))).astype(src)
        a[0, :2] = 0  # zeros for the bool cast
    net = Net(device)
    x = net.ph(src, [None, 4])
    y = net.add("Cast", x, dtype=DTYPES[dst])
    assert y.dtype() == DTYPES[dst] and y.shape() == (None, 4)
    r = run1(net, y, {x: a})
    check_like_eager(r, dev(a, device).to(DTYPES[dst]))
    assert_close(r, a.astype(dst))  # float -> int truncates toward zero


# --- StridedSlice -----------------------------------------------------------------------------

SLICES = [
    # (begin, end, strides, begin_mask, end_mask, shrink_axis_mask, NumPy index)
    ([1, 0], [3, 4], [1, 2], 0, 0, 0, np.s_[1:3, 0:4:2]),
    ([1, 0], [3, 4], [1, 2], 0b10, 0, 0, np.s_[1:3, :4:2]),
    ([0, 1], [2, 0], [1, 1], 0b01, 0b10, 0, np.s_[:2, 1:]),
    ([-3, 1], [-1, 0], [1, 1], 0, 0b10, 0, np.s_[-3:-1, 1:]),
    ([2, 0, 1], [3, 0, 6], [1, 1, 2], 0b010, 0b010, 0b001, np.s_[2, :, 1:6:2]),
    ([-1], [0], [1], 0, 0, 0b1, np.s_[-1]),
    ([0, -2], [0, 0], [1, 1], 0b01, 0b01, 0b10, np.s_[:, -2]),
    ([1], [100], [1], 0, 0, 0, np.s_[1:100]),
    ([0, 0, 0], [4, 5, 6], [3, 2, 4], 0, 0, 0, np.s_[0:4:3, 0:5:2, 0:6:4]),
    ([3, 4], [1, 2], [1, 1], 0, 0, 0, np.s_[3:1, 4:2]),
    # negative strides, as Python's slicing counts them
    ([0], [0], [-1], 0b1, 0b1, 0, np.s_[::-1]),
    ([3, 0, 5], [0, 0, -7], [-2, 1, -3], 0, 0b10, 0, np.s_[3:0:-2, :, 5:-7:-3]),
    ([-1, 4], [-5, 1], [-1, -1], 0, 0, 0, np.s_[-1:-5:-1, 4:1:-1]),
    ([10, 0], [-100, 1], [-3, -1], 0, 0, 0, np.s_[10:-100:-3, 0:1:-1]),
    ([1, 0], [0, 0], [-1, 1], 0b10, 0b11, 0, np.s_[1::-1, :]),
    (
        [0, 0],
        [0, 0],
        [2**63 - 1, -(2**63 - 1)],
        0b11,
        0b11,
        0,
        np.s_[:: 2**63 - 1, :: -(2**63 - 1)],
    ),
]


@pytest.mark.parametrize("case", range(len(SLICES)))
@pytest.mark.parametrize("partial", ["known", "unknown_dims"])
def test_strided_slice(device, need, rng, case, partial):
    begin, end, strides, bm, em, sm, index = SLICES[case]
    need("copy", dtype="float64")  # a strided fetch is gathered on the device
    if min(strides) < 0:  # a gather of the taken indices
        need("arange", dtype="int64")
        need("index", dtype="float64")
    a = rng.standard_normal((4, 5, 6))
    expected = a[index]
    net = Net(device)
    x = net.ph("float64", [4, 5, 6] if partial == "known" else [None, 5, None])
    y = net.add(
        "StridedSlice",
        x,
        begin=begin,
        end=end,
        strides=strides,
        begin_mask=bm,
        end_mask=em,
        shrink_axis_mask=sm,
    )
    if partial == "known":
        assert y.shape() == expected.shape
    else:
        # Only input dimension 1 (of size 5) is known; shrunk ones are dropped.
        kept = [d for d in range(3) if not (d < len(begin) and sm >> d & 1)]
        assert y.shape() == tuple(e if d == 1 else None for d, e in zip(kept, expected.shape))
    assert_close(run1(net, y, {x: a}), expected)


def test_strided_slice_refuses_stride_zero_and_int64_min(device):
    net = Net(device)
    x = net.ph("float32", [4, 5], name="x")
    for stride in (0, -(2**63)):
        with pytest.raises(ValueError, match=rf"^\[StridedSlice 'ss\d?'\] strides .* got {stride}"):
            net.add(
                "StridedSlice",
                x,
                begin=[0],
                end=[0],
                strides=[stride],
                begin_mask=1,
                end_mask=1,
                shrink_axis_mask=0,
                name="ss",
            )


def test_strided_slice_shrink_out_of_range(device):
    net = Net(device)
    x = net.ph("float32", [4, 5], name="x")
    with pytest.raises(IndexError, match=r"^\[StridedSlice 'ss'\].*index 4.*size 4"):
        net.add(
            "StridedSlice",
            x,
            begin=[4],
            end=[5],
            strides=[1],
            begin_mask=0,
            end_mask=0,
            shrink_axis_mask=1,
            name="ss",
        )


# --- OneHot, GatherV2 ------------------------------------------------------------------------


@pytest.mark.parametrize("index_dtype", ["int32", "int64"])
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_one_hot(device, need, index_dtype, dtype):
    need("arange", "eq", dtype=index_dtype)
    need("copy", dtype="bool")
    idx = np.array([[0, 2, 1], [3, -1, 4]], dtype=index_dtype)  # 3, -1, 4 are off the table
    net = Net(device)
    x = net.ph(index_dtype, [None, 3])
    y = net.add("OneHot", x, depth=4, dtype=DTYPES[dtype])
    assert y.shape() == (None, 3, 4) and y.dtype() == DTYPES[dtype]
    r = run1(net, y, {x: idx})
    expected = (idx[..., None] == np.arange(4)).astype(dtype)
    assert expected[1, 1].sum() == 0 and expected[1, 0, 3] == 1
    assert_close(r, expected)


@pytest.mark.parametrize(
    "pshape, ishape, axis", [((5, 3), (2, 2), 0), ((5, 3), (4,), 1), ((2, 5, 3), (3,), -2)]
)
@pytest.mark.parametrize("index_dtype", ["int32", "int64"])
def test_gather(device, need, rng, pshape, ishape, axis, index_dtype):
    need("index", dtype="float64")
    need("copy", dtype=index_dtype)
    params = rng.standard_normal(pshape)
    idx = rng.integers(0, pshape[axis], ishape).astype(index_dtype)
    net = Net(device)
    p = net.ph("float64", [None] * len(pshape))
    i = net.ph(index_dtype, list(ishape))
    y = net.add("GatherV2", p, i, axis=axis)
    expected = np.take(params, idx, axis=axis)
    assert len(y.shape()) == expected.ndim
    r = run1(net, y, {p: params, i: idx})
    assert_close(r, expected)


@pytest.mark.parametrize("bad", [-1, 5])
def test_gather_index_out_of_range(device, need, bad):
    # TensorFlow refuses negative indices too (InvalidArgumentError).
    need("index", dtype="float64")
    net = Net(device)
    p, i = net.ph("float64", [5]), net.ph("int64", [2])
    y = net.add("GatherV2", p, i, axis=0, name="g")
    with pytest.raises(IndexError, match=rf"^\[GatherV2 'g'\].* index {bad} is out of bounds"):
        run1(net, y, {p: np.arange(5.0), i: np.array([0, bad])})


def test_gather_needs_integer_indices(device):
    net = Net(device)
    p, i = net.ph("float32", [5, 3]), net.ph("float32", [2])
    with pytest.raises(TypeError, match=r"^\[GatherV2 'g'\].*float32"):
        net.add("GatherV2", p, i, axis=0, name="g")


# --- Conv2D, MaxPool, AvgPool (NHWC, TensorFlow's SAME/VALID) ---------------------------------


def tf_span(n, k, s, d, padding):
    """TensorFlow's output length and (before, after) padding of one
    spatial dimension."""
    reach = (k - 1) * d + 1
    if padding == "VALID":
        return (n - reach) // s + 1, 0, 0
    out = -(-n // s)
    total = max((out - 1) * s + reach - n, 0)
    return out, total // 2, total - total // 2


def nhwc_windows(x, kh, kw, strides, dilations, padding, fill):
    """(N, H, W, C) -> (N, OH, OW, kh, kw, C): each output's input window,
    with `fill` outside the image."""
    n, h, w, c = x.shape
    (sh, sw), (dh, dw) = strides, dilations
    oh, top, bottom = tf_span(h, kh, sh, dh, padding)
    ow, left, right = tf_span(w, kw, sw, dw, padding)
    xp = np.full((n, h + top + bottom, w + left + right, c), fill, dtype=np.float64)
    xp[:, top : top + h, left : left + w] = x
    out = np.empty((n, oh, ow, kh, kw, c))
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    out[:, i, j, a, b] = xp[:, i * sh + a * dh, j * sw + b * dw]
    return out


def conv_ref(x, f, strides, padding, dilations=(1, 1)):
    win = nhwc_windows(x, f.shape[0], f.shape[1], strides, dilations, padding, 0.0)
    return np.einsum("nhwabc,abco->nhwo", win, f)


def pool_ref(op, x, ksize, strides, padding):
    if op == "MaxPool":
        return nhwc_windows(x, *ksize, strides, (1, 1), padding, -np.inf).max(axis=(3, 4))
    total = nhwc_windows(x, *ksize, strides, (1, 1), padding, 0.0).sum(axis=(3, 4))
    taps = nhwc_windows(np.ones_like(x), *ksize, strides, (1, 1), padding, 0.0).sum(axis=(3, 4))
    return total / taps


def test_tf_span_reference():
    # The asymmetric SAME cases the tests rely on: the extra row goes after.
    assert tf_span(6, 3, 2, 1, "SAME") == (3, 0, 1)
    assert tf_span(5, 2, 1, 1, "SAME") == (5, 0, 1)
    assert tf_span(5, 3, 1, 1, "SAME") == (5, 1, 1)
    assert tf_span(7, 3, 1, 2, "SAME") == (7, 2, 2)
    assert tf_span(7, 3, 2, 1, "VALID") == (3, 0, 0)


CONV = [
    # (input shape, filter HW, strides attr, padding, dilations)
    ((2, 5, 5, 3), (3, 3), [1, 1], "VALID", None),
    ((2, 5, 5, 3), (3, 3), [1, 1], "SAME", None),
    ((1, 6, 6, 3), (3, 3), [2, 2], "SAME", None),  # even size, stride 2: pad (0, 1)
    ((1, 6, 5, 3), (2, 2), [1, 1], "SAME", None),  # even window: pad (0, 1)
    ((1, 7, 6, 3), (3, 2), [2, 3], "SAME", None),
    ((1, 7, 7, 3), (3, 3), [1, 2, 2, 1], "VALID", None),
    ((1, 7, 7, 3), (3, 3), [1, 1], "SAME", [2, 2]),
    ((1, 8, 7, 3), (3, 2), [2, 1], "SAME", [1, 2]),
]
CONV_OPS = ["im2col", "matmul", "copy", "fill"]


@pytest.mark.parametrize("case", CONV, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv2d(device, need, rng, case, dtype):
    need(*CONV_OPS, dtype=dtype)
    shape, (kh, kw), strides, padding, dilations = case
    x_np = rng.standard_normal(shape).astype(dtype)
    f_np = rng.standard_normal((kh, kw, shape[3], 4)).astype(dtype)
    net = Net(device)
    x = net.ph(dtype, [None, None, None, shape[3]])
    f = net.ph(dtype, list(f_np.shape))
    attrs = {"strides": strides, "padding": padding}
    if dilations is not None:
        attrs["dilations"] = dilations
    y = net.add("Conv2D", x, f, **attrs)
    assert y.shape() == (None, None, None, 4)
    s2 = strides[1:3] if len(strides) == 4 else strides
    expected = conv_ref(
        x_np.astype(np.float64), f_np.astype(np.float64), s2, padding, dilations or (1, 1)
    )
    r = run1(net, y, {x: x_np, f: f_np})
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-12}
    assert_close(r, expected.astype(dtype), **tol)
    # A fully known input shape gives a fully known output shape.
    net2 = Net(device)
    x2 = net2.ph(dtype, list(shape))
    f2 = net2.ph(dtype, list(f_np.shape))
    assert net2.add("Conv2D", x2, f2, **attrs).shape() == expected.shape


def test_conv2d_shape_errors(device):
    net = Net(device)
    x = net.ph("float32", [1, 5, 5, 3], name="x")
    f = net.ph("float32", [3, 3, 2, 4], name="f")
    with pytest.raises(ValueError, match=r"^\[Conv2D 'c1'\].*\(1, 5, 5, 3\).*\(3, 3, 2, 4\)"):
        net.add("Conv2D", x, f, strides=[1, 1], padding="SAME", name="c1")
    f2 = net.ph("float32", [7, 7, 3, 4], name="f2")
    with pytest.raises(ValueError, match=r"^\[Conv2D 'c2'\].*VALID"):
        net.add("Conv2D", x, f2, strides=[1, 1], padding="VALID", name="c2")
    f3 = net.ph("float32", [3, 3, 3, 4], name="f3")
    with pytest.raises(ValueError, match=r"^\[Conv2D 'c3'\].*padding"):
        net.add("Conv2D", x, f3, strides=[1, 1], padding="FULL", name="c3")
    x3 = net.ph("float32", [5, 5, 3], name="x3")
    with pytest.raises(ValueError, match=r"^\[Conv2D 'c4'\].*\(5, 5, 3\)"):
        net.add("Conv2D", x3, f3, strides=[1, 1], padding="SAME", name="c4")


POOL = [
    # (input shape, ksize attr, strides attr, padding)
    ((2, 6, 6, 3), [3, 3], [2, 2], "SAME"),  # even size, stride 2: pad (0, 1)
    ((2, 6, 6, 3), [2, 2], [2, 2], "VALID"),
    ((1, 5, 5, 2), [3, 3], [1, 1], "SAME"),  # symmetric
    ((1, 5, 4, 2), [2, 2], [1, 1], "SAME"),  # pad (0, 1)
    ((1, 7, 6, 2), [1, 3, 2, 1], [1, 2, 3, 1], "SAME"),
    ((1, 7, 7, 2), [3, 3], [2, 2], "VALID"),
]
POOL_OPS = {
    "MaxPool": ["im2col", "max", "copy", "fill"],
    "AvgPool": ["im2col", "sum", "div", "copy", "fill"],
}


@pytest.mark.parametrize("case", POOL, ids=str)
@pytest.mark.parametrize("op", ["MaxPool", "AvgPool"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pool(device, need, rng, op, case, dtype):
    need(*POOL_OPS[op], dtype=dtype)
    shape, ksize, strides, padding = case
    x_np = rng.standard_normal(shape).astype(dtype)
    net = Net(device)
    x = net.ph(dtype, [None, None, None, shape[3]])
    y = net.add(op, x, ksize=ksize, strides=strides, padding=padding)
    assert y.shape() == (None, None, None, shape[3])
    k2 = ksize[1:3] if len(ksize) == 4 else ksize
    s2 = strides[1:3] if len(strides) == 4 else strides
    expected = pool_ref(op, x_np.astype(np.float64), k2, s2, padding)
    r = run1(net, y, {x: x_np})
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-12}
    assert_close(r, expected.astype(dtype), **tol)
    net2 = Net(device)
    x2 = net2.ph(dtype, list(shape))
    assert net2.add(op, x2, ksize=ksize, strides=strides, padding=padding).shape() == expected.shape


# --- random ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["RandomStandardNormal", "RandomUniform", "RandomUniformLike"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_random_values(device, need, op, dtype):
    need("random_normal" if op == "RandomStandardNormal" else "random_uniform", dtype=dtype)
    net = Net(device)
    feeds = {}
    if op == "RandomUniformLike":
        x = net.ph("int32", [None, None])
        y = net.add(op, x, dtype=DTYPES[dtype], seed=7)
        assert y.shape() == (None, None)
        feeds = {x: np.zeros((100, 50), np.int32)}
    else:
        y = net.add(op, shape=[100, 50], dtype=DTYPES[dtype], seed=7)
        assert y.shape() == (100, 50)
    sess = _C.Session(net.g)
    first, second = (to_numpy(run(net, [y], feeds, sess)[0]) for _ in range(2))
    for v in (first, second):
        assert v.shape == (100, 50) and v.dtype == np.dtype(dtype)
        if op == "RandomStandardNormal":
            assert abs(v.mean()) < 0.1 and abs(v.std() - 1) < 0.1
        else:
            assert v.min() >= 0 and v.max() < 1
            assert abs(v.mean() - 0.5) < 0.05 and abs(v.std() - math.sqrt(1 / 12)) < 0.05
    assert not np.array_equal(first, second)


# --- gradients ---------------------------------------------------------------------------------

# Unary ops with an eager derivative rule; the kernels the rule runs.
UNARY_GRAD = {
    "Neg": ["neg"],
    "Abs": ["abs", "sign"],
    "Sign": ["sign"],
    "Exp": ["exp"],
    "Log": ["log", "div"],
    "Sqrt": ["sqrt", "div"],
    "Rsqrt": ["rsqrt"],
    "Square": [],
    "Reciprocal": ["reciprocal", "neg"],
    "Sin": ["sin", "cos"],
    "Cos": ["cos", "sin", "neg"],
    "Tanh": ["tanh", "sub"],
    "Sigmoid": ["sigmoid", "sub"],
    "Relu": ["relu", "gt", "where"],
    "Erf": ["erf", "neg", "exp"],
    "Log1p": ["log1p", "add", "div"],
    "Floor": ["floor"],
    "Ceil": ["ceil"],
    "Round": ["round"],
}


@pytest.mark.parametrize("name", list(UNARY_GRAD))
def test_unary_gradient(device, need, rng, name):
    need_grad(need, *UNARY_GRAD[name])
    a = sample_unary(rng, name, (2, 3))
    if name in ("Abs", "Relu", "Sign"):
        a = away_from_zero(rng, (2, 3))
    if name in ("Floor", "Ceil", "Round"):
        a = np.floor(rng.uniform(-3, 3, (2, 3))) + rng.uniform(0.1, 0.4, (2, 3))
    net = Net(device)
    x = net.ph("float64", [None, 3])
    graph_gradcheck(net, net.add(name, x), [x], {x: a}, rng)


BINARY_GRAD = {
    "Add": [],
    "Sub": ["neg"],
    "Mul": [],
    "RealDiv": ["div", "neg"],
    "Pow": ["pow", "log", "sub", "eq", "ge", "where"],
    "Maximum": ["maximum", "eq", "gt", "where", "add"],
    "Minimum": ["minimum", "eq", "lt", "where", "add"],
}


@pytest.mark.parametrize("case", ["same", "broadcast", "unknown_rank"])
@pytest.mark.parametrize("name", list(BINARY_GRAD))
def test_binary_gradient(device, need, rng, name, case):
    """Both operands' gradients, summed back over broadcast dimensions."""
    need_grad(need, *BINARY_GRAD[name])
    sa, sb = {
        "same": ((2, 3), (2, 3)),
        "broadcast": ((2, 3), (3,)),
        "unknown_rank": ((3, 1), (1, 2)),
    }[case]
    if name == "Pow":
        a, b = rng.uniform(0.5, 2.0, sa), rng.uniform(-1.5, 1.5, sb)
    elif name == "RealDiv":
        a, b = rng.uniform(-2, 2, sa), away_from_zero(rng, sb, 0.5, 2.0)
    else:
        a, b = distinct(rng, sa, 0.3), distinct(rng, sb, 0.3) + 0.05
    net = Net(device)
    if case == "unknown_rank":
        x, y = net.ph("float64", None), net.ph("float64", None)
    else:
        x, y = net.ph("float64", unknown(sa)), net.ph("float64", unknown(sb))
    graph_gradcheck(net, net.add(name, x, y), [x, y], {x: a, y: b}, rng)


def test_select_gradient(device, need, rng):
    need_grad(need, "where")
    c = np.array([[True, False, True], [False, False, True]])
    net = Net(device)
    pc, pa, pb = net.ph("bool", [None, 3]), net.ph("float64", [None, 3]), net.ph("float64", [3])
    out = net.add("Select", pc, pa, pb)
    feeds = {pc: c, pa: rng.standard_normal((2, 3)), pb: rng.standard_normal(3)}
    graph_gradcheck(net, out, [pa, pb], feeds, rng)


@pytest.mark.parametrize("case", MATMUL, ids=str)
def test_matmul_gradient(device, need, rng, case):
    need_grad(need, "matmul")
    sa, sb, ta, tb = case
    net = Net(device)
    x, y = net.ph("float64", unknown(sa)), net.ph("float64", unknown(sb))
    out = net.add("MatMul", x, y, transpose_a=ta, transpose_b=tb)
    feeds = {x: rng.standard_normal(sa), y: rng.standard_normal(sb)}
    graph_gradcheck(net, out, [x, y], feeds, rng)


REDUCE_GRAD = {
    "Sum": [],
    "Mean": ["mean"],
    "Max": ["max", "eq", "div"],
    "Min": ["min", "eq", "div"],
    "Prod": ["prod", "div"],
}


@pytest.mark.parametrize(
    "axes, keepdims", [(None, False), ([1], False), ([0, -1], True), (-1, True)], ids=str
)
@pytest.mark.parametrize("name", list(REDUCE_GRAD))
def test_reduce_gradient(device, need, rng, name, axes, keepdims):
    need_grad(need, *REDUCE_GRAD[name])
    if name in ("Max", "Min"):
        need("copy", dtype="bool")
    a = (
        distinct(rng, (2, 3, 2), 0.2)
        if name in ("Max", "Min")
        else rng.uniform(0.5, 1.5, (2, 3, 2))
    )
    net = Net(device)
    x = net.ph("float64", [None, 3, None])
    out = net.add(name, x, axes=axes, keepdims=keepdims)
    graph_gradcheck(net, out, [x], {x: a}, rng)


@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_gradient(device, need, rng, name, axis):
    need_grad(need, "softmax" if name == "Softmax" else "log_softmax", "exp", "sub")
    net = Net(device)
    x = net.ph("float64", [None, 4])
    graph_gradcheck(net, net.add(name, x, axis=axis), [x], {x: rng.standard_normal((3, 4))}, rng)


SHAPE_GRAD = [
    ("Reshape", {"shape": [-1, 2]}, (2, 3, 2)),
    ("Transpose", {"perm": [2, 0, 1]}, (2, 3, 2)),
    ("Transpose", {"perm": None}, (2, 3, 2)),
    ("ExpandDims", {"axis": 1}, (2, 3)),
    ("Squeeze", {"axes": None}, (1, 3, 1)),
    ("Squeeze", {"axes": [-1]}, (2, 3, 1)),
    ("Identity", {}, (2, 3)),
    ("Cast", {"dtype": devrt.float64}, (2, 3)),
    (
        "StridedSlice",
        dict(
            begin=[1, 0], end=[3, 3], strides=[1, 2], begin_mask=0, end_mask=2, shrink_axis_mask=0
        ),
        (4, 3),
    ),
    (
        "StridedSlice",
        dict(
            begin=[0, -1], end=[0, 0], strides=[1, 1], begin_mask=1, end_mask=1, shrink_axis_mask=2
        ),
        (4, 3),
    ),
    (
        "StridedSlice",
        dict(
            begin=[3, 0], end=[0, 0], strides=[-2, -1], begin_mask=0, end_mask=3, shrink_axis_mask=0
        ),
        (4, 3),
    ),
]


@pytest.mark.parametrize("case", range(len(SHAPE_GRAD)), ids=lambda i: SHAPE_GRAD[i][0] + str(i))
def test_shape_op_gradient(device, need, rng, case):
    name, attrs, shape = SHAPE_GRAD[case]
    need_grad(need)
    if min(attrs.get("strides", [1])) < 0:
        need("arange", dtype="int64")
        need("index", "index_put", dtype="float64")
    net = Net(device)
    x = net.ph("float64", [None] * len(shape))
    graph_gradcheck(net, net.add(name, x, **attrs), [x], {x: rng.standard_normal(shape)}, rng)


@pytest.mark.parametrize("op", ["ZerosLike", "OnesLike"])
def test_like_ops_have_no_gradient(device, need, rng, op):
    """sum(W * ZerosLike(x)) does not depend on x's values: as in TensorFlow,
    x has no gradient (None), and finite differences give zeros."""
    need_grad(need)
    net = Net(device)
    x = net.ph("float64", [None, 3])
    out = net.add(op, x)
    assert net.g.add_gradients([(out, 0)], [(x, 0)], [], "like") == [None]
    graph_gradcheck(net, out, [x], {x: rng.standard_normal((2, 3))}, rng)


def test_cast_to_float32_gradient(device, need, rng):
    need_grad(need)
    need("copy", dtype="float32")
    net = Net(device)
    x = net.ph("float64", [None, 3])
    out = net.add("Cast", x, dtype=devrt.float32)
    feeds = {x: rng.standard_normal((2, 3))}
    graph_gradcheck(net, out, [x], feeds, rng, eps=1e-3, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("op, axis", [("ConcatV2", 0), ("ConcatV2", -1), ("Pack", 0), ("Pack", 2)])
def test_join_gradient(device, need, rng, op, axis):
    need_grad(need)
    net = Net(device)
    if op == "ConcatV2" and axis == 0:
        shapes = [(1, 3), (2, 3)]
    elif op == "ConcatV2":
        shapes = [(2, 1), (2, 2)]
    else:
        shapes = [(2, 3), (2, 3)]
    xs = [net.ph("float64", unknown(s)) for s in shapes]
    feeds = {x: rng.standard_normal(s) for x, s in zip(xs, shapes)}
    graph_gradcheck(net, net.add(op, *xs, axis=axis), xs, feeds, rng)


@pytest.mark.parametrize("axis", [0, 1])
def test_gather_gradient(device, need, rng, axis):
    need_grad(need, "index", "index_put")
    need("copy", dtype="int32")
    net = Net(device)
    p = net.ph("float64", [None, 3])
    i = net.ph("int32", [None])
    idx = np.array([2, 0, 2, 1], dtype=np.int32)  # a repeated index accumulates
    out = net.add("GatherV2", p, i, axis=axis)
    graph_gradcheck(net, out, [p], {p: rng.standard_normal((4, 3)), i: idx}, rng)


@pytest.mark.parametrize(
    "case",
    [
        ((1, 4, 4, 2), (3, 3), [2, 2], "SAME", None),  # asymmetric padding
        ((2, 4, 3, 2), (2, 2), [1, 1], "SAME", None),
        ((1, 5, 5, 2), (3, 3), [1, 1], "SAME", None),
        ((1, 5, 4, 2), (2, 2), [2, 1], "VALID", None),
        ((1, 5, 5, 1), (2, 2), [1, 1], "SAME", [2, 2]),
    ],
    ids=str,
)
def test_conv2d_gradient(device, need, rng, case):
    need_grad(need, *CONV_OPS, "col2im")
    shape, (kh, kw), strides, padding, dilations = case
    net = Net(device)
    x = net.ph("float64", [None, None, None, shape[3]])
    f = net.ph("float64", [kh, kw, shape[3], 2])
    attrs = {"strides": strides, "padding": padding}
    if dilations:
        attrs["dilations"] = dilations
    out = net.add("Conv2D", x, f, **attrs)
    feeds = {x: rng.standard_normal(shape), f: rng.standard_normal((kh, kw, shape[3], 2))}
    graph_gradcheck(net, out, [x, f], feeds, rng)


@pytest.mark.parametrize("op", ["MaxPool", "AvgPool"])
@pytest.mark.parametrize(
    "case",
    [
        ((1, 4, 4, 2), [3, 3], [2, 2], "SAME"),  # asymmetric padding
        ((1, 5, 5, 1), [3, 3], [1, 1], "SAME"),
        ((1, 4, 5, 2), [2, 2], [2, 2], "VALID"),
    ],
    ids=str,
)
def test_pool_gradient(device, need, rng, op, case):
    need_grad(need, *POOL_OPS[op], "col2im", "eq", "where")
    shape, ksize, strides, padding = case
    net = Net(device)
    x = net.ph("float64", [None, None, None, shape[3]])
    out = net.add(op, x, ksize=ksize, strides=strides, padding=padding)
    graph_gradcheck(net, out, [x], {x: distinct(rng, shape, 0.1)}, rng)


# --- the executor's fused Conv2D + bias Add + Relu (and the MaxPool after it) ----------------


def conv_chain(device, dtype, channels, oc, pool, strides=(1, 1), padding="SAME", hw=(None, None)):
    """Conv2D -> Add of a per-channel bias -> Relu (-> 2x2 MaxPool), the chain
    a Session runs as one conv2d_nhwc_relu step (with the pooling, where the
    input's height and width `hw` make an even grid); returns the net, its
    placeholders (x, f, b), the Add and the output."""
    net = Net(device)
    x = net.ph(dtype, [None, *hw, channels], name="x")
    f = net.ph(dtype, [3, 3, channels, oc], name="f")
    b = net.ph(dtype, [oc], name="b")
    c = net.add("Conv2D", x, f, strides=list(strides), padding=padding, name="conv")
    a = net.add("Add", c, b, name="add")
    out = net.add("Relu", a, name="relu")
    if pool:
        out = net.add("MaxPool", out, ksize=[2, 2], strides=[2, 2], padding="SAME", name="pool")
    return net, (x, f, b), a, out


def conv_chain_ref(x, f, b, strides, padding, pool):
    y = np.maximum(conv_ref(x, f, strides, padding) + b, 0.0)
    return pool_ref("MaxPool", y, (2, 2), (2, 2), "SAME") if pool else y


FUSED_OPS = [*CONV_OPS, "add", "relu"]


@pytest.mark.parametrize("pool", [False, True], ids=["relu", "relu_pool"])
@pytest.mark.parametrize("case", [((2, 6, 5, 3), (1, 1), "SAME"), ((1, 7, 8, 17), (2, 1), "VALID")])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_conv_bias_relu(device, need, rng, case, pool, dtype):
    need(*FUSED_OPS, *(POOL_OPS["MaxPool"] if pool else []), dtype=dtype)
    shape, strides, padding = case
    net, (x, f, b), add, out = conv_chain(device, dtype, shape[3], 20, pool, strides, padding)
    feeds = {
        x: rng.standard_normal(shape).astype(dtype),
        f: rng.standard_normal((3, 3, shape[3], 20)).astype(dtype),
        b: rng.standard_normal(20).astype(dtype),
    }
    expected = conv_chain_ref(*(np.float64(feeds[k]) for k in (x, f, b)), strides, padding, pool)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-12}
    fused = _C.Session(net.g)
    assert_close(run(net, [out], feeds, fused)[0], expected.astype(dtype), **tol)
    assert fused.stats["fused"] == 1
    # Fetching the Add's value keeps the chain's nodes (the same values).
    separate = _C.Session(net.g)
    got, _ = run(net, [out, add], feeds, separate)
    assert separate.stats["fused"] == 0
    assert_close(got, expected.astype(dtype), **tol)


@pytest.mark.parametrize("pool", [False, True], ids=["relu", "relu_pool"])
def test_fused_conv_bias_relu_gradient(device, need, rng, pool):
    need_grad(
        need, *FUSED_OPS, "le", "where", *(POOL_OPS["MaxPool"] + ["col2im", "eq"] if pool else [])
    )
    net, (x, f, b), _, out = conv_chain(device, "float64", 2, 3, pool)
    feeds = {
        x: distinct(rng, (2, 5, 4, 2), 0.1),
        f: rng.standard_normal((3, 3, 2, 3)),
        b: rng.standard_normal(3),
    }
    graph_gradcheck(net, out, [x, f, b], feeds, rng)


@pytest.mark.parametrize("pool", [False, True], ids=["relu", "relu_pool"])
@pytest.mark.parametrize("channels", [(3, 16), (20, 24)], ids=["c3", "c20"])
def test_fused_conv_bias_relu_gradient_is_the_chains(device, need, rng, pool, channels):
    """With a zero bias the fused step computes what the separate nodes do,
    to the bit: forward and the input's and filter's gradients (the
    MaxPool's masked at the pooled size instead of relu's mask over the full
    size, where windows whose greatest value is 0 pass nothing either way;
    the 2x2 pooling of the even grid joins the fused step, whose gradients
    may spread the pooled gradient as they go instead of writing it whole).
    The bias's gradient is the same sum, in another order where the device
    takes it from the filter gradient's pass."""
    need(*FUSED_OPS, "sum", "mul", "fill", "copy", "le", "where", dtype="float32")
    if pool:
        need(*POOL_OPS["MaxPool"], "col2im", "eq", "where", dtype="float32")
    cin, cout = channels
    net, (x, f, b), add, out = conv_chain(device, "float32", cin, cout, pool, hw=(6, 6))
    w = rng.uniform(-1.0, 1.0, (2, 3, 3, cout) if pool else (2, 6, 6, cout)).astype(np.float32)
    loss = net.add("Sum", net.add("Mul", out, net.const(w)), axes=None, keepdims=False)
    grads = net.g.add_gradients([(loss, 0)], [(x, 0), (f, 0), (b, 0)], [], "gradients")
    # Mostly negative pre-activations: many windows whose greatest value is 0.
    feeds = {
        x: np.abs(rng.standard_normal((2, 6, 6, cin))).astype(np.float32),
        f: (rng.standard_normal((3, 3, cin, cout)) - 0.5).astype(np.float32),
        b: np.zeros(cout, np.float32),
    }
    fused, separate = _C.Session(net.g), _C.Session(net.g)
    one = run(net, [out, *grads], feeds, fused)
    two = run(net, [out, *grads, add], feeds, separate)[:-1]
    assert fused.stats["fused"] == 1 and separate.stats["fused"] == 0
    assert fused.stats["fused_pools"] == pool
    assert (to_numpy(one[0]) == 0).mean() > 0.2
    for got, want in zip(one[:3], two[:3], strict=True):
        np.testing.assert_array_equal(to_numpy(got), to_numpy(want))
    np.testing.assert_allclose(to_numpy(one[3]), to_numpy(two[3]), rtol=1e-6, atol=1e-6)


def test_fusion_keeps_chains_it_cannot_fuse(device, need, rng):
    """A chain whose Conv2D value has another reader, or whose bias is not
    one value per channel, runs node by node, with the same results."""
    need(*FUSED_OPS, "neg", dtype="float32")
    net, (x, f, b), _, out = conv_chain(device, "float32", 2, 4, False)
    c2 = net.add("Conv2D", x, f, strides=[1, 1], padding="SAME", name="conv2")
    read_twice = net.add("Relu", net.add("Add", c2, b))
    other = net.add("Neg", c2)
    b3 = net.ph("float32", [1, 1, 1, 4], name="b3")
    c3 = net.add("Conv2D", x, f, strides=[1, 1], padding="SAME", name="conv3")
    wide_bias = net.add("Relu", net.add("Add", c3, b3))
    feeds = {
        x: rng.standard_normal((1, 4, 4, 2)).astype(np.float32),
        f: rng.standard_normal((3, 3, 2, 4)).astype(np.float32),
        b: rng.standard_normal(4).astype(np.float32),
        b3: rng.standard_normal((1, 1, 1, 4)).astype(np.float32),
    }
    sess = _C.Session(net.g)
    got = run(net, [out, read_twice, other, wide_bias], feeds, sess)
    assert sess.stats["fused"] == 1
    xs, fs = np.float64(feeds[x]), np.float64(feeds[f])
    conv = conv_ref(xs, fs, (1, 1), "SAME")
    expected = [
        np.maximum(conv + feeds[b], 0.0),
        np.maximum(conv + feeds[b], 0.0),
        -conv,
        np.maximum(conv + feeds[b3], 0.0),
    ]
    for g, e in zip(got, expected, strict=True):
        assert_close(g, e.astype(np.float32), rtol=1e-4, atol=1e-4)


# --- Where, Range (sizes known at run time) ---------------------------------------------------


@pytest.mark.parametrize("dtype", ["bool", "float32", "int64"])
def test_where_coordinates(device, need, rng, dtype):
    need("nonzero", dtype=dtype)
    x = (rng.standard_normal((3, 4, 2)) > 0.3).astype(dtype)
    net = Net(device)
    p = net.ph(dtype, [None, 4, 2])
    y = net.add("Where", p)
    assert y.shape() == (None, 3) and y.dtype() == DTYPES["int64"]
    r = run1(net, y, {p: x})
    np.testing.assert_array_equal(r, np.argwhere(x))
    empty = run1(net, y, {p: np.zeros((2, 4, 2), dtype)})
    assert empty.shape == (0, 3)


@pytest.mark.parametrize(
    "dtype, bounds", [("int64", (2, 11, 3)), ("int32", (5, -4, -2)), ("float32", (0.5, 2.0, 0.25))]
)
def test_range(device, need, dtype, bounds):
    need("arange", dtype=dtype)
    net = Net(device)
    start, limit, delta = (net.ph(dtype, []) for _ in range(3))
    y = net.add("Range", start, limit, delta)
    assert y.shape() == (None,) and y.dtype() == DTYPES[dtype]
    feeds = {t: np.array(v, dtype) for t, v in zip((start, limit, delta), bounds)}
    assert_close(run1(net, y, feeds), np.arange(*bounds, dtype=dtype))


def test_range_refuses_bad_bounds(device):
    net = Net(device)
    with pytest.raises(ValueError, match=r"^\[Range 'r'\].*scalars, got shape \(2,\)"):
        net.add("Range", net.ph("int64", [2]), net.ph("int64", []), net.ph("int64", []), name="r")
    with pytest.raises(TypeError, match=r"^\[Range 'r'\].*one dtype.*int64.*float32"):
        net.add("Range", net.ph("int64", []), net.ph("float32", []), net.ph("int64", []), name="r")
    a, b, c = net.ph("int64", None), net.ph("int64", []), net.ph("int64", [])
    y = net.add("Range", a, b, c, name="r")
    with pytest.raises(ValueError, match=r"\[Range 'r'\].*2 elements"):
        run1(net, y, {a: np.array([1, 2]), b: np.array(5), c: np.array(1)})
    with pytest.raises(ValueError, match=r"\[Range 'r'\]"):
        run1(net, y, {a: np.array(1), b: np.array(5), c: np.array(0)})
