"""Every report type in a notebook: its ``_repr_html_`` is self-contained HTML (nothing fetched
from anywhere, no script) that shows its table's numbers, worked out by hand below.

The seed network (docs, README's worked example): 79,260 params, 194,010 MACs, 394,780 FLOPs,
peak activation memory 33,800 B at batch 1; every layer works per sample, so batch n multiplies
MACs, FLOPs and activations by n and leaves params alone: at batch 2, 388,020 MACs, 789,560
FLOPs, 67,600 B. seed-separable: 463,404 MACs, 926,808 FLOPs (DESIGN.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest

import modelprof
from modelprof.costreport import html_of
from modelprof.crosscheck import crosscheck
from modelprof.diffing import diff_documents
from modelprof.measure.comparison import compare
from modelprof.measure.runtimes import RunSettings
from modelprof.measure.throughput_mode import ThroughputReport, throughput
from modelprof.render.jsondoc import count_document
from modelprof.rewrite import quantize
from modelprof.sweep import sweep
from modelprof.symbolic import symbolic

#: What self-contained HTML never holds: anything fetched from elsewhere, or a script.
OUTSIDE = ("http://", "https://", "<script", "<link", "url(", "@import", "<img", "src=")


def text_of(html: str) -> str:
    """What a browser shows: the markup dropped, entities decoded."""
    return unescape(re.sub(r"<[^>]+>", "", html))


def row_with(text: str, first: str) -> list[str]:
    """The cells of the table line whose first cell is ``first`` (rich draws cells between
    vertical bars)."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃").split("│")]
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no table row starting with {first!r} in:\n{text}")


def shown(report: Any) -> str:
    """The report as a notebook shows it, checked to be self-contained; as text."""
    html = report._repr_html_()
    assert isinstance(html, str) and html.startswith('<pre class="modelprof-text"')
    assert html == html_of(report)
    lowered = html.lower()
    for outside in OUTSIDE:
        assert outside not in lowered, f"reaches outside itself: {outside}"
    return text_of(html)


def _sweep_text(text: str) -> None:
    # input:0 = 1 and 2: params unchanged, MACs, FLOPs, activations x 2 (module docstring)
    assert row_with(text, "1")[1:6] == [
        "input 1x1x28x28",
        "79,260",
        "194,010",
        "394,780",
        "317,040",
    ]
    assert row_with(text, "2")[1:7] == [
        "input 2x1x28x28", "79,260", "388,020", "789,560", "317,040", "67,600"
    ]  # fmt: skip


def _symbolic_text(text: str) -> None:
    # each total is linear in the batch n: the batch-1 figures times n
    assert row_with(text, "MACs")[1] == "194,010 n"
    assert row_with(text, "FLOPs")[1] == "394,780 n"
    assert row_with(text, "params")[1] == "79,260"


def _diff_text(text: str) -> None:
    # batch 1 -> 2: conv1 10 x 26 x 26 x 9 = 60,840 MACs -> 121,680; the totals double
    assert "60,840 -> 121,680" in text
    assert "194,010" in text and "388,020" in text
    assert "394,780" in text and "789,560" in text


def _compare_text(text: str) -> None:
    cnn, sep = row_with(text, "seed-cnn"), row_with(text, "seed-separable")
    assert cnn[1:4] == ["79,260", "194,010", "394,780"]
    assert sep[2:4] == ["463,404", "926,808"]
    # 926,808 / 394,780 = 2.3477 FLOPs of the first model's
    assert sep[4] == "2.35x"


def _crosscheck_text(text: str) -> None:
    # every route counts the same 194,010 MACs and says so
    assert "MACs agree across all routes" in text
    assert text.count("194,010") >= 2


def _quantize_text(text: str) -> None:
    # int8 weights: 1 byte per param, plus an f32 scale per output channel of the four
    # quantized layers (10 + 5 + 128 + 10 = 153): 79,260 + 4 x 153 = 79,872 B; the MACs are
    # unchanged and all of them are in int8 layers
    assert row_with(text, "params")[1:3] == ["79,260", "79,260"]
    assert row_with(text, "weight bytes")[1:3] == ["317,040", "79,872"]
    assert row_with(text, "MACs in int8 layers")[1:3] == ["0", "194,010"]
    assert "random data" in text  # and says it gives no accuracy claim


REPORTS: dict[str, tuple[Callable[[], Any], Callable[[str], None]]] = {
    "sweep": (lambda: sweep("seed-cnn", "input:0", [1, 2]), _sweep_text),
    "symbolic": (lambda: symbolic("seed-cnn", "input:0"), _symbolic_text),
    "diff": (
        lambda: diff_documents(
            count_document(modelprof.count("seed-cnn")),
            count_document(modelprof.count("seed-cnn", {"input": (2, 1, 28, 28)})),
        ),
        _diff_text,
    ),
    "compare": (lambda: compare(["seed-cnn", "seed-separable"]), _compare_text),
    "crosscheck": (lambda: crosscheck("seed-cnn"), _crosscheck_text),
    "quantize": (lambda: quantize("seed-cnn", subset=4), _quantize_text),
}


@pytest.mark.parametrize("kind", list(REPORTS))
def test_a_report_shows_its_table_in_a_notebook(kind: str) -> None:
    make, check = REPORTS[kind]
    check(shown(make()))


@pytest.mark.parametrize("kind", list(REPORTS))
def test_each_report_has_its_html_registered(kind: str) -> None:
    """What ``_repr_html_`` returns once the class has one: the registered renderer's HTML."""
    make, check = REPORTS[kind]
    html = html_of(make())
    assert html is not None
    lowered = html.lower()
    for outside in OUTSIDE:
        assert outside not in lowered, f"reaches outside itself: {outside}"
    check(text_of(html))


_throughput: list[ThroughputReport] = []


def seed_throughput() -> ThroughputReport:
    """seed-cnn on ONNX Runtime for exactly 40 inferences, one stream, one request."""
    if not _throughput:
        settings = RunSettings(threads=1, iterations=40, warmup=2)
        _throughput.append(
            throughput(
                "seed-cnn", runtime="onnxruntime", settings=settings, streams=(1,), requests=1
            )
        )
    return _throughput[0]


def _throughput_text(report: ThroughputReport, text: str) -> None:
    point = report.points[0]
    row = row_with(text, "1")  # batch 1
    assert row[1:3] == ["1", "1"]  # one stream, one request, as asked
    assert row[3] == f"{point.fps:,.1f} FPS"  # the measured rate, as the terminal shows it
    assert row[6] == "40"  # exactly the 40 inferences asked for
    assert row[9] == "1x1x28x28"


def test_a_throughput_report_shows_its_table_in_a_notebook() -> None:
    report = seed_throughput()
    _throughput_text(report, shown(report))


def test_a_throughput_report_has_its_html_registered() -> None:
    report = seed_throughput()
    html = html_of(report)
    assert html is not None and "<script" not in html.lower()
    _throughput_text(report, text_of(html))


def test_names_from_a_model_are_escaped_in_a_compare_table() -> None:
    report = compare(["seed-cnn", "seed-separable"], labels=['<script>alert("x")</script>', "b"])
    html = html_of(report)
    assert html is not None and "<script" not in html.lower()
    assert '<script>alert("x")</script>' in text_of(html)
