"""``modelprof count``: per-layer params, MACs, FLOPs, bytes and memory."""

from __future__ import annotations

import gc

import click

from ..errors import ModelprofError
from ..shapes import parse_input_shape
from .common import echo_err, render_text, stdout_console, write_atomically

FORMATS = ("table", "json", "csv", "md")


class StrictFailure(ModelprofError):
    """Raised for --strict when something was not counted (exit status 1)."""

    exit_code = 1


@click.command("count")
@click.argument("model")
@click.option(
    "--input-shape",
    "input_shapes",
    multiple=True,
    metavar="NAME=1x3x224x224",
    help="Bind an input's shape (repeatable); NAME:1x3x224x224 and :dtype suffixes "
    "(ids=1x128:int64) are accepted.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Report format.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here.")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
@click.option("--depth", type=click.IntRange(min=1), help="Roll layers up by module scope.")
@click.option("--by-op", is_flag=True, help="Roll layers up by op type.")
@click.option("--top", type=click.IntRange(min=0), help="Show the N costliest rows (0: all).")
@click.option(
    "--sort",
    type=click.Choice(
        ("order", "flops", "macs", "params", "name", "weight_bytes", "activation_bytes")
    ),
    default="order",
    show_default=True,
    help="Row order of the layer table.",
)
@click.option("--count-bias", is_flag=True, help="Count bias adds (1 FLOP per output element).")
@click.option(
    "--rules",
    "rules",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="A Python file that registers cost rules for custom ops (repeatable).",
)
@click.option("--strict", is_flag=True, help="Exit 1 when any op could not be counted.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but the requested document.")
def count_command(
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
    rules: tuple[str, ...],
    strict: bool,
    quiet: bool,
) -> None:
    """Count params, MACs, FLOPs and bytes of MODEL, layer by layer.

    MODEL is an .onnx file, a PyTorch factory (path/to/file.py:build or package.module:build)
    or a built-in zoo name (see `modelprof zoo`).
    """
    from ..api import count, load_rules
    from ..report import jsondoc, tabular, terminal

    # a short-lived process building one object per node: cyclic GC passes over the growing
    # heap only cost time (about 20 % on a 100,000-node graph)
    gc.disable()
    specs = [parse_input_shape(s) for s in input_shapes]
    for path in rules:
        load_rules(path)
    report = count(model, specs or None, count_bias=count_bias)
    top_n = top if top is None or top > 0 else len(report.layers)

    if fmt == "json":
        text = jsondoc.dumps(jsondoc.count_document(report))
    elif fmt in ("csv", "md"):
        layers, _ = (
            terminal.select_layers(report, sort, top)
            if top is not None or sort != "order"
            else (list(report.layers), "")
        )
        text = (
            tabular.to_csv(report, layers) if fmt == "csv" else tabular.to_markdown(report, layers)
        )
    else:
        renderable = terminal.render_count(report, sort=sort, top=top_n, depth=depth, by_op=by_op)
        text = ""
    if output:
        if fmt == "table":
            text = render_text(renderable)
        write_atomically(output, text, force=force)
        if not quiet:
            echo_err(f"wrote {output}")
    elif fmt == "table":
        if not quiet:
            stdout_console().print(renderable)
    else:
        click.echo(text, nl=False)

    missing = sum(report.unsupported.values()) + len(report.uncounted)
    if missing:
        ops = ", ".join(f"{op} x{n}" for op, n in report.unsupported.items())
        detail = ops or ", ".join(u.name for u in report.uncounted[:5])
        message = (
            f"{missing} node(s) not counted ({detail}); node coverage "
            f"{100 * report.node_coverage:.1f}%"
        )
        if strict:
            raise StrictFailure(f"{message} (--strict)")
        if not quiet and fmt != "table":
            echo_err(f"warning: {message}")
