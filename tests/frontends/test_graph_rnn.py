"""devrt.graph's recurrent cells (tf.nn.rnn_cell, tf.contrib.rnn) and
dynamic_rnn / static_rnn / bidirectional_dynamic_rnn, against PyTorch.

torch.nn.LSTM and torch.nn.RNN get the graph's weights, with TensorFlow's
gate order (i, j, f, o) mapped to PyTorch's (i, f, g, o) and the forget bias
folded into PyTorch's bias; TensorFlow's GRU applies the reset gate before
the candidate's matmul (PyTorch's after it), so it is checked against the
same math written in torch ops. Gradients come from tf.gradients and are
compared with torch autograd.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import devrt.graph as tf

RTOL, ATOL = 1e-4, 1e-5


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


def _lstm_to_torch(kernel, bias, depth, forget_bias, layer=None, suffix=""):
    """TF's LSTM kernel [depth + units, 4 * units] (i, j, f, o) as PyTorch's
    weight_ih, weight_hh (4 * units rows, i, f, g, o) and bias_ih."""
    i, j, f, o = np.split(kernel, 4, axis=1)
    bi, bj, bf, bo = np.split(bias, 4)
    w = np.concatenate([i, f, j, o], axis=1).T
    b = np.concatenate([bi, bf + forget_bias, bj, bo])
    return w[:, :depth], w[:, depth:], b


def _set_lstm(module, layer, kernel, bias, depth, forget_bias=1.0):
    w_ih, w_hh, b = _lstm_to_torch(kernel, bias, depth, forget_bias)
    with torch.no_grad():
        getattr(module, f"weight_ih_l{layer}").copy_(torch.from_numpy(w_ih))
        getattr(module, f"weight_hh_l{layer}").copy_(torch.from_numpy(w_hh))
        getattr(module, f"bias_ih_l{layer}").copy_(torch.from_numpy(b))
        getattr(module, f"bias_hh_l{layer}").zero_()


def _grad_lstm_to_tf(g_ih, g_hh, g_b):
    """PyTorch's gradients of weight_ih, weight_hh and bias_ih back in TF's layout."""
    w = np.concatenate([g_ih, g_hh], axis=1).T  # [depth + units, 4u] in i, f, g, o
    i, f, g, o = np.split(w, 4, axis=1)
    bi, bf, bg, bo = np.split(g_b, 4)
    return np.concatenate([i, g, f, o], axis=1), np.concatenate([bi, bg, bf, bo])


# --- cells over time, against torch.nn -------------------------------------------------------


@pytest.mark.parametrize("time_major", [False, True])
def test_basic_lstm_dynamic_rnn_matches_torch_lstm_with_gradients(time_major):
    batch, steps, depth, units = 3, 4, 5, 6
    xv = _rand(batch, steps, depth)
    feed = xv.transpose(1, 0, 2) if time_major else xv
    x = tf.placeholder(tf.float32, [steps, None, depth] if time_major else [None, steps, depth])
    cell = tf.nn.rnn_cell.BasicLSTMCell(units, forget_bias=0.7)
    out, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32, time_major=time_major)
    assert isinstance(state, tf.nn.rnn_cell.LSTMStateTuple)
    assert out.shape.as_list() == ([steps, None, units] if time_major else [None, steps, units])
    kernel, bias = tf.trainable_variables()
    assert (kernel.op.name, bias.op.name) == (
        "rnn/basic_lstm_cell/kernel",
        "rnn/basic_lstm_cell/bias",
    )
    assert kernel.shape.as_list() == [depth + units, 4 * units]
    weights = tf.constant(_rand(steps, batch, units, seed=1))
    if not time_major:
        weights = tf.transpose(weights, [1, 0, 2])
    loss = tf.reduce_sum(out * weights) + tf.reduce_sum(state.c * state.h)
    grads = tf.gradients(loss, [kernel, bias, x])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        # A non-zero bias checks the gate order of the bias too.
        sess.run(bias.assign(_rand(4 * units, seed=2)))
        k, b = sess.run([kernel, bias])
        got = sess.run([out, state.c, state.h] + grads, {x: feed})

    lstm = torch.nn.LSTM(depth, units, batch_first=not time_major)
    _set_lstm(lstm, 0, k, b, depth, forget_bias=0.7)
    xt = torch.tensor(feed, requires_grad=True)
    y, (h, c) = lstm(xt)
    wt = torch.from_numpy(_rand(steps, batch, units, seed=1))
    loss_t = (y * (wt if time_major else wt.transpose(0, 1))).sum() + (c * h).sum()
    loss_t.backward()
    _close(got[0], y)
    _close(got[1], c[0])
    _close(got[2], h[0])
    gk, gb = _grad_lstm_to_tf(
        lstm.weight_ih_l0.grad.numpy(), lstm.weight_hh_l0.grad.numpy(), lstm.bias_ih_l0.grad.numpy()
    )
    _close(got[3], gk, atol=1e-4)
    _close(got[4], gb, atol=1e-4)
    _close(got[5], xt.grad, atol=1e-4)


def test_basic_rnn_cell_matches_torch_rnn_and_state_is_the_last_output():
    batch, steps, depth, units = 2, 3, 4, 5
    xv = _rand(batch, steps, depth)
    x = tf.placeholder(tf.float32, [None, steps, depth])
    out, state = tf.nn.dynamic_rnn(tf.contrib.rnn.BasicRNNCell(units), x, dtype=tf.float32)
    kernel, bias = tf.trainable_variables()
    assert kernel.op.name == "rnn/basic_rnn_cell/kernel"
    g_kernel, g_x = tf.gradients(tf.reduce_sum(tf.square(out)), [kernel, x])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(bias.assign(_rand(units, seed=3)))
        k, b = sess.run([kernel, bias])
        got = sess.run([out, state, g_kernel, g_x], {x: xv})
    rnn = torch.nn.RNN(depth, units, batch_first=True)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(k[:depth].T))
        rnn.weight_hh_l0.copy_(torch.from_numpy(k[depth:].T))
        rnn.bias_ih_l0.copy_(torch.from_numpy(b))
        rnn.bias_hh_l0.zero_()
    xt = torch.tensor(xv, requires_grad=True)
    y, h = rnn(xt)
    (y**2).sum().backward()
    _close(got[0], y)
    _close(got[1], h[0])
    want_k = np.concatenate([rnn.weight_ih_l0.grad.numpy(), rnn.weight_hh_l0.grad.numpy()], 1).T
    _close(got[2], want_k, atol=1e-4)
    _close(got[3], xt.grad, atol=1e-4)


def _torch_tf_gru(x, h, gk, gb, ck, cb):
    """TensorFlow's GRUCell step written in torch ops."""
    r, u = torch.sigmoid(torch.cat([x, h], 1) @ gk + gb).chunk(2, 1)
    c = torch.tanh(torch.cat([x, r * h], 1) @ ck + cb)
    return u * h + (1 - u) * c


