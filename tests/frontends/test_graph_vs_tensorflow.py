"""devrt.graph against TensorFlow 2's tf.compat.v1 on the same weights.

The same TF1 program is built twice, once on `devrt.graph` and once on
TensorFlow in graph mode, its variables are given the same values, and both
are trained on the same batches: losses, predictions and final weights must
agree to float32 rounding. These tests run where TensorFlow is installed
(the `test` extra installs it); recurrent cells also need `tf_keras`, the
package that keeps TF1's cells alive in TensorFlow 2.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import devrt.graph as dtf

if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("TensorFlow is not installed", allow_module_level=True)

HAS_TF_KERAS = importlib.util.find_spec("tf_keras") is not None
if HAS_TF_KERAS:  # TF1's rnn_cell names resolve to tf_keras's cells
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


@pytest.fixture(scope="module")
def tf1():
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    v1 = tf.compat.v1
    v1.disable_v2_behavior()
    try:
        yield v1
    finally:
        # Graph mode is process-wide in TensorFlow: turned back on, later
        # tests in this process (Keras 3, which finds TensorFlow) see TF2.
        v1.enable_v2_behavior()


def train(tf, build, values, batches, fetch_names=("loss",)):
    """Builds `build(tf)` (a dict of tensors and a train op), gives its
    trainable variables `values` in creation order, runs the train op once
    per batch and returns the fetched values of each step and the final
    variables."""
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(0)
        model = build(tf)
        variables = tf.trainable_variables()
        assert [tuple(v.get_shape().as_list()) for v in variables] == [v.shape for v in values], [
            v.name for v in variables
        ]
        init = tf.global_variables_initializer()
    steps = []
    with tf.Session(graph=g) as sess:
        sess.run(init)
        for var, value in zip(variables, values):
            var.load(value, sess)
        for feed in batches:
            feed_dict = {model[name]: value for name, value in feed.items()}
            fetched = sess.run([model[n] for n in fetch_names], feed_dict=feed_dict)
            steps.append(fetched)
            sess.run(model["train"], feed_dict=feed_dict)
        final = sess.run(variables)
    return steps, final


def assert_same_training(tf1, build, values, batches, rtol, fetch_names=("loss",)):
    ours, our_final = train(dtf, build, values, batches, fetch_names)
    theirs, their_final = train(tf1, build, values, batches, fetch_names)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for name, x, y in zip(fetch_names, a, b):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol, err_msg=f"{name}, step {step}")
    for x, y in zip(our_final, their_final):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol)


# --- the aymericdamien raw convolutional network (tests/programs/tf_convnet.py) -----


def convnet(tf, channels=(8, 16), hidden=64):
    c1, c2 = channels
    x = tf.placeholder(tf.float32, [None, 784])
    y = tf.placeholder(tf.float32, [None, 10])
    keep_prob = tf.placeholder_with_default(1.0, [])
    weights = [
        tf.Variable(tf.zeros([5, 5, 1, c1])),
        tf.Variable(tf.zeros([5, 5, c1, c2])),
        tf.Variable(tf.zeros([7 * 7 * c2, hidden])),
        tf.Variable(tf.zeros([hidden, 10])),
    ]
    biases = [tf.Variable(tf.zeros([n])) for n in (c1, c2, hidden, 10)]

    def conv(h, w, b):
        h = tf.nn.conv2d(h, w, strides=[1, 1, 1, 1], padding="SAME")
        return tf.nn.relu(tf.nn.bias_add(h, b))

    def pool(h):
        return tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")

    h = tf.reshape(x, [-1, 28, 28, 1])
    h = pool(conv(h, weights[0], biases[0]))
    h = pool(conv(h, weights[1], biases[1]))
    h = tf.reshape(h, [-1, weights[2].get_shape().as_list()[0]])
    h = tf.nn.relu(tf.add(tf.matmul(h, weights[2]), biases[2]))
    h = tf.nn.dropout(h, keep_prob)
    logits = tf.add(tf.matmul(h, weights[3]), biases[3])
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(logits=logits, labels=y))
    train = tf.train.AdamOptimizer(learning_rate=0.001).minimize(loss)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), tf.argmax(y, 1)), tf.float32))
    return {"x": x, "y": y, "loss": loss, "logits": logits, "accuracy": accuracy, "train": train}


def mnist_batches(rng, steps, batch):
    out = []
    for _ in range(steps):
        labels = rng.integers(0, 10, batch)
        images = rng.random((batch, 784), dtype=np.float32)
        out.append({"x": images, "y": np.eye(10, dtype=np.float32)[labels]})
    return out


def convnet_values(rng, channels=(8, 16), hidden=64, scale=0.1):
    c1, c2 = channels
    shapes = [(5, 5, 1, c1), (5, 5, c1, c2), (7 * 7 * c2, hidden), (hidden, 10)]
    shapes += [(c1,), (c2,), (hidden,), (10,)]
    return [(scale * rng.standard_normal(s)).astype(np.float32) for s in shapes]


def test_convnet_trains_as_in_tensorflow(tf1):
    rng = np.random.default_rng(0)
    values = convnet_values(rng)
    batches = mnist_batches(rng, steps=6, batch=16)
    assert_same_training(
        tf1, convnet, values, batches, rtol=2e-4, fetch_names=("loss", "logits", "accuracy")
    )


def test_convnet_with_the_tutorials_unit_normal_weights(tf1):
    """The program's own tf.random_normal weights make logits in the
    thousands: Adam's steps are then set by the gradients' signs, and the
    two frameworks must still move the same way."""
    rng = np.random.default_rng(1)
    values = convnet_values(rng, scale=1.0)
    batches = mnist_batches(rng, steps=5, batch=16)
    assert_same_training(tf1, convnet, values, batches, rtol=2e-3)


def test_convnet_runs_its_convolution_chains_fused():
    """The tests above train the network's conv2d + bias_add + relu +
    max_pool chains as Session steps of their own (one fused convolution
    each way, the 2x2 pooling of the even 28x28 and 14x14 grids in it), which
    TensorFlow's remapper also fuses."""
    g = dtf.Graph()
    with g.as_default():
        model = convnet(dtf)
        init = dtf.global_variables_initializer()
    batch = mnist_batches(np.random.default_rng(3), steps=1, batch=4)[0]
    with dtf.Session(graph=g) as sess:
        sess.run(init)
        assert sess.stats["fused"] == 0
        sess.run(model["train"], feed_dict={model["x"]: batch["x"], model["y"]: batch["y"]})
        assert sess.stats["fused"] == 2 and sess.stats["fused_pools"] == 2


