"""`devrt demo` trains the two-layer network on every backend it can."""

from __future__ import annotations

import subprocess
import sys

from devrt import demo


def test_eager_row_trains_on_cpu():
    row = demo.eager("cpu", steps=30)
    assert row.error is None
    assert row.last_loss < row.first_loss / 10
    assert row.ms_per_step > 0


def test_graph_row_trains_on_cpu():
    row = demo.graph("cpu", steps=30)
    assert row.error is None
    assert row.last_loss < row.first_loss / 10
    assert row.ms_per_step > 0


def test_keras_row_trains_on_cpu():
    row = demo.keras("cpu", steps=30)
    assert row.error is None
    assert row.last_loss < row.first_loss / 2
    assert row.ms_per_step > 0


def test_demo_command_prints_a_row_per_device():
    out = subprocess.run(
        [sys.executable, "-m", "devrt", "demo", "--steps", "20"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for frontend in ("eager", "graph", "keras"):
        rows = [line for line in lines if line.startswith(frontend)]
        assert any(" cpu " in line and "skipped" not in line for line in rows), out.stdout


def test_import_devrt_alone_gives_the_torch_style_namespaces():
    # as `import torch` gives torch.cuda, torch.nn, ... without more imports
    code = (
        "import devrt; "
        "print(devrt.cuda.is_available(), devrt.nn.Linear, devrt.optim.SGD, "
        "devrt.utils.data.DataLoader, devrt.autograd.grad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] in ("True", "False")
