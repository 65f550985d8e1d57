"""Recurrences on tf.while_loop: tf.nn.dynamic_rnn and
tf.nn.bidirectional_dynamic_rnn over a time dimension unknown when the
graph is built, tf.map_fn, tf.scan, tf.foldl and tf.foldr.

Values and gradients are checked against TensorFlow 2's tf.compat.v1 on
the same weights (where TensorFlow is installed; TF1's cells also need
tf_keras), against devrt's own unrolled graph and against NumPy; one
graph is fed batches of different lengths; a model trained through the
loop lowers its loss, with every tf.train optimizer.
"""

from __future__ import annotations

import collections
import importlib.util
import os

import numpy as np
import pytest

import devrt.graph as dtf

HAS_TF = importlib.util.find_spec("tensorflow") is not None
HAS_TF_KERAS = HAS_TF and importlib.util.find_spec("tf_keras") is not None
if HAS_TF_KERAS:  # TF1's rnn_cell names resolve to tf_keras's cells
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

needs_tf = pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed")
needs_cells = pytest.mark.skipif(not HAS_TF_KERAS, reason="TF1's recurrent cells need tf_keras")


@pytest.fixture(scope="module")
def tf1():
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    v1 = tf.compat.v1
    v1.disable_v2_behavior()
    yield v1
    # TensorFlow's behaviour is process-wide: later tests (Keras 3's
    # reference layers) need TensorFlow 2's back
    v1.enable_v2_behavior()


def run_both(tf, build, feeds, values=None, seed=0):
    """Builds `build(tf)` (a dict: "inputs", a dict of placeholders, and
    "fetches", a list of tensors; gradients of "loss" with respect to the
    trainable variables and to "wrt" are appended), gives the trainable
    variables `values` (random ones, from `seed`, when None) and returns
    ([fetched values per feed], variable values)."""
    g = tf.Graph()
    with g.as_default():
        model = build(tf)
        variables = tf.trainable_variables()
        fetches = list(model["fetches"])
        if "loss" in model:
            wrt = variables + list(model.get("wrt", []))
            fetches += tf.gradients(model["loss"], wrt)
        init = tf.global_variables_initializer()
    with tf.Session(graph=g) as sess:
        sess.run(init)
        if values is None:
            rng = np.random.default_rng(seed)
            values = [
                (0.5 * rng.standard_normal(v.get_shape().as_list())).astype(np.float32)
                for v in variables
            ]
        for var, value in zip(variables, values):
            var.load(value, sess)
        results = [
            sess.run(fetches, {model["inputs"][k]: v for k, v in feed.items()}) for feed in feeds
        ]
    return results, values, [v.name for v in variables]


def assert_same(ours, theirs, rtol=1e-4):
    for step, (a, b) in enumerate(zip(ours, theirs)):
        assert len(a) == len(b)
        for k, (x, y) in enumerate(zip(a, b)):
            np.testing.assert_allclose(
                x, y, rtol=rtol, atol=rtol, err_msg=f"feed {step}, fetch {k}"
            )


def compare_with_tf(tf1, build, feeds, rtol=1e-4):
    theirs, values, their_names = run_both(tf1, build, feeds)
    ours, _, our_names = run_both(dtf, build, feeds, values)
    assert our_names == their_names
    assert_same(ours, theirs, rtol)
    return ours


CELLS = {
    "BasicRNNCell": lambda tf: tf.nn.rnn_cell.BasicRNNCell(5),
    "BasicLSTMCell": lambda tf: tf.nn.rnn_cell.BasicLSTMCell(5, forget_bias=1.0),
    "LSTMCell": lambda tf: tf.nn.rnn_cell.LSTMCell(5, use_peepholes=True, num_proj=4),
    "GRUCell": lambda tf: tf.nn.rnn_cell.GRUCell(5),
    "MultiRNNCell": lambda tf: tf.nn.rnn_cell.MultiRNNCell(
        [tf.nn.rnn_cell.BasicLSTMCell(5), tf.nn.rnn_cell.GRUCell(4)]
    ),
}


