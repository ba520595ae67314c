"""Renderings of ``modelprof compare``: the side-by-side rich table and the JSON document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .fit import HIGH, LEAST, LOW, MAIN, MID, NAME, fit
from .jsondoc import envelope
from .units import duration, human

if TYPE_CHECKING:
    from ..measure.comparison import CompareReport
    from ..measure.profilereport import ProfileReport


#: What a narrow terminal keeps of the comparison (render.fit).
PRIORITIES = {
    "model": NAME,
    "MACs": MAIN,
    "latency median": MAIN,
    "params": HIGH,
    "FLOPs": HIGH,
    "FLOPs vs first": HIGH,
    "latency vs first": HIGH,
    "IQR": MID,
    "peak act. mem": LOW,
    "min": LOW,
    "samples": LEAST,
}


#: What a narrow terminal keeps of one model on several runtimes.
RUNTIME_PRIORITIES = {
    "runtime": NAME,
    "latency median": MAIN,
    "latency vs first": MAIN,
    "IQR": HIGH,
    "precision": HIGH,
    "threads": MID,
    "min": MID,
    "compile": LOW,
    "FLOPs": LOW,
    "version": LEAST,
    "samples": LEAST,
}


def render_compare(report: CompareReport) -> RenderableType:
    """One row per model; ratios to the first model; latency columns when profiled. One model
    on several runtimes: one row per runtime, then its per-layer times by module scope."""
    if report.by == "runtime":
        return _render_by_runtime(report)

    def times(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}x"

    table = Table(header_style="bold")
    table.add_column("model", overflow="fold", max_width=40)
    for title in ("params", "MACs", "FLOPs", "FLOPs vs first", "peak act. mem"):
        table.add_column(title, justify="right", no_wrap=True)
    if report.profiled:
        for title in ("latency median", "IQR", "min", "latency vs first", "samples"):
            table.add_column(title, justify="right", no_wrap=True)
    for index, model in enumerate(report.models):
        total = model.count.total
        cells = [
            model.label,
            human(total.params),
            human(total.macs),
            human(total.flops),
            times(report.flops_ratio(index)),
            human(total.peak_activation_bytes, "B"),
        ]
        if report.profiled and model.latency_us is not None:
            lat = model.latency_us
            cells += [
                duration(lat.median),
                duration(lat.iqr),
                duration(lat.min),
                times(report.latency_ratio(index)),
                str(lat.samples),
            ]
        table.add_row(*cells)
    parts: list[RenderableType] = []
    if report.profiled:
        header = Text()
        header.append("latency ", style="dim")
        header.append(
            f"{report.runtime} {report.runtime_version} on {report.device}, precision "
            f"{report.precision}, {report.threads} threads: {report.rounds} rounds x "
            f"{report.iterations} runs per model, interleaved, one process per model"
        )
        parts.append(header)
    parts.append(fit(table, PRIORITIES))
    footer = Text()
    footer.append("ratios are to the first model", style="dim")
    for note in report.notes:
        footer.append(f"\nnote: {note}", style="cyan")
    parts.append(footer)
    return Group(*parts)


def compare_document(report: CompareReport) -> dict[str, Any]:
    """The ``kind: "compare"`` document (docs/schema.md)."""

    def ratio(value: float | None) -> float | None:
        return None if value is None else round(value, 6)

    models = []
    for index, model in enumerate(report.models):
        total = model.count.total
        models.append(
            {
                "model": model.label,
                "source": model.count.source,
                "inputs": [
                    {"name": i.name, "shape": list(i.shape), "dtype": i.dtype}
                    for i in model.count.inputs
                ],
                "params": total.params,
                "buffers": total.buffers,
                "macs": total.macs,
                "flops": total.flops,
                "weight_bytes": total.weight_bytes,
                "peak_activation_bytes": total.peak_activation_bytes,
                "macs_ratio": ratio(report.macs_ratio(index)),
                "flops_ratio": ratio(report.flops_ratio(index)),
                "node_coverage": round(model.count.node_coverage, 6),
                "latency_us": None if model.latency_us is None else model.latency_us.to_dict(),
                "latency_ratio": ratio(report.latency_ratio(index)),
                "samples": len(model.samples_us),
                "samples_us": [round(t, 3) for t in model.samples_us],
                "pid": model.pid,
                "compile_ms": None if model.compile_ms is None else round(model.compile_ms, 3),
            }
        )
        if report.by == "runtime":
            models[-1].update(
                runtime=model.runtime,
                runtime_version=model.runtime_version,
                precision=model.precision,
                threads=model.threads,
                per_layer=None if model.layers is None else _per_layer(model.layers),
            )
    document: dict[str, Any] = {
        **envelope("compare"),
        "models": models,
        "profile": None
        if not report.profiled
        else {
            "runtime": report.runtime,
            "runtime_version": report.runtime_version,
            "device": report.device,
            "precision": report.precision,
            "threads": report.threads,
            "rounds": report.rounds,
            "iterations": report.iterations,
            "warmup": report.warmup,
            "schedule": [
                {
                    "round": b.round,
                    "model": b.model,
                    "pid": b.pid,
                    "start_s": round(b.start_s, 6),
                    "end_s": round(b.end_s, 6),
                    "samples": len(b.samples_us),
                }
                for b in report.schedule
            ],
        },
        "notes": list(report.notes),
    }
    if report.by == "runtime":
        # one model on several runtimes: each entry has its runtime, and the layers by scope
        document["by"] = "runtime"
        document["scopes"] = [
            {
                "scope": row.scope,
                "flops": row.flops,
                "time_us": {
                    m.label: None if t is None else round(t, 3)
                    for m, t in zip(report.models, row.times_us, strict=True)
                },
                "fused_into": {
                    m.label: into for m, into in zip(report.models, row.fused_into, strict=True)
                },
            }
            for row in report.scopes
        ]
    return document


def _render_by_runtime(report: CompareReport) -> RenderableType:
    def times(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}x"

    table = Table(header_style="bold")
    table.add_column("runtime", overflow="fold", max_width=30)
    for title in ("version", "precision", "threads", "FLOPs", "compile"):
        table.add_column(title, justify="right", no_wrap=True)
    for title in ("latency median", "IQR", "min", "latency vs first", "samples"):
        table.add_column(title, justify="right", no_wrap=True)
    for index, entry in enumerate(report.models):
        lat = entry.latency_us
        table.add_row(
            entry.label,
            entry.runtime_version or "-",
            entry.precision or "-",
            "-" if entry.threads is None else str(entry.threads),
            human(entry.count.total.flops),
            duration(entry.compile_ms * 1e3) if entry.compile_ms else "-",
            "-" if lat is None else duration(lat.median),
            "-" if lat is None else duration(lat.iqr),
            "-" if lat is None else duration(lat.min),
            times(report.latency_ratio(index)),
            "-" if lat is None else str(lat.samples),
        )
    model = report.models[0].count.model if report.models else ""
    header = Text()
    header.append("latency ", style="dim")
    header.append(
        f"{model} on {len(report.models)} runtimes, {report.device}: {report.rounds} rounds x "
        f"{report.iterations} runs per runtime, interleaved, one process per runtime"
    )
    parts: list[RenderableType] = [header, fit(table, RUNTIME_PRIORITIES)]
    if report.scopes:
        parts.append(
            Text(
                "per-layer time by runtime (median per run, rows matched by module "
                "scope; 'in X': fused into X's row)",
                style="dim",
            )
        )
        parts.append(_scope_table(report))
    footer = Text()
    footer.append("ratios are to the first runtime", style="dim")
    for note in report.notes:
        footer.append(f"\nnote: {note}", style="cyan")
    parts.append(footer)
    return Group(*parts)


def _scope_table(report: CompareReport) -> RenderableType:
    table = Table(header_style="bold")
    table.add_column("module", overflow="fold", max_width=48)
    table.add_column("FLOPs", justify="right", no_wrap=True)
    labels = [entry.label for entry in report.models]
    for label in labels:
        table.add_column(label, justify="right", no_wrap=True)
    totals = [0.0] * len(labels)
    for row in report.scopes:
        cells = [row.scope, human(row.flops) if row.flops else ""]
        for index, (time_us, into) in enumerate(zip(row.times_us, row.fused_into, strict=True)):
            if time_us is not None:
                totals[index] += time_us
                cells.append(duration(time_us))
            else:
                cells.append(f"in {into}" if into else "-")
        table.add_row(*cells)
    table.add_section()
    table.add_row("sum of rows", "", *(duration(t) for t in totals))
    ends = [
        "-" if entry.layers is None else duration(entry.layers.latency_us.median)
        for entry in report.models
    ]
    table.add_row("end to end (per-layer pass's run)", "", *ends)
    priorities = {"module": NAME, "FLOPs": LOW, **dict.fromkeys(labels, MAIN)}
    return fit(table, priorities)


def _per_layer(layers: ProfileReport) -> dict[str, Any]:
    """A runtime's per-layer pass in a ``compare`` document: its two end-to-end figures and
    how much of the time its rows cover; the rows themselves are under ``scopes``."""
    return {
        "latency_us": layers.latency_us.to_dict(),
        "profiled_latency_us": layers.profiled_latency_us.to_dict(),
        "iterations": layers.iterations,
        "time_coverage": round(layers.time_coverage, 6),
        "compile_ms": round(layers.compile_ms, 3),
    }
