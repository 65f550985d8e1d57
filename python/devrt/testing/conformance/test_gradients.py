"""Gradients of every differentiable op on every device, checked against
central finite differences in float64 (devrt.testing.gradcheck).

The checker compares a vector-Jacobian product: for a random cotangent v it
differentiates sum(v * f(x)) numerically, element by element, and compares
with devrt.autograd.grad(f(x), x, v). It also checks that each gradient has
its input's shape, dtype and device.

Every test asks `need` for the kernels its forward AND the derivative rule
use (core/src/autograd/rules.cpp writes the rules in terms of other
catalogue ops); the engine clones the seed gradient (`copy`), so on pydev,
which has only add/mul/relu/matmul/sum, the tests skip. Inputs stay away
from the points where an op is not differentiable (0 for abs/relu, the
clamp bounds, ties for max/min/maximum/minimum).
"""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt.testing.conformance.support import to_device, to_numpy
from devrt.testing.gradcheck import gradcheck

# float64 central differences with eps=1e-6 are good to ~1e-9 here.
TOL = {"atol": 1e-6, "rtol": 1e-6}
# Paths through float32: a wider step and tolerance.
TOL32 = {"eps": 1e-3, "atol": 2e-3, "rtol": 2e-3}

# Ops each derivative rule runs (rules.cpp), besides the forward op itself.
RULE_OPS = {
    "neg": ["neg"],
    "abs": ["sign", "mul"],
    "relu": ["le", "where", "fill"],  # relu_backward where the device has it
    "exp": ["mul"],
    "log": ["div"],
    "sqrt": ["div", "mul"],
    "rsqrt": ["mul"],
    "sin": ["cos", "mul"],
    "cos": ["sin", "mul", "neg"],
    "tan": ["mul", "add"],
    "tanh": ["mul", "sub"],
    "sigmoid": ["mul", "sub"],
    "erf": ["mul", "neg", "exp"],
    "log1p": ["add", "div"],
    "expm1": ["add", "mul"],
    "reciprocal": ["mul", "neg"],
    "clamp": ["ge", "le", "where", "fill"],
    "add": ["sum"],
    "sub": ["neg", "sum"],
    "mul": ["mul", "sum"],
    "div": ["div", "mul", "neg", "sum"],
    "atan2": ["div", "mul", "add", "neg", "sum"],
    "hypot": ["div", "mul", "sum"],
    "pow": ["pow", "sub", "mul", "eq", "ge", "log", "where", "fill", "sum"],
    "maximum": ["eq", "gt", "where", "mul", "fill", "sum"],
    "minimum": ["eq", "lt", "where", "mul", "fill", "sum"],
    "where": ["where", "fill", "sum"],
    "sum": [],
    "mean": ["mul"],
    "prod": ["mul", "div"],
    "max": ["eq", "ne", "logical_or", "sum", "div", "mul"],
    "min": ["eq", "ne", "logical_or", "sum", "div", "mul"],
    "var": ["mean", "sub", "mul"],
    "softmax": ["mul", "sum", "sub"],
    "log_softmax": ["sum", "exp", "mul", "sub"],
    "matmul": ["matmul", "sum", "mul"],
    "copy": ["copy"],
    "index": ["index_put", "fill"],
    "slice": ["fill", "copy"],
    "select": ["fill", "copy"],
}
# Ops of the rules that run on bool tensors.
RULE_BOOL_OPS = {
    "clamp": ["logical_and"],
    "pow": ["logical_and"],
    "max": ["copy"],  # the mask of hits is cast to the input's dtype
    "min": ["copy"],
}
# The View family: no kernels (they share storage), only derivative rules.
VIEW_OPS = {"reshape", "permute", "expand", "slice", "select"}


def need_grad(need, *ops, dtype="float64"):
    """Skips unless the device runs `ops` forward and their derivative
    rules, plus what every check uses: `copy` (the engine clones the seed
    gradient; inputs and results move to and from the host)."""
    float_ops = {"copy"}
    bool_ops = set()
    for op in ops:
        if op not in VIEW_OPS:
            float_ops.add(op)
        float_ops.update(RULE_OPS.get(op, []))
        bool_ops.update(RULE_BOOL_OPS.get(op, []))
    need(*sorted(float_ops), dtype=dtype)
    if bool_ops:
        need(*sorted(bool_ops), dtype="bool")


def leaf(a: np.ndarray, device, dtype="float64", requires_grad=True):
    t = to_device(np.asarray(a, dtype=np.float64), device, dtype)
    if requires_grad:
        t.requires_grad_(True)
    assert t.is_leaf
    return t


def uniform(rng, shape, low, high):
    return rng.uniform(low, high, shape)


def away_from(rng, shape, points=(0.0,), gap=0.2, scale=2.0):
    """Values in [-scale, scale] at least `gap` from every one of `points`."""
    a = rng.uniform(-scale, scale, shape)
    for _ in range(1000):
        close = np.zeros(np.shape(a), dtype=bool)
        for p in points:
            close |= np.abs(a - p) < gap
        if not close.any():
            return a
        a = np.where(close, rng.uniform(-scale, scale, np.shape(a)), a)
    raise AssertionError("could not sample inputs away from the points")


