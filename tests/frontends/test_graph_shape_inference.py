"""Shape inference is one function per op family in the core, used by eager
ops when they run and by graph nodes when they are built (docs/design.md,
"Where an op lives"): for a table of graph ops and partial input shapes, the
node's static shape admits the shape of the eager result on concrete inputs
that fit, equals it when every input shape is known, and the Session's value
has it too; shapes that do not fit raise the same kind of error on both
surfaces, each with its own prefix.
"""

from __future__ import annotations

import numpy as np
import pytest

import devrt
import devrt.nn.functional as F
from devrt import _C

F64 = devrt.float64
U = None  # an unknown size
UNKNOWN_RANK = "unknown rank"


class Net:
    def __init__(self):
        self.g = _C.Graph()

    def add(self, op, inputs, attrs, name):
        return self.g.add_node(op, [(x, 0) for x in inputs], attrs, name, "", [])

    def ph(self, shape, dtype, name):
        known = shape != UNKNOWN_RANK
        return self.add(
            "Placeholder", [], {"dtype": dtype, "shape": list(shape) if known else None}, name
        )


def array(shape, dtype, k):
    rng = np.random.default_rng(k)
    if dtype == devrt.bool:
        return rng.random(shape) < 0.5
    if dtype == devrt.int64:
        return rng.integers(0, 2, size=shape)
    return rng.standard_normal(shape)


def nhwc(f):
    """An eager NCHW function of NHWC input (and HWIO filter) tensors."""
    return lambda x, *w: f(x.permute(0, 3, 1, 2), *[v.permute(3, 2, 0, 1) for v in w]).permute(
        0, 2, 3, 1
    )


B, I64 = devrt.bool, devrt.int64

