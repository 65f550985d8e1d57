"""Keras training: compile, fit and its options, evaluate, predict, the
single-batch calls, bad input, and the same losses as Keras 3 itself."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt import keras
from devrt.keras import layers
from devrt.utils.data import DataLoader, TensorDataset


def mlp(units=(8,), inputs=4, outputs=1, activation=None):
    stack = [keras.Input((inputs,))]
    stack += [layers.Dense(u, activation="relu") for u in units]
    stack.append(layers.Dense(outputs, activation=activation))
    return keras.Sequential(stack)


def regression(n=64, inputs=4, outputs=1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, inputs)).astype(np.float32)
    w = rng.standard_normal((inputs, outputs)).astype(np.float32)
    return x, (x @ w).astype(np.float32)


def test_fit_reduces_loss_and_history(kdevice):
    x, y = regression()
    model = mlp()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0)
    assert history is model.history
    assert history.epoch == [0, 1, 2, 3, 4]
    assert set(history.history) == {"loss", "mae"}
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_epoch_loss_is_the_batch_size_weighted_mean():
    """The logged loss of an epoch is the mean of the batch losses weighted
    by batch size (the last batch is smaller), as in Keras."""
    x, y = regression(n=10)
    model = mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    logged = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0).history["loss"][0]
    pred = model.predict(x, verbose=0)
    per_sample = ((pred - y) ** 2).mean(axis=1)
    assert logged == pytest.approx(per_sample.mean(), rel=1e-5)


def test_validation_split_takes_the_last_samples(kdevice):
    x, y = regression(n=40)
    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, y, validation_split=0.25, epochs=1, shuffle=False, verbose=0)
    expected = model.evaluate(x[30:], y[30:], verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=1.5, verbose=0)


def test_validation_data_evaluate_and_predict(kdevice):
    x, y = regression(n=50)
    model = mlp()
    model.compile(optimizer="adam", loss="mse", metrics=["mae", "mse"])
    history = model.fit(x, y, validation_data=(x[:10], y[:10]), epochs=2, verbose=0)
    assert {"val_loss", "val_mae", "val_mse"} <= set(history.history)
    result = model.evaluate(x, y, batch_size=7, verbose=0, return_dict=True)
    pred = model.predict(x, batch_size=7, verbose=0)
    assert pred.shape == (50, 1)
    np.testing.assert_allclose(pred, model.predict(x, batch_size=50, verbose=0), rtol=1e-5)
    assert result["mse"] == pytest.approx(float(((pred - y) ** 2).mean()), rel=1e-4)
    assert result["mae"] == pytest.approx(float(np.abs(pred - y).mean()), rel=1e-4)
    loss, mae, mse = model.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(result["loss"], rel=1e-5)


def test_single_batch_calls():
    x, y = regression(n=8)
    model = mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    before = model.test_on_batch(x, y)
    loss, mae = model.train_on_batch(x, y)
    assert loss == pytest.approx(before[0], rel=1e-5)
    after = model.test_on_batch(x, y, return_dict=True)
    assert after["loss"] < loss
    np.testing.assert_allclose(model.predict_on_batch(x), model.predict(x, verbose=0), rtol=1e-6)


def test_sample_weight_and_class_weight():
    x, y = regression(n=16)
    weights = np.linspace(0.0, 2.0, 16).astype(np.float32)
    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    pred = model.predict(x, verbose=0)
    per_sample = ((pred - y) ** 2).mean(axis=1)
    weighted = model.evaluate(x, y, sample_weight=weights, batch_size=16, verbose=0)
    assert weighted == pytest.approx(float((per_sample * weights).mean()), rel=1e-5)

    labels = np.array([0, 1, 1, 2] * 4)
    clf = mlp(inputs=4, outputs=3, activation="softmax")
    clf.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    probs = clf.predict(x, verbose=0)
    ce = -np.log(np.clip(probs[np.arange(16), labels], 1e-7, 1.0))
    cw = {0: 2.0, 1: 0.5, 2: 1.0}
    logged = clf.fit(x, labels, class_weight=cw, batch_size=16, shuffle=False, verbose=0)
    expected = (ce * np.array([cw[c] for c in labels])).mean()
    assert logged.history["loss"][0] == pytest.approx(expected, rel=1e-4)


def test_accuracy_resolves_as_keras_does():
    x, _ = regression(n=32, inputs=4)
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, 32)
    for loss, targets, expected in (
        ("sparse_categorical_crossentropy", labels, "sparse"),
        ("categorical_crossentropy", np.eye(3)[labels], "categorical"),
    ):
        model = mlp(outputs=3, activation="softmax")
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
        logs = model.fit(x, targets, epochs=1, verbose=0, shuffle=False).history
        probs = model.predict(x, verbose=0)
        result = model.evaluate(x, targets, verbose=0, return_dict=True)
        assert result["accuracy"] == pytest.approx(float((probs.argmax(1) == labels).mean()))
        assert "accuracy" in logs, expected
    binary = mlp(outputs=1, activation="sigmoid")
    binary.compile(optimizer="adam", loss="binary_crossentropy", metrics=["acc"])
    target = (labels > 0).astype(np.float32)
    result = binary.evaluate(x, target, verbose=0, return_dict=True)
    probs = binary.predict(x, verbose=0)[:, 0]
    assert result["acc"] == pytest.approx(float(((probs > 0.5) == target).mean()))


def test_inputs_of_every_kind(kdevice):
    x, y = regression(n=32)
    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    # devrt tensors
    model.fit(devrt.from_numpy(x), devrt.from_numpy(y), epochs=1, verbose=0)
    # a devrt Dataset and a DataLoader
    dataset = TensorDataset(devrt.from_numpy(x), devrt.from_numpy(y))
    assert len(model.fit(dataset, batch_size=8, epochs=2, verbose=0).history["loss"]) == 2
    model.fit(DataLoader(dataset, batch_size=8), epochs=1, verbose=0)

    # a generator, with steps_per_epoch
    def batches():
        while True:
            for i in range(0, 32, 8):
                yield x[i : i + 8], y[i : i + 8]

    history = model.fit(batches(), steps_per_epoch=4, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3

    class Data(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epochs_ended = 0

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[i * 8 : (i + 1) * 8], y[i * 8 : (i + 1) * 8]

        def on_epoch_end(self):
            self.epochs_ended += 1

    data = Data()
    model.fit(data, epochs=2, verbose=0)
    assert data.epochs_ended == 2
    assert model.evaluate(data, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))
    assert model.predict(data, verbose=0).shape == (32, 1)


def test_initial_epoch_and_steps():
    x, y = regression(n=32)
    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    assert history.epoch == [3, 4]
    assert model.optimizer.iterations.item() == 2  # two epochs of one batch of 32
    model.fit(x, y, batch_size=8, steps_per_epoch=2, epochs=1, verbose=0)
    assert model.optimizer.iterations.item() == 4


def test_bad_input_messages():
    x, y = regression(n=20)
    model = mlp()
    with pytest.raises(RuntimeError, match="must call `compile\\(\\)`"):
        model.fit(x, y, verbose=0)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="'x' sizes: 20.*'y' sizes: 19"):
        model.fit(x, y[:19], verbose=0)
    with pytest.raises(
        ValueError, match=r"expected axis -1 of input shape to have value 4.*\(20, 5\)"
    ):
        model.fit(np.zeros((20, 5), np.float32), y, verbose=0)
    with pytest.raises(ValueError, match="(?i)unknown .*'msee'.*mse"):
        model.compile(optimizer="sgd", loss="msee")
    with pytest.raises(ValueError, match="adam"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="accuracy"):
        model.compile(optimizer="sgd", loss="mse", metrics=["accuracyy"])
        model.fit(x, y, verbose=0)
    clf = mlp(outputs=3, activation="softmax")
    clf.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="7.*3"):
        clf.fit(x, np.full(20, 7), verbose=0)
    with pytest.raises(ValueError, match=r"\(.*3\).*\(.*4\)|\(.*4\).*\(.*3\)"):
        clf.compile(optimizer="sgd", loss="categorical_crossentropy")
        clf.fit(x, np.eye(4)[np.zeros(20, int)], verbose=0)


def test_terminate_on_nan_stops_training():
    x, y = regression(n=32)
    y[5] = np.nan
    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=5,
        shuffle=False,
        verbose=0,
        callbacks=[keras.callbacks.TerminateOnNaN()],
    )
    assert len(history.epoch) == 1
    assert model.optimizer.iterations.item() == 1


def test_regularization_adds_to_the_loss():
    x, y = regression(n=8)
    model = keras.Sequential(
        [keras.Input((4,)), layers.Dense(1, kernel_regularizer=keras.regularizers.L2(0.5))]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    (kernel, bias) = model.get_weights()
    pred = x @ kernel + bias
    expected = float(((pred - y) ** 2).mean() + 0.5 * (kernel**2).sum())
    assert model.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-5)


def test_regularization_of_a_model_built_by_fit(keras3):
    """A model with no Input is built by its first batch; the regularizers
    of the weights made then count from that batch on, as in Keras 3."""

    def run(k):
        model = k.Sequential(
            [
                k.layers.Dense(
                    4, kernel_regularizer=k.regularizers.L2(10.0), kernel_initializer="ones"
                )
            ]
        )
        model.compile(optimizer=k.optimizers.SGD(0.0), loss="mse")
        x, y = np.ones((8, 3), np.float32), np.zeros((8, 4), np.float32)
        return model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]

    # mse 3 ** 2 plus 10 * (12 kernel entries of 1)
    assert run(keras) == pytest.approx([129.0, 129.0])
    np.testing.assert_allclose(run(keras), run(keras3), rtol=1e-6)


def test_mse_sgd_fit_as_keras3(keras3):
    """The two-layer regression network of bench/bench_keras.py (ReLU, SGD,
    mean squared error), shuffled or not, several batches and epochs with a
    smaller last batch: the epoch losses and the weights agree with Keras 3."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((100, 20)).astype(np.float32)
    y = rng.standard_normal((100, 5)).astype(np.float32)

    def build(k):
        model = k.Sequential(
            [k.Input((20,)), k.layers.Dense(16, activation="relu"), k.layers.Dense(5)]
        )
        model.compile(optimizer=k.optimizers.SGD(learning_rate=0.05), loss="mse")
        return model

    ours, theirs = build(keras), build(keras3)
    ours.set_weights(theirs.get_weights())
    kwargs = dict(batch_size=32, epochs=3, shuffle=False, verbose=0)
    mine = ours.fit(x, y, **kwargs).history["loss"]
    np.testing.assert_allclose(mine, theirs.fit(x, y, **kwargs).history["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # Shuffled, the orders differ, but an epoch's loss is still the batch-size
    # weighted mean of its steps' losses, read back once at the end.
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda b, logs: seen.append(logs["loss"])
    )
    history = ours.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[record])
    assert len(seen) == 8 and seen[3] == pytest.approx(history.history["loss"][0])
    assert seen[7] == pytest.approx(history.history["loss"][1])
    assert history.history["loss"][1] < mine[0]


