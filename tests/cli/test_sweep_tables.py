"""``count --sweep`` and ``count --symbolic`` as the tables a user reads (the default format).

Hand-worked figures:

* seed-cnn, per sample: MACs 194,010, FLOPs 394,780, params 79,260, weight bytes 317,040 (f32),
  peak activation memory 33,800 bytes (as in tests/test_sweep_symbolic.py); at batch 2 the
  per-sample figures double, params and weight bytes stay.
* a MatMul 4 -> 3 on an f16 input (N, 4), then a custom-domain op ONNX cannot infer: MACs
  4 x 3 = 12 per row, FLOPs 24 per row, 12 params in 24 bytes; peak activation memory the f16
  input and MatMul output, (4 + 3) x 2 = 14 bytes per row. The custom op is not counted: one
  node of two, node coverage 50.0 %.
* a Conv 3 -> 8, 3x3, stride 2, pad 1 on S x S: its output side is floor((S - 1) / 2) + 1, S / 2
  for even S and (S + 1) / 2 for odd, so MACs = 8 x 27 x side^2 = 54 S^2 (even) and
  54 (S + 1)^2 = 54 S^2 + 108 S + 54 (odd). At S = 8: 54 x 64 = 3,456; at S = 9: 216 x 25 = 5,400.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelprof.cli.main import main


def _rows(text: str) -> list[list[str]]:
    """The body rows of the rich tables in ``text``, as their cells."""
    return [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in text.splitlines()
        if line.startswith("│")
    ]


def _table(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The table written with -o (drawn whole, whatever the terminal's width)."""
    out_file = tmp_path / "report.txt"
    out_file.unlink(missing_ok=True)
    code = main([*args, "-o", str(out_file)])
    _, err = capsys.readouterr()
    assert code == 0, err
    return out_file.read_text(encoding="utf-8")


@pytest.fixture()
def half_with_custom_op(tmp_path: Path) -> Path:
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"),
            helper.make_node("Mystery", ["h"], ["y"], name="odd", domain="example.custom"),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)],
        [numpy_helper.from_array(np.ones((4, 3), np.float16), "w")],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("example.custom", 1)]
    path = tmp_path / "odd.onnx"
    onnx.save(helper.make_model(graph, opset_imports=opsets), str(path))
    return path


def test_sweep_over_whole_shapes_with_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _table(
        ["count", "seed-cnn", "--sweep", "input=1x1x28x28,2x1x28x28", "--training"],
        tmp_path,
        capsys,
    )
    assert "seed-cnn  (pytorch; sweep over input (whole shape))" in text
    header = next(line for line in text.splitlines() if line.startswith("┃"))
    assert [c.strip() for c in header.strip("┃").split("┃")] == [
        "input",
        "inputs",
        "params",
        "MACs",
        "FLOPs",
        "training FLOPs",
        "weight bytes",
        "peak activation bytes",
    ]
    rows = _rows(text)
    assert [r[:5] for r in rows] == [
        ["1x1x28x28", "input 1x1x28x28", "79,260", "194,010", "394,780"],
        ["2x1x28x28", "input 2x1x28x28", "79,260", "388,020", "789,560"],
    ]
    assert [r[6:] for r in rows] == [["317,040", "33,800"], ["317,040", "67,600"]]
    # every point fully counted, no note: nothing below the table
    assert text.rstrip().splitlines()[-1].startswith("└")


def test_sweep_says_which_points_were_not_fully_counted(
    half_with_custom_op: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _table(["count", str(half_with_custom_op), "--sweep", "N=1,3"], tmp_path, capsys)
    assert _rows(text) == [
        ["1", "x 1x4", "12", "12", "24", "24", "14"],
        ["3", "x 3x4", "12", "36", "72", "24", "42"],
    ]
    assert "2 point(s) with nodes not counted (node coverage as low as 50.0%)" in text
    assert "note: 1 node(s) have no known output shape" in text
    assert "'odd' (Mystery)" in text


@pytest.fixture()
def strided_conv(tmp_path: Path) -> Path:
    weight = numpy_helper.from_array(np.ones((8, 3, 3, 3), np.float32), "w")
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", strides=[2, 2], pads=[1] * 4)
    graph = helper.make_graph(
        [conv],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "S", "S"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [weight],
    )
    path = tmp_path / "strided.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_symbolic_table_shows_one_polynomial_per_residue_class(
    strided_conv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _table(
        ["count", str(strided_conv), "--symbolic", "S", "--input-shape", "x=1x3x8x8"],
        tmp_path,
        capsys,
    )
    rows = _rows(text)
    macs = rows.index(["MACs", "S mod 2 = 0:  54 S^2"])
    assert rows[macs + 1] == ["", "S mod 2 = 1:  54 S^2 + 108 S + 54"]
    assert ["params", "216"] in rows  # 8 x 3 x 3 x 3
    points = {r[0]: r[2] for r in rows if len(r) == 6 and r[0].isdigit()}
    assert (points["8"], points["9"]) == ("3,456", "5,400")
    assert "'S mod m = r' rows: floor terms of strided convolutions and pools" in text


def test_symbolic_csv_and_markdown(
    strided_conv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["count", str(strided_conv), "--symbolic", "S=s", "--input-shape", "x=1x3x8x8"]
    csv_text = _table([*args, "--format", "csv"], tmp_path, capsys)
    lines = csv_text.splitlines()
    assert lines[0] == "total,kind,formula,variable"
    assert "params,polynomial,216,s" in lines
    assert "macs,piecewise,54 s^2 if s mod 2 = 0; 54 s^2 + 108 s + 54 if s mod 2 = 1,s" in lines
    md = _table([*args, "--format", "md"], tmp_path, capsys)
    assert md.startswith("# strided.onnx: totals as functions of s = x[2], x[3]\n")
    assert "| MACs | 54 s^2 if s mod 2 = 0; 54 s^2 + 108 s + 54 if s mod 2 = 1 |" in md
    assert "| weight bytes | 864 |" in md  # 216 f32 weights
    assert md.rstrip().splitlines()[-1].startswith("Evaluated at s = 8, s = 9, ")
