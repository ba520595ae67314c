"""CSV and Markdown renderings of a count report's per-layer rows."""

from __future__ import annotations

import csv
import io

from ..costreport import CostReport, LayerCost
from .units import human, percent, shape

CSV_COLUMNS = (
    "name",
    "op",
    "scope",
    "input_shapes",
    "output_shapes",
    "params",
    "macs",
    "flops",
    "weight_bytes",
    "activation_bytes",
    "intensity",
    "counted",
    "note",
)


def _shapes(shapes: tuple[tuple[int, ...], ...]) -> str:
    return ";".join(shape(s) for s in shapes)


def to_csv(report: CostReport, layers: list[LayerCost] | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for layer in layers if layers is not None else report.layers:
        writer.writerow(
            [
                layer.name,
                layer.op,
                layer.scope,
                _shapes(layer.input_shapes),
                _shapes(layer.output_shapes),
                layer.params,
                layer.macs,
                layer.flops,
                layer.weight_bytes,
                layer.activation_bytes,
                f"{layer.intensity:.6g}",
                int(layer.counted),
                layer.note,
            ]
        )
    return out.getvalue()


def to_markdown(report: CostReport, layers: list[LayerCost] | None = None) -> str:
    total = report.total
    flops = total.flops or 1
    lines = [
        f"# {report.model}",
        "",
        *[f"- {line}" for line in report.convention.lines()],
        "",
        "| layer | op | output | params | MACs | FLOPs | FLOPs % |",
        "|---|---|---|--:|--:|--:|--:|",
    ]
    for layer in layers if layers is not None else report.layers:
        lines.append(
            f"| `{layer.name}` | {layer.op} | {_shapes(layer.output_shapes)} | "
            f"{human(layer.params)} | {human(layer.macs)} | {human(layer.flops)} | "
            f"{percent(layer.flops / flops)} |"
        )
    lines += [
        f"| **total** | | | **{human(total.params)}** | **{human(total.macs)}** | "
        f"**{human(total.flops)}** | 100.0% |",
        "",
        f"Peak activation memory: {human(total.peak_activation_bytes, 'B')}; "
        f"weights: {human(total.weight_bytes, 'B')}; node coverage "
        f"{percent(report.node_coverage)}.",
    ]
    if report.unsupported:
        lines.append(
            "Not counted (no cost rule): "
            + ", ".join(f"{op} x{n}" for op, n in report.unsupported.items())
        )
    return "\n".join(lines) + "\n"
