"""The static-graph IR and its executor through the bindings (devrt._C.Graph,
GraphNode, Session; docs/graph.md): node creation and shape inference on
partial shapes with the errors it raises, attributes, graph lookups; and the
Session: pruning, feeds, variables and the order of their writes, plan
caching, gradients, memory reuse across runs, placement and random ops.
"""

from __future__ import annotations

import gc
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import devrt
import devrt.cuda
from devrt import _C
from devrt.testing import pydev
from devrt.testing.pydev import CallTrace

F32, F64 = devrt.float32, devrt.float64


class Net:
    """A _C.Graph whose nodes are named for the test."""

    def __init__(self):
        self.g = _C.Graph()

    def add(self, op, *inputs, name=None, device="", control=(), **attrs):
        ins = [x if isinstance(x, tuple) else (x, 0) for x in inputs]
        return self.g.add_node(op, ins, attrs, name or f"{op}_{len(self.g)}", device, list(control))

    def ph(self, shape, dtype=F64, name=None, **kw):
        return self.add("Placeholder", name=name, dtype=dtype, shape=shape, **kw)

    def const(self, value, dtype=np.float64, name=None, **kw):
        return self.add("Const", name=name, value=tensor(value, dtype), **kw)

    def var(self, shape, dtype=F64, name=None, **kw):
        return self.add("Variable", name=name, dtype=dtype, shape=shape, **kw)


def tensor(value, dtype=np.float64):
    return devrt.from_numpy(np.array(value, dtype=dtype))


def out(x):
    return x if isinstance(x, tuple) else (x, 0)


def run(sess, fetches=(), feeds=None, targets=()):
    """Session.run with nodes for outputs and a {node: array} feed dict."""
    feed_list = [(out(k), tensor(v)) for k, v in (feeds or {}).items()]
    return sess.run([out(f) for f in fetches], list(targets), feed_list)


def values(tensors):
    return [t.tolist() for t in tensors]


def gradients(net, ys, xs, seeds=(), scope="g"):
    """tf.gradients on the raw graph: per x its gradient output, or None."""
    return net.g.add_gradients([out(y) for y in ys], [out(x) for x in xs], list(seeds), scope)


