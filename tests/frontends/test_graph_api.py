"""devrt.graph, the TF1-style front end: its API surface.

Naming and scopes, static shapes and dtypes, operators and indexing,
Session.run fetch structures and feeds (and their errors), variables and
initializers, control dependencies, optimizers, Saver checkpoints, whole
graph files, device scopes with soft placement, and the layers, losses and
nn functions as TF1 programs use them. The numerics of each op against
eager ops and gradients against finite differences are tested elsewhere
(devrt/testing/conformance/test_graph_ops.py); these tests stay small and fast.
"""

from __future__ import annotations

import collections
import os

import numpy as np
import pytest

import devrt
import devrt.graph as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def run(fetches, feed_dict=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed_dict)


# --- names and scopes --------------------------------------------------------------------


def test_op_names_are_unique_and_scoped_like_tf():
    a = tf.placeholder(tf.float32, [2, 2])
    assert a.name == "Placeholder:0" and a.op.name == "Placeholder" and a.op.type == "Placeholder"
    m1, m2 = tf.matmul(a, a), tf.matmul(a, a)
    assert (m1.name, m2.name) == ("MatMul:0", "MatMul_1:0")
    with tf.name_scope("layer1") as scope:
        assert scope == "layer1/"
        assert tf.matmul(a, a).name == "layer1/MatMul:0"
        with tf.name_scope("inner"):
            assert tf.identity(a).name == "layer1/inner/Identity:0"
    with tf.name_scope("layer1"):
        assert tf.matmul(a, a).name == "layer1_1/MatMul:0"
    with tf.name_scope("layer1/"):  # re-entered as is
        assert tf.matmul(a, a).name == "layer1/MatMul_1:0"
    assert tf.identity(a, name="out").name == "out:0"
    assert tf.identity(a, name="out").name == "out_1:0"
    assert tf.identity(a, name="OUT").name == "OUT_2:0"  # case-insensitive, as TF
    assert (a + 1).name == "add:0" and (a * a).op.name == "mul"
    with pytest.raises(ValueError, match="not a valid"):
        tf.identity(a, name="bad:name")


def test_get_operation_and_tensor_by_name():
    x = tf.placeholder(tf.float32, name="x")
    y = tf.identity(x, name="y")
    g = tf.get_default_graph()
    assert g.get_tensor_by_name("y:0") is y
    assert g.get_operation_by_name("y") is y.op
    assert y.op.inputs == [x] and y.op.outputs == [y]
    assert [op.name for op in g.get_operations()] == ["x", "y"]
    with pytest.raises(KeyError):
        g.get_tensor_by_name("nope:0")
    with pytest.raises(ValueError, match="Operation, not a Tensor"):
        g.get_tensor_by_name("y")


def test_variable_and_get_variable_names_and_sharing():
    w = tf.Variable(tf.zeros([2]), name="w")
    assert w.name == "w:0" and w.op.name == "w" and w.value().name == "w/read:0"
    assert w.initializer.name == "w/Assign" and w.initializer.type == "Assign"
    assert tf.Variable(1.0, name="w").name == "w_1:0"
    with tf.variable_scope("layer1"):
        v = tf.get_variable("weights", [3, 2])
        b = tf.get_variable("bias", [2], initializer=tf.zeros_initializer())
    assert v.name == "layer1/weights:0" and b.name == "layer1/bias:0"
    assert v.shape == [3, 2] and v.dtype == tf.float32
    with pytest.raises(ValueError, match="already exists"):
        with tf.variable_scope("layer1"):
            tf.get_variable("weights", [3, 2])
    with tf.variable_scope("layer1", reuse=True):
        assert tf.get_variable("weights", [3, 2]) is v
        with pytest.raises(ValueError, match="does not exist"):
            tf.get_variable("other", [1])
    with tf.variable_scope("layer1", reuse=tf.AUTO_REUSE):
        assert tf.get_variable("weights") is v
        assert tf.get_variable("new", [1]).name == "layer1/new:0"
    with tf.variable_scope("layer1") as scope:
        scope.reuse_variables()
        assert tf.get_variable("bias") is b
        # ops of a re-entered variable scope get a new name scope, as TF
        assert tf.identity(b).name.startswith("layer1_")


def test_layers_are_named_dense_dense_1_and_reuse_by_name():
    x = tf.placeholder(tf.float32, [None, 4])
    h = tf.layers.dense(x, 3)
    tf.layers.dense(h, 2)
    names = [v.name for v in tf.trainable_variables()]
    assert names == ["dense/kernel:0", "dense/bias:0", "dense_1/kernel:0", "dense_1/bias:0"]
    assert h.op.name == "dense/BiasAdd"
    tf.layers.dense(x, 3, name="fc")
    tf.layers.dense(x, 3, name="fc", reuse=True)
    assert [v.name for v in tf.trainable_variables()][-2:] == ["fc/kernel:0", "fc/bias:0"]
    layer = tf.layers.Dense(5, name="shared")
    layer(x)
    layer(x)
    assert len(tf.trainable_variables()) == 8
    assert layer.kernel.shape == [4, 5]


# --- shapes and dtypes ----------------------------------------------------------------


def test_partial_shapes_and_tensor_shape_api():
    x = tf.placeholder(tf.float32, shape=[None, 3])
    w = tf.ones([3, 2])
    y = tf.matmul(x, w)
    assert y.shape == [None, 2] and y.shape == (None, 2) and y.get_shape() == y.shape
    assert y.shape.as_list() == [None, 2] and y.shape.ndims == 2 and len(y.shape) == 2
    assert list(y.shape) == [None, 2] and y.shape[0] is None
    assert y.shape[1] == 2 and y.shape[1].value == 2 and int(y.shape[-1]) * 2 == 4
    assert not y.shape.is_fully_defined() and w.shape.is_fully_defined()
    assert str(y.shape) == "(?, 2)" and repr(y.shape) == "TensorShape([None, 2])"
    assert y.shape[1:] == [2]
    u = tf.placeholder(tf.float32)
    assert u.shape.ndims is None and u.shape == tf.TensorShape(None)
    with pytest.raises(ValueError):
        u.shape.as_list()
    assert tf.reduce_sum(x, axis=1).shape == [None]
    assert tf.reduce_mean(x, axis=0, keepdims=True).shape == [1, 3]
    assert tf.reduce_sum(x, reduction_indices=[1], keep_dims=True).shape == [None, 1]
    assert tf.expand_dims(x, 1).shape == [None, 1, 3] and tf.transpose(x).shape == [3, None]
    assert tf.concat([x, x], axis=1).shape == [None, 6] and tf.stack([x, x]).shape == [2, None, 3]
    assert tf.reshape(x, [-1, 1, 3]).shape == [None, 1, 3]
    assert tf.reshape(x, [tf.shape(x)[0], -1]).shape.as_list()[1] == 3
    with pytest.raises(ValueError, match=r"^\[MatMul 'MatMul_1'\]"):
        tf.matmul(x, tf.ones([4, 2]))


