"""devrt._composite: composite math written once, run through each
implementation of the op protocol.

Each composite runs eagerly (devrt tensors, autograd) and as a graph
(Session.run, tf.gradients) on the same data; both are checked against
PyTorch (values and derivatives), and the update rules are checked to give
the same numbers eagerly and in a graph, and each front end's numbers
against its framework's formula.
"""

from __future__ import annotations

import numpy as np
import pytest

import devrt
import devrt.graph as tf
from devrt import keras
from devrt._composite import activations as act
from devrt._composite import initializers as init
from devrt._composite import losses, ops_for
from devrt._composite import normalization as norm
from devrt._composite import optimizers as rules
from devrt._composite.eager import EAGER, KERAS_SYMBOLIC
from devrt._composite.graph import GRAPH

# The oracle; a test dependency (pyproject's `test` extra).
torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def np_of(t) -> np.ndarray:
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


def eager_and_grad(fn, *arrays):
    """fn(EAGER, *tensors) and the gradient of its sum w.r.t. the first."""
    xs = [devrt.tensor(a, requires_grad=(i == 0)) for i, a in enumerate(arrays)]
    out = fn(EAGER, *xs)
    out.sum().backward()
    return np_of(out), np_of(xs[0].grad)


def graph_and_grad(fn, *arrays):
    """fn(GRAPH, *placeholders) and the gradient of its sum, by Session.run."""
    phs = [tf.placeholder(tf.as_dtype(a.dtype.name), a.shape) for a in arrays]
    out = fn(GRAPH, *phs)
    (grad,) = tf.gradients(tf.reduce_sum(out), [phs[0]])
    with tf.Session() as sess:
        value, g = sess.run([out, grad], dict(zip(phs, arrays)))
    return value, g


def torch_and_grad(fn, *arrays):
    xs = [torch.tensor(a, requires_grad=(i == 0)) for i, a in enumerate(arrays)]
    out = fn(*xs)
    out.sum().backward()
    return out.detach().numpy(), xs[0].grad.numpy()


def check_everywhere(composite, reference, *arrays, rtol=1e-6, atol=1e-7):
    want, want_grad = torch_and_grad(reference, *arrays)
    for run in (eager_and_grad, graph_and_grad):
        got, got_grad = run(composite, *arrays)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
        np.testing.assert_allclose(got_grad, want_grad, rtol=rtol, atol=atol)


# The interesting points: 0 (where the branches meet) and far out (overflow).
X = np.array([-90.0, -20.0, -3.0, -0.5, 0.0, 0.5, 3.0, 20.0, 90.0], np.float32)


# --- the protocol -------------------------------------------------------------------------

UNARY = "neg square sqrt rsqrt exp log log1p expm1 abs tanh sigmoid erf relu".split()
BINARY = "add sub mul div maximum minimum greater greater_equal".split()


def test_every_primitive_gives_the_same_numbers_eagerly_and_in_a_graph():
    rng = np.random.default_rng(5)
    a = rng.uniform(0.1, 2.0, size=(3, 4)).astype(np.float32)
    b = rng.uniform(0.1, 2.0, size=(3, 4)).astype(np.float32)
    m = rng.normal(size=(4, 2)).astype(np.float32)
    labels = np.array([3, 0, 1], np.int64)

    def build(ops, a, b, m, labels):
        out = {name: getattr(ops, name)(a) for name in UNARY}
        out.update({name: getattr(ops, name)(a, b) for name in BINARY})
        out["scalar_left"] = ops.sub(1, a)
        out["where"] = ops.where(ops.greater(a, b), a, 0.0)
        out["sum"] = ops.sum(a, [1], keepdims=True)
        out["mean"] = ops.mean(a, None)
        out["variance"] = ops.variance(a, [0])
        out["softmax"] = ops.softmax(a, -1)
        out["log_softmax"] = ops.log_softmax(a, -1)
        out["reshape"] = ops.reshape(a, [4, 3])
        out["matmul"] = ops.matmul(a, m)
        out["take_along"] = ops.take_along(a, labels, -1)
        out["cast"] = ops.cast(ops.greater(a, 1.0), a)
        out["const"] = ops.mul(a, ops.const(0.5, a))
        return out

    eager = build(EAGER, *(devrt.tensor(v) for v in (a, b, m, labels)))
    graph_t = build(GRAPH, *(tf.constant(v) for v in (a, b, m, labels)))
    with tf.Session() as sess:
        graph = sess.run(graph_t)
    for name, value in eager.items():
        np.testing.assert_allclose(
            np_of(value).astype(np.float64), graph[name], rtol=2e-6, atol=1e-7, err_msg=name
        )
    np.testing.assert_allclose(graph["variance"], a.var(0), rtol=1e-5)
    np.testing.assert_allclose(graph["take_along"], a[np.arange(3), labels])


