"""Long fuzz runs from the command line, with a summary table and every failure's reproducer.

    .venv/bin/python -m tests.fuzz --cases 500 --seed 7            # a long run
    .venv/bin/python -m tests.fuzz --minutes 10                    # as many as fit
    .venv/bin/python -m tests.fuzz --profile ci                    # what CI runs
    .venv/bin/python -m tests.fuzz --seed 7 --case 123 --keep all  # replay one case
    .venv/bin/python tests/fuzz/run.py --cases 50                  # the same, as a script

Exit status 0 when no case failed, 1 otherwise. Failing cases' folders are kept (inputs as
they were generated, plus what the run left) under the printed root.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``tests.fuzz`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    __package__ = "tests.fuzz"
    import tests.fuzz  # noqa: F401

from . import assets as assets_module
from .catalog import CI_COUNTS, CI_COUNTS_NEW, CI_SEED, FAMILIES, family_of, run_many
from .runner import PYTHON, Outcome, signature


def summary_table(outcomes: list[Outcome]) -> str:
    """Cases per family and how they ended."""
    columns = ["exit 0", "exit 1", "exit 2", "other", "FAILED", "max s"]
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    slowest: dict[str, float] = defaultdict(float)
    for o in outcomes:
        row = rows[o.case.family]
        row["cases"] += 1
        row[o.status if o.status in ("exit 0", "exit 1", "exit 2") else "other"] += 1
        row["FAILED"] += not o.ok
        slowest[o.case.family] = max(slowest[o.case.family], o.wall_s)
    width = max([len("family"), *(len(f) for f in rows)]) + 2
    lines = ["family".ljust(width) + "cases".rjust(7) + "".join(c.rjust(8) for c in columns)]
    total: Counter[str] = Counter()
    for family in [f for f in FAMILIES if f in rows]:
        row = rows[family]
        total.update(row)
        cells = [str(row[c]) for c in columns[:-1]] + [f"{slowest[family]:.1f}"]
        lines.append(
            family.ljust(width) + str(row["cases"]).rjust(7) + "".join(c.rjust(8) for c in cells)
        )
    cells = [str(total[c]) for c in columns[:-1]] + [f"{max(slowest.values(), default=0):.1f}"]
    lines.append(
        "total".ljust(width) + str(total["cases"]).rjust(7) + "".join(c.rjust(8) for c in cells)
    )
    return "\n".join(lines)


def reproducer(o: Outcome, profile: str) -> str:
    c = o.case
    feeds = "".join(f"\n      (FIFO {name} fed {len(data)} bytes)" for name, data in c.feed.items())
    drains = "".join(f"\n      (FIFO {name} drained)" for name in c.drain)
    return (
        f"    cd {o.where / 'w'} && {c.shell()}{feeds}{drains}\n"
        f"    regenerate: {Path(PYTHON).name} -m tests.fuzz --profile {profile} "
        f"--seed {c.seed} --case {c.index} --keep all"
    )


def failure_report(outcomes: list[Outcome], profile: str) -> str:
    """Every failing case, grouped by rough root cause (failure kind + stderr's last line)."""
    failing = [o for o in outcomes if not o.ok]
    if not failing:
        return "no failing case"
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in failing:
        groups[signature(o)].append(o)
    parts = [f"{len(failing)} failing case(s) in {len(groups)} group(s):"]
    for key, members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        parts.append(f"\n== {key}  ({len(members)} case(s))")
        for o in sorted(members, key=lambda o: o.case.index):
            parts.append(
                f"  #{o.case.index} [{o.case.family}] {o.case.title}\n"
                f"    {o.status}; {'; '.join(o.failures)}\n"
                f"    stderr: {o.last_stderr_line[:300]!r}\n" + reproducer(o, profile)
            )
    return "\n".join(parts)


def notes_report(outcomes: list[Outcome]) -> str:
    notes = Counter(n.split(":", 1)[0] for o in outcomes for n in o.notes)
    if not notes:
        return ""
    lines = ["notes (allowed by the contract, listed for information):"]
    for kind, n in notes.most_common():
        example = next((o, note) for o in outcomes for note in o.notes if note.startswith(kind))
        lines.append(f"  {n:4d} x {kind}; e.g. #{example[0].case.index}: {example[1][:120]!r}")
    return "\n".join(lines)


def _source_state(snapshot_into: Path | None) -> str:
    """The git commit and dirty files of the code under test; with ``snapshot_into``, a copy of
    src/ is made there and put first on the children's PYTHONPATH."""
    import shutil
    import subprocess

    repo = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
        return done.stdout.strip()

    dirty = [line[3:] for line in git("status", "--short", "--", "src").splitlines()]
    state = f"{git('rev-parse', '--short', 'HEAD')} + {len(dirty)} modified file(s) in src/"
    if snapshot_into is None:
        return state + " (live)"
    copy = snapshot_into / "src-snapshot"
    shutil.copytree(
        repo / "src" / "modelprof", copy / "modelprof", ignore=shutil.ignore_patterns("__pycache__")
    )
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(copy), os.environ.get("PYTHONPATH")])
    )
    return f"{state}, snapshot in {copy}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fuzz",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--profile",
        choices=["long", "long1", "ci"],
        default="long",
        help="long1: the first long run's families only (what test_regressions replays)",
    )
    parser.add_argument("--seed", type=int, default=None, help="default: 1 (ci: the CI seed)")
    parser.add_argument("--cases", type=int, default=None, help="default: 200 (ci: the budget)")
    parser.add_argument("--start", type=int, default=0, help="first case index")
    parser.add_argument("--case", type=int, action="append", help="run only these indexes")
    parser.add_argument(
        "--family",
        action="append",
        choices=sorted(FAMILIES),
        help="run only cases of these families",
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="start no case after this long (with --cases unset: no cap)",
    )
    parser.add_argument("--jobs", type=int, default=max(1, min(os.cpu_count() or 2, 8)))
    parser.add_argument("--keep", choices=["failing", "all"], default="failing")
    parser.add_argument("--root", type=Path, default=None, help="default: a new temp folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="a line per case")
    parser.add_argument(
        "--snapshot-src",
        action="store_true",
        help="run every case against a copy of src/ taken now (others may be editing it)",
    )
    args = parser.parse_args(argv)

    seed = args.seed if args.seed is not None else (CI_SEED if args.profile == "ci" else 1)
    if args.case:
        indexes = list(args.case)
    else:
        count = args.cases
        if count is None:
            count = (
                sum(CI_COUNTS.values()) + sum(CI_COUNTS_NEW.values())
                if args.profile == "ci"
                else (10**6 if args.minutes else 200)
            )
        indexes = list(range(args.start, args.start + count))
    if args.family:
        indexes = [i for i in indexes if family_of(args.profile, seed, i) in args.family]
    root = args.root or Path(tempfile.mkdtemp(prefix="modelprof-fuzz-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"fuzz root: {root}  profile {args.profile}  seed {seed}  jobs {args.jobs}", flush=True)

    print(f"modelprof under test: {_source_state(root if args.snapshot_src else None)}")
    started = time.monotonic()
    shared = assets_module.build(root / "assets")
    deadline = started + 60 * args.minutes if args.minutes else None
    done = [0]

    def progress(o: Outcome) -> None:
        done[0] += 1
        if args.verbose or not o.ok:
            mark = "ok  " if o.ok else "FAIL"
            why = f" {'; '.join(o.failures)[:120]}" if o.failures else ""
            print(
                f"[{done[0]}] {mark} #{o.case.index} {o.case.family}: {o.case.title[:70]} "
                f"-> {o.status} ({o.wall_s:.1f}s){why}",
                flush=True,
            )
        elif done[0] % 25 == 0:
            print(f"[{done[0]}] ...", flush=True)

    outcomes = run_many(
        args.profile,
        seed,
        indexes,
        root,
        shared,
        jobs=args.jobs,
        keep=args.keep,
        deadline=deadline,
        on_done=progress,
    )
    elapsed = time.monotonic() - started
    print(f"\n{len(outcomes)} case(s) in {elapsed:.0f} s\n")
    print(summary_table(outcomes))
    print()
    notes = notes_report(outcomes)
    if notes:
        print(notes + "\n")
    print(failure_report(outcomes, args.profile))
    return 1 if any(not o.ok for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
