"""keras.utils.Progbar and keras.callbacks.ProgbarLogger: the text they
print, checked by hand and, where Keras 3 is installed, against its own
Progbar driven with the same updates and the same clock."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping

import pytest

from devrt.keras import callbacks, config
from devrt.keras.utils import Progbar, progbar


class FakeClock:
    """time.time() that advances `step` seconds on every call."""

    def __init__(self, start: float = 1000.0, step: float = 0.0) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> float:
        value = self.now
        self.now += self.step
        return value


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(time, "time", fake)
    return fake


def _untimed(text: str) -> str:
    """The text with its times (ETA, elapsed, per step) replaced by T."""
    text = re.sub(r"\d+(\.\d+)?(ms|us|s)/(step|sample)", "T/step", text)
    return re.sub(r"\b\d+(:\d\d)*s\b", "Ts", text)


BOLD, END, GREEN, GREY = "\x1b[1m", "\x1b[0m", "\33[32m", "\33[37m"


def test_verbose1_draws_keras_bar(clock, capsys):
    bar = Progbar(10, verbose=1, interval=0.0)  # starts at t=1000
    clock.now = 1000.5
    bar.update(1, [("loss", 0.5)])
    clock.now = 1001.0
    bar.update(2, [("loss", 0.25)])
    out = capsys.readouterr().out
    first, second = out.split("\r")[1:]
    # After step 1: (0.5 s)/step, 9 steps left -> 4s.
    shown = f" 1/10 {'━' * 20} 4s 500ms/step - loss: 0.5000"
    assert first == (
        f"{BOLD} 1/10{END} {GREEN}━━{END}{GREY}━━━━━━━━━━━━━━━━━━{END} "
        f"{BOLD}4s{END} 500ms/step - loss: 0.5000" + "\b" * len(shown)
    )
    # The first step is left out of the per-step time: (1001 - 1000.5) / 1;
    # the loss is the mean of 0.5 and 0.25, weighted by steps since the last
    # update.
    assert second == (
        f"{BOLD} 2/10{END} {GREEN}━━━━{END}{GREY}━━━━━━━━━━━━━━━━{END} "
        f"{BOLD}4s{END} 500ms/step - loss: 0.3750"
    )


def test_verbose1_final_line_shows_total_time_and_newline(clock, capsys):
    bar = Progbar(3, verbose=1, interval=0.0)
    for step, when in enumerate([1000.002, 1000.004, 1000.006], start=1):
        clock.now = when
        bar.update(step, [("accuracy", 0.5), ("loss", 1e-4)])
    out = capsys.readouterr().out
    final = out.split("\r")[-1]
    assert final.endswith(
        f"{BOLD}3/3{END} {GREEN}{'━' * 20}{END}{GREY}{END} {BOLD}0s{END} 2ms/step"
        " - accuracy: 0.5000 - loss: 1.0000e-04\n"
    )


def test_eta_formats():
    assert progbar._format_eta(59.9) == "59s"
    assert progbar._format_eta(61) == "1:01"
    assert progbar._format_eta(3725) == "1:02:05"
    assert progbar._format_time(2.4, "step") == " 2s/step"
    assert progbar._format_time(0.0123, "step") == " 12ms/step"
    assert progbar._format_time(4.5e-5, "sample") == " 45us/sample"


def test_verbose2_prints_one_line_at_the_end(clock, capsys):
    bar = Progbar(1875, verbose=2)
    for step in range(1, 1875):
        clock.now = 1000 + 0.002 * step
        bar.update(step, [("loss", 0.5)])
    assert capsys.readouterr().out == ""
    clock.now = 1003.75
    bar.update(1875, [("accuracy", 0.9), ("loss", 0.3)])
    assert (
        capsys.readouterr().out == "1875/1875 - 4s - 2ms/step - loss: 0.3000 - accuracy: 0.9000\n"
    )


def test_unknown_target(clock, capsys):
    bar = Progbar(None, verbose=1, interval=0.0)
    clock.now = 1001
    bar.update(7, [("loss", 2.0)])
    assert capsys.readouterr().out.endswith(
        f"      7/Unknown {BOLD}1s{END} 143ms/step - loss: 2.0000"
    )


def test_redraws_are_throttled(capsys, monkeypatch):
    clock = FakeClock(step=0.0)
    monkeypatch.setattr(time, "time", clock)
    bar = Progbar(60000, verbose=1)  # interval 0.05 s
    for step in range(1, 60001):
        clock.now += 0.0001  # 10k steps a second: 6 s in all
        bar.update(step, [("loss", 1.0)])
    draws = capsys.readouterr().out.count("\r")
    # One draw per 50 ms (about 120) plus the first and the last.
    assert 100 <= draws <= 125, draws


def test_stateful_values_are_shown_as_given(clock, capsys):
    bar = Progbar(4, verbose=1, interval=0.0, stateful_metrics=["acc"])
    bar.update(1, [("acc", 0.5), ("loss", 1.0)])
    bar.update(2, [("acc", 0.75), ("loss", 3.0)])
    assert capsys.readouterr().out.endswith("acc: 0.7500 - loss: 2.0000")
    with pytest.raises(ValueError, match="only one of"):
        Progbar(4, stateful_metrics=["a"], stateless_metrics=["b"])


def test_interactive_logging_off_goes_to_the_logger(clock, capsys, caplog):
    config.disable_interactive_logging()
    try:
        assert not config.is_interactive_logging_enabled()
        with caplog.at_level(logging.INFO, logger="devrt.keras"):
            Progbar(2, verbose=2).update(2, [("loss", 0.5)])
    finally:
        config.enable_interactive_logging()
    assert capsys.readouterr().out == ""
    assert "2/2 - 0s - 0s/step - loss: 0.5000" in caplog.text


def _drive(bar_class, updates, **kwargs):
    bar = bar_class(**kwargs)
    for args in updates:
        bar.update(*args)


UPDATES = [
    (1, [("accuracy", 0.25), ("loss", 2.5)]),
    (2, [("accuracy", 0.5), ("loss", 1.5)]),
    (5, [("accuracy", 0.625), ("loss", -0.5)]),
    (9, [("accuracy", 0.75), ("loss", 0.0001)]),
    (12, [("accuracy", 0.875), ("loss", 0.25)]),
]


@pytest.mark.parametrize("verbose", [1, 2])
@pytest.mark.parametrize("target", [12, 1875, None])
@pytest.mark.parametrize(
    "metrics", [{}, {"stateful_metrics": ["accuracy"]}, {"stateless_metrics": []}]
)
def test_same_text_as_keras(keras3, monkeypatch, capsys, verbose, target, metrics):
    from keras.src.utils.progbar import Progbar as KerasProgbar

    updates = UPDATES + [(target or 12, [("loss", 0.125)], True)]
    texts = []
    for bar_class in (KerasProgbar, Progbar):
        monkeypatch.setattr(time, "time", FakeClock(step=0.013))
        _drive(bar_class, updates, target=target, verbose=verbose, interval=0.02, **metrics)
        texts.append(capsys.readouterr().out)
    # Keras prints nothing at verbose=2 without a target.
    assert bool(texts[0]) == (verbose == 1 or target is not None)
    assert _untimed(texts[1]) == _untimed(texts[0])
    assert texts[1] == texts[0]  # same clock, same calls: the times agree too


def _drive_logger(logger, steps, epochs, verbose, monkeypatch):
    monkeypatch.setattr(time, "time", FakeClock(step=0.004))
    logger.set_params({"verbose": verbose, "epochs": epochs, "steps": steps})
    logger.on_train_begin()
    for epoch in range(epochs):
        logger.on_epoch_begin(epoch)
        for batch in range(steps or 25):
            logger.on_train_batch_begin(batch)
            logger.on_train_batch_end(
                batch, {"accuracy": 0.5 + batch / 100, "loss": 1 / (batch + 1)}
            )
        logger.on_epoch_end(epoch, {"accuracy": 0.8, "loss": 0.04, "val_loss": 0.05})
    logger.on_train_end()


@pytest.mark.parametrize("verbose", [1, 2, "auto"])
@pytest.mark.parametrize("steps", [25, None])
def test_progbar_logger_same_text_as_keras(keras3, monkeypatch, capsys, verbose, steps):
    texts = []
    for logger in (keras3.callbacks.ProgbarLogger(), callbacks.ProgbarLogger()):
        _drive_logger(logger, steps, 2, verbose, monkeypatch)
        texts.append(capsys.readouterr().out)
    assert "Epoch 2/2\n" in texts[1]
    assert texts[1] == texts[0]


def test_progbar_logger_epoch_lines(monkeypatch, capsys):
    _drive_logger(callbacks.ProgbarLogger(), 25, 3, 2, monkeypatch)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    for line in lines[1::2]:
        assert re.fullmatch(
            r"25/25 - \d+s - \d+(us|ms|s)/step - accuracy: 0\.8000 - loss: 0\.0400 - val_loss: 0\.0500",
            line,
        ), line


def test_progbar_logger_evaluate_and_predict(monkeypatch, capsys):
    logger = callbacks.ProgbarLogger()
    logger.set_params({"verbose": 1, "epochs": 1, "steps": 4})
    logger.on_test_begin()
    for batch in range(4):
        logger.on_test_batch_end(batch, {"loss": 0.5})
    logger.on_test_end({"loss": 0.25})
    out = capsys.readouterr().out
    assert out.endswith(" - loss: 0.2500\n") and "4/4" in out
    logger.on_predict_begin()
    for batch in range(4):
        logger.on_predict_batch_end(batch, {"outputs": object()})
    logger.on_predict_end()
    out = capsys.readouterr().out
    assert "4/4" in out and "outputs" not in out


class CountingLogs(Mapping):
    """Batch logs that count how often their values are read."""

    reads = 0

    def __init__(self, loss: float) -> None:
        self._loss = loss

    def __getitem__(self, key):
        if key != "loss":
            raise KeyError(key)
        CountingLogs.reads += 1
        return self._loss

    def __iter__(self):
        return iter(["loss"])

    def __len__(self):
        return 1


def test_progbar_logger_reads_batch_logs_only_when_it_draws(capsys, monkeypatch):
    clock = FakeClock(step=0.0)
    monkeypatch.setattr(time, "time", clock)
    logger = callbacks.ProgbarLogger()
    logger.set_params({"verbose": 1, "epochs": 1, "steps": 1000})
    logger.on_epoch_begin(0)
    CountingLogs.reads = 0
    for batch in range(1000):
        clock.now += 0.001
        logger.on_train_batch_end(batch, CountingLogs(1.0 / (batch + 1)))
    draws = capsys.readouterr().out.count("\r")
    assert draws == CountingLogs.reads < 25
    logger.on_epoch_end(0, {"loss": 0.5})
    assert capsys.readouterr().out.endswith(" - loss: 0.5000\n")