def test_two_numbers_compute_on_the_host():
    assert EAGER.sqrt(4.0) == 2.0
    assert EAGER.sub(1, 0.25) == 0.75
    assert GRAPH.div(1.0, 4.0) == 0.25
    assert GRAPH.mul(3, 0.5) == 1.5


def test_writes_return_the_new_value():
    p = devrt.tensor([1.0, 2.0])
    assert EAGER.assign_mul_add(p, 2.0, devrt.tensor([1.0, 1.0])) is p
    np.testing.assert_array_equal(np_of(p), [3.0, 5.0])
    EAGER.assign_mul_sub(p, 1.0, devrt.tensor([1.0, 1.0]))
    np.testing.assert_array_equal(np_of(p), [2.0, 4.0])
    v = tf.Variable([1.0, 2.0])
    writes = [
        GRAPH.assign_mul_add(v, 2.0, tf.constant([1.0, 1.0])),
        GRAPH.assign_mul_sub(v, 1.0, tf.constant([1.0, 1.0])),
        GRAPH.assign_mul(v, 3.0),
        GRAPH.assign_add(v, tf.constant([1.0, 1.0])),
        GRAPH.assign_sub(v, tf.constant([1.0, 1.0])),
        GRAPH.assign(v, tf.constant([7.0, 8.0])),
    ]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = [sess.run(w) for w in writes]
    np.testing.assert_array_equal(got, [[3, 5], [2, 4], [6, 12], [7, 13], [6, 12], [7, 8]])


# --- activations --------------------------------------------------------------------------


def test_softplus_matches_torch_with_its_derivative_at_0_and_far_out():
    check_everywhere(lambda ops, x: act.softplus(ops, x), torch.nn.functional.softplus, X)


def test_softplus_beta_threshold_matches_torch():
    x = X.astype(np.float64)
    check_everywhere(
        lambda ops, x: act.softplus(ops, x, beta=2.0, threshold=5.0),
        lambda x: torch.nn.functional.softplus(x, beta=2.0, threshold=5.0),
        x,
        rtol=1e-12,
        atol=1e-14,
    )


def test_log_sigmoid_softsign_elu_match_torch():
    check_everywhere(act.log_sigmoid, torch.nn.functional.logsigmoid, X)
    check_everywhere(act.softsign, torch.nn.functional.softsign, X)
    small = np.array([-5.0, -1.0, -0.25, 0.0, 0.25, 1.0, 5.0], np.float32)
    check_everywhere(
        lambda ops, x: act.elu(ops, x, 0.7),
        lambda x: torch.nn.functional.elu(x, 0.7),
        small,
        rtol=2e-6,
    )


def test_elu_derivative_stays_finite_far_out():
    _, grad = eager_and_grad(act.elu, np.array([100.0, -100.0], np.float32))
    np.testing.assert_array_equal(grad, [1.0, 0.0])


def test_front_ends_call_the_composites():
    x = np.linspace(-4, 4, 9, dtype=np.float32)
    want = torch.nn.functional.softplus(torch.tensor(x)).numpy()
    np.testing.assert_allclose(np_of(devrt.nn.functional.softplus(devrt.tensor(x))), want)
    np.testing.assert_allclose(np_of(keras.activations.softplus(devrt.tensor(x))), want)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(tf.nn.softplus(tf.constant(x))), want, rtol=1e-6)
    want = torch.nn.functional.logsigmoid(torch.tensor(x)).numpy()
    got = devrt.nn.functional.logsigmoid(devrt.tensor(x))
    np.testing.assert_allclose(np_of(got), want, rtol=1e-6)


