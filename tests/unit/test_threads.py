"""The CPU thread count (set_num_threads) and the pool's placement of its
workers next to the calling thread."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import devrt


@pytest.fixture
def restore_threads():
    n = devrt.get_num_threads()
    yield
    devrt.set_num_threads(n)


def test_set_num_threads_round_trip_and_results(restore_threads, rng):
    a = rng.standard_normal((300, 400)).astype(np.float32)
    b = rng.standard_normal((400, 200)).astype(np.float32)
    x = rng.standard_normal(1 << 20).astype(np.float32)
    results = []
    for n in (1, 2, 3):
        devrt.set_num_threads(n)
        assert devrt.get_num_threads() == n
        ta, tb, tx = devrt.from_numpy(a), devrt.from_numpy(b), devrt.from_numpy(x)
        results.append(((ta @ tb).numpy(), float(tx.sum()), (tx * 2 + 1).numpy()))
    for mm, total, affine in results:
        np.testing.assert_allclose(mm, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)
        assert total == pytest.approx(float(x.astype(np.float64).sum()), rel=1e-5, abs=1e-2)
        np.testing.assert_array_equal(affine, x * 2 + 1)


@pytest.mark.parametrize(
    "value, error, match",
    [(0, ValueError, r"at least 1, got 0"), (-3, ValueError, "got -3"), (1.5, TypeError, "float")],
)
def test_set_num_threads_rejects(restore_threads, value, error, match):
    with pytest.raises(error, match=r"^\[set_num_threads\].*" + match):
        devrt.set_num_threads(value)


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux thread affinity and at least 2 CPUs",
)
def test_a_worker_never_keeps_the_callers_cpu():
    # The caller is the user's thread and is not pinned; wherever it runs,
    # the pool moves a worker pinned to that CPU onto the free one, so the
    # two never take turns on one core. In a child, which may pin its main
    # thread to each CPU in turn.
    code = """
        import os
        import devrt

        def pinned_threads():
            out = {}
            for tid in os.listdir("/proc/self/task"):
                with open(f"/proc/self/task/{tid}/status") as f:
                    for line in f:
                        if line.startswith("Cpus_allowed_list:"):
                            out[int(tid)] = line.split()[1]
            return out

        main = os.getpid()
        x = devrt.ones(1 << 22)
        for cpu in sorted(os.sched_getaffinity(0)) * 2:
            os.sched_setaffinity(0, {cpu})   # this thread only
            float((x * 2).sum())             # work split over the pool
            workers = {t: c for t, c in pinned_threads().items() if t != main}
            assert str(cpu) not in workers.values(), (cpu, workers)
            assert any("," not in c and "-" not in c for c in workers.values()), workers
        print("ok")
    """
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DEVRT_NUM_THREADS": "2"},
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


@pytest.mark.parametrize("threads", [2, 3, 5])
def test_every_piece_runs_once_whatever_the_seats(restore_threads, rng, threads):
    # Each seat of the pool owns a run of the pieces and the others finish
    # what it leaves; sizes around the piece boundaries (32768 elements per
    # piece for cheap ops, up to 4 pieces a thread) give runs of unequal
    # length, and more threads than CPUs leave some workers late.
    devrt.set_num_threads(threads)
    for n in (32769, 5 * 32768 + 7, 8 * 32768, 12 * 32768 + 1, 40 * 32768 - 3):
        x = rng.standard_normal(n).astype(np.float32)
        t = devrt.from_numpy(x)
        np.testing.assert_array_equal((t * 2 + 1).numpy(), x * 2 + 1)
        assert float(t.sum()) == pytest.approx(float(x.astype(np.float64).sum()), abs=1e-1)
    # bands of rows, and slices of K whose partial products are summed
    for m, k, n in ((700, 300, 500), (64, 1000, 100), (33, 2500, 17)):
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        got = (devrt.from_numpy(a) @ devrt.from_numpy(b)).numpy()
        np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=2e-3)
