"""Throughput mode on the real runtimes: streams, requests, FPS and the batch x streams sweep."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelprof.cli.main import main
from modelprof.measure.runtimes import RunSettings
from modelprof.measure.throughput_mode import ThroughputPoint, ThroughputReport, throughput

RUNTIMES = ["openvino", "onnxruntime"]
QUICK = RunSettings(threads=2, warmup=2, time_budget_s=0.2)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Conv 3->4 3x3 (no bias) -> Relu -> GlobalAveragePool -> Flatten on a static 1x3x8x8."""
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3]),
            helper.make_node("Relu", ["c"], ["r"], name="relu"),
            helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
            helper.make_node("Flatten", ["p"], ["y"], name="flatten"),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    path = tmp_path_factory.mktemp("tput") / "tiny.onnx"
    onnx.save(model, str(path))
    return path


def assert_consistent(point: ThroughputPoint) -> None:
    """FPS is batch x completed / elapsed, and every completed inference has its latency."""
    assert point.fps > 0 and point.completed > 0 and point.elapsed_s > 0
    assert point.fps == pytest.approx(point.batch * point.completed / point.elapsed_s)
    assert len(point.samples_us) == point.completed == point.latency_us.samples
    assert all(t > 0 for t in point.samples_us)
    assert point.latency_us.min <= point.latency_us.median <= point.latency_us.p90
    assert point.gflops_per_s == pytest.approx(
        point.flops * point.completed / point.elapsed_s / 1e9
    )


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_throughput_mode_reports_fps_and_per_request_samples(tiny: Path, runtime: str) -> None:
    report = throughput(str(tiny), runtime=runtime, settings=QUICK)
    assert isinstance(report, ThroughputReport)
    assert report.runtime == runtime and report.precision == "f32" and report.sweep is None
    (point,) = report.points
    assert_consistent(point)
    assert point.batch == 1 and point.input_shapes == {"x": (1, 3, 8, 8)}
    assert point.streams >= 1 and point.requests >= 1
    assert point.requested_streams is None  # the runtime chose
    # the time budget was respected: not far below it, nor far past it
    assert 0.2 <= point.elapsed_s < 2.0
    assert report.notes


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_batch_x_streams_sweep_reshapes_every_input(tiny: Path, runtime: str) -> None:
    report = throughput(str(tiny), runtime=runtime, settings=QUICK, streams=(1, 2), batches=(1, 4))
    assert report.sweep == "batch"
    assert [(p.batch, p.streams) for p in report.points] == [(1, 1), (1, 2), (4, 1), (4, 2)]
    assert report.batches == [1, 4] and report.streams == [1, 2]
    flops_at_1 = report.points[0].flops
    assert flops_at_1 > 0
    for point in report.points:
        assert_consistent(point)
        assert point.input_shapes == {"x": (point.batch, 3, 8, 8)}
        assert point.requested_streams == point.streams
        assert point.flops == point.batch * flops_at_1  # counted at the point's own batch
    if runtime == "onnxruntime":  # one thread per stream, one request per stream
        assert [p.requests for p in report.points] == [1, 2, 1, 2]
    assert report.best.fps == max(p.fps for p in report.points)
    assert report.point(4, 2) is report.points[3]


def test_sweep_exports_a_zoo_model_at_each_batch() -> None:
    report = throughput(
        "seed-cnn", runtime="onnxruntime", settings=QUICK, streams=(1,), batches=(1, 2)
    )
    assert [p.input_shapes for p in report.points] == [
        {"input": (1, 1, 28, 28)},
        {"input": (2, 1, 28, 28)},
    ]
    assert [p.flops for p in report.points] == [394_780, 2 * 394_780]
    for point in report.points:
        assert_consistent(point)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_iterations_fix_the_number_of_inferences(tiny: Path, runtime: str) -> None:
    settings = RunSettings(threads=2, warmup=1, iterations=40)
    report = throughput(str(tiny), runtime=runtime, settings=settings, streams=(2,), requests=3)
    (point,) = report.points
    assert point.completed == 40 and point.requests == 3 and point.streams == 2
    assert_consistent(point)


def test_cli_sweep_json_document(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "tput.json"
    args = ["profile", str(tiny), "--runtime", "ort", "--sweep", "batch=1,2", "--streams", "1,2"]
    args += ["--time", "0.2", "--warmup", "1", "--format", "json", "-o", str(out), "-q"]
    assert main(args) == 0
    doc = json.loads(out.read_text())
    assert doc["kind"] == "profile" and doc["mode"] == "throughput"
    assert doc["schema_version"] == 1 and doc["sweep_name"] == "batch"
    assert [(p["batch"], p["streams"]) for p in doc["sweep"]] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    for p in doc["sweep"]:
        assert p["input_shapes"] == {"x": [p["batch"], 3, 8, 8]}
        assert p["fps"] == pytest.approx(p["batch"] * p["completed"] / p["elapsed_s"], rel=1e-3)
        assert p["samples"] == p["completed"] == len(p["samples_us"])
        assert set(p["latency_us"]) == {"median", "mean", "min", "p90", "p99", "iqr"}
    best = max(doc["sweep"], key=lambda p: p["fps"])
    assert (doc["best"]["batch"], doc["best"]["streams"]) == (best["batch"], best["streams"])


def test_cli_sweep_table(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["profile", str(tiny), "--sweep", "batch=1,2", "--streams", "1,2", "--time", "0.2"]
    assert main([*args, "--warmup", "1"]) == 0
    out = capsys.readouterr().out
    assert "throughput mode, openvino" in out
    assert "FPS by batch and streams" in out  # the batch x streams grid
    for shape in ("1x3x8x8", "2x3x8x8"):
        assert out.count(shape) == 2  # one row per streams value
    assert "latency median" in out and "latency p90" in out and "best: batch" in out


def test_latency_mode_is_unchanged_by_default(
    tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["profile", str(tiny), "--runtime", "ort", "--iterations", "3", "--warmup", "1"]
    assert main([*args, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "mode" not in doc and doc["iterations"] == 3 and doc["layers"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sweep", "depth=1,2"], "cannot sweep 'depth'"),
        (["--sweep", "streams=1,2"], "--streams 1,2"),
        (["--sweep", "batch"], "expected NAME=VALUES"),
        (["--sweep", "batch=0,2"], "at least 1"),
        (["--streams", "0"], "at least 1"),
        (["--streams", "1,two"], "positive integers"),
        (["--requests", "0"], "--requests"),
        (["--mode", "latency", "--streams", "2"], "--mode throughput"),
        (["--mode", "throughput", "--html", "x.html"], "--html"),
    ],
)
def test_bad_throughput_options_exit_2_with_one_line(
    tiny: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["profile", str(tiny), *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("modelprof: error:")
    assert message in lines[0]


def test_a_sweep_cannot_take_a_fixed_input_file(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "x.npy"
    np.save(data, np.zeros((1, 3, 8, 8), np.float32))
    assert main(["profile", str(tiny), "--sweep", "batch=1,2", "--inputs", str(data)]) == 2
    assert "--inputs" in capsys.readouterr().err