def test_dtypes_compare_like_tf():
    assert tf.float32 == tf.as_dtype("float32") == np.float32 == tf.as_dtype(np.dtype("float32"))
    assert tf.float32.name == "float32" and tf.float32.as_numpy_dtype is np.float32
    assert tf.int64 != tf.int32 and tf.float32.is_floating and tf.int32.is_integer
    assert tf.as_dtype(devrt.float64) == tf.float64
    assert tf.constant(1.0).dtype == tf.float32 and tf.constant(1).dtype == tf.int32
    assert tf.constant(np.float64(1)).dtype == tf.float64
    assert tf.constant([True]).dtype == tf.bool
    assert tf.cast(tf.constant(1), tf.float32).dtype == tf.float32
    assert tf.argmax(tf.ones([2, 3]), 1).dtype == tf.int64
    assert tf.shape(tf.ones([2, 3])).dtype == tf.int32
    with pytest.raises(TypeError):
        tf.as_dtype("complex64")


# --- operators, conversion, indexing --------------------------------------------------------


def test_operators_build_nodes_with_python_operands_converted():
    x = tf.placeholder(tf.float32, [2, 2])
    v = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    exprs = [x + 1, 1 + x, x - 1, 10 - x, x * 2, x / 2, 1 / x, x**2, 2**x, x @ x, -x, abs(-x)]
    exprs += [x // 2, x % 2, np.float32(2) * x, np.ones((2, 2)) + x]
    got = run(exprs, {x: v})
    want = [v + 1, 1 + v, v - 1, 10 - v, v * 2, v / 2, 1 / v, v**2, 2**v, v @ v, -v, abs(v)]
    want += [v // 2, v % 2, 2 * v, 1 + v]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    cmp = run([x < 2, x <= 2, x > 2, x >= 2, (x > 1) & (x < 4), ~(x > 1)], {x: v})
    np.testing.assert_array_equal(cmp[0], v < 2)
    np.testing.assert_array_equal(cmp[3], v >= 2)
    np.testing.assert_array_equal(cmp[4], (v > 1) & (v < 4))
    np.testing.assert_array_equal(cmp[5], ~(v > 1))
    assert (x + 1).dtype == tf.float32
    with pytest.raises(TypeError):
        tf.constant(1) * 0.5  # a Python float cannot become an int32, as TF
    with pytest.raises(TypeError, match="bool"):
        bool(x)
    with pytest.raises(TypeError):
        iter(x)
    assert {x: 1}[x] == 1 and x == x and not (x == tf.identity(x))  # identity semantics


def test_indexing_with_slices_ints_none_and_ellipsis():
    x = tf.placeholder(tf.float32, [None, 3, 4])
    v = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    keys = [
        (0,),
        (slice(None), 1),
        (Ellipsis, -1),
        (slice(1, None), slice(None, None, 2)),
        (None, 0, Ellipsis, None),
        (Ellipsis, None),
        (slice(None), None, 1, slice(1, 3)),
        (slice(None, None, -1), slice(2, None, -2), slice(-1, 0, -3)),
    ]
    tensors = [x[k] for k in keys]
    assert tensors[0].shape == [3, 4] and tensors[2].shape == [None, 3]
    assert tensors[4].shape == [1, 3, 4, 1] and tensors[6].shape == [None, 1, 2]
    for k, got in zip(keys, run(tensors, {x: v})):
        np.testing.assert_array_equal(got, v[k])
    assert tensors[0].op.type == "StridedSlice" and tensors[0].name == "strided_slice:0"
    with pytest.raises(TypeError):
        x[[0, 1]]


def test_convert_to_tensor_and_constants():
    assert tf.convert_to_tensor([[1, 2]]).dtype == tf.int32
    c = tf.constant(3.0, shape=[2, 2])
    z, o, f = tf.zeros([2], tf.int64), tf.ones_like(c), tf.fill([2], 7)
    x = tf.placeholder(tf.float32, [None, 2])
    zl = tf.zeros(tf.shape(x))  # a shape known only at run time
    packed = tf.convert_to_tensor([x[0, 0], 2.0])
    got = run([c, z, o, f, zl, packed, tf.range(3), tf.eye(2)], {x: [[5, 6], [7, 8]]})
    np.testing.assert_array_equal(got[0], np.full((2, 2), 3.0))
    assert got[1].dtype == np.int64 and got[3].tolist() == [7, 7]
    assert got[4].shape == (2, 2) and got[5].tolist() == [5.0, 2.0]
    assert got[6].tolist() == [0, 1, 2] and got[7].tolist() == [[1, 0], [0, 1]]
    with pytest.raises(ValueError, match="requested dtype"):
        tf.convert_to_tensor(x, dtype=tf.int32)
    with pytest.raises(TypeError):
        tf.constant("text")


# --- Session.run --------------------------------------------------------------------------


Pair = collections.namedtuple("Pair", "first second")


def test_session_run_returns_the_fetch_structure():
    x = tf.placeholder(tf.float32, [2], name="x")
    y = tf.multiply(x, 2.0, name="y")
    s = tf.reduce_sum(y, name="s")
    v = tf.Variable([1.0, 2.0], name="v")
    feed = {x: [1.0, 2.0]}
    with tf.Session() as sess:
        assert sess.run(tf.global_variables_initializer()) is None
        single = sess.run(y, feed)
        assert isinstance(single, np.ndarray) and single.tolist() == [2.0, 4.0]
        scalar = sess.run(s, feed)
        assert isinstance(scalar, np.float32) and scalar == 6.0
        got = sess.run([y, (s, v), {"s": s, "op": v.initializer}, Pair(s, [y])], feed)
        assert isinstance(got, list) and isinstance(got[1], tuple)
        assert got[1][0] == 6.0 and got[1][1].tolist() == [1.0, 2.0]
        assert got[2]["s"] == 6.0 and got[2]["op"] is None
        assert isinstance(got[3], Pair) and got[3].second[0].tolist() == [2.0, 4.0]
        ordered = sess.run(collections.OrderedDict([("b", s), ("a", y)]), feed)
        assert isinstance(ordered, collections.OrderedDict) and list(ordered) == ["b", "a"]
        assert sess.run("s:0", {"x:0": [0.0, 1.0]}) == 2.0
        assert sess.run(["y:0", "init"], {"x:0": [1.0, 1.0]})[1] is None
        assert sess.run(v).tolist() == [1.0, 2.0] and sess.run([]) == []
        # a fetched array is a copy: later runs do not change it
        before = sess.run(v)
        sess.run(v.assign_add([1.0, 1.0]))
        assert before.tolist() == [1.0, 2.0]
        assert sess.graph is tf.get_default_graph()
        assert sess.stats["runs"] >= 1


def test_session_run_fetch_errors():
    x = tf.placeholder(tf.float32, [2])
    other = tf.Graph()
    with other.as_default():
        foreign = tf.constant(1.0)
    with tf.Session() as sess:
        with pytest.raises(TypeError, match=r"^\[Session.run\] Fetch argument 3"):
            sess.run(3)
        with pytest.raises(TypeError):
            sess.run(None)
        with pytest.raises(ValueError, match="cannot be interpreted as a Tensor"):
            sess.run("missing:0")
        with pytest.raises(ValueError, match="not an element of this graph"):
            sess.run(foreign)
        with pytest.raises(ValueError, match=r"needs a value|must feed|Placeholder"):
            sess.run(x + 1)
    with pytest.raises(RuntimeError, match="closed"):
        sess.run(tf.constant(1.0))


def test_feeds_are_converted_and_checked():
    x = tf.placeholder(tf.float32, shape=[None, 2], name="x")
    n = tf.placeholder(tf.int32, shape=[], name="n")
    v = tf.Variable([5.0, 6.0])
    out = tf.reduce_sum(x) * tf.cast(n, tf.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(out, {x: np.ones((3, 2), np.float64), n: 2}) == 12.0
        assert sess.run(out, {"x:0": [[1, 2]], "n:0": np.int64(1)}) == 3.0
        assert sess.run(out, {x: devrt.ones(1, 2), n: 3}) == 6.0
        # feeding a variable replaces its value for that run only
        assert sess.run(v * 1, {v: [0.0, 0.0]}).tolist() == [0.0, 0.0]
        assert sess.run(v).tolist() == [5.0, 6.0]
        with pytest.raises(ValueError, match=r"shape \(3,\).*'x:0'|x:0.*\(3,\)"):
            sess.run(out, {x: np.ones(3), n: 1})
        with pytest.raises(tf.errors.InvalidArgumentError, match="'n'"):
            sess.run(out, {x: np.ones((1, 2))})
        # an index out of range: TensorFlow's error class, still an IndexError
        picked = tf.gather(tf.constant([1.0, 2.0]), n)
        with pytest.raises(tf.errors.InvalidArgumentError, match="index -1 is out of bounds"):
            sess.run(picked, {n: -1})
        with pytest.raises(IndexError):
            sess.run(picked, {n: 2})
        with pytest.raises(TypeError, match="feed_dict key"):
            sess.run(out, {3: 1})
        with pytest.raises(TypeError, match="feed_dict key"):
            sess.run(out, {"x": np.ones((1, 2))})  # an op name, not a tensor name
        with pytest.raises(TypeError, match="cannot be a tf.Tensor"):
            sess.run(out, {x: x, n: 1})
        with pytest.raises(ValueError, match="cannot convert"):
            sess.run(out, {x: [[1, 2], [3]], n: 1})


def test_default_sessions_eval_and_interactive_session():
    c = tf.constant([1.0, 2.0]) * 2
    with pytest.raises(ValueError, match="No default session"):
        c.eval()
    sess = tf.Session()
    with sess.as_default():
        assert tf.get_default_session() is sess
        assert c.eval().tolist() == [2.0, 4.0]
        assert tf.no_op().run() is None
    assert c.eval(session=sess).tolist() == [2.0, 4.0]
    sess.close()
    assert tf.get_default_session() is None
    g = tf.Graph()
    with tf.Session(graph=g) as s2:
        assert tf.get_default_session() is s2 and tf.get_default_graph() is g
        assert tf.constant(1.0).graph is g
    isess = tf.InteractiveSession()
    v = tf.Variable(3.0)
    v.initializer.run()
    assert v.eval() == 3.0 and tf.get_default_session() is isess
    isess.close()
    assert tf.get_default_session() is None
    with pytest.raises(AssertionError):
        with tf.Graph().as_default():
            tf.reset_default_graph()


# --- variables, control dependencies ---------------------------------------------------------


def test_variables_live_in_the_session_and_update_by_assign_ops():
    v = tf.Variable(np.array([1.0, 2.0], np.float32), name="v")
    counter = tf.Variable(0, name="counter", trainable=False)
    assert counter.dtype == tf.int32 and not counter.trainable and v.trainable
    assert tf.trainable_variables() == [v] and tf.global_variables() == [v, counter]
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError, match="'v'|v\\b"):
            sess.run(v)
        with pytest.raises(RuntimeError):  # FailedPreconditionError is a RuntimeError
            sess.run(v + 1)
        sess.run(tf.variables_initializer([v]))
        assert sess.run(v).tolist() == [1.0, 2.0]
        assert sess.run(v.assign([3.0, 4.0])).tolist() == [3.0, 4.0]
        assert sess.run(v.assign_add([1.0, 1.0])).tolist() == [4.0, 5.0]
        assert sess.run(tf.assign_sub(v, [4.0, 4.0])).tolist() == [0.0, 1.0]
        assert sess.run(v.read_value()).tolist() == [0.0, 1.0]
        sess.run(counter.initializer)
        inc = tf.assign_add(counter, 1)
        for _ in range(3):
            sess.run(inc)
        assert sess.run(counter) == 3
        v.load([7.0, 8.0], sess)
        assert sess.run(v).tolist() == [7.0, 8.0]
    with tf.Session() as sess:  # a new session has its own (unset) values
        with pytest.raises(RuntimeError):
            sess.run(v)
    with pytest.raises(ValueError, match="fully defined"):
        tf.Variable(tf.placeholder(tf.float32, [None]))


def test_initializers_and_initial_values():
    tf.set_random_seed(0)
    with tf.variable_scope("init"):
        inits = {
            "zeros": tf.zeros_initializer(),
            "ones": tf.ones_initializer(),
            "const": tf.constant_initializer(2.5),
            "normal": tf.random_normal_initializer(1.0, 0.1),
            "uniform": tf.random_uniform_initializer(-1.0, 1.0),
            "trunc": tf.truncated_normal_initializer(stddev=0.5),
            "glorot_u": tf.glorot_uniform_initializer(),
            "glorot_n": tf.glorot_normal_initializer(),
            "xavier": tf.contrib.layers.xavier_initializer(),
            "vs": tf.variance_scaling_initializer(2.0),
        }
        vs = {k: tf.get_variable(k, [200, 50], initializer=i) for k, i in inits.items()}
        from_value = tf.get_variable("from_value", initializer=tf.constant([1, 2]))
    vals = run(vs)
    assert (vals["zeros"] == 0).all() and (vals["ones"] == 1).all() and (vals["const"] == 2.5).all()
    assert abs(vals["normal"].mean() - 1.0) < 0.01 and abs(vals["normal"].std() - 0.1) < 0.01
    assert vals["uniform"].min() >= -1 and vals["uniform"].max() < 1
    assert np.abs(vals["trunc"]).max() <= 1.0 + 1e-6
    limit = np.sqrt(6 / 250)
    for k in ("glorot_u", "xavier"):
        assert np.abs(vals[k]).max() <= limit and np.abs(vals[k]).max() > 0.95 * limit
    assert abs(vals["glorot_n"].std() - np.sqrt(2 / 250)) < 0.1 * np.sqrt(2 / 250)
    assert abs(vals["vs"].std() - np.sqrt(2 / 200)) < 0.1 * np.sqrt(2 / 200)
    assert from_value.dtype == tf.int32 and run(from_value).tolist() == [1, 2]
    # a callable initial value; an initial value from another variable
    a = tf.Variable(lambda: tf.ones([2]), name="a")
    b = tf.Variable(a.initialized_value() * 3, name="b")
    assert a.initial_value.op.name.startswith("a/Initializer")
    assert run(b).tolist() == [3.0, 3.0]


def test_random_seeds_repeat_and_truncated_normal_stays_within_two_stddevs():
    def sample():
        tf.reset_default_graph()
        tf.set_random_seed(42)
        return run([tf.random_normal([5]), tf.random_uniform([5]), tf.random_normal([5])])

    first, second = sample(), sample()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[2])  # each op has its own stream
    t = tf.truncated_normal([20000], mean=1.0, stddev=2.0)
    r = tf.random_normal([3], seed=1)
    with tf.Session() as sess:
        vals = sess.run(t)
        assert not np.array_equal(sess.run(r), sess.run(r))  # new numbers each run
    assert np.abs(vals - 1.0).max() <= 4.0 + 1e-5 and abs(vals.mean() - 1.0) < 0.05
    assert 0.85 * 2 < vals.std() < 0.91 * 2  # a normal truncated to two stddevs: 0.88
    ints = run(tf.random_uniform([1000], 3, 7, dtype=tf.int32))
    assert ints.dtype == np.int32 and ints.min() >= 3 and ints.max() <= 6


def test_control_dependencies_and_group():
    v = tf.Variable(0.0)
    inc = tf.assign_add(v, 1.0)
    with tf.control_dependencies([inc]):
        read = tf.identity(v)
        assert read.op.control_inputs == [inc.op]
        with tf.control_dependencies(None):
            free = tf.identity(v)
            assert free.op.control_inputs == []
    w = tf.Variable(0.0)
    both = tf.group(tf.assign_add(v, 10.0), tf.assign_add(w, 5.0), name="both")
    assert both.type == "NoOp" and both.name == "both" and len(both.control_inputs) == 2
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(read) == 1.0 and sess.run(read) == 2.0
        assert sess.run(free) == 2.0
        assert sess.run(both) is None
        assert sess.run([v, w]) == [12.0, 5.0]


def test_gradients_return_none_for_unconnected_xs():
    x = tf.placeholder(tf.float32, [3])
    w = tf.Variable([1.0, 2.0, 3.0])
    unused = tf.Variable(1.0)
    y = tf.reduce_sum(x * w)
    gx, gw, gu = tf.gradients(y, [x, w, unused])
    assert gu is None and gw.shape == [3]
    assert tf.gradients(y, unused) == [None]
    assert tf.gradients(tf.argmax(x), x) == [None]  # through an op without a derivative
    (g2,) = tf.gradients([y, 2 * y], [w], grad_ys=[1.0, tf.constant(0.5)])
    got = run([gx, gw, g2], {x: [1.0, 2.0, 3.0]})
    assert got[0].tolist() == [1.0, 2.0, 3.0] and got[1].tolist() == [1.0, 2.0, 3.0]
    assert got[2].tolist() == [2.0, 4.0, 6.0]
    (zero,) = tf.gradients(y, [unused], unconnected_gradients="zero")
    assert run(zero, {x: [1.0, 1.0, 1.0]}) == 0.0


# --- optimizers -----------------------------------------------------------------------------


def _regression_loss():
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((32, 4)).astype(np.float32)
    yv = xv @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32) + 0.1
    x = tf.placeholder(tf.float32, [None, 4])
    y = tf.placeholder(tf.float32, [None, 1])
    pred = tf.layers.dense(x, 1, kernel_initializer=tf.zeros_initializer())
    return tf.losses.mean_squared_error(y, pred), {x: xv, y: yv}


