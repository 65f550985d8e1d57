"""The example backends of examples/backends install with pip from their
folders, pass their slice of the conformance suite and train beside the CPU
in one process.

Both are installed once per session into a temporary folder that the
subprocesses below put on sys.path: ``numpy_device`` (``npdev``, Python
kernels over memory of its own) and ``native_device`` (``natdev``, C++
built against this devrt's installed headers, library and CMake package).
The builds use the running environment (``--no-build-isolation``), whose
test extras bring hatchling, scikit-build-core, cmake and ninja.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import devrt

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "backends"
DEVICES = ["npdev", "natdev"]


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("example_backends")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-build-isolation",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(EXAMPLES / "numpy_device"),
            str(EXAMPLES / "native_device"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"pip install of the examples failed:\n{proc.stderr[-4000:]}"
    return target


def run_python(site: Path, code: str, *args: str, cwd: Path | None = None, timeout=300):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env.pop("DEVRT_DISABLE_PLUGIN_AUTOLOAD", None)
    env.pop("DEVRT_FALLBACK", None)
    return subprocess.run(
        [sys.executable, *(["-c", code] if code else []), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )


def test_devrt_ships_what_a_native_backend_builds_against():
    include = Path(devrt.get_include())
    assert (include / "devrt" / "c_api.h").is_file()
    assert (include / "devrt" / "rng.h").is_file()
    cmake = Path(devrt.get_cmake_dir())
    assert (cmake / "devrtConfig.cmake").is_file()
    assert (cmake / "devrtConfigVersion.cmake").is_file()
    assert Path(devrt.get_library()).is_file()


def test_a_missing_file_of_the_native_api_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(devrt, "__path__", [str(tmp_path)])
    with pytest.raises(
        FileNotFoundError, match=r"^\[get_include\] include/devrt/c_api.h not found in "
    ):
        devrt.get_include()
    with pytest.raises(
        FileNotFoundError, match=r"^\[get_cmake_dir\] share/cmake/devrt/devrtConfig.cmake not found"
    ):
        devrt.get_cmake_dir()
    with pytest.raises(FileNotFoundError, match=r"^\[get_library\] lib/libdevrt_core"):
        devrt.get_library()


def test_both_examples_register_through_their_entry_points(site):
    proc = run_python(site, "", "-m", "devrt", "backends")
    assert proc.returncode == 0, proc.stderr
    for name in DEVICES:
        line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(name))
        assert line.split()[:3] == [name, "loaded", name], line
    assert "failed" not in proc.stdout


def test_their_slice_of_the_conformance_suite_passes(site, tmp_path):
    report = tmp_path / "junit.xml"
    args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--pyargs", "devrt.testing"]
    args += [f"--devrt-device={d}" for d in DEVICES] + [f"--junitxml={report}"]
    proc = run_python(site, "", *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    # The coverage table names each device, and the run ends without failures.
    for name in DEVICES:
        assert f"{name}: tests naming no op:" in proc.stdout
    cases = {c.get("name"): c for c in ET.parse(report).getroot().iter("testcase")}

    def outcome(case):
        tags = [child.tag for child in case if child.tag != "properties"]
        return tags[0] if tags else "passed"

    # The two-layer network trains like the CPU on both, eagerly and as a graph.
    for name in DEVICES:
        for workload in ("two_layer_eager", "two_layer_graph"):
            case = cases[f"test_workload_trains_like_the_cpu[{name}-{workload}]"]
            assert outcome(case) == "passed", (name, workload)
    # What they lack is skipped with the reason.
    skips = [
        c.find("skipped").get("message", "") for c in cases.values() if outcome(c) == "skipped"
    ]
    for name in DEVICES:
        assert any(f"{name} has no 'exp' kernel for float32" in m for m in skips)
        assert any(f"{name} has no 'add' kernel for float64" in m for m in skips)
    assert sum(outcome(c) == "passed" for c in cases.values()) > 2 * 400


TRAIN_BESIDE_CPU = textwrap.dedent(
    """
    import json
    import numpy as np
    import devrt
    from devrt.testing.workloads import two_layer_eager, two_layer_graph

    out = {"backends": {b["name"]: b["host_accessible"] for b in devrt.backends()}}
    # One process, steps interleaved across devices: each device's weights
    # stay on it while the others train.
    rng = np.random.default_rng(0)
    x0, y0 = rng.standard_normal((16, 32), dtype=np.float32), rng.standard_normal((16, 4), dtype=np.float32)
    w0 = [rng.standard_normal(s, dtype=np.float32) * 0.1 for s in [(32, 16), (16, 4)]]
    state = {}
    for d in ["cpu", "npdev", "natdev"]:
        state[d] = ([devrt.from_numpy(a).to(d) for a in (x0, y0)],
                    [devrt.from_numpy(w).to(d).requires_grad_() for w in w0], [])
    for step in range(5):
        for d, ((x, y), (w1, w2), losses) in state.items():
            loss = (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()
            loss.backward()
            with devrt.no_grad():
                w1 -= 1e-3 * w1.grad
                w2 -= 1e-3 * w2.grad
            w1.grad = w2.grad = None
            losses.append(loss.item())
    out["losses"] = {d: s[2] for d, s in state.items()}
    out["devices"] = {d: str(s[1][0].device) for d, s in state.items()}
    # Weights move from one example device to the other through the host.
    moved = state["npdev"][1][0].detach().to("natdev")
    out["moved"] = float(np.abs(moved.cpu().numpy() - state["npdev"][1][0].detach().cpu().numpy()).max())
    out["graph"] = {d: two_layer_graph(d, 5) for d in ["cpu", "npdev", "natdev"]}
    import devrt_npdev
    out["npdev_in_use"] = devrt_npdev.MEMORY.in_use[0]
    print(json.dumps(out))
    """
)


def test_a_training_step_runs_beside_the_cpu_in_one_process(site):
    proc = run_python(site, TRAIN_BESIDE_CPU)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout)
    # Neither example's memory is host memory: tensors move through copies.
    assert out["backends"]["cpu"] is True
    assert out["backends"]["npdev"] is False and out["backends"]["natdev"] is False
    assert out["devices"] == {"cpu": "cpu", "npdev": "npdev:0", "natdev": "natdev:0"}
    assert out["npdev_in_use"] > 0
    assert out["moved"] == 0.0
    for kind in ("losses", "graph"):
        cpu = out[kind]["cpu"]
        assert cpu[-1] < cpu[0]
        for d in DEVICES:
            assert out[kind][d] == pytest.approx(cpu, rel=1e-4), (kind, d)


LACKING = textwrap.dedent(
    """
    import sys
    import numpy as np
    import devrt
    dev = sys.argv[1]
    t = devrt.from_numpy(np.linspace(-1, 1, 6, dtype=np.float32)).to(dev)
    try:
        t.exp()
    except NotImplementedError as e:
        print("missing:", e)
    try:
        t.double() + t.double()
    except NotImplementedError as e:
        print("dtype:", e)
    devrt.set_fallback("cpu")
    r = t.exp()
    print("fallback:", r.device, np.allclose(r.cpu().numpy(), np.exp(np.linspace(-1, 1, 6))))
    print("report:", [(e["op"], e["device"], e["ran_on"]) for e in devrt.placement_report()])
    """
)


@pytest.mark.parametrize("name", DEVICES)
def test_an_op_the_example_lacks_is_named_or_falls_back(site, name):
    proc = run_python(site, LACKING, name)
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = dict(ln.split(": ", 1) for ln in proc.stdout.splitlines())
    assert lines["missing"].startswith(f"[exp] no kernel for dtype float32 on {name}:0")
    assert "cpu" in lines["missing"]
    # npdev has no float64 add; natdev already refuses the cast to float64.
    assert f"{name}:0" in lines["dtype"] and "float64" in lines["dtype"], lines["dtype"]
    assert lines["fallback"] == f"{name}:0 True"
    assert f"('exp', '{name}:0', 'cpu')" in lines["report"]
