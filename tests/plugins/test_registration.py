"""Registration rules: who owns a kernel, overriding it, taking back a plugin
whose hook fails, ops that take no kernel, dtype names, and what a Python
kernel that raises turns into."""

from __future__ import annotations

import ctypes
import gc
import itertools
from pathlib import Path

import numpy as np
import pytest

import devrt
from devrt import __main__ as cli

OWNER = "regplug"  # owns the device type REGDEV and its kernels
REGDEV = "regdev"
DOOMED = "rollbackdev"  # registered by hooks that then fail

_names = itertools.count()


class Plugin:
    """A plugin object whose hook calls ``register(registry)``."""

    def __init__(self, register):
        self._register = register

    @devrt.hookimpl
    def devrt_register_backends(self, registry):
        self._register(registry)


make_plugin = Plugin


def plug(register, prefix="plug"):
    """Register a fresh plugin; returns its status."""
    return devrt.register_plugin(make_plugin(register), name=f"{prefix}{next(_names)}")


# The kernels of the owner: a Python kernel raises what RAISE holds.
RAISE: list[BaseException] = []
CALLS: list[str] = []


def _add(inputs, outputs, attrs):
    CALLS.append("owner")
    if RAISE:
        raise RAISE[0]
    np.add(inputs[0], inputs[1], out=outputs[0])


def _copy(inputs, outputs, attrs):
    np.copyto(outputs[0], inputs[0], casting="unsafe")


def _owner_hook(registry):
    registry.register_backend(REGDEV)
    registry.register_kernel("add", REGDEV, ["float32"], _add)
    registry.register_kernel("copy", REGDEV, ["float32"], _copy)


if not any(s.name == OWNER and s.loaded for s in devrt.plugin_status()):
    assert devrt.register_plugin(make_plugin(_owner_hook), name=OWNER).loaded


@pytest.fixture(autouse=True)
def clean():
    RAISE.clear()
    CALLS.clear()
    yield
    RAISE.clear()


def on_dev(a) -> devrt.Tensor:
    return devrt.from_numpy(np.asarray(a, dtype=np.float32)).to(REGDEV)


def kernels(op: str) -> dict:
    return next(c for c in devrt.catalogue() if c["name"] == op)["kernels"]


def registered() -> set[str]:
    return {b["name"] for b in devrt.backends() if b["registered"]}


# --- ownership ------------------------------------------------------------------------


def test_backends_name_the_plugin_that_registered_them():
    info = next(b for b in devrt.backends() if b["name"] == REGDEV)
    assert info["plugin"] == OWNER
    assert next(b for b in devrt.backends() if b["name"] == "cpu")["plugin"] == "cpu"


def test_a_kernel_another_plugin_owns_is_refused():
    def hook(registry):
        registry.register_kernel("mul", REGDEV, ["float32"], _add)
        registry.register_kernel("add", REGDEV, ["float32"], _add)

    status = plug(hook, "intruder")
    assert not status.loaded
    assert status.error.startswith(
        f"RuntimeError: [register_kernel] 'add' on '{REGDEV}' already has a kernel "
        f"from plugin '{OWNER}'; plugin '{status.name}' must register it with override"
    )
    # Its kernel registered before the refusal is taken back too.
    assert REGDEV not in kernels("mul")
    assert (on_dev([1, 2]) + on_dev([3, 4])).cpu().numpy().tolist() == [4, 6]
    assert CALLS == ["owner"]


def test_the_same_plugin_may_replace_its_own_kernel():
    seen = []

    def first(inputs, outputs, attrs):
        seen.append("first")

    def second(inputs, outputs, attrs):
        seen.append("second")
        np.subtract(inputs[0], inputs[1], out=outputs[0])

    def hook(registry):
        registry.register_backend("selfdev")
        registry.register_kernel("sub", "selfdev", ["float32"], first)
        registry.register_kernel("sub", "selfdev", ["float32"], second)
        registry.register_kernel("copy", "selfdev", ["float32"], _copy)

    assert plug(hook).loaded
    a = devrt.tensor([3.0]).to("selfdev")
    assert (a - a).cpu().numpy().tolist() == [0.0]
    assert seen == ["second"]


def test_override_replaces_and_a_failed_override_gives_the_kernel_back():
    def doubled(inputs, outputs, attrs):
        CALLS.append("override")
        np.add(inputs[0], inputs[1], out=outputs[0])
        outputs[0] *= 2

    def failing(registry):
        registry.register_kernel("add", REGDEV, ["float32"], doubled, override=True)
        raise RuntimeError("after the override")

    status = plug(failing)
    assert not status.loaded and "after the override" in status.error
    assert (on_dev([1]) + on_dev([2])).cpu().numpy().tolist() == [3]
    assert CALLS == ["owner"]

    status = plug(lambda r: r.register_kernel("add", REGDEV, ["float32"], doubled, override=True))
    assert status.loaded
    try:
        assert (on_dev([1]) + on_dev([2])).cpu().numpy().tolist() == [6]
        assert CALLS == ["owner", "override"]
    finally:
        # Give the owner its kernel back for the other tests.
        devrt._C.unregister_plugin(status.name)
    assert (on_dev([1]) + on_dev([2])).cpu().numpy().tolist() == [3]


