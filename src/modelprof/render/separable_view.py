"""Renderings of the separable and pooling what-ifs: rich tables and JSON documents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .fit import HIGH, LEAST, LOW, MAIN, MID, NAME, fit
from .jsondoc import envelope, profile_document
from .units import duration, human, percent

if TYPE_CHECKING:
    from ..rewrite.separable_rewrite import SeparableResult
    from ..rewrite.transforms.pooling import PoolingLayer


def _k(kernel: tuple[int, ...]) -> str:
    return "x".join(str(k) for k in kernel)


def _change(before: int, after: int, *, ratio: bool = False) -> str:
    """``before -> after``, with how many times fewer (or more), or ``before, unchanged``."""
    if before == after:
        return f"{human(before)}, unchanged"
    text = f"{human(before)} -> {human(after)}"
    if not ratio or not before or not after:
        return text
    if after < before:
        return f"{text} ({before / after:.2f}x fewer)"
    return f"{text} ({after / before:.2f}x more)"


#: What a narrow terminal keeps of the separable what-if's tables (render.fit).
SEPARABLE_PRIORITIES = {
    "layer": NAME,
    "MACs": MAIN,
    "dw + pw MACs": MAIN,
    "saving": MAIN,
    "speed-up": MAIN,
    "kernel": MID,
    "Cin->N": MID,
    "MAC ratio": HIGH,
    "time before": HIGH,
    "time after": HIGH,
    "params": LOW,
    "sep. params": LOW,
    "weight err": LOW,
    "depthwise share": LOW,
    "formula": LEAST,
    "dw GFLOP/s": LEAST,
    "pw GFLOP/s": LEAST,
}
#: ... and of the pooling what-if's.
POOLING_PRIORITIES = {
    "dense layer": NAME,
    "pool": MAIN,
    "MACs saved": MAIN,
    "MACs": HIGH,
    "MACs after": HIGH,
    "params": MID,
    "params after": MID,
    "inputs": LOW,
    "inputs after": LOW,
    "flattened map": LOW,
    "pool FLOPs": LEAST,
}


def separable_table(result: SeparableResult) -> RenderableType:
    report = result.report
    m = report.multiplier
    title = Text()
    title.append(f"{report.model}", style="bold")
    title.append(
        f"  depthwise-separable what-if, depth multiplier m = {m}: separable / full cost = "
        "m (1/N + 1/K^2), N output channels, K^2 kernel area\n",
        style="dim",
    )
    table = Table(header_style="bold", show_footer=True, footer_style="bold")
    table.add_column("layer", footer="replaced layers", overflow="fold", max_width=40)
    table.add_column("kernel", no_wrap=True)
    table.add_column("Cin->N", no_wrap=True)
    total = report.total
    table.add_column("MACs", justify="right", footer=human(total["macs"]))
    table.add_column("dw + pw MACs", justify="right", footer=human(total["separable_macs"]))
    table.add_column("params", justify="right", footer=human(total["params"]))
    table.add_column("sep. params", justify="right", footer=human(total["separable_params"]))
    table.add_column("saving", justify="right")
    table.add_column("formula", justify="right")
    has_errors = any(layer.weight_error is not None for layer in report.layers)
    if has_errors:
        table.add_column("weight err", justify="right")
    for layer in report.layers:
        style = None if layer in report.replaced else "dim"
        saving = f"{layer.saving:.2f}x" if layer.saves else "no saving"
        cells = [
            layer.name,
            _k(layer.kernel),
            f"{layer.in_channels}->{layer.out_channels}",
            human(layer.macs),
            f"{human(layer.depthwise_macs)} + {human(layer.pointwise_macs)}",
            human(layer.params),
            human(layer.separable_params),
            saving,
            f"{layer.formula_saving:.2f}x",
        ]
        if has_errors:
            cells.append(f"{layer.weight_error:.3f}" if layer.weight_error is not None else "")
        table.add_row(*cells, style=style)
    footer = Text()
    footer.append("model MACs ", style="dim")
    footer.append(_change(report.model_macs_before, report.model_macs_after, ratio=True))
    footer.append("  FLOPs ", style="dim")
    footer.append(_change(report.model_flops_before, report.model_flops_after))
    if result.rewritten_macs is not None:
        footer.append(f"\nrewrite counted: {human(result.rewritten_macs)} MACs", style="dim")
    if report.output_error is not None:
        footer.append(
            f"\noutput error of the rewrite (relative L2, random inputs): {report.output_error:.4g}"
        )
    if report.saved:
        footer.append(f"\nsaved {report.saved}", style="green")
    if result.accuracy:
        footer.append(
            "\naccuracy: " + "  ".join(f"{k} {percent(v)}" for k, v in result.accuracy.items())
        )
    for note in report.notes:
        footer.append(f"\nnote: {note}", style="cyan")
    parts: list[RenderableType] = [title, fit(table, SEPARABLE_PRIORITIES), footer]
    if result.before is not None and result.after is not None:
        parts.append(timing_table(result))
    return Group(*parts)


def timing_table(result: SeparableResult) -> RenderableType:
    before, after = result.before, result.after
    assert before is not None and after is not None
    text = Text()
    text.append(
        f"\nmeasured on {before.runtime} {before.runtime_version}, {before.precision}, "
        f"{before.threads} threads: end-to-end median {duration(before.latency_us.median)} "
        f"-> {duration(after.latency_us.median)} (speed-up "
        f"{before.latency_us.median / after.latency_us.median:.2f}x; MAC ratio "
        f"{result.report.model_macs_before / result.report.model_macs_after:.2f}x)\n"
    )
    table = Table(header_style="bold")
    for col in (
        "layer",
        "MAC ratio",
        "time before",
        "time after",
        "speed-up",
        "depthwise share",
        "dw GFLOP/s",
        "pw GFLOP/s",
    ):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for t in result.layer_timings:
        table.add_row(
            t.name,
            f"{t.mac_ratio:.2f}x",
            duration(t.time_before_us),
            duration(t.time_after_us),
            f"{t.speedup:.2f}x" if t.speedup else "-",
            percent(t.depthwise_time_us / t.time_after_us) if t.time_after_us else "-",
            f"{t.depthwise_gflops_per_s:.1f}" if t.depthwise_gflops_per_s else "-",
            f"{t.pointwise_gflops_per_s:.1f}" if t.pointwise_gflops_per_s else "-",
        )
    note = Text(
        "depthwise convolutions do little arithmetic per byte moved: they run far below "
        "the pointwise rate, so the speed-up is smaller than the MAC saving",
        style="dim",
    )
    return Group(text, fit(table, SEPARABLE_PRIORITIES), note)


def separable_document(result: SeparableResult) -> dict[str, Any]:
    report = result.report
    doc: dict[str, Any] = {
        **envelope("separable"),
        "model": report.model,
        "multiplier": report.multiplier,
        "layers": [
            {
                "name": layer.name,
                "kernel": list(layer.kernel),
                "in_channels": layer.in_channels,
                "out_channels": layer.out_channels,
                "macs": layer.macs,
                "separable_macs": layer.separable_macs,
                "depthwise_macs": layer.depthwise_macs,
                "pointwise_macs": layer.pointwise_macs,
                "params": layer.params,
                "separable_params": layer.separable_params,
                "saving": layer.saving,
                "formula_saving": layer.formula_saving,
                "eligible": layer.eligible,
                "selected": layer in report.replaced,
                **({"weight_error": layer.weight_error} if layer.weight_error is not None else {}),
            }
            for layer in report.layers
        ],
        "total": report.total,
        "model_macs_before": report.model_macs_before,
        "model_macs_after": report.model_macs_after,
        "notes": list(report.notes),
    }
    if report.output_error is not None:
        doc["output_error"] = report.output_error
        doc["rewritten_macs"] = result.rewritten_macs
    if report.saved:
        doc["saved"] = report.saved
    if result.before is not None and result.after is not None:
        doc["before"] = profile_document(result.before)
        doc["after"] = profile_document(result.after)
        doc["layer_timings"] = [
            {
                "name": t.name,
                "mac_ratio": t.mac_ratio,
                "time_before_us": t.time_before_us,
                "time_after_us": t.time_after_us,
                "speedup": t.speedup,
                "depthwise_time_us": t.depthwise_time_us,
                "depthwise_gflops_per_s": t.depthwise_gflops_per_s,
                "pointwise_gflops_per_s": t.pointwise_gflops_per_s,
            }
            for t in result.layer_timings
        ]
    if result.accuracy:
        doc["accuracy"] = result.accuracy
    return doc


def pooling_table(
    model: str, layers: list[PoolingLayer], notes: Sequence[str] = ()
) -> RenderableType:
    title = Text()
    title.append(model, style="bold")
    title.append(
        "  what a pool before each dense layer fed by a flattened map would save\n", style="dim"
    )
    table = Table(header_style="bold")
    for col in (
        "dense layer",
        "flattened map",
        "inputs",
        "params",
        "MACs",
        "pool",
        "inputs after",
        "params after",
        "MACs after",
        "MACs saved",
        "pool FLOPs",
    ):
        table.add_column(col, justify="left" if col in ("dense layer", "pool") else "right")
    for layer in layers:
        for i, option in enumerate(layer.options):
            first = i == 0
            table.add_row(
                layer.name if first else "",
                "x".join(map(str, layer.map_shape)) if first else "",
                human(layer.features) if first else "",
                human(layer.params) if first else "",
                human(layer.macs) if first else "",
                option.kind,
                human(option.features),
                human(option.params),
                human(option.macs),
                f"{human(option.saved_macs(layer.macs))} ({layer.macs / max(option.macs, 1):.1f}x)",
                human(option.pool_flops),
            )
    return Group(
        title,
        fit(table, POOLING_PRIORITIES),
        *(Text(f"note: {n}", style="cyan") for n in notes),
    )


def pooling_document(
    model: str, layers: list[PoolingLayer], notes: Sequence[str] = ()
) -> dict[str, Any]:
    return {
        **envelope("pooling"),
        "model": model,
        "layers": [
            {
                "name": layer.name,
                "op": layer.op,
                "map_shape": list(layer.map_shape),
                "features": layer.features,
                "out_features": layer.out_features,
                "params": layer.params,
                "macs": layer.macs,
                "options": [
                    {
                        "pool": o.kind,
                        "features": o.features,
                        "params": o.params,
                        "macs": o.macs,
                        "macs_saved": o.saved_macs(layer.macs),
                        "params_saved": layer.params - o.params,
                        "pool_flops": o.pool_flops,
                    }
                    for o in layer.options
                ],
            }
            for layer in layers
        ],
        "notes": list(notes),
    }