def test_targets_of_other_dtypes_as_keras3(keras3):
    """Targets that are not of the output's dtype (float64, int64) take the
    loss's converting path on every batch: the same losses as Keras 3."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((40, 6)).astype(np.float32)
    targets = {"float64": rng.standard_normal((40, 2)), "int64": rng.integers(-2, 3, (40, 2))}

    def build(k):
        model = k.Sequential([k.Input((6,)), k.layers.Dense(2)])
        model.compile(optimizer=k.optimizers.SGD(learning_rate=0.01), loss="mse")
        return model

    for y in targets.values():
        ours, theirs = build(keras), build(keras3)
        ours.set_weights(theirs.get_weights())
        kwargs = dict(batch_size=16, epochs=2, shuffle=False, verbose=0)
        mine = ours.fit(x, y, **kwargs).history["loss"]
        np.testing.assert_allclose(mine, theirs.fit(x, y, **kwargs).history["loss"], rtol=1e-5)


def test_a_loss_subclass_with_its_own_call_is_not_bypassed():
    """A subclass of a built-in loss that overrides ``call`` gets its own
    values in fit and evaluate, not the built-in's shortcut."""

    class Doubled(keras.losses.MeanSquaredError):
        def call(self, y_true, y_pred):
            return super().call(y_true, y_pred) * 2.0

    x, y = regression(n=8)
    model = mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=Doubled())
    mse = float(((model.predict(x, verbose=0) - y) ** 2).mean())
    assert model.evaluate(x, y, verbose=0) == pytest.approx(2 * mse, rel=1e-5)
    logged = model.fit(x, y, batch_size=8, epochs=1, verbose=0).history["loss"]
    assert logged == pytest.approx([2 * mse], rel=1e-5)


