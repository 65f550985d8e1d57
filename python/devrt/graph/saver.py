"""``tf.train.Saver`` and the checkpoint helpers (``latest_checkpoint``,
``list_variables``, ``load_variable``).

A checkpoint is one ``devrt.save`` file (docs/serialization.md) holding a
dict ``{variable name: tensor}``, the names being the variables' op names
("dense/kernel") or the keys of a dict `var_list`; ``devrt.load`` reads it
back as such a dict. ``Saver.save(sess, "ckpt")`` also writes the graph to
"ckpt.meta" (see saved_graph.py) and notes the newest checkpoints in a text
file "checkpoint" in the same folder, as TF does.

Differences from TensorFlow: one file per checkpoint (no ".index" and
".data-*" files); ``keep_checkpoint_every_n_hours``, sharding and the
checkpoint format versions are accepted and ignored.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

import devrt
from devrt import _C
from devrt.graph import errors
from devrt.graph.tensor import Tensor
from devrt.graph.variables import Variable, global_variables

__all__ = [
    "CheckpointState",
    "Saver",
    "checkpoint_exists",
    "get_checkpoint_state",
    "latest_checkpoint",
    "list_variables",
    "load_checkpoint",
    "load_variable",
]

GRAPH_FORMAT = "devrt.graph"
_STATE_FILE = "checkpoint"


def _read_values(path: Any, what: str) -> dict[str, Any]:
    """The {name: tensor} dict of a checkpoint, or of a graph file that holds
    variable values; a clear ValueError for anything else."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise errors.NotFoundError(
            f"[{what}] The passed save_path is not a valid checkpoint: {path!r} does not exist"
        )
    try:
        obj = devrt.load(path, map_location="cpu")
    except ValueError as exc:
        raise ValueError(f"[{what}] {path!r} is not a checkpoint: {exc}") from None
    if isinstance(obj, dict) and obj.get("format") == GRAPH_FORMAT:
        values = obj.get("values")
        if values is None:
            raise ValueError(
                f"[{what}] {path!r} is a graph file without variable values; restore from "
                "a checkpoint written by Saver.save"
            )
        obj = values
    if not isinstance(obj, dict) or not all(
        isinstance(k, str) and isinstance(v, _C.Tensor) for k, v in obj.items()
    ):
        raise ValueError(
            f"[{what}] {path!r} is not a checkpoint written by tf.train.Saver (it holds "
            f"a {type(obj).__name__}, not a dict of variable name -> tensor)"
        )
    return obj


def _variables_by_name(var_list: Any, what: str) -> dict[str, Variable]:
    if isinstance(var_list, dict):
        items = list(var_list.items())
    else:
        items = []
        for v in var_list:
            if isinstance(v, (list, tuple)):
                items.extend((x.op.name, x) for x in v)
            else:
                items.append((v.op.name, v))
    out: dict[str, Variable] = {}
    for name, v in items:
        if isinstance(v, Tensor) and v.op.type == "Variable":
            v = v.graph._variables.get(v.op._id, v)
        if not (isinstance(v, Variable) or isinstance(v, Tensor) and v.op.type == "Variable"):
            raise TypeError(f"[{what}] can only save Variables, got {v!r} for {name!r}")
        if name in out:
            raise ValueError(f"[{what}] At least two variables have the same name: {name}")
        out[name] = v
    return out


class CheckpointState:
    """``tf.train.get_checkpoint_state``'s result: the newest checkpoint and
    all the kept ones."""

    def __init__(self, model_checkpoint_path: str, all_model_checkpoint_paths: list[str]):
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths)

    def __repr__(self) -> str:
        return f"CheckpointState({self.model_checkpoint_path!r})"


