"""Backend discovery through the ``devrt.backends`` entry points, in fresh
processes.

Third-party plugins are made discoverable the way an installed package is:
a ``*.dist-info`` folder with ``entry_points.txt`` and the plugin's module,
both in a folder put on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import devrt

GOOD_DEVICE = "fakegood"

PLUGINS = {
    # A plugin whose import raises.
    "fake_broken_import": """
        raise ImportError("fake_broken_import cannot find libnothing-4711.so")
    """,
    # A plugin whose registration hook raises.
    "fake_broken_hook": """
        from devrt.hookspecs import hookimpl

        @hookimpl
        def devrt_register_backends(registry):
            raise RuntimeError("hook exploded: error-code-0815")
    """,
    # A good third-party backend written in Python.
    "fake_good": f"""
        import numpy as np
        from devrt.hookspecs import hookimpl

        def _add(inputs, outputs, attrs):
            np.add(inputs[0], inputs[1], out=outputs[0])

        def _mul(inputs, outputs, attrs):
            np.multiply(inputs[0], inputs[1], out=outputs[0])

        @hookimpl
        def devrt_register_backends(registry):
            registry.register_backend("{GOOD_DEVICE}", device_count=2)
            registry.register_kernel("add", "{GOOD_DEVICE}", ["float32", "int64"], _add)
            registry.register_kernel("mul", "{GOOD_DEVICE}", ["float32"], _mul)

        @hookimpl
        def devrt_describe():
            return {{"flavour": "vanilla-1234"}}
    """,
}

ENTRY_POINTS = {
    "broken_import": "fake_broken_import",
    "broken_hook": "fake_broken_hook",
    "good": "fake_good",
}


def write_distribution(folder: Path, dist: str, modules: dict[str, str], eps: dict[str, str]):
    info = folder / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = ["[devrt.backends]"] + [f"{name} = {target}" for name, target in eps.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in modules.items():
        (folder / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fake_plugins")
    write_distribution(folder, "fake_devrt_plugins", PLUGINS, ENTRY_POINTS)
    return folder


def run(code: str | None, path: Path | None, *args: str, **env_extra: str):
    env = dict(os.environ)
    env.pop("DEVRT_DISABLE_PLUGIN_AUTOLOAD", None)
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(path)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        )
    env.update(env_extra)
    cmd = [sys.executable] + (["-c", textwrap.dedent(code)] if code is not None else list(args))
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


STATUS_SCRIPT = """
    import json
    import devrt

    status = {
        s.name: {"loaded": s.loaded, "error": s.error, "backends": s.backends, "target": s.target}
        for s in devrt.plugin_status()
    }
    try:
        x = devrt.arange(6, dtype=devrt.float32).reshape(2, 3)
        cpu = {
            "sum": (x * 2).sum().item(),
            "matmul": (x @ x.t()).tolist(),
            "device": str(x.device),
        }
    except Exception as exc:
        cpu = {"error": f"{type(exc).__name__}: {exc}"}
    types = [b["name"] for b in devrt.backends() if b["registered"]]
    print(json.dumps({"status": status, "cpu": cpu, "types": types}))
