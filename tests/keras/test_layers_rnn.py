"""SimpleRNN, LSTM, GRU, their cells and RNN(cell): forward against NumPy
step loops, gradients by finite differences, and Keras 3 as an oracle."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt import keras
from devrt.testing.gradcheck import gradcheck

RNG = np.random.default_rng(2)


def _tensor(x, device, grad=False):
    t = devrt.from_numpy(np.ascontiguousarray(x)).to(device)
    return t.requires_grad_() if grad else t


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def simple_rnn_ref(x, k, rk, b, h):
    outs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ k + h @ rk + b)
        outs.append(h)
    return np.stack(outs, 1), [h]


def lstm_ref(x, k, rk, b, h, c):
    outs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ k + h @ rk + b
        i, f, g, o = np.split(z, 4, -1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1), [h, c]


def gru_ref(x, k, rk, b, h, reset_after=True):
    u = h.shape[1]
    outs = []
    for t in range(x.shape[1]):
        if reset_after:
            xz, xr, xh = np.split(x[:, t] @ k + b[0], 3, -1)
            rz, rr, rh = np.split(h @ rk + b[1], 3, -1)
            z, r = _sigmoid(xz + rz), _sigmoid(xr + rr)
            hh = np.tanh(xh + r * rh)
        else:
            xz, xr, xh = np.split(x[:, t] @ k + b, 3, -1)
            z = _sigmoid(xz + h @ rk[:, :u])
            r = _sigmoid(xr + h @ rk[:, u : 2 * u])
            hh = np.tanh(xh + (r * h) @ rk[:, 2 * u :])
        h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, 1), [h]


def _ref(name, x, weights, states, **kw):
    k, rk, b = weights
    if name == "SimpleRNN":
        return simple_rnn_ref(x, k, rk, b, *states)
    if name == "LSTM":
        return lstm_ref(x, k, rk, b, *states)
    return gru_ref(x, k, rk, b, *states, **kw)


SHAPES = {
    "SimpleRNN": lambda u: [(3, u), (u, u), (u,)],
    "LSTM": lambda u: [(3, 4 * u), (u, 4 * u), (4 * u,)],
    "GRU": lambda u: [(3, 3 * u), (u, 3 * u), (2, 3 * u)],
}


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"return_sequences": True},
        {"return_state": True},
        {"go_backwards": True, "return_sequences": True},
    ],
)
def test_rnn_forward(kdevice, name, kw):
    x = RNG.standard_normal((2, 5, 3))
    layer = getattr(keras.layers, name)(4, dtype="float64", **kw)
    layer(x)
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    assert [w.shape for w in layer.weights] == SHAPES[name](4)
    weights = [RNG.standard_normal(w.shape) * 0.5 for w in layer.weights]
    layer.set_weights(weights)
    states = [np.zeros((2, 4))] * (2 if name == "LSTM" else 1)
    seq, final = _ref(name, x[:, ::-1] if kw.get("go_backwards") else x, weights, states)
    out = layer(x)
    outs = out if kw.get("return_state") else [out]
    expected = seq if kw.get("return_sequences") else seq[:, -1]
    np.testing.assert_allclose(outs[0].cpu().numpy(), expected, atol=1e-12)
    if kw.get("return_state"):
        assert len(outs) == 1 + len(final)
        for got, want in zip(outs[1:], final):
            np.testing.assert_allclose(got.cpu().numpy(), want, atol=1e-12)


def test_initial_state_and_gru_reset_before(kdevice):
    x = RNG.standard_normal((2, 4, 3))
    h0 = RNG.standard_normal((2, 4))
    layer = keras.layers.GRU(4, reset_after=False, return_sequences=True, dtype="float64")
    layer(x)
    assert layer.weights[2].shape == (12,)
    weights = [RNG.standard_normal(w.shape) * 0.5 for w in layer.weights]
    layer.set_weights(weights)
    expected, _ = gru_ref(x, *weights, h0, reset_after=False)
    got = layer(x, initial_state=[_tensor(h0, kdevice)])
    np.testing.assert_allclose(got.cpu().numpy(), expected, atol=1e-12)
    lstm = keras.layers.LSTM(4, dtype="float64")
    with pytest.raises(ValueError, match="2 states"):
        lstm(x, initial_state=[_tensor(h0, kdevice)])


def test_default_initializers():
    layer = keras.layers.LSTM(3)
    layer(np.zeros((2, 4, 5), "float32"))
    kernel, recurrent, bias = layer.get_weights()
    np.testing.assert_array_equal(bias, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])  # unit_forget_bias
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(3), atol=1e-5)  # orthogonal
    limit = np.sqrt(6 / (5 + 12))  # glorot_uniform
    assert np.abs(kernel).max() <= limit


def _call_with(layer, names, values, *args, **kwargs):
    cell = layer.cell
    saved = [getattr(cell, n) for n in names]
    for n, v in zip(names, values):
        object.__setattr__(cell, n, v)
    try:
        return layer(*args, **kwargs)
    finally:
        for n, v in zip(names, saved):
            object.__setattr__(cell, n, v)


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.layers.SimpleRNN(3, return_sequences=True, dtype="float64"),
        lambda: keras.layers.LSTM(3, return_state=True, dtype="float64"),
        lambda: keras.layers.GRU(3, go_backwards=True, dtype="float64"),
        lambda: keras.layers.GRU(3, reset_after=False, dtype="float64"),
    ],
)
def test_rnn_gradients(kdevice, make):
    layer = make()
    x = _tensor(RNG.standard_normal((2, 3, 2)), kdevice, True)
    layer(x)
    names = ("kernel", "recurrent_kernel", "bias")
    gradcheck(
        lambda x, *w: _call_with(layer, names, w, x),
        (x, *(getattr(layer.cell, n) for n in names)),
    )


def test_generic_rnn_with_custom_cell(kdevice):
    class MinimalCell(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.built = True

        def call(self, inputs, states):
            out = keras.ops.matmul(inputs, self.kernel) + states[0]
            return out, [out]

    layer = keras.layers.RNN(MinimalCell(2), return_sequences=True)
    x = RNG.standard_normal((2, 3, 4)).astype("float32")
    y = layer(x)
    (k,) = layer.get_weights()
    np.testing.assert_allclose(y.cpu().numpy(), np.cumsum(x @ k, axis=1), atol=1e-5)


def test_cells_step_alone(kdevice):
    cell = keras.layers.LSTMCell(3, dtype="float64")
    x, h, c = RNG.standard_normal((2, 4)), np.zeros((2, 3)), np.zeros((2, 3))
    out, (h1, c1) = cell(_tensor(x, kdevice), [_tensor(h, kdevice), _tensor(c, kdevice)])
    _, (rh, rc) = lstm_ref(x[:, None], *cell.get_weights(), h, c)
    np.testing.assert_allclose(h1.cpu().numpy(), rh, atol=1e-12)
    np.testing.assert_allclose(c1.cpu().numpy(), rc, atol=1e-12)


def test_dropout_masks(kdevice):
    layer = keras.layers.SimpleRNN(3, dropout=0.5, recurrent_dropout=0.5, return_sequences=True)
    x = RNG.standard_normal((4, 6, 2)).astype("float32")
    a = layer(x).cpu().numpy()
    np.testing.assert_array_equal(a, layer(x, training=False).cpu().numpy())
    b = layer(x, training=True).cpu().numpy()
    assert b.shape == a.shape and not np.allclose(a, b)


def test_bad_rank():
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        keras.layers.LSTM(2)(np.zeros((2, 3), "float32"))


def test_symbolic():
    x = keras.Input((None, 3))
    out, h, c = keras.layers.LSTM(4, return_sequences=True, return_state=True)(x)
    assert out.shape == (None, None, 4) and h.shape == (None, 4) and c.shape == (None, 4)


# --- Keras 3 as the oracle ----------------------------------------------------------


def _np(y):
    if isinstance(y, (list, tuple)):
        return [_np(a) for a in y]
    return y.detach().cpu().numpy() if hasattr(y, "detach") else np.asarray(y)


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"return_sequences": True, "return_state": True},
        {"go_backwards": True, "activation": "relu", "use_bias": False},
    ],
)
def test_against_keras3(keras3, name, kw):
    x = RNG.standard_normal((2, 5, 3)).astype("float32")
    theirs, ours = getattr(keras3.layers, name)(4, **kw), getattr(keras.layers, name)(4, **kw)
    theirs(x)
    ours(x)
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    expected, got = _np(theirs(x)), _np(ours(x))
    for a, b in zip(
        got if isinstance(got, list) else [got],
        expected if isinstance(expected, list) else [expected],
    ):
        np.testing.assert_allclose(a, b, atol=2e-5)
    mine, their_config = ours.get_config(), theirs.get_config()
    mine.pop("name"), their_config.pop("name")
    assert mine == their_config
    assert type(ours).from_config(theirs.get_config()).get_config()["units"] == 4


@pytest.mark.parametrize("cell", ["SimpleRNNCell", "LSTMCell", "GRUCell"])
def test_rnn_cell_against_keras3(keras3, cell):
    x = RNG.standard_normal((2, 5, 3)).astype("float32")
    theirs = keras3.layers.RNN(getattr(keras3.layers, cell)(4), return_sequences=True)
    ours = keras.layers.RNN(getattr(keras.layers, cell)(4), return_sequences=True)
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(_np(ours(x)), _np(theirs(x)), atol=2e-5)
    mine, their_config = ours.get_config(), theirs.get_config()
    for config in (mine, their_config):
        config.pop("name")
        config["cell"].pop("build_config", None)
        config["cell"]["config"].pop("name")
    assert mine == their_config
    clone = keras.layers.RNN.from_config(theirs.get_config())
    assert type(clone.cell).__name__ == cell


def test_sequential_lstm(keras3):
    if not hasattr(keras, "Sequential"):
        pytest.skip("devrt.keras.Sequential is not there yet")

    def build(k):
        return k.Sequential(
            [
                k.Input((6,), dtype="int32"),
                k.layers.Embedding(10, 4),
                k.layers.LSTM(5, return_sequences=True),
                k.layers.GRU(3),
                k.layers.Dense(2),
            ]
        )

    theirs, ours = build(keras3), build(keras)
    ours.set_weights(theirs.get_weights())
    x = RNG.integers(0, 10, (3, 6))
    np.testing.assert_allclose(_np(ours(x)), _np(theirs(x)), atol=2e-5)


@pytest.mark.parametrize("recurrent_dropout", [0.4, 0.0], ids=["recurrent", "input_only"])
@pytest.mark.parametrize(
    "name,kw",
    [("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False}), ("SimpleRNN", {})],
    ids=["LSTM", "GRU", "GRU_reset_before", "SimpleRNN"],
)
def test_dropout_masks_against_keras3(keras3, name, kw, recurrent_dropout):
    """The same dropout masks give Keras 3's outputs and gradients: with
    recurrent dropout a gated cell has one input and one recurrent mask per
    gate (Keras' implementation 1), and a GRU carries the unmasked state."""
    import torch

    batch, steps, features, units = 3, 5, 4, 6
    x = RNG.standard_normal((batch, steps, features)).astype("float32")
    kw = {"dropout": 0.3, "recurrent_dropout": recurrent_dropout, "return_sequences": True, **kw}
    theirs, ours = (
        getattr(keras3.layers, name)(units, **kw),
        getattr(keras.layers, name)(units, **kw),
    )
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    gates = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[name]
    count = gates if recurrent_dropout else 1
    rates = {0.3: (batch, features), 0.4: (batch, units)}
    masks = {
        rate: [(RNG.random(shape) > rate).astype("float32") / (1 - rate) for _ in range(count)]
        for rate, shape in rates.items()
    }

    def keras_masks(step_input, rate):
        made = [torch.from_numpy(m) for m in masks[rate]]
        return made if getattr(theirs.cell, "dropout_mask_count", None) else made[0]

    def devrt_masks(like, rate):
        return [devrt.from_numpy(m.reshape(tuple(like.shape))) for m in masks[rate]]

    theirs.cell._create_dropout_mask = keras_masks
    ours.cell.dropout_masks = devrt_masks
    tx = torch.from_numpy(x).requires_grad_()
    expected = theirs(tx, training=True)
    expected.sum().backward()
    ox = devrt.from_numpy(x).requires_grad_()
    got = ours(ox, training=True)
    got.sum().backward()
    np.testing.assert_allclose(_np(got), _np(expected), atol=2e-5)
    np.testing.assert_allclose(_np(ox.grad), _np(tx.grad), atol=2e-5)


def test_lstm_with_dropout_trains_as_keras3_from_the_same_weights_and_masks(keras3):
    """keras_imdb_lstm.py's model, small: from the same initial weights and
    with the same dropout masks at every step, fit gives Keras 3's losses and
    weights. (Keras also draws masks in a call of its own before the first
    step, so the masks are fixed: one set for the inputs, one for the state.)"""
    import torch

    rng = np.random.default_rng(11)
    x = rng.integers(1, 50, (64, 10))
    y = (x[:, :3].sum(1) > 75).astype("float32")
    fixed = [
        [(rng.random((16, 8)) > 0.2).astype("float32") / 0.8 for _ in range(4)] for _ in range(2)
    ]

    def build(k):
        k.utils.set_random_seed(3)
        model = k.Sequential(
            [
                k.Input((10,), dtype="int32"),
                k.layers.Embedding(50, 8),
                k.layers.LSTM(8, dropout=0.2, recurrent_dropout=0.2),
                k.layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(loss="binary_crossentropy", optimizer="adam")
        return model

    def alternate(convert):
        # Both draw the input masks, then the recurrent ones, at each call.
        calls = []

        def draw(*_):
            calls.append(None)
            return [convert(m) for m in fixed[(len(calls) - 1) % 2]]

        return draw

    theirs, ours = build(keras3), build(keras)
    ours.set_weights(theirs.get_weights())
    theirs.layers[1].cell._create_dropout_mask = alternate(torch.from_numpy)
    our_draw = alternate(lambda m: m)
    ours.layers[1].cell.dropout_masks = lambda like, rate: [
        devrt.from_numpy(m.reshape(tuple(like.shape))) for m in our_draw()
    ]
    kwargs = dict(batch_size=16, epochs=3, shuffle=False, verbose=0)
    reference = theirs.fit(x, y, **kwargs).history["loss"]
    mine = ours.fit(x, y, **kwargs).history["loss"]
    np.testing.assert_allclose(mine, reference, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