def _flat(state):
    if isinstance(state, (tuple, list)):
        return [t for s in state for t in _flat(s)]
    return [state]


def _map_state(fn, state):
    if isinstance(state, tuple):
        items = [_map_state(fn, s) for s in state]
        return type(state)(*items) if hasattr(state, "_fields") else tuple(items)
    return fn(state)


def rnn_over_unknown_time(cell_name, time_major, with_lengths, with_initial_state):
    def build(tf):
        shape = [None, None, 3]
        x = tf.placeholder(tf.float32, shape)
        lengths = tf.placeholder(tf.int32, [None])
        cell = CELLS[cell_name](tf)
        inputs = {"x": x}
        kwargs = {"dtype": tf.float32}
        if with_lengths:
            kwargs["sequence_length"] = lengths
            inputs["lengths"] = lengths
        if with_initial_state:
            batch = tf.shape(x)[1 if time_major else 0]
            zero = cell.zero_state(batch, tf.float32)
            kwargs["initial_state"] = _map_state(lambda z: z + 0.5, zero)
        outputs, state = tf.nn.dynamic_rnn(cell, x, time_major=time_major, **kwargs)
        loss = tf.reduce_sum(tf.sin(outputs)) + sum(tf.reduce_sum(s * s) for s in _flat(state))
        return {
            "inputs": inputs,
            "fetches": [outputs, *_flat(state)],
            "loss": loss,
            "wrt": [x],
        }

    return build


def rnn_feeds(time_major, lengths_for):
    rng = np.random.default_rng(5)
    feeds = []
    for steps in (4, 7, 1):  # one graph, batches of different lengths
        x = rng.standard_normal((3, steps, 3)).astype(np.float32)
        if time_major:
            x = x.transpose(1, 0, 2).copy()
        feed = {"x": x}
        if lengths_for:
            feed["lengths"] = np.minimum(np.array([steps, max(steps - 2, 0), 1]), steps)
        feeds.append(feed)
    return feeds


@needs_cells
@pytest.mark.parametrize("cell_name", list(CELLS))
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "sequence_length"])
def test_dynamic_rnn_over_an_unknown_time_dimension_matches_tensorflow(
    tf1, cell_name, with_lengths
):
    build = rnn_over_unknown_time(cell_name, False, with_lengths, False)
    ours = compare_with_tf(tf1, build, rnn_feeds(False, with_lengths))
    assert [r[0].shape[1] for r in ours] == [4, 7, 1]


@needs_cells
@pytest.mark.parametrize("cell_name", ["BasicRNNCell", "BasicLSTMCell"])
def test_time_major_and_initial_state_match_tensorflow(tf1, cell_name):
    build = rnn_over_unknown_time(cell_name, True, True, True)
    compare_with_tf(tf1, build, rnn_feeds(True, True))


@needs_cells
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "sequence_length"])
@pytest.mark.parametrize("time_major", [False, True], ids=["batch_major", "time_major"])
def test_bidirectional_dynamic_rnn_over_an_unknown_time_dimension_matches_tensorflow(
    tf1, with_lengths, time_major
):
    def build(tf):
        x = tf.placeholder(tf.float32, [None, None, 3])
        lengths = tf.placeholder(tf.int32, [None])
        inputs = {"x": x}
        kwargs = {}
        if with_lengths:
            kwargs["sequence_length"] = lengths
            inputs["lengths"] = lengths
        (out_fw, out_bw), (state_fw, state_bw) = tf.nn.bidirectional_dynamic_rnn(
            tf.nn.rnn_cell.GRUCell(4),
            tf.nn.rnn_cell.BasicLSTMCell(3),
            x,
            dtype=tf.float32,
            time_major=time_major,
            swap_memory=True,
            parallel_iterations=4,
            **kwargs,
        )
        flat = [out_fw, out_bw, state_fw, *state_bw]
        loss = sum(tf.reduce_sum(tf.cos(t)) for t in flat)
        return {"inputs": inputs, "fetches": flat, "loss": loss, "wrt": [x]}

    compare_with_tf(tf1, build, rnn_feeds(time_major, with_lengths))