@pytest.mark.parametrize(
    "make, slots",
    [
        (lambda: tf.train.GradientDescentOptimizer(0.1), []),
        (lambda: tf.train.MomentumOptimizer(0.05, 0.9), ["Momentum"]),
        (lambda: tf.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True), ["Momentum"]),
        (lambda: tf.train.AdamOptimizer(0.1), ["Adam", "Adam_1"]),
        (lambda: tf.train.RMSPropOptimizer(0.03, momentum=0.5), ["RMSProp", "RMSProp_1"]),
        (lambda: tf.train.AdagradOptimizer(0.5), ["Adagrad"]),
    ],
)
def test_optimizers_reduce_a_loss(make, slots):
    loss, feed = _regression_loss()
    step = tf.train.get_or_create_global_step()
    opt = make()
    train = opt.minimize(loss, global_step=step)
    assert isinstance(train, tf.Operation) and train in tf.get_collection(tf.GraphKeys.TRAIN_OP)
    names = {v.op.name for v in tf.global_variables()}
    for slot in slots:
        assert f"dense/kernel/{slot}" in names
    slot_vars = [v for v in tf.global_variables() if "/kernel/" in v.name]
    assert all(not v.trainable for v in slot_vars) and len(tf.trainable_variables()) == 2
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, feed)
        for _ in range(60):
            sess.run(train, feed)
        assert sess.run(loss, feed) < 0.05 * first
        assert sess.run(step) == 60


