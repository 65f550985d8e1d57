"""Keras models: Sequential, the functional API, subclassed models and
custom layers; their configs, weights and summaries. Every model runs on
every device through ``kdevice``."""

from __future__ import annotations

import json

import numpy as np
import pytest

import devrt
from devrt import keras
from devrt.keras import layers, ops


def test_lecture_program(kdevice):
    """The lecture's Keras program with only its imports changed: a
    Sequential of Dense and Activation layers, SGD with learning rate 1 and
    mean squared error; the loss falls."""
    from devrt.keras.layers import Activation, Dense
    from devrt.keras.models import Sequential
    from devrt.keras.optimizers import SGD

    N, D, H = 64, 1000, 100
    model = Sequential()
    model.add(Dense(H, input_shape=(D,)))
    model.add(Activation("relu"))
    model.add(Dense(D))
    optimizer = SGD(learning_rate=1e0)
    model.compile(loss="mean_squared_error", optimizer=optimizer)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D))
    y = rng.standard_normal((N, D))
    history = model.fit(x, y, epochs=50, batch_size=N, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 50
    assert losses[-1] < 0.85 * losses[0]
    assert all(b <= a for a, b in zip(losses, losses[1:]))
    # Data and weights live on the chosen device.
    assert str(model.layers[0].kernel.device).split(":")[0] == kdevice.split(":")[0]


def _numpy_mlp(x, weights):
    w1, b1, w2, b2 = weights
    return np.maximum(x @ w1 + b1, 0) @ w2 + b2


def test_sequential_forms_agree(kdevice):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    a = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(2)])
    b = keras.Sequential([layers.Dense(3, activation="relu", input_shape=(4,)), layers.Dense(2)])
    c = keras.Sequential()
    c.add(layers.Dense(3, activation="relu"))
    c.add(layers.Dense(2))
    assert a.built and b.built and not c.built
    c(x)  # deferred build on the first call
    assert c.built
    for m in (b, c):
        m.set_weights(a.get_weights())
    expected = _numpy_mlp(x, a.get_weights())
    for m in (a, b, c):
        np.testing.assert_allclose(m.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    assert [w.shape for w in a.get_weights()] == [(4, 3), (3,), (3, 2), (2,)]
    assert a.count_params() == 4 * 3 + 3 + 3 * 2 + 2
    assert a.output_shape == (None, 2)


def test_sequential_add_pop_and_get_layer():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="a"), layers.Dense(2)])
    assert model.get_layer("a") is model.layers[0]
    assert model.get_layer(index=1) is model.layers[1]
    popped = model.pop()
    assert isinstance(popped, layers.Dense) and len(model.layers) == 1
    assert model.output_shape == (None, 3)
    with pytest.raises(ValueError, match="No such layer: b"):
        model.get_layer("b")
    with pytest.raises(ValueError, match="unique names"):
        model.add(layers.Dense(1, name="a"))
    with pytest.raises(ValueError, match="Only instances of `keras.Layer`"):
        model.add("dense")


def test_functional_multiple_inputs_outputs_and_shared_layer(kdevice):
    a = keras.Input((4,), name="a")
    b = keras.Input((4,), name="b")
    shared = layers.Dense(3, name="shared")
    merged = shared(a) + shared(b)
    out = layers.Dense(2, name="out")(merged)
    model = keras.Model([a, b], [out, merged])
    assert model.output_names == ["out", "add"]
    assert len(model.weights) == 4  # the shared layer's weights count once
    rng = np.random.default_rng(2)
    xa, xb = (rng.standard_normal((6, 4)).astype(np.float32) for _ in range(2))
    y_out, y_merged = model.predict([xa, xb], verbose=0)
    k, bias, k2, b2 = model.get_weights()
    np.testing.assert_allclose(y_merged, xa @ k + bias + xb @ k + bias, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y_out, y_merged @ k2 + b2, rtol=1e-5, atol=1e-5)
    # Dict inputs by name, too.
    y_dict = model.predict({"a": xa, "b": xb}, verbose=0)
    np.testing.assert_allclose(y_dict[0], y_out, rtol=1e-6)
    model.compile(optimizer="adam", loss=["mse", "mse"], metrics={"out": ["mae"]})
    history = model.fit(
        [xa, xb], [rng.standard_normal((6, 2)), rng.standard_normal((6, 3))], epochs=2, verbose=0
    )
    assert set(history.history) == {"loss", "out_loss", "add_loss", "out_mae"}


def test_functional_input_checks():
    inp = keras.Input((4,))
    model = keras.Model(inp, layers.Dense(2)(inp))
    with pytest.raises(ValueError, match=r"expected shape=\(None, 4\), found shape=\(3, 5\)"):
        model(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="KerasTensors"):
        keras.Model(inp, np.zeros(3))


