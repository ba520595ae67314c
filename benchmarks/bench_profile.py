"""How close ``modelprof profile``'s end-to-end latency is to OpenVINO's own ``benchmark_app``.

Run it from the repository root with the project's venv::

    .venv/bin/python benchmarks/bench_profile.py            # about 3-4 minutes (5 rounds, 2 s)
    .venv/bin/python benchmarks/bench_profile.py --quick    # smoke run, about 1 minute (2 x 1 s)
    .venv/bin/python benchmarks/bench_profile.py --rounds 3 --time 4

For ResNet-18 and MobileNet-V2 from the zoo (exported once to ONNX under ``benchmarks/_work/``,
TorchScript exporter, BatchNorm folded), every round runs, per model, three child processes
one after another (one runtime per process, docs/profile.md):

1. ``modelprof`` on OpenVINO (CPU, f32, latency hint, 2 threads): ``profile()`` on the ONNX file;
2. ``benchmark_app`` on the same ONNX file, same settings, its "Median:" latency parsed;
3. ``modelprof`` on ONNX Runtime (CPU provider, 2 intra-op threads).

Each modelprof child measures end to end for ``--time`` seconds with the profiler off, then
runs as many iterations again with the profiler on (hence time_coverage and profiler overhead).
The table shows medians over rounds of each child's own median, the round-to-round spread, and
the ratio of modelprof's median to benchmark_app's median of the SAME round (for the ONNX Runtime
rows that ratio compares two runtimes: it is labelled "vs benchmark_app (OpenVINO)").

benchmark_app refuses ``-nthreads`` together with ``-hint latency`` (a UI rule of the tool, not of
OpenVINO), so the thread count goes in through ``-load_config`` as ``INFERENCE_NUM_THREADS``,
which is exactly what modelprof sets; ``-ip f32`` keeps the input f32 (benchmark_app makes image
inputs u8 by default, which adds a conversion layer modelprof does not have). The configuration
both sides compiled with is printed, so a gap can be traced to streams, threads or precision.
The expected ratio is within 5 %: a reported figure, not a gate.
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PYTHON, VENV_BIN, BenchError, loadavg, log, run_once, table

WORK = Path(__file__).resolve().parent / "_work" / "profile"
MODELS = ("resnet18", "mobilenet_v2")
THREADS = 2
PRECISION = "f32"
EXPECTED_GAP = 0.05  # modelprof (OpenVINO) / benchmark_app expected within 5 % (reported only)
CHILD_TIMEOUT_S = 300

#: compiled-model properties compared between modelprof and benchmark_app
CONFIG_KEYS = (
    "PERFORMANCE_HINT",
    "NUM_STREAMS",
    "INFERENCE_NUM_THREADS",
    "INFERENCE_PRECISION_HINT",
    "ENABLE_CPU_PINNING",
    "ENABLE_HYPER_THREADING",
    "SCHEDULING_CORE_TYPE",
    "OPTIMAL_NUMBER_OF_INFER_REQUESTS",
)

RUNTIME_LABELS = {
    "openvino": "modelprof, OpenVINO CPU f32",
    "onnxruntime": "modelprof, ONNX Runtime CPU",
}


# -- child processes ----------------------------------------------------------------------------


def child_export(model: str, folder: Path) -> None:
    """Export a zoo model to ``folder/model.onnx`` (run in a child: keeps torch out of here)."""
    from modelprof.measure.preparation import prepare

    folder.mkdir(parents=True, exist_ok=True)
    prepared = prepare(model, None, folder)
    print(json.dumps({"onnx": str(prepared.onnx_path)}))


def child_profile(runtime: str, onnx_path: Path, seconds: float) -> None:
    """One modelprof measurement; prints one JSON object."""
    from modelprof.measure.profiling import profile
    from modelprof.measure.runtimes import RunSettings

    settings = RunSettings(threads=THREADS, precision=PRECISION, time_budget_s=seconds)
    report = profile(str(onnx_path), runtime=runtime, settings=settings)
    lat, prof = report.latency_us, report.profiled_latency_us
    print(
        json.dumps(
            {
                "median_us": lat.median,
                "iqr_us": lat.iqr,
                "samples": lat.samples,
                "profiled_median_us": prof.median,
                "time_coverage": report.time_coverage,
                "profiler_overhead": report.profiler_overhead,
                "version": report.runtime_version,
                "precision": report.precision,
                "threads": report.threads,
            }
        )
    )


def child_ov_config(onnx_path: Path) -> None:
    """The properties of a model compiled with modelprof's own OpenVINO configuration."""
    import openvino as ov

    from modelprof.measure.runtimes import RunSettings
    from modelprof.measure.runtimes.openvino import OpenVINORuntime

    settings = RunSettings(threads=THREADS, precision=PRECISION)
    core = ov.Core()
    compiled = core.compile_model(
        core.read_model(str(onnx_path)),
        "CPU",
        OpenVINORuntime()._config(settings, profiling=False),
    )
    out = {}
    for key in CONFIG_KEYS:
        try:
            out[key] = _config_value(str(compiled.get_property(key)))
        except RuntimeError:
            out[key] = "?"
    out["version"] = ov.get_version()
    print(json.dumps(out))


