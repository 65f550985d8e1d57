"""MultiheadAttention, with PyTorch's parameter names and layouts (a packed
``in_proj_weight`` of (3E, E), an ``out_proj`` Linear), so PyTorch state
dicts load."""

from __future__ import annotations

from typing import Any

import devrt
from devrt.nn import functional as F
from devrt.nn import init
from devrt.nn.modules.linear import Linear
from devrt.nn.modules.module import Module
from devrt.nn.parameter import Parameter

Tensor = devrt.Tensor


class MultiheadAttention(Module):
    """Attention over `num_heads` heads of ``embed_dim // num_heads`` each:
    ``out_proj(softmax(q k^T / sqrt(d) + masks) v)``. Masks follow PyTorch:
    a boolean True (or -inf) marks a position that may not be attended."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError(
                "[MultiheadAttention] add_bias_kv and add_zero_attn are not supported by devrt"
            )
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(
                f"[MultiheadAttention] embed_dim ({embed_dim}) must be divisible by "
                f"num_heads ({num_heads}), both positive"
            )
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        kw = {"dtype": dtype or devrt.float32, "device": device}
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(devrt.empty(3 * embed_dim, embed_dim, **kw))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(devrt.empty(embed_dim, embed_dim, **kw))
            self.k_proj_weight = Parameter(devrt.empty(embed_dim, self.kdim, **kw))
            self.v_proj_weight = Parameter(devrt.empty(embed_dim, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(devrt.empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **kw)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)

    def _projections(self) -> tuple[Tensor, Tensor, Tensor]:
        if self._qkv_same_embed_dim:
            return self.in_proj_weight.chunk(3, 0)
        return self.q_proj_weight, self.k_proj_weight, self.v_proj_weight

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        op = "MultiheadAttention"
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(
                f"[{op}] query, key and value must all be 2-D (unbatched) or 3-D, got shapes "
                f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
            )
        if query.shape[-1] != self.embed_dim:
            raise ValueError(
                f"[{op}] was expecting embedding dimension of {self.embed_dim}, but got "
                f"{query.shape[-1]}"
            )
        if is_causal and attn_mask is None:
            raise RuntimeError(f"[{op}] Need attn_mask if specifying the is_causal hint")
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        n, length, _ = query.shape
        source = key.shape[1]
        if key.shape[0] != n or value.shape[:2] != key.shape[:2]:
            raise ValueError(
                f"[{op}] key and value must have the query's batch and matching lengths, got "
                f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
            )
        w_q, w_k, w_v = self._projections()
        b_q = b_k = b_v = None
        if self.in_proj_bias is not None:
            b_q, b_k, b_v = self.in_proj_bias.chunk(3, 0)
        h, d = self.num_heads, self.head_dim

        def heads(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
            return F.linear(x, w, b).reshape(n, x.shape[1], h, d).transpose(1, 2)

        q, k, v = heads(query, w_q, b_q), heads(key, w_k, b_k), heads(value, w_v, b_v)
        mask = None
        if attn_mask is not None:
            am = F._additive_mask(op, attn_mask, q)
            if am.ndim == 2:
                if tuple(am.shape) != (length, source):
                    raise RuntimeError(
                        f"[{op}] The shape of the 2D attn_mask is {tuple(am.shape)}, but should "
                        f"be {(length, source)}."
                    )
            elif am.ndim == 3 and tuple(am.shape) == (n * h, length, source):
                am = am.reshape(n, h, length, source)
            else:
                raise RuntimeError(
                    f"[{op}] attn_mask of shape {tuple(am.shape)} must be {(length, source)} or "
                    f"{(n * h, length, source)}"
                )
            mask = am
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (n, source):
                raise RuntimeError(
                    f"[{op}] expecting key_padding_mask shape of {(n, source)}, but got "
                    f"{tuple(key_padding_mask.shape)}"
                )
            kpm = F._additive_mask(op, key_padding_mask, q).reshape(n, 1, 1, source)
            mask = kpm if mask is None else mask + kpm
        out, weights = F._attention(q, k, v, mask, self.dropout, self.training, None)
        out = self.out_proj(out.transpose(1, 2).reshape(n, length, self.embed_dim))
        if unbatched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)
        return out, (weights.squeeze(0) if unbatched else weights)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
