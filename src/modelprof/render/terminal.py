"""Rich renderables for a count report: per-layer table, scope or op-type roll-ups, summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..costreport import Convention, CostReport, GroupCost, LayerCost
from .fit import HIGH, LEAST, LOW, MAIN, MID, NAME, FittedTable, fit
from .units import human, percent, shape

if TYPE_CHECKING:  # imported when rendered: a plain count does not load the sweep module
    from ..sweep import SweepReport
    from ..symbolic import SymbolicReport

#: Above this many layers, a table with no --top shows the costliest ones only.
AUTO_TOP_THRESHOLD = 60
AUTO_TOP = 25
SORT_KEYS = (
    "order",
    "flops",
    "macs",
    "params",
    "name",
    "weight_bytes",
    "activation_bytes",
    "int_macs",
    "training_flops",
)


def select_layers(report: CostReport, sort: str, top: int | None) -> tuple[list[LayerCost], str]:
    """The rows to show and a caption saying what was left out."""
    layers = list(report.layers)
    caption = ""
    if top is None and len(layers) > AUTO_TOP_THRESHOLD:
        top = AUTO_TOP
        if sort == "order":
            sort = "flops"
        caption = f"{AUTO_TOP} of {len(layers)} layers shown, by {sort}; --top 0 shows all"
    if sort == "name":
        layers.sort(key=lambda layer: layer.name)
    elif sort != "order":
        layers.sort(key=lambda layer: getattr(layer, sort) or 0, reverse=True)
    if top and top < len(layers):
        if sort == "order":  # the N costliest layers, shown in execution order
            total = len(layers)
            order = {id(layer): i for i, layer in enumerate(layers)}
            costliest = sorted(layers, key=lambda layer: layer.flops, reverse=True)[:top]
            layers = sorted(costliest, key=lambda layer: order[id(layer)])
            caption = caption or (
                f"the {top} of {total} layers with the most FLOPs, in execution order"
            )
        else:
            caption = caption or f"{top} of {len(layers)} layers shown, by {sort}"
            layers = layers[:top]
    return layers, caption


def _header(report: CostReport) -> Text:
    inputs = ", ".join(f"{i.name} {shape(i.shape)} {i.dtype}" for i in report.inputs)
    text = Text()
    text.append(f"{report.model}", style="bold")
    text.append(f"  ({report.source}; input {inputs})\n", style="dim")
    for line in report.convention.lines():
        text.append(f"{line}\n", style="dim")
    return text


#: What a narrow terminal keeps of a count table (render.fit): the names, MACs and FLOPs
#: first, shares, bytes and intensity last.
PRIORITIES = {
    "layer": NAME,
    "MACs": MAIN,
    "FLOPs": MAIN,
    "params": HIGH,
    "layers": HIGH,
    "op": MID,
    "int MACs": MID,
    "train FLOPs": MID,
    "output": LOW,
    "FLOPs %": LOW,
    "weight B": LEAST,
    "output B": LEAST,
    "FLOP/B": LEAST,
}


def layer_table(report: CostReport, layers: list[LayerCost], caption: str) -> FittedTable:
    flops = report.total.flops or 1
    table = Table(
        caption=caption or None, show_footer=True, header_style="bold", footer_style="bold"
    )
    table.add_column("layer", footer="total", overflow="fold", max_width=48)
    table.add_column("op", no_wrap=True)
    table.add_column("output", no_wrap=True)
    total = report.total
    ints, training = bool(total.int_macs), total.training_flops is not None
    columns = [("params", human(total.params)), ("MACs", human(total.macs))]
    if ints:
        columns.append(("int MACs", human(total.int_macs)))
    columns.append(("FLOPs", human(total.flops)))
    if training:
        columns.append(("train FLOPs", human(total.training_flops or 0)))
    columns += [
        ("FLOPs %", "100.0%"),
        ("weight B", human(total.weight_bytes)),
        ("output B", ""),
        ("FLOP/B", ""),
    ]
    for title, footer in columns:
        table.add_column(title, justify="right", footer=footer, no_wrap=True)
    for layer in layers:
        cells = [
            layer.name,
            layer.op,
            ", ".join(shape(s) for s in layer.output_shapes),
            human(layer.params),
            human(layer.macs),
        ]
        if ints:
            cells.append(human(layer.int_macs))
        cells.append(human(layer.flops) if layer.counted else "not counted")
        if training:
            cells.append(human(layer.training_flops or 0) if layer.counted else "not counted")
        cells += [
            percent(layer.flops / flops),
            human(layer.weight_bytes),
            human(layer.activation_bytes),
            f"{layer.intensity:.2f}",
        ]
        table.add_row(*cells, style=None if layer.counted else "yellow")
    return fit(table, PRIORITIES)


def group_table(title: str, groups: list[GroupCost], report: CostReport) -> FittedTable:
    table = Table(show_footer=True, header_style="bold", footer_style="bold")
    table.add_column(title, footer="total")
    table.add_column("layers", justify="right", footer=str(len(report.layers)))
    table.add_column("params", justify="right", footer=human(report.total.params))
    table.add_column("MACs", justify="right", footer=human(report.total.macs))
    ints, training = bool(report.total.int_macs), report.total.training_flops is not None
    if ints:
        table.add_column("int MACs", justify="right", footer=human(report.total.int_macs))
    table.add_column("FLOPs", justify="right", footer=human(report.total.flops))
    if training:
        table.add_column(
            "train FLOPs", justify="right", footer=human(report.total.training_flops or 0)
        )
    table.add_column("FLOPs %", justify="right", footer="100.0%")
    for g in groups:
        cells = [g.key or "(top level)", str(g.layers), human(g.params), human(g.macs)]
        if ints:
            cells.append(human(g.int_macs))
        cells.append(human(g.flops))
        if training:
            cells.append(human(g.training_flops or 0))
        cells.append(percent(g.flops_share))
        table.add_row(*cells)
    return fit(table, {**PRIORITIES, title: NAME})


def summary(report: CostReport) -> Text:
    t = report.total
    text = Text()
    text.append("params ", style="dim")
    text.append(human(t.params))
    text.append("  buffers ", style="dim")
    text.append(human(t.buffers))
    text.append("  MACs ", style="dim")
    text.append(human(t.macs))
    if t.int_macs:
        text.append("  int MACs ", style="dim")
        text.append(human(t.int_macs))
    text.append("  FLOPs ", style="dim")
    text.append(human(t.flops))
    if t.training_flops is not None:
        text.append("  training FLOPs ", style="dim")
        text.append(human(t.training_flops))
    text.append("\nweights ", style="dim")
    text.append(human(t.weight_bytes, "B"))
    text.append("  peak activation memory ", style="dim")
    text.append(human(t.peak_activation_bytes, "B"))
    text.append("  node coverage ", style="dim")
    text.append(
        percent(report.node_coverage), style="green" if report.node_coverage == 1 else "yellow"
    )
    if report.unsupported:
        ops = ", ".join(f"{op} x{n}" for op, n in report.unsupported.items())
        text.append(f"\nnot counted, no cost rule: {ops} (add one with --rules)", style="yellow")
    for item in report.uncounted:
        text.append(f"\nnot counted: {item.name} ({item.op_type}): {item.reason}", style="yellow")
    for note in report.notes:
        text.append(f"\nnote: {note}", style="cyan")
    return text


def render_count(
    report: CostReport,
    *,
    sort: str = "order",
    top: int | None = None,
    depth: int | None = None,
    by_op: bool = False,
) -> RenderableType:
    parts: list[RenderableType] = [_header(report)]
    if by_op:
        parts.append(group_table("op", report.by_op_type(), report))
    elif depth:
        parts.append(group_table(f"scope (depth {depth})", report.by_scope(depth), report))
    else:
        layers, caption = select_layers(report, sort, top)
        parts.append(layer_table(report, layers, caption))
    parts.append(summary(report))
    return Group(*parts)


# -- --sweep and --symbolic ----------------------------------------------------------------------


def _convention_header(model: str, source: str, convention: Convention, detail: str) -> Text:
    text = Text()
    text.append(model, style="bold")
    text.append(f"  ({source}; {detail})\n", style="dim")
    for line in convention.lines():
        text.append(f"{line}\n", style="dim")
    return text


#: What a narrow terminal keeps of a sweep's or a formula's table (render.fit).
SWEEP_PRIORITIES = {
    "total": NAME,
    "MACs": MAIN,
    "FLOPs": MAIN,
    "params": HIGH,
    "int MACs": MID,
    "training FLOPs": MID,
    "inputs": LOW,
    "weight bytes": LOW,
    "peak activation bytes": LOW,
}


def render_sweep(report: SweepReport) -> RenderableType:
    """One row per point: what varied, then the totals."""
    from ..sweep import QUANTITIES, totals_dict

    header = _convention_header(
        report.model, report.source, report.convention, f"sweep over {report.positions}"
    )
    table = Table(header_style="bold")
    table.add_column(report.name, justify="right", no_wrap=True)
    table.add_column("inputs", no_wrap=True)
    titles = dict(QUANTITIES)
    ints = report.has_int_macs
    keys = list(totals_dict(report.points[0].total, report.training, ints)) if report.points else []
    for key in keys:
        table.add_column(titles[key], justify="right", no_wrap=True)
    for point in report.points:
        totals = totals_dict(point.total, report.training, ints)
        value = shape(point.value) if isinstance(point.value, tuple) else str(point.value)
        inputs = ", ".join(f"{n} {shape(s)}" for n, s, _ in point.inputs)
        style = None if point.uncounted == 0 else "yellow"
        table.add_row(value, inputs, *(human(totals[k]) for k in keys), style=style)
    parts: list[RenderableType] = [header, fit(table, {**SWEEP_PRIORITIES, report.name: NAME})]
    footer = Text()
    missing = [p for p in report.points if p.uncounted]
    if missing:
        footer.append(
            f"{len(missing)} point(s) with nodes not counted (node coverage as low as "
            f"{percent(min(p.node_coverage for p in missing))})",
            style="yellow",
        )
    for note in report.notes:
        footer.append(f"\nnote: {note}" if footer else f"note: {note}", style="cyan")
    if footer:
        parts.append(footer)
    return Group(*parts)


def render_symbolic(report: SymbolicReport) -> RenderableType:
    """Each total as a formula in the symbolic dim, then the evaluated points."""
    from ..sweep import QUANTITIES
    from ..symbolic import MAX_DEGREE, polynomial_text

    var = report.variable
    header = _convention_header(
        report.model,
        report.source,
        report.convention,
        f"{var} = {report.positions}, symbolic",
    )
    titles = dict(QUANTITIES)
    formulas = Table(header_style="bold")
    formulas.add_column("total", no_wrap=True)
    formulas.add_column(f"as a function of {var}", overflow="fold")
    for f in report.formulas:
        cell = f.text(var)
        if f.kind == "piecewise":
            cell = "\n".join(
                f"{var} mod {p.modulus} = {p.residue}:  {polynomial_text(p.coefficients, var)}"
                for p in f.pieces
            )
        formulas.add_row(
            titles[f.quantity],
            cell,
            style="yellow" if f.kind in ("not_polynomial", "not_fitted") else None,
        )
    points = Table(header_style="bold", title="evaluated points", title_justify="left")
    points.add_column(var, justify="right")
    keys = [f.quantity for f in report.formulas]
    for key in keys:
        points.add_column(titles[key], justify="right", no_wrap=True)
    for value, totals in report.points:
        points.add_row(str(value), *(f"{totals[k]:,}" for k in keys))
    values = [v for v, _ in report.points]
    checked = ", ".join(str(v) for v in report.checked)
    text = Text(style="dim")
    text.append(
        f"exact totals counted at {len(values)} values of {var} from {report.base}; each formula "
        f"is the lowest-degree polynomial (degree <= {MAX_DEGREE}, rational coefficients) "
        "through the first points, checked on the others"
        + (f" (also at {checked})" if checked else "")
    )
    if any(f.kind == "piecewise" for f in report.formulas):
        text.append(
            f"; '{var} mod m = r' rows: floor terms of strided convolutions and pools, one "
            "polynomial per residue class"
        )
    for note in report.notes:
        text.append(f"\nnote: {note}", style="cyan")
    formula_priorities = {**SWEEP_PRIORITIES, f"as a function of {var}": MAIN}
    return Group(
        header,
        fit(formulas, formula_priorities, prose=[f"as a function of {var}"]),
        fit(points, {**SWEEP_PRIORITIES, var: NAME}),
        text,
    )