# --- the layers API and SGD with momentum -------------------------------------------


def layers_net(tf):
    x = tf.placeholder(tf.float32, [None, 12, 12, 3])
    y = tf.placeholder(tf.int64, [None])
    training = tf.placeholder_with_default(False, [])
    h = tf.layers.conv2d(x, 6, 3, padding="same", activation=tf.nn.relu)
    h = tf.layers.max_pooling2d(h, 2, 2)
    h = tf.layers.conv2d(h, 8, 3, strides=2, padding="valid")
    h = tf.layers.batch_normalization(h, training=training)
    h = tf.layers.flatten(tf.nn.relu(h))
    logits = tf.layers.dense(h, 5)
    loss = tf.losses.sparse_softmax_cross_entropy(labels=y, logits=logits)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        train = tf.train.MomentumOptimizer(0.05, 0.9).minimize(loss)
    return {"x": x, "y": y, "training": training, "loss": loss, "logits": logits, "train": train}


def test_layers_api_with_batch_norm_trains_as_in_tensorflow(tf1):
    rng = np.random.default_rng(2)
    shapes = [(3, 3, 3, 6), (6,), (3, 3, 6, 8), (8,), (8,), (8,), (2 * 2 * 8, 5), (5,)]
    values = [(0.3 * rng.standard_normal(s)).astype(np.float32) for s in shapes]
    values[4] = 1.0 + values[4]  # batch norm's gamma
    batches = [
        {
            "x": rng.standard_normal((8, 12, 12, 3)).astype(np.float32),
            "y": rng.integers(0, 5, 8),
            "training": True,
        }
        for _ in range(5)
    ]
    assert_same_training(
        tf1, layers_net, values, batches, rtol=5e-4, fetch_names=("loss", "logits")
    )


# --- recurrent cells (tf.nn.rnn_cell, static_rnn, dynamic_rnn) -----------------------


