"""``modelprof profile``: measured per-layer latency on OpenVINO or ONNX Runtime."""

from __future__ import annotations

import click

from ..shapes import parse_input_shape
from .common import echo_err, render_text, stdout_console, write_atomically


@click.command("profile")
@click.argument("model")
@click.option(
    "--runtime",
    type=click.Choice(("openvino", "onnxruntime", "ov", "ort")),
    default="openvino",
    show_default=True,
)
@click.option(
    "--device",
    default="CPU",
    show_default=True,
    help="OpenVINO device (CPU, AUTO, ...) or ONNX Runtime provider (CPU, CUDA).",
)
@click.option(
    "--precision",
    type=click.Choice(("f32", "bf16", "f16")),
    default="f32",
    show_default=True,
    help="Inference precision (always reported).",
)
@click.option("--threads", type=click.IntRange(min=1), help="Inference threads (default: all).")
@click.option("--iterations", type=click.IntRange(min=1), help="Timed runs per pass.")
@click.option(
    "--time",
    "time_budget",
    type=click.FloatRange(min=0.01),
    default=2.0,
    show_default=True,
    help="Seconds per pass when --iterations is not given.",
)
@click.option("--warmup", type=click.IntRange(min=0), default=10, show_default=True)
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=1x3x224x224")
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
    "--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    help="Also write a self-contained HTML report (tables and charts) here.",
)
@click.option("--force", is_flag=True, help="Replace existing output files.")
@click.option("--top", type=click.IntRange(min=0), help="Show the N slowest rows (0: all).")
@click.option(
    "--sort", type=click.Choice(("order", "time", "flops")), default="order", show_default=True
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but the requested document.")
def profile_command(
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
    fmt: str,
    output: str | None,
    html_path: str | None,
    force: bool,
    top: int | None,
    sort: str,
    quiet: bool,
) -> None:
    """Measure MODEL end to end and layer by layer on a real runtime, joined with its costs.

    End-to-end latency comes from a pass with the profiler off; per-layer times from a second
    pass with it on (its overhead is reported). Each runtime layer is mapped back to the
    model's layers through the runtime's record of fusion.
    """
    from ..profiling import profile
    from ..report import jsondoc, profile_view
    from ..runtimes import RunSettings
    from ..runtimes.ceilings import load_cached

    runtime = {"ov": "openvino", "ort": "onnxruntime"}.get(runtime, runtime)
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
    report = profile(
        model,
        specs or None,
        runtime=runtime,
        settings=settings,
        input_file=input_file,
        ceilings=load_cached(runtime, precision),
    )
    if fmt == "json":
        text = jsondoc.dumps(jsondoc.profile_document(report))
        if output:
            write_atomically(output, text, force=force)
        else:
            click.echo(text, nl=False)
    else:
        top_n = (
            None
            if top == 0
            else (top if top is not None else (30 if len(report.layers) > 60 else None))
        )
        renderable = profile_view.render_profile(
            report, sort="time" if top_n and sort == "order" else sort, top=top_n
        )
        if output:
            write_atomically(output, render_text(renderable), force=force)
        elif not quiet:
            stdout_console().print(renderable)
    if output and not quiet:
        echo_err(f"wrote {output}")
    if html_path:
        from ..report.html import profile_html

        write_atomically(html_path, profile_html(report), force=force)
        if not quiet:
            echo_err(f"wrote {html_path}")
