"""devrt.onnx: export an ``nn.Module`` to an ONNX model, as ``torch.onnx.export``.

``export(model, args, f)`` runs one forward call of `model` on `args` and
records the ops it runs at the level of devrt's public API (``F.relu``,
``x.view``, ``devrt.flatten``, ``+`` between modules: see ``_trace``), each
turned into ONNX nodes by its converter (``_ops``); parameters and buffers
become initializers. The model is written with the ``onnx`` package (the
``onnx`` extra: ``pip install devrt[onnx]``). docs/serialization.md lists
the ops covered.
"""

from __future__ import annotations

import os
from typing import IO, Any

from devrt import _C

__all__ = ["export", "is_in_onnx_export", "OnnxExporterError"]

DEFAULT_OPSET = 17
MIN_OPSET = 17

Tensor = _C.Tensor


class OnnxExporterError(RuntimeError):
    """The export failed for a reason other than an unsupported op."""


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - the extra is installed in tests
        raise ImportError(
            "[onnx.export] needs the onnx package: pip install onnx (or devrt[onnx])"
        ) from exc
    return onnx


def is_in_onnx_export() -> bool:
    """Whether an export is tracing a forward call right now."""
    from devrt.onnx._trace import Tracer

    return Tracer._active is not None


def _as_tuple(args: Any) -> tuple[tuple, dict]:
    if isinstance(args, Tensor):
        return (args,), {}
    if not isinstance(args, tuple):
        raise TypeError(
            f"[onnx.export] args must be a tensor or a tuple of them, got {type(args).__name__}"
        )
    kwargs = {}
    if args and isinstance(args[-1], dict):
        args, kwargs = args[:-1], args[-1]
    for i, a in enumerate((*args, *kwargs.values())):
        if not isinstance(a, Tensor):
            raise TypeError(
                f"[onnx.export] every model input must be a tensor; input {i} is a "
                f"{type(a).__name__}"
            )
    return tuple(args), dict(kwargs)


def _outputs(result: Any) -> list[Tensor]:
    items = list(result) if isinstance(result, (tuple, list)) else [result]
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"[onnx.export] the model must return a tensor or a tuple of them; output {i} "
                f"is a {type(t).__name__}"
            )
    return items


def _dynamic(dynamic_axes: Any, names: list[str]) -> dict[str, dict[int, str]]:
    out: dict[str, dict[int, str]] = {}
    for name, axes in (dynamic_axes or {}).items():
        if name not in names:
            raise ValueError(
                f"[onnx.export] dynamic_axes names {name!r}, which is neither an input nor an "
                f"output name ({names})"
            )
        if isinstance(axes, dict):
            out[name] = {int(k): str(v) for k, v in axes.items()}
        else:
            out[name] = {int(k): f"{name}_dynamic_axes_{i + 1}" for i, k in enumerate(axes)}
    return out


def _value_info(onnx: Any, name: str, t: Tensor, dynamic: dict[int, str]) -> Any:
    from devrt.onnx._graph import onnx_dtype

    dims = [dynamic.get(i, n) for i, n in enumerate(t.shape)]
    return onnx.helper.make_tensor_value_info(name, onnx_dtype(onnx, t.dtype), dims)


