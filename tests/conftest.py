"""The project's tests take the device matrix of the conformance suite
(devrt.testing.fixtures): tests here that take ``device`` run on every
selected device, as the suite's do. The pure-Python test backend is
registered for every test, since unit tests also look at its memory."""

from __future__ import annotations

from devrt.testing.fixtures import (  # noqa: F401
    device,
    need,
    pytest_generate_tests,
    register_pydev,
    rng,
)

register_pydev()
