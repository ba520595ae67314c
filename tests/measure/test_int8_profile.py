"""``profile`` of a quantized model on OpenVINO carries the int8 diagnosis, and the join maps
OpenVINO's FullyConnected (named after its bias Add alone) back to its MatMul.

The models are built by hand with OpenVINO's opset (milliseconds, no NNCF, no torch), so every
expected figure follows from the graph: which layer has quantizers on both inputs, and its MACs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelprof.measure.profiling import profile
from modelprof.measure.runtimes import RunSettings

ov = pytest.importorskip("openvino")
ops = pytest.importorskip("openvino.opset13")

FAST = RunSettings(threads=1, warmup=2, iterations=5)
#: conv1: 4 output channels x 8x8 positions x (3 input channels x 3x3) = 6,912 MACs
CONV1 = 4 * 8 * 8 * 3 * 3 * 3
#: conv2: 4 x 8x8 x (4 x 3x3) = 9,216 MACs
CONV2 = 4 * 8 * 8 * 4 * 3 * 3
assert (CONV1, CONV2) == (6_912, 9_216)


def _const(value: object) -> object:
    return ops.constant(np.array(value, np.float32))


def _fq(node: object, low: float, high: float, levels: int, name: str) -> object:
    return ops.fake_quantize(
        node, _const(low), _const(high), _const(low), _const(high), levels, name=name
    )


def half_int8_ir(folder: Path) -> Path:
    """x -> FakeQuantize -> conv1 (FakeQuantize'd weights) -> relu -> conv2 (float input, float
    weights): the graph feeds conv1 int8 on both inputs and conv2 nothing quantized."""
    rng = np.random.default_rng(0)
    x = ops.parameter([1, 3, 8, 8], np.float32, name="x")
    xq = _fq(x, 0.0, 2.55, 256, "x_fq")
    w1 = ops.constant(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), name="w1")
    c1 = ops.convolution(
        xq, _fq(w1, -1.27, 1.27, 255, "w1_fq"), [1, 1], [1, 1], [1, 1], [1, 1], name="conv1"
    )
    r1 = ops.relu(c1, name="relu1")
    w2 = ops.constant(rng.standard_normal((4, 4, 3, 3)).astype(np.float32), name="w2")
    c2 = ops.convolution(r1, w2, [1, 1], [1, 1], [1, 1], [1, 1], name="conv2")
    path = folder / "half_int8.xml"
    ov.save_model(ov.Model([c2], [x], "half_int8"), str(path), compress_to_fp16=False)
    return path


def linear_ir(folder: Path) -> Path:
    """x (1x256) -> MatMul with a 256x256 weight (transposed) -> + bias: nn.Linear as
    ``ov.convert_model`` writes it, which OpenVINO's CPU plugin runs as one FullyConnected
    layer that keeps only the bias Add's name."""
    rng = np.random.default_rng(1)
    x = ops.parameter([1, 256], np.float32, name="x")
    w = ops.constant(rng.standard_normal((256, 256)).astype(np.float32), name="fc.weight")
    mm = ops.matmul(x, w, False, True, name="fc/MatMul")
    add = ops.add(mm, ops.constant(rng.standard_normal((1, 256)).astype(np.float32)), name="fc/Add")
    path = folder / "linear.xml"
    ov.save_model(ov.Model([add], [x], "linear"), str(path), compress_to_fp16=False)
    return path


def test_a_quantized_ir_profiled_on_openvino_is_diagnosed(tmp_path: Path) -> None:
    report = profile(half_int8_ir(tmp_path), runtime="openvino", settings=FAST)
    diagnosis = report.int8
    assert diagnosis is not None
    rows = {layer.name: layer for layer in diagnosis.layers}
    # the plugin fuses x_fq + conv1 into an int8 kernel (u8 data, i8 weights); conv2 stays f32
    assert rows["conv1"].precision in ("u8", "i8") and rows["conv1"].macs == CONV1
    assert rows["conv2"].precision == "f32" and rows["conv2"].macs == CONV2
    assert [(left.name, left.macs) for left in diagnosis.left_in_float] == [("conv2", CONV2)]
    assert "input carries no quantizer" in diagnosis.left_in_float[0].reason
    # one of two convolutions, 6,912 of 16,128 MACs in int8
    assert diagnosis.conv_int8_share == 0.5
    assert diagnosis.macs_int8_share == pytest.approx(CONV1 / (CONV1 + CONV2))
    # nothing measured in f32 beside it: no f32 time, no layer called slower
    assert all(layer.f32_time_us is None for layer in diagnosis.layers)
    assert diagnosis.slower == ()
    # the conversion time is the time of the FakeQuantize/Convert/Reorder rows, nothing else
    converting = {"FakeQuantize", "Convert", "Reorder"}
    conversions = [r for r in report.layers if not r.folded_into and r.op in converting]
    assert diagnosis.conversion_us == pytest.approx(sum(r.time_us for r in conversions))


def test_a_float_model_has_no_int8_diagnosis(tmp_path: Path) -> None:
    assert profile(linear_ir(tmp_path), runtime="openvino", settings=FAST).int8 is None


def test_a_quantized_model_on_onnx_runtime_has_no_int8_diagnosis(tmp_path: Path) -> None:
    """ONNX Runtime reports no execution precision per layer: nothing to diagnose from."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    zero = numpy_helper.from_array(np.array(0, np.int8), "z")
    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.int8), "w")
    graph = helper.make_graph(
        [
            helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="qx"),
            helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dqx"),
            helper.make_node("DequantizeLinear", ["w", "s", "z"], ["wd"], name="dqw"),
            helper.make_node("Conv", ["xd", "wd"], ["y"], name="conv"),
        ],
        "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])],
        [scale, zero, w],
    )
    path = tmp_path / "qdq.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    assert profile(path, runtime="onnxruntime", settings=FAST).int8 is None
    on_openvino = profile(path, runtime="openvino", settings=FAST).int8
    assert on_openvino is not None
    # conv: 2 x 4x4 x (1 x 3x3) = 288 MACs, fed int8 data and int8 weights through DQ nodes
    assert [layer.macs for layer in on_openvino.layers if layer.macs] == [2 * 4 * 4 * 9]


def test_openvino_fully_connected_is_joined_with_its_matmul(tmp_path: Path) -> None:
    """OpenVINO's FullyConnected lists only the bias Add (``fc/Add``) among its original
    layers; the count folded that Add into the MatMul's layer, so the row is the MatMul's, with
    the time, not an inserted layer beside a MatMul the runtime 'removed'."""
    report = profile(linear_ir(tmp_path), runtime="openvino", settings=FAST)
    rows = {row.name: row for row in report.layers}
    fc = rows["fc/MatMul"]
    assert fc.runtime_name == "fc/Add" and not fc.inserted and not fc.folded_into
    assert fc.exec_type and not fc.exec_type.startswith("unknown")
    # 256 outputs x 256 inputs = 65,536 MACs, all of them on the measured row
    assert fc.macs == 256 * 256 and fc.time_us > 0
    assert not [row for row in report.layers if row.inserted]
