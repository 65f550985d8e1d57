"""`devrt bench` and devrt.utils.benchmark: the table, the chart, bad input."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from devrt.utils import benchmark


def test_table_reports_throughput_and_speed_against_devrt_cpu():
    who = [benchmark.Contender("devrt cpu", None), benchmark.Contender("other", None)]
    results = benchmark.Results(sizes=[100])
    results.matmul = {"devrt cpu": {100: 2e-3}, "other": {100: 1e-3}}
    results.steps = {
        "devrt cpu": dict.fromkeys(benchmark.STEPS, 4e-3),
        "other": dict.fromkeys(benchmark.STEPS, 8e-3),
    }
    text = benchmark.table(who, results)
    row = next(line for line in text.splitlines() if line.strip().startswith("100"))
    # 2 * 100**3 flops in 2 ms and in 1 ms: 1 and 2 GFLOP/s, the other twice as fast.
    assert row.split() == ["100", "1.0", "1.00x", "2.0", "2.00x"]
    step = next(line for line in text.splitlines() if line.startswith("two-layer step"))
    assert step.split()[-4:] == ["4.000", "1.00x", "8.000", "0.50x"]


def test_compare_gives_each_contender_its_median():
    calls = {"a": lambda: None, "b": lambda: sum(range(2000))}
    t = benchmark.compare(calls, rounds=3, target=0.002)
    assert set(t) == {"a", "b"} and t["b"] > t["a"] > 0


def test_workloads_run_on_devrt():
    import devrt

    for make in benchmark.STEPS.values():
        make(devrt)()
    y = benchmark.matmul_call(devrt, 8)()
    assert tuple(y.shape) == (8, 8)


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "devrt", "bench", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs matplotlib")
def test_devrt_bench_prints_a_table_and_draws_a_chart(tmp_path):
    out = tmp_path / "chart.png"
    proc = _bench("cpu", "--sizes", "16", "32", "--rounds", "1", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "devrt cpu" in proc.stdout and "small CNN step" in proc.stdout
    if importlib.util.find_spec("torch") is not None:
        assert "torch cpu" in proc.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_devrt_bench_refuses_a_device_that_is_not_there():
    proc = _bench("cuda:7", "--sizes", "16")
    assert proc.returncode == 2
    assert proc.stderr.startswith("[bench] no device cuda:7; devices here: cpu")


def test_devrt_bench_refuses_sizes_below_one():
    proc = _bench("--sizes", "0", "--devrt-only")
    assert proc.returncode == 2
    assert proc.stderr.startswith("[bench] sizes must be positive")