def rnn_net(cell_name, static):
    def build(tf):
        x = tf.placeholder(tf.float32, [None, 5, 3])
        y = tf.placeholder(tf.float32, [None, 4])
        cells = {
            "BasicRNNCell": lambda: tf.nn.rnn_cell.BasicRNNCell(6),
            "BasicLSTMCell": lambda: tf.nn.rnn_cell.BasicLSTMCell(6, forget_bias=1.0),
            "LSTMCell": lambda: tf.nn.rnn_cell.LSTMCell(6, use_peepholes=True, num_proj=4),
            "GRUCell": lambda: tf.nn.rnn_cell.GRUCell(6),
            "MultiRNNCell": lambda: tf.nn.rnn_cell.MultiRNNCell(
                [tf.nn.rnn_cell.BasicLSTMCell(6), tf.nn.rnn_cell.GRUCell(5)]
            ),
        }
        cell = cells[cell_name]()
        if static:
            outputs, _ = tf.nn.static_rnn(cell, tf.unstack(x, 5, 1), dtype=tf.float32)
            last = outputs[-1]
        else:
            outputs, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
            last = outputs[:, -1]
        w = tf.Variable(tf.zeros([last.get_shape().as_list()[-1], 4]))
        pred = tf.matmul(last, w)
        loss = tf.reduce_mean(tf.square(pred - y))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        return {"x": x, "y": y, "loss": loss, "pred": pred, "outputs": outputs, "train": train}

    return build


@pytest.mark.skipif(not HAS_TF_KERAS, reason="TF1's recurrent cells need tf_keras")
@pytest.mark.parametrize(
    "cell_name", ["BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell", "MultiRNNCell"]
)
@pytest.mark.parametrize("static", [False, True], ids=["dynamic_rnn", "static_rnn"])
def test_recurrent_cells_train_as_in_tensorflow(tf1, cell_name, static):
    build = rnn_net(cell_name, static)
    g = tf1.Graph()
    with g.as_default():
        build(tf1)
        shapes = [tuple(v.get_shape().as_list()) for v in tf1.trainable_variables()]
    rng = np.random.default_rng(3)
    values = [(0.4 * rng.standard_normal(s)).astype(np.float32) for s in shapes]
    batches = [
        {
            "x": rng.standard_normal((4, 5, 3)).astype(np.float32),
            "y": rng.standard_normal((4, 4)).astype(np.float32),
        }
        for _ in range(4)
    ]
    assert_same_training(tf1, build, values, batches, rtol=1e-4, fetch_names=("loss", "pred"))


# --- op by op: values and gradients ------------------------------------------------

F32 = np.float32


def _inputs(specs, rng):
    out = []
    for spec in specs:
        shape, kind = spec[0], spec[1]
        if kind == "f":  # floats in (-2, 2)
            out.append(rng.uniform(-2, 2, shape).astype(F32))
        elif kind == "p":  # positive floats
            out.append(rng.uniform(0.2, 3, shape).astype(F32))
        elif kind == "u":  # in (-0.9, 0.9)
            out.append(rng.uniform(-0.9, 0.9, shape).astype(F32))
        elif kind == "i":  # int32 indices below spec[2]
            out.append(rng.integers(0, spec[2], shape).astype(np.int32))
        elif kind == "b":
            out.append(rng.random(shape) < 0.5)
        elif kind == "prob":  # rows of probabilities
            x = rng.random(shape).astype(F32) + 0.1
            out.append((x / x.sum(-1, keepdims=True)).astype(F32))
        else:
            raise AssertionError(kind)
    return out


