"""The pruning transforms on models small enough to say by hand which channels go.

The model: Conv 1 -> 4 (3x3, no bias) [-> BatchNorm] -> ReLU -> Conv 4 -> 2 (1x1, no bias, the
layer left alone), on a 1 x 1 x 6 x 6 input (4 x 4 after the 3x3). Its first conv's channels:

  channel   weights              L1     L2
  0         one 2.0              2.0    2.0
  1         nine 0.5             4.5    1.5
  2         one 1.8              1.8    1.8
  3         one 0.1              0.1    0.1

(the second conv's weights are zero, so they add nothing to a channel's group importance).
Removing half the channels keeps the two largest: by L1 channels 1 and 0 (L1 sums 4.5 and 2.0),
by L2 channels 0 and 2 (L1 sums 2.0 and 1.8). MACs: 4 x 16 x 9 + 2 x 16 x 4 = 704 before,
2 x 16 x 9 + 2 x 16 x 2 = 352 after.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

import modelprof
from modelprof.errors import ModelprofError
from modelprof.rewrite.transforms.prune import (
    StructuredPlan,
    importance,
    prune_heads,
    prune_structured,
    prune_unstructured_onnx,
    prune_unstructured_torch,
)

pytest.importorskip("torch_pruning")

X = torch.zeros(1, 1, 6, 6)


def _net(batchnorm: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(1, 4, 3, bias=False)]
    if batchnorm:
        layers.append(nn.BatchNorm2d(4))
    layers += [nn.ReLU(), nn.Conv2d(4, 2, 1, bias=False)]
    module = nn.Sequential(*layers)
    weight = torch.zeros(4, 1, 3, 3)
    weight[0, 0, 0, 0] = 2.0
    weight[1] = 0.5
    weight[2, 0, 0, 0] = 1.8
    weight[3, 0, 0, 0] = 0.1
    with torch.no_grad():
        module[0].weight.copy_(weight)
        module[-1].weight.zero_()
        if batchnorm:
            module[1].weight.copy_(torch.tensor([0.1, 2.0, 0.5, 3.0]))
    return module.eval()


def _l1_sums(module: nn.Sequential) -> list[float]:
    return [round(float(v), 4) for v in module[0].weight.detach().abs().sum(dim=(1, 2, 3))]


@pytest.mark.parametrize(
    ("name", "kept"), [("l1", [2.0, 4.5]), ("l2", [2.0, 1.8])], ids=["l1", "l2"]
)
def test_magnitude_importance_keeps_the_largest_channels(name: str, kept: list[float]) -> None:
    module = _net()
    assert modelprof.count(module, (1, 1, 6, 6)).total.macs == 704
    prune_structured(module, X, StructuredPlan(amount=0.5, importance=name, ignore=("2",)))
    assert _l1_sums(module) == kept  # channels in their original order
    assert tuple(module[2].weight.shape) == (2, 2, 1, 1)  # the ignored layer keeps its outputs
    assert modelprof.count(module, (1, 1, 6, 6)).total.macs == 352


def test_batchnorm_importance_keeps_the_largest_scales() -> None:
    module = _net(batchnorm=True)
    prune_structured(module, X, StructuredPlan(amount=0.5, importance="bn", ignore=("3",)))
    # scales 0.1, 2.0, 0.5, 3.0: channels 1 and 3 stay (their conv weights: nine 0.5, one 0.1)
    assert module[1].weight.tolist() == [2.0, 3.0]
    assert _l1_sums(module) == [4.5, 0.1]


def test_iterative_steps_and_a_layer_amount() -> None:
    module = _net()
    seen: list[tuple[int, int]] = []
    plan = StructuredPlan(amount=0.5, importance="l1", ignore=("2",), steps=2)
    prune_structured(
        module, X, plan, between_steps=lambda s: seen.append((s, module[0].out_channels))
    )
    # half of the way after the first step (4 x 0.25 = 1 channel gone), called between steps only
    assert seen == [(0, 3)] and module[0].out_channels == 2
    module = _net()
    layer = StructuredPlan(amount=0.5, importance="l1", ignore=("2",), layer_amounts=(("0", 0.25),))
    prune_structured(module, X, layer)
    assert _l1_sums(module) == [2.0, 4.5, 1.8]  # 4 x 0.25 = 1 channel, the smallest, goes


def test_refusals() -> None:
    with pytest.raises(
        ModelprofError, match=r"^unknown importance 'l3' \(choose from l1, l2, bn, taylor\)$"
    ):
        importance("l3")
    with pytest.raises(
        ModelprofError, match=r"--layer-amount 0 must be between 0 and 1 \(exclusive\), got 1\.5"
    ):
        prune_structured(_net(), X, StructuredPlan(layer_amounts=(("0", 1.5),)))
    with pytest.raises(
        ModelprofError, match=r"^--heads: the model has no nn\.MultiheadAttention layer$"
    ):
        prune_heads(_net(), 0.5)
    separate = nn.Sequential(nn.MultiheadAttention(8, 2, kdim=4, vdim=4))
    with pytest.raises(
        ModelprofError, match=r"^--heads: '0' has separate k/v dims; not supported$"
    ):
        prune_heads(separate, 0.5)
    with pytest.raises(ModelprofError, match=r"^the model has no Conv/Linear weights to prune$"):
        prune_unstructured_torch(nn.Sequential(nn.ReLU()), 0.5)
    with pytest.raises(
        ModelprofError, match=r"^--amount must be between 0 and 1 \(exclusive\), got 1\.0$"
    ):
        prune_unstructured_torch(_net(), 1.0)


def test_unstructured_onnx_needs_a_matrix_weight(tmp_path: Path) -> None:
    # MatMul by a 1-D weight vector: a dot product, no weight matrix to sparsify
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "v"], ["y"], name="dot")],
        "dot",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [numpy_helper.from_array(np.ones(4, np.float32), "v")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(
        ModelprofError, match=r"^the model has no Conv/Gemm/MatMul weight initializers"
    ):
        prune_unstructured_onnx(model, 0.5)
    assert numpy_helper.to_array(model.graph.initializer[0]).tolist() == [1.0] * 4  # untouched
    onnx.checker.check_model(model)
