"""CSV and Markdown renderings of a count report's per-layer rows."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from ..costreport import CostReport, LayerCost
from .units import human, percent, shape

if TYPE_CHECKING:  # imported when rendered: a plain count does not load the sweep module
    from ..sweep import SweepReport
    from ..symbolic import SymbolicReport

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
    """One row per layer; ``int_macs`` and ``training_flops`` columns are appended only when
    the report has integer products / was counted with training."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    ints, training = bool(report.total.int_macs), report.total.training_flops is not None
    writer.writerow(
        [*CSV_COLUMNS, *(["int_macs"] if ints else []), *(["training_flops"] if training else [])]
    )
    for layer in layers if layers is not None else report.layers:
        row = [
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
        if ints:
            row.append(layer.int_macs)
        if training:
            row.append(layer.training_flops)
        writer.writerow(row)
    return out.getvalue()


def to_markdown(report: CostReport, layers: list[LayerCost] | None = None) -> str:
    total = report.total
    flops = total.flops or 1
    ints, training = bool(total.int_macs), total.training_flops is not None
    extra_heads = (" int MACs |" if ints else "") + (" train FLOPs |" if training else "")
    extra_rule = "--:|" * (int(ints) + int(training))
    lines = [
        f"# {report.model}",
        "",
        *[f"- {line}" for line in report.convention.lines()],
        "",
        f"| layer | op | output | params | MACs | FLOPs | FLOPs % |{extra_heads}",
        f"|---|---|---|--:|--:|--:|--:|{extra_rule}",
    ]
    for layer in layers if layers is not None else report.layers:
        extra = (f" {human(layer.int_macs)} |" if ints else "") + (
            f" {human(layer.training_flops or 0)} |" if training else ""
        )
        lines.append(
            f"| `{layer.name}` | {layer.op} | {_shapes(layer.output_shapes)} | "
            f"{human(layer.params)} | {human(layer.macs)} | {human(layer.flops)} | "
            f"{percent(layer.flops / flops)} |{extra}"
        )
    extra = (f" **{human(total.int_macs)}** |" if ints else "") + (
        f" **{human(total.training_flops or 0)}** |" if training else ""
    )
    lines += [
        f"| **total** | | | **{human(total.params)}** | **{human(total.macs)}** | "
        f"**{human(total.flops)}** | 100.0% |{extra}",
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


# -- --sweep and --symbolic ----------------------------------------------------------------------


def sweep_csv(report: SweepReport) -> str:
    """One row per point: the value, every input's shape, then the totals."""
    from ..sweep import totals_dict

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    keys = _sweep_keys(report)
    writer.writerow([report.name, "inputs", *keys, "node_coverage"])
    for point in report.points:
        totals = totals_dict(point.total, report.training, report.has_int_macs)
        writer.writerow(
            [
                shape(point.value) if isinstance(point.value, tuple) else point.value,
                ";".join(f"{n}={shape(s)}" for n, s, _ in point.inputs),
                *(totals[k] for k in keys),
                f"{point.node_coverage:.6g}",
            ]
        )
    return out.getvalue()


def sweep_markdown(report: SweepReport) -> str:
    from ..sweep import QUANTITIES, totals_dict

    keys = _sweep_keys(report)
    titles = dict(QUANTITIES)
    lines = [
        f"# {report.model}: sweep over {report.positions}",
        "",
        *[f"- {line}" for line in report.convention.lines()],
        "",
        f"| {report.name} | inputs | " + " | ".join(titles[k] for k in keys) + " |",
        "|--:|---|" + "--:|" * len(keys),
    ]
    for point in report.points:
        totals = totals_dict(point.total, report.training, report.has_int_macs)
        value = shape(point.value) if isinstance(point.value, tuple) else str(point.value)
        inputs = ", ".join(f"{n} {shape(s)}" for n, s, _ in point.inputs)
        lines.append(f"| {value} | {inputs} | " + " | ".join(human(totals[k]) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def _sweep_keys(report: SweepReport) -> list[str]:
    from ..sweep import totals_dict

    if not report.points:
        return []
    return list(totals_dict(report.points[0].total, report.training, report.has_int_macs))


def symbolic_csv(report: SymbolicReport) -> str:
    """One row per total: its kind and formula (pieces separated by '; ')."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["total", "kind", "formula", "variable"])
    for f in report.formulas:
        writer.writerow([f.quantity, f.kind, f.text(report.variable), report.variable])
    return out.getvalue()


def symbolic_markdown(report: SymbolicReport) -> str:
    from ..sweep import QUANTITIES

    titles = dict(QUANTITIES)
    var = report.variable
    lines = [
        f"# {report.model}: totals as functions of {var} = {report.positions}",
        "",
        *[f"- {line}" for line in report.convention.lines()],
        "",
        "| total | formula |",
        "|---|---|",
    ]
    for f in report.formulas:
        lines.append(f"| {titles[f.quantity]} | {f.text(var)} |")
    lines += ["", "Evaluated at " + ", ".join(f"{var} = {v}" for v, _ in report.points) + "."]
    return "\n".join(lines) + "\n"
