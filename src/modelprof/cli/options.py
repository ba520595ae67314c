"""The options several subcommands share, each declared here once (the conventions are in the
README and docs/), so it reads the same, with the same default and help, wherever it appears; and
the check that refuses options given where they would do nothing.

Only click is imported: ``cli/main.py`` imports a subcommand's module (and this one) when it
runs, and ``modelprof count`` must not pay for a runtime's import.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import click
from click.core import ParameterSource

F = TypeVar("F", bound=Callable[..., Any])

#: what ``--runtime`` also accepts, and the names the commands receive instead
RUNTIME_ALIASES = {"ov": "openvino", "ort": "onnxruntime"}
RUNTIMES = ("openvino", "onnxruntime", *RUNTIME_ALIASES)
#: runtimes that run the PyTorch module itself: ``profile`` and ``compare`` offer them
MODULE_RUNTIMES = ("torch", "torch-compile")
#: the precisions the module runtimes run (PyTorch's f16 on a CPU is reference loops)
MODULE_PRECISIONS = ("f32", "bf16")


class Finite(click.FloatRange):
    """A float option that refuses NaN and infinities: a range check passes NaN (every
    comparison with it is false), and ``--time nan`` ended in a crash deep in the measuring."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def _runtime_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    return RUNTIME_ALIASES.get(value, value) if value else value


# -- the model and its inputs --------------------------------------------------------------------


def input_shape_option(f: F) -> F:
    return click.option(
        "--input-shape",
        "input_shapes",
        multiple=True,
        metavar="NAME=1x3x224x224",
        help="Bind an input's shape (repeatable); NAME:1x3x224x224 and :dtype suffixes "
        "(ids=1x128:int64) are accepted.",
    )(f)


def trust_pickle_option(f: F) -> F:
    return click.option("--trust-pickle", is_flag=True, help="Allow loading a pickled .pt model.")(
        f
    )


def rules_option(f: F) -> F:
    return click.option(
        "--rules",
        "rules",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="A Python file that registers cost rules for custom ops (repeatable).",
    )(f)


def count_bias_option(f: F) -> F:
    return click.option(
        "--count-bias", is_flag=True, help="Count bias adds (1 FLOP per output element)."
    )(f)


# -- where the report goes -----------------------------------------------------------------------


def format_option(*choices: str) -> Callable[[F], F]:
    """``--format`` with these choices, ``table`` first and the default."""

    def decorate(f: F) -> F:
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(choices),
            default="table",
            show_default=True,
            help="Report format.",
        )(f)

    return decorate


def report_options(*formats: str) -> Callable[[F], F]:
    """``--format`` (these choices), ``-o/--output`` and ``--force``: where the report goes."""

    def decorate(f: F) -> F:
        return format_option(*formats)(output_option(force_option(f)))

    return decorate


def output_option(f: F) -> F:
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, allow_dash=True),
        help="Write the report to this file instead ('-': standard output).",
    )(f)


def force_option(f: F) -> F:
    return click.option("--force", is_flag=True, help="Replace existing output files.")(f)


def depth_option(f: F) -> F:
    """``--depth N``: the layers rolled up by module scope (``count`` and ``profile``)."""
    return click.option(
        "--depth",
        type=click.IntRange(min=1),
        help="Roll layers up by module scope, N levels deep (layer1 at 1, layer1.0 at 2).",
    )(f)


def quiet_option(f: F) -> F:
    return click.option(
        "-q", "--quiet", is_flag=True, help="Print no progress or notes: only the report."
    )(f)


def save_option(f: F) -> F:
    return click.option(
        "--save",
        type=click.Path(dir_okay=False),
        help="Write the new model here (.onnx, .xml, or .pt for PyTorch sources).",
    )(f)


# -- measuring -----------------------------------------------------------------------------------


def runtime_options(f: F) -> F:
    """``--runtime``, ``--device``, ``--precision`` and ``--threads``: what a measurement runs
    on. The command receives the runtime's full name (``ort`` arrives as ``onnxruntime``)."""
    return _runtime_options(f, RUNTIMES)


def profile_runtime_options(f: F) -> F:
    """:func:`runtime_options` with the runtimes that run the PyTorch module itself too."""
    return _runtime_options(f, (*RUNTIMES, *MODULE_RUNTIMES))


def runtime_list_options(f: F) -> F:
    """:func:`profile_runtime_options` where ``--runtime`` takes a comma-separated list
    (``openvino,onnxruntime,torch,torch-compile``): the command receives a tuple of full names,
    each once; an unknown name is refused."""
    return _runtime_options(f, (*RUNTIMES, *MODULE_RUNTIMES), several=True)


