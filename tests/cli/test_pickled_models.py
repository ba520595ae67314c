"""Every command that reads a model reads a whole module pickled with ``torch.save`` (``.pt``),
as ``count`` does: with ``--trust-pickle``, and without it one line, exit 2, saying to pass it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from modelprof.cli.main import main
from modelprof.frontends import zoo


@pytest.fixture(scope="module")
def seed_pt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pickled") / "seed.pt"
    torch.save(zoo.get("seed-cnn").build(), path)
    return path


SHAPE = ["--input-shape", "1x1x28x28"]


def _commands(pt: str) -> dict[str, list[str]]:
    return {
        "check": ["check", pt, "--max-params", "1M", *SHAPE],
        "diff": ["diff", pt, "seed-cnn", *SHAPE, "--format", "json"],
        "diff-second": ["diff", "seed-cnn", pt, *SHAPE, "--format", "json"],
        "compare": ["compare", "seed-cnn", pt, *SHAPE, "--format", "json"],
        "pooling": ["pooling", pt, *SHAPE, "--format", "json"],
    }


@pytest.mark.parametrize("command", list(_commands("m.pt")))
def test_a_pt_file_needs_trust_pickle(
    command: str, seed_pt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_commands(str(seed_pt))[command]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "pass --trust-pickle if you trust it" in captured.err


def test_check_reads_a_pt_file(seed_pt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*_commands(str(seed_pt))["check"], "--trust-pickle"]) == 0
    assert capsys.readouterr().out.startswith("OK ")
    assert main(["check", str(seed_pt), "--max-params", "1K", *SHAPE, "--trust-pickle"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_diff_reads_a_pt_file_as_a_or_b(seed_pt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("diff", "diff-second"):
        assert main([*_commands(str(seed_pt))[command], "--trust-pickle"]) == 0
        doc = json.loads(capsys.readouterr().out)
        # the same network, pickled or built: nothing changes
        assert doc["totals"]["macs"]["a"] == doc["totals"]["macs"]["b"] == 194_010


def test_compare_reads_a_pt_file_and_labels_it_by_its_name(
    seed_pt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*_commands(str(seed_pt))["compare"], "--trust-pickle"]) == 0
    models = json.loads(capsys.readouterr().out)["models"]
    assert [m["model"] for m in models] == ["seed-cnn", str(seed_pt)]
    assert models[0]["macs"] == models[1]["macs"] == 194_010


def test_pooling_reads_a_pt_file(seed_pt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*_commands(str(seed_pt))["pooling"], "--trust-pickle"]) == 0
    pt_doc = json.loads(capsys.readouterr().out)
    assert main(["pooling", "seed-cnn", *SHAPE, "--format", "json"]) == 0
    zoo_doc = json.loads(capsys.readouterr().out)
    assert pt_doc["layers"] and pt_doc["layers"] == zoo_doc["layers"]


def test_trust_pickle_is_refused_when_diff_reads_two_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "a.json"
    assert main(["count", "seed-cnn", "--format", "json", "-o", str(report), "-q"]) == 0
    capsys.readouterr()
    assert main(["diff", str(report), str(report), "--trust-pickle"]) == 2
    assert "--trust-pickle needs a model as A or B" in capsys.readouterr().err
