"""Whole-graph files: ``devrt.graph.save_graph`` / ``load_graph`` and
``tf.train.export_meta_graph`` / ``import_meta_graph``.

A graph file is a ``devrt.save`` file of one dict, documented in
docs/graph.md ("Graph files"): every node (op, name, inputs, control
inputs, attributes with Const values as tensors, device) in creation
order, which is a topological order; the variables (their nodes and
whether they are trainable); the collections whose items are graph
elements; and optionally the variables' values. Loading rebuilds the nodes
through the core, so every node is checked again, and never runs code from
the file. The Python that built the graph is not needed to run it.
"""

from __future__ import annotations

import os
from typing import Any

import devrt
from devrt import _C
from devrt.graph import errors
from devrt.graph import framework as fw
from devrt.graph.saver import GRAPH_FORMAT, Saver
from devrt.graph.tensor import Operation, Tensor
from devrt.graph.variables import Variable

__all__ = ["export_meta_graph", "import_meta_graph", "load_graph", "save_graph"]

VERSION = 1


# --- writing -------------------------------------------------------------------------------


def _collection_entry(item: Any) -> dict[str, str] | None:
    if isinstance(item, Variable):
        return {"kind": "variable", "name": item.op.name}
    if isinstance(item, Tensor):
        return {"kind": "tensor", "name": item.name}
    if isinstance(item, Operation):
        return {"kind": "operation", "name": item.name}
    return None  # not a graph element (a Python object): not saved


def _structure(graph: fw.Graph, values: Any, collection_list: Any, clear_devices: bool) -> dict:
    nodes = []
    for op in graph.get_operations():
        node = op._node
        nodes.append(
            {
                "name": op.name,
                "op": op.type,
                "inputs": [[n.name, int(i)] for n, i in node.inputs],
                "control_inputs": [n.name for n in node.control_inputs],
                "attrs": dict(node.attrs),
                "device": "" if clear_devices else node.device,
            }
        )
    variables = []
    for var in graph._variables.values():
        variables.append(
            {
                "name": var.op.name,
                "trainable": bool(var.trainable),
                "initializer": None if var.initializer is None else var.initializer.name,
                "snapshot": var.value().name,
                "initial_value": None if var.initial_value is None else var.initial_value.name,
            }
        )
    collections = {}
    keys = graph.get_all_collection_keys() if collection_list is None else list(collection_list)
    for key in keys:
        entries = [e for e in map(_collection_entry, graph.get_collection(key)) if e is not None]
        if entries:
            collections[str(key)] = entries
    return {
        "format": GRAPH_FORMAT,
        "version": VERSION,
        "nodes": nodes,
        "variables": variables,
        "collections": collections,
        "values": values,
    }


def _values(sess: Any, graph: fw.Graph, what: str) -> dict[str, Any]:
    values = {}
    for var in graph._variables.values():
        t = sess._variable_value(var, what)
        if t is None:
            raise errors.FailedPreconditionError(
                f"[{what}] Attempting to use uninitialized value {var.op.name}"
            )
        values[var.op.name] = t.cpu()
    return values


def save_graph(path: Any, sess: Any = None, graph: fw.Graph | None = None) -> str:
    """Writes the graph of `sess` (or `graph`, or the default graph) to
    `path`, with the variables' values in `sess` when a session is given.
    Returns the path."""
    if graph is None:
        graph = sess.graph if sess is not None else fw.get_default_graph()
    values = None if sess is None else _values(sess, graph, "save_graph")
    path = os.fspath(path)
    devrt.save(_structure(graph, values, None, False), path)
    return path


def export_meta_graph(
    filename: Any = None,
    meta_info_def: Any = None,
    graph_def: Any = None,
    saver_def: Any = None,
    collection_list: Any = None,
    as_text: bool = False,
    graph: fw.Graph | None = None,
    export_scope: Any = None,
    clear_devices: bool = False,
    clear_extraneous_savers: bool = False,
    strip_default_attrs: bool = False,
    save_debug_info: bool = False,
    **kwargs: Any,
) -> dict:
    """``tf.train.export_meta_graph``: the graph file's dict (without variable
    values, as TF's MetaGraphDef), written to `filename` when given."""
    if export_scope is not None:
        raise NotImplementedError("[export_meta_graph] export_scope is not supported")
    graph = graph or fw.get_default_graph()
    structure = _structure(graph, None, collection_list, clear_devices)
    if filename is not None:
        devrt.save(structure, os.fspath(filename))
    return structure


