"""devrt.serialization: save/load round trips, the file layout
(docs/serialization.md, read back here with zipfile and pickletools), files
of devrt's earlier JSON format (written here from its specification),
refusal of truncated, corrupt and foreign files, and the safetensors and npz
readers (files written independently, by hand or by PyTorch/NumPy). Files
that PyTorch writes and reads are in test_pt_checkpoints.py.
"""

from __future__ import annotations

import collections
import io
import json
import math
import pickle
import pickletools
import struct
import zipfile

import numpy as np
import pytest

import devrt
from devrt.serialization import (
    load,
    load_npz,
    load_safetensors,
    safe_globals,
    save,
    save_safetensors,
)

ALL_DTYPES = ["bool", "uint8", "int32", "int64", "float16", "bfloat16", "float32", "float64"]


def np_of(t) -> np.ndarray:
    if t.dtype == devrt.bfloat16:
        t = t.float()
    return np.array(t.detach().numpy(), copy=True)


def sample_tensor(dtype: str, shape=(2, 3)) -> devrt.Tensor:
    values = np.arange(math.prod(shape)).reshape(shape) - 2
    if dtype == "bool":
        values = values % 2 == 0
    elif dtype == "uint8":
        values = values + 2
    t = devrt.tensor(
        values.astype(np.float64 if dtype.startswith(("float", "bfloat")) else values.dtype)
    )
    return t.to(getattr(devrt, dtype))


def round_trip(obj, **load_kwargs):
    buf = io.BytesIO()
    save(obj, buf)
    buf.seek(0)
    return load(buf, **load_kwargs)


def saved_bytes(obj) -> bytes:
    buf = io.BytesIO()
    save(obj, buf)
    return buf.getvalue()


Point = collections.namedtuple("Point", "x y")


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_tensor_round_trip_every_dtype(dtype):
    t = sample_tensor(dtype)
    out = round_trip(t)
    assert out.dtype == t.dtype and out.shape == t.shape and out.device == t.device
    np.testing.assert_array_equal(np_of(out), np_of(t))


def test_special_shapes_and_views():
    base = devrt.arange(24, dtype=devrt.float32).reshape(4, 6)
    obj = {
        "scalar": devrt.tensor(3.5),
        "empty": devrt.zeros(0, 5),
        "view": base.t()[1:4],  # non-contiguous
        "nan": devrt.tensor([float("nan"), float("inf"), -0.0]),
    }
    out = round_trip(obj)
    assert out["scalar"].shape == () and out["scalar"].item() == 3.5
    assert out["empty"].shape == (0, 5)
    np.testing.assert_array_equal(np_of(out["view"]), np.arange(24).reshape(4, 6).T[1:4])
    np.testing.assert_array_equal(np_of(out["nan"]), [np.nan, np.inf, -0.0])
    assert math.copysign(1, np_of(out["nan"])[2]) == -1


def test_nested_plain_values_round_trip():
    obj = {
        "int": 2**70,
        "neg": -3,
        "float": 0.1,
        "specials": [float("inf"), float("-inf")],
        "bool": True,
        "none": None,
        "str": "héllo",
        "bytes": b"\x00\xff",
        "tuple": (1, (2, "three")),
        "list": [1, [2.5, None]],
        7: "int key",
        (1, "a"): "tuple key",
        None: "none key",
        "ordered": collections.OrderedDict([("b", 1), ("a", 2)]),
        "dtype": devrt.bfloat16,
        "device": devrt.device("cpu"),
        "numpy": [np.int64(4), np.float32(0.5), np.bool_(True)],
        "set": {1, 2},
    }
    out = round_trip(obj)
    assert math.isnan(round_trip(float("nan")))
    expected = dict(obj, numpy=[4, 0.5, True])
    assert out == expected
    assert [type(v) for v in out["numpy"]] == [int, float, bool]
    assert list(out) == list(obj)
    assert type(out["ordered"]) is collections.OrderedDict and list(out["ordered"]) == ["b", "a"]
    assert type(out["tuple"]) is tuple and type(out["list"]) is list
    assert out["dtype"] is devrt.bfloat16
    loop: list = [devrt.ones(1)]
    loop.append(loop)
    back = round_trip(loop)
    assert back[1] is back and back[0].tolist() == [1.0]


