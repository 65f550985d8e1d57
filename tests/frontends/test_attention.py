"""MultiheadAttention, TransformerEncoderLayer/TransformerEncoder and
scaled_dot_product_attention: against a NumPy reference and against
PyTorch (values and gradients) loaded with the same state dict."""

from __future__ import annotations

import numpy as np
import pytest

import devrt
import devrt.nn as nn
import devrt.nn.functional as F


def np_of(t):
    return np.array(t.detach().numpy(), copy=True)


def d64(a, requires_grad=False):
    t = devrt.tensor(np.asarray(a), dtype=devrt.float64)
    return t.requires_grad_(True) if requires_grad else t


def np_softmax(x):
    z = np.exp(x - x.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def load_from(dm, tm):
    assert list(dm.state_dict()) == list(tm.state_dict())
    dm.load_state_dict({k: d64(v.detach().numpy()) for k, v in tm.state_dict().items()})


rng = np.random.default_rng(0)


def test_multihead_attention_matches_numpy():
    mha = nn.MultiheadAttention(6, 2, batch_first=True).double()
    p = {k: np_of(v) for k, v in mha.state_dict().items()}
    assert p["in_proj_weight"].shape == (18, 6) and p["out_proj.weight"].shape == (6, 6)
    q, k = rng.normal(size=(2, 3, 6)), rng.normal(size=(2, 4, 6))
    mask = np.zeros((3, 4), bool)
    mask[0, 2:] = True
    out, weights = mha(d64(q), d64(k), d64(k), attn_mask=d64(mask).bool())
    wq, wk, wv = np.split(p["in_proj_weight"], 3)
    bq, bk, bv = np.split(p["in_proj_bias"], 3)

    def heads(x, w, b):
        return (x @ w.T + b).reshape(2, x.shape[1], 2, 3).transpose(0, 2, 1, 3)

    scores = heads(q, wq, bq) @ heads(k, wk, bk).transpose(0, 1, 3, 2) / np.sqrt(3)
    att = np_softmax(np.where(mask, -np.inf, scores))
    ctx = (att @ heads(k, wv, bv)).transpose(0, 2, 1, 3).reshape(2, 3, 6)
    want = ctx @ p["out_proj.weight"].T + p["out_proj.bias"]
    np.testing.assert_allclose(np_of(out), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np_of(weights), att.mean(1), rtol=1e-12, atol=1e-12)


def test_sdpa_matches_numpy():
    q, k, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 2))
    got = F.scaled_dot_product_attention(d64(q), d64(k), d64(v))
    want = np_softmax(q @ k.transpose(0, 2, 1) / 2.0) @ v
    np.testing.assert_allclose(np_of(got), want, rtol=1e-12)


MHA_CASES = [
    dict(batch_first=True),
    dict(batch_first=False, float_mask=True),
    dict(batch_first=True, kdim=5, vdim=3, weights_per_head=True),
    dict(batch_first=False, bias=False, no_weights=True),
]