def test_gru_cell_variables_and_math_with_gradients():
    batch, steps, depth, units = 3, 4, 2, 3
    xv, h0 = _rand(batch, steps, depth), _rand(batch, units, seed=5)
    x = tf.placeholder(tf.float32, [None, steps, depth])
    init = tf.placeholder(tf.float32, [None, units])
    out, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(units), x, initial_state=init)
    names = [v.op.name for v in tf.trainable_variables()]
    assert names == [
        "rnn/gru_cell/gates/kernel",
        "rnn/gru_cell/gates/bias",
        "rnn/gru_cell/candidate/kernel",
        "rnn/gru_cell/candidate/bias",
    ]
    grads = tf.gradients(tf.reduce_sum(tf.sin(out)), tf.trainable_variables() + [init])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        gk, gb, ck, cb = sess.run(tf.trainable_variables())
        got = sess.run([out, state] + grads, {x: xv, init: h0})
    np.testing.assert_array_equal(gb, np.ones(2 * units, np.float32))  # TF's gate bias init
    np.testing.assert_array_equal(cb, np.zeros(units, np.float32))
    params = [torch.tensor(p, requires_grad=True) for p in (gk, gb, ck, cb)]
    h = torch.tensor(h0, requires_grad=True)
    hs, state_t = [], h
    for t in range(steps):
        state_t = _torch_tf_gru(torch.from_numpy(xv[:, t]), state_t, *params)
        hs.append(state_t)
    y = torch.stack(hs, 1)
    torch.sin(y).sum().backward()
    _close(got[0], y)
    _close(got[1], state_t)
    for g, p in zip(got[2:], params + [h]):
        _close(g, p.grad, atol=1e-4)


