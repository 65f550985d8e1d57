"""keras.callbacks against a stub model (the attributes the training loop
and the callbacks share) and, where Keras 3 is installed, against Keras'
own callbacks fed the same logs."""

from __future__ import annotations

import http.server
import json
import math
import re
import threading
import time
import urllib.parse

import numpy as np
import pytest

from devrt.keras import callbacks


class FakeOptimizer:
    def __init__(self, learning_rate: float = 0.1) -> None:
        self._lr = learning_rate

    @property
    def learning_rate(self) -> float:
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._lr = float(value)


class FakeMetric:
    def __init__(self, name: str, direction: str) -> None:
        self.name = name
        self._direction = direction


class FakeModel:
    """What callbacks use of a model; weights are one number per epoch."""

    def __init__(self, metrics=()) -> None:
        self.stop_training = False
        self.optimizer = FakeOptimizer()
        self.metrics = list(metrics)
        self.history = None
        self.weights = [np.zeros(2)]
        self.saved: list[tuple[str, str]] = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save(self, filepath, **kwargs):
        self.saved.append(("save", filepath))

    def save_weights(self, filepath, **kwargs):
        self.saved.append(("save_weights", filepath))


def run_epochs(callback_list, model, epoch_logs, batches=0, batch_logs=None):
    """The training loop's calls, stopping as fit does."""
    callback_list.on_train_begin()
    logs = {}
    for epoch, logs in enumerate(epoch_logs):
        model.weights = [np.full(2, float(epoch))]
        callback_list.on_epoch_begin(epoch)
        for batch in range(batches):
            callback_list.on_train_batch_begin(batch)
            callback_list.on_train_batch_end(batch, batch_logs or {"loss": 1.0})
            if model.stop_training:
                break
        logs = dict(logs)
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return epoch


def make_list(*cbs, model=None, **params):
    model = model or FakeModel()
    params = {"verbose": 0, "epochs": 10, "steps": 5, **params}
    return model, callbacks.CallbackList(list(cbs), model=model, **params)


# --- CallbackList ------------------------------------------------------------


class Counter(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch))


class BatchCounter(Counter):
    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("train_batch_end", batch, dict(logs)))


class LegacyBatchCounter(Counter):
    def on_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch))


def test_callback_list_adds_history_and_progbar_and_sets_model_params():
    model = FakeModel()
    mine = Counter()
    cbs = callbacks.CallbackList(
        [mine], add_history=True, add_progbar=True, model=model, verbose=2, epochs=3, steps=7
    )
    assert [type(c) for c in cbs.callbacks] == [
        Counter,
        callbacks.History,
        callbacks.ProgbarLogger,
    ]
    assert all(c.model is model for c in cbs.callbacks)
    assert mine.params == {"verbose": 2, "epochs": 3, "steps": 7}
    assert model.history is cbs.callbacks[1]
    progbar = cbs.callbacks[2]
    assert (progbar.verbose, progbar.epochs, progbar.target) == (2, 3, 7)
    # Given ones are not duplicated.
    history = callbacks.History()
    cbs = callbacks.CallbackList([[history]], add_history=True, model=model)
    assert cbs.callbacks == [history]


def test_batch_hooks_skip_callbacks_that_do_not_override_them():
    quiet, batchy, legacy = Counter(), BatchCounter(), LegacyBatchCounter()
    model, cbs = make_list(quiet, callbacks.History(), batchy, legacy)
    assert cbs._on_train_batch_end == (batchy.on_train_batch_end,)
    assert len(cbs._on_train_batch_begin) == 1  # legacy, through the default hook
    assert cbs._on_test_batch_end == cbs._on_predict_batch_begin == ()
    run_epochs(cbs, model, [{"loss": 1.0}, {"loss": 0.5}], batches=3)
    assert quiet.calls == [("epoch_end", 0), ("epoch_end", 1)]
    assert [c[:2] for c in batchy.calls if c[0] == "train_batch_end"] == [
        ("train_batch_end", b) for b in (0, 1, 2) * 2
    ]
    assert legacy.calls.count(("batch_begin", 2)) == 2

    # Nothing watches batches: the per-batch calls reach no callback.
    quiet = Counter()
    model, cbs = make_list(quiet, callbacks.History(), callbacks.EarlyStopping(monitor="loss"))
    for name in callbacks._BATCH_HOOKS:
        assert getattr(cbs, "_" + name) == (), name
    calls = []
    for cb in cbs.callbacks:
        for name in ("on_train_batch_begin", "on_train_batch_end", "on_batch_end"):
            original = getattr(cb, name)

            def spy(*args, _original=original, **kwargs):
                calls.append(args)
                return _original(*args, **kwargs)

            setattr(cb, name, spy)
    for batch in range(100):
        cbs.on_train_batch_begin(batch)
        cbs.on_train_batch_end(batch, {"loss": 1.0})
    assert calls == []


