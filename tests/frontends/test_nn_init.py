"""devrt.nn.init: each initializer's distribution (bounds, moments), in-place
semantics under no_grad, the gain table and fan computation, against the
formulas torch.nn.init documents."""

from __future__ import annotations

import math

import numpy as np
import pytest

import devrt
import devrt.nn as nn
from devrt.nn import init


def np_of(t) -> np.ndarray:
    return np.array(t.detach().cpu().numpy(), copy=True)


@pytest.fixture
def weight():
    devrt.manual_seed(7)
    return nn.Parameter(devrt.empty(200, 300))


def test_initializers_write_in_place_without_recording(weight):
    for fn in (init.uniform_, init.normal_, init.zeros_, init.ones_, init.xavier_uniform_):
        out = fn(weight)
        assert out is weight
        assert weight.is_leaf and weight.grad_fn is None and weight.requires_grad


def test_uniform_and_normal(weight):
    w = np_of(init.uniform_(weight, -2.0, 3.0))
    assert w.min() >= -2.0 and w.max() <= 3.0
    assert abs(w.mean() - 0.5) < 0.02 and abs(w.std() - 5 / math.sqrt(12)) < 0.02
    w = np_of(init.normal_(weight, mean=1.0, std=0.5))
    assert abs(w.mean() - 1.0) < 0.01 and abs(w.std() - 0.5) < 0.01


def test_constants(weight):
    assert np.all(np_of(init.constant_(weight, 0.25)) == 0.25)
    assert np.all(np_of(init.zeros_(weight)) == 0)
    assert np.all(np_of(init.ones_(weight)) == 1)


def test_xavier(weight):
    fan_in, fan_out = 300, 200
    bound = math.sqrt(6 / (fan_in + fan_out))
    w = np_of(init.xavier_uniform_(weight, gain=2.0))
    assert np.abs(w).max() <= 2 * bound and np.abs(w).max() > 0.99 * 2 * bound
    w = np_of(init.xavier_normal_(weight))
    assert abs(w.std() - math.sqrt(2 / (fan_in + fan_out))) < 0.002


def test_kaiming(weight):
    w = np_of(init.kaiming_uniform_(weight, nonlinearity="relu"))
    bound = math.sqrt(2) * math.sqrt(3 / 300)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    w = np_of(init.kaiming_uniform_(weight, a=math.sqrt(5)))  # Linear's default
    assert np.abs(w).max() <= 1 / math.sqrt(300) + 1e-7
    w = np_of(init.kaiming_normal_(weight, mode="fan_out", nonlinearity="relu"))
    assert abs(w.std() - math.sqrt(2 / 200)) < 0.002 and abs(w.mean()) < 0.002
    with pytest.raises(ValueError, match="fan_in, fan_out"):
        init.kaiming_normal_(weight, mode="fan_avg")


def test_float64_and_conv_shaped_tensors():
    t = devrt.empty(16, 4, 3, 3, dtype=devrt.float64)
    assert init._calculate_fan_in_and_fan_out(t) == (36, 144)
    w = np_of(init.kaiming_uniform_(t))
    assert t.dtype is devrt.float64
    assert np.abs(w).max() <= math.sqrt(2 / 1.0001) * math.sqrt(3 / 36)


def test_calculate_gain_matches_torch_table():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01**2))
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "x")


def test_fan_errors_and_empty_tensors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(devrt.empty(5))
    with pytest.warns(UserWarning, match="zero-element"):
        init.uniform_(devrt.empty(0, 3))
    with pytest.raises(NotImplementedError, match="manual_seed"):
        init.normal_(devrt.empty(3), generator=object())


def test_seeded_initialization_is_reproducible():
    devrt.manual_seed(42)
    a = np_of(nn.Linear(10, 5).weight)
    devrt.manual_seed(42)
    np.testing.assert_array_equal(np_of(nn.Linear(10, 5).weight), a)
