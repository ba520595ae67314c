"""What the forked inference child sends its parent (frontends/forked.py), run in this process:
the fork itself is exercised by the large-graph tests (tests/frontends/test_shapeprop.py)."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from modelprof.frontends.forked import child_payload


def _matmul(k_weight: int) -> onnx.ModelProto:
    # x (2, 3) @ w (k_weight, 4): valid when k_weight is 3
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
            helper.make_tensor_value_info("w", TensorProto.FLOAT, [k_weight, 4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_the_child_sends_the_inferred_model() -> None:
    data, status = child_payload(_matmul(3), data_prop=False)
    assert status == 0
    assert data[:1] == b"K"
    inferred = onnx.ModelProto()
    inferred.ParseFromString(data[1:])
    (y,) = inferred.graph.output
    assert [d.dim_value for d in y.type.tensor_type.shape.dim] == [2, 4]  # (2, 3) @ (3, 4)


def test_the_child_sends_why_inference_failed() -> None:
    data, status = child_payload(_matmul(5), data_prop=False)  # 3 != 5: strict mode refuses
    assert status == 1
    assert data[:1] == b"E"
    assert "Incompatible dimensions for matrix multiplication" in data[1:].decode()
