"""The "needed by" report: which catalogue ops each workload dispatches, in
which dtypes, forward and backward, and which of them a device lacks.

The ops are found by running the workload, not listed by hand: it runs on
``devrt_trace``, a device registered here like any Python backend, whose
kernels record each call and compute nothing (their outputs are zeros). The
trace device declares exactly the CPU backend's kernels, so the core takes
the same paths as on the CPU: where the CPU has a kernel the trace records
it, and where the core composes an op of others (``conv2d`` of ``im2col``
and ``matmul``, for instance) the trace records the parts. A device lacking
a kernel that the CPU has may still run the workload when the core composes
that op from others the device has; the report names the kernels the CPU
path uses.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field

import devrt
from devrt.hookspecs import hookimpl
from devrt.testing import supports
from devrt.testing.workloads import WORKLOADS, Workload

TRACE = "devrt_trace"


class _Recorder:
    def __init__(self) -> None:
        self.phase = "setup"
        self.calls: dict[str, dict[str, set[str]]] | None = None

    def record(self, op: str, dtype: str) -> None:
        if self.calls is not None:
            self.calls.setdefault(self.phase, {}).setdefault(op, set()).add(dtype)

    @contextlib.contextmanager
    def in_phase(self, name: str):
        outer, self.phase = self.phase, name
        try:
            yield
        finally:
            self.phase = outer


_recorder = _Recorder()


def _dispatch_dtype(op: str, inputs, outputs) -> str:
    # The dtype a kernel is registered for (docs/kernels.md): the first
    # input's, `a`'s for where, `dst`'s for index_put, else the output's.
    if op == "where":
        return inputs[1].dtype.name
    if op == "index_put" or not inputs:
        return outputs[0].dtype.name
    return inputs[0].dtype.name


def _kernel(op: str):
    def trace(inputs, outputs, attrs):
        _recorder.record(op, _dispatch_dtype(op, inputs, outputs))
        if op not in ("index_put", "adam_step", "sgd_step"):  # these write into existing data
            for out in outputs:
                out[...] = 0

    return trace


class _TraceBackend:
    @hookimpl
    def devrt_register_backends(self, registry) -> None:
        registry.register_backend(TRACE, device_count=1)
        for op in devrt.catalogue():
            dtypes = op["kernels"].get("cpu")
            if dtypes:
                registry.register_kernel(op["name"], TRACE, dtypes, _kernel(op["name"]))

    @hookimpl
    def devrt_describe(self) -> dict:
        return {"kernels": "records the ops a workload dispatches (devrt.testing.needs)"}


def _register_trace() -> None:
    status = next((s for s in devrt.plugin_status() if s.name == TRACE), None)
    if status is None:
        status = devrt.register_plugin(_TraceBackend(), name=TRACE)
    if not status.loaded:
        raise RuntimeError(f"[needed_ops] the {TRACE} backend failed to register: {status.error}")


@dataclass
class Needs:
    """The ops a workload dispatched, by phase: ``{phase: {op: dtypes}}``."""

    workload: str
    description: str
    phases: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def ops(self, *phases: str) -> dict[str, list[str]]:
        """Every op of the given phases (default: all) with its dtypes."""
        merged: dict[str, set[str]] = {}
        for phase, ops in self.phases.items():
            if phases and phase not in phases:
                continue
            for op, dtypes in ops.items():
                merged.setdefault(op, set()).update(dtypes)
        return {op: sorted(merged[op]) for op in _catalogue_order(merged)}

    def forward(self) -> dict[str, list[str]]:
        """The ops of the forward pass (a graph's loss fetch)."""
        return self.ops("forward")

    def backward(self) -> dict[str, list[str]]:
        """The ops of the backward pass and the update that the forward pass
        does not already need (for a graph: its train op's)."""
        fwd = self.forward()
        rest = self.ops("backward", "update", "train")
        out = {}
        for op, dtypes in rest.items():
            extra = [d for d in dtypes if d not in fwd.get(op, [])]
            if extra:
                out[op] = extra
        return out

    def missing(self, device: str) -> list[tuple[str, str]]:
        """The (op, dtype) kernels of this workload that `device` lacks."""
        return [
            (op, dtype)
            for op, dtypes in self.ops().items()
            for dtype in dtypes
            if not supports(device, op, dtype)
        ]


def _catalogue_order(ops):
    order = {op["name"]: i for i, op in enumerate(devrt.catalogue())}
    return sorted(ops, key=lambda op: (order.get(op, len(order)), op))


@functools.cache
def _needed(name: str) -> Needs:
    workload = WORKLOADS[name]
    _register_trace()
    _recorder.calls = {}
    try:
        # Two steps: the first also builds optimizer state and plans graphs.
        workload.run(TRACE, 2, _recorder.in_phase)
        calls = _recorder.calls
    finally:
        _recorder.calls = None
    phases = {
        phase: {op: sorted(dtypes) for op, dtypes in ops.items()} for phase, ops in calls.items()
    }
    return Needs(workload.name, workload.description, phases)


def needed_ops(workload: str | Workload) -> Needs:
    """The catalogue ops `workload` (a name of
    :data:`devrt.testing.workloads.WORKLOADS`, or a Workload) dispatches,
    found by running it on the recording ``devrt_trace`` device. The result
    is cached per workload name."""
    name = workload if isinstance(workload, str) else workload.name
    if name not in WORKLOADS:
        raise KeyError(f"[needed_ops] no workload named {name!r}; known: {', '.join(WORKLOADS)}")
    return _needed(name)


def report(device: str | None = None) -> str:
    """The "needed by" report as markdown: per workload, the ops of its
    setup (initial values made on the device), of its forward pass, and
    those its backward pass and update add, each with its dtypes; given a
    device, which of them that device lacks."""
    lines = ["# Ops needed by the workloads", ""]
    for name in WORKLOADS:
        needs = needed_ops(name)
        lines += [f"## {name}: {needs.description}", ""]
        parts = (
            ("setup", needs.ops("setup")),
            ("forward", needs.forward()),
            ("backward and update", needs.backward()),
        )
        for title, ops in parts:
            listed = ", ".join(f"{op} ({'/'.join(d)})" for op, d in ops.items())
            lines.append(f"- {title}: {listed or 'none'}")
        if device is not None:
            missing = needs.missing(device)
            text = ", ".join(f"{op} ({dtype})" for op, dtype in missing)
            lines.append(f"- {device} lacks: {text or 'nothing'}")
        lines.append("")
    return "\n".join(lines)