def _runtime_list(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    known = ("openvino", "onnxruntime", *MODULE_RUNTIMES)
    names: list[str] = []
    for part in value.split(","):
        name = part.strip().lower()
        name = RUNTIME_ALIASES.get(name, name)
        if name not in known:
            raise click.BadParameter(
                f"unknown runtime '{part.strip()}' (choose from: {', '.join(known)}, "
                f"{', '.join(RUNTIME_ALIASES)})"
            )
        if name in names:
            raise click.BadParameter(f"runtime '{name}' is given twice")
        names.append(name)
    return tuple(names)


def _runtime_options(f: F, runtimes: tuple[str, ...], *, several: bool = False) -> F:
    f = threads_option(f)
    f = click.option(
        "--precision",
        type=click.Choice(("f32", "bf16", "f16")),
        default="f32",
        show_default=True,
        help="Inference precision (set explicitly, and reported).",
    )(f)
    f = click.option(
        "--device",
        default="CPU",
        show_default=True,
        help="OpenVINO device (CPU, AUTO, ...), ONNX Runtime provider (CPU, CUDA), or the torch "
        "runtime's device (CPU, CUDA).",
    )(f)
    if several:
        return click.option(
            "--runtime",
            "runtimes",
            metavar="NAME[,NAME...]",
            default="openvino",
            show_default=True,
            callback=_runtime_list,
            help=f"Runtime(s) to measure on: {', '.join(runtimes)} (ov and ort are short for "
            "openvino and onnxruntime); several, comma-separated, put one model on each.",
        )(f)
    return click.option(
        "--runtime",
        type=click.Choice(runtimes),
        default="openvino",
        show_default=True,
        callback=_runtime_name,
        help="Runtime to measure on (ov and ort are short for openvino and onnxruntime).",
    )(f)


def refuse_precision(runtime: str, precision: str) -> None:
    """Exit 2 with one line, before the model is read, for a ``--precision`` the runtime cannot
    set: ONNX Runtime runs the model's own (it refuses any other too, but only once the model
    is loaded and, in ``compare``, its worker process started); the torch runtimes run f32
    and bf16 (whether this CPU runs bf16 the runtime checks, with torch imported)."""
    if runtime == "onnxruntime" and precision != "f32":
        raise click.UsageError(
            "ONNX Runtime's CPU provider runs the model's own precision; --precision "
            f"{precision} is an OpenVINO option (convert the model instead)"
        )
    if runtime in MODULE_RUNTIMES and precision not in MODULE_PRECISIONS:
        raise click.UsageError(
            f"--runtime {runtime} runs {' and '.join(MODULE_PRECISIONS)} only; --precision "
            f"{precision} is not available on it (use --runtime openvino)"
        )


def threads_option(f: F) -> F:
    return click.option(
        "--threads", type=click.IntRange(min=1), help="Inference threads (default: all)."
    )(f)


def warmup_option(f: F) -> F:
    return click.option(
        "--warmup",
        type=click.IntRange(min=0),
        default=10,
        show_default=True,
        help="Untimed runs before timing starts.",
    )(f)


def before_after_options(f: F) -> F:
    """``--profile``/``--runtime`` (together they set ``runtime``: None, or the runtime to
    measure the model before and after on), ``--threads``, ``--time`` and ``--rounds``: for
    commands that make a new model and may measure it against the original."""
    f = click.option(
        "--rounds",
        type=click.IntRange(min=1),
        default=2,
        show_default=True,
        help="Interleaved measurement rounds (A B A B ...).",
    )(f)
    f = click.option(
        "--time",
        "time_budget",
        type=Finite(min=0.01),
        default=1.0,
        show_default=True,
        help="Seconds per measurement pass.",
    )(f)
    f = threads_option(f)
    f = click.option(
        "--runtime",
        "runtime",
        type=click.Choice((*RUNTIMES, *MODULE_RUNTIMES)),
        callback=_runtime_name,
        is_eager=True,  # read before --profile, wherever it is typed: see _profile_flag
        help="Measure before and after on this runtime (implies --profile); torch and "
        "torch-compile run a PyTorch model's modules.",
    )(f)
    return click.option(
        "--profile",
        "profile",
        is_flag=True,
        expose_value=False,
        callback=_profile_flag,
        help="Measure before and after on OpenVINO, interleaved.",
    )(f)


def _profile_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--profile`` alone measures on OpenVINO; with ``--runtime NAME``, typed before or
    after it, on NAME. (Sharing ``runtime`` with ``--runtime``, the flag replaced NAME when
    typed after it: ``--runtime torch --profile`` measured on OpenVINO.) ``--runtime`` is
    eager, so it is read first, and the flag fills the value only where it is missing."""
    if value and ctx.params.get("runtime") is None:
        ctx.params["runtime"] = "openvino"


#: the options of :func:`before_after_options` that only act when measuring
MEASURE_ONLY = ("threads", "time_budget", "rounds")


def finetune_options(f: F) -> F:
    """``--finetune`` and ``--epochs``, for commands that make a new PyTorch model."""
    f = click.option(
        "--epochs",
        type=click.IntRange(min=1),
        default=5,
        show_default=True,
        help="Fine-tuning epochs (with --finetune).",
    )(f)
    return click.option(
        "--finetune",
        metavar="digits|file.py:loaders",
        help="Fine-tune the new model (PyTorch sources) on this data and report accuracy "
        "before, right after the change, and after fine-tuning.",
    )(f)


# -- refusing what would do nothing ---------------------------------------------------------------


def given(ctx: click.Context, *names: str) -> list[str]:
    """The options among ``names`` (parameter names) set on the command line, each as its
    long flag, in the order of the command's help."""
    flags = []
    for param in ctx.command.params:
        if param.name in names and ctx.get_parameter_source(param.name) not in (
            None,
            ParameterSource.DEFAULT,
            ParameterSource.DEFAULT_MAP,
        ):
            flags.append(max(param.opts, key=len))
    return flags


def refuse_unless(ctx: click.Context, condition: bool, names: tuple[str, ...], needed: str) -> None:
    """Exit 2 with one line, before any work, when options among ``names`` were given but
    ``condition``, which they need, does not hold: they would be silently ignored. ``needed``
    completes "--epochs needs ..." (say "--finetune")."""
    if condition:
        return
    flags = given(ctx, *names)
    if flags:
        listed = flags[0] if len(flags) == 1 else f"{', '.join(flags[:-1])} and {flags[-1]}"
        raise click.UsageError(f"{listed} {'needs' if len(flags) == 1 else 'need'} {needed}")
