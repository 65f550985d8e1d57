"""Saving and loading tensors and state dicts without pickle.

``save``/``load`` write and read devrt's checkpoint format (docs/serialization.md):
a ZIP archive holding a JSON header, which describes the saved object and
its tensors, and one raw little-endian entry per tensor. Loading parses
data, never runs code. ``load_safetensors`` and ``load_npz`` read the files
in which PyTorch and NumPy users exchange weights; ``save_safetensors``
writes one. Every malformed input raises ``ValueError`` starting with the
function's name in brackets.
"""

from __future__ import annotations

import base64
import collections
import io
import json
import math
import os
import struct
import sys
import zipfile
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from devrt import _C
from devrt._C import Tensor

__all__ = ["load", "load_npz", "load_safetensors", "save", "save_safetensors"]

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


class _Encoder:
    """Turns an object into JSON values, collecting its tensors."""

    def __init__(self) -> None:
        self.tensors: list[Tensor] = []
        self._index: dict[int, int] = {}
        self._open: set[int] = set()

    def encode(self, obj: Any, path: str) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, Tensor):
            if id(obj) not in self._index:
                self._index[id(obj)] = len(self.tensors)
                self.tensors.append(obj)
            return {"$tensor": self._index[id(obj)]}
        if isinstance(obj, (int, np.integer)):
            return int(obj)
        if isinstance(obj, (float, np.floating)):
            value = float(obj)
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(obj, bytes):
            return {"$bytes": base64.b64encode(obj).decode("ascii")}
        if isinstance(obj, _C.dtype):
            return {"$dtype": obj.name}
        if isinstance(obj, _C.device):
            return {"$device": str(obj)}
        if isinstance(obj, (list, tuple, dict)):
            if id(obj) in self._open:
                raise ValueError(f"[save] {path} contains itself (a reference cycle)")
            self._open.add(id(obj))
            try:
                if isinstance(obj, list):
                    return [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]
                if isinstance(obj, tuple):
                    return {"$tuple": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
                tag = "$ordered_dict" if isinstance(obj, collections.OrderedDict) else "$dict"
                items = [
                    [self.encode(k, f"{path} key {k!r}"), self.encode(v, f"{path}[{k!r}]")]
                    for k, v in obj.items()
                ]
                return {tag: items}
            finally:
                self._open.discard(id(obj))
        raise TypeError(
            f"[save] cannot save {path} of type {type(obj).__name__}: devrt.save holds tensors, "
            f"None, bools, ints, floats, strings, bytes, dtypes, devices, and lists, tuples "
            f"and dicts of them (it never pickles)"
        )


def _is_parameter(t: Tensor) -> bool:
    return any(
        c.__name__ == "Parameter" and c.__module__ == "devrt.nn.parameter" for c in type(t).__mro__
    )


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible bytes
    info.compress_type = zipfile.ZIP_STORED
    return info


def save(obj: Any, f: FileLike, pickle_module: Any = None, pickle_protocol: Any = None) -> None:
    """Saves `obj` (tensors, and nested dicts, lists and tuples of tensors and
    plain values, such as a module's or an optimizer's state dict) to `f`, a
    path or a binary file object. `pickle_module` and `pickle_protocol` are
    accepted for PyTorch compatibility and ignored: nothing is pickled."""
    encoder = _Encoder()
    root = encoder.encode(obj, "the object")
    arrays = [_tensor_bytes(t) for t in encoder.tensors]
    header = {
        "format": FORMAT,
        "version": VERSION,
        "byte_order": "little",
        "tensors": [
            {
                "entry": f"data/{i}",
                "dtype": t.dtype.name,
                "shape": list(t.shape),
                "nbytes": int(a.nbytes),
                "device": str(t.device),
                "requires_grad": bool(t.requires_grad),
                "parameter": _is_parameter(t),
            }
            for i, (t, a) in enumerate(zip(encoder.tensors, arrays))
        ],
        "object": root,
    }
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(_zip_info(HEADER), json.dumps(header, allow_nan=False))
        for spec, arr in zip(header["tensors"], arrays):
            with zf.open(_zip_info(spec["entry"]), "w", force_zip64=arr.nbytes >= 2**31) as fh:
                fh.write(_raw(arr))


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
        return map_location(t, location)
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
            f"[load] {where} is not a devrt checkpoint: not a readable ZIP archive ({exc}); "
            f"the file is truncated, corrupt, or of another format"
        ) from None


def _read_header(zf: zipfile.ZipFile, where: str) -> dict:
    names = zf.namelist()
    if HEADER not in names:
        if any(n.endswith("data.pkl") for n in names):
            raise ValueError(
                f"[load] {where} is a PyTorch pickle checkpoint, which devrt does not read "
                f"(unpickling runs code). Save the state dict as safetensors "
                f"(safetensors.torch.save_file) and use devrt.serialization.load_safetensors"
            )
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


def load(
    f: FileLike,
    map_location: MapLocation = None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
) -> Any:
    """Loads an object saved by ``save`` from `f` (a path or a binary file
    object). Tensors return to the device they were saved from, unless
    `map_location` says otherwise: a device (everything there), a dict
    ``{saved device: device}``, or a callable ``(tensor, saved_device) ->
    tensor``. Loading never runs code; `weights_only`, `mmap` and
    `pickle_module` are accepted for PyTorch compatibility and ignored.

    A truncated, corrupt or foreign file raises ``ValueError("[load] ...")``.
    """
    where = _name(f)
    with _open_archive(f, where) as zf:
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
