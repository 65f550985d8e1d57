"""tf.gradients as ordinary nodes: gradients of gradients against PyTorch,
what the graph holds, feeding an intermediate tensor, and a saved training
graph that trains in a process that never built it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import devrt.graph as tf

torch = pytest.importorskip("torch")


def _mlp_inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal((4, 1))


def test_gradient_of_gradients_matches_pytorch():
    """A gradient penalty and a Hessian-vector product on a small MLP."""
    xv, w1v, w2v = _mlp_inputs()
    v = np.linspace(-1, 1, 15).reshape(5, 3)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float64, [None, 3])
        w1, w2 = tf.Variable(w1v), tf.Variable(w2v)
        d = tf.matmul(tf.tanh(tf.matmul(x, w1)), w2)
        (gx,) = tf.gradients(tf.reduce_sum(d), x)
        penalty = tf.reduce_mean(tf.square(tf.sqrt(tf.reduce_sum(gx * gx, axis=1)) - 1.0))
        gw1, gw2 = tf.gradients(penalty, [w1, w2])
        (hv,) = tf.gradients(tf.reduce_sum(gx * v), x)
        types = {op.type for op in g.get_operations()}
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got = sess.run([gx, penalty, gw1, gw2, hv], {x: xv})

    xt = torch.tensor(xv, requires_grad=True)
    w1t = torch.tensor(w1v, requires_grad=True)
    w2t = torch.tensor(w2v, requires_grad=True)
    dt = torch.tanh(xt @ w1t) @ w2t
    (gxt,) = torch.autograd.grad(dt.sum(), xt, create_graph=True)
    pt = ((gxt.pow(2).sum(1).sqrt() - 1) ** 2).mean()
    gw1t, gw2t = torch.autograd.grad(pt, [w1t, w2t], retain_graph=True)
    (hvt,) = torch.autograd.grad((gxt * torch.tensor(v)).sum(), xt)
    for a, b in zip(got, [gxt, pt, gw1t, gw2t, hvt]):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-12)
    # Only ordinary ops: no node that replays a tape.
    assert types <= {
        "Placeholder", "Const", "Variable", "Assign", "NoOp", "MatMul", "Tanh", "Sum",
        "Mul", "Square", "Sqrt", "Sub", "Mean", "VJP", "Add", "OnesLike", "Identity",
    }  # fmt: skip


def test_gradient_nodes_are_named_under_the_scope():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 2], name="x")
        y = tf.reduce_sum(tf.exp(x, name="e"), name="y")
        (gx,) = tf.gradients(y, x)
        (gx2,) = tf.gradients(y, x)
    assert gx.op.type == "VJP" and gx.op.name == "gradients/e_grad"
    assert gx2.op.name.startswith("gradients_1/")
    assert gx.shape.as_list() == [None, 2] and gx.dtype == tf.float32


def test_feeding_an_intermediate_keeps_the_path_upstream():
    """h = x @ w1 is fed: d(sum((h @ w2)^2)) / dw1 is computed with the fed h
    downstream and the computed x upstream, as TensorFlow does."""
    xv, w1v, w2v = _mlp_inputs()
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float64, [None, 3])
        w1, w2 = tf.Variable(w1v), tf.Variable(w2v)
        h = tf.matmul(x, w1)
        loss = tf.reduce_sum(tf.square(tf.matmul(h, w2)))
        gw1, gw2 = tf.gradients(loss, [w1, w2])
        hv = np.full((5, 4), 0.5)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got1, got2 = sess.run([gw1, gw2], {x: xv, h: hv})
    dh = 2 * (hv @ w2v) @ w2v.T  # d loss / d h at the fed value
    np.testing.assert_allclose(got1, xv.T @ dh, rtol=1e-12)
    np.testing.assert_allclose(got2, hv.T @ (2 * (hv @ w2v)), rtol=1e-12)


def test_a_saved_training_graph_trains_without_the_code_that_built_it(tmp_path):
    path = tmp_path / "train.dgraph"
    build = f"""
        import numpy as np
        import devrt.graph as tf
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        t = tf.placeholder(tf.float32, [None, 1], name="t")
        w = tf.Variable(np.full((3, 1), 0.1, np.float32), name="w")
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - t), name="loss")
        train = tf.train.AdamOptimizer(0.1).minimize(loss, name="train")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.save_graph({str(path)!r}, sess)
    """
    # The loading process knows only the file and the names of its nodes.
    train = f"""
        import numpy as np
        import devrt.graph as tf
        saver = tf.load_graph({str(path)!r})
        g = tf.get_default_graph()
        assert not any(op.type == "Gradients" for op in g.get_operations())
        rng = np.random.default_rng(0)
        xs = rng.standard_normal((32, 3)).astype(np.float32)
        ts = xs @ np.array([[1.0], [-2.0], [0.5]], np.float32)
        feeds = {{"x:0": xs, "t:0": ts}}
        with tf.Session() as sess:
            saver.restore(sess)
            first = sess.run("loss:0", feeds)
            for _ in range(200):
                sess.run("train", feeds)
            print(first, sess.run("loss:0", feeds))
    """
    for code in (build, train):
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    first, last = map(float, proc.stdout.split())
    assert last < first * 0.01, (first, last)