def distinct(rng, shape, spacing=0.1):
    """Values with pairwise gaps of at least `spacing` (no ties)."""
    n = int(np.prod(shape, dtype=np.int64))
    flat = (rng.permutation(n) - n / 2) * spacing + rng.uniform(0, spacing / 10, n)
    return flat.reshape(shape)


# --- unary ----------------------------------------------------------------------------

UNARY = {
    # name: (function, input sampler)
    "neg": (lambda x: -x, lambda r, s: uniform(r, s, -2, 2)),
    "neg_fn": (devrt.neg, lambda r, s: uniform(r, s, -2, 2)),
    "abs": (lambda x: x.abs(), lambda r, s: away_from(r, s)),
    "abs_op": (abs, lambda r, s: away_from(r, s)),
    "relu": (lambda x: x.relu(), lambda r, s: away_from(r, s)),
    "relu_fn": (devrt.relu, lambda r, s: away_from(r, s)),
    "exp": (lambda x: x.exp(), lambda r, s: uniform(r, s, -2, 2)),
    "log": (lambda x: x.log(), lambda r, s: uniform(r, s, 0.3, 3)),
    "sqrt": (lambda x: x.sqrt(), lambda r, s: uniform(r, s, 0.3, 3)),
    "rsqrt": (lambda x: x.rsqrt(), lambda r, s: uniform(r, s, 0.3, 3)),
    "sin": (lambda x: x.sin(), lambda r, s: uniform(r, s, -3, 3)),
    "cos": (lambda x: x.cos(), lambda r, s: uniform(r, s, -3, 3)),
    "tan": (lambda x: x.tan(), lambda r, s: uniform(r, s, -1.2, 1.2)),
    "tanh": (lambda x: x.tanh(), lambda r, s: uniform(r, s, -2, 2)),
    "sigmoid": (lambda x: x.sigmoid(), lambda r, s: uniform(r, s, -3, 3)),
    "erf": (lambda x: x.erf(), lambda r, s: uniform(r, s, -2, 2)),
    "log1p": (lambda x: x.log1p(), lambda r, s: uniform(r, s, -0.7, 3)),
    "expm1": (lambda x: x.expm1(), lambda r, s: uniform(r, s, -2, 2)),
    "reciprocal": (lambda x: x.reciprocal(), lambda r, s: away_from(r, s, gap=0.4)),
}
UNARY_OP = {k: k.split("_")[0] for k in UNARY}


@pytest.mark.parametrize("shape", [(2, 3), ()], ids=["2x3", "0d"])
@pytest.mark.parametrize("name", list(UNARY))
def test_unary(device, need, rng, name, shape):
    need_grad(need, UNARY_OP[name])
    fn, sample = UNARY[name]
    x = leaf(sample(rng, shape), device)
    assert gradcheck(fn, (x,), **TOL)


@pytest.mark.parametrize("shape", [(2, 3), (3, 1, 2)], ids=str)
def test_unary_noncontiguous_input(device, need, rng, shape):
    """A gradient arriving for a transposed view goes back to the leaf's layout."""
    need_grad(need, "sin", "permute")
    x = leaf(uniform(rng, shape, -2, 2), device)
    assert gradcheck(lambda t: t.transpose(0, -1).sin(), (x,), **TOL)


CLAMP = {
    "min": ({"min": -0.5}, (-0.5,)),
    "max": ({"max": 0.7}, (0.7,)),
    "both": ({"min": -0.5, "max": 0.7}, (-0.5, 0.7)),
    "both_positional": ((-0.5, 0.7), (-0.5, 0.7)),
    "int_bound": ({"min": 0}, (0.0,)),
}


@pytest.mark.parametrize("form", ["method", "function", "clip"])
@pytest.mark.parametrize("case", list(CLAMP))
def test_clamp(device, need, rng, case, form):
    need_grad(need, "clamp")
    bounds, points = CLAMP[case]
    a = away_from(rng, (3, 4), points, gap=0.1)
    # Both sides of every bound occur.
    assert all((a < p).any() and (a > p).any() for p in points)
    x = leaf(a, device)
    if isinstance(bounds, tuple):
        fns = {
            "method": lambda t: t.clamp(*bounds),
            "function": lambda t: devrt.clamp(t, *bounds),
            "clip": lambda t: t.clip(*bounds),
        }
    else:
        fns = {
            "method": lambda t: t.clamp(**bounds),
            "function": lambda t: devrt.clamp(t, **bounds),
            "clip": lambda t: t.clip(**bounds),
        }
    assert gradcheck(fns[form], (x,), **TOL)


def test_clamp_gradient_values(device, need):
    """Exact: 1 strictly inside the range, 0 outside."""
    need_grad(need, "clamp", "sum")
    need("fill", dtype="float64")
    x = leaf([-2.0, -0.25, 0.0, 0.5, 3.0], device)
    x.clamp(min=-1.0, max=1.0).sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), [0.0, 1.0, 1.0, 1.0, 0.0])


# --- binary ---------------------------------------------------------------------------

BROADCAST = [
    ((2, 3), (2, 3)),
    ((2, 3), (3,)),
    ((3,), (2, 3)),
    ((2, 1), (1, 3)),
    ((4, 1, 3), (2, 1)),
    ((2, 3), ()),
    ((), (2, 3)),
    ((1, 3), (2, 1, 1)),
]