class Counter(layers.Layer):
    """A custom layer with a trainable kernel, a non-trainable counter of
    training calls and a training-only branch."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="kernel"
        )
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False, name="calls")

    def call(self, inputs, training=None):
        if training:
            self.calls.assign(self.calls + 1.0)
        return ops.matmul(inputs, self.kernel)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class TwoLayers(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.counter = Counter(8)
        self.head = layers.Dense(1)

    def call(self, inputs, training=False):
        return self.head(ops.relu(self.counter(inputs)))


def test_subclassed_model_and_custom_layer(kdevice):
    model = TwoLayers()
    with pytest.raises(ValueError, match="has not yet been built"):
        model.summary()
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((64, 5)), rng.standard_normal((64, 1))
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    # 2 epochs of 4 batches ran in training mode; evaluate and predict did not count.
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert float(model.counter.calls.numpy()) == 8.0
    assert len(model.weights) == 4 and len(model.trainable_weights) == 3
    assert len(model.non_trainable_weights) == 1
    model.counter.trainable = False
    assert len(model.trainable_weights) == 2
    assert not model.counter.kernel.requires_grad
    before = model.counter.kernel.numpy()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.counter.kernel.numpy(), before)


def test_custom_layer_in_functional_graph_and_ops_on_keras_tensors():
    inp = keras.Input((5,))
    h = Counter(4)(inp)
    out = ops.add(ops.multiply(h, 2.0), 1.0)
    model = keras.Model(inp, out)
    x = np.ones((2, 5), np.float32)
    (kernel, _) = model.get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0), 2 * (x @ kernel) + 1, rtol=1e-5)


def test_build_error_of_subclassed_model_says_what_to_do():
    model = TwoLayers()
    with pytest.raises(ValueError, match="not yet been built"):
        model.count_params()
    model.build((None, 5))
    assert model.count_params() == 5 * 8 + 1 + 8 + 1


def test_config_and_json_round_trip():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            layers.Dense(3, activation="relu", kernel_regularizer="l2"),
            layers.Dropout(0.5),
            layers.Dense(2, use_bias=False),
        ],
        name="net",
    )
    config = json.loads(model.to_json())
    assert config["class_name"] == "Sequential"
    assert [entry["class_name"] for entry in config["config"]["layers"]] == [
        "InputLayer",
        "Dense",
        "Dropout",
        "Dense",
    ]
    clone = keras.models.model_from_json(model.to_json())
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in model.layers]
    assert clone.get_config() == model.get_config()
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(4).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0))

    a = keras.Input((4,), name="a")
    shared = layers.Dense(3)
    fmodel = keras.Model(a, layers.Dense(1)(shared(a) + shared(a)))
    frozen = json.dumps(fmodel.get_config())
    rebuilt = keras.Model.from_config(json.loads(frozen))
    assert json.dumps(rebuilt.get_config()) == frozen


def test_summary_table(capsys):
    model = keras.Sequential(
        [keras.Input((4,)), layers.Dense(3, name="d1"), layers.Activation("relu", name="act")],
        name="tiny",
    )
    model.summary()
    text = capsys.readouterr().out
    assert 'Model: "tiny"' in text
    assert "d1 (Dense)" in text and "(None, 3)" in text and "act (Activation)" in text
    assert " Total params: 15 (60.00 B)" in text
    assert " Trainable params: 15 (60.00 B)" in text
    assert " Non-trainable params: 0 (0.00 B)" in text


def test_set_weights_errors():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3)])
    with pytest.raises(ValueError, match="expecting 2 weights"):
        model.layers[0].set_weights([np.zeros((4, 3))])
    with pytest.raises(ValueError, match=r"\(4, 3\) is not compatible .* \(3, 4\)"):
        model.layers[0].set_weights([np.zeros((3, 4)), np.zeros(3)])


def test_layer_errors():
    with pytest.raises(ValueError, match="Unrecognized keyword arguments"):
        layers.Dense(3, bogus=1)
    with pytest.raises(ValueError, match="positive integer"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="Unknown activation: 'relux'.*relu"):
        layers.Dense(3, activation="relux")
    with pytest.raises(RuntimeError, match=r"super\(\).__init__\(\)"):

        class Broken(layers.Layer):
            def __init__(self):
                self.inner = layers.Dense(2)

        Broken()


def test_variables_are_devrt_tensors():
    v = keras.Variable(np.ones((2, 3)), name="v")
    assert isinstance(v, devrt.Tensor) and v.dtype == devrt.float32
    assert v.requires_grad and v.trainable
    v.assign(np.zeros((2, 3)))
    assert v.numpy().sum() == 0
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        v.assign(np.zeros((3, 2)))
    s = keras.Variable(0.5, trainable=False)
    assert s.shape == () and not s.requires_grad