def test_multi_rnn_cell_matches_two_layer_torch_lstm_and_names_cells():
    batch, steps, depth, units = 2, 3, 4, 5
    xv = _rand(batch, steps, depth)
    x = tf.placeholder(tf.float32, [None, steps, depth])
    cells = [tf.nn.rnn_cell.BasicLSTMCell(units) for _ in range(2)]
    out, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.MultiRNNCell(cells), x, dtype=tf.float32)
    assert len(state) == 2 and all(isinstance(s, tf.nn.rnn_cell.LSTMStateTuple) for s in state)
    names = [v.op.name for v in tf.trainable_variables()]
    assert names == [
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel",
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias",
        "rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel",
        "rnn/multi_rnn_cell/cell_1/basic_lstm_cell/bias",
    ]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        k0, b0, k1, b1 = sess.run(tf.trainable_variables())
        got = sess.run([out, state[1].h, state[0].c], {x: xv})
    lstm = torch.nn.LSTM(depth, units, num_layers=2, batch_first=True)
    _set_lstm(lstm, 0, k0, b0, depth)
    _set_lstm(lstm, 1, k1, b1, units)
    y, (h, c) = lstm(torch.from_numpy(xv))
    _close(got[0], y)
    _close(got[1], h[1])
    _close(got[2], c[0])


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
def test_lstm_cell_projection_matches_torch_and_peepholes_match_their_math():
    batch, steps, depth, units, proj = 2, 3, 4, 5, 3
    xv = _rand(batch, steps, depth)
    x = tf.placeholder(tf.float32, [None, steps, depth])
    cell = tf.nn.rnn_cell.LSTMCell(units, num_proj=proj)
    out, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    kernel, bias, projection = tf.trainable_variables()
    assert projection.op.name == "rnn/lstm_cell/projection/kernel"
    assert kernel.shape.as_list() == [depth + proj, 4 * units]
    assert out.shape.as_list() == [None, steps, proj]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        k, b, p = sess.run([kernel, bias, projection])
        got = sess.run([out, state.c], {x: xv})
    lstm = torch.nn.LSTM(depth, units, batch_first=True, proj_size=proj)
    _set_lstm(lstm, 0, k, b, depth)
    with torch.no_grad():
        lstm.weight_hr_l0.copy_(torch.from_numpy(p.T))
    y, (_, c) = lstm(torch.from_numpy(xv))
    _close(got[0], y)
    _close(got[1], c[0])

    # Peepholes and clipping: TensorFlow's math in torch ops.
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, steps, depth])
    cell = tf.nn.rnn_cell.LSTMCell(units, use_peepholes=True, cell_clip=0.5, forget_bias=0.3)
    out, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32, scope="peep")
    names = [v.op.name for v in tf.trainable_variables()]
    assert names[2:] == [
        "peep/lstm_cell/w_f_diag",
        "peep/lstm_cell/w_i_diag",
        "peep/lstm_cell/w_o_diag",
    ]
    grads = tf.gradients(tf.reduce_sum(out), tf.trainable_variables())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = sess.run(tf.trainable_variables())
        got = sess.run([out, state.c] + grads, {x: xv})
    k, b, wf, wi, wo = [torch.tensor(v, requires_grad=True) for v in values]
    c = h = torch.zeros(batch, units)
    hs = []
    for t in range(steps):
        i, j, f, o = (torch.cat([torch.from_numpy(xv[:, t]), h], 1) @ k + b).chunk(4, 1)
        c = torch.sigmoid(f + 0.3 + wf * c) * c + torch.sigmoid(i + wi * c) * torch.tanh(j)
        c = c.clamp(-0.5, 0.5)
        h = torch.sigmoid(o + wo * c) * torch.tanh(c)
        hs.append(h)
    y = torch.stack(hs, 1)
    y.sum().backward()
    _close(got[0], y)
    _close(got[1], c)
    for g, p in zip(got[2:], (k, b, wf, wi, wo)):
        _close(g, p.grad, atol=1e-4)


