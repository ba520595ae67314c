"""Reports in a Jupyter notebook: the HTML each report's ``_repr_html_`` returns.

The report classes live below render/ and may not import it (the import-linter layers), so
they look their HTML up in :func:`modelprof.costreport.html_of`'s registry, and :func:`register`
fills it: pyproject.toml declares it as an entry point of the ``modelprof.html`` group, which
the registry loads on the first display.

What each report shows:

- a count (:class:`~modelprof.CostReport`): the per-layer table of ``modelprof count`` as an
  HTML table, with the totals, the conventions and anything not counted;
- a profile (:class:`~modelprof.measure.ProfileReport`): the page ``profile --html`` writes
  (summary, charts, sortable layer table) inside a sandboxed ``<iframe srcdoc>``, so its
  styles and its sorting script stay in the frame and cannot restyle or reach the notebook;
- every other report (``llm``, ``prune``, ``separable``, ``quantize``, ``optimize``, a
  ``count`` sweep or symbolic sweep, ``diff``, ``compare``, throughput mode, ``crosscheck``):
  its terminal table, exported by rich as HTML with inline styles; a diff shows the changed
  layers, as ``modelprof diff`` does.

Every fragment is self-contained (inline styles, no script or style sheet fetched from
anywhere), and every text from a model goes through :func:`html.escape`: a layer named
``<script>`` shows as those characters.
"""

from __future__ import annotations

import os
from html import escape

from rich.console import RenderableType

from ..costreport import CostReport, LayerCost, register_html
from ..crosscheck import Crosscheck
from ..diffing import ReportDiff
from ..measure.comparison import CompareReport
from ..measure.llm import LlmReport
from ..measure.profilereport import ProfileReport
from ..measure.throughput_mode import ThroughputReport
from ..rewrite.optimize import OptimizeResult
from ..rewrite.pruning import PruneResult
from ..rewrite.quantization import QuantizeResult
from ..rewrite.separable_rewrite import SeparableResult
from ..sweep import SweepReport
from ..symbolic import SymbolicReport
from .compare_view import render_compare
from .console import SafeConsole
from .crosscheck_view import render_crosscheck
from .diff_view import render_diff, select_rows
from .html import profile_html
from .llm_view import render_llm
from .optimize_view import render_optimize
from .prune_view import render_prune
from .quantize_view import render_quantize
from .separable_view import separable_table
from .terminal import render_sweep, render_symbolic, summary
from .throughput_view import render_throughput
from .units import duration, human, percent, shape

#: Height of the frame a profile page is shown in; the page scrolls inside it.
PROFILE_FRAME_PX = 760
#: A count table taller than this scrolls inside its box.
COUNT_TABLE_MAX_PX = 520
#: Width, in characters, of the terminal tables shown as HTML.
TEXT_WIDTH = 140

_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"
_MONO = "Menlo, 'DejaVu Sans Mono', Consolas, 'Courier New', monospace"

