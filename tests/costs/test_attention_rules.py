"""ONNX Attention (opset 23), every factor of its rule pinned by a hand count.

MACs = B x Hq x L x S x (E + Ev) (Q.K^T and scores.V); FLOPs = 2 x MACs + (1 scale + 5 softmax)
per score, + 1 per score with an additive mask. With a KV cache (past_key, past_value of shape
(B, Hkv, P, E)) the keys attended to are the past ones and the new ones: S = P + S_new. Every
dimension below is distinct from the others where it could be mistaken for one (B=2, H=3,
L=4, ...), so a rule that drops or swaps a factor gives a different number.
"""

from __future__ import annotations

import pytest

from modelprof.analysis import analyze
from modelprof.costs import REGISTRY, OpCall
from modelprof.costs.registry import MissingShapeError
from modelprof.graph import Graph, Node, TensorInfo


def _call(*shapes: tuple[int, ...] | None, **attrs: int) -> OpCall:
    inputs = tuple(
        None if s is None else TensorInfo(f"i{k}", s, "float32") for k, s in enumerate(shapes)
    )
    return OpCall("Attention", inputs, (None,), attrs)


def _rule(call: OpCall):
    rule = REGISTRY.lookup("Attention")
    assert rule is not None
    return rule(call)


def test_batch_and_heads_both_multiply(count_node) -> None:
    # Q (2,3,4,8), K (2,3,5,8), V (2,3,5,6): B=2, H=3, L=4, S=5, E=8, Ev=6
    # scores = 2 x 3 x 4 x 5 = 120; MACs = 120 x (8 + 6) = 1,680
    # FLOPs = 2 x 1,680 + (1 + 5) x 120 = 3,360 + 720 = 4,080
    report = count_node(
        "Attention", {"Q": (2, 3, 4, 8), "K": (2, 3, 5, 8), "V": (2, 3, 5, 6)}, opset=23
    )
    layer = report.layers[0]
    assert layer.counted, layer.note
    assert layer.output_shapes == ((2, 3, 4, 6),)
    assert (layer.macs, layer.flops) == (1_680, 4_080)


def test_kv_cache_adds_the_past_keys(count_node) -> None:
    # as above with a cache of P=7 past keys and values: past_key (2,3,7,8), past_value (2,3,7,6)
    # S = 7 + 5 = 12; scores = 2 x 3 x 4 x 12 = 288; MACs = 288 x 14 = 4,032
    # FLOPs = 8,064 + 6 x 288 = 8,064 + 1,728 = 9,792 (no mask: input 3 is left out)
    report = count_node(
        "Attention",
        {
            "Q": (2, 3, 4, 8),
            "K": (2, 3, 5, 8),
            "V": (2, 3, 5, 6),
            "PK": (2, 3, 7, 8),
            "PV": (2, 3, 7, 6),
        },
        node_inputs=["Q", "K", "V", "", "PK", "PV"],
        n_outputs=3,
        opset=23,
    )
    layer = report.layers[0]
    assert layer.counted, layer.note
    # the present key/value outputs hold all 12 positions
    assert layer.output_shapes[1:] == ((2, 3, 12, 8), (2, 3, 12, 6))
    assert (layer.macs, layer.flops) == (4_032, 9_792)


def test_kv_cache_with_a_mask(count_node) -> None:
    # the same with an additive mask over (L, S) = (4, 12): + 1 add per score = 9,792 + 288
    report = count_node(
        "Attention",
        {
            "Q": (2, 3, 4, 8),
            "K": (2, 3, 5, 8),
            "V": (2, 3, 5, 6),
            "M": (4, 12),
            "PK": (2, 3, 7, 8),
            "PV": (2, 3, 7, 6),
        },
        n_outputs=3,
        opset=23,
    )
    layer = report.layers[0]
    assert (layer.macs, layer.flops) == (4_032, 10_080)


def test_decode_step_one_query_against_the_cache() -> None:
    # one generated token (L=1, S_new=1) against P=9 cached positions: S = 10
    # B=2, H=3: scores = 2 x 3 x 1 x 10 = 60; MACs = 60 x (8 + 8) = 960
    # FLOPs = 1,920 + 6 x 60 = 2,280
    call = _call((2, 3, 1, 8), (2, 3, 1, 8), (2, 3, 1, 8), None, (2, 3, 9, 8), (2, 3, 9, 8))
    assert tuple(_rule(call)) == (960, 2_280, 0)


def test_3d_inputs_grouped_query_heads(count_node) -> None:
    # 3-D (B, L, H*E) with 4 query heads and 2 KV heads (grouped-query attention):
    # Q (2,4,32): E = 32 / 4 = 8; K (2,5,16); V (2,5,12): Ev = 12 / 2 = 6
    # scores = B 2 x Hq 4 x L 4 x S 5 = 160; MACs = 160 x (8 + 6) = 2,240
    # FLOPs = 4,480 + 6 x 160 = 5,440
    report = count_node(
        "Attention",
        {"Q": (2, 4, 32), "K": (2, 5, 16), "V": (2, 5, 12)},
        attrs={"q_num_heads": 4, "kv_num_heads": 2},
        opset=23,
    )
    layer = report.layers[0]
    assert layer.counted, layer.note
    assert layer.output_shapes == ((2, 4, 24),)  # Hq 4 x Ev 6
    assert (layer.macs, layer.flops) == (2_240, 5_440)


def test_3d_inputs_with_a_kv_cache() -> None:
    # the 3-D case above with a 4-D cache (B, Hkv, P, E) of P=3: S = 5 + 3 = 8
    # scores = 2 x 4 x 4 x 8 = 256; MACs = 256 x 14 = 3,584; FLOPs = 7,168 + 6 x 256 = 8,704
    call = _call(
        (2, 4, 32),
        (2, 5, 16),
        (2, 5, 12),
        None,
        (2, 2, 3, 8),
        (2, 2, 3, 6),
        q_num_heads=4,
        kv_num_heads=2,
    )
    assert tuple(_rule(call)) == (3_584, 8_704, 0)


@pytest.mark.parametrize(
    "attrs", [{}, {"q_num_heads": 4}, {"kv_num_heads": 2}], ids=["none", "q_only", "kv_only"]
)
def test_3d_inputs_without_head_counts_cannot_be_costed(attrs) -> None:
    # (B, L, H*E) does not say how H*E splits: the rule refuses rather than guess
    call = _call((2, 4, 32), (2, 5, 16), (2, 5, 12), **attrs)
    with pytest.raises(MissingShapeError, match="q_num_heads and kv_num_heads"):
        _rule(call)


def test_3d_inputs_without_head_counts_are_listed_not_counted() -> None:
    # ONNX's checker refuses such a node, but a Graph from another frontend can hold one: the
    # user sees it as not counted, with the reason, never as a silent zero
    shapes = {"q": (2, 4, 32), "k": (2, 5, 16), "v": (2, 5, 12), "y": (2, 4, 24)}
    graph = Graph(
        name="g",
        source="test",
        nodes=(Node("attn", "Attention", ("q", "k", "v"), ("y",), {"kv_num_heads": 2}),),
        tensors={n: TensorInfo(n, s, "float32") for n, s in shapes.items()},
        inputs=("q", "k", "v"),
        outputs=("y",),
        weights={},
    )
    report = analyze(graph)
    layer = report.layers[0]
    assert not layer.counted
    assert "q_num_heads and kv_num_heads" in layer.note
    assert [u.op_type for u in report.uncounted] == ["Attention"]
    assert report.node_coverage == 0.0
    assert report.total.flops == 0
