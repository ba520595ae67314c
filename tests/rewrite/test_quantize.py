"""Quantization with NNCF, for real, on the seed network (seconds): accuracy kept, int8 weights
counted, the saved IR predicting what the report says, and the graph-level int8 analysis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import modelprof
from modelprof.errors import ModelprofError, ShapeError
from modelprof.measure.int8 import already_int8, int8_layers
from modelprof.rewrite.quantization import RANDOM_NOTE, QuantizeResult, quantize

#: seed-cnn's compute layers (docs: DESIGN.md): conv1 10x26x26x(1x3x3), conv2 5x11x11x(10x3x3),
#: fc1 605x128, fc2 128x10
CONV1, CONV2, FC1, FC2 = 10 * 26 * 26 * 9, 5 * 11 * 11 * 90, 605 * 128, 128 * 10
assert (CONV1, CONV2, FC1, FC2) == (60_840, 54_450, 77_440, 1_280)
#: output channels, one f32 scale each in per-channel int8 weights: 10 + 5 + 128 + 10
CHANNELS = 153


@pytest.fixture(scope="module")
def seed_int8(tmp_path_factory: pytest.TempPathFactory) -> tuple[QuantizeResult, Path]:
    path = tmp_path_factory.mktemp("int8") / "seed_int8.xml"
    return quantize("seed-cnn", calibrate="digits", save=str(path)), path


def test_seed_cnn_on_digits_keeps_its_accuracy(seed_int8: tuple[QuantizeResult, Path]) -> None:
    result, _ = seed_int8
    assert result.before.accuracy is not None and result.after.accuracy is not None
    assert result.before.accuracy >= 0.94
    assert abs(result.after.accuracy - result.before.accuracy) <= 0.01
    # digits' test split: 20 % of 1,797 samples, stratified = 360; calibration: NNCF's 300
    assert result.calibration.labelled == 360
    assert result.calibration.samples == 300
    assert len(result.predictions) == 360


def test_int8_weights_take_a_byte_each_plus_a_scale_per_channel(
    seed_int8: tuple[QuantizeResult, Path],
) -> None:
    result, _ = seed_int8
    params = 79_260  # DESIGN.md
    assert result.before.count.total.params == result.after.count.total.params == params
    assert result.before.count.total.weight_bytes == 4 * params  # f32: 317,040
    assert result.after.count.total.weight_bytes == params + 4 * CHANNELS  # 79,872
    assert result.before.count.total.macs == result.after.count.total.macs == 194_010
    # every compute layer takes int8 data and weights; before, none did
    assert [layer.quantized for layer in result.layers] == [True] * 4
    assert result.after.int8_macs == CONV1 + CONV2 + FC1 + FC2
    assert result.before.int8_macs == 0
    # a quantizer on the input of each of conv1, pool, conv2, fc1 (through the flatten), fc2
    assert result.quantizers == 5
    assert result.after.file_bytes < result.before.file_bytes / 3
    assert result.notes == ()  # labelled data: no random-calibration caveat


def test_saved_ir_predicts_what_quantize_reported(seed_int8: tuple[QuantizeResult, Path]) -> None:
    import openvino as ov

    from modelprof.rewrite import training

    result, path = seed_int8
    assert result.saved == str(path) and path.with_suffix(".bin").is_file()
    data = training.load_digits_split((1, 1, 28, 28))
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    predicted = [int(compiled(row[None])[0].argmax()) for row in data.x_test.numpy()]
    assert tuple(predicted) == result.predictions
    correct = sum(int(p == y) for p, y in zip(predicted, data.y_test.tolist(), strict=True))
    assert correct / 360 == result.after.accuracy
    # and count reads it back as int8: the same weight bytes as reported
    assert modelprof.count(path).total.weight_bytes == 79_260 + 4 * CHANNELS


def test_an_already_quantized_model_is_refused(seed_int8: tuple[QuantizeResult, Path]) -> None:
    _, path = seed_int8
    with pytest.raises(ModelprofError, match=r"already quantized \(5 FakeQuantize nodes\)"):
        quantize(str(path))


def test_ignored_layer_stays_in_float(tmp_path: Path) -> None:
    result = quantize("seed-cnn", calibrate="digits", subset=20, ignore=("conv1",))
    (conv1,) = [layer for layer in result.layers if "conv1" in layer.name]
    assert not conv1.quantized and conv1.reason == "ignored (--ignore)"
    assert result.ignored == ("__module.conv1/aten::_convolution/Convolution",)
    assert result.after.int8_macs == CONV2 + FC1 + FC2  # 133,170
    # conv1 keeps its 90 f32 weights: 90 x 4 bytes instead of 90 + 10 scales x 4
    assert result.after.count.total.weight_bytes == (79_260 - 90) + 4 * (CHANNELS - 10) + 90 * 4


def test_unknown_ignore_name_is_refused() -> None:
    with pytest.raises(ModelprofError, match="--ignore conv9: no compute layer of that name"):
        quantize("seed-cnn", subset=2, ignore=("conv9",))


def test_onnx_source_through_the_onnx_backend_with_random_data(
    tmp_path: Path, exported: Any
) -> None:
    source = exported("seed-cnn")
    out = tmp_path / "seed_int8.onnx"
    result = quantize(str(source), subset=8, save=str(out))
    assert result.backend == "onnx"
    assert result.calibration.source == "random data" and result.calibration.samples == 8
    assert result.before.accuracy is None and RANDOM_NOTE in result.notes
    saved = onnx.load(str(out))
    ops = [n.op_type for n in saved.graph.node]
    # QDQ: one QuantizeLinear per quantized activation (5, as on the IR route), and one
    # DequantizeLinear per activation and per weight (4 weights)
    assert ops.count("QuantizeLinear") == 5
    assert ops.count("DequantizeLinear") == 5 + 4
    assert result.after.int8_macs == 194_010
    # int8 initializers, one byte each: the weights' bytes drop to a quarter plus scales
    assert result.after.count.total.params == 79_260


def test_npz_calibration_with_labels_measures_accuracy(tmp_path: Path, export: Any) -> None:
    from modelprof.rewrite import training

    seed = training.trained_seed("seed-cnn")
    source = export(seed, (1, 1, 28, 28), tmp_path / "seed.onnx")
    data = training.load_digits_split((1, 1, 28, 28))
    npz = tmp_path / "digits.npz"
    np.savez(npz, input=data.x_test.numpy(), labels=data.y_test.numpy())
    result = quantize(str(source), calibrate=str(npz), subset=50)
    # the same trained network on the same 360 samples: what the digits route reports
    digits = quantize("seed-cnn", calibrate="digits", subset=50)
    assert result.before.accuracy == digits.before.accuracy
    assert result.calibration.labelled == 360 and result.calibration.samples == 50


def test_calibration_data_of_the_wrong_shape(tmp_path: Path, exported: Any) -> None:
    source = exported("seed-cnn")
    npz = tmp_path / "wrong.npz"
    np.savez(npz, input=np.zeros((4, 1, 32, 32), np.float32))
    with pytest.raises(ShapeError, match=r"samples of input input have shape \(1, 32, 32\)"):
        quantize(str(source), calibrate=str(npz))


@pytest.fixture(scope="module")
def self_labelled(tmp_path_factory: pytest.TempPathFactory, export: Any) -> tuple[Path, Path]:
    """The trained seed network as ONNX, and 200 random inputs labelled with its own f32
    predictions: its accuracy on them is 1.0 by construction, and any prediction int8
    rounding flips is a drop."""
    import onnxruntime as ort

    from modelprof.rewrite import training

    folder = tmp_path_factory.mktemp("self-labelled")
    source = export(training.trained_seed("seed-cnn"), (1, 1, 28, 28), folder / "seed.onnx")
    x = np.random.default_rng(1).standard_normal((200, 1, 28, 28)).astype(np.float32)
    session = ort.InferenceSession(str(source))
    labels = [int(session.run(None, {"input": row[None]})[0].argmax()) for row in x]
    npz = folder / "self.npz"
    np.savez(npz, input=x, labels=np.array(labels))
    return source, npz


def test_accuracy_control_returns_layers_to_float_until_the_drop_fits(
    self_labelled: tuple[Path, Path],
) -> None:
    source, npz = self_labelled
    plain = quantize(str(source), calibrate=str(npz), subset=50)
    assert plain.before.accuracy == 1.0  # labels are the f32 model's own predictions
    assert plain.after.accuracy is not None and plain.after.accuracy < 1.0 - 0.005
    result = quantize(
        str(source), calibrate=str(npz), subset=50, accuracy_control=True, max_drop=0.005
    )
    assert result.after.accuracy is not None and result.after.accuracy >= 1.0 - 0.005
    reverted = [layer for layer in result.layers if not layer.quantized]
    assert reverted and all("--accuracy-control" in layer.reason for layer in reverted)
    # every MAC of a reverted layer left the int8 share
    assert result.after.int8_macs == 194_010 - sum(layer.macs for layer in reverted)
    assert any(note.startswith("accuracy control: ") for note in result.notes)


def test_profile_reports_each_layers_execution_precision() -> None:
    from modelprof.measure.runtimes import RunSettings

    result = quantize(
        "seed-cnn",
        calibrate="digits",
        subset=20,
        measure="openvino",
        settings=RunSettings(time_budget_s=0.2, warmup=2),
        rounds=1,
    )
    diagnosis = result.diagnosis
    assert diagnosis is not None
    convs = [layer for layer in diagnosis.layers if layer.op == "Conv"]
    assert len(convs) == 2
    # both convolutions matched to their f32 twins, measured in the same run
    assert all(c.f32_exec_type.endswith("f32") and c.f32_time_us is not None for c in convs)
    flags = set(diagnosis.cpu_flags)
    if flags & {"avx512_vnni", "avx_vnni", "amx_int8"}:  # int8 kernels exist on this CPU
        assert [c.precision for c in convs] == ["i8", "i8"]
        assert diagnosis.conv_int8_share == 1.0
        assert diagnosis.left_in_float == ()
    # the input FakeQuantize is a layer of its own (a conversion), absent from the f32 model
    conversions = diagnosis.conversions
    assert any(c.op == "FakeQuantize" and c.f32_time_us is None for c in conversions)
    # what the user sees: the diagnosis table under the before/after table, and the document
    from modelprof.render.console import render_text
    from modelprof.render.quantize_view import quantize_document, render_quantize

    text = render_text(render_quantize(result))
    assert "int8 diagnosis: what the runtime executed" in text
    assert "latency median" in text and "speed-up" in text
    doc = quantize_document(result)
    assert doc["after"]["latency_us"]["median"] == result.after.profile.latency_us.median  # type: ignore[union-attr]
    assert [row["name"] for row in doc["diagnosis"]["layers"]] == [
        layer.name for layer in diagnosis.layers
    ]


def test_ir_and_loader_sources(tmp_path: Path, export: Any) -> None:
    """An OpenVINO IR through NNCF's OpenVINO backend, calibrated by a loaders function: the
    trained seed scores on the loaders' test batches (the digits test split) what it scores
    through --calibrate digits."""
    import openvino as ov
    import torch

    from modelprof.rewrite import training

    seed = training.trained_seed("seed-cnn")
    ir = tmp_path / "seed.xml"
    converted = ov.convert_model(seed, example_input=torch.zeros(1, 1, 28, 28))
    ov.save_model(converted, str(ir), compress_to_fp16=False)
    loaders = tmp_path / "data.py"
    loaders.write_text(
        "from modelprof.rewrite import training\n\n\n"
        "def loaders():\n"
        "    d = training.load_digits_split((1, 1, 28, 28))\n"
        "    train = [(d.x_train[i : i + 32], d.y_train[i : i + 32]) for i in range(0, 320, 32)]\n"
        "    test = [(d.x_test[i : i + 40], d.y_test[i : i + 40]) for i in range(0, 360, 40)]\n"
        "    return train, test\n"
    )
    # convert_model without input= leaves the batch dynamic: the IR is reshaped as asked
    # (and measured at that shape too)
    from modelprof.measure.runtimes import RunSettings

    result = quantize(
        str(ir),
        {"x": (1, 1, 28, 28)},
        calibrate=f"{loaders}:loaders",
        subset=64,
        measure="openvino",
        settings=RunSettings(time_budget_s=0.1, warmup=1),
        rounds=1,
    )
    assert result.before.profile is not None and result.after.profile is not None
    assert result.before.profile.count.inputs[0].shape == (1, 1, 28, 28)
    digits = quantize("seed-cnn", calibrate="digits", subset=64)
    assert result.backend == "openvino"
    assert result.calibration.samples == 64 and result.calibration.labelled == 360
    assert result.before.accuracy == digits.before.accuracy
    assert result.after.int8_macs == 194_010


def test_profile_of_a_saved_int8_ir_alone_is_diagnosed(
    seed_int8: tuple[QuantizeResult, Path],
) -> None:
    from modelprof.api import load_graph
    from modelprof.measure.int8 import diagnose
    from modelprof.measure.profiling import profile
    from modelprof.measure.runtimes import RunSettings

    _, path = seed_int8
    report = profile(path, settings=RunSettings(time_budget_s=0.2, warmup=2))
    graph = load_graph(path)
    diagnosis = diagnose(None, report, int8_layers(graph, modelprof.count(path)))
    assert all(layer.f32_time_us is None for layer in diagnosis.layers)
    assert diagnosis.slower == ()
    compute = [layer for layer in diagnosis.layers if layer.macs]
    # conv1, conv2, fc1, fc2, each a layer of its own with its MACs
    assert sorted(layer.macs for layer in compute) == sorted([CONV1, CONV2, FC1, FC2])
    if set(diagnosis.cpu_flags) & {"avx512_vnni", "avx_vnni", "amx_int8"}:
        assert diagnosis.conv_int8_share == 1.0 and diagnosis.macs_int8_share == 1.0


# -- the graph-level analysis, on graphs built by hand -----------------------------------------


def _qdq_model(path: Path, *, quantize_matmul_input: bool) -> Path:
    """x -> Q/DQ -> Conv(int8 weight via DQ) -> [Q/DQ] -> Flatten -> MatMul(int8 weight via DQ)."""
    rng = np.random.default_rng(0)
    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    zero = numpy_helper.from_array(np.array(0, np.int8), "z")
    wc = numpy_helper.from_array(rng.integers(-5, 5, (2, 1, 3, 3)).astype(np.int8), "wc")
    wm = numpy_helper.from_array(rng.integers(-5, 5, (8, 3)).astype(np.int8), "wm")
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="qx"),
        helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dqx"),
        helper.make_node("DequantizeLinear", ["wc", "s", "z"], ["wcd"], name="dqwc"),
        helper.make_node("Conv", ["xd", "wcd"], ["c"], name="conv"),
        helper.make_node("DequantizeLinear", ["wm", "s", "z"], ["wmd"], name="dqwm"),
    ]
    flat_in = "c"
    if quantize_matmul_input:
        nodes += [
            helper.make_node("QuantizeLinear", ["c", "s", "z"], ["cq"], name="qc"),
            helper.make_node("DequantizeLinear", ["cq", "s", "z"], ["cd"], name="dqc"),
        ]
        flat_in = "cd"
    nodes += [
        helper.make_node("Flatten", [flat_in], ["f"], name="flatten"),
        helper.make_node("MatMul", ["f", "wmd"], ["y"], name="fc"),
    ]
    graph = helper.make_graph(
        nodes,
        "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [scale, zero, wc, wm],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("quantized_input", [True, False])
def test_a_layer_whose_input_has_no_quantizer_stays_in_float(
    tmp_path: Path, quantized_input: bool
) -> None:
    from modelprof.api import load_graph

    path = _qdq_model(tmp_path / "qdq.onnx", quantize_matmul_input=quantized_input)
    graph = load_graph(path)
    layers = {layer.name: layer for layer in int8_layers(graph, modelprof.count(path))}
    # conv: 2 x 2 x 2 outputs x 1 x 3 x 3 = 72 MACs; fc: 8 x 3 = 24, through the flatten
    assert (layers["conv"].macs, layers["fc"].macs) == (72, 24)
    assert layers["conv"].quantized
    assert layers["fc"].quantized is quantized_input
    if not quantized_input:
        assert layers["fc"].reason == (
            "its input carries no quantizer (NNCF's patterns leave it in float)"
        )
    count = 1 + quantized_input
    assert already_int8(graph) == f"{count} QuantizeLinear node{'s' if count > 1 else ''}"


@pytest.mark.parametrize(
    ("int8_us", "f32_us", "slower"),
    [
        (12.0, 10.0, True),  # 20 % and 2 us more
        (10.5, 10.0, False),  # 5 %: under the 10 % margin
        (2.0, 1.0, False),  # twice as long, but 1 us is the timer's resolution
        (3.0, 1.0, True),  # 2 us more, 3x
        (5.0, None, False),  # no f32 twin (a quantizer): nothing to compare with
    ],
)
def test_a_layer_is_slower_only_by_a_measurable_margin(
    int8_us: float, f32_us: float | None, slower: bool
) -> None:
    from modelprof.measure.int8 import LayerPrecision

    layer = LayerPrecision("conv", "Conv", "brgconv_avx512_amx_i8", "i8", int8_us, f32_us, "", 9)
    assert layer.slower is slower
