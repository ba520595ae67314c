"""``modelprof compare``: N models side by side, latency measured interleaved."""

from __future__ import annotations

import click

from ..shapes import parse_input_shape
from . import options
from .common import check_outputs, emit, model_argument

#: what only acts with --profile
MEASURE_ONLY = ("runtime", "device", "precision", "threads", "rounds", "iterations", "warmup")


@click.command("compare")
@click.argument("models", nargs=-1, required=True)
@click.option(
    "--profile",
    "do_profile",
    is_flag=True,
    help="Also measure end-to-end latency, interleaved (A B A B ...), one process per model.",
)
@options.runtime_options
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Rounds; each gives every model, in turn, one batch of timed runs.",
)
@click.option(
    "--iterations",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Timed runs per model per round.",
)
@options.warmup_option
@options.input_shape_option
@options.report_options("table", "json")
@options.trust_pickle_option
@options.quiet_option
@click.pass_context
def compare_command(
    ctx: click.Context,
    models: tuple[str, ...],
    do_profile: bool,
    runtime: str,
    device: str,
    precision: str,
    threads: int | None,
    rounds: int,
    iterations: int,
    warmup: int,
    input_shapes: tuple[str, ...],
    fmt: str,
    output: str | None,
    force: bool,
    trust_pickle: bool,
    quiet: bool,
) -> None:
    """Compare MODELS (two or more: anything count reads, e.g. .onnx files, .pt modules with
    --trust-pickle, file.py:factory specs or zoo names) side by side: params, MACs, FLOPs and
    peak activation memory, ratios to the first model. Each --input-shape applies to every
    model.

    With --profile, each model is compiled once in a process of its own and the models are
    timed in turn, round after round, so a change in the machine's load favours none of them:
    median, IQR and min latency, and the ratio of medians to the first model.
    """
    from ..measure.comparison import compare
    from ..measure.runtimes import RunSettings
    from ..render import jsondoc
    from ..render.compare_view import compare_document, render_compare

    if len(models) < 2:
        raise click.UsageError("compare needs at least two models")
    options.refuse_unless(ctx, do_profile, MEASURE_ONLY, "--profile")
    options.refuse_precision(runtime, precision)
    check_outputs(output, force=force, inputs=models)
    settings = RunSettings(device=device, precision=precision, threads=threads, warmup=warmup)
    specs = [parse_input_shape(s) for s in input_shapes]
    # a .pt file is passed on as the module it holds, and keeps its file name as its label
    labels: list[str] = []
    for model in models:
        label, k = model, 2
        while label in labels:
            label, k = f"{model} #{k}", k + 1
        labels.append(label)
    report = compare(
        [model_argument(m, trust_pickle) for m in models],
        specs or None,
        labels=labels,
        profile=do_profile,
        runtime=runtime,
        settings=settings,
        rounds=rounds,
        iterations=iterations,
    )
    document = jsondoc.dumps(compare_document(report)) if fmt == "json" else render_compare(report)
    emit(document, output=output, force=force, quiet=quiet)
