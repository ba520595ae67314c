"""The PyTorch route counts the same on the meta device as on the CPU, the same under every grad
mode, and records whatever a caller's ``run()`` does (``record_graph``)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
import torch
from torch import nn

import modelprof
from modelprof.analysis import analyze
from modelprof.errors import ModelLoadError
from modelprof.frontends.torch import random_inputs, record_graph


class Mixed(nn.Module):
    """Conv2d, LayerNorm, MultiheadAttention, a bare SDPA and a Linear, on (1, 3, 4, 4)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.ln = nn.LayerNorm(8)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ln(self.conv(x).flatten(2).transpose(1, 2))  # (1, 16, 8): 16 tokens of 8
        y, _ = self.attn(y, y, y, need_weights=False)
        y = nn.functional.scaled_dot_product_attention(y[:, None], y[:, None], y[:, None])
        out: torch.Tensor = self.fc(y[:, 0])
        return out


# conv: 8 out channels x 16 positions x 3 in channels x 9 taps = 3456
# attn in-projection: 16 tokens x 8 x 24 (q, k, v) = 3072
# attn scores and weighted sum: 2 heads x 16 x 16 x (4 + 4) = 4096
# attn out-projection: 16 x 8 x 8 = 1024
# bare SDPA: 1 head x 16 x 16 x (8 + 8) = 4096
# fc: 16 x 8 x 4 = 512
MIXED_MACS = 3456 + 3072 + 4096 + 1024 + 4096 + 512


@pytest.mark.parametrize(
    "mode", [torch.inference_mode, torch.no_grad, torch.enable_grad], ids=lambda m: m.__name__
)
def test_every_grad_mode_counts_the_same(mode: Callable[[], AbstractContextManager[None]]) -> None:
    # under inference_mode, composite ops (aten::linear, aten::conv2d, aten::layer_norm)
    # reached the recorder unbroken and were reported as unsupported: 8192 MACs counted
    torch.manual_seed(0)
    with mode():
        report = modelprof.count(Mixed().eval(), (1, 3, 4, 4))
    assert report.unsupported == {}
    assert report.total.macs == MIXED_MACS
    assert [(layer.op, layer.macs) for layer in report.layers if layer.macs] == [
        ("Conv", 3456),
        ("Gemm", 3072),
        ("Attention", 4096),
        ("Gemm", 1024),
        ("Attention", 4096),
        ("Gemm", 512),
    ]


def test_grad_modes_agree_on_flops_too() -> None:
    torch.manual_seed(0)
    module = Mixed().eval()
    reports = []
    for mode in (torch.inference_mode, torch.no_grad, torch.enable_grad):
        with mode():
            reports.append(modelprof.count(module, (1, 3, 4, 4)))
    assert len({(r.total.macs, r.total.flops, len(r.layers)) for r in reports}) == 1


def test_a_meta_module_counts_like_the_same_module_on_cpu() -> None:
    # every meta tensor's storage has data pointer 0: keyed by it, every tensor was one
    torch.manual_seed(0)
    with torch.device("meta"):
        meta = Mixed().eval()
    cpu_report = modelprof.count(Mixed().eval(), (1, 3, 4, 4))
    meta_report = modelprof.count(meta, (1, 3, 4, 4))
    assert meta_report.unsupported == {}
    assert meta_report.total.macs == MIXED_MACS
    assert meta_report.total == cpu_report.total
    assert [(x.name, x.op, x.macs, x.flops, x.params) for x in meta_report.layers] == [
        (x.name, x.op, x.macs, x.flops, x.params) for x in cpu_report.layers
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"is_causal": True},
        {"attn_mask": "bool"},
        {"attn_mask": "float"},
        {"enable_gqa": True},
        {"value_dim": 8},  # the CPU's flash kernel needs one head size: it takes the math path
    ],
    ids=["causal", "bool-mask", "float-mask", "gqa", "math-path"],
)
def test_attention_on_meta_is_recorded_as_the_cpu_runs_it(kwargs: dict[str, object]) -> None:
    # on the meta device torch always takes the math path of scaled_dot_product_attention
    # (matmuls, a softmax, mask ops); the CPU runs its fused flash kernel: one Attention
    def graph_on(device: str) -> list[tuple[str, int, int]]:
        extra = dict(kwargs)
        value_dim = int(extra.pop("value_dim", 16))  # type: ignore[call-overload]
        kv_heads = 2 if extra.get("enable_gqa") else 4
        q = torch.zeros(1, 4, 8, 16, device=device)
        k = torch.zeros(1, kv_heads, 8, 16, device=device)
        v = torch.zeros(1, kv_heads, 8, value_dim, device=device)
        if extra.get("attn_mask") == "bool":
            extra["attn_mask"] = torch.ones(8, 8, dtype=torch.bool, device=device).tril()
        elif extra.get("attn_mask") == "float":
            extra["attn_mask"] = torch.zeros(1, 1, 8, 8, device=device)
        module = nn.Module()
        graph = record_graph(
            module,
            lambda: nn.functional.scaled_dot_product_attention(q, k, v, **extra),  # type: ignore[arg-type]
            inputs=[q, k, v],
        )
        report = analyze(graph)
        assert report.unsupported == {}
        return [(layer.op, layer.macs, layer.flops) for layer in report.layers]

    cpu, meta = graph_on("cpu"), graph_on("meta")
    # the math path's matmuls end in a free Reshape on the CPU, a view on meta: same costs
    assert [x for x in meta if x[0] != "Reshape"] == [x for x in cpu if x[0] != "Reshape"]
    if "value_dim" in kwargs:
        # two batched matmuls: 4 heads x 8 queries x 8 keys x (16 + 8) = 6144 MACs
        assert sum(macs for _, macs, _ in cpu) == 6144
        assert [op for op, macs, _ in cpu if macs] == ["MatMul", "MatMul"]
    else:
        # 4 heads x 8 queries x 8 keys x (16 + 16) = 8192 MACs, in one fused op
        assert sum(macs for _, macs, _ in cpu) == 8192
        assert [op for op, _, _ in cpu if op != "Where"] == ["Attention"]


