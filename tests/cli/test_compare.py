"""`modelprof compare`: models side by side, latency interleaved with one process per model."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from modelprof.cli.main import main
from modelprof.measure.comparison import CompareReport, compare
from modelprof.measure.runtimes import RunSettings


@pytest.fixture(scope="module")
def tiny(
    tmp_path_factory: pytest.TempPathFactory, linear_onnx: Callable[[Path, int, int], Path]
) -> Path:
    """MatMul 16 -> 8 (no bias) on a 1x16 input: 128 MACs, 256 FLOPs."""
    return linear_onnx(tmp_path_factory.mktemp("compare") / "tiny.onnx", 16, 8)


def test_costs_side_by_side_with_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "seed-separable", "seed-cnn"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[1]: line for line in out.splitlines() if "seed-" in line}
    assert "926,808" in rows["seed-separable"] and "1.00x" in rows["seed-separable"]
    assert "394,780" in rows["seed-cnn"]
    assert "0.43x" in rows["seed-cnn"]  # 394,780 / 926,808
    assert "33,800 B" in rows["seed-cnn"]  # peak activation memory
    assert "latency" not in out  # no timing without --profile


def test_costs_json_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "seed-cnn", "seed-separable", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "compare" and doc["schema_version"] == 1 and doc["profile"] is None
    cnn, sep = doc["models"]
    assert (cnn["model"], cnn["flops"], cnn["macs"], cnn["params"]) == (
        "seed-cnn",
        394_780,
        194_010,
        79_260,
    )
    assert (sep["flops"], sep["macs"]) == (926_808, 463_404)
    assert cnn["peak_activation_bytes"] == 33_800
    assert cnn["flops_ratio"] == 1.0
    assert sep["flops_ratio"] == pytest.approx(926_808 / 394_780, abs=1e-6)
    assert sep["latency_us"] is None and sep["samples"] == 0


@pytest.mark.parametrize("runtime", ["openvino", "onnxruntime"])
def test_profile_interleaves_models_each_in_its_own_process(runtime: str) -> None:
    report = compare(
        ["seed-cnn", "seed-separable"],
        profile=True,
        runtime=runtime,
        settings=RunSettings(threads=1, warmup=2),
        rounds=4,
        iterations=5,
    )
    assert isinstance(report, CompareReport) and report.runtime == runtime
    assert report.precision == "f32" and report.threads == 1
    # the same number of samples per model
    assert [len(m.samples_us) for m in report.models] == [20, 20]
    assert [m.latency_us.samples for m in report.models if m.latency_us] == [20, 20]
    # A B A B ...: by the parent's order and by the workers' own monotonic clocks
    schedule = report.schedule
    assert [b.model for b in schedule] == [0, 1] * 4
    assert [b.round for b in schedule] == [0, 0, 1, 1, 2, 2, 3, 3]
    for before, after in itertools.pairwise(schedule):
        assert before.end_s <= after.start_s  # never two models at once
    # one process per model, neither of them this one
    pids = {b.model: b.pid for b in schedule}
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()
    assert all(b.pid == pids[b.model] for b in schedule)
    assert [m.pid for m in report.models] == [pids[0], pids[1]]
    # samples are the batches' samples in order; the ratio is of medians
    first, second = report.models
    assert first.samples_us == tuple(t for b in schedule if b.model == 0 for t in b.samples_us)
    assert first.latency_us is not None and second.latency_us is not None
    assert report.latency_ratio(0) == 1.0
    assert report.latency_ratio(1) == pytest.approx(
        second.latency_us.median / first.latency_us.median
    )
    assert all(
        m.latency_us.min > 0 and m.latency_us.iqr >= 0 for m in report.models if m.latency_us
    )


def test_profile_table_and_json(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["compare", str(tiny), "seed-cnn", str(tiny), "--profile", "--runtime", "ort"]
    args += ["--rounds", "3", "--iterations", "4", "--warmup", "1", "--threads", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    for title in ("latency median", "IQR", "min", "latency vs first", "samples"):
        assert title in out
    assert "interleaved" in out and "#2" in out  # a repeated model gets its own row

    doc_path = tmp_path / "cmp.json"
    assert main([*args, "--format", "json", "-o", str(doc_path), "-q"]) == 0
    doc = json.loads(doc_path.read_text())
    assert doc["kind"] == "compare"
    assert [m["model"] for m in doc["models"]] == [str(tiny), "seed-cnn", f"{tiny} #2"]
    assert [m["samples"] for m in doc["models"]] == [12, 12, 12]
    assert doc["models"][0]["flops"] == 256 and doc["models"][0]["latency_ratio"] == 1.0
    profile = doc["profile"]
    assert profile["runtime"] == "onnxruntime" and profile["rounds"] == 3
    assert [s["model"] for s in profile["schedule"]] == [0, 1, 2] * 3
    assert len({s["pid"] for s in profile["schedule"]}) == 3
    for model in doc["models"]:
        assert set(model["latency_us"]) == {"median", "mean", "min", "p90", "p99", "iqr"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "seed-cnn"], "at least two models"),
        (["compare", "seed-cnn", "missing.onnx"], "no such file"),
        (["compare", "seed-cnn", "seed-separable", "--rounds", "0"], "--rounds"),
        (
            [
                "compare",
                "seed-cnn",
                "seed-cnn",
                "--profile",
                "--runtime",
                "ort",
                "--precision",
                "bf16",
            ],
            "precision",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1
    assert lines[0].startswith("modelprof: error:") and message in lines[0]