def test_batch_hooks_cost_almost_nothing_without_takers():
    _, cbs = make_list(callbacks.History(), callbacks.EarlyStopping(monitor="loss"))
    logs = {"loss": 1.0}
    start = time.perf_counter()
    for batch in range(100_000):
        cbs.on_train_batch_begin(batch)
        cbs.on_train_batch_end(batch, logs)
    per_batch = (time.perf_counter() - start) / 100_000
    assert per_batch < 5e-6, per_batch  # two empty-tuple loops, ~0.2 us


def test_model_checkpoint_per_epoch_stays_out_of_batch_hooks(tmp_path):
    per_epoch = callbacks.ModelCheckpoint(str(tmp_path / "m.keras"))
    per_batch = callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), save_freq=2)
    _, cbs = make_list(per_epoch, per_batch)
    assert cbs._on_train_batch_end == (per_batch.on_train_batch_end,)


def test_append_and_lambda_callback_hooks():
    seen = []
    lam = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(("end", epoch, logs["loss"])),
        on_train_batch_end=lambda batch, logs: seen.append(("batch", batch)),
        on_batch_begin=lambda batch, logs: seen.append(("legacy", batch)),
    )
    model, cbs = make_list()
    cbs.append(lam)
    assert lam.model is model and lam.params["epochs"] == 10
    run_epochs(cbs, model, [{"loss": 2.0}], batches=2)
    assert seen == [
        ("legacy", 0),
        ("batch", 0),
        ("legacy", 1),
        ("batch", 1),
        ("end", 0, 2.0),
    ]


def test_epoch_logs_become_python_floats_shared_by_callbacks():
    got = []
    lam = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: got.append(logs))
    model, cbs = make_list(callbacks.LearningRateScheduler(lambda e, lr: lr), lam)
    cbs.on_epoch_end(0, {"loss": np.float32(0.5), "acc": np.array(0.25)})
    assert got == [{"loss": 0.5, "acc": 0.25, "learning_rate": 0.1}]
    assert all(type(v) is float for v in got[0].values())


def test_history_records_epochs_and_sets_model_history():
    history = callbacks.History()
    model, cbs = make_list(history)
    run_epochs(cbs, model, [{"loss": 1.0, "val_loss": 2.0}, {"loss": 0.5, "val_loss": 1.5}])
    assert model.history is history
    assert history.epoch == [0, 1]
    assert history.history == {"loss": [1.0, 0.5], "val_loss": [2.0, 1.5]}


# --- EarlyStopping -------------------------------------------------------------


def test_early_stopping_patience():
    stop = callbacks.EarlyStopping(monitor="loss", patience=2)
    model, cbs = make_list(stop)
    losses = [1.0, 0.8, 0.9, 0.85, 0.7, 0.6]
    last = run_epochs(cbs, model, [{"loss": v} for v in losses])
    # Best at epoch 1; epochs 2 and 3 do not improve: stop after epoch 3.
    assert last == 3 and model.stop_training and stop.stopped_epoch == 3
    assert stop.best == 0.8


def test_early_stopping_min_delta_and_restore_best_weights(capsys):
    stop = callbacks.EarlyStopping(
        monitor="val_loss", patience=1, min_delta=0.1, restore_best_weights=True, verbose=1
    )
    model, cbs = make_list(stop)
    # 0.95 improves by less than min_delta: not an improvement.
    last = run_epochs(cbs, model, [{"val_loss": v} for v in (1.0, 0.5, 0.45, 0.3)])
    assert last == 2
    assert stop.best_epoch == 1
    np.testing.assert_array_equal(model.weights[0], [1.0, 1.0])  # epoch 1's
    assert capsys.readouterr().out == (
        "Epoch 3: early stopping\nRestoring model weights from the end of the best epoch: 2.\n"
    )