# (id, op, attrs, [(partial shape, concrete shape, dtype)], eager function)
CASES = [
    ("add", "Add", {}, [((U, 3), (4, 3), F64), ((3,), (3,), F64)], devrt.add),
    ("add-both-unknown", "Add", {}, [((U, 1), (2, 1), F64), ((1, U), (1, 5), F64)], devrt.add),
    ("add-unknown-meets-1", "Add", {}, [((U,), (1,), F64), ((4,), (4,), F64)], devrt.add),
    ("mul-unknown-rank", "Mul", {}, [(UNKNOWN_RANK, (2, 3), F64), ((3,), (3,), F64)], devrt.mul),
    ("less", "Less", {}, [((2, U, 1), (2, 3, 1), F64), ((U, 4), (3, 4), F64)], devrt.lt),
    (
        "select",
        "Select",
        {},
        [((U, 1), (2, 1), B), ((3,), (3,), F64), ((1, U), (1, 3), F64)],
        devrt.where,
    ),
    (
        "sum",
        "Sum",
        {"axes": [-1, 0], "keepdims": False},
        [((U, 3, U), (2, 3, 4), F64)],
        lambda x: devrt.sum(x, dim=(-1, 0)),
    ),
    (
        "mean-keepdims",
        "Mean",
        {"axes": [1], "keepdims": True},
        [((2, U), (2, 5), F64)],
        lambda x: devrt.mean(x, dim=1, keepdim=True),
    ),
    ("max-all", "Max", {"axes": None}, [((U, 2), (3, 2), F64)], devrt.amax),
    (
        "sum-unknown-rank",
        "Sum",
        {"axes": [0], "keepdims": True},
        [(UNKNOWN_RANK, (3, 2), F64)],
        lambda x: devrt.sum(x, dim=0, keepdim=True),
    ),
    (
        "argmax",
        "ArgMax",
        {"axis": -2},
        [((U, 4, 2), (3, 4, 2), F64)],
        lambda x: devrt.argmax(x, dim=-2),
    ),
    ("softmax", "Softmax", {"axis": -1}, [((U, 3), (2, 3), F64)], lambda x: devrt.softmax(x, -1)),
    (
        "cumsum",
        "Cumsum",
        {"axis": 1, "exclusive": 0, "reverse": 0},
        [((2, U), (2, 3), F64)],
        lambda x: devrt.cumsum(x, 1),
    ),
    ("matmul", "MatMul", {}, [((U, 3), (2, 3), F64), ((3, U), (3, 4), F64)], devrt.matmul),
    (
        "matmul-batch",
        "MatMul",
        {},
        [((U, 1, 2, 3), (5, 1, 2, 3), F64), ((4, 3, U), (4, 3, 2), F64)],
        devrt.matmul,
    ),
    (
        "matmul-transposed",
        "MatMul",
        {"transpose_a": True, "transpose_b": True},
        [((3, U), (3, 2), F64), ((4, U), (4, 3), F64)],
        lambda a, b: devrt.matmul(a.transpose(0, 1), b.transpose(0, 1)),
    ),
    (
        "concat",
        "ConcatV2",
        {"axis": 1},
        [((U, 2), (3, 2), F64), ((3, U), (3, 4), F64)],
        lambda a, b: devrt.cat([a, b], 1),
    ),
    (
        "concat-unknown-rank",
        "ConcatV2",
        {"axis": -1},
        [((2, 3), (2, 3), F64), (UNKNOWN_RANK, (2, 1), F64)],
        lambda a, b: devrt.cat([a, b], -1),
    ),
    (
        "pack",
        "Pack",
        {"axis": -1},
        [((U, 3), (2, 3), F64), ((2, U), (2, 3), F64)],
        lambda a, b: devrt.stack([a, b], -1),
    ),
    (
        "transpose",
        "Transpose",
        {"perm": [2, 0, 1]},
        [((U, 3, 4), (2, 3, 4), F64)],
        lambda x: x.permute(2, 0, 1),
    ),
    ("transpose-reversed", "Transpose", {}, [((2, U), (2, 5), F64)], lambda x: x.permute(1, 0)),
    ("expand-dims", "ExpandDims", {"axis": -1}, [((U, 3), (2, 3), F64)], lambda x: x.unsqueeze(-1)),
    (
        "squeeze",
        "Squeeze",
        {"axes": [0, -1]},
        [((1, U, U), (1, 3, 1), F64)],
        lambda x: devrt.squeeze(devrt.squeeze(x, -1), 0),
    ),
    ("squeeze-all", "Squeeze", {}, [((1, 3, 1), (1, 3, 1), F64)], devrt.squeeze),
    (
        "reshape",
        "Reshape",
        {"shape": [-1, 2]},
        [((3, 4), (3, 4), F64)],
        lambda x: devrt.reshape(x, (-1, 2)),
    ),
    (
        "reshape-unknown",
        "Reshape",
        {"shape": [2, -1]},
        [((U, 4), (3, 4), F64)],
        lambda x: devrt.reshape(x, (2, -1)),
    ),
    (
        "gather",
        "GatherV2",
        {"axis": 1},
        [((U, 3, 2), (2, 3, 2), F64), ((U, 2), (4, 2), I64)],
        lambda x, i: devrt.index_select(x, 1, i.reshape(-1)).reshape(2, 4, 2, 2),
    ),
    (
        "conv2d-same",
        "Conv2D",
        {"strides": [1, 2, 2, 1], "padding": "SAME"},
        [((U, 7, U, 2), (1, 7, 6, 2), F64), ((3, 3, 2, 4), (3, 3, 2, 4), F64)],
        nhwc(lambda x, w: F.conv2d(x, w, stride=2, padding=1)),
    ),
    (
        "conv2d-valid-dilated",
        "Conv2D",
        {"strides": [1, 1], "padding": "VALID", "dilations": [2, 1]},
        [((2, 7, 6, U), (2, 7, 6, 2), F64), ((3, 2, 2, 3), (3, 2, 2, 3), F64)],
        nhwc(lambda x, w: F.conv2d(x, w, dilation=(2, 1))),
    ),
    (
        "max-pool",
        "MaxPool",
        {"ksize": [2, 2], "strides": [2, 2], "padding": "VALID"},
        [((U, 5, 4, 3), (2, 5, 4, 3), F64)],
        nhwc(lambda x: F.max_pool2d(x, 2, 2)),
    ),
]


