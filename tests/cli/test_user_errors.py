"""User input that used to end in 'internal error' (exit 3) is one line on stderr, exit 2,
saying what is wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

MODELPROF = [sys.executable, "-m", "modelprof.cli.main"]


def _one_line_exit_2(args: list[str], words: str, cwd: Path | None = None) -> None:
    result = subprocess.run(
        [*MODELPROF, *args], capture_output=True, text=True, cwd=cwd, check=False
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("modelprof: error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert words in result.stderr, result.stderr
    assert "internal error" not in result.stderr


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["profile", "seed-cnn", "--time", "nan"], "--time"),
        (["device", "--stream-mib", "nan"], "--stream-mib"),
        (["device", "--stream-mib", "inf"], "--stream-mib"),
        (["prune", "seed-cnn", "--amount", "nan"], "--amount"),
        (["separable", "seed-cnn", "--min-saving", "nan"], "--min-saving"),
    ],
)
def test_a_number_that_is_not_finite_is_refused(args: list[str], option: str) -> None:
    _one_line_exit_2(args, f"Invalid value for '{option}'")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            'modelprof.register_cost_rule("Relu", lambda call: 5, replace=True)',
            "the cost rule for Relu (<lambda>) returned 5 for node 'relu'",
        ),
        (
            'modelprof.register_cost_rule("Relu", lambda call: modelprof.Cost(flops=-5), '
            "replace=True)",
            "returned Cost(macs=0, flops=-5, int_macs=0) for node 'relu'",
        ),
        (
            'modelprof.register_cost_rule("Relu", lambda call: modelprof.Cost(flops=1.5), '
            "replace=True)",
            "returned Cost(macs=0, flops=1.5, int_macs=0)",
        ),
        ("import sys\nsys.exit(3)", "it called sys.exit(3)"),
    ],
    ids=["a-number", "negative", "not-an-integer", "sys.exit"],
)
def test_a_rules_file_that_misbehaves_is_named(tmp_path: Path, body: str, words: str) -> None:
    rules = tmp_path / "rules.py"
    rules.write_text(f"import modelprof\n{body}\n")
    _one_line_exit_2(["count", "resnet18", "--rules", str(rules)], words)


def test_a_rule_that_returns_a_cost_of_integers_still_counts(tmp_path: Path) -> None:
    # resnet18's ReLUs, now 3 FLOPs each whatever their size
    rules = tmp_path / "rules.py"
    rules.write_text(
        "import modelprof\n"
        'modelprof.register_cost_rule("Relu", lambda call: modelprof.Cost(flops=3), '
        "replace=True)\n"
    )
    result = subprocess.run(
        [*MODELPROF, "count", "resnet18", "--rules", str(rules), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    relus = [layer for layer in json.loads(result.stdout)["layers"] if layer["op"] == "Relu"]
    assert relus and all(layer["flops"] == 3 for layer in relus)


def test_a_path_the_system_refuses_is_named(tmp_path: Path) -> None:
    _one_line_exit_2(["count", "a" * 300 + ".onnx"], "File name too long", cwd=tmp_path)
