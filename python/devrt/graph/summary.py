"""``tf.summary``: ``scalar``, ``histogram``, ``merge``, ``merge_all`` and
``FileWriter``.

A summary op is a small Python object holding graph tensors: the value of
``scalar``, or for ``histogram`` the statistics that TensorBoard's
``HistogramProto`` holds (min, max, count, sum, sum of squares and the
counts of 30 equal buckets between min and max), all computed by graph
ops. ``Session.run`` fetches those tensors and hands back the serialized
``Summary`` protocol buffer (bytes), encoded here in the protobuf wire
format, so that summaries need no extra package. ``FileWriter`` writes
TensorBoard event files through the ``tensorboard`` package (its
``EventFileWriter`` and protos); without ``tensorboard`` it warns once and
writes nothing.
"""

from __future__ import annotations

import re
import struct
import time
import warnings
from typing import Any

import numpy as np

from devrt.graph import dtypes
from devrt.graph import framework as fw
from devrt.graph.array_ops import _axis_slice
from devrt.graph.conversion import _make_const
from devrt.graph.framework import GraphKeys
from devrt.graph.tensor import Tensor
from devrt.graph.tensor_util import _apply, _t

__all__ = ["FileWriter", "histogram", "merge", "merge_all", "scalar"]

HISTOGRAM_BUCKETS = 30


# --- the Summary protocol buffer, in the wire format -----------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (strings, messages, packed repeated numbers)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _double(number: int, value: float) -> bytes:
    return _varint(number << 3 | 1) + struct.pack("<d", value)


def _encode_value(kind: str, tag: str, values: list[Any]) -> bytes:
    """One ``Summary.Value``: tag (1), simple_value (2, float) or histo (5)."""
    out = _field(1, tag.encode())
    if kind == "scalar":
        (v,) = values
        if np.ndim(v) != 0:
            raise ValueError(
                f"[scalar] the summary {tag!r} must be a scalar, got shape {np.shape(v)}"
            )
        return out + _varint(2 << 3 | 5) + struct.pack("<f", float(v))
    mn, mx, num, total, squares, limits, counts = values
    histo = b"".join(
        _double(k, float(v)) for k, v in enumerate((mn, mx, num, total, squares), start=1)
    )
    histo += _field(6, np.asarray(limits, "<f8").tobytes())
    histo += _field(7, np.asarray(counts, "<f8").tobytes())
    return out + _field(5, histo)


class SummaryOp:
    """What ``tf.summary.scalar``, ``histogram`` and ``merge`` return:
    fetched by ``Session.run`` as a serialized ``Summary`` (bytes)."""

    def __init__(self, parts: list[tuple[str, str, list[Tensor]]], name: str, graph: fw.Graph):
        self._parts = parts
        self.name = name
        self.graph = graph

    def _session_fetch(self) -> tuple[list[Tensor], Any]:
        """The tensors Session.run fetches, and the function of their values it returns."""
        tensors = [t for _, _, ts in self._parts for t in ts]

        def serialize(values: list[Any]) -> bytes:
            out, k = b"", 0
            for kind, tag, ts in self._parts:
                out += _field(1, _encode_value(kind, tag, values[k : k + len(ts)]))
                k += len(ts)
            return out

        return tensors, serialize

    def __repr__(self) -> str:
        tags = ", ".join(tag for _, tag, _ in self._parts)
        return f"<tf.summary '{self.name}' tags=[{tags}]>"


_INVALID_TAG_CHARACTERS = re.compile(r"[^-/\w.]")


def _clean_tag(name: Any, what: str) -> Any:
    """`name` with characters a name scope refuses replaced by "_" and no
    leading "/" (``tf.summary.histogram(var.name, var)`` tags "W_0"), as TF."""
    if name is None:
        return None
    clean = _INVALID_TAG_CHARACTERS.sub("_", str(name)).lstrip("/")
    if clean != name:
        warnings.warn(
            f"[{what}] summary name {name!r} is illegal; using {clean!r} instead", stacklevel=3
        )
    return clean


