"""``modelprof check``: fail (exit 1) when a model exceeds its budgets, for CI.

Budgets come from the command line (``--max-params 5M``) and from the ``[tool.modelprof]``
table of the nearest ``pyproject.toml`` (or ``--config``); a flag overrides the same key in the
file. Every exceeded budget is one line on stdout, then a summary; exit status 1 when anything
is over budget or could not be counted (a budget met by an undercount proves nothing) unless
``--allow-unsupported``, 0 when all is well, 2 on bad input.
"""

from __future__ import annotations

import click

from ..errors import ModelprofError
from ..shapes import parse_input_shape
from . import options
from .common import echo_err, model_argument


@click.command("check")
@click.argument("model")
@click.option("--max-params", "params", metavar="SIZE", help="Budget for params (e.g. 5M).")
@click.option("--max-macs", "macs", metavar="SIZE", help="Budget for MACs (e.g. 600M).")
@click.option("--max-flops", "flops", metavar="SIZE", help="Budget for FLOPs (e.g. 1.2G).")
@click.option(
    "--max-weight-bytes",
    "weight_bytes",
    metavar="SIZE",
    help="Budget for stored weight bytes (e.g. 20MB, 16MiB).",
)
@click.option(
    "--max-peak-activation-bytes",
    "peak_activation_bytes",
    metavar="SIZE",
    help="Budget for peak activation memory (e.g. 10MB).",
)
@options.input_shape_option
@click.option(
    "--allow-unsupported",
    is_flag=True,
    help="Check the budgets even when some ops could not be counted (the totals are then a "
    "lower bound).",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    help="Read budgets from this pyproject.toml's [tool.modelprof] table instead of the "
    "nearest one above the current folder.",
)
@options.count_bias_option
@options.rules_option
@options.trust_pickle_option
@click.option("-q", "--quiet", is_flag=True, help="Print only the exceeded budgets.")
@click.pass_context
def check_command(
    ctx: click.Context,
    model: str,
    params: str | None,
    macs: str | None,
    flops: str | None,
    weight_bytes: str | None,
    peak_activation_bytes: str | None,
    input_shapes: tuple[str, ...],
    allow_unsupported: bool,
    config: str | None,
    count_bias: bool,
    rules: tuple[str, ...],
    trust_pickle: bool,
    quiet: bool,
) -> None:
    """Fail (exit 1) when MODEL exceeds a budget: params, MACs, FLOPs, weight bytes, peak
    activation bytes.

    Sizes: 5M, 600M, 1.2G (powers of 1000), 20MB or 20M bytes, 10MiB (powers of 1024), or
    plain integers. Budgets may also sit in pyproject.toml:

    \b
        [tool.modelprof]
        max-params = "5M"
        max-flops = "1.2G"
        max-weight-bytes = "20MB"

    Flags override the file. Exit status: 0 within budget, 1 over budget or not fully
    counted (see --allow-unsupported), 2 bad input.
    """
    from .. import budgets as b

    given = {
        "params": params,
        "macs": macs,
        "flops": flops,
        "weight-bytes": weight_bytes,
        "peak-activation-bytes": peak_activation_bytes,
    }
    cli_budgets = {
        key: b.parse_budget(b.METRIC_BY_KEY[key], text, f"--max-{key}")
        for key, text in given.items()
        if text is not None
    }
    config_path = config if config is not None else b.find_pyproject()
    config_budgets = b.load_config_budgets(config_path) if config_path is not None else {}
    budgets = b.merge_budgets(config_budgets, cli_budgets)
    if not budgets:
        where = (
            f" ({config_path} has no max-... keys under [tool.modelprof])"
            if config_path is not None
            else " (and no pyproject.toml was found)"
        )
        raise ModelprofError(
            "no budget given: pass --max-params, --max-macs, --max-flops, --max-weight-bytes "
            "or --max-peak-activation-bytes, or set them under [tool.modelprof] in "
            f"pyproject.toml{where}"
        )
    specs = [parse_input_shape(s) for s in input_shapes]
    source = model_argument(model, trust_pickle)

    from ..api import count, load_rules

    for path in rules:
        load_rules(path)
    report = count(source, specs or None, count_bias=count_bias)
    result = b.check_report(report, budgets)

    for verdict in result.exceeded:
        click.echo(verdict.line())
    if result.missing_nodes:
        message = (
            f"{result.missing_nodes} node(s) not counted ({result.missing_detail}); node "
            f"coverage {100 * result.node_coverage:.1f}%: the totals are a lower bound"
        )
        if allow_unsupported:
            if not quiet:
                echo_err(f"warning: {message} (--allow-unsupported)")
        else:
            click.echo(f"{message} (pass --allow-unsupported to check them anyway)")

    sources = {v.budget.origin for v in result.verdicts if not v.budget.origin.startswith("--")}
    from_file = f" (budgets from {', '.join(sorted(sources))})" if sources else ""
    n = len(result.verdicts)
    if result.passed(allow_unsupported=allow_unsupported):
        if not quiet:
            within = ", ".join(v.line().replace(" <= budget ", " <= ") for v in result.verdicts)
            click.echo(f"OK {result.model}: within {n} budget(s): {within}{from_file}")
        return
    if not quiet:
        over = len(result.exceeded)
        reasons = []
        if over:
            reasons.append(f"{over} of {n} budget(s) exceeded")
        if result.missing_nodes and not allow_unsupported:
            reasons.append("not fully counted")
        click.echo(f"FAILED {result.model}: {', '.join(reasons)}{from_file}")
    ctx.exit(1)
