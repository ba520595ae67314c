"""Cross-checking an ONNX model, and the reason given for each kind of per-scope difference.

Hand-worked figures:

* Gemm 2 x 4 by a 4 -> 3 weight with a bias, then Relu: MACs 2 x 4 x 3 = 24, FLOPs 2 x 24 + 6
  (Relu, one per output; bias adds not counted) = 54; params 12 + 3 = 15, 60 bytes in f32 and 30
  in the FP16-compressed IR.
* MatMul 2 x 4 by 4 -> 3: 24 MACs, 12 params; by 4 -> 5: 40 MACs, 20 params.
* Conv 3 -> 4, 3x3, no bias, on 1 x 3 x 8 x 8: 4 x 6 x 6 outputs x 27 = 3,888 MACs, 108 params;
  with a bias 112.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import modelprof
from modelprof.cli.main import main
from modelprof.crosscheck import ScopeDifference, explain

pytest.importorskip("openvino")

RNG = np.random.default_rng(0)


def _weight(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(np.float32), name)


def _save(path: Path, nodes: list[Any], x: list[int], inits: list[Any], **opsets: int) -> Path:
    graph = helper.make_graph(
        nodes,
        path.stem,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x)],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)],
        inits,
    )
    imports = [helper.make_opsetid("", 17)] + [helper.make_opsetid(d, v) for d, v in opsets.items()]
    onnx.save(helper.make_model(graph, opset_imports=imports), str(path))
    return path


def _fc(path: Path, scope: str, outputs: int, *, bias: bool = False) -> Path:
    """x (2, 4) -> MatMul named '/scope/MatMul' [-> '/scope/Add' of a bias]."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name=f"/{scope}/MatMul")]
    inits = [_weight("w", 4, outputs)]
    if bias:
        nodes.append(helper.make_node("Add", ["h", "b"], ["y"], name=f"/{scope}/Add"))
        inits.append(_weight("b", outputs))
    return _save(path, nodes, [2, 4], inits)


def _reasons(diffs: list[ScopeDifference]) -> dict[str, tuple[int, int, str]]:
    return {d.scope: (d.params, d.macs, d.reason) for d in diffs}


