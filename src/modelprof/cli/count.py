"""``modelprof count``: per-layer params, MACs, FLOPs, bytes and memory."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from ..errors import ModelprofError
from ..render.terminal import SORT_KEYS
from ..shapes import parse_input_shape
from . import options
from .common import check_outputs, echo_err, emit, model_argument

if TYPE_CHECKING:
    from rich.console import RenderableType

    from ..costreport import CostReport
    from ..shapes import InputSpec

FORMATS = ("table", "json", "csv", "md")
#: Op types that carry MACs (docs/conventions.md): listed first when left uncounted.
MAC_OPS = frozenset(
    {
        "Conv",
        "ConvTranspose",
        "Gemm",
        "MatMul",
        "Einsum",
        "Attention",
        "MultiHeadAttention",
        "QLinearConv",
        "QLinearMatMul",
        "QGemm",
        "ConvInteger",
        "MatMulInteger",
        "FusedConv",
        "FusedMatMul",
    }
)


class StrictFailure(ModelprofError):
    """Raised for --strict when something was not counted (exit status 1)."""

    exit_code = 1


@click.command("count")
@click.argument("model")
@options.input_shape_option
@options.report_options(*FORMATS)
@options.depth_option
@click.option("--by-op", is_flag=True, help="Roll layers up by op type.")
@click.option("--top", type=click.IntRange(min=0), help="Show the N costliest rows (0: all).")
@click.option(
    "--sort",
    type=click.Choice(SORT_KEYS),
    default="order",
    show_default=True,
    help="Row order of the layer table.",
)
@options.count_bias_option
@click.option(
    "--training",
    is_flag=True,
    help="Also count the backward pass: training FLOPs (forward + backward) per layer and in "
    "total (docs/conventions.md).",
)
@click.option(
    "--sweep",
    "sweep_text",
    metavar="NAME=VALUES",
    help="Totals at several input sizes: an input with whole shapes "
    "(input=1x3x160x160,1x3x224x224), a dim name (batch=1,8,32; on ONNX any dim_param), "
    "or INPUT:AXIS (input:1=64,128,256).",
)
@click.option(
    "--symbolic",
    "symbolic_text",
    metavar="DIM[=VAR]",
    help="Each total as an exact formula in one dim: batch, an ONNX dim name, or INPUT:AXIS "
    "(input:1=L; input:2,3=S binds two axes).",
)
@options.rules_option
@click.option("--strict", is_flag=True, help="Exit 1 when any op could not be counted.")
@options.trust_pickle_option
@options.quiet_option
@click.pass_context
def count_command(
    ctx: click.Context,
    model: str,
    input_shapes: tuple[str, ...],
    fmt: str,
    output: str | None,
    force: bool,
    depth: int | None,
    by_op: bool,
    top: int | None,
    sort: str,
    count_bias: bool,
    training: bool,
    sweep_text: str | None,
    symbolic_text: str | None,
    rules: tuple[str, ...],
    strict: bool,
    trust_pickle: bool,
    quiet: bool,
) -> None:
    """Count params, MACs, FLOPs and bytes of MODEL, layer by layer.

    MODEL is an .onnx file, an OpenVINO IR (.xml), a Keras file (.keras), a PyTorch factory
    (path/to/file.py:build or package.module:build), a pickled whole module (.pt, with
    --trust-pickle) or a built-in zoo name (see `modelprof zoo`).
    """
    from ..analysis import analyze
    from ..api import load_graph, load_rules
    from ..render import jsondoc, tabular, terminal

    # a short-lived process building one object per node: cyclic GC passes over the growing
    # heap only cost time (about 20 % on a 100,000-node graph)
    gc.disable()
    if depth and by_op:
        raise click.UsageError("give --depth or --by-op, not both")
    if sweep_text and symbolic_text:
        raise click.UsageError("--sweep and --symbolic cannot be combined")
    options.refuse_unless(
        ctx,
        not (sweep_text or symbolic_text),
        ("depth", "by_op", "top", "sort"),
        "the per-layer table, which --sweep and --symbolic do not print",
    )
    options.refuse_unless(ctx, fmt == "table", ("depth", "by_op"), "--format table")
    options.refuse_unless(
        ctx, fmt != "json", ("top", "sort"), "--format table, csv or md (JSON has every layer)"
    )
    check_outputs(output, force=force, model=model, inputs=rules)
    source = model_argument(model, trust_pickle)
    specs = [parse_input_shape(s) for s in input_shapes]
    for path in rules:
        load_rules(path)
    if sweep_text or symbolic_text:
        _sizes(
            source,
            specs or None,
            sweep_text=sweep_text,
            symbolic_text=symbolic_text,
            fmt=fmt,
            output=output,
            force=force,
            count_bias=count_bias,
            training=training,
            strict=strict,
            quiet=quiet,
        )
        return
    report = analyze(load_graph(source, specs or None), count_bias=count_bias, training=training)
    top_n = top if top is None or top > 0 else len(report.layers)

    document: RenderableType
    if fmt == "json":
        document = jsondoc.dumps(jsondoc.count_document(report))
    elif fmt in ("csv", "md"):
        layers, _ = (
            terminal.select_layers(report, sort, top)
            if top is not None or sort != "order"
            else (list(report.layers), "")
        )
        document = (
            tabular.to_csv(report, layers) if fmt == "csv" else tabular.to_markdown(report, layers)
        )
    else:
        document = terminal.render_count(report, sort=sort, top=top_n, depth=depth, by_op=by_op)
    emit(document, output=output, force=force, quiet=quiet)

    message = coverage_message(report)
    if message:
        if strict:
            raise StrictFailure(f"{message} (--strict)")
        if not quiet:
            echo_err(f"warning: {message}")


def coverage_message(report: CostReport, limit: int = 6) -> str:
    """One line saying what was not counted ('' when every node was): how many nodes, their
    op types with the MACs-carrying ones first (a MatMul left out misses real work; an Add
    left out a rounding error), the node coverage, and the cause named for each
    MACs-carrying op type (or the first op type when none carries MACs)."""
    ops: Counter[str] = Counter(report.unsupported)
    causes: dict[str, str] = {op: f"no cost rule for {op}" for op in report.unsupported}
    for item in report.uncounted:
        ops[item.op_type] += 1
        causes.setdefault(item.op_type, f"{item.op_type} '{item.name}': {item.reason}")
    missing = sum(ops.values())
    if not missing:
        return ""
    order = sorted(ops, key=lambda op: (op not in MAC_OPS, -ops[op], op))
    listed = ", ".join(f"{op} x{ops[op]}" for op in order[:limit])
    if len(order) > limit:
        listed += f", {len(order) - limit} more op type(s)"
    explained = [op for op in order if op in MAC_OPS] or order[:1]
    why = "; ".join(causes[op] for op in explained)
    return (
        f"{missing} node(s) not counted ({listed}); node coverage "
        f"{100 * report.node_coverage:.1f}%; {why}"
    )


def _sizes(
    model: str,
    specs: list[InputSpec] | None,
    *,
    sweep_text: str | None,
    symbolic_text: str | None,
    fmt: str,
    output: str | None,
    force: bool,
    count_bias: bool,
    training: bool,
    strict: bool,
    quiet: bool,
) -> None:
    """``--sweep`` and ``--symbolic``: totals at several input sizes, or as formulas."""
    from ..render import jsondoc, tabular, terminal
    from ..shapes import parse_sweep
    from ..sweep import sweep
    from ..symbolic import parse_symbolic, symbolic

    renderers: dict[str, Callable[[Any], RenderableType]]
    if sweep_text:
        name, values = parse_sweep(sweep_text)
        result: Any = sweep(model, name, values, specs, count_bias=count_bias, training=training)
        renderers = {
            "json": lambda swept: jsondoc.dumps(jsondoc.sweep_document(swept)),
            "csv": tabular.sweep_csv,
            "md": tabular.sweep_markdown,
            "table": terminal.render_sweep,
        }
        missing = [p for p in result.points if p.uncounted]
        message = (
            f"{len(missing)} sweep point(s) with nodes not counted (node coverage as low as "
            f"{100 * min(p.node_coverage for p in missing):.1f}%)"
            if missing
            else ""
        )
    else:
        assert symbolic_text is not None
        dim, var = parse_symbolic(symbolic_text)
        result = symbolic(model, dim, specs, variable=var, count_bias=count_bias, training=training)
        renderers = {
            "json": lambda formulas: jsondoc.dumps(jsondoc.symbolic_document(formulas)),
            "csv": tabular.symbolic_csv,
            "md": tabular.symbolic_markdown,
            "table": terminal.render_symbolic,
        }
        message = ""
    emit(renderers[fmt](result), output=output, force=force, quiet=quiet)
    if message:
        if strict:
            raise StrictFailure(f"{message} (--strict)")
        if not quiet:
            echo_err(f"warning: {message}")
