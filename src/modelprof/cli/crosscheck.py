"""``modelprof crosscheck``: one model counted through every route, differences explained."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..shapes import parse_input_shape
from . import options
from .common import check_outputs, emit, model_argument, progress


@click.command("crosscheck")
@click.argument("model")
@options.input_shape_option
@options.report_options("table", "json")
@options.trust_pickle_option
@options.quiet_option
def crosscheck_command(
    model: str,
    input_shapes: tuple[str, ...],
    fmt: str,
    output: str | None,
    force: bool,
    trust_pickle: bool,
    quiet: bool,
) -> None:
    """Count MODEL through every route (PyTorch, ONNX export, OpenVINO conversion, IR) and
    explain every difference per module scope."""
    from ..crosscheck import crosscheck
    from ..render import jsondoc
    from ..render.units import human

    check_outputs(output, force=force)
    specs = [parse_input_shape(s) for s in input_shapes]
    with progress(f"converting {model} through every route...", quiet=quiet):
        result = crosscheck(model_argument(model, trust_pickle), specs or None)
    if fmt == "json":
        doc: dict[str, Any] = {
            "schema_version": 1,
            "kind": "crosscheck",
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
        emit(jsondoc.dumps(doc), output=output, force=force, quiet=quiet)
        return
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
    renderable = Group(table, verdict, diffs) if result.differences else Group(table, verdict)
    emit(renderable, output=output, force=force, quiet=quiet)