@pytest.mark.parametrize("cell_name", list(CELLS))
def test_the_loop_gives_the_unrolled_graphs_values_and_gradients(cell_name):
    """The same cell and weights over [None, None, 3] (a while_loop) and
    over [None, 6, 3] (unrolled) inputs, with sequence lengths."""
    rng = np.random.default_rng(2)
    xv = rng.standard_normal((3, 6, 3)).astype(np.float32)
    lv = np.array([6, 3, 0], np.int32)
    results = []
    for steps in (None, 6):
        g = dtf.Graph()
        with g.as_default():
            x = dtf.placeholder(dtf.float32, [None, steps, 3])
            lengths = dtf.placeholder(dtf.int32, [None])
            out, state = dtf.nn.dynamic_rnn(
                CELLS[cell_name](dtf), x, sequence_length=lengths, dtype=dtf.float32
            )
            assert out.shape.as_list() == [None, steps, out.shape[-1]]
            loss = dtf.reduce_sum(out * out) + sum(dtf.reduce_sum(dtf.exp(s)) for s in _flat(state))
            variables = dtf.trainable_variables()
            grads = dtf.gradients(loss, variables + [x])
            with dtf.Session() as sess:
                sess.run(dtf.global_variables_initializer())
                if steps is None:
                    values = sess.run(variables)
                for var, value in zip(variables, values):
                    var.load(value, sess)
                results.append(sess.run([out, *_flat(state), *grads], {x: xv, lengths: lv}))
    looped, unrolled = results
    assert len(looped) == len(unrolled)
    for a, b in zip(looped, unrolled):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # past each sequence's end the outputs are zeros
    assert not looped[0][1, 3:].any() and not looped[0][2].any()


def test_reverse_sequence_over_an_unknown_sequence_axis_matches_numpy():
    rng = np.random.default_rng(6)
    xv = rng.standard_normal((3, 5, 2)).astype(np.float32)
    lv = np.array([5, 2, 0], np.int64)
    expected = xv.copy()
    for b, n in enumerate(lv):
        expected[b, :n] = xv[b, :n][::-1]
    g = dtf.Graph()
    with g.as_default():
        x = dtf.placeholder(dtf.float32, [None, None, 2])
        lengths = dtf.placeholder(dtf.int64, [None])
        y = dtf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0)
        yt = dtf.reverse_sequence(dtf.transpose(x, [1, 0, 2]), lengths, seq_axis=0, batch_axis=1)
        with dtf.Session() as sess:
            got, got_t = sess.run([y, yt], {x: xv, lengths: lv})
            short = sess.run(y, {x: xv[:, :3], lengths: [3, 1, 2]})
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got_t, expected.transpose(1, 0, 2))
    np.testing.assert_array_equal(short, np.stack([xv[0, 2::-1], xv[1, :3], xv[2, [1, 0, 2]]]))


def test_zero_time_steps_give_empty_outputs_and_the_initial_state():
    g = dtf.Graph()
    with g.as_default():
        x = dtf.placeholder(dtf.float32, [None, None, 2])
        h0 = dtf.placeholder(dtf.float32, [None, 3])
        out, state = dtf.nn.dynamic_rnn(dtf.nn.rnn_cell.BasicRNNCell(3), x, initial_state=h0)
        with dtf.Session() as sess:
            sess.run(dtf.global_variables_initializer())
            h0v = np.arange(6, dtype=np.float32).reshape(2, 3)
            o, h = sess.run([out, state], {x: np.zeros((2, 0, 2), np.float32), h0: h0v})
    assert o.shape == (2, 0, 3)
    np.testing.assert_array_equal(h, h0v)


