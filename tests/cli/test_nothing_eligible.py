"""`separable` and `pooling` on a model with nothing to rewrite: a script asking for JSON still
gets a document (empty `layers`, and a note that says why); a terminal gets one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from modelprof.cli.main import main

NO_CONV = (
    "dense.onnx has no eligible convolution (group 1, kernel larger than 1x1): nothing to replace"
)
NO_MAP = "dense.onnx has no dense layer fed by a flattened spatial map"


@pytest.fixture
def dense(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    linear_onnx: Callable[[Path, int, int], Path],
) -> Path:
    """One MatMul (8 -> 4: 32 MACs) on a flat input: no convolution, no spatial map."""
    monkeypatch.chdir(tmp_path)
    return linear_onnx(tmp_path / "dense.onnx", 8, 4)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_separable_json_lists_nothing_and_says_why(
    dense: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "separable", "dense.onnx", "--format", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["schema_version"], doc["kind"], doc["model"]) == (1, "separable", "dense.onnx")
    assert doc["layers"] == [] and doc["notes"] == [NO_CONV]
    assert doc["total"] == {"macs": 0, "separable_macs": 0, "params": 0, "separable_params": 0}
    assert doc["model_macs_before"] == doc["model_macs_after"] == 32


def test_pooling_json_lists_nothing_and_says_why(
    dense: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "pooling", "dense.onnx", "--format", "json", "-o", "-")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["schema_version"], doc["kind"], doc["model"]) == (1, "pooling", "dense.onnx")
    assert doc["layers"] == [] and doc["notes"] == [NO_MAP]


def test_pooling_json_has_notes_when_there_are_layers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "pooling", "seed-cnn", "--format", "json")
    doc = json.loads(out)
    assert (
        code == 0 and doc["notes"] == [] and [layer["name"] for layer in doc["layers"]] == ["fc1"]
    )


@pytest.mark.parametrize(("command", "why"), [("separable", NO_CONV), ("pooling", NO_MAP)])
def test_a_terminal_gets_one_line_on_stderr(
    command: str, why: str, dense: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, command, "dense.onnx") == (0, "", f"modelprof: {why}\n")
    assert run(capsys, command, "dense.onnx", "-q") == (0, "", "")


def test_separable_says_the_model_was_not_saved(
    dense: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "separable", "dense.onnx", "--save", "sep.onnx")
    assert (code, out) == (0, "")
    assert err == f"modelprof: {NO_CONV}\nmodelprof: nothing to rewrite: sep.onnx was not written\n"
    assert not (dense.parent / "sep.onnx").exists()


@pytest.mark.parametrize(("command", "why"), [("separable", NO_CONV), ("pooling", NO_MAP)])
def test_a_report_file_is_written_with_the_reason(
    command: str, why: str, dense: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, command, "dense.onnx", "-o", "report.txt")
    assert (code, out) == (0, "")
    assert err == f"modelprof: {why}\nmodelprof: wrote report.txt\n"
    assert f"note: {why}" in " ".join((dense.parent / "report.txt").read_text().split())
