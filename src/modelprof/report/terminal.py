"""Rich renderables for a count report: per-layer table, scope or op-type roll-ups, summary."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..costreport import CostReport, GroupCost, LayerCost
from .units import human, percent, shape

#: Above this many layers, a table with no --top shows the costliest ones only.
AUTO_TOP_THRESHOLD = 60
AUTO_TOP = 25
SORT_KEYS = ("order", "flops", "macs", "params", "name", "weight_bytes", "activation_bytes")


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
        layers.sort(key=lambda layer: getattr(layer, sort), reverse=True)
    if top:
        if not caption and top < len(layers):
            caption = f"{top} of {len(layers)} layers shown, by {sort}"
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


def layer_table(report: CostReport, layers: list[LayerCost], caption: str) -> Table:
    flops = report.total.flops or 1
    table = Table(
        caption=caption or None, show_footer=True, header_style="bold", footer_style="bold"
    )
    table.add_column("layer", footer="total", overflow="fold", max_width=48)
    table.add_column("op", no_wrap=True)
    table.add_column("output", no_wrap=True)
    total = report.total
    for title, footer in (
        ("params", human(total.params)),
        ("MACs", human(total.macs)),
        ("FLOPs", human(total.flops)),
        ("FLOPs %", "100.0%"),
        ("weight B", human(total.weight_bytes)),
        ("output B", ""),
        ("FLOP/B", ""),
    ):
        table.add_column(title, justify="right", footer=footer, no_wrap=True)
    for layer in layers:
        table.add_row(
            layer.name,
            layer.op,
            ", ".join(shape(s) for s in layer.output_shapes),
            human(layer.params),
            human(layer.macs),
            human(layer.flops) if layer.counted else "not counted",
            percent(layer.flops / flops),
            human(layer.weight_bytes),
            human(layer.activation_bytes),
            f"{layer.intensity:.2f}",
            style=None if layer.counted else "yellow",
        )
    return table


def group_table(title: str, groups: list[GroupCost], report: CostReport) -> Table:
    table = Table(show_footer=True, header_style="bold", footer_style="bold")
    table.add_column(title, footer="total")
    table.add_column("layers", justify="right", footer=str(len(report.layers)))
    table.add_column("params", justify="right", footer=human(report.total.params))
    table.add_column("MACs", justify="right", footer=human(report.total.macs))
    table.add_column("FLOPs", justify="right", footer=human(report.total.flops))
    table.add_column("FLOPs %", justify="right", footer="100.0%")
    for g in groups:
        table.add_row(
            g.key or "(top level)",
            str(g.layers),
            human(g.params),
            human(g.macs),
            human(g.flops),
            percent(g.flops_share),
        )
    return table


def summary(report: CostReport) -> Text:
    t = report.total
    text = Text()
    text.append("params ", style="dim")
    text.append(human(t.params))
    text.append("  buffers ", style="dim")
    text.append(human(t.buffers))
    text.append("  MACs ", style="dim")
    text.append(human(t.macs))
    text.append("  FLOPs ", style="dim")
    text.append(human(t.flops))
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
