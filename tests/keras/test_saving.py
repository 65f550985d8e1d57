"""``model.save`` / ``keras.models.load_model`` and ``save_weights`` /
``load_weights``: round trips on every device, Keras 3's file layout and
file-name rules, safe mode, and broken files that must fail whole."""

from __future__ import annotations

import io
import json
import os
import warnings
import zipfile

import numpy as np
import pytest

from devrt import keras
from devrt.keras import layers

h5py = pytest.importorskip("h5py")

RNG = np.random.default_rng(1)


def _model(compiled=True):
    model = keras.Sequential(
        [keras.Input((4,)), layers.Dense(6, activation="relu"), layers.Dense(2)]
    )
    if compiled:
        model.compile(keras.optimizers.Adam(learning_rate=0.01), "mse", metrics=["mae"])
    return model


def _data(n=32):
    return RNG.standard_normal((n, 4)).astype("float32"), RNG.standard_normal((n, 2)).astype(
        "float32"
    )


def _weights(model):
    return [w.numpy() for w in model.weights]


def _h5_names(f):
    names = []
    f.visit(names.append)
    return sorted(names)


def _archive_h5(path):
    with zipfile.ZipFile(path) as zf:
        return h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r")


# --- round trips ---------------------------------------------------------------------


def test_round_trip_continues_training_identically(kdevice, tmp_path):
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)

    assert type(loaded) is type(model) and loaded.compiled
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [v.numpy().tolist() for v in loaded.optimizer.variables] == [
        v.numpy().tolist() for v in model.optimizer.variables
    ]
    h1 = model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    h2 = loaded.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(h2, h1, rtol=1e-6)
    for a, b in zip(_weights(loaded), _weights(model)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_round_trip_functional_and_uncompiled(kdevice, tmp_path):
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    shared = layers.Dense(4, name="shared")
    out = layers.Dense(2)(layers.Concatenate()([shared(a), shared(b)]))
    model = keras.Model([a, b], out)
    path = str(tmp_path / "f.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert not loaded.compiled
    xa, xb = (
        RNG.standard_normal((5, 3)).astype("float32"),
        RNG.standard_normal((5, 3)).astype("float32"),
    )
    np.testing.assert_array_equal(
        loaded.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0)
    )


def test_load_model_compile_false(tmp_path):
    model = _model()
    model.save(tmp_path / "m.keras")
    assert not keras.models.load_model(tmp_path / "m.keras", compile=False).compiled


def test_save_weights_round_trip(kdevice, tmp_path):
    x, _ = _data(4)
    model, other = _model(compiled=False), _model(compiled=False)
    model.save_weights(str(tmp_path / "w.weights.h5"))
    assert not np.allclose(other.predict(x, verbose=0), model.predict(x, verbose=0))
    other.load_weights(str(tmp_path / "w.weights.h5"))
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_load_weights_from_keras_archive(tmp_path):
    model, other = _model(compiled=False), _model(compiled=False)
    model.save(tmp_path / "m.keras")
    other.load_weights(str(tmp_path / "m.keras"))
    for a, b in zip(_weights(other), _weights(model)):
        np.testing.assert_array_equal(a, b)


def test_file_objects(tmp_path):
    model = _model()
    buffer = io.BytesIO()
    keras.saving.save_model(model, buffer)
    buffer.seek(0)
    loaded = keras.saving.load_model(buffer)
    for a, b in zip(_weights(loaded), _weights(model)):
        np.testing.assert_array_equal(a, b)


def test_custom_layer_with_sublayers_and_own_weights(tmp_path):
    @keras.saving.register_keras_serializable(package="test_saving")
    class Block(layers.Layer):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.inner = layers.Dense(units)
            self.stack = [layers.Dense(units), layers.Dense(units)]

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(self.units,), initializer="ones", name="scale")
            self.count = self.add_weight(
                shape=(), initializer="zeros", trainable=False, name="count"
            )

        def call(self, x):
            return self.stack[1](self.stack[0](self.inner(x) * self.scale))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    model = keras.Sequential([keras.Input((4,)), Block(name="block")])
    model.set_weights(
        [RNG.standard_normal(tuple(w.shape)).astype("float32") for w in model.weights]
    )
    path = str(tmp_path / "c.keras")
    model.save(path)
    with _archive_h5(path) as f:
        assert f["layers/block/vars"].attrs["name"] == "block"
        assert f["layers/block/vars/0"].shape == (3,)  # the trainable scale
        assert f["layers/block/vars/1"].shape == ()  # then the non-trainable count
        assert "layers/block/inner/vars/0" in f
        assert "layers/block/stack/dense/vars/0" in f
        assert "layers/block/stack/dense_1/vars/1" in f
    loaded = keras.models.load_model(path)
    x, _ = _data(3)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_subclassed_model_round_trip(kdevice, tmp_path):
    @keras.saving.register_keras_serializable(package="test_saving")
    class TwoDense(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.first = layers.Dense(5, activation="relu")
            self.second = layers.Dense(2)

        def call(self, x):
            return self.second(self.first(x))

    x, y = _data(8)
    model = TwoDense()
    model.compile("sgd", "mse")
    model.fit(x, y, verbose=0)
    model.save(tmp_path / "s.keras")
    loaded = keras.models.load_model(tmp_path / "s.keras")
    assert isinstance(loaded, TwoDense)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert int(loaded.optimizer.iterations.numpy()) == 1


# --- the file format ---------------------------------------------------------------


def test_archive_members_and_layout(tmp_path):
    model = _model()
    x, y = _data(8)
    model.fit(x, y, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        assert [i.filename for i in zf.infolist()] == [
            "metadata.json",
            "config.json",
            "model.weights.h5",
        ]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        metadata = json.loads(zf.read("metadata.json"))
        config = json.loads(zf.read("config.json"))
    assert set(metadata) == {"keras_version", "date_saved"}
    assert metadata["keras_version"].startswith("3.")
    assert config["class_name"] == "Sequential" and config["module"] == "keras"
    assert config["build_config"] == {"input_shape": [None, 4]}
    assert config["compile_config"]["optimizer"]["class_name"] == "Adam"
    assert config["compile_config"]["loss"] == "mse"
    with _archive_h5(path) as f:
        assert _h5_names(f) == sorted(
            [
                "layers",
                "layers/dense",
                "layers/dense/vars",
                "layers/dense/vars/0",
                "layers/dense/vars/1",
                "layers/dense_1",
                "layers/dense_1/vars",
                "layers/dense_1/vars/0",
                "layers/dense_1/vars/1",
                "optimizer",
                "optimizer/vars",
                "vars",
            ]
            + [f"optimizer/vars/{i}" for i in range(10)]
        )
        assert f["vars"].attrs["name"] == model.name
        assert f["optimizer/vars"].attrs["name"] == model.optimizer.name
        assert f["optimizer/vars/0"].dtype == np.int32 and f["optimizer/vars/0"][()] == 1
        np.testing.assert_array_equal(f["layers/dense/vars/0"][()], model.layers[0].kernel.numpy())


def test_save_weights_matches_archive_layout(tmp_path):
    model = _model()
    model.save(tmp_path / "m.keras")
    model.save_weights(str(tmp_path / "m.weights.h5"))
    with _archive_h5(tmp_path / "m.keras") as a, h5py.File(tmp_path / "m.weights.h5") as b:
        assert _h5_names(a) == _h5_names(b)


# --- file names and overwrite -----------------------------------------------------


def test_file_name_rules(tmp_path):
    model = _model()
    with pytest.raises(ValueError, match="Invalid filepath extension for saving"):
        model.save(str(tmp_path / "m.zip"))
    with pytest.raises(ValueError, match="legacy"):
        model.save(str(tmp_path / "m.h5"))
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        model.save_weights(str(tmp_path / "m.h5"))
    with pytest.raises(ValueError, match="File format not supported"):
        model.load_weights(str(tmp_path / "m.npz"))
    with pytest.raises(ValueError, match="File not found"):
        keras.models.load_model(str(tmp_path / "missing.keras"))
    with pytest.raises(ValueError, match="File format not supported"):
        keras.models.load_model(str(tmp_path / "m.txt"))
    with pytest.raises(ValueError, match="not supported"):
        model.save(str(tmp_path / "m.keras"), bogus=1)


def test_overwrite(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    first, second = _model(), _model()
    first.save(path)
    monkeypatch.setattr("builtins.input", lambda prompt="": "n")
    second.save(path, overwrite=False)
    kept = keras.models.load_model(path)
    np.testing.assert_array_equal(kept.layers[0].kernel.numpy(), first.layers[0].kernel.numpy())
    second.save(path)  # overwrite=True replaces without asking
    replaced = keras.models.load_model(path)
    np.testing.assert_array_equal(
        replaced.layers[0].kernel.numpy(), second.layers[0].kernel.numpy()
    )
    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    first.save_weights(str(tmp_path / "w.weights.h5"))
    second.save_weights(str(tmp_path / "w.weights.h5"), overwrite=False)
    first.load_weights(str(tmp_path / "w.weights.h5"))
    np.testing.assert_array_equal(first.layers[0].kernel.numpy(), second.layers[0].kernel.numpy())


def test_unbuilt_model(tmp_path):
    model = keras.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="not yet been built"):
        model.save_weights(str(tmp_path / "w.weights.h5"))
    with pytest.raises(ValueError, match="not yet been built"):
        model.load_weights(str(tmp_path / "w.weights.h5"))
    with pytest.warns(UserWarning, match="not yet been built"):
        model.save(str(tmp_path / "m.keras"))


# --- safe mode ----------------------------------------------------------------------


def _with_config(tmp_path, source, edit):
    """A copy of the archive `source` whose config.json went through `edit`."""
    path = str(tmp_path / "edited.keras")
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            zout.writestr(info.filename, data)
    return path


def _lambda_layer(config):
    config["config"]["layers"][1] = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "registered_name": None,
        "config": {
            "name": "lambda",
            "function": {
                "class_name": "__lambda__",
                "config": {
                    "value": [
                        "4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMIAAAAfABkARQAUwCpAk7pAgAAAKkAqQHaAXhyAwAAAHIDAAAA+gg8c3RkaW4+2gg8bGFtYmRhPgEAAABzAgAAAAgA",
                        None,
                        None,
                    ]
                },
            },
        },
    }


def test_safe_mode_refuses_lambda_layers(tmp_path):
    source = str(tmp_path / "m.keras")
    _model().save(source)
    path = _with_config(tmp_path, source, _lambda_layer)
    with pytest.raises(ValueError, match="safe_mode=False") as info:
        keras.models.load_model(path)
    assert "edited.keras" in str(info.value) and "Lambda" in str(info.value)


def test_safe_mode_refuses_any_lambda(tmp_path):
    source = str(tmp_path / "m.keras")
    _model().save(source)

    def lambda_activation(config):
        config["config"]["layers"][1]["config"]["activation"] = {
            "class_name": "__lambda__",
            "config": {"value": ["AAAA", None, None]},
        }

    path = _with_config(tmp_path, source, lambda_activation)
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.models.load_model(path)
    # Unsafe mode lets the config through to deserialization, which still
    # does not rebuild Python code from bytes in devrt.
    with pytest.raises(Exception) as info:
        keras.models.load_model(path, safe_mode=False)
    assert "safe_mode=False`" not in str(info.value)


# --- broken and foreign files ---------------------------------------------------


def _corrupt(tmp_path, name, members=None, raw=None):
    path = str(tmp_path / name)
    if raw is not None:
        with open(path, "wb") as f:
            f.write(raw)
    else:
        with zipfile.ZipFile(path, "w") as zf:
            for member, data in members.items():
                zf.writestr(member, data)
    return path


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_foreign_and_corrupt_archives_name_the_file(tmp_path):
    good = str(tmp_path / "good.keras")
    _model().save(good)
    members = _members(good)
    weights = members["model.weights.h5"]
    cases = {
        "text.keras": dict(raw=b"this is not a zip file"),
        "truncated_zip.keras": dict(raw=open(good, "rb").read()[:200]),
        "no_config.keras": dict(members={"readme.txt": b"hello"}),
        "bad_json.keras": dict(members={**members, "config.json": b"{not json"}),
        "no_weights.keras": dict(members={"config.json": members["config.json"]}),
        "truncated_h5.keras": dict(members={**members, "model.weights.h5": weights[:100]}),
        "unknown_class.keras": dict(
            members={
                **members,
                "config.json": members["config.json"].replace(b'"Dense"', b'"NoSuchLayer"'),
            }
        ),
    }
    for name, spec in cases.items():
        path = _corrupt(tmp_path, name, **spec)
        with pytest.raises(ValueError) as info:
            keras.models.load_model(path)
        assert name in str(info.value), (name, str(info.value))
    assert "NoSuchLayer" in str(info.value)


def _weights_file_with(tmp_path, model, edit):
    path = str(tmp_path / "edited.weights.h5")
    model.save_weights(path)
    with h5py.File(path, "a") as f:
        edit(f)
    return path


def test_load_weights_is_all_or_nothing(tmp_path):
    model = _model(compiled=False)
    source = _model(compiled=False)

    def bad_second_layer(f):
        del f["layers/dense_1/vars/0"]
        f["layers/dense_1/vars/0"] = np.zeros((5, 2), "float32")

    path = _weights_file_with(tmp_path, source, bad_second_layer)
    before = _weights(model)
    with pytest.raises(ValueError) as info:
        model.load_weights(path)
    assert "edited.weights.h5" in str(info.value) and "(5, 2)" in str(info.value)
    # The first layer fitted, yet nothing was written.
    for a, b in zip(_weights(model), before):
        np.testing.assert_array_equal(a, b)


def test_load_weights_skip_mismatch(tmp_path):
    model = _model(compiled=False)
    source = _model(compiled=False)

    def extra_variable(f):
        f["layers/dense_1/vars/2"] = np.zeros((2,), "float32")

    path = _weights_file_with(tmp_path, source, extra_variable)
    with pytest.raises(ValueError, match="expected 2 variables, but received 3"):
        model.load_weights(path)
    with pytest.warns(UserWarning, match="could not be loaded"):
        model.load_weights(path, skip_mismatch=True)
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), source.layers[0].kernel.numpy())
    assert not np.array_equal(model.layers[1].kernel.numpy(), source.layers[1].kernel.numpy())


