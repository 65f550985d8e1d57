"""``.keras`` archives and ``.weights.h5`` files, as Keras 3 writes them.

A ``.keras`` file is a zip (members stored, not compressed) of
``metadata.json`` (``keras_version``, ``date_saved``), ``config.json`` (the
model's serialized config with its ``build_config`` and
``compile_config``) and ``model.weights.h5`` (see ``weight_paths`` for the
group layout). A ``.weights.h5`` file is that HDF5 file alone.

Loading reads the whole file into memory and rebuilds the model before it
assigns a single weight; ``load_weights`` assigns only once every array
has been read and checked. Loading never runs code from the file: Python
lambdas in a config are refused unless ``safe_mode=False``.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from typing import Any

from devrt.keras.saving import h5_weights

CONFIG_FILENAME = "config.json"
METADATA_FILENAME = "metadata.json"
WEIGHTS_FILENAME = "model.weights.h5"
KERAS_VERSION = "3.15.1"

# A zip member that declares more than this and expands more than
# _ZIP_MAX_EXPANSION times its stored size is a decompression bomb.
_ZIP_BOMB_FLOOR_BYTES = 1 << 32
_ZIP_MAX_EXPANSION = 100

_LEGACY_H5 = (".h5", ".hdf5")


# --- saving ----------------------------------------------------------------------


def save_model(
    model: Any, filepath: Any, overwrite: bool = True, zipped: Any = None, **kwargs: Any
) -> None:
    """Write `model` (config, weights, optimizer state) to a ``.keras`` file
    or a writable binary file object."""
    kwargs.pop("include_optimizer", None)
    save_format = kwargs.pop("save_format", None)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs.keys())}")
    if isinstance(filepath, io.IOBase):
        _write_archive(model, filepath)
        return
    path = os.fspath(filepath) if isinstance(filepath, os.PathLike) else str(filepath)
    if save_format and not path.endswith((".keras", *_LEGACY_H5)):
        raise ValueError(
            "The `save_format` argument is deprecated in Keras 3. Please remove this argument "
            f"and pass a file path with a `.keras` extension. Received: save_format={save_format}"
        )
    if zipped is False:
        raise ValueError(
            f"[save_model] devrt writes only zipped `.keras` files; got zipped=False for {path}"
        )
    if path.endswith(_LEGACY_H5):
        raise ValueError(
            f"[save_model] {path}: devrt does not write the legacy Keras 2 HDF5 format. Use the "
            "native Keras format, e.g. `model.save('my_model.keras')`."
        )
    if not path.endswith(".keras"):
        raise ValueError(
            "Invalid filepath extension for saving. Please add a `.keras` extension for the "
            f"native Keras format. Received: filepath={path}."
        )
    if os.path.exists(path) and not overwrite and not _ask_to_proceed_with_overwrite(path):
        return
    _atomic_write(path, lambda f: _write_archive(model, f))


def save_weights(
    model: Any, filepath: Any, overwrite: bool = True, max_shard_size: Any = None
) -> None:
    """Write the weights of `model` (and its optimizer's) to a ``.weights.h5`` file."""
    path = str(filepath)
    if max_shard_size is not None:
        raise ValueError(
            f"[save_weights] {path}: devrt does not write sharded weights (max_shard_size)"
        )
    if not path.endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={path}")
    if not model.built:
        raise ValueError(
            "You are saving a model that has not yet been built. Try building the model first "
            "by calling it on some data or by using `build()`."
        )
    if os.path.exists(path) and not overwrite and not _ask_to_proceed_with_overwrite(path):
        return
    h5py = h5_weights.h5py_module()

    def write(f: Any) -> None:
        with h5py.File(f, "w") as h5file:
            h5_weights.write_weights(h5file, model)

    _atomic_write(path, write)


def _write_archive(model: Any, fileobj: Any) -> None:
    if not model.built:
        warnings.warn(
            "You are saving a model that has not yet been built. It might not contain any "
            "weights yet. Consider building the model first by calling it on some data.",
            stacklevel=3,
        )
    h5py = h5_weights.h5py_module()
    config_json = json.dumps(_model_config(model))
    metadata_json = json.dumps(
        {
            "keras_version": KERAS_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        }
    )
    weights = io.BytesIO()
    with h5py.File(weights, "w") as h5file:
        h5_weights.write_weights(h5file, model)
    with zipfile.ZipFile(fileobj, "w") as zf:
        zf.writestr(METADATA_FILENAME, metadata_json)
        zf.writestr(CONFIG_FILENAME, config_json)
        zf.writestr(WEIGHTS_FILENAME, weights.getvalue())


def _model_config(model: Any) -> dict:
    """``serialize_keras_object(model)`` with the ``build_config`` and
    ``compile_config`` Keras adds for a model."""
    from devrt.keras import serialization

    config = serialization.serialize_keras_object(model)
    build_config = model.get_build_config()
    if build_config is None:
        build_config = _graph_build_config(model)
    if build_config is not None:
        config["build_config"] = build_config
    compile_config = model.get_compile_config() if hasattr(model, "get_compile_config") else None
    config["compile_config"] = compile_config or {}
    return config


def _graph_build_config(model: Any) -> dict | None:
    from devrt.keras.models.functional import Functional
    from devrt.keras.models.sequential import Sequential

    if isinstance(model, Functional):
        return {"input_shape": None}
    if isinstance(model, Sequential) and getattr(model, "_build_input_shape", None) is not None:
        return {"input_shape": list(model._build_input_shape)}
    return None


def _atomic_write(path: str, write: Any) -> None:
    """Write through a temporary file beside `path`, so that a failed save
    leaves any earlier file at `path` whole."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w+b") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _ask_to_proceed_with_overwrite(path: str) -> bool:
    answer = input(f"[WARNING] {path} already exists - overwrite? [y/n]").strip().lower()
    while answer not in ("y", "n"):
        answer = input('Enter "y" (overwrite) or "n" (cancel).').strip().lower()
    if answer == "n":
        return False
    print("[TIP] Next time specify overwrite=True!")
    return True


# --- loading ---------------------------------------------------------------------


def load_model(
    filepath: Any,
    custom_objects: dict | None = None,
    compile: bool = True,  # noqa: A002
    safe_mode: bool = True,
) -> Any:
    """A model from a ``.keras`` file (or file object, or a directory
    holding the archive's three files)."""
    source, members = _read_archive(filepath)
    config = _parse_config(members[CONFIG_FILENAME], source)
    model = _model_from_config(config, source, custom_objects, compile, safe_mode)
    if WEIGHTS_FILENAME not in members:
        raise ValueError(f"[load_model] {source}: Expected a {WEIGHTS_FILENAME} file.")
    _load_weights_from_bytes(model, members[WEIGHTS_FILENAME], source, "load_model")
    return model


def load_weights(model: Any, filepath: Any, skip_mismatch: bool = False, **kwargs: Any) -> None:
    """Load weights saved by ``save_weights`` (``.weights.h5``) or ``save``
    (``.keras``) into the built `model`; nothing changes if the file does not fit."""
    objects_to_skip = kwargs.pop("objects_to_skip", None)
    by_name = kwargs.pop("by_name", None)
    if kwargs:
        raise ValueError(f"Invalid keyword arguments: {kwargs}")
    path = str(filepath)
    if by_name is not None:
        raise ValueError(
            f"`by_name` only supports loading legacy '.h5' or '.hdf5' files. Received: {path}"
        )
    if objects_to_skip is not None:
        raise ValueError(f"[load_weights] devrt does not support `objects_to_skip` ({path})")
    if not model.built:
        raise ValueError(
            "You are loading weights into a model that has not yet been built. Try building "
            "the model first by calling it on some data or by using `build()`."
        )
    if path.endswith(".keras"):
        source, members = _read_archive(path)
        if WEIGHTS_FILENAME not in members:
            raise ValueError(f"[load_weights] {source}: Expected a {WEIGHTS_FILENAME} file.")
        _load_weights_from_bytes(
            model, members[WEIGHTS_FILENAME], source, "load_weights", skip_mismatch
        )
    elif path.endswith(".weights.h5"):
        if not os.path.exists(path):
            raise FileNotFoundError(f"[load_weights] no such file: {path}")
        h5py = h5_weights.h5py_module()
        try:
            with h5py.File(path, "r") as h5file:
                plan = h5_weights.read_weights(h5file, model)
        except (OSError, KeyError, ValueError) as error:
            raise ValueError(
                f"[load_weights] {path} is not a readable Keras weights file: {error}"
            ) from error
        h5_weights.apply_plan(plan, path, "load_weights", skip_mismatch)
    elif path.endswith(_LEGACY_H5):
        raise ValueError(
            f"[load_weights] {path}: devrt does not read the legacy Keras 2 HDF5 format; "
            "save the weights with Keras 3 as `.weights.h5` or `.keras`"
        )
    else:
        raise ValueError(
            f"File format not supported: filepath={path}. Keras 3 only supports V3 `.keras` "
            "files and `.weights.h5` files."
        )


def _read_archive(filepath: Any) -> tuple[str, dict[str, bytes]]:
    """The name of the source and the archive's members, read into memory."""
    if isinstance(filepath, io.IOBase):
        source = str(getattr(filepath, "name", "<file object>"))
        return source, _read_zip(filepath, source)
    path = str(filepath)
    if os.path.isdir(path) and os.path.exists(os.path.join(path, CONFIG_FILENAME)):
        members = {}
        for name in (CONFIG_FILENAME, METADATA_FILENAME, WEIGHTS_FILENAME):
            if os.path.exists(os.path.join(path, name)):
                with open(os.path.join(path, name), "rb") as f:
                    members[name] = f.read()
        return path, members
    if not path.endswith(".keras"):
        if path.endswith(_LEGACY_H5):
            raise ValueError(
                f"[load_model] {path}: devrt does not read the legacy Keras 2 HDF5 format; "
                "save the model with Keras 3 as `.keras`"
            )
        raise ValueError(
            f"File format not supported: filepath={path}. Keras 3 only supports V3 `.keras` files."
        )
    if not os.path.isfile(path):
        raise ValueError(
            f"File not found: filepath={path}. Please ensure the file is an accessible "
            "`.keras` zip file."
        )
    with open(path, "rb") as f:
        return path, _read_zip(f, path)


def _read_zip(fileobj: Any, source: str) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(fileobj, "r") as zf:
            names = set(zf.namelist())
            if CONFIG_FILENAME not in names:
                raise ValueError(
                    f"[load_model] {source} is not a Keras model archive: it has no "
                    f"{CONFIG_FILENAME} (members: {sorted(names)[:8]})"
                )
            members = {}
            for name in (CONFIG_FILENAME, METADATA_FILENAME, WEIGHTS_FILENAME):
                if name in names:
                    info = zf.getinfo(name)
                    if (
                        info.file_size > _ZIP_BOMB_FLOOR_BYTES
                        and info.file_size > _ZIP_MAX_EXPANSION * info.compress_size
                    ):
                        raise ValueError(
                            f"[load_model] {source}: Not allowed: ZIP member '{name}' declares "
                            f"{info.file_size} bytes but stores {info.compress_size}"
                        )
                    members[name] = zf.read(name)
            return members
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise ValueError(
            f"[load_model] {source} is not a Keras model archive (a .keras zip file): {error}"
        ) from error


def _parse_config(data: bytes, source: str) -> dict:
    try:
        config = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"[load_model] {source}: {CONFIG_FILENAME} is not valid JSON: {error}"
        ) from error
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"[load_model] {source}: {CONFIG_FILENAME} does not describe a Keras object "
            "(no 'class_name')"
        )
    return config


