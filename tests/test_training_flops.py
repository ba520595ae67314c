"""``count --training``: backward-pass FLOPs per layer, worked by hand.

Conventions (docs/conventions.md, "Training FLOPs"): each multiplied operand that needs a
gradient costs one forward product, 2 x MACs FLOPs (the weight gradient; the input gradient
only when the input is computed from a parameter, so never for the layer fed by the graph
input); elementwise ops and pools 1 x forward, activations 2 x, norms and softmax 2 x.
``training_flops`` = forward + backward.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import modelprof
from modelprof.analysis import analyze
from modelprof.api import load_graph
from modelprof.cli.main import main
from modelprof.render import jsondoc, tabular

# seed-cnn (README), forward FLOPs and the backward pass by hand:
#
#   layer  forward   weight grad   input grad                      backward   training
#   conv1  121,680   121,680       0 (input is the graph input)    121,680    243,360
#   pool     6,760   -             6,760 (1 x forward)               6,760     13,520
#   conv2  108,900   108,900       108,900                         217,800    326,700
#   fc1    154,880   154,880       154,880                         309,760    464,640
#   fc2      2,560     2,560         2,560                           5,120      7,680
#   total  394,780                                                 661,120  1,055,900
#
# (Flatten between conv2 and fc1 is a view: zero cost, zero backward.)
SEED_TRAINING = {
    "conv1": 243_360,
    "pool": 13_520,
    "conv2": 326_700,
    "fc1": 464_640,
    "fc2": 7_680,
}
SEED_TRAINING_TOTAL = 1_055_900


def _seed(report: modelprof.CostReport) -> dict[str, int]:
    return {
        layer.name: layer.training_flops or 0 for layer in report.layers if layer.training_flops
    }


def test_seed_cnn_training_flops_by_hand() -> None:
    report = analyze(load_graph("seed-cnn"), training=True)
    assert _seed(report) == SEED_TRAINING
    assert report.total.training_flops == SEED_TRAINING_TOTAL
    assert report.total.flops == 394_780  # the forward figures are unchanged
    assert report.convention.training
    # without the option nothing is added
    plain = modelprof.count("seed-cnn")
    assert plain.total.training_flops is None
    assert all(layer.training_flops is None for layer in plain.layers)


def test_seed_cnn_onnx_export_agrees(exported: Any) -> None:
    """The ONNX route (a Flatten node instead of a view) gives the same table."""
    report = analyze(load_graph(exported("seed-cnn")), training=True)
    by_op = [(layer.op, layer.training_flops) for layer in report.layers if layer.flops]
    assert [t for _, t in by_op] == list(SEED_TRAINING.values())
    assert report.total.training_flops == SEED_TRAINING_TOTAL


def test_transformer_training_flops_by_hand() -> None:
    """nn.TransformerEncoderLayer, d 512, 8 heads, FFN 2048, L = 128 (forward 840,957,952).

    Backward, per token unless noted (L = 128):
      in_proj   (input = graph input: weight grad only) 512 x 1536 x 2 = 1,572,864
      attention (fused; q, k, v need grads: both operands of both products)
                2 x forward product FLOPs = 2 x 2 x 8 x L^2 x 128 = 4,096 L^2;
                its scale + softmax (6 per score, 8 L^2 scores) x 2 = 96 L^2
      out_proj  512 x 512 x 2 x 2 operands = 1,048,576
      linear1, linear2: 512 x 2048 x 2 x 2 each = 8,388,608
      residual Adds: 512 x 1 each = 1,024;  LayerNorms: 7 x 512 x 2 each = 14,336
      Relu: 2048 x 2 = 4,096
    backward = 11,029,504 L + 4,192 L^2 = 1,411,776,512 + 68,681,728 = 1,480,458,240
    training = 840,957,952 + 1,480,458,240 = 2,321,416,192
    """
    report = analyze(load_graph("transformer"), training=True)
    assert report.total.flops == 840_957_952
    assert report.total.training_flops == 2_321_416_192
    attention = next(layer for layer in report.layers if layer.op == "Attention")
    # forward: 16,777,216 MACs -> 33,554,432 + 786,432 (scale + softmax) FLOPs
    assert attention.training_flops == attention.flops + 2 * 33_554_432 + 2 * 786_432


def _onnx(nodes: list[onnx.NodeProto], inits: dict[str, np.ndarray]) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "t",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, (1, 2, 6, 6))],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(v, name=k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_layers_without_gradient_elementwise_and_bias() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    nodes = [
        # Sigmoid on the graph input: nothing upstream needs a gradient -> backward 0
        helper.make_node("Sigmoid", ["X"], ["s"], name="pre"),
        # conv 2->4 3x3 on 6x6 -> 4x4x4 = 64 outputs x 18 = 1,152 MACs = 2,304 FLOPs;
        # its input needs no gradient: weight gradient only, 2,304
        helper.make_node("Conv", ["s", "w", "b"], ["c"], name="conv"),
        # Relu: 64 FLOPs, activation backward 2 x 64 = 128
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        # Mul of two activations that need gradients: 64 FLOPs, backward 1 x 64
        helper.make_node("Mul", ["r", "c"], ["m"], name="mul"),
        # MaxPool 2x2 stride 2 -> 4x2x2 = 16 outputs x 4 = 64 FLOPs, backward 1 x 64
        helper.make_node("MaxPool", ["m"], ["Y"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
    ]
    model = _onnx(nodes, {"w": w, "b": b})
    report = analyze(load_graph(model), training=True)
    rows = {layer.name: (layer.flops, layer.training_flops) for layer in report.layers}
    assert rows == {
        "pre": (72, 72),
        "conv": (2_304, 4_608),
        "relu": (64, 192),
        "mul": (64, 128),
        "pool": (64, 128),
    }
    # with --count-bias the conv adds 64 bias FLOPs forward and 64 backward (the bias gradient
    # sums the output gradient): 2,368 forward, 2,304 + 64 backward
    report = analyze(load_graph(model), training=True, count_bias=True)
    conv = report.layer("conv")
    assert (conv.flops, conv.training_flops) == (2_368, 4_736)


def test_matmul_of_two_activations_charges_both_operands() -> None:
    """x (graph input) @ W1 -> a; a @ a^T: both operands need gradients (2 x forward)."""
    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["X", "w"], ["a"], name="proj"),
            helper.make_node("Transpose", ["a"], ["at"], name="t", perm=[1, 0]),
            helper.make_node("MatMul", ["a", "at"], ["Y"], name="scores"),
        ],
        "mm",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, (4, 8))],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(rng.standard_normal((8, 16)).astype(np.float32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    report = analyze(load_graph(model), training=True)
    # proj: 4 x 16 x 8 = 512 MACs = 1,024 FLOPs; weight grad only -> 2,048
    # scores: 4 x 4 x 16 = 256 MACs = 512 FLOPs; both operands -> 512 + 1,024 = 1,536
    assert report.layer("proj").training_flops == 2_048
    assert report.layer("scores").training_flops == 1_536
    assert report.layer("t").training_flops == 0


def test_quantised_ops_backward() -> None:
    """QuantizeLinear/DequantizeLinear pass the gradient straight through: 1 per element."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["X", "w"], ["c"], name="conv"),  # 1x4x4x4 = 64 outputs
        helper.make_node("QuantizeLinear", ["c", "s", "z"], ["q"], name="q"),  # 4 x 64
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["Y"], name="dq"),  # 2 x 64
    ]
    inits: dict[str, np.ndarray] = {
        "w": rng.standard_normal((4, 2, 3, 3)).astype(np.float32),
        "s": np.array(0.1, np.float32),
        "z": np.array(0, np.int8),
    }
    report = analyze(load_graph(_onnx(nodes, inits)), training=True)
    assert report.layer("q").training_flops == 256 + 64
    assert report.layer("dq").training_flops == 128 + 64


