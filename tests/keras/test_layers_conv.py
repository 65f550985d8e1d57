"""Conv1D, Conv2D, Conv2DTranspose and the pooling layers: forward against
NumPy, gradients by finite differences, and Keras 3 as an oracle."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
from devrt import keras
from devrt.testing.gradcheck import gradcheck

RNG = np.random.default_rng(0)


def _tensor(x, device, grad=False):
    t = devrt.from_numpy(np.ascontiguousarray(x)).to(device)
    return t.requires_grad_() if grad else t


def _same(size, k, s, d=1):
    eff = (k - 1) * d + 1
    out = -(-size // s)
    total = max(0, (out - 1) * s + eff - size)
    return total // 2, total - total // 2


def conv2d_ref(x, k, b, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """NHWC x, HWIO k: a direct sum over the kernel taps."""
    kh, kw, _, out = k.shape
    if padding == "same":
        ph = _same(x.shape[1], kh, strides[0], dilation[0])
        pw = _same(x.shape[2], kw, strides[1], dilation[1])
        x = np.pad(x, ((0, 0), ph, pw, (0, 0)))
    eh, ew = (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1
    oh = (x.shape[1] - eh) // strides[0] + 1
    ow = (x.shape[2] - ew) // strides[1] + 1
    y = np.zeros((x.shape[0], oh, ow, out))
    for a in range(kh):
        for c in range(kw):
            r0, c0 = a * dilation[0], c * dilation[1]
            patch = x[
                :, r0 : r0 + strides[0] * oh : strides[0], c0 : c0 + strides[1] * ow : strides[1]
            ]
            y += patch @ k[a, c]
    return y + (0 if b is None else b)


def conv_transpose_ref(x, k, b, stride, crops):
    """NHWC x, kernel (kh, kw, out, in): every input pixel scatters
    kernel * value, then `crops` ((top, bottom), (left, right)) are cut."""
    n, h, w, _ = x.shape
    kh, kw, out, _ = k.shape
    full = np.zeros((n, (h - 1) * stride + kh, (w - 1) * stride + kw, out))
    for i in range(h):
        for j in range(w):
            full[:, i * stride : i * stride + kh, j * stride : j * stride + kw] += np.einsum(
                "nc,aboc->nabo", x[:, i, j], k
            )
    (t, bt), (left, r) = crops
    return full[:, t : full.shape[1] - bt, left : full.shape[2] - r] + b


def pool_ref(x, pool, strides, padding, mode):
    """NHWC pooling; padded cells are NaN, so they neither win a max nor
    count in a mean (TensorFlow's "same")."""
    if padding == "same":
        ph = _same(x.shape[1], pool[0], strides[0])
        pw = _same(x.shape[2], pool[1], strides[1])
        x = np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=np.nan)
    oh = (x.shape[1] - pool[0]) // strides[0] + 1
    ow = (x.shape[2] - pool[1]) // strides[1] + 1
    fn = np.nanmax if mode == "max" else np.nanmean
    y = np.empty((x.shape[0], oh, ow, x.shape[3]))
    for i in range(oh):
        for j in range(ow):
            win = x[
                :,
                i * strides[0] : i * strides[0] + pool[0],
                j * strides[1] : j * strides[1] + pool[1],
            ]
            y[:, i, j] = fn(win, axis=(1, 2))
    return y


CONV2D_CASES = [
    {},
    {"padding": "same"},
    {"padding": "same", "strides": 2},
    {"strides": (2, 3)},
    {"dilation_rate": 2, "padding": "same"},
]


@pytest.mark.parametrize("kw", CONV2D_CASES)
def test_conv2d_forward(kdevice, kw):
    x = RNG.standard_normal((2, 7, 8, 3)).astype("float32")
    layer = keras.layers.Conv2D(4, 3, **kw)
    y = layer(x)
    k, b = layer.get_weights()
    assert k.shape == (3, 3, 3, 4) and b.shape == (4,)
    b = RNG.standard_normal(4).astype("float32")
    layer.set_weights([k, b])
    ref = conv2d_ref(
        x.astype(np.float64),
        k,
        b,
        strides=layer.strides,
        padding=layer.padding,
        dilation=layer.dilation_rate,
    )
    y = layer(x)
    assert str(y.device).startswith(kdevice)
    assert tuple(y.shape) == ref.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(y.cpu().numpy(), ref, atol=1e-5)


