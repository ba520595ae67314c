"""Renderings of ``modelprof quantize``: before against after as a rich table, the int8
diagnosis (each layer's execution precision beside its f32 time), and the ``kind: "quantize"``
JSON document (docs/schema.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .before_after import BeforeAfter
from .fit import HIGH, MAIN, NAME, fit
from .jsondoc import diagnosis_document as diagnosis_document
from .jsondoc import envelope, side_document
from .units import duration, human, percent

if TYPE_CHECKING:
    from ..measure.int8 import Int8Diagnosis
    from ..rewrite.quantization import QuantizeResult, QuantizeSide


def _side_document(side: QuantizeSide) -> dict[str, Any]:
    return side_document(
        side.count,
        file_bytes=side.file_bytes,
        accuracy=side.accuracy,
        profile=side.profile,
        int8_macs=side.int8_macs,
    )


def quantize_document(result: QuantizeResult) -> dict[str, Any]:
    """The ``kind: "quantize"`` document (docs/schema.md)."""
    return {
        **envelope("quantize"),
        "model": result.model,
        "backend": result.backend,
        "preset": result.preset,
        "calibration": {
            "source": result.calibration.source,
            "samples": result.calibration.samples,
            "labelled": result.calibration.labelled,
        },
        "ignored": list(result.ignored),
        "accuracy_control": (
            {"max_drop": result.accuracy_control} if result.accuracy_control is not None else None
        ),
        "before": _side_document(result.before),
        "after": _side_document(result.after),
        "int8_macs_share": result.int8_macs_share,
        "quantizers": result.quantizers,
        "layers": [
            {
                "name": layer.name,
                "op": layer.op,
                "macs": layer.macs,
                "quantized": layer.quantized,
                "reason": layer.reason,
            }
            for layer in result.layers
        ],
        "diagnosis": (
            diagnosis_document(result.diagnosis) if result.diagnosis is not None else None
        ),
        "saved": result.saved,
        "notes": list(result.notes),
    }


def render_quantize(result: QuantizeResult) -> RenderableType:
    """Before against after, the layers left in float, and with ``--profile`` the diagnosis."""
    before, after = result.before, result.after
    title = Text()
    title.append(result.model, style="bold")
    title.append(
        f"  int8 with NNCF ({result.backend} backend, preset {result.preset}); calibration: "
        f"{result.calibration.samples} calls of {result.calibration.source}\n",
        style="dim",
    )
    sides = BeforeAfter()
    table, row = sides.table, sides.row
    row("params", before.count.total.params, after.count.total.params)
    row("weight bytes", before.count.total.weight_bytes, after.count.total.weight_bytes)
    row("file bytes", before.file_bytes, after.file_bytes)
    row("MACs", before.count.total.macs, after.count.total.macs)
    table.add_row(
        "MACs in int8 layers",
        human(before.int8_macs),
        human(after.int8_macs),
        percent(result.int8_macs_share) + " of MACs",
    )
    sides.measured((before.profile, before.accuracy), (after.profile, after.accuracy))
    parts: list[RenderableType] = [title, fit(table, {"": NAME}, default=MAIN)]
    footer = Text()
    quantized = sum(1 for layer in result.layers if layer.quantized)
    footer.append(
        f"{result.quantizers} quantizers inserted; {quantized} of {len(result.layers)} compute "
        "layers take int8 data and weights\n"
    )
    for layer in result.layers:
        if not layer.quantized:
            footer.append(f"left in float: {layer.name} ({layer.op}): {layer.reason}\n")
    if result.accuracy_control is not None:
        footer.append(f"accuracy control: at most {100 * result.accuracy_control:.1f} pt drop\n")
    if before.profile is not None and after.profile is not None and after.profile.latency_us.median:
        speed = before.profile.latency_us.median / after.profile.latency_us.median
        footer.append(
            f"measured on {after.profile.runtime} ({after.profile.precision} inference "
            f"precision, {after.profile.threads} threads, interleaved): speed-up {speed:.2f}x\n"
        )
    if result.saved:
        footer.append(f"saved: {result.saved}\n")
    for note in result.notes:
        footer.append(f"note: {note}\n", style="cyan")
    parts.append(footer)
    if result.diagnosis is not None:
        parts.extend(render_diagnosis(result.diagnosis))
    return Group(*parts)


def render_diagnosis(diagnosis: Int8Diagnosis) -> list[RenderableType]:
    """Each executed layer's precision and kernel, int8 time beside f32 time; then the share of
    convolutions in i8/u8, the time spent converting, and the layers that got slower."""
    table = Table(title="int8 diagnosis: what the runtime executed", header_style="bold")
    for col in ("layer", "op", "precision", "kernel", "int8", "f32", "int8 / f32"):
        table.add_column(col, justify="left" if col in ("layer", "op", "kernel") else "right")
    for layer in diagnosis.layers:
        f32 = layer.f32_time_us
        ratio = f"{layer.time_us / f32:.2f}" if f32 else "-"
        style = "red" if layer.slower else ("green" if layer.int8 and layer.macs else None)
        table.add_row(
            layer.name,
            layer.op,
            layer.precision,
            layer.exec_type,
            duration(layer.time_us),
            duration(f32) if f32 is not None else "-",
            ratio,
            style=style,
        )
    text = Text()
    if diagnosis.conv_int8_share is not None:
        text.append(f"convolutions executing in i8/u8: {percent(diagnosis.conv_int8_share)}; ")
    text.append(
        f"MACs executing in i8/u8: {percent(diagnosis.macs_int8_share)}; time in quantize, "
        f"Convert and Reorder layers: {duration(diagnosis.conversion_us)} "
        f"({percent(diagnosis.conversion_share)} of the per-layer time)\n"
    )
    for layer in diagnosis.slower:
        text.append(
            f"slower than f32: {layer.name} ({layer.op}, {layer.exec_type}): "
            f"{duration(layer.time_us)} vs {duration(layer.f32_time_us or 0.0)}\n",
            style="red",
        )
    for left in diagnosis.left_in_float:
        text.append(f"runs in {left.precision}: {left.name} ({left.op}): {left.reason}\n")
    if diagnosis.cpu_flags:
        text.append(f"CPU int8 features: {', '.join(diagnosis.cpu_flags)}\n", style="dim")
    return [fit(table, {"layer": NAME, "kernel": MAIN}, default=HIGH), text]
