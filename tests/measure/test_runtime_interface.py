"""The runtime interface is whole: a runtime written in a few lines runs through ``profile``,
throughput mode and ``compare`` (in compare's worker processes too), with no switch on the
runtime's class anywhere in the library."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import onnx

from modelprof.measure.comparison import compare
from modelprof.measure.profiling import profile
from modelprof.measure.runtimes import get_runtime, runtime_reference
from modelprof.measure.runtimes.base import (
    AsyncMeasurement,
    Measurement,
    RunSettings,
    Runtime,
    RuntimeLayer,
)
from modelprof.measure.throughput_mode import throughput

RUNS = 5
NODE_US = 10.0
LATENCY_US = 100.0


class FakeRuntime(Runtime):
    """Runs nothing: every node of the model takes 10 us, an inference 100 us, and under load
    each stream completes 40 inferences in 2 s."""

    name = "fake"
    extra = "none"

    def version(self) -> str:
        return "0.1"

    def measure(
        self, onnx_path: Path, inputs: Mapping[str, Any], settings: RunSettings
    ) -> Measurement:
        nodes = onnx.load(str(onnx_path)).graph.node
        layers = tuple(
            RuntimeLayer(n.name, n.op_type, "fake", "f32", (NODE_US,) * RUNS, sources=(n.name,))
            for n in nodes
        )
        return Measurement(
            runtime="fake",
            runtime_version="0.1",
            device=settings.device,
            precision="f32",
            threads=1,
            compile_ms=1.0,
            first_inference_ms=1.0,
            latency_us=(LATENCY_US,) * RUNS,
            profiled_latency_us=(LATENCY_US,) * RUNS,
            layers=layers,
        )

    def measure_throughput(
        self,
        onnx_path: Path,
        inputs: Mapping[str, Any],
        settings: RunSettings,
        *,
        streams: int | None = None,
        requests: int | None = None,
    ) -> AsyncMeasurement:
        s = streams or 1
        return AsyncMeasurement(
            runtime="fake",
            runtime_version="0.1",
            device=settings.device,
            precision="f32",
            threads=1,
            streams=s,
            requests=requests or s,
            completed=40 * s,
            elapsed_s=2.0,
            latency_us=(50.0,) * (40 * s),
            compile_ms=1.0,
        )

    def bound_infer(
        self, onnx_path: Path, inputs: Mapping[str, Any], settings: RunSettings
    ) -> tuple[Callable[[], object], dict[str, Any]]:
        def run() -> None:
            return None

        return run, self.session_info(settings, precision="f32", threads=1, compile_ms=1.0)


def test_a_runtime_instance_or_its_reference_is_accepted_where_a_name_goes() -> None:
    fake = FakeRuntime()
    assert get_runtime(fake) is fake
    reference = runtime_reference(fake)
    assert reference == f"{__name__}:FakeRuntime"
    assert isinstance(get_runtime(reference), FakeRuntime)
    assert runtime_reference(get_runtime("ov")) == "openvino"
    assert runtime_reference(get_runtime("onnxruntime")) == "onnxruntime"


def test_profile_joins_a_fake_runtimes_layers_with_the_count() -> None:
    report = profile("seed-cnn", runtime=FakeRuntime())
    assert (report.runtime, report.runtime_version, report.precision) == ("fake", "0.1", "f32")
    assert report.latency_us.median == LATENCY_US
    # seed-cnn's export: conv1, pool, conv2, the flatten, fc1, fc2, each measured at 10 us
    measured = [layer for layer in report.layers if not layer.folded_into]
    assert [layer.time_us for layer in measured] == [NODE_US] * 6
    assert sum(layer.flops for layer in report.layers) == 394_780
    conv1 = next(layer for layer in report.layers if layer.flops == 121_680)
    # 121,680 FLOPs in 10 us: 12.168 GFLOP/s
    assert abs(conv1.gflops_per_s - 12.168) < 1e-9


def test_throughput_mode_runs_on_a_fake_runtime() -> None:
    report = throughput("seed-cnn", runtime=FakeRuntime(), streams=(1, 2))
    assert report.runtime == "fake"
    # fps = batch x completed / elapsed: 1 x 40 / 2 s and 1 x 80 / 2 s
    assert [(p.streams, p.fps) for p in report.points] == [(1, 20.0), (2, 40.0)]
    # 394,780 FLOPs x 40 inferences/s = 15.79 MFLOP/s at 2 streams
    assert abs(report.points[1].gflops_per_s - 394_780 * 40 / 1e9) < 1e-12


def test_compare_times_on_a_fake_runtime_in_its_worker_processes() -> None:
    report = compare(
        ["seed-cnn", "seed-separable"],
        profile=True,
        runtime=FakeRuntime(),
        rounds=2,
        iterations=3,
        settings=RunSettings(warmup=1),
    )
    assert report.runtime == "fake"
    for model in report.models:
        assert len(model.samples_us) == 2 * 3
        assert model.pid not in (0, os.getpid())
