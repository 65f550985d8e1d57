"""Saving and loading tensors, state dicts and checkpoints.

``save``/``load`` write and read PyTorch's checkpoint format
(docs/serialization.md; the pickle machinery is ``devrt._torch_pickle``):
loading is weights-only by default, through an allow-listed unpickler that
never runs code, and also reads PyTorch's legacy format and devrt's earlier
JSON-header format. ``load_safetensors`` and ``load_npz`` read the files in
which PyTorch and NumPy users exchange weights; ``save_safetensors`` writes
one. Every malformed input raises ``ValueError`` starting with the
function's name in brackets."""

from __future__ import annotations

import base64
import collections
import io
import json
import math
import os
import pickle
import struct
import sys
import zipfile
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from devrt import _C
from devrt._C import Tensor

__all__ = [
    "UnpicklingError",
    "add_safe_globals",
    "clear_safe_globals",
    "get_safe_globals",
    "load",
    "load_npz",
    "load_safetensors",
    "safe_globals",
    "save",
    "save_safetensors",
]

FORMAT = "devrt.save"
VERSION = 1
HEADER = "header.json"

FileLike = str | os.PathLike | IO[bytes]

# devrt dtype name -> (NumPy dtype the bytes are read as, safetensors code).
# bfloat16 travels as raw 2-byte words (NumPy has no bfloat16).
_DTYPES: dict[str, tuple[str, str]] = {
    "bool": ("|b1", "BOOL"),
    "uint8": ("|u1", "U8"),
    "int32": ("<i4", "I32"),
    "int64": ("<i8", "I64"),
    "float16": ("<f2", "F16"),
    "bfloat16": ("<f2", "BF16"),
    "float32": ("<f4", "F32"),
    "float64": ("<f8", "F64"),
}
_FROM_SAFETENSORS = {code: name for name, (_, code) in _DTYPES.items()}
_ITEMSIZE = {name: np.dtype(np_dtype).itemsize for name, (np_dtype, _) in _DTYPES.items()}


# --- tensors <-> bytes -------------------------------------------------------------


def _tensor_bytes(t: Tensor) -> np.ndarray:
    """`t`'s elements as a C-ordered little-endian host array."""
    host = t.detach().cpu().contiguous()
    if host.dtype is _C.bfloat16:
        host = host.view(_C.float16)
    arr = host.numpy()
    if sys.byteorder == "big":
        arr = arr.byteswap()
    return arr


def _raw(arr: np.ndarray) -> memoryview:
    """The bytes of a C-contiguous array, without a copy."""
    return memoryview(arr.reshape(-1).view(np.uint8))


def _tensor_from_bytes(buf: Any, dtype: str, shape: list[int]) -> Tensor:
    """A new tensor over `buf` (a writable buffer of little-endian elements)."""
    arr = np.frombuffer(buf, dtype=np.dtype(_DTYPES[dtype][0])).reshape(shape)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    t = _C.from_numpy(arr)
    return t.view(_C.bfloat16) if dtype == "bfloat16" else t


def _numel(shape: list[int]) -> int:
    return math.prod(shape)


def _check_shape(what: str, shape: Any) -> list[int]:
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise ValueError(f"{what}: shape must be a list of non-negative integers, got {shape!r}")
    return shape


# --- save ---------------------------------------------------------------------------


def save(obj: Any, f: FileLike, pickle_module: Any = None, pickle_protocol: Any = None) -> None:
    """Saves `obj` to `f` (a path or a binary file object) in PyTorch's
    checkpoint format, as ``torch.save`` does: a state dict, an optimizer's
    state dict, a training checkpoint of nested dicts, lists and tuples of
    tensors and plain values, which ``torch.load(f, weights_only=True)`` and
    ``devrt.load(f)`` read; or any other picklable object (a whole module),
    which only ``devrt.load(f, weights_only=False)`` reads.
    `pickle_module` and `pickle_protocol` are accepted for PyTorch
    compatibility and ignored (the pickle is protocol 2, as PyTorch's)."""
    from devrt import _torch_pickle

    fh = open(f, "wb") if isinstance(f, (str, os.PathLike)) else f
    try:
        _torch_pickle.write_archive(obj, fh, _tensor_bytes)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        if str(exc).startswith("["):
            raise
        raise TypeError(f"[save] cannot save {type(obj).__name__}: {exc}") from None
    except RecursionError:
        raise ValueError("[save] the object is nested too deeply (a reference cycle?)") from None
    finally:
        if fh is not f:
            fh.close()


# --- load ---------------------------------------------------------------------------


def _name(f: FileLike) -> str:
    return repr(os.fspath(f)) if isinstance(f, (str, os.PathLike)) else "the file"


MapLocation = str | _C.device | dict | Callable[[Tensor, str], Tensor] | None