# --- reading -------------------------------------------------------------------------------


def _read(source: Any, what: str) -> dict:
    if isinstance(source, dict):
        structure, where = source, "the graph"
    else:
        where = repr(os.fspath(source))
        try:
            structure = devrt.load(os.fspath(source), map_location="cpu")
        except ValueError as exc:
            raise ValueError(f"[{what}] cannot read {where}: {exc}") from None
    if not isinstance(structure, dict) or structure.get("format") != GRAPH_FORMAT:
        raise ValueError(f"[{what}] {where} is not a devrt graph file (see docs/graph.md)")
    version = structure.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise ValueError(
            f"[{what}] {where} has graph file version {version!r}; this reader knows 1"
        )
    for key, kind in (("nodes", list), ("variables", list), ("collections", dict)):
        if not isinstance(structure.get(key), kind):
            raise ValueError(f"[{what}] {where} is corrupt: {key!r} is not a {kind.__name__}")
    values = structure.get("values")
    if values is not None and not (
        isinstance(values, dict)
        and all(isinstance(k, str) and isinstance(v, _C.Tensor) for k, v in values.items())
    ):
        raise ValueError(f"[{what}] {where} is corrupt: 'values' is not a dict of tensors")
    return structure


def _check_node(spec: Any, i: int, what: str) -> None:
    ok = (
        isinstance(spec, dict)
        and isinstance(spec.get("name"), str)
        and isinstance(spec.get("op"), str)
        and isinstance(spec.get("inputs"), list)
        and all(
            isinstance(x, (list, tuple))
            and len(x) == 2
            and isinstance(x[0], str)
            and isinstance(x[1], int)
            for x in spec["inputs"]
        )
        and isinstance(spec.get("control_inputs"), list)
        and all(isinstance(x, str) for x in spec["control_inputs"])
        and isinstance(spec.get("attrs"), dict)
        and all(isinstance(k, str) for k in spec["attrs"])
        and isinstance(spec.get("device", ""), str)
    )
    if not ok:
        raise ValueError(f"[{what}] the graph file is corrupt: node {i} is malformed")


