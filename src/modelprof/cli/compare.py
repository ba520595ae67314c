"""``modelprof compare``: N models side by side, or one model on several runtimes, latency
measured interleaved."""

from __future__ import annotations

from typing import Any

import click

from ..shapes import parse_input_shape
from . import options
from .common import check_outputs, emit, model_argument, progress

#: what only acts with --profile
MEASURE_ONLY = (
    "runtimes",
    "device",
    "precision",
    "threads",
    "rounds",
    "iterations",
    "warmup",
    "compile_mode",
)


@click.command("compare")
@click.argument("models", nargs=-1, required=True)
@click.option(
    "--profile",
    "do_profile",
    is_flag=True,
    help="Also measure end-to-end latency, interleaved (A B A B ...), one process per model "
    "(or per runtime).",
)
@options.runtime_list_options
@click.option(
    "--compile-mode",
    type=click.Choice(("default", "max-autotune")),
    default="default",
    show_default=True,
    help="torch.compile mode of --runtime torch-compile.",
)
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Rounds; each gives every model (or runtime), in turn, one batch of timed runs.",
)
@click.option(
    "--iterations",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Timed runs per model (or runtime) per round, and per pass of the per-layer times.",
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
    runtimes: tuple[str, ...],
    device: str,
    precision: str,
    threads: int | None,
    compile_mode: str,
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

    With --profile and several runtimes (--runtime openvino,onnxruntime,torch,torch-compile),
    one PyTorch MODEL runs on each, interleaved, each in its own process (its ONNX export on
    OpenVINO and ONNX Runtime, the module itself on torch and torch-compile); each runtime then
    times it layer by layer, and one table shows every module's time on every runtime.
    """
    from ..measure.runtimes import RunSettings
    from ..render import jsondoc
    from ..render.compare_view import compare_document, render_compare

    by_runtime = len(runtimes) > 1
    options.refuse_unless(ctx, do_profile, MEASURE_ONLY, "--profile")
    options.refuse_unless(
        ctx, "torch-compile" in runtimes, ("compile_mode",), "--runtime torch-compile"
    )
    if by_runtime and len(models) != 1:
        raise click.UsageError(
            "several runtimes compare one model: give one MODEL with --runtime "
            f"{','.join(runtimes)}, or one runtime for several models"
        )
    if not by_runtime and len(models) < 2:
        raise click.UsageError(
            "compare needs at least two models (or one model and several runtimes: "
            "--profile --runtime openvino,torch)"
        )
    for runtime in runtimes:
        options.refuse_precision(runtime, precision)
    check_outputs(output, force=force, inputs=models)
    settings = RunSettings(device=device, precision=precision, threads=threads, warmup=warmup)
    specs = [parse_input_shape(s) for s in input_shapes]
    backends: list[Any] = list(runtimes)
    if "torch-compile" in runtimes:
        from ..measure.runtimes.torch_compile import TorchCompileRuntime

        backends[runtimes.index("torch-compile")] = TorchCompileRuntime(compile_mode)
    if by_runtime:
        from ..measure.comparison import compare_runtimes

        model = models[0]
        if not trust_pickle:
            model_argument(model, trust_pickle)  # a .pt file is refused here, before any work
        doing = f"timing {model} on {', '.join(runtimes)}, each in its own process..."
        if "torch-compile" in runtimes:
            doing += " (torch.compile takes about a minute the first time)"
        with progress(doing, quiet=quiet):
            report = compare_runtimes(
                model,
                specs or None,
                runtimes=backends,
                settings=settings,
                rounds=rounds,
                iterations=iterations,
                trust_pickle=trust_pickle,
            )
    else:
        from ..measure.comparison import compare

        # a .pt file is passed on as the module it holds, and keeps its file name as its label
        labels: list[str] = []
        for name in models:
            label, k = name, 2
            while label in labels:
                label, k = f"{name} #{k}", k + 1
            labels.append(label)
        report = compare(
            [model_argument(m, trust_pickle) for m in models],
            specs or None,
            labels=labels,
            profile=do_profile,
            runtime=backends[0],
            settings=settings,
            rounds=rounds,
            iterations=iterations,
        )
    document = jsondoc.dumps(compare_document(report)) if fmt == "json" else render_compare(report)
    emit(document, output=output, force=force, quiet=quiet)
