"""Files move both ways between devrt and Keras 3 (the ``keras3`` oracle):
a ``.keras`` or ``.weights.h5`` file written by one loads in the other and
predicts the same, for every layer type devrt has.

Each case builds the same architecture from either Keras module (devrt's
or Keras 3's), with random weights so that a weight landing in the wrong
place changes the predictions.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from devrt import keras as dk

RNG = np.random.default_rng(0)


def _seq(k, shape, *layers):
    return k.Sequential([k.Input(shape), *layers])


def _branches(k):
    # Keras numbers the Dense layers by depth, not by the order they were
    # called: d4 is visited first from the output but is the shallowest.
    i = k.Input((4,))
    d1 = k.layers.Dense(5, name="d1")(i)
    d2 = k.layers.Dense(5, name="d2")(d1)
    d3 = k.layers.Dense(3, name="d3")(d2)
    d4 = k.layers.Dense(3, name="d4")(i)
    return k.Model(i, k.layers.Add()([d4, d3]))


def _shared_two_inputs(k):
    a, b = k.Input((3,), name="a"), k.Input((3,), name="b")
    shared = k.layers.Dense(4)
    merged = k.layers.Concatenate()([shared(a), shared(b), a])
    return k.Model([a, b], k.layers.Dense(2)(merged))


def _nested(k):
    inner = k.Sequential([k.layers.Dense(5, activation="tanh"), k.layers.Dense(3)])
    i = k.Input((4,))
    return k.Model(i, k.layers.Dense(2)(inner(i)))


L = "layers"
# (id, the devrt.keras.layers names the case needs, builder(keras module), input shapes, int input)
CASES = [
    (
        "dense_activation_dropout",
        ["Dense", "Activation", "Dropout"],
        lambda k: _seq(
            k,
            (4,),
            k.layers.Dense(6, activation="relu"),
            k.layers.Dropout(0.3),
            k.layers.Activation("tanh"),
            k.layers.Dense(2),
        ),
        [(4,)],
        False,
    ),
    ("functional_branches", ["Dense", "Add"], _branches, [(4,)], False),
    ("shared_two_inputs", ["Dense", "Concatenate"], _shared_two_inputs, [(3,), (3,)], False),
    ("nested_sequential", ["Dense"], _nested, [(4,)], False),
    (
        "conv2d_pooling",
        ["Conv2D", "MaxPooling2D", "AveragePooling2D", "Flatten", "Dense"],
        lambda k: _seq(
            k,
            (9, 9, 2),
            k.layers.Conv2D(3, 3, padding="same", activation="relu"),
            k.layers.MaxPooling2D(),
            k.layers.Conv2D(4, 2, strides=2),
            k.layers.AveragePooling2D(1),
            k.layers.Flatten(),
            k.layers.Dense(2),
        ),
        [(9, 9, 2)],
        False,
    ),
    (
        "conv2d_dilated_global",
        ["Conv2D", "GlobalAveragePooling2D"],
        lambda k: _seq(
            k, (8, 8, 2), k.layers.Conv2D(3, 3, dilation_rate=2), k.layers.GlobalAveragePooling2D()
        ),
        [(8, 8, 2)],
        False,
    ),
    (
        "conv2d_transpose_globalmax",
        ["Conv2DTranspose", "GlobalMaxPooling2D"],
        lambda k: _seq(
            k, (5, 5, 2), k.layers.Conv2DTranspose(3, 3, strides=2), k.layers.GlobalMaxPooling2D()
        ),
        [(5, 5, 2)],
        False,
    ),
    (
        "conv1d_maxpool1d",
        ["Conv1D", "MaxPooling1D", "Flatten"],
        lambda k: _seq(
            k, (10, 3), k.layers.Conv1D(4, 3), k.layers.MaxPooling1D(), k.layers.Flatten()
        ),
        [(10, 3)],
        False,
    ),
    (
        "batchnorm",
        ["Dense", "BatchNormalization"],
        lambda k: _seq(k, (4,), k.layers.Dense(5), k.layers.BatchNormalization()),
        [(4,)],
        False,
    ),
    (
        "layernorm",
        ["Dense", "LayerNormalization"],
        lambda k: _seq(k, (4,), k.layers.Dense(5), k.layers.LayerNormalization()),
        [(4,)],
        False,
    ),
    (
        "embedding_simple_rnn",
        ["Embedding", "SimpleRNN"],
        lambda k: _seq(k, (6,), k.layers.Embedding(10, 3), k.layers.SimpleRNN(4)),
        [(6,)],
        True,
    ),
    (
        "lstm_gru",
        ["LSTM", "GRU"],
        lambda k: _seq(k, (5, 3), k.layers.LSTM(4, return_sequences=True), k.layers.GRU(3)),
        [(5, 3)],
        False,
    ),
    (
        "reshaping",
        ["Reshape", "Permute", "RepeatVector", "Flatten", "Dense"],
        lambda k: _seq(
            k,
            (6,),
            k.layers.Dense(6),
            k.layers.Reshape((2, 3)),
            k.layers.Permute((2, 1)),
            k.layers.Flatten(),
            k.layers.RepeatVector(2),
            k.layers.Flatten(),
        ),
        [(6,)],
        False,
    ),
    (
        "rescaling_upsampling_padding",
        ["Rescaling", "UpSampling2D", "ZeroPadding2D", "Conv2D"],
        lambda k: _seq(
            k,
            (4, 4, 1),
            k.layers.Rescaling(0.5, offset=0.1),
            k.layers.UpSampling2D(),
            k.layers.ZeroPadding2D(1),
            k.layers.Conv2D(2, 3),
        ),
        [(4, 4, 1)],
        False,
    ),
]


def _case_params():
    params = []
    for case_id, needs, build, shapes, ints in CASES:
        missing = [n for n in needs if not hasattr(dk.layers, n)]
        marks = [pytest.mark.skip(reason=f"devrt.keras.layers lacks {missing}")] if missing else []
        params.append(pytest.param(build, shapes, ints, id=case_id, marks=marks))
    return params


def _inputs(shapes, ints):
    if ints:
        return [RNG.integers(0, 10, size=(3, *s)).astype("int32") for s in shapes]
    return [RNG.standard_normal((3, *s)).astype("float32") for s in shapes]


def _randomize(model):
    values = []
    for w in model.weights:
        shape = tuple(w.shape)
        value = RNG.standard_normal(shape).astype("float32") * 0.5
        if "variance" in w.path:
            value = np.abs(value) + 0.5
        values.append(value)
    model.set_weights(values)


def _predict(model, x):
    out = model.predict(x if len(x) > 1 else x[0], verbose=0)
    return np.asarray(out)


@pytest.mark.parametrize("build,shapes,ints", _case_params())
def test_keras_file_from_keras3_loads_in_devrt(keras3, tmp_path, build, shapes, ints):
    reference = build(keras3)
    _randomize(reference)
    path = str(tmp_path / "m.keras")
    reference.save(path)
    loaded = dk.models.load_model(path)
    x = _inputs(shapes, ints)
    np.testing.assert_allclose(_predict(loaded, x), _predict(reference, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("build,shapes,ints", _case_params())
def test_keras_file_from_devrt_loads_in_keras3(keras3, tmp_path, build, shapes, ints):
    model = build(dk)
    _randomize(model)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras3.models.load_model(path)
    x = _inputs(shapes, ints)
    np.testing.assert_allclose(_predict(loaded, x), _predict(model, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("build,shapes,ints", _case_params())
def test_weights_h5_both_ways(keras3, tmp_path, build, shapes, ints):
    x = _inputs(shapes, ints)
    reference, model = build(keras3), build(dk)
    _randomize(reference)
    reference.save_weights(str(tmp_path / "k.weights.h5"))
    model.load_weights(str(tmp_path / "k.weights.h5"))
    np.testing.assert_allclose(_predict(model, x), _predict(reference, x), rtol=1e-4, atol=1e-5)

    _randomize(model)
    model.save_weights(str(tmp_path / "d.weights.h5"))
    reference.load_weights(str(tmp_path / "d.weights.h5"))
    np.testing.assert_allclose(_predict(reference, x), _predict(model, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("build,shapes,ints", _case_params())
def test_same_h5_layout_as_keras3(keras3, tmp_path, build, shapes, ints):
    import h5py

    def layout(path):
        with zipfile.ZipFile(path) as zf, h5py.File(io.BytesIO(zf.read("model.weights.h5"))) as f:
            out = []
            f.visititems(
                lambda name, obj: out.append(
                    (
                        name,
                        getattr(obj, "shape", None),
                        dict(obj.attrs) if name.endswith("vars") and name.count("/") <= 1 else None,
                    )
                )
            )
            return [(n, s) for n, s, _ in out]

    build(keras3).save(str(tmp_path / "k.keras"))
    build(dk).save(str(tmp_path / "d.keras"))
    assert layout(str(tmp_path / "d.keras")) == layout(str(tmp_path / "k.keras"))


def _trained(k, build):
    model = build(k)
    model.compile(k.optimizers.Adam(learning_rate=0.01), "mse")
    x = RNG.standard_normal((16, 4)).astype("float32")
    y = RNG.standard_normal((16, 2)).astype("float32")
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    return model, x


def _dense_stack(k):
    return _seq(k, (4,), k.layers.Dense(5, activation="relu"), k.layers.Dense(2))


def test_optimizer_state_from_keras3(keras3, tmp_path):
    reference, x = _trained(keras3, _dense_stack)
    reference.save(str(tmp_path / "k.keras"))
    loaded = dk.models.load_model(str(tmp_path / "k.keras"))
    assert loaded.compiled
    assert int(loaded.optimizer.iterations.numpy()) == 4
    want = [np.asarray(v.numpy()) for v in reference.optimizer.variables]
    got = [v.numpy() for v in loaded.optimizer.variables]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    np.testing.assert_allclose(
        _predict(loaded, [x]), _predict(reference, [x]), rtol=1e-5, atol=1e-6
    )


def test_optimizer_state_to_keras3(keras3, tmp_path):
    model, x = _trained(dk, _dense_stack)
    model.save(str(tmp_path / "d.keras"))
    loaded = keras3.models.load_model(str(tmp_path / "d.keras"))
    assert int(np.asarray(loaded.optimizer.iterations.numpy())) == 4
    want = [v.numpy() for v in model.optimizer.variables]
    got = [np.asarray(v.numpy()) for v in loaded.optimizer.variables]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)


def _subclassed(k):
    @k.saving.register_keras_serializable(package="devrt_interchange")
    class Tower(k.Model):
        # `zz` sorts after the `layers` attribute: Keras stores it under
        # layers/dense, the others under their attribute names.
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.zz = k.layers.Dense(4)
            self.aa = k.layers.Dense(4)
            self.heads = [k.layers.Dense(2), k.layers.Dense(2)]

        def call(self, x):
            h = self.aa(self.zz(x))
            return self.heads[0](h) + self.heads[1](h)

    model = Tower()
    model(np.zeros((2, 5), "float32"))
    return model


def test_subclassed_model_both_ways(keras3, tmp_path):
    x = [RNG.standard_normal((3, 5)).astype("float32")]
    model = _subclassed(dk)  # registers the class in devrt before loading
    reference = _subclassed(keras3)
    _randomize(reference)
    reference.save(str(tmp_path / "k.keras"))
    loaded = dk.models.load_model(str(tmp_path / "k.keras"))
    np.testing.assert_allclose(_predict(loaded, x), _predict(reference, x), rtol=1e-4, atol=1e-5)

    _randomize(model)
    model.save(str(tmp_path / "d.keras"))
    loaded = keras3.models.load_model(str(tmp_path / "d.keras"))
    np.testing.assert_allclose(_predict(loaded, x), _predict(model, x), rtol=1e-4, atol=1e-5)
