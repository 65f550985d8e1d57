"""Adam's fused update (the catalogue's adam_step, the graph's ApplyAdam)
gives every front end the numbers of its composite update bit for bit, and
the graph's in-place writes keep the values a run read before them."""

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
    runs as primitives, as before adam_step existed."""
    monkeypatch.setattr(cls, "adam_step", None)


# --- graph: tf.train.AdamOptimizer -------------------------------------------------------


def train_graph(steps, dtype=np.float32, **adam):
    rng = np.random.default_rng(7)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(dtype, [None, 5])
        y = tf.placeholder(dtype, [None, 3])
        w = tf.Variable(rng.standard_normal((5, 3)).astype(dtype), name="w")
        b = tf.Variable(np.zeros(3, dtype), name="b")
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
        train = tf.train.AdamOptimizer(**adam).minimize(loss)
        slots = [v for v in tf.global_variables() if "Adam" in v.name]
        init = tf.global_variables_initializer()
    feeds = [
        {x: rng.standard_normal((8, 5)).astype(dtype), y: rng.standard_normal((8, 3)).astype(dtype)}
        for _ in range(steps)
    ]
    with tf.Session(graph=g) as s:
        s.run(init)
        for feed in feeds:
            s.run(train, feed)
        return g, s.run([w, b]), s.run(slots)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_apply_adam_trains_as_the_assign_nodes_did(monkeypatch, dtype):
    adam = dict(learning_rate=0.05, beta1=0.8, beta2=0.95, epsilon=1e-6)
    g, fused, fused_slots = train_graph(5, dtype, **adam)
    ops = [op.type for op in g.get_operations() if "/update_" in op.name]
    assert ops.count("ApplyAdam") == 2 and "Assign" not in ops and "AssignSub" not in ops
    with monkeypatch.context() as m:
        unfused(m, GraphOps)
        g2, composite, composite_slots = train_graph(5, dtype, **adam)
    assert "ApplyAdam" not in [op.type for op in g2.get_operations()]
    assert len(fused_slots) == len(composite_slots) == 4
    for a, b in zip(fused + fused_slots, composite + composite_slots):
        np.testing.assert_array_equal(a, b)


def test_reads_before_the_update_keep_the_old_values():
    g = tf.Graph()
    with g.as_default():
        w = tf.Variable(np.ones((2, 2), np.float32))
        seen = tf.identity(w)  # a value aliasing w's storage
        doubled = w * 2.0
        loss = tf.reduce_sum(w * w)
        train = tf.train.AdamOptimizer(0.5).minimize(loss)
        init = tf.global_variables_initializer()
    with tf.Session(graph=g) as s:
        s.run(init)
        before, copy, twice, _ = s.run([w, seen, doubled, train])
        after = s.run(w)
        np.testing.assert_array_equal(before, np.ones((2, 2)))
        np.testing.assert_array_equal(copy, np.ones((2, 2)))
        np.testing.assert_array_equal(twice, 2 * np.ones((2, 2)))
        # the first step moves each weight by lr against its gradient's sign
        np.testing.assert_allclose(after, 0.5 * np.ones((2, 2)), rtol=1e-5)
        # a fetch is a snapshot: the next step leaves it alone
        s.run(train)
        np.testing.assert_allclose(after, 0.5 * np.ones((2, 2)), rtol=1e-5)


def test_apply_adam_outputs_are_the_new_values():
    g = tf.Graph()
    with g.as_default():
        w = tf.Variable(np.array([1.0, -2.0], np.float32))
        loss = tf.reduce_sum(w * w)
        opt = tf.train.AdamOptimizer(0.1)
        grads = opt.compute_gradients(loss)
        train = opt.apply_gradients(grads)
        node = next(op for op in g.get_operations() if op.type == "ApplyAdam")
        init = tf.global_variables_initializer()
    assert len(node.outputs) == 3
    with tf.Session(graph=g) as s:
        s.run(init)
        new_w, new_m, new_v = s.run(list(node.outputs))
        np.testing.assert_array_equal(new_w, s.run(w))
        np.testing.assert_allclose(new_m, 0.1 * np.array([2.0, -4.0]), rtol=1e-6)
        np.testing.assert_allclose(new_v, 0.001 * np.array([4.0, 16.0]), rtol=1e-4)
        s.run(train)


def test_apply_adam_refuses_a_value_for_its_variables():
    g = tf.Graph()
    with g.as_default():
        w = tf.Variable(np.zeros(3, np.float32))
        m = tf.Variable(np.zeros(3, np.float32))
        one = tf.constant(1.0)
        with pytest.raises(TypeError, match=r"input 2 \(v\) must be a variable"):
            g._create_op(
                "ApplyAdam", [w._variable, m._variable, w + 1.0, one, one, one, one, w.value()]
            )
        with pytest.raises(
            ValueError, match=r"grad of shape \(2,\) for a variable of shape \(3,\)"
        ):
            v = tf.Variable(np.zeros(3, np.float32))
            grad = tf.constant(np.zeros(2, np.float32))
            g._create_op(
                "ApplyAdam", [w._variable, m._variable, v._variable, one, one, one, one, grad]
            )


def test_apply_adam_is_refused_inside_a_while_loop():
    g = tf.Graph()
    with g.as_default():
        w, m, v = (tf.Variable(np.zeros(2, np.float32)) for _ in range(3))
        one = tf.constant(1.0)

        def body(i):
            refs = [w._variable, m._variable, v._variable]
            g._create_op("ApplyAdam", [*refs, one, one, one, one, w.value()])
            return i + 1

        with pytest.raises(NotImplementedError, match="ApplyAdam .* cannot write variables"):
            tf.while_loop(lambda i: i < 3, body, [tf.constant(0)])


# --- eager: devrt.optim.Adam, keras.optimizers.Adam --------------------------------------


def train_eager(amsgrad, weight_decay, decoupled):
    devrt.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 2))
    cls = optim.AdamW if decoupled else optim.Adam
    opt = cls(model.parameters(), lr=0.02, amsgrad=amsgrad, weight_decay=weight_decay)
    rng = np.random.default_rng(1)
    for _ in range(4):
        x = devrt.tensor(rng.standard_normal((7, 6)).astype(np.float32))
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()
    state = [t.numpy().copy() for s in opt.state.values() for k, t in s.items() if k != "step"]
    return [p.detach().numpy().copy() for p in model.parameters()] + state


@pytest.mark.parametrize(
    "amsgrad, weight_decay, decoupled", [(False, 0, False), (True, 0.1, False), (False, 0.1, True)]
)
def test_optim_adam_matches_its_composite(monkeypatch, amsgrad, weight_decay, decoupled):
    fused = train_eager(amsgrad, weight_decay, decoupled)
    with monkeypatch.context() as m:
        unfused(m, EagerOps)
        composite = train_eager(amsgrad, weight_decay, decoupled)
    assert len(fused) == len(composite) > 4
    for a, b in zip(fused, composite):
        np.testing.assert_array_equal(a, b)


def train_keras(amsgrad):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01, amsgrad=amsgrad), loss="mse")
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((32, 4)).astype(np.float32), rng.standard_normal((32, 1))
    model.fit(x, y.astype(np.float32), batch_size=8, epochs=2, verbose=0, shuffle=False)
    return [np.asarray(v) for v in model.get_weights()] + [
        np.asarray(v.numpy()) for v in model.optimizer.variables if len(v.shape)
    ]


@pytest.mark.parametrize("amsgrad", [False, True])
def test_keras_adam_matches_its_composite(monkeypatch, amsgrad):
    fused = train_keras(amsgrad)
    with monkeypatch.context() as m:
        unfused(m, EagerOps)
        composite = train_keras(amsgrad)
    assert len(fused) == len(composite) > 4
    for a, b in zip(fused, composite):
        np.testing.assert_array_equal(a, b)
