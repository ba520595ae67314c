"""The fuzz harness on a small, fixed budget: every family, a deterministic seed, about a
minute on two cores. One test per family, so a failure names the kind of input that broke.

A failure prints each failing case with its command line and the command that regenerates it
(``python -m tests.fuzz --profile ci --seed ... --case N --keep all``). Longer runs: see
:mod:`tests.fuzz.run`. Deselect with ``-m 'not fuzz'``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from . import assets as assets_module
from .catalog import CI_SEED, FAMILIES, ci_schedule, run_many
from .run import failure_report

JOBS = max(1, min(2, os.cpu_count() or 1))


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def shared_assets(fuzz_root: Path) -> Any:
    return assets_module.build(fuzz_root / "assets")


@pytest.mark.fuzz
@pytest.mark.parametrize("family", list(FAMILIES))
def test_fuzz_budget(family: str, fuzz_root: Path, shared_assets: Any) -> None:
    indexes = [i for i, f in enumerate(ci_schedule()) if f == family]
    outcomes = run_many("ci", CI_SEED, indexes, fuzz_root, shared_assets, jobs=JOBS)
    assert len(outcomes) == len(indexes)
    if any(not o.ok for o in outcomes):
        pytest.fail(failure_report(outcomes, "ci"), pytrace=False)
