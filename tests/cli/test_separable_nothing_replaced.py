"""`separable` asked to save, measure or fine-tune a rewrite when no layer is replaced: it says,
on stderr and in the document, that nothing was written, measured or fine-tuned, and why, and
its table's footer says the model's cost is unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from modelprof.cli.main import main

#: seed-separable's only eligible conv (1 -> 1, 3x3) costs more as depthwise + pointwise
NO_SAVING = "no layer would save MACs as depthwise + pointwise with m = 1"
NO_CONV = (
    "dense.onnx has no eligible convolution (group 1, kernel larger than 1x1): nothing to replace"
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("measure", [["--profile"], ["--runtime", "onnxruntime"]])
def test_profile_says_nothing_was_measured_and_why(
    measure: list[str], folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "separable", "seed-separable", *measure)
    assert code == 0
    assert err == f"modelprof: {NO_SAVING}\nmodelprof: nothing to rewrite: nothing was measured\n"
    assert "measured on" not in out  # no timing table


def test_json_document_notes_that_nothing_was_measured(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "separable", "seed-separable", "--runtime", "ort", "--format", "json"
    )
    assert (code, err) == (0, "modelprof: nothing to rewrite: nothing was measured\n")
    doc = json.loads(out)
    assert doc["notes"] == [NO_SAVING, "nothing to rewrite: nothing was measured"]
    assert "before" not in doc and "layer_timings" not in doc


def test_finetune_says_nothing_was_fine_tuned(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "separable", "seed-separable", "--finetune", "digits", "--format", "json"
    )
    assert (code, err) == (0, "modelprof: nothing to rewrite: nothing was fine-tuned\n")
    doc = json.loads(out)
    assert "accuracy" not in doc
    assert doc["notes"][-1] == "nothing to rewrite: nothing was fine-tuned"


def test_save_profile_and_finetune_together_make_one_line(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys,
        "separable",
        "seed-separable",
        "--save",
        "sep.onnx",
        "--profile",
        "--finetune",
        "digits",
        "--format",
        "json",
    )
    assert code == 0
    assert err == (
        "modelprof: nothing to rewrite: sep.onnx was not written and nothing was measured or "
        "fine-tuned\n"
    )
    assert not (folder / "sep.onnx").exists()


def test_min_saving_above_every_layer_says_so(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "separable", "seed-cnn", "--min-saving", "100", "--profile")
    assert code == 0
    assert err == (
        "modelprof: no layer would save at least 100x MACs as depthwise + pointwise with m = 1 "
        "(--min-saving)\nmodelprof: nothing to rewrite: nothing was measured\n"
    )


def test_no_eligible_convolution_with_profile(
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    linear_onnx: Callable[[Path, int, int], Path],
) -> None:
    linear_onnx(folder / "dense.onnx", 8, 4)
    code, out, err = run(capsys, "separable", "dense.onnx", "--runtime", "onnxruntime")
    assert (code, out) == (0, "")
    assert err == f"modelprof: {NO_CONV}\nmodelprof: nothing to rewrite: nothing was measured\n"
    # quiet: nothing at all
    assert run(capsys, "separable", "dense.onnx", "--profile", "-q") == (0, "", "")


def test_footer_says_the_cost_is_unchanged(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "separable", "seed-separable", "-o", "report.txt", "-q")[0] == 0
    text = (folder / "report.txt").read_text()
    assert "model MACs 463,404, unchanged  FLOPs 926,808, unchanged" in text
    assert "fewer" not in text


def test_footer_says_more_when_the_rewrite_costs_more(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # conv1 (1 -> 10, 3x3) with m = 9 is exact and costs 115,596 MACs instead of 60,840
    code, _, _ = run(
        capsys, "separable", "seed-cnn", "-m", "9", "--layers", "conv1", "-o", "r.txt", "-q"
    )
    assert code == 0
    text = (folder / "r.txt").read_text()
    assert "model MACs 194,010 -> 248,766 (1.28x more)  FLOPs 394,780 -> 504,292" in text