def test_meta_inputs_need_no_memory() -> None:
    # 10^6 x 10^5 x 8 float32 inputs are 3.2 TB: refused on the CPU, nothing to allocate on meta
    with torch.device("meta"):
        module = nn.Linear(8, 4, bias=False)
    report = modelprof.count(module, (10**6, 10**5, 8))
    # 10^11 rows x 8 x 4 = 3.2 x 10^12 MACs
    assert report.total.macs == 32 * 10**11
    with pytest.raises(modelprof.errors.ModelprofError, match="more than the"):
        modelprof.count(nn.Linear(8, 4, bias=False), (10**6, 10**5, 8))


def test_random_inputs_on_meta_are_meta_and_integers_are_zero() -> None:
    floats, ids = random_inputs([((2, 3), "float32"), ((1, 5), "int64")], device="meta")
    assert floats.is_meta and floats.shape == (2, 3)
    assert ids.is_meta and ids.dtype == torch.int64
    cpu_floats, cpu_ids = random_inputs([((2, 3), "float32"), ((1, 5), "int64")])
    assert cpu_ids.tolist() == [[0, 0, 0, 0, 0]]  # ids in range of any embedding
    assert cpu_floats.std() > 0


class KeywordNet(nn.Module):
    """Takes keyword arguments and a state the caller threads through two calls."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 6)
        self.proj = nn.Linear(6, 6, bias=False)

    def forward(self, *, ids: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        h: torch.Tensor = self.proj(self.embed(ids))
        return h if state is None else h + state


def test_record_graph_records_whatever_run_does() -> None:
    module = KeywordNet().eval()
    ids = torch.zeros(6, dtype=torch.int64)

    def run() -> dict[str, torch.Tensor]:
        first = module(ids=ids)
        return {"out": module(ids=ids, state=first)}

    graph = record_graph(module, run, inputs=[ids], input_labels=["ids"], name="kw")
    report = analyze(graph)
    # two calls of proj on 6 tokens: 2 x (6 tokens x 6 x 6) = 432 MACs
    assert report.total.macs == 432
    assert [layer.name for layer in report.layers] == ["embed", "proj", "embed#2", "proj#2", "Add"]
    assert graph.input_labels == ("ids",)
    assert len(graph.outputs) == 1  # the mapping's one tensor
    assert report.unsupported == {}


def test_record_graph_turns_a_failing_run_into_one_line() -> None:
    module = KeywordNet().eval()
    ids = torch.zeros(6, dtype=torch.int64)

    def run() -> torch.Tensor:
        out: torch.Tensor = module(ids=ids, state=torch.zeros(5, 5))
        return out

    with pytest.raises(ModelLoadError) as caught:
        record_graph(module, run, inputs=[ids], input_labels=["ids"], name="kw")
    message = str(caught.value)
    assert message.startswith("running kw on inputs ids=6 failed: RuntimeError: ")
    assert "\n" not in message


class LastPosition(nn.Module):
    """A Linear on the last position of a sequence, as lm_head runs in generation."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(8, 5, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(x[:, -1:, :])
        return out


def test_linear_on_a_sliced_input_on_meta_counts_and_ends() -> None:
    # on meta this Linear runs as bmm then an _unsafe_view to the shape it already has, which
    # the recorder named exactly as its input: a Reshape of a tensor into itself, and the
    # peak-memory walk looped for ever on it. 1 position x 8 x 5 = 40 MACs, as on the CPU
    with torch.device("meta"):
        meta = LastPosition()
    report = modelprof.count(meta, (1, 4, 8))
    assert report.total.macs == 40
    assert report.total.macs == modelprof.count(LastPosition(), (1, 4, 8)).total.macs
    assert all(layer.op != "Reshape" for layer in report.layers)


def test_a_graph_with_a_reshape_into_itself_is_analysed() -> None:
    # the analysis must not trust every frontend: an alias of itself is its own buffer
    from modelprof.graph import Graph, Node, TensorInfo

    info = TensorInfo("x", (1, 4), "float32")
    graph = Graph(
        name="g",
        source="pytorch",
        nodes=(Node("r", "Reshape", ("x",), ("x",), {}),),
        tensors={"x": info},
        inputs=("x",),
        outputs=("x",),
        weights={},
    )
    report = analyze(graph)
    assert report.total.macs == 0
    assert report.total.peak_activation_bytes == 16  # the one 1x4 float32 buffer