# --- rollback ---------------------------------------------------------------------------


def _doomed_hook(registry):
    registry.register_backend(DOOMED, device_count=2)
    registry.register_kernel("add", DOOMED, ["float32"], _add)
    registry.register_kernel("neg", "cpu", ["float32"], _add, override=True)
    raise RuntimeError("hook failed half way: code-4242")


def test_a_failing_hook_is_rolled_back():
    cpu_neg = kernels("neg")["cpu"]
    status = plug(_doomed_hook, "doomed")
    assert not status.loaded
    assert "code-4242" in status.error
    assert status.rolled_back == [DOOMED]
    assert status.backends == []
    assert DOOMED not in registered()
    assert DOOMED not in kernels("add")
    with pytest.raises(ValueError, match=rf"^\[device\] unknown device type '{DOOMED}'"):
        devrt.device(DOOMED)
    # The CPU kernel it overrode is back, and everything else keeps working.
    assert kernels("neg")["cpu"] == cpu_neg
    assert (-devrt.tensor([1.0, -2.0])).numpy().tolist() == [-1.0, 2.0]
    assert (on_dev([1]) + on_dev([1])).cpu().numpy().tolist() == [2]
    assert CALLS == ["owner"]


def test_a_rolled_back_device_type_can_be_registered_again():
    plug(_doomed_hook, "doomed")

    def fixed(registry):
        registry.register_backend(DOOMED)
        registry.register_kernel("add", DOOMED, ["float32"], _add)
        registry.register_kernel("copy", DOOMED, ["float32"], _copy)

    status = plug(fixed)
    try:
        assert status.loaded, status.error
        x = devrt.tensor([1.0, 2.0]).to(DOOMED)
        y = (x + x).cpu().numpy()
        assert y.tolist() == [2.0, 4.0]
        # Its memory is freed: a device type whose memory is in use cannot
        # be registered again (see below).
        del x
        gc.collect()
    finally:
        assert devrt._C.unregister_plugin(status.name) == [DOOMED]


def test_a_device_type_whose_memory_is_in_use_is_not_registered_again():
    def fixed(registry):
        registry.register_backend(DOOMED)
        registry.register_kernel("copy", DOOMED, ["float32"], _copy)

    status = plug(fixed)
    assert status.loaded, status.error
    x = devrt.tensor([1.0, 2.0]).to(DOOMED)
    devrt._C.unregister_plugin(status.name)
    again = plug(fixed)
    assert not again.loaded
    assert f"[register_backend] '{DOOMED}' registered while " in again.error
    assert "bytes of its memory are still in use" in again.error
    del x
    gc.collect()
    assert plug(_doomed_hook, "doomed").rolled_back == [DOOMED]


def test_plugin_status_reports_the_rollback(capsys):
    status = plug(_doomed_hook, "doomed")
    assert status in devrt.plugin_status()
    assert status.traceback and "code-4242" in status.traceback
    cli.main(["backends"])
    out = capsys.readouterr().out
    assert f"{status.name}" in out
    assert f"    rolled back: {DOOMED}" in out


# --- ops without kernels --------------------------------------------------------------


NO_KERNEL = [c["name"] for c in devrt.catalogue() if c["family"] in ("view", "composite")]


def test_the_catalogue_marks_views():
    assert {"reshape", "permute", "expand", "slice", "select"} <= set(NO_KERNEL)


@pytest.mark.parametrize("op", NO_KERNEL)
def test_view_and_composite_ops_take_no_kernel(op):
    family = next(c["family"] for c in devrt.catalogue() if c["name"] == op)
    why = "is a view op" if family == "view" else "is built by the core from other ops"
    with pytest.raises(ValueError, match=rf"^\[register_kernel\] '{op}' {why}"):
        devrt._C.register_python_kernel(op, REGDEV, ["float32"], _add)
    status = plug(lambda r: r.register_kernel(op, REGDEV, ["float32"], _add))
    assert not status.loaded and f"'{op}' {why}" in status.error


def test_unknown_op_and_non_callable_kernel():
    with pytest.raises(ValueError, match=r"^\[register_kernel\] unknown op 'frobnicate'"):
        devrt._C.register_python_kernel("frobnicate", REGDEV, ["float32"], _add)
    with pytest.raises(TypeError, match=r"^\[register_kernel\] kernel for 'exp' is not callable"):
        devrt._C.register_python_kernel("exp", REGDEV, ["float32"], 42)


# --- dtype names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, dtype",
    [
        ("float", devrt.float32),
        ("double", devrt.float64),
        ("half", devrt.float16),
        ("long", devrt.int64),
        ("int", devrt.int32),
        ("float32", devrt.float32),
    ],
)
def test_dtype_names_follow_devrt(name, dtype):
    assert devrt.dtype_from_name(name) is dtype
    assert getattr(devrt, name) is dtype
    assert devrt.tensor([1], dtype=name).dtype is dtype


