"""Runs one corpus program and prints the losses it recorded.

    python _runner.py PROGRAM.py devrt|reference

``devrt`` runs the file as it is. ``reference`` first turns its devrt
import lines back into the framework's own (``import devrt as torch`` into
``import torch``, ``from devrt import keras`` into ``import keras``, and so
on); nothing else in the program changes. The program leaves its losses in a
module-level list ``losses``; the last line printed is ``CORPUS_RESULT``
followed by them as JSON.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

_IMPORT = re.compile(r"^(\s*)(import|from) devrt\b(.*)$")


def reference_source(source: str) -> str:
    """The program with each devrt import written for the original framework."""
    lines = []
    for line in source.splitlines():
        match = _IMPORT.match(line)
        if match:
            line = line.replace("from devrt import keras", "import keras")
            line = line.replace("devrt.keras", "keras")
            line = line.replace("devrt.graph", "tensorflow.compat.v1")
            line = re.sub(r"\bdevrt\b", "torch", line)
        lines.append(line)
    return "\n".join(lines) + "\n"


def _tensorflow_as_tf1() -> None:
    """Makes TensorFlow 2 run a TF1 program: graph mode, and the
    `tensorflow.contrib.rnn` names that TF1 programs import, which live on
    in `tf.compat.v1.nn` (its cells need the tf_keras package)."""
    import importlib.util
    import os
    import types

    if importlib.util.find_spec("tf_keras") is not None:
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    rnn = types.ModuleType("tensorflow.compat.v1.contrib.rnn")
    cells = ("BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell", "MultiRNNCell")
    for name in (*cells, "DropoutWrapper"):
        setattr(rnn, name, getattr(tf.nn.rnn_cell, name, None))  # None without tf_keras
    rnn.static_rnn = getattr(tf.nn, "static_rnn", None)
    contrib = types.ModuleType("tensorflow.compat.v1.contrib")
    contrib.rnn = rnn
    sys.modules[contrib.__name__] = contrib
    sys.modules[rnn.__name__] = rnn


def main(path: str, mode: str) -> None:
    program = Path(path).resolve()
    sys.path.insert(0, str(program.parent))
    source = program.read_text()
    if mode == "reference":
        source = reference_source(source)
        if "tensorflow.compat.v1" in source:
            _tensorflow_as_tf1()
    elif mode != "devrt":
        raise ValueError(f"[corpus] unknown mode {mode!r}; expected 'devrt' or 'reference'")
    namespace = {"__name__": "__main__", "__file__": str(program)}
    sys.argv = [str(program)]
    exec(compile(source, str(program), "exec"), namespace)
    losses = [float(v) for v in namespace["losses"]]
    if not losses or not all(math.isfinite(v) for v in losses):
        raise RuntimeError(f"[corpus] {program.name} recorded losses {losses}")
    print("CORPUS_RESULT " + json.dumps(losses), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
