"""``modelprof separable`` and ``modelprof pooling``: efficient-layer what-ifs and rewrites."""

from __future__ import annotations

import click
from rich.console import RenderableType

from ..shapes import parse_input_shape
from . import options
from .common import STDOUT, check_outputs, echo_err, emit, model_argument, progress


@click.command("separable")
@click.argument("model")
@click.option(
    "--multiplier",
    "-m",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Depth multiplier m of the depthwise convolution.",
)
@click.option(
    "--min-saving",
    type=options.Finite(min=0),
    help="Replace only layers whose MAC saving is at least this factor.",
)
@click.option("--layers", help="Comma-separated layer names or module paths to replace.")
@options.input_shape_option
@options.save_option
@options.before_after_options
@options.finetune_options
@options.report_options("table", "json")
@options.trust_pickle_option
@options.quiet_option
@click.pass_context
def separable_command(
    ctx: click.Context,
    model: str,
    multiplier: int,
    min_saving: float | None,
    layers: str | None,
    input_shapes: tuple[str, ...],
    save: str | None,
    runtime: str | None,
    threads: int | None,
    time_budget: float,
    rounds: int,
    finetune: str | None,
    epochs: int,
    fmt: str,
    output: str | None,
    force: bool,
    trust_pickle: bool,
    quiet: bool,
) -> None:
    """What depthwise-separable convolutions would save, per layer; with --save, the rewrite.

    Eligible layers are convolutions with group 1 and a kernel larger than 1x1. The rewrite
    factors each kernel by truncated SVD (rank m), so it starts from the original weights.
    """
    from ..measure.runtimes import RunSettings
    from ..render import jsondoc
    from ..render.separable_view import separable_document, separable_table
    from ..rewrite.separable_rewrite import check_separable_request, separable

    options.refuse_unless(ctx, runtime is not None, options.MEASURE_ONLY, "--profile or --runtime")
    options.refuse_unless(ctx, finetune is not None, ("epochs",), "--finetune")
    # what the model's name rules out (an IR cannot be rewritten, --save over the model);
    # --save - gets check_outputs' own message
    check_separable_request(
        model,
        save=None if save == STDOUT else save,
        force=force,
        measure=runtime,
        finetune=finetune,
    )
    check_outputs(output, force=force, save=save, model=model, inputs=(finetune,))
    specs = [parse_input_shape(s) for s in input_shapes]
    names = [n.strip() for n in layers.split(",") if n.strip()] if layers else None
    settings = RunSettings(threads=threads, time_budget_s=time_budget, warmup=5)
    with progress(f"rewriting {model}...", quiet=quiet):
        result = separable(
            model_argument(model, trust_pickle),
            specs or None,
            multiplier=multiplier,
            layers=names,
            min_saving=min_saving,
            save=save,
            force=force,
            measure=runtime,
            settings=settings,
            rounds=rounds,
            finetune=finetune,
            epochs=epochs,
            progress=None if quiet else echo_err,  # training takes a while: say so, by epoch
        )
    report = result.report
    if result.nothing_done and not quiet:
        # why nothing is replaced: a JSON document says it in its notes, a table on stderr too;
        # what was therefore not written, measured or fine-tuned: always on stderr
        why, *undone = result.nothing_done
        for line in ([why] if fmt == "table" else []) + undone:
            echo_err(line)
    costly = [layer.name for layer in report.replaced if not layer.saves]
    if costly and not quiet:
        echo_err(
            f"note: {', '.join(costly)} cost more as depthwise + pointwise with m = "
            f"{multiplier} (the rewrite is exact when m >= min(N, K^2))"
        )
    if report.saved and not quiet:
        echo_err(f"wrote {report.saved}")
    if not report.layers and fmt == "table" and output is None:
        return  # an empty table would say no more than the line above
    document = (
        jsondoc.dumps(separable_document(result)) if fmt == "json" else separable_table(result)
    )
    emit(document, output=output, force=force, quiet=quiet)


@click.command("pooling")
@click.argument("model")
@options.input_shape_option
@options.report_options("table", "json")
@options.trust_pickle_option
@options.quiet_option
def pooling_command(
    model: str,
    input_shapes: tuple[str, ...],
    fmt: str,
    output: str | None,
    force: bool,
    trust_pickle: bool,
    quiet: bool,
) -> None:
    """What a 2x2 or global average pool before each dense layer would save."""
    from ..analysis import analyze
    from ..api import load_graph
    from ..render import jsondoc
    from ..render.separable_view import pooling_document, pooling_table
    from ..rewrite.transforms.pooling import pooling_whatif

    check_outputs(output, force=force, model=model)
    specs = [parse_input_shape(s) for s in input_shapes]
    graph = load_graph(model_argument(model, trust_pickle), specs or None)
    found = pooling_whatif(graph, analyze(graph))
    layers = [layer for layer in found if layer.options]
    # pools that do not fit a layer's map are left out, saying so
    notes = [f"{layer.name}: {why}" for layer in found for why in layer.omitted]
    if not found:
        notes = [f"{graph.name} has no dense layer fed by a flattened spatial map"]
    # a JSON document (or a report file) says why it lists nothing; a terminal gets the lines
    if not layers and fmt == "table":
        if not quiet:
            for note in notes:
                echo_err(note)
        if output is None:
            return  # an empty table would say no more than those lines
    document: RenderableType
    if fmt == "json":
        document = jsondoc.dumps(pooling_document(graph.name, layers, notes))
    else:
        document = pooling_table(graph.name, layers, notes)
    emit(document, output=output, force=force, quiet=quiet)
