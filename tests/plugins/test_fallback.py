"""The CPU fallback: pydev has no ``exp`` kernel (nor ``sub``, ``neg``, ...);
with the fallback on it still trains a network that needs them, eagerly and
as a graph, and the placement report counts what ran on the CPU."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import devrt
import devrt.graph as tf
from devrt.testing import pydev, supports

DEV = pydev.NAME


@pytest.fixture(autouse=True)
def fallback_off():
    """Each test starts with the fallback off and an empty report."""
    devrt.set_fallback(None)
    devrt.reset_placement_report()
    yield
    devrt.set_fallback(None)
    devrt.reset_placement_report()


def on_dev(a) -> devrt.Tensor:
    return devrt.from_numpy(np.ascontiguousarray(a)).to(DEV)


def line(op: str, device: str = f"{DEV}:0") -> dict:
    found = [p for p in devrt.placement_report() if p["op"] == op and p["device"] == device]
    assert len(found) == 1, devrt.placement_report()
    return found[0]


def test_pydev_lacks_exp():
    # What the tests below rely on.
    assert not supports(DEV, "exp", "float32")
    assert supports("cpu", "exp", "float32")


def test_off_by_default_raises_as_before():
    assert devrt.get_fallback() is None
    with pytest.raises(
        NotImplementedError, match=r"^\[exp\] no kernel for dtype float32 on pydev:0"
    ):
        on_dev(np.ones(3, np.float32)).exp()
    assert devrt.placement_report() == []


def test_exp_runs_on_the_cpu_and_is_reported(rng):
    a = rng.standard_normal((5, 7)).astype(np.float32)
    devrt.set_fallback("cpu")
    assert devrt.get_fallback() == "cpu"
    y = on_dev(a).exp()
    assert y.device == devrt.device(DEV, 0)
    np.testing.assert_allclose(y.cpu().numpy(), np.exp(a), rtol=1e-6)
    p = line("exp")
    assert p == {
        "op": "exp",
        "device": "pydev:0",
        "ran_on": "cpu",
        "calls": 1,
        "bytes_to_host": a.nbytes,
        "bytes_from_host": a.nbytes,
        "bytes": 2 * a.nbytes,
    }
    on_dev(a).exp()
    assert line("exp")["calls"] == 2
    devrt.reset_placement_report()
    assert devrt.placement_report() == []


def test_non_contiguous_and_broadcast_operands(rng):
    a = rng.standard_normal((4, 6)).astype(np.float64)
    b = rng.standard_normal((6,)).astype(np.float64)
    devrt.set_fallback("cpu")
    t = on_dev(a)
    np.testing.assert_allclose(t.t().exp().cpu().numpy(), np.exp(a.T))
    np.testing.assert_allclose(t[:, ::2].exp().cpu().numpy(), np.exp(a[:, ::2]))
    np.testing.assert_allclose((t - on_dev(b)).cpu().numpy(), a - b)
    # The broadcast operand moves once, not once per row.
    assert line("sub")["bytes_to_host"] == a.nbytes + b.nbytes


def test_fallback_writes_into_a_strided_output(rng):
    # index_put writes some elements of an existing view: the fallback must
    # keep the others.
    a = rng.standard_normal((4, 6)).astype(np.float32)
    devrt.set_fallback("cpu")
    t = on_dev(a)
    view = t[:, 1::2]
    view[devrt.tensor([0, 2], device=DEV)] = 5.0
    expected = a.copy()
    expected[[0, 2], 1::2] = 5.0
    np.testing.assert_array_equal(t.cpu().numpy(), expected)
    assert line("index_put")["calls"] == 1


def test_kernel_errors_pass_through_the_fallback():
    devrt.set_fallback("cpu")
    t = on_dev(np.arange(4, dtype=np.float32))
    with pytest.raises(IndexError, match=r"^\[index\]"):
        t[devrt.tensor([7], device=DEV)]
    # Nothing that failed is counted, and the process keeps working.
    assert all(p["op"] != "index" for p in devrt.placement_report())
    assert t[devrt.tensor([3], device=DEV)].cpu().numpy().tolist() == [3.0]


def net_data(rng):
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.standard_normal((16, 1)).astype(np.float32)
    w1 = (0.5 * rng.standard_normal((4, 8))).astype(np.float32)
    w2 = (0.5 * rng.standard_normal((8, 1))).astype(np.float32)
    return x, y, w1, w2


def train_eager(device, x, y, w1, w2, steps=5, lr=0.1):
    X, Y = devrt.from_numpy(x).to(device), devrt.from_numpy(y).to(device)
    W1 = devrt.from_numpy(w1.copy()).to(device).requires_grad_()
    W2 = devrt.from_numpy(w2.copy()).to(device).requires_grad_()
    losses = []
    for _ in range(steps):
        h = 1 / (1 + devrt.exp(-(X @ W1)))  # a sigmoid from exp
        loss = ((h @ W2 - Y) ** 2).mean()
        loss.backward()
        with devrt.no_grad():
            for w in (W1, W2):
                w -= lr * w.grad
                w.grad = None
        losses.append(loss.item())
    return losses, W1.cpu().numpy(), W2.cpu().numpy()


def test_eager_training_with_fallback_matches_cpu(rng):
    data = net_data(rng)
    ref_losses, ref_w1, ref_w2 = train_eager("cpu", *data)
    assert devrt.placement_report() == []  # the CPU never falls back
    devrt.set_fallback("cpu")
    losses, w1, w2 = train_eager(DEV, *data)
    assert losses[-1] < losses[0]
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
    np.testing.assert_allclose(w1, ref_w1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w2, ref_w2, rtol=1e-5, atol=1e-6)
    p = line("exp")
    # Forward and backward each need exp of the (16, 8) pre-activation.
    nbytes = 16 * 8 * 4
    assert p["calls"] >= 5
    assert p["bytes_to_host"] == p["calls"] * nbytes
    assert p["bytes_from_host"] == p["calls"] * nbytes
    # pydev's own kernels ran on pydev: they are not in the report.
    assert all(q["op"] not in pydev.KERNELS for q in devrt.placement_report())


def train_graph(device, x, y, w1, w2, steps=5, lr=0.1):
    g = tf.Graph()
    with g.as_default(), tf.device(device):
        X = tf.placeholder(tf.float32, shape=(None, 4))
        Y = tf.placeholder(tf.float32, shape=(None, 1))
        W1 = tf.Variable(w1)
        W2 = tf.Variable(w2)
        h = 1.0 / (1.0 + tf.exp(-tf.matmul(X, W1)))
        loss = tf.reduce_mean(tf.square(tf.matmul(h, W2) - Y))
        train = tf.train.GradientDescentOptimizer(lr).minimize(loss)
        init = tf.global_variables_initializer()
    with tf.Session(graph=g) as sess:
        sess.run(init)
        losses = [sess.run([loss, train], {X: x, Y: y})[0] for _ in range(steps)]
        return losses, sess.run(W1)


def test_graph_training_with_fallback_matches_cpu(rng):
    data = net_data(rng)
    ref_losses, ref_w1 = train_graph("/cpu:0", *data)
    devrt.set_fallback("cpu")
    losses, w1 = train_graph(f"/{DEV}:0", *data)
    assert losses[-1] < losses[0]
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
    np.testing.assert_allclose(w1, ref_w1, rtol=1e-5, atol=1e-6)
    p = line("exp")
    assert p["calls"] >= 5
    assert p["bytes_to_host"] == p["calls"] * 16 * 8 * 4


def test_graph_without_fallback_raises():
    with pytest.raises(NotImplementedError, match=r"no kernel for dtype float32 on pydev:0"):
        train_graph(f"/{DEV}:0", *net_data(np.random.default_rng(0)), steps=1)


def test_strict_mode_refuses_the_fallback():
    devrt.set_fallback("strict")
    assert devrt.get_fallback() == "strict"
    with pytest.raises(NotImplementedError, match=r"^\[exp\] .*pydev:0.*strict"):
        on_dev(np.ones(3, np.float32)).exp()
    assert devrt.placement_report() == []
    # Kernels the device has still run.
    assert (on_dev(np.ones(2, np.float32)) * 2).cpu().numpy().tolist() == [2.0, 2.0]


def test_no_fallback_for_the_cpu_itself():
    devrt.set_fallback("cpu")
    with pytest.raises(TypeError):
        devrt.tensor([1.5]).bitwise_not()
    assert devrt.placement_report() == []


@pytest.mark.parametrize("bad", ["gpu", "CPU", "on"])
def test_unknown_mode_is_refused(bad):
    with pytest.raises(
        ValueError, match=r"^\[fallback\] the fallback mode must be 'off', 'cpu' or 'strict', got"
    ):
        devrt.set_fallback(bad)
    assert devrt.get_fallback() is None


def test_mode_of_wrong_type_is_refused():
    with pytest.raises(TypeError, match=r"^\[set_fallback\] the mode must be None"):
        devrt.set_fallback(True)


def run_py(code: str, **env_vars: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, **env_vars)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PROGRAM = """
    import numpy as np
    import devrt
    from devrt.testing import pydev
    devrt.register_plugin(pydev, name="pydev")
    print("mode", devrt.get_fallback())
    x = devrt.from_numpy(np.zeros(3, np.float32)).to("pydev")
    try:
        print("exp", x.exp().cpu().numpy().tolist())
    except Exception as e:
        print("error", type(e).__name__, e)
"""


def test_environment_turns_the_fallback_on():
    r = run_py(PROGRAM, DEVRT_FALLBACK="cpu")
    assert r.returncode == 0, r.stderr
    assert "mode cpu" in r.stdout
    assert "exp [1.0, 1.0, 1.0]" in r.stdout


def test_environment_strict():
    r = run_py(PROGRAM, DEVRT_FALLBACK="strict")
    assert r.returncode == 0, r.stderr
    assert "mode strict" in r.stdout
    assert "error NotImplementedError [exp]" in r.stdout


def test_environment_with_an_unknown_mode_names_the_variable():
    r = run_py(PROGRAM, DEVRT_FALLBACK="yes please")
    assert r.returncode != 0
    assert "DEVRT_FALLBACK must be 'off', 'cpu' or 'strict', got 'yes please'" in r.stderr
