"""devrt.graph: layers switched by a bool tensor (``training=`` of
``tf.layers.dropout`` and ``tf.layers.batch_normalization``) keep the static
shape of their inputs, whatever the flag's static shape, so that a
following layer that needs known dimensions accepts their output."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import devrt.graph as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _flags():
    return {
        "unknown rank": tf.placeholder(tf.bool),
        "scalar": tf.placeholder(tf.bool, []),
        "with default": tf.placeholder_with_default(False, []),
    }


@pytest.mark.parametrize("kind", ["unknown rank", "scalar", "with default"])
def test_conv_bn_dropout_conv_chain_keeps_static_shapes(kind):
    img = tf.placeholder(tf.float32, [None, 6, 6, 2])
    training = _flags()[kind]
    c1 = tf.layers.conv2d(img, 3, 3, padding="same")
    bn = tf.layers.batch_normalization(c1, training=training)
    d = tf.layers.dropout(bn, rate=0.5, training=training)
    c2 = tf.layers.conv2d(d, 2, 3)
    assert bn.shape.as_list() == [None, 6, 6, 3]
    assert d.shape.as_list() == [None, 6, 6, 3]
    assert c2.shape.as_list() == [None, 4, 4, 2]

    xv = np.random.default_rng(1).standard_normal((4, 6, 6, 2)).astype(np.float32)
    k1, b1, gamma, beta, k2, b2 = tf.trainable_variables()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w1, w2, bias2 = sess.run([k1, k2, b2])
        got_eval = sess.run(c2, {img: xv, training: False})
        got_train_bn = sess.run(bn, {img: xv, training: True})
    # The same chain in PyTorch (NCHW, OIHW kernels): inference uses the
    # initial moving statistics (mean 0, variance 1); training the batch's.
    x = torch.from_numpy(xv).permute(0, 3, 1, 2)
    h = torch.nn.functional.conv2d(x, torch.from_numpy(w1).permute(3, 2, 0, 1), padding=1)
    want_train = torch.nn.functional.batch_norm(h, None, None, training=True, eps=1e-3)
    np.testing.assert_allclose(
        got_train_bn, want_train.permute(0, 2, 3, 1).numpy(), rtol=1e-4, atol=1e-4
    )
    h = h / np.sqrt(1 + 1e-3)
    want = torch.nn.functional.conv2d(h, torch.from_numpy(w2).permute(3, 2, 0, 1))
    want = want + torch.from_numpy(bias2).reshape(1, -1, 1, 1)
    np.testing.assert_allclose(got_eval, want.permute(0, 2, 3, 1).numpy(), rtol=1e-4, atol=1e-5)


def test_training_flag_must_be_a_scalar_bool():
    x = tf.placeholder(tf.float32, [None, 4])
    with pytest.raises(ValueError, match=r"^\[Dropout\] .*scalar.*\(2,\)"):
        tf.layers.dropout(x, training=tf.placeholder(tf.bool, [2]))
    with pytest.raises(TypeError, match=r"^\[BatchNormalization\] .*bool.*float32"):
        tf.layers.batch_normalization(x, training=tf.placeholder(tf.float32, []))


def test_training_flag_of_unknown_rank_fed_a_vector_fails_at_run_time():
    x = tf.placeholder(tf.float32, [None, 4])
    flag = tf.placeholder(tf.bool)
    y = tf.layers.dropout(x, training=flag)
    with tf.Session() as sess:
        with pytest.raises(Exception, match="Reshape"):
            sess.run(y, {x: np.ones((2, 4), np.float32), flag: [True, False]})


def test_dropout_with_a_keep_prob_placeholder_of_unknown_shape_keeps_the_shape():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 5])
        keep = tf.placeholder(tf.float32)
        y = tf.nn.dropout(x, keep)
        assert y.shape.as_list() == [None, 5]
        with tf.Session() as sess:
            assert sess.run(y, {x: np.ones((2, 5)), keep: 1.0}).tolist() == np.ones((2, 5)).tolist()
            with pytest.raises(ValueError):
                sess.run(y, {x: np.ones((2, 5)), keep: [0.5, 0.5]})