@pytest.mark.parametrize("case", MHA_CASES)
@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
def test_multihead_attention_matches_torch(case):
    torch = pytest.importorskip("torch")
    case = dict(case)
    float_mask = case.pop("float_mask", False)
    per_head = case.pop("weights_per_head", False)
    no_weights = case.pop("no_weights", False)
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(8, 2, **case).double()
    dm = nn.MultiheadAttention(8, 2, **case).double()
    load_from(dm, tm)
    bf = case["batch_first"]
    shape = lambda n, length, e: (n, length, e) if bf else (length, n, e)  # noqa: E731
    q = rng.normal(size=shape(3, 4, 8))
    k = rng.normal(size=shape(3, 6, case.get("kdim", 8)))
    v = rng.normal(size=shape(3, 6, case.get("vdim", 8)))
    am = np.triu(np.ones((4, 6), bool), 3)
    kpm = np.zeros((3, 6), bool)
    kpm[1, 4:] = True
    if float_mask:
        am = np.where(am, -np.inf, rng.normal(size=(4, 6)) * 0.1)
    t_in = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    d_in = [d64(a, True) for a in (q, k, v)]
    kw = dict(need_weights=not no_weights, average_attn_weights=not per_head)
    t_out, t_w = tm(*t_in, attn_mask=torch.tensor(am), key_padding_mask=torch.tensor(kpm), **kw)
    d_am = d64(am) if float_mask else devrt.tensor(am)
    d_out, d_w = dm(*d_in, attn_mask=d_am, key_padding_mask=devrt.tensor(kpm), **kw)
    np.testing.assert_allclose(np_of(d_out), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    if no_weights:
        assert d_w is None and t_w is None
    else:
        assert tuple(d_w.shape) == tuple(t_w.shape)
        np.testing.assert_allclose(np_of(d_w), t_w.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = rng.normal(size=tuple(t_out.shape))
    (t_out * torch.tensor(w)).sum().backward()
    (d_out * d64(w)).sum().backward()
    for a, b in zip(t_in, d_in):
        np.testing.assert_allclose(np_of(b.grad), a.grad.numpy(), rtol=1e-9, atol=1e-12)
    params = dict(dm.named_parameters())
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(np_of(params[name].grad), p.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_unbatched_attention_matches_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    tm, dm = torch.nn.MultiheadAttention(4, 1).double(), nn.MultiheadAttention(4, 1).double()
    load_from(dm, tm)
    x = rng.normal(size=(5, 4))
    t_out, t_w = tm(*(torch.tensor(x),) * 3)
    d_out, d_w = dm(*(d64(x),) * 3)
    assert tuple(d_out.shape) == (5, 4) and tuple(d_w.shape) == (5, 5)
    np.testing.assert_allclose(np_of(d_out), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_transformer_encoder_matches_torch(norm_first):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t_layer = torch.nn.TransformerEncoderLayer(
        8, 2, 16, dropout=0.0, batch_first=True, norm_first=norm_first, activation="gelu"
    )
    te = torch.nn.TransformerEncoder(
        t_layer, 2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False
    ).double()
    d_layer = nn.TransformerEncoderLayer(
        8, 2, 16, dropout=0.0, batch_first=True, norm_first=norm_first, activation="gelu"
    )
    de = nn.TransformerEncoder(d_layer, 2, norm=nn.LayerNorm(8)).double()
    load_from(de, te)
    x = rng.normal(size=(3, 5, 8))
    kpm = np.zeros((3, 5), bool)
    kpm[0, 3:] = True
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5).double()
    tx, dx = torch.tensor(x, requires_grad=True), d64(x, True)
    t_out = te(tx, mask=mask, src_key_padding_mask=torch.tensor(kpm))
    d_out = de(dx, mask=d64(mask.numpy()), src_key_padding_mask=devrt.tensor(kpm))
    np.testing.assert_allclose(np_of(d_out), t_out.detach().numpy(), rtol=1e-9, atol=1e-10)
    w = rng.normal(size=x.shape)
    (t_out * torch.tensor(w)).sum().backward()
    (d_out * d64(w)).sum().backward()
    np.testing.assert_allclose(np_of(dx.grad), tx.grad.numpy(), rtol=1e-8, atol=1e-10)
    params = dict(de.named_parameters())
    for name, p in te.named_parameters():
        np.testing.assert_allclose(np_of(params[name].grad), p.grad.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_matches_torch(causal):
    torch = pytest.importorskip("torch")
    q, k, v = (
        rng.normal(size=(2, 2, 4, 3)),
        rng.normal(size=(2, 2, 4, 3)),
        rng.normal(size=(2, 2, 4, 5)),
    )
    allowed = rng.random((4, 4)) > 0.3
    np.fill_diagonal(allowed, True)
    kw_t = dict(is_causal=True) if causal else dict(attn_mask=torch.tensor(allowed))
    kw_d = dict(is_causal=True) if causal else dict(attn_mask=devrt.tensor(allowed))
    want = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a) for a in (q, k, v)), **kw_t
    )
    got = F.scaled_dot_product_attention(*(d64(a) for a in (q, k, v)), **kw_d)
    np.testing.assert_allclose(np_of(got), want.numpy(), rtol=1e-10, atol=1e-12)


def test_encoder_trains_and_dropout_only_in_training():
    devrt.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.3, batch_first=True)
    x = devrt.randn(2, 3, 8)
    layer.eval()
    np.testing.assert_array_equal(np_of(layer(x)), np_of(layer(x)))
    layer.train()
    assert not np.allclose(np_of(layer(x)), np_of(layer(x)))


