"""``keras.utils.Progbar``: the progress bar ``fit``, ``evaluate`` and
``predict`` draw, character for character as Keras 3 draws it.

verbose=1 redraws one line in place (``\\b``/``\\r``), at most every
``interval`` seconds and once more at the end:

    37/1875 ━━━━━━━━━━━━━━━━━━━━ 2s 1ms/step - accuracy: 0.8712 - loss: 0.4123

verbose=2 prints one line when the bar finishes:

    1875/1875 - 3s - 2ms/step - accuracy: 0.9120 - loss: 0.3012

``INTERACTIVE`` (set by ``keras.config.enable/disable_interactive_logging``)
sends the text to stdout when true and to the ``devrt.keras`` logger
otherwise.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

INTERACTIVE = True

_logger = logging.getLogger("devrt.keras")


def print_msg(message: Any, line_break: bool = True) -> None:
    """Writes `message` to stdout (interactive logging) or to the logger."""
    message = str(message)
    if not INTERACTIVE:
        _logger.info(message)
        return
    if line_break:
        message += "\n"
    try:
        sys.stdout.write(message)
    except UnicodeEncodeError:
        # A terminal that cannot show "━" gets "=" instead.
        encoding = sys.stdout.encoding or "utf-8"
        message = message.replace("━", "=").encode(encoding, errors="ignore").decode(encoding)
        sys.stdout.write(message)
    sys.stdout.flush()


def _items(values: Any) -> Iterable[tuple[str, Any]]:
    return values.items() if isinstance(values, Mapping) else values


def _names_cover(values: Any, previous: Any) -> bool:
    """Whether the mapping `values` names everything `previous` names,
    found without reading any value."""
    if type(values) is dict and type(previous) is dict:
        return previous.keys() <= values.keys()
    if isinstance(values, Mapping) and isinstance(previous, Mapping):
        return set(iter(previous)) <= set(iter(values))
    return False


def _format_time(time_per_unit: float, unit_name: str) -> str:
    if time_per_unit >= 1 or time_per_unit == 0:
        return f" {time_per_unit:.0f}s/{unit_name}"
    if time_per_unit >= 1e-3:
        return f" {time_per_unit * 1000.0:.0f}ms/{unit_name}"
    return f" {time_per_unit * 1000000.0:.0f}us/{unit_name}"


def _format_eta(eta: float) -> str:
    if eta > 3600:
        return f"{int(eta // 3600)}:{int((eta % 3600) // 60):02d}:{int(eta % 60):02d}"
    if eta > 60:
        return f"{int(eta // 60)}:{int(eta % 60):02d}"
    return f"{int(eta)}s"


class Progbar:
    """Displays a progress bar.

    Args:
        target: total number of steps expected, None if unknown.
        width: bar width in characters.
        verbose: 0 (silent), 1 (the bar, redrawn in place) or 2 (one line at
            the end).
        interval: least time in seconds between two redraws at verbose=1.
        stateful_metrics: names of values shown as given; every other value
            is averaged over the steps (weighted by steps since the last
            update).
        stateless_metrics: the opposite list: names of the values that are
            averaged; every other value is shown as given. At most one of
            the two lists may be given.
        unit_name: what one step is called ("step", "sample").
    """

    def __init__(
        self,
        target: int | None,
        width: int = 20,
        verbose: int = 1,
        interval: float = 0.05,
        stateful_metrics: Iterable[str] | None = None,
        stateless_metrics: Iterable[str] | None = None,
        unit_name: str = "step",
    ) -> None:
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "[Progbar] only one of `stateful_metrics` or `stateless_metrics` "
                "can be provided: `stateful_metrics` lists the values shown as "
                "given (all others are averaged), `stateless_metrics` lists the "
                "values averaged (all others are shown as given)"
            )
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        if stateful_metrics is not None:
            self.stateful_metrics: set[str] | None = set(stateful_metrics)
            self.stateless_metrics: set[str] | None = None
        elif stateless_metrics is not None:
            self.stateful_metrics = None
            self.stateless_metrics = set(stateless_metrics)
        else:
            self.stateful_metrics = set()
            self.stateless_metrics = None

        # Note: as in Keras 3, every POSIX system counts as a dynamic
        # display (the bar is redrawn with "\b"/"\r" even into a pipe); the
        # newline-per-update form remains for the other platforms.
        self._dynamic_display = (
            (hasattr(sys.stdout, "isatty") and sys.stdout.isatty())
            or "ipykernel" in sys.modules
            or "posix" in sys.modules
            or "PYCHARM_HOSTED" in os.environ
        )
        self._seen_so_far = 0
        # name -> [weighted sum, weight]; the order of first appearance.
        self._values: dict[str, list] = {}
        self._values_order: list[str] = []
        self._start = time.time()
        self._last_update = 0.0
        self._time_at_epoch_start = self._start
        self._time_after_first_step: float | None = None
        self._prev_total_width = 0
        # Note: when no value is averaged (ProgbarLogger's case: the loop
        # reports running means), only the last update's values can show, so
        # an update keeps a reference to them and they are read only when the
        # bar is drawn. A batch the throttle skips costs a few stores, and
        # `values` may be a Mapping that computes its items when read.
        self._shows_as_given = self.stateless_metrics is not None and not self.stateless_metrics
        self._pending: Any = None

    def update(
        self,
        current: int,
        values: Iterable[tuple[str, Any]] | Mapping[str, Any] | None = None,
        finalize: bool | None = None,
    ) -> None:
        """Records step `current` and redraws the bar if it is due.

        Args:
            current: index of the current step (1-based count of steps done).
            values: `(name, value)` pairs (or a mapping) for the last step.
            finalize: whether this is the last update; by default, whether
                `current` reached the target.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if self._shows_as_given and values is not None:
            # Read when drawn (see the Note in __init__); names the new values
            # lack keep their last value, as if recorded now.
            pending = self._pending
            if pending is not None and not _names_cover(values, pending):
                self._record_pending()
            self._pending = values
        elif values:
            self._record(current, values, finalize)
        self._seen_so_far = current

        now = time.time()
        time_per_unit = self._estimate_step_duration(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._record_pending()
            self._draw(current, now, time_per_unit, finalize)
        elif self.verbose == 2 and finalize and self.target is not None and self.target > 0:
            self._record_pending()
            self._print_summary(current, now, time_per_unit)
        self._last_update = now

    def add(self, n: int, values: Iterable[tuple[str, Any]] | None = None) -> None:
        self.update(self._seen_so_far + n, values)

    def _record_pending(self) -> None:
        if self._pending is not None:
            for k, v in _items(self._pending):
                if k not in self._values:
                    self._values_order.append(k)
                self._values[k] = [v, 1]
            self._pending = None

    def _record(self, current: int, values: Any, finalize: bool) -> None:
        for k, v in _items(values):
            if k not in self._values:
                self._values_order.append(k)
            if self.stateful_metrics is not None:
                stateless = k not in self.stateful_metrics
            else:
                stateless = k in self.stateless_metrics  # type: ignore[operator]
            if stateless and not finalize:
                # Weighted by the steps since the last update, at least 1
                # (a target-less first epoch reports the last step twice).
                weight = max(current - self._seen_so_far, 1)
                entry = self._values.get(k)
                if entry is None:
                    self._values[k] = [v * weight, weight]
                else:
                    entry[0] += v * weight
                    entry[1] += weight
            else:
                self._values[k] = [v, 1]

    def _average(self, k: str) -> float:
        total, count = self._values[k]
        if not isinstance(total, float):
            total = np.mean(total)
        return total / max(1, count)

    def _draw(self, current: int, now: float, time_per_unit: float, finalize: bool) -> None:
        message = ("\b" * self._prev_total_width + "\r") if self._dynamic_display else "\n"
        # Escape sequences take no room on screen; count them out of the width.
        special_char_len = 0
        if self.target is not None and self.target > 0:
            numdigits = int(math.log10(self.target)) + 1
            count = f"%{numdigits}d/%d" % (current, self.target)
            bar = f"\x1b[1m{count}\x1b[0m "
            special_char_len += 8
            prog_width = int(self.width * float(current) / self.target)
            if prog_width > 0:
                bar += f"\33[32m{'━' * prog_width}\x1b[0m"
                special_char_len += 9
            bar += f"\33[37m{'━' * (self.width - prog_width)}\x1b[0m"
            special_char_len += 9
        else:
            bar = f"{int(current):7d}/Unknown"
        message += bar

        if self.target is not None and self.target > 0 and not finalize:
            info = f" \x1b[1m{_format_eta(time_per_unit * (self.target - current))}\x1b[0m"
        else:
            info = f" \x1b[1m{now - self._start:.0f}s\x1b[0m"
        special_char_len += 8
        info += _format_time(time_per_unit, self.unit_name)
        for k in self._values_order:
            avg = self._average(k)
            info += f" - {k}: {avg:.4f}" if abs(avg) > 1e-3 else f" - {k}: {avg:.4e}"
        message += info

        total_width = len(bar) + len(info) - special_char_len
        if self._prev_total_width > total_width:
            message += " " * (self._prev_total_width - total_width)
        if finalize:
            message += "\n"
        print_msg(message, line_break=False)
        self._prev_total_width = total_width

    def _print_summary(self, current: int, now: float, time_per_unit: float) -> None:
        numdigits = int(math.log10(self.target)) + 1  # type: ignore[arg-type]
        count = f"%{numdigits}d/%d" % (current, self.target)
        info = f"{count} - {now - self._start:.0f}s"
        info += f" -{_format_time(time_per_unit, self.unit_name)}"
        for k in self._values_order:
            avg = self._average(k)
            # Keras compares the signed value here (the bar uses abs).
            info += f" - {k}: {avg:.4f}" if avg > 1e-3 else f" - {k}: {avg:.4e}"
        print_msg(info + "\n", line_break=False)

    def _estimate_step_duration(self, current: int, now: float) -> float:
        """Seconds per step. The first step (often slow: allocation, warm-up)
        is left out of the estimate once later steps exist."""
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            time_per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            time_per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return time_per_unit
