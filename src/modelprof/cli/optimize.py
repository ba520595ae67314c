"""``modelprof optimize``: separable, prune and int8 chained, every step measured."""

from __future__ import annotations

import click

from ..shapes import parse_input_shape
from . import options
from .common import check_outputs, echo_err, emit, model_argument, progress


@click.command("optimize")
@click.argument("model")
@click.option("--separable", is_flag=True, help="Make every eligible convolution separable.")
@click.option(
    "--prune",
    "prune_ratio",
    type=options.Finite(min=0.0, max=1.0, min_open=True, max_open=True),
    help="Remove this channel ratio (structured pruning).",
)
@click.option("--int8", is_flag=True, help="Quantize the last model to int8 with NNCF.")
@options.finetune_options
@click.option(
    "--subset",
    type=click.IntRange(min=1, max=100_000),  # rewrite.quantization.MAX_SUBSET
    default=300,
    show_default=True,
    help="Calibration samples (model calls) NNCF collects statistics on.",
)
@click.option(
    "--save-dir",
    type=click.Path(file_okay=False),
    help="Write every step's model into this folder.",
)
@options.input_shape_option
@options.before_after_options
@options.report_options("table", "json")
@options.trust_pickle_option
@options.quiet_option
@click.pass_context
def optimize_command(
    ctx: click.Context,
    model: str,
    separable: bool,
    prune_ratio: float | None,
    int8: bool,
    finetune: str | None,
    epochs: int,
    subset: int,
    save_dir: str | None,
    input_shapes: tuple[str, ...],
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
    """Chain --separable, --prune and --int8 on MODEL (a PyTorch model), fine-tune after each
    step with --finetune data, and show one row per step: params, MACs, weight bytes, file
    bytes, accuracy, and with --profile the latency of every step, measured interleaved on
    OpenVINO (one process per model)."""
    from ..measure.runtimes import RunSettings
    from ..render import jsondoc
    from ..render.optimize_view import optimize_document, render_optimize
    from ..rewrite.optimize import check_optimize_request, optimize

    options.refuse_unless(ctx, runtime is not None, options.MEASURE_ONLY, "--profile or --runtime")
    options.refuse_unless(ctx, finetune is not None, ("epochs",), "--finetune")
    options.refuse_unless(ctx, int8, ("subset",), "--int8")
    runtime = options.RUNTIME_ALIASES.get(runtime, runtime) if runtime else runtime
    if runtime not in (None, "openvino"):
        raise click.UsageError("optimize measures on OpenVINO (the int8 step is an OpenVINO IR)")
    check_optimize_request(
        model,
        prune=prune_ratio,
        separable=separable,
        int8=int8,
        save_dir=save_dir,
        subset=subset,
    )
    check_outputs(output, force=force, model=model, inputs=(finetune,))
    specs = [parse_input_shape(s) for s in input_shapes]
    with progress(f"optimizing {model}...", quiet=quiet):
        result = optimize(
            model_argument(model, trust_pickle),
            specs or None,
            prune=prune_ratio,
            separable=separable,
            int8=int8,
            finetune=finetune,
            epochs=epochs,
            subset=subset,
            save_dir=save_dir,
            force=force,
            measure=runtime,
            settings=RunSettings(threads=threads, time_budget_s=time_budget, warmup=5),
            rounds=rounds,
            progress=None if quiet else echo_err,
        )
    document = (
        jsondoc.dumps(optimize_document(result)) if fmt == "json" else render_optimize(result)
    )
    emit(document, output=output, force=force, quiet=quiet)
