"""Keras 3 weights in HDF5: write a model's variables at the paths
``weight_paths`` gives them, and read them back all at once.

Reading never assigns as it goes: ``read_weights`` fetches and checks every
array first and returns a plan; ``WeightsPlan.assign`` writes the
variables only once the whole file has been read, so a model keeps its old
weights when a file turns out to be broken.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from devrt.keras.saving.weight_paths import Saveable, saveables

# A dataset that declares more than this many bytes must store at least a
# thousandth of them: an HDF5 "shape bomb" declares a huge array and
# stores almost nothing, to make the reader allocate it.
_BOMB_FLOOR_BYTES = 1 << 32
_BOMB_MAX_EXPANSION = 1000


def h5py_module() -> Any:
    try:
        import h5py
    except ImportError as error:
        raise ImportError(
            "Saving and loading Keras weight files needs the h5py package: pip install h5py"
        ) from error
    return h5py


# --- writing ---------------------------------------------------------------------


def write_weights(h5file: Any, model: Any) -> None:
    """Write every variable of `model` into the open h5py file `h5file`."""
    for entry in saveables(model):
        group = h5file.require_group(entry.path) if entry.path else h5file
        store = group.create_group("vars")
        store.attrs["name"] = entry.name
        for i, variable in enumerate(entry.variables):
            store.create_dataset(str(i), data=_to_numpy(entry, variable))


def _to_numpy(entry: Saveable, variable: Any) -> np.ndarray:
    value = np.asarray(variable.numpy())
    # Keras keeps an optimizer's step counter in int32; devrt in int64.
    if entry.is_optimizer and value.dtype == np.int64 and value.ndim == 0:
        value = value.astype(np.int32)
    return value


# --- reading ---------------------------------------------------------------------


@dataclass
class WeightsPlan:
    """What loading a file would do: the assignments, and the objects the
    file does not fit (with the reason), checked before anything is written."""

    assignments: list[tuple[Any, np.ndarray]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (object, why)
    notes: list[str] = field(default_factory=list)  # warnings Keras gives too

    def assign(self) -> None:
        for variable, value in self.assignments:
            variable.assign(value)


def read_weights(h5file: Any, model: Any) -> WeightsPlan:
    """Read, for every layer and optimizer of `model`, its arrays from the
    open h5py file `h5file`, and check their number and shapes."""
    plan = WeightsPlan()
    legacy = "_layer_checkpoint_dependencies" in h5file
    for entry in saveables(model):
        arrays = _read_group(h5file, entry.path, legacy)
        label = f"{type(entry.owner).__name__} '{entry.name}'"
        if entry.is_optimizer:
            if len(arrays) != len(entry.variables):
                plan.notes.append(
                    f"Skipping variable loading for optimizer '{entry.name}', because it has "
                    f"{len(entry.variables)} variables whereas the saved optimizer has "
                    f"{len(arrays)} variables. "
                    + (
                        "This is likely because the optimizer has not been called/built yet."
                        if not getattr(entry.owner, "built", True)
                        else ""
                    )
                )
                continue
        elif len(arrays) != len(entry.variables):
            plan.failures.append((label, _count_error(entry, len(arrays))))
            continue
        problems = [
            f"variable {getattr(v, 'path', i)} has shape {tuple(v.shape)}, the file's "
            f"'{_dataset_path(entry.path, i)}' has shape {a.shape}"
            for i, (v, a) in enumerate(zip(entry.variables, arrays))
            if tuple(v.shape) != a.shape
        ]
        if problems:
            plan.failures.append((label, "; ".join(problems)))
            continue
        plan.assignments.extend(zip(entry.variables, arrays))
    return plan


def _count_error(entry: Saveable, found: int) -> str:
    if not entry.variables and not getattr(entry.owner, "built", True):
        return (
            f"Layer '{entry.name}' was never built and thus it doesn't have any variables. "
            f"However the weights file lists {found} variables for this layer."
        )
    return (
        f"Layer '{entry.name}' expected {len(entry.variables)} variables, but received "
        f"{found} variables during loading. "
        f"Expected: {[getattr(v, 'name', str(i)) for i, v in enumerate(entry.variables)]}"
    )


def _dataset_path(path: str, index: int) -> str:
    return f"{path}/vars/{index}" if path else f"vars/{index}"


def _read_group(h5file: Any, path: str, legacy: bool) -> list[np.ndarray]:
    """The arrays under ``<path>/vars``, ``[]`` where the file lacks it."""
    store = _get_group(h5file, f"{path}/vars" if path else "vars")
    if store is None and legacy and path:
        # Files of Keras 2.13-2.15 name the layers group differently.
        legacy_path = path.replace("layers", "_layer_checkpoint_dependencies")
        store = _get_group(h5file, f"{legacy_path}/vars")
    if store is None:
        return []
    keys = list(store.keys())
    arrays = []
    for i in range(len(keys)):
        if str(i) not in keys:
            raise ValueError(
                f"Invalid weights file: the group '{store.name}' holds {sorted(keys)}, "
                "not datasets named 0, 1, ..."
            )
        arrays.append(_read_dataset(store, str(i)))
    return arrays


def _get_group(h5file: Any, path: str) -> Any:
    h5py = h5py_module()
    current = h5file
    for part in path.split("/"):
        if not part:
            raise ValueError(f"Invalid path in H5 file: {path}")
        link = current.get(part, getlink=True)
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            raise ValueError(f"Not allowed: H5 file with {type(link).__name__} at '{path}'")
        current = current[part]
        if not isinstance(current, h5py.Group):
            raise ValueError(f"Invalid H5 file: expected a group at '{path}', found a dataset")
    return current


def _read_dataset(group: Any, name: str) -> np.ndarray:
    h5py = h5py_module()
    link = group.get(name, getlink=True)
    if not isinstance(link, h5py.HardLink):
        raise ValueError(
            f"Not allowed: H5 file with {type(link).__name__} at '{group.name}/{name}'"
        )
    dataset = group[name]
    where = f"{group.name}/{name}"
    if not isinstance(dataset, h5py.Dataset):
        raise ValueError(f"Invalid H5 file: expected a dataset at '{where}', found a group")
    if dataset.external:
        raise ValueError(f"Not allowed: H5 file with an external dataset at '{where}'")
    if dataset.is_virtual:
        raise ValueError(f"Not allowed: H5 file with a virtual dataset at '{where}'")
    declared = math.prod(dataset.shape or ()) * dataset.dtype.itemsize
    if (
        declared > _BOMB_FLOOR_BYTES
        and declared > _BOMB_MAX_EXPANSION * dataset.id.get_storage_size()
    ):
        raise ValueError(
            f"Not allowed: the H5 dataset '{where}' declares {declared} bytes but stores "
            f"{dataset.id.get_storage_size()}"
        )
    if dataset.attrs.get("dtype") == "bfloat16":
        import ml_dtypes

        return np.array(dataset, dtype=ml_dtypes.bfloat16).astype(np.float32)
    return np.array(dataset)


def apply_plan(plan: WeightsPlan, source: str, op: str, skip_mismatch: bool = False) -> None:
    """Report the plan's failures as Keras does (an error, or a warning
    under `skip_mismatch`), then assign what fits."""
    for note in plan.notes:
        warnings.warn(note, stacklevel=3)
    if plan.failures:
        label, why = plan.failures[0]
        message = (
            f"[{op}] {source}: A total of {len(plan.failures)} objects could not be loaded. "
            f"Example error message for object {label}:\n\n{why}\n\n"
            f"List of objects that could not be loaded:\n{[f[0] for f in plan.failures]}"
        )
        if not skip_mismatch:
            raise ValueError(message)
        warnings.warn(message, stacklevel=3)
    plan.assign()
