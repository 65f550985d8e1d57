"""A backend written in Python with memory of its own: an arena of Python
buffer objects that no NumPy array or pointer can reach. Its tensors move
through its copies, its kernels receive its buffers, and the protocols are
checked when it registers."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import devrt
from devrt.protocols import DeviceView, Kernel, Memory

DEV = "arenadev"


class Buffer:
    """Device memory: only the arena and the kernels below look inside."""

    def __init__(self, nbytes: int):
        self.data = bytearray(nbytes)


class Arena:
    def __init__(self, limit: int = 1 << 30):
        self.live: dict[int, Buffer] = {}
        self.calls: list[str] = []
        self.limit = limit

    def allocate(self, device, nbytes):
        if sum(len(b.data) for b in self.live.values()) + nbytes > self.limit:
            raise MemoryError(f"arena full: {nbytes} more bytes")
        b = Buffer(nbytes)
        self.live[id(b)] = b
        self.calls.append("allocate")
        return b

    def free(self, device, buffer):
        del self.live[id(buffer)]
        self.calls.append("free")

    def copy_in(self, device, buffer, offset, host):
        self.calls.append("copy_in")
        buffer.data[offset : offset + len(host)] = host

    def copy_out(self, device, buffer, offset, host):
        self.calls.append("copy_out")
        host[:] = buffer.data[offset : offset + len(host)]

    def copy(self, device, dst, dst_offset, src, src_offset, nbytes):
        self.calls.append("copy")
        dst.data[dst_offset : dst_offset + nbytes] = src.data[src_offset : src_offset + nbytes]


def array(v: DeviceView) -> np.ndarray:
    """A NumPy array over a DeviceView's buffer (as a kernel reads it)."""
    assert isinstance(v, DeviceView)
    if v.size == 0:
        assert v.buffer is None
        return np.empty(v.shape, dtype=v.dtype)
    assert isinstance(v.buffer, Buffer)
    return np.ndarray(
        v.shape,
        dtype=v.dtype,
        buffer=v.buffer.data,
        offset=v.offset,
        strides=tuple(s * v.itemsize for s in v.strides),
    )


SEEN: list[DeviceView] = []


def _add(inputs, outputs, attrs):
    SEEN.extend(inputs + outputs)
    np.add(array(inputs[0]), array(inputs[1]), out=array(outputs[0]))


def _mul(inputs, outputs, attrs):
    np.multiply(array(inputs[0]), array(inputs[1]), out=array(outputs[0]))


def _matmul(inputs, outputs, attrs):
    np.matmul(array(inputs[0]), array(inputs[1]), out=array(outputs[0]))


def _sum(inputs, outputs, attrs):
    np.sum(array(inputs[0]), axis=tuple(attrs["axes"]), keepdims=True, out=array(outputs[0]))


def _copy(inputs, outputs, attrs):
    np.copyto(array(outputs[0]), array(inputs[0]), casting="unsafe")


FILLS: list[str] = []  # the dtype of each fill


def _fill(inputs, outputs, attrs):
    FILLS.append(outputs[0].dtype)
    array(outputs[0])[...] = attrs["value"]


def _where(inputs, outputs, attrs):
    c, a, b = (array(v) for v in inputs)
    np.copyto(array(outputs[0]), np.where(c, a, b))


FLOATS = ["float32", "float64"]
KERNELS = {
    "add": (_add, FLOATS),
    "mul": (_mul, FLOATS),
    "matmul": (_matmul, FLOATS),
    "sum": (_sum, FLOATS),
    "copy": (_copy, FLOATS + ["int64", "bool"]),
    "fill": (_fill, FLOATS + ["int64", "bool"]),
    "where": (_where, FLOATS),
}

ARENA = Arena()


class ArenaPlugin:
    @devrt.hookimpl
    def devrt_register_backends(self, registry):
        registry.register_backend(DEV, device_count=2, memory=ARENA)
        for op, (fn, dtypes) in KERNELS.items():
            registry.register_kernel(op, DEV, dtypes, fn)


if not any(s.name == DEV and s.loaded for s in devrt.plugin_status()):
    assert devrt.register_plugin(ArenaPlugin(), name=DEV).loaded


@pytest.fixture(autouse=True)
def clean():
    SEEN.clear()
    ARENA.calls.clear()
    devrt.set_fallback(None)
    devrt.reset_placement_report()
    yield
    devrt.set_fallback(None)


def on_dev(a, device=DEV) -> devrt.Tensor:
    return devrt.from_numpy(np.ascontiguousarray(a)).to(device)


