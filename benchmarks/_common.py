"""Timing helpers shared by the benchmark scripts (stdlib only).

Every measurement is the wall time of a whole child process, taken around ``Popen`` and reaped
with ``os.wait4`` so that the child's own peak RSS comes back with it (``ru_maxrss`` of
``RUSAGE_CHILDREN`` is a max over every child ever reaped, so it cannot isolate one run).
Cases are run interleaved (A B C A B C ...) so that load from other jobs on the shared cores
hits every case alike; results are reported as median and spread.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VENV_BIN = Path(sys.executable).parent
PYTHON = sys.executable


def modelprof_exe() -> list[str]:
    """The venv's ``modelprof`` console script, or ``python -m`` if it is missing."""
    exe = VENV_BIN / "modelprof"
    if exe.exists():
        return [str(exe)]
    return [PYTHON, "-m", "modelprof.cli.main"]


@dataclass(frozen=True)
class Run:
    wall_s: float
    maxrss_bytes: int
    returncode: int
    stderr: str


class BenchError(RuntimeError):
    pass


def run_once(cmd: Sequence[str], *, stdout_path: str = os.devnull, timeout: float = 600) -> Run:
    """Run ``cmd`` once; return its wall time, its own peak RSS and its exit status.

    stdout goes to ``stdout_path`` (``/dev/null`` by default: the child still formats
    everything it prints); stderr is captured to a temp file for error messages.
    """
    import tempfile

    with open(stdout_path, "wb") as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    # Linux reports ru_maxrss in KiB (macOS in bytes)
    scale = 1 if sys.platform == "darwin" else 1024
    return Run(wall, usage.ru_maxrss * scale, proc.returncode, stderr)


@dataclass
class Samples:
    name: str
    walls: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    @property
    def lo(self) -> float:
        return min(self.walls)

    @property
    def hi(self) -> float:
        return max(self.walls)

    @property
    def iqr(self) -> tuple[float, float]:
        if len(self.walls) < 4:
            return self.lo, self.hi
        q = statistics.quantiles(self.walls, n=4, method="inclusive")
        return q[0], q[2]

    @property
    def peak_rss(self) -> int:
        return max(self.rss) if self.rss else 0


def interleaved(
    cases: Mapping[str, Sequence[str]],
    repeats: int,
    *,
    warmup: int = 1,
    stdout: Mapping[str, str] | None = None,
    progress: bool | None = None,
    max_rounds: Mapping[str, int] | None = None,
) -> dict[str, Samples]:
    """Run every case ``warmup + repeats`` times in the order A B C A B C ...

    Warm-up rounds fill the page cache and the ``__pycache__`` files and are not recorded.
    A case that exits non-zero aborts the benchmark with its stderr. ``max_rounds`` caps the
    recorded rounds of slow cases: they take part in the first rounds only.
    """
    max_rounds = max_rounds or {}
    stdout = stdout or {}
    if progress is None:
        progress = sys.stderr.isatty()
    samples = {name: Samples(name) for name in cases}
    total = warmup + repeats
    for rnd in range(total):
        if progress:
            label = "warm-up" if rnd < warmup else f"round {rnd - warmup + 1}/{repeats}"
            print(f"  {label} ...", end="\r", file=sys.stderr, flush=True)
        for name, cmd in cases.items():
            if rnd >= warmup + max_rounds.get(name, repeats):
                continue
            run = run_once(cmd, stdout_path=stdout.get(name, os.devnull))
            if run.returncode != 0:
                tail = "\n".join(run.stderr.strip().splitlines()[-15:])
                raise BenchError(f"case '{name}' exited {run.returncode}: {' '.join(cmd)}\n{tail}")
            if rnd >= warmup:
                samples[name].walls.append(run.wall_s)
                samples[name].rss.append(run.maxrss_bytes)
    if progress:
        print(" " * 40, end="\r", file=sys.stderr, flush=True)
    return samples


# -- formatting --------------------------------------------------------------------------------


def log(message: str) -> None:
    """Progress on stderr, so that a benchmark's table alone goes to stdout."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def loadavg() -> str:
    """The 1/5/15-minute load averages, printed beside a run: above the core count, other jobs
    shared the cores and the figures are noisier."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def fmt_s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} us"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def fmt_count(n: float) -> str:
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.3f} {suffix}"
    return f"{n:.0f}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [
            row[i].ljust(widths[i]) if i == 0 else row[i].rjust(widths[i]) for i in range(len(row))
        ]
        return "  ".join(parts).rstrip()

    rule = "-" * len(line(cells[0]))
    out = [title, rule, line(cells[0]), rule, *(line(r) for r in cells[1:]), rule]
    return "\n".join(out)


def timing_rows(samples: Mapping[str, Samples]) -> list[list[str]]:
    """Rows of name, median, IQR, min-max, n for a set of interleaved samples."""
    rows = []
    for s in samples.values():
        q1, q3 = s.iqr
        rows.append(
            [
                s.name,
                fmt_s(s.median),
                f"{fmt_s(q1)} - {fmt_s(q3)}",
                f"{fmt_s(s.lo)} - {fmt_s(s.hi)}",
                fmt_bytes(s.peak_rss),
                str(len(s.walls)),
            ]
        )
    return rows


TIMING_HEADERS = ("case", "median", "IQR", "min - max", "peak RSS", "n")


def run_json(args: Sequence[str]) -> dict[str, Any]:
    """Run ``modelprof ARGS --format json -q`` and return its document (raise on failure)."""
    import json

    proc = subprocess.run(
        [*modelprof_exe(), *args, "--format", "json", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"modelprof {' '.join(args)} failed: {proc.stderr.strip()}")
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc
