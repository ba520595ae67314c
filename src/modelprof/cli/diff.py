"""``modelprof diff A B``: per-layer and total differences between two count reports or models.

A and B are each a count report (the JSON ``modelprof count --format json`` writes; a
``profile`` report's nested count works too) or anything ``modelprof count`` accepts (a file,
a factory spec, a zoo name), counted on the spot with the same ``--input-shape``. A diff is
information, so it exits 0 whatever it finds; bad input exits 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..diffing import LAYER_METRICS, DiffInputError, LayerDiff, ReportDiff, TotalDiff
from ..render.units import human
from ..shapes import parse_input_shape
from . import options
from .common import check_outputs, emit

FORMATS = ("table", "json", "md")
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


@click.command("diff")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@options.input_shape_option
@options.report_options(*FORMATS)
@click.option("--all", "show_all", is_flag=True, help="List unchanged layers too (tables).")
@click.option(
    "--sort",
    type=click.Choice(("order", "flops", "macs", "params")),
    default="order",
    show_default=True,
    help="Row order: model order, or the largest change of a figure first.",
)
@click.option("--top", type=click.IntRange(min=0), help="Show the N first rows (0: all).")
@options.count_bias_option
@options.rules_option
@options.quiet_option
@click.pass_context
def diff_command(
    ctx: click.Context,
    a: str,
    b: str,
    input_shapes: tuple[str, ...],
    fmt: str,
    output: str | None,
    force: bool,
    show_all: bool,
    sort: str,
    top: int | None,
    count_bias: bool,
    rules: tuple[str, ...],
    quiet: bool,
) -> None:
    """Per-layer differences (params, MACs, FLOPs) between A and B, layers matched by name.

    A and B are count reports (modelprof count MODEL --format json -o A.json) or models
    (an .onnx file, file.py:factory, a zoo name...); --input-shape, --count-bias and --rules
    apply to whichever is a model, and are refused when both are reports. Layers only in A
    are listed as removed, only in B as added. Exit status 0 (a diff is information), 2 on
    bad input.
    """
    from .._version import __version__
    from ..api import load_rules
    from ..diffing import diff_document, diff_documents

    options.refuse_unless(
        ctx,
        fmt != "json",
        ("show_all", "sort", "top"),
        "--format table or md (JSON has every layer)",
    )
    options.refuse_unless(
        ctx,
        not (_looks_like_json(Path(a)) and _looks_like_json(Path(b))),
        ("input_shapes", "count_bias", "rules"),
        "a model as A or B (saved reports are not counted again)",
    )
    check_outputs(output, force=force)
    specs = [parse_input_shape(s) for s in input_shapes]
    for path in rules:
        load_rules(path)
    doc_a = _load(a, specs, count_bias)
    doc_b = _load(b, specs, count_bias)
    diff = diff_documents(doc_a, doc_b, ref_a=a, ref_b=b)

    document: RenderableType
    if fmt == "json":
        document = json.dumps(diff_document(diff, __version__), indent=2) + "\n"
    elif fmt == "md":
        document = to_markdown(diff, _rows(diff, show_all, sort, top))
    else:
        document = render(diff, _rows(diff, show_all, sort, top), show_all)
    emit(document, output=output, force=force, quiet=quiet)


def _load(ref: str, specs: list[Any], count_bias: bool) -> dict[str, Any]:
    """The count document of ``ref``: read from a saved report, or counted now."""
    from ..diffing import count_document_of

    path = Path(ref)
    if _looks_like_json(path):
        if not path.is_file():
            raise DiffInputError(f"no such file: {path}")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DiffInputError(
                f"{path}: not a JSON document ({exc.msg} at line {exc.lineno})"
            ) from None
        except UnicodeDecodeError:
            raise DiffInputError(f"{path}: not a JSON document (not UTF-8 text)") from None
        except OSError as exc:
            raise DiffInputError(f"cannot read {path}: {exc.strerror}") from None
        return count_document_of(doc, ref)
    from ..api import count
    from ..render.jsondoc import count_document

    return count_document(count(ref, specs or None, count_bias=count_bias))


def _looks_like_json(path: Path) -> bool:
    if path.suffix.lower() == ".json":
        return True
    if path.suffix.lower() in (".onnx", ".xml", ".py", ".keras", ".h5") or not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(64).lstrip()
    except OSError:
        return False
    return head.startswith(b"{")


def _rows(diff: ReportDiff, show_all: bool, sort: str, top: int | None) -> list[LayerDiff]:
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


def render(diff: ReportDiff, rows: list[LayerDiff], show_all: bool) -> RenderableType:
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
    return Group(header, table, lines)


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
