"""Keras models on a third-party backend: the pure-Python test device
trains a model with the CPU running, through the fallback, only the ops the
device lacks, and it follows the CPU's losses."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt import keras
from devrt.testing.fixtures import register_pydev


@pytest.fixture
def cpu_fallback():
    register_pydev()
    devrt.reset_placement_report()
    devrt.set_fallback("cpu")
    yield
    devrt.set_fallback(None)
    devrt.reset_placement_report()


def train(device: str) -> tuple[list[float], keras.Model]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = rng.standard_normal((64, 2)).astype(np.float32)
    with keras.device(device):
        keras.utils.set_random_seed(3)
        model = keras.Sequential(
            [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)]
        )
        model.compile(optimizer="adam", loss="mse")
        history = model.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0)
    return history.history["loss"], model


def test_keras_trains_on_a_third_party_device_with_cpu_fallback(cpu_fallback):
    on_cpu, _ = train("cpu")
    devrt.reset_placement_report()
    on_pydev, model = train("pydev")
    assert str(model.layers[0].kernel.device) == "pydev:0"
    np.testing.assert_allclose(on_pydev, on_cpu, rtol=1e-5)
    report = devrt.placement_report()
    fell_back = {row["op"] for row in report}
    # Only what pydev lacks ran on the CPU; its own kernels (matmul, add) ran there.
    assert "random_uniform" in fell_back and "matmul" not in fell_back and "add" not in fell_back
    assert all(row["ran_on"] == "cpu" and row["calls"] > 0 for row in report)


def test_strict_mode_names_the_missing_kernel(cpu_fallback):
    devrt.set_fallback("strict")
    with pytest.raises(NotImplementedError, match="random_uniform"):
        train("pydev")
