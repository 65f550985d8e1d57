"""PyTorch's checkpoint format, read and written without PyTorch.

A ``torch.save`` file is a ZIP archive ``<name>/data.pkl`` (a protocol-2
pickle of the object), ``<name>/data/<key>`` (the raw bytes of each
storage), ``<name>/byteorder`` and ``<name>/version``; older files are the
same pickle followed by the storages in one stream. In the pickle a tensor
is ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
requires_grad, hooks)`` and a storage a persistent id ``('storage',
torch.FloatStorage, key, location, numel)``.

Reading goes through :class:`Unpickler`, whose ``find_class`` resolves only
the globals of an allow-list (devrt's stand-ins for PyTorch's tensor, storage,
dtype and device names, and a few builtins) plus those the user adds with
:func:`add_safe_globals`; any other name is refused before anything runs, as
PyTorch's ``weights_only=True``. Writing goes through :class:`Pickler`, which
names the same PyTorch globals, so ``torch.load(f, weights_only=True)``
reads what devrt writes.
"""

from __future__ import annotations

import _compat_pickle
import collections
import contextlib
import functools
import io
import pickle
import struct
import zipfile
from collections.abc import Callable, Iterable
from typing import IO, Any

import numpy as np

from devrt import _C
from devrt._C import Tensor

# PyTorch storage class -> devrt dtype name (None: a dtype devrt does not hold).
_STORAGE_DTYPES: dict[str, str | None] = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "UntypedStorage": "uint8",
    "ShortStorage": None,
    "CharStorage": None,
    "ComplexFloatStorage": None,
    "ComplexDoubleStorage": None,
    "QInt8Storage": None,
    "QUInt8Storage": None,
    "QInt32Storage": None,
}
_STORAGE_OF_DTYPE = {
    dtype: name for name, dtype in _STORAGE_DTYPES.items() if dtype and name != "UntypedStorage"
}
# PyTorch dtype names devrt lacks (its own are the names of devrt dtypes).
_FOREIGN_DTYPES = (
    "int8 int16 uint16 uint32 uint64 complex32 complex64 complex128 float8_e4m3fn "
    "float8_e5m2 float8_e4m3fnuz float8_e5m2fnuz qint8 quint8 qint32 quint4x2"
).split()


class UnpicklingError(pickle.UnpicklingError, ValueError):
    """A file names a global that loading does not allow (or is malformed)."""