def get_checkpoint_state(checkpoint_dir: Any, latest_filename: str | None = None):
    """``tf.train.get_checkpoint_state``: parsed from the "checkpoint" file, or None."""
    state = os.path.join(os.fspath(checkpoint_dir), latest_filename or _STATE_FILE)
    if not os.path.isfile(state):
        return None
    latest, every = None, []
    with open(state, encoding="utf-8") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            value = value.strip().strip('"')
            if not os.path.isabs(value):
                value = os.path.join(os.fspath(checkpoint_dir), value)
            if key.strip() == "model_checkpoint_path":
                latest = value
            elif key.strip() == "all_model_checkpoint_paths":
                every.append(value)
    return None if latest is None else CheckpointState(latest, every)


def latest_checkpoint(checkpoint_dir: Any, latest_filename: str | None = None) -> str | None:
    """``tf.train.latest_checkpoint``: the newest checkpoint's path, or None."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is None or not os.path.isfile(state.model_checkpoint_path):
        return None
    return state.model_checkpoint_path


def checkpoint_exists(checkpoint_prefix: Any) -> bool:
    """``tf.train.checkpoint_exists``."""
    return os.path.isfile(os.fspath(checkpoint_prefix))


def _resolve(ckpt: Any, what: str) -> str:
    path = os.fspath(ckpt)
    if os.path.isdir(path):
        found = latest_checkpoint(path)
        if found is None:
            raise errors.NotFoundError(f"[{what}] no checkpoint found in {path!r}")
        return found
    return path


def load_checkpoint(ckpt_dir_or_file: Any) -> dict[str, np.ndarray]:
    """The checkpoint's values as NumPy arrays (devrt's stand-in for TF's
    CheckpointReader)."""
    values = _read_values(_resolve(ckpt_dir_or_file, "load_checkpoint"), "load_checkpoint")
    return {k: np.array(v.numpy(), copy=True) for k, v in values.items()}


def list_variables(ckpt_dir_or_file: Any) -> list[tuple[str, list[int]]]:
    """``tf.train.list_variables``: sorted (name, shape) pairs."""
    values = _read_values(_resolve(ckpt_dir_or_file, "list_variables"), "list_variables")
    return sorted((k, list(v.shape)) for k, v in values.items())


def load_variable(ckpt_dir_or_file: Any, name: str) -> np.ndarray:
    """``tf.train.load_variable``: one value as a NumPy array."""
    path = _resolve(ckpt_dir_or_file, "load_variable")
    values = _read_values(path, "load_variable")
    if name.endswith(":0"):
        name = name[:-2]
    if name not in values:
        raise errors.NotFoundError(f"[load_variable] Key {name} not found in checkpoint {path!r}")
    return np.array(values[name].numpy(), copy=True)


class Saver:
    """``tf.train.Saver(var_list=None, max_to_keep=5)``: saves and restores
    variables (default: every global variable) by name."""

    def __init__(
        self,
        var_list: Any = None,
        reshape: bool = False,
        sharded: bool = False,
        max_to_keep: int | None = 5,
        keep_checkpoint_every_n_hours: float = 10000.0,
        name: str | None = None,
        restore_sequentially: bool = False,
        saver_def: Any = None,
        builder: Any = None,
        defer_build: bool = False,
        allow_empty: bool = False,
        write_version: Any = None,
        pad_step_number: bool = False,
        save_relative_paths: bool = False,
        filename: Any = None,
    ) -> None:
        if var_list is None:
            var_list = global_variables()
        self._vars = _variables_by_name(var_list, "Saver")
        if not self._vars and not allow_empty:
            raise ValueError("[Saver] No variables to save")
        self._max_to_keep = max_to_keep
        self._pad_step_number = pad_step_number
        self._last_checkpoints: list[str] = []
        # Values carried by a loaded graph file, for restore(sess) without a path.
        self._embedded: dict[str, Any] | None = None

    @property
    def last_checkpoints(self) -> list[str]:
        return list(self._last_checkpoints)

    def set_last_checkpoints(self, last_checkpoints: list[str]) -> None:
        self._last_checkpoints = list(last_checkpoints)

    def recover_last_checkpoints(self, checkpoint_paths: list[str]) -> None:
        self._last_checkpoints = [p for p in checkpoint_paths if os.path.isfile(p)]

    @property
    def variables_by_name(self) -> dict[str, Variable]:
        """The saved variables, keyed by checkpoint name (devrt only)."""
        return dict(self._vars)

    def save(
        self,
        sess: Any,
        save_path: Any,
        global_step: Any = None,
        latest_filename: str | None = None,
        meta_graph_suffix: str = "meta",
        write_meta_graph: bool = True,
        write_state: bool = True,
        strip_default_attrs: bool = False,
        save_debug_info: bool = False,
    ) -> str:
        """Writes the variables' values in `sess` to `save_path` (suffixed
        "-<step>" with `global_step`) and returns that path."""
        path = os.fspath(save_path)
        if global_step is not None:
            step = global_step
            if not isinstance(step, (int, np.integer)):
                step = int(sess.run(step))
            path = f"{path}-{step:08d}" if self._pad_step_number else f"{path}-{step}"
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise ValueError(f"[Saver.save] Parent directory of {path} doesn't exist, can't save.")
        values = {}
        for name, var in self._vars.items():
            t = sess._variable_value(var, "Saver.save")
            if t is None:
                raise errors.FailedPreconditionError(
                    f"[Saver.save] Attempting to use uninitialized value {name}"
                )
            values[name] = t.cpu()
        devrt.save(values, path)
        if write_meta_graph:
            from devrt.graph.saved_graph import export_meta_graph

            export_meta_graph(f"{path}.{meta_graph_suffix}", graph=sess.graph)
        self._note(path, meta_graph_suffix)
        if write_state:
            self._write_state(path, latest_filename)
        return path

    def _note(self, path: str, suffix: str) -> None:
        if path in self._last_checkpoints:
            self._last_checkpoints.remove(path)
        self._last_checkpoints.append(path)
        if self._max_to_keep and len(self._last_checkpoints) > self._max_to_keep:
            old = self._last_checkpoints.pop(0)
            for f in (old, f"{old}.{suffix}"):
                if os.path.isfile(f):
                    os.remove(f)

    def _write_state(self, path: str, latest_filename: str | None) -> None:
        folder = os.path.dirname(os.path.abspath(path))

        def rel(p):
            return os.path.relpath(os.path.abspath(p), folder)

        lines = [f'model_checkpoint_path: "{rel(path)}"']
        lines += [f'all_model_checkpoint_paths: "{rel(p)}"' for p in self._last_checkpoints]
        with open(
            os.path.join(folder, latest_filename or _STATE_FILE), "w", encoding="utf-8"
        ) as fh:
            fh.write("\n".join(lines) + "\n")

    def restore(self, sess: Any, save_path: Any = None) -> None:
        """Sets every variable of this Saver in `sess` from `save_path` (a
        checkpoint, or a graph file saved with values); with no path, from
        the values of the graph file this Saver was loaded with.

        A variable missing from the file is a NotFoundError (a ValueError);
        a file that is not a checkpoint is a ValueError."""
        if save_path is None:
            if self._embedded is None:
                raise ValueError("[Saver.restore] Can't load save_path when it is None.")
            values, where = self._embedded, "the loaded graph file"
        else:
            values, where = _read_values(save_path, "Saver.restore"), repr(os.fspath(save_path))
        for name, var in self._vars.items():
            if name not in values:
                raise errors.NotFoundError(
                    f"[Saver.restore] Key {name} not found in checkpoint {where}"
                )
            value = values[name]
            dtype = var.dtype
            if value.dtype != dtype.as_devrt_dtype:
                raise ValueError(
                    f"[Saver.restore] {name}: the checkpoint holds {value.dtype.name}, the "
                    f"variable is {dtype.name}"
                )
            sess._set_variable(var, value, "Saver.restore")

    def export_meta_graph(self, filename: Any = None, **kwargs: Any) -> Any:
        """``Saver.export_meta_graph``: see tf.train.export_meta_graph."""
        from devrt.graph.saved_graph import export_meta_graph

        return export_meta_graph(filename, **kwargs)

    def as_saver_def(self) -> None:
        return None
