"""OpenVINO IR -> Graph: an IR converted from an ONNX model counts the same as the ONNX model."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest

import modelprof
from modelprof.errors import MissingExtraError, ModelLoadError, ShapeError
from modelprof.shapes import InputSpec

ov = pytest.importorskip("openvino")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

ZOO = [
    "seed-cnn",
    "seed-separable",
    "resnet18",
    "mobilenet_v1",
    "mobilenet_v2",
    "transformer",
    pytest.param("resnet50", marks=pytest.mark.slow),
    pytest.param("vgg16", marks=pytest.mark.slow),
]


class Converted(NamedTuple):
    onnx: Path
    ir_f32: Path
    ir_fp16: Path


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Converted]:
    """``converted("resnet18")``: the zoo model exported to ONNX, then converted to IR twice
    (FP16-compressed and not), each built once per test module."""
    from modelprof.frontends import zoo
    from modelprof.frontends.export import export_onnx

    folder = tmp_path_factory.mktemp("openvino")
    cache: dict[str, Converted] = {}

    def get(name: str) -> Converted:
        if name not in cache:
            entry = zoo.get(name)
            shape = entry.input_shapes["input"]
            onnx_path = export_onnx(
                entry.build(), {"input": (shape, "float32")}, folder / f"{name}.onnx"
            )
            model = ov.convert_model(str(onnx_path))
            paths = []
            for compress in (False, True):
                xml = folder / f"{name}-{'fp16' if compress else 'f32'}.xml"
                ov.save_model(model, str(xml), compress_to_fp16=compress)
                paths.append(xml)
            cache[name] = Converted(onnx_path, paths[0], paths[1])
        return cache[name]

    return get


@pytest.mark.parametrize("name", ZOO)
def test_zoo_ir_counts_like_its_onnx_source(
    converted: Callable[[str], Converted], name: str
) -> None:
    paths = converted(name)
    source = modelprof.count(paths.onnx)
    f32 = modelprof.count(paths.ir_f32)
    fp16 = modelprof.count(paths.ir_fp16)
    for report in (f32, fp16):
        assert report.source == "openvino"
        assert report.unsupported == {}
        assert report.node_coverage == 1.0
        assert report.total.macs == source.total.macs
        assert report.total.params == fp16.total.params
        assert report.inputs[0].name == "input"
    # same params on both routes: the transformer's dynamo export stores the attention scale
    # 1/sqrt(sqrt(64)) as a [1] initializer feeding a Mul, a literal to both frontends
    assert f32.total.params == source.total.params
    assert f32.total.buffers == source.total.buffers == 0
    assert f32.total.weight_bytes == source.total.weight_bytes
    assert fp16.total.weight_bytes == pytest.approx(f32.total.weight_bytes / 2, rel=1e-3)
    if name == "transformer":
        assert f32.total.params == 3_152_384
        # OpenVINO fuses the two scale Muls + MatMul + Softmax + MatMul into one SDPA op: the
        # scale is then charged per score instead of per q and k element (+65,536 FLOPs)
        assert f32.total.flops - source.total.flops == 65_536
    else:
        assert f32.total.flops == source.total.flops
        assert fp16.total.flops == source.total.flops


def test_layers_keep_runtime_names_and_module_scopes(
    converted: Callable[[str], Converted],
) -> None:
    report = modelprof.count(converted("resnet18").ir_fp16)
    conv = next(layer for layer in report.layers if layer.scope == "layer1.0.conv1")
    assert conv.name == "/layer1/layer1.0/conv1/Conv/WithoutBiases"
    assert conv.op == "Conv"
    assert conv.macs == 115_605_504
    assert conv.params == 64 * 64 * 9 + 64  # the bias Add is folded in
    assert conv.weight_bytes == 2 * conv.params  # stored as float16
    assert "bias Add '/layer1/layer1.0/conv1/Conv' folded in" in conv.note
    by_scope = {g.key: g.macs for g in report.by_scope(1)}
    assert by_scope["layer1"] == 4 * 115_605_504
    assert any("float16" in note for note in report.notes)


def test_ops_line_up_with_the_onnx_source(converted: Callable[[str], Converted]) -> None:
    paths = converted("resnet18")
    source = Counter(layer.op for layer in modelprof.count(paths.onnx).layers)
    ir = Counter(layer.op for layer in modelprof.count(paths.ir_f32).layers)
    # ReduceMean over H, W -> GlobalAveragePool; MatMul(transpose_b) -> Gemm; Flatten -> Reshape
    assert source.pop("Flatten") == ir.pop("Reshape") == 1
    assert ir == source
    assert ir["GlobalAveragePool"] == ir["Gemm"] == 1


# -- single ops, from hand-made ONNX models --------------------------------------------------


def _onnx_to_ir(
    folder: Path,
    name: str,
    nodes: list[Any],
    weights: dict[str, np.ndarray],
    shape: list[int],
) -> tuple[Path, Path]:
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()],
    )
    onnx_path = folder / f"{name}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), onnx_path)
    xml = folder / f"{name}.xml"
    ov.save_model(ov.convert_model(str(onnx_path)), str(xml), compress_to_fp16=False)
    return onnx_path, xml


def _rand(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).random(shape) + 0.5


CASES: dict[str, tuple[list[Any], dict[str, np.ndarray], list[int], str]] = {
    "grouped_conv": (
        [helper.make_node("Conv", ["x", "w"], ["y"], group=3, pads=[1, 1, 1, 1], strides=[2, 2])],
        {"w": _rand(6, 1, 3, 3)},
        [1, 3, 8, 8],
        "Conv",
    ),
    "conv_transpose_with_bias": (
        [helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2])],
        {"w": _rand(3, 4, 3, 3), "b": _rand(4)},
        [1, 3, 8, 8],
        "ConvTranspose",
    ),
    "grouped_conv_transpose": (
        [helper.make_node("ConvTranspose", ["x", "w"], ["y"], group=3, strides=[2, 2])],
        {"w": _rand(6, 2, 3, 3)},
        [1, 6, 8, 8],
        "ConvTranspose",
    ),
    "gemm_alpha_beta": (
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], alpha=0.5, beta=2.0, transB=1)],
        {"w": _rand(5, 6), "b": _rand(5)},
        [2, 6],
        "Gemm",
    ),
    "gemm_trans_a": (
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transA=1)],
        {"w": _rand(2, 5), "b": _rand(5)},
        [2, 6],
        "Gemm",
    ),
    "batched_matmul": (
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        {"w": _rand(16, 8)},
        [2, 5, 16],
        "MatMul",
    ),
    "batchnorm_alone": (
        [
            helper.make_node("Relu", ["x"], ["r"]),
            helper.make_node("BatchNormalization", ["r", "g", "b", "m", "v"], ["y"]),
        ],
        {"g": _rand(3), "b": _rand(3), "m": _rand(3), "v": _rand(3)},
        [1, 3, 8, 8],
        "Mul",
    ),
    "pools": (
        [
            helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[3, 3], strides=[2, 2]),
            helper.make_node("AveragePool", ["p"], ["q"], kernel_shape=[2, 2]),
            helper.make_node("GlobalAveragePool", ["q"], ["y"]),
        ],
        {},
        [1, 3, 17, 17],
        "AveragePool",
    ),
    "activations": (
        [
            helper.make_node("Clip", ["x", "lo", "hi"], ["a"]),
            helper.make_node("HardSwish", ["a"], ["b"]),
            helper.make_node("Sigmoid", ["b"], ["c"]),
            helper.make_node("Softmax", ["c"], ["y"], axis=1),
        ],
        {},
        [2, 10],
        "Softmax",
    ),
    "per_channel_prelu": (
        [helper.make_node("PRelu", ["x", "s"], ["y"])],
        {"s": _rand(3, 1, 1)},
        [1, 3, 4, 4],
        "PRelu",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_single_ops_count_like_onnx(tmp_path: Path, case: str) -> None:
    nodes, weights, shape, op = CASES[case]
    if case == "activations":
        weights = {}
        lo = numpy_helper.from_array(np.array(0.0, np.float32), "lo")
        hi = numpy_helper.from_array(np.array(6.0, np.float32), "hi")
        nodes = [
            helper.make_node("Constant", [], ["lo"], value=lo),
            helper.make_node("Constant", [], ["hi"], value=hi),
            *nodes,
        ]
    onnx_path, xml = _onnx_to_ir(tmp_path, case, nodes, weights, shape)
    source, ir = modelprof.count(onnx_path), modelprof.count(xml)
    assert ir.unsupported == {}
    assert ir.total.macs == source.total.macs
    assert ir.total.flops == source.total.flops
    assert ir.total.params == source.total.params
    assert op in {layer.op for layer in ir.layers}
    if case == "batchnorm_alone":
        # a BatchNorm with no conv before it: Multiply + Add of the folded scale and shift
        # (2 x C params, as gamma and beta); running mean and var (buffers) are folded away
        assert source.total.buffers == 6
        assert ir.total.buffers == 0


def test_grouped_weights_are_presented_in_onnx_layout(tmp_path: Path) -> None:
    _, xml = _onnx_to_ir(tmp_path, "gconv", *CASES["grouped_conv"][:3])
    graph = modelprof.load_graph(xml)
    conv = next(node for node in graph.nodes if node.op_type == "Conv")
    assert conv.attrs["group"] == 3
    assert conv.attrs["kernel_shape"] == [3, 3]
    assert conv.attrs["strides"] == [2, 2] and conv.attrs["pads"] == [1, 1, 1, 1]
    assert graph.tensors[conv.inputs[1]].shape == (6, 1, 3, 3)  # ONNX's (Cout, Cin/G, k, k)
    (weight,) = graph.weights.values()
    assert weight.shape == (3, 2, 1, 3, 3)  # as stored: OpenVINO's (G, Cout/G, Cin/G, k, k)


def test_gemm_alpha_is_folded_so_the_bias_add_is_a_bias(tmp_path: Path) -> None:
    _, xml = _onnx_to_ir(tmp_path, "gemm", *CASES["gemm_alpha_beta"][:3])
    report = modelprof.count(xml)
    (layer,) = report.layers  # MatMul, the alpha Multiply and the bias Add: one layer
    assert layer.op == "Gemm" and layer.macs == 2 * 5 * 6 and layer.params == 35
    graph = modelprof.load_graph(xml)
    assert graph.nodes[0].attrs["alpha"] == pytest.approx(0.5)


def test_batchnorm_folded_into_a_conv_is_noted(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="/conv/Conv"),
        helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["y"]),
    ]
    weights = {"w": _rand(4, 3, 3, 3), "g": _rand(4), "b": _rand(4), "m": _rand(4), "v": _rand(4)}
    onnx_path, xml = _onnx_to_ir(tmp_path, "convbn", nodes, weights, [1, 3, 8, 8])
    source, ir = modelprof.count(onnx_path), modelprof.count(xml)
    assert ir.total.macs == source.total.macs
    # gamma and beta (2 x 4) became a conv bias (4): exactly the folded channels fewer
    assert source.total.params - ir.total.params == 4
    assert any("folded 1 BatchNorm (4 channels)" in note for note in ir.notes)


def test_leaky_relu_has_no_params(tmp_path: Path) -> None:
    nodes = [helper.make_node("LeakyRelu", ["x"], ["y"], alpha=0.2)]
    _, xml = _onnx_to_ir(tmp_path, "leaky", nodes, {}, [1, 3, 4, 4])
    graph = modelprof.load_graph(xml)
    (node,) = graph.nodes
    assert node.op_type == "LeakyRelu" and node.attrs["alpha"] == pytest.approx(0.2)
    assert modelprof.count(graph).total.params == 0


def test_a_shared_prelu_slope_is_a_prelu_param_as_on_the_onnx_route(tmp_path: Path) -> None:
    # OpenVINO makes both a PRelu with a [1] slope and a LeakyRelu a PRelu of a [1] constant:
    # the slope is the named initializer, the alpha an anonymous constant
    nodes = [
        helper.make_node("Mul", ["x", "scale"], ["h"], name="scale_it"),
        helper.make_node("PRelu", ["h", "slope"], ["p"], name="prelu"),
        helper.make_node("LeakyRelu", ["p"], ["y"], alpha=0.2, name="leaky"),
    ]
    weights = {"scale": np.array([0.125]), "slope": np.array([0.25])}
    onnx_path, xml = _onnx_to_ir(tmp_path, "shared_prelu", nodes, weights, [2, 4])
    fp16 = tmp_path / "shared_prelu-fp16.xml"
    ov.save_model(ov.convert_model(str(onnx_path)), str(fp16))  # FP16-compressed weights
    source = modelprof.count(onnx_path)
    for path, slope_bytes in ((xml, 4), (fp16, 2)):
        ir = modelprof.count(path)
        for report in (source, ir):
            assert [layer.op for layer in report.layers] == ["Mul", "PRelu", "LeakyRelu"]
            # 8 elements, 1 FLOP each per op; the one shared slope is the only param
            assert [layer.flops for layer in report.layers] == [8, 8, 8]
            assert [layer.params for layer in report.layers] == [0, 1, 0]
            assert (report.total.params, report.total.flops) == (1, 24)
        assert ir.layers[1].weight_bytes == slope_bytes
        leaky = next(n for n in modelprof.load_graph(path).nodes if n.op_type == "LeakyRelu")
        assert leaky.attrs["alpha"] == pytest.approx(0.2)


def test_pytorch_prelu_and_leaky_relu_converted_directly_count_as_in_pytorch() -> None:
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(4, 4)
            self.act = torch.nn.PReLU()  # one shared slope: a [1] parameter
            self.leaky = torch.nn.LeakyReLU(0.25)  # negative_slope: a rank-0 literal

        def forward(self, x: Any) -> Any:
            return self.leaky(self.act(self.fc(x)))

    net = Net()
    model = ov.convert_model(net, example_input=torch.zeros(2, 4), input=[(2, 4)])
    ir, pytorch = modelprof.count(model), modelprof.count(net, {"x": (2, 4)})
    for report in (ir, pytorch):
        assert [layer.op for layer in report.layers] == ["Gemm", "PRelu", "LeakyRelu"]
        # Linear: 4 x 4 weights + 4 bias; PReLU: 1 slope; 2 x 4 x 4 MACs, 8 + 8 activations
        assert [layer.params for layer in report.layers] == [20, 1, 0]
        assert (report.total.params, report.total.flops) == (21, 2 * 32 + 8 + 8)


# -- models built with OpenVINO's own opsets -------------------------------------------------


def _ops() -> Any:
    import openvino.opset13 as ops

    return ops


def test_transposed_batched_matmul_uses_the_right_k() -> None:
    ops = _ops()
    a = ops.parameter([4, 16, 5], np.float32, name="a")  # read as (4, 5, 16): K = 16
    b = ops.parameter([4, 16, 7], np.float32, name="b")
    model = ov.Model([ops.matmul(a, b, True, False)], [a, b], "mm")
    report = modelprof.count(model)
    assert report.total.macs == 4 * 5 * 7 * 16
    (layer,) = report.layers
    assert layer.op == "MatMul"


def test_attention_op_counts_both_products() -> None:
    ops = _ops()
    q = ops.parameter([1, 8, 128, 64], np.float32, name="q")
    k = ops.parameter([1, 8, 128, 64], np.float32, name="k")
    v = ops.parameter([1, 8, 128, 64], np.float32, name="v")
    sdpa = ops.scaled_dot_product_attention(q, k, v, causal=False)
    report = modelprof.count(ov.Model([sdpa], [q, k, v], "attn"))
    assert report.layers[0].op == "Attention"
    assert report.total.macs == 16_777_216  # QK^T and AV: 2 x 8 heads x 128 x 128 x 64
    # 3-D inputs (batch x heads folded): the same products
    q3 = ops.parameter([8, 128, 64], np.float32, name="q")
    k3 = ops.parameter([8, 128, 64], np.float32, name="k")
    v3 = ops.parameter([8, 128, 64], np.float32, name="v")
    sdpa3 = ops.scaled_dot_product_attention(q3, k3, v3, causal=True)
    assert modelprof.count(ov.Model([sdpa3], [q3, k3, v3], "attn3")).total.macs == 16_777_216


def test_mvn_with_scale_and_shift_costs_like_layernorm() -> None:
    ops = _ops()
    x = ops.parameter([1, 128, 512], np.float32, name="x")
    axes = ops.constant(np.array([-1], np.int64))
    mvn = ops.mvn(x, axes, True, 1e-5, "inside_sqrt")
    gamma = ops.constant(np.ones((512,), np.float32))
    beta = ops.constant(np.zeros((512,), np.float32))
    model = ov.Model([ops.add(ops.multiply(mvn, gamma), beta)], [x], "ln")
    report = modelprof.count(model)
    assert report.unsupported == {}
    assert report.layers[0].op == "LayerNormalization"
    assert report.total.flops == 7 * 128 * 512  # ONNX LayerNormalization with scale and bias
    assert report.total.params == 1024


def test_fake_quantize_counts_on_activations_and_folds_on_weights(tmp_path: Path) -> None:
    ops = _ops()

    def const(value: Any) -> Any:
        return ops.constant(np.asarray(value, np.float32))

    x = ops.parameter([1, 3, 8, 8], np.float32, name="x")
    xq = ops.fake_quantize(x, const(0), const(1), const(0), const(1), 256)
    lo, hi = np.full((4, 1, 1, 1), -1.0), np.full((4, 1, 1, 1), 1.0)
    w = ops.constant(_rand(4, 3, 3, 3).astype(np.float32))
    wq = ops.fake_quantize(w, const(lo), const(hi), const(lo), const(hi), 255)
    conv = ops.convolution(xq, wq, [1, 1], [0, 0], [0, 0], [1, 1])
    xml = tmp_path / "fq.xml"
    ov.save_model(ov.Model([conv], [x], "fq"), str(xml))
    report = modelprof.count(xml)
    assert [layer.op for layer in report.layers] == ["FakeQuantize", "Conv"]
    assert report.layers[0].flops == 4 * 3 * 8 * 8  # clamp, scale, round, rescale
    # the weight FakeQuantize is a weight-only transform; its per-channel ranges are values
    assert report.total.params == report.layers[1].params == 4 * 3 * 3 * 3
    assert report.total.macs == 4 * 6 * 6 * 27


def test_int8_weight_decompression_counts_stored_bytes() -> None:
    ops = _ops()
    rng = np.random.default_rng(0)
    x = ops.parameter([2, 16], np.float32, name="x")
    w = ops.convert(ops.constant(rng.integers(0, 255, (8, 16)).astype(np.uint8)), "f32")
    zero_point = ops.convert(ops.constant(rng.integers(0, 255, (8, 1)).astype(np.uint8)), "f32")
    scale = ops.constant(rng.random((8, 1)).astype(np.float32))
    weight = ops.multiply(ops.subtract(w, zero_point), scale)
    model = ov.Model([ops.matmul(x, weight, False, True)], [x], "int8")
    report = modelprof.count(model)
    (layer,) = report.layers
    assert layer.op == "Gemm" and layer.macs == 2 * 8 * 16
    assert report.total.params == 128  # the uint8 weight
    assert report.total.buffers == 16  # its zero points and scales
    assert report.total.weight_bytes == 128 + 8 + 4 * 8


def test_unknown_ops_keep_their_openvino_name() -> None:
    ops = _ops()
    a = ops.parameter([2, 8], np.float32, name="a")
    b = ops.parameter([2, 8], np.float32, name="b")
    model = ov.Model([ops.squared_difference(a, b)], [a, b], "sd")
    report = modelprof.count(model)
    assert report.unsupported == {"SquaredDifference": 1}
    assert report.node_coverage == 0.0


# -- input shapes ----------------------------------------------------------------------------


def _dynamic_model() -> Any:
    ops = _ops()
    x = ops.parameter(ov.PartialShape([-1, 16]), np.float32, name="x")
    w = ops.constant(_rand(16, 4).astype(np.float32))
    return ov.Model([ops.matmul(x, w, False, False)], [x], "dyn")


def test_dynamic_dims_must_be_bound() -> None:
    with pytest.raises(ShapeError, match=r"input 'x' dim 0 is dynamic: .*x=1x16$"):
        modelprof.count(_dynamic_model())


@pytest.mark.parametrize(
    "shapes", [{"x": (4, 16)}, [InputSpec("x", (4, 16))], [InputSpec(None, (4, 16))]]
)
def test_binding_dims_leaves_the_callers_model_alone(shapes: Any) -> None:
    model = _dynamic_model()
    report = modelprof.count(model, shapes)
    assert report.total.macs == 4 * 16 * 4
    assert report.inputs[0].shape == (4, 16)
    assert model.input(0).get_partial_shape().is_dynamic


def test_binding_errors_are_one_line() -> None:
    model = _dynamic_model()
    with pytest.raises(ShapeError, match="has 3 dims, but the model's input 'x' has 2"):
        modelprof.count(model, {"x": (1, 4, 16)})
    with pytest.raises(ShapeError, match="the model's inputs are: x"):
        modelprof.count(model, {"y": (4, 16)})
    with pytest.raises(ShapeError, match="does not accept x=4x15") as info:
        modelprof.count(model, {"x": (4, 15)})
    assert "\n" not in str(info.value)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.trace, used by OpenVINO
def test_module_paths_of_a_directly_converted_pytorch_model(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from modelprof.frontends import zoo

    module = zoo.get("seed-cnn").build().eval()
    model = ov.convert_model(module, example_input=torch.randn(1, 1, 28, 28))
    xml = tmp_path / "seed.xml"
    ov.save_model(model, str(xml))
    with pytest.raises(ShapeError, match="is dynamic"):  # PyTorch conversion: all dims free
        modelprof.count(xml)
    report = modelprof.count(xml, [InputSpec(None, (1, 1, 28, 28))])
    assert report.total.macs == 194_010 and report.total.params == 79_260
    scopes = [layer.scope for layer in report.layers if layer.macs]
    assert scopes == ["conv1", "conv2", "fc1", "fc2"]


# -- bad input -------------------------------------------------------------------------------


@pytest.fixture()
def small_ir(tmp_path: Path) -> Path:
    _, xml = _onnx_to_ir(tmp_path, "gemm", *CASES["gemm_alpha_beta"][:3])
    return xml


def _load_error(path: Path) -> str:
    with pytest.raises(ModelLoadError) as info:
        modelprof.count(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert _load_error(tmp_path / "nope.xml") == f"no such file: {tmp_path / 'nope.xml'}"


def test_xml_without_its_bin(small_ir: Path) -> None:
    small_ir.with_suffix(".bin").unlink()
    assert "its weights file gemm.bin is missing" in _load_error(small_ir)


def test_malformed_xml(small_ir: Path) -> None:
    small_ir.write_text(small_ir.read_text()[:200])
    assert "is not well-formed XML (line" in _load_error(small_ir)


def test_xml_that_is_not_an_ir(small_ir: Path) -> None:
    small_ir.write_text("<?xml version='1.0'?><svg/>")
    assert "is not an OpenVINO IR: its root element is <svg>, not <net>" in _load_error(small_ir)


def test_ir_the_runtime_rejects(small_ir: Path) -> None:
    small_ir.write_text(small_ir.read_text().replace('type="MatMul"', 'type="MatMulX"'))
    message = _load_error(small_ir)
    assert message.startswith(f"{small_ir}: OpenVINO cannot read this IR: ")
    assert "MatMulX" in message


def test_truncated_weights(small_ir: Path) -> None:
    small_ir.with_suffix(".bin").write_bytes(b"\0" * 8)
    assert "Incorrect weights in bin file" in _load_error(small_ir)


def test_missing_openvino_names_the_extra(small_ir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'modelprof\[openvino\]'"):
        modelprof.count(small_ir)


# -- the translation registry ----------------------------------------------------------------

#: Every OpenVINO op kind the frontend translated with an ``_op_<kind>`` method of its builder
#: before the translations moved into a registry: each must still have its translation.
TRANSLATED_KINDS = {
    "Convolution",
    "GroupConvolution",
    "ConvolutionBackpropData",
    "GroupConvolutionBackpropData",
    "MatMul",
    "Multiply",
    "ScaledDotProductAttention",
    "AvgPool",
    "MaxPool",
    "AdaptiveAvgPool",
    "AdaptiveMaxPool",
    "ReduceMean",
    "ReduceMax",
    "Clamp",
    "PRelu",
    "Gelu",
    "SoftMax",
    "Softmax",
    "LogSoftmax",
    "MVN",
    "NormalizeL2",
    "BatchNormInference",
    "GroupNormalization",
    "Interpolate",
    "Concat",
}


def test_every_translated_op_kind_is_registered_once() -> None:
    from modelprof.frontends.openvino.builder import Builder
    from modelprof.frontends.openvino.common import Key
    from modelprof.frontends.openvino.registry import REGISTRY, Registry

    assert sorted(TRANSLATED_KINDS - set(REGISTRY.kinds())) == []

    def translate(
        builder: Builder, op: Any, ins: list[str], keys: list[Key], outs: list[str]
    ) -> None:
        pass

    with pytest.raises(ValueError, match="translation for 'Convolution' is already registered"):
        REGISTRY.register("Convolution", translate)
    registry = Registry()
    registry.translation("Foo", "Bar")(translate)
    assert registry.lookup("Bar") is translate and "Foo" in registry
    with pytest.raises(ValueError, match="translation for 'Bar' is already registered"):
        registry.translation("Bar")(translate)


@pytest.mark.parametrize("random_stats", [True, False], ids=["biases-kept", "zero-biases-dropped"])
def test_the_folding_note_states_the_difference_it_measures(random_stats: bool) -> None:
    import re

    import openvino as ov
    import torch
    from torch import nn

    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU()).eval()
    if random_stats:  # beta and the running mean nonzero: the folded bias is not all zero
        with torch.no_grad():
            module[1].bias.uniform_(-1, 1)
            module[1].running_mean.uniform_(-1, 1)
    # a fresh BatchNorm folds into an all-zero bias, which OpenVINO drops
    source = modelprof.count(module, {"input": (1, 3, 8, 8)})
    converted = ov.convert_model(module, example_input=torch.randn(1, 3, 8, 8), input=[1, 3, 8, 8])
    ir = modelprof.count(converted)
    (note,) = [n for n in ir.notes if n.startswith("OpenVINO folded")]
    stated = int(re.search(r"params are ([\d,]+) fewer", note).group(1).replace(",", ""))
    # gamma and beta (16) go; a kept bias (8) comes back
    assert stated == source.total.params - ir.total.params == (8 if random_stats else 16)
