"""How ``modelprof profile --runtime torch`` and ``--runtime torch-compile`` measure up.

Run it from the repository root with the project's venv::

    .venv/bin/python benchmarks/bench_torch_profile.py            # 2-10 minutes (the load)
    .venv/bin/python benchmarks/bench_torch_profile.py --quick    # smoke run, about 1 minute
    .venv/bin/python benchmarks/bench_torch_profile.py --rounds 3 --time 1 --threads 2 --cold

For ResNet-18 and the transformer layer from the zoo, at a fixed thread count, it prints:

(a) modelprof's eager end-to-end median next to a plain ``with torch.inference_mode():
    model(x)`` timing loop on the same module and input shape, interleaved in one process (the
    order rotates round by round), as the ratio of the two medians of the same round: the
    median ratio over rounds with its min-max. A reported figure, not a gate (two identical loops
    differ by up to 40 % on a busy machine);
(b) the per-module hooks' overhead: the profile's own figure (hooked pass median / plain pass
    median - 1) and the sum of the per-module medians against the plain loop's median;
(c) eager vs compiled time per module: rows matched by module path (a row's modules are
    those of the count layers it holds, so a container's own row is its residual add), and the
    modules a fused kernel spans grouped into one row, whose eager time is the sum of its
    modules' eager times;
(d) the Done-when checks of issue 13, for both runtimes: per-module sum / end-to-end median
    (time_coverage, target 0.8-1.25), the share of compiled kernel time attributed to module
    names (target >= 90 %), every costed layer has a measured or a fused-into row, the rows'
    FLOPs add up to the count's total.

Each model runs in a child process of its own, which runs both runtimes and the plain loop,
their order rotating round by round: on a shared machine whose load changes by the minute,
eager and compiled times measured minutes apart could not be compared, so they are measured in
the same rounds (both run the same PyTorch; compiling changes nothing in the eager module). The
library API (:func:`modelprof.measure.profile`) is used, not the CLI. The first compiled
profile compiles (Dynamo reuses its graph in the later rounds): with inductor's on-disk cache
as it is (warm after a first run on this machine), or with ``--cold``, an empty cache folder,
to show a cold compile's time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PYTHON, BenchError, loadavg, log, run_once, table, verdict

MODELS = ("resnet18", "transformer")
#: intra-op threads (``--threads``): 1 by default, because on a shared machine whose other
#: jobs take cores, threads that wait for each other (OpenMP, in eager ATen and in inductor's
#: kernels alike) make 2-thread timings swing 10x: resnet18 measured 27 ms quiet, 250-700 ms busy
THREADS = 1
CHILD_TIMEOUT_S = 900
COVERAGE = (0.8, 1.25)
ATTRIBUTED_MIN = 0.90
#: rows of the eager vs compiled table shown per model (the rest are summed in one line)
TOP = 20


# -- child processes ----------------------------------------------------------------------------


def _plain_loop(module: Any, x: Any, seconds: float) -> list[float]:
    """What a user would write: warm up, then time ``model(x)`` under inference_mode; as many
    runs as fit in ``seconds`` (at least 20), each in microseconds."""
    import torch

    samples: list[float] = []
    with torch.inference_mode():
        for _ in range(10):
            module(x)
        deadline = time.perf_counter() + seconds
        while len(samples) < 20 or time.perf_counter() < deadline:
            t0 = time.perf_counter_ns()
            module(x)
            samples.append((time.perf_counter_ns() - t0) / 1e3)
    return samples


def _iqr(values: Sequence[float]) -> float:
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[2] - q[0]


def _checks(report: Any) -> dict[str, Any]:
    """Issue 13's Done-when figures for one profile."""
    from modelprof.measure.runtimes.torch_compile import OUTSIDE_KERNELS, UNATTRIBUTED

    measured = [row for row in report.layers if not row.folded_into]
    held = {name for row in measured if row.time_us > 0 for name in row.fused_from}
    missing = [
        layer.name
        for layer in report.count.layers
        if layer.name not in held
        and not any(
            row.name == layer.name and row.folded_into not in ("", "(removed by the runtime)")
            for row in report.layers
        )
    ]
    kernels = [row for row in measured if row.runtime_name != OUTSIDE_KERNELS]
    kernel_us = sum(row.time_us for row in kernels)
    unattributed_us = sum(row.time_us for row in kernels if row.runtime_name == UNATTRIBUTED)
    return {
        "coverage": report.time_coverage,
        "overhead": report.profiler_overhead,
        "layer_sum_us": report.layer_time_us,
        "median_us": report.latency_us.median,
        "iqr_us": report.latency_us.iqr,
        "profiled_median_us": report.profiled_latency_us.median,
        "attributed": (kernel_us - unattributed_us) / kernel_us if kernel_us else 0.0,
        "outside_kernels_us": sum(
            row.time_us for row in measured if row.runtime_name == OUTSIDE_KERNELS
        ),
        "missing": missing,
        "costed_layers": len(report.count.layers),
        "row_flops": sum(row.flops for row in report.layers),
        "count_flops": report.count.total.flops,
        "compile_ms": report.compile_ms,
        "notes": list(report.notes),
        "version": report.runtime_version,
        "threads": report.threads,
        "precision": report.precision,
        "samples": report.latency_us.samples,
    }