def test_adam_step_matches_tf1_formula():
    w = tf.Variable([1.0, -2.0])
    loss = tf.reduce_sum(w * w)
    opt = tf.train.AdamOptimizer(0.1, beta1=0.8, beta2=0.9, epsilon=1e-3)
    grads_and_vars = opt.compute_gradients(loss)
    assert [v for _, v in grads_and_vars] == [w]
    train = opt.apply_gradients(grads_and_vars)
    assert train.name == "Adam" and opt.get_slot(w, "m").name == "Variable/Adam:0"
    p, m, v = np.array([1.0, -2.0]), 0.0, 0.0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for t in range(1, 4):
            sess.run(train)
            g = 2 * p
            m, v = 0.8 * m + 0.2 * g, 0.9 * v + 0.1 * g * g
            lr_t = 0.1 * np.sqrt(1 - 0.9**t) / (1 - 0.8**t)
            p = p - lr_t * m / (np.sqrt(v) + 1e-3)
            np.testing.assert_allclose(sess.run(w), p, rtol=1e-5)


def test_minimize_errors():
    v = tf.Variable(1.0)
    with pytest.raises(ValueError, match="No gradients"):
        tf.train.GradientDescentOptimizer(0.1).minimize(tf.constant(1.0) * 2, var_list=[v])
    tf.reset_default_graph()
    with pytest.raises(ValueError, match="No variables"):
        tf.train.GradientDescentOptimizer(0.1).minimize(tf.constant(1.0))