def test_protocols_are_runtime_checkable():
    assert isinstance(ARENA, Memory)
    assert isinstance(_add, Kernel)


def test_the_device_is_not_host_accessible():
    info = next(b for b in devrt.backends() if b["name"] == DEV)
    assert info["host_accessible"] is False
    assert info["device_count"] == 2


def test_round_trip_goes_through_the_arena(rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    t = on_dev(a)
    assert t.device == devrt.device(DEV, 0)
    assert "copy_in" in ARENA.calls
    back = t.cpu().numpy()
    assert "copy_out" in ARENA.calls
    np.testing.assert_array_equal(back, a)
    # The bytes live in an arena buffer, nowhere else.
    assert any(bytes(b.data[: a.nbytes]) == a.tobytes() for b in ARENA.live.values())


def test_kernels_receive_the_backends_buffers(rng):
    a = rng.standard_normal((2, 3)).astype(np.float64)
    b = rng.standard_normal((3,)).astype(np.float64)
    r = on_dev(a) + on_dev(b)
    np.testing.assert_allclose(r.cpu().numpy(), a + b)
    x, y, out = SEEN
    assert all(isinstance(v.buffer, Buffer) for v in SEEN)
    assert (x.shape, y.shape, out.shape) == ((2, 3), (2, 3), (2, 3))
    assert y.strides == (0, 1)  # broadcast
    assert (out.dtype, out.itemsize, out.device) == ("float64", 8, 0)
    assert out.is_contiguous() and not y.is_contiguous()


def test_ops_over_views_and_offsets(rng):
    a = rng.standard_normal((4, 6)).astype(np.float32)
    b = rng.standard_normal((6, 5)).astype(np.float32)
    t = on_dev(a)
    np.testing.assert_allclose((t.t() * 2.0).cpu().numpy(), a.T * 2, rtol=1e-6)
    np.testing.assert_allclose(
        (t[1:, 2:] + t[:-1, :-2]).cpu().numpy(), a[1:, 2:] + a[:-1, :-2], rtol=1e-6
    )
    np.testing.assert_allclose((t @ on_dev(b)).cpu().numpy(), a @ b, rtol=1e-5)
    np.testing.assert_allclose(t.sum(dim=1).cpu().numpy(), a.sum(axis=1), rtol=1e-5)
    # A strided tensor goes back to the host through the device's copy kernel.
    np.testing.assert_array_equal(t[:, ::2].cpu().numpy(), a[:, ::2])
    assert t[2, 3].item() == pytest.approx(float(a[2, 3]))


def test_where_makes_a_python_number_in_the_result_dtype(rng):
    # The number is filled in as float32, not as float64 and then cast.
    c = on_dev(rng.standard_normal((2, 3)) > 0)
    x = on_dev(rng.standard_normal((2, 3)).astype(np.float32))
    FILLS.clear()
    r = devrt.where(c, x, 0.5)
    assert FILLS == ["float32"]
    assert r.dtype is devrt.float32 and r.device == x.device
    np.testing.assert_array_equal(
        r.cpu().numpy(), np.where(c.cpu().numpy(), x.cpu().numpy(), np.float32(0.5))
    )
    r = devrt.where(c, 2, x)
    np.testing.assert_array_equal(
        r.cpu().numpy(), np.where(c.cpu().numpy(), np.float32(2), x.cpu().numpy())
    )


def test_device_to_device_copy(rng):
    a = rng.standard_normal(5).astype(np.float32)
    t1 = on_dev(a).to(f"{DEV}:1")
    assert t1.device == devrt.device(DEV, 1)
    assert "copy" in ARENA.calls
    np.testing.assert_array_equal(t1.cpu().numpy(), a)


def test_memory_is_freed_through_the_arena():
    devrt.empty_cache()
    before = len(ARENA.live)
    t = on_dev(np.ones((64, 64), np.float32))
    assert len(ARENA.live) == before + 1
    del t
    gc.collect()
    devrt.empty_cache()
    assert len(ARENA.live) == before
    assert "free" in ARENA.calls


def test_a_full_arena_raises_out_of_memory():
    ARENA.limit = 1 << 20
    try:
        with pytest.raises(devrt.OutOfMemoryError):
            devrt.zeros(1 << 20, dtype=devrt.float32, device=DEV)
    finally:
        ARENA.limit = 1 << 30
    assert (on_dev(np.ones(2, np.float32)) + 1.0).cpu().numpy().tolist() == [2.0, 2.0]


def test_fallback_runs_through_the_arenas_copies(rng):
    a = rng.standard_normal((3, 5)).astype(np.float32)
    t = on_dev(a)
    with pytest.raises(
        NotImplementedError, match=r"^\[exp\] no kernel for dtype float32 on arenadev:0"
    ):
        t.exp()
    devrt.set_fallback("cpu")
    ARENA.calls.clear()
    np.testing.assert_allclose(t.exp().cpu().numpy(), np.exp(a), rtol=1e-6)
    # The input came out through copy_out, the result went in through copy_in.
    assert "copy_out" in ARENA.calls and "copy_in" in ARENA.calls
    (line,) = [p for p in devrt.placement_report() if p["op"] == "exp"]
    assert line["bytes"] == 2 * a.nbytes


def test_training_step_with_own_memory(rng):
    # Two layers with a ReLU from the fallback: matmul, add, mul, sum on the
    # arena; the rest on the CPU through the arena's copies.
    devrt.set_fallback("cpu")
    x = rng.standard_normal((8, 3)).astype(np.float32)
    w = (0.3 * rng.standard_normal((3, 1))).astype(np.float32)

    def step(device):
        W = on_dev(w, device).requires_grad_()
        loss = ((on_dev(x, device) @ W).relu() * 2.0).sum()
        loss.backward()
        return loss.item(), W.grad.cpu().numpy()

    ref_loss, ref_grad = step("cpu")
    loss, grad = step(DEV)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-5)