def test_shape_checks_after_a_shape_passed():
    """A layer that accepted one input shape still refuses another, and a
    changed input spec is checked afresh."""
    dense = layers.Dense(2)
    dense(devrt.zeros(4, 3))
    dense(devrt.zeros(4, 3))
    with pytest.raises(
        ValueError, match=r"expected axis -1 of input shape to have value 3.*\(4, 5\)"
    ):
        dense(devrt.zeros(4, 5))
    dense.input_spec.min_ndim = 3
    with pytest.raises(ValueError, match=r"expected min_ndim=3, found ndim=2"):
        dense(devrt.zeros(4, 3))


def test_evaluate_refuses_an_unreduced_loss():
    """A loss with reduction="none" has no single value per batch: evaluate
    says so at that batch."""
    x, y = regression(n=8)
    model = mlp()
    model.compile(optimizer="sgd", loss=keras.losses.MeanSquaredError(reduction="none"))
    with pytest.raises(ValueError, match=r"\[item\] a tensor with 8 elements"):
        model.evaluate(x, y, verbose=0)


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda k: k.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
        lambda k: k.optimizers.Adam(learning_rate=0.01),
        lambda k: k.optimizers.RMSprop(learning_rate=0.005),
    ],
    ids=["sgd", "adam", "rmsprop"],
)
def test_same_losses_as_keras3(keras3, make_optimizer):
    """The same model with the same initial weights trains to the same
    losses and weights as Keras 3 over several epochs of fit."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((96, 6)).astype(np.float32)
    labels = rng.integers(0, 3, 96)

    def build(k):
        model = k.Sequential(
            [
                k.Input((6,)),
                k.layers.Dense(16, activation="relu"),
                k.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(
            optimizer=make_optimizer(k),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    ours, theirs = build(keras), build(keras3)
    ours.set_weights(theirs.get_weights())
    kwargs = dict(batch_size=32, epochs=4, shuffle=False, verbose=0)
    mine = ours.fit(x, labels, **kwargs).history
    reference = theirs.fit(x, labels, **kwargs).history
    np.testing.assert_allclose(mine["loss"], reference["loss"], rtol=2e-4)
    np.testing.assert_allclose(mine["accuracy"], reference["accuracy"])
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_add_loss_in_call_joins_the_training_loss():
    """A layer that calls add_loss in call() adds to the loss fit optimizes
    and evaluate reports, fresh at every call."""

    class Penalized(layers.Layer):
        def call(self, inputs):
            self.add_loss(keras.ops.sum(keras.ops.square(inputs)) * 0.01)
            return inputs

    x, y = regression(n=8)
    model = keras.Sequential([keras.Input((4,)), Penalized(), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    kernel, bias = model.get_weights()
    mse = float((((x @ kernel + bias) - y) ** 2).mean())
    expected = mse + 0.01 * float((x.astype(np.float64) ** 2).sum())
    assert model.evaluate(x, y, batch_size=8, verbose=0) == pytest.approx(expected, rel=1e-5)
    logged = model.fit(x, y, batch_size=8, epochs=2, verbose=0).history["loss"]
    assert logged == pytest.approx([expected, expected], rel=1e-5)


def test_generator_without_steps():
    """A plain generator runs until it is spent; a second epoch with no
    data warns and stops training, as in Keras."""
    x, y = regression(n=32)

    def batches():
        for i in range(0, 32, 8):
            yield x[i : i + 8], y[i : i + 8]

    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    assert len(model.fit(batches(), epochs=1, verbose=1).history["loss"]) == 1
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(batches(), epochs=3, verbose=0)
    assert history.epoch == [0]
    assert model.evaluate(batches(), verbose=1) == pytest.approx(model.evaluate(x, y, verbose=0))
    assert model.predict(batches(), verbose=1).shape == (32, 1)
    with pytest.raises(ValueError, match="no batches"):
        model.fit(iter([]), epochs=1, verbose=0)