def test_a_loop_over_a_shorter_batch_keeps_the_shapes_the_graph_knows():
    g = dtf.Graph()
    with g.as_default():
        x = dtf.placeholder(dtf.float32, [None, None, 3])
        out, state = dtf.nn.dynamic_rnn(dtf.nn.rnn_cell.GRUCell(4), x, dtype=dtf.float32)
        assert out.shape.as_list() == [None, None, 4]
        assert state.shape.as_list() == [None, 4]
        xt = dtf.placeholder(dtf.float32, [None, 2, 3])
        out_tm, _ = dtf.nn.dynamic_rnn(
            dtf.nn.rnn_cell.GRUCell(4), xt, dtype=dtf.float32, time_major=True, scope="tm"
        )
        assert out_tm.shape.as_list() == [None, 2, 4]
        # a layer reading the last dimension builds on the loop's outputs
        logits = dtf.layers.dense(out[:, -1], 2)
        assert logits.shape.as_list() == [None, 2]


OPTIMIZERS = {
    "GradientDescent": lambda tf: tf.train.GradientDescentOptimizer(0.1),
    "Momentum": lambda tf: tf.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True),
    "Adam": lambda tf: tf.train.AdamOptimizer(0.01),
    "Adagrad": lambda tf: tf.train.AdagradOptimizer(0.1),
    "Adadelta": lambda tf: tf.train.AdadeltaOptimizer(1.0),
    "RMSProp": lambda tf: tf.train.RMSPropOptimizer(0.01, momentum=0.5, centered=True),
}


def sequence_model(tf, optimizer, cell_name="BasicLSTMCell"):
    x = tf.placeholder(tf.float32, [None, None, 3])
    lengths = tf.placeholder(tf.int32, [None])
    y = tf.placeholder(tf.float32, [None, 2])
    cell = CELLS[cell_name](tf)
    _, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)
    h = state.h if hasattr(state, "h") else state
    w = tf.Variable(tf.zeros([h.get_shape().as_list()[-1], 2]))
    pred = tf.matmul(h, w)
    loss = tf.reduce_mean(tf.square(pred - y))
    train = OPTIMIZERS[optimizer](tf).minimize(loss)
    return {"inputs": {"x": x, "lengths": lengths, "y": y}, "loss": loss, "train": train}


