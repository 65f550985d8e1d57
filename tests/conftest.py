"""The device matrix: every backend test runs on every available device.

Devices: ``cpu``; ``pydev``, the pure-Python test backend (for the ops it
declares); ``cuda`` when a CUDA backend is loaded. A test of an op that a
device does not implement is skipped with that reason (the backend's
capability manifest). Without a GPU the cuda cases skip with the reason;
``DEVRT_REQUIRE_CUDA=1`` turns that skip into a failure.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import devrt
import devrt.cuda
from devrt.testing import pydev, supports

if not any(s.name == pydev.NAME and s.loaded for s in devrt.plugin_status()):
    devrt.register_plugin(pydev, name=pydev.NAME)

DEVICES = ["cpu", pydev.NAME, "cuda"]


def pytest_generate_tests(metafunc):
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", DEVICES, indirect=True)


@pytest.fixture
def device(request):
    name = request.param
    if name == "cuda" and not devrt.cuda.is_available():
        reason = f"CUDA unavailable: {devrt.cuda.unavailable_reason()}"
        if os.environ.get("DEVRT_REQUIRE_CUDA") == "1":
            # A GPU run must not pass by skipping.
            pytest.fail(f"DEVRT_REQUIRE_CUDA=1 but {reason}")
        pytest.skip(reason)
    return name


@pytest.fixture
def need(device):
    """need(op, dtype=None): skip unless `device` implements `op`."""

    def check(*ops, dtype=None):
        for op in ops:
            if not supports(device, op, dtype):
                pytest.skip(f"{device} has no '{op}' kernel" + (f" for {dtype}" if dtype else ""))

    return check


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
