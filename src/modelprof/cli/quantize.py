"""``modelprof quantize``: post-training int8 with NNCF, before/after, and the int8 diagnosis."""

from __future__ import annotations

import click

from ..shapes import parse_input_shape
from . import options
from .common import STDOUT, check_outputs, echo_err, emit, model_argument, progress


@click.command("quantize")
@click.argument("model")
@click.option(
    "--calibrate",
    metavar="digits|file.py:loaders|inputs.npz",
    help="Calibration data: digits (seed networks), a loaders function, or an .npz of "
    "samples (arrays named after the inputs, optional 'labels'). Default: random data, which "
    "gives no accuracy claim.",
)
@click.option(
    "--subset",
    type=click.IntRange(min=1, max=100_000),  # rewrite.quantization.MAX_SUBSET
    default=300,
    show_default=True,
    help="Calibration samples (model calls) NNCF collects statistics on.",
)
@click.option(
    "--preset",
    type=click.Choice(("performance", "mixed")),
    default="performance",
    show_default=True,
    help="performance: symmetric weights and activations; mixed: asymmetric activations "
    "(for inputs that are not ReLU-like).",
)
@click.option(
    "--ignore",
    help="Comma-separated layers to keep in float (exact names or module paths: conv1).",
)
@click.option(
    "--accuracy-control",
    is_flag=True,
    help="NNCF's accuracy-aware quantization: return layers to float until the accuracy "
    "drop is at most --max-drop (needs labelled data).",
)
@click.option(
    "--max-drop",
    type=options.Finite(min=0.0, max=1.0),
    default=0.01,
    show_default=True,
    help="Largest accuracy drop --accuracy-control accepts (0.01 = 1 point).",
)
@options.input_shape_option
@click.option(
    "--save",
    type=click.Path(dir_okay=False),
    help="Write the int8 model here (.xml; .onnx for ONNX sources).",
)
@options.before_after_options
@options.report_options("table", "json")
@options.trust_pickle_option
@options.quiet_option
@click.pass_context
def quantize_command(
    ctx: click.Context,
    model: str,
    calibrate: str | None,
    subset: int,
    preset: str,
    ignore: str | None,
    accuracy_control: bool,
    max_drop: float,
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
    """Quantize MODEL to int8 with NNCF and show before against after.

    OpenVINO IR and ONNX files go through NNCF's OpenVINO and ONNX backends; PyTorch models
    (zoo names, file.py:factory) are converted with OpenVINO first. With --profile both run
    interleaved on OpenVINO, and each layer's execution precision, its time beside f32, and
    the time spent in FakeQuantize, Convert and Reorder layers are shown.
    """
    from ..measure.runtimes import RunSettings
    from ..render import jsondoc
    from ..render.quantize_view import quantize_document, render_quantize
    from ..rewrite.quantization import check_quantize_request, quantize

    options.refuse_unless(ctx, runtime is not None, options.MEASURE_ONLY, "--profile or --runtime")
    # --runtime's alias callback does not reach the value it shares with --profile (click 8.5)
    runtime = options.RUNTIME_ALIASES.get(runtime, runtime) if runtime else runtime
    options.refuse_unless(ctx, accuracy_control, ("max_drop",), "--accuracy-control")
    check_quantize_request(
        model,
        calibrate=calibrate,
        subset=subset,
        preset=preset,
        save=None if save == STDOUT else save,
        force=force,
        measure=runtime,
        accuracy_control=accuracy_control,
        max_drop=max_drop,
    )
    check_outputs(output, force=force, save=save, model=model, inputs=(calibrate,))
    specs = [parse_input_shape(s) for s in input_shapes]
    with progress(f"quantizing {model}...", quiet=quiet):
        result = quantize(
            model_argument(model, trust_pickle),
            specs or None,
            calibrate=calibrate,
            subset=subset,
            preset=preset,
            ignore=tuple(n.strip() for n in ignore.split(",") if n.strip()) if ignore else (),
            save=save,
            force=force,
            measure=runtime,
            settings=RunSettings(threads=threads, time_budget_s=time_budget, warmup=5),
            rounds=rounds,
            accuracy_control=accuracy_control,
            max_drop=max_drop,
            progress=None if quiet else echo_err,
        )
    if result.saved and not quiet:
        echo_err(f"wrote {result.saved}")
    document = (
        jsondoc.dumps(quantize_document(result)) if fmt == "json" else render_quantize(result)
    )
    emit(document, output=output, force=force, quiet=quiet)