def test_an_onnx_model_against_its_two_irs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _save(
        tmp_path / "gemm.onnx",
        [
            helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="/fc/Gemm", transB=1),
            helper.make_node("Relu", ["y"], ["r"], name="/act/Relu"),
        ],
        [2, 4],
        [_weight("w", 3, 4), _weight("b", 3)],
    )
    before = model.read_bytes()
    assert main(["crosscheck", str(model), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    routes = {r["route"]: r for r in doc["routes"]}
    assert list(routes) == ["onnx", "ir", "ir-f16"]
    assert routes["onnx"]["description"] == "ONNX file"
    assert doc["macs_agree"] is True
    for route in routes.values():
        assert (route["params"], route["macs"], route["flops"]) == (15, 24, 54)
    assert [routes[r]["weight_bytes"] for r in routes] == [60, 60, 30]
    # whatever the IRs moved between scopes nets out per route, and is explained
    for name in ("ir", "ir-f16"):
        diffs = [d for d in doc["differences"] if d["route"] == name]
        assert sum(d["flops"] for d in diffs) == 0
        assert all(d["reason"].startswith("elementwise FLOPs differ") for d in diffs)
    assert doc["notes"] == []
    assert model.read_bytes() == before


def test_a_model_openvino_cannot_convert_keeps_its_onnx_route_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _save(
        tmp_path / "odd.onnx",
        [
            helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"),
            helper.make_node("Mystery", ["h"], ["y"], name="odd", domain="example.custom"),
        ],
        [2, 4],
        [_weight("w", 4, 3)],
        **{"example.custom": 1},
    )
    assert main(["crosscheck", str(model), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["route"] for r in doc["routes"]] == ["onnx"]
    assert doc["routes"][0]["macs"] == 24 and doc["routes"][0]["node_coverage"] == 0.5
    # the f32 and the FP16 IR fail alike: said once
    (note,) = doc["notes"]
    assert note.startswith("ov.convert_model failed: ") and "Mystery" in note


def test_an_ir_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import openvino as ov

    xml = tmp_path / "fc.xml"
    ov.save_model(ov.convert_model(str(_fc(tmp_path / "fc.onnx", "fc", 3))), str(xml))
    assert main(["crosscheck", str(xml)]) == 2
    out, err = capsys.readouterr()
    assert err == "modelprof: error: crosscheck takes a PyTorch or ONNX model, not openvino\n"
    assert out == ""


def test_changed_arithmetic_and_dropped_or_added_params(tmp_path: Path) -> None:
    three = modelprof.count(_fc(tmp_path / "a.onnx", "fc", 3))
    five = modelprof.count(_fc(tmp_path / "b.onnx", "fc", 5))
    with_bias = modelprof.count(_fc(tmp_path / "c.onnx", "fc", 3, bias=True))
    # 40 - 24 = 16 more MACs, 20 - 12 = 8 more params
    assert _reasons(explain(three, five, "other")) == {
        "fc": (8, 16, "MACs differ: the route changed this layer's arithmetic")
    }
    assert _reasons(explain(with_bias, three, "other")) == {
        "fc": (-3, 0, "params dropped (a zero or constant bias the route removed)")
    }
    assert _reasons(explain(three, with_bias, "other")) == {
        "fc": (3, 0, "params added (a bias the route split out or materialised)")
    }


def test_a_layer_counted_under_another_name(tmp_path: Path) -> None:
    fc = modelprof.count(_fc(tmp_path / "a.onnx", "fc", 3))
    dense = modelprof.count(_fc(tmp_path / "b.onnx", "dense", 3))
    renamed = (
        "the route names this layer differently (counted under another scope); the totals agree"
    )
    assert _reasons(explain(fc, dense, "other")) == {
        "dense": (12, 24, renamed),
        "fc": (-12, -24, renamed),
    }


def _conv(path: Path, conv_scope: str, *, bias: bool, batchnorm: bool) -> Path:
    """x (1, 3, 8, 8) -> Conv 3 -> 4 3x3 named '/conv_scope/Conv' [-> '/bn/BatchNormalization']."""
    inputs = ["x", "w", "b"] if bias else ["x", "w"]
    nodes = [helper.make_node("Conv", inputs, ["c"], name=f"/{conv_scope}/Conv")]
    inits = [_weight("w", 4, 3, 3, 3)] + ([_weight("b", 4)] if bias else [])
    if batchnorm:
        stats = ["gamma", "beta", "mean", "var"]
        nodes.append(
            helper.make_node("BatchNormalization", ["c", *stats], ["y"], name="/bn/BatchNorm")
        )
        inits += [numpy_helper.from_array(np.ones(4, np.float32), s) for s in stats]
    return _save(path, nodes, [1, 3, 8, 8], inits)


def test_a_conv_fused_with_its_batchnorm_and_named_after_it(tmp_path: Path) -> None:
    # the reference keeps conv and BatchNorm apart; the other route (as OpenVINO's PyTorch
    # converter does) fuses them into one biased Conv named after the BatchNorm
    reference = modelprof.count(_conv(tmp_path / "a.onnx", "conv", bias=False, batchnorm=True))
    fused = modelprof.count(_conv(tmp_path / "b.onnx", "bn", bias=True, batchnorm=False))
    assert reference.total.macs == fused.total.macs == 3_888
    assert _reasons(explain(reference, fused, "openvino")) == {
        # 108 conv weights + 4 folded bias - gamma and beta (8)
        "bn": (
            104,
            3_888,
            "conv + BatchNorm fused and named after the BatchNorm: the conv's MACs and params, "
            "plus its folded bias, minus gamma and beta",
        ),
        "conv": (
            -108,
            -3_888,
            "the conv's MACs and params moved to the fused layer named after its BatchNorm",
        ),
    }
