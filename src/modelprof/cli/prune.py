"""``modelprof prune``: structured or unstructured pruning, fine-tuning, before/after."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..rewrite.transforms.prune import IMPORTANCES
from ..shapes import parse_input_shape
from . import options
from .common import STDOUT, check_outputs, echo_err, emit, model_argument, progress

#: what only acts on structured pruning
STRUCTURED_ONLY = (
    "target_macs",
    "heads",
    "global_pruning",
    "layer_amount",
    "round_to",
    "steps",
    "importance",
    "ignore",
)


def _layer_amount(values: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    out = []
    for value in values:
        name, sep, amount = value.rpartition("=")
        try:
            ratio = float(amount)
        except ValueError:
            ratio = -1.0
        if not sep or not name or ratio < 0:
            raise click.BadParameter(f"'{value}': expected NAME=0.3", param_hint="--layer-amount")
        out.append((name, ratio))
    return tuple(out)


@click.command("prune")
@click.argument("model")
@click.option(
    "--amount",
    type=float,
    help="Channel ratio to remove (structured) or share of "
    "weights to zero (unstructured); default 0.5.",
)
@click.option(
    "--target-macs",
    type=float,
    help="Prune until MACs are at most this fraction of the original (searched).",
)
@click.option(
    "--importance",
    type=click.Choice(IMPORTANCES),
    default="l2",
    show_default=True,
    help="How channels are ranked: L1 or L2 norm of their weights, BatchNorm scale, or "
    "first-order Taylor (needs --finetune data).",
)
@click.option("--global", "global_pruning", is_flag=True, help="Rank channels across layers.")
@click.option("--ignore", help="Comma-separated layers to leave alone (default: the classifier).")
@click.option("--layer-amount", multiple=True, metavar="NAME=0.3", help="Per-layer ratio.")
@click.option("--round-to", type=click.IntRange(min=1), help="Keep channel counts multiples of N.")
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Iterative pruning steps.",
)
@click.option("--heads", type=float, help="Share of attention heads to remove (transformers).")
@click.option("--unstructured", is_flag=True, help="Zero individual weights instead.")
@click.option("--per-layer", is_flag=True, help="Unstructured: rank weights within each layer.")
@options.finetune_options
@options.input_shape_option
@options.save_option
@options.before_after_options
@options.report_options("table", "json")
@options.trust_pickle_option
@options.quiet_option
@click.pass_context
def prune_command(
    ctx: click.Context,
    model: str,
    amount: float | None,
    target_macs: float | None,
    importance: str,
    global_pruning: bool,
    ignore: str | None,
    layer_amount: tuple[str, ...],
    round_to: int | None,
    steps: int,
    heads: float | None,
    unstructured: bool,
    per_layer: bool,
    finetune: str | None,
    epochs: int,
    input_shapes: tuple[str, ...],
    save: str | None,
    runtime: str | None,
    threads: int | None,
    time_budget: float,
    rounds: int,
    fmt: str,
    output: str | None,
    force: bool,
    trust_pickle: bool,
    quiet: bool,
) -> None:
    """Prune MODEL and show before against after.

    Structured pruning (the default, PyTorch models) removes channels with Torch-Pruning, so
    MACs, params, file size and latency drop. --unstructured zeroes weights (ONNX too): the
    report says what that does and does not buy.
    """
    from ..measure.runtimes import RunSettings
    from ..render import jsondoc
    from ..rewrite.checks import check_request
    from ..rewrite.pruning import prune
    from ..rewrite.transforms.prune import StructuredPlan

    if amount is not None and target_macs is not None:
        raise click.UsageError("give --amount or --target-macs, not both")
    options.refuse_unless(ctx, runtime is not None, options.MEASURE_ONLY, "--profile or --runtime")
    options.refuse_unless(ctx, finetune is not None, ("epochs",), "--finetune")
    options.refuse_unless(
        ctx,
        not unstructured,
        STRUCTURED_ONLY,
        "structured pruning: --unstructured zeroes weights, removing no channel and no MAC",
    )
    options.refuse_unless(ctx, unstructured, ("per_layer",), "--unstructured")
    # what the model's name rules out (an IR cannot be pruned, --save over the model);
    # --save - gets check_outputs' own message
    check_request(
        model, "prune", save=None if save == STDOUT else save, force=force, finetune=finetune
    )
    check_outputs(output, force=force, save=save, model=model)
    plan = StructuredPlan(
        amount=amount if amount is not None else 0.5,
        importance=importance,
        global_pruning=global_pruning,
        ignore=tuple(n.strip() for n in ignore.split(",") if n.strip()) if ignore else None,
        layer_amounts=_layer_amount(layer_amount),
        round_to=round_to,
        steps=steps,
    )
    specs = [parse_input_shape(s) for s in input_shapes]
    with progress(f"pruning {model}...", quiet=quiet):
        result = prune(
            model_argument(model, trust_pickle),
            specs or None,
            amount=amount
            if amount is not None
            else (None if target_macs is not None or heads is not None else 0.5),
            target_macs=target_macs,
            unstructured=unstructured,
            per_layer=per_layer,
            heads=heads,
            plan=plan,
            finetune=finetune,
            epochs=epochs,
            save=save,
            force=force,
            measure=runtime,
            settings=RunSettings(threads=threads, time_budget_s=time_budget, warmup=5),
            rounds=rounds,
        )
    if result.nothing_done and not quiet:
        # why nothing was pruned: a JSON document says it in its notes, a table on stderr too;
        # what was therefore not written, measured or fine-tuned: always on stderr
        why, *undone = result.nothing_done
        for line in ([why] if fmt == "table" else []) + undone:
            echo_err(line)
    if result.saved and not quiet:
        echo_err(f"wrote {result.saved}")
    document = jsondoc.dumps(prune_document(result)) if fmt == "json" else prune_view(result)
    emit(document, output=output, force=force, quiet=quiet)


def _side_doc(side: Any) -> dict[str, Any]:
    from ..render import jsondoc

    doc = jsondoc.count_document(side.count)
    doc["file_bytes"] = side.file_bytes
    doc["nonzero_params"] = side.nonzero_params
    if side.profile is not None:
        doc["latency_us"] = {
            "median": side.profile.latency_us.median,
            "iqr": side.profile.latency_us.iqr,
        }
        doc["profile"] = jsondoc.profile_document(side.profile)
    if side.accuracy is not None:
        doc["accuracy"] = side.accuracy
    return doc


def prune_document(result: Any) -> dict[str, Any]:
    from .._version import __version__
    from ..costreport import SCHEMA_VERSION

    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kind": "prune",
        "modelprof_version": __version__,
        "method": result.method,
        "amount": result.amount,
        "target_macs": result.target_macs,
        "before": _side_doc(result.before),
        "after": _side_doc(result.after),
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


def prune_view(result: Any) -> RenderableType:
    from ..render.units import human, percent

    before, after = result.before, result.after
    title = Text()
    what = f"{result.method} pruning"
    if result.amount is not None:
        what += f", amount {result.amount:.3g}"
    if result.target_macs is not None:
        what += f" (searched for MACs <= {result.target_macs:.0%} of the original)"
    title.append(f"{before.count.model}", style="bold")
    title.append(f"  {what}\n", style="dim")
    table = Table(header_style="bold")
    for col in ("", "before", "after", "after / before"):
        table.add_column(col, justify="left" if not col else "right")

    def row(label: str, a: float | None, b: float | None, fmt: Any = human) -> None:
        if a is None or b is None:
            return
        ratio = f"{b / a:.3f}" if a else "-"
        table.add_row(label, fmt(a), fmt(b), ratio)

    row("params", before.count.total.params, after.count.total.params)
    row("nonzero params", before.nonzero_params, after.nonzero_params)
    row("MACs", before.count.total.macs, after.count.total.macs)
    row("FLOPs", before.count.total.flops, after.count.total.flops)
    row("weight bytes", before.count.total.weight_bytes, after.count.total.weight_bytes)
    row("file bytes (ONNX)", before.file_bytes, after.file_bytes)
    if result.effective_macs is not None:
        row("MACs if zeros were skipped", before.count.total.macs, result.effective_macs)
    if before.profile is not None and after.profile is not None:
        row(
            "latency median (us)",
            before.profile.latency_us.median,
            after.profile.latency_us.median,
            lambda v: f"{v:,.1f}",
        )
        row(
            "latency IQR (us)",
            before.profile.latency_us.iqr,
            after.profile.latency_us.iqr,
            lambda v: f"{v:,.1f}",
        )
    if before.accuracy is not None and after.accuracy is not None:
        table.add_row(
            "accuracy",
            percent(before.accuracy),
            percent(after.accuracy),
            f"{100 * (after.accuracy - before.accuracy):+.1f} pt",
        )
    parts: list[RenderableType] = [title, table]
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
        parts.append(sp)
    return Group(*parts)
