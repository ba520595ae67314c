"""``modelprof profile``: measured per-layer latency on OpenVINO, ONNX Runtime or PyTorch (eager
or compiled)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ..shapes import parse_input_shape
from . import options
from .common import STDOUT, check_outputs, echo_err, emit, model_argument, progress

if TYPE_CHECKING:
    from rich.console import RenderableType

    from ..measure.runtimes import RunSettings
    from ..shapes import InputSpec


@click.command("profile")
@click.argument("model")
@options.profile_runtime_options
@click.option("--iterations", type=click.IntRange(min=1), help="Timed runs per pass.")
@click.option(
    "--time",
    "time_budget",
    type=options.Finite(min=0.01),
    default=2.0,
    show_default=True,
    help="Seconds per pass (throughput mode: per point) when --iterations is not given.",
)
@options.warmup_option
@options.input_shape_option
@click.option(
    "--inputs",
    "input_file",
    type=click.Path(dir_okay=False),
    help="Input data: .npy (one input) or .npz (arrays by input name).",
)
@click.option(
    "--optimization",
    type=click.Choice(("all", "extended", "basic", "disable")),
    default="all",
    show_default=True,
    help="ONNX Runtime graph optimisation level.",
)
@click.option("--cache-dir", type=click.Path(file_okay=False), help="OpenVINO model cache.")
@click.option(
    "--compile-mode",
    type=click.Choice(("default", "max-autotune")),
    default="default",
    show_default=True,
    help="torch.compile mode of --runtime torch-compile.",
)
@options.format_option("table", "json")
@options.output_option
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Also write a self-contained HTML report (tables and charts) here ('-': standard "
    "output, in place of the table; -o FILE keeps the table).",
)
@options.force_option
@click.option("--top", type=click.IntRange(min=0), help="Show the N slowest rows (0: all).")
@click.option(
    "--sort",
    type=click.Choice(("order", "time", "flops")),
    default="order",
    show_default=True,
    help="Row order of the layer table.",
)
@options.depth_option
@click.option(
    "--mode",
    type=click.Choice(("latency", "throughput")),
    help="latency (default): one request at a time, per-layer times. throughput: several "
    "streams / requests in flight, FPS and per-request latency (implied by --streams, "
    "--requests and --sweep).",
)
@click.option(
    "--streams",
    "streams_text",
    metavar="N[,N...]",
    help="Throughput mode: streams to run, one point each (default: the runtime chooses).",
)
@click.option(
    "--requests",
    type=int,
    help="Throughput mode: infer requests in flight (default: OpenVINO's optimal number; "
    "one per stream on ONNX Runtime).",
)
@click.option(
    "--sweep",
    "sweep_text",
    metavar="batch=1,4,16",
    help="Throughput mode: measure at each batch (the first dim of every input) x each "
    "--streams value, like DL Workbench's group inference.",
)
@options.trust_pickle_option
@options.quiet_option
@click.pass_context
def profile_command(
    ctx: click.Context,
    model: str,
    runtime: str,
    device: str,
    precision: str,
    threads: int | None,
    iterations: int | None,
    time_budget: float,
    warmup: int,
    input_shapes: tuple[str, ...],
    input_file: str | None,
    optimization: str,
    cache_dir: str | None,
    compile_mode: str,
    fmt: str,
    output: str | None,
    html_path: str | None,
    force: bool,
    top: int | None,
    sort: str,
    depth: int | None,
    mode: str | None,
    streams_text: str | None,
    requests: int | None,
    sweep_text: str | None,
    trust_pickle: bool,
    quiet: bool,
) -> None:
    """Measure MODEL end to end and layer by layer on a real runtime, joined with its costs.

    End-to-end latency comes from a pass with the profiler off; per-layer times from a second
    pass with it on (its overhead is reported). Each runtime layer is mapped back to the
    model's layers through the runtime's record of fusion.

    With --mode throughput, several requests run at once (OpenVINO: THROUGHPUT hint, N
    streams, an AsyncInferQueue; ONNX Runtime: N threads calling run on one session) and the
    report gives FPS (batch x completed inferences / elapsed) and per-request latency for
    each (batch, streams) point.

    --runtime torch runs a PyTorch model (zoo name, file.py:factory, .pt) itself, eager,
    under torch.inference_mode(), and times each module with forward hooks; its rows are the
    module paths `modelprof count` shows. --runtime torch-compile runs it through
    torch.compile (inductor, --compile-mode) and times each compiled kernel: a fused kernel is
    one row listing the modules it fused. Both run f32 or --precision bf16, and in throughput
    mode each stream is a thread calling the module, as on ONNX Runtime.
    """
    from ..measure.runtimes import RunSettings

    wants_throughput = bool(streams_text or requests is not None or sweep_text)
    if mode == "latency" and wants_throughput:
        raise click.UsageError("--streams, --requests and --sweep need --mode throughput")
    throughput_mode = mode == "throughput" or (mode is None and wants_throughput)
    if throughput_mode and html_path:
        raise click.UsageError("--html is a latency-mode report: drop it with --mode throughput")
    if iterations is not None and options.given(ctx, "time_budget"):
        raise click.UsageError("give --iterations or --time, not both")
    options.refuse_unless(ctx, runtime == "openvino", ("cache_dir",), "--runtime openvino")
    options.refuse_unless(ctx, runtime == "onnxruntime", ("optimization",), "--runtime onnxruntime")
    options.refuse_unless(
        ctx, runtime == "torch-compile", ("compile_mode",), "--runtime torch-compile"
    )
    options.refuse_precision(runtime, precision)
    options.refuse_unless(
        ctx, not throughput_mode, ("top", "sort", "depth"), "latency mode (per-layer times)"
    )
    options.refuse_unless(
        ctx, fmt == "table", ("top", "sort", "depth"), "--format table (JSON has every layer)"
    )
    # --html - takes standard output in place of the table; a document would share it
    report_on_stdout = output == STDOUT or (output is None and fmt != "table")
    if html_path == STDOUT and report_on_stdout:
        raise click.UsageError(
            "--html - would share standard output with the report: write the report to a "
            "file with -o FILE"
        )
    check_outputs(output, html_path, force=force, model=model, inputs=(input_file,))
    source = model_argument(model, trust_pickle)
    settings = RunSettings(
        device=device,
        precision=precision,
        threads=threads,
        warmup=warmup,
        iterations=iterations,
        time_budget_s=time_budget,
        optimization=optimization,
        cache_dir=cache_dir,
    )
    specs = [parse_input_shape(s) for s in input_shapes]
    backend: Any = runtime
    if runtime == "torch-compile":
        from ..measure.runtimes.torch_compile import TorchCompileRuntime

        backend = TorchCompileRuntime(compile_mode)
    if throughput_mode:
        _throughput_command(
            source,
            specs,
            runtime=backend,
            settings=settings,
            input_file=input_file,
            fmt=fmt,
            output=output,
            force=force,
            streams_text=streams_text,
            requests=requests,
            sweep_text=sweep_text,
            quiet=quiet,
        )
        return
    from ..measure.ceilings import load_cached, unreadable_cache
    from ..measure.profiling import profile
    from ..render import jsondoc, profile_view

    unreadable = unreadable_cache(runtime, precision, device, threads=threads)
    if unreadable is not None and not quiet:
        echo_err(
            f"warning: ignoring the device ceilings cache {unreadable}: it cannot be read "
            f"(modelprof device --runtime {runtime} measures them again)"
        )

    doing = f"profiling {model} on {runtime}..."
    if runtime == "torch-compile":
        doing = (
            f"compiling {model} with torch.compile (about a minute the first time, seconds "
            "once inductor has it cached), then profiling..."
        )
    with progress(doing, quiet=quiet):
        report = profile(
            source,
            specs or None,
            runtime=backend,
            settings=settings,
            input_file=input_file,
            ceilings=load_cached(runtime, precision, device, threads=threads),
        )
    document: RenderableType
    if fmt == "json":
        document = jsondoc.dumps(jsondoc.profile_document(report))
    else:
        top_n = (
            None
            if top == 0
            else (top if top is not None else (30 if len(report.layers) > 60 else None))
        )
        document = profile_view.render_profile(
            report, sort="time" if top_n and sort == "order" else sort, top=top_n, depth=depth
        )
    from ..render.html import profile_html

    # standard output first: if it cannot be written, no file has been reported written
    if html_path == STDOUT:
        emit(profile_html(report), output=html_path, force=force, quiet=quiet)
    if not (html_path == STDOUT and output is None):
        emit(document, output=output, force=force, quiet=quiet)
    if html_path and html_path != STDOUT:
        emit(profile_html(report), output=html_path, force=force, quiet=quiet)


# -- throughput mode ---------------------------------------------------------------------------


def _throughput_command(
    model: Any,
    specs: list[InputSpec],
    *,
    runtime: Any,
    settings: RunSettings,
    input_file: str | None,
    fmt: str,
    output: str | None,
    force: bool,
    streams_text: str | None,
    requests: int | None,
    sweep_text: str | None,
    quiet: bool,
) -> None:
    from ..measure.throughput_mode import parse_batch_sweep, throughput
    from ..render import throughput_view
    from ..shapes import parse_int_list

    if requests is not None and requests < 1:
        raise click.BadParameter(f"{requests} is not at least 1", param_hint="'--requests'")
    streams: tuple[int | None, ...] = (
        parse_int_list(streams_text, "--streams") if streams_text else (None,)
    )
    batches = parse_batch_sweep(sweep_text) if sweep_text else None
    report = throughput(
        model,
        specs or None,
        runtime=runtime,
        settings=settings,
        streams=streams,
        requests=requests,
        batches=batches,
        input_file=input_file,
    )
    if fmt == "json":
        from ..render import jsondoc

        document = jsondoc.dumps(throughput_view.throughput_document(report))
        emit(document, output=output, force=force, quiet=quiet)
    else:
        emit(throughput_view.render_throughput(report), output=output, force=force, quiet=quiet)
