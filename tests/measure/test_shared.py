"""What both runtimes share (runtimes/base.py), seen through every entry point of each."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from modelprof.errors import MissingExtraError, ModelprofError
from modelprof.measure.runtimes import RunSettings, get_runtime
from modelprof.measure.runtimes.base import import_runtime

RUNTIMES = ("openvino", "onnxruntime")
QUICK = RunSettings(threads=1, warmup=1, iterations=3, time_budget_s=0.1)
INPUTS = {"x": np.arange(6, dtype=np.float32).reshape(2, 3) - 2}


@pytest.fixture(scope="module")
def relu(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Relu on a static 2x3 input."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp("shared") / "relu.onnx"
    onnx.save(model, str(path))
    return path


def test_a_missing_runtime_names_the_pip_extra() -> None:
    with pytest.raises(MissingExtraError, match=r"pip install 'modelprof\[fastrt\]'"):
        import_runtime("modelprof_no_such_runtime", "fastrt")
    assert import_runtime("onnx", "onnx") is onnx


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_bound_session_runs_and_says_what_it_runs_with(relu: Path, runtime: str) -> None:
    backend = get_runtime(runtime)
    run, info = backend.bound_infer(relu, INPUTS, QUICK)
    run()
    assert info["runtime"] == runtime and info["runtime_version"] == backend.version()
    assert (info["device"], info["precision"], info["threads"]) == ("CPU", "f32", 1)
    assert info["compile_ms"] > 0
    # and the same as what a latency measurement reports it ran with
    measured = backend.measure(relu, INPUTS, QUICK)
    assert (measured.precision, measured.threads) == (info["precision"], info["threads"])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_iterations_fix_the_runs_of_every_entry_point(relu: Path, runtime: str) -> None:
    backend = get_runtime(runtime)
    measured = backend.measure(relu, INPUTS, QUICK)
    assert len(measured.latency_us) == len(measured.profiled_latency_us) == 3
    async_run = backend.measure_throughput(
        relu, INPUTS, replace(QUICK, iterations=7), streams=1, requests=2
    )
    assert async_run.completed == len(async_run.latency_us) == 7
    # without iterations, every request is timed at least once, however short the budget
    timed = backend.measure_throughput(
        relu, INPUTS, replace(QUICK, iterations=None, time_budget_s=0.0), streams=1, requests=3
    )
    assert timed.completed >= 3


def _call(entry: str, runtime: str, path: Path, settings: RunSettings) -> object:
    backend = get_runtime(runtime)
    if entry == "measure":
        return backend.measure(path, INPUTS, settings)
    if entry == "throughput":
        return backend.measure_throughput(path, INPUTS, settings)
    return backend.bound_infer(path, INPUTS, settings)


@pytest.mark.parametrize("entry", ["measure", "throughput", "bound"])
def test_every_entry_point_refuses_what_the_runtime_cannot_do_in_one_line(
    relu: Path, entry: str
) -> None:
    with pytest.raises(ModelprofError) as info:
        _call(entry, "openvino", relu, replace(QUICK, device="NPU7"))
    text = str(info.value)
    assert text.startswith("OpenVINO device 'NPU7' is not available here (available: CPU")
    assert "\n" not in text
    with pytest.raises(ModelprofError, match="--precision bf16 is an OpenVINO option"):
        _call(entry, "onnxruntime", relu, replace(QUICK, precision="bf16"))


@pytest.mark.parametrize("entry", ["measure", "throughput", "bound"])
def test_every_onnxruntime_entry_point_refuses_an_openvino_ir(
    relu: Path, entry: str, tmp_path: Path
) -> None:
    import openvino as ov

    xml = tmp_path / "relu.xml"
    ov.save_model(ov.convert_model(str(relu)), str(xml))
    with pytest.raises(ModelprofError, match=r"relu\.xml is an OpenVINO IR: ONNX Runtime reads"):
        _call(entry, "onnxruntime", xml, QUICK)
    _call(entry, "openvino", xml, QUICK)  # which OpenVINO runs


def test_the_profiled_pass_is_capped_by_the_time_budget_and_the_latency_passs_count() -> None:
    settings = RunSettings(time_budget_s=2.0, min_iterations=20)
    # 0.5 s a run: 4 fit the budget, but at least 20 are timed...
    assert settings.iteration_plan(0.5) == 20
    # ...and never more than the latency pass timed
    assert settings.iteration_plan(0.5, at_most=7) == 7
    # 1 ms a run: 2,000 fit; a latency pass of 300 runs caps it at 300
    assert settings.iteration_plan(0.001, at_most=300) == 300
    assert replace(settings, iterations=50).iteration_plan(0.5, at_most=7) == 50  # as asked


def test_onnx_runtime_trace_events_are_matched_to_their_runs() -> None:
    from modelprof.measure.runtimes.onnxruntime import layers_from_trace

    def run(ts: int) -> dict[str, object]:
        return {"cat": "Session", "name": "model_run", "ts": ts, "dur": 100}

    def kernel(node: str, ts: int, dur: float) -> dict[str, object]:
        args = {"op_name": "Conv", "provider": "CPUExecutionProvider"}
        return {"cat": "Node", "name": f"{node}_kernel_time", "ts": ts, "dur": dur, "args": args}

    events = [
        run(0), kernel("conv", 10, 99.0),  # a warm-up run: not among the last 2
        run(200), kernel("conv", 210, 5.0), kernel("conv", 250, 2.0),  # twice in one run
        kernel("conv", 350, 50.0),  # between runs: belongs to none
        run(400), kernel("conv", 410, 9.0), kernel("relu", 420, 1.0),
    ]  # fmt: skip
    layers = layers_from_trace(list(reversed(events)), runs=2)
    assert [(layer.runtime_name, layer.times_us) for layer in layers] == [
        ("conv", (7.0, 9.0)),
        ("relu", (0.0, 1.0)),
    ]
    assert layers[0].exec_type == "Conv (CPU)"
