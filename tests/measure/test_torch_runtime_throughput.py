"""Throughput mode on the torch runtimes: ``requests`` threads call the module concurrently,
intra-op threads split between the streams, as on ONNX Runtime; FPS = batch x completed /
elapsed, and FLOPs counted at each point's batch (seed-cnn: 394,780 per sample, DESIGN.md)."""

from __future__ import annotations

import json

import pytest

from modelprof.cli.main import main
from modelprof.measure.runtimes import RunSettings
from modelprof.measure.throughput_mode import throughput

FIXED = RunSettings(iterations=12, warmup=1, threads=2)


def test_streams_on_eager_torch_complete_exactly_the_runs_asked_for() -> None:
    report = throughput("seed-cnn", runtime="torch", settings=FIXED, streams=(1, 2))
    assert (report.runtime, report.precision) == ("torch", "f32")
    assert [(p.streams, p.requests, p.completed) for p in report.points] == [(1, 1, 12), (2, 2, 12)]
    for point in report.points:
        assert point.flops == 394_780 and point.latency_us.samples == 12
        # fps = batch x completed / elapsed; GFLOP/s = FLOPs x inferences per second / 1e9
        assert point.fps == pytest.approx(1 * 12 / point.elapsed_s)
        assert point.gflops_per_s == pytest.approx(394_780 * 12 / point.elapsed_s / 1e9)
    # two streams of one intra-op thread each: 2 threads in all
    assert report.threads == 2


def test_more_requests_than_streams_and_a_batch_sweep() -> None:
    report = throughput(
        "seed-cnn", runtime="torch", settings=FIXED, streams=(1,), requests=3, batches=(1, 3)
    )
    assert [(p.batch, p.streams, p.requests) for p in report.points] == [(1, 1, 3), (3, 1, 3)]
    # 3 x 394,780 = 1,184,340 FLOPs at batch 3
    assert [p.flops for p in report.points] == [394_780, 1_184_340]
    assert dict(report.points[1].input_shapes) == {"input": (3, 1, 28, 28)}
    assert report.points[1].fps == pytest.approx(3 * 12 / report.points[1].elapsed_s)


@pytest.mark.slow  # a cold inductor compile of seed-cnn at one thread: about 10-15 s
def test_torch_compile_in_throughput_mode(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["profile", "seed-cnn", "--runtime", "torch-compile", "--streams", "2"]
    args += ["--iterations", "8", "--threads", "2", "--format", "json"]
    assert main(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["mode"], document["runtime"]) == ("throughput", "torch-compile")
    (point,) = document["sweep"]
    assert (point["streams"], point["requests"], point["completed"]) == (2, 2, 8)
    assert point["compile_ms"] > 0  # the first call compiles (or loads inductor's cache)


def test_the_command_line_runs_eager_throughput_in_bf16(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["profile", "seed-cnn", "--runtime", "torch", "--mode", "throughput"]
    args += ["--iterations", "6", "--threads", "1", "--precision", "bf16", "--format", "json"]
    assert main(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["runtime"], document["precision"], document["threads"]) == ("torch", "bf16", 1)
    (point,) = document["sweep"]
    # one thread: one stream (the default is as many streams as threads, at most 4)
    assert (point["streams"], point["completed"], point["flops"]) == (1, 6, 394_780)
