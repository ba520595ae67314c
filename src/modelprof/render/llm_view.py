"""Rendering of ``modelprof llm``: prefill and decode side by side, as a rich table.

The ``kind: "llm"`` JSON document is :func:`modelprof.render.jsondoc.llm_document`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .fit import LOW, MAIN, MID, NAME, fit
from .units import duration, human, printable

if TYPE_CHECKING:
    from ..measure.llm import Floor, LlmReport, PassCost


def _floor_cells(floor: Floor | None) -> tuple[str, str]:
    if floor is None:
        return "-", "-"
    return duration(floor.seconds * 1e6), floor.bound


def render_llm(report: LlmReport) -> RenderableType:
    """The passes as a table, with the model's shape above and the conventions below."""
    arch = report.architecture
    head = Text()
    head.append(f"llm  {printable(report.model)}", style="bold")
    kv = f" ({arch.kv_heads} KV heads)" if arch.kv_heads != arch.heads else ""
    experts = f", {arch.experts} experts, top-{arch.experts_per_token}" if arch.experts else ""
    head.append(
        f"  {arch.model_class}: {arch.layers} layers, hidden {arch.hidden}, {arch.heads} heads"
        f"{kv} x {arch.head_dim}, vocab {arch.vocab}{experts}",
        style="dim",
    )
    head.append(f"\nconfig: {printable(report.source)}", style="dim")
    head.append(
        f"\nparams {report.params:,} ({human(report.weight_bytes, 'B')} of {report.dtype} weights)"
    )
    if report.training is not None:
        return Group(head, _training(report), _foot(report))
    head.append(
        f"\nprompt {report.prompt}, generate {report.generate} (+1 from prefill), batch "
        f"{report.batch}, logits {report.logits}; KV cache {report.kv_dtype}: "
    )
    if report.kv_cache_bytes is not None:
        tokens = report.prompt + (report.generate or 0)
        head.append(f"{human(report.kv_cache_bytes, 'B')} for {tokens} tokens", style="bold")

    table = Table(header_style="bold")
    for name in ("pass", "tokens", "keys", "MACs", "linear MACs", "attention MACs", "FLOPs"):
        table.add_column(name, justify="left" if name == "pass" else "right", no_wrap=True)
    for name in ("bytes", "FLOP/byte", "floor", "bound"):
        table.add_column(name, justify="right", no_wrap=True)
    roofline = report.roofline

    def row(label: str, cost: PassCost, floor: Floor | None) -> None:
        table.add_row(
            label,
            f"{report.batch} x {cost.tokens}",
            f"{cost.keys:,}",
            human(cost.macs),
            human(cost.linear_macs),
            human(cost.attention_macs),
            human(cost.flops),
            human(cost.bytes, "B"),
            f"{cost.intensity:,.1f}",
            *_floor_cells(floor),
        )

    if report.prefill is not None:
        row("prefill", report.prefill, roofline.time_to_first_token if roofline else None)
    decode = report.decode
    if decode is not None:
        row(
            f"decode @{decode.first.position}",
            decode.first,
            roofline.time_per_output_token_first if roofline else None,
        )
        if decode.steps > 1:
            row(
                f"decode @{decode.last.position}",
                decode.last,
                roofline.time_per_output_token_last if roofline else None,
            )
        mean = decode.mean_per_token()
        table.add_row(
            "decode mean / token",
            "",
            "",
            human(mean["macs"]),
            human(mean["linear_macs"]),
            human(mean["attention_macs"]),
            human(mean["flops"]),
            "",
            "",
            "",
            "",
        )
    priorities = {
        "pass": NAME,
        "MACs": MAIN,
        "FLOPs": MAIN,
        "floor": MAIN,
        "bound": MAIN,
        "linear MACs": MID,
        "attention MACs": MID,
        "bytes": MID,
        "FLOP/byte": MID,
        "tokens": LOW,
        "keys": LOW,
    }
    parts: list[RenderableType] = [head, fit(table, priorities)]
    extra = Text()
    if report.prefill is not None and report.prefill.attention_macs_causal is not None:
        extra.append(
            f"prefill attention MACs {report.prefill.attention_macs:,} as executed, "
            f"{report.prefill.attention_macs_causal:,} causal (lower triangle)\n",
            style="dim",
        )
    if roofline is not None:
        extra.append(
            f"roofline: {roofline.peak_gflops_per_s:,.1f} GFLOP/s, "
            f"{roofline.bandwidth_gb_per_s:,.2f} GB/s (ridge "
            f"{roofline.ridge_flop_per_byte:,.1f} FLOP/byte); {roofline.ceilings_source}\n",
            style="dim",
        )
    parts.append(extra)
    parts.append(_foot(report))
    return Group(*parts)


def _training(report: LlmReport) -> RenderableType:
    training = report.training
    assert training is not None
    table = Table(header_style="bold", title=None)
    table.add_column("training step", no_wrap=True)
    table.add_column("tokens", justify="right", no_wrap=True)
    table.add_column("matmul FLOPs", justify="right", no_wrap=True)
    table.add_column("linear", justify="right", no_wrap=True)
    table.add_column("attention", justify="right", no_wrap=True)
    table.add_column("all ops", justify="right", no_wrap=True)
    table.add_row(
        f"batch {report.batch} x {report.prompt}",
        f"{training.tokens:,}",
        Text(f"{training.matmul_flops:,}", style="bold"),
        human(training.linear_flops),
        human(training.attention_flops),
        human(training.flops),
    )
    return fit(table, {"training step": NAME, "matmul FLOPs": MAIN})


def _foot(report: LlmReport) -> Text:
    foot = Text()
    for line in report.conventions:
        foot.append(f"{line}\n", style="dim")
    for note in report.notes:
        foot.append(f"note: {printable(note)}\n", style="yellow")
    return foot
