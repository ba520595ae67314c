"""Every case the first long fuzz run (``python -m tests.fuzz --minutes 9.5 --seed 1``) found
failing, replayed: each broke the contract before the fix that followed it (symlink loops and
NUL bytes in paths, a full standard output, rules and factories that raise BaseException or
call sys.exit while counting, objects that cannot describe themselves, config files that are
devices, FIFOs or nested too deeply, .npy headers declaring gigabytes, zip members of unknown
compression, ONNX Runtime's own error log, short initializer payloads, a path that is not
UTF-8, a Loop of 2^63 - 1 trips)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from . import assets as assets_module
from .catalog import run_many
from .run import failure_report

SEED = 1
FAILED_BEFORE = [
    17, 22, 58, 89, 114, 117, 125, 128, 162, 179, 204, 275, 277, 281, 347, 395, 421, 432, 433,
    436, 470, 486, 500, 514, 526, 551, 568, 591, 599, 603, 666, 669, 712, 729, 730, 740, 745,
    758, 789, 870, 880, 903, 908, 944, 1022, 1023, 1080, 1096, 1132, 1153, 1225, 1234, 1235,
    1249, 1265, 1307, 1346, 1358, 1371,
]  # fmt: skip


@pytest.mark.fuzz
def test_the_cases_the_first_long_run_found_now_hold(tmp_path: Path) -> None:
    shared: Any = assets_module.build(tmp_path / "assets")
    jobs = max(1, min(2, os.cpu_count() or 1))
    # long1: the families that run had (later families are drawn in 'long' runs only)
    outcomes = run_many("long1", SEED, FAILED_BEFORE, tmp_path, shared, jobs=jobs)
    assert len(outcomes) == len(FAILED_BEFORE)
    if any(not o.ok for o in outcomes):
        pytest.fail(failure_report(outcomes, "long1"), pytrace=False)


#: what the quantize/optimize/compare-runtimes families found, as fixed command lines (so a
#: change to the generators does not change what is replayed); each broke the contract before
#: its fix: a --subset of 10**21 asked numpy for random data of 10**21 samples (exit 3); an
#: empty --save-dir wrote every step's model into the current folder; a .npz that starts like
#: a zip but is none raised zipfile.BadZipFile through (exit 3)
FOUND_BY_THE_QUANTIZE_FAMILIES = [
    ["quantize", "m.onnx", "-q", "--subset", "2", "--calibrate", "not-a-zip.npz"],
    ["optimize", "seed-cnn", "-q", "--int8", "--prune", "0.5", "--subset", "999999999999999999999"],
    ["quantize", "m.onnx", "-q", "--subset", "999999999999999999999"],
    ["optimize", "seed-cnn", "-q", "--prune", "0.5", "--save-dir", ""],
]


@pytest.mark.fuzz
@pytest.mark.parametrize("argv", FOUND_BY_THE_QUANTIZE_FAMILIES, ids=lambda a: " ".join(a[:2]))
def test_the_cases_the_quantize_families_found_now_hold(tmp_path: Path, argv: list[str]) -> None:
    from .case import Case
    from .runner import run_case

    shared: Any = assets_module.build(tmp_path / "assets")
    work = tmp_path / "case" / "w"
    work.mkdir(parents=True)
    (work / "m.onnx").write_bytes(shared.onnx_a.read_bytes())
    (work / "not-a-zip.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 60)
    outcome = run_case(Case("regression", argv[0], list(argv)), tmp_path / "case")
    assert outcome.ok, (outcome.failures, outcome.last_stderr_line)
    assert outcome.returncode == 2, outcome.last_stderr_line  # refused, up front
    assert sorted(p.name for p in work.iterdir()) == ["m.onnx", "not-a-zip.npz"]  # none written
