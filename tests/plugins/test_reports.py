"""The backend author's tools: the conformance suite run from the installed
package against a named device (and its coverage table), ``devrt test``,
``devrt backends --ops`` and the "needed by" report."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import devrt
import devrt.cuda
from devrt.__main__ import op_matrix
from devrt.testing import supports
from devrt.testing.needs import needed_ops
from devrt.testing.workloads import WORKLOADS

# A third-party backend whose add subtracts: the suite must fail it, and
# skip what it does not declare.
WRONG_BACKEND = """
    import numpy as np
    from devrt.hookspecs import hookimpl

    def _add(inputs, outputs, attrs):
        np.subtract(inputs[0], inputs[1], out=outputs[0])

    def _copy(inputs, outputs, attrs):
        np.copyto(outputs[0], inputs[0], casting="unsafe")

    @hookimpl
    def devrt_register_backends(registry):
        registry.register_backend("wrongdev", device_count=1)
        registry.register_kernel("add", "wrongdev", ["float32"], _add)
        registry.register_kernel("copy", "wrongdev", ["float32", "float64"], _copy)
"""


def run(*args: str, cwd: Path, path: Path | None = None, **env_extra: str):
    env = dict(os.environ)
    env.pop("DEVRT_REQUIRE_CUDA", None)
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(path), env.get("PYTHONPATH")]))
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def wrong_backend(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("wrongdev")
    info = folder / "devrt_wrongdev-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: devrt-wrongdev\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[devrt.backends]\nwrongdev = devrt_wrongdev\n")
    (folder / "devrt_wrongdev.py").write_text(textwrap.dedent(WRONG_BACKEND))
    return folder


# --- the conformance suite from the installed package ----------------------------------


def test_suite_runs_from_outside_the_source_tree_on_a_named_device(tmp_path):
    proc = run(
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--pyargs",
        "devrt.testing.conformance.test_join",
        "--devrt-device=pydev",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "devrt coverage: op × dtype" in out
    assert "[pydev-" in out or "passed" in out
    assert "cpu" not in out.split("devrt coverage")[1], "only the named device runs"
    table = out.split("devrt coverage")[1].splitlines()
    assert any(line.startswith("index ") and "/0/" in line for line in table), out


def test_suite_fails_what_a_device_gets_wrong_and_skips_what_it_lacks(tmp_path, wrong_backend):
    proc = run(
        "-m",
        "devrt",
        "test",
        "wrongdev",
        "--",
        "-p",
        "no:cacheprovider",
        "-rfs",
        "-k",
        "test_binary_dtypes and float32",
        cwd=tmp_path,
        path=wrong_backend,
    )
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "FAILED" in out and "[wrongdev-add-float32" in out, out
    assert "wrongdev has no 'sub' kernel for float32" in out, out
    table = out.split("devrt coverage")[1].splitlines()
    add = next(line for line in table if line.startswith("add "))
    sub = next(line for line in table if line.startswith("sub "))
    passed, failed, skipped = map(int, add.split()[-1].split("/"))
    assert failed > 0 and passed == 0, add
    assert sub.split()[-1].split("/")[:2] == ["0", "0"], sub


def test_unknown_device_is_a_usage_error(tmp_path):
    proc = run("-m", "devrt", "test", "nosuchdev", "--", "-p", "no:cacheprovider", cwd=tmp_path)
    assert proc.returncode != 0
    assert "no backend registered for nosuchdev" in proc.stdout + proc.stderr


@pytest.mark.skipif(devrt.cuda.is_available(), reason="checks the run without a usable GPU")
def test_require_cuda_turns_the_cuda_skip_into_a_failure(tmp_path):
    args = ["-m", "devrt", "test", "cuda", "--", "-p", "no:cacheprovider", "-k", "test_join"]
    skipped = run(*args, cwd=tmp_path)
    assert skipped.returncode == 0 and "CUDA unavailable" in skipped.stdout, skipped.stdout
    failed = run(*args, cwd=tmp_path, DEVRT_REQUIRE_CUDA="1")
    assert failed.returncode == 1 and "DEVRT_REQUIRE_CUDA=1 but" in failed.stdout


# --- devrt backends --ops --------------------------------------------------------------


def test_op_matrix_has_every_op_and_each_backends_dtypes():
    lines = op_matrix().splitlines()
    names = [b["name"] for b in devrt.backends() if b["registered"]]
    assert lines[0] == "| op | family | " + " | ".join(names) + " | computes |"
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in lines[2:] if line}
    catalogue = devrt.catalogue()
    assert {op["name"] for op in catalogue} <= set(rows)
    add = rows["add"].strip("| ").split(" | ")
    assert add[2 + names.index("cpu")] == "i32 i64 f32 f64"
    assert "built by the core" in rows["conv2d"] and "a view" in rows["reshape"]
    assert add[-1] == next(op["doc"] for op in catalogue if op["name"] == "add")


def test_cli_backends_ops_prints_markdown(tmp_path):
    proc = run("-m", "devrt", "backends", "--ops", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("| op | family | cpu")
    assert "| matmul | matmul |" in proc.stdout


def test_catalogue_is_documented():
    assert "capability manifest" in devrt.catalogue.__doc__
    entry = devrt.catalogue()[0]
    assert set(entry) == {"name", "family", "num_inputs", "num_outputs", "attrs", "doc", "kernels"}


# --- the "needed by" report ------------------------------------------------------------


def test_the_cpu_lacks_nothing_any_workload_needs():
    for name in WORKLOADS:
        assert needed_ops(name).missing("cpu") == [], name


def test_needed_ops_names_what_pydev_lacks():
    needs = needed_ops("two_layer_eager")
    missing = needs.missing("pydev")
    assert ("sub", "float32") in missing and ("pow", "float32") in missing
    assert ("matmul", "float32") not in missing
    with pytest.raises(KeyError, match=r"\[needed_ops\] no workload named 'nope'"):
        needed_ops("nope")


def test_cli_needs_reports_forward_backward_and_what_a_device_lacks(tmp_path):
    proc = run("-m", "devrt", "needs", "--device", "pydev", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for name in WORKLOADS:
        assert f"## {name}:" in out
    cnn = out.split("## cnn:")[1]
    # the convolution's kernels: the CPU's direct ones where it has them
    conv = "conv2d_nhwc" if supports("cpu", "conv2d_nhwc", "float32") else "im2col"
    assert "- forward: " in cnn and f"{conv} (float32)" in cnn
    assert "max_pool2d_backward (float32)" in cnn.split("- backward and update: ")[1]
    assert "- pydev lacks: " in cnn
