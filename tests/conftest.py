"""The project's tests take the device matrix of the conformance suite
(devrt.testing.fixtures): tests here that take ``device`` run on every
selected device, as the suite's do. The pure-Python test backend is
registered for every test, since unit tests also look at its memory."""

from __future__ import annotations

import os

# The Keras 3 oracle runs on its torch backend. Set before any test runs:
# where TensorFlow is installed (the `bench` extra), importing it (as
# tensorboard does) imports Keras with the backend of ~/.keras/keras.json.
os.environ.setdefault("KERAS_BACKEND", "torch")

from devrt.testing.fixtures import (  # noqa: F401
    device,
    need,
    pytest_generate_tests,
    register_pydev,
    rng,
)

register_pydev()
