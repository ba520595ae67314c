"""``modelprof compare``: N models side by side, latency measured interleaved."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..shapes import parse_input_shape
from . import options
from .common import check_outputs, emit

if TYPE_CHECKING:
    from rich.console import RenderableType

    from ..measure.comparison import CompareReport

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
    quiet: bool,
) -> None:
    """Compare MODELS (two or more: .onnx files, file.py:factory specs or zoo names) side by
    side: params, MACs, FLOPs and peak activation memory, ratios to the first model. Each
    --input-shape applies to every model.

    With --profile, each model is compiled once in a process of its own and the models are
    timed in turn, round after round, so a change in the machine's load favours none of them:
    median, IQR and min latency, and the ratio of medians to the first model.
    """
    from ..measure.comparison import compare, compare_document
    from ..measure.runtimes import RunSettings
    from ..render import jsondoc

    if len(models) < 2:
        raise click.UsageError("compare needs at least two models")
    options.refuse_unless(ctx, do_profile, MEASURE_ONLY, "--profile")
    options.refuse_precision(runtime, precision)
    check_outputs(output, force=force)
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
    document = jsondoc.dumps(compare_document(report)) if fmt == "json" else render_compare(report)
    emit(document, output=output, force=force, quiet=quiet)


def render_compare(report: CompareReport) -> RenderableType:
    """One row per model; ratios to the first model; latency columns when profiled."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from ..render.units import human

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
