"""Renderings of ``modelprof diff``: the rich table, the Markdown table (for a pull-request
comment) and the ``kind: "diff"`` JSON document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..diffing import LAYER_METRICS, LayerDiff, ReportDiff, Side, TotalDiff
from .fit import HIGH, LOW, MAIN, MID, NAME, fit
from .jsondoc import envelope
from .units import human

LABELS = {
    "params": "params",
    "buffers": "buffers",
    "macs": "MACs",
    "flops": "FLOPs",
    "weight_bytes": "weight bytes",
    "activation_bytes": "activation bytes",
    "peak_activation_bytes": "peak activation bytes",
}
MARKS = {"removed": "-", "added": "+", "changed": "~", "same": "="}
#: What a narrow terminal keeps of the per-layer table (render.fit): MACs and their change.
PRIORITIES = {
    "": NAME,
    "layer": NAME,
    "MACs": MAIN,
    "Δ MACs": MAIN,
    "params": HIGH,
    "Δ params": HIGH,
    "FLOPs": MID,
    "Δ FLOPs": MID,
    "op": LOW,
}


def select_rows(diff: ReportDiff, show_all: bool, sort: str, top: int | None) -> list[LayerDiff]:
    """The layers a table shows: changed ones (all with ``show_all``), in model order or by
    the largest change of ``sort`` first, the ``top`` first."""
    rows = [r for r in diff.layers if show_all or r.status != "same"]
    if sort != "order":
        rows.sort(key=lambda r: -abs(r.delta(sort)))
    if top:
        rows = rows[:top]
    return rows


def _signed(value: int, unit: str = "") -> str:
    if value == 0:
        return f"0 {unit}".strip()
    return f"{'+' if value > 0 else '-'}{human(abs(value), unit)}"


def _ratio(t: TotalDiff) -> str:
    if t.ratio is None:
        return ""
    return f"{t.ratio:.2f}x" if t.ratio >= 0.01 else f"{t.ratio:.2g}x"


def _cell(row: LayerDiff, metric: str) -> str:
    if row.status == "added":
        return human(row.value("b", metric))
    if row.status == "removed":
        return human(row.value("a", metric))
    va, vb = row.value("a", metric), row.value("b", metric)
    return human(vb) if va == vb else f"{human(va)} -> {human(vb)}"


def _op(row: LayerDiff) -> str:
    if row.op_a and row.op_b and row.op_a != row.op_b:
        return f"{row.op_a} -> {row.op_b}"
    return row.op_b or row.op_a or ""


def _summary(diff: ReportDiff) -> list[str]:
    parts = []
    for status, word in (("added", "added"), ("removed", "removed"), ("changed", "changed")):
        names = [r.name for r in diff.by_status(status)]
        if names:
            shown = ", ".join(names[:8]) + (
                f", ... ({len(names) - 8} more)" if len(names) > 8 else ""
            )
            parts.append(f"{len(names)} {word} ({shown})")
    same = len(diff.by_status("same"))
    if same:
        parts.append(f"{same} unchanged")
    return parts or ["no layers"]


def render_diff(diff: ReportDiff, rows: list[LayerDiff], show_all: bool) -> RenderableType:
    """The terminal rendering: header, per-layer table, totals, notes."""
    header = Text()
    for label, side in (("A", diff.a), ("B", diff.b)):
        header.append(f"{label} ", style="bold")
        described = side.source if side.model == side.ref else f"{side.model}, {side.source}"
        header.append(f"{side.ref}  ({described})" + ("\n" if label == "A" else ""))

    table = Table()
    table.add_column("", no_wrap=True)  # status mark
    table.add_column("layer", no_wrap=True)
    table.add_column("op", no_wrap=True)
    for metric in LAYER_METRICS:
        table.add_column(LABELS[metric], justify="right", no_wrap=True)
        table.add_column(f"Δ {LABELS[metric]}", justify="right", no_wrap=True)
    styles = {"removed": "red", "added": "green", "changed": "yellow", "same": "dim"}
    for row in rows:
        cells = [MARKS[row.status], row.name, _op(row)]
        for metric in LAYER_METRICS:
            cells += [_cell(row, metric), _signed(row.delta(metric))]
        table.add_row(*cells, style=styles[row.status])
    if rows:
        table.add_section()
    total_cells = ["", "total", ""]
    for metric in LAYER_METRICS:
        try:
            t = diff.total(metric)
        except KeyError:
            total_cells += ["", ""]
            continue
        values = human(t.b) if t.a == t.b else f"{human(t.a)} -> {human(t.b)}"
        total_cells += [values, _signed(t.delta)]
    table.add_row(*total_cells, style="bold")

    lines = Text()
    lines.append("layers: " + "; ".join(_summary(diff)))
    if not show_all and diff.by_status("same"):
        lines.append(" (--all lists unchanged layers)")
    for t in diff.totals:
        if t.metric == "activation_bytes" or (t.metric == "buffers" and not (t.a or t.b)):
            continue
        unit = "B" if t.metric.endswith("bytes") else ""
        ratio = _ratio(t)
        lines.append(
            f"\n{LABELS[t.metric]}: {human(t.a, unit)} -> {human(t.b, unit)} "
            f"({_signed(t.delta, unit)}{', ' + ratio if ratio and t.delta else ''})"
        )
    for note in diff.notes:
        lines.append(f"\nnote: {note}", style="italic")
    return Group(header, fit(table, PRIORITIES), lines)


def to_markdown(diff: ReportDiff, rows: list[LayerDiff]) -> str:
    """A Markdown table (for a pull-request comment)."""
    heads = " | ".join(f"{LABELS[m]} | Δ {LABELS[m]}" for m in LAYER_METRICS)
    out = [
        f"# diff: {diff.a.model} -> {diff.b.model}",
        "",
        f"- A: `{diff.a.ref}` ({diff.a.source})",
        f"- B: `{diff.b.ref}` ({diff.b.source})",
        f"- layers: {'; '.join(_summary(diff))}",
        "",
        f"| | layer | op | {heads} |",
        "|---|---|---|" + "--:|--:|" * len(LAYER_METRICS),
    ]
    for row in rows:
        cells = [MARKS[row.status], f"`{row.name}`", _op(row)]
        for metric in LAYER_METRICS:
            cells += [_cell(row, metric), _signed(row.delta(metric))]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "| total | A | B | Δ | B / A |", "|---|--:|--:|--:|--:|"]
    for t in diff.totals:
        unit = "B" if t.metric.endswith("bytes") else ""
        out.append(
            f"| {LABELS[t.metric]} | {human(t.a, unit)} | {human(t.b, unit)} | "
            f"{_signed(t.delta, unit)} | {_ratio(t)} |"
        )
    if diff.notes:
        out += ["", *[f"> {note}" for note in diff.notes]]
    return "\n".join(out) + "\n"


def diff_document(diff: ReportDiff) -> dict[str, Any]:
    """The ``kind: "diff"`` JSON document."""

    def side(s: Side) -> dict[str, Any]:
        return {
            "ref": s.ref,
            "model": s.model,
            "source": s.source,
            "count_bias": s.count_bias,
            "node_coverage": s.node_coverage,
            "unsupported": dict(s.unsupported),
        }

    def figures(f: Mapping[str, int] | None) -> dict[str, int] | None:
        return dict(f) if f is not None else None

    return {
        **envelope("diff"),
        "a": side(diff.a),
        "b": side(diff.b),
        "totals": {
            t.metric: {
                "a": t.a,
                "b": t.b,
                "delta": t.delta,
                "ratio": None if t.ratio is None else round(t.ratio, 6),
            }
            for t in diff.totals
        },
        "layers": [
            {
                "name": layer.name,
                "status": layer.status,
                "op_a": layer.op_a,
                "op_b": layer.op_b,
                "a": figures(layer.a),
                "b": figures(layer.b),
                "delta": {metric: layer.delta(metric) for metric in LAYER_METRICS},
            }
            for layer in diff.layers
        ],
        "added": [layer.name for layer in diff.by_status("added")],
        "removed": [layer.name for layer in diff.by_status("removed")],
        "changed": [layer.name for layer in diff.by_status("changed")],
        "unchanged": len(diff.by_status("same")),
        "notes": list(diff.notes),
    }
