"""Profiling on the real runtimes (OpenVINO and ONNX Runtime), on small zoo models."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from modelprof.cli.main import main
from modelprof.measure.profilereport import ProfileReport
from modelprof.measure.profiling import profile
from modelprof.measure.runtimes import RunSettings

FAST = RunSettings(threads=2, warmup=2, iterations=6)
_cache: dict[tuple[str, str], ProfileReport] = {}


def profiled(model: str, runtime: str) -> ProfileReport:
    key = (model, runtime)
    if key not in _cache:
        _cache[key] = profile(model, runtime=runtime, settings=FAST)
    return _cache[key]


CASES = [(m, r) for m in ("seed-cnn", "resnet18") for r in ("openvino", "onnxruntime")]


@pytest.mark.parametrize(("model", "runtime"), CASES)
def test_every_costed_layer_is_measured_or_explicitly_fused(model: str, runtime: str) -> None:
    report = profiled(model, runtime)
    rows = {row.name: row for row in report.layers}
    timed = [row for row in report.layers if not row.folded_into]
    for layer in report.count.layers:
        if not layer.flops:
            continue
        row = rows.get(layer.name)
        assert row is not None, f"{layer.name} missing from the {runtime} profile"
        if row.folded_into:
            # a fused-into row names a measured row that lists it among its sources
            target = rows[row.folded_into]
            assert not target.folded_into and layer.name in target.fused_from
        else:
            assert len(row.fused_from) >= 1 and row.time_us >= 0
    # the join neither loses nor double-counts FLOPs
    assert sum(row.flops for row in timed) == report.count.total.flops
    assert report.precision == "f32"
    assert report.iterations == 6 and report.latency_us.samples == 6
    assert report.time_coverage == pytest.approx(
        sum(row.time_us for row in report.layers) / report.latency_us.median
    )
    assert report.time_coverage > 0


@pytest.mark.parametrize("runtime", ["openvino", "onnxruntime"])
def test_resnet18_relus_are_fused_into_their_convs(runtime: str) -> None:
    report = profiled("resnet18", runtime)
    relus = [row for row in report.layers if row.op == "Relu"]
    assert len(relus) == 17  # 1 stem + 2 per block x 8 blocks
    for row in relus:
        assert row.folded_into, f"{row.name} has a time of its own on {runtime}"
        assert report.layers[[r.name for r in report.layers].index(row.folded_into)].op == "Conv"


def test_runtime_inserted_layers_are_kept_as_overhead() -> None:
    report = profiled("seed-cnn", "onnxruntime")
    inserted = report.conversions()
    assert inserted, "ORT's NCHWc reorders should appear"
    assert all(row.inserted and not row.fused_from and row.flops == 0 for row in inserted)
    assert all(row.op.startswith("Reorder") for row in inserted)


def test_openvino_reports_threads_and_precision_it_ran_with() -> None:
    report = profiled("seed-cnn", "openvino")
    assert report.threads == 2
    assert {row.precision for row in report.layers if not row.folded_into} == {"f32"}
    assert report.compile_ms > 0 and report.first_inference_ms > 0


def test_profile_json_document(tmp_path: Path) -> None:
    out = tmp_path / "prof.json"
    args = [
        "profile",
        "seed-cnn",
        "--runtime",
        "onnxruntime",
        "--iterations",
        "5",
        "--warmup",
        "1",
        "--threads",
        "1",
        "--format",
        "json",
        "-o",
        str(out),
    ]
    assert main(args) == 0
    doc = json.loads(out.read_text())
    assert doc["kind"] == "profile" and doc["schema_version"] == 1
    for key in (
        "runtime",
        "runtime_version",
        "device",
        "precision",
        "threads",
        "iterations",
        "compile_ms",
        "first_inference_ms",
        "latency_us",
        "throughput_fps",
        "profiler_overhead",
        "time_coverage",
        "layers",
    ):
        assert key in doc
    assert set(doc["latency_us"]) == {"median", "mean", "min", "p90", "p99", "iqr"}
    assert doc["threads"] == 1 and doc["iterations"] == 5
    layer = next(layer for layer in doc["layers"] if layer["name"] == "/conv1/Conv")
    for key in (
        "op",
        "exec_type",
        "precision",
        "time_us",
        "time_share",
        "flops",
        "macs",
        "gflops_per_s",
        "bound",
        "fused_from",
        "inserted",
    ):
        assert key in layer
    assert layer["flops"] == 121_680
    assert doc["count"]["total"]["flops"] == 394_780


def test_user_inputs_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "x.npy"
    np.save(good, np.zeros((1, 1, 28, 28), np.float32))
    assert (
        main(
            [
                "profile",
                "seed-cnn",
                "--inputs",
                str(good),
                "--iterations",
                "2",
                "--warmup",
                "0",
                "-q",
            ]
        )
        == 0
    )
    bad = tmp_path / "bad.npz"
    np.savez(bad, input=np.zeros((1, 1, 27, 28), np.float32))
    capsys.readouterr()
    assert main(["profile", "seed-cnn", "--inputs", str(bad), "--iterations", "2"]) == 2
    err = capsys.readouterr().err
    assert "'input' has shape (1, 1, 27, 28) but the model expects (1, 1, 28, 28)" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--device", "NPU7"], "OpenVINO device 'NPU7' is not available here (available: CPU"),
        (["--runtime", "ort", "--device", "TPU"], "ONNX Runtime device 'TPU' is not available"),
        (["--runtime", "ort", "--precision", "bf16"], "--precision bf16 is an OpenVINO option"),
    ],
)
def test_runtime_errors_are_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profile", "seed-cnn", "--iterations", "2", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_openvino_ir_profiles_on_openvino_and_is_refused_by_onnxruntime(
    tmp_path: Path, export: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    import openvino as ov

    from modelprof.frontends import zoo

    source = export(zoo.get("seed-cnn").build(), (1, 1, 28, 28), tmp_path / "s.onnx")
    xml = tmp_path / "s.xml"
    ov.save_model(ov.convert_model(str(source)), str(xml), compress_to_fp16=False)
    report = profile(xml, runtime="openvino", settings=FAST)
    assert report.count.total.flops == 394_780
    assert sum(row.flops for row in report.layers if not row.folded_into) == 394_780
    assert main(["profile", str(xml), "--runtime", "ort", "--iterations", "2"]) == 2
    assert "ONNX Runtime reads ONNX files only" in capsys.readouterr().err
