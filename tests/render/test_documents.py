"""The JSON documents render/ writes: each starts with the one envelope (schema_version, kind,
[mode,] modelprof_version) and keeps its top-level keys in the order docs/schema.md lists them;
the terminal renderings of the same results show times in one style (render.units.duration)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console, RenderableType

from modelprof.costreport import CostReport
from modelprof.crosscheck import Crosscheck, Route, ScopeDifference
from modelprof.diffing import diff_documents
from modelprof.measure.comparison import ComparedModel, CompareReport, TimedBatch
from modelprof.measure.profilereport import LatencyStats
from modelprof.measure.throughput_mode import ThroughputPoint, ThroughputReport
from modelprof.render import (
    compare_view,
    crosscheck_view,
    diff_view,
    jsondoc,
    prune_view,
    throughput_view,
)
from modelprof.rewrite.pruning import PruneResult, PruneSide

ENVELOPE = ["schema_version", "kind", "modelprof_version"]


def text(renderable: RenderableType) -> str:
    console = Console(width=200, file=io.StringIO(), color_system=None, record=True)
    console.print(renderable)
    return console.export_text()


@pytest.fixture(scope="module")
def report() -> CostReport:
    from modelprof.api import count

    return count("seed-cnn")


def latency(median: float) -> LatencyStats:
    return LatencyStats(
        median=median, mean=median, min=median, p90=median, p99=median, iqr=median / 10, samples=4
    )


def test_count_document(report: CostReport) -> None:
    doc = jsondoc.count_document(report)
    assert list(doc)[:3] == ENVELOPE and doc["kind"] == "count"
    assert list(doc)[3:] == [
        "model",
        "source",
        "convention",
        "inputs",
        "layers",
        "total",
        "unsupported",
        "uncounted",
        "node_coverage",
        "notes",
    ]


def test_compare_document_and_table(report: CostReport) -> None:
    compared = CompareReport(
        models=(
            ComparedModel("a", report, latency(37_104.0), (37_104.0,), pid=1),
            ComparedModel("b", report, latency(812.4), (812.4,), pid=2),
        ),
        runtime="fake",
        runtime_version="1",
        device="CPU",
        precision="f32",
        threads=1,
        rounds=1,
        iterations=1,
        schedule=(TimedBatch(0, 0, 1, 0.0, 0.1, (37_104.0,)),),
    )
    doc = compare_view.compare_document(compared)
    assert list(doc) == [*ENVELOPE, "models", "profile", "notes"]
    assert doc["kind"] == "compare"
    shown = text(compare_view.render_compare(compared))
    assert "37.10 ms" in shown and "812.4 us" in shown


def test_throughput_document_and_table() -> None:
    point = ThroughputPoint(
        batch=1,
        streams=2,
        requests=2,
        fps=100.0,
        latency_us=latency(1_523_000.0),
        completed=10,
        elapsed_s=0.1,
        samples_us=(1.0,),
    )
    report = ThroughputReport(
        model="m",
        runtime="fake",
        runtime_version="1",
        device="CPU",
        precision="f32",
        threads=1,
        time_budget_s=1.0,
        iterations=None,
        points=(point,),
    )
    doc = throughput_view.throughput_document(report)
    assert list(doc)[:4] == ["schema_version", "kind", "mode", "modelprof_version"]
    assert (doc["kind"], doc["mode"]) == ("profile", "throughput")
    assert "1.52 s" in text(throughput_view.render_throughput(report))


def test_crosscheck_document_has_the_envelope(report: CostReport) -> None:
    result = Crosscheck(
        model="m",
        routes=(Route("pytorch", "module", report), Route("onnx", "export", report)),
        differences=(ScopeDifference("fc1", "onnx", 1, 2, 3, "why"),),
    )
    doc = crosscheck_view.crosscheck_document(result)
    assert list(doc) == [*ENVELOPE, "model", "macs_agree", "routes", "differences", "notes"]
    assert doc["kind"] == "crosscheck"
    assert "MACs agree across all routes" in text(crosscheck_view.render_crosscheck(result))


def test_diff_document_has_the_envelope(report: CostReport) -> None:
    count_doc = jsondoc.count_document(report)
    diff = diff_documents(count_doc, count_doc)
    doc = diff_view.diff_document(diff)
    assert list(doc)[:3] == ENVELOPE and doc["kind"] == "diff"
    assert list(doc)[3:] == [
        "a",
        "b",
        "totals",
        "layers",
        "added",
        "removed",
        "changed",
        "unchanged",
        "notes",
    ]
    assert diff_view.select_rows(diff, show_all=False, sort="order", top=None) == []
    assert len(diff_view.select_rows(diff, show_all=True, sort="flops", top=2)) == 2


def test_prune_document_and_table_times(report: CostReport) -> None:
    from modelprof.measure.profilereport import ProfileReport

    def profiled(median: float) -> ProfileReport:
        return ProfileReport(
            model="m",
            runtime="fake",
            runtime_version="1",
            device="CPU",
            precision="f32",
            threads=1,
            iterations=1,
            compile_ms=1.0,
            first_inference_ms=1.0,
            latency_us=latency(median),
            profiled_latency_us=latency(median),
            layers=(),
            count=report,
        )

    side = PruneSide(report, 1000, 10, profile=profiled(79_669.6))
    after = PruneSide(report, 500, 5, profile=profiled(812.4))
    result = PruneResult("structured", 0.5, side, after)
    doc = prune_view.prune_document(result)
    assert list(doc) == [
        *ENVELOPE,
        "method",
        "amount",
        "target_macs",
        "before",
        "after",
        "saved",
        "notes",
    ]
    assert doc["kind"] == "prune" and list(doc["before"])[:3] == ENVELOPE
    shown = text(prune_view.render_prune(result))
    # times as profile shows them, not "79,669.6" microseconds
    assert "79.67 ms" in shown and "812.4 us" in shown and "79,669.6" not in shown
