"""What the command-line tests share: a tiny ONNX model built in place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def linear_onnx() -> Callable[[Path, int, int], Path]:
    """:func:`build_linear_onnx`, for tests that need a model file of their own."""
    return build_linear_onnx


def build_linear_onnx(path: Path, features: int, outputs: int) -> Path:
    """A model of one MatMul (``features`` -> ``outputs``, no bias, seeded random weights) on a
    1 x ``features`` input named x, with no convolution and no spatial map: ``features`` x
    ``outputs`` MACs."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = rng.standard_normal((features, outputs)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")],
        path.stem,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, outputs])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path