M34 = ((3, 4), "f")
P34 = ((3, 4), "p")
IMG = ((2, 7, 7, 3), "f")
OPS = {
    # elementwise
    "add broadcast": (lambda tf, a, b: tf.add(a, b), [M34, ((4,), "f")]),
    "subtract": (lambda tf, a, b: tf.subtract(a, b), [M34, M34]),
    "multiply": (lambda tf, a, b: a * b, [M34, ((3, 1), "f")]),
    "divide": (lambda tf, a, b: a / b, [M34, P34]),
    "pow": (lambda tf, a, b: tf.pow(a, b), [P34, M34]),
    "maximum": (lambda tf, a, b: tf.maximum(a, b), [M34, M34]),
    "minimum": (lambda tf, a, b: tf.minimum(a, b), [M34, M34]),
    "squared_difference": (lambda tf, a, b: tf.squared_difference(a, b), [M34, M34]),
    "atan2": (lambda tf, a, b: tf.atan2(a, b), [M34, P34]),
    "floordiv": (lambda tf, a, b: tf.floordiv(a, b), [M34, P34]),
    "floormod": (lambda tf, a, b: tf.floormod(a, b), [M34, P34]),
    "div_no_nan": (lambda tf, a, b: tf.div_no_nan(a, b), [M34, P34]),
    "abs": (lambda tf, a: tf.abs(a), [M34]),
    "negative": (lambda tf, a: tf.negative(a), [M34]),
    "exp": (lambda tf, a: tf.exp(a), [M34]),
    "expm1": (lambda tf, a: tf.math.expm1(a), [M34]),
    "log": (lambda tf, a: tf.log(a), [P34]),
    "log1p": (lambda tf, a: tf.math.log1p(a), [P34]),
    "sqrt": (lambda tf, a: tf.sqrt(a), [P34]),
    "rsqrt": (lambda tf, a: tf.math.rsqrt(a), [P34]),
    "square": (lambda tf, a: tf.square(a), [M34]),
    "reciprocal": (lambda tf, a: tf.math.reciprocal(a), [P34]),
    "sin": (lambda tf, a: tf.sin(a), [M34]),
    "cos": (lambda tf, a: tf.cos(a), [M34]),
    "tan": (lambda tf, a: tf.tan(a), [((3, 4), "u")]),
    "tanh": (lambda tf, a: tf.tanh(a), [M34]),
    "sigmoid": (lambda tf, a: tf.sigmoid(a), [M34]),
    "erf": (lambda tf, a: tf.math.erf(a), [M34]),
    "sign": (lambda tf, a: tf.sign(a), [M34]),
    "floor": (lambda tf, a: tf.floor(a), [M34]),
    "ceil": (lambda tf, a: tf.math.ceil(a), [M34]),
    "round": (lambda tf, a: tf.round(a), [M34]),
    "clip_by_value": (lambda tf, a: tf.clip_by_value(a, -0.5, 0.7), [M34]),
    "where": (lambda tf, c, a, b: tf.where(c, a, b), [((3, 4), "b"), M34, M34]),
    "logical_and": (lambda tf, a, b: tf.logical_and(a, b), [((3, 4), "b"), ((3, 4), "b")]),
    "greater_equal": (lambda tf, a, b: tf.greater_equal(a, b), [M34, M34]),
    "cast": (lambda tf, a: tf.cast(a * 3, tf.int32), [M34]),
    # reductions
    "reduce_sum axis": (lambda tf, a: tf.reduce_sum(a, axis=1), [M34]),
    "reduce_sum keepdims": (lambda tf, a: tf.reduce_sum(a, 0, keepdims=True), [M34]),
    "reduce_mean": (lambda tf, a: tf.reduce_mean(a), [M34]),
    "reduce_max": (lambda tf, a: tf.reduce_max(a, axis=-1), [M34]),
    "reduce_min": (lambda tf, a: tf.reduce_min(a, axis=[0, 1]), [M34]),
    "reduce_prod": (lambda tf, a: tf.reduce_prod(a, axis=0), [P34]),
    "reduce_logsumexp": (lambda tf, a: tf.reduce_logsumexp(a, axis=1), [M34]),
    "reduce_std": (lambda tf, a: tf.math.reduce_std(a, axis=0), [M34]),
    "reduce_variance": (lambda tf, a: tf.math.reduce_variance(a, axis=1), [M34]),
    "argmax": (lambda tf, a: tf.argmax(a, axis=1), [M34]),
    "argmin": (lambda tf, a: tf.argmin(a, axis=0), [M34]),
    "cumsum": (lambda tf, a: tf.cumsum(a, axis=1), [M34]),
    "norm": (lambda tf, a: tf.norm(a), [M34]),
    "count_nonzero": (lambda tf, a: tf.count_nonzero(a > 0, axis=1), [M34]),
    # shapes and indexing
    "reshape": (lambda tf, a: tf.reshape(a, [2, -1]), [M34]),
    "transpose": (lambda tf, a: tf.transpose(a, [2, 0, 1]), [((2, 3, 4), "f")]),
    "expand_dims": (lambda tf, a: tf.expand_dims(a, 1), [M34]),
    "squeeze": (lambda tf, a: tf.squeeze(a, [1]), [((3, 1, 4), "f")]),
    "concat": (lambda tf, a, b: tf.concat([a, b], axis=1), [M34, ((3, 2), "f")]),
    "stack": (lambda tf, a, b: tf.stack([a, b], axis=1), [M34, M34]),
    "unstack": (lambda tf, a: tf.unstack(a, axis=1)[2], [M34]),
    "split": (lambda tf, a: tf.split(a, [1, 3], axis=1)[1], [M34]),
    "tile": (lambda tf, a: tf.tile(a, [2, 1]), [M34]),
    "slice": (lambda tf, a: tf.slice(a, [1, 0], [2, 3]), [M34]),
    "strided_slice": (lambda tf, a: a[1:, ::2], [M34]),
    "strided_slice negative": (lambda tf, a: a[::-1, -2], [M34]),
    "strided_slice newaxis": (lambda tf, a: a[:, None, 1:3], [M34]),
    "gather": (lambda tf, a, i: tf.gather(a, i), [M34, ((5,), "i", 3)]),
    "gather axis": (lambda tf, a, i: tf.gather(a, i, axis=1), [M34, ((2, 2), "i", 4)]),
    "one_hot": (lambda tf, i: tf.one_hot(i, 5), [((4,), "i", 5)]),
    "reverse": (lambda tf, a: tf.reverse(a, [1]), [M34]),
    "top_k values": (lambda tf, a: tf.nn.top_k(a, 2).values, [M34]),
    "matmul": (lambda tf, a, b: tf.matmul(a, b), [M34, ((4, 5), "f")]),
    "matmul transposes": (
        lambda tf, a, b: tf.matmul(a, b, transpose_a=True, transpose_b=True),
        [((4, 3), "f"), ((5, 4), "f")],
    ),
    "batched matmul": (lambda tf, a, b: tf.matmul(a, b), [((2, 3, 4), "f"), ((2, 4, 2), "f")]),
    "add_n": (lambda tf, a, b: tf.add_n([a, b, a]), [M34, M34]),
    # nn
    "relu": (lambda tf, a: tf.nn.relu(a), [M34]),
    "relu6": (lambda tf, a: tf.nn.relu6(a * 4), [M34]),
    "elu": (lambda tf, a: tf.nn.elu(a), [M34]),
    "leaky_relu": (lambda tf, a: tf.nn.leaky_relu(a, 0.1), [M34]),
    "softplus": (lambda tf, a: tf.nn.softplus(a), [M34]),
    "softsign": (lambda tf, a: tf.nn.softsign(a), [M34]),
    "softmax": (lambda tf, a: tf.nn.softmax(a), [M34]),
    "log_softmax": (lambda tf, a: tf.nn.log_softmax(a, axis=0), [M34]),
    "l2_normalize": (lambda tf, a: tf.nn.l2_normalize(a, axis=1), [M34]),
    "l2_loss": (lambda tf, a: tf.nn.l2_loss(a), [M34]),
    "bias_add": (lambda tf, a, b: tf.nn.bias_add(a, b), [IMG, ((3,), "f")]),
    "moments mean": (lambda tf, a: tf.nn.moments(a, [0, 1, 2])[0], [IMG]),
    "moments variance": (lambda tf, a: tf.nn.moments(a, [0, 1, 2])[1], [IMG]),
    "softmax_cross_entropy_with_logits_v2": (
        lambda tf, y, a: tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=a),
        [((3, 4), "prob"), M34],
    ),
    "sparse_softmax_cross_entropy_with_logits": (
        lambda tf, y, a: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=a),
        [((3,), "i", 4), M34],
    ),
    "sigmoid_cross_entropy_with_logits": (
        lambda tf, y, a: tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=a),
        [((3, 4), "prob"), M34],
    ),
    "conv2d SAME": (
        lambda tf, x, w: tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"),
        [IMG, ((3, 3, 3, 4), "f")],
    ),
    "conv2d VALID strided": (
        lambda tf, x, w: tf.nn.conv2d(x, w, [1, 2, 2, 1], "VALID"),
        [IMG, ((3, 3, 3, 4), "f")],
    ),
    "conv2d SAME strided even kernel": (
        lambda tf, x, w: tf.nn.conv2d(x, w, [1, 2, 2, 1], "SAME"),
        [IMG, ((2, 2, 3, 4), "f")],
    ),
    "conv2d_transpose": (
        lambda tf, x, w: tf.nn.conv2d_transpose(x, w, [2, 14, 14, 5], [1, 2, 2, 1], "SAME"),
        [IMG, ((3, 3, 5, 3), "f")],
    ),
    "conv1d": (
        lambda tf, x, w: tf.nn.conv1d(x, w, 1, "SAME"),
        [((2, 9, 3), "f"), ((3, 3, 4), "f")],
    ),
    "max_pool SAME": (
        lambda tf, x: tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "SAME"),
        [IMG],
    ),
    "max_pool VALID overlapping": (
        lambda tf, x: tf.nn.max_pool(x, [1, 3, 3, 1], [1, 2, 2, 1], "VALID"),
        [IMG],
    ),
    "avg_pool SAME": (
        lambda tf, x: tf.nn.avg_pool(x, [1, 3, 3, 1], [1, 2, 2, 1], "SAME"),
        [IMG],
    ),
    # control flow
    "cond": (
        lambda tf, a, b: tf.cond(tf.reduce_sum(a) > 0, lambda: a * b, lambda: a - b),
        [M34, M34],
    ),
    "while_loop": (
        lambda tf, a: tf.while_loop(
            lambda i, x: i < 4, lambda i, x: (i + 1, tf.tanh(x) * a + x), [tf.constant(0), a]
        )[1],
        [M34],
    ),
    "while_loop with cond in the body": (
        lambda tf, a, b: tf.while_loop(
            lambda i, x: i < 3,
            lambda i, x: (
                i + 1,
                tf.cond(tf.reduce_mean(x) > 0, lambda: x * b, lambda: tf.sin(x) + b),
            ),
            [tf.constant(0), a],
        )[1],
        [M34, M34],
    ),
    "embedding_lookup": (
        lambda tf, p, i: tf.nn.embedding_lookup(p, i),
        [((6, 3), "f"), ((2, 3), "i", 6)],
    ),
}


