"""Renderings of a throughput-mode profile: the rich table and the JSON document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .fit import HIGH, LEAST, LOW, MAIN, MID, NAME, fit
from .jsondoc import envelope
from .units import duration, human

if TYPE_CHECKING:
    from ..measure.throughput_mode import ThroughputPoint, ThroughputReport


#: What a narrow terminal keeps of the table (render.fit): the point and its throughput.
PRIORITIES = {
    "batch": NAME,
    "streams": MAIN,
    "throughput": MAIN,
    "latency median": HIGH,
    "latency p90": MID,
    "requests": LOW,
    "GFLOP/s": LOW,
    "input shapes": LOW,
    "inferences": LEAST,
    "elapsed": LEAST,
}


def render_throughput(report: ThroughputReport) -> RenderableType:
    """The throughput header, one row per (batch, streams) point, and for a sweep the
    batch x streams FPS grid (DL Workbench's group-inference view)."""
    budget = (
        f"{report.iterations} inferences per point"
        if report.iterations is not None
        else f"{report.time_budget_s:g} s per point"
    )
    header = Text()
    header.append(report.model, style="bold")
    header.append(
        f"  throughput mode, {report.runtime} {report.runtime_version} on {report.device}, "
        f"precision {report.precision}, {report.threads} threads, {budget}",
        style="dim",
    )
    best = report.best
    table = Table(header_style="bold", caption="FPS = batch x inferences / elapsed")
    for title, justify in (
        ("batch", "right"),
        ("streams", "right"),
        ("requests", "right"),
        ("throughput", "right"),
        ("latency median", "right"),
        ("latency p90", "right"),
        ("inferences", "right"),
        ("elapsed", "right"),
        ("GFLOP/s", "right"),
        ("input shapes", "left"),
    ):
        table.add_column(title, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for point in report.points:
        shapes = ", ".join("x".join(map(str, shape)) for shape in point.input_shapes.values())
        table.add_row(
            str(point.batch),
            (str(point.streams) if point.streams else "?")
            + ("" if point.requested_streams else " (auto)"),
            str(point.requests),
            f"{point.fps:,.1f} FPS",
            duration(point.latency_us.median),
            duration(point.latency_us.p90),
            human(point.completed),
            f"{point.elapsed_s:.2f} s",
            f"{point.gflops_per_s:.2f}",
            shapes,
            style="bold green" if point is best and len(report.points) > 1 else None,
        )
    parts: list[RenderableType] = [header, fit(table, PRIORITIES)]
    if len(report.batches) > 1 and len(report.streams) > 1:
        grid = Table(title="FPS by batch and streams", header_style="bold")
        grid.add_column("batch \\ streams", justify="right")
        for streams in report.streams:
            grid.add_column(str(streams), justify="right")
        for batch in report.batches:
            cells = []
            for streams in report.streams:
                cell = report.point(batch, streams)
                cells.append(f"{cell.fps:,.1f}" if cell else "-")
            grid.add_row(str(batch), *cells)
        parts.append(fit(grid, {"batch \\ streams": NAME}, default=MAIN))
    footer = Text()
    footer.append(
        f"best: batch {best.batch}, {best.streams} streams, {best.fps:,.1f} FPS", style="bold"
    )
    for note in report.notes:
        footer.append(f"\nnote: {note}", style="cyan")
    parts.append(footer)
    return Group(*parts)


def point_document(point: ThroughputPoint) -> dict[str, Any]:
    return {
        "batch": point.batch,
        "streams": point.streams,
        "requested_streams": point.requested_streams,
        "requests": point.requests,
        "fps": round(point.fps, 3),
        "completed": point.completed,
        "elapsed_s": round(point.elapsed_s, 6),
        "latency_us": point.latency_us.to_dict(),
        "samples": point.latency_us.samples,
        "samples_us": [round(t, 3) for t in point.samples_us],
        "input_shapes": {name: list(shape) for name, shape in point.input_shapes.items()},
        "flops": point.flops,
        "gflops_per_s": round(point.gflops_per_s, 3),
        "compile_ms": round(point.compile_ms, 3),
    }


def throughput_document(report: ThroughputReport) -> dict[str, Any]:
    """The ``kind: "profile"``, ``mode: "throughput"`` document (docs/schema.md)."""
    best = report.best
    return {
        **envelope("profile", "throughput"),
        "model": report.model,
        "runtime": report.runtime,
        "runtime_version": report.runtime_version,
        "device": report.device,
        "precision": report.precision,
        "threads": report.threads,
        "time_budget_s": report.time_budget_s,
        "iterations": report.iterations,
        "sweep_name": report.sweep,
        "best": {"batch": best.batch, "streams": best.streams, "fps": round(best.fps, 3)},
        "sweep": [point_document(p) for p in report.points],
        "notes": list(report.notes),
    }