def test_learning_rate_schedule_follows_the_global_step():
    step = tf.train.get_or_create_global_step()
    lr = tf.train.exponential_decay(0.1, step, 10, 0.5, staircase=True)
    pc = tf.train.piecewise_constant(step, [5, 15], [1.0, 0.5, 0.1])
    inc = tf.assign_add(step, 10)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = []
        for _ in range(3):
            got.append(sess.run([lr, pc]))
            sess.run(inc)
    np.testing.assert_allclose(got, [[0.1, 1.0], [0.05, 0.5], [0.025, 0.1]], rtol=1e-6)


# --- checkpoints and graph files ------------------------------------------------------------


def _model():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    h = tf.layers.dense(x, 4, activation=tf.nn.relu)
    out = tf.layers.dense(h, 2, name="logits")
    labels = tf.placeholder(tf.int64, [None], name="labels")
    loss = tf.losses.sparse_softmax_cross_entropy(labels, out)
    train = tf.train.AdamOptimizer(0.05).minimize(loss, name="train")
    tf.add_to_collection("train_op", train)
    rng = np.random.default_rng(1)
    feed = {x: rng.standard_normal((6, 3)).astype(np.float32), labels: [0, 1, 0, 1, 1, 0]}
    return out, loss, train, feed


def test_saver_round_trip(tmp_path):
    out, loss, train, feed = _model()
    saver = tf.train.Saver(max_to_keep=2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(3):
            sess.run(train, feed)
            path = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=step)
        want = sess.run(out, feed)
    assert path == str(tmp_path / "model.ckpt-2")
    assert tf.train.latest_checkpoint(str(tmp_path)) == path
    assert not os.path.exists(tmp_path / "model.ckpt-0")  # max_to_keep
    assert os.path.exists(path + ".meta") and saver.last_checkpoints[-1] == path
    # the file is a devrt.save dict of variable name -> tensor
    stored = devrt.load(path)
    assert set(stored) == {v.op.name for v in tf.global_variables()}
    assert dict(tf.train.list_variables(path))["dense/kernel"] == [3, 4]
    np.testing.assert_array_equal(
        tf.train.load_variable(path, "logits/bias"), stored["logits/bias"].numpy()
    )
    with tf.Session() as sess:
        saver.restore(sess, path)
        np.testing.assert_array_equal(sess.run(out, feed), want)
    # a subset, by a dict of names
    kernel = [v for v in tf.global_variables() if v.op.name == "logits/kernel"][0]
    part = tf.train.Saver({"logits/kernel": kernel})
    with tf.Session() as sess:
        part.restore(sess, path)
        np.testing.assert_array_equal(sess.run(kernel), stored["logits/kernel"].numpy())


def test_saver_errors(tmp_path):
    v = tf.Variable([1.0, 2.0], name="v")
    with tf.Session() as sess:
        with pytest.raises(RuntimeError, match="uninitialized value v"):
            tf.train.Saver().save(sess, str(tmp_path / "a"))
        sess.run(v.initializer)
        path = tf.train.Saver().save(sess, str(tmp_path / "a"), write_meta_graph=False)
    missing = tf.Variable(1.0, name="missing")
    shaped = tf.Variable([1.0, 2.0, 3.0], name="shaped")
    with tf.Session() as sess:
        with pytest.raises(ValueError, match="Key missing not found"):
            tf.train.Saver([v, missing]).restore(sess, path)
        with pytest.raises(ValueError, match=r"shape \[2\].*shape \[3\]"):
            tf.train.Saver({"v": shaped}).restore(sess, path)
        devrt.save([1, 2, 3], str(tmp_path / "list"))
        with pytest.raises(ValueError, match="not a checkpoint"):
            tf.train.Saver([v]).restore(sess, str(tmp_path / "list"))
        (tmp_path / "junk").write_bytes(b"not a zip file at all")
        with pytest.raises(ValueError, match=r"^\[Saver.restore\]"):
            tf.train.Saver([v]).restore(sess, str(tmp_path / "junk"))
        with pytest.raises(ValueError, match="not a valid checkpoint"):
            tf.train.Saver([v]).restore(sess, str(tmp_path / "absent"))
    with pytest.raises(ValueError, match="No variables"):
        with tf.Graph().as_default():
            tf.train.Saver()


