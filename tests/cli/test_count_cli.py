"""The `modelprof count` and `modelprof zoo` commands as a user runs them."""

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

from modelprof.cli.main import main

MODELPROF = [sys.executable, "-m", "modelprof.cli.main"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*MODELPROF, *args], capture_output=True, text=True, env=env, check=False)


def test_seed_cnn_table_shows_the_worked_example() -> None:
    result = run("count", "seed-cnn")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for figure in ("121,680", "6,760", "108,900", "154,880", "2,560", "394,780", "79,260"):
        assert figure in out
    assert "peak activation memory 33,800 B" in out
    assert "bias adds: not counted" in out  # the convention travels with the report
    assert result.stderr == ""


def test_json_report_schema_and_no_clobber(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cost.json"
    assert main(["count", "seed-separable", "--format", "json", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["schema_version"] == 1 and doc["kind"] == "count"
    assert doc["total"]["flops"] == 926_808
    assert doc["node_coverage"] == 1.0 and doc["unsupported"] == {}
    layer = doc["layers"][0]
    assert set(layer) >= {
        "name",
        "op",
        "scope",
        "input_shapes",
        "output_shapes",
        "params",
        "macs",
        "flops",
        "weight_bytes",
        "activation_bytes",
        "intensity",
    }
    assert set(doc["total"]) == {
        "params",
        "buffers",
        "macs",
        "flops",
        "weight_bytes",
        "activation_bytes",
        "peak_activation_bytes",
    }
    assert doc["inputs"] == [{"name": "input", "shape": [1, 1, 28, 28], "dtype": "float32"}]
    before = out.read_text()
    capsys.readouterr()
    assert main(["count", "seed-cnn", "--format", "json", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "exists; pass --force" in err and err.count("\n") == 1
    assert out.read_text() == before  # untouched
    assert main(["count", "seed-cnn", "--format", "json", "-o", str(out), "--force"]) == 0
    assert json.loads(out.read_text())["total"]["flops"] == 394_780
    assert [p.name for p in tmp_path.iterdir()] == ["cost.json"]  # no temp files left


def test_csv_and_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["count", "seed-cnn", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("name,op,scope,input_shapes,output_shapes,params,macs,flops")
    assert lines[1].startswith("conv1,Conv,conv1,1x1x28x28,1x10x26x26,90,60840,121680")
    assert main(["count", "seed-cnn", "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "| `fc1` | Gemm | 1x128 | 77,440 | 77,440 | 154,880 |" in md


def test_depth_rollup_and_top(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["count", "resnet18", "--depth", "2", "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert "layer1.0" in out and "scope (depth 2)" in out
    assert main(["count", "resnet18", "--top", "3", "--sort", "macs"]) == 0
    out = capsys.readouterr().out
    assert "3 of 68 layers shown, by macs" in out


def _custom_op_model(path: Path) -> Path:
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["h"], name="fc"),
            helper.make_node("MyOp", ["h"], ["y"], domain="custom", name="mine"),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.ones((8, 4), np.float32), "W")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("custom", 1)]
    )
    onnx.save_model(model, str(path))
    return path


def test_unsupported_op_strict_and_user_rules(tmp_path: Path) -> None:
    model = _custom_op_model(tmp_path / "custom.onnx")
    result = run("count", str(model), "--format", "json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["unsupported"] == {"MyOp": 1}
    assert "1 node(s) not counted (MyOp x1)" in result.stderr
    strict = run("count", str(model), "--strict", "-q")
    assert strict.returncode == 1
    assert "--strict" in strict.stderr and "Traceback" not in strict.stderr
    rules = tmp_path / "my_rules.py"
    rules.write_text(
        "import modelprof\n"
        "def my_op(call):\n"
        "    # 3 FLOPs per input element (a custom op's output shape is unknown to ONNX)\n"
        "    return modelprof.Cost(flops=3 * call.in_numel())\n"
        "modelprof.register_cost_rule('MyOp', my_op)\n"
    )
    ruled = run("count", str(model), "--rules", str(rules), "--strict", "--format", "json")
    assert ruled.returncode == 0, ruled.stderr
    doc = json.loads(ruled.stdout)
    # MatMul 2x8x4 = 64 MACs = 128 FLOPs; MyOp 3 x (2x4) = 24 FLOPs
    assert doc["total"]["flops"] == 152 and doc["unsupported"] == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["count", "missing.onnx"], "no such file: missing.onnx"),
        (["count", "resnet-18"], "resnet18"),
        (["count", "model.pt"], "pass --trust-pickle if you trust it"),
        (["count", "seed-cnn", "--input-shape", "input=1xAx28"], "malformed --input-shape"),
        (["count", "seed-cnn", "--input-shape", "img=1x1x28x28"], "model's inputs are: input"),
        (["count", "seed-cnn", "--format", "xml"], "Invalid value for '--format'"),
        (["count", "nothing.py:build"], "no such Python file"),
        (["count", "seed-cnn", "--rules", "nope.py"], "no such rules file"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and err.startswith("modelprof: error: ")


def test_bad_files_through_the_real_entry_point(tmp_path: Path) -> None:
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    text = tmp_path / "notes.onnx"
    text.write_text("hello, I am not a model")
    for path, message in ((empty, "is empty"), (tmp_path, "is a directory"), (text, "ONNX")):
        result = run("count", str(path))
        assert result.returncode == 2
        assert message in result.stderr
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_unbound_dynamic_dim(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    path = tmp_path / "dyn.onnx"
    onnx.save_model(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path)
    )
    result = run("count", str(path))
    assert result.returncode == 2
    assert "input 'x' dim 0 ('N') is dynamic: bind it with --input-shape x=1x3" in result.stderr
    ok = run("count", str(path), "--input-shape", "x:4x3", "--format", "json")
    assert json.loads(ok.stdout)["total"]["flops"] == 12


def test_zoo_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo"]) == 0
    out = capsys.readouterr().out
    for name in (
        "seed-cnn",
        "seed-separable",
        "resnet18",
        "resnet50",
        "mobilenet_v1",
        "mobilenet_v2",
        "vgg16",
        "transformer",
    ):
        assert name in out
    assert main(["--version"]) == 0
    assert "modelprof, version" in capsys.readouterr().out


def test_quiet_json_to_file_prints_nothing(tmp_path: Path) -> None:
    result = run("count", "seed-cnn", "--format", "json", "-o", str(tmp_path / "r.json"), "-q")
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""


def test_reports_get_the_usual_file_permissions(tmp_path: Path) -> None:
    import stat

    out = tmp_path / "r.json"
    assert main(["count", "seed-cnn", "--format", "json", "-o", str(out), "-q"]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_top_keeps_the_costliest_layers_in_execution_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["count", "seed-cnn", "--top", "3"]) == 0
    out = capsys.readouterr().out
    # the three largest (fc1 154,880, conv1 121,680, conv2 108,900), in the model's order
    rows = [
        line.split("│")[1].strip()
        for line in out.splitlines()
        if line.startswith("│") and "total" not in line
    ]
    assert rows == ["conv1", "conv2", "fc1"]
    assert "the 3 of 5 layers with the most FLOPs" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["count", "seed-cnn", "--depth", "1", "--by-op"], "give --depth or --by-op, not both"),
        (
            [
                "count",
                "seed-cnn",
                "--input-shape",
                "input=1x1x28x28",
                "--input-shape",
                "input=2x1x28x28",
            ],
            "gives input 'input' twice",
        ),
        (
            ["prune", "seed-cnn", "--unstructured", "--target-macs", "0.5"],
            "--target-macs needs structured pruning",
        ),
        (["prune", "seed-cnn", "--per-layer"], "--per-layer needs --unstructured"),
    ],
)
def test_conflicting_options_are_refused(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_outputs_are_checked_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same = tmp_path / "x.onnx"
    assert main(["separable", "seed-cnn", "--save", str(same), "-o", str(same)]) == 2
    assert "two outputs name the same file" in capsys.readouterr().err
    assert not same.exists()
    existing = tmp_path / "prof.html"
    existing.write_text("mine")
    assert main(["profile", "seed-cnn", "--iterations", "2", "--html", str(existing)]) == 2
    captured = capsys.readouterr()
    assert "exists; pass --force" in captured.err and captured.out == ""
    assert existing.read_text() == "mine"


def test_empty_inputs_file_and_py_without_factory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "e.npy"
    empty.write_bytes(b"")
    assert main(["profile", "seed-cnn", "--inputs", str(empty), "--iterations", "2"]) == 2
    assert "is not a .npy or .npz file" in capsys.readouterr().err
    script = tmp_path / "net.py"
    script.write_text("def build():\n    pass\n")
    assert main(["count", str(script)]) == 2
    assert (
        f"name the function that builds the model, e.g. {script}:build" in capsys.readouterr().err
    )
