"""Gradient descent's fused update (the catalogue's sgd_step, the graph's
ApplyGradientDescent) gives every front end the numbers of its composite
update bit for bit, and TensorFlow's where it is installed."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
import devrt.graph as tf
from devrt import keras, nn, optim
from devrt._composite.eager import EagerOps
from devrt._composite.graph import GraphOps


def unfused(monkeypatch, cls):
    """The protocol implementation `cls` without its fused update: the rule
    runs as primitives, as before sgd_step existed."""
    monkeypatch.setattr(cls, "sgd_step", None)


# --- graph: tf.train.GradientDescentOptimizer ---------------------------------------------


def train_graph(lib, steps, dtype=np.float32, lr=0.05):
    rng = np.random.default_rng(7)
    g = lib.Graph()
    with g.as_default():
        x = lib.placeholder(dtype, [None, 5])
        y = lib.placeholder(dtype, [None, 3])
        w = lib.Variable(rng.standard_normal((5, 3)).astype(dtype), name="w")
        b = lib.Variable(np.zeros(3, dtype), name="b")
        h = lib.maximum(lib.matmul(x, w) + b, 0.0)
        loss = lib.reduce_mean(lib.square(h - y))
        train = lib.train.GradientDescentOptimizer(lr).minimize(loss)
        init = lib.global_variables_initializer()
    feeds = [
        {x: rng.standard_normal((8, 5)).astype(dtype), y: rng.standard_normal((8, 3)).astype(dtype)}
        for _ in range(steps)
    ]
    with lib.Session(graph=g) as s:
        s.run(init)
        for feed in feeds:
            s.run(train, feed)
        return g, s.run([w, b])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_apply_gradient_descent_trains_as_the_assign_nodes_did(monkeypatch, dtype):
    g, fused = train_graph(tf, 5, dtype)
    ops = [op.type for op in g.get_operations() if "/update_" in op.name]
    assert ops.count("ApplyGradientDescent") == 2
    assert "AssignSub" not in ops and "Mul" not in ops
    with monkeypatch.context() as m:
        unfused(m, GraphOps)
        g2, composite = train_graph(tf, 5, dtype)
    types = [op.type for op in g2.get_operations()]
    assert "ApplyGradientDescent" not in types and "AssignSub" in types
    for a, b in zip(fused, composite):
        np.testing.assert_array_equal(a, b)


def test_apply_gradient_descent_matches_tensorflow():
    tensorflow = pytest.importorskip("tensorflow")
    tf1 = tensorflow.compat.v1
    ours = train_graph(tf, 4)[1]
    with tensorflow.Graph().as_default():
        theirs = train_graph(tf1, 4)[1]
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_apply_gradient_descent_op():
    # tf.raw_ops-style use: the output is the variable's new value, reads
    # that do not depend on the write see the value from before the run.
    g = tf.Graph()
    with g.as_default():
        w = tf.Variable(np.array([1.0, -2.0, 4.0], np.float32))
        seen = tf.identity(w)
        alpha = tf.constant(0.5)
        delta = tf.constant(np.array([2.0, 2.0, -4.0], np.float32))
        new = g._create_op("ApplyGradientDescent", [w._variable, alpha, delta]).outputs[0]
        init = tf.global_variables_initializer()
    assert new.shape.as_list() == [3] and new.dtype == tf.float32
    with tf.Session(graph=g) as s:
        s.run(init)
        before, after = s.run([seen, new])
        np.testing.assert_array_equal(before, [1.0, -2.0, 4.0])
        np.testing.assert_array_equal(after, [0.0, -3.0, 6.0])
        np.testing.assert_array_equal(s.run(w), [0.0, -3.0, 6.0])
        # a fetch is a snapshot: the next step leaves it alone
        s.run(new)
        np.testing.assert_array_equal(after, [0.0, -3.0, 6.0])
        np.testing.assert_array_equal(s.run(w), [-1.0, -4.0, 8.0])


def test_apply_gradient_descent_refuses_bad_inputs():
    g = tf.Graph()
    with g.as_default():
        w = tf.Variable(np.zeros(3, np.float32))
        one = tf.constant(1.0)
        with pytest.raises(TypeError, match=r"^\[ApplyGradientDescent .*input 0 \(var\) must be a"):
            g._create_op("ApplyGradientDescent", [w + 1.0, one, w.value()])
        with pytest.raises(
            ValueError, match=r"delta of shape \(2,\) for a variable of shape \(3,\)"
        ):
            g._create_op("ApplyGradientDescent", [w._variable, one, tf.zeros([2])])
        with pytest.raises(ValueError, match=r"alpha of shape \(3,\): a scalar expected"):
            g._create_op("ApplyGradientDescent", [w._variable, w.value(), w.value()])
        with pytest.raises(TypeError, match=r"alpha of dtype float64 for a variable of dtype"):
            g._create_op(
                "ApplyGradientDescent", [w._variable, tf.constant(1.0, tf.float64), w.value()]
            )
        i = tf.Variable(np.zeros(3, np.int32))
        with pytest.raises(TypeError, match=r"variable of dtype int32: float32 or float64"):
            g._create_op("ApplyGradientDescent", [i._variable, tf.constant(1), i.value()])


def test_apply_gradient_descent_checks_the_fed_delta_at_run_time():
    g = tf.Graph()
    with g.as_default():
        w = tf.Variable(np.zeros(3, np.float32))
        delta = tf.placeholder(tf.float32, [None])
        new = g._create_op("ApplyGradientDescent", [w._variable, tf.constant(1.0), delta])
        init = tf.global_variables_initializer()
    with tf.Session(graph=g) as s:
        s.run(init)
        with pytest.raises(ValueError, match=r"ApplyGradientDescent.*grad has shape \[2\]"):
            s.run(new, {delta: np.ones(2, np.float32)})


def test_apply_gradient_descent_is_refused_inside_a_while_loop():
    g = tf.Graph()
    with g.as_default():
        w = tf.Variable(np.zeros(2, np.float32))
        one = tf.constant(1.0)

        def body(i):
            g._create_op("ApplyGradientDescent", [w._variable, one, w.value()])
            return i + 1

        with pytest.raises(NotImplementedError, match="ApplyGradientDescent .* cannot write"):
            tf.while_loop(lambda i: i < 3, body, [tf.constant(0)])


# --- eager: devrt.optim.SGD, keras.optimizers.SGD ----------------------------------------


def train_eager(weight_decay):
    devrt.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 2))
    opt = optim.SGD(model.parameters(), lr=0.02, weight_decay=weight_decay)
    rng = np.random.default_rng(1)
    for _ in range(4):
        x = devrt.tensor(rng.standard_normal((7, 6)).astype(np.float32))
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()
    return [p.detach().numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("weight_decay", [0, 0.1])
def test_optim_sgd_matches_its_composite(monkeypatch, weight_decay):
    fused = train_eager(weight_decay)
    with monkeypatch.context() as m:
        unfused(m, EagerOps)
        composite = train_eager(weight_decay)
    assert len(fused) == len(composite) == 4
    for a, b in zip(fused, composite):
        np.testing.assert_array_equal(a, b)


def test_keras_sgd_matches_its_composite(monkeypatch):
    def train():
        keras.utils.set_random_seed(5)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        rng = np.random.default_rng(2)
        x, y = rng.standard_normal((32, 4)).astype(np.float32), rng.standard_normal((32, 1))
        model.fit(x, y.astype(np.float32), batch_size=8, epochs=2, verbose=0, shuffle=False)
        return [np.asarray(v) for v in model.get_weights()]

    fused = train()
    with monkeypatch.context() as m:
        unfused(m, EagerOps)
        composite = train()
    assert len(fused) == len(composite) == 4
    for a, b in zip(fused, composite):
        np.testing.assert_array_equal(a, b)


def test_eager_sgd_step_falls_back_where_autograd_records():
    # With grad mode on and a gradient that requires grad, the write is
    # recorded as the primitives record it (the fused op never is).
    from devrt._composite import optimizers as rules
    from devrt._composite.eager import EAGER

    p = devrt.tensor(np.ones(3, np.float32))
    g = devrt.tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    rules.sgd(EAGER, p, g, 0.5)
    assert p.grad_fn is not None
    p.sum().backward()
    np.testing.assert_array_equal(g.grad.numpy(), [-0.5, -0.5, -0.5])
    np.testing.assert_array_equal(p.detach().numpy(), [0.5, 0.0, -0.5])