def _binary_inputs(rng, op, sa, sb):
    if op == "div":
        return uniform(rng, sa, -2, 2), away_from(rng, sb, gap=0.4)
    if op == "pow":
        return uniform(rng, sa, 0.4, 2.5), uniform(rng, sb, -2, 2)
    if op in ("maximum", "minimum"):
        shape = np.broadcast_shapes(sa, sb)
        for _ in range(100):
            a, b = uniform(rng, sa, -2, 2), uniform(rng, sb, -2, 2)
            if np.min(np.abs(np.broadcast_to(a, shape) - np.broadcast_to(b, shape))) > 0.05:
                return a, b
        raise AssertionError("no tie-free inputs")
    return uniform(rng, sa, -2, 2), uniform(rng, sb, -2, 2)


BINARY_FORMS = {
    "add": [lambda a, b: a + b, devrt.add, lambda a, b: a.add(b)],
    "sub": [lambda a, b: a - b, devrt.sub, lambda a, b: a.subtract(b)],
    "mul": [lambda a, b: a * b, devrt.mul, lambda a, b: a.multiply(b)],
    "div": [lambda a, b: a / b, devrt.div, lambda a, b: a.true_divide(b)],
    "pow": [lambda a, b: a**b, devrt.pow, lambda a, b: a.pow(b)],
    "maximum": [devrt.maximum, lambda a, b: a.maximum(b), lambda a, b: devrt.max(a, b)],
    "minimum": [devrt.minimum, lambda a, b: a.minimum(b), lambda a, b: devrt.min(a, b)],
    "atan2": [devrt.atan2, lambda a, b: a.atan2(b), devrt.arctan2],
    "hypot": [devrt.hypot, lambda a, b: a.hypot(b), lambda a, b: devrt.hypot(input=a, other=b)],
}


@pytest.mark.parametrize("which", ["both", "first", "second"])
@pytest.mark.parametrize("sa,sb", BROADCAST, ids=[f"{a}-{b}" for a, b in BROADCAST])
@pytest.mark.parametrize("op", list(BINARY_FORMS))
def test_binary(device, need, rng, op, sa, sb, which):
    need_grad(need, op)
    a, b = _binary_inputs(rng, op, sa, sb)
    ta = leaf(a, device, requires_grad=which in ("both", "first"))
    tb = leaf(b, device, requires_grad=which in ("both", "second"))
    assert gradcheck(BINARY_FORMS[op][0], (ta, tb), **TOL)


@pytest.mark.parametrize("form", [1, 2])
@pytest.mark.parametrize("op", list(BINARY_FORMS))
def test_binary_spellings(device, need, rng, op, form):
    need_grad(need, op)
    a, b = _binary_inputs(rng, op, (2, 3), (3,))
    ta, tb = leaf(a, device), leaf(b, device)
    assert gradcheck(BINARY_FORMS[op][form], (ta, tb), **TOL)


def test_binary_same_tensor_both_sides(device, need, rng):
    """x*x, x/x, x-x, x**x: both gradient paths reach one leaf and add up."""
    need_grad(need, "mul", "div", "sub", "pow", "add")
    x = leaf(uniform(rng, (2, 3), 0.5, 2), device)
    assert gradcheck(lambda t: t * t + t / (t + 1.0) - t**t, (x,), **TOL)


NUMBER_CASES = {
    # name: (function, sampler, ops)
    "x+2.5": (lambda x: x + 2.5, None, ["add"]),
    "2.5+x": (lambda x: 2.5 + x, None, ["add"]),
    "x+3(int)": (lambda x: x + 3, None, ["add"]),
    "x-1.5": (lambda x: x - 1.5, None, ["sub"]),
    "1.5-x": (lambda x: 1.5 - x, None, ["sub"]),
    "x*-2.5": (lambda x: x * -2.5, None, ["mul"]),
    "-2.5*x": (lambda x: -2.5 * x, None, ["mul"]),
    "3*x(int)": (lambda x: 3 * x, None, ["mul"]),
    "x/2.5": (lambda x: x / 2.5, None, ["div"]),
    "2.5/x": (lambda x: 2.5 / x, lambda r, s: away_from(r, s, gap=0.4), ["div"]),
    "x**2(int)": (lambda x: x**2, None, ["pow"]),
    "x**3(int)": (lambda x: x**3, None, ["pow"]),
    "x**2.5": (lambda x: x**2.5, lambda r, s: uniform(r, s, 0.3, 2), ["pow"]),
    "x**-1.5": (lambda x: x**-1.5, lambda r, s: uniform(r, s, 0.3, 2), ["pow"]),
    "x**0.5": (lambda x: x.pow(0.5), lambda r, s: uniform(r, s, 0.3, 2), ["pow"]),
    "2.0**x": (lambda x: 2.0**x, None, ["pow"]),
    "3**x(int)": (lambda x: 3**x, None, ["pow"]),
    "0.5**x": (lambda x: devrt.pow(0.5, x), None, ["pow"]),
    "maximum(x,0.3)": (
        lambda x: devrt.maximum(x, 0.3),
        lambda r, s: away_from(r, s, (0.3,), 0.1),
        ["maximum"],
    ),
    "minimum(0.3,x)": (
        lambda x: devrt.minimum(0.3, x),
        lambda r, s: away_from(r, s, (0.3,), 0.1),
        ["minimum"],
    ),
    "sub(2,x)": (lambda x: devrt.sub(2, x), None, ["sub"]),
    "div(1.5,x)": (lambda x: devrt.div(1.5, x), lambda r, s: away_from(r, s, gap=0.4), ["div"]),
}