def test_early_stopping_mode_baseline_start_and_missing_monitor():
    stop = callbacks.EarlyStopping(monitor="accuracy", patience=1)  # auto: rises
    model, cbs = make_list(stop)
    assert run_epochs(cbs, model, [{"accuracy": v} for v in (0.5, 0.6, 0.7, 0.65, 0.6)]) == 3

    # Improving without beating the baseline still counts against patience.
    for baseline, last in ((0.1, 2), (None, 3)):
        stop = callbacks.EarlyStopping(monitor="loss", patience=2, baseline=baseline)
        model, cbs = make_list(stop)
        assert run_epochs(cbs, model, [{"loss": v} for v in (1.0, 0.95, 0.95, 0.95, 0.95)]) == last

    stop = callbacks.EarlyStopping(monitor="loss", patience=0, start_from_epoch=3)
    model, cbs = make_list(stop)
    assert run_epochs(cbs, model, [{"loss": v} for v in (1.0, 2.0, 3.0, 4.0, 5.0)]) == 4

    stop = callbacks.EarlyStopping(monitor="val_auc")
    model, cbs = make_list(stop, model=FakeModel())
    with pytest.warns(UserWarning, match="`val_auc` which is not available"):
        run_epochs(cbs, model, [{"loss": 1.0}])


def test_auto_mode_reads_metric_direction_or_refuses():
    container = type("Metrics", (), {"metrics": [FakeMetric("score", "up")]})()
    stop = callbacks.EarlyStopping(monitor="val_score", patience=0)
    model, cbs = make_list(stop, model=FakeModel(metrics=[container]))
    assert run_epochs(cbs, model, [{"val_score": v} for v in (1.0, 2.0, 1.5)]) == 2
    stop = callbacks.EarlyStopping(monitor="weird")
    model, cbs = make_list(stop)
    with pytest.raises(ValueError, match="received monitor=weird, but Keras isn't able"):
        run_epochs(cbs, model, [{"weird": 1.0}])
    with pytest.warns(UserWarning, match="mode 'up' is unknown"):
        callbacks.EarlyStopping(mode="up")


SEQUENCES = [
    [1.0, 0.9, 0.95, 0.97, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89],
    [0.5, 0.5, 0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4],
    [3.0, 2.0, 1.0, 0.5, 0.4, 0.39, 0.38, 0.385, 0.39, 0.2],
]


@pytest.mark.parametrize("values", SEQUENCES)
@pytest.mark.parametrize(
    "kwargs",
    [
        {"patience": 2},
        {"patience": 1, "min_delta": 0.02, "restore_best_weights": True},
        {"patience": 3, "baseline": 0.45, "mode": "min"},
        {"patience": 0, "start_from_epoch": 2, "restore_best_weights": True},
    ],
)
def test_early_stopping_agrees_with_keras(keras3, values, kwargs):
    results = []
    for module in (keras3.callbacks, callbacks):
        stop = module.EarlyStopping(monitor="val_loss", **kwargs)
        model = FakeModel()
        stop.set_model(model)
        last = run_epochs(stop, model, [{"val_loss": v} for v in values])
        results.append((last, stop.stopped_epoch, stop.best, stop.best_epoch, model.weights[0][0]))
    assert results[1] == results[0]


# --- ReduceLROnPlateau and LearningRateScheduler -------------------------------


def test_reduce_lr_on_plateau_factor_cooldown_min_lr(capsys):
    reduce = callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=1, cooldown=1, min_lr=0.03, verbose=1
    )
    model, cbs = make_list(reduce)
    history = callbacks.History()
    cbs.append(history)
    run_epochs(cbs, model, [{"loss": 1.0}] * 7)
    lrs = history.history["learning_rate"]
    # Logged before the reduction at each epoch's end; the cooldown epoch
    # clears `wait` but still counts itself once it is over.
    assert lrs == [0.1, 0.1, 0.05, 0.03, 0.03, 0.03, 0.03]
    assert model.optimizer.learning_rate == 0.03
    out = capsys.readouterr().out
    assert "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.05.\n" in out
    assert "\nEpoch 3: ReduceLROnPlateau reducing learning rate to 0.03.\n" in out
    with pytest.raises(ValueError, match="factor >= 1.0"):
        callbacks.ReduceLROnPlateau(factor=1.5)