def test_attention_errors():
    mha = nn.MultiheadAttention(8, 2)
    x = devrt.zeros(4, 2, 8)
    with pytest.raises(
        ValueError, match=r"^\[MultiheadAttention\] embed_dim \(8\) must be divisible"
    ):
        nn.MultiheadAttention(8, 3)
    with pytest.raises(
        ValueError, match=r"^\[MultiheadAttention\] was expecting embedding dimension of 8"
    ):
        mha(devrt.zeros(4, 2, 6), x, x)
    with pytest.raises(
        RuntimeError, match=r"^\[MultiheadAttention\] The shape of the 2D attn_mask"
    ):
        mha(x, x, x, attn_mask=devrt.zeros(3, 3))
    with pytest.raises(
        RuntimeError, match=r"^\[MultiheadAttention\] expecting key_padding_mask shape"
    ):
        mha(x, x, x, key_padding_mask=devrt.zeros(4, 2, dtype=devrt.bool))
    with pytest.raises(RuntimeError, match=r"^\[MultiheadAttention\] Need attn_mask"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(NotImplementedError, match=r"^\[MultiheadAttention\] add_bias_kv"):
        nn.MultiheadAttention(8, 2, add_bias_kv=True)
    with pytest.raises(RuntimeError, match=r"^\[TransformerEncoderLayer\] activation"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_transformer_matches_torch(norm_first):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    kw = dict(
        d_model=8,
        nhead=2,
        num_encoder_layers=2,
        num_decoder_layers=2,
        dim_feedforward=16,
        dropout=0.0,
        norm_first=norm_first,
    )
    tm, dm = torch.nn.Transformer(**kw).double(), nn.Transformer(**kw).double()
    load_from(dm, tm)
    src, tgt = rng.normal(size=(6, 3, 8)), rng.normal(size=(4, 3, 8))
    src_kpm = np.zeros((3, 6), bool)
    src_kpm[2, 4:] = True
    causal = torch.nn.Transformer.generate_square_subsequent_mask(4).double()
    np.testing.assert_array_equal(
        np_of(nn.Transformer.generate_square_subsequent_mask(4)), causal.numpy()
    )
    t_in = [torch.tensor(a, requires_grad=True) for a in (src, tgt)]
    d_in = [d64(a, True) for a in (src, tgt)]
    t_out = tm(
        *t_in,
        tgt_mask=causal,
        src_key_padding_mask=torch.tensor(src_kpm),
        memory_key_padding_mask=torch.tensor(src_kpm),
    )
    d_out = dm(
        *d_in,
        tgt_mask=d64(causal.numpy()),
        src_key_padding_mask=devrt.tensor(src_kpm),
        memory_key_padding_mask=devrt.tensor(src_kpm),
    )
    np.testing.assert_allclose(np_of(d_out), t_out.detach().numpy(), rtol=1e-9, atol=1e-10)
    w = rng.normal(size=tuple(t_out.shape))
    (t_out * torch.tensor(w)).sum().backward()
    (d_out * d64(w)).sum().backward()
    for a, b in zip(t_in, d_in):
        np.testing.assert_allclose(np_of(b.grad), a.grad.numpy(), rtol=1e-8, atol=1e-10)
    params = dict(dm.named_parameters())
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(
            np_of(params[name].grad), p.grad.numpy(), rtol=1e-8, atol=1e-10, err_msg=name
        )


def test_transformer_init_and_errors():
    model = nn.Transformer(8, 2, 1, 1, 16)
    w = np_of(model.encoder.layers[0].linear1.weight)
    bound = np.sqrt(6.0 / (8 + 16))  # Xavier-uniform, as PyTorch re-initialises
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.5 * bound
    with pytest.raises(RuntimeError, match=r"^\[Transformer\] the batch number of src and tgt"):
        model(devrt.zeros(5, 2, 8), devrt.zeros(4, 3, 8))
    with pytest.raises(RuntimeError, match=r"^\[Transformer\] the feature number"):
        model(devrt.zeros(5, 2, 6), devrt.zeros(4, 2, 6))
    with pytest.raises(RuntimeError, match=r"^\[TransformerDecoderLayer\] activation"):
        nn.TransformerDecoderLayer(8, 2, activation="swish")
