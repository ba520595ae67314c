"""Renderings of ``modelprof crosscheck``: every route's totals, the differences explained,
as rich tables and as the ``kind: "crosscheck"`` JSON document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .fit import HIGH, LOW, MAIN, MID, NAME, fit
from .jsondoc import envelope
from .units import human

if TYPE_CHECKING:
    from ..crosscheck import Crosscheck


#: What a narrow terminal keeps of the two tables (render.fit).
PRIORITIES = {
    "route": NAME,
    "MACs": MAIN,
    "why": MAIN,
    "FLOPs": HIGH,
    "params": HIGH,
    "layers": HIGH,
    "how": MID,
    "coverage": MID,
    "weight B": LOW,
    "buffers": LOW,
}
PROSE = ("how", "why", "layers")


def render_crosscheck(result: Crosscheck) -> RenderableType:
    """Every route's totals, whether MACs agree, and the differences grouped by reason."""
    table = Table(header_style="bold", title=f"{result.model}: every route, same rules")
    for col in ("route", "how", "params", "buffers", "MACs", "FLOPs", "weight B", "coverage"):
        table.add_column(col, justify="left" if col in ("route", "how") else "right")
    for r in result.routes:
        t = r.report.total
        table.add_row(
            r.name,
            r.description,
            human(t.params),
            human(t.buffers),
            human(t.macs),
            human(t.flops),
            human(t.weight_bytes),
            f"{100 * r.report.node_coverage:.1f}%",
        )
    diffs = Table(
        header_style="bold",
        title=f"differences from the {result.routes[0].name} route, grouped by reason "
        "(--format json lists every layer)",
    )
    for col in ("route", "why", "layers", "params", "MACs", "FLOPs"):
        diffs.add_column(
            col,
            justify="right" if col in ("params", "MACs", "FLOPs") else "left",
            overflow="fold",
        )
    for route, reason, scopes, params, macs, flops in result.grouped():
        shown = ", ".join(s or "(top level)" for s in scopes[:3])
        if len(scopes) > 3:
            shown += f" and {len(scopes) - 3} more"
        diffs.add_row(
            route, reason, f"{len(scopes)}: {shown}", f"{params:+,}", f"{macs:+,}", f"{flops:+,}"
        )
    verdict = Text()
    verdict.append(
        "MACs agree across all routes"
        if result.macs_agree
        else "MACs DIFFER between routes (see the scopes below)",
        style="green" if result.macs_agree else "red",
    )
    for note in result.notes:
        verdict.append(f"\nnote: {note}", style="cyan")
    fitted = fit(table, PRIORITIES, prose=PROSE)
    if not result.differences:
        return Group(fitted, verdict)
    return Group(fitted, verdict, fit(diffs, PRIORITIES, prose=PROSE))


def crosscheck_document(result: Crosscheck) -> dict[str, Any]:
    """The ``kind: "crosscheck"`` document (docs/schema.md)."""
    return {
        **envelope("crosscheck"),
        "model": result.model,
        "macs_agree": result.macs_agree,
        "routes": [
            {
                "route": r.name,
                "description": r.description,
                "params": r.report.total.params,
                "buffers": r.report.total.buffers,
                "macs": r.report.total.macs,
                "flops": r.report.total.flops,
                "weight_bytes": r.report.total.weight_bytes,
                "node_coverage": r.report.node_coverage,
            }
            for r in result.routes
        ],
        "differences": [
            {
                "route": d.route,
                "scope": d.scope,
                "params": d.params,
                "macs": d.macs,
                "flops": d.flops,
                "reason": d.reason,
            }
            for d in result.differences
        ],
        "notes": list(result.notes),
    }