# --- protocol checks at registration -----------------------------------------------------


def register(hook) -> devrt.plugins.PluginStatus:
    class P:
        @devrt.hookimpl
        def devrt_register_backends(self, registry):
            hook(registry)

    return devrt.register_plugin(P(), name=f"badplugin{len(devrt.plugin_status())}")


@pytest.mark.parametrize(
    "fn, shown",
    [
        (lambda inputs, outputs: None, "(inputs, outputs)"),
        (lambda a, b, c, d: None, "(a, b, c, d)"),
        (lambda: None, "()"),
    ],
)
def test_kernel_of_the_wrong_signature_is_refused_naming_the_op(fn, shown):
    status = register(lambda r: r.register_kernel("neg", DEV, ["float32"], fn))
    assert not status.loaded
    assert status.error.startswith(
        "TypeError: [register_kernel] the kernel for 'neg' must take (inputs, outputs, attrs); "
    )
    assert shown in status.error


def test_kernels_with_defaults_or_varargs_are_accepted():
    def flexible(*args, **kwargs):
        pass

    def defaults(inputs, outputs, attrs=None, extra=1):
        pass

    devrt.protocols.check_kernel("neg", flexible)
    devrt.protocols.check_kernel("neg", defaults)
    devrt.protocols.check_kernel("neg", np.add)  # no signature to check


def test_non_callable_kernel_is_refused():
    status = register(lambda r: r.register_kernel("neg", DEV, ["float32"], "not a function"))
    assert "TypeError: [register_kernel] the kernel for 'neg' is not callable" in status.error


class NoCopyOut:
    def allocate(self, device, nbytes): ...
    def free(self, device, buffer): ...
    def copy_in(self, device, buffer, offset, host): ...
    def copy(self, device, dst, dst_offset, src, src_offset, nbytes): ...


class ShortCopyIn(Arena):
    def copy_in(self, device, buffer, host):  # no offset
        ...


@pytest.mark.parametrize(
    "memory, message",
    [
        (NoCopyOut(), "the memory of 'baddev' has no method copy_out()"),
        (ShortCopyIn(), "the memory of 'baddev': copy_in() must take 4 arguments besides self"),
        (object(), "the memory of 'baddev' has no method allocate()"),
    ],
)
def test_memory_not_following_the_protocol_is_refused(memory, message):
    status = register(lambda r: r.register_backend("baddev", memory=memory))
    assert not status.loaded
    assert status.error.startswith(f"TypeError: [register_backend] {message}")
    assert "baddev" not in {b["name"] for b in devrt.backends() if b["registered"]}


# --- DEVRT_CHECK_KERNELS -------------------------------------------------------------------


@pytest.fixture
def checking():
    devrt.protocols.set_check_kernels(True)
    yield
    devrt.protocols.set_check_kernels(False)


def _half_add(inputs, outputs, attrs):
    out = array(outputs[0])
    out[:1] = array(inputs[0])[:1] + array(inputs[1])[:1]