class _Global:
    """A name in the PyTorch namespace: written as a pickle GLOBAL, and read
    back by the allow-list."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> Any:  # pickle requires reduce functions be callable
        raise TypeError(
            f"[save] {self.module}.{self.name} stands for a PyTorch name; it is not called"
        )


@functools.cache
def _global(module: str, name: str) -> _Global:
    # One object per name, so that the pickle memo writes each GLOBAL once.
    return _Global(module, name)


class _StorageType:
    """What a ``torch.<X>Storage`` global reads as."""

    def __init__(self, name: str) -> None:
        self.name, self.dtype = name, _STORAGE_DTYPES[name]


# --- reading ------------------------------------------------------------------------


class _Storage:
    """A storage read from a file: its elements as a 1-D host array, and the
    tensor that `map_location` made of them (shared by every view)."""

    def __init__(self, array: np.ndarray, dtype: str, location: str, place: Callable) -> None:
        self.array, self.dtype, self.location = array, dtype, location
        self.placed = place(self.as_tensor(array), location)
        if self.placed.device.type == "cpu":
            # What a map_location callable returned on the host is the storage.
            placed = self.placed.detach()
            if placed.dtype is _C.bfloat16:
                placed = placed.view(_C.float16)
            self.array = placed.contiguous().numpy()
            if self.array.shape != array.shape or self.array.dtype != array.dtype:
                raise ValueError(
                    f"[load] map_location turned a {dtype} storage of {array.size} elements "
                    f"into a tensor of shape {tuple(self.placed.shape)} and dtype "
                    f"{self.placed.dtype.name}"
                )

    def as_tensor(self, array: np.ndarray) -> Tensor:
        t = _C.from_numpy(array)
        return t.view(_C.bfloat16) if self.dtype == "bfloat16" else t


def _numpy_dtype(dtype: str) -> np.dtype:
    from devrt.serialization import _DTYPES  # (bfloat16 reads as raw float16 words)

    return np.dtype(_DTYPES[dtype][0])


def _storage_array(raw: bytes | bytearray, dtype: str, big_endian: bool, where: str) -> np.ndarray:
    np_dtype = _numpy_dtype(dtype)
    if len(raw) % np_dtype.itemsize:
        raise ValueError(
            f"[load] {where}: a {dtype} storage of {len(raw)} bytes is not a whole number of "
            f"elements"
        )
    arr = np.frombuffer(raw, dtype=np_dtype.newbyteorder(">" if big_endian else "<"))
    # Tensors share the array (and may write to it): native and writable.
    if not arr.dtype.isnative or not arr.flags.writeable:
        arr = arr.astype(np_dtype.newbyteorder("="))
    return arr


def _rebuild_tensor_v2(
    storage: Any,
    storage_offset: int,
    size: Iterable[int],
    stride: Iterable[int],
    requires_grad: bool = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> Tensor:
    if not isinstance(storage, _Storage):
        raise UnpicklingError(
            f"[load] a tensor is rebuilt from a {type(storage).__name__}, not a storage"
        )
    size, stride = [int(s) for s in size], [int(s) for s in stride]
    offset = int(storage_offset)
    if len(size) != len(stride) or offset < 0 or min(size + stride, default=0) < 0:
        raise UnpicklingError(
            f"[load] a tensor has size {size}, stride {stride} and offset {offset}"
        )
    end = offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1 if all(size) else offset
    if end > storage.array.size:
        raise UnpicklingError(
            f"[load] a tensor of size {size}, stride {stride} and offset {offset} reaches past "
            f"its storage of {storage.array.size} elements"
        )
    # Views are made over the host array, so views of one storage share its
    # memory as in PyTorch; on another device each view is copied there.
    array = storage.array
    view = np.lib.stride_tricks.as_strided(
        array[offset:], size, [s * array.itemsize for s in stride], writeable=True
    )
    t = storage.as_tensor(view)
    if storage.placed.device.type != "cpu":
        t = t.to(storage.placed.device)
    if requires_grad and t.is_floating_point():
        t.requires_grad_(True)
    return t


def _rebuild_tensor(storage: Any, storage_offset: int, size: Any, stride: Any) -> Tensor:
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(
    storage: Any, storage_offset: int, size: Any, stride: Any, requires_grad: bool,
    backward_hooks: Any, dtype: Any, metadata: Any = None,
) -> Tensor:  # fmt: skip
    t = _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad)
    return t if t.dtype == dtype else t.view(dtype)


def _rebuild_parameter(data: Tensor, requires_grad: bool, backward_hooks: Any = None) -> Tensor:
    from devrt.nn.parameter import Parameter

    return Parameter(data.detach(), bool(requires_grad))


def _rebuild_parameter_with_state(
    data: Tensor, requires_grad: bool, backward_hooks: Any, state: Any
) -> Tensor:
    return _rebuild_parameter(data, requires_grad)


def _device(*args: Any) -> Any:
    # A device of a type this process does not have stays its name.
    try:
        return _C.device(*args)
    except (ValueError, RuntimeError):
        return ":".join(str(a) for a in args)


def _size(*args: Any) -> tuple:
    return tuple(*args)


def _allowed_globals() -> dict[str, Any]:
    utils = "torch._utils."
    names: dict[str, Any] = {
        "collections.OrderedDict": collections.OrderedDict,
        "collections.Counter": collections.Counter,
        "builtins.set": set,
        "builtins.frozenset": frozenset,
        "builtins.bytearray": bytearray,
        "builtins.complex": complex,
        "_codecs.encode": __import__("_codecs").encode,
        "torch.Size": _size,
        "torch.device": _device,
        "torch.nn.parameter.Parameter": _rebuild_parameter,
        utils + "_rebuild_tensor": _rebuild_tensor,
        utils + "_rebuild_tensor_v2": _rebuild_tensor_v2,
        utils + "_rebuild_tensor_v3": _rebuild_tensor_v3,
        utils + "_rebuild_parameter": _rebuild_parameter,
        utils + "_rebuild_parameter_with_state": _rebuild_parameter_with_state,
    }
    for name in _STORAGE_DTYPES:
        names[f"torch.{name}"] = _StorageType(name)
    for name in ("bool", "uint8", "int32", "int64", "float16", "bfloat16", "float32", "float64"):
        names[f"torch.{name}"] = getattr(_C, name)
    return names


_ALLOWED = _allowed_globals()
_user_globals: dict[str, Any] = {}


def _global_name(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def add_safe_globals(safe_globals: list[Any]) -> None:
    """Allows `safe_globals` (classes or functions, or ``(obj, "module.name")``
    pairs) in files loaded with ``weights_only=True``. Only allow what you
    trust: loading calls them with the file's arguments."""
    for entry in safe_globals:
        if isinstance(entry, tuple):
            if len(entry) != 2 or not isinstance(entry[1], str):
                raise ValueError(
                    f"[add_safe_globals] expected (global, 'module.name'), got {entry!r}"
                )
            _user_globals[entry[1]] = entry[0]
        else:
            _user_globals[_global_name(entry)] = entry


