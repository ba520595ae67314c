"""Renderings of ``modelprof optimize``: one row per step of the chain, and the
``kind: "optimize"`` JSON document (docs/schema.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .fit import MAIN, NAME, fit
from .jsondoc import count_document, envelope
from .units import duration, human, percent

if TYPE_CHECKING:
    from ..rewrite.optimize import OptimizeResult


def optimize_document(result: OptimizeResult) -> dict[str, Any]:
    """The ``kind: "optimize"`` document: ``steps``, each a ``count`` document with ``step``,
    ``file_bytes``, ``accuracy``, ``latency_us``, ``saved`` and ``detail`` added."""
    steps = []
    for step in result.steps:
        doc = count_document(step.count)
        doc["step"] = step.name
        doc["file_bytes"] = step.file_bytes
        doc["accuracy"] = step.accuracy
        doc["latency_us"] = (
            {"median": step.latency_us.median, "iqr": step.latency_us.iqr}
            if step.latency_us is not None
            else None
        )
        doc["saved"] = step.saved
        doc["detail"] = step.detail
        steps.append(doc)
    return {
        **envelope("optimize"),
        "model": result.model,
        "finetune": result.finetune,
        "runtime": result.runtime,
        "runtime_version": result.runtime_version,
        "threads": result.threads,
        "steps": steps,
        "notes": list(result.notes),
    }


def render_optimize(result: OptimizeResult) -> RenderableType:
    """One row per step: params, MACs, weight bytes, file bytes, latency, accuracy."""
    first = result.steps[0]
    table = Table(header_style="bold")
    for col in ("step", "params", "MACs", "weight bytes", "file bytes", "latency", "accuracy"):
        table.add_column(col, justify="left" if col == "step" else "right")
    for step in result.steps:
        latency = "-"
        if step.latency_us is not None:
            latency = f"{duration(step.latency_us.median)} (IQR {duration(step.latency_us.iqr)})"
        accuracy = "-"
        if step.accuracy is not None:
            accuracy = percent(step.accuracy)
            if first.accuracy is not None and step is not first:
                accuracy += f" ({100 * (step.accuracy - first.accuracy):+.1f} pt)"
        table.add_row(
            step.name,
            human(step.count.total.params),
            human(step.count.total.macs),
            human(step.count.total.weight_bytes),
            human(step.file_bytes),
            latency,
            accuracy,
        )
    title = Text()
    title.append(result.model, style="bold")
    title.append(
        f"  {' -> '.join(s.name for s in result.steps)}"
        + (f"; fine-tuned on {result.finetune}" if result.finetune else "")
        + "\n",
        style="dim",
    )
    footer = Text()
    last, base = result.final, first
    if base.count.total.macs:
        footer.append(
            f"{last.name}: MACs x{last.count.total.macs / base.count.total.macs:.3f}, weight "
            f"bytes x{last.count.total.weight_bytes / max(base.count.total.weight_bytes, 1):.3f}"
        )
        if last.latency_us is not None and base.latency_us is not None and last.latency_us.median:
            footer.append(
                f", {base.latency_us.median / last.latency_us.median:.2f}x faster on "
                f"{result.runtime} ({result.threads} threads, interleaved)"
            )
        footer.append("\n")
    for step in result.steps:
        if step.detail:
            footer.append(f"{step.name}: {step.detail}\n")
        if step.saved:
            footer.append(f"{step.name}: saved {step.saved}\n")
    for note in result.notes:
        footer.append(f"note: {note}\n", style="cyan")
    return Group(title, fit(table, {"step": NAME}, default=MAIN), footer)
