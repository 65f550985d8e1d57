"""The lecture's TensorFlow 1 programs, run with only the import changed:
`import devrt.graph as tf`. Each trains the two-layer network (N=64,
D_in=1000, H=100, D_out=10) and checks the loss; the first is also checked
step by step against the same updates computed in NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
import devrt.graph as tf

N, D, H = 64, 1000, 100


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((N, D)).astype(np.float32),
        rng.standard_normal((N, 10)).astype(np.float32),
        rng.standard_normal((D, H)).astype(np.float32),
        rng.standard_normal((H, 10)).astype(np.float32),
    )


def test_placeholders_gradients_and_numpy_updates():
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, 10))
    w1 = tf.placeholder(tf.float32, shape=(D, H))
    w2 = tf.placeholder(tf.float32, shape=(H, 10))

    h = tf.maximum(tf.matmul(x, w1), 0)
    y_pred = tf.matmul(h, w2)
    diff = y_pred - y
    loss = tf.reduce_mean(tf.reduce_sum(diff**2, axis=1))
    grad_w1, grad_w2 = tf.gradients(loss, [w1, w2])

    xv, yv, w1v, w2v = _data()
    learning_rate = 1e-5
    losses = []
    with tf.Session() as sess:
        values = {x: xv, y: yv, w1: w1v, w2: w2v}
        for _ in range(50):
            loss_val, grad_w1_val, grad_w2_val = sess.run(
                [loss, grad_w1, grad_w2], feed_dict=values
            )
            losses.append(loss_val)
            # the same step in NumPy (float64) from the current weights
            pre = xv @ values[w1].astype(np.float64)
            hr = np.maximum(pre, 0)
            d = hr @ values[w2] - yv
            g = 2 * d / N
            np.testing.assert_allclose(loss_val, (d**2).sum(axis=1).mean(), rtol=2e-4)
            np.testing.assert_allclose(grad_w2_val, hr.T @ g, rtol=2e-3, atol=1e-2)
            gh = (g @ values[w2].T) * (pre > 0)
            # A pre-activation within float32 rounding of zero may take either
            # side of the relu; the columns of w1 it feeds are left out.
            clear = (np.abs(pre) > 1e-3).all(axis=0)
            assert clear.sum() > 0.9 * H
            np.testing.assert_allclose(
                grad_w1_val[:, clear], (xv.T @ gh)[:, clear], rtol=2e-3, atol=1e-2
            )
            values[w1] = values[w1] - learning_rate * grad_w1_val
            values[w2] = values[w2] - learning_rate * grad_w2_val
    assert isinstance(losses[0], np.floating | float)
    assert losses[-1] < 0.1 * losses[0]


def _variables_graph(learning_rate=1e-5):
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, 10))
    w1 = tf.Variable(tf.random_normal((D, H)))
    w2 = tf.Variable(tf.random_normal((H, 10)))
    h = tf.maximum(tf.matmul(x, w1), 0)
    y_pred = tf.matmul(h, w2)
    diff = y_pred - y
    loss = tf.reduce_mean(tf.reduce_sum(diff**2, axis=1))
    grad_w1, grad_w2 = tf.gradients(loss, [w1, w2])
    new_w1 = w1.assign(w1 - learning_rate * grad_w1)
    new_w2 = w2.assign(w2 - learning_rate * grad_w2)
    updates = tf.group(new_w1, new_w2)
    return x, y, loss, updates


def test_variables_updated_in_the_graph_with_assign_and_group():
    x, y, loss, updates = _variables_graph()
    xv, yv, _, _ = _data()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = {x: xv, y: yv}
        losses = []
        for _ in range(50):
            loss_val, _ = sess.run([loss, updates], feed_dict=values)
            losses.append(loss_val)
    assert losses[-1] < 0.1 * losses[0]
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))


def test_pitfall_loss_stays_flat_without_the_update():
    x, y, loss, updates = _variables_graph()
    xv, yv, _, _ = _data()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = {x: xv, y: yv}
        flat = [sess.run(loss, feed_dict=values) for _ in range(5)]
        assert flat == [flat[0]] * 5  # nothing changes the weights
        for _ in range(5):
            sess.run([loss, updates], feed_dict=values)
        assert sess.run(loss, feed_dict=values) < flat[0]


def _optimizer_graph(learning_rate):
    """The lecture's network with its loss from tf.losses and the update
    from GradientDescentOptimizer(...).minimize."""
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, 10))
    w1 = tf.Variable(tf.random_normal((D, H)))
    w2 = tf.Variable(tf.random_normal((H, 10)))
    h = tf.maximum(tf.matmul(x, w1), 0)
    y_pred = tf.matmul(h, w2)
    loss = tf.losses.mean_squared_error(y_pred, y)  # a mean over N * 10 elements
    optimizer = tf.train.GradientDescentOptimizer(learning_rate)
    updates = optimizer.minimize(loss)
    return x, y, (w1, w2), y_pred, loss, updates


def _train(x, y, loss, updates, steps):
    xv, yv, _, _ = _data()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = {x: xv, y: yv}
        return [sess.run([loss, updates], feed_dict=values)[0] for _ in range(steps)]


def test_gradient_descent_optimizer_with_mean_squared_error():
    x, y, weights, _, loss, updates = _optimizer_graph(1e-4)
    losses = _train(x, y, loss, updates, 50)
    assert losses[-1] < 0.2 * losses[0]
    assert set(tf.trainable_variables()) == set(weights)


def test_layers_dense_with_xavier_initializer_and_adam():
    x = tf.placeholder(tf.float32, shape=(None, D))
    y = tf.placeholder(tf.float32, shape=(None, 10))
    init = tf.contrib.layers.xavier_initializer()
    h = tf.layers.dense(inputs=x, units=H, activation=tf.nn.relu, kernel_initializer=init)
    y_pred = tf.layers.dense(inputs=h, units=10, kernel_initializer=init)
    loss = tf.losses.mean_squared_error(y_pred, y)
    optimizer = tf.train.AdamOptimizer(1e-2)
    updates = optimizer.minimize(loss)
    xv, yv, _, _ = _data()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = {x: xv, y: yv}
        losses = [sess.run([loss, updates], feed_dict=values)[0] for _ in range(50)]
    assert losses[-1] < 0.1 * losses[0]
    kernels = [v for v in tf.trainable_variables() if v.shape.as_list() == [D, H]]
    assert len(kernels) == 1
    # Glorot uniform: |w| <= sqrt(6 / (fan_in + fan_out))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w = sess.run(kernels[0])
    assert np.abs(w).max() <= np.sqrt(6 / (D + H)) + 1e-6
    assert np.abs(w).max() > 0.9 * np.sqrt(6 / (D + H))


def test_device_scope_cpu():
    with tf.device("/cpu:0"):
        x, y, _, y_pred, loss, updates = _optimizer_graph(1e-4)
    assert "cpu" in y_pred.device.lower()
    losses = _train(x, y, loss, updates, 20)
    assert losses[-1] < losses[0]


def test_training_loop_allocates_nothing_new_and_fetches_nothing():
    x, y, loss, updates = _variables_graph()
    xv, yv, _, _ = _data()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = {x: xv, y: yv}
        sess.run(updates, feed_dict=values)
        before = devrt.memory_stats("cpu")
        for _ in range(100):
            assert sess.run(updates, feed_dict=values) is None
        after = devrt.memory_stats("cpu")
    fresh = lambda s: s["allocations"] - s["cache_hits"]  # noqa: E731
    assert fresh(after) == fresh(before)
    assert after["reserved"] == before["reserved"]