def test_other_classes_need_allowing():
    data = saved_bytes({"p": Point(1, 2)})
    with pytest.raises(pickle.UnpicklingError, match=r"^\[load\] .*refused the global .*Point"):
        load(io.BytesIO(data))
    with safe_globals([Point]):
        assert load(io.BytesIO(data)) == {"p": Point(1, 2)}
    with pytest.raises(ValueError, match="add_safe_globals"):
        load(io.BytesIO(data))
    assert load(io.BytesIO(data), weights_only=False)["p"] == Point(1, 2)


def test_state_dicts_round_trip():
    from devrt import optim

    w = devrt.randn(3, 2, requires_grad=True)
    b = devrt.zeros(2, requires_grad=True)
    opt = optim.Adam([w, b], lr=0.01, amsgrad=True)
    (w.sum() + b.sum()).backward()
    opt.step()
    model = collections.OrderedDict(weight=w.detach(), bias=b.detach())
    ckpt = {"model": model, "optimizer": opt.state_dict(), "epoch": 3}
    out = round_trip(ckpt)
    assert out["epoch"] == 3 and list(out["model"]) == ["weight", "bias"]
    np.testing.assert_array_equal(np_of(out["model"]["weight"]), np_of(w))
    state = out["optimizer"]["state"]
    assert set(state) == {0, 1}  # int keys survive
    assert state[0]["step"].item() == 1.0
    np.testing.assert_array_equal(np_of(state[1]["exp_avg"]), np_of(opt.state[b]["exp_avg"]))
    assert out["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    opt2 = optim.Adam([devrt.zeros(3, 2, requires_grad=True), devrt.zeros(2, requires_grad=True)])
    opt2.load_state_dict(out["optimizer"])
    assert opt2.param_groups[0]["lr"] == 0.01


def test_shared_tensor_and_autograd_flags():
    t = devrt.ones(3)
    g = devrt.ones(2, requires_grad=True)
    out = round_trip({"a": t, "b": [t], "g": g})
    assert out["a"] is out["b"][0]
    assert out["g"].requires_grad and out["g"].is_leaf and not out["a"].requires_grad
    names = zipfile.ZipFile(io.BytesIO(saved_bytes([t, t]))).namelist()
    assert [n for n in names if "/data/" in n] == ["archive/data/0"]


def test_parameter_round_trip():
    from devrt.nn.parameter import Parameter

    p = Parameter(devrt.ones(2))
    out = round_trip({"p": p})
    assert type(out["p"]) is Parameter and out["p"].requires_grad


def test_paths_and_determinism(tmp_path):
    obj = {"w": devrt.arange(6).reshape(2, 3), "meta": {"lr": 0.1}}
    path = tmp_path / "ckpt.pt"
    save(obj, path)
    save(obj, str(tmp_path / "again.pt"))
    assert path.read_bytes() == (tmp_path / "again.pt").read_bytes()
    with open(path, "rb") as f:
        out = load(f)
    assert out["w"].tolist() == [[0, 1, 2], [3, 4, 5]] and out["meta"] == {"lr": 0.1}
    assert load(str(path), weights_only=True)["meta"]["lr"] == 0.1


def test_map_location():
    t = devrt.ones(2)
    assert round_trip(t, map_location="cpu").device == devrt.device("cpu")
    assert round_trip(t, map_location=devrt.device("cpu")).device.type == "cpu"
    assert round_trip(t, map_location={"cpu": "cpu"}).device.type == "cpu"
    seen = []

    def place(storage, location):
        seen.append((location, tuple(storage.shape)))
        return storage * 2

    assert round_trip([t], map_location=place)[0].tolist() == [2.0, 2.0]
    assert seen == [("cpu", (2,))]
    assert round_trip(t, map_location=lambda storage, loc: None).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match=r"\[load\] map_location turned a float32 storage"):
        round_trip(t, map_location=lambda storage, loc: storage[:1])


