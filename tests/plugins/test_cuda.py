"""The CUDA backend (the devrt-cuda package, plugins/cuda) and devrt.cuda.

Three situations: without the package (devrt alone, as CI installs it),
with the package but no usable GPU (the backend registers with no devices
and says why), and with a GPU. Tests of the last kind skip with the reason
elsewhere, and fail instead under DEVRT_REQUIRE_CUDA=1, as the conformance
suite's cuda rows do. The kernels themselves are checked by that suite
(``devrt test cuda``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import devrt

# The package installed and its plugin loaded (DEVRT_DISABLE_PLUGIN_AUTOLOAD
# keeps it out).
LOADED = devrt.cuda._plugin() is not None
needs_package = pytest.mark.skipif(not LOADED, reason="the devrt-cuda plugin is not loaded")


@pytest.fixture
def gpu():
    """Skips (or under DEVRT_REQUIRE_CUDA=1 fails) unless a GPU is usable."""
    if not devrt.cuda.is_available():
        reason = f"CUDA unavailable: {devrt.cuda.unavailable_reason()}"
        if os.environ.get("DEVRT_REQUIRE_CUDA") == "1":
            pytest.fail(f"DEVRT_REQUIRE_CUDA=1 but {reason}")
        pytest.skip(reason)
    return "cuda"


def run_devrt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "devrt", *args], capture_output=True, text=True, timeout=120
    )


# --- without a GPU -------------------------------------------------------------------


def test_without_the_package_devrt_cuda_says_how_to_get_it():
    # A process that loads no plugin but the built-in CPU stands for a
    # machine without devrt-cuda.
    code = """if True:
        import devrt
        assert not devrt.cuda.is_available() and devrt.cuda.device_count() == 0
        print(devrt.cuda.unavailable_reason())
        try:
            devrt.cuda.synchronize()
        except RuntimeError as e:
            print(e)
        """
    env = dict(os.environ, DEVRT_DISABLE_PLUGIN_AUTOLOAD="1")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    reason, error = proc.stdout.splitlines()
    assert "pip install ./plugins/cuda" in reason
    assert error == f"[synchronize] CUDA unavailable: {reason}"


def test_cuda_calls_without_a_gpu_raise_with_the_reason():
    if devrt.cuda.is_available():
        pytest.skip("checks a machine without a usable GPU")
    reason = devrt.cuda.unavailable_reason()
    assert reason
    for call in (devrt.cuda.Stream, devrt.cuda.Event, devrt.cuda.current_device):
        with pytest.raises(RuntimeError, match="CUDA unavailable: " + re.escape(reason)):
            call()
    with pytest.raises(ValueError, match=r"^\[device\] .*cuda"):
        devrt.ones(2).to("cuda")
    devrt.cuda.empty_cache()  # nothing to give back: not an error
    assert not hasattr(devrt.ones(2), "__cuda_array_interface__")


@needs_package
def test_backend_registers_without_devices_and_backends_says_why():
    if devrt.cuda.is_available():
        pytest.skip("checks a machine without a usable GPU")
    cuda = next(b for b in devrt.backends() if b["name"] == "cuda")
    assert cuda["registered"] and cuda["device_count"] == 0
    reason = devrt.cuda.unavailable_reason()
    assert reason.startswith("the cuda backend is loaded but sees no GPU: ")
    out = run_devrt("backends").stdout
    assert any(line.split()[:4] == ["cuda", "loaded", "cuda", "0"] for line in out.splitlines())
    assert "    unavailable: " in out and f"cuda: not available ({reason})" in out


@needs_package
def test_capability_manifest_is_the_cpus_plus_16_bit_floats():
    cpu = {op["name"]: set(op["kernels"].get("cpu", [])) for op in devrt.catalogue()}
    cuda = {op["name"]: set(op["kernels"].get("cuda", [])) for op in devrt.catalogue()}
    assert {op for op, d in cpu.items() if d} == {op for op, d in cuda.items() if d}
    for op in cpu:
        assert cpu[op] <= cuda[op], op
    for op in ("add", "mul", "exp", "eq", "matmul"):
        assert {"float16", "bfloat16"} <= cuda[op], op


@needs_package
def test_library_finds_the_nvidia_wheels_through_runpath():
    import devrt_cuda

    lib = devrt_cuda.library_path()
    dynamic = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True).stdout
    assert "Library runpath: [$ORIGIN/../nvidia/cu13/lib]" in dynamic
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    ldd = subprocess.run(["ldd", str(lib)], capture_output=True, text=True, env=env).stdout
    wheels = (Path(lib).parent.parent / "nvidia" / "cu13" / "lib").resolve()
    for name in ("libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13"):
        line = next(line for line in ldd.splitlines() if line.strip().startswith(name))
        assert Path(line.split("=>")[1].split("(")[0].strip()).resolve().parent == wheels
    # libdevrt_core resolves to the copy devrt has loaded, never a second one.
    assert "libdevrt_core.so => not found" in ldd


def test_tf32_switch_is_off_by_default_and_round_trips():
    matmul = devrt.backends.cuda.matmul
    assert matmul.allow_tf32 is False
    try:
        matmul.allow_tf32 = True
        assert matmul.allow_tf32 is True
    finally:
        matmul.allow_tf32 = False


# --- with a GPU ----------------------------------------------------------------------


def test_copies_round_trip_through_the_staging_buffers(gpu, rng):
    # Over two 8 MiB staging chunks, and a size that is no multiple of them.
    host = rng.standard_normal(5 * 1024 * 1024 + 3).astype(np.float32)
    t = devrt.from_numpy(host).to(gpu)
    assert t.device.type == "cuda"
    assert np.array_equal(t.cpu().numpy(), host)
    twice = t.clone()  # device to device
    assert np.array_equal(twice.cpu().numpy(), host)
    strided = devrt.from_numpy(host[: 1000 * 1000].reshape(1000, 1000)).to(gpu).t()
    assert np.array_equal(strided.contiguous().cpu().numpy(), host[:1000000].reshape(1000, 1000).T)


def test_memory_stats_cache_and_out_of_memory(gpu):
    devrt.cuda.empty_cache()
    before = devrt.cuda.memory_stats()
    x = devrt.empty(1 << 20, device=gpu)
    stats = devrt.cuda.memory_stats()
    assert stats["allocated"] >= before["allocated"] + (4 << 20)
    del x
    y = devrt.empty(1 << 20, device=gpu)
    assert devrt.cuda.memory_stats()["cache_hits"] > stats["cache_hits"]
    del y
    devrt.cuda.empty_cache()
    assert devrt.cuda.memory_stats()["reserved"] == devrt.cuda.memory_stats()["allocated"]
    _, total = devrt.cuda.mem_get_info()
    with pytest.raises(devrt.OutOfMemoryError, match=r"^\[alloc\] out of memory on cuda:0"):
        devrt.empty(2 * total // 4, dtype=devrt.float32, device=gpu)
    # The process, and the device, keep working.
    assert (devrt.ones(4, device=gpu) + 1).sum().item() == 8


def test_streams_and_events_time_work(gpu):
    s = devrt.cuda.Stream()
    a = devrt.randn(1024, 1024, device=gpu)
    start, end = devrt.cuda.Event(enable_timing=True), devrt.cuda.Event(enable_timing=True)
    with devrt.cuda.stream(s):
        assert devrt.cuda.current_stream() == s
        start.record()
        b = a @ a
        end.record()
    assert devrt.cuda.current_stream() == devrt.cuda.default_stream()
    end.synchronize()
    assert end.query() and start.elapsed_time(end) > 0
    devrt.cuda.synchronize()
    expect = a.cpu().numpy().astype(np.float64) @ a.cpu().numpy().astype(np.float64)
    np.testing.assert_allclose(b.cpu().numpy(), expect, rtol=1e-3, atol=1e-2)
    with pytest.raises(ValueError, match=r"^\[elapsed_time\]"):
        devrt.cuda.Event().elapsed_time(end)


def test_manual_seed_gives_the_cpus_numbers(gpu):
    for draw in (
        lambda d: devrt.randn(1000, device=d),
        lambda d: devrt.rand(1000, device=d),
        lambda d: devrt.randint(0, 17, (1000,), device=d),
    ):
        devrt.cuda.manual_seed(7)
        on_gpu = draw(gpu).cpu().numpy()
        devrt.manual_seed(7)
        on_cpu = draw("cpu").numpy()
        np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-6, atol=1e-7)


def test_errors_found_on_the_device_are_raised(gpu):
    x = devrt.arange(3, device=gpu)
    with pytest.raises(
        IndexError, match=r"^\[index\].*index 7 is out of bounds for dimension 0 with size 3"
    ):
        x[devrt.tensor([0, 7], device=gpu)]
    with pytest.raises(ValueError, match=r"^\[floor_divide\].*integer division by zero"):
        x // devrt.zeros(3, dtype=devrt.int64, device=gpu)
    assert x.sum().item() == 3  # the device keeps working


def test_cuda_array_interface_is_seen_by_cupy_without_a_copy(gpu):
    cupy = pytest.importorskip("cupy")
    t = devrt.arange(12, dtype=devrt.float32, device=gpu).reshape(3, 4)
    cai = t.__cuda_array_interface__
    assert cai["version"] == 3 and cai["shape"] == (3, 4) and cai["typestr"] == "<f4"
    assert cai["data"][0] == t.data_ptr() and cai["strides"] is None
    c = cupy.asarray(t)
    assert c.data.ptr == t.data_ptr()
    c[0, 0] = 100.0  # written through CuPy, seen by devrt
    assert t[0, 0].item() == 100.0
    tt = t.t()
    assert tt.__cuda_array_interface__["strides"] == (4, 16)
    assert np.array_equal(cupy.asnumpy(cupy.asarray(tt)), t.cpu().numpy().T)
    back = devrt.from_dlpack(c)
    assert back.device.type == "cuda" and back.data_ptr() == c.data.ptr


def test_dlpack_both_ways_with_torch_cuda_tensors(gpu):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("this PyTorch has no CUDA")
    t = devrt.arange(6, dtype=devrt.float32, device=gpu)
    assert t.__dlpack_device__() == (2, 0)
    tt = torch.from_dlpack(t)
    assert tt.is_cuda and tt.data_ptr() == t.data_ptr()
    source = torch.arange(5, dtype=torch.float64, device="cuda") * 2
    d = devrt.from_dlpack(source)
    assert d.device.type == "cuda" and d.data_ptr() == source.data_ptr()
    assert d.cpu().numpy().tolist() == [0, 2, 4, 6, 8]