def _summary(kind: str, name: str, tensors_of: Any, value: Any, collections, family, what):
    x = _t(value, what)
    name, family = _clean_tag(name, what), _clean_tag(family, what)
    with fw.name_scope(name, what, [x]) as scope:
        tag = scope.rstrip("/")
        if family:
            tag = f"{family}/{tag}"
        op = SummaryOp([(kind, tag, tensors_of(x, what))], tag, x.graph)
    for key in [GraphKeys.SUMMARIES] if collections is None else collections:
        x.graph.add_to_collection(key, op)
    return op


def _scalar_tensors(x: Tensor, what: str) -> list[Tensor]:
    if x.shape.ndims not in (None, 0):
        raise ValueError(f"[{what}] the tensor must be a scalar, got shape {x.shape}")
    if not (x.dtype.is_floating or x.dtype.is_integer or x.dtype.name == "bool"):
        raise TypeError(f"[{what}] the tensor must be a real number, got {x.dtype.name}")
    return [_apply("Identity", [x], {})]


def _histogram_tensors(x: Tensor, what: str) -> list[Tensor]:
    """min, max, count, sum, sum of squares, bucket right edges and counts, as float64."""
    f64 = dtypes.float64.as_devrt_dtype
    flat = _apply("Cast", [_apply("Reshape", [x], {"shape": [-1]})], {"dtype": f64})

    def total(t: Tensor) -> Tensor:
        return _apply("Sum", [t], {"axes": None, "keepdims": False})

    mn = _apply("Min", [flat], {"axes": None, "keepdims": False})
    mx = _apply("Max", [flat], {"axes": None, "keepdims": False})
    width = _apply("Sub", [mx, mn], {})
    fractions = np.arange(1, HISTOGRAM_BUCKETS, dtype=np.float64) / HISTOGRAM_BUCKETS
    inner = _apply(
        "Add",
        [mn, _apply("Mul", [width, _make_const(x.graph, fractions, None, None, what)], {})],
        {},
    )
    limits = _apply("ConcatV2", [inner, _apply("ExpandDims", [mx], {"axis": 0})], {"axis": 0})
    below = [
        total(_apply("Cast", [_apply("LessEqual", [flat, edge], {})], {"dtype": f64}))
        for edge in [_axis_slice(limits, 0, k, k + 1, True) for k in range(HISTOGRAM_BUCKETS - 1)]
    ]
    count = total(_apply("OnesLike", [flat], {}))
    cumulative = _apply("Pack", below + [count], {"axis": 0})
    zero = _make_const(x.graph, np.zeros(1), None, None, what)
    shifted = _apply("ConcatV2", [zero, _axis_slice(cumulative, 0, 0, -1, False)], {"axis": 0})
    counts = _apply("Sub", [cumulative, shifted], {})
    return [mn, mx, count, total(flat), total(_apply("Square", [flat], {})), limits, counts]


def scalar(name: str, tensor: Any, collections: Any = None, family: Any = None) -> SummaryOp:
    """``tf.summary.scalar``: a summary of a real scalar, tagged `name` under
    the enclosing name scope; added to ``tf.GraphKeys.SUMMARIES`` (or
    `collections`)."""
    return _summary("scalar", name, _scalar_tensors, tensor, collections, family, "scalar")


def histogram(name: str, values: Any, collections: Any = None, family: Any = None) -> SummaryOp:
    """``tf.summary.histogram``: a histogram of `values` (any shape, not
    empty) in 30 equal buckets between their min and max."""
    return _summary("histo", name, _histogram_tensors, values, collections, family, "histogram")


def merge(inputs: Any, collections: Any = None, name: str | None = None) -> SummaryOp:
    """``tf.summary.merge``: one summary of all the values of `inputs`."""
    ops = list(inputs)
    for op in ops:
        if not isinstance(op, SummaryOp):
            raise TypeError(
                f"[merge] inputs must be summaries of tf.summary, got {type(op).__name__} {op!r}"
            )
    if not ops:
        raise ValueError("[merge] inputs must not be empty")
    merged = SummaryOp(
        [p for op in ops for p in op._parts], name or "Merge/MergeSummary", ops[0].graph
    )
    for key in collections or []:
        merged.graph.add_to_collection(key, merged)
    return merged


