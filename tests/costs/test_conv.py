"""Conv and ConvTranspose, every figure worked by hand.

Conv MACs = N x Cout x prod(out spatial) x (Cin / group) x prod(kernel).
ConvTranspose MACs = N x Cin x prod(in spatial) x (Cout / group) x prod(kernel).
FLOPs = 2 x MACs; bias adds only with count_bias (1 FLOP per output element).
"""

from __future__ import annotations

import math

import pytest

import modelprof

# (case, X shape, W shape, attrs, output shape, MACs)
CONV_CASES = [
    (
        # out = floor((8 + 1 + 1 - 3) / 2) + 1 = 4
        # 1 x 4 out-ch x 4x4 out x 3 in-ch x 3x3 kernel = 1,728 MACs
        "strided",
        (1, 3, 8, 8),
        (4, 3, 3, 3),
        {"strides": [2, 2], "pads": [1, 1, 1, 1]},
        (1, 4, 4, 4),
        1_728,
    ),
    (
        # out = 5 + 1 + 1 - 3 + 1 = 5
        # 1 x 3 out-ch x 5x5 out x 2 in-ch x 3x3 kernel = 1,350 MACs
        "padded",
        (1, 2, 5, 5),
        (3, 2, 3, 3),
        {"pads": [1, 1, 1, 1]},
        (1, 3, 5, 5),
        1_350,
    ),
    (
        # dilated kernel spans 2 x (3 - 1) + 1 = 5, out = 7 - 5 + 1 = 3
        # 1 x 1 out-ch x 3x3 out x 1 in-ch x 3x3 kernel = 81 MACs
        "dilated",
        (1, 1, 7, 7),
        (1, 1, 3, 3),
        {"dilations": [2, 2]},
        (1, 1, 3, 3),
        81,
    ),
    (
        # out = 6 - 3 + 1 = 4; each output channel sees 4 / 2 = 2 input channels
        # 1 x 8 out-ch x 4x4 out x 2 in-ch/group x 3x3 kernel = 2,304 MACs
        "grouped",
        (1, 4, 6, 6),
        (8, 2, 3, 3),
        {"group": 2},
        (1, 8, 4, 4),
        2_304,
    ),
    (
        # depthwise: group = channels = 4, one input channel per output channel
        # 1 x 4 out-ch x 4x4 out x 1 in-ch/group x 3x3 kernel = 576 MACs
        "depthwise",
        (1, 4, 6, 6),
        (4, 1, 3, 3),
        {"group": 4},
        (1, 4, 4, 4),
        576,
    ),
    (
        # SAME_UPPER: out = ceil(7 / 2) = 4
        # 1 x 2 out-ch x 4x4 out x 1 in-ch x 3x3 kernel = 288 MACs
        "same_upper_strided",
        (1, 1, 7, 7),
        (2, 1, 3, 3),
        {"auto_pad": "SAME_UPPER", "strides": [2, 2]},
        (1, 2, 4, 4),
        288,
    ),
    (
        # Conv1d: out = 10 - 3 + 1 = 8
        # 1 x 3 out-ch x 8 out x 2 in-ch x 3 kernel = 144 MACs
        "conv1d",
        (1, 2, 10),
        (3, 2, 3),
        {},
        (1, 3, 8),
        144,
    ),
    (
        # Conv3d: out = 4 - 3 + 1 = 2 on each of 3 axes -> 2x2x2 = 8
        # 1 x 2 out-ch x 8 out x 1 in-ch x 3x3x3 = 27 kernel = 432 MACs
        "conv3d",
        (1, 1, 4, 4, 4),
        (2, 1, 3, 3, 3),
        {},
        (1, 2, 2, 2, 2),
        432,
    ),
    (
        # the strided case with batch 2: 2 x 1,728 = 3,456 MACs
        "strided_batch2",
        (2, 3, 8, 8),
        (4, 3, 3, 3),
        {"strides": [2, 2], "pads": [1, 1, 1, 1]},
        (2, 4, 4, 4),
        3_456,
    ),
]


@pytest.mark.parametrize(
    ("x", "w", "attrs", "out", "macs"),
    [case[1:] for case in CONV_CASES],
    ids=[case[0] for case in CONV_CASES],
)
def test_conv(count_node, x, w, attrs, out, macs) -> None:
    report = count_node("Conv", {"X": x}, {"W": w}, attrs=attrs)
    layer = report.layers[0]
    assert layer.op == "Conv"
    assert layer.output_shapes == (out,)
    assert layer.macs == macs
    assert layer.flops == 2 * macs
    assert report.total.macs == macs
    assert report.total.flops == 2 * macs
    # params = every weight element: Cout x Cin/group x prod(kernel)
    assert layer.params == math.prod(w)
    assert layer.counted
    assert report.node_coverage == 1.0


def test_conv_batch_doubles_macs(count_node) -> None:
    attrs = {"strides": [2, 2], "pads": [1, 1, 1, 1]}
    one = count_node("Conv", {"X": (1, 3, 8, 8)}, {"W": (4, 3, 3, 3)}, attrs=attrs)
    two = count_node("Conv", {"X": (2, 3, 8, 8)}, {"W": (4, 3, 3, 3)}, attrs=attrs)
    # 2 x 1,728 = 3,456 MACs
    assert one.total.macs == 1_728
    assert two.total.macs == 2 * one.total.macs == 3_456


