"""`modelprof quantize` as a user runs it: the JSON document, and every bad input one line on
stderr with exit status 2, the user's files untouched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelprof.cli.main import main


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one line a refused command writes: exit 2, nothing on stdout."""
    code, out, err = run(capsys, "quantize", *args)
    assert (code, out) == (2, ""), err
    assert err.count("\n") == 1 and err.startswith("modelprof: error: "), err
    return err


@pytest.fixture(scope="module")
def seed_json(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, Path]:
    folder = tmp_path_factory.mktemp("cli-int8")
    saved = folder / "seed_int8.xml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelprof.cli.main",
            "quantize",
            "seed-cnn",
            "--calibrate",
            "digits",
            "--subset",
            "50",
            "--save",
            str(saved),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=folder,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr, saved


def test_json_document_nests_before_and_after(seed_json: tuple[dict[str, Any], str, Path]) -> None:
    doc, err, saved = seed_json
    assert doc["kind"] == "quantize" and doc["schema_version"] == 1
    before, after = doc["before"], doc["after"]
    assert before["kind"] == after["kind"] == "count"
    assert before["accuracy"] >= 0.94
    assert abs(after["accuracy"] - before["accuracy"]) <= 0.01
    assert before["total"]["macs"] == after["total"]["macs"] == 194_010
    assert (before["int8_macs"], after["int8_macs"]) == (0, 194_010)
    assert doc["int8_macs_share"] == 1.0
    assert doc["calibration"] == {
        "source": "digits (train split; accuracy on the test split)",
        "samples": 50,
        "labelled": 360,
    }
    assert doc["diagnosis"] is None and "latency_us" not in after  # not measured
    assert doc["saved"] == str(saved)
    # NNCF's log and progress bars never reach stdout (it parsed as JSON) or stderr: only ours
    assert err.splitlines() == [
        "modelprof: calibrating on 50 samples of digits (train split; accuracy on the test split)",
        f"modelprof: wrote {saved}",
    ]


def test_table_says_random_calibration_claims_nothing(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "quantize", "seed-cnn", "--subset", "4", "-q")
    assert code == 0
    assert "calibration: 4 calls of random data" in out
    assert "nothing here says how accurate the int8 model is" in out
    assert "accuracy" not in out.split("note:")[0]  # no accuracy row


def test_already_int8_model(
    seed_json: tuple[dict[str, Any], str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, saved = seed_json
    err = refused(capsys, str(saved))
    assert "is already quantized (5 FakeQuantize nodes)" in err


def test_calibration_data_of_the_wrong_shape(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.savez(folder / "wrong.npz", x=np.zeros((3, 1, 32, 32), np.float32))
    err = refused(capsys, "seed-cnn", "--calibrate", "wrong.npz")
    assert "have shape (1, 32, 32) but the model takes (1, 28, 28)" in err


def test_nncf_not_installed(folder: Path) -> None:
    code = (
        "import sys; sys.modules['nncf'] = None\n"
        "from modelprof.cli.main import main\n"
        "sys.exit(main(['quantize', 'seed-cnn']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=folder
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        "modelprof: error: this needs the 'nncf' package, which is not installed: "
        "pip install 'modelprof[quantize]'\n"
    )


def test_a_runtime_that_cannot_run_the_int8_model(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(capsys, "seed-cnn", "--runtime", "ort")
    assert "ONNX Runtime cannot run the int8 model quantize makes of this source" in err


def test_accuracy_control_needs_labels(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(capsys, "seed-cnn", "--accuracy-control")
    assert "--accuracy-control needs labelled data" in err
    np.savez(folder / "unlabelled.npz", x=np.zeros((3, 1, 28, 28), np.float32))
    err = refused(capsys, "seed-cnn", "--calibrate", "unlabelled.npz", "--accuracy-control")
    assert err == (
        "modelprof: error: --accuracy-control needs labelled data; unlabelled.npz (no labels) "
        "has no labels\n"
    )


def test_options_that_would_do_nothing(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "--max-drop needs --accuracy-control" in refused(
        capsys, "seed-cnn", "--max-drop", "0.02"
    )
    assert "--rounds needs --profile or --runtime" in refused(capsys, "seed-cnn", "--rounds", "3")


def test_save_targets_refused_before_any_work(
    folder: Path, capsys: pytest.CaptureFixture[str], exported: Any
) -> None:
    existing = folder / "mine.xml"
    existing.write_text("precious")
    assert "mine.xml exists; pass --force to replace it" in refused(
        capsys, "seed-cnn", "--save", "mine.xml"
    )
    assert existing.read_text() == "precious"
    assert "quantize writes a .xml (OpenVINO IR) or .onnx file" in refused(
        capsys, "seed-cnn", "--save", "out.pt"
    )
    assert "an .onnx int8 model comes only from an ONNX source" in refused(
        capsys, "seed-cnn", "--save", "out.onnx"
    )
    source = exported("seed-cnn")
    before = source.read_bytes()
    assert "would replace the model it is made from" in refused(
        capsys, str(source), "--save", str(source)
    )
    assert source.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["mine.xml"]


def test_digits_only_for_the_seed_networks(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "the built-in digits data fits the seed networks" in refused(
        capsys, "resnet18", "--calibrate", "digits"
    )


def test_optimize_refuses_what_it_cannot_chain(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def refused_optimize(*args: str) -> str:
        code, out, err = run(capsys, "optimize", *args)
        assert (code, out) == (2, "") and err.count("\n") == 1, err
        return err

    assert "nothing to do: give --separable, --prune RATIO and/or --int8" in refused_optimize(
        "seed-cnn"
    )
    assert "--subset needs --int8" in refused_optimize(
        "seed-cnn", "--prune", "0.5", "--subset", "9"
    )
    assert "--save-dir nowhere: no such folder" in refused_optimize(
        "seed-cnn", "--int8", "--save-dir", "nowhere"
    )
    assert "optimize measures on OpenVINO" in refused_optimize(
        "seed-cnn", "--int8", "--runtime", "ort"
    )
