"""Invalid ONNX models are refused, not counted: each case here used to be counted without a
word (or crashed), and is now one error naming the node, the tensor or the dim."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper

import modelprof
from modelprof.errors import ModelprofError

vi = helper.make_tensor_value_info
X = vi("x", T.FLOAT, [1, 4])


def _model(nodes: list, outputs: list, inits: list = (), functions: list = ()) -> onnx.ModelProto:  # type: ignore[assignment]
    graph = helper.make_graph(nodes, "g", [X], outputs, list(inits))
    opsets = [helper.make_opsetid("", 17)]
    if functions:
        opsets.append(helper.make_opsetid("local", 1))
    model = helper.make_model(graph, opset_imports=opsets, functions=list(functions))
    model.ir_version = 9
    return model


def _const(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, np.int64), name)


def cycle() -> onnx.ModelProto:
    return _model(
        [
            helper.make_node("Relu", ["b"], ["a"], name="r1"),
            helper.make_node("Relu", ["a"], ["b"], name="r2"),
        ],
        [vi("b", T.FLOAT, [1, 4])],
    )


def self_loop() -> onnx.ModelProto:
    return _model(
        [helper.make_node("Add", ["x", "a"], ["a"], name="r1")], [vi("a", T.FLOAT, [1, 4])]
    )


def undefined_input() -> onnx.ModelProto:
    return _model([helper.make_node("Relu", ["nope"], ["y"], name="r")], [vi("y", T.FLOAT, [1, 4])])


def duplicate_output() -> onnx.ModelProto:
    return _model(
        [
            helper.make_node("Relu", ["x"], ["y"], name="r1"),
            helper.make_node("Sigmoid", ["x"], ["y"], name="r2"),
        ],
        [vi("y", T.FLOAT, [1, 4])],
    )


def matmul_mismatch() -> onnx.ModelProto:  # 1x4 @ 5x4
    w = numpy_helper.from_array(np.ones((5, 4), np.float32), "w")
    return _model(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [vi("y", T.FLOAT, None)], [w]
    )


def add_mismatch() -> onnx.ModelProto:  # [1, 4] + [3]
    b = numpy_helper.from_array(np.ones(3, np.float32), "b")
    return _model(
        [helper.make_node("Add", ["x", "b"], ["y"], name="add")], [vi("y", T.FLOAT, None)], [b]
    )


def reshape_605_to_343() -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")],
        "g",
        [vi("x", T.FLOAT, [1, 5, 11, 11])],
        [vi("y", T.FLOAT, None)],
        [_const("s", [7, 7, 7])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def cast_without_to() -> onnx.ModelProto:
    return _model([helper.make_node("Cast", ["x"], ["y"], name="c")], [vi("y", T.FLOAT, None)])


def softmax_axis_99() -> onnx.ModelProto:
    return _model(
        [helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=99)], [vi("y", T.FLOAT, None)]
    )


def slice_step_0() -> onnx.ModelProto:
    inits = [_const(n, [v]) for n, v in (("st", 0), ("en", 4), ("ax", 1), ("sp", 0))]
    node = helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"], name="sl")
    return _model([node], [vi("y", T.FLOAT, None)], inits)


def negative_weight_dim() -> onnx.ModelProto:
    weight = onnx.TensorProto(name="w", data_type=T.FLOAT, dims=[-4, 4])
    return _model(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        [vi("y", T.FLOAT, None)],
        [weight],
    )


def constant_without_output() -> onnx.ModelProto:
    value = numpy_helper.from_array(np.ones(2, np.float32))
    return _model(
        [
            helper.make_node("Constant", [], [], name="c", value=value),
            helper.make_node("Relu", ["x"], ["y"], name="r"),
        ],
        [vi("y", T.FLOAT, [1, 4])],
    )


def recursive_function() -> onnx.ModelProto:
    body = [helper.make_node("F", ["a"], ["b"], domain="local")]
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]
    f = helper.make_function("local", "F", ["a"], ["b"], body, opsets)
    node = helper.make_node("F", ["x"], ["y"], domain="local", name="f")
    return _model([node], [vi("y", T.FLOAT, [1, 4])], functions=[f])


def scan_with_too_many_scan_inputs() -> onnx.ModelProto:
    body = helper.make_graph(
        [helper.make_node("Identity", ["s"], ["o"])],
        "body",
        [vi("s", T.FLOAT, [4])],
        [vi("o", T.FLOAT, [4])],
    )
    node = helper.make_node("Scan", ["x"], ["y"], name="scan", body=body, num_scan_inputs=3)
    return _model([node], [vi("y", T.FLOAT, None)])


CASES: list[tuple[Callable[[], onnx.ModelProto], str]] = [
    (cycle, "the graph has a cycle through node 'r1'"),
    (self_loop, "the graph has a cycle through node 'r1'"),
    (undefined_input, "node 'r' reads 'nope', which no input, initializer or node defines"),
    (duplicate_output, "tensor 'y' is produced twice (by nodes 'r1' and 'r2')"),
    (matmul_mismatch, "node 'mm' (MatMul) is invalid: Incompatible dimensions"),
    (add_mismatch, "node 'add' (Add) is invalid: Incompatible dimensions"),
    (reshape_605_to_343, "node 'rs' (Reshape) cannot reshape 1x5x11x11 (605 elements) to 7x7x7"),
    (cast_without_to, "node 'c' (Cast) is invalid"),
    (softmax_axis_99, "node 'sm' (Softmax) is invalid: 'axis' must be in [-2 , 1]"),
    (slice_step_0, "node 'sl' (Slice) is invalid: 'step' cannot be 0"),
    (negative_weight_dim, "initializer 'w' has a negative dim (-4, 4)"),
    (constant_without_output, "Constant node 'c' has no output"),
    (recursive_function, "its model-local functions cannot be expanded"),
    (scan_with_too_many_scan_inputs, "node 'scan' (Scan) is invalid: num_scan_inputs (3)"),
]


@pytest.mark.parametrize(("make", "message"), CASES, ids=[c[0].__name__ for c in CASES])
def test_an_invalid_model_is_refused_naming_what_is_wrong(
    tmp_path: Path, make: Callable[[], onnx.ModelProto], message: str
) -> None:
    path = tmp_path / f"{make.__name__}.onnx"
    onnx.save(make(), str(path))
    with pytest.raises(ModelprofError) as caught:
        modelprof.count(path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_name_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    model = cast_without_to()
    model.graph.node[0].name = "ABCD"
    model.graph.node[0].attribute.append(helper.make_attribute("to", T.FLOAT))
    path = tmp_path / "utf8.onnx"
    path.write_bytes(model.SerializeToString().replace(b"ABCD", b"AB\xff\xfe"))
    result = subprocess.run(
        [sys.executable, "-m", "modelprof.cli.main", "count", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("modelprof: error: utf8.onnx: node 0 (Cast) has a name ")
    assert result.stderr.count("\n") == 1


def test_a_loop_with_a_negative_trip_count_costs_nothing(tmp_path: Path) -> None:
    body = helper.make_graph(
        [
            helper.make_node("Relu", ["v"], ["v2"], name="relu"),
            helper.make_node("Identity", ["cond"], ["cond2"]),
        ],
        "body",
        [vi("i", T.INT64, []), vi("cond", T.BOOL, []), vi("v", T.FLOAT, [1, 4])],
        [vi("cond2", T.BOOL, []), vi("v2", T.FLOAT, [1, 4])],
    )
    trips = numpy_helper.from_array(np.array(-5, np.int64), "trips")
    go = numpy_helper.from_array(np.array(True), "go")
    loop = helper.make_node("Loop", ["trips", "go", "x"], ["y"], name="loop", body=body)
    report = modelprof.count(_model([loop], [vi("y", T.FLOAT, [1, 4])], [trips, go]))
    # it used to report -20 FLOPs: 4 Relu outputs x -5 trips
    assert report.total.flops == 0
    assert "Loop 'loop' has a trip count of -5: its body never runs" in report.notes


def test_a_static_dim_cannot_be_rebound_but_the_batch_can(tmp_path: Path) -> None:
    weight = numpy_helper.from_array(np.ones((8, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
        "g",
        [vi("x", T.FLOAT, [1, 3, 8, 8])],
        [vi("y", T.FLOAT, None)],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    with pytest.raises(ModelprofError, match="'x' has 3 at dim 1, a static size"):
        modelprof.count(model, {"x": (1, 4, 8, 8)})
    # batch 5: 5 x 8 x 6 x 6 outputs x 3 x 3 x 3 = 38,880 MACs
    assert modelprof.count(model, {"x": (5, 3, 8, 8)}).total.macs == 38_880


@pytest.mark.parametrize(
    "shape", ["input=1x1x100000000000000000000000000000x28", "input=1x1x99999999x99999999"]
)
def test_an_absurd_input_shape_is_one_line_exit_2(shape: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "modelprof.cli.main", "count", "seed-cnn", "--input-shape", shape],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "is more than any machine holds" in result.stderr
    assert result.stderr.count("\n") == 1
