"""tf.cond on Switch and Merge nodes: only the branch taken runs, its
variable updates included; gradients flow through the branch taken,
checked against the same math in PyTorch; and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import devrt.graph as tf


def test_only_the_branch_taken_runs():
    g = tf.Graph()
    with g.as_default():
        flag = tf.placeholder(tf.bool, [])
        x = tf.placeholder(tf.float32, [None])
        counter_t = tf.Variable(0.0)
        counter_f = tf.Variable(0.0)

        def if_true():
            with tf.control_dependencies([tf.assign_add(counter_t, 1.0)]):
                return tf.identity(x * 2.0), tf.constant(1)

        def if_false():
            with tf.control_dependencies([tf.assign_add(counter_f, 1.0)]):
                return tf.identity(-x), tf.constant(0)

        y, which = tf.cond(flag, if_true, if_false)
        assert y.shape.as_list() == [None] and which.dtype == tf.int32
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            assert sess.run([y, which], {flag: True, x: [1.0, 2.0]})[0].tolist() == [2.0, 4.0]
            assert sess.run(y, {flag: False, x: [1.0, 2.0]}).tolist() == [-1.0, -2.0]
            assert sess.run(y, {flag: False, x: [3.0]}).tolist() == [-3.0]
            assert sess.run([counter_t, counter_f]) == [1.0, 2.0]


def test_a_branch_of_constants_runs_only_when_taken():
    g = tf.Graph()
    with g.as_default():
        flag = tf.placeholder(tf.bool, [])
        y = tf.cond(flag, lambda: tf.constant([1.0, 2.0]) * 3.0, lambda: tf.zeros([2]))
        with tf.Session() as sess:
            assert sess.run(y, {flag: True}).tolist() == [3.0, 6.0]
            assert sess.run(y, {flag: False}).tolist() == [0.0, 0.0]


def test_gradients_flow_through_the_branch_taken():
    torch = pytest.importorskip("torch")
    wv = np.array([[0.5, -1.0], [2.0, 0.3]])
    xv = np.array([[1.0, 2.0], [-0.5, 0.7], [0.1, 0.2]])
    g = tf.Graph()
    with g.as_default():
        flag = tf.placeholder(tf.bool, [])
        x = tf.placeholder(tf.float64, [None, 2])
        w = tf.Variable(wv)
        h = tf.matmul(x, w)
        y = tf.cond(flag, lambda: tf.tanh(h) * w[0], lambda: tf.exp(h) + x)
        loss = tf.reduce_sum(y * y)
        gw, gx = tf.gradients(loss, [w, x])
        (ggx,) = tf.gradients(tf.reduce_sum(gx * gx), x)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got = {f: sess.run([loss, gw, gx, ggx], {flag: f, x: xv}) for f in (True, False)}
    for f in (True, False):
        wt = torch.tensor(wv, requires_grad=True)
        xt = torch.tensor(xv, requires_grad=True)
        ht = xt @ wt
        yt = torch.tanh(ht) * wt[0] if f else torch.exp(ht) + xt
        lt = (yt * yt).sum()
        gwt, gxt = torch.autograd.grad(lt, [wt, xt], create_graph=True)
        (ggxt,) = torch.autograd.grad((gxt * gxt).sum(), xt)
        for a, b in zip(got[f], [lt, gwt, gxt, ggxt]):
            np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10)


def test_training_through_a_cond():
    """Batch-norm-style: a training flag picks the batch statistics or
    constants, and an optimizer trains through it."""
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((64, 3)).astype(np.float32)
    ts = (xs @ np.array([[1.0], [-1.0], [2.0]], np.float32)).astype(np.float32)
    g = tf.Graph()
    with g.as_default():
        training = tf.placeholder_with_default(False, [])
        x = tf.placeholder(tf.float32, [None, 3])
        t = tf.placeholder(tf.float32, [None, 1])
        w = tf.Variable(np.zeros((3, 1), np.float32))
        mean = tf.cond(training, lambda: tf.reduce_mean(x, 0), lambda: tf.zeros([3]))
        loss = tf.reduce_mean(tf.square(tf.matmul(x - mean, w) - t))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            first = sess.run(loss, {x: xs, t: ts, training: True})
            for _ in range(100):
                sess.run(train, {x: xs, t: ts, training: True})
            assert sess.run(loss, {x: xs, t: ts, training: True}) < first * 0.05


def test_cond_errors():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [2])
        with pytest.raises(TypeError, match=r"^\[cond\] the predicate must be a bool"):
            tf.cond(x[0], lambda: x, lambda: x)
        with pytest.raises(ValueError, match=r"^\[cond\] the predicate must be a scalar"):
            tf.cond(x > 0, lambda: x, lambda: x)
        flag = tf.placeholder(tf.bool, [])
        with pytest.raises(TypeError, match=r"^\[cond\] true_fn and false_fn must be callable"):
            tf.cond(flag, x, lambda: x)
        with pytest.raises(TypeError, match=r"^\[cond\] the branches return float32 and int32"):
            tf.cond(flag, lambda: x, lambda: tf.constant([1, 2]))
        with pytest.raises(ValueError, match=r"^\[cond\] true_fn and false_fn return different"):
            tf.cond(flag, lambda: (x, x), lambda: x)
        unknown = tf.placeholder(tf.bool)
        y = tf.cond(unknown, lambda: x, lambda: -x)
        with tf.Session() as sess:
            with pytest.raises(
                ValueError, match=r"the predicate must be a scalar, got shape \(2,\)"
            ):
                sess.run(y, {unknown: [True, False], x: [1.0, 2.0]})


def test_fetching_a_value_of_the_branch_not_taken_is_an_error():
    g = tf.Graph()
    with g.as_default():
        flag = tf.placeholder(tf.bool, [])
        x = tf.placeholder(tf.float32, [])
        inner = []

        def if_true():
            inner.append(x * 5.0)
            return inner[0]

        y = tf.cond(flag, if_true, lambda: x)
        with tf.Session() as sess:
            assert sess.run([y, inner[0]], {flag: True, x: 1.0}) == [5.0, 5.0]
            with pytest.raises(ValueError, match=r"^\[Session.run\] fetch .* was not computed"):
                sess.run(inner[0], {flag: False, x: 1.0})
