"""The everyday Keras classifier workflow, end to end: a Conv2D classifier
on image-shaped data, fit with validation_split, evaluate, predict, save,
load_model, and training that goes on identically after loading."""

from __future__ import annotations

import numpy as np
import pytest

from devrt import keras
from devrt.keras import layers


def digits(n=256, seed=0):
    """Synthetic 12x12 one-channel "images" of 4 classes: each class lights
    up its own quadrant, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    images = rng.normal(0.0, 0.3, (n, 12, 12, 1)).astype(np.float32)
    for i, c in enumerate(labels):
        r, q = divmod(int(c), 2)
        images[i, r * 6 : r * 6 + 6, q * 6 : q * 6 + 6, 0] += 1.0
    return images, labels


def classifier():
    return keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            layers.Conv2D(8, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(8, 3, activation="relu"),
            layers.Flatten(),
            layers.Dropout(0.1),
            layers.Dense(4, activation="softmax"),
        ]
    )


def test_classifier_workflow(kdevice, tmp_path):
    x, y = digits()
    model = classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=6, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.history["val_accuracy"][-1] > 0.8
    x_test, y_test = digits(64, seed=1)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    probs = model.predict(x_test, verbose=0)
    assert probs.shape == (64, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert accuracy == pytest.approx(float((probs.argmax(axis=1) == y_test).mean()))

    path = tmp_path / "classifier.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x_test, verbose=0), probs, rtol=1e-5, atol=1e-6)
    assert loaded.evaluate(x_test, y_test, verbose=0) == pytest.approx([loss, accuracy], rel=1e-5)
    # The optimizer's state came along: one more step (with the same dropout
    # masks) moves both models alike.
    keras.utils.set_random_seed(5)
    model.train_on_batch(x[:32], y[:32])
    keras.utils.set_random_seed(5)
    loaded.train_on_batch(x[:32], y[:32])
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_classifier_matches_keras3(keras3, tmp_path):
    """Keras 3 loads the devrt file and predicts the same."""
    x, y = digits(64)
    model = classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "from_devrt.keras"
    model.save(path)
    theirs = keras3.models.load_model(path)
    np.testing.assert_allclose(
        np.asarray(theirs.predict(x, verbose=0)), model.predict(x, verbose=0), rtol=1e-4, atol=1e-5
    )
