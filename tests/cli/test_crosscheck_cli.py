"""`modelprof crosscheck` as a table and into a file (the JSON form: tests/cli/test_crosscheck.py).

seed-cnn through every route: 79,260 params, 194,010 MACs, 394,780 FLOPs on each (README's
worked example); its routes differ only in layer names, so every difference is explained.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelprof.cli.main import main


def test_table_shows_every_route_and_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crosscheck", "seed-cnn"]) == 0
    out = capsys.readouterr().out
    assert "seed-cnn: every route, same rules" in out
    rows = [line for line in out.splitlines() if "394.78K" in line or "394,780" in line]
    # pytorch, onnx, openvino, ir, ir-f16: one row each with the same FLOPs
    routes = {line.strip("│┃ ").split()[0] for line in rows}
    assert {"pytorch", "onnx", "openvino", "ir", "ir-f16"} <= routes
    assert "MACs agree across all routes" in out
    assert "Traceback" not in out


def test_report_written_to_a_file_and_never_over_an_existing_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cross.json"
    assert main(["crosscheck", "seed-cnn", "--format", "json", "-o", str(path), "--quiet"]) == 0
    doc = json.loads(path.read_text())
    assert {r["macs"] for r in doc["routes"]} == {194_010}
    assert capsys.readouterr().out == ""
    # the file exists now: without --force it is left alone, one line on stderr, exit 2
    before = path.read_bytes()
    assert main(["crosscheck", "seed-cnn", "--format", "json", "-o", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("modelprof: error: ") and err.count("\n") == 1
    assert "--force" in err
    assert path.read_bytes() == before
