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


def test_package_pins_the_devrt_of_its_tree():
    # devrt-cuda builds against the installed devrt of the same tree: the pin
    # lets pip find that one installed, and never search the index for others.
    try:
        import tomllib
    except ImportError:  # Python 3.10: the parser pip carries
        from pip._vendor import tomli as tomllib

    root = Path(__file__).resolve().parents[2]
    devrt_version = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    package = tomllib.loads((root / "plugins" / "cuda" / "pyproject.toml").read_text())
    devrt_pins = [d for d in package["project"]["dependencies"] if d.startswith("devrt")]
    assert devrt_pins == [f"devrt=={devrt_version}"]
    # The wheels the library links are build requirements too, at the same pins.
    wheels = [d for d in package["project"]["dependencies"] if d.startswith("nvidia-")]
    assert len(wheels) == 3 and set(wheels) <= set(package["build-system"]["requires"])


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


# Optional kernels (the core falls back where a device lacks them) that the
# two backends offer differently: the CPU's channels-last max pooling, with
# and without the maximal taps kept for the gradient (on cuda the core pools
# a channels-first copy), the CPU's kernels of the
# graph's fused Conv2D + bias + Relu (+ 2x2 MaxPool, and its gradients from
# the pooled gradient) (on cuda the core runs conv2d_nhwc, relu in place, a
# sum and the pooling) and the direct
# convolutions, on the CPU for
# float32 where it has AVX-512, on cuda (cuDNN) for every float dtype.
CPU_ONLY_OPTIONAL = {
    "max_pool2d_nhwc",
    "max_pool2d_nhwc_backward",
    "max_pool2d_nhwc_taps",
    "max_pool2d_nhwc_taps_backward",
    "conv2d_nhwc_relu",
    "conv2d_nhwc_relu_pool",
    "conv2d_nhwc_backward_filter_bias",
    "conv2d_nhwc_pool_backward_input",
    "conv2d_nhwc_pool_backward_filter_bias",
}
CONV_DIRECT = {"conv2d_nhwc", "conv2d_nhwc_backward_input", "conv2d_nhwc_backward_filter"}


@needs_package
def test_capability_manifest_is_the_cpus_plus_16_bit_floats():
    cpu = {op["name"]: set(op["kernels"].get("cpu", [])) for op in devrt.catalogue()}
    cuda = {op["name"]: set(op["kernels"].get("cuda", [])) for op in devrt.catalogue()}
    cpu_ops = {op for op, d in cpu.items() if d} - CPU_ONLY_OPTIONAL - CONV_DIRECT
    assert cpu_ops == {op for op, d in cuda.items() if d} - CONV_DIRECT
    for op in cpu_ops:
        assert cpu[op] <= cuda[op], op
    for op in ("add", "mul", "exp", "eq", "matmul"):
        assert {"float16", "bfloat16"} <= cuda[op], op
    for op in CONV_DIRECT:
        assert cuda[op] == {"float16", "bfloat16", "float32", "float64"}, op


@needs_package
def test_library_finds_the_nvidia_wheels_through_runpath():
    import devrt_cuda

    lib = devrt_cuda.library_path()
    dynamic = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True).stdout
    runpath = "$ORIGIN/../nvidia/cu13/lib:$ORIGIN/../nvidia/cudnn/lib:$ORIGIN/../devrt/lib"
    assert f"Library runpath: [{runpath}]" in dynamic
    assert "Shared library: [libcudnn.so.9]" in dynamic
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    ldd = subprocess.run(["ldd", str(lib)], capture_output=True, text=True, env=env).stdout

    def resolved(name: str) -> Path:
        line = next(line for line in ldd.splitlines() if line.strip().startswith(name))
        return Path(line.split("=>")[1].split("(")[0].strip()).resolve()

    nvidia = Path(lib).parent.parent / "nvidia"
    for name, wheel in [
        ("libcudart.so.13", "cu13"),
        ("libcublas.so.13", "cu13"),
        ("libcublasLt.so.13", "cu13"),
        ("libcudnn.so.9", "cudnn"),
    ]:
        assert resolved(name).parent == (nvidia / wheel / "lib").resolve(), name
    # libdevrt_core resolves to the copy devrt has loaded, never a second one.
    loaded = {
        Path(line.split()[-1]).resolve()
        for line in Path("/proc/self/maps").read_text().splitlines()
        if line.endswith("/libdevrt_core.so")
    }
    assert loaded == {resolved("libdevrt_core.so")}


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


# --- convolutions on cuDNN ------------------------------------------------------------

