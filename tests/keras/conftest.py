"""Fixtures of the Keras front-end tests.

``kdevice``: the device fixture's device, entered as ``keras.device(...)``
so that the model's variables and data live there. A test on a device that
lacks a kernel the model needs is skipped with the kernel's error (the
device's capability manifest), never failed; on the CPU every op exists
and such an error fails the test.

``keras3``: the real Keras 3 on its torch backend, as an oracle; tests that
need it skip where it is not installed.
"""

from __future__ import annotations

import os

import pytest

from devrt import keras


@pytest.fixture
def kdevice(device):
    with keras.device(device):
        yield device


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    try:
        return (yield)
    except NotImplementedError as error:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("device", "cpu") != "cpu":
            pytest.skip(f"{params['device']} lacks a kernel: {error}")
        raise


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()
    yield


@pytest.fixture(scope="session")
def keras3():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    if os.environ["KERAS_BACKEND"] != "torch":
        pytest.skip("the Keras 3 oracle runs on its torch backend")
    pytest.importorskip("torch")
    return pytest.importorskip("keras")
