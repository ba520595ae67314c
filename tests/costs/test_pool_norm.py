"""Pooling, normalisation and softmax, every figure worked by hand.

Windowed pools: FLOPs = output elements x kernel area; global pools: input elements.
BatchNormalization: 2 per element. Layer/Instance/GroupNormalization: 5 per element to
normalise + 1 for the scale + 1 for the bias. Softmax/LogSoftmax: 5 per element.
None of them has MACs.
"""

from __future__ import annotations

import pytest

# -- pooling ----------------------------------------------------------------------------------

POOL_CASES = [
    # (case, op, X shape, attrs, output shape, FLOPs)
    # out = 6 - 3 + 1 = 4: 1 x 2 ch x 4x4 out = 32 outputs x 3x3 kernel = 288 FLOPs
    ("maxpool_k3_s1", "MaxPool", (1, 2, 6, 6), {"kernel_shape": [3, 3]}, (1, 2, 4, 4), 288),
    # out = (6 - 2) / 2 + 1 = 3: 1 x 2 ch x 3x3 out = 18 outputs x 2x2 kernel = 72 FLOPs
    (
        "avgpool_k2_s2",
        "AveragePool",
        (1, 2, 6, 6),
        {"kernel_shape": [2, 2], "strides": [2, 2]},
        (1, 2, 3, 3),
        72,
    ),
    # ceil_mode: out = ceil((5 - 2) / 2) + 1 = 3 (floor would give 2):
    # 1 x 1 ch x 3x3 out = 9 outputs x 2x2 kernel = 36 FLOPs
    (
        "maxpool_ceil_mode",
        "MaxPool",
        (1, 1, 5, 5),
        {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1},
        (1, 1, 3, 3),
        36,
    ),
    # floor (default) on the same input: 2x2 out = 4 outputs x 4 = 16 FLOPs
    (
        "maxpool_floor_mode",
        "MaxPool",
        (1, 1, 5, 5),
        {"kernel_shape": [2, 2], "strides": [2, 2]},
        (1, 1, 2, 2),
        16,
    ),
    # padded average pool: out = 4 + 1 + 1 - 3 + 1 = 4: 1 x 1 x 4x4 = 16 outputs x 9 = 144
    (
        "avgpool_padded",
        "AveragePool",
        (1, 1, 4, 4),
        {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]},
        (1, 1, 4, 4),
        144,
    ),
    # 1-D: out = 8 - 2 + 1 = 7: 1 x 3 ch x 7 = 21 outputs x 2 = 42 FLOPs
    ("maxpool_1d", "MaxPool", (1, 3, 8), {"kernel_shape": [2]}, (1, 3, 7), 42),
    # global pools read every input element once: 1 x 3 x 4 x 4 = 48 FLOPs
    ("global_avg", "GlobalAveragePool", (1, 3, 4, 4), {}, (1, 3, 1, 1), 48),
    ("global_max", "GlobalMaxPool", (1, 3, 4, 4), {}, (1, 3, 1, 1), 48),
]


@pytest.mark.parametrize(
    ("op", "x", "attrs", "out", "flops"),
    [c[1:] for c in POOL_CASES],
    ids=[c[0] for c in POOL_CASES],
)
def test_pool(count_node, op, x, attrs, out, flops) -> None:
    report = count_node(op, {"X": x}, attrs=attrs)
    layer = report.layers[0]
    assert layer.counted, layer.note
    assert layer.output_shapes == (out,)
    assert layer.macs == 0
    assert layer.flops == flops
    assert report.total.params == 0


# -- normalisation ----------------------------------------------------------------------------


def test_batch_normalization(count_node) -> None:
    # 1 x 3 x 4 x 4 = 48 elements x 2 (scale multiply + shift add) = 96 FLOPs
    report = count_node(
        "BatchNormalization",
        {"X": (1, 3, 4, 4)},
        {"scale": (3,), "B": (3,), "mean": (3,), "var": (3,)},
    )
    layer = report.layers[0]
    assert layer.macs == 0
    assert layer.flops == 96
    # scale + B = 3 + 3 = 6 params; mean + var = 3 + 3 = 6 buffers
    assert report.total.params == 6
    assert report.total.buffers == 6
    assert layer.params == 6


@pytest.mark.parametrize(
    ("weights", "flops", "params"),
    [
        # (2,3,4) = 24 elements x (5 + 1 scale + 1 bias) = 24 x 7 = 168 FLOPs;
        # scale (4,) + bias (4,) = 8 params
        ({"scale": (4,), "bias": (4,)}, 168, 8),
        # no bias: 24 x (5 + 1 scale) = 24 x 6 = 144 FLOPs; 4 params
        ({"scale": (4,)}, 144, 4),
    ],
    ids=["scale_bias", "scale_only"],
)
def test_layer_normalization(count_node, weights, flops, params) -> None:
    report = count_node("LayerNormalization", {"X": (2, 3, 4)}, weights, attrs={"axis": -1})
    layer = report.layers[0]
    assert layer.macs == 0
    assert layer.flops == flops
    assert report.total.params == params


def test_instance_normalization(count_node) -> None:
    # 1 x 2 x 3 x 3 = 18 elements x (5 + 1 scale + 1 bias) = 126 FLOPs
    report = count_node("InstanceNormalization", {"X": (1, 2, 3, 3)}, {"scale": (2,), "B": (2,)})
    assert report.layers[0].flops == 126
    # scale (2,) + B (2,) = 4 params
    assert report.total.params == 4


def test_group_normalization(count_node) -> None:
    # opset 21: per-channel scale and bias. 1 x 4 x 2 x 2 = 16 elements x 7 = 112 FLOPs
    report = count_node(
        "GroupNormalization",
        {"X": (1, 4, 2, 2)},
        {"scale": (4,), "bias": (4,)},
        attrs={"num_groups": 2},
        opset=21,
    )
    layer = report.layers[0]
    assert layer.counted, layer.note
    assert layer.flops == 112
    assert report.total.params == 8


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax(count_node, op) -> None:
    # (2, 5) = 10 elements x 5 (max, subtract, exp, sum, divide) = 50 FLOPs
    report = count_node(op, {"X": (2, 5)}, attrs={"axis": -1})
    layer = report.layers[0]
    assert layer.macs == 0
    assert layer.flops == 50


def test_lp_normalization(count_node) -> None:
    # (2, 5) = 10 elements x 3 (square, sum, divide) = 30 FLOPs
    report = count_node("LpNormalization", {"X": (2, 5)}, attrs={"axis": -1, "p": 2})
    assert report.layers[0].flops == 30