def test_whole_graph_file_runs_without_the_code_that_built_it(tmp_path):
    out, loss, train, feed = _model()
    x_value = feed[tf.get_default_graph().get_tensor_by_name("x:0")]
    labels = feed[tf.get_default_graph().get_tensor_by_name("labels:0")]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, feed)
        want = sess.run(out, feed)
        path = tf.save_graph(str(tmp_path / "model.dgraph"), sess)
    n_ops = len(tf.get_default_graph().get_operations())
    tf.reset_default_graph()
    saver = tf.load_graph(path)
    g = tf.get_default_graph()
    assert len(g.get_operations()) == n_ops
    assert [v.name for v in tf.trainable_variables()][0] == "dense/kernel:0"
    with tf.Session() as sess:
        saver.restore(sess)  # the values saved in the graph file
        np.testing.assert_allclose(sess.run("logits/BiasAdd:0", {"x:0": x_value}), want)
        step = tf.get_collection("train_op")[0]
        by_name = {"x:0": x_value, "labels:0": labels}
        before = sess.run("sparse_softmax_cross_entropy_loss/value:0", by_name)
        for _ in range(5):
            sess.run(step, by_name)
        after = sess.run("sparse_softmax_cross_entropy_loss/value:0", by_name)
        assert after < before
        sess.run(tf.global_variables_initializer())  # the initializers came along too
    # new names when the graph already holds the saved ones
    tf.load_graph(path)
    assert g.get_operation_by_name("dense/kernel_1").type == "Variable"
    assert tf.layers.dense(g.get_tensor_by_name("x:0"), 1).op.name == "dense_1/BiasAdd"
    assert tf.trainable_variables()[-1].name == "dense_1/bias:0"


def test_export_and_import_meta_graph_with_a_checkpoint(tmp_path):
    out, loss, train, feed = _model()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        ckpt = tf.train.Saver().save(sess, str(tmp_path / "ckpt"))
        want = sess.run(out, feed)
    meta = tf.train.export_meta_graph(str(tmp_path / "graph.meta"))
    assert meta["format"] == "devrt.graph" and "values" in meta and meta["values"] is None
    x_value = feed[tf.get_default_graph().get_tensor_by_name("x:0")]
    tf.reset_default_graph()
    saver = tf.train.import_meta_graph(str(tmp_path / "graph.meta"), import_scope="restored")
    with tf.Session() as sess:
        with pytest.raises(ValueError, match="None"):
            saver.restore(sess)  # no values in a meta graph
        saver.restore(sess, ckpt)
        got = sess.run("restored/logits/BiasAdd:0", {"restored/x:0": x_value})
    np.testing.assert_allclose(got, want)
    tf.reset_default_graph()
    saver = tf.train.import_meta_graph(ckpt + ".meta")  # written by Saver.save
    with tf.Session() as sess:
        saver.restore(sess, ckpt)
        np.testing.assert_allclose(sess.run("logits/BiasAdd:0", {"x:0": x_value}), want)


def test_corrupt_or_foreign_graph_files_raise_value_error(tmp_path):
    tf.layers.dense(tf.placeholder(tf.float32, [None, 2]), 2)
    good = tf.save_graph(str(tmp_path / "g"))
    data = (tmp_path / "g").read_bytes()
    (tmp_path / "truncated").write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    (tmp_path / "flipped").write_bytes(bytes(flipped))
    devrt.save({"w": devrt.ones(2)}, str(tmp_path / "ckpt"))
    devrt.save(
        {
            "format": "devrt.graph",
            "version": 1,
            "nodes": [{"name": "a"}],
            "variables": [],
            "collections": {},
        },
        str(tmp_path / "bad_node"),
    )
    devrt.save(
        {
            "format": "devrt.graph",
            "version": 1,
            "variables": [],
            "collections": {},
            "nodes": [
                {
                    "name": "b",
                    "op": "Identity",
                    "inputs": [["a", 0]],
                    "control_inputs": [],
                    "attrs": {},
                    "device": "",
                }
            ],
        },
        str(tmp_path / "dangling"),
    )
    devrt.save(
        {
            "format": "devrt.graph",
            "version": 1,
            "variables": [],
            "collections": {},
            "nodes": [
                {
                    "name": "a",
                    "op": "NoSuchOp",
                    "inputs": [],
                    "control_inputs": [],
                    "attrs": {},
                    "device": "",
                }
            ],
        },
        str(tmp_path / "unknown_op"),
    )
    tf.reset_default_graph()
    for name in ("truncated", "flipped", "ckpt", "bad_node", "dangling", "unknown_op"):
        with pytest.raises(ValueError, match=r"^\[load_graph\]"):
            tf.load_graph(str(tmp_path / name))
    tf.reset_default_graph()
    tf.load_graph(good)  # the intact file still loads


# --- devices ----------------------------------------------------------------------------------


def test_device_scopes_and_soft_placement():
    with tf.device("/cpu:0"):
        a = tf.constant([1.0, 2.0], name="a")
        with tf.device("/device:nodev:0"):  # a device no backend provides
            b = tf.multiply(a, 2.0, name="b")
            with tf.device(None):
                c = tf.identity(b, name="c")
        d = b + 1
    assert a.device == "/cpu:0" and b.device == "/device:nodev:0" and c.device == ""
    assert d.device == "/cpu:0" and b.op.device == "/device:nodev:0"
    with tf.device("/job:localhost/replica:0/task:0/device:CPU:0"):
        assert tf.identity(a).device == "/device:CPU:0"
    with tf.Session() as sess:
        assert sess.run(a).tolist() == [1.0, 2.0]
        with pytest.raises(ValueError, match=r"^\[Session.run\] cannot place node .*nodev"):
            sess.run(d)
    config = tf.ConfigProto(allow_soft_placement=True, log_device_placement=False)
    config.gpu_options.allow_growth = True
    with tf.Session(config=config) as sess:
        assert sess.run(d).tolist() == [3.0, 5.0]
        log = "\n".join(sess.placement_log)
    assert "b (Mul)" in log and "soft placement" in log