@pytest.mark.parametrize("shape", [(2, 3), ()], ids=["2x3", "0d"])
@pytest.mark.parametrize("name", list(NUMBER_CASES))
def test_binary_python_number(device, need, rng, name, shape):
    fn, sample, ops = NUMBER_CASES[name]
    need_grad(need, *ops)
    a = sample(rng, shape) if sample else uniform(rng, shape, -2, 2)
    x = leaf(a, device)
    assert gradcheck(fn, (x,), **TOL)


def test_binary_mixed_dtypes(device, need, rng):
    """float32 * float64 computes in float64; the float32 leaf gets a float32
    gradient, the float64 one a float64 gradient."""
    need_grad(need, "mul", "copy")
    need_grad(need, "mul", "copy", dtype="float32")
    a = leaf(uniform(rng, (2, 3), -2, 2), device, "float32")
    b = leaf(uniform(rng, (3,), -2, 2), device, "float64")
    assert gradcheck(lambda x, y: x * y, (a, b), **TOL32)


# --- where --------------------------------------------------------------------------------

WHERE_SHAPES = [
    ((2, 3), (2, 3), (2, 3)),
    ((2, 3), (3,), (2, 1)),
    ((3,), (2, 3), ()),
    ((2, 1), (1, 3), (2, 3)),
]


@pytest.mark.parametrize("which", ["both", "first", "second"])
@pytest.mark.parametrize("sc,sa,sb", WHERE_SHAPES, ids=[str(s) for s in WHERE_SHAPES])
def test_where(device, need, rng, sc, sa, sb, which):
    need_grad(need, "where")
    need("copy", dtype="bool")
    cond = to_device(rng.random(sc) < 0.5, device)
    ta = leaf(uniform(rng, sa, -2, 2), device, requires_grad=which != "second")
    tb = leaf(uniform(rng, sb, -2, 2), device, requires_grad=which != "first")
    assert gradcheck(lambda a, b: devrt.where(cond, a, b), (ta, tb), **TOL)


@pytest.mark.parametrize(
    "form",
    ["number_other", "number_input", "method"],
)
def test_where_forms(device, need, rng, form):
    need_grad(need, "where")
    need("copy", dtype="bool")
    cond = to_device(np.array([[True, False, True], [False, False, True]]), device)
    x = leaf(uniform(rng, (2, 3), -2, 2), device)
    y = leaf(uniform(rng, (2, 3), -2, 2), device)
    if form == "number_other":
        assert gradcheck(lambda a: devrt.where(cond, a, 0.5), (x,), **TOL)
    elif form == "number_input":
        assert gradcheck(lambda a: devrt.where(cond, -1.5, a), (x,), **TOL)
    else:
        assert gradcheck(lambda a, b: a.where(cond, b), (x, y), **TOL)