# (input NHWC, filter HWIO, strides, padding, dilations): devrt.graph's Conv2D
# runs these on the direct kernels (conv2d_nhwc and its gradients), which the
# cuda backend runs on cuDNN.
CONV_CASES = [
    ((3, 9, 8, 5), (3, 3, 5, 7), (1, 1), "SAME", (1, 1)),  # symmetric: cuDNN pads
    ((2, 9, 7, 4), (3, 2, 4, 6), (2, 1), "VALID", (1, 1)),
    ((2, 8, 9, 3), (3, 3, 3, 4), (2, 2), "SAME", (1, 1)),  # asymmetric: padded first
    ((2, 11, 9, 4), (3, 3, 4, 5), (1, 1), "SAME", (2, 1)),  # dilated rows
    ((1, 5, 5, 3), (5, 5, 3, 2), (1, 1), "VALID", (1, 1)),  # one output pixel
    # 576 products per output: TF32 (10-bit mantissas) would miss float32's bound
    ((4, 12, 12, 64), (3, 3, 64, 32), (1, 1), "SAME", (1, 1)),
]
# Errors relative to the largest reference value: the 16-bit floats round
# their result once (cuDNN accumulates in float32), float32 runs without TF32.
CONV_TOL = {"float16": 4e-3, "bfloat16": 3e-2, "float32": 2e-5, "float64": 1e-12}


def conv2d_and_gradients(device, case, dtype):
    """Conv2D of `case` in `dtype` on `device` and its gradients for the input
    and the filter, beside PyTorch's in float64 from the same rounded values."""
    torch = pytest.importorskip("torch")
    import devrt.graph as tf

    xs, fs, strides, padding, dilations = case
    rng = np.random.default_rng(0)

    def rounded(shape):  # values `dtype` holds exactly, as float64
        a = torch.tensor(rng.standard_normal(shape)).to(getattr(torch, dtype))
        return a.to(torch.float64).numpy()

    x_np, f_np = rounded(xs), rounded(fs)
    with tf.Graph().as_default(), tf.device(device):
        x = tf.placeholder(tf.float64, list(xs))
        f = tf.placeholder(tf.float64, list(fs))
        xd, fd = tf.cast(x, dtype), tf.cast(f, dtype)
        y = tf.nn.conv2d(xd, fd, [1, *strides, 1], padding, dilations=[1, *dilations, 1])
        seed = tf.placeholder(tf.float64)
        gx, gf = tf.gradients(tf.reduce_sum(tf.cast(y, tf.float64) * seed), [xd, fd])
        fetches = [tf.cast(t, tf.float64) for t in (y, gx, gf)]
        assert y.dtype.name == dtype
        with tf.Session() as sess:
            y_shape = sess.run(tf.shape(y), {x: x_np, f: f_np})
            g_np = rounded(tuple(y_shape))
            got = sess.run(fetches, {x: x_np, f: f_np, seed: g_np})
    xt = torch.tensor(x_np, requires_grad=True)
    ft = torch.tensor(f_np, requires_grad=True)
    xp = xt.permute(0, 3, 1, 2)
    if padding == "SAME":
        pads = []
        for n, k, s, d in zip(xs[1:3], fs[:2], strides, dilations):
            total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            pads.append((total // 2, total - total // 2))
        xp = torch.nn.functional.pad(xp, (*pads[1], *pads[0]))
    want = torch.nn.functional.conv2d(
        xp, ft.permute(3, 2, 0, 1), stride=strides, dilation=dilations
    ).permute(0, 2, 3, 1)
    want.backward(torch.tensor(g_np))
    return got, [want.detach().numpy(), xt.grad.numpy(), ft.grad.numpy()]


@pytest.mark.parametrize("dtype", list(CONV_TOL))
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_on_cudnn_matches_pytorch(gpu, case, dtype):
    got, want = conv2d_and_gradients("/gpu:0", case, dtype)
    for name, g, w in zip(("y", "gx", "gf"), got, want):
        assert g.shape == w.shape, name
        np.testing.assert_allclose(
            g, w, rtol=0, atol=CONV_TOL[dtype] * np.abs(w).max(), err_msg=name
        )


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_conv2d_on_cudnn_of_empty_operands(gpu, dtype):
    import devrt.graph as tf

    def run(xs, fs):
        with tf.Graph().as_default(), tf.device("/gpu:0"):
            x = tf.placeholder(dtype, [None, *xs[1:]])
            f = tf.placeholder(dtype, list(fs))
            y = tf.nn.conv2d(x, f, [1, 1, 1, 1], "SAME")
            gx, gf = tf.gradients(tf.reduce_sum(y), [x, f])
            with tf.Session() as sess:
                return sess.run([y, gx, gf], {x: np.ones(xs, dtype), f: np.ones(fs, dtype)})

    # An empty batch (no work, a zero filter gradient) and no input channels
    # (a zero output): cuDNN takes neither, the kernels answer them.
    y, gx, gf = run((0, 6, 6, 3), (3, 3, 3, 4))
    assert y.shape == (0, 6, 6, 4) and gx.shape == (0, 6, 6, 3)
    np.testing.assert_array_equal(gf, np.zeros((3, 3, 3, 4), dtype))
    y, gx, gf = run((2, 6, 6, 0), (3, 3, 0, 4))
    np.testing.assert_array_equal(y, np.zeros((2, 6, 6, 4), dtype))
    assert gx.shape == (2, 6, 6, 0) and gf.shape == (3, 3, 0, 4)
