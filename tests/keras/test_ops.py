"""keras.ops reductions against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from devrt.keras import ops


@pytest.mark.parametrize("axis,keepdims", [(None, False), (None, True), (1, False), ((0, 2), True)])
def test_var_std_moments(axis, keepdims):
    a = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(
        ops.var(a, axis, keepdims).numpy(), np.var(a, axis=axis, keepdims=keepdims), rtol=1e-5
    )
    np.testing.assert_allclose(
        ops.std(a, axis, keepdims).numpy(), np.std(a, axis=axis, keepdims=keepdims), rtol=1e-5
    )
    axes = (0, 1, 2) if axis is None else axis
    mean, variance = ops.moments(a, axes, keepdims)
    np.testing.assert_allclose(
        mean.numpy(), a.mean(axis=axes, keepdims=keepdims), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(variance.numpy(), a.var(axis=axes, keepdims=keepdims), rtol=1e-5)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "prod", "var", "std", "logsumexp"])
@pytest.mark.parametrize("axis", [(), []])
def test_empty_axis_reduces_nothing(name, axis):
    # As NumPy (and Keras): an empty axis tuple reduces no dimension, where
    # the eager API's empty dim list reduces every one.
    a = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    refs = {"max": np.max, "min": np.min, "logsumexp": lambda a, axis: a}
    ref = refs[name] if name in refs else getattr(np, name)
    got = getattr(ops, name)(a, axis)
    assert tuple(got.shape) == (2, 3)
    np.testing.assert_allclose(got.numpy(), ref(a, axis=tuple(axis)), rtol=1e-6)
