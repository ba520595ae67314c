"""``--save``: an OpenVINO IR written from the rewritten ONNX counts like it, and a file already
there is never replaced without ``--force``.

The model: MatMul 2 x 4 by a 4 -> 3 weight: 2 x 4 x 3 = 24 MACs, 12 params.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import modelprof
from modelprof.errors import ModelprofError
from modelprof.rewrite.save import check_target, save_model

pytest.importorskip("openvino")


@pytest.fixture()
def fc_onnx(tmp_path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")],
        "fc",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        [numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "w")],
    )
    path = tmp_path / "fc.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_saved_ir_counts_like_its_onnx_and_is_kept_without_force(
    fc_onnx: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "model.xml"
    out.parent.mkdir()
    assert check_target(out, force=False, pytorch=False) == out
    assert save_model(out, onnx_path=fc_onnx) == out
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.bin", "model.xml"]
    report = modelprof.count(out)
    assert (report.source, report.total.macs, report.total.params) == ("openvino", 24, 12)
    assert report.total.weight_bytes == 48  # kept in f32

    bin_before = out.with_suffix(".bin").read_bytes()
    with pytest.raises(ModelprofError, match=r"model\.xml exists; pass --force to replace it"):
        check_target(out, force=False, pytorch=False)
    with pytest.raises(ModelprofError, match=r"model\.bin exists; pass --force to replace it"):
        save_model(out, onnx_path=fc_onnx)
    assert out.with_suffix(".bin").read_bytes() == bin_before
    # nothing half-written is left behind
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.bin", "model.xml"]
    save_model(out, onnx_path=fc_onnx, force=True)
    assert modelprof.count(out).total.macs == 24


def test_targets_refused_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "folder.onnx").mkdir()
    with pytest.raises(ModelprofError, match=r"^--save .*folder\.onnx: is a directory$"):
        check_target(tmp_path / "folder.onnx", force=True, pytorch=False)
    with pytest.raises(ModelprofError, match=r"^--save \.pt needs a PyTorch model"):
        check_target(tmp_path / "m.pt", force=False, pytorch=False)
    with pytest.raises(ModelprofError, match=r"use a \.onnx, \.xml or \.pt file name$"):
        check_target(tmp_path / "m.tflite", force=False, pytorch=True)
    with pytest.raises(ModelprofError, match=r"folder .*missing does not exist$"):
        check_target(tmp_path / "missing" / "m.onnx", force=False, pytorch=False)
