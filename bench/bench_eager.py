"""Eager front-end benchmarks: training steps and autograd overhead.

devrt against PyTorch (when installed), in one process with interleaved
rounds, as ratios of step time. Run: python bench/bench_eager.py
"""

from __future__ import annotations

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import devrt  # noqa: E402
from common import blas_setting, compare, try_import_torch  # noqa: E402
from devrt.utils.benchmark import small_cnn_step, two_layer_step  # noqa: E402


def tiny_autograd(lib):
    a = lib.ones(1).requires_grad_()
    b = lib.ones(1).requires_grad_()

    def step():
        y = (a * b).sum()
        y.backward()

    return step


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _peak_rss_child(lib_name: str) -> None:
    """Runs in a fresh process: the resident-memory high-water mark of 20
    steps of the two-layer loop above the memory held once its tensors
    exist. That counts everything the library takes for the loop: live
    tensors, its allocator's cache, workspace."""
    lib = __import__(lib_name)
    if lib_name == "torch":
        lib.set_num_threads(2)
    step = two_layer_step(lib)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident size
    base = _rss_kib("VmRSS")
    for _ in range(20):
        step()
    print((_rss_kib("VmHWM") - base) / 1024)


def peak_memory_two_layer(torch) -> dict[str, float]:
    """Peak resident memory (MiB) added by the two-layer loop, one fresh
    process per library so that neither sees the other's pages."""
    names = ["devrt"] + (["torch"] if torch is not None else [])
    out = {}
    for name in names:
        code = (
            f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
            f"import bench_eager; bench_eager._peak_rss_child({name!r})"
        )
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        out[name] = float(res.stdout.split()[-1])
    return out


def main() -> None:
    torch = try_import_torch()
    print(f"devrt {devrt.__version__}, torch {torch.__version__ if torch else 'not installed'}")
    print(blas_setting())
    print("time per step; speed ratio > 1 means devrt is faster\n")
    cases = [
        ("two-layer step (64x1000x100x10)", two_layer_step),
        ("tiny autograd (a*b).sum().backward()", tiny_autograd),
        ("small CNN step (batch 32, 3x32x32)", small_cnn_step),
    ]
    for name, make in cases:
        contenders = {"devrt": make(devrt)}
        if torch is not None:
            contenders["torch"] = make(torch)
        rounds = 11 if "CNN" in name else 15
        t = compare(contenders, rounds=rounds, settle=0.2 if "CNN" in name else 0.0)
        line = f"{name:<40} devrt {t['devrt'] * 1e3:9.3f} ms"
        if "torch" in t:
            line += f"   torch {t['torch'] * 1e3:9.3f} ms   speed devrt/torch {t['torch'] / t['devrt']:5.2f}x"
        print(line)
    devrt.reset_peak_memory_stats()
    before = devrt.memory_stats()["allocated"]
    step = two_layer_step(devrt)
    for _ in range(20):
        step()
    allocated = (devrt.memory_stats()["peak_allocated"] - before) / 2**20
    print(f"\ntwo-layer loop, devrt allocator peak above its inputs: {allocated:.2f} MiB")
    peaks = peak_memory_two_layer(torch)
    line = "two-layer loop, peak resident memory above its inputs:"
    line += "".join(f"  {k} {v:6.2f} MiB" for k, v in peaks.items())
    if "torch" in peaks and peaks["devrt"] > 0:
        line += f"   torch/devrt {peaks['torch'] / peaks['devrt']:5.2f}x"
    print(line)


if __name__ == "__main__":
    main()