@pytest.mark.parametrize("name", list(OPS))
def test_op_values_and_gradients_match_tensorflow(tf1, name):
    build, specs = OPS[name]
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    values = _inputs(specs, rng)

    def run(tf):
        g = tf.Graph()
        with g.as_default():
            dtypes = {np.dtype(F32): tf.float32, np.dtype(np.int32): tf.int32}
            dtypes[np.dtype(bool)] = tf.bool
            xs = [tf.placeholder(dtypes[v.dtype], v.shape) for v in values]
            y = build(tf, *xs)
            fetches = {"y": y}
            floats = [x for x, v in zip(xs, values) if v.dtype == F32]
            if y.dtype in (tf.float32,) and floats:
                weight = tf.constant(np.linspace(0.5, 1.5, max(int(np.prod(y.shape)), 1)))
                weight = tf.reshape(tf.cast(weight, tf.float32), tf.shape(y))
                grads = tf.gradients(tf.reduce_sum(y * weight), floats)
                # None where no gradient flows; IndexedSlices (gather) as dense tensors.
                fetches["grads"] = [tf.convert_to_tensor(d) for d in grads if d is not None]
                fetches["flows"] = tf.constant([d is not None for d in grads])
        with tf.Session(graph=g) as sess:
            return sess.run(fetches, {x: v for x, v in zip(xs, values)})

    ours, theirs = run(dtf), run(tf1)
    np.testing.assert_allclose(ours["y"], theirs["y"], rtol=1e-5, atol=1e-5)
    assert np.asarray(ours["y"]).dtype == np.asarray(theirs["y"]).dtype
    assert set(ours) == set(theirs)
    if "grads" in ours:
        assert ours["flows"].tolist() == theirs["flows"].tolist(), "which inputs get a gradient"
        for k, (a, b) in enumerate(zip(ours["grads"], theirs["grads"])):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=f"gradient {k}")