def merge_all(key: str = GraphKeys.SUMMARIES, scope: Any = None, name: str | None = None):
    """``tf.summary.merge_all``: the merge of the summaries in collection
    `key` (those whose tag starts with `scope`), or None when there are none."""
    ops = [op for op in fw.get_default_graph().get_collection(key) if isinstance(op, SummaryOp)]
    if scope is not None:
        ops = [op for op in ops if op.name.startswith(scope)]
    return merge(ops, name=name) if ops else None


# --- FileWriter ------------------------------------------------------------------------------

_warned_missing = False


def _tensorboard() -> Any:
    """(EventFileWriter, event_pb2, summary_pb2, graph_pb2), or None without tensorboard."""
    try:
        from tensorboard.compat.proto import event_pb2, graph_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        return None
    return EventFileWriter, event_pb2, summary_pb2, graph_pb2


class FileWriter:
    """``tf.summary.FileWriter(logdir, graph=None)``: writes summaries and the
    graph to a TensorBoard event file in `logdir`, through the
    ``tensorboard`` package. Without ``tensorboard`` installed it warns once
    (per process) and every method does nothing."""

    def __init__(
        self,
        logdir: str,
        graph: Any = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        graph_def: Any = None,
        filename_suffix: str | None = None,
        session: Any = None,
    ) -> None:
        global _warned_missing
        self._logdir = str(logdir)
        self._tb = _tensorboard()
        self._writer = None
        if self._tb is None:
            if not _warned_missing:
                _warned_missing = True
                warnings.warn(
                    "[FileWriter] the tensorboard package is not installed: summaries are not "
                    "written (pip install tensorboard)",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return
        self._writer = self._tb[0](self._logdir, max_queue, flush_secs, filename_suffix or "")
        if graph is not None:
            self.add_graph(graph)

    def get_logdir(self) -> str:
        return self._logdir

    def add_event(self, event: Any) -> None:
        if self._writer is not None:
            self._writer.add_event(event)

    def _event(self, step: Any, **fields: Any) -> None:
        if self._writer is None:
            return
        event = self._tb[1].Event(wall_time=time.time(), **fields)
        if step is not None:
            event.step = int(step)
        self._writer.add_event(event)

    def add_summary(self, summary: Any, global_step: Any = None) -> None:
        """Writes `summary`: the bytes ``Session.run`` gives for a summary op, or
        a ``Summary`` proto."""
        if self._writer is None:
            return
        if isinstance(summary, (bytes, bytearray)):
            summary = self._tb[2].Summary.FromString(bytes(summary))
        elif not isinstance(summary, self._tb[2].Summary):
            raise TypeError(
                "[FileWriter.add_summary] summary must be the bytes of a fetched summary op or a "
                f"Summary proto, got {type(summary).__name__}"
            )
        self._event(global_step, summary=summary)

    def add_graph(self, graph: Any, global_step: Any = None, graph_def: Any = None) -> None:
        """Writes `graph` (a ``tf.Graph``) as a GraphDef of its nodes' names,
        op types, inputs and devices, for TensorBoard's graph view."""
        if self._writer is None:
            return
        if not isinstance(graph, fw.Graph):
            raise TypeError(
                f"[FileWriter.add_graph] expected a tf.Graph, got {type(graph).__name__}"
            )
        graph_def = self._tb[3].GraphDef()
        for op in graph.get_operations():
            node = graph_def.node.add(name=op.name, op=op.type, device=op.device or "")
            node.input.extend(
                [t.name[:-2] if t.name.endswith(":0") else t.name for t in op.inputs]
                + ["^" + c.name for c in op.control_inputs]
            )
        self._event(global_step, graph_def=graph_def.SerializeToString())

    def add_session_log(self, session_log: Any, global_step: Any = None) -> None:
        self._event(global_step, session_log=session_log)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def reopen(self) -> None:
        if self._writer is not None:
            self._writer = self._tb[0](self._logdir)

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
