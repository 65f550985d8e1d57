"""Core benchmarks: matmul throughput and per-call overhead of small ops.

Prints devrt against NumPy (and PyTorch when installed), measured in one
process with interleaved rounds, as ratios. Run: python bench/bench_core.py
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import devrt  # noqa: E402
from common import blas_setting, compare, try_import_torch  # noqa: E402


def bench_matmul(sizes: list[int], torch) -> list[tuple]:
    rows = []
    for n in sizes:
        rng = np.random.default_rng(0)
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        da, db = devrt.from_numpy(a), devrt.from_numpy(b)
        contenders = {"devrt": lambda x=da, y=db: x @ y, "numpy": lambda x=a, y=b: x @ y}
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            contenders["torch"] = lambda x=ta, y=tb: x @ y
        t = compare(contenders, rounds=7 if n >= 2048 else 11, settle=0.3)
        flops = 2.0 * n**3
        rows.append((f"matmul f32 n={n}", {k: flops / v / 1e9 for k, v in t.items()}, "GFLOP/s"))
    return rows


def bench_small_ops(torch) -> list[tuple]:
    rows = []
    for shape in [(64, 64), (1,)]:
        a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        b = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        da, db = devrt.from_numpy(a), devrt.from_numpy(b)
        contenders = {"devrt": lambda x=da, y=db: x + y, "numpy": lambda x=a, y=b: x + y}
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            contenders["torch"] = lambda x=ta, y=tb: x + y
        t = compare(contenders)
        name = "x".join(map(str, shape))
        rows.append((f"add f32 {name}", {k: v * 1e6 for k, v in t.items()}, "us/call"))
    return rows


def report(rows: list[tuple]) -> None:
    for name, values, unit in rows:
        higher_is_better = unit.endswith("/s")
        parts = [f"{k} {v:9.2f}" for k, v in values.items()]
        ratios = []
        for other in ("numpy", "torch"):
            if other in values:
                r = (
                    values["devrt"] / values[other]
                    if higher_is_better
                    else values[other] / values["devrt"]
                )
                ratios.append(f"devrt/{other} speed {r:5.2f}x")
        print(f"{name:<22} {unit:<8} " + "  ".join(parts) + "   " + "  ".join(ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[256, 1024, 2048])
    args = parser.parse_args()
    torch = try_import_torch()
    print(
        f"devrt {devrt.__version__}, numpy {np.__version__}, torch {torch.__version__ if torch else 'not installed'}"
    )
    print(blas_setting())
    print("speed ratios > 1 mean devrt is faster\n")
    report(bench_matmul(args.sizes, torch))
    report(bench_small_ops(torch))


if __name__ == "__main__":
    main()