def admits(static, shape):
    if static is None:
        return True
    return len(static) == len(shape) and all(s is None or s == d for s, d in zip(static, shape))


def build(spec, op, attrs, known):
    net = Net()
    phs = [
        net.ph(concrete if known else partial, dtype, f"in{i}")
        for i, (partial, concrete, dtype) in enumerate(spec)
    ]
    return net, phs, net.add(op, phs, attrs, "node")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_static_shape_agrees_with_eager_result(case):
    _, op, attrs, spec, eager = case
    arrays = [array(concrete, dtype, k) for k, (_, concrete, dtype) in enumerate(spec)]
    want = tuple(eager(*[devrt.from_numpy(a) for a in arrays]).shape)

    net, phs, node = build(spec, op, attrs, known=False)
    static = node.shape()
    assert admits(static, want), (static, want)
    if all(partial != UNKNOWN_RANK and U not in partial for partial, _, _ in spec):
        assert static == want
    (value,) = _C.Session(net.g).run(
        [(node, 0)], [], [((p, 0), devrt.from_numpy(a)) for p, a in zip(phs, arrays)]
    )
    assert tuple(value.shape) == want

    # With every input shape known the static shape is the eager one.
    _, _, node = build(spec, op, attrs, known=True)
    assert node.shape() == want


def test_more_inference_is_known_than_the_inputs_give():
    """An unknown size next to a known one (other than 1) takes it."""
    net = Net()
    a = net.ph((U, 3), F64, "a")
    b = net.ph((4, U), F64, "b")
    assert net.add("Add", [a, b], {}, "add").shape() == (4, 3)
    assert net.add("MatMul", [a, net.ph((U, 5), F64, "c")], {}, "mm").shape() == (None, 5)


# (id, op, attrs, input shapes, eager function, the error, a regex for the facts)
ERRORS = [
    (
        "broadcast",
        "Add",
        {},
        [(2, 3), (4, 3)],
        devrt.add,
        ValueError,
        r"[\[(]2, 3[\])].*[\[(]4, 3[\])].*broadcast",
    ),
    (
        "reduce-axis-range",
        "Sum",
        {"axes": [2]},
        [(2, 3)],
        lambda x: devrt.sum(x, dim=2),
        IndexError,
        r"axis 2",
    ),
    (
        "reduce-axis-repeats",
        "Sum",
        {"axes": [1, -1]},
        [(2, 3)],
        lambda x: devrt.sum(x, dim=(1, -1)),
        ValueError,
        r"axis -1",
    ),
    (
        "argmax-axis",
        "ArgMax",
        {"axis": -3},
        [(2, 3)],
        lambda x: devrt.argmax(x, dim=-3),
        IndexError,
        r"-3",
    ),
    (
        "softmax-axis",
        "Softmax",
        {"axis": 2},
        [(2, 3)],
        lambda x: devrt.softmax(x, 2),
        IndexError,
        r"axis 2",
    ),
    (
        "matmul-inner",
        "MatMul",
        {},
        [(2, 3), (4, 5)],
        devrt.matmul,
        ValueError,
        r"[\[(]2, 3[\])].*[\[(]4, 5[\])].*3 vs 4",
    ),
    (
        "concat-sizes",
        "ConcatV2",
        {"axis": 0},
        [(2, 3), (2, 4)],
        lambda a, b: devrt.cat([a, b], 0),
        ValueError,
        r"[\[(]2, 4[\])]",
    ),
    (
        "concat-ranks",
        "ConcatV2",
        {"axis": 0},
        [(2, 3), (2,)],
        lambda a, b: devrt.cat([a, b], 0),
        ValueError,
        r"[\[(]2,?[\])]",
    ),
    (
        "pack-shapes",
        "Pack",
        {"axis": 0},
        [(2, 3), (3, 2)],
        lambda a, b: devrt.stack([a, b], 0),
        ValueError,
        r"[\[(]3, 2[\])]",
    ),
    (
        "transpose-repeats",
        "Transpose",
        {"perm": [0, 0]},
        [(2, 3)],
        lambda x: x.permute(0, 0),
        ValueError,
        r"0",
    ),
    (
        "transpose-length",
        "Transpose",
        {"perm": [1, 0, 2]},
        [(2, 3)],
        lambda x: x.permute(1, 0, 2),
        ValueError,
        r"[\[(]2, 3[\])]|rank 2",
    ),
    (
        "expand-dims-axis",
        "ExpandDims",
        {"axis": 3},
        [(2, 3)],
        lambda x: x.unsqueeze(3),
        IndexError,
        r"3",
    ),
    (
        "reshape-count",
        "Reshape",
        {"shape": [4, -1]},
        [(2, 3)],
        lambda x: devrt.reshape(x, (4, -1)),
        ValueError,
        r"6 elements.*[\[(]2, 3[\])]",
    ),
    (
        "squeeze-repeats",
        "Squeeze",
        {"axes": [0, -2]},
        [(1, 1)],
        lambda x: devrt.squeeze(x, (0, -2)),
        ValueError,
        r"axis -2",
    ),
    (
        "reshape-two-unknown",
        "Reshape",
        {"shape": [-1, -1]},
        [(2, 3)],
        lambda x: devrt.reshape(x, (-1, -1)),
        ValueError,
        r"-1",
    ),
]


