"""A non-tensor where a tensor is expected, or a tensor where a shape is
expected, raises TypeError("[op] argument 'name' must be ..., got <type>").

Each of these calls once killed the interpreter (a None loaded as an empty
tensor, a tensor iterated as a shape). They run in one child process, each
announced before it is made, so that a crash fails the case that caused it
instead of killing pytest.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

PRELUDE = """
import devrt
x = devrt.ones(2, 2)
x3 = devrt.ones(2, 2, 2)
mask = x > 0
idx = devrt.tensor([0])
shape = devrt.tensor([1, 2])
"""

# (call, regex the message must match)
CASES = {
    "matmul": (
        "devrt.matmul(x, None)",
        r"^\[matmul\] argument 'other' must be a Tensor, got NoneType$",
    ),
    "matmul-str": (
        "devrt.matmul(x, 'a')",
        r"^\[matmul\] argument 'other' must be a Tensor, got str$",
    ),
    "matmul-self": (
        "devrt.matmul(None, x)",
        r"^\[matmul\] argument 'input' must be a Tensor, got NoneType$",
    ),
    "method-self": (
        "devrt.Tensor.matmul(None, x)",
        r"^\[matmul\] argument 'self' must be a Tensor, got NoneType$",
    ),
    "mm": ("devrt.mm(x, None)", r"^\[mm\] argument 'mat2' must be a Tensor, got NoneType$"),
    "bmm": ("devrt.bmm(x3, None)", r"^\[bmm\] argument 'mat2' must be a Tensor, got NoneType$"),
    "cat": (
        "devrt.cat([x, None])",
        r"^\[cat\] argument 'tensors' .*Tensors, got NoneType at position 1$",
    ),
    "cat-none": (
        "devrt.cat(None)",
        r"^\[cat\] argument 'tensors' must be a sequence of Tensors, got NoneType$",
    ),
    "stack": ("devrt.stack([x, 'a'])", r"^\[stack\] argument 'tensors' .*got str at position 1$"),
    "expand_as": (
        "x.expand_as(None)",
        r"^\[expand_as\] argument 'other' must be a Tensor, got NoneType$",
    ),
    "gather": (
        "x.gather(1, None)",
        r"^\[gather\] argument 'index' must be a Tensor, got NoneType$",
    ),
    "gather-dim": (
        "x.gather(None, idx)",
        r"^\[gather\] argument 'dim' must be an int, got NoneType$",
    ),
    "masked_fill": (
        "x.masked_fill(mask, None)",
        r"^\[masked_fill\] argument 'value' .*got NoneType$",
    ),
    "masked_fill-mask": (
        "x.masked_fill(None, 1.0)",
        r"^\[masked_fill\] argument 'mask' must be a Tensor, got NoneType$",
    ),
    "index_put_": (
        "x.index_put_((idx,), None)",
        r"^\[index_put_\] argument 'values' must be a Tensor, got NoneType$",
    ),
    "index_put_-indices": (
        "x.index_put_(None, x)",
        r"^\[index_put_\] argument 'indices' .*got NoneType$",
    ),
    "nonzero": (
        "devrt.nonzero(None)",
        r"^\[nonzero\] argument 'input' must be a Tensor, got NoneType$",
    ),
    "where": (
        "devrt.where(None, x, x)",
        r"^\[where\] argument 'condition' must be a Tensor, got NoneType$",
    ),
    "broadcast_shapes": (
        "devrt.broadcast_shapes(x, 0)",
        r"^\[broadcast_shapes\] expected a shape .*Tensor",
    ),
    "zeros": ("devrt.zeros(shape)", r"^\[zeros\] expected a shape .*got a Tensor of shape"),
    "ones": ("devrt.ones(shape)", r"^\[ones\] expected a shape .*got a Tensor"),
    "randn": ("devrt.randn(shape)", r"^\[randn\] expected a shape .*got a Tensor"),
    "new_full": ("x.new_full(shape, 1.0)", r"^\[full\] expected a shape .*got a Tensor"),
    "reshape": ("x.reshape(devrt.tensor([4]))", r"^\[reshape\] expected a shape .*got a Tensor"),
    "view": ("x.view(devrt.tensor([4]))", r"^\[view\] expected a shape .*got a Tensor"),
    "view-entry": ("x.view([x, 1])", r"^\[view\] shape entries must be ints, got Tensor"),
    "conv2d-bias": (
        "devrt.conv2d(devrt.ones(1, 1, 3, 3), devrt.ones(1, 1, 2, 2), 'b')",
        r"^\[conv2d\] argument 'bias' must be a Tensor or None, got str$",
    ),
    "constructor-missing": ("devrt.device()", r"^\[device\] missing argument 'type'$"),
    "optional-int": (
        "devrt.device('cpu', 'x')",
        r"^\[device\] argument 'index' must be an int or None, got str$",
    ),
    "keyword": (
        "devrt.matmul(x, other=None)",
        r"^\[matmul\] argument 'other' must be a Tensor, got NoneType$",
    ),
    "unknown-keyword": (
        "devrt.matmul(x, x, bogus=1)",
        r"^\[matmul\] got an unexpected keyword argument 'bogus'$",
    ),
    "missing": ("devrt.matmul(x)", r"^\[matmul\] missing argument 'other'$"),
    "too-many": (
        "devrt.matmul(x, x, x)",
        r"^\[matmul\] takes at most 2 positional arguments, got 3$",
    ),
}

# Python-level functions: Python's own errors restated under the op's name.
CASES.update(
    {
        "add_": (
            "x.add_(None)",
            r"^\[add\] expected a tensor, a number or a sequence of numbers, got NoneType$",
        ),
        "add-dict": ("devrt.add(x, {1: 2})", r"^\[add\] expected a tensor, .*got dict$"),
        "type_as": (
            "x.type_as(None)",
            r"^\[type_as\] argument 'other' must be a Tensor, got NoneType$",
        ),
        "copy_": ("x.copy_(None)", r"^\[copy_\] expected a tensor, .*got NoneType$"),
        "addmm-missing": ("devrt.addmm(x)", r"^\[addmm\] missing 2 required positional arguments"),
        "isnan-extra": ("x.isnan(1)", r"^\[isnan\] takes 1 positional argument but 2 were given$"),
        "eye": ("devrt.eye(None)", r"^\[eye\] expected an int, got NoneType$"),
        "zeros_like": (
            "devrt.zeros_like(None)",
            r"^\[zeros_like\] argument 'input' must be a Tensor",
        ),
        "sort-dim": ("x.sort(None)", r"^\[sort\] "),
        "uniform_": ("x.uniform_(None)", r"^\[uniform_\] "),
        "linear": ("devrt.nn.functional.linear(x, 3)", r"^\[linear\] "),
        # (a list beta once repeated the list 2**70 times: an OverflowError)
        "softplus-beta": (
            "devrt.nn.functional.softplus(2**70, [])",
            r"^\[softplus\] argument 'beta' must be a number, got list$",
        ),
    }
)
EXPECTED_TYPE: dict = {}

CHILD = """
import json, sys
cases = json.loads(sys.argv[1])
for name, code in cases:
    print(json.dumps({"name": name}), flush=True)
    try:
        eval(code)
        out = {"name": name, "type": None, "message": None}
    except Exception as exc:
        out = {"name": name, "type": type(exc).__name__, "message": str(exc)}
    print(json.dumps(out), flush=True)