def test_training_in_json_csv_markdown_and_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = analyze(load_graph("seed-cnn"), training=True)
    doc = jsondoc.count_document(report)
    assert doc["total"]["training_flops"] == SEED_TRAINING_TOTAL
    assert doc["layers"][0]["training_flops"] == 243_360
    assert doc["convention"]["training"] is True
    header = tabular.to_csv(report).splitlines()[0].split(",")
    assert header[-1] == "training_flops"
    assert "train FLOPs" in tabular.to_markdown(report)

    plain = jsondoc.count_document(modelprof.count("seed-cnn"))
    assert "training_flops" not in plain["total"] and "training" not in plain["convention"]
    assert "training_flops" not in plain["layers"][0]

    assert main(["count", "seed-cnn", "--training"]) == 0
    out = capsys.readouterr().out
    assert "train FLOPs" in out and "243,360" in out and "training FLOPs" in out
    assert main(["count", "seed-cnn", "--training", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["training_flops"] == 1_055_900
    assert main(["count", "seed-cnn", "--training", "--by-op"]) == 0
    assert "train FLOPs" in capsys.readouterr().out
    assert main(["count", "seed-cnn", "--training", "--sort", "training_flops", "--top", "1"]) == 0
    assert "fc1" in capsys.readouterr().out
