"""tf.while_loop: values against Python loops of the same math, gradients
against PyTorch autograd of the unrolled computation and finite
differences, nesting with itself and with tf.cond, trip counts fed at run
time, training through a loop, graph files, and the errors."""

from __future__ import annotations

import collections
import os

import numpy as np
import pytest

import devrt.graph as tf


def _numeric_grad(f, x, eps=1e-6):
    """Central differences of the scalar f at x (float64)."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


def test_values_against_a_python_loop():
    g = tf.Graph()
    with g.as_default():
        n = tf.placeholder(tf.int32, [])
        x = tf.placeholder(tf.float64, [3])
        i, y = tf.while_loop(lambda i, y: i < n, lambda i, y: (i + 1, y * x + 1.0), [0, x])
        assert i.dtype == tf.int32 and y.shape.as_list() == [3]
        with tf.Session() as sess:
            xv = np.array([0.5, -1.5, 2.0])
            for trips in (0, 1, 4, 7):
                got_i, got_y = sess.run([i, y], {n: trips, x: xv})
                want = xv.copy()
                for _ in range(trips):
                    want = want * xv + 1.0
                assert got_i == trips
                np.testing.assert_allclose(got_y, want, rtol=1e-12)


def test_the_trip_count_follows_the_data():
    """A Collatz-style loop: the number of iterations depends on the fed
    value, not on anything known when the graph is built."""
    g = tf.Graph()
    with g.as_default():
        start = tf.placeholder(tf.int64, [])

        def body(v, steps):
            odd = tf.equal(tf.floormod(v, 2), 1)
            return tf.where(odd, 3 * v + 1, tf.floordiv(v, 2)), steps + 1

        _, steps = tf.while_loop(lambda v, s: v > 1, body, (start, tf.constant(0)))
        with tf.Session() as sess:
            for s0 in (1, 6, 7, 27):
                v, want = s0, 0
                while v > 1:
                    v = 3 * v + 1 if v % 2 else v // 2
                    want += 1
                assert sess.run(steps, {start: s0}) == want


def test_gradients_against_torch_unrolled_and_finite_differences():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    wv = rng.standard_normal((3, 3)) * 0.5
    hv = rng.standard_normal((2, 3))
    g = tf.Graph()
    with g.as_default():
        n = tf.placeholder(tf.int32, [])
        h0 = tf.placeholder(tf.float64, [2, 3])
        w = tf.Variable(wv)

        def body(i, h):
            return i + 1, tf.tanh(tf.matmul(h, w)) + 0.1 * h

        _, h = tf.while_loop(lambda i, h: i < n, body, [tf.constant(0), h0])
        loss = tf.reduce_sum(h * h)
        gw, gh = tf.gradients(loss, [w, h0])
        (ggh,) = tf.gradients(tf.reduce_sum(gh * gh), h0)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for trips in (0, 1, 3):
                got = sess.run([loss, gw, gh, ggh], {n: trips, h0: hv})
                wt = torch.tensor(wv, requires_grad=True)
                ht0 = torch.tensor(hv, requires_grad=True)
                ht = ht0
                for _ in range(trips):
                    ht = torch.tanh(ht @ wt) + 0.1 * ht
                lt = (ht * ht).sum()
                gwt, ght = torch.autograd.grad(lt, [wt, ht0], create_graph=True, allow_unused=True)
                if gwt is None:  # no trips: the loss does not read w
                    gwt = torch.zeros_like(wt)
                (ggt,) = torch.autograd.grad((ght * ght).sum(), ht0)
                for a, b in zip(got, [lt, gwt, ght, ggt]):
                    np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-12)

            def loss_at(h):
                return sess.run(loss, {n: 3, h0: h})

            np.testing.assert_allclose(
                sess.run(gh, {n: 3, h0: hv}), _numeric_grad(loss_at, hv), rtol=1e-6, atol=1e-8
            )


def test_maximum_iterations_and_a_captured_placeholder():
    g = tf.Graph()
    with g.as_default():
        limit = tf.placeholder(tf.int32, [])
        scale = tf.placeholder(tf.float64, [])
        x = tf.placeholder(tf.float64, [2])
        # cond never turns false: maximum_iterations stops the loop.
        y = tf.while_loop(lambda v: True, lambda v: v * scale, [x], maximum_iterations=limit)
        (gs,) = tf.gradients(tf.reduce_sum(y), scale)
        # a constant maximum stops before cond does.
        z = tf.while_loop(
            lambda v: v < 100.0, lambda v: v + 1.0, [tf.constant(0.0)], maximum_iterations=5
        )
        with tf.Session() as sess:
            got_y, got_g = sess.run([y, gs], {limit: 4, scale: 1.5, x: [1.0, 2.0]})
            np.testing.assert_allclose(got_y, np.array([1.0, 2.0]) * 1.5**4)
            np.testing.assert_allclose(got_g, 3.0 * 4 * 1.5**3)
            assert sess.run(z) == 5.0


def test_nested_loops_and_conds_inside_and_around():
    torch = pytest.importorskip("torch")
    xv = np.array([1.5, 0.5])
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float64, [2])
        flag = tf.placeholder(tf.bool, [])

        def outer_body(i, acc):
            _, inner = tf.while_loop(
                lambda j, a: j < i, lambda j, a: (j + 1, a * x), [tf.constant(0), acc]
            )
            acc = tf.cond(tf.equal(i % 2, 0), lambda: inner + 1.0, lambda: inner - x)
            return i + 1, acc

        _, acc = tf.while_loop(lambda i, a: i < 4, outer_body, (0, tf.ones([2], tf.float64)))
        (gacc,) = tf.gradients(tf.reduce_sum(acc), x)
        # a loop inside a cond branch
        y = tf.cond(
            flag,
            lambda: tf.while_loop(lambda v: tf.reduce_sum(v) < 100.0, lambda v: v * 2.0, [x]),
            lambda: x - 1.0,
        )
        (gy,) = tf.gradients(tf.reduce_sum(y * y), x)
        with tf.Session() as sess:
            got_acc, got_gacc = sess.run([acc, gacc], {x: xv})
            got_t = sess.run([y, gy], {x: xv, flag: True})
            got_f = sess.run([y, gy], {x: xv, flag: False})

    xt = torch.tensor(xv, requires_grad=True)
    at = torch.ones(2, dtype=torch.float64)
    for i in range(4):
        for _ in range(i):
            at = at * xt
        at = at + 1.0 if i % 2 == 0 else at - xt
    (gt,) = torch.autograd.grad(at.sum(), xt)
    np.testing.assert_allclose(got_acc, at.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(got_gacc, gt.numpy(), rtol=1e-12)
    # sum(x) = 2 doubles six times to 128 >= 100
    np.testing.assert_allclose(got_t[0], xv * 64)
    np.testing.assert_allclose(got_t[1], 2 * xv * 64 * 64)
    np.testing.assert_allclose(got_f[0], xv - 1.0)
    np.testing.assert_allclose(got_f[1], 2 * (xv - 1.0))


def test_nested_structures_of_loop_variables():
    Pair = collections.namedtuple("Pair", ["a", "b"])
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [2])

        def body(i, state):
            assert isinstance(state, dict) and isinstance(state["p"], Pair)
            p = state["p"]
            return i + 1, {"p": Pair(p.a + p.b, p.b * 2.0), "s": [state["s"][0] - 1.0]}

        out = tf.while_loop(
            lambda i, state: i < 3,
            body,
            [tf.constant(0), {"p": Pair(x, tf.ones([2])), "s": [tf.constant(10.0)]}],
        )
        assert isinstance(out, list) and isinstance(out[1]["p"], Pair)
        # one loop variable comes back alone, or in its list with return_same_structure
        single = tf.while_loop(lambda v: v < 10.0, lambda v: v + 3.0, [tf.constant(0.0)])
        same = tf.while_loop(
            lambda v: v < 10.0, lambda v: [v + 3.0], [tf.constant(0.0)], return_same_structure=True
        )
        assert isinstance(single, tf.Tensor) and isinstance(same, list)
        # a bare tensor is passed to cond and body as it is
        bare = tf.while_loop(lambda v: v < 10.0, lambda v: v + 4.0, tf.constant(1.0))
        assert isinstance(bare, tf.Tensor)
        with tf.Session() as sess:
            i, state = sess.run(out, {x: [1.0, -1.0]})
            s1, s2 = sess.run([single, same[0]])
            assert sess.run(bare) == 13.0
    a, b = np.array([1.0, -1.0]), np.ones(2)
    for _ in range(3):
        a, b = a + b, b * 2.0
    assert i == 3
    np.testing.assert_allclose(state["p"].a, a)
    np.testing.assert_allclose(state["p"].b, b)
    np.testing.assert_allclose(state["s"][0], 7.0)
    assert s1 == s2 == 12.0


def test_shape_invariants_let_a_shape_grow():
    g = tf.Graph()
    with g.as_default():
        n = tf.placeholder(tf.int32, [])
        _, rows = tf.while_loop(
            lambda i, r: i < n,
            lambda i, r: (i + 1, tf.concat([r, tf.cast(tf.reshape(i, [1, 1]), tf.float32)], 0)),
            [tf.constant(0), tf.zeros([0, 1])],
            shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 1])],
        )
        assert rows.shape.as_list() == [None, 1]
        with tf.Session() as sess:
            assert sess.run(rows, {n: 4}).ravel().tolist() == [0.0, 1.0, 2.0, 3.0]


def test_back_prop_false_stops_gradients():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [])
        y = tf.while_loop(lambda v: v < 10.0, lambda v: v * 2.0, [x], back_prop=False)
        assert tf.gradients(y, x) == [None]


def test_training_an_rnn_written_with_while_loop():
    """An Elman RNN over a time axis whose length is only known when fed,
    the cell's variables made inside the body, trained by gradient
    descent through the loop."""
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((16, 5, 3)).astype(np.float32)
    tv = np.tanh(xv.sum(axis=1) @ rng.standard_normal((3, 4))).astype(np.float32) * 0.5
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(3)
        xs = tf.placeholder(tf.float32, [None, None, 3])
        ts = tf.placeholder(tf.float32, [None, 4])
        cell = tf.nn.rnn_cell.BasicRNNCell(4)
        steps = tf.shape(xs)[1]

        def body(t, h):
            _, h = cell(tf.gather(xs, t, axis=1), h)
            return t + 1, h

        _, h = tf.while_loop(
            lambda t, h: t < tf.cast(steps, tf.int32),
            body,
            [tf.constant(0), cell.zero_state(tf.shape(xs)[0], tf.float32)],
        )
        assert [v.name for v in tf.trainable_variables()] == [
            "basic_rnn_cell/kernel:0",
            "basic_rnn_cell/bias:0",
        ]
        loss = tf.reduce_mean(tf.square(h - ts))
        train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            kernel, bias = sess.run(tf.trainable_variables())
            first = sess.run(loss, {xs: xv, ts: tv})
            for _ in range(60):
                sess.run(train, {xs: xv, ts: tv})
            last = sess.run(loss, {xs: xv, ts: tv})
    # the first loss is the unrolled RNN's, computed with NumPy
    hn = np.zeros((16, 4), np.float32)
    for t in range(5):
        hn = np.tanh(np.concatenate([xv[:, t], hn], 1) @ kernel + bias)
    np.testing.assert_allclose(first, np.mean((hn - tv) ** 2), rtol=1e-5)
    assert last < first * 0.5


def test_a_graph_with_a_loop_saves_and_loads(tmp_path):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float64, [2], name="x")
        w = tf.Variable(np.array([0.5, 2.0]), name="w")
        ta = tf.TensorArray(tf.float64, size=3)
        _, y, ta = tf.while_loop(
            lambda i, v, ta: i < 3,
            lambda i, v, ta: (i + 1, v * w + x, ta.write(i, v)),
            [0, x, ta],
        )
        loss = tf.add(tf.reduce_sum(y * y), tf.reduce_sum(ta.stack()), name="loss")
        (gw,) = tf.gradients(loss, w)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            want = sess.run([loss, gw], {x: [1.0, -1.0]})
            path = os.path.join(tmp_path, "loop.graph")
            tf.save_graph(path, sess)
    g2 = tf.Graph()
    with g2.as_default():
        tf.constant(0.0, name="while")  # the loop's name is taken: it loads as while_1
        saver = tf.load_graph(path)
        assert g2.get_operation_by_name("while_1").type == "While"
        with tf.Session() as sess:
            saver.restore(sess)
            got = sess.run(
                [g2.get_tensor_by_name("loss:0"), g2.get_tensor_by_name(gw.name)],
                {g2.get_tensor_by_name("x:0"): [1.0, -1.0]},
            )
    np.testing.assert_allclose(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1])


def test_errors():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [2])
        with pytest.raises(TypeError, match=r"^\[while_loop\] cond must be callable, got int"):
            tf.while_loop(1, lambda v: v, [x])
        with pytest.raises(TypeError, match=r"^\[while_loop\] body must be callable"):
            tf.while_loop(lambda v: True, None, [x])
        with pytest.raises(ValueError, match=r"^\[while_loop\] no loop variables"):
            tf.while_loop(lambda v: True, lambda v: v, [])
        with pytest.raises(ValueError, match=r"^\[while_loop\] the body returned a structure"):
            tf.while_loop(lambda a, b: True, lambda a, b: (a,), [x, x])
        with pytest.raises(ValueError, match=r"^\[while_loop\] the body returned a structure"):
            tf.while_loop(lambda a, b: True, lambda a, b: (a, [b]), [x, x])
        with pytest.raises(
            TypeError, match=r"enters the loop as float32 but the body returns int32"
        ):
            tf.while_loop(lambda v: True, lambda v: tf.cast(v, tf.int32), [x])
        with pytest.raises(TypeError, match=r"loop variable 0 \(Placeholder:0\) enters the loop"):
            tf.while_loop(lambda v: True, lambda v: tf.cast(v, tf.int32), [x], maximum_iterations=3)
        with pytest.raises(
            ValueError, match=r"with shape \(2,\) but the body returns shape \(4,\)"
        ):
            tf.while_loop(lambda v: True, lambda v: tf.concat([v, v], 0), [x])
        with pytest.raises(
            TypeError, match=r"^\[while_loop\] cond must return a bool, got float32"
        ):
            tf.while_loop(lambda v: tf.reduce_sum(v), lambda v: v, [x])
        with pytest.raises(ValueError, match=r"^\[while_loop\] cond must return a scalar"):
            tf.while_loop(lambda v: v > 0.0, lambda v: v, [x])
        with pytest.raises(ValueError, match=r"^\[while_loop\] the shape invariant \(3,\)"):
            tf.while_loop(lambda v: True, lambda v: v, [x], shape_invariants=[tf.TensorShape([3])])
        with pytest.raises(
            ValueError, match=r"^\[while_loop\] maximum_iterations must be an integer"
        ):
            tf.while_loop(lambda v: True, lambda v: v, [x], maximum_iterations=2.5)
        with pytest.raises(ValueError, match=r"^\[while_loop\] parallel_iterations"):
            tf.while_loop(lambda v: True, lambda v: v, [x], parallel_iterations=0)
        v = tf.Variable(0.0)
        with pytest.raises(
            NotImplementedError, match=r"^\[while_loop\] AssignAdd of .* cannot write"
        ):
            tf.while_loop(lambda i: i < 3, lambda i: [tf.assign_add(v, 1.0), i + 1][1], [0])


def test_a_shape_change_unknown_when_built_fails_when_run():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None])
        n = tf.placeholder(tf.int32, [])
        # the body's result has an unknown size: the invariant (2,) is checked
        # after each iteration
        start = tf.zeros([2])
        _, y = tf.while_loop(lambda i, v: i < n, lambda i, v: (i + 1, v[:1] + x), [0, start])
        with tf.Session() as sess:
            np.testing.assert_allclose(sess.run(y, {n: 2, x: [1.0, 2.0]}), [2.0, 3.0])
            with pytest.raises(
                ValueError,
                match=r"^\[While 'while'\] loop variable 1 has shape \(3,\) after iteration 1",
            ):
                sess.run(y, {n: 2, x: [1.0, 2.0, 3.0]})


def test_the_core_checks_while_nodes():
    """What the core refuses in a While it is given (a graph file, or
    nodes built by hand): the Python front end never builds these."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [2])
        i = tf.constant(0)
        arg_i = g._create_op("Arg", [], {"dtype": tf.int32.as_devrt_dtype, "shape": []}).outputs[0]
        arg_x = g._create_op("Arg", [], {"dtype": tf.float32.as_devrt_dtype, "shape": [2]}).outputs[
            0
        ]
        arg_j = g._create_op("Arg", [], {"dtype": tf.int32.as_devrt_dtype, "shape": []}).outputs[0]
        pred = tf.less(arg_i, 3)
        next_i = arg_i + 1

        def make(inputs, n_vars=2, n_captured=0):
            return g._create_op("While", inputs, {"n_vars": n_vars, "n_captured": n_captured})

        with pytest.raises(ValueError, match=r"^\[While 'While'\] expected n_vars initial values"):
            make([i, x, arg_i, arg_x, pred, next_i])
        with pytest.raises(ValueError, match=r"must be an Arg node of its own, got 'Placeholder'"):
            make([i, x, arg_i, x, pred, next_i, arg_x])
        with pytest.raises(ValueError, match=r"must be an Arg node of its own, got 'Arg'"):
            make([i, x, arg_i, arg_i, pred, next_i, arg_x])
        with pytest.raises(
            TypeError, match=r"loop input 1 is float32 but its Arg 'Arg_2' is int32"
        ):
            make([i, x, arg_i, arg_j, pred, next_i], n_vars=1, n_captured=1)
        with pytest.raises(
            TypeError, match=r"the body returns float32 for loop variable 0 of dtype int32"
        ):
            make([i, x, arg_i, arg_x, pred, arg_x, arg_x])
        with pytest.raises(TypeError, match=r"the predicate must be bool, got int32"):
            make([i, x, arg_i, arg_x, next_i, next_i, arg_x])

        # a loop whose body writes a variable, or returns a value of a
        # branch not taken, fails when run
        v = tf.Variable(0.0)
        write = g._create_op("AssignAdd", [v._variable, tf.cast(arg_x[0], tf.float32)]).outputs[0]
        writes = make([i, x, arg_i, arg_x, pred, next_i, arg_x + write])
        dead = g._create_op("Switch", [arg_x, tf.equal(arg_i, 5)]).outputs[1]
        branch = make([i, x, arg_i, arg_x, pred, next_i, dead])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            with pytest.raises(NotImplementedError, match=r"the loop contains AssignAdd"):
                sess.run(writes.outputs[1], {x: [1.0, 2.0]})
            with pytest.raises(
                ValueError, match=r"^\[While 'While_7'\] a result of the loop body was not computed"
            ):
                sess.run(branch.outputs[1], {x: [1.0, 2.0]})