def _rows(report: Any) -> list[dict[str, Any]]:
    """Each measured row with the module paths it stands for: the scopes of the count layers
    it holds, or (for a module with no costed op) its own path."""
    scope = {layer.name: layer.scope for layer in report.count.layers}
    rows = []
    for row in report.layers:
        if row.folded_into:
            continue
        scopes = sorted({scope[name] for name in row.fused_from if name in scope})
        rows.append(
            {
                "name": row.runtime_name or row.name,
                "time_us": row.time_us,
                "scopes": scopes or [row.runtime_name],
            }
        )
    return rows


def child_model(model: str, rounds: int, seconds: float, threads: int) -> dict[str, Any]:
    """``rounds`` rounds, each of a modelprof eager profile, a plain timing loop and a
    modelprof compiled profile of the same module and input, in an order that rotates round
    by round, so that a change in the machine's load hits all three alike. The first compiled
    profile compiles (its ``compile_ms``); the later ones reuse Dynamo's compiled graph."""
    import torch

    from modelprof.api import build_module
    from modelprof.frontends import zoo
    from modelprof.measure import RunSettings, profile

    torch.set_num_threads(threads)
    module = build_module(model)
    # one input, given by its shape, so the module's own argument name is used
    shape = next(iter(zoo.get(model).input_shapes.values()))
    x = torch.randn(*shape)
    settings = RunSettings(threads=threads, time_budget_s=seconds)
    cases = ("torch", "plain", "torch-compile")
    out: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
    compile_ms: float | None = None
    first_notes: list[str] = []
    for rnd in range(rounds):
        for case in cases[rnd % 3 :] + cases[: rnd % 3]:
            if case == "plain":
                plain = _plain_loop(module, x, seconds)
                out[case].append(
                    {
                        "median_us": statistics.median(plain),
                        "iqr_us": _iqr(plain),
                        "samples": len(plain),
                    }
                )
                continue
            report = profile(module, shape, runtime=case, settings=settings)
            if case == "torch-compile" and compile_ms is None:
                compile_ms = report.compile_ms
                first_notes = list(report.notes)
            out[case].append({**_checks(report), "rows": _rows(report)})
    return {"rounds": out, "compile_ms": compile_ms, "compile_notes": first_notes}


# -- the launcher -------------------------------------------------------------------------------