def test_where_gradient_values(device, need):
    """Exact: the gradient goes to the chosen branch, 0 to the other."""
    need_grad(need, "where", "sum")
    need("copy", dtype="bool")
    cond = to_device(np.array([True, False, True]), device)
    a = leaf([1.0, 2.0, 3.0], device)
    b = leaf([4.0, 5.0, 6.0], device)
    devrt.where(cond, a, b).sum().backward()
    np.testing.assert_array_equal(to_numpy(a.grad), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(to_numpy(b.grad), [0.0, 1.0, 0.0])


# --- reductions ------------------------------------------------------------------------

SHAPE3 = (2, 3, 4)
DIMS = [None, 0, 1, -1, (0, 2), (2, 0, 1)]


def _reduce_input(rng, op, shape):
    if op == "prod":
        return uniform(rng, shape, 0.5, 1.5) * rng.choice([-1.0, 1.0], shape)
    if op in ("amax", "amin", "max", "min"):
        return distinct(rng, shape)
    return uniform(rng, shape, -2, 2)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("op", ["sum", "mean", "prod", "amax", "amin"])
def test_reduce(device, need, rng, op, dim, keepdim):
    kernel = {"amax": "max", "amin": "min"}.get(op, op)
    need_grad(need, kernel)
    x = leaf(_reduce_input(rng, op, SHAPE3), device)
    if dim is None and not keepdim:
        fn = lambda t: getattr(t, op)()  # noqa: E731
    else:
        fn = lambda t: getattr(t, op)(dim=dim, keepdim=keepdim)  # noqa: E731
    assert gradcheck(fn, (x,), **TOL)


@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), (1, True)])
def test_prod_with_a_zero(device, need, dim, keepdim):
    """prod is differentiable where an element is 0: d/dx_i prod(x) is the
    product of the other elements (PyTorch's result), not 0/0."""
    need_grad(need, "prod", "sum")
    need("fill", dtype="float64")
    x = leaf([[2.0, 0.0, 3.0], [1.5, 2.0, -4.0]], device)
    if dim is None:
        x.prod().backward()
        expected = [[0.0, 2.0 * 3.0 * 1.5 * 2.0 * -4.0, 0.0], [0.0, 0.0, 0.0]]
    else:
        x.prod(dim, keepdim=keepdim).sum().backward()
        expected = [[0.0, 6.0, 0.0], [-8.0, -6.0, 3.0]]
    np.testing.assert_allclose(to_numpy(x.grad), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("op", ["sum", "mean", "prod", "amax", "amin"])
def test_reduce_module_function(device, need, rng, op):
    kernel = {"amax": "max", "amin": "min"}.get(op, op)
    need_grad(need, kernel)
    x = leaf(_reduce_input(rng, op, (3, 4)), device)
    assert gradcheck(lambda t: getattr(devrt, op)(t, 1), (x,), **TOL)
    assert gradcheck(lambda t: getattr(devrt, op)(t), (x,), **TOL)


MAX_MIN_DIMS = [
    (None, False),
    (0, False),
    (0, True),
    (1, False),
    (1, True),
    (-1, True),
    (-3, False),
]


@pytest.mark.parametrize("dim,keepdim", MAX_MIN_DIMS, ids=str)
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min(device, need, rng, op, dim, keepdim):
    """max()/min() (all) and max(dim)/min(dim) (values, indices)."""
    need_grad(need, op)
    need(f"arg{op}", dtype="float64")
    x = leaf(distinct(rng, SHAPE3), device)
    if dim is None:
        fns = [lambda t: getattr(t, op)(), lambda t: getattr(devrt, op)(t)]
    else:
        fns = [
            lambda t: getattr(t, op)(dim, keepdim=keepdim).values,
            lambda t: getattr(t, op)(dim=dim, keepdim=keepdim)[0],
            lambda t: getattr(devrt, op)(t, dim, keepdim).values,
        ]
    for fn in fns:
        assert gradcheck(fn, (x,), **TOL)


@pytest.mark.parametrize("op", ["amax", "max"])
def test_max_all_ties_share_the_gradient(device, need, op):
    """A full max/amax with tied extremes sends each of them an equal share
    (PyTorch's evenly distributed gradient)."""
    need_grad(need, "max", "sum")
    need("fill", dtype="float64")
    x = leaf([[1.0, 3.0], [3.0, -2.0]], device)
    getattr(x, op)().backward()
    np.testing.assert_allclose(to_numpy(x.grad), [[0.0, 0.5], [0.5, 0.0]], rtol=0, atol=1e-15)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 1, -1, (0, 2)], ids=str)
@pytest.mark.parametrize("correction", [0, 1])
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std(device, need, rng, op, dim, keepdim, correction):
    need_grad(need, "var")
    if op == "std":
        need_grad(need, "sqrt")
    x = leaf(uniform(rng, SHAPE3, -2, 2), device)
    if dim is None and not keepdim:
        fns = [lambda t: getattr(t, op)(correction=correction)]
        fns.append(lambda t: getattr(t, op)(unbiased=bool(correction)))
    else:
        fns = [lambda t: getattr(t, op)(dim, keepdim=keepdim, correction=correction)]
        fns.append(lambda t: getattr(devrt, op)(t, dim, bool(correction), keepdim))
    for fn in fns:
        assert gradcheck(fn, (x,), **TOL)


