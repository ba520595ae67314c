"""What a runtime refuses (an op it does not know, a weights file that is missing or outside
the model's folder) is one line, exit 2, in the runtime's own words: ONNX Runtime's errors
were exit 3, and OpenVINO's were the useless 'Exception from src/inference/src/cpp/core.cpp:84:'."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper

from modelprof.errors import runtime_message

vi = helper.make_tensor_value_info


def _custom_op(folder: Path) -> Path:
    """A convolution, then an op of a custom domain no runtime knows (modelprof counts it
    as not counted; the runtimes refuse it)."""
    weight = numpy_helper.from_array(np.ones((8, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
            helper.make_node("MyOp", ["c"], ["y"], domain="custom", name="mine"),
        ],
        "g",
        [vi("x", T.FLOAT, [1, 3, 8, 8])],
        [vi("y", T.FLOAT, [1, 8, 6, 6])],
        [weight],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("custom", 1)]
    path = folder / "custom.onnx"
    onnx.save(helper.make_model(graph, opset_imports=opsets), str(path))
    return path


def _external(folder: Path, location: str) -> Path:
    """A MatMul whose weight is external data at ``location`` (which may not exist)."""
    weight = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        "g",
        [vi("x", T.FLOAT, [1, 4])],
        [vi("y", T.FLOAT, [1, 3])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = folder / f"{location.replace('/', '_').replace('.', '_')}.onnx"
    onnx.save(model, str(path), save_as_external_data=True, location="w.data", size_threshold=0)
    proto = onnx.load(str(path), load_external_data=False)
    for entry in proto.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = location
    onnx.save(proto, str(path))
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelprof.cli.main", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def _refused(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("modelprof: error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert words in result.stderr, result.stderr
    assert "core.cpp" not in result.stderr


QUICK = ("--iterations", "3", "--warmup", "1")


@pytest.mark.parametrize(
    ("runtime", "words"),
    [
        ("openvino", "OpenVINO cannot read the model: No conversion rule found for operations"),
        ("onnxruntime", "custom:MyOp(-1) is not a registered function/op"),
    ],
)
def test_an_op_the_runtime_does_not_know(tmp_path: Path, runtime: str, words: str) -> None:
    _refused(_run("profile", str(_custom_op(tmp_path)), "--runtime", runtime, *QUICK), words)


@pytest.mark.parametrize(
    ("runtime", "location", "words"),
    [
        ("openvino", "missing.data", "externally stored data in file (missing.data"),
        ("onnxruntime", "missing.data", "External data path does not exist"),
        ("openvino", "../../outside.data", "which is outside the base directory"),
        ("onnxruntime", "../../outside.data", "External data path escapes model directory"),
    ],
)
def test_weights_the_runtime_cannot_read(
    tmp_path: Path, runtime: str, location: str, words: str
) -> None:
    path = _external(tmp_path, location)
    _refused(_run("profile", str(path), "--runtime", runtime, *QUICK), words)


def test_the_rewrites_say_what_they_cannot_read_or_run(tmp_path: Path) -> None:
    _refused(
        _run("separable", str(_custom_op(tmp_path)), "--save", str(tmp_path / "out.onnx")),
        "ONNX Runtime refused custom.onnx: ",
    )
    _refused(
        _run("prune", str(_external(tmp_path, "missing.data")), "--unstructured"),
        "its weights cannot be read",
    )


def test_compare_names_the_model_the_runtime_refused(tmp_path: Path) -> None:
    result = _run(
        "compare",
        "seed-cnn",
        str(_custom_op(tmp_path)),
        "--profile",
        "--rounds",
        "1",
        "--iterations",
        "2",
        "--runtime",
        "onnxruntime",
    )
    _refused(result, "custom.onnx: ONNX Runtime cannot load the model")


def test_the_runtimes_messages_are_trimmed_to_what_is_wrong() -> None:
    openvino = RuntimeError(
        "Exception from src/inference/src/cpp/core.cpp:84:\n"
        "Check 'false' failed at src/frontends/common/src/frontend.cpp:47:\n"
        "Loading input model\n"
        "Path 'a.data' resolves to '/b/a.data' which is outside the base directory '/m'\n\n"
    )
    assert runtime_message(openvino) == (
        "Path 'a.data' resolves to '/b/a.data' which is outside the base directory '/m'"
    )
    onnxruntime = RuntimeError("[ONNXRuntimeError] : 1 : FAIL : Load model failed\nstack...")
    assert runtime_message(onnxruntime) == "Load model failed"
    assert runtime_message(RuntimeError("")) == "RuntimeError"