def _target_device(location: str, map_location: MapLocation) -> Any:
    if map_location is None:
        return location
    if isinstance(map_location, dict):
        return map_location.get(location, location)
    return map_location


def _place(t: Tensor, location: str, map_location: MapLocation) -> Tensor:
    if callable(map_location) and not isinstance(map_location, (str, _C.device, dict)):
        placed = map_location(t, location)
        if placed is not None:
            return placed
        map_location = None
    device = _target_device(location, map_location)
    try:
        return t.to(device)
    except Exception as exc:
        raise RuntimeError(
            f"[load] cannot place a tensor saved on {location} on {device} ({exc}); "
            f"pass map_location='cpu' to load it on the CPU"
        ) from exc


class _Decoder:
    def __init__(self, tensors: list[Tensor], where: str) -> None:
        self.tensors = tensors
        self.where = where

    def fail(self, what: str) -> ValueError:
        return ValueError(f"[load] {self.where} has a corrupt header: {what}")

    def decode(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict) or len(value) != 1:
            raise self.fail(f"unexpected value {str(value)[:80]!r}")
        ((tag, body),) = value.items()
        if tag == "$tensor":
            if not isinstance(body, int) or not 0 <= body < len(self.tensors):
                raise self.fail(f"tensor reference {body!r} out of range")
            return self.tensors[body]
        if tag == "$tuple" and isinstance(body, list):
            return tuple(self.decode(v) for v in body)
        if tag in ("$dict", "$ordered_dict") and isinstance(body, list):
            cls = dict if tag == "$dict" else collections.OrderedDict
            try:
                return cls((self.decode(k), self.decode(v)) for k, v in body)
            except (TypeError, ValueError) as exc:
                raise self.fail(f"malformed dict ({exc})") from None
        if tag == "$float" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag == "$bytes" and isinstance(body, str):
            try:
                return base64.b64decode(body, validate=True)
            except ValueError:
                raise self.fail("malformed bytes") from None
        if tag == "$dtype" and body in _DTYPES:
            return getattr(_C, body)
        if tag == "$device" and isinstance(body, str):
            return _C.device(body)
        raise self.fail(f"unknown tag {tag!r}")