def _rewrite_entry(data: bytes, name: str, edit) -> bytes:
    """`data` (a saved archive) with entry `name` changed by `edit(bytes)`."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for entry in src.namelist():
            payload = src.read(entry)
            dst.writestr(entry, edit(payload) if entry == name else payload)
    return out.getvalue()


def test_unavailable_saved_device_is_a_clear_error():
    # The storage's location, a 3-character string in the pickle, becomes "q:3".
    cpu = b"X\x03\x00\x00\x00cpu"
    data = _rewrite_entry(
        saved_bytes(devrt.ones(2)), "archive/data.pkl", lambda p: p.replace(cpu, cpu[:5] + b"q:3")
    )
    with pytest.raises(RuntimeError, match=r"\[load\] cannot place a tensor saved on q:3"):
        load(io.BytesIO(data))
    assert load(io.BytesIO(data), map_location="cpu").tolist() == [1.0, 1.0]
    assert load(io.BytesIO(data), map_location={"q:3": "cpu"}).tolist() == [1.0, 1.0]
    data = devrt_v1_bytes(
        {"w": np.ones(2, "<f4")}, lambda h: h["tensors"][0].update(device="nodev:3")
    )
    with pytest.raises(RuntimeError, match=r"\[load\] cannot place a tensor saved on nodev:3"):
        load(io.BytesIO(data))
    assert load(io.BytesIO(data), map_location="cpu")["w"].tolist() == [1.0, 1.0]


# --- the documented format ------------------------------------------------------------------


def test_format_matches_the_spec():
    t = devrt.tensor([[1.0, -2.0], [3.5, 0.25]])
    i = devrt.tensor([1, 2**40], dtype=devrt.int64)
    h = devrt.tensor([1.0, -2.5]).to(devrt.bfloat16)
    data = saved_bytes({"t": t, "x": (i, h)})
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.namelist() == [
        "archive/data.pkl",
        "archive/byteorder",
        "archive/data/0",
        "archive/data/1",
        "archive/data/2",
        "archive/version",
        "archive/.data/serialization_id",
    ]
    assert all(info.compress_type == zipfile.ZIP_STORED for info in zf.infolist())
    for info in zf.infolist():  # data aligned to 64 bytes, as PyTorch's writer aligns it
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
        assert start % 64 == 0 and data[start : start + info.file_size] == zf.read(info)
    assert zf.read("archive/byteorder") == b"little" and zf.read("archive/version") == b"3\n"
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(zf.read("archive/data.pkl"))]
    assert ops[0] == ("PROTO", 2)
    globals_ = [arg for name, arg in ops if name == "GLOBAL"]
    assert globals_ == [
        "torch._utils _rebuild_tensor_v2",
        "torch FloatStorage",
        "torch Size",
        "collections OrderedDict",
        "torch LongStorage",
        "torch BFloat16Storage",
    ]
    # (each string once: the pickle memo refers back to "storage" and "cpu")
    assert [arg for name, arg in ops if name == "BINUNICODE"] == [
        "t",
        "storage",
        "0",
        "cpu",
        "x",
        "1",
        "2",
    ]
    assert zf.read("archive/data/0") == np.array([[1.0, -2.0], [3.5, 0.25]], "<f4").tobytes()
    assert zf.read("archive/data/1") == np.array([1, 2**40], dtype="<i8").tobytes()
    # bfloat16: the upper 16 bits of the float32 pattern, little-endian.
    bits = np.array([1.0, -2.5], dtype="<f4").view("<u4") >> 16
    assert zf.read("archive/data/2") == bits.astype("<u2").tobytes()


# --- devrt's earlier format ---------------------------------------------------------------


def devrt_v1_bytes(arrays: dict, edit=None, obj=None) -> bytes:
    """A file of devrt's earlier format, from its specification
    (docs/serialization.md): header.json, then one entry per array."""
    names = {"<f4": "float32", "<i8": "int64", "|b1": "bool", "<f8": "float64"}
    header = {
        "format": "devrt.save",
        "version": 1,
        "byte_order": "little",
        "tensors": [
            {
                "entry": f"data/{i}",
                "dtype": names[a.dtype.str],
                "shape": list(a.shape),
                "nbytes": a.nbytes,
                "device": "cpu",
                "requires_grad": False,
                "parameter": False,
            }
            for i, a in enumerate(arrays.values())
        ],
        "object": obj
        if obj is not None
        else {"$dict": [[k, {"$tensor": i}] for i, k in enumerate(arrays)]},
    }
    if edit is not None:
        edit(header)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("header.json", json.dumps(header))
        for i, a in enumerate(arrays.values()):
            zf.writestr(f"data/{i}", a.tobytes())
    return out.getvalue()


def test_earlier_devrt_files_still_load():
    arrays = {"w": np.arange(6, dtype="<f4").reshape(2, 3), "n": np.array([1, 2], "<i8")}
    obj = {
        "$dict": [
            ["model", {"$ordered_dict": [["w", {"$tensor": 0}]]}],
            [{"$tuple": [1, "a"]}, [{"$tensor": 1}, {"$float": "inf"}, {"$bytes": "AP8="}]],
            ["dtype", {"$dtype": "bfloat16"}],
        ]
    }
    out = load(io.BytesIO(devrt_v1_bytes(arrays, obj=obj)))
    assert type(out["model"]) is collections.OrderedDict
    np.testing.assert_array_equal(np_of(out["model"]["w"]), arrays["w"])
    n, inf, raw = out[(1, "a")]
    assert (
        n.dtype == devrt.int64 and n.tolist() == [1, 2] and inf == math.inf and raw == b"\x00\xff"
    )
    assert out["dtype"] is devrt.bfloat16


# --- errors ---------------------------------------------------------------------------------


def test_unpicklable_objects_are_refused():
    with pytest.raises(TypeError, match=r"^\[save\] cannot save dict: .*lambda"):
        save({"f": [1, lambda: 0]}, io.BytesIO())
    with pytest.raises(pickle.UnpicklingError, match=r"refused the global numpy"):
        round_trip(np.zeros(2))


def test_truncated_files_are_refused():
    data = saved_bytes({"w": devrt.randn(64, 64), "b": devrt.zeros(64)})
    for cut in (0, 10, 100, len(data) // 2, len(data) - 30, len(data) - 1):
        with pytest.raises(ValueError, match=r"^\[load\] .*(truncated|corrupt)"):
            load(io.BytesIO(data[:cut]))


def test_corrupt_bytes_are_refused():
    data = saved_bytes({"w": devrt.randn(64, 64)})
    zf = zipfile.ZipFile(io.BytesIO(data))
    info = zf.getinfo("archive/data/0")
    # The entry's data starts after its 30-byte local header, name and extra field.
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 100
    broken = bytearray(data)
    broken[offset] ^= 0xFF
    with pytest.raises(ValueError, match=r"^\[load\] .*corrupt data in archive/data/0.*CRC"):
        load(io.BytesIO(bytes(broken)))
    pkl = zf.getinfo("archive/data.pkl")
    broken = bytearray(data)
    broken[pkl.header_offset + 30 + len(pkl.filename) + len(pkl.extra) + 5] ^= 0x01
    with pytest.raises(ValueError, match=r"^\[load\] .*corrupt archive/data.pkl.*CRC"):
        load(io.BytesIO(bytes(broken)))
    for junk in (b"\x80\x02]q\x00(K\x01", b"not a pickle"):
        bad = _rewrite_entry(data, "archive/data.pkl", lambda p, junk=junk: junk)
        with pytest.raises(ValueError, match=r"^\[load\] .*corrupt pickle"):
            load(io.BytesIO(bad))
    bad = _rewrite_entry(data, "archive/data/0", lambda p: p[:-1])
    with pytest.raises(ValueError, match=r"^\[load\] .*16383 bytes is not a whole number"):
        load(io.BytesIO(bad))


def test_foreign_files_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"^\[load\] .* not a checkpoint: not a readable ZIP"):
        load(io.BytesIO(b"just some text\n" * 10))
    npz = io.BytesIO()
    np.savez(npz, a=np.zeros(2))
    npz.seek(0)
    with pytest.raises(ValueError, match=r"^\[load\] .* neither data.pkl .*nor header.json"):
        load(npz)
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("header.json", json.dumps({"format": "something else"}))
    other.seek(0)
    with pytest.raises(ValueError, match=r"^\[load\] .*format is not 'devrt.save'"):
        load(other)
    path = tmp_path / "missing.pt"
    with pytest.raises(FileNotFoundError):
        load(path)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda h: h.update(version=99), "format version 99"),
        (lambda h: h["tensors"][0].update(dtype="complex64"), "unknown dtype 'complex64'"),
        (lambda h: h["tensors"][0].update(shape=[2, -1]), "non-negative integers"),
        (lambda h: h["tensors"][0].update(nbytes=4), "4 bytes for shape"),
        (lambda h: h["tensors"][0].update(shape=[3], nbytes=12), "holds 8 bytes"),
        (lambda h: h["tensors"][0].update(entry="../etc/passwd"), "names entry"),
        (lambda h: h.update(object={"$tensor": 5}), "tensor reference 5 out of range"),
        (lambda h: h.update(object={"$pickle": "x"}), "unknown tag '\\$pickle'"),
        (lambda h: h.update(object={"a": 1, "b": 2}), "unexpected value"),
        (lambda h: h.update(object={"$dict": [[[1], 2]]}), "malformed dict"),
        (lambda h: h.pop("tensors"), "missing 'tensors'"),
    ],
)
def test_corrupt_headers_are_refused(edit, match):
    data = devrt_v1_bytes({"w": np.ones(2, "<f4")}, edit)
    with pytest.raises(ValueError, match=r"^\[load\] .*" + match):
        load(io.BytesIO(data))


def test_missing_entry_is_refused():
    src = zipfile.ZipFile(io.BytesIO(devrt_v1_bytes({"w": np.ones(2, "<f4")})))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        dst.writestr("header.json", src.read("header.json"))
    out.seek(0)
    with pytest.raises(ValueError, match=r"^\[load\] .*missing entry data/0"):
        load(out)


# --- safetensors ------------------------------------------------------------------------------------


def write_safetensors(path, arrays: dict, codes: dict | None = None, metadata=None) -> None:
    """An independent writer, straight from the safetensors specification:
    u64 little-endian header size, JSON header, then the data."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, arr in arrays.items():
        raw = np.ascontiguousarray(arr).tobytes()
        code = (codes or {}).get(name) or {
            "float32": "F32",
            "float64": "F64",
            "float16": "F16",
            "int64": "I64",
            "int32": "I32",
            "uint8": "U8",
            "bool": "BOOL",
            "int8": "I8",
        }[str(arr.dtype)]
        header[name] = {
            "dtype": code,
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    raw_header = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw_header)) + raw_header + b"".join(blobs))


