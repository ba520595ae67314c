"""ONNX Scan multiplies its body by the scanned length, on whichever axis it scans; a Loop
with no trip count is reported as not counted, never as zero.

The Scan body: xi (1 x 4) @ W (4 x 4) = 16 MACs, 32 FLOPs, then an Add of the running state,
4 FLOPs. Over a scanned axis of length 5: 80 MACs, 5 x (32 + 4) = 180 FLOPs.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import modelprof

F = TensorProto.FLOAT
vi = helper.make_tensor_value_info


def _scan(x_shape: list[int], axis: int | None) -> onnx.ModelProto:
    body = helper.make_graph(
        [
            helper.make_node("MatMul", ["xi", "W"], ["m"], name="mm"),
            helper.make_node("Add", ["s", "m"], ["s2"], name="acc"),
            helper.make_node("Identity", ["s2"], ["yi"], name="id"),
        ],
        "body",
        [vi("s", F, [1, 4]), vi("xi", F, [1, 4])],
        [vi("s2", F, [1, 4]), vi("yi", F, [1, 4])],
    )
    attrs: dict[str, object] = {"num_scan_inputs": 1}
    if axis is not None:
        attrs["scan_input_axes"] = [axis]
    scan = helper.make_node("Scan", ["s0", "x"], ["sN", "ys"], name="scan", body=body, **attrs)
    graph = helper.make_graph(
        [scan],
        "g",
        [vi("s0", F, [1, 4]), vi("x", F, x_shape)],
        [vi("sN", F, [1, 4]), vi("ys", F, None)],
        [numpy_helper.from_array(np.ones((4, 4), np.float32), "W")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize(
    ("x_shape", "axis"),
    [([5, 1, 4], None), ([1, 5, 4], 1), ([1, 5, 4], -2)],
    ids=["default-axis-0", "axis-1", "axis-minus-2"],
)
def test_scan_body_counted_once_per_scanned_element(x_shape: list[int], axis: int | None) -> None:
    report = modelprof.count(_scan(x_shape, axis))
    assert report.uncounted == () and report.unsupported == {}
    assert (report.total.macs, report.total.flops) == (80, 180)
    layers = {layer.name: (layer.macs, layer.flops) for layer in report.layers}
    assert layers["scan/mm"] == (80, 160) and layers["scan/acc"] == (0, 20)


def test_a_loop_without_a_trip_count_is_not_counted_and_says_so() -> None:
    # a Loop whose trip-count input is omitted runs until its condition is false
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("MatMul", ["v_in", "W"], ["v_out"]),
        ],
        "body",
        [
            vi("i", TensorProto.INT64, []),
            vi("cond_in", TensorProto.BOOL, []),
            vi("v_in", F, [1, 4]),
        ],
        [vi("cond_out", TensorProto.BOOL, []), vi("v_out", F, [1, 4])],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["", "cond", "x"], ["y"], body=body, name="loop")],
        "g",
        [vi("x", F, [1, 4]), vi("cond", TensorProto.BOOL, [])],
        [vi("y", F, [1, 4])],
        [numpy_helper.from_array(np.ones((4, 4), np.float32), "W")],
    )
    report = modelprof.count(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert report.total.macs == 0
    (uncounted,) = report.uncounted
    assert uncounted.name == "loop"
    assert uncounted.reason.startswith("Loop body not counted: its trip count is not static")
    assert report.node_coverage < 1
