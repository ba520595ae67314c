"""``modelprof compare``: N models side by side, latency measured interleaved."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..shapes import parse_input_shape
from .common import echo_err, render_text, stdout_console, write_atomically

if TYPE_CHECKING:
    from rich.console import RenderableType

    from ..compare import CompareReport


@click.command("compare")
@click.argument("models", nargs=-1, required=True)
@click.option(
    "--profile",
    "do_profile",
    is_flag=True,
    help="Also measure end-to-end latency, interleaved (A B A B ...), one process per model.",
)
@click.option(
    "--runtime",
    type=click.Choice(("openvino", "onnxruntime", "ov", "ort")),
    default="openvino",
    show_default=True,
)
@click.option("--device", default="CPU", show_default=True)
@click.option(
    "--precision",
    type=click.Choice(("f32", "bf16", "f16")),
    default="f32",
    show_default=True,
    help="Inference precision (always reported).",
)
@click.option("--threads", type=click.IntRange(min=1), help="Inference threads (default: all).")
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
@click.option("--warmup", type=click.IntRange(min=0), default=10, show_default=True)
@click.option(
    "--input-shape",
    "input_shapes",
    multiple=True,
    metavar="NAME=1x3x224x224",
    help="Bind an input's shape, for every model (repeatable).",
)
@click.option(
    "--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here.")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but the requested document.")
def compare_command(
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
    quiet: bool,
) -> None:
    """Compare MODELS (two or more: .onnx files, file.py:factory specs or zoo names) side by
    side: params, MACs, FLOPs and peak activation memory, ratios to the first model.

    With --profile, each model is compiled once in a process of its own and the models are
    timed in turn, round after round, so a change in the machine's load favours none of them:
    median, IQR and min latency, and the ratio of medians to the first model.
    """
    from ..compare import compare, compare_document
    from ..report import jsondoc
    from ..runtimes import RunSettings

    if len(models) < 2:
        raise click.UsageError("compare needs at least two models")
    runtime = {"ov": "openvino", "ort": "onnxruntime"}.get(runtime, runtime)
    settings = RunSettings(device=device, precision=precision, threads=threads, warmup=warmup)
    specs = [parse_input_shape(s) for s in input_shapes]
    report = compare(
        list(models),
        specs or None,
        profile=do_profile,
        runtime=runtime,
        settings=settings,
        rounds=rounds,
        iterations=iterations,
    )
    if fmt == "json":
        text = jsondoc.dumps(compare_document(report))
        if output:
            write_atomically(output, text, force=force)
        else:
            click.echo(text, nl=False)
    elif output:
        write_atomically(output, render_text(render_compare(report)), force=force)
    elif not quiet:
        stdout_console().print(render_compare(report))
    if output and not quiet:
        echo_err(f"wrote {output}")


def render_compare(report: CompareReport) -> RenderableType:
    """One row per model; ratios to the first model; latency columns when profiled."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from ..report.units import human

    def us(value: float) -> str:
        return f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.1f} us"

    def times(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}x"

    table = Table(header_style="bold")
    table.add_column("model", overflow="fold", max_width=40)
    for title in ("params", "MACs", "FLOPs", "FLOPs vs first", "peak act. mem"):
        table.add_column(title, justify="right", no_wrap=True)
    if report.profiled:
        for title in ("latency median", "IQR", "min", "latency vs first", "samples"):
            table.add_column(title, justify="right", no_wrap=True)
    for index, model in enumerate(report.models):
        total = model.count.total
        cells = [
            model.label,
            human(total.params),
            human(total.macs),
            human(total.flops),
            times(report.flops_ratio(index)),
            human(total.peak_activation_bytes, "B"),
        ]
        if report.profiled and model.latency_us is not None:
            lat = model.latency_us
            cells += [
                us(lat.median),
                us(lat.iqr),
                us(lat.min),
                times(report.latency_ratio(index)),
                str(lat.samples),
            ]
        table.add_row(*cells)
    parts: list[RenderableType] = []
    if report.profiled:
        header = Text()
        header.append("latency ", style="dim")
        header.append(
            f"{report.runtime} {report.runtime_version} on {report.device}, precision "
            f"{report.precision}, {report.threads} threads: {report.rounds} rounds x "
            f"{report.iterations} runs per model, interleaved, one process per model"
        )
        parts.append(header)
    parts.append(table)
    footer = Text()
    footer.append("ratios are to the first model", style="dim")
    for note in report.notes:
        footer.append(f"\nnote: {note}", style="cyan")
    parts.append(footer)
    return Group(*parts)
