"""The entry point: help, version, and how each kind of failure reaches the user.

Bad input is one line on stderr and exit 2, an interrupt exits 130, a closed pipe is silent;
never a traceback.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelprof import __version__
from modelprof.cli.main import COMMANDS, HELP, main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"modelprof, version {__version__}"


def test_help_lists_every_command_with_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: modelprof [OPTIONS] COMMAND [ARGS]...")
    section = out.split("Commands:")[1].splitlines()
    # a name at the 2-space indent starts each row; longer help lines wrap deeper
    listed = [line.split()[0] for line in section if line[:2] == "  " and line[2:3] != " "]
    # every command whose module is installed, in the order of COMMANDS
    assert listed == [name for name in COMMANDS if name in listed]
    assert {"count", "profile", "crosscheck", "check", "diff", "zoo"} <= set(listed)
    assert HELP["count"] in " ".join(out.split())
    # -h is --help
    assert main(["-h"]) == 0
    assert capsys.readouterr().out == out


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nosuch"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "modelprof: error: No such command 'nosuch'.\n"
    assert captured.out == ""


def test_a_bad_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["count", "seed-cnn", "--no-such-option"]) == 2
    assert capsys.readouterr().err == "modelprof: error: No such option '--no-such-option'.\n"


def test_an_interrupt_while_loading_rules_exits_130(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Ctrl-C while a user's rules file runs (raised by the file itself here): click turns it
    # into an abort; one line, status 130 as a shell reports an interrupted program
    rules = tmp_path / "rules.py"
    rules.write_text("raise KeyboardInterrupt\n")
    assert main(["count", "seed-cnn", "--rules", str(rules)]) == 130
    assert capsys.readouterr().err.strip() == "modelprof: aborted"


def test_a_path_the_system_refuses_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a 300-character file name is longer than any Linux file system allows
    path = tmp_path / ("a" * 300 + ".onnx")
    assert main(["count", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"modelprof: error: {path}: File name too long\n"


def test_a_closed_pipe_is_silent(tmp_path: Path) -> None:
    # `modelprof count seed-cnn | head -0`: the reader has gone before anything is written;
    # the user sees nothing on stderr (no traceback, no "internal error")
    process = subprocess.Popen(
        [sys.executable, "-m", "modelprof.cli.main", "count", "seed-cnn"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    process.wait(timeout=120)
    assert "Traceback" not in err
    assert "error" not in err
