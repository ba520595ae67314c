"""`prune` when nothing is pruned (an amount that rounds to nothing, every layer left alone):
it says so and why, on stderr and in the document, and writes, measures and fine-tunes
nothing, since the "pruned" model is the original."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelprof.cli.main import main

#: a factory whose only layer with channels is the classifier (left alone by default)
CLASSIFIER_ONLY = """
import torch


def build():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8, 4))
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def document(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[dict[str, Any], str]:
    code, out, err = run(capsys, *args, "--format", "json")
    assert code == 0
    return json.loads(out), err


def test_heads_that_round_to_none_save_and_measure_nothing(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    why = "nothing was pruned: --heads 0.05 of 8 heads is 0.4, which rounds to no head"
    undone = "nothing was pruned, so tr.onnx was not written and nothing was measured"
    code, out, err = run(
        capsys, "prune", "transformer", "--heads", "0.05", "--save", "tr.onnx", "--profile"
    )
    assert code == 0
    assert err == f"modelprof: {why}\nmodelprof: {undone}\n"
    assert "self_attn: 8 -> 8 attention heads" in out and f"note: {undone}" in out
    assert "latency" not in out
    assert not (folder / "tr.onnx").exists()


def test_unstructured_amount_that_zeroes_no_weight(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc, err = document(
        capsys, "prune", "seed-cnn", "--unstructured", "--amount", "1e-6", "--runtime", "ort"
    )
    assert err == "modelprof: nothing was pruned, so nothing was measured\n"
    assert doc["notes"][-2:] == [
        "nothing was pruned: --amount 1e-06 of 79,260 prunable weights rounds to no weight",
        "nothing was pruned, so nothing was measured",
    ]
    assert doc["after"]["nonzero_params"] == doc["before"]["nonzero_params"] == 79_260
    assert "profile" not in doc["after"]
    doc, _ = document(
        capsys, "prune", "seed-cnn", "--unstructured", "--amount", "1e-6", "--per-layer"
    )
    assert doc["notes"][-1] == (
        "nothing was pruned: --amount 1e-06 of each layer's weights (the largest has 77,440) "
        "rounds to no weight"
    )


def test_unstructured_onnx_file_is_not_saved_when_nothing_is_zeroed(
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    linear_onnx: Callable[[Path, int, int], Path],
) -> None:
    linear_onnx(folder / "dense.onnx", 8, 4)  # 32 weights: 1 % of them rounds to none
    code, _, err = run(
        capsys, "prune", "dense.onnx", "--unstructured", "--amount", "0.01", "--save", "out.onnx"
    )
    assert code == 0
    assert err == (
        "modelprof: nothing was pruned: --amount 0.01 of 32 prunable weights rounds to no weight\n"
        "modelprof: nothing was pruned, so out.onnx was not written\n"
    )
    assert not (folder / "out.onnx").exists()


def test_every_layer_ignored_fine_tunes_nothing(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc, err = document(
        capsys, "prune", "seed-cnn", "--ignore", "conv1,conv2,fc1,fc2", "--finetune", "digits"
    )
    assert err == "modelprof: nothing was pruned, so nothing was fine-tuned\n"
    assert doc["notes"] == [
        "nothing was pruned: --ignore leaves alone every layer with channels",
        "nothing was pruned, so nothing was fine-tuned",
    ]
    # the original's accuracy is measured; there is no fine-tuned one
    assert doc["before"]["accuracy"] > 0.9
    assert "accuracy" not in doc["after"] and "accuracy_pruned" not in doc


def test_a_model_whose_only_layer_is_the_classifier(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "net.py").write_text(CLASSIFIER_ONLY)
    code, out, err = run(capsys, "prune", "net.py:build", "--input-shape", "input=1x8")
    why = (
        "nothing was pruned: the only layer with channels, 1, is the classifier, which is left "
        "alone unless --ignore names other layers"
    )
    assert (code, err) == (0, f"modelprof: {why}\n")
    # no word of what a channel ratio would have done to MACs: it did nothing
    assert "(1-p)^2" not in out


def test_pruning_that_removes_channels_says_nothing_of_the_kind(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc, err = document(capsys, "prune", "seed-cnn", "--amount", "0.5", "--save", "p.onnx")
    assert err == "modelprof: wrote p.onnx\n"
    assert not any("nothing was pruned" in note for note in doc["notes"])
    assert doc["after"]["total"]["macs"] < doc["before"]["total"]["macs"]
