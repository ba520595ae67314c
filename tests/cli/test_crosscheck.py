"""`modelprof crosscheck`: every route agrees on MACs, and differences are explained."""

from __future__ import annotations

import json

import pytest

from modelprof.cli.main import main


def test_resnet18_routes_agree_on_macs_and_explain_batchnorm_folding(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["crosscheck", "resnet18", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    routes = {r["route"]: r for r in doc["routes"]}
    assert set(routes) == {"pytorch", "onnx", "openvino", "ir", "ir-f16"}
    assert doc["macs_agree"] is True
    assert {r["macs"] for r in routes.values()} == {1_814_073_344}
    # 20 BatchNorms, 4,800 channels: every exported route has exactly 4,800 fewer params
    for name in ("onnx", "openvino", "ir", "ir-f16"):
        assert routes["pytorch"]["params"] - routes[name]["params"] == 4_800
    # f16 compression halves the stored weight bytes
    assert routes["ir-f16"]["weight_bytes"] * 2 == routes["ir"]["weight_bytes"]
    onnx_diffs = [d for d in doc["differences"] if d["route"] == "onnx"]
    folded = [d for d in onnx_diffs if d["reason"].startswith("BatchNorm folded")]
    assert len(folded) == 20 and sum(d["params"] for d in folded) == -9_600  # gamma + beta
    gained = [d for d in onnx_diffs if d["reason"].startswith("convolution gained")]
    assert sum(d["params"] for d in gained) == 4_800  # one bias value per channel
    assert sum(d["params"] for d in onnx_diffs) == -4_800  # every difference is explained


def test_seed_cnn_needs_no_explanation_beyond_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crosscheck", "seed-cnn", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {r["params"] for r in doc["routes"]} == {79_260}
    assert {r["flops"] for r in doc["routes"]} == {394_780}
    assert all("totals agree" in d["reason"] for d in doc["differences"])
