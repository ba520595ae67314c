"""Shapes computed from shapes (Size, Shape with start and end) are followed through to the
layers they size; where shapes stop, the note names the node and why, and what it feeds is
reported as not counted.

Hand-worked figures, x of shape 2 x 3 x 4 (24 elements):

* Size(x) = 24 -> Reshape(x, [24]) -> MatMul by a 24 x 2 weight: 24 x 2 = 48 MACs.
* Shape(x, start=1, end=-1) = [3] -> Reshape(x, [-1, 3]) = 8 x 3 -> MatMul by 3 x 5:
  8 x 3 x 5 = 120 MACs.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import modelprof

vi = helper.make_tensor_value_info
X = vi("x", TensorProto.FLOAT, [2, 3, 4])


def _model(
    nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto], inits: list[onnx.TensorProto]
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "g", inputs, [vi(nodes[-1].output[0], TensorProto.FLOAT, None)], inits
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _const(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, np.int64), name)


def _weight(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ones(shape, np.float32), name)


def test_a_reshape_sized_by_size_of_its_input() -> None:
    report = modelprof.count(
        _model(
            [
                helper.make_node("Size", ["x"], ["n"], name="size"),
                helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="unsqueeze"),
                helper.make_node("Reshape", ["x", "n1"], ["flat"], name="flatten"),
                helper.make_node("MatMul", ["flat", "w"], ["y"], name="fc"),
            ],
            [X],
            [_const("axes", [0]), _weight("w", 24, 2)],
        )
    )
    assert report.uncounted == () and report.notes == ()
    assert report.total.macs == 48


def test_a_reshape_sized_by_a_slice_of_the_shape() -> None:
    report = modelprof.count(
        _model(
            [
                helper.make_node("Shape", ["x"], ["s"], name="shape", start=1, end=-1),
                helper.make_node("Concat", ["minus_one", "s"], ["s2"], name="cat", axis=0),
                helper.make_node("Reshape", ["x", "s2"], ["rows"], name="rows"),
                helper.make_node("MatMul", ["rows", "w"], ["y"], name="fc"),
            ],
            [X],
            [_const("minus_one", [-1]), _weight("w", 3, 5)],
        )
    )
    assert report.uncounted == ()
    assert report.total.macs == 120


def test_a_data_dependent_op_stops_shapes_and_says_so() -> None:
    report = modelprof.count(
        _model(
            [
                helper.make_node("NonZero", ["x"], ["nz"], name="nz"),
                helper.make_node("Cast", ["nz"], ["f"], name="cast", to=TensorProto.FLOAT),
                helper.make_node("Relu", ["f"], ["y"], name="relu"),
            ],
            [X],
            [],
        )
    )
    (note,) = report.notes
    assert note.startswith("3 node(s) have no known output shape")
    assert note.endswith(
        "shapes stop at node 'nz' (NonZero): its output size depends on the values it reads, "
        "known only at run time"
    )
    assert [(u.name, u.reason) for u in report.uncounted] == [
        ("relu", "no shape known for input 'f'")
    ]


def test_a_shape_given_as_a_model_input_stops_shapes_and_says_so() -> None:
    report = modelprof.count(
        _model(
            [
                helper.make_node("Reshape", ["x", "shape"], ["r"], name="rs"),
                helper.make_node("Relu", ["r"], ["y"], name="relu"),
            ],
            [X, vi("shape", TensorProto.INT64, [2])],
            [],
        )
    )
    (note,) = report.notes
    assert note.endswith(
        "shapes stop at node 'rs' (Reshape): its output shape depends on the values of the "
        "model's input 'shape', known only at run time"
    )
    assert [u.name for u in report.uncounted] == ["relu"]
