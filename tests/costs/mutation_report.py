"""Print the score and every survivor of a cosmic-ray session (``make mutation``).

Reads ``cosmic-ray dump SESSION`` (one JSON ``[work_item, result]`` per line) on stdin. The
score is killed / (mutants run), per module and in all: mutants skipped by
``# pragma: no mutate`` (equivalent mutants, see CONTRIBUTING.md) or by the operator filter
in cosmic-ray.toml are left out of it, where cosmic-ray's own ``cr-rate`` would count them as
killed. ``--fail-under PERCENT`` exits 1 when the total score is lower, or when a mutant was
left unrun.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fail-under", type=float, default=None)
    args = parser.parse_args()
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    survivors: list[tuple[str, int, str, str]] = []
    for line in sys.stdin:
        if not line.strip():
            continue
        item, result = json.loads(line)
        mutation = item["mutations"][0]
        module = mutation["module_path"]
        row = counts[module]
        if result is None:
            row["pending"] += 1
        elif result["worker_outcome"] == "skipped":
            row["skipped"] += 1
        elif result["test_outcome"] == "survived":
            row["survived"] += 1
            survivors.append(
                (module, mutation["start_pos"][0], mutation["operator_name"], result["diff"] or "")
            )
        else:  # killed, incompetent (the mutant does not even import) or timed out
            row["killed"] += 1
    header = (
        f"{'module':<36} {'mutants':>8} {'skipped':>8} {'killed':>7} {'survived':>9} {'score':>7}"
    )
    print(header)
    print("-" * len(header))
    total: dict[str, int] = defaultdict(int)
    for module in sorted(counts):
        row = counts[module]
        for key, value in row.items():
            total[key] += value
        print(_row(module, row))
    print("-" * len(header))
    print(_row("total", total))
    if total["pending"]:
        print(f"{total['pending']} mutants not run yet")
    for module, line, operator, diff in sorted(survivors):
        print(f"\nSURVIVED {module}:{line} {operator}")
        changed = [d for d in diff.splitlines() if d[:1] in "+-" and d[:3] not in ("+++", "---")]
        print("\n".join(changed))
    if args.fail_under is not None and (total["pending"] or _score(total) < args.fail_under):
        return 1
    return 0


def _score(row: dict[str, int]) -> float:
    run = row["killed"] + row["survived"]
    return 100.0 * row["killed"] / run if run else 100.0


def _row(name: str, row: dict[str, int]) -> str:
    mutants = row["killed"] + row["survived"] + row["skipped"] + row["pending"]
    return (
        f"{name:<36} {mutants:>8} {row['skipped']:>8} {row['killed']:>7} {row['survived']:>9} "
        f"{_score(row):>6.1f}%"
    )


if __name__ == "__main__":
    sys.exit(main())
