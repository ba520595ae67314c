"""Renderings of ``modelprof prune``: before against after as a rich table, and the
``kind: "prune"`` JSON document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .before_after import BeforeAfter
from .fit import HIGH, MAIN, NAME, fit
from .jsondoc import envelope, side_document
from .units import human, percent

if TYPE_CHECKING:
    from ..rewrite.pruning import PruneResult, PruneSide


def _side_document(side: PruneSide) -> dict[str, Any]:
    return side_document(
        side.count,
        file_bytes=side.file_bytes,
        accuracy=side.accuracy,
        profile=side.profile,
        nonzero_params=side.nonzero_params,
    )


def prune_document(result: PruneResult) -> dict[str, Any]:
    """The ``kind: "prune"`` document (docs/schema.md)."""
    doc: dict[str, Any] = {
        **envelope("prune"),
        "method": result.method,
        "amount": result.amount,
        "target_macs": result.target_macs,
        "before": _side_document(result.before),
        "after": _side_document(result.after),
        "saved": result.saved,
        "notes": list(result.notes),
    }
    if result.sparsity:
        doc["sparsity"] = {
            "total": result.total_sparsity,
            "layers": [
                {"name": s.name, "numel": s.numel, "zeros": s.zeros, "sparsity": s.fraction}
                for s in result.sparsity
            ],
        }
        doc["effective_macs"] = result.effective_macs
    if result.heads:
        doc["heads"] = {k: {"before": a, "after": b} for k, (a, b) in result.heads.items()}
    if result.accuracy_pruned is not None:
        doc["accuracy_pruned"] = result.accuracy_pruned
    return doc


def render_prune(result: PruneResult) -> RenderableType:
    """Before against after: params, MACs, FLOPs, bytes, measured latency and accuracy when
    there are any, and per-layer sparsity for unstructured pruning."""
    before, after = result.before, result.after
    title = Text()
    what = f"{result.method} pruning"
    if result.amount is not None:
        what += f", amount {result.amount:.3g}"
    if result.target_macs is not None:
        what += f" (searched for MACs <= {result.target_macs:.0%} of the original)"
    title.append(f"{before.count.model}", style="bold")
    title.append(f"  {what}\n", style="dim")
    sides = BeforeAfter()
    table, row = sides.table, sides.row
    row("params", before.count.total.params, after.count.total.params)
    row("nonzero params", before.nonzero_params, after.nonzero_params)
    row("MACs", before.count.total.macs, after.count.total.macs)
    row("FLOPs", before.count.total.flops, after.count.total.flops)
    row("weight bytes", before.count.total.weight_bytes, after.count.total.weight_bytes)
    row("file bytes (ONNX)", before.file_bytes, after.file_bytes)
    if result.effective_macs is not None:
        row("MACs if zeros were skipped", before.count.total.macs, result.effective_macs)
    sides.measured((before.profile, before.accuracy), (after.profile, after.accuracy))
    parts: list[RenderableType] = [title, fit(table, {"": NAME}, default=MAIN)]
    footer = Text()
    if result.accuracy_pruned is not None:
        footer.append(
            f"accuracy right after pruning, before fine-tuning: {percent(result.accuracy_pruned)}\n"
        )
    if before.profile is not None and after.profile is not None:
        speed = before.profile.latency_us.median / after.profile.latency_us.median
        macs = before.count.total.macs / max(after.count.total.macs, 1)
        footer.append(
            f"measured on {after.profile.runtime} ({after.profile.precision}, "
            f"{after.profile.threads} threads, interleaved): speed-up {speed:.2f}x "
            f"for a MAC ratio of {macs:.2f}x\n"
        )
    if result.total_sparsity is not None:
        footer.append(
            f"sparsity: {percent(result.total_sparsity)} of the prunable weights are zero\n"
        )
    for name, (a, b) in result.heads.items():
        footer.append(f"{name}: {a} -> {b} attention heads\n")
    for note in result.notes:
        footer.append(f"note: {note}\n", style="cyan")
    parts.append(footer)
    if result.sparsity:
        sp = Table(title="sparsity per layer", header_style="bold")
        for col in ("layer", "weights", "zeros", "sparsity"):
            sp.add_column(col, justify="left" if col == "layer" else "right")
        for s in result.sparsity:
            sp.add_row(s.name, human(s.numel), human(s.zeros), percent(s.fraction))
        parts.append(fit(sp, {"layer": NAME, "sparsity": MAIN}, default=HIGH))
    return Group(*parts)
