"""Elementwise ops, activations, reductions, Resize, zero-cost ops and unknown ops.

Elementwise arithmetic and activations: 1 FLOP per output element (broadcasting counted at the
output). Variadic Sum/Max/Min: (inputs - 1) per output element; Mean one more for the divide.
Reductions: 1 per input element. Resize nearest: 0; linear: 2^(k+1) - 1 per output element
for k resized axes. Data movement (Reshape, Transpose, Gather...) is counted, as zero.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import modelprof

# -- binary arithmetic with broadcasting ------------------------------------------------------

BINARY_CASES = [
    # (case, op, A shape, B shape, output shape, FLOPs = output elements)
    # (2,3,4) + (4,) -> (2,3,4): 2 x 3 x 4 = 24 adds
    ("add_broadcast_vector", "Add", (2, 3, 4), (4,), (2, 3, 4), 24),
    # (2,1,4) * (3,1) -> (2,3,4): 24 multiplies, though each input holds only 8 and 3
    ("mul_broadcast_both", "Mul", (2, 1, 4), (3, 1), (2, 3, 4), 24),
    # same shapes: (2,3) - (2,3) = 6 subtractions
    ("sub_same_shape", "Sub", (2, 3), (2, 3), (2, 3), 6),
    # (2,3,4) / scalar () -> 24 divisions
    ("div_scalar", "Div", (2, 3, 4), (), (2, 3, 4), 24),
]


@pytest.mark.parametrize(
    ("op", "a", "b", "out", "flops"),
    [c[1:] for c in BINARY_CASES],
    ids=[c[0] for c in BINARY_CASES],
)
def test_binary_broadcast(count_node, op, a, b, out, flops) -> None:
    report = count_node(op, {"A": a, "B": b})
    layer = report.layers[0]
    assert layer.output_shapes == (out,)
    assert layer.macs == 0
    assert layer.flops == flops


# -- activations: 1 FLOP per element, whatever the function -----------------------------------

ACTIVATIONS = [
    # (case, op, opset, attrs)
    ("relu", "Relu", 17, {}),
    ("sigmoid", "Sigmoid", 17, {}),
    ("tanh", "Tanh", 17, {}),
    ("gelu", "Gelu", 20, {}),
    ("gelu_tanh", "Gelu", 20, {"approximate": "tanh"}),
    ("hardswish", "HardSwish", 17, {}),
    ("hardsigmoid", "HardSigmoid", 17, {}),
    ("leakyrelu", "LeakyRelu", 17, {"alpha": 0.1}),
    ("clip", "Clip", 17, {}),
    ("erf", "Erf", 17, {}),
    ("exp", "Exp", 17, {}),
    ("sqrt", "Sqrt", 17, {}),
]


@pytest.mark.parametrize(
    ("op", "opset", "attrs"), [c[1:] for c in ACTIVATIONS], ids=[c[0] for c in ACTIVATIONS]
)
def test_activation(count_node, op, opset, attrs) -> None:
    # (2, 3, 4) -> 24 elements x 1 = 24 FLOPs
    report = count_node(op, {"X": (2, 3, 4)}, attrs=attrs, opset=opset)
    layer = report.layers[0]
    assert layer.counted, layer.note
    assert layer.macs == 0
    assert layer.flops == 24


def test_clip_with_scalar_bounds(count_node) -> None:
    # Clip(X, min, max) with scalar float initializers: still 24 FLOPs, and the bounds are
    # constants (shape ()), not parameters
    report = count_node(
        "Clip",
        {"X": (2, 3, 4)},
        {"min": np.array(0.0, dtype=np.float32), "max": np.array(6.0, dtype=np.float32)},
    )
    assert report.layers[0].flops == 24
    assert report.total.params == 0


def test_prelu_slope_is_a_param(count_node) -> None:
    # PRelu on (1,3,2,2) with a per-channel slope (3,1,1): 12 FLOPs, 3 params
    report = count_node("PRelu", {"X": (1, 3, 2, 2)}, {"slope": (3, 1, 1)})
    assert report.layers[0].flops == 12
    assert report.total.params == 3


# -- variadic ---------------------------------------------------------------------------------


def test_sum_of_three(count_node) -> None:
    # 3 inputs of (2,2): (3 - 1) adds x 4 elements = 8 FLOPs
    report = count_node("Sum", {"A": (2, 2), "B": (2, 2), "C": (2, 2)})
    assert report.layers[0].flops == 8


def test_mean_of_two(count_node) -> None:
    # 2 inputs of (2,2): (2 - 1) add + 1 divide = 2 per element x 4 = 8 FLOPs
    report = count_node("Mean", {"A": (2, 2), "B": (2, 2)})
    assert report.layers[0].flops == 8


def test_max_of_two_broadcast(count_node) -> None:
    # (2,3) and (3,) -> (2,3): (2 - 1) compare x 6 elements = 6 FLOPs
    report = count_node("Max", {"A": (2, 3), "B": (3,)})
    assert report.layers[0].flops == 6


# -- reductions -------------------------------------------------------------------------------


def test_reduce_mean(count_node) -> None:
    # opset 17: axes is an attribute. Reads 2 x 3 x 4 = 24 elements -> 24 FLOPs
    report = count_node("ReduceMean", {"X": (2, 3, 4)}, attrs={"axes": [1], "keepdims": 1})
    layer = report.layers[0]
    assert layer.output_shapes == ((2, 1, 4),)
    assert layer.flops == 24


def test_reduce_sum_axes_input(count_node) -> None:
    # opset 13+: axes is an int64 input. Reads 24 elements -> 24 FLOPs
    report = count_node(
        "ReduceSum",
        {"X": (2, 3, 4)},
        {"axes": np.array([0, 2], dtype=np.int64)},
        attrs={"keepdims": 0},
    )
    layer = report.layers[0]
    assert layer.output_shapes == ((3,),)
    assert layer.flops == 24
    assert report.total.params == 0  # the int64 axes are not parameters


# -- Resize -----------------------------------------------------------------------------------

SIZES = np.array([1, 1, 4, 4], dtype=np.int64)
SCALES = np.array([1.0, 1.0, 2.0, 2.0], dtype=np.float32)


@pytest.mark.parametrize(
    ("mode", "flops"),
    [
        # nearest: a copy, 0 FLOPs (but counted)
        ("nearest", 0),
        # linear over k=2 axes: 2^2 = 4 taps, 4 multiplies + 3 adds = 2^(2+1) - 1 = 7
        # per output element x 1 x 1 x 4 x 4 = 16 outputs -> 112 FLOPs
        ("linear", 112),
        # cubic over 2 axes: 4^2 = 16 taps, 16 multiplies + 15 adds = 31 x 16 = 496 FLOPs
        ("cubic", 496),
    ],
)
def test_resize_sizes(count_node, mode, flops) -> None:
    # 1x1x2x2 -> 1x1x4x4 through the int64 `sizes` input
    report = count_node(
        "Resize",
        {"X": (1, 1, 2, 2)},
        {"sizes": SIZES},
        node_inputs=["X", "", "", "sizes"],
        attrs={"mode": mode},
    )
    layer = report.layers[0]
    assert layer.counted, layer.note
    assert layer.output_shapes == ((1, 1, 4, 4),)
    assert layer.flops == flops
    assert report.node_coverage == 1.0
    assert report.total.params == 0


@pytest.mark.parametrize(("mode", "flops"), [("nearest", 0), ("linear", 112)])
def test_resize_scales(count_node, mode, flops) -> None:
    # the same resize given as float `scales` [1, 1, 2, 2] (how most exporters write it):
    # 1x1x2x2 -> 1x1x4x4, so nearest 0 and linear 7 x 16 = 112 FLOPs as above.
    # The scales are a shape argument, not a weight: 0 params.
    report = count_node(
        "Resize",
        {"X": (1, 1, 2, 2)},
        {"scales": SCALES},
        node_inputs=["X", "", "scales"],
        attrs={"mode": mode},
    )
    layer = report.layers[0]
    assert layer.counted, layer.note
    assert layer.output_shapes == ((1, 1, 4, 4),)
    assert layer.flops == flops
    assert report.node_coverage == 1.0
    assert report.total.params == 0


def test_resize_exported_upsample(tmp_path) -> None:
    # nn.Upsample(scale_factor=2, bilinear) exported by TorchScript: Resize with its scales
    # in a float Constant. 1x1x2x2 -> 1x1x4x4: 7 x 16 = 112 FLOPs, and the module has no
    # parameters, so neither has the ONNX model.
    torch = pytest.importorskip("torch")
    path = tmp_path / "upsample.onnx"
    module = torch.nn.Upsample(scale_factor=2, mode="bilinear")
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (torch.randn(1, 1, 2, 2),), str(path), dynamo=False, input_names=["input"]
        )
    report = modelprof.count(path)
    resize = [layer for layer in report.layers if layer.op == "Resize"]
    assert len(resize) == 1
    assert resize[0].flops == 112
    assert report.total.flops == 112
    assert report.total.params == 0
    # the PyTorch route agrees
    assert modelprof.count(module, {"input": (1, 1, 2, 2)}).total.flops == 112


# -- zero-cost ops: counted, as zero ------------------------------------------------------------

ZERO_CASES = [
    # (case, op, inputs, initializers, node inputs, attrs, output shape)
    (
        "reshape",
        "Reshape",
        {"X": (2, 3, 4)},
        {"shape": np.array([6, 4], dtype=np.int64)},
        None,
        {},
        (6, 4),
    ),
    ("transpose", "Transpose", {"X": (2, 3, 4)}, {}, None, {"perm": [2, 0, 1]}, (4, 2, 3)),
    (
        "gather",
        "Gather",
        {"X": (5, 4)},
        {"idx": np.array([0, 2, 4], dtype=np.int64)},
        None,
        {"axis": 0},
        (3, 4),
    ),
    ("flatten", "Flatten", {"X": (2, 3, 4)}, {}, None, {"axis": 1}, (2, 12)),
    ("identity", "Identity", {"X": (2, 3)}, {}, None, {}, (2, 3)),
    ("concat", "Concat", {"A": (2, 3), "B": (2, 5)}, {}, None, {"axis": 1}, (2, 8)),
]


@pytest.mark.parametrize(
    ("op", "inputs", "weights", "node_inputs", "attrs", "out"),
    [c[1:] for c in ZERO_CASES],
    ids=[c[0] for c in ZERO_CASES],
)
def test_zero_cost_ops_are_counted(count_node, op, inputs, weights, node_inputs, attrs, out):
    report = count_node(op, inputs, weights, node_inputs=node_inputs, attrs=attrs)
    layer = report.layers[0]
    assert layer.output_shapes == (out,)
    assert layer.macs == 0
    assert layer.flops == 0
    assert layer.counted
    assert report.unsupported == {}
    assert report.node_coverage == 1.0


# -- an op with no rule is never a silent zero ---------------------------------------------------


def _relu_then_custom() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Relu", ["X"], ["H"], name="relu"),
        helper.make_node("MyOp", ["H"], ["Y"], name="my_op", domain="com.example"),
    ]
    graph = helper.make_graph(
        nodes,
        "custom",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, (2, 3))],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, (2, 3))],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]
    return helper.make_model(graph, opset_imports=opsets)


def test_unknown_op_is_reported() -> None:
    report = modelprof.count(_relu_then_custom())
    assert report.unsupported == {"MyOp": 1}
    # 1 of 2 nodes has a rule
    assert report.node_coverage == 0.5
    assert report.node_coverage < 1
    custom = report.layer("my_op")
    assert custom.op == "MyOp"
    assert custom.counted is False
    assert "MyOp" in custom.note
    relu = report.layer("relu")
    assert relu.counted is True
    # only the Relu is costed: 2 x 3 = 6 FLOPs
    assert report.total.flops == 6


def test_unknown_op_alone(count_node) -> None:
    report = count_node("MyOp", {"X": (2, 3)}, domain="com.example")
    assert report.unsupported == {"MyOp": 1}
    assert report.node_coverage == 0.0
    assert report.layers[0].counted is False