def _open_archive(f: FileLike, where: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(f, "r")
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ValueError(
            f"[load] {where} is not a checkpoint: not a readable ZIP archive ({exc}); "
            f"the file is truncated, corrupt, or of another format"
        ) from None


def _read_header(zf: zipfile.ZipFile, where: str) -> dict:
    names = zf.namelist()
    if HEADER not in names:
        raise ValueError(f"[load] {where} is not a devrt checkpoint: it has no {HEADER}")
    try:
        header = json.loads(zf.read(HEADER))
    except (zipfile.BadZipFile, ValueError, UnicodeDecodeError, EOFError, RecursionError) as exc:
        raise ValueError(f"[load] {where} has a corrupt header: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"[load] {where} is not a devrt checkpoint (format is not {FORMAT!r})")
    version = header.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ValueError(
            f"[load] {where} has format version {version!r}; this devrt reads versions up "
            f"to {VERSION}"
        )
    if not isinstance(header.get("tensors"), list) or "object" not in header:
        raise ValueError(f"[load] {where} has a corrupt header: missing 'tensors' or 'object'")
    return header


def _read_tensor(zf: zipfile.ZipFile, spec: Any, i: int, where: str) -> tuple[Tensor, str, dict]:
    what = f"[load] {where} has a corrupt header: tensor {i}"
    if not isinstance(spec, dict):
        raise ValueError(f"{what} is not described by an object")
    dtype, entry, nbytes = spec.get("dtype"), spec.get("entry"), spec.get("nbytes")
    if dtype not in _DTYPES:
        raise ValueError(f"{what} has unknown dtype {dtype!r}")
    shape = _check_shape(what, spec.get("shape"))
    if nbytes != _numel(shape) * _ITEMSIZE[dtype]:
        raise ValueError(f"{what} has {nbytes!r} bytes for shape {shape} of {dtype}")
    if entry != f"data/{i}":
        raise ValueError(f"{what} names entry {entry!r}, expected 'data/{i}'")
    try:
        info = zf.getinfo(entry)
    except KeyError:
        raise ValueError(f"[load] {where} is missing entry {entry} (truncated?)") from None
    if info.file_size != nbytes:
        raise ValueError(
            f"[load] {where}: entry {entry} holds {info.file_size} bytes, the header says {nbytes}"
        )
    buf = bytearray(nbytes)
    try:
        with zf.open(info) as fh:
            read = fh.readinto(buf)
            if read != nbytes or fh.read(1):
                raise ValueError(f"entry {entry} is shorter than {nbytes} bytes")
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise ValueError(f"[load] {where} has corrupt tensor data in {entry}: {exc}") from None
    device = spec.get("device", "cpu")
    if not isinstance(device, str):
        raise ValueError(f"{what} has device {device!r}")
    return _tensor_from_bytes(buf, dtype, shape), device, spec


def _load_devrt(zf: zipfile.ZipFile, where: str, map_location: MapLocation) -> Any:
    """An object in devrt's own earlier format (a JSON header)."""
    header = _read_header(zf, where)
    tensors = []
    for i, spec in enumerate(header["tensors"]):
        t, location, spec = _read_tensor(zf, spec, i, where)
        t = _place(t, location, map_location)
        requires_grad = bool(spec.get("requires_grad")) and t.is_floating_point()
        if spec.get("parameter"):
            from devrt.nn.parameter import Parameter

            t = Parameter(t, requires_grad)
        elif requires_grad:
            t.requires_grad_(True)
        tensors.append(t)
    try:
        return _Decoder(tensors, where).decode(header["object"])
    except RecursionError:
        raise ValueError(f"[load] {where} has a corrupt header: nested too deeply") from None


def load(
    f: FileLike,
    map_location: MapLocation = None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
    **pickle_load_args: Any,
) -> Any:
    """Loads an object from `f` (a path or a seekable binary file object)
    saved by ``torch.save`` (the ZIP format, or the legacy one before it) or
    by ``devrt.save``. Tensors return to the device they were saved from,
    unless `map_location` says otherwise: a device (everything there), a dict
    ``{saved location: location}``, or a callable ``(storage, location) ->
    tensor`` (None: the default).

    With `weights_only` (the default, as in PyTorch since 2.6) the pickle is
    read by an allow-listed unpickler that only rebuilds tensors, dtypes,
    devices and plain containers: any other global raises
    ``devrt.serialization.UnpicklingError`` (a ``pickle.UnpicklingError``)
    before anything runs; ``add_safe_globals`` allows more. With
    ``weights_only=False`` any object is rebuilt, which runs the code the
    file names: only for files you trust. `mmap` and `pickle_module` are
    accepted for PyTorch compatibility and ignored.

    A truncated, corrupt or foreign file raises ``ValueError("[load] ...")``.
    """
    from devrt import _torch_pickle

    where = _name(f)
    weights_only = True if weights_only is None else bool(weights_only)

    def place(t: Tensor, location: str) -> Tensor:
        return _place(t, location, map_location)

    fh = open(f, "rb") if isinstance(f, (str, os.PathLike)) else f
    try:
        start = fh.tell()
        head = fh.read(16)
        fh.seek(start)
        if _torch_pickle.is_legacy(head):
            return _torch_pickle.load_legacy(fh, where, place, weights_only)
        with _open_archive(fh, where) as zf:
            if HEADER in zf.namelist():
                return _load_devrt(zf, where, map_location)
            if _torch_pickle.is_torch_archive(zf):
                return _torch_pickle.load_archive(zf, where, place, weights_only)
            raise ValueError(
                f"[load] {where} is not a checkpoint: a ZIP archive with neither data.pkl "
                f"(PyTorch) nor {HEADER} (devrt)"
            )
    finally:
        if fh is not f:
            fh.close()


# --- safetensors --------------------------------------------------------------------

# The safetensors library refuses larger headers too.
_MAX_SAFETENSORS_HEADER = 100_000_000


def _read_exact(fh: IO[bytes], n: int, what: str) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise ValueError(f"{what} (file truncated: wanted {n} bytes, got {len(data)})")
    return data


def load_safetensors(path: FileLike, device: Any = None) -> dict[str, Tensor]:
    """Reads a ``.safetensors`` file (an 8-byte little-endian header length, a
    JSON header mapping names to dtype, shape and byte range, then the raw
    data) into ``{name: tensor}``, on `device` (default CPU). ``__metadata__``
    is skipped. A malformed file raises ``ValueError("[load_safetensors] ...")``."""
    where = _name(path)
    tag = f"[load_safetensors] {where}"
    fh = open(path, "rb") if isinstance(path, (str, os.PathLike)) else path
    try:
        fh.seek(0, io.SEEK_END)
        size = fh.tell()
        fh.seek(0)
        (n,) = struct.unpack("<Q", _read_exact(fh, 8, f"{tag} has no header length"))
        if n > min(_MAX_SAFETENSORS_HEADER, size - 8):
            raise ValueError(
                f"{tag} is not a safetensors file or is truncated: header length {n} for a "
                f"file of {size} bytes"
            )
        raw = _read_exact(fh, n, f"{tag} has a short header")
        try:
            header = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{tag} has a header that is not JSON: {exc}") from None
        if not isinstance(header, dict):
            raise ValueError(f"{tag} has a header that is not a JSON object")
        header.pop("__metadata__", None)
        start, data_size = 8 + n, size - 8 - n
        specs = []
        for name, spec in header.items():
            what = f"{tag}: tensor {name!r}"
            if not isinstance(spec, dict) or not {"dtype", "shape", "data_offsets"} <= spec.keys():
                raise ValueError(f"{what} needs dtype, shape and data_offsets")
            code = spec["dtype"]
            if code not in _FROM_SAFETENSORS:
                raise ValueError(
                    f"{what} has dtype {code}, which devrt does not hold (it holds "
                    f"{', '.join(sorted(_FROM_SAFETENSORS))})"
                )
            dtype = _FROM_SAFETENSORS[code]
            shape = _check_shape(what, spec["shape"])
            offsets = spec["data_offsets"]
            if (
                not isinstance(offsets, list)
                or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data_size
            ):
                raise ValueError(
                    f"{what} has data_offsets {offsets!r} outside the {data_size}-byte data "
                    f"section (truncated file?)"
                )
            nbytes = _numel(shape) * _ITEMSIZE[dtype]
            if offsets[1] - offsets[0] != nbytes:
                raise ValueError(
                    f"{what} spans {offsets[1] - offsets[0]} bytes, but shape {shape} of "
                    f"{code} needs {nbytes}"
                )
            specs.append((name, dtype, shape, offsets[0], nbytes))
        out = {}
        for name, dtype, shape, begin, nbytes in specs:
            buf = bytearray(nbytes)
            fh.seek(start + begin)
            if fh.readinto(buf) != nbytes:
                raise ValueError(f"{tag}: tensor {name!r} is truncated")
            t = _tensor_from_bytes(buf, dtype, shape)
            out[name] = t if device is None else t.to(device)
        return out
    finally:
        if fh is not path:
            fh.close()


def save_safetensors(
    tensors: dict[str, Tensor], path: FileLike, metadata: dict[str, str] | None = None
) -> None:
    """Writes ``{name: tensor}`` as a ``.safetensors`` file (readable by
    ``safetensors.torch.load_file``)."""
    header: dict[str, Any] = {}
    if metadata is not None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("[save_safetensors] metadata must map strings to strings")
        header["__metadata__"] = metadata
    arrays, offset = [], 0
    for name, t in tensors.items():
        if not isinstance(name, str) or not isinstance(t, Tensor):
            raise TypeError(
                f"[save_safetensors] expected a dict of str to Tensor, got "
                f"{type(name).__name__}: {type(t).__name__}"
            )
        arr = _tensor_bytes(t)
        header[name] = {
            "dtype": _DTYPES[t.dtype.name][1],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + arr.nbytes],
        }
        offset += arr.nbytes
        arrays.append(arr)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the data section starts 8-byte aligned
    fh = open(path, "wb") if isinstance(path, (str, os.PathLike)) else path
    try:
        fh.write(struct.pack("<Q", len(raw)))
        fh.write(raw)
        for arr in arrays:
            fh.write(_raw(arr))
    finally:
        if fh is not path:
            fh.close()


# --- npz ----------------------------------------------------------------------------

_NUMPY_KINDS = {np.dtype(t) for t in ("bool", "uint8", "int32", "int64", "f2", "f4", "f8")}


def load_npz(path: FileLike, device: Any = None) -> dict[str, Tensor]:
    """Reads a NumPy ``.npz`` archive (as written by ``np.savez``) into
    ``{name: tensor}``, on `device` (default CPU). Object arrays are refused
    (they would need pickle)."""
    where = _name(path)
    tag = f"[load_npz] {where}"
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{tag} is not a readable .npz archive: {exc}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{tag} holds a single .npy array, not an .npz archive")
    out = {}
    with archive:
        for name in archive.files:
            try:
                arr = archive[name]
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
                raise ValueError(f"{tag}: array {name!r} is corrupt or unreadable: {exc}") from None
            native = arr.dtype.newbyteorder("=")
            if native not in _NUMPY_KINDS:
                raise ValueError(
                    f"{tag}: array {name!r} has NumPy dtype {arr.dtype}, which devrt does not "
                    f"hold (it holds bool, uint8, int32, int64, float16, float32, float64)"
                )
            # (np.ascontiguousarray would turn a 0-d array into 1-d.)
            arr = np.require(arr, dtype=native, requirements=["C", "W"])
            t = _C.from_numpy(arr)
            out[name] = t if device is None else t.to(device)
    return out


from devrt._torch_pickle import (  # noqa: E402 - it reads this module's dtype table
    UnpicklingError,
    add_safe_globals,
    clear_safe_globals,
    get_safe_globals,
    safe_globals,
)
