"""``modelprof separable --profile`` and ``modelprof pooling`` as the tables a user reads.

Hand-worked figures:

* seed-cnn's conv1 (1 -> 10, 3x3, 26 x 26 out) 60,840 MACs against depthwise 6,084 + pointwise
  6,760 = 12,844: 4.74x; conv2 (10 -> 5, 11 x 11 out) 54,450 against 10,890 + 6,050 = 16,940:
  3.21x; the model 194,010 -> 108,504 MACs: 1.79x.
* a Conv 3 -> 4 (3x3) on 3 x 7 leaves a 4 x 1 x 5 map, flattened into a Gemm 20 -> 2: 40
  params, 40 MACs. A 2x2 pool does not fit a map 1 high; a global pool leaves 4 inputs: 8
  params, 8 MACs, 32 saved (5.0x), for 20 FLOPs of pooling (one add per input element).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelprof.cli.main import main

pytest.importorskip("onnxruntime")


def _table(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    out_file = tmp_path / "report.txt"
    code = main([*args, "-o", str(out_file)])
    _, err = capsys.readouterr()
    assert code == 0, err
    return out_file.read_text(encoding="utf-8")


def _tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Each rich table in ``text``: its header cells and its body rows' cells."""
    tables: list[tuple[list[str], list[list[str]]]] = []
    for line in text.splitlines():
        if line.startswith("┃"):
            tables.append(([c.strip() for c in line.strip("┃").split("┃")], []))
        elif line.startswith("│") and tables:
            tables[-1][1].append([c.strip() for c in line.strip("│").split("│")])
    return tables


def test_profiled_separable_shows_the_measured_layers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["separable", "seed-cnn", "--runtime", "onnxruntime", "--time", "0.05"]
    text = _table([*args, "--rounds", "2", "--threads", "1"], tmp_path, capsys)
    (what_if_header, what_if), (timing_header, timing) = _tables(text)
    assert what_if_header[0] == "layer" and [r[0] for r in what_if][:2] == ["conv1", "conv2"]
    assert "model MACs 194,010 -> 108,504 (1.79x fewer)" in text
    assert "measured on onnxruntime " in text and "MAC ratio 1.79x)" in text
    assert timing_header == [
        "layer",
        "MAC ratio",
        "time before",
        "time after",
        "speed-up",
        "depthwise share",
        "dw GFLOP/s",
        "pw GFLOP/s",
    ]
    assert [(r[0], r[1]) for r in timing] == [("conv1", "4.74x"), ("conv2", "3.21x")]
    assert all(r[2].endswith("us") and r[3].endswith("us") for r in timing)
    assert "depthwise convolutions do little arithmetic per byte moved" in text


def test_pooling_table_says_which_pool_does_not_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
            helper.make_node("Flatten", ["c"], ["f"], name="flat"),
            helper.make_node("Gemm", ["f", "fw"], ["y"], name="fc", transB=1),
        ],
        "strip",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 3, 7])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [
            numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w"),
            numpy_helper.from_array(np.ones((2, 20), np.float32), "fw"),
        ],
    )
    model = tmp_path / "strip.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(model))
    text = _table(["pooling", str(model)], tmp_path, capsys)
    ((header, rows),) = _tables(text)
    assert header[:6] == ["dense layer", "flattened map", "inputs", "params", "MACs", "pool"]
    assert rows == [["fc", "4x1x5", "20", "40", "40", "global", "4", "8", "8", "32 (5.0x)", "20"]]
    assert "note: fc: no 2x2 pool: the map is 1x5, smaller than the pool" in text