def run_isolated(code: str) -> str:
    """Runs `code` in a fresh interpreter (for cases that crash the process)
    and returns its stdout; fails on a crash or a non-zero exit."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode < 0:
        why = f"crashed with {signal.Signals(-proc.returncode).name}"
    else:
        why = f"exited with {proc.returncode}"
    assert proc.returncode == 0, f"the child process {why}\n{proc.stderr[-3000:]}"
    return proc.stdout


# --- shape inference on partial shapes --------------------------------------------------


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ([None, 3], [None, None], (None, 3)),
        ([None, 3], [4, 1], (4, 3)),
        ([1, None], [5, 1], (5, None)),
        ([None, 3], [2, 1, 1], (2, None, 3)),
        ([None, 1], [None, 1], (None, 1)),
        ([], [None, 3], (None, 3)),
        ([None], [3, None], (3, None)),
        (None, [2, 3], None),
        ([2, 3], None, None),
    ],
    ids=str,
)
def test_broadcasting_with_unknown_dims(a, b, expected):
    net = Net()
    z = net.add("Add", net.ph(a), net.ph(b))
    assert z.shape() == expected
    assert z.dtype() == F64


@pytest.mark.parametrize(
    "shape, op, attrs, expected",
    [
        (None, "Neg", {}, None),
        (None, "Sum", {"axes": [0], "keepdims": True}, None),
        (None, "Reshape", {"shape": [-1, 2]}, (None, 2)),
        (None, "ExpandDims", {"axis": 0}, None),
        (None, "Shape", {}, (None,)),
        (None, "Transpose", {"perm": None}, None),
        ([None, 3, None], "Sum", {"axes": [1], "keepdims": False}, (None, None)),
        ([None, 3, None], "Sum", {"axes": None, "keepdims": True}, (1, 1, 1)),
        ([None, 3, None], "Sum", {"axes": None, "keepdims": False}, ()),
        ([None, 3, None], "Max", {"axes": [-1], "keepdims": True}, (None, 3, 1)),
        ([None, 3, None], "ArgMax", {"axis": 1}, (None, None)),
        ([None, 3, None], "Transpose", {"perm": [2, 0, 1]}, (None, None, 3)),
        ([None, 3, None], "ExpandDims", {"axis": -1}, (None, 3, None, 1)),
        ([None, 3, None], "Shape", {}, (3,)),
        ([None, 6], "Reshape", {"shape": [-1, 3, 2]}, (None, 3, 2)),
        ([4, 6], "Reshape", {"shape": [-1, 3, 2]}, (4, 3, 2)),
        ([None, 1, 3], "Squeeze", {"axes": [1]}, (None, 3)),
        ([None, 1, 3], "Squeeze", {"axes": None}, None),
        ([None, 3], "Softmax", {"axis": -1}, (None, 3)),
        ([None, 3], "OnesLike", {}, (None, 3)),
    ],
    ids=str,
)
def test_partial_shape_inference(shape, op, attrs, expected):
    net = Net()
    assert net.add(op, net.ph(shape), **attrs).shape() == expected


def test_placeholder_shapes_and_dtypes():
    net = Net()
    assert net.ph(None).shape() is None
    assert net.ph([]).shape() == ()
    p = net.ph([None, 2, None], dtype=devrt.int32)
    assert p.shape() == (None, 2, None) and p.dtype() == devrt.int32
    assert p.attrs == {"dtype": devrt.int32, "shape": [None, 2, None]}
    assert net.add("Cast", p, dtype=devrt.bool).dtype() == devrt.bool
    assert net.add("Equal", p, p).dtype() == devrt.bool
    assert net.add("Add", p, net.ph([2, 1], dtype=F32)).dtype() == F32
    assert net.add("RealDiv", p, p).dtype() == F32
    assert net.add("Exp", p).dtype() == F32
    assert net.add("Sum", net.ph([2], dtype=devrt.bool), axes=None).dtype() == devrt.int64


# (op, inputs as placeholder shapes / dtypes, attrs, error, message after the prefix)
BUILD_ERRORS = [
    ("Add", [[None, 3], [4]], {}, ValueError, r"\(\?, 3\) and \(4,\)"),
    ("Mul", [[2, None, 3], [5, 1, 4]], {}, ValueError, r"\(2, \?, 3\) and \(5, 1, 4\)"),
    ("MatMul", [[None, 3], [4, 5]], {}, ValueError, r"\(\?, 3\) and \(4, 5\)"),
    ("MatMul", [[None, 3], [5, 4]], {"transpose_b": True}, ValueError, r"\(\?, 3\) and \(5, 4\)"),
    ("MatMul", [[None, 3], [3]], {}, ValueError, r"\(\?, 3\) and \(3,\)"),
    ("MatMul", [[2, 3], ([3, 2], F32)], {}, TypeError, r"float64 and float32"),
    ("Sum", [[None, 3]], {"axes": [2]}, IndexError, r"axis 2 .*rank 2"),
    ("ArgMax", [[None, 3]], {"axis": -3}, IndexError, r"axis -3 .*rank 2"),
    ("Softmax", [[None, 3]], {"axis": 2}, IndexError, r"axis 2"),
    ("ExpandDims", [[None, 3]], {"axis": 3}, IndexError, r"axis 3"),
    ("Transpose", [[None, 3]], {"perm": [0]}, ValueError, r"rank 2"),
    ("Reshape", [[4, 6]], {"shape": [5, -1]}, ValueError, r"\(4, 6\)"),
    ("Squeeze", [[None, 3]], {"axes": [1]}, ValueError, r"\(\?, 3\)"),
    ("ConcatV2", [[2, 3], [2, 3, 1]], {"axis": 0}, ValueError, r"\(2, 3, 1\).*\(2, 3\)"),
    ("Pack", [[2, 3], [3, 2]], {"axis": 0}, ValueError, r"\(3, 2\)"),
    ("Select", [[3], [3], [3]], {}, TypeError, r"bool, got float64"),
    ("Select", [([None, 2], devrt.bool), [3], [3]], {}, ValueError, r"\(\?, 2\).*\(3,\)"),
    ("OneHot", [[3]], {"depth": 4, "dtype": F32}, TypeError, r"float64"),
    ("GatherV2", [[5, 3], [2]], {"axis": 0}, TypeError, r"float64"),
    (
        "Conv2D",
        [[1, 5, 5, 3], [3, 3, 2, 4]],
        {"strides": [1, 1], "padding": "SAME"},
        ValueError,
        r"\(1, 5, 5, 3\).*\(3, 3, 2, 4\)",
    ),
    (
        "MaxPool",
        [[5, 5, 3]],
        {"ksize": [2, 2], "strides": [1, 1], "padding": "SAME"},
        ValueError,
        r"\(5, 5, 3\)",
    ),
    (
        "StridedSlice",
        [[None, 3]],
        dict(
            begin=[0, 0, 0],
            end=[1, 1, 1],
            strides=[1, 1, 1],
            begin_mask=0,
            end_mask=0,
            shrink_axis_mask=0,
        ),
        IndexError,
        r"\(\?, 3\)",
    ),
    (
        "VJP",
        [[3], [3], [3]],
        {"n_in": 1, "outputs": [0], "inputs": [0]},
        ValueError,
        r"inputs must be the inputs of",
    ),
    ("VJP", [[3], [3], [3]], {"n_in": 0, "outputs": [0], "inputs": [0]}, ValueError, r"3 inputs"),
    ("ArgMax", [[3]], {}, ValueError, r"'axis'"),
    ("ArgMax", [[3]], {"axis": "0"}, TypeError, r"'axis' must be an int, got str"),
]


@pytest.mark.parametrize(
    "case", range(len(BUILD_ERRORS)), ids=lambda i: BUILD_ERRORS[i][0] + str(i)
)
def test_shape_and_dtype_errors_at_build_time(case):
    op, inputs, attrs, error, message = BUILD_ERRORS[case]
    net = Net()
    phs = []
    for i, spec in enumerate(inputs):
        shape, dtype = spec if isinstance(spec, tuple) else (spec, F64)
        phs.append(net.ph(shape, dtype=dtype, name=f"in{i}"))
    n = len(net.g)
    with pytest.raises(error, match=rf"^\[{op} 'bad'\] .*{message}"):
        net.add(op, *phs, name="bad", **attrs)
    # A refused node is not added, and its name stays free.
    assert len(net.g) == n
    with pytest.raises(KeyError):
        net.g.get("bad")
    net.add("Identity", phs[0], name="bad")


def test_variable_and_assign_errors():
    net = Net()
    with pytest.raises(ValueError, match=r"^\[Variable 'v0'\] .*\(\?, 3\)"):
        net.var([None, 3], name="v0")
    v = net.var([2, 3], name="v")
    p = net.ph([2, 3], name="p")
    with pytest.raises(TypeError, match=r"^\[Assign 'a0'\] .*'p' \(Placeholder\)"):
        net.add("Assign", p, p, name="a0")
    with pytest.raises(ValueError, match=r"^\[AssignAdd 'a1'\] .*\(3, 3\).*'v'.*\(2, 3\)"):
        net.add("AssignAdd", v, net.ph([3, 3]), name="a1")
    with pytest.raises(TypeError, match=r"^\[AssignSub 'a2'\] .*float32.*'v'.*float64"):
        net.add("AssignSub", v, net.ph([2, 3], dtype=F32), name="a2")
    assert net.add("Assign", v, net.ph([None, 3]), name="a3").shape() == (2, 3)
    with pytest.raises(ValueError, match=r"^\[RandomUniform 'r0'\] .*\(\?,\)"):
        net.add("RandomUniform", name="r0", shape=[None], dtype=F32, seed=1)
    with pytest.raises(TypeError, match=r"^\[RandomStandardNormal 'r1'\] .*int32"):
        net.add("RandomStandardNormal", name="r1", shape=[2], dtype=devrt.int32, seed=1)


def test_unknown_op():
    net = Net()
    with pytest.raises(NotImplementedError, match=r"^\[Conv3D 'c'\] .*docs/graph.md"):
        net.add("Conv3D", net.ph([1]), name="c")
    assert len(net.g) == 1


def test_names_must_be_unique_and_non_empty():
    net = Net()
    x = net.ph([2], name="x")
    with pytest.raises(ValueError, match=r"^\[Neg 'x'\] the graph already has a node of that name"):
        net.add("Neg", x, name="x")
    with pytest.raises(ValueError, match=r"^\[Neg\] a node needs a name"):
        net.g.add_node("Neg", [(x, 0)], {}, "", "", [])
    assert [n.name for n in net.g.nodes()] == ["x"]


@pytest.mark.parametrize(
    "op, n, message",
    [
        ("Add", 1, "takes 2 inputs, got 1"),
        ("Neg", 2, "takes 1 inputs, got 2"),
        ("Select", 2, "takes 3 inputs, got 2"),
        ("ConcatV2", 0, "takes 1 or more inputs, got 0"),
        ("NoOp", 1, "takes 0 inputs, got 1"),
        ("VJP", 1, "takes 2 or more inputs, got 1"),
    ],
)
def test_wrong_input_counts(op, n, message):
    net = Net()
    x = net.ph([2], name="x")
    with pytest.raises(ValueError, match=rf"^\[{op} 'n'\] {message}"):
        net.add(op, *[x] * n, name="n", axis=0)


def test_inputs_must_be_outputs_of_this_graph():
    net = Net()
    x = net.ph([2], name="x")
    nop = net.add("NoOp", name="nop")
    with pytest.raises(ValueError, match=r"^\[Neg 'n'\] input 0 .*x has 1 outputs"):
        net.add("Neg", (x, 1), name="n")
    with pytest.raises(ValueError, match=r"^\[Neg 'n'\] input 0 .*nop has 0 outputs"):
        net.add("Neg", (nop, 0), name="n")
    other = Net()
    y = other.ph([2], name="y")
    with pytest.raises(ValueError, match=r"^\[Neg 'n'\] input 0 \('y'\) belongs to another graph"):
        net.add("Neg", y, name="n")
    with pytest.raises(ValueError, match=r"^\[NoOp 'n'\] a control input belongs to another graph"):
        net.add("NoOp", name="n", control=[y])
    with pytest.raises(IndexError, match=r"^\[GraphNode\] 'x' has 1 outputs, asked for output 1"):
        x.shape(1)
    with pytest.raises(IndexError):
        x.dtype(-1)


def test_attrs_round_trip():
    net = Net()
    value = tensor([[1.0, 2.0]])
    attrs = {
        "value": value,
        "flag": True,
        "count": -3,
        "ratio": 0.25,
        "padding": "SAME",
        "dtype": devrt.int64,
        "ints": [1, -1, 2],
        "shape": [None, 2],
        "empty": [],
        "tuple": (4, 5),
        "nothing": None,
    }
    c = net.add("Const", name="c", **attrs)
    got = c.attrs
    assert set(got) == set(attrs)
    assert got["value"].tolist() == [[1.0, 2.0]] and got["value"].dtype == F64
    assert got["flag"] is True and got["count"] == -3 and got["ratio"] == 0.25
    assert got["padding"] == "SAME" and got["dtype"] == devrt.int64
    assert got["ints"] == [1, -1, 2] and got["shape"] == [None, 2]
    assert got["empty"] == [] and got["tuple"] == [4, 5] and got["nothing"] is None
    assert isinstance(got["flag"], bool) and isinstance(got["count"], int)
    with pytest.raises(TypeError, match=r"^\[add_node\] attribute 'bad' of unsupported type dict"):
        net.add("Const", name="c2", value=value, bad={})
    with pytest.raises(TypeError, match=r"^\[add_node\] attribute 'bad': lists hold ints"):
        net.add("Const", name="c3", value=value, bad=[1.5])
    with pytest.raises(
        TypeError, match=r"^\[Reshape 'r'\] attribute 'shape' must be a list of ints"
    ):
        net.add("Reshape", net.ph([2]), name="r", shape="2")


def test_node_properties_and_graph_lookups():
    net = Net()
    x = net.ph([None, 2], name="x")
    v = net.var([2], name="v", device="/cpu:0")
    a = net.add("AssignAdd", v, net.const([1.0, 1.0], name="one"), name="a")
    y = net.add("Add", x, (v, 0), name="y", control=[a])
    t = net.add("NoOp", name="t", control=[a, y])
    assert len(net.g) == 6
    assert [n.name for n in net.g.nodes()] == ["x", "v", "one", "a", "y", "t"]
    assert [n.id for n in net.g.nodes()] == list(range(6))
    assert net.g.get("y") == y and hash(net.g.get("y")) == hash(y)
    assert net.g.get("y") != x and y != "y"
    with pytest.raises(KeyError, match="nope"):
        net.g.get("nope")
    assert y.op == "Add" and y.name == "y" and y.device == "" and v.device == "/cpu:0"
    assert y.inputs == [(x, 0), (v, 0)]
    assert y.control_inputs == [a]
    assert t.control_inputs == [a, y] and t.inputs == [] and t.num_outputs == 0
    assert a.inputs[0] == (v, 0)
    assert y.num_outputs == 1 and y.shape() == (None, 2)
    assert y.graph.get("x") == x and len(y.graph) == len(net.g)
    assert repr(y) == "<GraphNode 'y' Add>"
    gx, gv = gradients(net, [y], [x, v])
    g = gx[0]
    assert g.op == "VJP" and g.name == "g/y_grad" and g.num_outputs == 2
    assert g.shape(0) == (None, 2) and g.shape(1) == (2,)
    assert g.attrs == {"n_in": 2, "outputs": [0], "inputs": [0, 1]}
    assert gx == (g, 0) and gv == (g, 1)


# --- Session: pruning, feeds, errors ----------------------------------------------------


def test_pruning_runs_only_what_the_fetches_need():
    net = Net()
    x = net.ph([2], name="x")
    unfed = net.ph([2], name="unfed")
    uninit = net.var([2], name="uninit")
    net.add("Neg", x, name="on_gpu", device="/device:GPU:7")  # would not place
    y = net.add("Neg", x, name="y")
    net.add("Add", unfed, uninit, name="not_needed")
    sess = _C.Session(net.g)
    assert values(run(sess, [y], {x: [1.0, 2.0]})) == [[-1.0, -2.0]]
    assert [line.split(" ")[0] for line in sess.placement_log] == ["x", "y"]


def test_feeding_an_intermediate_skips_its_producers():
    net = Net()
    unfed = net.ph([None], name="unfed")
    uninit = net.var([3], name="uninit")
    rand = net.add("RandomUniform", name="rand", shape=[3], dtype=F64, seed=5)
    mid = net.add("Add", net.add("Mul", unfed, uninit), rand, name="mid")
    y = net.add("Neg", mid, name="y")
    sess = _C.Session(net.g)
    assert values(run(sess, [y], {mid: [1.0, 2.0, 3.0]})) == [[-1.0, -2.0, -3.0]]
    # Fetching the fed tensor gives the fed value.
    assert values(run(sess, [mid, y], {mid: [4.0, 5.0, 6.0]})) == [
        [4.0, 5.0, 6.0],
        [-4.0, -5.0, -6.0],
    ]
    assert not any(
        line.startswith(("unfed", "uninit", "Mul", "rand")) for line in sess.placement_log
    )
    # The random node did not draw while its output was fed: its next draw
    # is the first draw of a fresh session.
    (r1,) = run(sess, [rand])
    (r2,) = run(_C.Session(net.g), [rand])
    assert r1.tolist() == r2.tolist()


def test_unfed_placeholder_is_named():
    net = Net()
    x = net.ph([None, 3], name="images")
    y = net.add("Neg", x)
    sess = _C.Session(net.g)
    with pytest.raises(
        ValueError, match=r"^\[Session.run\] placeholder 'images' \(shape \(\?, 3\), float64\)"
    ):
        run(sess, [y])


@pytest.mark.parametrize(
    "shape, fed, message",
    [
        ([None, 3], (2, 4), r"\(2, 4\) for 'x:0', which has shape \(\?, 3\)"),
        ([None, 3], (3,), r"\(3,\) for 'x:0', which has shape \(\?, 3\)"),
        ([2], (), r"\(\) for 'x:0', which has shape \(2,\)"),
    ],
)
def test_feed_shapes_are_checked(shape, fed, message):
    net = Net()
    x = net.ph(shape, name="x")
    y = net.add("Neg", x)
    sess = _C.Session(net.g)
    with pytest.raises(
        ValueError, match=rf"^\[Session.run\] cannot feed a value of shape {message}"
    ):
        run(sess, [y], {x: np.zeros(fed)})
    assert sess.stats["runs"] == 0


def test_feeds_are_cast_to_the_placeholder_dtype_and_intermediate_feeds_checked():
    net = Net()
    x = net.ph([2], dtype=F32, name="x")
    m = net.add("Mul", x, x, name="m")
    y = net.add("Neg", m, name="y")
    sess = _C.Session(net.g)
    (r,) = sess.run([(y, 0)], [], [((x, 0), devrt.tensor([1, 2]))])
    assert r.dtype == F32 and r.tolist() == [-1.0, -4.0]
    with pytest.raises(ValueError, match=r"'m:0', which has shape \(2,\)"):
        run(sess, [y], {m: np.zeros(3)})
    with pytest.raises(ValueError, match=r"'x:0' is fed twice"):
        sess.run([(y, 0)], [], [((x, 0), tensor([1.0, 2.0]))] * 2)


def test_foreign_fetches_and_targets_are_refused():
    net, other = Net(), Net()
    x = net.ph([2], name="x")
    z = other.ph([2], name="z")
    sess = _C.Session(net.g)
    with pytest.raises(ValueError, match=r"^\[Session.run\] a fetch is not an output"):
        run(sess, [z])
    with pytest.raises(ValueError, match=r"^\[Session.run\] a target is not a node"):
        run(sess, targets=[z])
    with pytest.raises(ValueError, match=r"^\[Session.run\] a fetch is not an output"):
        run(sess, [(x, 1)], {x: [1.0, 2.0]})


def test_uninitialised_variable_is_named():
    net = Net()
    w = net.var([2, 2], name="dense/kernel")
    y = net.add("Neg", w)
    sess = _C.Session(net.g)
    with pytest.raises(
        RuntimeError, match=r"^\[Session.run\] variable 'dense/kernel' is uninitialised"
    ):
        run(sess, [y])
    a = net.add("AssignAdd", w, net.const(np.ones((2, 2))), name="inc")
    with pytest.raises(
        RuntimeError, match=r"variable 'dense/kernel' is uninitialised: AssignAdd 'inc'"
    ):
        run(_C.Session(net.g), targets=[a])
    # Assign initialises it.
    init = net.add("Assign", w, net.const(np.eye(2)), name="init")
    sess = _C.Session(net.g)
    run(sess, targets=[init])
    assert values(run(sess, [y])) == [[[-1.0, -0.0], [-0.0, -1.0]]]


def test_closed_session():
    net = Net()
    v = net.var([2], name="v")
    y = net.add("Neg", v)
    sess = _C.Session(net.g)
    sess.set_variable(v, tensor([1.0, 2.0]))
    assert not sess.closed
    sess.close()
    assert sess.closed
    with pytest.raises(RuntimeError, match=r"^\[Session.run\] attempted to use a closed session"):
        run(sess, [y])
    with pytest.raises(RuntimeError, match="closed"):
        sess.set_variable(v, tensor([1.0, 2.0]))
    assert sess.variable(v) is None
    sess.close()  # twice is fine


# --- variables and the order of writes ---------------------------------------------------


def test_set_variable_and_variable():
    net = Net()
    v = net.var([2, 2], dtype=F32, name="v")
    x = net.ph([2], name="x")
    sess = _C.Session(net.g)
    assert sess.variable(v) is None
    src = tensor([[1, 2], [3, 4]], dtype=np.int64)
    sess.set_variable(v, src)
    src.add_(tensor([[10, 10], [10, 10]], dtype=np.int64))  # the session holds a copy
    got = sess.variable(v)
    assert got.dtype == F32 and got.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert values(run(sess, [v])) == [[[1.0, 2.0], [3.0, 4.0]]]
    with pytest.raises(
        ValueError,
        match=r"^\[Session\] a value of shape \(2, 3\) for variable 'v' of shape \(2, 2\)",
    ):
        sess.set_variable(v, tensor(np.zeros((2, 3))))
    with pytest.raises(ValueError, match=r"^\[Session\] 'x' is not a variable"):
        sess.set_variable(x, tensor([1.0, 2.0]))
    # Variables belong to the session.
    assert _C.Session(net.g).variable(v) is None


def test_assign_add_and_sub():
    net = Net()
    v = net.var([3], name="v")
    p = net.ph([None], name="p")
    add = net.add("AssignAdd", v, p, name="add")
    sub = net.add("AssignSub", v, net.const([1.0, 1.0, 1.0]), name="sub")
    assign = net.add("Assign", v, p, name="assign")
    sess = _C.Session(net.g)
    run(sess, targets=[assign], feeds={p: [1.0, 2.0, 3.0]})
    assert sess.variable(v).tolist() == [1.0, 2.0, 3.0]
    assert values(run(sess, [add], {p: [10.0, 20.0, 30.0]})) == [[11.0, 22.0, 33.0]]
    assert values(run(sess, [sub])) == [[10.0, 21.0, 32.0]]
    assert values(run(sess, [sub])) == [[9.0, 20.0, 31.0]]
    assert sess.variable(v).tolist() == [9.0, 20.0, 31.0]
    assert add.shape() == (3,) and add.dtype() == F64


def test_assign_of_a_value_of_another_shape_is_refused():
    """A value whose runtime shape differs from the variable's (fully known)
    shape must be refused with a ValueError naming the shapes, before the
    write: the variable keeps its shape and value."""
    net = Net()
    v = net.var([2, 3], name="v")
    p = net.ph([None, 3], name="p")
    a = net.add("Assign", v, p, name="a")
    sess = _C.Session(net.g)
    sess.set_variable(v, tensor(np.zeros((2, 3))))
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(2, 3\)|\(2, 3\).*\(5, 3\)"):
        run(sess, targets=[a], feeds={p: np.ones((5, 3))})
    assert tuple(sess.variable(v).shape) == (2, 3)
    assert values(run(sess, [v])) == [np.zeros((2, 3)).tolist()]


def test_a_fetched_variable_sees_the_value_before_the_writes_of_its_run():
    net = Net()
    v = net.var([2], name="v")
    inc = net.add("AssignAdd", v, net.const([1.0, 1.0]), name="inc")
    read = net.add("Identity", v, name="read")
    scaled = net.add("Mul", v, net.const(2.0), name="scaled")
    after = net.add("Identity", v, name="after", control=[inc])
    sess = _C.Session(net.g)
    sess.set_variable(v, tensor([10.0, 20.0]))
    assert values(run(sess, [v, inc])) == [[10.0, 20.0], [11.0, 21.0]]
    assert values(run(sess, [inc, read, scaled])) == [[12.0, 22.0], [11.0, 21.0], [22.0, 42.0]]
    # With a control input from the write, the read comes after it.
    assert values(run(sess, [after, inc])) == [[13.0, 23.0], [13.0, 23.0]]
    assert sess.variable(v).tolist() == [13.0, 23.0]


def test_a_read_that_does_not_depend_on_a_write_sees_the_old_value():
    """`read` does not depend on the write, so it sees the value from before
    the run (docs/graph.md), and so does `y`, computed from it after the
    write: whether `read` is also fetched must not change `y`."""
    net = Net()
    v = net.var([2], name="v")
    inc = net.add("AssignAdd", v, net.const([1.0, 1.0]), name="inc")
    read = net.add("Identity", v, name="read")
    y = net.add("Add", read, net.const([0.0, 0.0]), name="y", control=[inc])
    sess = _C.Session(net.g)
    sess.set_variable(v, tensor([10.0, 20.0]))
    assert values(run(sess, [read, y, inc])) == [[10.0, 20.0], [10.0, 20.0], [11.0, 21.0]]
    sess.set_variable(v, tensor([10.0, 20.0]))
    assert values(run(sess, [y, inc])) == [[10.0, 20.0], [11.0, 21.0]]


@pytest.mark.parametrize("first", ["add", "set"])
def test_writes_to_one_variable_without_dependencies_run_in_creation_order(first):
    net = Net()
    v = net.var([1], name="v")
    writes = {}
    for kind in (first, "set" if first == "add" else "add"):
        op, value = ("AssignAdd", 1.0) if kind == "add" else ("Assign", 5.0)
        writes[kind] = net.add(op, v, net.const([value]), name=kind)
    sess = _C.Session(net.g)
    sess.set_variable(v, tensor([0.0]))
    run(sess, targets=[writes["set"], writes["add"]])
    assert sess.variable(v).tolist() == ([5.0] if first == "add" else [6.0])


@pytest.mark.parametrize("write", ["AssignAdd", "Assign"])
def test_fetched_values_are_not_changed_by_later_runs(write):
    """A value handed back by Session.run is the variable's value at that run:
    a later run that writes the variable must not change it."""
    net = Net()
    v = net.var([2], name="v")
    w = net.add(write, v, net.const([5.0, 5.0]), name="w")
    read = net.add("Identity", v, name="read")
    sess = _C.Session(net.g)
    sess.set_variable(v, tensor([1.0, 2.0]))
    old_v, old_read = run(sess, [v, read])
    run(sess, targets=[w])
    assert sess.variable(v).tolist() == ([6.0, 7.0] if write == "AssignAdd" else [5.0, 5.0])
    assert old_v.tolist() == [1.0, 2.0]
    assert old_read.tolist() == [1.0, 2.0]


# --- plans and stats --------------------------------------------------------------------------


def test_plans_are_cached_per_signature():
    net = Net()
    x, y = net.ph([None], name="x"), net.ph([None], name="y")
    s = net.add("Add", x, y, name="s")
    d = net.add("Sub", x, y, name="d")
    sess = _C.Session(net.g)
    assert sess.stats == {"runs": 0, "plans": 0, "fetched_bytes": 0, "fused": 0, "fused_pools": 0}
    for i in range(5):
        assert values(run(sess, [s], {x: [float(i)], y: [1.0]})) == [[i + 1.0]]
    assert sess.stats["plans"] == 1 and sess.stats["runs"] == 5
    # The order of the feeds does not make a new signature.
    run(sess, [s], {y: [1.0], x: [2.0, 3.0]})
    assert sess.stats["plans"] == 1
    run(sess, [s, d], {x: [1.0], y: [1.0]})
    run(sess, [d, s], {x: [1.0], y: [1.0]})
    run(sess, [s], {x: [1.0], y: [1.0], s: [0.0]})
    assert sess.stats["plans"] == 4
    for _ in range(3):
        run(sess, [s, d], {x: [1.0], y: [1.0]})
    assert sess.stats["plans"] == 4 and sess.stats["runs"] == 12


def test_fetched_bytes_count_only_fetched_values():
    net = Net()
    v = net.var([4], dtype=F32, name="v")
    x = net.ph([None], dtype=F32, name="x")
    train = net.add("AssignAdd", v, x, name="train")
    big = net.add("Mul", v, v, name="big")
    sess = _C.Session(net.g)
    sess.set_variable(v, tensor([0, 0, 0, 0], dtype=np.float32))
    feeds = {x: np.ones(4, np.float32)}
    for _ in range(3):
        run(sess, targets=[train], feeds=feeds)
    assert sess.stats["fetched_bytes"] == 0
    run(sess, [big])
    assert sess.stats["fetched_bytes"] == 16
    run(sess, [big, v], feeds)
    assert sess.stats["fetched_bytes"] == 48
    run(sess, targets=[train], feeds=feeds)
    assert sess.stats["fetched_bytes"] == 48


def test_intermediates_are_released_after_their_last_use():
    """A chain of 20 ops on a 1 MiB tensor holds about two values at a time."""
    mib = 1 << 20
    net = Net()
    x = net.ph([None], dtype=F32, name="x")
    h = x
    for _ in range(20):
        h = net.add("Neg", h)
    total = net.add("Sum", h, axes=None, keepdims=False)
    sess = _C.Session(net.g)
    feeds = [((x, 0), tensor(np.ones(mib // 4), np.float32))]
    assert sess.run([(total, 0)], [], feeds)[0].item() == mib // 4
    gc.collect()
    devrt.reset_peak_memory_stats("cpu")
    before = devrt.memory_stats("cpu")
    sess.run([(total, 0)], [], feeds)
    after = devrt.memory_stats("cpu")
    assert after["peak_allocated"] - before["allocated"] <= 3 * mib
    assert after["allocated"] == before["allocated"]


# --- gradients ------------------------------------------------------------------------------


def test_gradients_of_an_intermediate_and_with_grad_ys():
    net = Net()
    a = net.ph([3], name="a")
    h = net.add("Mul", a, net.const(2.0), name="h")
    y = net.add("Sum", net.add("Mul", h, h), name="y", axes=None, keepdims=False)
    g_both = gradients(net, [y], [a, h], scope="g_both")
    (g_h,) = gradients(net, [y], [h], scope="g_h")
    seed = net.const([1.0, 10.0, 100.0], name="seed")
    (g_seeded,) = gradients(net, [h], [a], [(seed, 0)], scope="g_seeded")
    (g_two,) = gradients(net, [y, h], [a], scope="g_two")
    sess = _C.Session(net.g)
    feeds = {a: [1.0, 2.0, 3.0]}
    # y = sum((2a)^2): dy/da = 8a, dy/dh = 2h = 4a
    assert values(run(sess, g_both, feeds)) == [
        [8.0, 16.0, 24.0],
        [4.0, 8.0, 12.0],
    ]
    assert values(run(sess, [g_h], feeds)) == [[4.0, 8.0, 12.0]]
    assert values(run(sess, [g_seeded], feeds)) == [[2.0, 20.0, 200.0]]
    # Several ys: the gradients add (h seeded with ones).
    assert values(run(sess, [g_two], feeds)) == [[10.0, 18.0, 26.0]]
    # The intermediate fetched with its gradient: plain values, no history.
    gh, hv = run(sess, [g_h, h], feeds)
    assert hv.tolist() == [2.0, 4.0, 6.0] and not hv.requires_grad and not gh.requires_grad


def test_gradients_of_a_variable_leave_it_unmarked():
    net = Net()
    w = net.var([2], name="w")
    loss = net.add("Sum", net.add("Square", w), axes=None, keepdims=False)
    (g,) = gradients(net, [loss], [w])
    sess = _C.Session(net.g)
    sess.set_variable(w, tensor([3.0, -1.0]))
    grad_mode = devrt.is_grad_enabled()
    assert values(run(sess, [g])) == [[6.0, -2.0]]
    assert not sess.variable(w).requires_grad
    assert devrt.is_grad_enabled() == grad_mode
    with devrt.no_grad():
        assert values(run(sess, [g])) == [[6.0, -2.0]]
        assert not devrt.is_grad_enabled()


def test_an_x_listed_twice_gets_its_gradient_twice():
    net = Net()
    a = net.ph([2], name="a")
    y = net.add("Sum", net.add("Square", a), axes=None, keepdims=False)
    g = gradients(net, [y], [a, a])
    sess = _C.Session(net.g)
    assert values(run(sess, g, {a: [1.0, 2.0]})) == [[2.0, 4.0], [2.0, 4.0]]


def test_an_input_read_twice_by_one_node_counts_twice():
    net = Net()
    a = net.ph([2], name="a")
    y = net.add("Sum", net.add("Mul", a, a), axes=None, keepdims=False)
    (g,) = gradients(net, [y], [a])
    assert values(run(_C.Session(net.g), [g], {a: [1.0, 2.0]})) == [[2.0, 4.0]]


def test_an_x_that_no_y_reaches_gets_none():
    net = Net()
    a, b = net.ph([2], name="a"), net.ph([None, 3], name="b")
    y = net.add("Sum", net.add("Square", a), axes=None, keepdims=False)
    ga, gb = gradients(net, [y], [a, b])
    assert gb is None
    assert values(run(_C.Session(net.g), [ga], {a: [1.0, 2.0]})) == [[2.0, 4.0]]


@pytest.mark.parametrize("ys", ["ZerosLike", "Shape", "Const"])
def test_xs_that_no_y_depends_on_through_derivatives_get_none(ys):
    """The ys depend on x only through an op without a derivative (its
    shape, ZerosLike) or not at all: as in TensorFlow, no gradient."""
    net = Net()
    x = net.ph([None, 3], name="x")
    if ys == "ZerosLike":
        y = net.add("Sum", net.add("ZerosLike", x), axes=None, keepdims=False)
    elif ys == "Shape":
        y = net.add("Cast", net.add("Shape", x), dtype=F64)
    else:
        y = net.const(2.0)
    assert gradients(net, [y], [x]) == [None]


def test_a_node_whose_inputs_do_not_reach_ys_at_run_time_gives_zeros():
    """A VJP whose node recorded nothing (a StopGradient inside) yields
    zeros of its input's shape."""
    net = Net()
    x = net.ph([None, 3], name="x")
    y = net.add("Sum", net.add("Mul", x, net.add("StopGradient", x)), axes=None, keepdims=False)
    (g,) = gradients(net, [y], [x])
    (r,) = run(_C.Session(net.g), [g], {x: np.full((2, 3), 3.0)})
    assert r.tolist() == np.full((2, 3), 3.0).tolist()