def test_a_value_of_the_body_is_not_fetched_from_outside():
    g = tf.Graph()
    with g.as_default():
        inside = []

        def body(v):
            inside.append(v * 2.0)
            return inside[-1]

        y = tf.compat.v1.while_loop(lambda v: v < 10.0, body, [tf.constant(1.0)])
        with tf.Session() as sess:
            assert sess.run(y) == 16.0
            with pytest.raises(
                ValueError,
                match=r"^\[Session.run\] the nodes to run read 'while/loop_var', a value inside the body of a while_loop",
            ):
                sess.run(inside[0])


def test_tensor_array_in_a_loop_with_gradients():
    """A running product written to a TensorArray at each step, stacked and
    differentiated, against PyTorch."""
    torch = pytest.importorskip("torch")
    xv = np.array([[0.5, 1.5], [2.0, -1.0], [1.2, 0.3], [-0.7, 0.9]])
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float64, [None, 2])
        steps = tf.shape(x, out_type=tf.int32)[0]
        for element_shape in ([2], None):
            ta = tf.TensorArray(tf.float64, size=steps, element_shape=element_shape)

            def body(t, acc, ta):
                acc = acc * x[0] + tf.gather(x, t)
                return t + 1, acc, ta.write(t, acc)

            _, last, ta = tf.while_loop(
                lambda t, acc, ta: t < steps, body, [0, tf.zeros([2], tf.float64), ta]
            )
            assert isinstance(ta, tf.TensorArray)
            stacked = ta.stack()
            loss = tf.reduce_sum(stacked * stacked) + tf.reduce_sum(ta.read(1))
            (gx,) = tf.gradients(loss, x)
            with tf.Session() as sess:
                got = sess.run([stacked, last, gx, ta.size()], {x: xv})
            xt = torch.tensor(xv, requires_grad=True)
            acc, rows = torch.zeros(2, dtype=torch.float64), []
            for t in range(4):
                acc = acc * xt[0] + xt[t]
                rows.append(acc)
            st = torch.stack(rows)
            (gt,) = torch.autograd.grad((st * st).sum() + st[1].sum(), xt)
            np.testing.assert_allclose(got[0], st.detach().numpy(), rtol=1e-12)
            np.testing.assert_allclose(got[1], rows[-1].detach().numpy(), rtol=1e-12)
            np.testing.assert_allclose(got[2], gt.numpy(), rtol=1e-12)
            assert got[3] == 4