def sequence_batches(count, seed=4):
    """Batches of different lengths, each sequence of its own length: the
    target is the sum of its steps' first two features."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        steps = 3 + k % 4
        x = rng.standard_normal((8, steps, 3)).astype(np.float32)
        lengths = rng.integers(1, steps + 1, 8).astype(np.int32)
        mask = np.arange(steps)[None, :] < lengths[:, None]
        y = np.tanh((x[:, :, :2] * mask[:, :, None]).sum(axis=1) * 0.5).astype(np.float32)
        out.append({"x": x, "lengths": lengths, "y": y})
    return out


def train_steps(tf, build, values, batches):
    g = tf.Graph()
    with g.as_default():
        model = build(tf)
        variables = tf.trainable_variables()
        init = tf.global_variables_initializer()
    losses = []
    with tf.Session(graph=g) as sess:
        sess.run(init)
        for var, value in zip(variables, values):
            var.load(value, sess)
        for batch in batches:
            feed = {model["inputs"][k]: v for k, v in batch.items()}
            losses.append(sess.run([model["loss"], model["train"]], feed)[0])
        final = sess.run(variables)
    return losses, final


@needs_cells
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_every_optimizer_trains_through_the_loop_as_in_tensorflow(tf1, optimizer):
    def build(tf):
        return sequence_model(tf, optimizer)

    g = tf1.Graph()
    with g.as_default():
        build(tf1)
        shapes = [v.get_shape().as_list() for v in tf1.trainable_variables()]
    rng = np.random.default_rng(1)
    values = [(0.4 * rng.standard_normal(s)).astype(np.float32) for s in shapes]
    batches = sequence_batches(4)
    ours, our_final = train_steps(dtf, build, values, batches)
    theirs, their_final = train_steps(tf1, build, values, batches)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    for a, b in zip(our_final, their_final):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_model_trained_over_an_unknown_time_dimension_lowers_its_loss():
    batches = sequence_batches(12, seed=7)
    g = dtf.Graph()
    with g.as_default():
        dtf.set_random_seed(1)
        model = sequence_model(dtf, "Adam", "GRUCell")
        with dtf.Session() as sess:
            sess.run(dtf.global_variables_initializer())

            def mean_loss():
                return np.mean(
                    [
                        sess.run(model["loss"], {model["inputs"][k]: v for k, v in b.items()})
                        for b in batches
                    ]
                )

            first = mean_loss()
            for _ in range(25):
                for b in batches:
                    sess.run(model["train"], {model["inputs"][k]: v for k, v in b.items()})
            last = mean_loss()
    assert last < 0.5 * first, (first, last)


def test_dynamic_rnn_errors():
    g = dtf.Graph()
    with g.as_default():
        cell = dtf.nn.rnn_cell.BasicRNNCell(3)
        x4 = dtf.placeholder(dtf.float32, [None, None, 2, 2])
        with pytest.raises(ValueError, match=r"^\[dynamic_rnn\] inputs over a time dimension"):
            dtf.nn.dynamic_rnn(cell, x4, dtype=dtf.float32)
        x = dtf.placeholder(dtf.float32, [None, None, 2])
        with pytest.raises(ValueError, match=r"^\[dynamic_rnn\] If there is no initial_state"):
            dtf.nn.dynamic_rnn(cell, x)
        with pytest.raises(TypeError, match=r"^\[dynamic_rnn\] sequence_length must be integers"):
            dtf.nn.dynamic_rnn(cell, x, sequence_length=[1.5], dtype=dtf.float32)
        x0 = dtf.placeholder(dtf.float32, [None, 0, 2])
        with pytest.raises(ValueError, match=r"^\[dynamic_rnn\] the time dimension .* is 0"):
            dtf.nn.dynamic_rnn(cell, x0, dtype=dtf.float32)

        class PairCell(dtf.nn.rnn_cell.BasicRNNCell):
            @property
            def output_size(self):
                return (3, 3)

        with pytest.raises(NotImplementedError, match=r"^\[dynamic_rnn\] a cell with a nested"):
            dtf.nn.dynamic_rnn(PairCell(3), x, dtype=dtf.float32, scope="pair")
        lengths = dtf.placeholder(dtf.int32, [None])
        out, _ = dtf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=dtf.float32, scope="ok")
        with dtf.Session() as sess:
            sess.run(dtf.global_variables_initializer())
            # sequence lengths for another batch size fail in the loop, naming it
            with pytest.raises(ValueError, match=r"^\[While 'ok/while'\] .*shapes \[3, 1\] and"):
                sess.run(out, {x: np.zeros((2, 3, 2), np.float32), lengths: [1, 2, 3]})


# --- map_fn, scan, foldl, foldr ------------------------------------------------------


def functional_case(name):
    """(build(tf) -> fetches and the tensors differentiated, the feeds)."""

    def build(tf):
        x = tf.placeholder(tf.float32, [None, 3])
        v = tf.placeholder(tf.float32, [None])
        w = tf.Variable(np.linspace(-1, 1, 9, dtype=np.float32).reshape(3, 3))
        if name == "map_fn":
            out = tf.map_fn(lambda r: tf.tanh(tf.reshape(r, [1, 3]) @ w)[0], x)
        elif name == "map_fn_nested":
            out = tf.map_fn(
                lambda p: (p[0] * p[1]["a"], tf.reduce_sum(p[0] * p[0])),
                (x, {"a": tf.sin(x)}),
                dtype=(tf.float32, tf.float32),
            )
        elif name == "map_fn_dtype":
            out = tf.map_fn(lambda r: tf.cast(r > 0, tf.int32), v, dtype=tf.int32)
            out = tf.cast(out, tf.float32) * v
        elif name == "scan":
            out = tf.scan(lambda a, r: a * 0.5 + tf.sin(r), x)
        elif name == "scan_initializer":
            out = tf.scan(
                lambda a, r: (a[0] + r, a[1] * r[0]),
                x,
                initializer=(tf.zeros([3]), tf.constant(1.0)),
            )
        elif name == "scan_reverse":
            out = tf.scan(lambda a, r: tf.tanh(a + (tf.reshape(r, [1, 3]) @ w)[0]), x, reverse=True)
        elif name == "scan_reverse_initializer":
            out = tf.scan(lambda a, e: a * e + 1.0, v, initializer=tf.constant(0.5), reverse=True)
        elif name == "foldl":
            out = tf.foldl(lambda a, r: a * 0.9 + tf.reduce_sum(r * r), x, initializer=0.0)
        elif name == "foldl_no_initializer":
            out = tf.foldl(lambda a, r: tf.tanh(tf.reshape(a, [1, 3]) @ w)[0] + r, x)
        elif name == "foldr":
            out = tf.foldr(lambda a, e: a * 0.5 + e, v)
        elif name == "foldr_nested":
            out = tf.foldr(
                lambda a, p: {"s": a["s"] + p[0], "p": a["p"] * p[1]},
                (v, tf.cos(v)),
                initializer={"s": tf.constant(0.0), "p": tf.constant(1.0)},
            )
        elif name == "map_fn_no_back_prop":
            out = tf.map_fn(lambda r: r * r, x, back_prop=False) + x
        flat = [out[k] for k in sorted(out)] if isinstance(out, dict) else _flat(out)
        loss = sum(tf.reduce_sum(tf.sin(t + 0.25)) for t in flat)
        return {"inputs": {"x": x, "v": v}, "fetches": flat, "loss": loss, "wrt": [x, v]}

    rng = np.random.default_rng(9)
    feeds = [
        {
            "x": rng.standard_normal((n, 3)).astype(np.float32),
            "v": rng.standard_normal(n).astype(np.float32),
        }
        for n in (5, 2)
    ]
    return build, feeds


FUNCTIONAL = [
    "map_fn",
    "map_fn_nested",
    "map_fn_dtype",
    "map_fn_no_back_prop",
    "scan",
    "scan_initializer",
    "scan_reverse",
    "scan_reverse_initializer",
    "foldl",
    "foldl_no_initializer",
    "foldr",
    "foldr_nested",
]


@needs_tf
@pytest.mark.parametrize("name", FUNCTIONAL)
def test_functional_ops_match_tensorflow(tf1, name):
    build, feeds = functional_case(name)

    def build_without_nones(tf):
        model = build(tf)
        grads = tf.gradients(model["loss"], tf.trainable_variables() + model["wrt"])
        fetches = model["fetches"] + [g for g in grads if g is not None]
        return {"inputs": model["inputs"], "fetches": fetches}

    theirs, values, _ = run_both(tf1, build_without_nones, feeds)
    ours, _, _ = run_both(dtf, build_without_nones, feeds, values)
    assert_same(ours, theirs, rtol=1e-5)


def test_functional_ops_against_numpy_and_static_shapes():
    xv = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    g = dtf.Graph()
    with g.as_default():
        x = dtf.placeholder(dtf.float32, [None, 3])
        m = dtf.map_fn(lambda r: r * 2.0 + 1.0, x)
        s = dtf.scan(lambda a, r: a + r, x)
        s0 = dtf.scan(lambda a, r: a * r, x, initializer=dtf.ones([3]), reverse=True)
        fl = dtf.foldl(lambda a, r: a - r, x)
        fr = dtf.foldr(lambda a, r: a - r, x)
        assert m.shape.as_list() == [None, 3]
        assert s.shape.as_list() == [None, 3] and s0.shape.as_list() == [None, 3]
        assert fl.shape.as_list() == [3]
        known = dtf.map_fn(lambda r: dtf.reduce_sum(r), dtf.constant(xv))
        assert known.shape.as_list() == [4]
        with dtf.Session() as sess:
            mv, sv, s0v, flv, frv = sess.run([m, s, s0, fl, fr], {x: xv})
    np.testing.assert_allclose(mv, xv * 2 + 1, rtol=1e-6)
    np.testing.assert_allclose(sv, np.cumsum(xv, axis=0), rtol=1e-6)
    np.testing.assert_allclose(s0v, np.cumprod(xv[::-1], axis=0)[::-1], rtol=1e-6)
    np.testing.assert_allclose(flv, xv[0] - xv[1:].sum(axis=0), rtol=1e-6)
    np.testing.assert_allclose(frv, xv[-1] - xv[:-1].sum(axis=0), rtol=1e-6)


def test_functional_ops_errors():
    g = dtf.Graph()
    with g.as_default():
        x = dtf.placeholder(dtf.float32, [None, 3])
        with pytest.raises(TypeError, match=r"^\[map_fn\] fn must be callable"):
            dtf.map_fn(3, x)
        with pytest.raises(ValueError, match=r"^\[map_fn\] the elements must have a first"):
            dtf.map_fn(lambda r: r, dtf.constant(1.0))
        with pytest.raises(ValueError, match=r"^\[map_fn\] the elements have different first"):
            dtf.map_fn(lambda p: p[0], (dtf.zeros([2, 3]), dtf.zeros([3, 3])))
        with pytest.raises(ValueError, match=r"^\[map_fn\] fn returned the structure"):
            dtf.map_fn(lambda r: (r, r), x)
        with pytest.raises(TypeError, match=r"^\[map_fn\] fn returned a int32 tensor"):
            dtf.map_fn(lambda r: dtf.cast(r, dtf.int32), x)
        with pytest.raises(TypeError, match=r"^\[map_fn\] dtype"):
            dtf.map_fn(lambda r: r, x, dtype="no such type")
        with pytest.raises(ValueError, match=r"^\[scan\] fn returned the structure"):
            dtf.scan(lambda a, r: (a, a), x)
        with pytest.raises(TypeError, match=r"^\[foldl\] fn returned a float32 tensor"):
            dtf.foldl(lambda a, r: dtf.reduce_sum(r), x, initializer=dtf.constant(0))
        with pytest.raises(TypeError, match=r"^\[foldr\] fn must be callable"):
            dtf.foldr(None, x)
        with pytest.raises(ValueError, match=r"^\[scan\] elems must hold at least one tensor"):
            dtf.scan(lambda a, r: a, [])
        # scan without an initializer over no elements fails when run
        s = dtf.scan(lambda a, r: a + r, x)
        with dtf.Session() as sess, pytest.raises(IndexError):
            sess.run(s, {x: np.zeros((0, 3), np.float32)})


Pair = collections.namedtuple("Pair", ["first", "second"])


def test_named_tuples_keep_their_type():
    g = dtf.Graph()
    with g.as_default():
        x = dtf.constant(np.arange(6, dtype=np.float32).reshape(3, 2))
        out = dtf.map_fn(lambda p: Pair(p.second, p.first), Pair(x, -x))
        acc = dtf.foldl(lambda a, p: Pair(a.first + p.first, a.second), Pair(x, -x))
        assert isinstance(out, Pair) and isinstance(acc, Pair)
        with dtf.Session() as sess:
            o, a = sess.run([out, acc])
    np.testing.assert_array_equal(o.first, -np.arange(6).reshape(3, 2))
    np.testing.assert_array_equal(a.first, np.arange(6).reshape(3, 2).sum(axis=0))


# --- TensorArray writes in place ------------------------------------------------------


def test_writes_in_place_leave_every_other_holder_of_the_array_alone():
    """A write whose array is read again afterwards, or fetched, copies it:
    only an array nothing else holds is written in place."""
    rng = np.random.default_rng(8)
    xv = rng.standard_normal((5, 3)).astype(np.float32)
    wv = rng.standard_normal(3).astype(np.float32)
    g = dtf.Graph()
    with g.as_default():
        x = dtf.placeholder(dtf.float32, [None, 3])
        w = dtf.Variable(wv)
        n = dtf.shape(x)[0]
        first = dtf.TensorArray(dtf.float32, size=n, element_shape=[3])

        def body(t, array, seen):
            new = array.write(t, dtf.gather(x, t) * w)
            # read after the write: the old array still has zeros at t
            return t + 1, new, seen + array.read(t) + new.read(t)

        _, last, seen = dtf.while_loop(
            lambda t, a, s: t < n, body, (0, first, dtf.zeros([3])), return_same_structure=True
        )
        out = last.stack()
        loss = dtf.reduce_sum(out * out * out)
        (dw,) = dtf.gradients(loss, [w])
        (ddw,) = dtf.gradients(dtf.reduce_sum(dw), [w])
        (dsum,) = dtf.gradients(dtf.reduce_sum(out) + dtf.reduce_sum(out + out), [w])
        # Add's gradient is one tensor for both its inputs (of one static
        # shape): the writes must not zero rows of the gradient y receives
        known = dtf.reshape(out, [5, 3])
        y = dtf.Variable(np.ones((5, 3), np.float32))
        dy = dtf.gradients(dtf.reduce_sum(dtf.sin(known + y)), [w, y])[1]
        with dtf.Session() as sess:
            sess.run(dtf.global_variables_initializer())
            got = sess.run([first.stack(), out, seen, dw, ddw, dsum, dy], {x: xv})
    zeros, outv, seenv, dwv, ddwv, dsumv, dyv = got
    np.testing.assert_array_equal(zeros, np.zeros((5, 3)))
    np.testing.assert_allclose(outv, xv * wv, rtol=1e-6)
    np.testing.assert_allclose(seenv, (xv * wv).sum(axis=0), rtol=1e-5)
    np.testing.assert_allclose(dwv, (3 * (xv * wv) ** 2 * xv).sum(axis=0), rtol=1e-5)
    np.testing.assert_allclose(ddwv, (6 * xv**3 * wv).sum(axis=0), rtol=1e-5)
    np.testing.assert_allclose(dsumv, 3 * xv.sum(axis=0), rtol=1e-5)
    np.testing.assert_allclose(dyv, np.cos(xv * wv + 1), rtol=1e-5)


def test_an_element_written_twice_gets_no_gradient_from_its_first_value():
    g = dtf.Graph()
    with g.as_default():
        a = dtf.placeholder(dtf.float32, [2])
        b = dtf.placeholder(dtf.float32, [2])

        def body(t, array):
            # every iteration writes element 0: the last value wins
            return t + 1, array.write(0, a * dtf.cast(t + 1, dtf.float32) + b)

        _, array = dtf.while_loop(
            lambda t, arr: t < 3, body, (0, dtf.TensorArray(dtf.float32, 2, element_shape=[2]))
        )
        out = array.stack()
        grads = dtf.gradients(dtf.reduce_sum(out * out), [a, b])
        with dtf.Session() as sess:
            av, bv = np.array([1.0, 2.0], np.float32), np.array([0.5, -1.0], np.float32)
            outv, (ga, gb) = sess.run([out, grads], {a: av, b: bv})
    np.testing.assert_allclose(outv, [3 * av + bv, [0, 0]])
    np.testing.assert_allclose(ga, 2 * (3 * av + bv) * 3)
    np.testing.assert_allclose(gb, 2 * (3 * av + bv))


def test_a_gradient_shared_with_another_input_is_not_written_into():
    """In the body the array's new value is an Add of the written array and
    a captured tensor, whose rule gives both one gradient tensor: the
    in-place write's derivative must leave the captured tensor's alone.
    The loop is checked against the same body unrolled (no in-place
    writes there)."""
    rng = np.random.default_rng(12)
    xv = rng.standard_normal((4, 3)).astype(np.float32)
    results = []
    for looped in (True, False):
        g = dtf.Graph()
        with g.as_default():
            x = dtf.constant(xv)
            w = dtf.Variable(np.array([0.5, -1.0, 2.0], np.float32))
            c = dtf.Variable(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))

            def body(t, array, x=x, w=w, c=c):
                written = array.write(t, dtf.gather(x, t) * w)
                return t + 1, dtf.TensorArray(dtf.float32, flow=written.flow + c)

            array = dtf.TensorArray(dtf.float32, size=4, element_shape=[3])
            if looped:
                _, array = dtf.while_loop(lambda t, a: t < 4, body, (0, array))
            else:
                for t in range(4):
                    _, array = body(dtf.constant(t), array)
            out = array.stack()
            grads = dtf.gradients(dtf.reduce_sum(dtf.sin(out)), [w, c])
            with dtf.Session() as sess:
                sess.run(dtf.global_variables_initializer())
                results.append(sess.run([out, *grads]))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
