"""Property test of the eager surface: calls of random public functions (of
devrt and devrt.nn.functional) and Tensor methods, with random arguments
among which are wrong kinds (None, str, objects, lists, shape tensors, huge
ints, NaN), never crash, and every error they raise is a standard exception whose message starts with ``[op]``.

Hypothesis runs in a child process (this file run as a script) that
announces each call before making it, so that a crash fails the test with
the call that caused it. CI runs a fixed small budget; run longer by hand:

    DEVRT_FUZZ_EXAMPLES=20000 DEVRT_FUZZ_SEED=7 pytest tests/unit/test_fuzz_surface.py
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

EXAMPLES = int(os.environ.get("DEVRT_FUZZ_EXAMPLES", "400"))
SEED = int(os.environ.get("DEVRT_FUZZ_SEED", "0"))

STANDARD = (
    ValueError,
    TypeError,
    IndexError,
    RuntimeError,
    NotImplementedError,
    MemoryError,
    OverflowError,
)

# Effects outside the process (files, the plugin registry, thread counts
# other tests in the process would see), or not ops at all.
SKIP = {
    "save",
    "load",
    "register_plugin",
    "hookimpl",
    "set_num_threads",
    "_pybind11_conduit_v1_",
}


def _targets() -> list[tuple[str, object, bool]]:
    """(name, callable, is_method) for every public function and method."""
    import inspect

    import devrt

    out = []
    for name in sorted(dir(devrt)):
        fn = getattr(devrt, name)
        if name.startswith("_") or name in SKIP or not callable(fn):
            continue
        if inspect.isclass(fn) or inspect.ismodule(fn):
            continue
        out.append((f"devrt.{name}", fn, False))
    functional = devrt.nn.functional
    for name in sorted(dir(functional)):
        fn = getattr(functional, name)
        if name.startswith("_") or not inspect.isfunction(fn):
            continue
        out.append((f"F.{name}", fn, False))
    for name in sorted(dir(devrt.Tensor)):
        if name in SKIP or name.startswith("__"):
            continue
        if callable(getattr(devrt.Tensor, name, None)):
            out.append((f"Tensor.{name}", name, True))
    return out


def _strategies():
    import hypothesis.strategies as st
    import numpy as np

    import devrt

    dtypes = [devrt.float32, devrt.float64, devrt.int64, devrt.int32, devrt.uint8, devrt.bool]

    @st.composite
    def tensors(draw):
        shape = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
        dtype = draw(st.sampled_from(dtypes))
        values = np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape) - 2
        t = devrt.tensor(values).to(dtype)
        if len(shape) >= 2 and draw(st.booleans()):
            t = t.transpose(0, 1)  # a non-contiguous view
        return t

    ints = st.one_of(st.integers(-3, 4), st.sampled_from([2**70, -(2**40), 2**63]))
    floats = st.sampled_from([0.5, -1.5, math.nan, math.inf, -math.inf, 0.0])
    wrong = st.sampled_from([None, "abc", object(), b"x", {1: 2}])
    shapes = st.one_of(
        st.lists(st.integers(-1, 3), max_size=3),
        st.tuples(st.integers(0, 3), st.integers(0, 3)),
        st.just(devrt.tensor([1, 2])),
    )
    scalars = st.sampled_from([np.float32(1.5), np.int64(2), np.bool_(True), True])
    args = st.one_of(tensors(), ints, floats, wrong, shapes, scalars, st.sampled_from(dtypes))
    kwargs = st.dictionaries(
        st.sampled_from(["dim", "keepdim", "dtype", "other", "out"]), args, max_size=2
    )
    return tensors(), args, kwargs


def _child(examples: int, seed: int) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    targets = _targets()
    tensors, args, kwargs = _strategies()

    @hseed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.sampled_from(targets),
        tensors,
        st.lists(args, max_size=3),
        kwargs,
    )
    def check(target, self, positional, keywords):
        label, fn, is_method = target
        call = f"{label}(*{positional!r:.300}, **{keywords!r:.300})"
        if is_method:
            call = f"{self!r:.200}.{call}"
        print(json.dumps({"call": call}), flush=True)
        try:
            if is_method:
                getattr(self, fn)(*positional, **keywords)
            else:
                fn(*positional, **keywords)
        except STANDARD as exc:
            assert str(exc).startswith("["), f"{call}: {type(exc).__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - any other type breaks the rule
            raise AssertionError(f"{call}: {type(exc).__name__}: {exc}") from exc

    check()


@pytest.mark.timeout(900)
def test_fuzz_surface_no_crash_and_exception_rule():
    proc = subprocess.run(
        [sys.executable, __file__, str(EXAMPLES), str(SEED)],
        capture_output=True,
        text=True,
        timeout=850,
    )
    if proc.returncode == 0:
        return
    last = None
    for line in proc.stdout.splitlines():
        if line.startswith('{"call"'):
            last = json.loads(line)["call"]
    if proc.returncode < 0:
        pytest.fail(f"crashed (signal {-proc.returncode}) in {last}")
    pytest.fail(proc.stderr[-4000:])


if __name__ == "__main__":
    _child(int(sys.argv[1]), int(sys.argv[2]))