def test_graph_composite_output_takes_the_scope_name():
    x = tf.placeholder(tf.float32, [3])
    assert tf.nn.softplus(x, name="sp").op.name == "sp"
    assert tf.log_sigmoid(x, name="ls").op.name == "ls"
    assert tf.nn.elu(x).op.name == "Elu"


def test_keras_tensors_run_the_composites_symbolically():
    inputs = keras.Input((5,))
    out = keras.activations.softsign(keras.activations.softplus(inputs))
    assert isinstance(out, keras.KerasTensor)
    model = keras.Model(inputs, out)
    x = np.linspace(-3, 3, 10, dtype=np.float32).reshape(2, 5)
    sp = torch.nn.functional.softplus(torch.tensor(x))
    want = torch.nn.functional.softsign(sp).numpy()
    np.testing.assert_allclose(np_of(model(devrt.tensor(x))), want, rtol=1e-6)


def test_ops_for_picks_the_implementation_once_from_the_operands():
    assert ops_for(devrt.ones(2)) is EAGER
    assert ops_for(1.0, devrt.ones(2)) is EAGER
    assert ops_for(devrt.ones(2), tf.constant(1.0)) is GRAPH
    assert ops_for(tf.Variable(1.0)) is GRAPH
    assert ops_for(keras.Input((2,))) is KERAS_SYMBOLIC


def test_writes_into_a_keras_tensor_are_refused():
    with pytest.raises(TypeError, match=r"^\[composite\] a KerasTensor has no value"):
        KERAS_SYMBOLIC.assign_sub(keras.Input((2,)), 1.0)


def test_graph_take_along_needs_the_last_axis():
    x = tf.placeholder(tf.float32, [4, 3])
    labels = tf.placeholder(tf.int64, [3])
    with pytest.raises(NotImplementedError, match=r"^\[take_along\] .*axis 0 .*\(4, 3\)"):
        GRAPH.take_along(x, labels, 0)


# --- losses -------------------------------------------------------------------------------


def test_sigmoid_cross_entropy_matches_torch_with_derivative_at_0():
    x = X
    z = np.array([0, 1, 0, 1, 0.3, 1, 0, 1, 0], np.float32)
    check_everywhere(
        lambda ops, x, z: losses.sigmoid_cross_entropy(ops, z, x),
        lambda x, z: torch.nn.functional.binary_cross_entropy_with_logits(x, z, reduction="none"),
        x,
        z,
    )
    pw = np.full(9, 2.5, np.float32)
    check_everywhere(
        lambda ops, x, z, w: losses.sigmoid_cross_entropy(ops, z, x, pos_weight=w),
        lambda x, z, w: torch.nn.functional.binary_cross_entropy_with_logits(
            x, z, pos_weight=w, reduction="none"
        ),
        x,
        z,
        pw,
        rtol=1e-5,
    )


def test_softmax_cross_entropies_match_torch():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 5)).astype(np.float32) * 3
    probs = rng.dirichlet(np.ones(5), size=4).astype(np.float32)
    labels = np.array([0, 4, 2, 1], np.int64)
    check_everywhere(
        lambda ops, x, y: losses.softmax_cross_entropy(ops, y, x, -1),
        lambda x, y: torch.nn.functional.cross_entropy(x, y, reduction="none"),
        logits,
        probs,
    )
    check_everywhere(
        lambda ops, x, y: losses.sparse_softmax_cross_entropy(ops, y, x, -1),
        lambda x, y: torch.nn.functional.cross_entropy(x, y, reduction="none"),
        logits,
        labels,
    )


def test_huber_and_errors_match_torch():
    p = np.array([-3.0, -1.0, -0.2, 0.0, 0.7, 1.5, 4.0], np.float32)
    y = np.array([0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 1.0], np.float32)
    check_everywhere(
        lambda ops, p, y: losses.huber(ops, y, p, 1.25),
        lambda p, y: torch.nn.functional.huber_loss(p, y, reduction="none", delta=1.25),
        p,
        y,
    )
    check_everywhere(
        lambda ops, p, y: losses.squared_error(ops, y, p),
        lambda p, y: (p - y) ** 2,
        p,
        y,
    )


