"""Lambda layers: calls, shapes, configs, and files that hold Python code,
which load only with safe mode off."""

from __future__ import annotations

import numpy as np
import pytest

from devrt import keras
from devrt.keras import layers


def test_lambda_calls_its_function_with_arguments(kdevice):
    scale = layers.Lambda(lambda x, k: x * k, arguments={"k": 3.0})
    model = keras.Sequential([keras.Input((4,)), scale, layers.Dense(2)])
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    kernel, bias = model.layers[1].get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0), 3 * x @ kernel + bias, rtol=1e-5)
    assert model.layers[0].output.shape == (None, 4)


def test_lambda_output_shape_argument():
    inp = keras.Input((4,))
    out = layers.Lambda(lambda x: keras.ops.sum(x, axis=1, keepdims=True), output_shape=(1,))(inp)
    assert out.shape == (None, 1)


def test_lambda_file_needs_safe_mode_off(tmp_path):
    model = keras.Sequential([keras.Input((3,)), layers.Lambda(lambda x: x * 2.0 + 1.0)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.models.load_model(path)
    loaded = keras.models.load_model(path, safe_mode=False)
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), 3 * x)
    # from_config alone is safe by default too.
    with pytest.raises(ValueError, match="safe_mode=False"):
        layers.Lambda.from_config(model.layers[0].get_config())


def test_named_function_needs_no_unsafe_load(tmp_path):
    model = keras.Sequential([keras.Input((3,)), layers.Lambda(keras.activations.relu)])
    assert model.layers[0].get_config()["function"] == "relu"
    path = tmp_path / "named.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = np.array([[-1.0, 0.5, 2.0]], np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), np.maximum(x, 0))


def test_lambda_files_move_both_ways_with_keras3(keras3, tmp_path):
    ours = keras.Sequential([keras.Input((3,)), layers.Lambda(lambda x: x * 2.0 + 1.0)])
    path = tmp_path / "ours.keras"
    ours.save(path)
    theirs = keras3.models.load_model(path, safe_mode=False)
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), 3 * x)
    back = keras3.Sequential([keras3.Input((3,)), keras3.layers.Lambda(lambda x: x - 1.0)])
    back_path = tmp_path / "theirs.keras"
    back.save(back_path)
    loaded = keras.models.load_model(back_path, safe_mode=False)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), x - 1.0)