def test_state_is_tuple_false_concatenates_c_and_h():
    x = tf.placeholder(tf.float32, [None, 2, 3])
    xv = _rand(4, 2, 3)
    out, state = tf.nn.dynamic_rnn(
        tf.nn.rnn_cell.BasicLSTMCell(5, state_is_tuple=False), x, dtype=tf.float32
    )
    assert state.shape.as_list() == [None, 10]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got_out, got_state = sess.run([out, state], {x: xv})
    np.testing.assert_array_equal(got_state[:, 5:], got_out[:, -1])


# --- sequence_length, static_rnn, bidirectional --------------------------------------------------


def test_sequence_length_zeros_outputs_and_freezes_state_like_torch_per_sequence():
    batch, steps, depth, units = 3, 5, 2, 4
    xv, lengths = _rand(batch, steps, depth), np.array([5, 2, 3], np.int32)
    x = tf.placeholder(tf.float32, [None, steps, depth])
    seq = tf.placeholder(tf.int32, [None])
    out, state = tf.nn.dynamic_rnn(
        tf.nn.rnn_cell.BasicLSTMCell(units), x, sequence_length=seq, dtype=tf.float32
    )
    kernel, bias = tf.trainable_variables()
    g_kernel, g_x = tf.gradients(tf.reduce_sum(out) + tf.reduce_sum(state.c), [kernel, x])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        k, b = sess.run([kernel, bias])
        got = sess.run([out, state.c, state.h, g_kernel, g_x], {x: xv, seq: lengths})
    lstm = torch.nn.LSTM(depth, units, batch_first=True)
    _set_lstm(lstm, 0, k, b, depth)
    xt = torch.tensor(xv, requires_grad=True)
    total = 0
    for n in range(batch):
        y, (h, c) = lstm(xt[n : n + 1, : lengths[n]])
        total = total + y.sum() + c.sum()
        _close(got[0][n, : lengths[n]], y[0])
        assert not got[0][n, lengths[n] :].any()
        _close(got[1][n], c[0, 0])
        _close(got[2][n], h[0, 0])
    total.backward()
    gk, _ = _grad_lstm_to_tf(
        lstm.weight_ih_l0.grad.numpy(), lstm.weight_hh_l0.grad.numpy(), lstm.bias_ih_l0.grad.numpy()
    )
    _close(got[3], gk, atol=1e-4)
    _close(got[4], xt.grad, atol=1e-4)