@pytest.mark.parametrize("case", ERRORS, ids=[c[0] for c in ERRORS])
def test_shapes_that_do_not_fit_raise_on_both_surfaces(case):
    _, op, attrs, shapes, eager, error, facts = case
    with pytest.raises(error, match=facts) as eager_error:
        eager(*[devrt.zeros(*s, dtype=F64) for s in shapes])
    assert str(eager_error.value).startswith("[")
    assert not str(eager_error.value).startswith(f"[{op} ")
    net = Net()
    phs = [net.ph(s, F64, f"in{i}") for i, s in enumerate(shapes)]
    with pytest.raises(error, match=rf"^\[{op} 'bad'\] .*({facts})"):
        net.add(op, phs, attrs, "bad")


@pytest.mark.parametrize("known", [True, False], ids=["built", "run"])
@pytest.mark.parametrize(
    "shapes, axis, error, match",
    [
        ([(0,), (0,)], -3, IndexError, r"axis -3 is out of range for a tensor of rank 1"),
        (
            [(0,), (2, 3)],
            0,
            ValueError,
            r"tensor 1 has shape \(2, 3\), .*same number of dimensions",
        ),
    ],
)
def test_concat_of_1d_empty_inputs_keeps_tensorflows_rank_rule(known, shapes, axis, error, match):
    # The eager cat skips 1-D inputs of size 0 (PyTorch's rule); TensorFlow's
    # ConcatV2 does not, so the graph checks ranks and the axis on them, when
    # the node is built or, where the ranks are unknown then, when it runs.
    import devrt.graph as tf

    with tf.Graph().as_default():
        xs = [tf.placeholder(tf.float32, s if known else None) for s in shapes]
        feed = {x: np.zeros(s, np.float32) for x, s in zip(xs, shapes, strict=True)}
        with pytest.raises(error, match=r"^\[ConcatV2 '[^']+'\] " + match):
            y = tf.concat(xs, axis)
            with tf.Session() as sess:
                sess.run(y, feed)
        ok = tf.concat([tf.placeholder(tf.float32, (0,) if known else None)] * 2, 0)
        with tf.Session() as sess:
            assert sess.run(ok, {ok.op.inputs[0]: np.zeros(0, np.float32)}).shape == (0,)