def test_load_weights_missing_group_and_links(tmp_path):
    model = _model(compiled=False)
    path = _weights_file_with(
        tmp_path, _model(compiled=False), lambda f: f.__delitem__("layers/dense")
    )
    with pytest.raises(ValueError, match="expected 2 variables, but received 0"):
        model.load_weights(path)

    def soft_link(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.SoftLink("/layers/dense_1/vars/0")

    path = _weights_file_with(tmp_path, _model(compiled=False), soft_link)
    with pytest.raises(ValueError, match="Not allowed: H5 file with SoftLink"):
        model.load_weights(path)

    path = str(tmp_path / "garbage.weights.h5")
    with open(path, "wb") as f:
        f.write(b"\x89HDF\r\n\x1a\n" + b"\0" * 50)
    with pytest.raises(ValueError, match="garbage.weights.h5"):
        model.load_weights(path)


def test_load_model_shape_mismatch_names_the_file(tmp_path):
    good = str(tmp_path / "good.keras")
    _model().save(good)
    members = _members(good)
    members["config.json"] = members["config.json"].replace(b'"units": 2', b'"units": 3')
    path = _corrupt(tmp_path, "other_shapes.keras", members=members)
    with pytest.raises(ValueError, match=r"other_shapes\.keras.*could not be loaded"):
        keras.models.load_model(path)


def test_optimizer_count_mismatch_warns(tmp_path):
    trained = _model()
    x, y = _data(8)
    trained.fit(x, y, verbose=0)
    trained.save_weights(str(tmp_path / "t.weights.h5"))
    fresh = _model()  # compiled, optimizer not built yet
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        fresh.load_weights(str(tmp_path / "t.weights.h5"))
    for a, b in zip(_weights(fresh), _weights(trained)):
        np.testing.assert_array_equal(a, b)


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    _model().save(path)
    before = path.read_bytes()
    from devrt.keras.saving import h5_weights

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(h5_weights, "write_weights", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        _model().save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]


def test_saving_exports():
    for name in (
        "save_model",
        "load_model",
        "save_weights",
        "load_weights",
        "register_keras_serializable",
        "get_custom_objects",
        "custom_object_scope",
        "serialize_keras_object",
        "deserialize_keras_object",
        "get_registered_name",
        "get_registered_object",
    ):
        assert callable(getattr(keras.saving, name)), name
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert os.path.basename(keras.saving.__file__) == "__init__.py"
