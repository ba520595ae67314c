"""TorchScript exports (``torch.onnx.export(..., dynamo=False)``) count like their PyTorch source.

That exporter writes shape arithmetic as small subgraphs of constants, which onnx's shape
inference does not evaluate: everything downstream had no shape and was not counted (BERT-base
589,824 MACs of 11,174,215,680). Each module below rebuilds one real model's pattern and, on
the code before the fix, lost shapes the same way (figures in each docstring); both exporters'
files must now count the MACs of the PyTorch route and of a hand-worked formula.

Params are compared where the exporter keeps the module's tensors as they are: the dynamo
exporter folds constant-indexed work into new initializers (BERT's position embeddings,
CoaT's expanded class token), and the TorchScript one stores NFNet's standardised weight
twice, reshaped and transposed.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import modelprof
from modelprof.errors import ModelLoadError

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


def _export(module: Any, example: Any, path: Path, *, dynamo: bool) -> Path:
    """Export quietly (the dynamo exporter prints progress, TorchScript warns it is legacy)."""
    module.eval()
    sink = io.StringIO()
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        warnings.simplefilter("ignore")
        extra = {"external_data": False} if dynamo else {"opset_version": 17}
        torch.onnx.export(module, (example,), str(path), dynamo=dynamo, input_names=["x"], **extra)
    return path


EXPORTERS = pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])


# -- BERT, the real transformers class -------------------------------------------------------

S, H, FFN, L, VOCAB, POSITIONS = 16, 32, 64, 2, 100, 64  # FFN: the intermediate size I


class _Bert(nn.Module):
    """transformers' BertModel with plain tensor outputs (what an exporter needs)."""

    def __init__(self) -> None:
        super().__init__()
        from transformers import BertConfig, BertModel

        config = BertConfig(
            vocab_size=VOCAB,
            hidden_size=H,
            num_hidden_layers=L,
            num_attention_heads=2,
            intermediate_size=FFN,
            max_position_embeddings=POSITIONS,
        )
        self.bert = BertModel(config)

    def forward(self, ids: Any) -> Any:
        out = self.bert(input_ids=ids)
        return out.last_hidden_state, out.pooler_output


@pytest.fixture(scope="module")
def bert() -> tuple[Any, Any]:
    torch.manual_seed(0)
    model = _Bert().eval()
    with torch.no_grad():  # torchscript merges identical initializers (zero biases, unit gammas)
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return model, torch.randint(0, VOCAB, (1, S))


# per layer: Q, K, V, O projections 4*S*H*H, FFN 2*S*H*I, attention QK^T and AV 2*S*S*H;
# the pooler one H x H product on the [CLS] token:
# 2*16*(4*32*32 + 2*32*64) + 2*2*16*16*32 + 32*32 = 262,144 + 32,768 + 1,024 = 295,936
BERT_MACS = L * S * (4 * H * H + 2 * H * FFN) + L * 2 * S * S * H + H * H
# embeddings 100*32 + 64*32 + 2*32 + LayerNorm 2*32 = 5,376; per layer 4*(32*32+32) + 2*32
# + (32*64+64) + (64*32+32) + 2*32 = 8,544; pooler 32*32+32 = 1,056: 5,376 + 2*8,544 + 1,056
BERT_PARAMS = 23_520


def test_the_bert_formula_gives_bert_base_figure() -> None:
    """The formula's BERT-base (S 128, H 768, I 3072, 12 layers) figure, worked by hand:
    12*128*(4*589,824 + 2*768*3,072) = 10,871,635,968; 12*2*128^2*768 = 301,989,888; pooler
    589,824; total 11,174,215,680, the published figure the issue quotes."""
    s, h, i, layers = 128, 768, 3072, 12
    assert (
        layers * s * (4 * h * h + 2 * h * i) + layers * 2 * s * s * h + h * h
        == (10_871_635_968 + 301_989_888 + 589_824)
        == 11_174_215_680
    )
    assert BERT_MACS == 295_936


def test_bert_pytorch_route_matches_the_formula(bert: tuple[Any, Any]) -> None:
    model, ids = bert
    report = modelprof.count(model, ids)
    assert report.total.macs == BERT_MACS == 295_936
    assert report.total.params == BERT_PARAMS


@EXPORTERS
def test_bert_export_counts_like_pytorch(
    bert: tuple[Any, Any], tmp_path: Path, dynamo: bool
) -> None:
    """Before the fix the TorchScript file counted 1,024 MACs (the pooler alone; node
    coverage 39.8 %): BERT's embeddings expand token-type ids through ConstantOfShape -> Mul
    -> Equal -> Where -> Expand, which onnx's inference leaves unknown."""
    model, ids = bert
    report = modelprof.count(_export(model, ids, tmp_path / "bert.onnx", dynamo=dynamo))
    assert report.total.macs == BERT_MACS
    assert report.node_coverage == 1.0
    assert report.notes == ()
    if not dynamo:  # dynamo folds the position embeddings' constant-index Gather into a table
        assert report.total.params == BERT_PARAMS


