"""Gemm, MatMul, Einsum and attention, every figure worked by hand.

A matrix product costs one MAC per (output element x shared dim); FLOPs = 2 x MACs.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import pytest

import modelprof

# -- Gemm -------------------------------------------------------------------------------------

GEMM_CASES = [
    # (case, A shape, B shape, attrs): every one is (2x3) @ (3x4) = 2 x 4 out x 3 = 24 MACs
    ("plain", (2, 3), (3, 4), {}),
    ("transA", (3, 2), (3, 4), {"transA": 1}),
    ("transB", (2, 3), (4, 3), {"transB": 1}),
    ("transA_transB", (3, 2), (4, 3), {"transA": 1, "transB": 1}),
]


@pytest.mark.parametrize(
    ("a", "b", "attrs"), [c[1:] for c in GEMM_CASES], ids=[c[0] for c in GEMM_CASES]
)
def test_gemm(count_node, a, b, attrs) -> None:
    # M=2, K=3, N=4: 2 x 4 x 3 = 24 MACs = 48 FLOPs
    report = count_node("Gemm", {"A": a}, {"B": b}, attrs=attrs)
    layer = report.layers[0]
    assert layer.output_shapes == ((2, 4),)
    assert layer.macs == 24
    assert layer.flops == 48
    # B is a 3x4 (or 4x3) weight: 12 params
    assert layer.params == 12


def test_gemm_bias_c(count_node) -> None:
    # C (4,) broadcast over the 2x4 output
    plain = count_node("Gemm", {"A": (2, 3)}, {"B": (3, 4), "C": (4,)})
    biased = count_node("Gemm", {"A": (2, 3)}, {"B": (3, 4), "C": (4,)}, count_bias=True)
    # default: 24 MACs x 2 = 48 FLOPs, the C add is not counted
    assert plain.layers[0].macs == 24
    assert plain.layers[0].flops == 48
    # count_bias: + 2 x 4 = 8 adds -> 56 FLOPs; MACs unchanged
    assert biased.layers[0].macs == 24
    assert biased.layers[0].flops == 56
    # params: 3 x 4 = 12 weights + 4 bias = 16
    assert plain.total.params == 16


def test_gemm_transA_with_bias(count_node) -> None:
    # A (3,2) transposed -> M=2, K=3; B (3,4): 2 x 4 x 3 = 24 MACs; C (2,4) full: +8 adds
    report = count_node(
        "Gemm", {"A": (3, 2)}, {"B": (3, 4), "C": (2, 4)}, attrs={"transA": 1}, count_bias=True
    )
    assert report.layers[0].macs == 24
    assert report.layers[0].flops == 48 + 8


# -- MatMul -----------------------------------------------------------------------------------

MATMUL_CASES = [
    # (case, A shape, B shape, output shape, MACs)
    # batched: out (2,3,4,6) = 144 elements x K=5 = 720 MACs
    ("batched", (2, 3, 4, 5), (2, 3, 5, 6), (2, 3, 4, 6), 720),
    # broadcast: (2,1) and (3,) batch dims -> (2,3); out (2,3,4,6) = 144 x K=5 = 720 MACs
    ("broadcast", (2, 1, 4, 5), (3, 5, 6), (2, 3, 4, 6), 720),
    # 1-D left operand (5,) is a row vector: out (6,) = 6 x K=5 = 30 MACs
    ("vector_left", (5,), (5, 6), (6,), 30),
    # 1-D right operand (5,) is a column vector: out (4,) = 4 x K=5 = 20 MACs
    ("vector_right", (4, 5), (5,), (4,), 20),
    # plain 2-D: (2,3) @ (3,4): out 8 x K=3 = 24 MACs
    ("2d", (2, 3), (3, 4), (2, 4), 24),
]


@pytest.mark.parametrize(
    ("a", "b", "out", "macs"), [c[1:] for c in MATMUL_CASES], ids=[c[0] for c in MATMUL_CASES]
)
def test_matmul(count_node, a, b, out, macs) -> None:
    report = count_node("MatMul", {"A": a, "B": b})
    layer = report.layers[0]
    assert layer.output_shapes == (out,)
    assert layer.macs == macs
    assert layer.flops == 2 * macs
    assert layer.params == 0  # both operands are activations


def test_matmul_with_weight_counts_params(count_node) -> None:
    # (2,3,4) @ weight (4,5): out (2,3,5) = 30 x K=4 = 120 MACs; 20 params
    report = count_node("MatMul", {"A": (2, 3, 4)}, {"W": (4, 5)})
    assert report.layers[0].macs == 120
    assert report.layers[0].params == 20


# -- Einsum -----------------------------------------------------------------------------------

EINSUM_CASES = [
    # (case, equation, operand shapes, MACs, FLOPs)
    # batched matmul: b=2, i=3, j=4, k=5: 2 x 3 x 4 x 5 = 120 MACs = 240 FLOPs
    ("batched_matmul", "bij,bjk->bik", [(2, 3, 4), (2, 4, 5)], 120, 240),
    # full sum of a 3x4: 12 elements into 1 = 11 adds, no MACs
    ("full_sum", "ij->", [(3, 4)], 0, 11),
    # chain, left to right: ij,jk -> ik costs i2 x j3 x k4 = 24,
    # then ik,kl -> il costs i2 x k4 x l5 = 40: 24 + 40 = 64 MACs
    ("chain", "ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)], 64, 128),
    # ellipsis, same batch: (2,3) batch x i4 x j5 x k6 = 720 MACs
    ("ellipsis", "...ij,...jk->...ik", [(2, 3, 4, 5), (2, 3, 5, 6)], 720, 1_440),
    # ellipsis with broadcasting: batch (2,3) vs (1,3) -> (2,3): 2 x 3 x 4 x 5 x 6 = 720 MACs
    # (onnx and ONNX Runtime refuse ellipses of different ranks, (2,3) vs (3,))
    ("ellipsis_broadcast", "...ij,...jk->...ik", [(2, 3, 4, 5), (1, 3, 5, 6)], 720, 1_440),
    # implicit output "ik": i2 x j3 x k4 = 24 MACs
    ("implicit_output", "ij,jk", [(2, 3), (3, 4)], 24, 48),
    # row sums: 3x4 -> 3: 3 x (4 - 1) = 9 adds = 12 - 3
    ("row_sum", "ij->i", [(3, 4)], 0, 9),
    # column sums: 3x4 -> 4: 4 x (3 - 1) = 8 adds
    ("column_sum", "ij->j", [(3, 4)], 0, 8),
    # permutation only: a copy, 0 FLOPs
    ("transpose_only", "bij->bji", [(2, 3, 4)], 0, 0),
    # trace of a 3x3: the diagonal holds 3 elements, summed with 3 - 1 = 2 adds
    # (the 6 off-diagonal elements are never read)
    ("trace", "ii->", [(3, 3)], 0, 2),
    # diagonal extraction: a copy of 3 elements, 0 FLOPs
    ("diagonal", "ii->i", [(3, 3)], 0, 0),
    # bilinear-style contraction on a shared batch: bi,bi->b: b2 x i3 = 6 MACs
    ("dot_per_batch", "bi,bi->b", [(2, 3), (2, 3)], 6, 12),
]


@pytest.mark.parametrize(
    ("equation", "shapes", "macs", "flops"),
    [c[1:] for c in EINSUM_CASES],
    ids=[c[0] for c in EINSUM_CASES],
)
def test_einsum(count_node, equation, shapes, macs, flops) -> None:
    inputs = {f"X{i}": s for i, s in enumerate(shapes)}
    report = count_node("Einsum", inputs, attrs={"equation": equation}, opset=17)
    layer = report.layers[0]
    assert layer.counted, layer.note
    assert layer.macs == macs
    assert layer.flops == flops


# -- ONNX Attention (opset 23) ---------------------------------------------------------------


def test_onnx_attention(count_node) -> None:
    # Q (1,2,4,8), K (1,2,6,8), V (1,2,6,8): B=1, H=2, L=4, S=6, E=Ev=8
    # scores = 1 x 2 x 4 x 6 = 48
    # MACs: Q.K^T 48 x 8 + scores.V 48 x 8 = 768
    # FLOPs: 2 x 768 = 1,536 + (1 scale + 5 softmax) x 48 = 288 -> 1,824
    report = count_node(
        "Attention", {"Q": (1, 2, 4, 8), "K": (1, 2, 6, 8), "V": (1, 2, 6, 8)}, opset=23
    )
    layer = report.layers[0]
    assert layer.counted, layer.note
    assert layer.output_shapes == ((1, 2, 4, 8),)
    assert layer.macs == 768
    assert layer.flops == 1_824


def test_onnx_attention_with_mask(count_node) -> None:
    # as above, + 1 add per score for the additive mask (4,6): 1,824 + 48 = 1,872
    report = count_node(
        "Attention",
        {"Q": (1, 2, 4, 8), "K": (1, 2, 6, 8), "V": (1, 2, 6, 8), "M": (4, 6)},
        opset=23,
    )
    layer = report.layers[0]
    assert layer.macs == 768
    assert layer.flops == 1_872


def test_onnx_attention_3d_inputs(count_node) -> None:
    # 3-D (B, L, H*E): Q (1,4,16), K/V (1,6,16), 2 heads of 8: the same 48 scores,
    # 768 MACs and 1,824 FLOPs as the 4-D case
    report = count_node(
        "Attention",
        {"Q": (1, 4, 16), "K": (1, 6, 16), "V": (1, 6, 16)},
        attrs={"q_num_heads": 2, "kv_num_heads": 2},
        opset=23,
    )
    layer = report.layers[0]
    assert layer.macs == 768
    assert layer.flops == 1_824


# -- scaled_dot_product_attention, through PyTorch and through an ONNX export ---------------

SDPA_SHAPE = (1, 2, 4, 8)


def _sdpa_module():
    torch = pytest.importorskip("torch")

    class SDPA(torch.nn.Module):
        def forward(self, q, k, v):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v)

    return SDPA().eval()


def test_sdpa_torch_route() -> None:
    # B=1, H=2, L=S=4, E=8: Q.K^T 1x2x4x4x8 = 256 + scores.V 256 = 2 x 256 = 512 MACs
    module = _sdpa_module()
    report = modelprof.count(module, {"q": SDPA_SHAPE, "k": SDPA_SHAPE, "v": SDPA_SHAPE})
    assert report.total.macs == 512
    # scores = 1 x 2 x 4 x 4 = 32; FLOPs = 2 x 512 + (1 scale + 5 softmax) x 32 = 1,216
    assert report.total.flops == 1_216
    assert [layer.op for layer in report.layers] == ["Attention"]
    assert report.node_coverage == 1.0
    assert report.unsupported == {}


def test_sdpa_torch_route_with_mask() -> None:
    torch = pytest.importorskip("torch")

    class MaskedSDPA(torch.nn.Module):
        def forward(self, q, k, v, mask):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    shapes = {"q": SDPA_SHAPE, "k": SDPA_SHAPE, "v": SDPA_SHAPE, "mask": (4, 4)}
    report = modelprof.count(MaskedSDPA().eval(), shapes)
    # 512 MACs as unmasked; FLOPs 1,216 + 1 mask add per score x 32 = 1,248
    assert report.total.macs == 512
    assert report.total.flops == 1_248


def _export_sdpa(tmp_path):
    torch = pytest.importorskip("torch")
    args = tuple(torch.randn(SDPA_SHAPE) for _ in range(3))
    path = tmp_path / "sdpa.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _sdpa_module(), args, str(path), dynamo=False, input_names=["q", "k", "v"]
        )
    return path


def test_sdpa_onnx_export_matmuls(tmp_path) -> None:
    report = modelprof.count(_export_sdpa(tmp_path))
    matmuls = [layer for layer in report.layers if layer.op == "MatMul"]
    # the exporter writes Q.K^T and scores.V as two MatMuls of 1x2x4x4x8 = 256 MACs each
    assert [layer.macs for layer in matmuls] == [256, 256]
    assert sum(layer.macs for layer in matmuls) == 512
    assert report.total.macs == 512
    assert report.unsupported == {}
    assert report.node_coverage == 1.0


def test_sdpa_onnx_export_has_no_params(tmp_path) -> None:
    # the module has no parameters (PyTorch route: 0), and docs/conventions.md says the routes
    # differ in params only by BatchNorm folding; the export's one float Constant ([1.], the
    # numerator of 1/sqrt(E) in the scale) is a constant, not a weight
    report = modelprof.count(_export_sdpa(tmp_path))
    assert report.total.params == 0