@pytest.mark.parametrize("values", SEQUENCES)
@pytest.mark.parametrize(
    "kwargs",
    [
        {"patience": 1, "factor": 0.5},
        {"patience": 2, "factor": 0.1, "cooldown": 2, "min_lr": 0.002},
        {"patience": 1, "min_delta": 0.05, "mode": "min"},
    ],
)
def test_reduce_lr_on_plateau_agrees_with_keras(keras3, values, kwargs):
    results = []
    for module in (keras3.callbacks, callbacks):
        reduce = module.ReduceLROnPlateau(monitor="val_loss", **kwargs)
        model = FakeModel()
        reduce.set_model(model)
        rates = []
        reduce.on_train_begin()
        for epoch, v in enumerate(values):
            reduce.on_epoch_end(epoch, {"val_loss": v})
            rates.append(model.optimizer.learning_rate)
        results.append(rates)
    assert results[1] == results[0]


def test_learning_rate_scheduler(capsys):
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr, verbose=1)
    history = callbacks.History()
    model, cbs = make_list(sched, history)
    run_epochs(cbs, model, [{"loss": 1.0}] * 3)
    assert history.history["learning_rate"] == [0.1, 0.05, 0.025]
    assert "\nEpoch 2: LearningRateScheduler setting learning rate to 0.05.\n" in (
        capsys.readouterr().out
    )
    # A schedule of the epoch alone.
    model, cbs = make_list(callbacks.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1)))
    run_epochs(cbs, model, [{"loss": 1.0}] * 2)
    assert model.optimizer.learning_rate == pytest.approx(0.02)
    model, cbs = make_list(callbacks.LearningRateScheduler(lambda epoch, lr: "fast"))
    with pytest.raises(ValueError, match="should be a float. Got: fast"):
        run_epochs(cbs, model, [{"loss": 1.0}])


# --- ModelCheckpoint ---------------------------------------------------------------


def test_model_checkpoint_save_best_only(tmp_path, capsys):
    path = str(tmp_path / "ck" / "model-{epoch:02d}-{val_loss:.2f}.keras")
    ckpt = callbacks.ModelCheckpoint(path, save_best_only=True, verbose=1)
    model, cbs = make_list(ckpt)
    run_epochs(cbs, model, [{"val_loss": v} for v in (0.5, 0.6, 0.4, 0.4)])
    assert model.saved == [
        ("save", str(tmp_path / "ck" / "model-01-0.50.keras")),
        ("save", str(tmp_path / "ck" / "model-03-0.40.keras")),
    ]
    assert (tmp_path / "ck").is_dir()
    out = capsys.readouterr().out
    assert "\nEpoch 1: val_loss improved from None to 0.50000, saving model to " in out
    assert "\nEpoch 2: val_loss did not improve from 0.50000\n" in out
    assert "\nEpoch 3: val_loss improved from 0.50000 to 0.40000" in out


def test_model_checkpoint_weights_mode_and_frequency(tmp_path):
    path = str(tmp_path / "w-{epoch}-{batch}.weights.h5")
    ckpt = callbacks.ModelCheckpoint(
        path, monitor="accuracy", mode="max", save_weights_only=True, save_freq=2
    )
    model, cbs = make_list(ckpt)
    run_epochs(cbs, model, [{"accuracy": 0.5}, {"accuracy": 0.6}], batches=3)
    names = [p.rsplit("/", 1)[1] for kind, p in model.saved if kind == "save_weights"]
    assert names == ["w-1-2.weights.h5", "w-2-1.weights.h5", "w-2-3.weights.h5"]

    every = callbacks.ModelCheckpoint(str(tmp_path / "a.weights.h5"), save_weights_only=True)
    model, cbs = make_list(every)
    run_epochs(cbs, model, [{"loss": 1.0}] * 3)
    assert model.saved == [("save_weights", str(tmp_path / "a.weights.h5"))] * 3


