"""PyTorch checkpoints: files written by ``torch.save`` load into devrt
(state dicts of models built here with torch, every dtype, views and shared
storages, training checkpoints whose optimizer state devrt's optimizers
resume from, the legacy format), files written by ``devrt.save`` load in
``torch.load(weights_only=True)``, and pickles that would run code are
refused without running it."""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

import devrt
import devrt.nn as dnn
from devrt import optim as doptim
from devrt.serialization import UnpicklingError, add_safe_globals, clear_safe_globals

torch = pytest.importorskip("torch")
tnn = torch.nn


def torch_bytes(obj, **kwargs) -> io.BytesIO:
    buf = io.BytesIO()
    torch.save(obj, buf, **kwargs)
    buf.seek(0)
    return buf


def devrt_bytes(obj) -> io.BytesIO:
    buf = io.BytesIO()
    devrt.save(obj, buf)
    buf.seek(0)
    return buf


def np_of(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        t = t.detach()
        return (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    return (t.float() if t.dtype == devrt.bfloat16 else t).detach().numpy()


# --- models built alike in torch and devrt ----------------------------------------------


def small_resnet(nn):
    """A ResNet-style network with torchvision's parameter names."""

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.relu = nn.ReLU()
            self.maxpool = nn.MaxPool2d(2)
            self.layer1 = nn.Sequential(Block(8), Block(8))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(8, 5)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.avgpool(self.layer1(x))
            return self.fc(x.flatten(1))

    return Net()


def mlp(nn):
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))


def trained_resnet():
    """A torch ResNet whose batch-norm statistics moved (a training step)."""
    torch.manual_seed(0)
    model = small_resnet(tnn)
    model(torch.randn(4, 3, 16, 16)).sum().backward()
    model.eval()
    return model


def test_torchvision_style_state_dict_gives_equal_outputs(tmp_path):
    tmodel = trained_resnet()
    path = tmp_path / "resnet.pth"
    torch.save(tmodel.state_dict(), path)
    state = devrt.load(path)
    assert type(state) is collections.OrderedDict
    assert list(state) == list(tmodel.state_dict())
    assert state["bn1.num_batches_tracked"].dtype == devrt.int64
    dmodel = small_resnet(dnn)
    dmodel.load_state_dict(state)
    dmodel.eval()
    x = np.random.default_rng(1).standard_normal((2, 3, 16, 16)).astype(np.float32)
    with torch.no_grad():
        expected = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np_of(dmodel(devrt.tensor(x))), expected, rtol=1e-4, atol=1e-5)


def test_every_dtype_and_plain_values():
    values = np.array([[0, 1, -2], [3, 100, -7]])
    obj = {
        "float32": torch.tensor(values / 3, dtype=torch.float32),
        "float64": torch.tensor(values / 3, dtype=torch.float64),
        "float16": torch.tensor(values / 3, dtype=torch.float16),
        "bfloat16": torch.tensor(values / 3, dtype=torch.bfloat16),
        "int64": torch.tensor(values * 2**40, dtype=torch.int64),
        "int32": torch.tensor(values, dtype=torch.int32),
        "uint8": torch.tensor(abs(values), dtype=torch.uint8),
        "bool": torch.tensor(values > 0),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 4),
        "meta": {
            "size": torch.Size([3, 4]),
            "list": [1, 2.5, "three", None, True, (4, 5)],
            "big": 2**70,
            "bytes": b"\x00\xff",
            "dtype": torch.float16,
            "device": torch.device("cpu"),
        },
    }
    out = devrt.load(torch_bytes(obj))
    for name in ("float32", "float64", "float16", "bfloat16", "int64", "int32", "uint8", "bool"):
        assert out[name].dtype == getattr(devrt, name), name
        np.testing.assert_array_equal(np_of(out[name]), np_of(obj[name]))
    assert out["scalar"].shape == () and out["scalar"].item() == 2.5
    assert out["empty"].shape == (0, 4)
    meta = out["meta"]
    assert meta["size"] == (3, 4) and type(meta["size"]) is tuple
    assert meta["list"] == [1, 2.5, "three", None, True, (4, 5)]
    assert meta["big"] == 2**70 and meta["bytes"] == b"\x00\xff"
    assert meta["dtype"] is devrt.float16 and meta["device"] == devrt.device("cpu")


