"""OpenVINO's pooling, normalisation and resize ops, built with its opset API, are translated to
the ONNX op that costs the same, and counted with the ONNX rules.

Hand-worked figures, on a 1 x 3 x 8 x 6 input (144 elements) unless said otherwise:

* AdaptiveAvgPool to 2 x 3: windows of ceil(8 / 2) x ceil(6 / 3) = 4 x 2, one add per window
  element per output: 1 x 3 x 2 x 3 = 18 outputs x 8 = 144 FLOPs.
* AdaptiveMaxPool to 1 x 1, and ReduceMax over H, W keeping dims, are global max pools: one
  compare per element read, 144 FLOPs. ReduceMean over the last axis only (dims dropped) stays
  a ReduceMean: 144 FLOPs as well, one add per element read.
* MVN with variance: 5 FLOPs per element (mean, subtract, square, sum, scale), 5 x 144 = 720,
  over H, W an InstanceNormalization, across channels (MVN-2) a LayerNormalization.
  Without variance it has no ONNX counterpart and is reported as not counted, never as 0.
* NormalizeL2: 3 per element (square, sum, divide), 432.
* GroupNormalization on 1 x 4 x 8 x 6 (192 elements) with scale and bias: (5 + 1 + 1) x 192 =
  1,344 FLOPs, 4 + 4 params.
* BatchNormInference on 1 x 4 x 8 x 6: 2 per element (folded scale, shift), 384 FLOPs; gamma
  and beta are params (8), the running mean and variance buffers (8). Its opset-1 version lists
  the data third: counted the same.
* Interpolate 1 x 2 x 4 x 4 -> 1 x 2 x 8 x 8 (128 outputs, 2 axes resized): nearest 0 FLOPs
  (a copy); linear 2^2 = 4 neighbours, 2 x 4 - 1 = 7 per output, 896; cubic 4^2 = 16, 2 x 16 - 1
  = 31 per output, 3,968.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import modelprof
from modelprof.costreport import CostReport

ov = pytest.importorskip("openvino")
import openvino.opset1 as ops1  # noqa: E402
import openvino.opset2 as ops2  # noqa: E402
import openvino.opset8 as ops8  # noqa: E402
import openvino.opset13 as ops  # noqa: E402


def _count(output: Any, x: Any) -> CostReport:
    return modelprof.count(ov.Model([output], [x], "m"))


def _x(shape: tuple[int, ...] = (1, 3, 8, 6)) -> Any:
    return ops.parameter(list(shape), np.float32, name="x")


def _ints(*values: int) -> Any:
    return ops.constant(np.array(values, np.int64))


def _ops_and_flops(report: CostReport) -> list[tuple[str, int]]:
    return [(layer.op, layer.flops) for layer in report.layers]


def test_adaptive_pools_to_a_grid_and_to_one_pixel() -> None:
    x = _x()
    avg = _count(ops8.adaptive_avg_pool(x, _ints(2, 3)), x)
    assert avg.unsupported == {}
    assert _ops_and_flops(avg) == [("AveragePool", 18 * 4 * 2)]
    x = _x()
    to_one = _count(ops8.adaptive_max_pool(x, _ints(1, 1)).output(0), x)
    assert _ops_and_flops(to_one) == [("GlobalMaxPool", 144)]


def test_reductions_over_the_spatial_axes_are_global_pools_and_others_stay_reductions() -> None:
    x = _x()
    spatial = _count(ops.reduce_max(x, _ints(2, 3), True), x)
    assert _ops_and_flops(spatial) == [("GlobalMaxPool", 144)]
    x = _x()
    last_axis = _count(ops.reduce_mean(x, _ints(-1), False), x)
    assert _ops_and_flops(last_axis) == [("ReduceMean", 144)]
    assert last_axis.total.flops == 144


def test_mvn_forms() -> None:
    x = _x()
    spatial = _count(ops.mvn(x, _ints(2, 3), True, 1e-5, "inside_sqrt"), x)
    assert _ops_and_flops(spatial) == [("InstanceNormalization", 5 * 144)]
    x = _x()
    across = _count(ops2.mvn(x, across_channels=True, normalize_variance=True, eps=1e-5), x)
    assert _ops_and_flops(across) == [("LayerNormalization", 5 * 144)]
    x = _x()
    per_channel = _count(ops2.mvn(x, across_channels=False, normalize_variance=True, eps=1e-5), x)
    assert _ops_and_flops(per_channel) == [("InstanceNormalization", 5 * 144)]
    x = _x()
    no_variance = _count(ops.mvn(x, _ints(2, 3), False, 1e-5, "inside_sqrt"), x)
    assert no_variance.unsupported == {"MVN": 1}  # not counted, and said so
    assert no_variance.node_coverage == 0.0


def test_normalize_l2_and_group_norm() -> None:
    x = _x()
    l2 = _count(ops.normalize_l2(x, _ints(1), 1e-6, "add"), x)
    assert _ops_and_flops(l2) == [("LpNormalization", 3 * 144)]
    x = _x((1, 4, 8, 6))
    gamma, beta = ops.constant(np.ones(4, np.float32)), ops.constant(np.zeros(4, np.float32))
    group = _count(ops.group_normalization(x, gamma, beta, 2, 1e-5), x)
    assert _ops_and_flops(group) == [("GroupNormalization", 7 * 192)]
    assert group.total.params == 8


@pytest.mark.parametrize("opset", [ops1, ops], ids=["opset1-data-third", "opset5"])
def test_batch_norm_inference_reads_its_data_input_in_either_opset(opset: Any) -> None:
    x = _x((1, 4, 8, 6))

    def per_channel(value: float) -> Any:
        return ops.constant(np.full(4, value, np.float32))

    bn = opset.batch_norm_inference(
        x, per_channel(1), per_channel(0), per_channel(0), per_channel(1), 1e-5
    )
    report = _count(bn, x)
    # a gamma read as the data would give 2 x 4 = 8 FLOPs
    assert _ops_and_flops(report) == [("BatchNormalization", 2 * 192)]
    assert (report.total.params, report.total.buffers) == (8, 8)


@pytest.mark.parametrize(
    ("mode", "flops"),
    [("nearest", 0), ("linear", 7 * 128), ("linear_onnx", 7 * 128), ("cubic", 31 * 128)],
)
def test_interpolate_is_a_resize_costed_by_its_mode(mode: str, flops: int) -> None:
    x = _x((1, 2, 4, 4))
    y = ops.interpolate(x, _ints(8, 8), mode, "sizes", axes=_ints(2, 3))
    report = _count(y, x)
    assert report.unsupported == {}
    assert _ops_and_flops(report) == [("Resize", flops)]
