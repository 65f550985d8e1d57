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
    return v1


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
