"""Batch > 1 wherever a rule multiplies by N, and QGemm's transposes and float output.

Every shape here has a batch of 2 (or 3) so that a rule that forgets N, or takes another
dimension for it, gives a different number; every figure is worked in the comment next to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import modelprof
from modelprof.costs import REGISTRY, Cost, OpCall
from modelprof.graph import TensorInfo

_RNG = np.random.default_rng(0)


def _int8(*shape: int) -> np.ndarray:
    return _RNG.integers(-127, 127, size=shape, dtype=np.int8)


def _model(
    node: onnx.NodeProto,
    x: tuple[str, int, Sequence[int]],
    inits: dict[str, np.ndarray],
    *,
    ms: bool = False,
) -> onnx.ModelProto:
    graph = helper.make_graph(
        [node],
        "q",
        [helper.make_tensor_value_info(*x)],
        [helper.make_tensor_value_info("Y", TensorProto.UNDEFINED, None)],
        initializer=[numpy_helper.from_array(v, name=k) for k, v in inits.items()],
    )
    opsets = [helper.make_opsetid("", 19)]
    if ms:
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    return helper.make_model(graph, opset_imports=opsets)


SCALES = {
    "xs": np.array(0.02, np.float32),
    "xz": np.array(128, np.uint8),
    "ws": np.array(0.01, np.float32),
    "wz": np.array(0, np.int8),
    "ys": np.array(0.05, np.float32),
    "yz": np.array(128, np.uint8),
}


# -- float convolutions -----------------------------------------------------------------------


def test_conv_transpose_batch_of_two(count_node) -> None:
    # X (2,3,4,4), W (3,2,3,3) (Cin 3, Cout 2), stride 1: out (2,2,6,6)
    # MACs = N 2 x Cin 3 x 4x4 in x Cout 2 x 3x3 = 2 x 3 x 16 x 2 x 9 = 1,728 = 3,456 FLOPs
    report = count_node("ConvTranspose", {"X": (2, 3, 4, 4)}, {"W": (3, 2, 3, 3)})
    layer = report.layers[0]
    assert layer.output_shapes == ((2, 2, 6, 6),)
    assert (layer.macs, layer.flops) == (1_728, 3_456)


def test_conv_transpose_batch_grouped_with_bias(count_node) -> None:
    # X (3,4,2,2), W (4,1,3,3), group 2 -> Cout = 1 x 2 = 2; stride 2: out 2 x 1 + 3 = 5
    # MACs = N 3 x Cin 4 x 2x2 in x (Cout/group) 1 x 3x3 = 3 x 4 x 4 x 9 = 432 = 864 FLOPs;
    # count_bias: + out (3,2,5,5) = 150 adds -> 1,014
    report = count_node(
        "ConvTranspose",
        {"X": (3, 4, 2, 2)},
        {"W": (4, 1, 3, 3), "B": (2,)},
        attrs={"group": 2, "strides": [2, 2]},
        count_bias=True,
    )
    layer = report.layers[0]
    assert layer.output_shapes == ((3, 2, 5, 5),)
    assert (layer.macs, layer.flops) == (432, 1_014)


def test_conv_transpose_without_bias_adds_nothing_with_count_bias(count_node) -> None:
    # the same 1,728 MACs as above: no B input, so count_bias adds nothing: 3,456 FLOPs
    report = count_node("ConvTranspose", {"X": (2, 3, 4, 4)}, {"W": (3, 2, 3, 3)}, count_bias=True)
    assert (report.layers[0].macs, report.layers[0].flops) == (1_728, 3_456)


# -- integer convolutions and products --------------------------------------------------------


def test_qlinear_conv_batch_of_two() -> None:
    # uint8 X (2,1,5,5), int8 W (2,1,3,3), no padding -> (2,2,3,3) = 36 outputs
    # int MACs = N 2 x Cout 2 x 3x3 x Cin 1 x 3x3 = 324; FLOPs = requantise 4 x 36 = 144
    node = helper.make_node(
        "QLinearConv", ["X", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["Y"], name="qconv"
    )
    model = _model(node, ("X", TensorProto.UINT8, (2, 1, 5, 5)), {**SCALES, "w": _int8(2, 1, 3, 3)})
    layer = modelprof.count(model).layers[0]
    assert layer.output_shapes == ((2, 2, 3, 3),)
    assert (layer.int_macs, layer.macs, layer.flops) == (324, 0, 144)


def test_conv_integer_batch_of_two() -> None:
    # uint8 X (2,3,8,8), int8 W (4,3,3,3), pads 1 -> (2,4,8,8)
    # int MACs = 2 x 4 x 64 x 3 x 9 = 13,824; int32 output: no FLOPs
    node = helper.make_node("ConvInteger", ["X", "W"], ["Y"], name="convi", pads=[1, 1, 1, 1])
    model = _model(node, ("X", TensorProto.UINT8, (2, 3, 8, 8)), {"W": _int8(4, 3, 3, 3)})
    layer = modelprof.count(model).layers[0]
    assert layer.output_shapes == ((2, 4, 8, 8),)
    assert (layer.int_macs, layer.macs, layer.flops) == (13_824, 0, 0)


def test_qlinear_matmul_batched() -> None:
    # uint8 A (2,3,4) x int8 B (4,5) -> (2,3,5) = 30 outputs x K 4 = 120 int MACs;
    # requantise 4 x 30 = 120 FLOPs
    node = helper.make_node(
        "QLinearMatMul", ["A", "xs", "xz", "B", "ws", "wz", "ys", "yz"], ["Y"], name="qmm"
    )
    model = _model(node, ("A", TensorProto.UINT8, (2, 3, 4)), {**SCALES, "B": _int8(4, 5)})
    layer = modelprof.count(model).layers[0]
    assert (layer.int_macs, layer.macs, layer.flops) == (120, 0, 120)


# -- QGemm (com.microsoft): transA/transB, with and without y_scale ---------------------------
#
# M=3, K=5, N=7 (all different): int MACs = 3 x 5 x 7 = 105 in every case; FLOPs per output
# element: 4 when requantised to 8 bits (y_scale given), else 1 (the float output's scale):
# 4 x 21 = 84 or 1 x 21 = 21.


def _qgemm(
    a: tuple[int, int], b: tuple[int, int], *, c: bool, y_scale: bool, y_zp: bool, **attrs: int
) -> Cost:
    scalar = TensorInfo("s", (), "float32")
    inputs: list[TensorInfo | None] = [
        TensorInfo("a", a, "uint8"),
        scalar,
        scalar,
        TensorInfo("b", b, "int8"),
        scalar,
        scalar,
        TensorInfo("c", (7,), "int32") if c else None,
        scalar if y_scale else None,
        scalar if y_zp else None,
    ]
    while inputs[-1] is None:  # trailing optional inputs are left out, as in a NodeProto
        inputs.pop()
    out = TensorInfo("y", (3, 7), "uint8" if y_scale else "float32")
    rule = REGISTRY.lookup("QGemm")
    assert rule is not None
    return rule(OpCall("QGemm", tuple(inputs), (out,), attrs))


@pytest.mark.parametrize(
    ("a", "b", "attrs"),
    [
        ((3, 5), (5, 7), {}),
        ((5, 3), (5, 7), {"transA": 1}),
        ((3, 5), (7, 5), {"transB": 1}),
        ((5, 3), (7, 5), {"transA": 1, "transB": 1}),
    ],
    ids=["plain", "transA", "transB", "transA_transB"],
)
def test_qgemm_transposes(a, b, attrs) -> None:
    # requantised (y_scale and y_zero_point): 105 int MACs, 84 FLOPs
    assert tuple(_qgemm(a, b, c=False, y_scale=True, y_zp=True, **attrs)) == (0, 84, 105)
    # float output (no y_scale): 105 int MACs, 21 FLOPs
    assert tuple(_qgemm(a, b, c=False, y_scale=False, y_zp=False, **attrs)) == (0, 21, 105)


def test_qgemm_optional_inputs_do_not_move_the_count() -> None:
    # a bias C without y_scale is still a float output: 21 FLOPs
    assert tuple(_qgemm((3, 5), (5, 7), c=True, y_scale=False, y_zp=False)) == (0, 21, 105)
    # y_scale without its (optional) zero point is still requantised: 84 FLOPs
    assert tuple(_qgemm((3, 5), (5, 7), c=True, y_scale=True, y_zp=False)) == (0, 84, 105)


def test_qgemm_transposed_float_output_through_onnx() -> None:
    # the same product in a model: A^T with A uint8 (5,3), B^T with B int8 (7,5), no C, no
    # y_scale: float output (3,7); 105 int MACs, 21 FLOPs; B's 35 int8 values are the params
    inits = {k: SCALES[k] for k in ("xs", "xz", "ws", "wz")}
    node = helper.make_node(
        "QGemm",
        ["A", "xs", "xz", "B", "ws", "wz"],
        ["Y"],
        name="qgemm",
        domain="com.microsoft",
        transA=1,
        transB=1,
    )
    model = _model(node, ("A", TensorProto.UINT8, (5, 3)), {**inits, "B": _int8(7, 5)}, ms=True)
    layer = modelprof.count(model).layers[0]
    assert layer.counted, layer.note
    assert (layer.int_macs, layer.macs, layer.flops, layer.params) == (105, 0, 21, 35)
