"""devrt's pytest plugin, registered through the ``pytest11`` entry point.

It adds ``--devrt-device`` and, after a run of the conformance suite, prints
an op × dtype coverage table per device. Run the suite against a device::

    pytest --pyargs devrt.testing --devrt-device=NAME    # or: devrt test NAME

The fixtures themselves (``device``, ``need``, ``rng``) live in
:mod:`devrt.testing.fixtures` and are taken in by the suite's conftest, so
that installing devrt adds no fixture to other projects' tests.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

import devrt
from devrt.testing.conformance.support import ALL_DTYPES

ANY = "any"  # a test that needs an op whatever its dtype

# What the fixtures (devrt.testing.fixtures) put in a test's user_properties
# for the table: the device, each (op, dtype) the test needs, and the one
# whose absence skipped it.
DEVICE_KEY = "devrt_device"
NEEDS_KEY = "devrt_needs"
MISSING_KEY = "devrt_missing"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("devrt", "devrt conformance suite")
    group.addoption(
        "--devrt-device",
        action="append",
        dest="devrt_device",
        metavar="NAME",
        help="run the device tests on NAME (cpu, pydev, cuda, cuda:1, a third-party "
        "device); repeat for several. Default: every available device.",
    )
    group.addoption(
        "--devrt-no-coverage",
        action="store_true",
        dest="devrt_no_coverage",
        help="do not print the op × dtype coverage table at the end of the run",
    )


class Coverage:
    """Outcomes of the device tests, per device and per (op, dtype).

    A passed or failed test counts for every (op, dtype) it said it needs
    (through the ``need`` fixture); a skipped one counts only for the kernel
    whose absence skipped it."""

    def __init__(self) -> None:
        self.cells: dict[str, dict[tuple[str, str], list[int]]] = defaultdict(dict)
        self.unlabelled: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        self.device_skips: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, report: pytest.TestReport) -> None:
        if report.when == "teardown" or (report.when == "setup" and report.passed):
            return
        props = defaultdict(list)
        for key, value in report.user_properties:
            props[key].append(value)
        if DEVICE_KEY not in props:
            return
        device = props[DEVICE_KEY][0]
        slot = 0 if report.passed else 1 if report.failed else 2
        if report.when == "setup" and report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else "skipped"
            self.device_skips[device][reason.removeprefix("Skipped: ")] += 1
            return
        pairs = props[MISSING_KEY] if report.skipped else props[NEEDS_KEY]
        if not pairs:
            self.unlabelled[device][slot] += 1
        for op, dtype in dict.fromkeys(pairs):
            self.cells[device].setdefault((op, dtype or ANY), [0, 0, 0])[slot] += 1

    def lines(self) -> list[str]:
        out = []
        devices = list(dict.fromkeys([*self.cells, *self.unlabelled, *self.device_skips]))
        for device in devices:
            out.append("")
            for reason, count in self.device_skips[device].items():
                out.append(f"{device}: {count} test{'s' * (count != 1)} skipped: {reason}")
            cells = self.cells.get(device, {})
            if cells:
                out += self._table(device, cells)
            p, f, s = self.unlabelled.get(device, [0, 0, 0])
            if p or f or s:
                out.append(f"{device}: tests naming no op: {p} passed, {f} failed, {s} skipped")
        return out

    @staticmethod
    def _table(device: str, cells: dict[tuple[str, str], list[int]]) -> list[str]:
        dtypes = [d for d in [*ALL_DTYPES, ANY] if any(k[1] == d for k in cells)]
        dtypes += sorted({k[1] for k in cells} - set(dtypes))
        ops = sorted({k[0] for k in cells}, key=_catalogue_order())
        width = max(9, *(len(d) for d in dtypes))
        opw = max(len(device), *(len(op) for op in ops))
        rows = [f"{device:<{opw}} " + " ".join(f"{d:>{width}}" for d in dtypes)]
        for op in ops:
            row = []
            for d in dtypes:
                c = cells.get((op, d))
                row.append(f"{'/'.join(map(str, c)) if c else '.':>{width}}")
            rows.append(f"{op:<{opw}} " + " ".join(row))
        return rows


def _catalogue_order():
    order = {op["name"]: i for i, op in enumerate(devrt.catalogue())}
    return lambda op: (order.get(op, len(order)), op)


def pytest_configure(config: pytest.Config) -> None:
    from devrt.testing.fixtures import selected_devices

    # Fixes the devices before collection; a name no backend registered stops the run here.
    selected_devices(config)
    if not config.getoption("devrt_no_coverage"):
        config.pluginmanager.register(CoverageReporter(), "devrt-coverage")


class CoverageReporter:
    """The plugin object that gathers the reports and prints the table."""

    def __init__(self) -> None:
        self.coverage = Coverage()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.coverage.add(report)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        lines = self.coverage.lines()
        if not lines:
            return
        terminalreporter.write_sep("=", "devrt coverage: op × dtype, passed/failed/skipped tests")
        for line in lines[1:]:
            terminalreporter.write_line(line)