def _import(
    structure: dict, graph: fw.Graph, import_scope: str | None, clear_devices: bool, what: str
) -> tuple[dict[str, Operation], list[tuple[str, Variable]]]:
    """Rebuilds the nodes in `graph`; returns {saved op name: Operation} and
    the (saved name, Variable) pairs."""
    if graph.finalized:
        raise RuntimeError("[Graph] Graph is finalized and cannot be modified.")
    prefix = f"{import_scope}/" if import_scope else ""
    ops: dict[str, Operation] = {}
    # Names in the file are unique among themselves; only a clash with a
    # name the graph already had (or one given out here) is renamed "_<n>".
    existing = set(graph._names_in_use)
    assigned: set[str] = set()
    for i, spec in enumerate(structure["nodes"]):
        _check_node(spec, i, what)
        name = spec["name"]

        def find(src: str, name: str = name) -> Operation:
            if src not in ops:
                raise ValueError(
                    f"[{what}] the graph file is corrupt: node '{name}' uses '{src}', which is "
                    "not defined before it"
                )
            return ops[src]

        inputs = [(find(src)._node, idx) for src, idx in spec["inputs"]]
        controls = [find(src)._node for src in spec["control_inputs"]]
        new_name = prefix + name
        key = new_name.lower()
        if key in existing or key in assigned:
            with graph.name_scope(None):
                new_name = graph.unique_name(new_name)
        else:
            graph._names_in_use[key] = 1
        assigned.add(new_name.lower())
        device = "" if clear_devices else spec.get("device", "")
        try:
            node = graph._c.add_node(
                spec["op"], inputs, dict(spec["attrs"]), new_name, device, controls
            )
        except (ValueError, TypeError, KeyError, NotImplementedError) as exc:
            raise ValueError(
                f"[{what}] cannot rebuild node {i} ('{name}', {spec['op']}) of the graph file: {exc}"
            ) from None
        ops[name] = graph._register(node)
    for op in ops.values():
        graph._mark_name_used(op.name)  # and its scopes, for later name scopes

    def tensor(ref: Any) -> Tensor | None:
        if ref is None:
            return None
        op_name, _, index = str(ref).rpartition(":")
        op = ops.get(op_name)
        if op is None or not index.isdigit() or int(index) >= len(op.outputs):
            raise ValueError(f"[{what}] the graph file is corrupt: no tensor {ref!r}")
        return op.outputs[int(index)]

    variables: list[tuple[str, Variable]] = []
    by_name: dict[str, Variable] = {}
    for spec in structure["variables"]:
        if not isinstance(spec, dict) or spec.get("name") not in ops:
            raise ValueError(f"[{what}] the graph file is corrupt: bad variable entry {spec!r}")
        var_op = ops[spec["name"]]
        if var_op.type != "Variable":
            raise ValueError(
                f"[{what}] the graph file is corrupt: {spec['name']} is not a Variable"
            )
        init = spec.get("initializer")
        var = Variable._from_graph(
            var_op,
            None if init is None else ops.get(init),
            tensor(spec.get("snapshot")),
            tensor(spec.get("initial_value")),
            bool(spec.get("trainable", True)),
        )
        variables.append((spec["name"], var))
        # Its variable scopes count as used, so new layers get new scopes.
        parts = var.op.name.split("/")[:-1]
        for k in range(1, len(parts) + 1):
            scope = "/".join(parts[:k])
            graph._var_scope_counts[scope] = graph._var_scope_counts.get(scope, 0) + 1
        by_name[spec["name"]] = var
    for key, entries in structure["collections"].items():
        for entry in entries if isinstance(entries, list) else []:
            kind, ref = (
                (entry.get("kind"), entry.get("name")) if isinstance(entry, dict) else (None, None)
            )
            if kind == "variable" and ref in by_name:
                graph.add_to_collection(key, by_name[ref])
            elif kind == "operation" and ref in ops:
                graph.add_to_collection(key, ops[ref])
            elif kind == "tensor":
                graph.add_to_collection(key, tensor(ref))
            else:
                raise ValueError(
                    f"[{what}] the graph file is corrupt: bad entry {entry!r} in {key!r}"
                )
    return ops, variables


def load_graph(
    path: Any, graph: fw.Graph | None = None, import_scope: str | None = None, clear_devices=False
) -> Saver:
    """Rebuilds the graph file at `path` in `graph` (default: the default
    graph) and returns a Saver of its variables: ``saver.restore(sess)``
    sets them from the values saved in the file (``save_graph`` with a
    session), ``saver.restore(sess, ckpt)`` from a checkpoint. Names taken
    in `graph` get a "_<n>" suffix; `import_scope` prefixes every name."""
    structure = _read(path, "load_graph")
    g = graph or fw.get_default_graph()
    _, variables = _import(structure, g, import_scope, clear_devices, "load_graph")
    saver = Saver(dict(variables), allow_empty=True)
    saver._embedded = structure.get("values")
    return saver


def import_meta_graph(
    meta_graph_or_file: Any, clear_devices: bool = False, import_scope: str | None = None, **kwargs
) -> Saver | None:
    """``tf.train.import_meta_graph``: rebuilds the graph in the default
    graph; returns a Saver of its variables (None when it has none), whose
    ``restore(sess, checkpoint)`` sets them."""
    structure = _read(meta_graph_or_file, "import_meta_graph")
    _, variables = _import(
        structure, fw.get_default_graph(), import_scope, clear_devices, "import_meta_graph"
    )
    if not variables:
        return None
    saver = Saver(dict(variables))
    saver._embedded = structure.get("values")
    return saver
