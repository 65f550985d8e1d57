"""Every binding of devrt._C is documented, and the bindings that run a
catalogue op say what it computes in the catalogue's own words.

The catalogue's doc lines live in core/include/devrt/ops.def; the bindings
build their docstrings from them (op_doc in python/src/bindings.h). A new
binding without a docstring, or an op binding whose docstring drops its
op's line, fails here."""

from __future__ import annotations

import re

import pytest

import devrt
from devrt import _C

# pybind11's own helper on every bound class, not a devrt binding.
PYBIND11_INTERNAL = {"_pybind11_conduit_v1_"}


def is_binding(obj: object) -> bool:
    """Whether obj is a function pybind11 made (a bound C++ function)."""
    return type(obj).__name__ == "builtin_function_or_method" and type(
        getattr(obj, "__self__", None)
    ).__name__.startswith("pybind11")


def function_of(member: object) -> object | None:
    """The pybind11 function behind a class member (a method, the getter of
    a property), or None for members defined in Python."""
    if isinstance(member, property):
        member = member.fget
    member = getattr(member, "__wrapped__", member)  # Tensor.max: named results
    member = getattr(member, "__func__", member)  # instancemethod, staticmethod
    return member if is_binding(member) else None


def bound_classes() -> list[type]:
    return [v for v in vars(_C).values() if isinstance(v, type) and v.__module__ == "devrt._C"]


def module_bindings() -> list[str]:
    return sorted(n for n, v in vars(_C).items() if is_binding(v) and n not in PYBIND11_INTERNAL)


def class_bindings() -> list[tuple[type, str]]:
    return [
        (cls, name)
        for cls in bound_classes()
        for name, member in sorted(vars(cls).items())
        if function_of(member) is not None and name not in PYBIND11_INTERNAL
    ]


def described(doc: str | None, name: str) -> list[str]:
    """The text of a docstring besides pybind11's signature lines, one entry
    per overload (pybind11 numbers the signatures of overloaded functions)."""
    lines = (doc or "").splitlines()
    signature = re.compile(rf"^\s*(\d+\. )?{re.escape(name)}\(.*\)( -> .+)?$")
    parts: list[list[str]] = [[]]
    for line in lines:
        if line.strip() == "Overloaded function.":
            continue
        if signature.match(line):
            if any(part.strip() for part in parts[-1]):
                parts.append([])
            continue
        parts[-1].append(line)
    return ["\n".join(part).strip() for part in parts]


def has_sentence(text: str) -> bool:
    """At least one sentence: three words or more, ended by a full stop."""
    return len(re.findall(r"[A-Za-z]{2,}", text)) >= 3 and bool(re.search(r"[.?!](\s|$)", text))


def check_documented(obj: object, name: str) -> None:
    for text in described(obj.__doc__, name):
        assert has_sentence(text), f"{name} has no docstring beyond its signature: {obj.__doc__!r}"


# --- every binding has a docstring ---------------------------------------------------


def test_the_helpers_tell_a_bare_binding_from_a_documented_one():
    bare = "exp(input: devrt._C.Tensor) -> devrt._C.Tensor\n"
    assert not any(has_sentence(t) for t in described(bare, "exp"))
    overloaded = (
        "f(*args, **kwargs)\nOverloaded function.\n\n1. f(x: int) -> int\n\n"
        "Adds one to x, as an int.\n\n2. f(x: str) -> str\n"
    )
    assert [has_sentence(t) for t in described(overloaded, "f")] == [True, False]
    assert is_binding(_C.add) and not is_binding(devrt.where)
    assert function_of(vars(_C.Tensor)["shape"]) is not None
    assert function_of(vars(_C.Tensor)["tolist"]) is None
    assert function_of(vars(_C.Tensor)["max"]) is not None


def test_there_are_bindings_to_check():
    assert len(module_bindings()) > 140
    classes = {cls.__name__ for cls, _ in class_bindings()}
    assert classes == {"Tensor", "device", "dtype", "Node", "Graph", "GraphNode", "Session"}


@pytest.mark.parametrize("name", module_bindings())
def test_every_function_of_the_module_is_documented(name):
    check_documented(getattr(_C, name), name)


@pytest.mark.parametrize(
    "cls,name", class_bindings(), ids=[f"{c.__name__}.{n}" for c, n in class_bindings()]
)
def test_every_bound_method_and_property_is_documented(cls, name):
    check_documented(vars(cls)[name], name)


@pytest.mark.parametrize("cls", bound_classes(), ids=lambda c: c.__name__)
def test_every_bound_class_is_documented(cls):
    assert has_sentence(cls.__doc__ or ""), cls


def test_every_public_tensor_member_is_documented():
    """Tensor's methods written in Python (devrt._tensor, devrt._pyops) too."""
    missing = [
        name
        for name in dir(_C.Tensor)
        if not name.startswith("_")
        and not any(has_sentence(t) for t in described(getattr(_C.Tensor, name).__doc__, name))
    ]
    assert missing == []


