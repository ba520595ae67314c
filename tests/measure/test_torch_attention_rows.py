"""A transformer's attention on the PyTorch runtimes: scaled dot-product attention is a
functional call inside a module, not a module of its own, yet a profile must show it as its own
row, counted and timed (issue 13: "SDPA is counted and timed, not zero").

Two tiny models, worked by hand. b = 1 sequence of s = 16 tokens, d_model 32, h = 4 heads of
d = 8. The two products QK^T and AV are each b x h x s x s x d MACs:
    MACs  = 2 x (1 x 4 x 16 x 16 x 8)           = 2 x 8,192 = 16,384
    FLOPs = 2 x MACs + (1 scale + 5 softmax) x b x h x s x s
          = 32,768 + 6 x 1,024                  = 38,912
(the counting convention, docs/conventions.md and costs/matmul.py: 1 FLOP a score for the
scale, 5 for the softmax).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from modelprof.measure.profilereport import ProfileLayer, ProfileReport
from modelprof.measure.profiling import profile
from modelprof.measure.runtimes import RunSettings

FAST = RunSettings(threads=1, warmup=2, iterations=6)
B, S, D_MODEL, HEADS = 1, 16, 32, 4
HEAD_DIM = D_MODEL // HEADS  # 8
SCORES = B * HEADS * S * S  # 1,024 attention scores
ATTENTION_MACS = 2 * B * HEADS * S * S * HEAD_DIM  # QK^T and AV: 16,384
ATTENTION_FLOPS = 2 * ATTENTION_MACS + (1 + 5) * SCORES  # 32,768 + 6,144 = 38,912


class SelfAttention(nn.Module):
    """Attention as language models write it: q, k, v and output projections (modules) around
    one ``F.scaled_dot_product_attention`` call (no module of its own)."""

    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Linear(D_MODEL, D_MODEL, bias=False)
        self.k = nn.Linear(D_MODEL, D_MODEL, bias=False)
        self.v = nn.Linear(D_MODEL, D_MODEL, bias=False)
        self.o = nn.Linear(D_MODEL, D_MODEL, bias=False)

    def forward(self, x: torch.Tensor) -> Any:
        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(B, S, HEADS, HEAD_DIM).transpose(1, 2)

        out = F.scaled_dot_product_attention(heads(self.q(x)), heads(self.k(x)), heads(self.v(x)))
        return self.o(out.transpose(1, 2).reshape(B, S, D_MODEL))


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = SelfAttention()
        self.norm = nn.LayerNorm(D_MODEL)

    def forward(self, x: torch.Tensor) -> Any:
        return self.norm(x + self.attn(x))


def encoder_layer() -> nn.Module:
    """What the zoo's ``transformer`` is, small: ``nn.MultiheadAttention`` computes attention
    inside its forward (in eval, in C++: ``torch._native_multi_head_attention``)."""
    torch.manual_seed(0)
    return nn.TransformerEncoderLayer(
        d_model=D_MODEL, nhead=HEADS, dim_feedforward=64, batch_first=True
    ).eval()


def block() -> nn.Module:
    torch.manual_seed(0)
    return Block().eval()


def attention_rows(report: ProfileReport) -> list[ProfileLayer]:
    """The measured rows that hold attention: an Attention op among the count layers they
    stand for (a row folded into another is not measured)."""
    ops = {layer.name: layer.op for layer in report.count.layers}
    return [
        row
        for row in report.layers
        if not row.folded_into and any(ops.get(name) == "Attention" for name in row.fused_from)
    ]


def assert_attention_is_its_own_row(report: ProfileReport) -> None:
    # the count: one Attention layer per model, as worked out above
    counted = [layer for layer in report.count.layers if layer.op == "Attention"]
    assert [(c.macs, c.flops) for c in counted] == [(ATTENTION_MACS, ATTENTION_FLOPS)]
    rows = attention_rows(report)
    assert len(rows) == 1, f"attention is in {len(rows)} measured rows"
    row = rows[0]
    # its own row: the attention's FLOPs alone, not merged with the projections' (the
    # projections, 4 x 16 x 32 x 32 = 65,536 MACs, would make it 4x larger)
    assert (row.op, row.macs, row.flops) == ("Attention", ATTENTION_MACS, ATTENTION_FLOPS)
    assert row.time_us > 0


@pytest.mark.parametrize(
    "runtime",
    ["torch", "torch-compile"],
)
def test_attention_of_an_sdpa_call_is_its_own_row(runtime: str) -> None:
    x = torch.randn(B, S, D_MODEL)
    report = profile(block(), x, runtime=runtime, settings=FAST)
    assert_attention_is_its_own_row(report)


def test_attention_of_an_encoder_layer_is_its_own_row_in_eager() -> None:
    x = torch.randn(B, S, D_MODEL)
    report = profile(encoder_layer(), x, runtime="torch", settings=FAST)
    assert_attention_is_its_own_row(report)


def test_a_compiled_encoder_layer_times_its_attention_inside_the_fused_layer() -> None:
    """Compiled, the layer is one fused op (what torch.compile runs, so what is timed): its
    attention cannot be a row of its own, but it is counted and timed inside that op's row,
    and every costed FLOP is in a measured row, none dropped."""
    x = torch.randn(B, S, D_MODEL)
    report = profile(encoder_layer(), x, runtime="torch-compile", settings=FAST)
    rows = attention_rows(report)
    assert len(rows) == 1 and rows[0].time_us > 0
    assert rows[0].flops >= ATTENTION_FLOPS
    assert sum(row.flops for row in report.layers) == report.count.total.flops
    removed = [row.name for row in report.layers if row.folded_into == "(removed by the runtime)"]
    assert removed == []