def test_static_rnn_equals_dynamic_rnn_and_shares_names():
    batch, steps, depth = 3, 4, 2
    xv, lengths = _rand(batch, steps, depth), np.array([1, 4, 3], np.int32)
    x = tf.placeholder(tf.float32, [None, steps, depth])
    seq = tf.placeholder(tf.int32, [None])
    cell = tf.contrib.rnn.GRUCell(3)
    outs, state = tf.contrib.rnn.static_rnn(
        cell, tf.unstack(x, axis=1), sequence_length=seq, dtype=tf.float32
    )
    assert len(outs) == steps and tf.nn.static_rnn is tf.contrib.rnn.static_rnn
    names = [v.op.name for v in tf.trainable_variables()]
    assert names[0] == "rnn/gru_cell/gates/kernel"
    # The same cell again: its variables are reused.
    dyn_out, dyn_state = tf.nn.dynamic_rnn(
        cell, x, sequence_length=seq, dtype=tf.float32, scope="rnn"
    )
    assert len(tf.trainable_variables()) == 4
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        feed = {x: xv, seq: lengths}
        got_static, got_state, got_dyn, got_dyn_state = sess.run(
            [tf.stack(outs, 1), state, dyn_out, dyn_state], feed
        )
    np.testing.assert_allclose(got_static, got_dyn, rtol=1e-6)
    np.testing.assert_allclose(got_state, got_dyn_state, rtol=1e-6)
    np.testing.assert_array_equal(got_state[0], got_static[0, 0])  # length 1


def test_bidirectional_dynamic_rnn_matches_torch_bidirectional_lstm_per_sequence():
    batch, steps, depth, units = 3, 4, 2, 3
    xv, lengths = _rand(batch, steps, depth), np.array([4, 2, 3], np.int32)
    x = tf.placeholder(tf.float32, [None, steps, depth])
    seq = tf.placeholder(tf.int32, [None])
    (out_fw, out_bw), (st_fw, st_bw) = tf.nn.bidirectional_dynamic_rnn(
        tf.nn.rnn_cell.BasicLSTMCell(units),
        tf.nn.rnn_cell.BasicLSTMCell(units),
        x,
        sequence_length=seq,
        dtype=tf.float32,
    )
    names = [v.op.name for v in tf.trainable_variables()]
    assert names == [
        "bidirectional_rnn/fw/basic_lstm_cell/kernel",
        "bidirectional_rnn/fw/basic_lstm_cell/bias",
        "bidirectional_rnn/bw/basic_lstm_cell/kernel",
        "bidirectional_rnn/bw/basic_lstm_cell/bias",
    ]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        kf, bf, kb, bb = sess.run(tf.trainable_variables())
        got = sess.run([out_fw, out_bw, st_fw.h, st_bw.h], {x: xv, seq: lengths})
    lstm = torch.nn.LSTM(depth, units, batch_first=True, bidirectional=True)
    _set_lstm(lstm, 0, kf, bf, depth)
    w_ih, w_hh, b = _lstm_to_torch(kb, bb, depth, 1.0)
    with torch.no_grad():
        lstm.weight_ih_l0_reverse.copy_(torch.from_numpy(w_ih))
        lstm.weight_hh_l0_reverse.copy_(torch.from_numpy(w_hh))
        lstm.bias_ih_l0_reverse.copy_(torch.from_numpy(b))
        lstm.bias_hh_l0_reverse.zero_()
    for n in range(batch):
        y, (h, _) = lstm(torch.from_numpy(xv[n : n + 1, : lengths[n]]))
        _close(got[0][n, : lengths[n]], y[0, :, :units])
        _close(got[1][n, : lengths[n]], y[0, :, units:])
        assert not got[1][n, lengths[n] :].any()
        _close(got[2][n], h[0, 0])
        _close(got[3][n], h[1, 0])


def test_reverse_sequence_matches_numpy():
    xv = _rand(3, 5, 2)
    lengths = np.array([5, 0, 3], np.int64)
    x = tf.placeholder(tf.float32, [None, 5, 2])
    y = tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0)
    yt = tf.reverse_sequence(tf.transpose(x, [1, 0, 2]), lengths, seq_axis=0, batch_axis=1)
    with tf.Session() as sess:
        got, got_t = sess.run([y, yt], {x: xv})
    want = xv.copy()
    for n, k in enumerate(lengths):
        want[n, :k] = xv[n, :k][::-1]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_t, want.transpose(1, 0, 2))


# --- zero_state, DropoutWrapper, errors -----------------------------------------------------