@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_default_correction(device, need, rng, op):
    """The default is the unbiased estimator (correction=1)."""
    need_grad(need, "var", "sqrt", "sum")
    a = uniform(rng, (5,), -2, 2)
    x = leaf(a, device)
    getattr(x, op)().backward(to_device(np.array(1.0), device))
    var = a.var(ddof=1)
    expected = 2 * (a - a.mean()) / (a.size - 1)
    if op == "std":
        expected = expected / (2 * np.sqrt(var))
    np.testing.assert_allclose(to_numpy(x.grad), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax(device, need, rng, op, dim):
    need_grad(need, op)
    x = leaf(uniform(rng, SHAPE3, -3, 3), device)
    assert gradcheck(lambda t: getattr(t, op)(dim), (x,), **TOL)
    assert gradcheck(lambda t: getattr(devrt, op)(t, dim=dim), (x,), **TOL)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_1d_and_composed(device, need, rng, op):
    """A 1-D softmax and softmax feeding a loss (the usual composition)."""
    need_grad(need, op, "mul", "sum", "log")
    x = leaf(uniform(rng, (5,), -3, 3), device)
    assert gradcheck(lambda t: getattr(t, op)(0), (x,), **TOL)
    w = to_device(uniform(rng, (2, 5), -1, 1), device)
    x2 = leaf(uniform(rng, (2, 5), -3, 3), device)
    assert gradcheck(lambda t: (getattr(t, op)(-1) * w).sum(), (x2,), **TOL)


# --- matmul ----------------------------------------------------------------------------

MATMUL = [
    ((2, 3), (3, 4)),
    ((1, 3), (3, 1)),
    ((2, 2, 3), (2, 3, 4)),
    ((2, 1, 2, 3), (3, 3, 2)),  # batch broadcast both ways
    ((2, 3), (2, 3, 2)),  # 2-D against a batch
    ((2, 2, 3), (3, 4)),  # batch against 2-D
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((3,), (3,)),
    ((3,), (2, 3, 2)),
    ((2, 2, 3), (3,)),
]


@pytest.mark.parametrize("which", ["both", "first", "second"])
@pytest.mark.parametrize("sa,sb", MATMUL, ids=[f"{a}@{b}" for a, b in MATMUL])
def test_matmul(device, need, rng, sa, sb, which):
    need_grad(need, "matmul")
    ta = leaf(uniform(rng, sa, -2, 2), device, requires_grad=which != "second")
    tb = leaf(uniform(rng, sb, -2, 2), device, requires_grad=which != "first")
    assert gradcheck(lambda a, b: a @ b, (ta, tb), **TOL)


@pytest.mark.parametrize("form", ["matmul", "mm", "method_mm", "bmm", "transposed"])
def test_matmul_forms(device, need, rng, form):
    need_grad(need, "matmul", "permute")
    if form == "bmm":
        ta = leaf(uniform(rng, (2, 2, 3), -2, 2), device)
        tb = leaf(uniform(rng, (2, 3, 4), -2, 2), device)
        fn = devrt.bmm
    elif form == "transposed":
        ta = leaf(uniform(rng, (3, 2), -2, 2), device)
        tb = leaf(uniform(rng, (4, 3), -2, 2), device)
        fn = lambda a, b: a.t() @ b.t()  # noqa: E731
    else:
        ta = leaf(uniform(rng, (2, 3), -2, 2), device)
        tb = leaf(uniform(rng, (3, 4), -2, 2), device)
        fn = {
            "matmul": devrt.matmul,
            "mm": devrt.mm,
            "method_mm": lambda a, b: a.mm(b),
        }[form]
    assert gradcheck(fn, (ta, tb), **TOL)


@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
def test_matmul_by_a_transposed_weight(device, need, rng, batch):
    """x @ w.t() (nn.Linear): w's gradient, computed transposed, is right
    and lands in .grad in w's own (contiguous) layout."""
    need_grad(need, "matmul", "permute")
    tx = leaf(uniform(rng, (*batch, 4, 5), -2, 2), device)
    tw = leaf(uniform(rng, (3, 5), -2, 2), device)
    assert gradcheck(lambda x, w: x @ w.t(), (tx, tw), **TOL)
    (tx @ tw.t()).sum().backward()
    assert tw.grad.is_contiguous() and tw.grad.stride() == (5, 1)
    x = to_numpy(tx).reshape(-1, 5)
    np.testing.assert_allclose(
        to_numpy(tw.grad), np.ones((x.shape[0], 3)).T @ x, rtol=1e-12, atol=1e-12
    )


# --- casts and copies ----------------------------------------------------------------------

CASTS = {
    "f64->f32 .float()": ("float64", lambda t: t.float().sin()),
    "f64->f32 .to(dtype)": ("float64", lambda t: t.to(devrt.float32) * 2.0),
    "f64->f32->f64": ("float64", lambda t: t.float().double().exp()),
    "f32->f64 .double()": ("float32", lambda t: t.double().exp()),
    "f32->f64 .to(dtype=)": ("float32", lambda t: t.to(dtype=devrt.float64).sin()),
    "f32->f64 type_as": ("float32", lambda t: t.type_as(devrt.zeros(1, dtype=devrt.float64))),
}


@pytest.mark.parametrize("name", list(CASTS))
def test_cast(device, need, rng, name):
    """The gradient comes back in the leaf's dtype (gradcheck checks it)."""
    dtype, fn = CASTS[name]
    need_grad(need, "copy", "sin", "exp", "mul", dtype="float32")
    need_grad(need, "copy", "sin", "exp", "mul", dtype="float64")
    x = leaf(uniform(rng, (2, 3), -1, 1), device, dtype)
    assert gradcheck(fn, (x,), **TOL32)


def test_cast_gradient_dtype(device, need, rng):
    need_grad(need, "copy", "sum", dtype="float32")
    need_grad(need, "copy", "sum")
    x = leaf(uniform(rng, (4,), -1, 1), device, "float32")
    (x.double() * 3.0).sum().backward()
    assert x.grad.dtype == devrt.float32
    np.testing.assert_array_equal(to_numpy(x.grad), np.full(4, 3.0, np.float32))


@pytest.mark.parametrize("form", ["clone", "devrt.clone", "contiguous_of_t", "contiguous"])
def test_clone_contiguous(device, need, rng, form):
    need_grad(need, "copy", "permute", "mul")
    x = leaf(uniform(rng, (2, 3), -2, 2), device)
    fn = {
        "clone": lambda t: t.clone() * t,
        "devrt.clone": lambda t: devrt.clone(t),
        "contiguous_of_t": lambda t: t.t().contiguous(),
        "contiguous": lambda t: t.contiguous() * 2.0,
    }[form]
    assert gradcheck(fn, (x,), **TOL)


@pytest.mark.parametrize("direction", ["device->cpu", "cpu->device", "round_trip"])
def test_to_device(device, need, rng, direction):
    """Gradients come back to the device of the leaf (gradcheck checks it)."""
    need_grad(need, "copy", "sin", "mul")
    a = uniform(rng, (2, 3), -2, 2)
    if direction == "device->cpu":
        x = leaf(a, device)
        fn = lambda t: t.to("cpu").sin()  # noqa: E731
    elif direction == "cpu->device":
        x = leaf(a, "cpu")
        fn = lambda t: t.to(device).sin()  # noqa: E731
    else:
        x = leaf(a, device)
        fn = lambda t: t.cpu().to(device) * t  # noqa: E731
    assert gradcheck(fn, (x,), **TOL)


# --- views --------------------------------------------------------------------------------

VIEWS = {
    "reshape": ((2, 3, 4), lambda t: t.reshape(4, 6)),
    "reshape_-1": ((2, 3, 4), lambda t: t.reshape(-1)),
    "devrt.reshape": ((2, 3, 4), lambda t: devrt.reshape(t, (6, -1))),
    "reshape_noncontig": ((2, 3, 4), lambda t: t.transpose(0, 2).reshape(4, 6)),
    "view": ((2, 3, 4), lambda t: t.view(6, 4)),
    "view_-1": ((2, 3, 4), lambda t: t.view(2, -1)),
    "transpose": ((2, 3, 4), lambda t: t.transpose(0, 2)),
    "devrt.transpose": ((2, 3, 4), lambda t: devrt.transpose(t, -1, 1)),
    "t": ((2, 3), lambda t: t.t()),
    "T": ((2, 3, 4), lambda t: t.T),
    "mT": ((2, 3, 4), lambda t: t.mT),
    "permute": ((2, 3, 4), lambda t: t.permute(2, 0, 1)),
    "permute_neg": ((2, 3, 4), lambda t: t.permute(-1, -3, -2)),
    "expand": ((3, 1), lambda t: t.expand(2, 3, 4)),
    "expand_-1": ((3, 1), lambda t: t.expand(-1, 5)),
    "expand_as": ((1, 4), lambda t: t.expand_as(devrt.zeros(3, 4))),
    "squeeze": ((2, 1, 3, 1), lambda t: t.squeeze()),
    "squeeze_dim": ((2, 1, 3), lambda t: t.squeeze(1)),
    "unsqueeze": ((2, 3), lambda t: t.unsqueeze(0)),
    "unsqueeze_-1": ((2, 3), lambda t: t.unsqueeze(-1)),
    "flatten": ((2, 3, 4), lambda t: t.flatten()),
    "flatten_1": ((2, 3, 4), lambda t: t.flatten(1)),
    "flatten_0_1": ((2, 3, 4), lambda t: devrt.flatten(t, 0, 1)),
    "narrow": ((3, 5), lambda t: t.narrow(1, 1, 3)),
    "narrow_0": ((3, 5), lambda t: t.narrow(0, 2, 1)),
    "slice": ((5, 6), lambda t: t[1:4]),
    "slice_steps": ((5, 6), lambda t: t[::2, 1::2]),
    "slice_step3_neg_start": ((5, 7), lambda t: t[-4:, ::3]),
    "slice_empty_tail": ((5, 6), lambda t: t[3:100, :2]),
    "int": ((3, 4), lambda t: t[1]),
    "int_neg": ((3, 4), lambda t: t[:, -1]),
    "int_int": ((3, 4), lambda t: t[2, 1]),
    "ellipsis_int": ((2, 3, 4), lambda t: t[..., 0]),
    "none": ((2, 3), lambda t: t[None, :, None]),
    "int_and_slice": ((3, 4, 5), lambda t: t[1, ::2, 1:4]),
    "chain": ((3, 4), lambda t: t.t()[1:].reshape(-1)[::2]),
    "overlapping_uses": ((4, 3), lambda t: t[1:] * t[:-1]),
    "iterate": ((3, 2), lambda t: sum(list(t)) * 1.0),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_view(device, need, rng, name):
    shape, fn = VIEWS[name]
    need_grad(need, "reshape", "permute", "expand", "slice", "select", "mul", "add")
    x = leaf(uniform(rng, shape, -2, 2), device)
    assert gradcheck(fn, (x,), **TOL)


# --- advanced indexing ------------------------------------------------------------------

INDEX = {
    "ints": ((4, 3), lambda t, d: t[[2, 0, 3]]),
    "ints_repeated": ((4, 3), lambda t, d: t[[1, 1, 3, 1, 0]]),
    "ints_negative": ((4, 3), lambda t, d: t[[-1, 0, -1]]),
    "ints_2d_index": ((4, 3), lambda t, d: t[to_device(np.array([[0, 1], [1, 3]]), d)]),
    # as PyTorch: a list holding lists is a tuple of indices, t[[0, 1], [1, 2]]
    "nested_list_is_tuple": ((4, 3), lambda t, d: t[[[0, 1], [1, 2]]]),
    "ints_tensor": ((4, 3), lambda t, d: t[to_device(np.array([3, 3, 0]), d)]),
    "ints_numpy": ((4, 3), lambda t, d: t[np.array([2, 2])]),
    "ints_second_dim": ((3, 4), lambda t, d: t[:, [3, 0, 3]]),
    "two_arrays": ((3, 4), lambda t, d: t[[0, 2, 0], [1, 1, 1]]),
    "two_arrays_broadcast": ((3, 4), lambda t, d: t[[[0], [2]], [1, 3, 1]]),
    "array_and_int": ((3, 4, 2), lambda t, d: t[[0, 2, 2], 1]),
    "separated_arrays": ((3, 4, 2), lambda t, d: t[[0, 2], :, [1, 1]]),
    "mask_full": (
        (3, 4),
        lambda t, d: t[to_device(np.array([[1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 1, 0]], bool), d)],
    ),
    "mask_rows": ((3, 4), lambda t, d: t[to_device(np.array([True, False, True]), d)]),
    "mask_middle": (
        (2, 3, 2),
        lambda t, d: t[:, to_device(np.array([False, True, True]), d)],
    ),
    "mask_numpy": ((3, 4), lambda t, d: t[np.array([False, True, True])]),
    "mask_after_view": ((4, 3), lambda t, d: t.t()[to_device(np.array([True, False, True]), d)]),
}


@pytest.mark.parametrize("name", list(INDEX))
def test_advanced_indexing(device, need, rng, name):
    shape, fn = INDEX[name]
    need_grad(need, "index", "permute", "reshape", "slice", "select")
    need("copy", "nonzero", dtype="bool")
    need("copy", dtype="int64")
    x = leaf(uniform(rng, shape, -2, 2), device)
    assert gradcheck(lambda t: fn(t, device), (x,), **TOL)


def test_repeated_indices_accumulate(device, need):
    """Exact: an element picked k times gets k times the gradient."""
    need_grad(need, "index", "sum", "mul")
    need("copy", dtype="int64")
    need("fill", dtype="float64")
    x = leaf(np.arange(5.0), device)
    w = to_device(np.array([1.0, 10.0, 100.0, 1000.0, 2.0]), device)
    (x[[3, 0, 3, 3, 1]] * w).sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), [10.0, 2.0, 0.0, 1101.0, 0.0])


