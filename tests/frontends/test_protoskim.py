"""Reading large ONNX files without their weight payloads gives the same graph and counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import modelprof
from modelprof.errors import ModelLoadError
from modelprof.frontends import onnx as onnx_frontend
from modelprof.frontends.protoskim import KEEP_BYTES, skim
from modelprof.render.jsondoc import count_document


def _model(path: Path) -> Path:
    big = numpy_helper.from_array(np.ones((64, 128), np.float32), "W")  # 32 KiB: skimmed
    shape = numpy_helper.from_array(np.array([4, 2, 128], np.int64), "shape")  # kept
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["h"], name="fc"),
            helper.make_node("Reshape", ["h", "shape"], ["y"], name="reshape"),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [big, shape],
    )
    onnx.save_model(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path)
    )
    return path


def test_skim_drops_only_large_payloads(tmp_path: Path) -> None:
    path = _model(tmp_path / "m.onnx")
    full = onnx.load(str(path))
    skimmed = onnx.ModelProto()
    skimmed.ParseFromString(skim(memoryview(path.read_bytes())))
    assert [n.name for n in skimmed.graph.node] == [n.name for n in full.graph.node]
    weight, shape = skimmed.graph.initializer
    assert (weight.name, list(weight.dims), weight.raw_data) == ("W", [64, 128], b"")
    assert full.graph.initializer[0].ByteSize() > KEEP_BYTES
    assert numpy_helper.to_array(shape).tolist() == [4, 2, 128]
    assert skimmed.opset_import == full.opset_import


def test_counting_a_skimmed_file_gives_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _model(tmp_path / "m.onnx")
    plain = count_document(modelprof.count(path))
    monkeypatch.setattr(onnx_frontend, "SKIM_ABOVE_BYTES", 0)
    skimmed = count_document(modelprof.count(path))
    assert skimmed == plain
    # 8 x 64 x 128 = 65,536 MACs; the Reshape target was kept, so its output shape is known
    assert skimmed["total"]["macs"] == 65_536
    assert skimmed["layers"][1]["output_shapes"] == [[4, 2, 128]]


def test_truncated_large_file_is_a_clean_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _model(tmp_path / "m.onnx")
    path.write_bytes(path.read_bytes()[:-1000])
    monkeypatch.setattr(onnx_frontend, "SKIM_ABOVE_BYTES", 0)
    with pytest.raises(ModelLoadError, match="not a readable ONNX model"):
        modelprof.count(path)


def test_forked_shape_inference_gives_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelprof.frontends import forked

    path = _model(tmp_path / "m.onnx")
    monkeypatch.setattr(forked, "MIN_NODES", 10**9)
    sequential = count_document(modelprof.count(path))
    monkeypatch.setattr(forked, "MIN_NODES", 0)
    monkeypatch.setattr(forked, "worthwhile", lambda model: True)
    assert count_document(modelprof.count(path)) == sequential


def test_forked_shape_inference_failure_is_a_clean_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelprof.frontends import forked

    path = _model(tmp_path / "m.onnx")

    def broken(model: object, data_prop: bool = False, strict_mode: bool = False) -> None:
        raise RuntimeError("[ShapeInferenceError] boom in the child")

    # the forked child inherits the patched function, fails, and reports back
    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", broken)
    monkeypatch.setattr(forked, "worthwhile", lambda model: True)
    with pytest.raises(ModelLoadError, match=r"shape inference failed: .*boom in the child"):
        modelprof.count(path)