def test_label_smoothing_divides_on_the_host_or_in_the_graph():
    y = np.eye(4, dtype=np.float32)
    want = y * 0.9 + 0.1 / 4
    np.testing.assert_allclose(np_of(losses.smooth_labels(EAGER, devrt.tensor(y), 0.1, 4)), want)
    with tf.Session() as sess:
        got = sess.run(losses.smooth_labels(GRAPH, tf.constant(y), 0.1, tf.constant(4.0)))
    np.testing.assert_allclose(got, want, rtol=1e-6)


# --- normalisation ------------------------------------------------------------------------


def test_batch_norm_pieces_match_torch():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 3, 2, 2)).astype(np.float32)
    w = rng.normal(size=(1, 3, 1, 1)).astype(np.float32)
    b = rng.normal(size=(1, 3, 1, 1)).astype(np.float32)

    def ours(ops, x, w, b):
        mean, var = norm.moments(ops, x, [0, 2, 3], keepdims=True)
        return norm.normalize(ops, x, mean, var, w, b, 1e-5)

    def theirs(x, w, b):
        return torch.nn.functional.batch_norm(
            x, None, None, w.reshape(3), b.reshape(3), training=True, eps=1e-5
        )

    check_everywhere(ours, theirs, x, w, b, rtol=2e-5, atol=2e-5)


def test_layer_norm_matches_torch():
    x = np.random.default_rng(2).normal(size=(4, 6)).astype(np.float32)
    check_everywhere(
        lambda ops, x: norm.layer_norm(ops, x, [1], eps=1e-5),
        lambda x: torch.nn.functional.layer_norm(x, (6,), eps=1e-5),
        x,
        rtol=2e-5,
        atol=2e-5,
    )


def test_moving_averages_in_each_convention():
    ref = devrt.tensor([1.0, 2.0])
    norm.running_average(EAGER, ref, devrt.tensor([3.0, 6.0]), 0.9, 0.1)
    np.testing.assert_allclose(np_of(ref), [1.0 * 0.9 + 0.3, 2.0 * 0.9 + 0.6], rtol=1e-6)
    v = tf.Variable([1.0, 2.0])
    update = norm.assign_moving_average(GRAPH, v, tf.constant([3.0, 6.0]), 0.1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(update), [1.2, 2.4], rtol=1e-6)


# --- update rules -------------------------------------------------------------------------


def run_rule_both_ways(rule, slots, steps=3, **hyper):
    """The parameter after `steps` applications of `rule` eagerly and in a
    graph (one Session.run per step), from the same gradients."""
    rng = np.random.default_rng(3)
    p0 = rng.normal(size=5).astype(np.float32)
    grads = [rng.normal(size=5).astype(np.float32) for _ in range(steps)]
    init_slot = {name: np.full(5, fill, np.float32) for name, fill in slots.items()}

    p = devrt.tensor(p0.copy())
    state = {name: devrt.tensor(v.copy()) for name, v in init_slot.items()}
    for g in grads:
        rule(EAGER, p, devrt.tensor(g), **state, **hyper)

    var = tf.Variable(p0.copy())
    gvar = {name: tf.Variable(v.copy()) for name, v in init_slot.items()}
    g_ph = tf.placeholder(tf.float32, [5])
    graph_hyper = {
        k: tf.constant(v, tf.float32) if isinstance(v, float) else v for k, v in hyper.items()
    }
    written = rule(GRAPH, var, g_ph, **gvar, **graph_hyper)
    step = tf.group(*written)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for g in grads:
            sess.run(step, {g_ph: g})
        graph_p = sess.run(var)
    return np_of(p), graph_p, p0, grads


