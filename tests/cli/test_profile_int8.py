"""``modelprof profile`` of a quantized IR, as a user runs it: the int8 diagnosis table in the
terminal and the ``int8`` object in the JSON document; a float model's output has neither.

The IR is built by hand with OpenVINO's opset: a FakeQuantize'd conv1 (int8 data and weights)
followed by conv2 fed a float tensor, so which layer stays in float, and why, is known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelprof.cli.main import main

ov = pytest.importorskip("openvino")
ops = pytest.importorskip("openvino.opset13")

FAST = ["--runtime", "openvino", "--iterations", "3", "--warmup", "1", "--threads", "1"]
#: conv2 (left in float): 4 output channels x 8x8 x (4 x 3x3) = 9,216 MACs
CONV2 = 4 * 8 * 8 * 4 * 9


def _const(value: object) -> object:
    return ops.constant(np.array(value, np.float32))


def _fq(node: object, low: float, high: float, levels: int) -> object:
    return ops.fake_quantize(node, _const(low), _const(high), _const(low), _const(high), levels)


def _ir(folder: Path, *, quantized: bool) -> Path:
    rng = np.random.default_rng(0)
    x = ops.parameter([1, 3, 8, 8], np.float32, name="x")
    w1 = ops.constant(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    data, weights = (_fq(x, 0.0, 2.55, 256), _fq(w1, -1.27, 1.27, 255)) if quantized else (x, w1)
    c1 = ops.convolution(data, weights, [1, 1], [1, 1], [1, 1], [1, 1], name="conv1")
    w2 = ops.constant(rng.standard_normal((4, 4, 3, 3)).astype(np.float32))
    c2 = ops.convolution(ops.relu(c1), w2, [1, 1], [1, 1], [1, 1], [1, 1], name="conv2")
    path = folder / ("int8.xml" if quantized else "f32.xml")
    ov.save_model(ov.Model([c2], [x], path.stem), str(path), compress_to_fp16=False)
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(["profile", *args, *FAST, "-q"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_the_table_shows_the_int8_diagnosis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    model = _ir(tmp_path, quantized=True)
    before = model.read_bytes()
    out = _run(capsys, str(model))
    assert "int8 diagnosis: compute layers left in float, and conversion layers" in out
    # the layer left in float, in the diagnosis table: its precision and the reason
    (conv2,) = [line for line in out.splitlines() if "input carries no quantizer" in line]
    assert conv2.startswith("│ conv2 ") and "│ f32 " in conv2
    # one of the two convolutions, 6,912 of 16,128 MACs, runs in i8/u8
    assert "convolutions executing in i8/u8: 50.0%" in out
    assert "MACs executing in i8/u8: 42.9%" in out
    assert model.read_bytes() == before


def test_the_json_document_carries_the_int8_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(_run(capsys, str(_ir(tmp_path, quantized=True)), "--format", "json"))
    int8 = doc["int8"]
    assert int8["left_in_float"] == [
        {
            "name": "conv2",
            "op": "Conv",
            "precision": "f32",
            "macs": CONV2,
            "reason": "its input carries no quantizer (NNCF's patterns leave it in float)",
        }
    ]
    assert int8["conv_int8_share"] == 0.5
    layers = {layer["name"]: layer for layer in int8["layers"]}
    # each layer's execution precision, as in the profile's own rows
    rows = {row["name"]: row["precision"] for row in doc["layers"] if not row["folded_into"]}
    assert {name: layer["precision"] for name, layer in layers.items()} == rows
    assert layers["conv1"]["precision"] in ("u8", "i8")
    assert all(layer["f32_time_us"] is None and not layer["slower"] for layer in layers.values())


def test_a_float_model_prints_no_int8_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _ir(tmp_path, quantized=False)
    assert "int8" not in _run(capsys, str(model))
    assert "int8" not in json.loads(_run(capsys, str(model), "--format", "json"))


def test_the_html_page_has_an_int8_section_for_a_quantized_model_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "int8.html"
    _run(capsys, str(_ir(tmp_path, quantized=True)), "--html", str(page))
    html = page.read_text()
    assert '<section id="int8">' in html
    assert "<td>conv2</td><td>Conv</td><td>f32</td>" in html and "no quantizer" in html
    flat = tmp_path / "f32.html"
    _run(capsys, str(_ir(tmp_path, quantized=False)), "--html", str(flat))
    assert 'id="int8"' not in flat.read_text()