def test_load_safetensors(tmp_path):
    arrays = {
        "layer.weight": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
        "layer.bias": np.array([1.5, -2.0, 0.0], dtype=np.float64),
        "steps": np.array(5, dtype=np.int64),
        "mask": np.array([True, False]),
        "half": np.array([0.5, 65504.0], dtype=np.float16),
        "empty": np.zeros((0, 3), dtype=np.int32),
    }
    path = tmp_path / "w.safetensors"
    write_safetensors(path, arrays, metadata={"format": "pt"})
    out = load_safetensors(path)
    assert list(out) == list(arrays)
    for name, arr in arrays.items():
        assert out[name].shape == arr.shape, name
        assert out[name].dtype.name == str(arr.dtype), name
        np.testing.assert_array_equal(np_of(out[name]), arr)
    # bfloat16 bits (upper halves of float32 patterns).
    bf = (np.array([1.0, -3.0, 0.15625], dtype="<f4").view("<u4") >> 16).astype("<u2")
    write_safetensors(path, {"bf": bf}, codes={"bf": "BF16"})
    t = load_safetensors(str(path))["bf"]
    assert t.dtype == devrt.bfloat16 and np_of(t).tolist() == [1.0, -3.0, 0.15625]
    with open(path, "rb") as f:
        assert load_safetensors(f, device="cpu")["bf"].device.type == "cpu"