def test_tensor_array_unstack_dynamic_size_and_errors():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [3, 2])
        n = tf.placeholder(tf.int32, [])
        source = tf.TensorArray(tf.float32, size=3).unstack(x)
        grown = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[2])
        _, grown = tf.while_loop(
            lambda i, ta: i < n,
            lambda i, ta: (i + 1, ta.write(i, source.read(i % 3) * tf.cast(i, tf.float32))),
            [0, grown],
        )
        assert grown.flow.shape.as_list() == [None, 2]
        gap = tf.TensorArray(tf.float32, size=0, dynamic_size=True).write(2, tf.ones([2]))
        fixed = tf.TensorArray(tf.float32, size=2).write(n, tf.ones([2]))
        xv = np.arange(6, dtype=np.float32).reshape(3, 2)
        with tf.Session() as sess:
            got = sess.run(grown.stack(), {x: xv, n: 5})
            want = np.stack([xv[i % 3] * i for i in range(5)])
            np.testing.assert_allclose(got, want)
            np.testing.assert_allclose(sess.run(gap.stack()), [[0, 0], [0, 0], [1, 1]])
            with pytest.raises(
                IndexError, match=r"index 2 is out of range for a TensorArray of size 2"
            ):
                sess.run(fixed.stack(), {n: 2})
            with pytest.raises(IndexError, match=r"index -1 is out of range"):
                sess.run(fixed.stack(), {n: -1})
        with pytest.raises(TypeError, match=r"a value of dtype int32 for a TensorArray of dtype"):
            tf.TensorArray(tf.float32, size=2).write(0, tf.constant([1, 2]))
        with pytest.raises(
            ValueError, match=r"a value of shape \(3,\) for a TensorArray of shape \(2, 2\)"
        ):
            tf.TensorArray(tf.float32, size=2, element_shape=[2]).write(0, tf.ones([3]))
        with pytest.raises(TypeError, match=r"the index must be an integer, got float32"):
            tf.TensorArray(tf.float32, size=2).write(tf.constant(0.0), tf.ones([2]))
        with pytest.raises(TypeError, match=r"^\[TensorArray.unstack\] a value of dtype int32"):
            tf.TensorArray(tf.float32, size=2).unstack(tf.constant([1, 2]))
        with pytest.raises(ValueError, match=r"^\[TensorArray\] size must be given"):
            tf.TensorArray(tf.float32)
        with pytest.raises(ValueError, match=r"the size must not be negative, got -1"):
            tf.TensorArray(tf.float32, size=-1, element_shape=[2])
        with pytest.raises(TypeError, match=r"the size must be an integer, got float32"):
            tf.TensorArray(tf.float32, size=tf.constant(2.0))
        fed_size = tf.TensorArray(tf.float32, size=n - 3).stack()
        with tf.Session() as sess:
            assert sess.run(fed_size, {n: 5}).tolist() == [0.0, 0.0]
            with pytest.raises(ValueError, match=r"the size must not be negative, got -2"):
                sess.run(fed_size, {n: 1})
        with pytest.raises(TypeError, match=r"^\[while_loop\] loop variable 0 is a TensorArray"):
            ta = tf.TensorArray(tf.float32, size=2)
            tf.while_loop(lambda ta: True, lambda ta: ta.stack(), [ta])


def test_args_are_placed_with_the_tensors_they_stand_for():
    g = tf.Graph()
    with g.as_default():
        with tf.device("/cpu:0"):
            w = tf.Variable(2.0)
        x = tf.placeholder(tf.float32, [])
        y = tf.while_loop(lambda v: v < 10.0, lambda v: v * w, [x])
        args = {op.name: op.device for op in g.get_operations() if op.type == "Arg"}
        assert args == {"while/loop_var": "", "while/captured": "/cpu:0"}
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            assert sess.run(y, {x: 1.5}) == 12.0