def _model_from_config(
    config: dict, source: str, custom_objects: dict | None, compile: bool, safe_mode: bool
) -> Any:  # noqa: A002
    from devrt.keras import config as keras_config
    from devrt.keras import layers

    safe = bool(safe_mode) and keras_config.in_safe_mode()
    if safe:
        _refuse_lambdas(config, source)
    core = {
        k: config[k] for k in ("module", "class_name", "config", "registered_name") if k in config
    }
    try:
        with _safe_mode_scope(safe):
            model = layers.deserialize(core, custom_objects=custom_objects)
            build_config = config.get("build_config")
            if build_config and not model.built:
                model.build_from_config(build_config)
    except Exception as error:
        raise ValueError(
            f"[load_model] {source}: could not rebuild the model from {CONFIG_FILENAME}: {error}"
        ) from error
    compile_config = config.get("compile_config")
    if compile and compile_config and hasattr(model, "compile_from_config"):
        try:
            model.compile_from_config(compile_config)
        except Exception as error:
            raise ValueError(
                f"[load_model] {source}: could not compile the model from the "
                f"compile_config of {CONFIG_FILENAME}: {error}"
            ) from error
    return model


def _refuse_lambdas(config: Any, source: str) -> None:
    """Raise, as Keras does in safe mode, where the config holds Python code."""
    if isinstance(config, dict):
        if config.get("class_name") == "__lambda__":
            raise ValueError(
                f"[load_model] {source}: Requested the deserialization of a Python lambda. "
                "This carries a potential risk of arbitrary code execution and thus it is "
                "disallowed by default. If you trust the source of the artifact, you can "
                "override this error by passing `safe_mode=False` to the loading function, "
                "or calling `keras.config.enable_unsafe_deserialization()."
            )
        if config.get("class_name") == "Lambda":
            function = (config.get("config") or {}).get("function")
            if isinstance(function, dict) and function.get("class_name") == "__lambda__":
                raise ValueError(
                    f"[load_model] {source}: Requested the deserialization of a `Lambda` layer "
                    "whose `function` is a Python lambda. This carries a potential risk of "
                    "arbitrary code execution and thus it is disallowed by default. If you "
                    "trust the source of the artifact, you can override this error by passing "
                    "`safe_mode=False` to the loading function, or calling "
                    "`keras.config.enable_unsafe_deserialization()."
                )
        for value in config.values():
            _refuse_lambdas(value, source)
    elif isinstance(config, list):
        for value in config:
            _refuse_lambdas(value, source)


@contextlib.contextmanager
def _safe_mode_scope(safe: bool) -> Iterator[None]:
    from devrt.keras import config as keras_config

    previous = keras_config._SAFE_MODE
    keras_config._SAFE_MODE = safe
    try:
        yield
    finally:
        keras_config._SAFE_MODE = previous


def _load_weights_from_bytes(
    model: Any, data: bytes, source: str, op: str, skip_mismatch: bool = False
) -> None:
    h5py = h5_weights.h5py_module()
    try:
        with h5py.File(io.BytesIO(data), "r") as h5file:
            plan = h5_weights.read_weights(h5file, model)
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(
            f"[{op}] {source}: {WEIGHTS_FILENAME} is not a readable Keras weights file: {error}"
        ) from error
    h5_weights.apply_plan(plan, f"{source} ({WEIGHTS_FILENAME})", op, skip_mismatch)