"""


def run_status(path: Path | None, **env) -> dict:
    proc = run(STATUS_SCRIPT, path, **env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_cpu_works(result: dict) -> None:
    status = result["status"]["cpu"]
    assert status["loaded"], status
    assert "error" not in result["cpu"], result["cpu"]
    assert result["cpu"]["sum"] == 30.0
    assert result["cpu"]["matmul"] == [[5.0, 14.0], [14.0, 50.0]]
    assert result["cpu"]["device"] == "cpu"
    assert status["error"] is None
    assert status["backends"] == ["cpu"]


# --- failures are reported, the rest keeps working ---------------------------------------


def test_cli_lists_failed_plugins_with_their_errors(plugin_path):
    proc = run(None, plugin_path, "-m", "devrt", "backends")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    lines = out.splitlines()

    def block(name: str) -> str:
        i = next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
        return "\n".join(lines[i : i + 2])

    assert "FAILED" in block("broken_import")
    assert "ImportError" in block("broken_import")
    assert "libnothing-4711.so" in block("broken_import")
    assert "FAILED" in block("broken_hook")
    assert "RuntimeError" in block("broken_hook")
    assert "error-code-0815" in block("broken_hook")
    good = block("good").splitlines()[0].split()
    assert "loaded" in good and GOOD_DEVICE in good and "2" in good
    cpu = block("cpu").splitlines()[0].split()
    assert "loaded" in cpu
    assert "vanilla-1234" in out  # the good plugin's devrt_describe


def test_cli_strict_exits_nonzero_when_a_plugin_failed(plugin_path):
    proc = run(None, plugin_path, "-m", "devrt", "backends", "--strict")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED" in proc.stdout


def test_cli_strict_exit_status_follows_plugin_failures():
    # Without the fake plugins: exit 0 unless an installed plugin failed.
    failed = [name for name, s in run_status(None)["status"].items() if not s["loaded"]]
    proc = run(None, None, "-m", "devrt", "backends", "--strict")
    assert proc.returncode == (1 if failed else 0), proc.stdout + proc.stderr


def test_plugin_status_reports_errors_and_cpu_still_works(plugin_path):
    result = run_status(plugin_path)
    status = result["status"]
    bi = status["broken_import"]
    assert not bi["loaded"]
    assert bi["error"].startswith("ImportError")
    assert "libnothing-4711.so" in bi["error"]
    assert bi["target"] == "fake_broken_import"
    bh = status["broken_hook"]
    assert not bh["loaded"]
    assert bh["error"].startswith("RuntimeError")
    assert "error-code-0815" in bh["error"]
    assert bh["backends"] == []
    check_cpu_works(result)


def test_failed_plugin_traceback_is_kept(plugin_path):
    proc = run(
        """
        import devrt
        s = {p.name: p for p in devrt.plugin_status()}
        print(s["broken_hook"].traceback)
        """,
        plugin_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "fake_broken_hook.py" in proc.stdout
    assert "error-code-0815" in proc.stdout


# --- a good third-party plugin ---------------------------------------------------------------


def test_good_plugin_registers_its_device_and_runs_ops(plugin_path):
    proc = run(
        f"""
        import json
        import devrt

        x = devrt.tensor([1.0, 2.0, 3.0]).to("{GOOD_DEVICE}:1")
        y = x + x
        z = y * x
        i = devrt.tensor([1, 2]).to("{GOOD_DEVICE}")
        entry = {{b["name"]: b for b in devrt.backends()}}["{GOOD_DEVICE}"]
        status = {{s.name: s for s in devrt.plugin_status()}}["good"]
        kernels = {{op["name"]: op["kernels"].get("{GOOD_DEVICE}") for op in devrt.catalogue()}}
        try:
            x - x
            missing = None
        except NotImplementedError as e:
            missing = str(e)
        print(json.dumps({{
            "y_device": str(y.device),
            "y": y.cpu().tolist(),
            "z": z.cpu().tolist(),
            "i": (i + i).cpu().tolist(),
            "entry": entry,
            "loaded": status.loaded,
            "backends": status.backends,
            "add": kernels["add"],
            "sub": kernels["sub"],
            "missing": missing,
        }}))
        """,
        plugin_path,
    )
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["y_device"] == f"{GOOD_DEVICE}:1"
    assert r["y"] == [2.0, 4.0, 6.0]
    assert r["z"] == [2.0, 8.0, 18.0]
    assert r["i"] == [2, 4]
    assert r["entry"]["device_count"] == 2
    assert r["entry"]["kernel_count"] == 2
    assert r["loaded"] and r["backends"] == [GOOD_DEVICE]
    assert sorted(r["add"]) == ["float32", "int64"]
    assert r["sub"] is None
    assert r["missing"].startswith("[sub]") and GOOD_DEVICE in r["missing"]


def test_plugin_that_uses_cpu_memory_at_registration_does_not_break_cpu(tmp_path):
    # A well-behaved plugin may check itself while registering (move a
    # tensor to its device, run an op, copy the result back). That must not
    # stop the built-in CPU backend from loading.
    write_distribution(
        tmp_path,
        "fake_selftest",
        {
            "fake_selftest_plugin": """
                import numpy as np
                import devrt
                from devrt.hookspecs import hookimpl

                @hookimpl
                def devrt_register_backends(registry):
                    registry.register_backend("selftestdev")
                    registry.register_kernel(
                        "add", "selftestdev", ["float32"],
                        lambda i, o, a: np.add(i[0], i[1], out=o[0]),
                    )
                    x = devrt.from_numpy(np.ones(2, np.float32)).to("selftestdev")
                    assert (x + x).cpu().tolist() == [2.0, 2.0]
            """
        },
        {"selftest": "fake_selftest_plugin"},
    )
    result = run_status(tmp_path)
    assert result["status"]["selftest"]["loaded"], result["status"]["selftest"]
    check_cpu_works(result)


# --- switching autoload off ---------------------------------------------------------------------


def test_disable_autoload_skips_third_party_but_loads_cpu(plugin_path):
    result = run_status(plugin_path, DEVRT_DISABLE_PLUGIN_AUTOLOAD="1")
    assert set(result["status"]) == {"cpu"}
    assert GOOD_DEVICE not in result["types"]
    check_cpu_works(result)


def test_disable_autoload_cli(plugin_path):
    proc = run(None, plugin_path, "-m", "devrt", "backends", DEVRT_DISABLE_PLUGIN_AUTOLOAD="1")
    assert proc.returncode == 0, proc.stderr
    assert "broken_import" not in proc.stdout
    assert "broken_hook" not in proc.stdout
    assert GOOD_DEVICE not in proc.stdout
    assert any(line.split()[:2] == ["cpu", "loaded"] for line in proc.stdout.splitlines())


def test_disable_autoload_still_allows_explicit_registration(plugin_path):
    proc = run(
        f"""
        import devrt
        import fake_good
        status = devrt.register_plugin(fake_good, name="good")
        assert status.loaded, status
        x = devrt.tensor([1.0, 2.0]).to("{GOOD_DEVICE}")
        print((x + x).cpu().tolist())
        """,
        plugin_path,
        DEVRT_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[2.0, 4.0]"


def test_plugins_load_without_third_party_plugins():
    result = run_status(None)
    check_cpu_works(result)
    assert "broken_import" not in result["status"]


# --- the built-in CPU backend is an entry point --------------------------------------------------


def test_cpu_backend_is_an_entry_point_in_installed_metadata():
    eps = {ep.name: ep for ep in entry_points(group="devrt.backends")}
    assert "cpu" in eps
    assert eps["cpu"].value == "devrt_cpu"
    module = eps["cpu"].load()
    assert hasattr(module, "devrt_register_backends")
    assert eps["cpu"].dist is not None and eps["cpu"].dist.name == "devrt"


def test_cpu_plugin_status_in_this_process():
    status = {s.name: s for s in devrt.plugin_status()}["cpu"]
    assert status.loaded
    assert status.target == "devrt_cpu"
    assert status.backends == ["cpu"]


def test_discovery_runs_once_per_process(plugin_path):
    proc = run(
        """
        import devrt
        from devrt import plugins
        before = [(s.name, s.loaded) for s in devrt.plugin_status()]
        plugins.load_plugins()
        after = [(s.name, s.loaded) for s in devrt.plugin_status()]
        assert before == after, (before, after)
        import fake_good
        print(sum(1 for b in devrt.backends() if b["name"] == "fakegood"))
        """,
        plugin_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "1"
