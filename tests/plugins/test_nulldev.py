"""nulldev, the device that allocates and computes nothing: the layers above
the kernels (shapes, autograd, graphs, memory, copies) run on it at no
arithmetic cost, and the conformance suite leaves it out."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt.testing import fixtures, nulldev
from devrt.testing.workloads import two_layer_eager, two_layer_graph

DEV = nulldev.register()


@pytest.fixture
def memory():
    devrt.empty_cache()
    nulldev.MEMORY.reset()
    yield nulldev.MEMORY
    nulldev.MEMORY.capacity = nulldev.NullMemory.capacity


def test_registering_twice_is_one_device():
    assert nulldev.register() == DEV
    assert [b["name"] for b in devrt.backends()].count(DEV) == 1
    info = next(b for b in devrt.backends() if b["name"] == DEV)
    assert info["host_accessible"] is False


def test_it_declares_the_cpus_kernels():
    for op in devrt.catalogue():
        assert op["kernels"].get(DEV) == op["kernels"].get("cpu"), op["name"]


def test_the_conformance_suite_leaves_it_out():
    assert DEV in fixtures.registered_device_types()
    assert DEV not in fixtures.default_devices()


def test_kernels_compute_nothing_and_values_read_back_as_zeros(memory, rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    t = devrt.from_numpy(a).to(DEV)
    assert memory.bytes_in == a.nbytes
    r = (t + 1).exp()
    assert (r.shape, r.dtype, r.device) == ((3, 4), devrt.float32, devrt.device(DEV, 0))
    np.testing.assert_array_equal(r.cpu().numpy(), np.zeros((3, 4), np.float32))
    assert memory.bytes_out == a.nbytes
    assert t.sum().item() == 0.0


def test_shapes_and_dtypes_follow_the_core(rng):
    x = devrt.empty((8, 5), device=DEV)
    i = devrt.zeros(8, dtype=devrt.int64).to(DEV)
    assert (x @ x.T).shape == (8, 8)
    assert (x.sum(dim=0, keepdim=True)).shape == (1, 5)
    assert (x > 0).dtype is devrt.bool
    assert (i + 0.5).dtype is devrt.float32
    assert devrt.cat([x, x], dim=1).shape == (8, 10)


def test_a_tensor_of_any_size_costs_no_host_memory(memory):
    big = devrt.empty((1 << 20, 1 << 12), device=DEV)  # 16 GiB of float32
    assert memory.in_use >= big.numel() * 4
    assert devrt.memory_stats(DEV)["allocated"] >= big.numel() * 4
    del big
    devrt.empty_cache()
    assert memory.in_use == 0


def test_out_of_memory_raises_with_the_stats(memory):
    memory.capacity = 1 << 20
    with pytest.raises(devrt.OutOfMemoryError, match="nulldev"):
        devrt.empty((1 << 20,), device=DEV)
    devrt.empty((1 << 10,), device=DEV)  # the device keeps working


def test_training_steps_run_eagerly_and_as_a_graph(memory):
    assert two_layer_eager(DEV, steps=3) == [0.0, 0.0, 0.0]
    assert two_layer_graph(DEV, steps=3) == [0.0, 0.0, 0.0]


def test_a_training_step_copies_back_only_the_loss(memory):
    # An upper-layer property checked by counting bytes: the eager step
    # moves nothing to the host but the loss read by .item().
    x = devrt.empty((64, 1000), device=DEV)
    w = devrt.empty((1000, 10), device=DEV).requires_grad_()
    memory.reset()
    for _ in range(3):
        loss = x.mm(w).clamp(min=0).pow(2).sum()
        loss.backward()
        with devrt.no_grad():
            w -= 1e-3 * w.grad
        w.grad = None
        loss.item()
    assert memory.bytes_out == 3 * 4
