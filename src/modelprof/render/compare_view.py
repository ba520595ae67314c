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


def render_compare(report: CompareReport) -> RenderableType:
    """One row per model; ratios to the first model; latency columns when profiled."""

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
    return {
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