def test_conv2d_channels_first_and_groups(kdevice):
    x = RNG.standard_normal((2, 4, 6, 5)).astype("float32")  # NCHW
    layer = keras.layers.Conv2D(6, 3, data_format="channels_first", groups=2, padding="same")
    layer(x)
    k, b = layer.get_weights()
    assert k.shape == (3, 3, 2, 6)
    xl = x.transpose(0, 2, 3, 1).astype(np.float64)
    parts = [
        conv2d_ref(xl[..., 2 * g : 2 * g + 2], k[..., 3 * g : 3 * g + 3], None, padding="same")
        for g in range(2)
    ]
    ref = np.concatenate(parts, -1).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(layer(x).cpu().numpy(), ref, atol=1e-5)


@pytest.mark.parametrize(
    "kw", [{}, {"padding": "same", "strides": 2}, {"padding": "causal", "dilation_rate": 2}]
)
def test_conv1d_forward(kdevice, kw):
    x = RNG.standard_normal((2, 9, 3)).astype("float32")
    layer = keras.layers.Conv1D(4, 3, **kw)
    layer(x)
    k, b = layer.get_weights()
    assert k.shape == (3, 3, 4)
    if layer.padding == "causal":
        xp = np.pad(x, ((0, 0), (2 * layer.dilation_rate[0], 0), (0, 0)))
        ref = conv2d_ref(xp[:, None].astype(np.float64), k[None], b, dilation=(1, 2))[:, 0]
    else:
        ref = conv2d_ref(
            x[:, None].astype(np.float64),
            k[None],
            b,
            strides=(1, *layer.strides),
            padding=layer.padding,
        )[:, 0]
    np.testing.assert_allclose(layer(x).cpu().numpy(), ref, atol=1e-5)


@pytest.mark.parametrize(
    "kw, crops",
    [
        ({}, ((0, 0), (0, 0))),
        ({"strides": 2}, ((0, 0), (0, 0))),
        ({"padding": "same"}, ((1, 1), (1, 1))),
        ({"padding": "same", "strides": 2}, ((0, 1), (0, 1))),
    ],
)
def test_conv2d_transpose_forward(kdevice, kw, crops):
    x = RNG.standard_normal((2, 4, 5, 3)).astype("float32")
    layer = keras.layers.Conv2DTranspose(4, 3, **kw)
    layer(x)
    k, _ = layer.get_weights()
    assert k.shape == (3, 3, 4, 3)
    b = RNG.standard_normal(4).astype("float32")
    layer.set_weights([k, b])
    ref = conv_transpose_ref(x.astype(np.float64), k, b, layer.strides[0], crops)
    y = layer(x)
    assert tuple(y.shape) == ref.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(y.cpu().numpy(), ref, atol=1e-5)


def _call_with(layer, names, values, *args, **kwargs):
    """Calls `layer` with its weights `names` replaced by `values` (the
    perturbed copies gradcheck hands in)."""
    saved = [getattr(layer, n) for n in names]
    for n, v in zip(names, values):
        object.__setattr__(layer, n, v)
    try:
        return layer(*args, **kwargs)
    finally:
        for n, v in zip(names, saved):
            object.__setattr__(layer, n, v)


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.layers.Conv2D(2, 3, padding="same", strides=2, dtype="float64"),
        lambda: keras.layers.Conv2D(2, (2, 3), dilation_rate=(1, 2), dtype="float64"),
        lambda: keras.layers.Conv1D(2, 3, padding="causal", dtype="float64"),
        lambda: keras.layers.Conv2DTranspose(2, 3, strides=2, padding="same", dtype="float64"),
    ],
)
def test_conv_gradients(kdevice, make):
    layer = make()
    shape = (2, 6, 3) if isinstance(layer, keras.layers.Conv1D) else (2, 5, 6, 3)
    x = _tensor(RNG.standard_normal(shape), kdevice, grad=True)
    layer(x)

    def fn(x, kernel, bias):
        return _call_with(layer, ("kernel", "bias"), (kernel, bias), x)

    gradcheck(fn, (x, layer.kernel, layer.bias))


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize(
    "kw",
    [
        {"pool_size": 2},
        {"pool_size": 3, "padding": "same"},
        {"pool_size": 3, "strides": 2, "padding": "same"},
        {"pool_size": (2, 3), "strides": (1, 2)},
    ],
)
def test_pooling2d_forward(kdevice, mode, kw):
    x = RNG.standard_normal((2, 7, 8, 3)).astype("float32")
    cls = keras.layers.MaxPooling2D if mode == "max" else keras.layers.AveragePooling2D
    layer = cls(**kw)
    y = layer(x)
    ref = pool_ref(x.astype(np.float64), layer.pool_size, layer.strides, layer.padding, mode)
    assert tuple(y.shape) == ref.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(y.cpu().numpy(), ref, atol=1e-6)


