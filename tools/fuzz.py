"""Long runs of devrt's differential fuzzers (tests/unit/test_fuzz_differential.py
for the eager surface, tests/unit/test_fuzz_graph.py for devrt.graph).

Each seed runs in a child process with hypothesis collecting every
disagreement with the oracle instead of stopping at the first; a crash
(segfault, abort) is recorded with the call that caused it and the run goes
on with the next seed. At the end the disagreements are listed by family:
the DEVIATIONS entry that covers them, or "NEW" with the op and the kind of
disagreement.

    python tools/fuzz.py --seeds 1 2 3 --examples 5000 [--graph] [--out DIR]
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "unit"))


def family_key(record: dict) -> str:
    if record.get("family"):
        return f"known: {record['family']}"
    outcome = re.sub(r"dtype \w+", "dtype X", record["outcome"])
    outcome = re.sub(r"\[[^\]]*\]|\(.*", "", outcome)[:70]
    return f"NEW {record['label']}: {outcome}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--examples", type=int, default=5000)
    parser.add_argument("--graph", action="store_true", help="fuzz devrt.graph")
    parser.add_argument("--out", type=Path, default=Path("fuzz-out"))
    ns = parser.parse_args()
    if ns.graph:
        import test_fuzz_graph as fuzzer
    else:
        import test_fuzz_differential as fuzzer
    ns.out.mkdir(parents=True, exist_ok=True)
    kind = "graph" if ns.graph else "eager"
    crashes, per_seed = [], []
    for seed in ns.seeds:
        log = ns.out / f"{kind}-seed{seed}.jsonl"
        log.unlink(missing_ok=True)
        start = time.monotonic()
        rc, last, stdout, stderr = fuzzer.run_child(ns.examples, seed, str(log), timeout=24 * 3600)
        wall = time.monotonic() - start
        if rc < 0:
            crashes.append(f"seed {seed}: signal {-rc} in {last}")
        elif rc:
            crashes.append(f"seed {seed}: exit {rc}: {stderr[-1500:]}")
        stats = next(
            (json.loads(line)["stats"] for line in stdout.splitlines() if '"stats"' in line), {}
        )
        per_seed.append((seed, wall, stats))
        print(f"seed {seed}: {ns.examples} examples, {wall:.0f} s, rc {rc}", flush=True)
    families: collections.Counter = collections.Counter()
    example: dict = {}
    # (this run's seeds only: the folder may hold logs of earlier runs)
    for seed in ns.seeds:
        path = ns.out / f"{kind}-seed{seed}.jsonl"
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            record = json.loads(line)
            key = family_key(record)
            families[key] += 1
            example.setdefault(key, record)
    print(f"\n{sum(w for _, w, _ in per_seed):.0f} s over seeds {ns.seeds}")
    for key, n in sorted(families.items()):
        r = example[key]
        print(f"{n:6d}  {key}\n        e.g. {r['call'][:200]}\n        {r['outcome'][:200]}")
    for crash in crashes:
        print("CRASH", crash)
    new = [k for k in families if k.startswith("NEW")]
    return 1 if crashes or new else 0


if __name__ == "__main__":
    sys.exit(main())
