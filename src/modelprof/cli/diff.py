"""``modelprof diff A B``: per-layer and total differences between two count reports or models.

A and B are each a count report (the JSON ``modelprof count --format json`` writes; a
``profile`` report's nested count works too) or anything ``modelprof count`` accepts (a file,
a pickled ``.pt`` module with ``--trust-pickle``, a factory spec, a zoo name), counted on the
spot with the same ``--input-shape``. A diff is information, so it exits 0 whatever it finds;
bad input exits 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import RenderableType

from ..diffing import DiffInputError
from ..shapes import parse_input_shape
from . import options
from .common import check_outputs, emit, model_argument

FORMATS = ("table", "json", "md")
#: model files, never read as reports
MODEL_SUFFIXES = (".onnx", ".xml", ".py", ".keras", ".h5", ".pt", ".pth")


@click.command("diff")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@options.input_shape_option
@options.report_options(*FORMATS)
@click.option("--all", "show_all", is_flag=True, help="List unchanged layers too (tables).")
@click.option(
    "--sort",
    type=click.Choice(("order", "flops", "macs", "params")),
    default="order",
    show_default=True,
    help="Row order: model order, or the largest change of a figure first.",
)
@click.option("--top", type=click.IntRange(min=0), help="Show the N first rows (0: all).")
@options.count_bias_option
@options.rules_option
@options.trust_pickle_option
@options.quiet_option
@click.pass_context
def diff_command(
    ctx: click.Context,
    a: str,
    b: str,
    input_shapes: tuple[str, ...],
    fmt: str,
    output: str | None,
    force: bool,
    show_all: bool,
    sort: str,
    top: int | None,
    count_bias: bool,
    rules: tuple[str, ...],
    trust_pickle: bool,
    quiet: bool,
) -> None:
    """Per-layer differences (params, MACs, FLOPs) between A and B, layers matched by name.

    A and B are count reports (modelprof count MODEL --format json -o A.json) or models
    (an .onnx file, a .pt module with --trust-pickle, file.py:factory, a zoo name...);
    --input-shape, --count-bias, --rules and --trust-pickle apply to whichever is a model, and
    are refused when both are reports. Layers only in A are listed as removed, only in B as
    added. Exit status 0 (a diff is information), 2 on bad input.
    """
    from ..api import load_rules
    from ..diffing import diff_documents
    from ..render import diff_view, jsondoc

    options.refuse_unless(
        ctx,
        fmt != "json",
        ("show_all", "sort", "top"),
        "--format table or md (JSON has every layer)",
    )
    options.refuse_unless(
        ctx,
        not (_looks_like_json(Path(a)) and _looks_like_json(Path(b))),
        ("input_shapes", "count_bias", "rules", "trust_pickle"),
        "a model as A or B (saved reports are not counted again)",
    )
    check_outputs(output, force=force, inputs=(a, b, *rules))
    specs = [parse_input_shape(s) for s in input_shapes]
    for path in rules:
        load_rules(path)
    doc_a = _load(a, specs, count_bias, trust_pickle)
    doc_b = _load(b, specs, count_bias, trust_pickle)
    diff = diff_documents(doc_a, doc_b, ref_a=a, ref_b=b)

    document: RenderableType
    if fmt == "json":
        document = jsondoc.dumps(diff_view.diff_document(diff))
    elif fmt == "md":
        document = diff_view.to_markdown(diff, diff_view.select_rows(diff, show_all, sort, top))
    else:
        rows = diff_view.select_rows(diff, show_all, sort, top)
        document = diff_view.render_diff(diff, rows, show_all)
    emit(document, output=output, force=force, quiet=quiet)


def _load(ref: str, specs: list[Any], count_bias: bool, trust_pickle: bool) -> dict[str, Any]:
    """The count document of ``ref``: read from a saved report, or counted now."""
    from ..diffing import count_document_of

    path = Path(ref)
    if _looks_like_json(path):
        if not path.is_file():
            raise DiffInputError(f"no such file: {path}")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
        except RecursionError:
            raise DiffInputError(f"{path}: nested too deeply to be a count report") from None
        except json.JSONDecodeError as exc:
            raise DiffInputError(
                f"{path}: not a JSON document ({exc.msg} at line {exc.lineno})"
            ) from None
        except UnicodeDecodeError:
            raise DiffInputError(f"{path}: not a JSON document (not UTF-8 text)") from None
        except ValueError as exc:
            raise DiffInputError(f"{path}: not a count report: {exc}") from None
        except OSError as exc:
            raise DiffInputError(f"cannot read {path}: {exc.strerror}") from None
        return count_document_of(doc, ref)
    from ..api import count
    from ..render.jsondoc import count_document

    return count_document(
        count(model_argument(ref, trust_pickle), specs or None, count_bias=count_bias)
    )


def _no_constant(name: str) -> None:
    """NaN and Infinity are not JSON, and no count is either."""
    raise ValueError(f"it holds {name}, which no count report does")


def _looks_like_json(path: Path) -> bool:
    if path.suffix.lower() == ".json":
        return True
    if path.suffix.lower() in MODEL_SUFFIXES or not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(64).lstrip()
    except OSError:
        return False
    return head.startswith(b"{")