@pytest.mark.parametrize("mode", ["max", "average"])
def test_pooling1d_forward(kdevice, mode):
    x = RNG.standard_normal((2, 9, 3)).astype("float32")
    cls = keras.layers.MaxPooling1D if mode == "max" else keras.layers.AveragePooling1D
    layer = cls(3, strides=2, padding="same")
    ref = pool_ref(x[:, None].astype(np.float64), (1, 3), (1, 2), "same", mode)[:, 0]
    np.testing.assert_allclose(layer(x).cpu().numpy(), ref, atol=1e-6)


def test_pooling_channels_first(kdevice):
    x = RNG.standard_normal((2, 3, 6, 4)).astype("float32")
    y = keras.layers.MaxPool2D(data_format="channels_first")(x)
    ref = pool_ref(x.transpose(0, 2, 3, 1), (2, 2), (2, 2), "valid", "max").transpose(0, 3, 1, 2)
    np.testing.assert_allclose(y.cpu().numpy(), ref)


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling(kdevice, keepdims):
    x = RNG.standard_normal((2, 4, 5, 3)).astype("float32")
    avg = keras.layers.GlobalAveragePooling2D(keepdims=keepdims)(x).cpu().numpy()
    mx = keras.layers.GlobalMaxPooling2D(keepdims=keepdims)(x).cpu().numpy()
    np.testing.assert_allclose(avg, x.mean((1, 2), keepdims=keepdims), atol=1e-6)
    np.testing.assert_allclose(mx, x.max((1, 2), keepdims=keepdims))
    x1 = x[:, 0]
    np.testing.assert_allclose(
        keras.layers.GlobalAveragePooling1D()(x1).cpu().numpy(), x1.mean(1), atol=1e-6
    )
    np.testing.assert_allclose(keras.layers.GlobalMaxPooling1D()(x1).cpu().numpy(), x1.max(1))
    cf = keras.layers.GlobalAvgPool2D(data_format="channels_first")(x).cpu().numpy()
    np.testing.assert_allclose(cf, x.mean((2, 3)), atol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.layers.MaxPooling2D(3, strides=2, padding="same"),
        lambda: keras.layers.AveragePooling2D(3, strides=2, padding="same"),
        lambda: keras.layers.AveragePooling2D(2),
        lambda: keras.layers.GlobalAveragePooling2D(),
    ],
)
def test_pooling_gradients(kdevice, make):
    layer = make()
    # Distinct values: a max never ties, so its derivative exists.
    x = _tensor(RNG.permutation(40).reshape(1, 5, 4, 2) / 7.0, kdevice, grad=True)
    gradcheck(layer, (x,))


def test_bad_input_rank(kdevice):
    with pytest.raises(ValueError, match=r"expected min_ndim=4, found ndim=3"):
        keras.layers.Conv2D(2, 3)(np.zeros((2, 5, 5), "float32"))
    layer = keras.layers.Conv2D(2, 3)
    layer(np.zeros((1, 5, 5, 3), "float32"))
    with pytest.raises(ValueError, match=r"axis -1 of input shape to have value 3"):
        layer(np.zeros((1, 5, 5, 4), "float32"))
    with pytest.raises(ValueError, match="ndim=3"):
        keras.layers.MaxPooling1D()(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match="padding"):
        keras.layers.Conv2D(2, 3, padding="causal")


def test_symbolic_shapes():
    x = keras.Input((None, None, 3))
    y = keras.layers.Conv2D(4, 3, strides=2, padding="same")(x)
    assert y.shape == (None, None, None, 4)
    x = keras.Input((9, 10, 3))
    assert keras.layers.Conv2D(4, 3)(x).shape == (None, 7, 8, 4)
    assert keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")(x).shape == (
        None,
        18,
        20,
        4,
    )
    assert keras.layers.MaxPooling2D()(x).shape == (None, 4, 5, 3)
    assert keras.layers.GlobalAveragePooling2D()(x).shape == (None, 3)


