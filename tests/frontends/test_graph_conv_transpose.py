"""devrt.graph: tf.nn.conv2d_transpose, tf.nn.conv1d, their tf.layers forms,
tf.contrib.layers.fully_connected and tf.contrib.seq2seq.sequence_loss,
against PyTorch (values and gradients)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import devrt.graph as tf

RTOL, ATOL = 1e-4, 1e-4


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _close(got, want, rtol=RTOL, atol=ATOL):
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else want
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def _torch_conv2d_transpose(x_nhwc, w_tf, out_hw, stride, padding):
    """TensorFlow's conv2d_transpose in torch: the full transposed convolution
    (no padding), cropped (or zero-extended) by the padding conv2d uses."""
    x = x_nhwc.permute(0, 3, 1, 2)
    w = w_tf.permute(3, 2, 0, 1)  # [in, out, kh, kw]
    full = F.conv_transpose2d(x, w, stride=stride)
    pads = []
    for size, out, k, s, full_len in reversed(
        list(zip(x.shape[2:], out_hw, w.shape[2:], stride, full.shape[2:]))
    ):
        top = max((size - 1) * s + k - out, 0) // 2 if padding == "SAME" else 0
        pads += [-top, out - (full_len - top)]
    return F.pad(full, pads).permute(0, 2, 3, 1)


CASES = [
    # (input hw, kernel, stride, padding, output hw)
    ((4, 5), (3, 3), (2, 2), "SAME", (8, 10)),
    ((4, 5), (3, 2), (2, 1), "SAME", (7, 5)),
    ((3, 3), (3, 3), (2, 2), "VALID", (7, 7)),
    ((3, 3), (3, 3), (2, 2), "VALID", (8, 8)),
    ((3, 4), (2, 2), (3, 3), "VALID", (9, 12)),
    ((5, 5), (4, 4), (1, 1), "SAME", (5, 5)),
]


@pytest.mark.parametrize("hw, k, s, padding, out_hw", CASES)
def test_conv2d_transpose_matches_torch_with_gradients(hw, k, s, padding, out_hw):
    xv, wv = _rand(2, *hw, 3), _rand(*k, 4, 3, seed=1)
    gv = _rand(2, *out_hw, 4, seed=2)
    x = tf.placeholder(tf.float32, [None, *hw, 3])
    w = tf.Variable(wv)
    y = tf.nn.conv2d_transpose(
        x, w, tf.stack([tf.shape(x)[0], *out_hw, 4]), [1, *s, 1], padding=padding
    )
    assert y.shape.as_list() == [None, *out_hw, 4]
    gx, gw = tf.gradients(y, [x, w], grad_ys=tf.constant(gv))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got, got_gx, got_gw = sess.run([y, gx, gw], {x: xv})
    xt = torch.tensor(xv, requires_grad=True)
    wt = torch.tensor(wv, requires_grad=True)
    want = _torch_conv2d_transpose(xt, wt, out_hw, s, padding)
    want.backward(torch.from_numpy(gv))
    _close(got, want)
    _close(got_gx, xt.grad)
    _close(got_gw, wt.grad)


def test_conv2d_transpose_is_the_adjoint_of_conv2d_and_takes_nchw():
    xv, wv = _rand(1, 4, 4, 2), _rand(3, 3, 5, 2, seed=3)
    y_in = _rand(1, 7, 8, 5, seed=4)
    x = tf.constant(xv)
    up = tf.nn.conv2d_transpose(x, wv, [1, 7, 8, 5], [1, 2, 2, 1], "SAME")
    down = tf.nn.conv2d(tf.constant(y_in), wv, [1, 2, 2, 1], "SAME")
    nchw = tf.nn.conv2d_transpose(
        tf.transpose(x, [0, 3, 1, 2]), wv, [1, 5, 7, 8], [1, 1, 2, 2], "SAME", data_format="NCHW"
    )
    with tf.Session() as sess:
        u, d, n = sess.run([up, down, nchw])
    # <conv2d_transpose(x), y> == <x, conv2d(y)>
    np.testing.assert_allclose(np.sum(u * y_in), np.sum(xv * d), rtol=1e-4)
    np.testing.assert_allclose(n, u.transpose(0, 3, 1, 2), rtol=1e-6)


def test_conv2d_transpose_errors_name_the_shapes():
    x = tf.placeholder(tf.float32, [None, 4, 4, 3])
    w = tf.zeros([3, 3, 5, 3])
    with pytest.raises(ValueError, match=r"^\[conv2d_transpose\] output size 9 .*input size 4"):
        tf.nn.conv2d_transpose(x, w, [2, 9, 8, 5], [1, 2, 2, 1], "SAME")
    with pytest.raises(ValueError, match=r"^\[conv2d_transpose\] filter \(3, 3, 5, 3\) .*6 output"):
        tf.nn.conv2d_transpose(x, w, [2, 8, 8, 6], [1, 2, 2, 1], "SAME")
    with pytest.raises(ValueError, match=r"^\[conv2d_transpose\] the spatial .*\(\?, \?, \?, 3\)"):
        tf.nn.conv2d_transpose(
            tf.placeholder(tf.float32, [None, None, None, 3]), w, [2, 8, 8, 5], [1, 2, 2, 1]
        )
    with pytest.raises(ValueError, match=r"^\[conv2d_transpose\] output_shape must have 4"):
        tf.nn.conv2d_transpose(x, w, [8, 8, 5], [1, 2, 2, 1])
    with pytest.raises(ValueError, match=r"^\[conv2d_transpose\] padding must be"):
        tf.nn.conv2d_transpose(x, w, [2, 8, 8, 5], [1, 2, 2, 1], "FULL")


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_layers_conv2d_transpose_shapes_names_and_values(padding):
    xv = _rand(2, 3, 4, 2)
    x = tf.placeholder(tf.float32, [None, 3, 4, 2])
    y = tf.layers.conv2d_transpose(x, 5, 3, strides=2, padding=padding, activation=tf.nn.relu)
    out_hw = (6, 8) if padding == "same" else (7, 9)
    assert y.shape.as_list() == [None, *out_hw, 5]
    kernel, bias = tf.trainable_variables()
    assert kernel.op.name == "conv2d_transpose/kernel" and kernel.shape.as_list() == [3, 3, 5, 2]
    assert bias.op.name == "conv2d_transpose/bias"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(bias.assign(_rand(5, seed=6)))
        got, k, b = sess.run([y, kernel, bias], {x: xv})
    want = _torch_conv2d_transpose(
        torch.from_numpy(xv), torch.from_numpy(k), out_hw, (2, 2), padding.upper()
    )
    _close(got, torch.relu(want + torch.from_numpy(b)))


# --- conv1d -------------------------------------------------------------------------------


@pytest.mark.parametrize("stride, padding", [(1, "VALID"), (2, "SAME"), (2, "VALID")])
def test_conv1d_matches_torch_with_gradients(stride, padding):
    xv, wv = _rand(3, 9, 4), _rand(3, 4, 5, seed=1)
    x = tf.placeholder(tf.float32, [None, 9, 4])
    w = tf.Variable(wv)
    y = tf.nn.conv1d(x, w, stride, padding)
    gx, gw = tf.gradients(tf.reduce_sum(tf.square(y)), [x, w])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got, got_gx, got_gw = sess.run([y, gx, gw], {x: xv})
    xt = torch.tensor(xv, requires_grad=True)
    wt = torch.tensor(wv, requires_grad=True)
    xc = xt.permute(0, 2, 1)
    if padding == "SAME":
        total = max((-(-9 // stride) - 1) * stride + 3 - 9, 0)
        xc = F.pad(xc, (total // 2, total - total // 2))
    want = F.conv1d(xc, wt.permute(2, 1, 0), stride=stride).permute(0, 2, 1)
    (want**2).sum().backward()
    assert y.shape.as_list() == [None, want.shape[1], 5]
    _close(got, want)
    _close(got_gx, xt.grad, atol=1e-3)
    _close(got_gw, wt.grad, atol=1e-3)


def test_layers_conv1d_and_ncw():
    xv = _rand(2, 8, 3)
    x = tf.placeholder(tf.float32, [None, 8, 3])
    y = tf.layers.conv1d(x, 4, 3, strides=2, padding="same")
    kernel, bias = tf.trainable_variables()
    assert (kernel.op.name, kernel.shape.as_list()) == ("conv1d/kernel", [3, 3, 4])
    assert y.shape.as_list() == [None, 4, 4]
    ncw = tf.nn.conv1d(tf.transpose(x, [0, 2, 1]), kernel, 2, "SAME", data_format="NCW")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(bias.assign([1.0, 2.0, 3.0, 4.0]))
        got, got_ncw, k = sess.run([y, ncw, kernel], {x: xv})
    want = F.conv1d(
        F.pad(torch.from_numpy(xv).permute(0, 2, 1), (0, 1)),
        torch.from_numpy(k).permute(2, 1, 0),
        stride=2,
    )
    _close(got, want.permute(0, 2, 1) + torch.tensor([1.0, 2.0, 3.0, 4.0]))
    _close(got_ncw, want)
    with pytest.raises(ValueError, match=r"^\[conv1d\] value must be 3-D .*\(\?, 8, 3, 1\)"):
        tf.nn.conv1d(tf.placeholder(tf.float32, [None, 8, 3, 1]), kernel, 1, "SAME")
    with pytest.raises(ValueError, match=r"^\[Conv1D\] inputs must have rank 3"):
        tf.layers.conv1d(tf.placeholder(tf.float32, [None, 8]), 4, 3)


# --- contrib.layers.fully_connected and seq2seq.sequence_loss ---------------------------


def test_fully_connected_defaults_names_and_normalizer():
    xv = _rand(4, 3)
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.contrib.layers.fully_connected(x, 5)
    z = tf.contrib.layers.fully_connected(y, 2, activation_fn=None, scope="logits")
    n = tf.contrib.layers.fully_connected(
        x, 5, normalizer_fn=lambda t, scale: t * scale, normalizer_params={"scale": 2.0}
    )
    names = [v.op.name for v in tf.global_variables()]
    assert names == [
        "fully_connected/weights",
        "fully_connected/biases",
        "logits/weights",
        "logits/biases",
        "fully_connected_1/weights",
    ]
    assert len(tf.get_collection(tf.GraphKeys.MODEL_VARIABLES)) == 5
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w, b, w2, b2, w3 = sess.run(tf.global_variables())
        sess.run(tf.global_variables()[1].assign(_rand(5, seed=8)))
        b = sess.run(tf.global_variables()[1])
        got_y, got_z, got_n = sess.run([y, z, n], {x: xv})
    assert not b2.any()
    np.testing.assert_allclose(got_y, np.maximum(xv @ w + b, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_z, got_y @ w2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_n, np.maximum(2 * (xv @ w3), 0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"^\[fully_connected\] the last dimension .*\(\?, \?\)"):
        tf.contrib.layers.fully_connected(tf.placeholder(tf.float32, [None, None]), 3)


@pytest.mark.parametrize(
    "avg_time, avg_batch, sum_time, sum_batch",
    [
        (True, True, False, False),
        (True, False, False, False),
        (False, True, False, False),
        (False, False, False, False),
        (False, False, True, True),
        (False, False, True, False),
    ],
)
def test_sequence_loss_matches_torch_cross_entropy(avg_time, avg_batch, sum_time, sum_batch):
    batch, steps, classes = 3, 4, 5
    lv = _rand(batch, steps, classes)
    tv = np.random.default_rng(1).integers(0, classes, (batch, steps))
    wv = np.array([[1, 1, 0.5, 0], [1, 0, 0, 0], [2, 1, 1, 1]], np.float32)
    logits = tf.placeholder(tf.float32, [None, steps, classes])
    loss = tf.contrib.seq2seq.sequence_loss(
        logits,
        tf.constant(tv, tf.int32),
        tf.constant(wv),
        average_across_timesteps=avg_time,
        average_across_batch=avg_batch,
        sum_over_timesteps=sum_time,
        sum_over_batch=sum_batch,
    )
    (grad,) = tf.gradients(tf.reduce_sum(loss), [logits])
    with tf.Session() as sess:
        got, got_grad = sess.run([loss, grad], {logits: lv})
    lt = torch.tensor(lv, requires_grad=True)
    ce = F.cross_entropy(
        lt.reshape(-1, classes), torch.from_numpy(tv).reshape(-1), reduction="none"
    )
    w = torch.from_numpy(wv)
    ce = ce.reshape(batch, steps) * w
    nonzero = (w != 0).float()
    if sum_time and sum_batch:
        want = ce.sum() / nonzero.sum()
    elif sum_time:
        want = ce.sum(1) / nonzero.sum(1)
    elif avg_time and avg_batch:
        want = ce.sum() / w.sum()
    elif avg_time:
        want = ce.sum(1) / w.sum(1)
    elif avg_batch:
        want = ce.sum(0) / w.sum(0)
    else:
        want = ce
    want.sum().backward()
    _close(got, want, atol=1e-5)
    _close(got_grad, lt.grad, atol=1e-5)


def test_sequence_loss_errors():
    logits = tf.placeholder(tf.float32, [None, 4, 5])
    targets = tf.placeholder(tf.int32, [None, 4])
    weights = tf.placeholder(tf.float32, [None, 4])
    with pytest.raises(ValueError, match=r"^\[sequence_loss\] logits must be a tensor of rank 3"):
        tf.contrib.seq2seq.sequence_loss(tf.placeholder(tf.float32, [None, 5]), targets, weights)
    with pytest.raises(ValueError, match=r"^\[sequence_loss\] weights must .*\(\?,\)"):
        tf.contrib.seq2seq.sequence_loss(logits, targets, tf.placeholder(tf.float32, [None]))
    with pytest.raises(ValueError, match=r"^\[sequence_loss\] average_across_batch and sum_over"):
        tf.contrib.seq2seq.sequence_loss(logits, targets, weights, sum_over_batch=True)
