"""The surface PyTorch programs touch on any machine: nn.parallel wrappers,
torch.backends flags, torch.accelerator, device predicates, view_as and
indexing with a range."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
import devrt.nn as nn


def test_data_parallel_passes_through():
    devrt.manual_seed(0)
    inner = nn.Linear(3, 2)
    model = nn.DataParallel(inner, device_ids=[0])
    x = devrt.randn(4, 3)
    np.testing.assert_array_equal(model(x).detach().numpy(), inner(x).detach().numpy())
    assert model.module is inner
    assert list(model.state_dict()) == ["module.weight", "module.bias"]
    assert nn.parallel.DataParallel is nn.DataParallel
    out = nn.parallel.data_parallel(inner, x)
    np.testing.assert_array_equal(out.detach().numpy(), inner(x).detach().numpy())
    with pytest.raises(TypeError, match=r"^\[DataParallel\] argument 'module'"):
        nn.DataParallel(3)


def test_distributed_data_parallel_imports_and_refuses():
    from devrt.nn.parallel import DistributedDataParallel

    with pytest.raises(RuntimeError, match=r"^\[DistributedDataParallel\] Default process group"):
        DistributedDataParallel(nn.Linear(2, 2))


def test_backends_flags_and_listing():
    import devrt.backends.cudnn as cudnn

    assert devrt.backends.cudnn is cudnn
    assert cudnn.enabled is True and cudnn.deterministic is False
    saved = cudnn.benchmark
    try:
        devrt.backends.cudnn.benchmark = True
        assert cudnn.benchmark is True
    finally:
        cudnn.benchmark = saved
    assert cudnn.is_available() == devrt.cuda.is_available()
    assert devrt.backends.mps.is_available() is False
    # Called, devrt.backends still lists the device types.
    assert "cpu" in [b["name"] for b in devrt.backends() if b["registered"]]


def test_accelerator_follows_cuda():
    acc = devrt.accelerator
    assert acc.is_available() == devrt.cuda.is_available()
    assert acc.device_count() == (devrt.cuda.device_count() if acc.is_available() else 0)
    if acc.is_available():
        assert acc.current_accelerator().type == "cuda"
    else:
        assert acc.current_accelerator() is None
        with pytest.raises(RuntimeError, match=r"^\[set_device_index\]"):
            acc.set_device_index(0)
    assert acc.current_device_index() == 0
    device = acc.current_accelerator() or devrt.device("cpu")
    assert devrt.zeros(2, device=device).device.type == device.type


def test_device_predicates():
    x = devrt.zeros(2)
    assert x.is_cpu is True
    assert x.is_cuda is False and x.is_mps is False and x.is_xpu is False and x.is_meta is False


def test_view_as_and_range_indexing():
    x = devrt.arange(12.0).reshape(3, 4)
    a = np.arange(12.0).reshape(3, 4)
    assert tuple(x.view_as(devrt.zeros(2, 6)).shape) == (2, 6)
    with pytest.raises(TypeError, match=r"^\[view_as\] argument 'other' must be a Tensor"):
        x.view_as((2, 6))
    np.testing.assert_array_equal(x[range(2)].numpy(), a[:2])
    np.testing.assert_array_equal(x[:, range(1, 4, 2)].numpy(), a[:, 1:4:2])
    np.testing.assert_array_equal(x[range(3), range(3)].numpy(), a[[0, 1, 2], [0, 1, 2]])
    np.testing.assert_array_equal(x[[2, 0]].numpy(), a[[2, 0]])
    assert tuple(x[range(0)].shape) == (0, 4)
    x[range(1, 3)] = 0.0
    a[1:3] = 0.0
    np.testing.assert_array_equal(x.numpy(), a)
