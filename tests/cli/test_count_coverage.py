"""`modelprof count` says on stderr, in one line and in every format, when nodes were not
counted: how many, which op types (the MACs-carrying ones first) and why (no shape known for
an input, no cost rule for an op), never a guess that blames the input shapes. Before, the
table format said nothing on stderr and a MatMul left without a shape was only listed by name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

MODELPROF = [sys.executable, "-m", "modelprof.cli.main"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*MODELPROF, *args], capture_output=True, text=True, env=env, check=False)


def _save(path: Path, nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto]) -> Path:
    weight = numpy_helper.from_array(np.arange(32, dtype=np.float32).reshape(8, 4), "W")
    graph = helper.make_graph(
        nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight]
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("custom", 1)]
    )
    onnx.save_model(model, str(path))
    return path


@pytest.fixture
def custom_then_matmul(tmp_path: Path) -> Path:
    """x (2x8) -> MyOp (no rule, no shape inference) -> MatMul by an 8x4 weight: the MatMul
    has no input shape, so neither node is counted."""
    return _save(
        tmp_path / "custom.onnx",
        [
            helper.make_node("MyOp", ["x"], ["h"], domain="custom", name="mine"),
            helper.make_node("MatMul", ["h", "W"], ["y"], name="fc"),
        ],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
    )


EXPECTED = (
    "modelprof: warning: 2 node(s) not counted (MatMul x1, MyOp x1); node coverage 0.0%; "
    "MatMul 'fc': no shape known for input 'h'"
)


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "md"])
def test_one_stderr_line_in_every_format(custom_then_matmul: Path, fmt: str) -> None:
    result = run("count", str(custom_then_matmul), "--format", fmt)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [EXPECTED]


def test_quiet_silences_it_and_strict_fails_with_it(custom_then_matmul: Path) -> None:
    quiet = run("count", str(custom_then_matmul), "--quiet")
    assert (quiet.returncode, quiet.stderr) == (0, "")
    assert "MyOp" in quiet.stdout  # the report itself is still written
    strict = run("count", str(custom_then_matmul), "--strict", "--format", "json")
    assert strict.returncode == 1
    assert strict.stderr.strip().endswith("MatMul 'fc': no shape known for input 'h' (--strict)")
    assert "Traceback" not in strict.stderr


def test_the_note_names_where_shapes_stop(custom_then_matmul: Path) -> None:
    doc = json.loads(run("count", str(custom_then_matmul), "--format", "json").stdout)
    assert doc["unsupported"] == {"MyOp": 1}
    layers = {layer["name"]: layer for layer in doc["layers"]}
    assert layers["mine"]["note"] == "no cost rule for MyOp"
    assert layers["fc"]["note"] == "no shape known for input 'h'"
    assert doc["notes"] == [
        "2 node(s) have no known output shape, so what they feed is not counted; shapes stop "
        "at node 'mine' (MyOp): a custom op (domain 'custom') ONNX has no shape inference "
        "for, so nothing gives its output shape"
    ]


def test_an_op_without_a_rule_is_named_as_such(tmp_path: Path) -> None:
    """MatMul (2x8 by 8x4: 64 MACs) then MyOp: only MyOp is not counted, for want of a rule."""
    model = _save(
        tmp_path / "tail.onnx",
        [
            helper.make_node("MatMul", ["x", "W"], ["h"], name="fc"),
            helper.make_node("MyOp", ["h"], ["y"], domain="custom", name="mine"),
        ],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
    )
    result = run("count", str(model))
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "modelprof: warning: 1 node(s) not counted (MyOp x1); node coverage 50.0%; "
        "no cost rule for MyOp"
    ]


def test_a_shape_decided_by_input_values_is_named(tmp_path: Path) -> None:
    """A Reshape whose target is a graph input: its shape is known only at run time, and the
    note says so rather than blaming the input shapes."""
    model = _save(
        tmp_path / "values.onnx",
        [
            helper.make_node("Reshape", ["x", "target"], ["h"], name="reshape"),
            helper.make_node("MatMul", ["h", "W"], ["y"], name="fc"),
        ],
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8]),
            helper.make_tensor_value_info("target", TensorProto.INT64, [2]),
        ],
    )
    result = run("count", str(model), "--format", "json")
    assert result.stderr.splitlines() == [
        "modelprof: warning: 1 node(s) not counted (MatMul x1); node coverage 50.0%; "
        "MatMul 'fc': no shape known for input 'h'"
    ]
    assert json.loads(result.stdout)["notes"] == [
        "2 node(s) have no known output shape, so what they feed is not counted; shapes stop "
        "at node 'reshape' (Reshape): its output shape depends on the values of the model's "
        "input 'target', known only at run time"
    ]


def test_nothing_on_stderr_when_everything_is_counted(tmp_path: Path) -> None:
    model = _save(
        tmp_path / "full.onnx",
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="fc")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
    )
    result = run("count", str(model))
    assert (result.returncode, result.stderr) == (0, "")
    assert "64" in result.stdout  # 2x8 by 8x4: 2*8*4 = 64 MACs
