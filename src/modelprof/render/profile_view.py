"""Rich renderables for a profile report: latency summary, per-layer joined table, roll-ups."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..measure.int8 import Int8Diagnosis
from ..measure.profilereport import ProfileLayer, ProfileReport
from .fit import HIGH, LEAST, LOW, MAIN, MID, NAME, FittedTable, fit
from .units import duration, human, percent

#: A layer whose time share exceeds its FLOPs share by this factor is highlighted.
SLOW_FACTOR = 2.0


def header(report: ProfileReport) -> Text:
    lat = report.latency_us
    text = Text()
    text.append(report.model, style="bold")
    text.append(
        f"  {report.runtime} {report.runtime_version} on {report.device}, precision "
        f"{report.precision}, {report.threads} threads, {report.iterations} iterations\n",
        style="dim",
    )
    text.append("latency ", style="dim")
    text.append(f"median {duration(lat.median)} (IQR {duration(lat.iqr)})", style="bold")
    text.append(
        f"  mean {duration(lat.mean)}  min {duration(lat.min)}  p90 {duration(lat.p90)}  "
        f"p99 {duration(lat.p99)}  throughput {report.throughput_fps:,.1f} FPS\n"
    )
    text.append("compile ", style="dim")
    text.append(f"{report.compile_ms:.1f} ms  first inference {report.first_inference_ms:.2f} ms")
    if report.memory_rss_bytes is not None:
        text.append(f"  runtime memory {human(report.memory_rss_bytes, 'B')}")
    text.append("\nper-layer pass ", style="dim")
    text.append(
        f"profiler overhead {percent(report.profiler_overhead)}  time coverage "
        f"{percent(report.time_coverage)} (sum of per-layer medians / end-to-end median)\n"
    )
    return text


def layer_rows(report: ProfileReport, sort: str, top: int | None) -> tuple[list[ProfileLayer], str]:
    rows = [layer for layer in report.layers if not layer.folded_into]
    folded = len(report.layers) - len(rows)
    if sort == "time":
        rows.sort(key=lambda r: -r.time_us)
    elif sort == "flops":
        rows.sort(key=lambda r: -r.flops)
    caption = (
        f"{folded} source layers fused into the rows above (--format json lists them)"
        if folded
        else ""
    )
    if top and top < len(rows):
        caption = f"{top} of {len(rows)} runtime layers shown, by {sort}. " + caption
        rows = rows[:top]
    return rows, caption


#: What a narrow terminal keeps of a profile's tables (render.fit): names and times first.
PRIORITIES = {
    "layer": NAME,
    "op": NAME,
    "time": MAIN,
    "time %": MAIN,
    "FLOPs %": HIGH,
    "GFLOP/s": MID,
    "bound": MID,
    "eff.": LOW,
    "kernel": LOW,
    "prec": LEAST,
    "fused": LEAST,
}


def layer_table(report: ProfileReport, rows: list[ProfileLayer], caption: str) -> FittedTable:
    flops_total = report.count.total.flops or 1
    table = Table(caption=caption or None, header_style="bold")
    table.add_column("layer", overflow="fold", max_width=44)
    table.add_column("op", no_wrap=True)
    table.add_column("kernel", no_wrap=True)
    table.add_column("prec", no_wrap=True)
    for title in ("time", "time %", "FLOPs %", "GFLOP/s"):
        table.add_column(title, justify="right", no_wrap=True)
    if report.ceilings is not None:
        table.add_column("bound", no_wrap=True)
        table.add_column("eff.", justify="right", no_wrap=True)
    table.add_column("fused", justify="right")
    for row in rows:
        flops_share = row.flops / flops_total
        slow = row.time_share > SLOW_FACTOR * flops_share and row.time_share > 0.02
        style = "magenta" if row.inserted else ("yellow" if slow else None)
        name = f"{row.name} [inserted]" if row.inserted else row.name
        cells = [
            name,
            row.op,
            row.exec_type,
            row.precision,
            duration(row.time_us),
            percent(row.time_share),
            percent(flops_share),
            f"{row.gflops_per_s:.1f}" if row.gflops_per_s is not None else "-",
        ]
        if report.ceilings is not None:
            cells += [
                row.bound or "-",
                percent(row.efficiency) if row.efficiency is not None else "-",
            ]
        cells.append(str(max(len(row.fused_from) - 1, 0)) if row.fused_from else "")
        table.add_row(*cells, style=style)
    return fit(table, {**PRIORITIES, "op": MID})


def rollups(report: ProfileReport) -> FittedTable:
    table = Table(title="time by op type", header_style="bold")
    table.add_column("op")
    table.add_column("time", justify="right")
    table.add_column("time %", justify="right")
    table.add_column("FLOPs %", justify="right")
    total = report.latency_us.median or 1
    flops_total = report.count.total.flops or 1
    for op, time_us, flops in report.by_op_type():
        table.add_row(op, duration(time_us), percent(time_us / total), percent(flops / flops_total))
    return fit(table, PRIORITIES)


def scope_rollup(report: ProfileReport, depth: int) -> FittedTable:
    """``profile --depth N``: time and FLOPs per module scope, as ``count --depth`` groups."""
    table = Table(title=f"time by scope (depth {depth})", header_style="bold")
    table.add_column("scope")
    table.add_column("time", justify="right")
    table.add_column("time %", justify="right")
    table.add_column("FLOPs %", justify="right")
    total = report.latency_us.median or 1
    flops_total = report.count.total.flops or 1
    for scope, time_us, flops in report.by_scope(depth):
        table.add_row(
            scope or "(top level)",
            duration(time_us),
            percent(time_us / total),
            percent(flops / flops_total),
        )
    return fit(table, PRIORITIES)


def footer(report: ProfileReport) -> Text:
    text = Text()
    precisions = ", ".join(f"{p} {duration(t)} ({n} layers)" for p, t, n in report.by_precision())
    text.append("by runtime precision: ", style="dim")
    text.append(precisions + "\n")
    inserted = report.conversions()
    if inserted:
        total = sum(layer.time_us for layer in inserted)
        text.append("inserted by the runtime (layout/precision conversions): ", style="dim")
        text.append(
            f"{len(inserted)} layers, {duration(total)} "
            f"({percent(total / (report.latency_us.median or 1))})\n"
        )
    text.append("rows in yellow take more than twice their share of FLOPs in time", style="dim")
    for note in report.notes:
        text.append(f"\nnote: {note}", style="cyan")
    return text


def int8_section(diagnosis: Int8Diagnosis, layer_time_us: float) -> list[RenderableType]:
    """A quantized model's int8 diagnosis: the compute layers that do not execute in i8/u8
    (with why) and the quantize, Convert and Reorder layers (what they cost), in one table;
    then the shares of convolutions and MACs executing in int8 and the time converting. The
    layer table above already gives every layer's precision and kernel."""
    table = Table(
        title="int8 diagnosis: compute layers left in float, and conversion layers",
        header_style="bold",
    )
    for col in ("layer", "op", "prec", "kernel", "time", "time %", "why"):
        table.add_column(col, justify="right" if col.startswith("time") else "left")
    total = layer_time_us or 1.0
    by_name = {layer.name: layer for layer in diagnosis.layers}
    for left in diagnosis.left_in_float:
        row = by_name.get(left.name)
        time_us = row.time_us if row is not None else 0.0
        table.add_row(
            left.name,
            left.op,
            left.precision,
            row.exec_type if row is not None else "",
            duration(time_us),
            percent(time_us / total),
            left.reason,
            style="yellow",
        )
    for layer in diagnosis.conversions:
        what = (
            "quantizes (a FakeQuantize the plugin did not fuse into an int8 kernel)"
            if layer.op in ("FakeQuantize", "QuantizeLinear", "DequantizeLinear")
            else "converts precision or memory layout"
        )
        table.add_row(
            layer.name,
            layer.op,
            layer.precision,
            layer.exec_type,
            duration(layer.time_us),
            percent(layer.time_us / total),
            what,
        )
    text = Text()
    if diagnosis.conv_int8_share is not None:
        text.append(f"convolutions executing in i8/u8: {percent(diagnosis.conv_int8_share)}; ")
    text.append(
        f"MACs executing in i8/u8: {percent(diagnosis.macs_int8_share)}; time in quantize, "
        f"Convert and Reorder layers: {duration(diagnosis.conversion_us)} "
        f"({percent(diagnosis.conversion_share)} of the per-layer time)\n"
    )
    if diagnosis.cpu_flags:
        text.append(f"CPU int8 features: {', '.join(diagnosis.cpu_flags)}\n", style="dim")
    else:
        text.append(
            "CPU int8 features: none found (no VNNI or AMX): int8 may run no faster than f32\n",
            style="dim",
        )
    text.append(
        "slower than f32? measure both: modelprof quantize --profile, or compare --profile "
        "with the float model",
        style="dim",
    )
    parts: list[RenderableType] = []
    if diagnosis.left_in_float or diagnosis.conversions:
        parts.append(fit(table, {**PRIORITIES, "why": HIGH}))
    parts.append(text)
    return parts


def render_profile(
    report: ProfileReport,
    *,
    sort: str = "order",
    top: int | None = None,
    depth: int | None = None,
) -> RenderableType:
    rows, caption = layer_rows(report, sort, top)
    parts: list[RenderableType] = [
        header(report),
        layer_table(report, rows, caption),
        rollups(report),
        *([scope_rollup(report, depth)] if depth else []),
        footer(report),
    ]
    if report.int8 is not None:
        parts.extend(int8_section(report.int8, report.layer_time_us))
    return Group(*parts)
