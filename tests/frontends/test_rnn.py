"""Recurrent layers, cells and sequence packing: one cell step against a
NumPy reference, and whole layers (outputs, final states and the gradients
of inputs, states and every parameter) against PyTorch loaded with the same
state dict. Expected values come from NumPy or PyTorch, never from devrt.
"""

from __future__ import annotations

import numpy as np
import pytest

import devrt
import devrt.nn as nn
from devrt.nn.utils import rnn as rnn_utils


def np_of(t) -> np.ndarray:
    return np.array(t.detach().cpu().numpy(), copy=True)


def d64(a, requires_grad=False):
    t = devrt.from_numpy(np.array(a, dtype=np.float64))
    return t.requires_grad_(True) if requires_grad else t


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


# --- one cell step against NumPy (no torch needed) -------------------------------------------


def np_cell(kind, x, h, c, w_ih, w_hh, b_ih, b_hh):
    gi = x @ w_ih.T + b_ih
    gh = h @ w_hh.T + b_hh
    if kind == "LSTMCell":
        i, f, g, o = np.split(gi + gh, 4, axis=-1)
        c2 = sig(f) * c + sig(i) * np.tanh(g)
        return sig(o) * np.tanh(c2), c2
    if kind == "GRUCell":
        r = sig(gi[:, :4] + gh[:, :4])
        z = sig(gi[:, 4:8] + gh[:, 4:8])
        n = np.tanh(gi[:, 8:] + r * gh[:, 8:])
        return (1 - z) * n + z * h
    return np.tanh(gi + gh)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_matches_numpy(kind):
    rng = np.random.default_rng(0)
    cell = getattr(nn, kind)(3, 4).double()
    params = {k: np_of(v) for k, v in cell.state_dict().items()}
    gates = {"RNNCell": 1, "LSTMCell": 4, "GRUCell": 3}[kind]
    assert params["weight_ih"].shape == (4 * gates, 3)
    assert params["weight_hh"].shape == (4 * gates, 4)
    assert params["bias_ih"].shape == (4 * gates,)
    bound = 1 / np.sqrt(4)
    assert all(np.abs(v).max() <= bound for v in params.values())
    x, h, c = rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    args = (params["weight_ih"], params["weight_hh"], params["bias_ih"], params["bias_hh"])
    if kind == "LSTMCell":
        got_h, got_c = cell(d64(x), (d64(h), d64(c)))
        want_h, want_c = np_cell(kind, x, h, c, *args)
        np.testing.assert_allclose(np_of(got_c), want_c, rtol=1e-12, atol=1e-12)
    else:
        got_h = cell(d64(x), d64(h))
        want_h = np_cell(kind, x, h, None, *args)
    np.testing.assert_allclose(np_of(got_h), want_h, rtol=1e-12, atol=1e-12)


def test_lstm_layer_unrolls_the_cell_numpy():
    """A 1-layer LSTM over 5 steps equals the NumPy cell applied 5 times."""
    rng = np.random.default_rng(1)
    lstm = nn.LSTM(3, 4).double()
    p = {k: np_of(v) for k, v in lstm.state_dict().items()}
    x = rng.normal(size=(5, 2, 3))
    h, c = np.zeros((2, 4)), np.zeros((2, 4))
    outs = []
    for t in range(5):
        h, c = np_cell(
            "LSTMCell",
            x[t],
            h,
            c,
            p["weight_ih_l0"],
            p["weight_hh_l0"],
            p["bias_ih_l0"],
            p["bias_hh_l0"],
        )
        outs.append(h)
    out, (hn, cn) = lstm(d64(x))
    np.testing.assert_allclose(np_of(out), np.stack(outs), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np_of(hn)[0], h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np_of(cn)[0], c, rtol=1e-12, atol=1e-12)


