"""The figures the README and docs/conventions.md promise, asserted end to end."""

from __future__ import annotations

import pytest

import modelprof

# seed-cnn, worked by hand (README, "A worked example"):
#   conv1  1->10 3x3 on 28x28 -> 26x26: 10*26*26*1*9 = 60,840 MACs = 121,680 FLOPs
#   pool   2x2 avg -> 10x13x13 = 1,690 outputs x 4    =   6,760 FLOPs
#   conv2  10->5 3x3 on 13x13 -> 11x11: 5*121*10*9 = 54,450 MACs = 108,900 FLOPs
#   fc1    605->128: 77,440 MACs = 154,880 FLOPs;  fc2 128->10: 1,280 MACs = 2,560 FLOPs
SEED_CNN_FLOPS = [121_680, 6_760, 108_900, 154_880, 2_560]


def test_seed_cnn_layers_totals_and_peak_memory() -> None:
    report = modelprof.count("seed-cnn")
    costed = [layer for layer in report.layers if layer.flops]
    assert [layer.flops for layer in costed] == SEED_CNN_FLOPS
    assert [layer.name for layer in costed] == ["conv1", "pool", "conv2", "fc1", "fc2"]
    assert report.total.flops == 394_780
    assert report.total.macs == 194_010
    # 90 + 450 + 77,440 + 1,280
    assert report.total.params == 79_260
    # conv1 output 10x26x26x4 B = 27,040 live with the pool output 10x13x13x4 B = 6,760
    assert report.total.peak_activation_bytes == 33_800
    assert report.node_coverage == 1.0
    assert report.unsupported == {}


def test_seed_separable_totals() -> None:
    report = modelprof.count("seed-separable")
    flops = {layer.name: layer.flops for layer in report.layers}
    # dw1 1x26x26x9 = 6,084 MACs; pw1 10x676 = 6,760; dw2 10x24x24x9 = 51,840;
    # pw2 5x576x10 = 28,800; fc1 2880x128 = 368,640; fc2 1,280
    assert flops == {
        "dw1": 12_168,
        "pw1": 13_520,
        "dw2": 103_680,
        "pw2": 57_600,
        "fc1": 737_280,
        "fc2": 2_560,
    }
    assert report.total.macs == 463_404
    assert report.total.flops == 926_808


# Published multiply-adds (torchvision / the MobileNet papers) and parameter counts.
PUBLISHED = {
    "resnet18": (1.814e9, 11_689_512),
    "resnet50": (4.089e9, 25_557_032),
    "mobilenet_v1": (568.7e6, 4_231_976),
    "mobilenet_v2": (300.8e6, 3_504_872),
    "vgg16": (15.47e9, 138_357_544),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_zoo_matches_published_macs_and_params(name: str) -> None:
    macs, params = PUBLISHED[name]
    report = modelprof.count(name)
    assert report.total.params == params
    assert abs(report.total.macs - macs) / macs < 0.001
    assert report.node_coverage == 1.0


def test_transformer_layer() -> None:
    report = modelprof.count("transformer")
    # projections: 128x512x1536 + 128x512x512 + 2 x 128x512x2048 = 402,653,184
    # attention: QK^T and AV, 2 x 8 heads x 128 x 128 x 64 = 16,777,216
    assert report.total.macs == 419_430_400
    attention = [layer for layer in report.layers if layer.op == "Attention"]
    assert sum(layer.macs for layer in attention) == 16_777_216
    assert report.total.params == 3_152_384


def test_resnet18_layer_names_carry_module_paths() -> None:
    report = modelprof.count("resnet18")
    conv = report.layer("layer1.0.conv1")
    # 64->64 3x3 on 56x56: 64*56*56*64*9 = 115,605,504 MACs
    assert (conv.op, conv.macs, conv.params) == ("Conv", 115_605_504, 36_864)
    assert report.layer("layer4.1.bn2").op == "BatchNormalization"
    # the block's own residual Add is named after the block
    assert report.layer("layer1.0/Add").op == "Add"
    scopes = {g.key: g for g in report.by_scope(depth=1)}
    assert scopes["layer1"].macs == 4 * 115_605_504
    assert abs(sum(g.flops for g in report.by_scope(2)) - report.total.flops) == 0
