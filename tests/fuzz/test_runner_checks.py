"""The harness's own checks catch what they claim to: each contract violation, acted out by a
stand-in ``modelprof`` package (put first on PYTHONPATH for the run), is reported with its kind,
and a well-behaved run is not. Without this, a runner that never flags anything would look like
a clean fuzz run."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from . import runner
from .case import Case, Workspace

FAKE_MAIN = r"""
import json, os, sys, time
act = os.environ["FAKE_ACT"]
if act == "ok":
    print(json.dumps({"kind": "count", "total": {"flops": 1}, "layers": [{"flops": 0}]}))
elif act == "exit3":
    print("modelprof: internal error: ValueError: x (set MODELPROF_DEBUG=1 ...)", file=sys.stderr)
    sys.exit(3)
elif act == "two_lines":
    print("modelprof: error: one\nand another", file=sys.stderr)
    sys.exit(2)
elif act == "exit1":
    sys.exit(1)
elif act == "traceback":
    raise RuntimeError("boom")
elif act == "modify":
    with open("m.onnx", "ab") as f:
        f.write(b"x")
elif act == "replace_device":
    with open("new", "w") as f:
        f.write("x")
    os.replace("new", "null.json")
elif act == "nan":
    print('{"kind": "count", "total": {"flops": NaN}, "layers": []}')
elif act == "negative":
    print(json.dumps({"kind": "count", "total": {"flops": 1}, "layers": [{"macs": -4}]}))
elif act == "sleep":
    time.sleep(30)
elif act == "silent":
    pass
elif act == "temp":
    open(".out.json.abc.tmp", "w").close()
"""


@pytest.fixture
def fake_env(tmp_path: Path) -> Path:
    package = tmp_path / "fake" / "modelprof" / "cli"
    package.mkdir(parents=True)
    for folder in (package.parent, package):
        (folder / "__init__.py").write_text("")
    (package / "main.py").write_text(FAKE_MAIN)
    return tmp_path / "fake"


def _run(fake: Path, tmp_path: Path, act: str, argv: list[str]) -> runner.Outcome:
    root = tmp_path / act
    ws = Workspace(root, None)
    ws.write("m.onnx", b"model")
    if act == "replace_device" and ws.chardev("null.json", "null") is None:
        pytest.skip("cannot create device nodes here")
    env = {"PYTHONPATH": str(fake), "FAKE_ACT": act}
    return runner.run_case(Case("test", act, argv, env=env), root)


@pytest.mark.parametrize(
    ("act", "argv", "kind"),
    [
        ("exit3", ["count", "m.onnx"], "internal-error"),
        ("two_lines", ["count", "m.onnx"], "exit-2-format"),
        ("exit1", ["count", "m.onnx"], "exit-1"),
        ("traceback", ["count", "m.onnx"], "traceback"),
        ("modify", ["count", "m.onnx"], "input-modified"),
        ("replace_device", ["count", "m.onnx", "-o", "null.json"], "input-modified"),
        ("nan", ["count", "m.onnx", "--format", "json"], "invalid-json"),
        ("negative", ["count", "m.onnx", "--format", "json"], "negative-or-nan"),
        ("temp", ["count", "m.onnx"], "temp-left"),
        ("silent", ["count", "m.onnx"], "silent-exit"),
    ],
)
def test_each_violation_is_reported(
    fake_env: Path, tmp_path: Path, act: str, argv: list[str], kind: str
) -> None:
    outcome = _run(fake_env, tmp_path, act, argv)
    assert any(f.startswith(kind + ":") for f in outcome.failures), outcome.failures


def test_a_timeout_is_reported(
    fake_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "TIMEOUT_S", 1.0)
    outcome = _run(fake_env, tmp_path, "sleep", ["count", "m.onnx"])
    assert outcome.returncode is None
    assert outcome.failures == ["timeout: still running after 1 s"]


def test_exit_1_is_allowed_for_check_and_strict(fake_env: Path, tmp_path: Path) -> None:
    assert _run(fake_env, tmp_path, "exit1", ["check", "m.onnx"]).ok
    assert _run(fake_env, tmp_path / "s", "exit1", ["count", "m.onnx", "--strict"]).ok


def test_a_well_behaved_run_passes(fake_env: Path, tmp_path: Path) -> None:
    outcome = _run(fake_env, tmp_path, "ok", ["count", "m.onnx", "--format", "json"])
    assert outcome.ok, outcome.failures
    assert outcome.returncode == 0


def test_fifo_partners_unblock_the_command(tmp_path: Path) -> None:
    """A FIFO the case reads is fed, one it writes is drained: neither hangs the run."""
    root = tmp_path / "fifo"
    ws = Workspace(root, None)
    ws.fifo("in.txt")
    ws.fifo("out.txt")
    script = "data = open('in.txt').read(); open('out.txt', 'w').write(data.upper())"
    (root / "fake").mkdir()
    (root / "fake" / "modelprof").mkdir()
    (root / "fake" / "modelprof" / "__init__.py").write_text("")
    (root / "fake" / "modelprof" / "cli").mkdir()
    (root / "fake" / "modelprof" / "cli" / "__init__.py").write_text("")
    (root / "fake" / "modelprof" / "cli" / "main.py").write_text(script)
    case = Case("test", "fifo", ["count", "in.txt"], feed={"in.txt": b"hello"}, drain=["out.txt"],
                env={"PYTHONPATH": str(root / "fake")})  # fmt: skip
    outcome = runner.run_case(case, root)
    assert outcome.returncode == 0, outcome.stderr
    assert stat.S_ISFIFO(os.lstat(root / "w" / "in.txt").st_mode)