def test_mask_gradient_values(device, need):
    need_grad(need, "index", "sum")
    need("copy", "nonzero", dtype="bool")
    need("fill", dtype="float64")
    x = leaf([[1.0, -2.0], [-3.0, 4.0]], device)
    mask = to_device(np.array([[True, False], [False, True]]), device)
    x[mask].sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), [[1.0, 0.0], [0.0, 1.0]])


# --- compositions --------------------------------------------------------------------------


def test_cross_entropy_mlp(device, need, rng):
    """A two-layer classifier's loss: matmul, broadcasting add, relu,
    log_softmax, integer-array gather, mean; gradients for every parameter."""
    need_grad(need, "matmul", "add", "relu", "log_softmax", "index", "mean", "neg")
    need("copy", dtype="int64")
    x = to_device(uniform(rng, (4, 3), -1, 1), device)
    labels = np.array([0, 2, 1, 2])
    w1 = leaf(uniform(rng, (3, 5), -1, 1), device)
    b1 = leaf(uniform(rng, (5,), -1, 1), device)
    w2 = leaf(uniform(rng, (5, 3), -1, 1), device)
    # relu's kink: keep the hidden pre-activations away from 0
    h = x.cpu().numpy() @ w1.detach().cpu().numpy() + b1.detach().cpu().numpy()
    assert np.min(np.abs(h)) > 1e-3

    def loss(w1, b1, w2):
        logits = (x @ w1 + b1).relu() @ w2
        return -logits.log_softmax(1)[list(range(4)), labels.tolist()].mean()

    assert gradcheck(loss, (w1, b1, w2), **TOL)