def get_safe_globals() -> list[Any]:
    """The globals :func:`add_safe_globals` allowed."""
    return list(_user_globals.values())


def clear_safe_globals() -> None:
    """Forgets the globals :func:`add_safe_globals` allowed."""
    _user_globals.clear()


@contextlib.contextmanager
def safe_globals(globals_: list[Any]):
    """Allows `globals_` within a ``with`` block (as :func:`add_safe_globals`)."""
    saved = dict(_user_globals)
    add_safe_globals(globals_)
    try:
        yield
    finally:
        _user_globals.clear()
        _user_globals.update(saved)


def _python3_name(module: str, name: str) -> tuple[str, str]:
    """A protocol-2 pickle's global (``__builtin__.set``) under its Python 3 name."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


class Unpickler(pickle.Unpickler):
    """An unpickler whose globals come from the allow-list (and, with
    ``weights_only=False``, from anywhere), and whose persistent ids are
    storages, read through `load_storage(type, key, location, numel, view)`."""

    def __init__(self, fh: IO[bytes], load_storage: Callable, weights_only: bool, where: str):
        super().__init__(fh)
        self._load_storage, self._weights_only, self._where = load_storage, weights_only, where

    def find_class(self, module: str, name: str) -> Any:
        module, name = _python3_name(module, name)
        full = f"{module}.{name}"
        if full in _ALLOWED:
            return _ALLOWED[full]
        if module == "torch" and name in _FOREIGN_DTYPES:
            raise ValueError(
                f"[load] {self._where} holds torch.{name}, a dtype devrt does not hold"
            )
        if full in _user_globals:
            return _user_globals[full]
        if not self._weights_only:
            return super().find_class(module, name)
        raise UnpicklingError(
            f"[load] weights-only load of {self._where} refused the global {full}: loading "
            f"with weights_only=True allows only tensors, storages, dtypes, devices and plain "
            f"containers. If you trust this global, allow it with "
            f"devrt.serialization.add_safe_globals([{full}]); if you trust the whole file, "
            f"load it with weights_only=False (which runs the code it names)"
        )

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage" or len(pid) < 5:
            raise UnpicklingError(
                f"[load] {self._where} has an unknown persistent id {str(pid)[:80]!r}"
            )
        storage_type, key, location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise UnpicklingError(f"[load] {self._where}: {storage_type!r} is not a storage type")
        if storage_type.dtype is None:
            raise ValueError(
                f"[load] {self._where} holds a torch.{storage_type.name}, whose dtype devrt "
                f"does not hold"
            )
        view = pid[5] if len(pid) > 5 else None
        return self._load_storage(storage_type.dtype, str(key), str(location), numel, view)


def _unpickle(fh: IO[bytes], load_storage: Callable, weights_only: bool, where: str) -> Any:
    return _run(Unpickler(fh, load_storage, weights_only, where), where)


def _run(unpickler: pickle.Unpickler, where: str) -> Any:
    """`unpickler`'s object; what a malformed pickle raises is restated as
    corrupt (errors of devrt's own, ``[op] ...``, pass unchanged)."""
    try:
        return unpickler.load()
    except (pickle.UnpicklingError, EOFError, AttributeError, IndexError, KeyError, TypeError,
            ValueError, RuntimeError, NotImplementedError) as exc:  # fmt: skip
        if str(exc).startswith("["):
            raise
        raise UnpicklingError(f"[load] {where} has a corrupt pickle: {exc}") from None


def _prefix(names: list[str]) -> str | None:
    """The record prefix of a PyTorch archive (``archive/``), if it is one."""
    for name in names:
        if name.endswith("data.pkl") and name.count("/") == 1:
            return name[: -len("data.pkl")]
    return None


def is_torch_archive(zf: zipfile.ZipFile) -> bool:
    return _prefix(zf.namelist()) is not None


def load_archive(zf: zipfile.ZipFile, where: str, place: Callable, weights_only: bool) -> Any:
    """The object of a PyTorch ZIP checkpoint."""
    prefix = _prefix(zf.namelist())
    names = set(zf.namelist())
    byteorder = "little"
    if prefix + "byteorder" in names:
        byteorder = zf.read(prefix + "byteorder").decode("ascii", "replace").strip()
        if byteorder not in ("little", "big"):
            raise ValueError(f"[load] {where} has byteorder {byteorder!r}")
    storages: dict[str, _Storage] = {}

    def load_storage(dtype: str, key: str, location: str, numel: Any, view: Any) -> _Storage:
        if key not in storages:
            entry = f"{prefix}data/{key}"
            if entry not in names:
                raise ValueError(f"[load] {where} is missing storage {entry} (truncated?)")
            try:
                raw = bytearray(zf.getinfo(entry).file_size)  # read once, into a writable buffer
                with zf.open(entry) as fh:
                    if fh.readinto(raw) != len(raw) or fh.read(1):
                        raise EOFError("the entry is shorter or longer than its size")
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                raise ValueError(f"[load] {where} has corrupt data in {entry}: {exc}") from None
            array = _storage_array(raw, dtype, byteorder == "big", where)
            storages[key] = _Storage(array, dtype, location, place)
        return storages[key]

    try:
        pickled = zf.read(prefix + "data.pkl")
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ValueError(f"[load] {where} has a corrupt {prefix}data.pkl: {exc}") from None
    return _unpickle(io.BytesIO(pickled), load_storage, weights_only, where)


# The legacy (pre-ZIP) stream: a magic number, a protocol version and system
# information, each pickled, then the object's pickle, the list of storage
# keys, and each storage as an int64 element count and its bytes.
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


def is_legacy(head: bytes) -> bool:
    return head.startswith(b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19")


def load_legacy(fh: IO[bytes], where: str, place: Callable, weights_only: bool) -> Any:
    """The object of a legacy (non-ZIP) PyTorch checkpoint."""

    def plain(what: str) -> Any:
        return _unpickle(fh, _no_storage, True, f"{where} ({what})")

    if plain("magic number") != _LEGACY_MAGIC or plain("protocol") != _LEGACY_PROTOCOL:
        raise ValueError(f"[load] {where} is not a PyTorch legacy checkpoint")
    plain("system information")
    # The storages follow the object's pickle, so a dry run of it (which
    # builds nothing) learns their dtypes and sizes; the real run follows.
    start = fh.tell()
    arrays: dict[str, np.ndarray] = {}

    def declare(dtype: str, key: str, location: str, numel: Any, view: Any) -> None:
        if key not in arrays:
            if not isinstance(numel, int) or numel < 0:
                raise ValueError(f"[load] {where}: storage {key} has {numel!r} elements")
            arrays[key] = np.zeros(numel, _numpy_dtype(dtype))

    _run(_DryRun(fh, declare, where), where)
    end = fh.tell()
    fh.seek(start)
    body = io.BytesIO(fh.read(end - start))
    keys = plain("storage keys")
    if not isinstance(keys, list) or {str(k) for k in keys} != set(arrays):
        raise ValueError(f"[load] {where} has a storage list that does not match its pickle")
    for key in keys:
        array = arrays[str(key)]
        header = fh.read(8)
        if len(header) != 8 or struct.unpack("<q", header)[0] != array.size:
            raise ValueError(f"[load] {where} is truncated or corrupt before storage {key}")
        if fh.readinto(memoryview(array.view(np.uint8))) != array.nbytes:
            raise ValueError(f"[load] {where} is truncated in storage {key}")
    storages: dict[Any, _Storage] = {}

    def load_storage(dtype: str, key: str, location: str, numel: Any, view: Any) -> _Storage:
        if key not in storages:
            storages[key] = _Storage(arrays[key], dtype, location, place)
        if view is None:
            return storages[key]
        view_key, offset, size = view
        if (key, view_key) not in storages:
            sub = arrays[key][int(offset) : int(offset) + int(size)]
            storages[(key, view_key)] = _Storage(sub, dtype, location, place)
        return storages[(key, view_key)]

    return _unpickle(body, load_storage, weights_only, where)


def _no_storage(*args: Any) -> Any:
    raise UnpicklingError("[load] a storage where none may be")


class _Anything:
    """What every global stands for in a dry run: accepts any call and state."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Anything:
        return _Anything()

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, value: Any) -> None:
        pass

    def extend(self, values: Any) -> None:
        pass


class _DryRun(pickle.Unpickler):
    """Walks a pickle without running anything, to find its storages."""

    def __init__(self, fh: IO[bytes], declare: Callable, where: str) -> None:
        super().__init__(fh)
        self._declare, self._where = declare, where

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get(".".join(_python3_name(module, name)))
        return found if isinstance(found, _StorageType) else _Anything

    def persistent_load(self, pid: Any) -> Any:
        if isinstance(pid, tuple) and len(pid) >= 5 and isinstance(pid[1], _StorageType):
            if pid[1].dtype is None:
                raise ValueError(
                    f"[load] {self._where} holds a torch.{pid[1].name}, whose dtype devrt "
                    f"does not hold"
                )
            self._declare(pid[1].dtype, str(pid[2]), str(pid[3]), pid[4], None)
        return _Anything()


# --- writing ------------------------------------------------------------------------


class _StorageRef:
    """A tensor's data, written as the storage entry ``data/<key>``."""

    def __init__(self, key: str, tensor: Tensor) -> None:
        self.key, self.tensor = key, tensor


_REBUILD_TENSOR = _global("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAMETER = _global("torch._utils", "_rebuild_parameter")
_DEVICE = _global("torch", "device")


def _contiguous_strides(shape: tuple) -> tuple:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


class Pickler(pickle._Pickler):  # the Python pickler lets GLOBALs name PyTorch
    """Pickles `obj` as ``torch.save`` does: tensors as PyTorch rebuild calls
    over storages (collected in ``storages``), dtypes and devices as
    PyTorch's, so that ``torch.load(weights_only=True)`` reads plain data."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, fh: IO[bytes]) -> None:
        super().__init__(fh, protocol=2)
        self.storages: list[_StorageRef] = []

    def _save_global_name(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    def _save_dtype(self, obj: Any) -> None:
        self.save(_global("torch", obj.name))  # (written once, then from the memo)

    dispatch[_Global] = _save_global_name
    dispatch[_C.dtype] = _save_dtype

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Tensor):
            if is_parameter(obj):
                return (_REBUILD_PARAMETER, (obj.detach(), obj.requires_grad, _empty_hooks()))
            ref = _StorageRef(str(len(self.storages)), obj)
            self.storages.append(ref)
            shape = tuple(obj.shape)
            args = (ref, 0, _TorchSize(shape), _contiguous_strides(shape), obj.requires_grad)
            return (_REBUILD_TENSOR, (*args, _empty_hooks()))
        if isinstance(obj, _TorchSize):
            return (_global("torch", "Size"), (tuple(obj),))
        if isinstance(obj, _C.device):
            return (_DEVICE, (str(obj),))
        return NotImplemented

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _StorageRef):
            storage = _global("torch", _STORAGE_OF_DTYPE[obj.tensor.dtype.name])
            location = "cpu" if obj.tensor.device.type == "cpu" else str(obj.tensor.device)
            return ("storage", storage, obj.key, location, obj.tensor.numel())
        return None

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        # Python numbers the NumPy scalars stand for pickle as themselves.
        if isinstance(obj, (np.bool_, np.integer, np.floating)):
            obj = obj.item()
        super().save(obj, save_persistent_id)


class _TorchSize(tuple):
    """A tensor's size, pickled as ``torch.Size``."""


def _empty_hooks() -> collections.OrderedDict:
    return collections.OrderedDict()


def is_parameter(t: Tensor) -> bool:
    return any(
        c.__name__ == "Parameter" and c.__module__ == "devrt.nn.parameter" for c in type(t).__mro__
    )


def _aligned_info(name: str, offset: int, align: int = 64) -> zipfile.ZipInfo:
    """A stored entry whose data starts at a multiple of `align` bytes in the
    file (PyTorch aligns storages so it can map them), padded with an extra
    field as PyTorch's writer pads."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    start = offset + 30 + len(name.encode("utf-8"))
    pad = -(start + 4) % align
    info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
    return info


def write_archive(obj: Any, fh: IO[bytes], tensor_bytes: Callable) -> None:
    """Writes `obj` as ``torch.save`` does (the ZIP format) to `fh`;
    `tensor_bytes(t)` gives a tensor's elements as a little-endian array."""
    buf = io.BytesIO()
    pickler = Pickler(buf)
    pickler.dump(obj)
    prefix = "archive/"
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:

        def put(name: str, data: Any, force_zip64: bool = False) -> None:
            info = _aligned_info(prefix + name, zf.fp.tell())
            with zf.open(info, "w", force_zip64=force_zip64) as out:
                out.write(data)

        put("data.pkl", buf.getvalue())
        put("byteorder", b"little")
        for ref in pickler.storages:
            arr = tensor_bytes(ref.tensor)
            put(f"data/{ref.key}", memoryview(arr.reshape(-1).view(np.uint8)), arr.nbytes >= 2**31)
        put("version", b"3\n")
        put(".data/serialization_id", b"0" * 40)