def test_bert_torchscript_with_dynamic_axes_counts_at_the_bound_shape(
    bert: tuple[Any, Any], tmp_path: Path
) -> None:
    """Exported with dynamic batch and sequence, bound at 1 x 32 (twice the exported length):
    the shape arithmetic now reads Shape of activations. Before the fix this counted 0 MACs,
    with a note saying the bound input shapes "may not fit the model"."""
    model, ids = bert
    path = tmp_path / "bert-dynamic.onnx"
    sink = io.StringIO()
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (ids,),
            str(path),
            dynamo=False,
            input_names=["ids"],
            dynamic_axes={"ids": {0: "batch", 1: "seq"}},
            opset_version=17,
        )
    report = modelprof.count(path, {"ids": (1, 2 * S)})
    # the formula at S = 32: 2*32*(4*32*32 + 2*32*64) + 2*2*32*32*32 + 32*32
    # = 524,288 + 131,072 + 1,024 = 656,384
    assert report.total.macs == L * 32 * (4 * H * H + 2 * H * FFN) + L * 2 * 32 * 32 * H + H * H
    assert report.total.macs == 656_384
    assert report.node_coverage == 1.0
    assert report.notes == ()


# -- timm's patterns, rebuilt small ------------------------------------------------------


class SwinWindowPad(nn.Module):
    """Swin's block: pad the (B, H, W, C) map up to a multiple of the window, the padding
    computed from the input size (timm's SwinTransformerBlock), then work on it. The
    TorchScript export computes the pads through Mod/Sub/Concat/Reshape/Slice/Transpose/Cast
    into Pad; before the fix it counted 0 of 184,320 MACs (node coverage 89.3 %)."""

    def __init__(self, channels: int = 8, window: int = 4) -> None:
        super().__init__()
        self.window = window
        self.fc = nn.Linear(channels, channels)
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Any) -> Any:
        _, height, width, _ = x.shape
        pad_h = (self.window - height % self.window) % self.window
        pad_w = (self.window - width % self.window) % self.window
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
        return self.conv(self.fc(x).permute(0, 3, 1, 2))


class _StdConv(nn.Module):
    """timm's ScaledStdConv2d: the weight standardised at run time, then F.conv2d."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(channels, channels, 3, 3))
        self.gain = nn.Parameter(1 + 0.1 * torch.randn(channels, 1, 1, 1))
        self.scale = 1 / 3

    def forward(self, x: Any) -> Any:
        weight = F.batch_norm(
            self.weight.reshape(1, self.weight.shape[0], -1),
            None,
            None,
            weight=(self.gain * self.scale).view(-1),
            training=True,
            momentum=0.0,
            eps=1e-6,
        ).reshape_as(self.weight)
        return F.conv2d(x, weight, None, 1, 1)


class NFNetStdConvs(nn.Module):
    """Two standardised convs of one shape, as in every NFNet stage: the TorchScript exporter
    stores their shared reshape target once and reads it for the second through an Identity
    of that initializer, which onnx's inference does not see through. Before the fix the
    second conv was not counted: 9,216 of 18,432 MACs (node coverage 93.8 %)."""

    def __init__(self, channels: int = 4) -> None:
        super().__init__()
        self.a = _StdConv(channels)
        self.b = _StdConv(channels)

    def forward(self, x: Any) -> Any:
        return self.b(self.a(x))


class CoaTClassToken(nn.Module):
    """CoaT's class token expanded to the batch size and put before the tokens. The
    TorchScript export computes Expand's shape through ConstantOfShape/Mul/Equal/Where; before
    the fix it counted 0 of 1,536 MACs (node coverage 87.5 %)."""

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.randn(1, 1, channels))
        self.fc = nn.Linear(channels, 2 * channels)

    def forward(self, x: Any) -> Any:
        cls = self.cls.expand(x.shape[0], -1, -1)
        return self.fc(torch.cat((cls, x), dim=1))


PATTERNS = {
    # fc on the padded 2x12x12 map: 2*144*8*8 = 18,432; conv 8->8 3x3 on 12x12:
    # 2*8*144*8*9 = 165,888; 184,320 in all. Params fc 8*8+8 + conv 8*8*9+8 = 656.
    "swin-pad": (SwinWindowPad, (2, 10, 10, 8), 184_320, 656),
    # two 4->4 3x3 convs on 8x8, padding 1: 2 * 1*4*64*4*9 = 18,432. Params 2*(144+4) = 296.
    "nfnet-std-conv": (NFNetStdConvs, (1, 4, 8, 8), 18_432, 296),
    # fc 8->16 on 2 x (1 + 5) tokens: 2*6*8*16 = 1,536. Params cls 8 + fc 8*16+16 = 152.
    "coat-expand": (CoaTClassToken, (2, 5, 8), 1_536, 152),
}
#: (pattern, exporter) pairs whose file stores the module's params as they are.
SAME_PARAMS = {("swin-pad", False), ("swin-pad", True), ("coat-expand", False)}


@EXPORTERS
@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_timm_pattern_export_counts_like_pytorch(
    pattern: str, dynamo: bool, tmp_path: Path
) -> None:
    build, shape, macs, params = PATTERNS[pattern]
    torch.manual_seed(0)
    module = build().eval()
    x = torch.randn(shape)
    source = modelprof.count(module, x)
    assert (source.total.macs, source.total.params) == (macs, params)
    report = modelprof.count(_export(module, x, tmp_path / f"{pattern}.onnx", dynamo=dynamo))
    assert report.total.macs == macs
    assert report.node_coverage == 1.0
    if (pattern, dynamo) in SAME_PARAMS:
        assert report.total.params == params


# -- what is never evaluated, and what is refused ----------------------------------------


def _reshape_model(shape_source: list[Any], stored: list[Any]) -> onnx.ModelProto:
    """x (2x4) reshaped to a target computed by ``shape_source`` nodes into 't', then a MatMul
    by a 4x3 weight (2x4x3 = 24 MACs once the target is known)."""
    nodes = [
        *shape_source,
        helper.make_node("Reshape", ["x", "t"], ["r"], name="reshape"),
        helper.make_node("MatMul", ["r", "w"], ["y"], name="fc"),
    ]
    weight = np.arange(12, dtype=np.float32).reshape(4, 3)
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weight, "w"), *stored],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_identity_of_a_stored_shape_is_seen_through() -> None:
    """NFNet's pattern in three nodes: the Reshape target read through an Identity."""
    target = numpy_helper.from_array(np.array([2, 4], np.int64), "shape")
    model = _reshape_model([helper.make_node("Identity", ["shape"], ["t"], name="id")], [target])
    report = modelprof.count(model)
    assert report.total.macs == 2 * 4 * 3  # 24
    assert report.node_coverage == 1.0