def test_save_safetensors_round_trip_and_layout(tmp_path):
    tensors = {name: sample_tensor(name) for name in ALL_DTYPES}
    path = tmp_path / "all.safetensors"
    save_safetensors(tensors, path, metadata={"framework": "devrt"})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    header = json.loads(raw[8 : 8 + n])
    assert header["__metadata__"] == {"framework": "devrt"}
    assert header["float32"]["dtype"] == "F32" and header["bfloat16"]["dtype"] == "BF16"
    out = load_safetensors(path)
    for name, t in tensors.items():
        assert out[name].dtype == t.dtype
        np.testing.assert_array_equal(np_of(out[name]), np_of(t))


def test_pytorch_state_dict_via_safetensors_and_npz(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    sd = model.state_dict()
    arrays = {k: v.numpy() for k, v in sd.items()}
    write_safetensors(tmp_path / "m.safetensors", arrays)
    np.savez(tmp_path / "m.npz", **arrays)
    for loaded in (load_safetensors(tmp_path / "m.safetensors"), load_npz(tmp_path / "m.npz")):
        assert list(loaded) == list(sd)
        for k, v in sd.items():
            assert loaded[k].shape == tuple(v.shape), k
            np.testing.assert_array_equal(np_of(loaded[k]), v.numpy())
        assert loaded["1.num_batches_tracked"].dtype == devrt.int64
    bf = {"w": torch.randn(3, 2).to(torch.bfloat16)}
    write_safetensors(
        tmp_path / "bf.safetensors", {"w": bf["w"].view(torch.int16).numpy()}, codes={"w": "BF16"}
    )
    got = load_safetensors(tmp_path / "bf.safetensors")["w"]
    np.testing.assert_array_equal(np_of(got), bf["w"].float().numpy())


def test_loaded_state_dict_fits_a_devrt_module(tmp_path):
    from devrt.nn.modules.linear import Linear

    torch = pytest.importorskip("torch")
    tlin = torch.nn.Linear(4, 2)
    write_safetensors(
        tmp_path / "lin.safetensors", {k: v.detach().numpy() for k, v in tlin.state_dict().items()}
    )
    lin = Linear(4, 2)
    lin.load_state_dict(load_safetensors(tmp_path / "lin.safetensors"))
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(
        np_of(lin(devrt.tensor(x))), tlin(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6
    )


def _safetensors_bytes(header: dict | bytes, data: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "no header length"),
        (b"\x05\x00", "no header length"),
        (struct.pack("<Q", 10**12) + b"{}", "not a safetensors file or is truncated"),
        (_safetensors_bytes(b"{not json}"), "not JSON"),
        (_safetensors_bytes(b"[1, 2]"), "not a JSON object"),
        (
            _safetensors_bytes({"w": {"dtype": "F32", "shape": [2]}}),
            "needs dtype, shape and data_offsets",
        ),
        (
            _safetensors_bytes({"w": {"dtype": "I8", "shape": [2], "data_offsets": [0, 2]}}, b"ab"),
            "dtype I8, which devrt does not hold",
        ),
        (
            _safetensors_bytes(
                {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"abcd"
            ),
            "outside the 4-byte data section",
        ),
        (
            _safetensors_bytes(
                {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"a" * 8
            ),
            "spans 8 bytes, but shape \\[3\\] of F32 needs 12",
        ),
        (
            _safetensors_bytes({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 0]}}),
            "non-negative integers",
        ),
    ],
)
def test_malformed_safetensors_are_refused(tmp_path, content, match):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"^\[load_safetensors\] .*" + match):
        load_safetensors(path)