def test_binary_cross_entropy(device, need, rng):
    """The core's binary_cross_entropy against NumPy, its gradients by
    finite differences inside (0, 1); at 0 and 1, where the floored logs
    are flat or infinite, PyTorch's gradients."""
    need_grad(need, "log", "log1p", "neg", "clamp", "sub", "mul", "div", "min", "max")
    x, y = uniform(rng, (3, 4), 0.05, 0.95), uniform(rng, (3, 4), 0.0, 1.0)
    tx, ty = leaf(x, device), leaf(y, device)
    want = -(y * np.log(x) + (1 - y) * np.log1p(-x))
    np.testing.assert_allclose(to_numpy(devrt._C.binary_cross_entropy(tx, ty)), want, rtol=1e-12)
    assert gradcheck(devrt._C.binary_cross_entropy, (tx, ty), **TOL)
    bx, by = leaf([0.0, 1.0, 0.0, 1.0], device), leaf([0.0, 1.0, 1.0, 0.0], device)
    loss = devrt._C.binary_cross_entropy(bx, by)
    loss.sum().backward()
    np.testing.assert_array_equal(to_numpy(loss), [0.0, 0.0, 100.0, 100.0])
    floor = float(np.float32(1e-12))  # max(x (1 - x), 1e-12): the float 1e-12
    np.testing.assert_allclose(to_numpy(bx.grad), [0.0, 0.0, -1 / floor, 1 / floor], rtol=1e-12)
    np.testing.assert_array_equal(to_numpy(by.grad), [np.inf, -np.inf, np.inf, -np.inf])


def test_diamond_graph(device, need, rng):
    """One intermediate feeding several branches of different lengths."""
    need_grad(need, "mul", "exp", "sin", "add", "tanh", "sum")
    x = leaf(uniform(rng, (3,), -1, 1), device)

    def fn(t):
        a = t * 2.0
        b = a.exp()
        c = a.sin().tanh()
        return b * c + a + (a * a).sum()

    assert gradcheck(fn, (x,), **TOL)


def test_multiple_outputs_checked_together(device, need, rng):
    need_grad(need, "mul", "sum", "exp")
    x = leaf(uniform(rng, (2, 3), -1, 1), device)
    assert gradcheck(lambda t: (t * t, t.exp().sum(0)), (x,), **TOL)
