"""The device matrix's fixtures: every test that takes ``device`` runs once
per selected device.

The devices are those named by ``--devrt-device`` (see
:mod:`devrt.testing.plugin`), or by default every available one: ``cpu``,
``pydev`` (the pure-Python test backend, for the ops it declares), ``cuda``
and any other backend a plugin registered. A test of an op that a device
does not implement is skipped with that reason (the backend's capability
manifest), never failed. Without a GPU the cuda cases skip with the reason;
``DEVRT_REQUIRE_CUDA=1`` turns that skip into a failure.

A conftest takes these fixtures by importing them::

    from devrt.testing.fixtures import device, need, pytest_generate_tests, rng
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import devrt
import devrt.cuda
from devrt.testing import device_type, pydev, supports
from devrt.testing.plugin import DEVICE_KEY, MISSING_KEY, NEEDS_KEY

# Devices that run whether or not a plugin registered them: cuda's row skips
# with its reason (or fails under DEVRT_REQUIRE_CUDA=1) rather than vanish.
DEFAULT_DEVICES = ["cpu", pydev.NAME, "cuda"]
# Backends that are tools of devrt.testing, not devices under test: the
# recorder of devrt.testing.needs and the null device, which computes nothing.
NOT_UNDER_TEST = {"devrt_trace", "nulldev"}


def register_pydev() -> None:
    """Registers the pure-Python test backend, once per process."""
    if not any(s.name == pydev.NAME and s.loaded for s in devrt.plugin_status()):
        devrt.register_plugin(pydev, name=pydev.NAME)


def registered_device_types() -> list[str]:
    return [b["name"] for b in devrt.backends() if b["registered"]]


def default_devices() -> list[str]:
    """cpu, pydev, cuda, then every other registered backend."""
    register_pydev()
    extra = [
        name
        for name in registered_device_types()
        if name not in DEFAULT_DEVICES and name not in NOT_UNDER_TEST
    ]
    return DEFAULT_DEVICES + extra


_DEVICES_KEY = pytest.StashKey[list]()


def selected_devices(config: pytest.Config) -> list[str]:
    """The devices of this run: ``--devrt-device`` values, else the defaults.

    Decided once, when the run starts: a backend that a test module
    registers for its own tests while it is collected is not a device of the
    whole suite. A name no backend registered is a usage error (cuda
    excepted: its cases skip, or fail, with the reason the GPU is unusable)."""
    if _DEVICES_KEY not in config.stash:
        config.stash[_DEVICES_KEY] = _select_devices(config)
    return config.stash[_DEVICES_KEY]


def _select_devices(config: pytest.Config) -> list[str]:
    names = config.getoption("devrt_device", default=None) or []
    if not names:
        return default_devices()
    if pydev.NAME in map(device_type, names):
        register_pydev()
    known = registered_device_types()
    unknown = [n for n in names if device_type(n) not in known and device_type(n) != "cuda"]
    if unknown:
        raise pytest.UsageError(
            f"[--devrt-device] no backend registered for {', '.join(unknown)}; "
            f"registered: {', '.join(known)} (a third-party backend registers through "
            "the 'devrt.backends' entry points of its installed package)"
        )
    return list(dict.fromkeys(names))


def pytest_generate_tests(metafunc):
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", selected_devices(metafunc.config), indirect=True)


@pytest.fixture
def device(request):
    """The name of the device under test (``cpu``, ``pydev``, ``cuda``, ...)."""
    name = request.param
    request.node.user_properties.append((DEVICE_KEY, name))
    if device_type(name) == "cuda" and not devrt.cuda.is_available():
        reason = f"CUDA unavailable: {devrt.cuda.unavailable_reason()}"
        if os.environ.get("DEVRT_REQUIRE_CUDA") == "1":
            # A GPU run must not pass by skipping.
            pytest.fail(f"DEVRT_REQUIRE_CUDA=1 but {reason}")
        pytest.skip(reason)
    return name


@pytest.fixture
def need(device, request):
    """need(*ops, dtype=None): skip unless `device` implements every op (for
    `dtype`, if given). The ops a test needs label its row in the coverage
    table printed at the end of the run."""
    props = request.node.user_properties

    def check(*ops, dtype=None):
        dname = None if dtype is None else dtype if isinstance(dtype, str) else dtype.name
        for op in ops:
            if not supports(device, op, dname):
                props.append((MISSING_KEY, (op, dname)))
                pytest.skip(f"{device} has no '{op}' kernel" + (f" for {dname}" if dname else ""))
            props.append((NEEDS_KEY, (op, dname)))

    return check


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
