"""Where each variable of a devrt model lives in a Keras 3 weights file.

A Keras 3 weights file (``model.weights.h5`` inside a ``.keras`` archive,
or a ``.weights.h5`` file) holds one group per layer or optimizer, at a
path found by walking the object tree from the model:

- the model's own variables sit in ``vars/``; every object visited gets a
  ``<path>/vars`` group (empty for a layer without variables) whose
  ``name`` attribute is the object's name;
- a Sequential or functional model first visits its ``layers``; a
  subclassed model visits ``layers`` among its other attributes;
- then the public attributes of the object in sorted order, then the
  private ones (``_x``) in sorted order, skipping the base Layer's own;
- an attribute holding a layer or optimizer gives ``<path>/<attribute>``;
  one holding a list, tuple or dict gives ``<path>/<attribute>/<item>``
  where an item is named by its class in snake case, numbered
  (``dense``, ``dense_1``, ...) within the container, or ``container``
  for a nested container;
- an object reached twice is stored only where it was reached first;
- a layer's datasets ``0``, ``1``, ... are its own trainable variables,
  then its own non-trainable ones; an optimizer's are its ``variables``.

So ``Sequential([Dense, Dropout, Dense])`` compiled with Adam stores
``layers/dense/vars/{0,1}``, ``layers/dropout/vars``,
``layers/dense_1/vars/{0,1}``, ``optimizer/vars/{0..9}`` and ``vars``;
an LSTM's weights live in ``layers/lstm/cell/vars``.

Note: a functional model's ``layers`` are numbered in Keras' order (by
depth from the outputs, ties broken by first visit from the outputs),
which can differ from the order devrt lists them in; the numbering
decides which file group feeds which layer, so it is recomputed here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from devrt.keras import backend


@dataclass
class Saveable:
    """One object of the walk and its group in the file."""

    path: str  # "" for the model itself
    owner: Any  # the layer or optimizer
    variables: list  # its own variables, in the order of datasets "0", "1", ...

    @property
    def name(self) -> str:
        return str(getattr(self.owner, "name", type(self.owner).__name__))

    @property
    def is_optimizer(self) -> bool:
        from devrt.keras.optimizers import Optimizer

        return isinstance(self.owner, Optimizer)


def saveables(model: Any) -> list[Saveable]:
    """Every layer and optimizer of `model` with its group path, in the
    order Keras visits them."""
    out: list[Saveable] = []
    visited: set[int] = set()

    def visit(obj: Any, path: str) -> None:
        if id(obj) in visited:
            return
        visited.add(id(obj))
        out.append(Saveable(path, obj, _own_variables(obj)))
        for attr, child in _children(obj):
            child_path = _join(path, attr)
            if _is_saveable(child):
                visit(child, child_path)
            elif isinstance(child, (list, tuple, dict)):
                visit_container(child, child_path, set())

    def visit_container(container: Any, path: str, seen: set[int]) -> None:
        if id(container) in seen:
            return
        seen.add(id(container))
        used: dict[str, int] = {}
        items = container.values() if isinstance(container, dict) else container
        for item in items:
            if _is_saveable(item):
                name = _unique(backend.to_snake_case(type(item).__name__), used)
                visit(item, _join(path, name))
            elif isinstance(item, (list, tuple, dict)):
                visit_container(item, _join(path, _unique("container", used)), seen)

    visit(model, "")
    return out


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def _unique(name: str, used: dict[str, int]) -> str:
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _is_saveable(obj: Any) -> bool:
    from devrt.keras.layers.layer import Layer
    from devrt.keras.optimizers import Optimizer

    return isinstance(obj, (Layer, Optimizer))


def _own_variables(obj: Any) -> list:
    from devrt.keras.optimizers import Optimizer

    if isinstance(obj, Optimizer):
        return list(obj.variables)
    return list(obj._trainable_variables) + list(obj._non_trainable_variables)


@functools.cache
def _layer_internals() -> frozenset[str]:
    """The attribute names every Layer has; the walk skips them."""
    from devrt.keras.layers.layer import Layer

    # A named probe takes no number from the layer-name counter.
    probe = Layer(name="saving_probe")
    return frozenset(vars(probe)) | frozenset(dir(Layer))


def _children(obj: Any) -> Iterator[tuple[str, Any]]:
    from devrt.keras.layers.core import InputLayer
    from devrt.keras.models.functional import Functional
    from devrt.keras.models.model import Model
    from devrt.keras.models.sequential import Sequential
    from devrt.keras.optimizers import Optimizer

    if isinstance(obj, Optimizer):
        return
    graph = isinstance(obj, (Sequential, Functional))
    if graph:
        yield "layers", obj.layers
    names = set(vars(obj)) - _layer_internals()
    if isinstance(obj, Model) and not graph:
        names.add("layers")
    for name in sorted(names, key=lambda n: f"~{n}" if n.startswith("_") else n):
        if name.startswith("__"):
            continue
        value = obj.layers if name == "layers" else vars(obj)[name]
        # The input layers of a model are saved under its `layers` only;
        # other references to them are devrt's bookkeeping.
        if isinstance(value, InputLayer):
            continue
        yield name, value