def test_zero_state_for_int_and_run_time_batch_sizes():
    x = tf.placeholder(tf.float32, [None, 3])
    cell = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(2), tf.nn.rnn_cell.GRUCell(4)])
    fixed = cell.zero_state(5, tf.float32)
    dynamic = cell.zero_state(tf.shape(x)[0], tf.float32)
    assert fixed[0].c.shape.as_list() == [5, 2] and fixed[1].shape.as_list() == [5, 4]
    assert dynamic[0].h.shape.as_list() == [None, 2]
    with tf.Session() as sess:
        got = sess.run(dynamic, {x: np.ones((7, 3), np.float32)})
    assert got[0].c.shape == (7, 2) and got[1].shape == (7, 4)
    assert not got[0].c.any() and not got[1].any()
    with pytest.raises(ValueError, match=r"^\[zero_state\] batch_size must be an int"):
        cell.zero_state(tf.placeholder(tf.int32, []), tf.float32)


def test_dropout_wrapper_with_placeholder_keep_prob():
    steps = 3
    xv = _rand(4, steps, 2)
    x = tf.placeholder(tf.float32, [None, steps, 2])
    keep = tf.placeholder_with_default(1.0, [])
    lstm = tf.nn.rnn_cell.BasicLSTMCell(8)
    wrapped = tf.nn.rnn_cell.DropoutWrapper(lstm, output_keep_prob=keep)
    plain_out, _ = tf.nn.dynamic_rnn(lstm, x, dtype=tf.float32)
    drop_out, _ = tf.nn.dynamic_rnn(wrapped, x, dtype=tf.float32, scope="rnn")
    assert len(tf.trainable_variables()) == 2  # the wrapper has no variables of its own
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        plain, same = sess.run([plain_out, drop_out], {x: xv})
        plain, dropped = sess.run([plain_out, drop_out], {x: xv, keep: 0.5})
    np.testing.assert_allclose(same, plain, rtol=1e-6)
    kept = dropped != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(dropped[kept], 2 * plain[kept], rtol=1e-5)
    with pytest.raises(ValueError, match=r"^\[DropoutWrapper\] .*input_keep_prob.*1.5"):
        tf.nn.rnn_cell.DropoutWrapper(lstm, input_keep_prob=1.5)


def test_dropout_wrapper_state_keep_prob_spares_lstm_c():
    x = tf.placeholder(tf.float32, [None, 2, 3])
    cell = tf.nn.rnn_cell.DropoutWrapper(
        tf.nn.rnn_cell.BasicLSTMCell(6), state_keep_prob=0.5, input_keep_prob=0.9
    )
    _, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        c, h = sess.run(state, {x: _rand(50, 2, 3) + 3})
    assert (h == 0).any() and not (c == 0).any()


def test_errors_name_the_function_and_the_shapes():
    cell = tf.nn.rnn_cell.BasicLSTMCell(3)
    unknown_time = tf.placeholder(tf.float32, [None, None, 2, 2])
    with pytest.raises(ValueError, match=r"^\[dynamic_rnn\] .*unknown .*\(\?, \?, 2, 2\)"):
        tf.nn.dynamic_rnn(cell, unknown_time, dtype=tf.float32)
    with pytest.raises(ValueError, match=r"^\[dynamic_rnn\] .*rank 3"):
        tf.nn.dynamic_rnn(cell, tf.placeholder(tf.float32, [4, 2]), dtype=tf.float32)
    x = tf.placeholder(tf.float32, [None, 3, 2])
    with pytest.raises(ValueError, match=r"^\[dynamic_rnn\] .*must give a dtype"):
        tf.nn.dynamic_rnn(cell, x)
    with pytest.raises(TypeError, match=r"^\[dynamic_rnn\] sequence_length .*float32"):
        tf.nn.dynamic_rnn(cell, x, sequence_length=tf.constant([1.0]), dtype=tf.float32)
    with pytest.raises(ValueError, match=r"^\[static_rnn\] inputs must not be empty"):
        tf.nn.static_rnn(cell, [], dtype=tf.float32)
    with pytest.raises(
        ValueError, match=r"^\[GRUCell\] inputs must be \[batch, depth\].*\(\?, \?\)"
    ):
        tf.nn.rnn_cell.GRUCell(2)(tf.placeholder(tf.float32, [None, None]), tf.zeros([1, 2]))
    with pytest.raises(ValueError, match=r"^\[BasicLSTMCell\] the state must be an LSTMStateTuple"):
        tf.nn.rnn_cell.BasicLSTMCell(2)(tf.zeros([1, 2]), tf.zeros([1, 4]))