def _child(args: Sequence[str], what: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    cmd = [PYTHON, __file__, "--child", *args]
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        with tempfile.NamedTemporaryFile(suffix=".out") as out:
            run = run_once(cmd, stdout_path=out.name, timeout=CHILD_TIMEOUT_S)
            text = Path(out.name).read_text(encoding="utf-8", errors="replace")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if run.returncode != 0:
        tail = "\n".join(run.stderr.strip().splitlines()[-15:])
        raise BenchError(f"{what} exited {run.returncode}: {' '.join(cmd)}\n{tail}")
    lines = [line for line in text.splitlines() if line.startswith("{")]
    if not lines:
        raise BenchError(f"{what} printed no result\n{text[-2000:]}")
    doc: dict[str, Any] = json.loads(lines[-1])
    doc["wall_s"] = run.wall_s
    return doc


def _ms(us: float) -> str:
    return f"{us / 1000:.2f}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _med(values: Sequence[float]) -> float:
    return statistics.median(values)


def _spread(values: Sequence[float], fmt: str = "{:.3f}") -> str:
    """The median of per-round values, with their min-max."""
    if len(values) == 1:
        return fmt.format(values[0])
    low, high = fmt.format(min(values)), fmt.format(max(values))
    return f"{fmt.format(_med(values))} ({low} to {high})"


SPECIAL = ("(unattributed)", "(outside kernels)")


def _groups(rounds: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """(c): one group per set of modules that compiled kernels fused together (a module alone
    where no kernel spans it and another), with its eager and compiled time in every round."""
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        while parent.setdefault(a, a) != a:
            a = parent[a]
        return a

    for case in ("torch", "torch-compile"):
        for rnd in rounds[case]:
            for row in rnd["rows"]:
                if row["name"] in SPECIAL:
                    continue
                first, *rest = row["scopes"]
                for other in rest:
                    parent[find(other)] = find(first)
    groups: dict[str, dict[str, Any]] = {}

    def group(key: str) -> dict[str, Any]:
        if key not in groups:
            n = len(rounds["torch"])
            groups[key] = {"scopes": set(), "torch": [0.0] * n, "torch-compile": [0.0] * n}
            groups[key]["kernels"] = set()
        return groups[key]

    for case in ("torch", "torch-compile"):
        for i, rnd in enumerate(rounds[case]):
            for row in rnd["rows"]:
                special = row["name"] in SPECIAL
                g = group(row["name"] if special else find(row["scopes"][0]))
                g["scopes"].update([row["name"]] if special else row["scopes"])
                g[case][i] += row["time_us"]
                if case == "torch-compile":
                    g["kernels"].add(row["name"])
    out = []
    for g in groups.values():
        names = sorted(s or "(top level)" for s in g["scopes"])
        g["label"] = names[0] if len(names) == 1 else f"{names[0]} + {len(names) - 1} more"
        g["members"] = names
        out.append(g)
    out.sort(key=lambda g: -_med(g["torch"]))
    return out


def _speed_table(model: str, rounds: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    groups = _groups(rounds)

    def cells(label: str, eager: Sequence[float], compiled: Sequence[float], n: str) -> list[str]:
        ratios = [e / c for e, c in zip(eager, compiled, strict=True) if e > 0 and c > 0]
        return [
            label,
            f"{_med(eager):.1f}" if any(eager) else "-",
            f"{_med(compiled):.1f}" if any(compiled) else "-",
            n,
            _spread(ratios, "{:.2f}x") if len(ratios) == len(eager) else "-",
        ]

    rows = [
        cells(
            g["label"],
            g["torch"],
            g["torch-compile"],
            str(len(g["kernels"])) if g["kernels"] else "-",
        )
        for g in groups[:TOP]
    ]
    rest = groups[TOP:]
    n = len(rounds["torch"])

    def total(gs: Sequence[dict[str, Any]], case: str) -> list[float]:
        return [sum(g[case][i] for g in gs) for i in range(n)]

    if rest:
        rows.append(
            cells(
                f"({len(rest)} more groups)",
                total(rest, "torch"),
                total(rest, "torch-compile"),
                str(sum(len(g["kernels"]) for g in rest)),
            )
        )
    rows.append(
        cells("sum of the rows", total(groups, "torch"), total(groups, "torch-compile"), "")
    )
    rows.append(
        cells(
            "end-to-end median",
            [r["median_us"] for r in rounds["torch"]],
            [r["median_us"] for r in rounds["torch-compile"]],
            "",
        )
    )
    fused = [g for g in groups[:TOP] if len(g["members"]) > 1]
    legend = [f"  {g['label']}: {', '.join(g['members'])}" for g in fused[:8]]
    return "\n".join(
        [
            table(
                f"(c) {model}: eager vs compiled per module, us (median over {n} rounds; modules "
                "a kernel fused are one group; sorted by eager time)",
                ("module(s)", "eager", "compiled", "kernels", "speed-up: median (min to max)"),
                rows,
            ),
            "  speed-up = eager / compiled time of the same round; '-' where a side has no time",
            *(["  groups:", *legend] if legend else []),
        ]
    )


def _check_rows(model: str, runtime: str, c: Mapping[str, Any]) -> list[list[str]]:
    low, high = COVERAGE
    rows = [
        [
            model,
            runtime,
            "per-module sum / end-to-end median",
            f"{c['coverage']:.3f}",
            f"{low}-{high}",
            verdict(low <= c["coverage"] <= high),
        ],
    ]
    if runtime == "torch-compile":
        rows.append(
            [
                model,
                runtime,
                "compiled kernel time attributed to modules",
                _pct(c["attributed"]),
                f">= {ATTRIBUTED_MIN:.0%}",
                verdict(c["attributed"] >= ATTRIBUTED_MIN),
            ]
        )
    missing = c["missing"]
    rows.append(
        [
            model,
            runtime,
            "costed layers with a measured or fused-into row",
            f"{c['costed_layers'] - len(missing)}/{c['costed_layers']}",
            "all",
            verdict(not missing),
        ]
    )
    rows.append(
        [
            model,
            runtime,
            "row FLOPs sum == count total",
            f"{c['row_flops']:,} / {c['count_flops']:,}",
            "equal",
            verdict(c["row_flops"] == c["count_flops"]),
        ]
    )
    return rows


def _median_round(rounds: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    mid = _med([r["median_us"] for r in rounds])
    return min(rounds, key=lambda r: abs(r["median_us"] - mid))


def bench(models: Sequence[str], rounds: int, seconds: float, cold: bool, threads: int) -> str:
    docs: dict[str, Any] = {}
    for model in models:
        log(f"{model}: {rounds} rounds of modelprof eager, a plain loop, modelprof compiled ...")
        args = [model, str(rounds), f"{seconds:g}", str(threads)]
        if cold:
            with tempfile.TemporaryDirectory(prefix="bench-inductor-") as cache:
                env = {"TORCHINDUCTOR_CACHE_DIR": cache}
                docs[model] = _child(args, f"{model} (cold inductor cache)", env)
        else:
            docs[model] = _child(args, model)

    a_rows, b_rows, check_rows, compile_rows = [], [], [], []
    for model in models:
        r = docs[model]["rounds"]
        eager, plain, compiled = r["torch"], r["plain"], r["torch-compile"]
        ratios = [e["median_us"] / p["median_us"] for e, p in zip(eager, plain, strict=True)]
        a_rows.append(
            [
                model,
                _ms(_med([e["median_us"] for e in eager])),
                _ms(_med([e["iqr_us"] for e in eager])),
                _ms(_med([p["median_us"] for p in plain])),
                _ms(_med([p["iqr_us"] for p in plain])),
                _spread(ratios),
                _ms(_med([c["median_us"] for c in compiled])),
                str(len(eager)),
            ]
        )
        b_rows.append(
            [
                model,
                _spread([100 * e["overhead"] for e in eager], "{:+.1f}%"),
                _ms(_med([e["profiled_median_us"] for e in eager])),
                _ms(_med([e["layer_sum_us"] for e in eager])),
                _spread(
                    [e["layer_sum_us"] / p["median_us"] for e, p in zip(eager, plain, strict=True)]
                ),
                _spread([100 * c["overhead"] for c in compiled], "{:+.1f}%"),
            ]
        )
        check_rows += _check_rows(model, "torch", _median_round(eager))
        check_rows += _check_rows(model, "torch-compile", _median_round(compiled))
        note = next((n for n in docs[model]["compile_notes"] if n.startswith("compiled with")), "")
        found = re.search(r"(\d+) graph\(s\) compiled, (\d+) of them from", note)
        compile_rows.append(
            [
                model,
                "empty (cold)" if cold else "as it is",
                f"{(docs[model]['compile_ms'] or 0) / 1000:.1f}",
                f"{found[1]} compiled, {found[2]} from the cache" if found else "reused",
                _spread([c["attributed"] * 100 for c in compiled], "{:.1f}%"),
                _ms(_med([c["outside_kernels_us"] for c in compiled])),
                f"{docs[model]['wall_s']:.0f}",
            ]
        )

    out = [
        table(
            "(a) end-to-end latency, ms: modelprof --runtime torch vs a plain "
            "torch.inference_mode() loop (same module, input, threads; interleaved)",
            (
                "model",
                "modelprof median",
                "IQR",
                "plain median",
                "IQR",
                "ratio: median (min to max)",
                "compiled median",
                "rounds",
            ),
            a_rows,
        ),
        "  ratio = modelprof's median / the plain loop's median of the same round: a reported",
        "  figure, not a gate (two identical loops differ by up to 40 % on a busy machine).",
        "",
        table(
            "(b) the per-module pass's overhead: medians over rounds, (min to max)",
            (
                "model",
                "eager hooks: hooked / plain pass - 1",
                "hooked median, ms",
                "sum of modules, ms",
                "sum / plain-loop median",
                "compiled: profiler on / off - 1",
            ),
            b_rows,
        ),
        "",
    ]
    for model in models:
        out += [_speed_table(model, docs[model]["rounds"]), ""]
    out.append(
        table(
            "(d) issue 13 Done-when checks (each runtime's round with the median latency)",
            ("model", "runtime", "check", "measured", "target", ""),
            check_rows,
        )
    )
    for model in models:
        for case in ("torch", "torch-compile"):
            missing = _median_round(docs[model]["rounds"][case])["missing"]
            if missing:
                shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
                out.append(f"  {model} {case}: no row for {shown}")
    out += [
        "",
        table(
            "torch.compile: the first call (the compile), and what the kernels cover",
            (
                "model",
                "inductor cache",
                "first call, s",
                "graphs",
                "kernel time attributed",
                "outside kernels, ms",
                "child process, s",
            ),
            compile_rows,
        ),
    ]
    first = _median_round(docs[models[0]]["rounds"]["torch"])
    out.append(
        f"\ntorch {first['version']}, {first['threads']} threads, precision {first['precision']}"
    )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 0.5 s: a smoke run")
    parser.add_argument("--rounds", type=int, help="interleaved eager rounds (default 5; quick 2)")
    parser.add_argument(
        "--time", type=float, metavar="SECONDS", help="seconds per pass (default 2; quick 0.5)"
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="also compile once with an empty inductor cache, to show a cold compile's time",
    )
    parser.add_argument(
        "--models", default=",".join(MODELS), help=f"zoo models (default {','.join(MODELS)})"
    )
    parser.add_argument(
        "--threads", type=int, default=THREADS, help=f"intra-op threads (default {THREADS})"
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        model, rounds, seconds, threads = args.child
        print(json.dumps(child_model(model, int(rounds), float(seconds), int(threads))))
        return 0

    rounds = args.rounds or (2 if args.quick else 5)
    seconds = args.time or (0.5 if args.quick else 2.0)
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    if seconds <= 0:
        parser.error("--time must be positive")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    print(
        f"modelprof profile on PyTorch: {', '.join(models)}; {rounds} rounds, {seconds:g} s per "
        f"pass, {args.threads} thread(s) (this machine has {os.cpu_count()} cores)"
    )
    print(f"load average at start (1/5/15 min): {loadavg()}")
    start = time.perf_counter()
    try:
        text = bench(models, rounds, seconds, args.cold, args.threads)
        failed = False
    except BenchError as exc:
        text = f"FAILED\n{exc}"
        failed = True
    print()
    print(text, flush=True)
    print(
        f"\ntotal benchmark time {time.perf_counter() - start:.0f} s; load average at end: "
        f"{loadavg()} (above {os.cpu_count()} means other jobs shared the cores)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