"""


def _run_all() -> dict:
    """name -> {"type", "message"} or {"crashed": exit status}."""
    results: dict = {}
    todo = [(name, code) for name, (code, _) in CASES.items()]
    while todo:
        proc = subprocess.run(
            [sys.executable, "-c", PRELUDE + CHILD, json.dumps(todo)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        started = None
        for line in proc.stdout.splitlines():
            if not line.startswith("{"):
                continue
            rec = json.loads(line)
            if "type" in rec:
                results[rec["name"]] = rec
                started = None
            else:
                started = rec["name"]
        if proc.returncode == 0:
            break
        assert started is not None, proc.stderr[-2000:]
        results[started] = {"crashed": proc.returncode}
        done = [name for name, _ in todo].index(started)
        todo = todo[done + 1 :]
    return results


@pytest.fixture(scope="module")
def results() -> dict:
    return _run_all()


@pytest.mark.parametrize("name", list(CASES))
def test_wrong_kind_raises_type_error(results, name):
    code, pattern = CASES[name]
    got = results[name]
    assert "crashed" not in got, f"{code} crashed the interpreter (exit {got['crashed']})"
    assert got["type"] == EXPECTED_TYPE.get(name, "TypeError"), f"{code} gave {got}"
    assert re.search(pattern, got["message"]), f"{code}: {got['message']!r}"
