"""``modelprof count`` tables: which rows a long model shows, and the columns of a roll-up.

Hand-worked figures:

* a chain of 61 Muls by a scalar on a 1 x 8 input (8 FLOPs each, 488) then a MatMul 8 -> 8
  (64 MACs, 128 FLOPs): 62 layers, FLOPs 488 + 128 = 616; the MatMul is 128 / 616 = 20.8 %.
* seed-cnn training FLOPs per layer (tests/test_training_flops.py): conv1 243,360 + conv2
  326,700 = 570,060 for the Convs; fc1 464,640 + fc2 7,680 = 472,320 for the Gemms; the pool
  13,520.
* MatMulInteger of a 2 x 4 uint8 input by a 4 x 3 uint8 weight: 2 x 4 x 3 = 24 int MACs, no
  float MACs; the Relu after its Cast one FLOP per output, 6.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelprof.cli.main import main


def _rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in text.splitlines()
        if line.startswith("│")
    ]


def _header(text: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith("┃"))
    return [cell.strip() for cell in line.strip("┃").split("┃")]


def _table(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    out_file = tmp_path / "report.txt"
    out_file.unlink(missing_ok=True)
    code = main([*args, "-o", str(out_file)])
    _, err = capsys.readouterr()
    assert code == 0, err
    return out_file.read_text(encoding="utf-8")


def _save(path: Path, nodes: list, inputs: list, outputs: list, inits: list) -> Path:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.fixture()
def long_chain(tmp_path: Path) -> Path:
    nodes, inits, prev = [], [], "x"
    for i in range(61):
        inits.append(numpy_helper.from_array(np.full((1,), 2.0, np.float32), f"c{i}"))
        nodes.append(helper.make_node("Mul", [prev, f"c{i}"], [f"t{i}"], name=f"mul{i:02d}"))
        prev = f"t{i}"
    nodes.append(helper.make_node("MatMul", [prev, "w"], ["y"], name="fc"))
    inits.append(numpy_helper.from_array(np.ones((8, 8), np.float32), "w"))
    return _save(
        tmp_path / "chain.onnx",
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        inits,
    )


def test_a_long_model_sorted_by_macs_shows_the_costliest_25(
    long_chain: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _table(["count", str(long_chain), "--sort", "macs"], tmp_path, capsys)
    rows = _rows(text)
    assert rows[0][:6] == ["fc", "MatMul", "1x8", "64", "64", "128"]
    assert rows[0][6] == "20.8%"
    # then 24 of the zero-MAC Muls: 25 rows and the total
    assert len(rows) == 26 and all(r[1] == "Mul" for r in rows[1:25])
    assert rows[25][0] == "total" and rows[25][5] == "616"
    assert "25 of 62 layers shown, by macs; --top 0 shows all" in text


def test_sorted_by_name(
    long_chain: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _table(["count", str(long_chain), "--sort", "name", "--top", "3"], tmp_path, capsys)
    assert [r[0] for r in _rows(text)] == ["fc", "mul00", "mul01", "total"]
    assert "3 of 62 layers shown, by name" in text


def test_roll_up_by_op_with_training_flops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _table(["count", "seed-cnn", "--by-op", "--training"], tmp_path, capsys)
    assert _header(text) == [
        "op",
        "layers",
        "params",
        "MACs",
        "FLOPs",
        "train FLOPs",
        "FLOPs %",
    ]
    train = {r[0]: r[5] for r in _rows(text)}
    assert (train["Conv"], train["Gemm"], train["AveragePool"]) == ("570,060", "472,320", "13,520")


def test_roll_up_by_op_with_int_macs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _save(
        tmp_path / "qfc.onnx",
        [
            helper.make_node("MatMulInteger", ["x", "w"], ["y"], name="qfc"),
            helper.make_node("Cast", ["y"], ["z"], name="cast", to=TensorProto.FLOAT),
            helper.make_node("Relu", ["z"], ["r"], name="relu"),
        ],
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [2, 4])],
        [helper.make_tensor_value_info("r", TensorProto.FLOAT, [2, 3])],
        [numpy_helper.from_array(np.ones((4, 3), np.uint8), "w")],
    )
    text = _table(["count", str(model), "--by-op"], tmp_path, capsys)
    assert _header(text) == ["op", "layers", "params", "MACs", "int MACs", "FLOPs", "FLOPs %"]
    rows = {r[0]: r[1:6] for r in _rows(text)}
    assert rows["MatMulInteger"] == ["1", "12", "0", "24", "0"]
    assert rows["Relu"] == ["1", "0", "0", "0", "6"]
    assert rows["total"] == ["3", "12", "0", "24", "6"]