def test_external_data_is_never_read(tmp_path: Path) -> None:
    """A shape stored as external data is not read, even to complete shapes: with its data
    file gone the model is still counted, and the note says why the MatMul has no shape."""
    target = numpy_helper.from_array(np.array([2, 4], np.int64), "shape")
    model = _reshape_model([helper.make_node("Identity", ["shape"], ["t"], name="id")], [target])
    path = tmp_path / "m.onnx"
    onnx.save_model(
        model, str(path), save_as_external_data=True, location="m.data", size_threshold=0
    )
    (tmp_path / "m.data").unlink()
    report = modelprof.count(path)
    assert report.layer("fc").note == "no shape known for input 'r'"
    assert report.notes == (
        "2 node(s) have no known output shape, so what they feed is not counted; shapes stop "
        "at node 'reshape' (Reshape): its output shape depends on the value of input 't', "
        "which depends on 'shape', stored as external data (never read)",
    )


def test_large_tensors_are_never_evaluated() -> None:
    """A target sliced out of a 2,000-element table is not computed: only tensors of up to
    1,024 elements are; the note names the table."""
    table = numpy_helper.from_array(np.full(2000, 2, np.int64), "table")
    starts = numpy_helper.from_array(np.array([0], np.int64), "starts")
    ends = numpy_helper.from_array(np.array([2], np.int64), "ends")
    source = [
        helper.make_node("Identity", ["table"], ["big"], name="copy"),
        helper.make_node("Slice", ["big", "starts", "ends"], ["t"], name="slice"),
    ]
    report = modelprof.count(_reshape_model(source, [table, starts, ends]))
    assert report.total.macs == 0
    assert report.notes[0].endswith(
        "depends on the output of node 'copy' (Identity), a tensor of 2,000 elements (only "
        "tensors of up to 1,024 are evaluated)"
    )


def test_a_node_invalid_once_its_shape_is_computed_is_refused() -> None:
    """An Expand of a 1x4 tensor to 3x5 (the target read through an Identity) does not
    broadcast (4 against 5): ONNX Runtime refuses the model, so modelprof does too instead of
    counting around it (the code before the fix counted it with the MatMul left out)."""
    target = numpy_helper.from_array(np.array([3, 5], np.int64), "shape")
    nodes = [
        helper.make_node("Identity", ["shape"], ["t"], name="id"),
        helper.make_node("Expand", ["x", "t"], ["e"], name="expand"),
        helper.make_node("MatMul", ["e", "w"], ["y"], name="fc"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.ones((4, 3), np.float32), "w"), target],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ModelLoadError, match=r"node 'expand' \(Expand\) is invalid"):
        modelprof.count(model)