def test_model_checkpoint_checks_the_file_type(tmp_path):
    with pytest.raises(ValueError, match=r"must end in `\.keras` \(Keras model format\)"):
        callbacks.ModelCheckpoint("model.ckpt")
    with pytest.raises(ValueError, match=r"filepath provided must end in `\.weights\.h5`"):
        callbacks.ModelCheckpoint("model.keras", save_weights_only=True)
    with pytest.raises(ValueError, match="Unrecognized save_freq: often"):
        callbacks.ModelCheckpoint("model.keras", save_freq="often")
    ckpt = callbacks.ModelCheckpoint(str(tmp_path / "{nope}.keras"))
    model, cbs = make_list(ckpt)
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        run_epochs(cbs, model, [{"loss": 1.0}])


def test_model_checkpoint_messages_match_keras(keras3, tmp_path, capsys):
    outputs = []
    for module in (keras3.callbacks, callbacks):
        ckpt = module.ModelCheckpoint(
            str(tmp_path / "m{epoch}.keras"), monitor="val_acc", mode="max",
            save_best_only=True, verbose=1,
        )  # fmt: skip
        model = FakeModel()
        ckpt.set_model(model)
        ckpt.on_train_begin()
        for epoch, v in enumerate([0.5, 0.7, 0.6, 0.9]):
            ckpt.on_epoch_begin(epoch)
            ckpt.on_epoch_end(epoch, {"val_acc": v})
        outputs.append((capsys.readouterr().out, [p for _, p in model.saved]))
    assert outputs[1] == outputs[0]


# --- CSVLogger, TerminateOnNaN, RemoteMonitor ---------------------------------------


def test_csv_logger_writes_rows(tmp_path):
    path = tmp_path / "log.csv"
    model, cbs = make_list(callbacks.CSVLogger(str(path), separator=";"))
    run_epochs(cbs, model, [{"loss": 0.5, "acc": 0.25}, {"loss": 0.125, "acc": 0.75}])
    assert path.read_text() == (
        "epoch;acc;loss;val_acc;val_loss\n0;0.25;0.5;NA;NA\n1;0.75;0.125;NA;NA\n"
    )
    model, cbs = make_list(callbacks.CSVLogger(path, separator=";", append=True))
    run_epochs(cbs, model, [{"loss": 0.0625, "acc": 1.0}])
    assert path.read_text().splitlines()[-1] == "0;1.0;0.0625;NA;NA"
    assert path.read_text().count("epoch") == 1


@pytest.mark.parametrize("append", [False, True])
def test_csv_logger_same_file_as_keras(keras3, tmp_path, append):
    epochs = [
        {"loss": 0.5, "val_loss": 0.75, "accuracy": 0.25, "val_accuracy": 0.125},
        {"loss": 0.1, "val_loss": 0.3, "accuracy": np.float32(0.5), "val_accuracy": 0.2},
    ]
    texts = []
    for i, module in enumerate((keras3.callbacks, callbacks)):
        path = tmp_path / f"log{i}.csv"
        for _ in range(2 if append else 1):
            logger = module.CSVLogger(str(path), append=append)
            logger.set_model(FakeModel())
            run_epochs(logger, logger.model, epochs)
        texts.append(path.read_bytes())
    assert texts[1] == texts[0]


def test_terminate_on_nan(capsys):
    model, cbs = make_list(callbacks.TerminateOnNaN())
    assert len(cbs._on_train_batch_end) == 1
    for batch, loss in enumerate([1.0, 0.5, float("nan"), 0.2]):
        cbs.on_train_batch_end(batch, {"loss": loss})
        if model.stop_training:
            break
    assert batch == 2 and model.stop_training
    assert capsys.readouterr().out == "Batch 2: Invalid loss, terminating training\n"
    model, cbs = make_list(callbacks.TerminateOnNaN())
    cbs.on_train_batch_end(0, {"loss": math.inf})
    assert model.stop_training
    model, cbs = make_list(callbacks.TerminateOnNaN(raise_error=True))
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 0"):
        cbs.on_train_batch_end(0, {"loss": float("nan")})


def test_remote_monitor_posts_epoch_logs():
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body.decode()))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        root = f"http://127.0.0.1:{server.server_address[1]}"
        for as_json in (False, True):
            monitor = callbacks.RemoteMonitor(root=root, send_as_json=as_json)
            monitor.on_epoch_end(3, {"loss": np.float32(0.5)})
    finally:
        server.shutdown()
    (path, _, form), (_, kind, body) = received
    assert path == "/publish/epoch/end/"
    assert json.loads(urllib.parse.parse_qs(form)["data"][0]) == {"epoch": 3, "loss": 0.5}
    assert kind == "application/json" and json.loads(body) == {"epoch": 3, "loss": 0.5}
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor"):
        callbacks.RemoteMonitor(root="http://127.0.0.1:9").on_epoch_end(0, {})


