"""PyTorch layers the rewrites insert. A module of its own (importing torch at the top) so the
classes are importable by name, which ``torch.save``/``torch.load`` of a whole module needs."""

from __future__ import annotations

import torch
from torch import nn


class SeparableConv(nn.Module):
    """A depthwise convolution followed by a pointwise (1x1) one, replacing a full convolution.

    Kept as one module so the rewritten layer keeps its name (``layer1.0.conv1.depthwise`` and
    ``layer1.0.conv1.pointwise`` in reports).
    """

    def __init__(self, depthwise: nn.Module, pointwise: nn.Module) -> None:
        super().__init__()
        self.depthwise = depthwise
        self.pointwise = pointwise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.pointwise(self.depthwise(x))
        return out


class HeadPrunedAttention(nn.Module):
    """Multi-head self-attention with some heads removed.

    ``nn.MultiheadAttention`` ties the attention width to the embedding width, so heads
    cannot be dropped in place. This module keeps separate q/k/v projections to
    ``heads x head_dim`` and an output projection back to the embedding width, and answers
    the call ``nn.TransformerEncoderLayer`` makes (returning ``(output, None)``). The
    attributes the encoder layer's fast-path check reads are provided, and say "no fast path".
    """

    _qkv_same_embed_dim = False  # tells TransformerEncoderLayer not to take its fused path

    def __init__(
        self, embed_dim: int, heads: int, head_dim: int, *, bias: bool, batch_first: bool
    ) -> None:
        super().__init__()
        inner = heads * head_dim
        self.num_heads = heads
        self.head_dim = head_dim
        self.embed_dim = embed_dim
        self.batch_first = batch_first
        self.q_proj = nn.Linear(embed_dim, inner, bias=bias)
        self.k_proj = nn.Linear(embed_dim, inner, bias=bias)
        self.v_proj = nn.Linear(embed_dim, inner, bias=bias)
        self.out_proj = nn.Linear(inner, embed_dim, bias=bias)
        self.in_proj_bias = self.q_proj.bias
        self.dropout = 0.0

    @classmethod
    def from_multihead(cls, mha: nn.MultiheadAttention, keep: torch.Tensor) -> HeadPrunedAttention:
        heads, dim = mha.num_heads, mha.embed_dim
        head_dim = dim // heads
        bias = mha.in_proj_bias is not None
        new = cls(dim, len(keep), head_dim, bias=bias, batch_first=mha.batch_first)
        rows = (keep[:, None] * head_dim + torch.arange(head_dim)[None, :]).reshape(-1)
        with torch.no_grad():
            weights = mha.in_proj_weight.chunk(3)
            biases = mha.in_proj_bias.chunk(3) if bias else (None, None, None)
            for proj, w, b in zip(
                (new.q_proj, new.k_proj, new.v_proj), weights, biases, strict=True
            ):
                proj.weight.copy_(w[rows])
                if b is not None:
                    proj.bias.copy_(b[rows])
            new.out_proj.weight.copy_(mha.out_proj.weight[:, rows])
            if bias:
                new.out_proj.bias.copy_(mha.out_proj.bias)
        new.dropout = float(mha.dropout)
        new.train(mha.training)
        return new

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = False,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, None]:
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        batch, length, _ = query.shape

        def split(x: torch.Tensor) -> torch.Tensor:
            return x.view(batch, -1, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = split(self.q_proj(query)), split(self.k_proj(key)), split(self.v_proj(value))
        mask = attn_mask
        if key_padding_mask is not None:
            pad = key_padding_mask[:, None, None, :].to(torch.bool)
            pad_mask = torch.zeros_like(pad, dtype=q.dtype).masked_fill(pad, float("-inf"))
            mask = pad_mask if mask is None else mask + pad_mask
        out = nn.functional.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=is_causal and mask is None,
        )
        out = out.transpose(1, 2).reshape(batch, length, self.num_heads * self.head_dim)
        out = self.out_proj(out)
        if not self.batch_first:
            out = out.transpose(0, 1)
        return out, None
