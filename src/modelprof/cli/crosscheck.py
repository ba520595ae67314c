"""``modelprof crosscheck``: one model counted through every route, differences explained."""

from __future__ import annotations

import click

from ..shapes import parse_input_shape
from . import options
from .common import check_outputs, emit, model_argument, progress


@click.command("crosscheck")
@click.argument("model")
@options.input_shape_option
@options.report_options("table", "json")
@options.trust_pickle_option
@options.quiet_option
def crosscheck_command(
    model: str,
    input_shapes: tuple[str, ...],
    fmt: str,
    output: str | None,
    force: bool,
    trust_pickle: bool,
    quiet: bool,
) -> None:
    """Count MODEL through every route (PyTorch, ONNX export, OpenVINO conversion, IR) and
    explain every difference per module scope."""
    from ..crosscheck import crosscheck
    from ..render import jsondoc
    from ..render.crosscheck_view import crosscheck_document, render_crosscheck

    check_outputs(output, force=force, model=model)
    specs = [parse_input_shape(s) for s in input_shapes]
    with progress(f"converting {model} through every route...", quiet=quiet):
        result = crosscheck(model_argument(model, trust_pickle), specs or None)
    if fmt == "json":
        emit(jsondoc.dumps(crosscheck_document(result)), output=output, force=force, quiet=quiet)
        return
    emit(render_crosscheck(result), output=output, force=force, quiet=quiet)