# --- with the real Model and fit ---------------------------------------------------


def _classifier(learning_rate=0.1, optimizer="sgd"):
    from devrt import keras
    from devrt.keras import layers

    model = keras.Sequential(
        [keras.Input((8,)), layers.Dense(16, activation="relu"), layers.Dense(3)]
    )
    opt = keras.optimizers.get(optimizer)
    opt.learning_rate = learning_rate
    model.compile(
        optimizer=opt,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def _data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1)


def test_fit_stops_early_on_a_plateau(kdevice):
    x, y = _data()
    model = _classifier(learning_rate=0.0)  # the loss cannot move
    stop = callbacks.EarlyStopping(monitor="loss", patience=2, min_delta=1e-4)
    history = model.fit(x, y, epochs=20, batch_size=64, verbose=0, callbacks=[stop])
    assert len(history.history["loss"]) == 3 == len(history.epoch)
    assert stop.stopped_epoch == 2 and model.stop_training


def test_fit_restores_the_best_weights(kdevice):
    x, y = _data()
    model = _classifier()
    snapshots = {}
    keep = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.__setitem__(epoch, model.get_weights())
    )
    # Two good epochs, then a learning rate that wrecks the model.
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 if epoch < 2 else 50.0)
    stop = callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    history = model.fit(
        x, y, epochs=10, batch_size=32, verbose=0, callbacks=[sched, keep, stop], shuffle=False
    )
    assert len(history.epoch) < 10
    assert history.history["learning_rate"][:3] == pytest.approx([0.1, 0.1, 50.0])
    assert stop.best_epoch == 1
    for got, want in zip(model.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(got, want)


def test_fit_terminates_on_nan(kdevice, capsys):
    x, y = _data()
    x[:64] = np.nan
    model = _classifier()
    history = model.fit(
        x, y, epochs=5, batch_size=32, verbose=0, shuffle=False,
        callbacks=[callbacks.TerminateOnNaN()],
    )  # fmt: skip
    assert len(history.epoch) == 1 and model.stop_training
    assert capsys.readouterr().out == "Batch 0: Invalid loss, terminating training\n"


def test_fit_writes_checkpoints_and_csv(kdevice, tmp_path):
    x, y = _data()
    model = _classifier()
    ckpt = callbacks.ModelCheckpoint(
        str(tmp_path / "best.weights.h5"), monitor="val_accuracy", save_best_only=True,
        save_weights_only=True,
    )  # fmt: skip
    csv_path = tmp_path / "log.csv"
    model.fit(
        x, y, epochs=3, batch_size=32, verbose=0, validation_split=0.25,
        callbacks=[ckpt, callbacks.CSVLogger(str(csv_path))],
    )  # fmt: skip
    assert (tmp_path / "best.weights.h5").is_file()
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "epoch,accuracy,loss,val_accuracy,val_loss"
    assert [line.split(",")[0] for line in lines[1:]] == ["0", "1", "2"]


def test_fit_verbose1_draws_a_steady_bar_with_eta(capsys):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60_000, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = _classifier()
    start = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=32, verbose=1)
    elapsed = time.perf_counter() - start
    out = capsys.readouterr().out
    draws = out.split("\r")[1:]
    bar = re.compile(
        r"\x1b\[1m\s*(\d+)/1875\x1b\[0m \S+ \x1b\[1m(\d+s|\d+:\d\d)\x1b\[0m "
        r"\d+(us|ms|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}"
    )
    steps = [int(bar.match(d).group(1)) for d in draws]
    # Every draw is a bar; the steps only grow; the last one ends the line.
    assert steps == sorted(steps) and steps[-1] == 1875 and out.endswith("\n")
    assert draws[-1].count("\n") == 1 and all("\n" not in d for d in draws[:-1])
    # Intermediate draws show an ETA and come at most every ~50 ms.
    assert len(draws) >= 3, out
    assert len(draws) <= elapsed / 0.05 + 3