# --- training ----------------------------------------------------------------------------------


def test_lstm_classifier_trains_and_its_loss_falls():
    """A TF1-tutorial LSTM classifier: which half of a sequence holds the larger sum."""
    tf.set_random_seed(0)
    steps, depth, units, classes = 6, 2, 16, 2
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((64, steps, depth)).astype(np.float32)
    labels = (xs[:, : steps // 2].sum((1, 2)) > xs[:, steps // 2 :].sum((1, 2))).astype(np.int64)
    x = tf.placeholder(tf.float32, [None, steps, depth])
    y = tf.placeholder(tf.int64, [None])
    inputs = tf.unstack(x, steps, 1)
    lstm_cell = tf.contrib.rnn.BasicLSTMCell(units, forget_bias=1.0)
    outputs, _ = tf.contrib.rnn.static_rnn(lstm_cell, inputs, dtype=tf.float32)
    w = tf.Variable(tf.random_normal([units, classes]))
    b = tf.Variable(tf.random_normal([classes]))
    logits = tf.matmul(outputs[-1], w) + b
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train_op = tf.train.AdamOptimizer(learning_rate=0.05).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        feed = {x: xs, y: labels}
        first = sess.run(loss, feed)
        for _ in range(30):
            sess.run(train_op, feed)
        last = sess.run(loss, feed)
    assert last < 0.6 * first


def test_static_bidirectional_rnn_concatenates_the_two_directions():
    steps = 3
    xv, lengths = _rand(2, steps, 4), np.array([3, 1], np.int32)
    x = tf.placeholder(tf.float32, [None, steps, 4])
    seq = tf.placeholder(tf.int32, [None])
    fw, bw = tf.contrib.rnn.BasicLSTMCell(2), tf.contrib.rnn.GRUCell(3)
    outs, state_fw, state_bw = tf.contrib.rnn.static_bidirectional_rnn(
        fw, bw, tf.unstack(x, steps, 1), dtype=tf.float32, sequence_length=seq
    )
    (dyn_fw, dyn_bw), (dyn_state_fw, dyn_state_bw) = tf.nn.bidirectional_dynamic_rnn(
        fw, bw, x, dtype=tf.float32, sequence_length=seq
    )
    assert len(outs) == steps and outs[0].shape.as_list() == [None, 5]
    assert len(tf.trainable_variables()) == 6  # the second call reuses the cells' variables
    assert tf.trainable_variables()[2].op.name == "bidirectional_rnn/bw/gru_cell/gates/kernel"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        feed = {x: xv, seq: lengths}
        got, got_bw, want_fw, want_bw, want_state = sess.run(
            [tf.stack(outs, 1), state_bw, dyn_fw, dyn_bw, dyn_state_bw], feed
        )
    np.testing.assert_allclose(got, np.concatenate([want_fw, want_bw], 2), rtol=1e-6)
    np.testing.assert_allclose(got_bw, want_state, rtol=1e-6)


def test_a_cell_called_with_a_scope_makes_its_variables_there():
    cell = tf.nn.rnn_cell.BasicRNNCell(3)
    x = tf.placeholder(tf.float32, [None, 2])
    h = cell.zero_state(tf.shape(x)[0], tf.float32)
    out1, h = cell(x, h, scope="my_cell")
    out2, _ = cell(x, h)
    assert [v.op.name for v in tf.trainable_variables()] == ["my_cell/kernel", "my_cell/bias"]
    kernel, bias = tf.trainable_variables()
    xv = _rand(4, 2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got1, got2, k, b = sess.run([out1, out2, kernel, bias], {x: xv})
    want1 = np.tanh(np.concatenate([xv, np.zeros((4, 3), np.float32)], 1) @ k + b)
    want2 = np.tanh(np.concatenate([xv, want1], 1) @ k + b)
    np.testing.assert_allclose(got1, want1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got2, want2, rtol=1e-5, atol=1e-6)


def test_ptb_style_language_model_with_an_explicit_time_loop_trains():
    """The TF1 PTB tutorial's model: embeddings, a dropout-wrapped two-layer
    LSTM stepped in a Python loop with reuse_variables, sequence_loss, and
    clipped gradient descent."""
    tf.set_random_seed(1)
    batch, steps, vocab, size = 4, 5, 12, 16
    data = np.random.default_rng(2).integers(0, vocab, (batch, steps + 1))
    inputs_ids = tf.placeholder(tf.int32, [batch, steps])
    targets = tf.placeholder(tf.int32, [batch, steps])
    keep_prob = tf.placeholder_with_default(1.0, [])
    with tf.variable_scope("Model", initializer=tf.random_uniform_initializer(-0.1, 0.1)):

        def lstm_cell():
            cell = tf.contrib.rnn.BasicLSTMCell(size, forget_bias=0.0, state_is_tuple=True)
            return tf.contrib.rnn.DropoutWrapper(cell, output_keep_prob=keep_prob)

        cell = tf.contrib.rnn.MultiRNNCell([lstm_cell() for _ in range(2)], state_is_tuple=True)
        initial_state = cell.zero_state(batch, tf.float32)
        embedding = tf.get_variable("embedding", [vocab, size], dtype=tf.float32)
        inputs = tf.nn.embedding_lookup(embedding, inputs_ids)
        outputs, state = [], initial_state
        with tf.variable_scope("RNN"):
            for time_step in range(steps):
                if time_step > 0:
                    tf.get_variable_scope().reuse_variables()
                cell_output, state = cell(inputs[:, time_step, :], state)
                outputs.append(cell_output)
        output = tf.reshape(tf.concat(outputs, 1), [-1, size])
        softmax_w = tf.get_variable("softmax_w", [size, vocab], dtype=tf.float32)
        softmax_b = tf.get_variable("softmax_b", [vocab], dtype=tf.float32)
        logits = tf.reshape(tf.nn.xw_plus_b(output, softmax_w, softmax_b), [batch, steps, vocab])
        loss = tf.contrib.seq2seq.sequence_loss(
            logits,
            targets,
            tf.ones([batch, steps], dtype=tf.float32),
            average_across_timesteps=False,
            average_across_batch=True,
        )
        cost = tf.reduce_sum(loss)
        tvars = tf.trainable_variables()
        grads, _ = tf.clip_by_global_norm(tf.gradients(cost, tvars), 5.0)
        train_op = tf.train.GradientDescentOptimizer(1.0).apply_gradients(zip(grads, tvars))
    names = [v.op.name for v in tvars]
    assert names[:2] == [
        "Model/embedding",
        "Model/RNN/multi_rnn_cell/cell_0/basic_lstm_cell/kernel",
    ]
    assert len(names) == 7 and loss.shape.as_list() == [steps]
    feed = {inputs_ids: data[:, :-1], targets: data[:, 1:]}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(cost, feed)
        for _ in range(40):
            sess.run(train_op, {**feed, keep_prob: 0.9})
        last = sess.run(cost, feed)
    np.testing.assert_allclose(first, steps * np.log(vocab), rtol=0.05)  # uniform at the start
    assert last < 0.9 * first