# --- optimizers, learning-rate schedules and losses ---------------------------------


def _mlp(make_optimizer, make_loss="mse"):
    def build(tf):
        x = tf.placeholder(tf.float32, [None, 5])
        y = tf.placeholder(tf.float32, [None, 3])
        w1 = tf.Variable(tf.zeros([5, 8]))
        b1 = tf.Variable(tf.zeros([8]))
        w2 = tf.Variable(tf.zeros([8, 3]))
        out = tf.matmul(tf.nn.tanh(tf.matmul(x, w1) + b1), w2)
        losses = {
            "mse": lambda: tf.losses.mean_squared_error(y, out),
            "absolute_difference": lambda: tf.losses.absolute_difference(y, out),
            "huber": lambda: tf.losses.huber_loss(y, out, delta=0.5),
            "softmax": lambda: tf.losses.softmax_cross_entropy(tf.nn.softmax(y * 3), out),
            "sigmoid": lambda: tf.losses.sigmoid_cross_entropy(tf.sigmoid(y), out),
            "log_loss": lambda: tf.losses.log_loss(tf.sigmoid(y), tf.sigmoid(out)),
            "weighted mse": lambda: tf.losses.mean_squared_error(
                y, out, weights=tf.constant([[1.0, 0.5, 2.0]])
            ),
        }
        loss = losses[make_loss]()
        step = tf.Variable(0, trainable=False)
        train = make_optimizer(tf, step).minimize(loss, global_step=step)
        return {"x": x, "y": y, "loss": loss, "out": out, "train": train}

    return build


