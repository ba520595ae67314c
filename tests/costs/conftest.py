"""Builders for tiny one-node ONNX models, handed to the cost tests as fixtures.

The helpers live here (not in an importable module) so the tests need no ``__init__.py`` and
no particular import mode: ``one_node(...)`` builds a ModelProto, ``count_one(...)`` counts it.
Weights are initializers filled with random numbers; the cost rules only read their shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import modelprof
from modelprof.costreport import CostReport

Shape = tuple[int, ...]

_RNG = np.random.default_rng(0)


def one_node(
    op_type: str,
    inputs: Mapping[str, Shape],
    weights: Mapping[str, Shape | np.ndarray] | None = None,
    *,
    attrs: Mapping[str, Any] | None = None,
    opset: int = 17,
    n_outputs: int = 1,
    node_inputs: Sequence[str] | None = None,
    domain: str = "",
) -> onnx.ModelProto:
    """A model with one ``op_type`` node.

    ``inputs`` become float graph inputs, ``weights`` initializers (a shape gives random
    float32 values, an array is stored as it is, e.g. int64 Reshape targets); the node reads them
    in that order (inputs first) unless ``node_inputs`` gives the order, where "" leaves an
    optional input out. Output shapes are left to ONNX shape inference, as in a real file.
    """
    weights = dict(weights or {})
    graph_inputs = [
        helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()
    ]
    initializers = [numpy_helper.from_array(_value(s), name=n) for n, s in weights.items()]
    order = list(node_inputs) if node_inputs is not None else [*inputs, *weights]
    outputs = [f"Y{i}" if i else "Y" for i in range(n_outputs)]
    node = helper.make_node(
        op_type, order, outputs, name=op_type.lower(), domain=domain, **dict(attrs or {})
    )
    graph = helper.make_graph(
        [node],
        f"one_{op_type.lower()}",
        graph_inputs,
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        initializer=initializers,
    )
    opsets = [helper.make_opsetid("", opset)]
    if domain:
        opsets.append(helper.make_opsetid(domain, 1))
    return helper.make_model(graph, opset_imports=opsets)


def _value(spec: Shape | np.ndarray) -> np.ndarray:
    if isinstance(spec, np.ndarray):
        return spec
    return _RNG.standard_normal(spec).astype(np.float32)


def count_one(*args: Any, count_bias: bool = False, **kwargs: Any) -> CostReport:
    """``modelprof.count(one_node(*args, **kwargs))``; the report has exactly one layer."""
    report = modelprof.count(one_node(*args, **kwargs), count_bias=count_bias)
    assert len(report.layers) == 1, [layer.name for layer in report.layers]
    return report


@pytest.fixture
def build_one() -> Callable[..., onnx.ModelProto]:
    """``build_one("Conv", {"X": shape}, {"W": shape}, attrs=...)`` -> ModelProto."""
    return one_node


@pytest.fixture
def count_node() -> Callable[..., CostReport]:
    """``count_node("Conv", {"X": shape}, {"W": shape}, attrs=..., count_bias=...)`` ->
    the CostReport of that one-node model."""
    return count_one
