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
    # Ctrl-C while a user's rules file runs (raised by the file itself here): one line (click
    # wrote an empty one before its own abort), status 130 as a shell reports an interrupt
    rules = tmp_path / "rules.py"
    rules.write_text("raise KeyboardInterrupt\n")
    assert main(["count", "seed-cnn", "--rules", str(rules)]) == 130
    assert capsys.readouterr().err == "modelprof: interrupted\n"


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


# -- how main() turns each kind of exception into what the user sees ---------------------------
# A command of the test's own, registered beside the real ones, raises what it is told to: the
# real ones reach these paths only through bugs (internal errors) or the operating system.

_BOOM = '''
import click

from modelprof.errors import ModelprofError


@click.command()
@click.argument("kind")
def boom(kind):
    if kind == "bug":
        raise ValueError("a bug's message\\nsecond line")
    if kind == "oserror-no-file":
        raise OSError(5, "Input/output error")
    if kind == "oserror-file":
        raise PermissionError(13, "Permission denied", "/root/secret.onnx")
    if kind == "interrupt":
        raise KeyboardInterrupt
    if kind == "pipe":
        raise BrokenPipeError
    if kind == "eof":
        raise EOFError
    if kind == "exit-code":
        raise ModelprofError("a budget exceeded")
    return 7
'''


@pytest.fixture
def boom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "modelprof_test_boom.py").write_text(_BOOM)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(COMMANDS, "boom", "modelprof_test_boom:boom")
    monkeypatch.setitem(HELP, "boom", "A test command.")
    monkeypatch.delenv("MODELPROF_DEBUG", raising=False)


@pytest.mark.usefixtures("boom")
@pytest.mark.parametrize(
    ("kind", "status", "err"),
    [
        (
            "bug",
            3,
            # the newline written as an escape: one line
            "modelprof: internal error: ValueError: a bug's message\\nsecond line (set "
            "MODELPROF_DEBUG=1 for the traceback, and please report it)\n",
        ),
        (
            "oserror-no-file",
            3,
            "modelprof: internal error: OSError: [Errno 5] Input/output error (set "
            "MODELPROF_DEBUG=1 for the traceback, and please report it)\n",
        ),
        ("oserror-file", 2, "modelprof: error: /root/secret.onnx: Permission denied\n"),
        ("interrupt", 130, "modelprof: interrupted\n"),
        ("pipe", 0, ""),
        ("eof", 2, "modelprof: error: unexpected end of an input file\n"),
        ("exit-code", 2, "modelprof: error: a budget exceeded\n"),
    ],
)
def test_each_failure_reaches_the_user_as_one_line(
    kind: str, status: int, err: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["boom", kind]) == status
    captured = capsys.readouterr()
    assert captured.err == err
    assert captured.out == ""


@pytest.mark.usefixtures("boom")
def test_a_command_returning_a_status_passes_it_on(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["boom", "fine"]) == 7


@pytest.mark.usefixtures("boom")
def test_modelprof_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPROF_DEBUG", "1")
    with pytest.raises(ValueError, match="a bug's message"):
        main(["boom", "bug"])