def _config_value(text: str) -> str:
    """Normalise a property's text: "<Type: 'float32'>" -> float32, "Enum.LATENCY" -> LATENCY."""
    text = text.strip()
    match = re.fullmatch(r"<Type: '(\w+)'>", text)
    if match:
        return match.group(1)
    if re.fullmatch(r"[A-Za-z_]+\.[A-Z_]+", text):
        return text.rsplit(".", 1)[1]
    return text


# -- the launcher -------------------------------------------------------------------------------


def _child_json(cmd: Sequence[str], what: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".out") as out:
        run = run_once(cmd, stdout_path=out.name, timeout=CHILD_TIMEOUT_S)
        text = Path(out.name).read_text(encoding="utf-8", errors="replace")
    if run.returncode != 0:
        tail = "\n".join(run.stderr.strip().splitlines()[-15:])
        raise BenchError(f"{what} exited {run.returncode}: {' '.join(cmd)}\n{tail}")
    lines = [line for line in text.splitlines() if line.startswith("{")]
    if not lines:
        raise BenchError(f"{what} printed no result: {' '.join(cmd)}\n{text[-2000:]}")
    return json.loads(lines[-1])


def ensure_onnx(model: str) -> Path:
    folder = WORK / model
    path = folder / "model.onnx"
    if not path.exists() or path.stat().st_size == 0:
        log(f"exporting {model} to ONNX (once) ...")
        _child_json([PYTHON, __file__, "--export", model, str(folder)], f"export of {model}")
    return path


def benchmark_app_exe() -> str:
    exe = VENV_BIN / "benchmark_app"
    if not exe.exists():
        raise BenchError(f"benchmark_app not found next to {PYTHON} (it comes with openvino)")
    return str(exe)


def benchmark_app_cmd(onnx_path: Path, seconds: int, config_path: Path) -> list[str]:
    return [
        benchmark_app_exe(),
        "-m",
        str(onnx_path),
        "-d",
        "CPU",
        "-hint",
        "latency",
        "-infer_precision",
        PRECISION,
        "-ip",
        "f32",
        "-load_config",
        str(config_path),
        "-t",
        str(seconds),
    ]


@dataclass(frozen=True)
class AppResult:
    median_ms: float
    count: int
    config: dict[str, str]


def parse_benchmark_app(text: str) -> AppResult:
    """The "Median:" latency (ms), the iteration count and the compiled config it printed."""
    medians = re.findall(r"Median:\s+([0-9.]+)\s*ms", text)
    if not medians:
        raise BenchError("no 'Median: ... ms' line in benchmark_app's output:\n" + text[-2000:])
    count = re.search(r"Count:\s+(\d+)\s+iterations", text)
    config = {}
    for key in CONFIG_KEYS:
        match = re.search(rf"^\[ INFO \]\s+{key}:\s+(.+?)\s*$", text, re.MULTILINE)
        if match:
            config[key] = _config_value(match.group(1))
    api = re.search(r"Start inference (a?synchronously)", text)
    if api:
        config["API"] = "sync" if api.group(1) == "synchronously" else "async"
    return AppResult(float(medians[-1]), int(count.group(1)) if count else 0, config)


def run_benchmark_app(cmd: Sequence[str]) -> AppResult:
    with tempfile.NamedTemporaryFile(suffix=".out") as out:
        run = run_once(cmd, stdout_path=out.name, timeout=CHILD_TIMEOUT_S)
        text = Path(out.name).read_text(encoding="utf-8", errors="replace")
    if run.returncode != 0:
        tail = "\n".join((text + run.stderr).strip().splitlines()[-15:])
        raise BenchError(f"benchmark_app exited {run.returncode}: {' '.join(cmd)}\n{tail}")
    return parse_benchmark_app(text)