def test_training_loop_reuses_its_memory():
    """100 steps of gradient descent: after the first run, nothing new comes
    from the backend, and the loss goes down."""
    rng = np.random.default_rng(0)
    net = Net()
    x = net.ph([None, 4], dtype=F32, name="x")
    t = net.ph([None, 3], dtype=F32, name="t")
    w = net.var([4, 3], dtype=F32, name="w")
    b = net.var([3], dtype=F32, name="b")
    pred = net.add("Add", net.add("MatMul", x, w), b, name="pred")
    loss = net.add("Mean", net.add("Square", net.add("Sub", pred, t)), axes=None, keepdims=False)
    gw, gb = gradients(net, [loss], [w, b], scope="grads")
    lr = net.const(0.1, dtype=np.float32)
    step_w = net.add("AssignSub", w, net.add("Mul", lr, gw), name="step_w")
    step_b = net.add("AssignSub", b, net.add("Mul", lr, gb), name="step_b")
    train = net.add("NoOp", name="train", control=[step_w, step_b])
    sess = _C.Session(net.g)
    sess.set_variable(w, tensor(rng.standard_normal((4, 3)), np.float32))
    sess.set_variable(b, tensor(np.zeros(3), np.float32))
    xs = rng.standard_normal((16, 4)).astype(np.float32)
    ts = xs @ rng.standard_normal((4, 3)).astype(np.float32) + 0.5
    feeds = [((x, 0), tensor(xs, np.float32)), ((t, 0), tensor(ts, np.float32))]
    (loss0,) = sess.run([(loss, 0)], [], feeds)
    sess.run([], [train], feeds)
    gc.collect()
    before = devrt.memory_stats("cpu")
    stats = dict(sess.stats)
    for _ in range(100):
        assert sess.run([], [train], feeds) == []
    gc.collect()
    after = devrt.memory_stats("cpu")
    assert after["allocations"] > before["allocations"]  # the loop does allocate ...
    # ... but every allocation is served from the cache
    assert (
        after["allocations"] - after["cache_hits"] == before["allocations"] - before["cache_hits"]
    )
    assert after["device_allocations"] == before["device_allocations"]
    assert after["reserved"] == before["reserved"]
    assert sess.stats["plans"] == stats["plans"] and sess.stats["runs"] == stats["runs"] + 100
    assert sess.stats["fetched_bytes"] == stats["fetched_bytes"]
    (loss1,) = sess.run([(loss, 0)], [], feeds)
    assert float(loss1) < 0.05 * float(loss0)