def test_truncated_safetensors_is_refused(tmp_path):
    path = tmp_path / "w.safetensors"
    write_safetensors(path, {"a": np.ones(100, np.float32), "b": np.ones(3, np.float32)})
    data = path.read_bytes()
    for cut in (4, 20, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=r"^\[load_safetensors\]"):
            load_safetensors(path)


# --- npz ---------------------------------------------------------------------------------------------


def test_load_npz(tmp_path):
    arrays = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3)),
        "c": np.array([1.0, 2.0], dtype=">f8"),  # big-endian
        "d": np.array(True),
    }
    np.savez_compressed(tmp_path / "x.npz", **arrays)
    out = load_npz(tmp_path / "x.npz")
    assert list(out) == list(arrays)
    for name, arr in arrays.items():
        assert out[name].shape == arr.shape, name
        np.testing.assert_array_equal(np_of(out[name]), arr)
    assert out["c"].dtype == devrt.float64
    out["a"].add_(1)  # loaded tensors own writable memory
    assert out["a"].tolist()[0] == [1.0, 2.0, 3.0]


def test_malformed_npz_is_refused(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, o=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"^\[load_npz\] .*'o'.*unreadable"):
        load_npz(path)
    np.savez(path, i=np.zeros(2, dtype=np.int16))
    with pytest.raises(ValueError, match=r"^\[load_npz\] .*'i' has NumPy dtype int16"):
        load_npz(path)
    np.save(tmp_path / "single.npy", np.zeros(2))
    with pytest.raises(ValueError, match=r"^\[load_npz\] .*single .npy array"):
        load_npz(tmp_path / "single.npy")
    np.savez(path, a=np.zeros(1000))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"^\[load_npz\] .*not a readable .npz archive"):
        load_npz(path)
    path.write_bytes(b"plain text, not an archive")
    with pytest.raises(ValueError, match=r"^\[load_npz\]"):
        load_npz(path)