def test_views_and_shared_storages():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    obj = {
        "base": base,
        "slice": base[1:3, 2:5],  # a storage offset and strides
        "transposed": base.t(),
        "column": base[:, 4],
        "expanded": base[0, :1].expand(3, 5),  # stride 0
        "other": torch.ones(3)[1:],
    }
    out = devrt.load(torch_bytes(obj))
    for name, t in obj.items():
        np.testing.assert_array_equal(np_of(out[name]), np_of(t), err_msg=name)
    assert out["transposed"].stride() == (1, 6) and out["expanded"].stride() == (0, 0)
    out["base"][1, 2] = -1.0  # one storage: every view sees the write
    assert out["slice"][0, 0].item() == -1.0 and out["transposed"][2, 1].item() == -1.0
    assert out["other"].tolist() == [1.0, 1.0]


def test_legacy_format():
    base = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    obj = collections.OrderedDict(w=base, v=base[1:, ::2], n=torch.tensor([7], dtype=torch.int32))
    out = devrt.load(torch_bytes(obj, _use_new_zipfile_serialization=False))
    assert list(out) == ["w", "v", "n"]
    for name, t in obj.items():
        np.testing.assert_array_equal(np_of(out[name]), np_of(t), err_msg=name)
    out["w"][2, 2] = 100.0
    assert out["v"][1, 1].item() == 100.0