def test_cell_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    cell = nn.GRUCell(3, 4).double()
    x, h = d64(rng.normal(size=(2, 3)), True), d64(rng.normal(size=(2, 4)), True)
    w = rng.normal(size=(2, 4))
    (cell(x, h) * d64(w)).sum().backward()
    p = {k: np_of(v) for k, v in cell.state_dict().items()}
    args = (p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    xs, eps = np_of(x), 1e-6
    numeric = np.zeros_like(xs)
    for idx in np.ndindex(xs.shape):
        up, down = xs.copy(), xs.copy()
        up[idx] += eps
        down[idx] -= eps
        f = lambda v: (np_cell("GRUCell", v, np_of(h), None, *args) * w).sum()  # noqa: E731
        numeric[idx] = (f(up) - f(down)) / (2 * eps)
    np.testing.assert_allclose(np_of(x.grad), numeric, rtol=1e-6, atol=1e-8)


def test_parameter_names_and_shapes():
    lstm = nn.LSTM(5, 3, num_layers=2, bidirectional=True)
    shapes = {k: tuple(v.shape) for k, v in lstm.named_parameters()}
    assert list(shapes)[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert shapes["weight_ih_l0_reverse"] == (12, 5)
    assert shapes["weight_ih_l1"] == (12, 6)
    assert shapes["weight_hh_l1_reverse"] == (12, 3)
    assert len(shapes) == 16
    assert len(list(nn.GRU(5, 3, bias=False).parameters())) == 2


# --- whole layers against PyTorch ------------------------------------------------------------

LAYERS = [
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(batch_first=True)),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("GRU", dict(bias=False)),
    ("RNN", dict(nonlinearity="tanh", num_layers=2)),
    ("RNN", dict(nonlinearity="relu", bidirectional=True)),
]


def _pair(torch, kind, kwargs, input_size=5, hidden=4):
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(input_size, hidden, **kwargs)
    dm = getattr(nn, kind)(input_size, hidden, **kwargs)
    assert list(tm.state_dict()) == list(dm.state_dict())
    dm.load_state_dict({k: devrt.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    return tm, dm


def _states(torch, kind, layers, batch, hidden, rng, unbatched=False):
    shape = (layers, hidden) if unbatched else (layers, batch, hidden)
    arrays = [rng.normal(size=shape).astype(np.float32) for _ in range(2 if kind == "LSTM" else 1)]
    t = [torch.tensor(a, requires_grad=True) for a in arrays]
    d = [devrt.tensor(a, requires_grad=True) for a in arrays]
    return t, d


def _as_hx(kind, states):
    return tuple(states) if kind == "LSTM" else states[0]


def _flat(kind, h):
    return list(h) if kind == "LSTM" else [h]


def _compare_grads(tm, dm, t_inputs, d_inputs, rtol=1e-4, atol=1e-5):
    for a, b in zip(t_inputs, d_inputs):
        np.testing.assert_allclose(np_of(b.grad), a.grad.numpy(), rtol=rtol, atol=atol)
    d_params = dict(dm.named_parameters())
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(
            np_of(d_params[name].grad), p.grad.numpy(), rtol=rtol, atol=atol, err_msg=name
        )


@pytest.mark.parametrize(("kind", "kwargs"), LAYERS)
def test_layer_outputs_and_gradients_match_torch(kind, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    tm, dm = _pair(torch, kind, kwargs)
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    shape = (3, 6, 5) if kwargs.get("batch_first") else (6, 3, 5)
    x = rng.normal(size=shape).astype(np.float32)
    tx, dx = torch.tensor(x, requires_grad=True), devrt.tensor(x, requires_grad=True)
    th0, dh0 = _states(torch, kind, layers, 3, 4, rng)
    t_out, t_h = tm(tx, _as_hx(kind, th0))
    d_out, d_h = dm(dx, _as_hx(kind, dh0))
    np.testing.assert_allclose(np_of(d_out), t_out.detach().numpy(), rtol=1e-5, atol=1e-6)
    for a, b in zip(_flat(kind, t_h), _flat(kind, d_h)):
        np.testing.assert_allclose(np_of(b), a.detach().numpy(), rtol=1e-5, atol=1e-6)
    # Random weights on every output so that each gradient is non-trivial.
    w_out = rng.normal(size=tuple(t_out.shape)).astype(np.float32)
    w_h = [rng.normal(size=tuple(h.shape)).astype(np.float32) for h in _flat(kind, t_h)]
    loss_t = (t_out * torch.tensor(w_out)).sum() + sum(
        (h * torch.tensor(w)).sum() for h, w in zip(_flat(kind, t_h), w_h)
    )
    loss_d = (d_out * devrt.tensor(w_out)).sum() + sum(
        (h * devrt.tensor(w)).sum() for h, w in zip(_flat(kind, d_h), w_h)
    )
    loss_t.backward()
    loss_d.backward()
    _compare_grads(tm, dm, [tx, *th0], [dx, *dh0])


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_default_state_and_unbatched_input_match_torch(kind):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    tm, dm = _pair(torch, kind, dict(num_layers=2))
    x = rng.normal(size=(4, 5)).astype(np.float32)
    t_out, t_h = tm(torch.tensor(x))
    d_out, d_h = dm(devrt.tensor(x))
    assert tuple(d_out.shape) == (4, 4)
    np.testing.assert_allclose(np_of(d_out), t_out.detach().numpy(), rtol=1e-5, atol=1e-6)
    th0, dh0 = _states(torch, kind, 2, 1, 4, rng, unbatched=True)
    t_out, t_h = tm(torch.tensor(x), _as_hx(kind, th0))
    d_out, d_h = dm(devrt.tensor(x), _as_hx(kind, dh0))
    for a, b in zip(_flat(kind, t_h), _flat(kind, d_h)):
        assert tuple(b.shape) == (2, 4)
        np.testing.assert_allclose(np_of(b), a.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("kind", "kwargs"), [LAYERS[0], LAYERS[2], LAYERS[5]])
def test_packed_sequence_matches_torch(kind, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    tm, dm = _pair(torch, kind, kwargs)
    batch_first = kwargs.get("batch_first", False)
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    lengths = [4, 6, 1, 3]
    x = rng.normal(size=(4, 6, 5) if batch_first else (6, 4, 5)).astype(np.float32)
    tx, dx = torch.tensor(x, requires_grad=True), devrt.tensor(x, requires_grad=True)
    th0, dh0 = _states(torch, kind, layers, 4, 4, rng)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first, enforce_sorted=False)
    dp = rnn_utils.pack_padded_sequence(dx, lengths, batch_first, enforce_sorted=False)
    np.testing.assert_allclose(np_of(dp.data), tp.data.detach().numpy())
    assert dp.batch_sizes.tolist() == tp.batch_sizes.tolist()
    assert dp.sorted_indices.tolist() == tp.sorted_indices.tolist()
    t_out, t_h = tm(tp, _as_hx(kind, th0))
    d_out, d_h = dm(dp, _as_hx(kind, dh0))
    assert isinstance(d_out, rnn_utils.PackedSequence)
    t_pad, t_len = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first, -1.0, 7)
    d_pad, d_len = rnn_utils.pad_packed_sequence(d_out, batch_first, -1.0, 7)
    assert d_len.tolist() == t_len.tolist() == lengths
    np.testing.assert_allclose(np_of(d_pad), t_pad.detach().numpy(), rtol=1e-5, atol=1e-6)
    for a, b in zip(_flat(kind, t_h), _flat(kind, d_h)):
        np.testing.assert_allclose(np_of(b), a.detach().numpy(), rtol=1e-5, atol=1e-6)
    w_out = rng.normal(size=tuple(t_pad.shape)).astype(np.float32)
    w_h = [rng.normal(size=tuple(h.shape)).astype(np.float32) for h in _flat(kind, t_h)]
    (
        (t_pad * torch.tensor(w_out)).sum()
        + sum((h * torch.tensor(w)).sum() for h, w in zip(_flat(kind, t_h), w_h))
    ).backward()
    (
        (d_pad * devrt.tensor(w_out)).sum()
        + sum((h * devrt.tensor(w)).sum() for h, w in zip(_flat(kind, d_h), w_h))
    ).backward()
    _compare_grads(tm, dm, [tx, *th0], [dx, *dh0])


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch(kind):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    torch.manual_seed(0)
    tc, dc = getattr(torch.nn, kind)(5, 4), getattr(nn, kind)(5, 4)
    dc.load_state_dict({k: devrt.tensor(v.numpy()) for k, v in tc.state_dict().items()})
    x = rng.normal(size=(3, 5)).astype(np.float32)
    tx, dx = torch.tensor(x, requires_grad=True), devrt.tensor(x, requires_grad=True)
    th, dh = _states(torch, "LSTM" if kind == "LSTMCell" else kind, 3, 1, 4, rng, unbatched=True)
    t_out = tc(tx, _as_hx("LSTM" if kind == "LSTMCell" else kind, th))
    d_out = dc(dx, _as_hx("LSTM" if kind == "LSTMCell" else kind, dh))
    t_out = list(t_out) if kind == "LSTMCell" else [t_out]
    d_out = list(d_out) if kind == "LSTMCell" else [d_out]
    weights = [rng.normal(size=(3, 4)).astype(np.float32) for _ in t_out]
    sum((o * torch.tensor(w)).sum() for o, w in zip(t_out, weights)).backward()
    sum((o * devrt.tensor(w)).sum() for o, w in zip(d_out, weights)).backward()
    for a, b in zip(t_out, d_out):
        np.testing.assert_allclose(np_of(b), a.detach().numpy(), rtol=1e-5, atol=1e-6)
    _compare_grads(tc, dc, [tx, *th], [dx, *dh])
    # Unbatched input and no state.
    t1, d1 = tc(torch.tensor(x[0])), dc(devrt.tensor(x[0]))
    t1, d1 = (t1[0], d1[0]) if kind == "LSTMCell" else (t1, d1)
    assert tuple(d1.shape) == (4,)
    np.testing.assert_allclose(np_of(d1), t1.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_dropout_between_layers_only_in_training():
    devrt.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = devrt.randn(5, 2, 3)
    lstm.eval()
    a, _ = lstm(x)
    b, _ = lstm(x)
    np.testing.assert_array_equal(np_of(a), np_of(b))
    lstm.train()
    c, _ = lstm(x)
    assert not np.allclose(np_of(a), np_of(c))
    with pytest.warns(UserWarning, match="dropout"):
        nn.GRU(3, 4, dropout=0.2)


def test_rnn_trains():
    devrt.manual_seed(0)
    model = nn.GRU(2, 8, batch_first=True)
    head = nn.Linear(8, 1)
    opt = devrt.optim.Adam([*model.parameters(), *head.parameters()], lr=0.05)
    x = devrt.randn(16, 5, 2)
    y = x.sum((1, 2)).unsqueeze(1)
    losses = []
    for _ in range(60):
        out, h = model(x)
        loss = ((head(out[:, -1]) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.2 * losses[0]


# --- packing utilities -----------------------------------------------------------------------


def test_pad_sequence_and_pack_sequence():
    a, b, c = d64(np.ones((3, 2))), d64(2 * np.ones((1, 2))), d64(3 * np.ones((2, 2)))
    padded = rnn_utils.pad_sequence([a, b, c], batch_first=True, padding_value=-1)
    assert tuple(padded.shape) == (3, 3, 2)
    np.testing.assert_array_equal(np_of(padded)[1], [[2, 2], [-1, -1], [-1, -1]])
    left = rnn_utils.pad_sequence([a, b], padding_side="left")
    assert tuple(left.shape) == (3, 2, 2)
    np.testing.assert_array_equal(np_of(left)[:, 1, 0], [0, 0, 2])
    packed = rnn_utils.pack_sequence([a, c, b])
    assert packed.batch_sizes.tolist() == [3, 2, 1]
    np.testing.assert_array_equal(np_of(packed.data)[:, 0], [1, 3, 2, 1, 3, 1])
    out, lengths = rnn_utils.pad_packed_sequence(packed)
    assert lengths.tolist() == [3, 2, 1]
    with pytest.raises(RuntimeError, match=r"^\[pack_sequence\]|^\[pack_padded_sequence\]"):
        rnn_utils.pack_sequence([b, a])


# --- errors ------------------------------------------------------------------------------


def test_errors_name_the_layer_and_shapes():
    lstm = nn.LSTM(8, 4)
    with pytest.raises(
        RuntimeError,
        match=r"^\[LSTM\] input.size\(-1\) must be equal to input_size. Expected 8, got 5$",
    ):
        lstm(devrt.zeros(3, 2, 5))
    with pytest.raises(ValueError, match=r"^\[LSTM\] Expected input to be 2D or 3D, got 4D"):
        lstm(devrt.zeros(3, 2, 2, 8))
    with pytest.raises(RuntimeError, match=r"^\[LSTM\] Expected hidden\[0\] size \(1, 2, 4\)"):
        lstm(devrt.zeros(3, 2, 8), (devrt.zeros(2, 2, 4), devrt.zeros(1, 2, 4)))
    with pytest.raises(RuntimeError, match=r"^\[GRU\] For batched 3-D input, hx should also be"):
        nn.GRU(8, 4)(devrt.zeros(3, 2, 8), devrt.zeros(2, 4))
    with pytest.raises(ValueError, match=r"^\[RNN\] input dtype \(devrt.float64\)"):
        nn.RNN(8, 4)(devrt.zeros(3, 2, 8, dtype=devrt.float64))
    with pytest.raises(RuntimeError, match=r"^\[GRUCell\] input has inconsistent input_size"):
        nn.GRUCell(8, 4)(devrt.zeros(2, 5))
    with pytest.raises(RuntimeError, match=r"^\[LSTMCell\] Input batch size 2 doesn't match"):
        nn.LSTMCell(8, 4)(devrt.zeros(2, 8), (devrt.zeros(3, 4), devrt.zeros(3, 4)))
    with pytest.raises(NotImplementedError, match=r"^\[LSTM\] proj_size"):
        nn.LSTM(8, 4, proj_size=2)
    with pytest.raises(ValueError, match=r"^\[RNN\] Unknown nonlinearity"):
        nn.RNN(8, 4, nonlinearity="gelu")
    with pytest.raises(RuntimeError, match=r"^\[pack_padded_sequence\] `lengths` array must"):
        rnn_utils.pack_padded_sequence(devrt.zeros(3, 2, 8), [1, 3])
