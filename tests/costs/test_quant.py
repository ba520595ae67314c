"""Quantised ops: integer MACs apart from float MACs/FLOPs, worked by hand on tiny models.

Every model here is built with onnx.helper; the figures in the comments are the hand count.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import modelprof
from modelprof.cli.main import main
from modelprof.costs import REGISTRY, OpCall
from modelprof.graph import Graph, Node, TensorInfo
from modelprof.render import jsondoc, tabular

_RNG = np.random.default_rng(0)


def _model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Sequence[tuple[str, int, Sequence[int]]],
    initializers: dict[str, np.ndarray],
    outputs: Sequence[str] = ("Y",),
    *,
    ms: bool = False,
) -> onnx.ModelProto:
    graph = helper.make_graph(
        list(nodes),
        "quant",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in outputs],
        initializer=[numpy_helper.from_array(v, name=k) for k, v in initializers.items()],
    )
    opsets = [helper.make_opsetid("", 19)]
    if ms:
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    return helper.make_model(graph, opset_imports=opsets)


def _int8(*shape: int) -> np.ndarray:
    return _RNG.integers(-127, 127, size=shape, dtype=np.int8)


def _scales() -> dict[str, np.ndarray]:
    return {
        "xs": np.array(0.02, np.float32),
        "xz": np.array(128, np.uint8),
        "ys": np.array(0.05, np.float32),
        "yz": np.array(128, np.uint8),
    }


def qlinear_conv_model() -> onnx.ModelProto:
    """QLinearConv: uint8 1x1x5x5 input, int8 2x1x3x3 weight with per-channel float scales,
    int32 bias of 2; no padding, so the output is 1x2x3x3."""
    inits = {
        **_scales(),
        "w": _int8(2, 1, 3, 3),
        "ws": np.array([0.01, 0.02], np.float32),  # per-channel: a quantisation value
        "wz": np.zeros(2, np.int8),
        "b": np.array([1, 2], np.int32),
    }
    node = helper.make_node(
        "QLinearConv", ["X", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["Y"], name="qconv"
    )
    return _model([node], [("X", TensorProto.UINT8, (1, 1, 5, 5))], inits)


def test_qlinear_conv_counts_integer_macs_apart() -> None:
    report = modelprof.count(qlinear_conv_model())
    (layer,) = report.layers
    # 2 output channels x 3x3 outputs x (1 input channel x 3x3 kernel) = 2 x 9 x 9 = 162
    assert layer.int_macs == 162
    # the float counts do not include the integer work: 0 MACs, and FLOPs are only the
    # requantisation, 4 per output element: 4 x 18 = 72
    assert layer.macs == 0
    assert layer.flops == 72
    # params: the int8 weight (18) and the int32 bias (2); the scales and zero points are
    # quantisation values, not params. Weight bytes follow the stored dtypes: 18 x 1 + 2 x 4.
    assert layer.params == 20
    assert layer.weight_bytes == 26
    t = report.total
    assert (t.int_macs, t.macs, t.flops, t.params, t.weight_bytes) == (162, 0, 72, 20, 26)
    assert report.convention.int_macs
    assert any(line.startswith("int MACs:") for line in report.convention.lines())


def test_qlinear_matmul_matmul_integer_conv_integer() -> None:
    # QLinearMatMul: A uint8 2x4 times int8 B 4x3 -> 2x3: 6 outputs x K 4 = 24 int MACs;
    # requantisation 4 x 6 = 24 FLOPs; params 12 (int8, 12 bytes)
    inits: dict[str, np.ndarray] = {
        **_scales(),
        "B": _int8(4, 3),
        "bs": np.array(0.01, np.float32),
        "bz": np.array(0, np.int8),
    }
    node = helper.make_node(
        "QLinearMatMul", ["A", "xs", "xz", "B", "bs", "bz", "ys", "yz"], ["Y"], name="qmm"
    )
    report = modelprof.count(_model([node], [("A", TensorProto.UINT8, (2, 4))], inits))
    layer = report.layers[0]
    assert (layer.int_macs, layer.macs, layer.flops) == (24, 0, 24)
    assert (layer.params, layer.weight_bytes) == (12, 12)

    # MatMulInteger: uint8 1x8x16 times int8 16x32 -> 1x8x32: 256 outputs x 16 = 4,096 int MACs,
    # int32 output: no FLOPs; params 512 (512 bytes); the int8 zero point is a constant
    node = helper.make_node("MatMulInteger", ["A", "B", "", "bz"], ["Y"], name="mmi")
    inits = {"B": _int8(16, 32), "bz": np.array(0, np.int8)}
    report = modelprof.count(_model([node], [("A", TensorProto.UINT8, (1, 8, 16))], inits))
    layer = report.layers[0]
    assert (layer.int_macs, layer.macs, layer.flops) == (4_096, 0, 0)
    assert (layer.params, layer.weight_bytes) == (512, 512)

    # ConvInteger: uint8 1x3x8x8, int8 4x3x3x3, pads 1 -> 1x4x8x8: 256 outputs x 27 = 6,912
    node = helper.make_node("ConvInteger", ["X", "W"], ["Y"], name="convi", pads=[1, 1, 1, 1])
    report = modelprof.count(
        _model([node], [("X", TensorProto.UINT8, (1, 3, 8, 8))], {"W": _int8(4, 3, 3, 3)})
    )
    layer = report.layers[0]
    assert (layer.int_macs, layer.macs, layer.flops, layer.params) == (6_912, 0, 0, 108)


def test_quantize_dequantize_dynamic_quantize_per_element() -> None:
    # x float 1x3x4x4 (48 elements) -> QuantizeLinear (4 per element: 192)
    # -> DequantizeLinear (2 per element: 96) -> Relu (1 per element: 48)
    nodes = [
        helper.make_node("QuantizeLinear", ["X", "s", "z"], ["q"], name="q"),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["dq"], name="dq"),
        helper.make_node("Relu", ["dq"], ["Y"], name="relu"),
    ]
    inits: dict[str, np.ndarray] = {"s": np.array(0.1, np.float32), "z": np.array(0, np.int8)}
    report = modelprof.count(_model(nodes, [("X", TensorProto.FLOAT, (1, 3, 4, 4))], inits))
    assert [(la.name, la.flops) for la in report.layers] == [("q", 192), ("dq", 96), ("relu", 48)]
    assert report.total.int_macs == 0 and not report.convention.int_macs

    # DynamicQuantizeLinear on 2x10: 6 per element (min, max, quantise 4) = 120
    node = helper.make_node("DynamicQuantizeLinear", ["X"], ["Y", "s", "z"], name="dql")
    report = modelprof.count(
        _model([node], [("X", TensorProto.FLOAT, (2, 10))], {}, outputs=("Y", "s", "z"))
    )
    assert report.layers[0].flops == 120


def test_qdq_weights_are_int8_params_through_dequantize_linear() -> None:
    """QDQ format: an int8 weight initializer -> DequantizeLinear (per-channel scales) -> a
    float Conv. The DequantizeLinear of a weight is constant-folded into the Conv, which gets
    the int8 weight as its params (216, 1 byte each); the Conv itself is a float op in the
    graph, so its MACs are float MACs: 8 x 8x8 outputs x 27 = 13,824."""
    nodes = [
        helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], name="dq_w", axis=0),
        helper.make_node("Conv", ["X", "w"], ["Y"], name="conv"),
    ]
    inits = {
        "wq": _int8(8, 3, 3, 3),
        "ws": np.full(8, 0.01, np.float32),
        "wz": np.zeros(8, np.int8),
    }
    report = modelprof.count(_model(nodes, [("X", TensorProto.FLOAT, (1, 3, 10, 10))], inits))
    assert [layer.name for layer in report.layers] == ["conv"]
    conv = report.layers[0]
    assert (conv.macs, conv.params, conv.weight_bytes, conv.int_macs) == (13_824, 216, 216, 0)
    assert (report.total.params, report.total.weight_bytes) == (216, 216)

    # the same network with the float weight quantised in the graph (Q -> DQ of a float
    # weight): both are weight-only transforms, the Conv gets the float weight (4 bytes each)
    nodes = [
        helper.make_node("QuantizeLinear", ["wf", "ws", "wz"], ["wq"], name="q_w", axis=0),
        helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], name="dq_w", axis=0),
        helper.make_node("Conv", ["X", "w"], ["Y"], name="conv"),
    ]
    inits = {
        "wf": _RNG.standard_normal((8, 3, 3, 3)).astype(np.float32),
        "ws": np.full(8, 0.01, np.float32),
        "wz": np.zeros(8, np.int8),
    }
    report = modelprof.count(_model(nodes, [("X", TensorProto.FLOAT, (1, 3, 10, 10))], inits))
    assert [layer.name for layer in report.layers] == ["conv"]
    assert (report.total.params, report.total.weight_bytes) == (216, 864)


def test_qgemm_com_microsoft() -> None:
    # A uint8 2x16, B int8 16x4 (transB 0), requantised (y_scale given): 2 x 16 x 4 = 128 int
    # MACs, 4 x 8 = 32 FLOPs. Shape inference knows nothing of com.microsoft ops: the rule
    # reads the input shapes.
    inits: dict[str, np.ndarray] = {
        **_scales(),
        "B": _int8(16, 4),
        "bs": np.array(0.01, np.float32),
        "bz": np.array(0, np.int8),
    }
    node = helper.make_node(
        "QGemm",
        ["A", "xs", "xz", "B", "bs", "bz", "", "ys", "yz"],
        ["Y"],
        name="qgemm",
        domain="com.microsoft",
    )
    report = modelprof.count(_model([node], [("A", TensorProto.UINT8, (2, 16))], inits, ms=True))
    layer = report.layers[0]
    assert (layer.int_macs, layer.macs, layer.flops, layer.params) == (128, 0, 32, 64)


def _call(op: str, ins: list[tuple[int, ...]], out: tuple[int, ...], **attrs: Any) -> OpCall:
    return OpCall(
        op,
        tuple(TensorInfo(f"i{k}", s, "float32") for k, s in enumerate(ins)),
        (TensorInfo("o", out, "float32"),),
        attrs,
    )


def test_fake_quantize_rule_and_graph() -> None:
    """OpenVINO's FakeQuantize (emitted by the OpenVINO frontend): 4 FLOPs per output element
    (clamp, scale, round, rescale). 1x3x4x4 = 48 elements -> 192."""
    rule = REGISTRY.lookup("FakeQuantize")
    assert rule is not None
    bounds = [(1, 3, 1, 1)] * 4
    assert rule(_call("FakeQuantize", [(1, 3, 4, 4), *bounds], (1, 3, 4, 4))).flops == 192
    tensors = {
        "x": TensorInfo("x", (1, 3, 4, 4), "float32"),
        "y": TensorInfo("y", (1, 3, 4, 4), "float32"),
        **{b: TensorInfo(b, (1, 3, 1, 1), "float32") for b in ("il", "ih", "ol", "oh")},
    }
    graph = Graph(
        name="fq",
        source="openvino",
        nodes=(Node("fq", "FakeQuantize", ("x", "il", "ih", "ol", "oh"), ("y",), {"levels": 256}),),
        tensors=tensors,
        inputs=("x",),
        outputs=("y",),
        weights={},
        constants=frozenset({"il", "ih", "ol", "oh"}),
    )
    report = modelprof.count(graph)
    assert (report.total.flops, report.total.macs, report.total.int_macs) == (192, 0, 0)


def test_int_macs_in_json_csv_and_table_only_when_nonzero(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    quant = modelprof.count(qlinear_conv_model())
    doc = jsondoc.count_document(quant)
    assert doc["total"]["int_macs"] == 162 and doc["layers"][0]["int_macs"] == 162
    assert "int_macs" in doc["convention"]
    assert "int_macs" in tabular.to_csv(quant).splitlines()[0].split(",")
    assert "int MACs" in tabular.to_markdown(quant)

    plain = modelprof.count("seed-cnn")
    doc = jsondoc.count_document(plain)
    assert "int_macs" not in doc["total"] and "int_macs" not in doc["layers"][0]
    assert "int_macs" not in doc["convention"]
    assert "int_macs" not in tabular.to_csv(plain)
    assert "int MACs" not in tabular.to_markdown(plain)

    path = tmp_path / "q.onnx"
    onnx.save(qlinear_conv_model(), str(path))
    assert main(["count", str(path)]) == 0
    out = capsys.readouterr().out
    assert "int MACs" in out and "162" in out
    assert main(["count", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["int_macs"] == 162
