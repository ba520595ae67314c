"""``modelprof crosscheck``: one model counted through every route, differences explained."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..shapes import parse_input_shape
from .common import (
    echo_err,
    model_argument,
    progress,
    render_text,
    stdout_console,
    write_atomically,
)


@click.command("crosscheck")
@click.argument("model")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=1x3x224x224")
@click.option(
    "--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True
)
@click.option("-o", "--output", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing output file.")
@click.option("--trust-pickle", is_flag=True, help="Allow loading a pickled .pt model.")
@click.option("-q", "--quiet", is_flag=True)
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
    from ..report import jsondoc
    from ..report.units import human

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
        text = jsondoc.dumps(doc)
        if output:
            write_atomically(output, text, force=force)
        else:
            click.echo(text, nl=False)
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
    if output:
        write_atomically(output, render_text(renderable), force=force)
        if not quiet:
            echo_err(f"wrote {output}")
    elif not quiet:
        stdout_console().print(renderable)