def test_config_roundtrip():
    for layer in [
        keras.layers.Conv2D(4, (3, 2), strides=2, padding="same", activation="relu"),
        keras.layers.Conv1D(4, 3, padding="causal"),
        keras.layers.Conv2DTranspose(4, 3, output_padding=1, strides=2),
        keras.layers.MaxPooling2D(3, strides=1, padding="same"),
        keras.layers.GlobalMaxPooling1D(keepdims=True),
    ]:
        config = layer.get_config()
        clone = type(layer).from_config(config)
        assert clone.get_config() == config


# --- Keras 3 as the oracle --------------------------------------------------------


def _compare(keras3, name, args, kw, x):
    import torch

    theirs = getattr(keras3.layers, name)(*args, **kw)
    ours = getattr(keras.layers, name)(*args, **kw)
    expected = theirs(x)
    ours(x)
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    if theirs.weights:
        ours.set_weights(theirs.get_weights())
    expected = theirs(x)
    expected = expected.detach().cpu().numpy() if isinstance(expected, torch.Tensor) else expected
    np.testing.assert_allclose(ours(x).cpu().numpy(), expected, atol=2e-5, rtol=1e-5)
    mine, theirs_config = ours.get_config(), theirs.get_config()
    mine.pop("name"), theirs_config.pop("name")
    assert mine == theirs_config
    clone = type(ours).from_config(theirs.get_config())
    assert clone.get_config()["name"] == theirs.name


@pytest.mark.parametrize(
    "name, args, kw, shape",
    [
        ("Conv2D", (4, 3), {}, (2, 7, 8, 3)),
        ("Conv2D", (4, 3), {"padding": "same", "strides": 2, "activation": "relu"}, (2, 7, 8, 3)),
        ("Conv2D", (4, 3), {"dilation_rate": 2, "use_bias": False}, (2, 7, 8, 3)),
        ("Conv2D", (6, 3), {"groups": 3, "padding": "same"}, (2, 7, 8, 6)),
        ("Conv2D", (4, 3), {"data_format": "channels_first", "strides": 2}, (2, 3, 7, 8)),
        ("Conv1D", (4, 3), {"padding": "causal", "dilation_rate": 2}, (2, 9, 3)),
        ("Conv1D", (4, 5), {"padding": "same", "strides": 2}, (2, 9, 3)),
        ("Conv2DTranspose", (4, 3), {}, (2, 5, 6, 3)),
        ("Conv2DTranspose", (4, 3), {"padding": "same", "strides": 2}, (2, 5, 6, 3)),
        ("Conv2DTranspose", (4, 4), {"strides": (2, 3), "output_padding": 1}, (2, 5, 6, 3)),
        ("Conv2DTranspose", (4, 3), {"padding": "same", "dilation_rate": 2}, (2, 5, 6, 3)),
        ("MaxPooling2D", (), {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 7, 8, 3)),
        ("AveragePooling2D", (), {"pool_size": 3, "strides": 1, "padding": "same"}, (2, 7, 8, 3)),
        ("AveragePooling2D", (2,), {}, (2, 7, 8, 3)),
        ("MaxPooling1D", (), {"pool_size": 3, "padding": "same"}, (2, 9, 3)),
        ("AveragePooling1D", (3,), {"strides": 2}, (2, 9, 3)),
        ("GlobalAveragePooling2D", (), {"keepdims": True}, (2, 4, 5, 3)),
        ("GlobalMaxPooling2D", (), {"data_format": "channels_first"}, (2, 4, 5, 3)),
        ("GlobalAveragePooling1D", (), {}, (2, 4, 3)),
        ("GlobalMaxPooling1D", (), {}, (2, 4, 3)),
    ],
)
def test_against_keras3(keras3, name, args, kw, shape):
    x = RNG.standard_normal(shape).astype("float32")
    _compare(keras3, name, args, kw, x)


def test_sequential_conv_classifier(keras3):
    if not hasattr(keras, "Sequential"):
        pytest.skip("devrt.keras.Sequential is not there yet")

    def build(k):
        return k.Sequential(
            [
                k.Input((8, 8, 3)),
                k.layers.Conv2D(4, 3, padding="same", activation="relu"),
                k.layers.MaxPooling2D(),
                k.layers.Conv2D(6, 3),
                k.layers.GlobalAveragePooling2D(),
                k.layers.Dense(2),
            ]
        )

    theirs, ours = build(keras3), build(keras)
    ours.set_weights(theirs.get_weights())
    x = RNG.standard_normal((5, 8, 8, 3)).astype("float32")
    expected = theirs(x).detach().cpu().numpy()
    np.testing.assert_allclose(ours(x).cpu().numpy(), expected, atol=2e-5)