@pytest.mark.skipif(not devrt.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_placement_runs_on_the_gpu():
    with tf.device("/gpu:0"):
        x = tf.placeholder(tf.float32, [2, 2])
        y = tf.matmul(x, x)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: np.eye(2)}), np.eye(2))
        assert any("(MatMul): cuda" in line for line in sess.placement_log)


# --- nn, losses, layers ----------------------------------------------------------------------


def test_nn_functions_against_numpy():
    logits_v = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], np.float32)
    labels_v = np.array([1, 2])
    logits = tf.constant(logits_v)
    onehot = tf.one_hot(labels_v, 3)
    logp = logits_v - np.log(np.exp(logits_v).sum(1, keepdims=True))
    want_xent = -logp[np.arange(2), labels_v]
    got = run(
        {
            "softmax": tf.nn.softmax(logits),
            "log_softmax": tf.nn.log_softmax(logits),
            "xent": tf.nn.softmax_cross_entropy_with_logits_v2(labels=onehot, logits=logits),
            "sparse": tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=labels_v, logits=logits
            ),
            "relu": tf.nn.relu(logits - 1),
            "l2": tf.nn.l2_loss(logits),
            "bias": tf.nn.bias_add(logits, [1.0, 2.0, 3.0]),
            "sigmoid_xent": tf.nn.sigmoid_cross_entropy_with_logits(
                labels=tf.ones_like(logits), logits=logits
            ),
        }
    )
    np.testing.assert_allclose(got["softmax"], np.exp(logp), rtol=1e-5)
    np.testing.assert_allclose(got["log_softmax"], logp, rtol=1e-5)
    np.testing.assert_allclose(got["xent"], want_xent, rtol=1e-5)
    np.testing.assert_allclose(got["sparse"], want_xent, rtol=1e-5)
    np.testing.assert_allclose(got["relu"], np.maximum(logits_v - 1, 0))
    np.testing.assert_allclose(got["l2"], (logits_v**2).sum() / 2, rtol=1e-6)
    np.testing.assert_allclose(got["bias"], logits_v + [1, 2, 3])
    np.testing.assert_allclose(got["sigmoid_xent"], np.log1p(np.exp(-logits_v)), rtol=1e-5)
    named = tf.nn.softmax_cross_entropy_with_logits_v2(labels=onehot, logits=logits, name="xent")
    assert named.name == "xent:0"


def test_cumsum_and_top_k():
    v = np.array([[1.0, 5.0, 3.0, 5.0], [0.0, -1.0, 4.0, 2.0]], np.float32)
    x = tf.placeholder(tf.float32, [None, 4])
    top = tf.nn.top_k(x, k=2)
    got = run(
        [
            tf.cumsum(x, axis=1),
            tf.math.cumsum(x, 1, exclusive=True, reverse=True),
            top.values,
            top.indices,
        ],
        {x: v},
    )
    np.testing.assert_allclose(got[0], np.cumsum(v, 1))
    np.testing.assert_allclose(got[1], np.flip(np.cumsum(np.flip(v, 1), 1), 1) - v)
    np.testing.assert_array_equal(got[2], [[5.0, 5.0], [4.0, 2.0]])
    assert got[3].dtype == np.int32 and got[3].tolist() == [[1, 3], [2, 3]]
    values, indices = tf.math.top_k(x)
    assert values.shape.as_list() == [None, 1] and indices.dtype == tf.int32
    whole = run(top, {x: v})  # the named tuple itself, fetched
    assert type(whole).__name__ == "TopKV2" and whole.indices.tolist() == [[1, 3], [2, 3]]
    # exclusive sums shift the input (an inf stays out of its own sum), and
    # integers keep their dtype and wrap in it, as in TensorFlow
    f, u8 = tf.placeholder(tf.float32, [3]), tf.placeholder(tf.uint8, [2])
    got = run(
        [tf.cumsum(f, exclusive=True), tf.cumsum(u8), tf.cumsum(tf.constant([1, 2, 3]))],
        {f: [np.inf, 1e8, 3.0], u8: [200, 100]},
    )
    assert got[0].tolist() == [0.0, np.inf, np.inf]
    assert got[1].dtype == np.uint8 and got[1].tolist() == [200, 44]
    assert got[2].dtype == np.int32 and got[2].tolist() == [1, 3, 6]
    (g,) = tf.gradients(tf.reduce_sum(top.values), x)
    np.testing.assert_array_equal(run(g, {x: v}), [[0, 1, 0, 1], [0, 0, 1, 1]])


def test_conv_pool_and_dropout_shapes():
    img = tf.placeholder(tf.float32, [None, 8, 8, 3])
    k = tf.ones([3, 3, 3, 5])
    assert tf.nn.conv2d(img, k, strides=[1, 1, 1, 1], padding="SAME").shape == [None, 8, 8, 5]
    assert tf.nn.conv2d(img, k, strides=[1, 2, 2, 1], padding="VALID").shape == [None, 3, 3, 5]
    assert tf.nn.max_pool(img, [1, 2, 2, 1], [1, 2, 2, 1], "VALID").shape == [None, 4, 4, 3]
    assert tf.nn.avg_pool(img, ksize=2, strides=2, padding="SAME").shape == [None, 4, 4, 3]
    with pytest.raises(ValueError, match="batch and channel"):
        tf.nn.conv2d(img, k, strides=[2, 1, 1, 1], padding="SAME")
    keep = tf.placeholder(tf.float32, [])
    dropped = tf.nn.dropout(tf.ones([4000]), keep)
    by_rate = tf.nn.dropout(tf.ones([4000]), rate=0.75)
    with tf.Session() as sess:
        a = sess.run(dropped, {keep: 0.5})
        b = sess.run(dropped, {keep: 0.5})
        c = sess.run(by_rate)
        assert sess.run(dropped, {keep: 1.0}).min() == 1.0
    assert set(np.unique(a)) <= {0.0, 2.0} and abs((a > 0).mean() - 0.5) < 0.05
    assert not np.array_equal(a, b)  # a new mask at each run
    assert set(np.unique(c)) <= {0.0, 4.0} and abs((c > 0).mean() - 0.25) < 0.05