def test_conv_bias_not_counted_by_default(count_node) -> None:
    # padded case with B (3,): 1,350 MACs -> 2,700 FLOPs; bias adds ignored by default
    report = count_node(
        "Conv", {"X": (1, 2, 5, 5)}, {"W": (3, 2, 3, 3), "B": (3,)}, attrs={"pads": [1, 1, 1, 1]}
    )
    layer = report.layers[0]
    assert layer.macs == 1_350
    assert layer.flops == 2_700
    # params: 3 x 2 x 3 x 3 = 54 weights + 3 bias = 57
    assert layer.params == 57
    assert report.total.params == 57


def test_conv_bias_counted_when_asked(count_node) -> None:
    # 2,700 FLOPs + one add per output element: 1 x 3 x 5 x 5 = 75 -> 2,775 FLOPs
    report = count_node(
        "Conv",
        {"X": (1, 2, 5, 5)},
        {"W": (3, 2, 3, 3), "B": (3,)},
        attrs={"pads": [1, 1, 1, 1]},
        count_bias=True,
    )
    layer = report.layers[0]
    assert layer.macs == 1_350
    assert layer.flops == 2_775
    assert report.convention.count_bias is True


def test_conv_without_bias_unchanged_by_count_bias(count_node) -> None:
    # no B input: count_bias has nothing to add, 2 x 1,350 = 2,700 FLOPs
    report = count_node(
        "Conv",
        {"X": (1, 2, 5, 5)},
        {"W": (3, 2, 3, 3)},
        attrs={"pads": [1, 1, 1, 1]},
        count_bias=True,
    )
    assert report.layers[0].flops == 2_700


# -- ConvTranspose ------------------------------------------------------------------------------


def test_conv_transpose_strided(count_node) -> None:
    # out = (3 - 1) x 2 + 3 = 7 -> 1x3x7x7
    # 1 x 2 in-ch x 3x3 in x 3 out-ch x 3x3 kernel = 486 MACs
    report = count_node(
        "ConvTranspose", {"X": (1, 2, 3, 3)}, {"W": (2, 3, 3, 3)}, attrs={"strides": [2, 2]}
    )
    layer = report.layers[0]
    assert layer.output_shapes == ((1, 3, 7, 7),)
    assert layer.macs == 486
    assert layer.flops == 972
    # W is (Cin, Cout/group, kh, kw): 2 x 3 x 3 x 3 = 54 params
    assert layer.params == 54


def test_conv_transpose_grouped(count_node) -> None:
    # group 2: Cout = 1 x 2 = 2; out = (3 - 1) x 1 + 2 = 4 -> 1x2x4x4
    # 1 x 4 in-ch x 3x3 in x 1 out-ch/group x 2x2 kernel = 144 MACs
    report = count_node(
        "ConvTranspose", {"X": (1, 4, 3, 3)}, {"W": (4, 1, 2, 2)}, attrs={"group": 2}
    )
    layer = report.layers[0]
    assert layer.output_shapes == ((1, 2, 4, 4),)
    assert layer.macs == 144
    assert layer.flops == 288


def test_conv_transpose_bias(count_node) -> None:
    # 486 MACs = 972 FLOPs; count_bias adds 1 x 3 x 7 x 7 = 147 -> 1,119 FLOPs
    model_args = ("ConvTranspose", {"X": (1, 2, 3, 3)}, {"W": (2, 3, 3, 3), "B": (3,)})
    plain = count_node(*model_args, attrs={"strides": [2, 2]})
    biased = count_node(*model_args, attrs={"strides": [2, 2]}, count_bias=True)
    assert plain.layers[0].flops == 972
    assert biased.layers[0].flops == 1_119
    # 54 weights + 3 bias
    assert plain.total.params == 57


# -- the same convolutions through the PyTorch route -----------------------------------------

TORCH_CASES = [
    # (case, Conv2d kwargs, input shape, MACs worked above)
    (
        "strided",
        {"in_channels": 3, "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1},
        (1, 3, 8, 8),
        1_728,
    ),
    (
        "dilated",
        {"in_channels": 1, "out_channels": 1, "kernel_size": 3, "dilation": 2},
        (1, 1, 7, 7),
        81,
    ),
    (
        "grouped",
        {"in_channels": 4, "out_channels": 8, "kernel_size": 3, "groups": 2},
        (1, 4, 6, 6),
        2_304,
    ),
    (
        "depthwise",
        {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "groups": 4},
        (1, 4, 6, 6),
        576,
    ),
]
# the ONNX-side attributes of the same convolutions
ONNX_ATTRS = {
    "strided": ((4, 3, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "dilated": ((1, 1, 3, 3), {"dilations": [2, 2]}),
    "grouped": ((8, 2, 3, 3), {"group": 2}),
    "depthwise": ((4, 1, 3, 3), {"group": 4}),
}


@pytest.mark.parametrize(
    ("case", "kwargs", "shape", "macs"), TORCH_CASES, ids=[c[0] for c in TORCH_CASES]
)
@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
def test_torch_conv2d_matches_onnx(count_node, case, kwargs, shape, macs, bias) -> None:
    torch = pytest.importorskip("torch")
    module = torch.nn.Conv2d(**kwargs, bias=bias).eval()
    # nn.Conv2d.forward(self, input): the input is named "input"
    report = modelprof.count(module, {"input": shape})
    convs = [layer for layer in report.layers if layer.op == "Conv"]
    assert len(convs) == 1
    assert convs[0].macs == macs
    assert report.total.macs == macs
    # bias adds are not counted by default on this route either
    assert report.total.flops == 2 * macs

    w, attrs = ONNX_ATTRS[case]
    onnx_report = count_node("Conv", {"X": shape}, {"W": w}, attrs=attrs)
    assert onnx_report.total.macs == report.total.macs

    # params: nn.Module.parameters() = weight (+ bias)
    expected_params = sum(p.numel() for p in module.parameters())
    assert report.total.params == expected_params
