"""Every public function of devrt and devrt.nn.functional and every Tensor
method, called with arguments of the wrong kind (None, a string, a list, an
object, a tensor where a shape is expected, a huge or negative int, NaN),
must raise a standard exception whose message starts
with ``[op]``, or succeed; it must never crash the interpreter.

The calls run in a child process (this file run as a script), so that a
crash fails the test instead of killing pytest; the child reports each call
before making it, so a crash names the call that caused it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

STANDARD = (
    ValueError,
    TypeError,
    IndexError,
    RuntimeError,
    NotImplementedError,
    MemoryError,
    OverflowError,
)

# Functions with effects outside the process (files, the plugin registry).
SKIP_FUNCTIONS = {"save", "load", "register_plugin", "hookimpl"}
# Methods that wait for input of their own kind and are not ops.
SKIP_METHODS = {"_pybind11_conduit_v1_"}


def _bad_values():
    import devrt

    return {
        "None": None,
        "str": "abc",
        "list": [1, 2],
        "object": object(),
        "shape_tensor": devrt.tensor([1, 2]),
        "huge_int": 2**70,
        "negative_int": -7,
        "nan": float("nan"),
    }


def _calls():
    """(label, callable, args) for every call of the sweep."""
    import inspect

    import devrt

    bad = _bad_values()
    out = []
    functions = [(f"devrt.{name}", getattr(devrt, name)) for name in sorted(dir(devrt))]
    functional = devrt.nn.functional
    functions += [(f"F.{name}", getattr(functional, name)) for name in sorted(dir(functional))]
    for qualname, fn in functions:
        name = qualname.rsplit(".", 1)[1]
        if (
            name.startswith("_")
            or name in SKIP_FUNCTIONS
            or not callable(fn)
            or inspect.isclass(fn)
            or inspect.ismodule(fn)
        ):
            continue
        for label, b in bad.items():
            for pattern, args in (
                ("f(b)", lambda x, b=b: (b,)),
                ("f(x, b)", lambda x, b=b: (x, b)),
                ("f(b, x)", lambda x, b=b: (b, x)),
                ("f(x, 1, b)", lambda x, b=b: (x, 1, b)),
            ):
                out.append((f"{qualname} {pattern} b={label}", fn, args))
    for name in sorted(dir(devrt.Tensor)):
        if name in SKIP_METHODS or (name.startswith("__") and name != "__getitem__"):
            continue
        if not callable(getattr(devrt.Tensor, name, None)):
            continue
        patterns = (
            ("x.m(b)", lambda x, b: (b,)),
            ("x.m(b, b)", lambda x, b: (b, b)),
            ("x.m(1, b)", lambda x, b: (1, b)),
            ("x.m(b, x)", lambda x, b: (b, x)),
        )
        if name == "__getitem__":  # x[key] always passes one key
            patterns = patterns[:1]
        for label, b in bad.items():
            for pattern, args in patterns:
                out.append(
                    (
                        f"Tensor.{name} {pattern} b={label}",
                        lambda x, *a, name=name: getattr(x, name)(*a),
                        lambda x, args=args, b=b: (x, *args(x, b)),
                    )
                )
    return out


def _child(start: int) -> None:
    """Makes the calls from index `start` on, one JSON line per call."""
    import devrt

    calls = _calls()
    for i in range(start, len(calls)):
        label, fn, args = calls[i]
        print(json.dumps({"i": i, "label": label}), flush=True)
        x = devrt.ones(2, 2)
        try:
            fn(*args(x))
            verdict = "ok"
        except STANDARD as exc:
            msg = str(exc)
            verdict = "ok" if msg.startswith("[") else f"{type(exc).__name__}: {msg[:200]}"
        except Exception as exc:  # noqa: BLE001 - the sweep reports any other type
            verdict = f"{type(exc).__name__}: {str(exc)[:200]}"
        print(json.dumps({"i": i, "verdict": verdict}), flush=True)


def sweep() -> list[str]:
    """The calls that crashed or broke the exception rule, with why."""
    problems = []
    start = 0
    while True:
        proc = subprocess.run(
            [sys.executable, __file__, str(start)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        last = None
        for line in proc.stdout.splitlines():
            if not line.startswith("{"):
                continue
            rec = json.loads(line)
            if "label" in rec:
                last = rec
            elif rec["verdict"] != "ok":
                problems.append(f"{last['label']}: {rec['verdict']}")
                last = None
            else:
                last = None
        if proc.returncode == 0:
            return problems
        if last is None:
            problems.append(f"child failed outside a call: {proc.stderr[-2000:]}")
            return problems
        problems.append(f"{last['label']}: crashed (exit {proc.returncode})")
        start = last["i"] + 1


@pytest.mark.timeout(900)
def test_no_crash_and_exception_rule_across_the_surface():
    problems = sweep()
    assert not problems, f"{len(problems)} calls broke the rule:\n" + "\n".join(problems)


if __name__ == "__main__":
    _child(int(sys.argv[1]))
