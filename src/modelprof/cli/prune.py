"""``modelprof prune``: structured or unstructured pruning, fine-tuning, before/after."""

from __future__ import annotations

import click

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
    type=options.Finite(),
    help="Channel ratio to remove (structured) or share of "
    "weights to zero (unstructured); default 0.5.",
)
@click.option(
    "--target-macs",
    type=options.Finite(),
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
@click.option(
    "--heads", type=options.Finite(), help="Share of attention heads to remove (transformers)."
)
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
    from ..render.prune_view import prune_document, render_prune
    from ..rewrite.checks import check_request, check_runtime_source
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
    check_runtime_source(model, runtime, "prune --profile")
    check_outputs(output, force=force, save=save, model=model, inputs=(finetune,))
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
            progress=None if quiet else echo_err,  # training takes a while: say so, by epoch
        )
    if result.nothing_done and not quiet:
        # why nothing was pruned: a JSON document says it in its notes, a table on stderr too;
        # what was therefore not written, measured or fine-tuned: always on stderr
        why, *undone = result.nothing_done
        for line in ([why] if fmt == "table" else []) + undone:
            echo_err(line)
    if result.saved and not quiet:
        echo_err(f"wrote {result.saved}")
    document = jsondoc.dumps(prune_document(result)) if fmt == "json" else render_prune(result)
    emit(document, output=output, force=force, quiet=quiet)