def test_kernel_dtypes_accept_aliases():
    status = plug(
        lambda r: r.register_kernel(
            "maximum", REGDEV, ["float", "double", "half", "long", "int"], _add
        )
    )
    assert status.loaded, status.error
    assert sorted(kernels("maximum")[REGDEV]) == ["float16", "float32", "float64", "int32", "int64"]


def test_unknown_dtype_name_is_refused():
    with pytest.raises(TypeError, match=r"^\[register_kernel\] not a dtype: 'floaty'"):
        devrt._C.register_python_kernel("minimum", REGDEV, ["floaty"], _add)


# --- kernels that raise -------------------------------------------------------------------


class KernelBug(RuntimeError):
    pass


@pytest.mark.parametrize(
    "raised, expected",
    [
        (ValueError("bad value 17"), ValueError),
        (ZeroDivisionError("division by zero"), ValueError),
        (TypeError("wrong type"), TypeError),
        (KeyError("k"), IndexError),
        (IndexError("out of range"), IndexError),
        (NotImplementedError("not yet"), NotImplementedError),
        (MemoryError("full"), MemoryError),
        (KernelBug("a bug"), RuntimeError),
        (AssertionError("assert failed"), RuntimeError),
    ],
)
def test_a_raising_kernel_gives_a_fitting_error_with_its_cause(raised, expected):
    a = on_dev([1, 2])
    RAISE.append(raised)
    with pytest.raises(expected) as info:
        a + a
    msg = str(info.value)
    assert msg.startswith(
        f"[add] the kernel of plugin '{OWNER}' on {REGDEV}:0 raised {type(raised).__name__}: "
    )
    assert info.value.__cause__ is raised
    # The process keeps working, and the cause does not leak onto later errors.
    RAISE.clear()
    assert (a + a).cpu().numpy().tolist() == [2, 4]
    with pytest.raises(ValueError) as later:
        a + on_dev([1, 2, 3])
    assert later.value.__cause__ is None


def test_a_raising_kernel_in_a_graph_session_keeps_its_cause():
    import devrt.graph as tf

    g = tf.Graph()
    with g.as_default(), tf.device(f"/{REGDEV}:0"):
        x = tf.placeholder(tf.float32, shape=(2,))
        y = x + x
    raised = ValueError("bad value in a graph")
    RAISE.append(raised)
    with tf.Session(graph=g) as sess:
        with pytest.raises(
            ValueError, match=rf"\[add\] the kernel of plugin '{OWNER}' on {REGDEV}:0"
        ) as info:
            sess.run(y, {x: np.array([1.0, 2.0], np.float32)})
        assert info.value.__cause__ is raised
        RAISE.clear()
        assert sess.run(y, {x: np.array([1.0, 2.0], np.float32)}).tolist() == [2.0, 4.0]


# --- the C ABI ------------------------------------------------------------------------------


class KernelDesc(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("op", ctypes.c_char_p),
        ("backend", ctypes.c_char_p),
        ("dtypes", ctypes.c_uint32),
        ("fn", ctypes.c_void_p),
        ("user_data", ctypes.c_void_p),
        ("flags", ctypes.c_uint32),
    ]


DEVRT_KERNEL_OVERRIDE = 1
_NATIVE_KERNEL = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)(lambda call: 0)


def core_library() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(Path(devrt._C.__file__).parent / "lib" / "libdevrt_core.so"))
    lib.devrt_register_kernel.argtypes = [ctypes.POINTER(KernelDesc)]
    lib.devrt_last_error.restype = ctypes.c_char_p
    return lib


def native_desc(op: str, flags: int, struct_size: int | None = None) -> KernelDesc:
    d = KernelDesc()
    d.struct_size = struct_size or ctypes.sizeof(KernelDesc)
    d.op = op.encode()
    d.backend = REGDEV.encode()
    d.dtypes = 1 << 6  # float32
    d.fn = ctypes.cast(_NATIVE_KERNEL, ctypes.c_void_p)
    d.flags = flags
    return d


def test_native_registration_follows_the_same_rules():
    lib = core_library()
    # A plugin built against the ABI before `flags` existed cannot override.
    old_size = KernelDesc.flags.offset
    assert lib.devrt_register_kernel(native_desc("add", DEVRT_KERNEL_OVERRIDE, old_size)) == 1
    assert b"already has a kernel from plugin 'regplug'" in lib.devrt_last_error()
    assert lib.devrt_register_kernel(native_desc("add", 0)) == 1
    assert lib.devrt_register_kernel(native_desc("reshape", DEVRT_KERNEL_OVERRIDE)) == 2
    assert b"'reshape' is a view op" in lib.devrt_last_error()
    assert lib.devrt_register_kernel(native_desc("add", DEVRT_KERNEL_OVERRIDE)) == 0
    # Give the owner its kernel back (it overrides in turn).
    devrt._C.begin_plugin_registration(OWNER)
    try:
        devrt._C.register_python_kernel("add", REGDEV, ["float32"], _add, True)
    finally:
        devrt._C.end_plugin_registration()
    assert (on_dev([1]) + on_dev([2])).cpu().numpy().tolist() == [3]
    assert CALLS == ["owner"]
