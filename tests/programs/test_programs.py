"""Runs the corpus of tutorial programs (see README.md in this folder).

Each program is a public tutorial or example adapted only by its import
lines, synthetic data in place of downloads and fewer iterations. It runs in
a fresh interpreter (``_runner.py``), records its training losses in a
module-level list ``losses``, and must drive them down.

Where the original framework is installed (PyTorch; Keras 3 on its torch
backend), the same file also runs with its imports turned back into the
originals, on the same synthetic data, and devrt's losses must be in line
with the framework's. Initial weights, dropout masks and shuffles come from
each framework's own random stream, so the numbers cannot be equal; what
must agree is the level where training starts and where it ends after the
same number of steps. The start and the end are each the mean of a quarter
of the recorded losses (at least one), and devrt's must lie within a factor
``band`` of the reference's (1.5 unless a program says otherwise). A wrong
gradient, a missing update or a wrong loss reduction moves these by far
more: a network that does not learn ends where it started, and a sum in
place of a mean scales by the batch size. The factor is loose enough for
the spread between two seeds of the reference itself, which for these
short runs is up to about 1.3x at the end.

TF1 programs have no reference installed (TensorFlow is not a test
dependency). They must drive the loss down, and two of them have first
losses that NumPy can compute exactly: logistic regression starts from zero
weights (the first loss is log 10 whatever the data), and linear regression
starts from ``numpy.random.randn()`` draws that the test repeats.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Program:
    file: str
    frontend: str  # "torch", "keras" or "graph"
    fall: float = 0.95  # the end must be below fall * the start
    band: float = 1.5  # devrt within this factor of the reference


PROGRAMS = [
    Program("pt_examples_mnist.py", "torch"),
]


def run(program: Program, mode: str) -> list[float]:
    # One thread each: the runs are short, and on a shared machine PyTorch's
    # thread pool otherwise spends more time waiting than computing.
    env = dict(os.environ, KERAS_BACKEND="torch", PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, str(HERE / "_runner.py"), str(HERE / program.file), mode],
        capture_output=True,
        text=True,
        env=env,
        cwd=HERE,
        timeout=300,
    )
    assert proc.returncode == 0, f"{program.file} ({mode}) failed:\n{proc.stderr[-4000:]}"
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("CORPUS_RESULT "), proc.stdout[-2000:]
    return json.loads(last[len("CORPUS_RESULT ") :])


def start_end(losses: list[float]) -> tuple[float, float]:
    k = max(1, len(losses) // 4)
    return float(np.mean(losses[:k])), float(np.mean(losses[-k:]))


def assert_falls(program: Program, losses: list[float], who: str) -> None:
    start, end = start_end(losses)
    assert end < program.fall * start, f"{program.file} ({who}) did not learn: {losses}"


def assert_in_band(program: Program, ours: float, theirs: float, scale: float, what: str) -> None:
    if abs(ours - theirs) <= 0.1 * scale:
        return  # within 10% of the starting loss of each other: both near 0
    assert abs(math.log(ours / theirs)) <= math.log(program.band), (
        f"{program.file}: devrt's {what} loss {ours:.4g} is not within "
        f"{program.band}x of the reference's {theirs:.4g}"
    )


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.file[:-3])
def test_program(program: Program) -> None:
    ours = run(program, "devrt")
    assert_falls(program, ours, "devrt")
    if program.frontend == "graph":
        return
    theirs = run(program, "reference")
    assert_falls(program, theirs, "reference")
    (our_start, our_end), (their_start, their_end) = start_end(ours), start_end(theirs)
    scale = max(our_start, their_start)
    assert_in_band(program, our_start, their_start, scale, "starting")
    assert_in_band(program, our_end, their_end, scale, "final")