def test_losses_reduce_as_tf1():
    labels = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    preds = tf.constant([[1.5, 2.0], [2.0, 6.0]])
    mse = tf.losses.mean_squared_error(labels, preds)
    weighted = tf.losses.mean_squared_error(labels, preds, weights=[[1.0, 0.0], [2.0, 0.0]])
    none = tf.losses.mean_squared_error(labels, preds, reduction=tf.losses.Reduction.NONE)
    logits = tf.constant([[2.0, 1.0], [0.5, 0.5]])
    sce = tf.losses.softmax_cross_entropy(tf.constant([[1.0, 0.0], [0.0, 1.0]]), logits)
    ssce = tf.losses.sparse_softmax_cross_entropy([0, 1], logits)
    assert mse.name == "mean_squared_error/value:0" and mse.shape == []
    assert len(tf.losses.get_losses()) == 5
    got = run([mse, weighted, none, sce, ssce, tf.losses.get_total_loss()])
    sq = np.array([[0.25, 0.0], [1.0, 4.0]])
    np.testing.assert_allclose(got[0], sq.mean())
    np.testing.assert_allclose(got[1], (0.25 * 1 + 1.0 * 2) / 2)  # sum / nonzero weights
    np.testing.assert_allclose(got[2], sq)
    xent = np.log1p(np.exp(-1.0)), np.log(2.0)
    np.testing.assert_allclose(got[3], np.mean(xent), rtol=1e-6)
    np.testing.assert_allclose(got[4], np.mean(xent), rtol=1e-6)


def test_layers_conv_pool_flatten_dropout_and_batch_norm():
    img = tf.placeholder(tf.float32, [None, 6, 6, 2])
    training = tf.placeholder_with_default(False, shape=())
    c = tf.layers.conv2d(img, 4, 3, padding="same", activation=tf.nn.relu)
    p = tf.layers.max_pooling2d(c, 2, 2)
    bn = tf.layers.batch_normalization(p, training=training)
    f = tf.layers.flatten(bn)
    d = tf.layers.dropout(f, rate=0.5, training=training)
    out = tf.layers.dense(d, 3)
    assert (c.shape, p.shape, f.shape, out.shape) == (
        (None, 6, 6, 4),
        (None, 3, 3, 4),
        (None, 36),
        (None, 3),
    )
    assert c.op.name == "conv2d/Relu" and p.op.name == "max_pooling2d/MaxPool"
    names = [v.op.name for v in tf.global_variables()]
    assert names[:3] == ["conv2d/kernel", "conv2d/bias", "batch_normalization/gamma"]
    assert "batch_normalization/moving_mean" in names
    assert "batch_normalization/moving_mean" not in [v.op.name for v in tf.trainable_variables()]
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2
    moving_mean = next(v for v in tf.global_variables() if v.op.name.endswith("moving_mean"))
    xv = np.random.default_rng(0).random((4, 6, 6, 2)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        infer1, infer2 = sess.run(out, {img: xv}), sess.run(out, {img: xv})
        np.testing.assert_array_equal(infer1, infer2)  # no dropout, no updates
        assert not sess.run(moving_mean).any()
        sess.run(updates, {img: xv, training: True})
        assert sess.run(moving_mean).any()
        assert not np.array_equal(sess.run(out, {img: xv, training: True}), infer1)


def test_compat_namespaces_and_helpers():
    assert tf.compat.v1 is tf
    tf.disable_v2_behavior()
    tf.disable_eager_execution()
    assert not tf.executing_eagerly()
    assert tf.random.normal is tf.random_normal and tf.math.reduce_sum is tf.reduce_sum
    assert isinstance(tf.initializers.glorot_uniform(), tf.glorot_uniform_initializer)
    x = tf.constant([[1.0, -2.0], [3.0, 4.0]])
    got = run(
        [
            tf.clip_by_value(x, -1.0, 2.0),
            tf.where(x > 0, x, tf.zeros_like(x)),
            tf.gather(x, [1, 0]),
            tf.one_hot([2, 0], 3),
            tf.argmax(x, 1),
            tf.argmin(x, axis=0),
            tf.squeeze(tf.expand_dims(x, 0)),
            tf.add_n([x, x, x]),
            tf.reduce_max(x),
            tf.reduce_prod(x, 1),
            tf.split(x, 2, axis=1)[1],
            tf.unstack(x)[0],
            tf.tile(x, [1, 2]),
            tf.reduce_logsumexp(x, axis=1),
        ]
    )
    xv = np.array([[1.0, -2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(got[0], np.clip(xv, -1, 2))
    np.testing.assert_array_equal(got[1], np.where(xv > 0, xv, 0))
    np.testing.assert_array_equal(got[2], xv[[1, 0]])
    np.testing.assert_array_equal(got[3], np.eye(3)[[2, 0]])
    assert got[4].tolist() == [0, 1] and got[5].tolist() == [0, 0]
    np.testing.assert_array_equal(got[6], xv)
    np.testing.assert_array_equal(got[7], 3 * xv)
    assert got[8] == 4.0 and got[9].tolist() == [-2.0, 12.0]
    assert got[10].tolist() == [[-2.0], [4.0]] and got[11].tolist() == [1.0, -2.0]
    np.testing.assert_array_equal(got[12], np.tile(xv, [1, 2]))
    np.testing.assert_allclose(got[13], np.log(np.exp(xv).sum(1)), rtol=1e-6)


def test_stop_gradient_blocks_gradients():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 3])
    w = tf.Variable(tf.ones((3, 2)))
    y = tf.matmul(x, w)
    # d/dw sum(y * stop(y)) = x^T stop(y): half of d/dw sum(y * y)
    (g,) = tf.gradients(tf.reduce_sum(y * tf.stop_gradient(y)), [w])
    assert tf.gradients(tf.reduce_sum(tf.stop_gradient(y)), [w]) == [None]
    xv = np.arange(6, dtype=np.float32).reshape(2, 3)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(g, {x: xv}), xv.T @ (xv @ np.ones((3, 2))))


def test_placeholder_with_default_takes_feeds_of_other_sizes():
    tf.reset_default_graph()
    d = tf.placeholder_with_default(tf.zeros((2, 3)), shape=[None, 3])
    assert d.shape.as_list() == [None, 3]
    with tf.Session() as sess:
        assert sess.run(d).shape == (2, 3)
        assert sess.run(d, {d: np.ones((5, 3))}).shape == (5, 3)
        with pytest.raises(ValueError, match="shape"):
            sess.run(d, {d: np.ones((5, 4))})
    with pytest.raises(ValueError, match="placeholder_with_default"):
        tf.placeholder_with_default(tf.zeros((2, 3)), shape=[None, 4])
