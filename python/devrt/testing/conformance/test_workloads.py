"""End-to-end workloads on every device (devrt.testing.workloads): the
two-layer network eagerly and as a graph, an MLP under SGD and under Adam,
a small CNN. Each trains for a few steps; its loss must fall and follow the
CPU's (the data, the initial values and the random streams are the same on
every device). A device that lacks a kernel the workload needs (found by
devrt.testing.needs, which runs the workload and records its ops) skips it
with the list."""

from __future__ import annotations

import numpy as np
import pytest

from devrt.testing import supports
from devrt.testing.needs import needed_ops
from devrt.testing.plugin import MISSING_KEY, NEEDS_KEY
from devrt.testing.workloads import WORKLOADS

STEPS = 20


@pytest.fixture(scope="module")
def cpu_losses():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = WORKLOADS[name].run("cpu", STEPS)
        return cache[name]

    return get


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_workload_trains_like_the_cpu(device, request, cpu_losses, name):
    needs = needed_ops(name)
    props = request.node.user_properties
    missing = needs.missing(device)
    if missing:
        props += [(MISSING_KEY, pair) for pair in missing]
        listed = ", ".join(f"{op} ({dtype})" for op, dtype in missing)
        pytest.skip(f"{device} lacks {listed}, needed by the {name} workload")
    props += [(NEEDS_KEY, (op, d)) for op, dtypes in needs.ops().items() for d in dtypes]

    losses = np.array(WORKLOADS[name].run(device, STEPS))
    assert np.all(np.isfinite(losses)), f"[{name}] non-finite loss on {device}: {losses}"
    assert losses[-1] < 0.9 * losses[0], (
        f"[{name}] the loss did not fall on {device}: {losses[0]:.4g} -> {losses[-1]:.4g}"
    )
    np.testing.assert_allclose(
        losses,
        cpu_losses(name),
        rtol=1e-2,
        err_msg=f"[{name}] the loss curve on {device} departs from the CPU's",
    )


def test_needs_are_recorded_from_the_run():
    # The report comes from the ops dispatched, phase by phase: the
    # forward pass of the eager network and the gradient of its relu.
    needs = needed_ops("two_layer_eager")
    assert {"matmul", "clamp", "pow", "sum"} <= set(needs.forward())
    assert "matmul" in needs.ops("backward")
    assert all(dtypes == ["float32"] for dtypes in needs.ops().values())
    cnn = needed_ops("cnn")
    # the convolution's kernels: the direct ones where the CPU has them
    # (the trace device declares the CPU's kernels), else im2col's
    conv = "conv2d_nhwc" if supports("cpu", "conv2d_nhwc", "float32") else "im2col"
    assert conv in cnn.forward() and "max_pool2d_backward" in cnn.backward()
