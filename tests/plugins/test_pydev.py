"""pydev, the backend written in Python: its kernels run through the same
dispatcher as the native ones, its tensors move to and from the CPU, and the
tooling (``devrt backends``, the catalogue) shows it."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt import __main__ as cli
from devrt.testing import pydev, supports
from devrt.testing.pydev import CallTrace

DEV = pydev.NAME


def to_dev(arr: np.ndarray) -> devrt.Tensor:
    return devrt.from_numpy(np.ascontiguousarray(arr)).to(DEV)


def host(t: devrt.Tensor) -> np.ndarray:
    assert t.device.type == DEV
    return t.cpu().numpy()


def data(rng, shape, dtype):
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(-5, 6, size=shape).astype(dtype)


# --- the ops pydev implements -------------------------------------------------------


@pytest.mark.parametrize("dtype", pydev.KERNELS["add"][1])
def test_add(rng, dtype):
    a, b = data(rng, (3, 4), dtype), data(rng, (3, 4), dtype)
    r = to_dev(a) + to_dev(b)
    assert r.device == devrt.device(DEV, 0)
    assert r.dtype.name == dtype
    np.testing.assert_array_equal(host(r), a + b)


@pytest.mark.parametrize("dtype", pydev.KERNELS["mul"][1])
def test_mul(rng, dtype):
    a, b = data(rng, (2, 5), dtype), data(rng, (2, 5), dtype)
    r = devrt.mul(to_dev(a), to_dev(b))
    assert r.dtype.name == dtype
    np.testing.assert_array_equal(host(r), a * b)


@pytest.mark.parametrize(
    "sa, sb", [((3, 4), (4,)), ((3, 1), (1, 5)), ((2, 1, 4), (3, 1)), ((), (2, 3))]
)
def test_broadcasting(rng, sa, sb):
    a, b = data(rng, sa, "float32"), data(rng, sb, "float32")
    np.testing.assert_allclose(host(to_dev(a) + to_dev(b)), a + b, rtol=1e-6)
    np.testing.assert_allclose(host(to_dev(a) * to_dev(b)), a * b, rtol=1e-6)


def test_non_contiguous_inputs(rng):
    a = data(rng, (4, 6), "float64")
    b = data(rng, (6, 4), "float64")
    ta, tb = to_dev(a), to_dev(b)
    np.testing.assert_allclose(host(ta.t() + tb), a.T + b)
    np.testing.assert_allclose(host(ta[:, ::2] * tb.t()[:, 1::2]), a[:, ::2] * b.T[:, 1::2])
    np.testing.assert_allclose(host(ta[1:].relu()), np.maximum(a[1:], 0))


def test_python_number_operands(rng):
    a = data(rng, (3, 3), "float32")
    t = to_dev(a)
    np.testing.assert_allclose(host(t + 2.5), a + np.float32(2.5), rtol=1e-6)
    np.testing.assert_allclose(host(3 * t), 3 * a, rtol=1e-6)
    i = to_dev(np.arange(6, dtype=np.int64))
    r = i * 2
    assert r.dtype is devrt.int64
    assert host(r).tolist() == [0, 2, 4, 6, 8, 10]


def test_in_place_add(rng):
    a, b = data(rng, (3, 4), "float32"), data(rng, (3, 4), "float32")
    t = to_dev(a)
    t.add_(to_dev(b))
    np.testing.assert_allclose(host(t), a + b, rtol=1e-6)
    t *= to_dev(b)
    np.testing.assert_allclose(host(t), (a + b) * b, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_in_place_add_of_python_number(dtype):
    # `t + 1` works on pydev (the number is made in the compute dtype); the
    # in-place form must too.
    t = to_dev(np.arange(4).astype(dtype))
    assert host(t + 1).tolist() == [1, 2, 3, 4]
    t += 1
    assert host(t).tolist() == [1, 2, 3, 4]
    t.mul_(2)
    assert host(t).tolist() == [2, 4, 6, 8]


@pytest.mark.parametrize("dtype", pydev.KERNELS["relu"][1])
def test_relu(rng, dtype):
    a = data(rng, (4, 5), dtype)
    r = to_dev(a).relu()
    assert r.dtype.name == dtype
    np.testing.assert_array_equal(host(r), np.maximum(a, 0))
    np.testing.assert_array_equal(host(devrt.relu(to_dev(a))), np.maximum(a, 0))


@pytest.mark.parametrize("dtype", pydev.KERNELS["matmul"][1])
@pytest.mark.parametrize(
    "sa, sb",
    [
        ((3, 4), (4, 5)),
        ((4,), (4, 2)),
        ((3, 4), (4,)),
        ((2, 3, 4), (4, 5)),
        ((2, 1, 3, 4), (5, 4, 2)),
    ],
)
def test_matmul(rng, dtype, sa, sb):
    a, b = data(rng, sa, dtype), data(rng, sb, dtype)
    r = to_dev(a) @ to_dev(b)
    expected = a @ b
    assert r.shape == expected.shape
    assert r.dtype.name == dtype
    if np.dtype(dtype).kind == "f":
        np.testing.assert_allclose(host(r), expected, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_array_equal(host(r), expected)


def test_matmul_of_transposed_operands(rng):
    a, b = data(rng, (4, 3), "float64"), data(rng, (5, 4), "float64")
    r = to_dev(a).t() @ to_dev(b).t()
    np.testing.assert_allclose(host(r), a.T @ b.T)


@pytest.mark.parametrize("dtype", pydev.KERNELS["sum"][1])
@pytest.mark.parametrize(
    "dim, keepdim",
    [(None, False), (0, False), (1, True), ((0, 2), False), (-1, True), ((0, 1, 2), True)],
)
def test_sum(rng, dtype, dim, keepdim):
    a = data(rng, (2, 3, 4), dtype)
    t = to_dev(a)
    r = t.sum() if dim is None else t.sum(dim, keepdim=keepdim)
    expected = a.sum(axis=dim, keepdims=keepdim)
    assert r.shape == np.shape(expected)
    assert r.dtype.name == dtype
    np.testing.assert_allclose(host(r), expected, rtol=1e-5, atol=1e-5)


def test_composite_expression(rng):
    x = data(rng, (5, 3), "float32")
    w = data(rng, (3, 4), "float32")
    b = data(rng, (4,), "float32")
    out = ((to_dev(x) @ to_dev(w)) + to_dev(b)).relu().sum(0)
    np.testing.assert_allclose(host(out), np.maximum(x @ w + b, 0).sum(0), rtol=1e-5, atol=1e-5)


def test_kernels_are_the_python_callables():
    p = to_dev(np.ones((2, 2), np.float32))
    with CallTrace() as trace:
        p + p
        p * p
        p @ p
        p.relu()
        p.sum()
    for op in ("add", "mul", "matmul", "relu", "sum"):
        assert trace.called(pydev.KERNELS[op][0]), op
    # ... and the CPU does not run pydev's kernels
    c = devrt.ones(2, 2)
    with CallTrace() as trace:
        c + c
    assert not trace.called(pydev.KERNELS["add"][0])


def test_outputs_live_in_pydev_memory():
    p = to_dev(np.ones(1000, np.float32))
    gc_stats = devrt.memory_stats(DEV)
    r = p + p
    after = devrt.memory_stats(DEV)
    assert after["allocations"] == gc_stats["allocations"] + 1
    assert after["allocated"] - gc_stats["allocated"] >= r.nbytes


def test_unimplemented_op_is_not_silently_run_elsewhere():
    p = to_dev(np.ones(3, np.float32))
    with pytest.raises(NotImplementedError, match=r"^\[sub\].*" + DEV):
        p - p


# --- moving tensors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["bool", "uint8", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
)
def test_round_trip_cpu_pydev_cpu(name):
    dtype = getattr(devrt, name)
    src = devrt.tensor([[0, 1, 2], [3, 4, 5]], dtype=dtype)
    p = src.to(DEV)
    assert p.device.type == DEV
    assert p.dtype is dtype
    assert p.shape == (2, 3)
    assert not p._is_view_of(src)
    back = p.cpu()
    assert back.device == "cpu"
    assert back.dtype is dtype
    conv = (lambda t: t.float()) if name == "bfloat16" else (lambda t: t)
    assert conv(back).tolist() == conv(src).tolist()


def test_move_copies_rather_than_aliases():
    src = devrt.tensor([1.0, 2.0, 3.0])
    p = src.to(DEV)
    src[0] = 100.0
    assert p.cpu().tolist() == [1.0, 2.0, 3.0]
    back = p.to("cpu")
    p.add_(devrt.tensor([1.0, 1.0, 1.0]).to(DEV))
    assert back.tolist() == [1.0, 2.0, 3.0]


def test_moving_non_contiguous_cpu_tensor_to_pydev():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    p = devrt.from_numpy(a).t().to(DEV)
    assert p.shape == (4, 3)
    np.testing.assert_array_equal(p.cpu().numpy(), a.T)


@pytest.mark.parametrize(
    "make, np_make",
    [
        (lambda t: t.t(), lambda a: a.T),
        (lambda t: t[:, 1:], lambda a: a[:, 1:]),
        (lambda t: t[::2], lambda a: a[::2]),
    ],
    ids=["transposed", "sliced", "stepped"],
)
def test_moving_non_contiguous_pydev_tensor_to_cpu(make, np_make):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    p = to_dev(a)
    np.testing.assert_array_equal(make(p).cpu().numpy(), np_make(a))


def test_to_same_device_is_identity():
    p = to_dev(np.ones(3, np.float32))
    assert p.to(DEV) is p
    assert p.to(f"{DEV}:0") is p


def test_pydev_memory_is_host_memory():
    p = to_dev(np.arange(4, dtype=np.float64))
    n = p.numpy()
    assert n.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert n.__array_interface__["data"][0] == p.data_ptr()
    assert p.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert (
        repr(p) == f"tensor([0., 1., 2., 3.], dtype=devrt.float64, device='{DEV}:0')"
        or repr(p) == f"tensor([0., 1., 2., 3.], device='{DEV}:0', dtype=devrt.float64)"
    )


# --- tooling -------------------------------------------------------------------------------


def test_devrt_backends_lists_pydev(capsys):
    assert cli.main(["backends"]) == 0
    out = capsys.readouterr().out
    total = len(devrt.catalogue())
    lines = [line for line in out.splitlines() if line.split()[:1] == [DEV]]
    assert lines, out
    fields = lines[0].split()
    assert "loaded" in fields
    assert DEV in fields[1:]
    assert f"{len(pydev.KERNELS)}/{total}" in fields
    assert "NumPy callables" in out  # its devrt_describe


def test_backends_entry():
    entry = {b["name"]: b for b in devrt.backends()}[DEV]
    assert entry["registered"]
    assert entry["device_count"] == 1
    assert entry["host_accessible"]
    assert entry["kernel_count"] == len(pydev.KERNELS)


def test_plugin_status_shows_pydev_loaded():
    status = {s.name: s for s in devrt.plugin_status()}[DEV]
    assert status.loaded
    assert status.error is None
    assert status.backends == [DEV]


def test_catalogue_shows_pydev_kernels():
    catalogue = {op["name"]: op for op in devrt.catalogue()}
    for op, (_, dtypes) in pydev.KERNELS.items():
        assert sorted(catalogue[op]["kernels"][DEV]) == sorted(dtypes), op
        assert "cpu" in catalogue[op]["kernels"]
    others = [name for name, op in catalogue.items() if DEV in op["kernels"]]
    assert sorted(others) == sorted(pydev.KERNELS)
    assert supports(DEV, "add", "float32")
    assert supports(DEV, "add", devrt.int64)
    assert not supports(DEV, "add", "bool")
    assert not supports(DEV, "sub")


def test_registering_pydev_twice_is_refused():
    with pytest.raises(ValueError, match=r"^\[register_plugin\]"):
        devrt.register_plugin(pydev, name=DEV)
    assert {s.name: s for s in devrt.plugin_status()}[DEV].loaded