def test_every_public_module_function_is_documented():
    missing = [
        name
        for name, value in vars(_C).items()
        if not name.startswith("_")
        and callable(value)
        and not any(has_sentence(t) for t in described(value.__doc__, name))
    ]
    assert missing == []


# --- the catalogue's doc lines -------------------------------------------------------

CATALOGUE = {op["name"]: op for op in _C.catalogue()}


@pytest.mark.parametrize("op", sorted(CATALOGUE))
def test_every_catalogue_op_has_a_doc_line(op):
    doc = CATALOGUE[op]["doc"]
    assert isinstance(doc, str) and has_sentence(doc), (op, doc)
    # One line that fits a markdown table cell (devrt backends --ops).
    assert "\n" not in doc and "|" not in doc and doc == doc.strip(), (op, doc)
    assert doc.endswith("."), (op, doc)


def test_doc_lines_are_the_public_catalogues():
    assert [op["doc"] for op in devrt.catalogue()] == [op["doc"] for op in _C.catalogue()]
    assert CATALOGUE["add"]["doc"].startswith("input + other")


# Bindings whose name is not the name of the op they run.
MODULE_OPS = {
    "negative": "neg",
    "subtract": "sub",
    "multiply": "mul",
    "divide": "div",
    "true_divide": "div",
    "arctan2": "atan2",
    "clip": "clamp",
    "amax": "max",
    "amin": "min",
    "std": "var",
    "concat": "cat",
    "concatenate": "cat",
    "mm": "matmul",
    "bmm": "matmul",
    "unfold": "im2col",
    "fold": "col2im",
    "full": "fill",
    "zeros": "fill",
    "ones": "fill",
    "rand": "random_uniform",
    "randn": "random_normal",
    "randint": "random_integers",
    "_argsort": "argsort",
    "_cumsum": "cumsum",
    "_index": "index",
    "_index_put_": "index_put",
    "_fill_": "fill",
    "_copy_": "copy",
}
# The operators' dunder names: self op other, other op self, self op= other.
OPERATORS = {
    "add": "add",
    "sub": "sub",
    "mul": "mul",
    "truediv": "div",
    "floordiv": "floor_divide",
    "mod": "remainder",
    "pow": "pow",
    "and": "bitwise_and",
    "or": "bitwise_or",
    "xor": "bitwise_xor",
}
TENSOR_OPS = {
    **{
        name: MODULE_OPS[name]
        for name in (
            "negative",
            "subtract",
            "multiply",
            "divide",
            "true_divide",
            "arctan2",
            "clip",
            "amax",
            "amin",
            "std",
            "mm",
            "bmm",
        )
    },
    **{f"__{form}{name}__": op for name, op in OPERATORS.items() for form in ("", "r", "i")},
    **{f"__{name}__": name for name in ("eq", "ne", "lt", "le", "gt", "ge")},
    "__matmul__": "matmul",
    "__rmatmul__": "matmul",
    "__neg__": "neg",
    "__abs__": "abs",
    "__invert__": "bitwise_not",
    "view": "reshape",
    "expand_as": "expand",
    "_slice": "slice",
    "_select": "select",
    "copy_": "copy",
    "fill_": "fill",
    "zero_": "fill",
}


def op_bindings() -> list[tuple[str, str, object]]:
    """(where, op, binding) for every binding that runs a catalogue op: those
    named after their op, the ones the tables above name, and the in-place
    forms (name_) of both."""
    found = []
    for name in module_bindings():
        op = MODULE_OPS.get(name, name)
        if op in CATALOGUE:
            found.append((f"_C.{name}", op, getattr(_C, name)))
    for cls, name in class_bindings():
        if cls is not _C.Tensor:
            continue
        if name in TENSOR_OPS:
            op = TENSOR_OPS[name]
        elif name.endswith("_") and not name.startswith("_"):
            op = TENSOR_OPS.get(name[:-1], name[:-1])
        else:
            op = name
        if op in CATALOGUE:
            found.append((f"Tensor.{name}", op, function_of(vars(cls)[name])))
    return found


def test_the_op_bindings_are_found():
    where = {w for w, _, _ in op_bindings()}
    assert {
        "_C.add",
        "_C.amax",
        "_C.unfold",
        "Tensor.add_",
        "Tensor.exp_",
        "Tensor.negative_",
        "Tensor.__radd__",
        "Tensor.std",
    } <= where
    assert {"Tensor.requires_grad_", "Tensor.masked_fill_", "_C.stack"}.isdisjoint(where)
    # Every name the tables give is a binding, so that the tables do not rot.
    assert set(MODULE_OPS) <= set(module_bindings())
    assert set(TENSOR_OPS) <= {n for c, n in class_bindings() if c is _C.Tensor}
    assert set(MODULE_OPS.values()) | set(TENSOR_OPS.values()) <= set(CATALOGUE)


@pytest.mark.parametrize("where,op,binding", op_bindings(), ids=[w for w, _, _ in op_bindings()])
def test_an_op_binding_carries_its_catalogue_line(where, op, binding):
    assert CATALOGUE[op]["doc"] in binding.__doc__, (where, binding.__doc__)
