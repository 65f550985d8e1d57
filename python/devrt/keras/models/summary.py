"""``model.summary()``: Keras' table of layers, output shapes and parameter
counts, drawn with the same box characters."""

from __future__ import annotations

from typing import Any

from devrt.keras.keras_tensor import flatten
from devrt.keras.layers.layer import count_weights


def _bytes(weights: list) -> int:
    return sum(w.numel() * w.element_size() for w in weights)


def _readable(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} TB"


def _shape_text(layer: Any) -> str:
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        return "?"
    outs = [t for t in flatten(nodes[-1].outputs) if hasattr(t, "shape")]
    if not outs:
        return "?"
    texts = [
        str(tuple(t.shape)).replace(",)", ")") if len(t.shape) != 1 else f"({t.shape[0]},)"
        for t in outs
    ]
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


def _row(cells: list[str], widths: list[int], align: list[str], sep: str = "│") -> str:
    parts = []
    for cell, width, how in zip(cells, widths, align):
        cell = cell if len(cell) <= width - 2 else cell[: width - 3] + "…"
        parts.append(" " + (cell.rjust(width - 2) if how == "r" else cell.ljust(width - 2)) + " ")
    return sep + sep.join(parts) + sep


def print_summary(
    model: Any, line_length: int | None = None, print_fn: Any = None, show_trainable: bool = False
) -> None:
    from devrt.keras.layers.core import InputLayer
    from devrt.keras.models.functional import Functional

    emit = print_fn or print
    if not model.built:
        raise ValueError(
            "[summary] This model has not yet been built. Build the model first by calling "
            "`build()` or by calling the model on a batch of data."
        )
    functional = isinstance(model, Functional)
    headers = ["Layer (type)", "Output Shape", "Param #"]
    widths = [33, 24, 15]
    align = ["l", "l", "r"]
    if functional:
        headers.append("Connected to")
        widths = [29, 22, 13, 22]
        align.append("l")
    rows = []
    for layer in model.layers:
        if isinstance(layer, InputLayer) and not functional:
            continue
        cells = [
            f"{layer.name} ({type(layer).__name__})",
            _shape_text(layer),
            f"{count_weights(layer.weights):,}" if layer.built else "0 (unbuilt)",
        ]
        if functional:
            nodes = layer._inbound_nodes
            sources = []
            for node in nodes:
                for t in node.input_tensors:
                    src, index, tensor_index = t._keras_history
                    sources.append(f"{src.name}[{index}][{tensor_index}]")
            cells.append(", ".join(sources) if sources else "-")
        rows.append(cells)
    lines = [f'Model: "{model.name}"']
    lines.append("┏" + "┳".join("━" * w for w in widths) + "┓")
    lines.append(_row(headers, widths, align, sep="┃"))
    lines.append("┡" + "╇".join("━" * w for w in widths) + "┩")
    for i, cells in enumerate(rows):
        lines.append(_row(cells, widths, align))
        if i != len(rows) - 1:
            lines.append("├" + "┼".join("─" * w for w in widths) + "┤")
    lines.append("└" + "┴".join("─" * w for w in widths) + "┘")
    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights
    everything = model.weights
    lines.append(f" Total params: {count_weights(everything):,} ({_readable(_bytes(everything))})")
    lines.append(
        f" Trainable params: {count_weights(trainable):,} ({_readable(_bytes(trainable))})"
    )
    lines.append(
        f" Non-trainable params: {count_weights(non_trainable):,} ({_readable(_bytes(non_trainable))})"
    )
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and getattr(optimizer, "variables", None):
        opt_vars = list(optimizer.variables)
        lines.append(
            f" Optimizer params: {count_weights(opt_vars):,} ({_readable(_bytes(opt_vars))})"
        )
    for line in lines:
        emit(line)