@pytest.mark.parametrize(
    "rule, slots, hyper",
    [
        (rules.sgd, {}, {"lr": 0.1}),
        (rules.momentum, {"buf": 0.0}, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
        (rules.velocity, {"m": 0.0}, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
        (
            rules.adam,
            {"m": 0.0, "v": 0.0},
            {"beta1": 0.9, "beta2": 0.999, "eps": 1e-7, "step_size": 0.01},
        ),
        (
            rules.rmsprop,
            {"ms": 1.0, "mg": 0.0, "mom": 0.0},
            {"lr": 0.01, "rho": 0.9, "eps": 1e-7, "momentum": 0.5, "eps_inside_sqrt": True},
        ),
        (rules.adagrad, {"acc": 0.1}, {"lr": 0.1, "eps": 1e-7, "eps_inside_sqrt": True}),
    ],
)
def test_update_rules_give_the_same_numbers_eagerly_and_in_a_graph(rule, slots, hyper):
    eager_p, graph_p, _, _ = run_rule_both_ways(rule, slots, **hyper)
    # Eagerly, 1 - beta of a Python number is a double; the graph takes the
    # hyperparameters as float32 constants, so Adam's moments differ in the
    # last bits.
    rtol = 1e-5 if rule is rules.adam else 1e-6
    np.testing.assert_allclose(eager_p, graph_p, rtol=rtol, atol=1e-7)


def test_adam_rule_gives_torch_and_keras_their_own_epsilon():
    rng = np.random.default_rng(4)
    p0 = rng.normal(size=6)
    grads = [rng.normal(size=6) * 1e-3 for _ in range(4)]
    # torch: epsilon after the bias correction, bit for bit in float64.
    tp = torch.tensor(p0.copy(), requires_grad=True)
    topt = torch.optim.Adam([tp], lr=0.01, eps=1e-3)
    dp = devrt.nn.Parameter(devrt.tensor(p0.copy()))
    dopt = devrt.optim.Adam([dp], lr=0.01, eps=1e-3)
    for g in grads:
        tp.grad = torch.tensor(g)
        dp.grad = devrt.tensor(g)
        topt.step()
        dopt.step()
    np.testing.assert_array_equal(np_of(dp), tp.detach().numpy())
    # Keras: "epsilon hat", added to the uncorrected root.
    m = v = np.zeros(6)
    p = p0.copy()
    for t, g in enumerate(grads, 1):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        p = p - 0.01 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-3)
    kv = keras.Variable(p0.copy().astype(np.float32))
    kopt = keras.optimizers.Adam(learning_rate=0.01, epsilon=1e-3)
    for g in grads:
        kopt.apply_gradients([(devrt.tensor(g.astype(np.float32)), kv)])
    np.testing.assert_allclose(np_of(kv), p, rtol=1e-5)
    torch_form = tp.detach().numpy()
    assert not np.allclose(p, torch_form, rtol=1e-6, atol=0)


# --- initializers -------------------------------------------------------------------------


def test_fans_in_both_layouts():
    assert init.fans((3, 3, 4, 8)) == (36, 72)
    assert init.fans((8, 4, 3, 3), out_first=True) == (36, 72)
    assert init.fans((5,)) == (5, 5)
    assert init.fans(()) == (1, 1)
    assert devrt.nn.init._calculate_fan_in_and_fan_out(devrt.empty(8, 4, 3, 3)) == (36, 72)
    assert keras.initializers.compute_fans((3, 3, 4, 8)) == (36, 72)


def test_variance_scaling_samples_have_the_variance_in_each_front_end():
    shape = (200, 300)
    want = 2.0 / 200
    devrt.manual_seed(0)
    for distribution in ("truncated_normal", "untruncated_normal", "uniform"):
        eager = np_of(
            init.variance_scaling(EAGER, shape, devrt.float32, 2.0, "fan_in", distribution)
        )
        graph_t = init.variance_scaling(
            GRAPH, list(shape), tf.float32, 2.0, "fan_in", distribution, 7
        )
        with tf.Session() as sess:
            graph = sess.run(graph_t)
        for values in (eager, graph):
            assert values.shape == shape
            np.testing.assert_allclose(values.var(), want, rtol=0.05)
        if distribution == "uniform":
            limit = np.sqrt(3 * want)
            assert np.abs(eager).max() <= limit and np.abs(graph).max() <= limit