def _returning_mul(inputs, outputs, attrs):
    _mul(inputs, outputs, attrs)
    return 0


def _in_place_sum(inputs, outputs, attrs):
    array(inputs[0])[...] = 0
    _sum(inputs, outputs, attrs)


BROKEN = {"add": _half_add, "mul": _returning_mul, "sum": _in_place_sum}


@pytest.fixture
def broken():
    """The arena's add, mul and sum replaced with broken kernels."""

    class P:
        @devrt.hookimpl
        def devrt_register_backends(self, registry):
            for op, fn in BROKEN.items():
                registry.register_kernel(op, DEV, FLOATS, fn, override=True)

    name = f"broken{len(devrt.plugin_status())}"
    assert devrt.register_plugin(P(), name=name).loaded
    yield
    devrt._C.unregister_plugin(name)


def test_check_finds_an_unwritten_output(checking, broken):
    a = on_dev(np.ones((3, 2), np.float32))
    with pytest.raises(
        RuntimeError, match=r"^\[add\] the kernel of plugin 'broken\d+' on arenadev:0"
    ) as info:
        a + a
    assert (
        "KernelCheckError: left 4 of 6 elements of output 0 (float32, shape (3, 2)) unwritten"
        in str(info.value)
    )
    assert type(info.value.__cause__).__name__ == "KernelCheckError"


def test_check_finds_a_returned_value(checking, broken):
    a = on_dev(np.ones(2, np.float32))
    with pytest.raises(
        RuntimeError, match=r"KernelCheckError: returned int 0; a kernel writes its outputs"
    ):
        a * a


def test_check_finds_a_write_to_an_input(checking, broken):
    a = on_dev(np.ones(4, np.float32))
    with pytest.raises(
        RuntimeError, match=r"KernelCheckError: wrote to input 0 \(float32, shape \(4,\)\)"
    ):
        a.sum()


def test_without_the_check_broken_kernels_pass_unnoticed(broken):
    a = on_dev(np.ones((3, 2), np.float32))
    a + a
    a * a


def test_check_passes_correct_kernels_on_both_memories(checking, rng):
    from devrt.testing import pydev

    a = rng.standard_normal((3, 4)).astype(np.float32)
    for dev in (DEV, pydev.NAME):
        t = on_dev(a, dev)
        np.testing.assert_allclose(
            ((t + t) * t).sum(dim=0).cpu().numpy(), ((a + a) * a).sum(0), rtol=1e-5
        )
    # A value equal to the poison pattern is written, not left over.
    poison = np.frombuffer(bytes([0xA5]) * 4, np.float32).copy()
    t = on_dev(poison, pydev.NAME)
    assert (t * 1.0).cpu().numpy().tobytes() == poison.tobytes()


def test_check_lets_in_place_ops_write_their_inputs(checking, rng):
    """An in-place op's output is its input: the check neither poisons it
    (which would lose the input's values) nor calls writing it an error,
    and runs the kernel once."""
    from devrt.testing import pydev

    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    for dev in (DEV, pydev.NAME):
        t = on_dev(a, dev)
        t += on_dev(b, dev)
        np.testing.assert_allclose(t.cpu().numpy(), a + b, rtol=1e-6)
        t.mul_(on_dev(b, dev))
        np.testing.assert_allclose(t.cpu().numpy(), (a + b) * b, rtol=1e-6)


def test_check_kernels_from_the_environment():
    code = """
        import numpy as np
        import devrt
        from devrt.testing import pydev

        def bad_relu(inputs, outputs, attrs):
            outputs[0][:1] = 0

        devrt.register_plugin(pydev, name="pydev")
        devrt._C.register_python_kernel("relu", "pydev", ["float32"], bad_relu, True)
        print("checking", devrt.protocols.checking_kernels())
        try:
            devrt.tensor([1.0, 2.0]).to("pydev").relu()
        except RuntimeError as e:
            print(e)
    """
    env = dict(os.environ, DEVRT_CHECK_KERNELS="1")
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "checking True" in r.stdout
    assert "KernelCheckError: left 1 of 2 elements of output 0" in r.stdout


@pytest.mark.parametrize("shape", [(0,), (0, 5), (3, 0, 2)], ids=str)
def test_empty_tensors_move_and_copy(shape):
    """An empty tensor has no byte to move: copies and kernels on it name no
    buffer and succeed."""
    x = devrt.zeros(shape).to(DEV)
    y = x.clone()
    assert y.shape == shape and str(y.device) == f"{DEV}:0"
    assert y.cpu().numpy().shape == shape