# --- placement ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    ["", "/cpu:0", "cpu", "cpu:0", "/device:CPU:0", "/job:localhost/replica:0/task:0/device:CPU:0"],
)
def test_cpu_device_specs(spec):
    net = Net()
    x = net.ph([2], name="x")
    y = net.add("Neg", x, name="y", device=spec)
    sess = _C.Session(net.g)
    (r,) = run(sess, [y], {x: [1.0, 2.0]})
    assert r.device.type == "cpu"
    assert "y (Neg): cpu" in sess.placement_log


@pytest.mark.skipif(devrt.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("spec, name", [("/gpu:0", "cuda:0"), ("/device:GPU:1", "cuda:1")])
def test_unavailable_device(spec, name):
    net = Net()
    x = net.ph([2], name="x")
    y = net.add("Neg", x, name="layer/y", device=spec)
    z = net.add("Neg", y, name="z")
    sess = _C.Session(net.g)
    with pytest.raises(
        ValueError,
        match=rf"^\[Session.run\] cannot place node 'layer/y' \(Neg\) on '{spec}': device {name} is not available",
    ):
        run(sess, [z], {x: [1.0, 2.0]})
    soft = _C.Session(net.g, allow_soft_placement=True)
    (r,) = run(soft, [z], {x: [1.0, 2.0]})
    assert r.tolist() == [1.0, 2.0] and r.device.type == "cpu"
    assert f"layer/y (Neg): cpu (soft placement: {spec} is not available)" in soft.placement_log
    assert "z (Neg): cpu" in soft.placement_log
    # Each node is logged once per session.
    run(soft, [z], {x: [3.0, 4.0]})
    assert len(soft.placement_log) == 3


def test_node_on_the_python_test_backend_gets_its_inputs_copied_there():
    assert any(s.name == pydev.NAME and s.loaded for s in devrt.plugin_status())
    net = Net()
    x = net.ph([None, 2], name="x")
    w = net.var([2, 2], name="w")
    mm = net.add("MatMul", x, w, name="mm", device=f"/device:{pydev.NAME}:0")
    act = net.add("Relu", mm, name="act")  # no device: the device of its input
    back = net.add("Neg", act, name="back", device="/cpu:0")
    sess = _C.Session(net.g)
    sess.set_variable(w, tensor([[1.0, -1.0], [2.0, 0.5]]))
    assert sess.variable(w).device.type == "cpu"
    with CallTrace() as trace:
        r_mm, r_act, r_back = run(sess, [mm, act, back], {x: [[1.0, 2.0], [-1.0, 1.0]]})
    assert trace.called(pydev.KERNELS["matmul"][0]) and trace.called(pydev.KERNELS["relu"][0])
    assert r_mm.device.type == pydev.NAME and r_act.device.type == pydev.NAME
    assert r_back.device.type == "cpu"
    assert r_mm.tolist() == [[5.0, 0.0], [1.0, 1.5]]
    assert r_back.tolist() == [[-5.0, -0.0], [-1.0, -1.5]]
    log = sess.placement_log
    assert "x (Placeholder): cpu" in log and "w (Variable): cpu" in log
    assert f"mm (MatMul): {pydev.NAME}:0" in log and f"act (Relu): {pydev.NAME}:0" in log
    assert "back (Neg): cpu" in log


def test_variable_placed_on_the_python_test_backend():
    net = Net()
    v = net.var([2], name="v", device=f"/device:{pydev.NAME}:0")
    inc = net.add("AssignAdd", v, net.const([1.0, 2.0]), name="inc")
    sess = _C.Session(net.g)
    sess.set_variable(v, tensor([10.0, 20.0]))
    assert sess.variable(v).device.type == pydev.NAME
    run(sess, targets=[inc])
    assert sess.variable(v).device.type == pydev.NAME
    assert sess.variable(v).cpu().tolist() == [11.0, 22.0]
    assert f"v (Variable): {pydev.NAME}:0" in sess.placement_log


# --- random ops -----------------------------------------------------------------------------------


def random_net():
    net = Net()
    x = net.ph([None, 3], name="x")
    nodes = {
        "normal": net.add("RandomStandardNormal", name="normal", shape=[4, 3], dtype=F64, seed=11),
        "uniform": net.add("RandomUniform", name="uniform", shape=[5], dtype=F32, seed=11),
        "like": net.add("RandomUniformLike", x, name="like", dtype=F64, seed=12),
        "other_seed": net.add(
            "RandomStandardNormal", name="other_seed", shape=[4, 3], dtype=F64, seed=12
        ),
    }
    return net, x, nodes


def draw(sess, x, nodes):
    outs = run(sess, list(nodes.values()), {x: np.zeros((2, 3))})
    assert [t.dtype for t in outs] == [F64, F32, F64, F64]
    return {k: np.array(v.tolist()) for k, v in zip(nodes, outs)}


def test_random_ops_repeat_across_sessions_and_change_across_runs():
    net, x, nodes = random_net()
    s1, s2 = _C.Session(net.g), _C.Session(net.g)
    first = [draw(s1, x, nodes) for _ in range(3)]
    second = [draw(s2, x, nodes) for _ in range(3)]
    for a, b in zip(first, second):
        for k in nodes:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    for k in nodes:
        assert not np.array_equal(first[0][k], first[1][k]), k
        assert not np.array_equal(first[1][k], first[2][k]), k
    assert first[0]["like"].shape == (2, 3)
    assert not np.array_equal(first[0]["normal"], first[0]["other_seed"])
    # A second graph with the same seeds gives the same numbers.
    net2, x2, nodes2 = random_net()
    again = draw(_C.Session(net2.g), x2, nodes2)
    for k in nodes:
        np.testing.assert_array_equal(again[k], first[0][k], err_msg=k)


def test_second_order_gradients_are_ordinary_nodes():
    """The gradient of a gradient: d2/da2 a^3 = 6a, d3/da3 = 6."""
    net = Net()
    a = net.ph([2], name="a")
    cube = net.add("Mul", net.add("Mul", a, a), a, name="cube")
    y = net.add("Sum", cube, axes=None, keepdims=False)
    (g1,) = gradients(net, [y], [a], scope="g1")
    (g2,) = gradients(net, [net.add("Sum", g1, axes=None, keepdims=False)], [a], scope="g2")
    (g3,) = gradients(net, [net.add("Sum", g2, axes=None, keepdims=False)], [a], scope="g3")
    assert all(
        n.op in ("VJP", "Add", "OnesLike", "Sum", "Mul", "Placeholder") for n in net.g.nodes()
    )
    got = values(run(_C.Session(net.g), [g1, g2, g3], {a: [1.0, -2.0]}))
    assert got == [[3.0, 12.0], [6.0, -12.0], [6.0, 6.0]]


def test_random_ops_need_an_int_seed_when_built():
    g = _C.Graph()
    with pytest.raises(TypeError, match=r"^\[RandomStandardNormal 'r'\] attribute 'seed'"):
        g.add_node(
            "RandomStandardNormal", [], {"shape": [2], "dtype": devrt.float32, "seed": None}, "r"
        )