def export(
    model: Any,
    args: Any,
    f: str | os.PathLike | IO[bytes],
    export_params: bool = True,
    verbose: bool = False,
    training: Any = None,
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    opset_version: int | None = None,
    dynamic_axes: dict | None = None,
    do_constant_folding: bool = True,
    keep_initializers_as_inputs: bool = False,
    **kwargs: Any,
) -> None:
    """Exports `model` (an ``nn.Module``, or a callable of tensors) to the
    ONNX file `f` (a path or a binary file object) by tracing one call
    ``model(*args)``. The model runs in eval mode and its mode is restored
    afterwards (``training=TrainingMode.TRAINING`` or ``True`` runs it in
    training mode, ``TrainingMode.PRESERVE`` as it is). `input_names` and
    `output_names` name the graph's inputs and outputs (default
    ``input_0``..., ``output_0``...); `dynamic_axes` maps such a name to
    the dimensions that may vary (``{"input": {0: "batch"}}`` or
    ``{"input": [0]}``). `opset_version` is 17 by default, at least 17 and
    at most the newest the onnx package knows; the file has the oldest IR
    version that holds that opset.

    Python control flow and sizes computed in Python are fixed at their
    traced values; a reshape keeps the input's leading sizes symbolic. An op
    the exporter cannot convert raises ``NotImplementedError("[onnx.export]
    ...")`` naming it. `verbose`, `do_constant_folding` and
    `keep_initializers_as_inputs` are accepted for PyTorch compatibility;
    `export_params=False` is not supported.
    """
    onnx = _onnx()
    from devrt.onnx._graph import Graph
    from devrt.onnx._ops import ALIASES, CONVERTERS
    from devrt.onnx._trace import Traced, Tracer

    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"[onnx.export] opset_version {opset} is not supported: devrt exports opsets "
            f"{MIN_OPSET} to {newest}"
        )
    if not export_params:
        raise NotImplementedError("[onnx.export] export_params=False is not supported")
    unknown = set(kwargs) - {"operator_export_type", "custom_opsets", "export_modules_as_functions",
                             "autograd_inlining", "dynamo", "external_data", "report", "optimize",
                             "verify", "profile", "dump_exported_program", "artifacts_dir",
                             "fallback", "dynamic_shapes", "kwargs"}  # fmt: skip
    if unknown:
        raise TypeError(f"[onnx.export] unexpected keyword arguments {sorted(unknown)}")
    inputs, input_kwargs = _as_tuple(args)
    n_inputs = len(inputs) + len(input_kwargs)
    in_names = list(input_names or [])
    if len(in_names) > n_inputs:
        raise ValueError(
            f"[onnx.export] {len(in_names)} input_names for {n_inputs} inputs: {in_names}"
        )
    in_names += [f"input_{i}" for i in range(len(in_names), n_inputs)]

    params: dict[int, tuple[str, Tensor]] = {}
    if hasattr(model, "named_parameters"):
        for name, t in model.named_parameters():
            params[id(t)] = (name, t)
        for name, t in model.named_buffers():
            params[id(t)] = (name, t)
    graph = Graph(onnx, opset, params)
    traced_inputs = [Traced(t) for t in (*inputs, *input_kwargs.values())]
    for name, t in zip(in_names, traced_inputs):
        graph.name_input(t, name)
    traced_args = traced_inputs[: len(inputs)]
    traced_kwargs = dict(zip(input_kwargs, traced_inputs[len(inputs) :]))

    was_training = getattr(model, "training", False)
    if hasattr(model, "train") and not str(training).endswith("PRESERVE"):
        model.train(training is True or str(training).endswith("TRAINING"))
    import devrt

    try:
        with devrt.no_grad(), Tracer(graph, CONVERTERS, ALIASES).active():
            result = model(*traced_args, **traced_kwargs)
    finally:
        if hasattr(model, "train"):
            model.train(was_training)
    outputs = _outputs(result)
    out_names = list(output_names or [])
    if len(out_names) > len(outputs):
        raise ValueError(
            f"[onnx.export] {len(out_names)} output_names for {len(outputs)} outputs: {out_names}"
        )
    out_names += [f"output_{i}" for i in range(len(out_names), len(outputs))]
    dynamic = _dynamic(dynamic_axes, in_names + out_names)

    # Each output is its own graph output, even where the model returns an
    # input, a parameter or one value twice.
    for name, t in zip(out_names, outputs):
        graph.nodes.append(onnx.helper.make_node("Identity", [graph.value(t)], [name]))
    onnx_graph = onnx.helper.make_graph(
        graph.nodes,
        type(model).__name__ if hasattr(model, "named_parameters") else "graph",
        [_value_info(onnx, n, t, dynamic.get(n, {})) for n, t in zip(in_names, traced_inputs)],
        [_value_info(onnx, n, t, dynamic.get(n, {})) for n, t in zip(out_names, outputs)],
        graph.initializers,
    )
    onnx_model = onnx.helper.make_model(
        onnx_graph,
        opset_imports=[onnx.helper.make_opsetid("", opset)],
        producer_name="devrt",
    )
    # The oldest IR version with this opset: runtimes older than the onnx
    # package then still read the file.
    onnx_model.ir_version = onnx.helper.find_min_ir_version_for(list(onnx_model.opset_import))
    try:
        onnx.checker.check_model(onnx_model)
    except onnx.checker.ValidationError as exc:
        raise OnnxExporterError(
            f"[onnx.export] the exported model is not valid ONNX: {exc}"
        ) from exc
    onnx.save_model(onnx_model, f)