@dataclass
class Rounds:
    """One case's per-round results."""

    medians_us: list[float] = field(default_factory=list)
    iqrs_us: list[float] = field(default_factory=list)
    coverage: list[float] = field(default_factory=list)
    overhead: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # vs benchmark_app of the same round
    samples: list[int] = field(default_factory=list)
    info: dict = field(default_factory=dict)


def _med(values: Sequence[float]) -> float:
    return statistics.median(values)


def _ms(us: float) -> str:
    return f"{us / 1000:.2f}"


def _range_ms(values_us: Sequence[float]) -> str:
    return f"{min(values_us) / 1000:.2f} - {max(values_us) / 1000:.2f}"


def _ratio_cell(ratios: Sequence[float]) -> str:
    if len(ratios) == 1:
        return f"{ratios[0]:.3f}x"
    return f"{_med(ratios):.3f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def _pct(values: Sequence[float]) -> str:
    return f"{100 * _med(values):.1f}%"


def bench(rounds: int, seconds: int) -> str:
    paths = {model: ensure_onnx(model) for model in MODELS}

    config_path = WORK / "benchmark_app_config.json"
    config_path.write_text(json.dumps({"CPU": {"INFERENCE_NUM_THREADS": str(THREADS)}}) + "\n")

    log("reading modelprof's compiled OpenVINO configuration ...")
    mp_config = _child_json(
        [PYTHON, __file__, "--ov-config", str(paths[MODELS[0]])], "OpenVINO config check"
    )

    results: dict[str, dict[str, Rounds]] = {
        m: {"openvino": Rounds(), "benchmark_app": Rounds(), "onnxruntime": Rounds()}
        for m in MODELS
    }
    app_config: dict[str, str] = {}
    app_cmds = {m: benchmark_app_cmd(paths[m], seconds, config_path) for m in MODELS}
    for rnd in range(rounds):
        for model in MODELS:
            log(f"round {rnd + 1}/{rounds}, {model}: modelprof-ov, benchmark_app, modelprof-ort")
            res = results[model]
            per_round: dict[str, float] = {}
            for case in ("openvino", "benchmark_app", "onnxruntime"):
                if case == "benchmark_app":
                    app = run_benchmark_app(app_cmds[model])
                    app_config = app_config or app.config
                    res[case].medians_us.append(app.median_ms * 1000)
                    res[case].samples.append(app.count)
                    per_round[case] = app.median_ms * 1000
                    continue
                cmd = [PYTHON, __file__, "--child", case, str(paths[model]), f"{seconds:g}"]
                doc = _child_json(cmd, f"modelprof on {case} ({model})")
                r = res[case]
                r.medians_us.append(doc["median_us"])
                r.iqrs_us.append(doc["iqr_us"])
                r.coverage.append(doc["time_coverage"])
                r.overhead.append(doc["profiler_overhead"])
                r.samples.append(doc["samples"])
                r.info = doc
                per_round[case] = doc["median_us"]
            for case in ("openvino", "onnxruntime"):
                res[case].ratios.append(per_round[case] / per_round["benchmark_app"])

    rows = []
    summary = []
    for model in MODELS:
        res = results[model]
        ov, app, ort = res["openvino"], res["benchmark_app"], res["onnxruntime"]
        for case, label in (
            ("openvino", RUNTIME_LABELS["openvino"]),
            ("benchmark_app", "benchmark_app (OpenVINO), reference"),
            ("onnxruntime", RUNTIME_LABELS["onnxruntime"]),
        ):
            r = res[case]
            is_app = case == "benchmark_app"
            rows.append(
                [
                    model,
                    label,
                    _ms(_med(r.medians_us)),
                    "-" if is_app else _ms(_med(r.iqrs_us)),
                    _range_ms(r.medians_us),
                    f"{_med(r.samples):.0f}",
                    "-" if is_app else _pct(r.coverage),
                    "-" if is_app else f"{100 * _med(r.overhead):+.1f}%",
                    "1 (ref)" if is_app else _ratio_cell(r.ratios),
                ]
            )
        gap = _med(ov.ratios) - 1
        summary.append(
            [
                model,
                f"{_med(ov.ratios):.3f}x",
                f"{min(ov.ratios):.3f}x - {max(ov.ratios):.3f}x",
                f"{_med(ov.medians_us) / _med(app.medians_us):.3f}x",
                "yes" if abs(gap) <= EXPECTED_GAP else "no",
                f"{_med(ort.ratios):.3f}x",
            ]
        )

    ov_info = next(iter(results.values()))["openvino"].info
    ort_info = next(iter(results.values()))["onnxruntime"].info
    config_rows = [
        [key, str(mp_config.get(key, "?")), str(app_config.get(key, "?"))]
        for key in (*CONFIG_KEYS, "API")
    ]
    config_rows[-1][1] = "sync (request.infer)"
    mismatched = [
        row[0] for row in config_rows[:-1] if row[1] != row[2] and "?" not in (row[1], row[2])
    ]

    out = [
        table(
            f"End-to-end latency, ms (medians over {rounds} rounds of each process's own median; "
            f"{seconds:g} s per measurement, profiler off)",
            (
                "model",
                "measured by",
                "median",
                "IQR in-run",
                "round medians",
                "n/run",
                "time_coverage",
                "profiler overhead",
                "vs benchmark_app (OpenVINO)",
            ),
            rows,
        ),
        "  'vs benchmark_app (OpenVINO)': median over rounds of (modelprof median / benchmark_app "
        "median of the same round), (min-max);",
        "  for ONNX Runtime rows it compares two runtimes, not modelprof's timing loop.",
        "",
        table(
            f"modelprof (OpenVINO) / benchmark_app: expected within {EXPECTED_GAP:.0%} "
            "(a reported figure, not a gate)",
            (
                "model",
                "median ratio (same round)",
                "min - max",
                "ratio of medians",
                f"within {EXPECTED_GAP:.0%}",
                "ORT / benchmark_app",
            ),
            summary,
        ),
        "",
        table(
            "OpenVINO compiled configuration (modelprof's config vs what benchmark_app printed)",
            ("property", "modelprof", "benchmark_app"),
            config_rows,
        ),
        (
            "  configurations match"
            if not mismatched
            else "  DIFFERENT: " + ", ".join(mismatched) + " (a likely cause of any gap)"
        ),
        "",
        f"versions: OpenVINO {ov_info.get('version', '?')}, ONNX Runtime "
        f"{ort_info.get('version', '?')}; modelprof reported precision "
        f"{ov_info.get('precision', '?')} / {ort_info.get('precision', '?')}, threads "
        f"{ov_info.get('threads', '?')} / {ort_info.get('threads', '?')}",
    ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="2 rounds of 1 s measurements: a smoke run"
    )
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5; quick: 2)")
    parser.add_argument(
        "--time",
        type=int,
        metavar="SECONDS",
        help="whole seconds per measurement (benchmark_app's -t takes integers; default 2, "
        "quick: 1); modelprof then runs as many iterations again with its profiler on",
    )
    parser.add_argument("--export", nargs=2, metavar=("MODEL", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=3, metavar=("RT", "ONNX", "S"), help=argparse.SUPPRESS)
    parser.add_argument("--ov-config", metavar="ONNX", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.export:
        child_export(args.export[0], Path(args.export[1]))
        return 0
    if args.child:
        child_profile(args.child[0], Path(args.child[1]), float(args.child[2]))
        return 0
    if args.ov_config:
        child_ov_config(Path(args.ov_config))
        return 0

    rounds = args.rounds or (2 if args.quick else 5)
    seconds = args.time or (1 if args.quick else 2)
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    if seconds <= 0:
        parser.error("--time must be positive")
    WORK.mkdir(parents=True, exist_ok=True)

    print(
        f"modelprof profile vs benchmark_app: {', '.join(MODELS)}; {rounds} rounds, "
        f"{seconds:g} s per measurement"
    )
    print(
        f"threads fixed to {THREADS} everywhere (this machine has {os.cpu_count()} cores); "
        f"precision {PRECISION}; OpenVINO with the latency hint (1 stream); one runtime per process"
    )
    print(
        "per round and model: modelprof-OpenVINO, benchmark_app, modelprof-ONNX Runtime, "
        "each a fresh process"
    )
    print(
        "benchmark_app: -d CPU -hint latency -infer_precision f32 -ip f32 "
        f"-load_config {{INFERENCE_NUM_THREADS: {THREADS}}} -t {seconds:g} "
        "(-nthreads is refused together with -hint latency)"
    )
    print(f"load average at start (1/5/15 min): {loadavg()}")
    start = time.perf_counter()
    try:
        text = bench(rounds, seconds)
        failed = False
    except BenchError as exc:
        text = f"FAILED\n{exc}"
        failed = True
    print()
    print(text, flush=True)
    print(
        f"\ntotal benchmark time {time.perf_counter() - start:.0f} s; load average at end: "
        f"{loadavg()} (above {THREADS} means other jobs shared the cores)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