# Scoped to .modelprof-count so nothing of the notebook around the table is restyled.
_COUNT_CSS = f"""
.modelprof-count {{ font: 13px/1.4 {_FONT}; }}
.modelprof-count .mp-head {{ margin: 0 0 6px; }}
.modelprof-count .mp-dim {{ color: #616e7c; }}
.modelprof-count .mp-scroll {{ max-height: {COUNT_TABLE_MAX_PX}px; overflow: auto; }}
.modelprof-count table {{ border-collapse: collapse; }}
.modelprof-count th, .modelprof-count td {{ padding: 3px 8px; text-align: left;
  border-bottom: 1px solid #e4e7eb; }}
.modelprof-count td.mp-num, .modelprof-count th.mp-num {{ text-align: right;
  font-variant-numeric: tabular-nums; white-space: nowrap; }}
.modelprof-count tfoot td {{ font-weight: 600; border-top: 2px solid #9aa5b1; }}
.modelprof-count tr.mp-uncounted td {{ background: #fff6db; }}
.modelprof-count pre {{ font: 12px/1.4 {_MONO}; white-space: pre-wrap; margin: 6px 0 0; }}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def count_html(report: CostReport) -> str:
    """The per-layer table of ``modelprof count`` (params, MACs, FLOPs, bytes of each layer,
    totals in the footer), the model and its inputs above it, the totals line below."""
    total = report.total
    ints, training = bool(total.int_macs), total.training_flops is not None
    heads = ["layer", "op", "output", "params", "MACs"]
    heads += ["int MACs"] if ints else []
    heads += ["FLOPs"]
    heads += ["train FLOPs"] if training else []
    heads += ["FLOPs %", "weight B", "output B", "FLOP/B"]
    numeric = set(heads[3:])
    head_row = "".join(
        f'<th class="mp-num">{_e(h)}</th>' if h in numeric else f"<th>{_e(h)}</th>" for h in heads
    )
    rows = "\n".join(_count_row(report, layer, ints, training) for layer in report.layers)
    foot = ["total", "", "", human(total.params), human(total.macs)]
    foot += [human(total.int_macs)] if ints else []
    foot += [human(total.flops)]
    foot += [human(total.training_flops or 0)] if training else []
    foot += ["100.0%", human(total.weight_bytes), "", ""]
    foot_row = "".join(
        f'<td class="mp-num">{_e(v)}</td>' if h in numeric else f"<td>{_e(v)}</td>"
        for h, v in zip(heads, foot, strict=True)
    )
    inputs = ", ".join(f"{i.name} {shape(i.shape)} {i.dtype}" for i in report.inputs)
    conventions = "<br>".join(_e(line) for line in report.convention.lines())
    return (
        f'<div class="modelprof-count"><style>{_COUNT_CSS}</style>\n'
        f'<p class="mp-head"><b>{_e(report.model)}</b> '
        f'<span class="mp-dim">({_e(report.source)}; input {_e(inputs)})</span></p>\n'
        f'<div class="mp-scroll"><table>\n<thead><tr>{head_row}</tr></thead>\n'
        f"<tbody>\n{rows}\n</tbody>\n<tfoot><tr>{foot_row}</tr></tfoot>\n</table></div>\n"
        f"<pre>{_e(_plain(summary(report)))}</pre>\n"
        f'<p class="mp-dim">{conventions}</p>\n</div>'
    )


def _count_row(report: CostReport, layer: LayerCost, ints: bool, training: bool) -> str:
    flops = report.total.flops or 1
    text = [_e(layer.name), _e(layer.op), _e(", ".join(shape(s) for s in layer.output_shapes))]
    numbers = [human(layer.params), human(layer.macs)]
    numbers += [human(layer.int_macs)] if ints else []
    numbers += [human(layer.flops) if layer.counted else "not counted"]
    if training:
        numbers.append(human(layer.training_flops or 0) if layer.counted else "not counted")
    numbers += [
        percent(layer.flops / flops),
        human(layer.weight_bytes),
        human(layer.activation_bytes),
        f"{layer.intensity:.2f}",
    ]
    cells = "".join(f"<td>{t}</td>" for t in text)
    cells += "".join(f'<td class="mp-num">{_e(n)}</td>' for n in numbers)
    cls = "" if layer.counted else ' class="mp-uncounted"'
    return f"<tr{cls}>{cells}</tr>"


def profile_html_fragment(report: ProfileReport) -> str:
    """One line of the main figures, then the whole ``profile --html`` page in a sandboxed
    frame (scripts run only inside it: the page's column sorting)."""
    lat = report.latency_us
    line = (
        f"{report.model}: {report.runtime} {report.runtime_version} on {report.device}, "
        f"median {duration(lat.median)} (IQR {duration(lat.iqr)}, {lat.samples} runs), "
        f"{human(report.count.total.flops)} FLOPs"
    )
    return (
        f'<div class="modelprof-profile"><p style="font-family: {_e(_FONT)}">{_e(line)}</p>\n'
        f'<iframe sandbox="allow-scripts" title="{_e("modelprof profile: " + report.model)}" '
        f'style="width: 100%; height: {PROFILE_FRAME_PX}px; border: 1px solid #d9dee4" '
        f'srcdoc="{_e(profile_html(report))}"></iframe></div>'
    )


# The consoles below write to nowhere and are read back; force_jupyter=False, or in a kernel
# rich would display what they print in the notebook as well.


def _plain(renderable: RenderableType) -> str:
    with open(os.devnull, "w", encoding="utf-8") as sink:
        console = SafeConsole(
            width=TEXT_WIDTH, record=True, file=sink, color_system=None, force_jupyter=False
        )
        console.print(renderable)
        return console.export_text().rstrip("\n")


def rich_html(renderable: RenderableType) -> str:
    """A terminal rendering as HTML: rich's export, colours as inline styles (rich escapes the
    text), in a ``<pre>`` that keeps the table's columns."""
    with open(os.devnull, "w", encoding="utf-8") as sink:
        console = SafeConsole(
            width=TEXT_WIDTH,
            record=True,
            file=sink,
            color_system="truecolor",
            soft_wrap=False,
            force_jupyter=False,
        )
        console.print(renderable)
        return console.export_html(
            inline_styles=True,
            code_format=(
                '<pre class="modelprof-text" style="white-space: pre; overflow-x: auto; '
                f'line-height: normal; font-family: {_MONO}">{{code}}</pre>'
            ),
        )


def diff_html(diff: ReportDiff) -> str:
    """The table of ``modelprof diff`` with its defaults: the changed layers in model order,
    then the totals."""
    return rich_html(render_diff(diff, select_rows(diff, False, "order", None), False))


def register() -> None:
    """Register the HTML of every report type (the ``modelprof.html`` entry point)."""
    register_html(CostReport, count_html)
    register_html(ProfileReport, profile_html_fragment)
    register_html(LlmReport, lambda report: rich_html(render_llm(report)))
    register_html(PruneResult, lambda result: rich_html(render_prune(result)))
    register_html(SeparableResult, lambda result: rich_html(separable_table(result)))
    register_html(SweepReport, lambda report: rich_html(render_sweep(report)))
    register_html(SymbolicReport, lambda report: rich_html(render_symbolic(report)))
    register_html(ReportDiff, diff_html)
    register_html(CompareReport, lambda report: rich_html(render_compare(report)))
    register_html(ThroughputReport, lambda report: rich_html(render_throughput(report)))
    register_html(Crosscheck, lambda result: rich_html(render_crosscheck(result)))
    register_html(QuantizeResult, lambda result: rich_html(render_quantize(result)))
    register_html(OptimizeResult, lambda result: rich_html(render_optimize(result)))