@pytest.mark.parametrize(
    ("make_torch", "make_devrt"),
    [
        (
            lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.01),
            lambda p: doptim.Adam(p, lr=0.01, weight_decay=0.01),
        ),
        (
            lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
            lambda p: doptim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
        ),
    ],
    ids=["adam", "sgd-momentum"],
)
def test_training_checkpoint_resumes_in_devrt(tmp_path, make_torch, make_devrt):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    batches = [
        (
            rng.standard_normal((8, 6)).astype(np.float32),
            rng.standard_normal((8, 3)).astype(np.float32),
        )
        for _ in range(4)
    ]
    tmodel = mlp(tnn)
    topt = make_torch(tmodel.parameters())

    def torch_step(x, y):
        topt.zero_grad()
        loss = torch.nn.functional.mse_loss(tmodel(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        topt.step()
        return loss.item()

    for x, y in batches[:2]:
        loss = torch_step(x, y)
    path = tmp_path / "checkpoint.tar"
    torch.save(
        {
            "epoch": 2,
            "model_state_dict": tmodel.state_dict(),
            "optimizer_state_dict": topt.state_dict(),
            "loss": loss,
        },
        path,
    )
    ckpt = devrt.load(path, map_location="cpu")
    assert ckpt["epoch"] == 2 and ckpt["loss"] == loss
    dmodel = mlp(dnn)
    dmodel.load_state_dict(ckpt["model_state_dict"])
    dopt = make_devrt(dmodel.parameters())
    dopt.load_state_dict(ckpt["optimizer_state_dict"])
    for x, y in batches[2:]:
        torch_step(x, y)
        dopt.zero_grad()
        loss = devrt.nn.functional.mse_loss(dmodel(devrt.tensor(x)), devrt.tensor(y))
        loss.backward()
        dopt.step()
    for (name, tp), dp in zip(tmodel.named_parameters(), dmodel.parameters()):
        np.testing.assert_allclose(np_of(dp), np_of(tp), rtol=1e-5, atol=1e-6, err_msg=name)


def test_map_location_forms():
    base = torch.arange(4.0)
    obj = {"w": base, "v": base[1:]}
    for where in ("cpu", devrt.device("cpu"), {"cpu": "cpu"}, lambda storage, loc: storage):
        out = devrt.load(torch_bytes(obj), map_location=where)
        assert out["w"].device.type == "cpu" and out["v"].tolist() == [1.0, 2.0, 3.0]
    seen = []

    def record(storage, location):
        seen.append((location, tuple(storage.shape), storage.dtype))
        return None  # the default place

    devrt.load(torch_bytes(obj), map_location=record)
    assert seen == [("cpu", (4,), devrt.float32)]  # one storage, shared by both


# --- devrt writes, torch reads ----------------------------------------------------------------


def test_devrt_files_load_in_torch_weights_only(tmp_path):
    dmodel = small_resnet(dnn)
    dmodel.eval()
    dopt = doptim.Adam(dmodel.parameters(), lr=0.003)
    dmodel(devrt.randn(2, 3, 16, 16)).sum().backward()
    dopt.step()
    extra = {
        "bf16": devrt.tensor([1.5, -2.0]).to(devrt.bfloat16),
        "flags": devrt.tensor([True, False]),
        "view": devrt.arange(12.0).reshape(3, 4).t()[1:],
        "dtype": devrt.float64,
        "grad": devrt.ones(2, requires_grad=True),
    }
    path = tmp_path / "devrt.pt"
    devrt.save(
        {"epoch": 1, "model": dmodel.state_dict(), "optim": dopt.state_dict(), "extra": extra},
        path,
    )
    ckpt = torch.load(path, weights_only=True)
    tmodel = small_resnet(tnn)
    tmodel.load_state_dict(ckpt["model"])
    tmodel.eval()
    x = np.random.default_rng(2).standard_normal((2, 3, 16, 16)).astype(np.float32)
    with torch.no_grad():
        expected = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np_of(dmodel(devrt.tensor(x))), expected, rtol=1e-4, atol=1e-5)
    topt = torch.optim.Adam(tmodel.parameters())
    topt.load_state_dict(ckpt["optim"])
    assert topt.param_groups[0]["lr"] == 0.003
    assert torch.equal(
        topt.state[tmodel.fc.weight]["exp_avg"],
        torch.from_numpy(np_of(dopt.state[dmodel.fc.weight]["exp_avg"])),
    )
    for name, t in extra.items():
        if name != "dtype":
            np.testing.assert_array_equal(np_of(ckpt["extra"][name]), np_of(t), err_msg=name)
    assert ckpt["extra"]["bf16"].dtype == torch.bfloat16 and ckpt["extra"]["dtype"] is torch.float64
    assert ckpt["extra"]["grad"].requires_grad
    # torch's memory-mapped loading needs the aligned layout devrt writes
    mapped = torch.load(path, weights_only=True, mmap=True)
    assert torch.equal(mapped["model"]["fc.weight"], ckpt["model"]["fc.weight"])


def test_whole_module_only_when_asked(tmp_path):
    model = mlp(dnn)
    path = tmp_path / "model.pt"
    devrt.save(model, path)
    with pytest.raises(pickle.UnpicklingError, match=r"refused the global devrt\.nn\.modules"):
        devrt.load(path)
    again = devrt.load(path, weights_only=False)
    assert type(again) is type(model) and again is not model
    x = devrt.randn(3, 6)
    np.testing.assert_array_equal(np_of(again(x)), np_of(model(x)))
    assert type(again[0].weight) is dnn.Parameter and again[0].weight.requires_grad


class Config:  # a class of the user's, pickled by reference
    def __init__(self, depth):
        self.depth = depth


def test_user_globals_need_allowing():
    data = torch_bytes({"config": Config(3), "w": torch.ones(2)}).getvalue()
    with pytest.raises(UnpicklingError, match=r"test_pt_checkpoints\.Config.*add_safe_globals"):
        devrt.load(io.BytesIO(data))
    add_safe_globals([Config])
    try:
        assert devrt.load(io.BytesIO(data))["config"].depth == 3
    finally:
        clear_safe_globals()
    assert devrt.load(io.BytesIO(data), weights_only=False)["config"].depth == 3


# --- pickles that would run code ------------------------------------------------------------


def system_call_pickle(command: str) -> bytes:
    """``os.system(command)`` in pickle opcodes, written by hand."""
    cmd = command.encode()
    return (
        b"\x80\x02"  # PROTO 2
        + b"cos\nsystem\n"  # GLOBAL os.system
        + b"X" + len(cmd).to_bytes(4, "little") + cmd  # BINUNICODE
        + b"\x85"  # TUPLE1
        + b"R"  # REDUCE
        + b"."  # STOP
    )  # fmt: skip


def as_archive(pickled: bytes) -> io.BytesIO:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("archive/data.pkl", pickled)
        zf.writestr("archive/version", b"3\n")
    out.seek(0)
    return out


class RunsCode:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_pickles_that_run_code_are_refused(tmp_path):
    marker = tmp_path / "ran"
    command = f"touch {marker}"
    attempts = {
        "hand-written opcodes": as_archive(system_call_pickle(command)),
        "a __reduce__ object via torch.save": torch_bytes(
            {"w": torch.ones(1), "x": RunsCode(command)}
        ),
        "the legacy format": torch_bytes([RunsCode(command)], _use_new_zipfile_serialization=False),
        "eval": as_archive(b"\x80\x02c__builtin__\neval\nX\x0e\x00\x00\x00print('owned')\x85R."),
    }
    for what, data in attempts.items():
        with pytest.raises(UnpicklingError) as info:
            devrt.load(data)
        message = str(info.value)
        assert message.startswith("[load] weights-only load"), what
        assert "add_safe_globals" in message and "weights_only=False" in message, what
        assert "posix.system" in message or "os.system" in message or "builtins.eval" in message, (
            what
        )
        assert isinstance(info.value, pickle.UnpicklingError) and isinstance(info.value, ValueError)
        assert not marker.exists(), what


def test_malformed_torch_files_are_refused():
    bad_pid = as_archive(b"\x80\x02X\x03\x00\x00\x00abcQ.")  # BINPERSID of a string
    with pytest.raises(ValueError, match=r"^\[load\] .*unknown persistent id"):
        devrt.load(bad_pid)
    bad_call = as_archive(b"\x80\x02ccollections\nOrderedDict\nK\x01K\x02K\x03\x87R.")
    with pytest.raises(UnpicklingError, match=r"^\[load\] .*corrupt pickle: expected at most 1"):
        devrt.load(bad_call)
    complex_data = torch_bytes({"z": torch.ones(2, dtype=torch.complex64)})
    with pytest.raises(ValueError, match=r"^\[load\] .*ComplexFloatStorage.*devrt does not hold"):
        devrt.load(complex_data)
    data = torch_bytes({"w": torch.ones(4)}).getvalue()
    with pytest.raises(ValueError, match=r"^\[load\] .*not a readable ZIP"):
        devrt.load(io.BytesIO(data[: len(data) // 2]))
    out = io.BytesIO()
    src = zipfile.ZipFile(io.BytesIO(data))
    with zipfile.ZipFile(out, "w") as zf:
        for name in src.namelist():
            if not name.endswith("data/0"):
                zf.writestr(name, src.read(name))
    out.seek(0)
    with pytest.raises(ValueError, match=r"^\[load\] .*missing storage .*data/0"):
        devrt.load(out)


def test_byte_order_devices_and_foreign_dtypes():
    data = torch_bytes({"w": torch.arange(3, dtype=torch.float32)}).getvalue()
    src = zipfile.ZipFile(io.BytesIO(data))

    def rewritten(edit: dict) -> io.BytesIO:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zf:
            for name in src.namelist():
                zf.writestr(name, edit.get(name.split("/", 1)[1], src.read(name)))
        out.seek(0)
        return out

    big = np.arange(3, dtype=">f4").tobytes()  # a big-endian machine's file
    out = devrt.load(rewritten({"byteorder": b"big", "data/0": big}))
    assert out["w"].tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match=r"^\[load\] .*byteorder 'middle'"):
        devrt.load(rewritten({"byteorder": b"middle"}))
    with pytest.raises(ValueError, match=r"^\[load\] .*reaches past its storage of 2 elements"):
        devrt.load(rewritten({"data/0": big[:8]}))
    out = devrt.load(torch_bytes({"d": torch.device("cuda", 0), "c": torch.device("cpu")}))
    assert str(out["d"]) == "cuda:0" and out["c"] == devrt.device("cpu")
    with pytest.raises(
        ValueError, match=r"^\[load\] the file holds torch\.int16, a dtype devrt does not hold"
    ):
        devrt.load(torch_bytes({"dtype": torch.int16}))


def test_truncated_legacy_files_are_refused():
    data = torch_bytes({"w": torch.ones(8)}, _use_new_zipfile_serialization=False).getvalue()
    with pytest.raises(ValueError, match=r"^\[load\] .*truncated"):
        devrt.load(io.BytesIO(data[:-5]))
    for cut in (40, 120, 200, 300, len(data) - 40):
        with pytest.raises(ValueError, match=r"^\[load\] .*(corrupt pickle|truncated)"):
            devrt.load(io.BytesIO(data[:cut]))


def test_add_safe_globals_arguments():
    with pytest.raises(
        ValueError, match=r"^\[add_safe_globals\] expected \(global, 'module.name'\)"
    ):
        add_safe_globals([(Config,)])
    add_safe_globals([(Config, "elsewhere.Config")])
    try:
        from devrt.serialization import get_safe_globals

        assert get_safe_globals() == [Config]
    finally:
        clear_safe_globals()


def test_deeply_nested_objects_are_refused_on_save():
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(ValueError, match=r"^\[save\] the object is nested too deeply"):
        devrt.save(nested, io.BytesIO())


def test_no_torch_at_run_time(tmp_path):
    """Saving, loading (a PyTorch-written file too) and exporting never import torch."""
    import subprocess
    import sys

    pretrained = tmp_path / "pretrained.pth"
    torch.save(trained_resnet().state_dict(), pretrained)
    script = f"""
import sys, devrt
from devrt import nn
model = nn.Sequential(nn.Linear(3, 2))
devrt.save(model.state_dict(), {str(tmp_path / "mine.pt")!r})
devrt.load({str(tmp_path / "mine.pt")!r})
devrt.load({str(pretrained)!r})
devrt.onnx.export(model, devrt.randn(1, 3), {str(tmp_path / "m.onnx")!r})
assert "torch" not in sys.modules, sorted(m for m in sys.modules if m.startswith("torch"))
"""
    subprocess.run([sys.executable, "-c", script], check=True)
