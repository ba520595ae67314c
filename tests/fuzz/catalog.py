"""The families, how often each is drawn, and a case from (profile, seed, index).

Why deterministic: a fuzz finding is only useful if it can be replayed. Case ``index`` of a run
with ``seed`` draws everything from ``random.Random(f"{seed}:{index}")``, so
``python -m tests.fuzz --profile P --seed S --case I`` regenerates exactly the same files and
command line, on any machine.

Two profiles:

- ``ci``: a fixed schedule (every family, the expensive ones, which import torch or time a
  runtime, kept few) sized to run in about a minute on two cores;
- ``long``: each case's family drawn by weight; as many cases as asked for.
"""

from __future__ import annotations

import random
import shutil
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import gen_cli, gen_ir, gen_onnx, gen_pickle, gen_quantize, gen_side
from .case import Case, Workspace
from .runner import Outcome, run_case

Generator = Callable[[random.Random, Workspace], Case]

FAMILIES: dict[str, Generator] = {
    "onnx-struct": gen_onnx.gen_structural,
    "onnx-bytes": gen_onnx.gen_bytes,
    "onnx-external": gen_onnx.gen_external,
    "ir": gen_ir.gen_ir,
    "inputs": gen_side.gen_inputs,
    "rules": gen_side.gen_rules,
    "diff": gen_side.gen_diff,
    "config": gen_side.gen_config,
    "cli-options": gen_cli.gen_options,
    "cli-model-path": gen_cli.gen_model_path,
    "cli-output": gen_cli.gen_output_path,
    "pickle": gen_pickle.gen_pt,
    "factory": gen_pickle.gen_factory,
    "llm": gen_side.gen_llm,
    "quantize": gen_quantize.gen_quantize,
    "optimize": gen_quantize.gen_optimize,
    "compare-runtimes": gen_quantize.gen_compare_runtimes,
}

#: families added after the first long run: drawn in a long run's cases only through
#: :data:`NEW_SHARE`, so every index of profile ``long1`` (the first run's draw, which
#: test_regressions replays) still regenerates the case it found
NEW_FAMILIES = ("quantize", "optimize", "compare-runtimes")

#: long runs: relative weights
WEIGHTS = {
    "onnx-struct": 16,
    "onnx-bytes": 8,
    "onnx-external": 6,
    "ir": 10,
    "inputs": 7,
    "rules": 8,
    "diff": 7,
    "config": 5,
    "cli-options": 12,
    "cli-model-path": 7,
    "cli-output": 10,
    "pickle": 5,
    "factory": 4,
    "llm": 5,
}
#: long runs: the new families' weights among themselves, and their share of all cases
NEW_WEIGHTS = {"quantize": 5, "optimize": 3, "compare-runtimes": 2}
NEW_SHARE = 0.12

#: the CI budget: cases per family (torch-importing families cost ~3 s a case)
CI_COUNTS = {
    "onnx-struct": 14,
    "onnx-bytes": 7,
    "onnx-external": 5,
    "ir": 8,
    "inputs": 6,
    "rules": 7,
    "diff": 6,
    "config": 5,
    "cli-options": 12,
    "cli-model-path": 6,
    "cli-output": 9,
    "pickle": 3,
    "factory": 2,
    "llm": 3,
}
#: run after the first schedule, so its cases keep their indexes (NNCF and torch: ~7 s a case)
CI_COUNTS_NEW = {"quantize": 4, "optimize": 2, "compare-runtimes": 3}
CI_SEED = 20240611


def _interleaved(counts: dict[str, int]) -> list[str]:
    remaining = dict(counts)
    order: list[str] = []
    while any(remaining.values()):
        for family in counts:
            if remaining[family]:
                order.append(family)
                remaining[family] -= 1
    return order


def ci_schedule() -> list[str]:
    """Family of each CI case index: interleaved, so a short prefix covers every family; the
    families added later follow the first schedule, whose cases keep their indexes."""
    return _interleaved(CI_COUNTS) + _interleaved(CI_COUNTS_NEW)


def family_of(profile: str, seed: int, index: int) -> str:
    if profile == "ci":
        schedule = ci_schedule()
        return schedule[index % len(schedule)]
    rng = random.Random(f"{seed}:{index}:family")
    names = sorted(WEIGHTS)
    family = rng.choices(names, weights=[WEIGHTS[n] for n in names])[0]
    if profile == "long1":
        return family  # the first long run's draw, without the families added since
    extra = random.Random(f"{seed}:{index}:new-family")
    if extra.random() < NEW_SHARE:
        new = sorted(NEW_WEIGHTS)
        return extra.choices(new, weights=[NEW_WEIGHTS[n] for n in new])[0]
    return family


def generate(profile: str, seed: int, index: int, folder: Path, assets: Any) -> Case:
    """Write case ``index``'s files under ``folder`` and return it."""
    family = family_of(profile, seed, index)
    ws = Workspace(folder, assets)
    case = FAMILIES[family](random.Random(f"{seed}:{index}"), ws)
    case.family, case.seed, case.index = family, seed, index
    return case


def harness_error(family: str, seed: int, index: int, folder: Path, exc: BaseException) -> Outcome:
    """A generator that raised is the harness's bug, reported apart from modelprof's."""
    case = Case(family, f"generator raised {type(exc).__name__}", [], seed=seed, index=index)
    detail = "".join(traceback.format_exception(exc)).strip().splitlines()[-1]
    outcome = Outcome(case, None, b"", detail.encode(), 0.0, 0.0, folder)
    outcome.failures.append(f"harness-error: {detail}")
    return outcome


def run_one(profile: str, seed: int, index: int, root: Path, assets: Any, keep: str) -> Outcome:
    """Generate and run case ``index``; its folder is removed afterwards unless it failed or
    ``keep == 'all'``."""
    folder = root / f"case-{index:05d}"
    if folder.exists():
        shutil.rmtree(folder)
    try:
        case = generate(profile, seed, index, folder, assets)
    except Exception as exc:
        return harness_error(family_of(profile, seed, index), seed, index, folder, exc)
    outcome = run_case(case, folder)
    if outcome.ok and keep != "all":
        shutil.rmtree(folder, ignore_errors=True)
    return outcome


def run_many(
    profile: str,
    seed: int,
    indexes: list[int],
    root: Path,
    assets: Any,
    *,
    jobs: int = 2,
    keep: str = "failing",
    deadline: float | None = None,
    on_done: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run the cases, ``jobs`` at a time; none is started after ``deadline`` (monotonic)."""
    import time

    def task(index: int) -> Outcome | None:
        if deadline is not None and time.monotonic() > deadline:
            return None
        outcome = run_one(profile, seed, index, root, assets, keep)
        if on_done:
            on_done(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(task, indexes))
    return [o for o in results if o is not None]
