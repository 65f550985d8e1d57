"""Reshaping, merging, Embedding, Rescaling, BatchNormalization and
LayerNormalization: forward against NumPy, gradients by finite differences,
and Keras 3 as an oracle."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt import keras
from devrt.testing.gradcheck import gradcheck

RNG = np.random.default_rng(1)


def _tensor(x, device, grad=False):
    t = devrt.from_numpy(np.ascontiguousarray(x)).to(device)
    return t.requires_grad_() if grad else t


def _np(y):
    return y.cpu().numpy()


def _call_with(layer, names, values, *args, **kwargs):
    saved = [getattr(layer, n) for n in names]
    for n, v in zip(names, values):
        object.__setattr__(layer, n, v)
    try:
        return layer(*args, **kwargs)
    finally:
        for n, v in zip(names, saved):
            object.__setattr__(layer, n, v)


# --- reshaping ----------------------------------------------------------------------


def test_reshaping_forward(kdevice):
    x4 = RNG.standard_normal((2, 3, 4, 5)).astype("float32")
    x2 = RNG.standard_normal((2, 5)).astype("float32")
    L = keras.layers
    np.testing.assert_array_equal(_np(L.Flatten()(x4)), x4.reshape(2, -1))
    np.testing.assert_array_equal(
        _np(L.Flatten(data_format="channels_first")(x4)), x4.transpose(0, 2, 3, 1).reshape(2, -1)
    )
    np.testing.assert_array_equal(_np(L.Reshape((4, -1))(x4)), x4.reshape(2, 4, 15))
    np.testing.assert_array_equal(_np(L.Permute((3, 1, 2))(x4)), x4.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(_np(L.RepeatVector(3)(x2)), np.repeat(x2[:, None], 3, 1))
    np.testing.assert_array_equal(
        _np(L.ZeroPadding2D(((1, 2), (0, 1)))(x4)), np.pad(x4, ((0, 0), (1, 2), (0, 1), (0, 0)))
    )
    np.testing.assert_array_equal(
        _np(L.UpSampling2D((2, 3))(x4)), x4.repeat(2, axis=1).repeat(3, axis=2)
    )
    np.testing.assert_array_equal(
        _np(L.UpSampling2D(data_format="channels_first")(x4)), x4.repeat(2, 2).repeat(2, 3)
    )


def test_flatten_of_contiguous_is_a_view(kdevice):
    x = devrt.zeros((2, 3, 4), device=kdevice)
    y = keras.layers.Flatten()(x)
    assert y._is_view_of(x)


def test_reshape_bad_size():
    with pytest.raises(ValueError, match="total size"):
        keras.layers.Reshape((7,))(np.zeros((2, 3, 4), "float32"))


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.layers.Flatten(data_format="channels_first"),
        lambda: keras.layers.Permute((2, 1, 3)),
        lambda: keras.layers.ZeroPadding2D(1),
        lambda: keras.layers.UpSampling2D(2),
    ],
)
def test_reshaping_gradients(kdevice, make):
    x = _tensor(RNG.standard_normal((2, 3, 2, 2)), kdevice, grad=True)
    gradcheck(make(), (x,))


# --- merging -------------------------------------------------------------------------

MERGES = {
    "Add": lambda a, b: a + b,
    "Subtract": lambda a, b: a - b,
    "Multiply": lambda a, b: a * b,
    "Average": lambda a, b: (a + b) / 2,
    "Maximum": np.maximum,
    "Minimum": np.minimum,
    "Concatenate": lambda a, b: np.concatenate([a, b], -1),
}


@pytest.mark.parametrize("name", sorted(MERGES))
def test_merge_forward_and_gradients(kdevice, name):
    a = RNG.standard_normal((2, 3, 4))
    b = RNG.standard_normal((2, 3, 4))
    layer = getattr(keras.layers, name)()
    np.testing.assert_allclose(
        _np(layer([_tensor(a, kdevice), _tensor(b, kdevice)])), MERGES[name](a, b)
    )
    ta, tb = _tensor(a, kdevice, True), _tensor(b, kdevice, True)
    gradcheck(lambda x, y: layer([x, y]), (ta, tb))


def test_merge_broadcast_and_three_inputs(kdevice):
    a, b, c = (RNG.standard_normal(s).astype("float32") for s in [(2, 3), (2, 1), (2, 3)])
    np.testing.assert_allclose(_np(keras.layers.Add()([a, b, c])), a + b + c, atol=1e-6)
    np.testing.assert_allclose(_np(keras.layers.add([a, c])), a + c, atol=1e-6)


def test_dot(kdevice):
    a = RNG.standard_normal((2, 4))
    b = RNG.standard_normal((2, 4))
    np.testing.assert_allclose(_np(keras.layers.Dot(1)([a, b])), (a * b).sum(1, keepdims=True))
    x = RNG.standard_normal((2, 3, 4))
    y = RNG.standard_normal((2, 5, 4))
    np.testing.assert_allclose(
        _np(keras.layers.Dot((2, 2))([x, y])), np.einsum("bik,bjk->bij", x, y), atol=1e-12
    )
    xn = x / np.linalg.norm(x, axis=2, keepdims=True)
    yn = y / np.linalg.norm(y, axis=2, keepdims=True)
    np.testing.assert_allclose(
        _np(keras.layers.Dot(2, normalize=True)([x, y])), np.einsum("bik,bjk->bij", xn, yn)
    )
    tx, ty = _tensor(x, kdevice, True), _tensor(y, kdevice, True)
    gradcheck(lambda p, q: keras.layers.Dot((2, 2), normalize=True)([p, q]), (tx, ty))


def test_merge_bad_shapes():
    with pytest.raises(ValueError, match=r"matching shapes except for the concatenation axis"):
        keras.layers.Concatenate()([np.zeros((2, 3, 4)), np.zeros((2, 5, 4))])
    with pytest.raises(ValueError, match=r"incompatible shapes.*\(2, 3\).*\(2, 4\)"):
        keras.layers.Add()([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        keras.layers.Subtract()([np.zeros((2, 3))] * 3)
    with pytest.raises(ValueError, match="list of inputs"):
        keras.layers.Add()(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="Incompatible input shapes"):
        keras.layers.Dot(1)([np.zeros((2, 3)), np.zeros((2, 4))])


def test_concatenate_symbolic():
    a, b = keras.Input((3, 4)), keras.Input((3, 5))
    assert keras.layers.Concatenate()([a, b]).shape == (None, 3, 9)
    with pytest.raises(ValueError, match="matching shapes"):
        keras.layers.Concatenate(axis=1)([a, b])


# --- Embedding, Rescaling ----------------------------------------------------------------


def test_embedding(kdevice):
    layer = keras.layers.Embedding(10, 3)
    idx = RNG.integers(0, 10, (2, 4))
    y = layer(idx)
    (table,) = layer.get_weights()
    assert table.shape == (10, 3) and np.abs(table).max() <= 0.05
    np.testing.assert_array_equal(_np(y), table[idx])
    np.testing.assert_array_equal(_np(layer(idx.astype("float32"))), table[idx])
    assert layer.compute_output_shape((None, 4)) == (None, 4, 3)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        layer(np.array([[10]]))
    i = _tensor(idx, kdevice)
    layer64 = keras.layers.Embedding(10, 3, dtype="float64")
    layer64(i)
    gradcheck(lambda w: _call_with(layer64, ("embeddings",), (w,), i), (layer64.embeddings,))


def test_embedding_symbolic_dtype():
    y = keras.layers.Embedding(5, 2)(keras.Input((4,), dtype="int32"))
    assert y.shape == (None, 4, 2) and y.dtype == "float32"


def test_rescaling(kdevice):
    x = RNG.integers(0, 255, (2, 4, 4, 3)).astype("uint8")
    y = keras.layers.Rescaling(1 / 127.5, offset=-1)(x.astype("float32"))
    assert y.dtype == devrt.float32
    np.testing.assert_allclose(_np(y), x / 127.5 - 1, atol=1e-6)
    t = _tensor(RNG.standard_normal((2, 3)), kdevice, True)
    gradcheck(keras.layers.Rescaling(0.5, 1.0, dtype="float64"), (t,))


# --- normalization -------------------------------------------------------------------------


def bn_ref(x, axis, gamma, beta, mean, var, eps):
    shape = [1] * x.ndim
    shape[axis] = -1
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * gamma.reshape(
        shape
    ) + beta.reshape(shape)


@pytest.mark.parametrize("axis", [-1, 1])
def test_batch_normalization(kdevice, axis):
    x = RNG.standard_normal((4, 3, 5, 2)).astype("float64") * 3 + 1
    layer = keras.layers.BatchNormalization(axis=axis, dtype="float64")
    layer(x)  # builds; inference with mean 0, variance 1
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.name for w in layer.trainable_weights] == ["gamma", "beta"]
    c = x.shape[axis]
    gamma, beta = RNG.standard_normal(c), RNG.standard_normal(c)
    mm, mv = RNG.standard_normal(c), RNG.uniform(0.5, 2, c)
    layer.set_weights([gamma, beta, mm, mv])
    np.testing.assert_allclose(_np(layer(x)), bn_ref(x, axis, gamma, beta, mm, mv, 1e-3))
    np.testing.assert_allclose(
        _np(layer(x, training=False)), bn_ref(x, axis, gamma, beta, mm, mv, 1e-3)
    )

    axes = tuple(a for a in range(4) if a != axis % 4)
    bm, bv = x.mean(axes), x.var(axes)
    y = layer(x, training=True)
    np.testing.assert_allclose(_np(y), bn_ref(x, axis, gamma, beta, bm, bv, 1e-3))
    np.testing.assert_allclose(layer.moving_mean.numpy(), mm * 0.99 + bm * 0.01)
    np.testing.assert_allclose(layer.moving_variance.numpy(), mv * 0.99 + bv * 0.01)

    layer.trainable = False  # a frozen BatchNormalization runs in inference mode
    before = layer.moving_mean.numpy()
    layer(x, training=True)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), before)


def test_batch_normalization_gradients(kdevice):
    layer = keras.layers.BatchNormalization(dtype="float64")
    x = _tensor(RNG.standard_normal((3, 2, 4)), kdevice, True)
    layer(x)
    names = ("gamma", "beta")
    for training in (True, False):
        gradcheck(
            lambda x, g, b, t=training: _call_with(layer, names, (g, b), x, training=t),
            (x, layer.gamma, layer.beta),
        )


@pytest.mark.parametrize(
    "kw", [{}, {"axis": [1, 2]}, {"axis": 1, "center": False}, {"rms_scaling": True}]
)
def test_layer_normalization(kdevice, kw):
    x = RNG.standard_normal((2, 3, 4)) * 2 + 1
    layer = keras.layers.LayerNormalization(dtype="float64", **kw)
    layer(x)
    gamma = RNG.standard_normal(layer.gamma.shape)
    weights = [gamma] + ([RNG.standard_normal(layer.beta.shape)] if layer.beta is not None else [])
    layer.set_weights(weights)
    axes = tuple(a % 3 for a in layer.axis)
    shape = [x.shape[a] if a in axes else 1 for a in range(3)]
    mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    if layer.rms_scaling:
        ref = x / np.sqrt(var + 1e-3) * gamma.reshape(shape)
    else:
        ref = (x - mean) / np.sqrt(var + 1e-3) * gamma.reshape(shape)
        if layer.beta is not None:
            ref = ref + weights[1].reshape(shape)
    np.testing.assert_allclose(_np(layer(x)), ref, atol=1e-12)
    t = _tensor(x, kdevice, True)
    names = ("gamma", "beta") if layer.beta is not None else ("gamma",)
    gradcheck(
        lambda x, *w: _call_with(layer, names, w, x), (t, *(getattr(layer, n) for n in names))
    )


# --- Keras 3 as the oracle ----------------------------------------------------------


@pytest.mark.parametrize(
    "name, args, kw, shapes, call_kw",
    [
        ("Flatten", (), {}, [(2, 3, 4, 5)], {}),
        ("Flatten", (), {"data_format": "channels_first"}, [(2, 3, 4, 5)], {}),
        ("Reshape", ((5, -1),), {}, [(2, 4, 5)], {}),
        ("Permute", ((2, 1),), {}, [(2, 4, 5)], {}),
        ("RepeatVector", (3,), {}, [(2, 5)], {}),
        ("ZeroPadding2D", (((1, 2), (0, 1)),), {}, [(2, 3, 4, 5)], {}),
        ("UpSampling2D", ((2, 3),), {}, [(2, 3, 4, 5)], {}),
        ("Rescaling", (1 / 255, 0.5), {}, [(2, 3, 4, 5)], {}),
        ("Add", (), {}, [(2, 4, 5), (2, 4, 5)], {}),
        ("Subtract", (), {}, [(2, 4, 5), (2, 4, 5)], {}),
        ("Multiply", (), {}, [(2, 4, 5), (2, 4, 5)], {}),
        ("Average", (), {}, [(2, 4, 5), (2, 4, 5)], {}),
        ("Maximum", (), {}, [(2, 4, 5), (2, 4, 5)], {}),
        ("Minimum", (), {}, [(2, 4, 5), (2, 4, 5)], {}),
        ("Concatenate", (), {"axis": 1}, [(2, 4, 5), (2, 2, 5)], {}),
        ("Dot", ((2, 2),), {"normalize": True}, [(2, 4, 5), (2, 3, 5)], {}),
        ("Dot", (1,), {}, [(2, 5), (2, 5)], {}),
        ("BatchNormalization", (), {}, [(4, 3, 5)], {"training": True}),
        ("BatchNormalization", (), {"axis": 1, "momentum": 0.9}, [(4, 3, 5)], {"training": False}),
        ("LayerNormalization", (), {}, [(2, 3, 5)], {}),
        ("LayerNormalization", (), {"axis": [1, 2], "epsilon": 1e-5}, [(2, 3, 5)], {}),
    ],
)
def test_against_keras3(keras3, name, args, kw, shapes, call_kw):
    xs = [RNG.standard_normal(s).astype("float32") for s in shapes]
    x = xs if len(xs) > 1 else xs[0]
    theirs = getattr(keras3.layers, name)(*args, **kw)
    ours = getattr(keras.layers, name)(*args, **kw)
    theirs(x, **call_kw)
    ours(x, **call_kw)
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    if theirs.weights:
        weights = [
            w + RNG.uniform(0.1, 0.5, w.shape).astype("float32") for w in theirs.get_weights()
        ]
        theirs.set_weights(weights)
        ours.set_weights(weights)
    expected = theirs(x, **call_kw).detach().cpu().numpy()
    np.testing.assert_allclose(_np(ours(x, **call_kw)), expected, atol=2e-5, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):  # moving statistics
        np.testing.assert_allclose(a, b, atol=1e-6)
    mine, their_config = ours.get_config(), theirs.get_config()
    assert mine.pop("name") and their_config.pop("name")
    assert mine == their_config
    assert type(ours).from_config(theirs.get_config()).get_config()["name"] == theirs.name


def test_embedding_against_keras3(keras3):
    theirs, ours = (
        keras3.layers.Embedding(10, 3, mask_zero=True),
        keras.layers.Embedding(10, 3, mask_zero=True),
    )
    idx = RNG.integers(0, 10, (2, 4))
    theirs(idx)
    ours(idx)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(_np(ours(idx)), theirs(idx).detach().cpu().numpy())
    mine, their_config = ours.get_config(), theirs.get_config()
    mine.pop("name"), their_config.pop("name")
    assert mine == their_config


def test_functional_merge_model(keras3):
    if not hasattr(keras, "Model"):
        pytest.skip("devrt.keras.Model is not there yet")

    def build(k):
        a, b = k.Input((4,)), k.Input((4,))
        h = k.layers.Concatenate()([k.layers.Dense(3)(a), k.layers.Dense(3)(b)])
        h = k.layers.BatchNormalization()(h)
        h = k.layers.Add()([h, k.layers.Dense(6)(a)])
        return k.Model([a, b], k.layers.LayerNormalization()(h))

    theirs, ours = build(keras3), build(keras)
    ours.set_weights(theirs.get_weights())
    a, b = (RNG.standard_normal((5, 4)).astype("float32") for _ in range(2))
    expected = theirs([a, b]).detach().cpu().numpy()
    np.testing.assert_allclose(_np(ours([a, b])), expected, atol=2e-5)
