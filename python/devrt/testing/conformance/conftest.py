"""The suite's fixtures: one parametrization over the selected devices."""

from devrt.testing.fixtures import device, need, pytest_generate_tests, rng  # noqa: F401