OPTIMIZERS = {
    "GradientDescent": lambda tf, step: tf.train.GradientDescentOptimizer(0.1),
    "Momentum": lambda tf, step: tf.train.MomentumOptimizer(0.1, 0.9),
    "Momentum nesterov": lambda tf, step: tf.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
    "Adam": lambda tf, step: tf.train.AdamOptimizer(0.01),
    "Adam betas": lambda tf, step: tf.train.AdamOptimizer(0.02, 0.8, 0.99, epsilon=1e-6),
    "Adagrad": lambda tf, step: tf.train.AdagradOptimizer(0.1),
    "Adadelta": lambda tf, step: tf.train.AdadeltaOptimizer(1.0),
    "Adadelta rho": lambda tf, step: tf.train.AdadeltaOptimizer(0.5, rho=0.8, epsilon=1e-6),
    "RMSProp": lambda tf, step: tf.train.RMSPropOptimizer(0.01),
    "RMSProp momentum centered": lambda tf, step: tf.train.RMSPropOptimizer(
        0.01, momentum=0.5, centered=True
    ),
    "exponential_decay": lambda tf, step: tf.train.GradientDescentOptimizer(
        tf.train.exponential_decay(0.2, step, 2, 0.5, staircase=True)
    ),
    "polynomial_decay": lambda tf, step: tf.train.GradientDescentOptimizer(
        tf.train.polynomial_decay(0.2, step, 5, 0.01, power=2.0)
    ),
    "inverse_time_decay": lambda tf, step: tf.train.GradientDescentOptimizer(
        tf.train.inverse_time_decay(0.2, step, 1, 0.5)
    ),
    "cosine_decay": lambda tf, step: tf.train.GradientDescentOptimizer(
        tf.train.cosine_decay(0.2, step, 6)
    ),
}


def _mlp_case(seed):
    rng = np.random.default_rng(seed)
    shapes = [(5, 8), (8,), (8, 3)]
    values = [(0.5 * rng.standard_normal(s)).astype(F32) for s in shapes]
    batches = [
        {
            "x": rng.standard_normal((6, 5)).astype(F32),
            "y": rng.standard_normal((6, 3)).astype(F32),
        }
        for _ in range(6)
    ]
    return values, batches


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizers_and_schedules_train_as_in_tensorflow(tf1, name):
    values, batches = _mlp_case(4)
    assert_same_training(tf1, _mlp(OPTIMIZERS[name]), values, batches, rtol=1e-5)


@pytest.mark.parametrize(
    "loss",
    ["mse", "absolute_difference", "huber", "softmax", "sigmoid", "log_loss", "weighted mse"],
)
def test_losses_train_as_in_tensorflow(tf1, loss):
    values, batches = _mlp_case(5)
    build = _mlp(OPTIMIZERS["Adam"], loss)
    assert_same_training(tf1, build, values, batches, rtol=1e-5, fetch_names=("loss", "out"))
