"""``modelprof device``: ceilings measured on the real runtimes, cached, and used by profile.

The probes run at small sizes here (a 128-256 MatMul, a 1-4 MiB stream) so the tests are fast;
the values are then only checked for plausibility, not for being the machine's true ceilings.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from modelprof.cli.main import main
from modelprof.errors import ModelprofError
from modelprof.measure import ceilings as cache
from modelprof.measure.device import DeviceCeilings, measure_ceilings, settings_for
from modelprof.measure.preparation import PreparedModel, make_inputs, prepare
from modelprof.measure.profilereport import Ceilings, ProfileLayer, ProfileReport
from modelprof.measure.profiling import join, profile
from modelprof.measure.runtimes import RunSettings, get_runtime
from modelprof.measure.runtimes.base import Measurement, RuntimeLayer

RUNTIMES = ("openvino", "onnxruntime")
SMALL = {"matmul_size": 256, "matmul_chain": 2, "stream_bytes": 4 * 1024 * 1024}
FAST = RunSettings(threads=2, warmup=2, iterations=5)


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty cache folder: nothing touches the user's cache."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MODELPROF_CACHE", str(folder))
    return folder


_measured: dict[str, DeviceCeilings] = {}


def measured(runtime: str) -> DeviceCeilings:
    if runtime not in _measured:
        _measured[runtime] = measure_ceilings(runtime, FAST, **SMALL)
    return _measured[runtime]


# -- measuring ----------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_measured_ceilings_are_positive_and_plausible(runtime: str) -> None:
    result = measured(runtime)
    c = result.ceilings
    assert c.peak_gflops_per_s > 1
    assert c.bandwidth_gb_per_s > 0.5
    assert c.ridge_flop_per_byte == pytest.approx(c.peak_gflops_per_s / c.bandwidth_gb_per_s)
    assert (c.runtime, c.precision, c.threads) == (runtime, "f32", 2)
    assert result.runtime_precision == "f32"
    # the work is what the docstring says: 2 n^3 per MatMul, or 2 x C x 28^2 x C x 9 per 3x3
    # convolution (C = 256 / 8 = 32), whichever probe ran faster; read + write per byte
    assert result.compute.work in (2 * 256**3 * 2, 2 * 32 * 28 * 28 * 32 * 9 * 2)
    assert result.bandwidth.work == 2 * 4 * 1024 * 1024
    assert result.compute.unit == "FLOP" and result.bandwidth.unit == "B"
    for probe in (result.compute, result.bandwidth):
        assert probe.kernels, f"no layer of the {probe.name} probe was found in the profile"
        assert len(probe.kernel_us) == 5 and len(probe.end_to_end_us) == 5
        assert probe.time_us > 0 and probe.best_rate >= probe.rate
        # the rate is the work over the median kernel time
        assert probe.rate == pytest.approx(probe.work / probe.time_us / 1e3)
    assert c.peak_gflops_per_s == result.compute.rate
    assert c.bandwidth_gb_per_s == result.bandwidth.rate


def test_openvino_runs_the_gemm_in_the_library_kernel() -> None:
    result = measured("openvino")
    # OpenVINO turns a MatMul with constant weights into its GEMM layer, FullyConnected, and
    # runs the convolutions in its own kernel; the peak is the faster, and the note says both
    assert any(k.startswith(("FullyConnected", "Convolution")) for k in result.compute.kernels)
    (note,) = [n for n in result.notes if n.startswith("peak compute from the faster probe")]
    assert "FullyConnected" in note and "Convolution" in note
    # and runs the Mul as one elementwise kernel (a Subgraph, or Eltwise on older versions)
    assert len(result.bandwidth.kernels) == 1
    assert result.bandwidth.kernels[0].startswith(("Subgraph", "Eltwise", "Multiply"))


def test_precision_is_set_explicitly_and_reported() -> None:
    result = measure_ceilings(
        "openvino", RunSettings(precision="bf16", threads=1, warmup=1, iterations=3), **SMALL
    )
    assert result.ceilings.precision == "bf16"  # the cache key: what was asked for
    assert result.ceilings.threads == 1
    # what actually ran: bf16 on CPUs with bf16 arithmetic, else OpenVINO falls back to f32
    assert result.runtime_precision in ("bf16", "f32")
    doc = result.to_dict()
    assert doc["precision"] == "bf16" and doc["runtime_precision"] == result.runtime_precision


def test_onnxruntime_refuses_a_precision_it_cannot_set() -> None:
    with pytest.raises(ModelprofError, match="precision"):
        measure_ceilings("onnxruntime", settings_for(precision="f16"), **SMALL)


def test_bad_sizes_are_user_errors() -> None:
    with pytest.raises(ModelprofError):
        measure_ceilings("onnxruntime", FAST, matmul_size=0)
    with pytest.raises(ModelprofError):
        measure_ceilings("onnxruntime", FAST, stream_bytes=2)


def test_settings_for_keeps_the_probe_timing_defaults() -> None:
    s = settings_for(precision="bf16", threads=3, iterations=7)
    assert (s.precision, s.threads, s.iterations, s.device) == ("bf16", 3, 7, "CPU")
    assert s.time_budget_s < 1.0  # the whole command stays well under 15 s


# -- the cache ----------------------------------------------------------------------------------


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPROF_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("MODELPROF_CACHE")
    assert cache.cache_dir() == tmp_path / "xdg" / "modelprof"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "modelprof"
    monkeypatch.setenv("MODELPROF_CACHE", "")  # empty means unset
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "modelprof"


def test_cache_path_is_per_machine_runtime_precision_and_settings(
    private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("platform.node", lambda: "my box/1")
    path = cache.cache_path("openvino", "bf16")
    assert path == private_cache / "ceilings-my_box_1-openvino-bf16-defaultthreads.json"
    assert cache.cache_path("ov", "f32", threads=2).name == (
        "ceilings-my_box_1-openvino-f32-2threads.json"
    )
    assert cache.cache_path("onnxruntime", "f32") != cache.cache_path("openvino", "f32")
    assert cache.cache_path("openvino", "f32", "GPU.0").name == (
        "ceilings-my_box_1-openvino-GPU.0-f32-defaultthreads.json"
    )
    assert cache.cache_path("openvino", "f32", "cpu") == cache.cache_path("openvino", "f32")
    # OpenVINO splits a latency run's threads between the streams asked for: they are keyed
    assert cache.cache_path("openvino", "f32", threads=2, streams=2).name == (
        "ceilings-my_box_1-openvino-f32-2threads-2streams.json"
    )
    # ONNX Runtime's latency runs ignore streams: asking for some changes nothing
    assert cache.cache_path("ort", "f32", threads=1, streams=4) == cache.cache_path(
        "onnxruntime", "f32", threads=1
    )


def test_cache_round_trips_atomically(private_cache: Path) -> None:
    assert cache.load_cached("openvino", "f32", threads=2) is None  # nothing cached yet
    stored = Ceilings(123.5, 11.25, runtime="openvino", precision="f32", threads=2)
    path = cache.save(stored, {"runtime_version": "x", "compute": {"what": "a GEMM"}})
    # with no settings recorded in the details, the threads it ran with are the key
    assert path == cache.cache_path("openvino", "f32", threads=2) and path.parent == private_cache
    assert cache.load_cached("openvino", "f32", threads=2) == stored
    assert cache.load_cached("openvino", "f32") is None  # keyed by threads
    assert cache.load_cached("openvino", "bf16", threads=2) is None  # and precision
    assert cache.load_cached("onnxruntime", "f32", threads=2) is None  # and runtime
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == 1 and doc["kind"] == "device"
    assert (doc["threads"], doc["requested_threads"], doc["requested_streams"]) == (2, 2, None)
    assert doc["compute"] == {"what": "a GEMM"} and doc["ridge_flop_per_byte"] == pytest.approx(
        123.5 / 11.25
    )
    # a second save replaces the first, and leaves no temporary file behind
    cache.save(Ceilings(200.0, 20.0, runtime="openvino", precision="f32", threads=2))
    assert cache.load_cached("openvino", "f32", threads=2) == Ceilings(
        200.0, 20.0, "openvino", "f32", 2
    )
    assert [p.name for p in private_cache.iterdir()] == [path.name]


def test_a_key_stores_ceilings_under_the_settings_asked_for(private_cache: Path) -> None:
    ran = Ceilings(50.0, 5.0, runtime="openvino", precision="f32", threads=2)
    key = cache.CacheKey.of("ov", threads=None, streams=2)
    path = cache.save(ran, key=key)
    assert path == cache.cache_path("openvino", "f32", streams=2)
    assert cache.load_cached("openvino", "f32", streams=2) == ran
    assert cache.load_cached("openvino", "f32") is None
    assert cache.load_cached("openvino", "f32", threads=2) is None
    with pytest.raises(ValueError, match="cannot be stored"):
        cache.save(ran, key=cache.CacheKey.of("onnxruntime"))


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"peak_gflops_per_s": 10}',
        '{"peak_gflops_per_s": 10, "bandwidth_gb_per_s": 0}',
        '{"peak_gflops_per_s": "NaN", "bandwidth_gb_per_s": 5}',
        '{"peak_gflops_per_s": "fast", "bandwidth_gb_per_s": 5}',
    ],
)
def test_a_broken_cache_file_reads_as_no_ceilings(text: str) -> None:
    path = cache.cache_path("openvino", "f32")
    path.parent.mkdir(parents=True)
    path.write_text(text)
    assert cache.load_cached("openvino", "f32") is None
    assert cache.load_document("openvino", "f32") is None


#: What modelprof wrote before the key held the threads: no ``requested_threads``.
OLD_DOCUMENT = {
    "schema_version": 1,
    "kind": "device",
    "host": "box",
    "runtime": "onnxruntime",
    "device": "CPU",
    "precision": "f32",
    "threads": 1,
    "peak_gflops_per_s": 100.0,
    "bandwidth_gb_per_s": 10.0,
    "ridge_flop_per_byte": 10.0,
}


@pytest.mark.parametrize(
    "recorded",
    [
        {},  # an old file that says nothing of the threads asked for
        {"requested_threads": 1},  # another measurement's file, renamed
        {"requested_threads": None, "runtime": "openvino"},  # another runtime's
        {"requested_threads": "2"},  # malformed
        {"requested_threads": None, "requested_streams": [2]},  # malformed
    ],
)
def test_a_file_whose_settings_are_not_the_key_reads_as_no_ceilings(
    recorded: dict[str, object],
) -> None:
    path = cache.cache_path("onnxruntime", "f32")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({**OLD_DOCUMENT, **recorded}))
    assert cache.load_document("onnxruntime", "f32") is None
    assert cache.load_cached("onnxruntime", "f32") is None
    # the same document saying it was measured with the default threads is read
    path.write_text(json.dumps({**OLD_DOCUMENT, "requested_threads": None}))
    assert cache.load_cached("onnxruntime", "f32") == Ceilings(100.0, 10.0, "onnxruntime", "f32", 1)


def test_an_old_cache_file_is_ignored_not_a_crash(
    private_cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the file name and document an older modelprof wrote, from a 1-thread measurement
    monkeypatch.setattr("platform.node", lambda: "box")
    private_cache.mkdir()
    old = private_cache / "ceilings-box-onnxruntime-f32.json"
    old.write_text(json.dumps(OLD_DOCUMENT))
    assert cache.load_cached("onnxruntime", "f32") is None
    assert cache.load_cached("onnxruntime", "f32", threads=1) is None
    # a profile then runs without a roofline, and --cached says there is nothing to show
    args = ["profile", "seed-cnn", "--runtime", "ort", "--iterations", "3", "--format", "json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["ceilings"] is None
    assert main(["device", "--runtime", "ort", "--cached"]) == 2
    assert "no ceilings cached" in capsys.readouterr().err
    assert old.read_text() == json.dumps(OLD_DOCUMENT)  # left alone


def test_saving_needs_a_runtime_name() -> None:
    with pytest.raises(ValueError, match="runtime"):
        cache.save(Ceilings(1.0, 1.0))


# -- the command --------------------------------------------------------------------------------

CLI_SMALL = ["--matmul-size", "128", "--stream-mib", "2", "--iterations", "3"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_device_json_document_and_cache(
    runtime: str, private_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["device", "--runtime", runtime, "--format", "json", *CLI_SMALL]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 1 and doc["kind"] == "device"
    for key in (
        "modelprof_version",
        "host",
        "runtime",
        "runtime_version",
        "device",
        "precision",
        "runtime_precision",
        "threads",
        "requested_threads",
        "requested_streams",
        "peak_gflops_per_s",
        "bandwidth_gb_per_s",
        "ridge_flop_per_byte",
        "compute",
        "bandwidth",
        "measured_at",
        "wall_s",
        "notes",
        "cache_path",
        "cached",
    ):
        assert key in doc, key
    assert (doc["runtime"], doc["precision"], doc["device"]) == (runtime, "f32", "CPU")
    # no --threads: the runtime's default, cached as such (threads: what it ran with)
    assert doc["requested_threads"] is None and doc["requested_streams"] is None
    assert doc["threads"] >= 1
    assert doc["peak_gflops_per_s"] > 1 and doc["bandwidth_gb_per_s"] > 0.5
    assert doc["ridge_flop_per_byte"] == pytest.approx(
        doc["peak_gflops_per_s"] / doc["bandwidth_gb_per_s"]
    )
    # the faster probe: 2 x 128^3 per MatMul, or 2 x 16 x 28^2 x 16 x 9 per 3x3 convolution
    assert doc["compute"]["work"] in (2 * 128**3 * 2, 2 * 16 * 28 * 28 * 16 * 9 * 2)
    assert doc["compute"]["kernels"]
    assert doc["bandwidth"]["work"] == 2 * 2 * 1024 * 1024 and doc["bandwidth"]["kernels"]
    assert doc["cached"] is True
    assert Path(doc["cache_path"]) == cache.cache_path(runtime, "f32")
    assert Path(doc["cache_path"]).parent == private_cache
    stored = cache.load_cached(runtime, "f32")
    assert stored is not None
    assert stored.peak_gflops_per_s == doc["peak_gflops_per_s"]
    assert stored.bandwidth_gb_per_s == doc["bandwidth_gb_per_s"]

    # --cached shows the stored document without measuring again
    assert main(["device", "--runtime", runtime, "--cached", "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["measured_at"] == doc["measured_at"]
    assert again["peak_gflops_per_s"] == doc["peak_gflops_per_s"]


def test_device_table_names_the_figures_and_the_cache(
    private_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["device", "--runtime", "ort", *CLI_SMALL]) == 0
    captured = capsys.readouterr()
    out = " ".join(captured.out.split())
    for text in ("GFLOP/s", "GB/s", "FLOP/byte", "peak compute", "memory bandwidth", "MatMul"):
        assert text in out
    assert "ridge point" in out and "onnxruntime" in out
    assert str(cache.cache_path("onnxruntime", "f32")) in captured.out.replace("\n", "")
    assert "measuring" in captured.err  # progress goes to stderr, never into the report


def test_no_cache_measures_without_storing(
    private_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["device", "--runtime", "ort", "--no-cache", "--format", "json", *CLI_SMALL]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["cached"] is False
    assert not private_cache.exists() or not any(private_cache.iterdir())
    # and --cached then has nothing to show: one line, exit status 2
    assert main(["device", "--runtime", "ort", "--cached"]) == 2
    assert "no ceilings cached" in capsys.readouterr().err


def test_device_writes_the_report_with_o(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "device.json"
    args = ["device", "--runtime", "ort", "--format", "json", "-o", str(out), *CLI_SMALL]
    assert main(args) == 0
    assert json.loads(out.read_text())["kind"] == "device"
    assert main(args) == 2  # never replaced without --force
    assert "exists" in capsys.readouterr().err


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_ceilings_are_reused_only_with_the_threads_they_were_measured_with(runtime: str) -> None:
    one = measure_ceilings(runtime, replace(FAST, threads=1), **SMALL)
    two = measured(runtime)  # FAST: 2 threads
    assert (one.ceilings.threads, two.ceilings.threads) == (1, 2)  # what the runtime ran
    assert one.to_dict()["requested_threads"] == 1
    first = cache.save(one.ceilings, one.to_dict())
    assert cache.load_cached(runtime, "f32", threads=1) == one.ceilings
    # a 1-thread measurement is not reused for a 2-thread profile, nor a default one
    assert cache.load_cached(runtime, "f32", threads=2) is None
    assert cache.load_cached(runtime, "f32") is None
    # both measurements live side by side, each found by its own settings
    second = cache.save(two.ceilings, two.to_dict())
    assert second != first
    assert cache.load_cached(runtime, "f32", threads=1) == one.ceilings
    assert cache.load_cached(runtime, "f32", threads=2) == two.ceilings
    # the key of a measurement is the key a profile with the same settings looks up
    assert two.key == cache.CacheKey.for_settings(runtime, RunSettings(threads=2, iterations=9))


def test_openvino_ceilings_are_keyed_by_the_streams_asked_for() -> None:
    streamed = measure_ceilings("openvino", replace(FAST, streams=2), **SMALL)
    assert streamed.to_dict()["requested_streams"] == 2
    cache.save(streamed.ceilings, streamed.to_dict())
    assert cache.load_cached("openvino", "f32", threads=2, streams=2) == streamed.ceilings
    assert cache.load_cached("openvino", "f32", threads=2) is None


def test_a_profile_without_threads_does_not_reuse_a_one_thread_measurement(
    capsys: pytest.CaptureFixture[str],
) -> None:
    profile_args = ["profile", "seed-cnn", "--runtime", "ort", "--iterations", "3"]
    assert (
        main(["device", "--runtime", "ort", "--threads", "1", "--format", "json", *CLI_SMALL]) == 0
    )
    assert json.loads(capsys.readouterr().out)["requested_threads"] == 1
    assert main([*profile_args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ceilings"] is None
    # measured with the default threads, as the profile runs: now it is used
    assert main(["device", "--runtime", "ort", "--format", "json", *CLI_SMALL]) == 0
    device = json.loads(capsys.readouterr().out)
    assert main([*profile_args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ceilings"] == {
        "peak_gflops_per_s": device["peak_gflops_per_s"],
        "bandwidth_gb_per_s": device["bandwidth_gb_per_s"],
    }


# -- the roofline in profile --------------------------------------------------------------------


def _bound_rows(report: ProfileReport) -> list[ProfileLayer]:
    return [row for row in report.layers if not row.folded_into and (row.flops or row.bytes_moved)]


def _check_roofline(report: ProfileReport, c: Ceilings) -> None:
    rows = _bound_rows(report)
    assert rows, "no costed layer to classify"
    for row in rows:
        assert row.bound in ("compute", "memory"), row.name
        expected = max(
            row.flops / (c.peak_gflops_per_s * 1e9), row.bytes_moved / (c.bandwidth_gb_per_s * 1e9)
        )
        assert row.attainable_us is not None
        assert row.attainable_us == pytest.approx(expected * 1e6, rel=1e-9), row.name
        intensity = row.flops / row.bytes_moved if row.bytes_moved else math.inf
        assert row.bound == ("compute" if intensity >= c.ridge_flop_per_byte else "memory")
        if row.time_us > 0 and row.attainable_us <= row.time_us:
            assert row.efficiency == pytest.approx(row.attainable_us / row.time_us)
        elif row.time_us > 0:  # faster than the ceilings allow: not shown as a fact
            assert row.efficiency is None
            assert any("ran faster than the device ceilings allow" in n for n in report.notes)
    for row in report.layers:  # layers with nothing to count get no verdict
        if row.folded_into or not (row.flops or row.bytes_moved):
            assert row.bound is None and row.attainable_us is None


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_profile_uses_the_cached_ceilings(runtime: str) -> None:
    cache.save(measured(runtime).ceilings, measured(runtime).to_dict())
    c = cache.load_cached(runtime, "f32", threads=2)  # measured with FAST's 2 threads
    assert c is not None
    report = profile(
        "seed-cnn", runtime=runtime, settings=RunSettings(iterations=5, threads=2), ceilings=c
    )
    assert report.ceilings == c
    _check_roofline(report, c)


def test_profile_command_picks_up_the_cache(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["profile", "seed-cnn", "--runtime", "ort", "--iterations", "5", "--format", "json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["ceilings"] is None  # nothing cached yet
    stored = Ceilings(100.0, 10.0, runtime="onnxruntime", precision="f32", threads=2)
    cache.save(stored, key=cache.CacheKey.of("onnxruntime"))  # measured with default threads
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ceilings"] == {"peak_gflops_per_s": 100.0, "bandwidth_gb_per_s": 10.0}
    verdicts = {layer["bound"] for layer in doc["layers"] if layer["bound"] is not None}
    assert verdicts and verdicts <= {"compute", "memory"}


# The ridge of Ceilings(100 GFLOP/s, 10 GB/s) is 10 FLOP/byte.
RIDGE_10 = Ceilings(peak_gflops_per_s=100.0, bandwidth_gb_per_s=10.0)


@pytest.fixture(scope="module")
def seed_prepared(tmp_path_factory: pytest.TempPathFactory) -> PreparedModel:
    return prepare("seed-cnn", None, tmp_path_factory.mktemp("seed"))


def _synthetic_join(
    prepared: PreparedModel, flops: int, moved: int, time_us: float, ceilings: Ceilings | None
) -> ProfileLayer:
    """seed-cnn's first layer given ``flops`` and ``moved`` bytes, its runtime layer
    ``time_us``, joined under ``ceilings``."""
    layer = prepared.count.layers[0]
    costed = replace(
        layer, macs=flops // 2, flops=flops, bytes_moved=moved, intensity=flops / moved
    )
    one = replace(prepared, count=replace(prepared.count, layers=(costed,)))
    measurement = Measurement(
        runtime="synthetic",
        runtime_version="0",
        device="CPU",
        precision="f32",
        threads=1,
        compile_ms=1.0,
        first_inference_ms=1.0,
        latency_us=(time_us,) * 3,
        profiled_latency_us=(time_us,) * 3,
        layers=(
            RuntimeLayer(
                runtime_name="kernel",
                layer_type=layer.op,
                exec_type="ref",
                precision="f32",
                times_us=(time_us,) * 3,
                sources=(layer.name,),
            ),
        ),
    )
    (row,) = [r for r in join(one, measurement, ceilings).layers if not r.folded_into]
    return row


def test_roofline_classification_by_hand(seed_prepared: PreparedModel) -> None:
    assert RIDGE_10.ridge_flop_per_byte == 10
    # intensity 20 > 10: compute-bound; the roofline time is flops / peak
    row = _synthetic_join(seed_prepared, flops=20_000, moved=1_000, time_us=1.0, ceilings=RIDGE_10)
    assert row.bound == "compute"
    assert row.attainable_us == pytest.approx(20_000 / 100e9 * 1e6)  # 0.2 us
    assert row.efficiency == pytest.approx(0.2)
    # intensity 2 < 10: memory-bound; the roofline time is bytes / bandwidth
    row = _synthetic_join(seed_prepared, flops=2_000, moved=1_000, time_us=0.5, ceilings=RIDGE_10)
    assert row.bound == "memory"
    assert row.attainable_us == pytest.approx(1_000 / 10e9 * 1e6)  # 0.1 us
    assert row.efficiency == pytest.approx(0.2)
    # exactly on the ridge both limits agree; it counts as compute-bound
    row = _synthetic_join(seed_prepared, flops=10_000, moved=1_000, time_us=0.1, ceilings=RIDGE_10)
    assert row.bound == "compute" and row.attainable_us == pytest.approx(0.1)
    assert row.efficiency == pytest.approx(1.0)
    # no ceilings: no verdict
    assert _synthetic_join(seed_prepared, 20_000, 1_000, 1.0, None).bound is None


def test_an_efficiency_above_100_percent_is_flagged_not_shown(
    seed_prepared: PreparedModel,
) -> None:
    # 20,000 FLOPs at a 100 GFLOP/s peak take at least 0.2 us: measured in 0.05 us, the peak
    # (not the layer) is wrong; it used to print 400 %
    row = _synthetic_join(seed_prepared, flops=20_000, moved=1_000, time_us=0.05, ceilings=RIDGE_10)
    assert (row.bound, row.efficiency) == ("compute", None)
    assert row.attainable_us == pytest.approx(0.2)
    layer = seed_prepared.count.layers[0]
    costed = replace(layer, macs=10_000, flops=20_000, bytes_moved=1_000, intensity=20.0)
    one = replace(seed_prepared, count=replace(seed_prepared.count, layers=(costed,)))
    measurement = Measurement(
        runtime="synthetic", runtime_version="0", device="CPU", precision="f32", threads=1,
        compile_ms=1.0, first_inference_ms=1.0, latency_us=(0.05,) * 3,
        profiled_latency_us=(0.05,) * 3,
        layers=(RuntimeLayer("kernel", layer.op, "ref", "f32", (0.05,) * 3, (layer.name,)),),
    )  # fmt: skip
    notes = join(one, measurement, RIDGE_10).notes
    assert any(
        note.startswith(
            f"1 layer(s) ran faster than the device ceilings allow (up to 400%, {layer.name})"
        )
        and "the peak was measured too low" in note
        for note in notes
    ), notes


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_one_measurement_joined_under_chosen_ceilings(
    runtime: str, seed_prepared: PreparedModel
) -> None:
    """The same seed-cnn timings, judged against several rooflines."""
    prepared = seed_prepared
    measurement = get_runtime(runtime).measure(
        prepared.onnx_path, make_inputs(prepared.graph), FAST
    )
    _check_roofline(join(prepared, measurement, RIDGE_10), RIDGE_10)
    # endless bandwidth: everything with FLOPs is compute-bound
    flat = Ceilings(peak_gflops_per_s=100.0, bandwidth_gb_per_s=1e12)
    report = join(prepared, measurement, flat)
    _check_roofline(report, flat)
    assert {r.bound for r in _bound_rows(report) if r.flops} == {"compute"}
    # endless compute: everything that moves bytes is memory-bound
    steep = Ceilings(peak_gflops_per_s=1e12, bandwidth_gb_per_s=10.0)
    report = join(prepared, measurement, steep)
    _check_roofline(report, steep)
    assert {r.bound for r in _bound_rows(report) if r.bytes_moved} == {"memory"}
    # a ridge between the layers' intensities splits them: both verdicts appear
    intensities = sorted(r.intensity for r in _bound_rows(report) if r.flops and r.bytes_moved)
    assert intensities[0] < intensities[-1]
    ridge = math.sqrt(intensities[0] * intensities[-1])
    split = Ceilings(peak_gflops_per_s=10.0 * ridge, bandwidth_gb_per_s=10.0)
    report = join(prepared, measurement, split)
    _check_roofline(report, split)
    assert {r.bound for r in _bound_rows(report)} == {"compute", "memory"}


def _timed(prepared: PreparedModel, latency: tuple[float, ...], layer_us: float) -> ProfileReport:
    layer = prepared.count.layers[0]
    one = replace(prepared, count=replace(prepared.count, layers=(layer,)))
    measurement = Measurement(
        runtime="synthetic", runtime_version="0", device="CPU", precision="f32", threads=1,
        compile_ms=1.0, first_inference_ms=1.0, latency_us=latency, profiled_latency_us=latency,
        layers=(RuntimeLayer("kernel", layer.op, "ref", "f32", (layer_us,) * 3, (layer.name,)),),
    )  # fmt: skip
    return join(one, measurement, None)


def test_a_disturbed_measurement_says_so_with_what_to_do(
    seed_prepared: PreparedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelprof.measure import profiling

    monkeypatch.setattr(profiling, "_load_per_core", lambda: 0.5)
    clean = _timed(seed_prepared, (100.0, 100.0, 100.0), 95.0)
    assert not any("per-layer times" in n or "spread" in n for n in clean.notes)
    # the layers add up to 56 us of a 100 us inference: coverage 56 %
    (note,) = [n for n in _timed(seed_prepared, (100.0,) * 3, 56.0).notes if "add up" in n]
    assert note.startswith("the per-layer times add up to 56% of the end-to-end time")
    # 50, 100, 150 us: IQR 125 - 75 = 50 us, 50 % of the median
    (note,) = [n for n in _timed(seed_prepared, (50.0, 100.0, 150.0), 95.0).notes if "IQR" in n]
    assert note.startswith("the latency spread (IQR 50% of the median) is above 10%")
    monkeypatch.setattr(profiling, "_load_per_core", lambda: 2.0)
    busy = _timed(seed_prepared, (100.0,) * 3, 95.0).notes
    assert "the machine was busy (load 2.0 per core over the last minute)" in " ".join(busy)


def test_the_convolution_probe_does_the_work_it_claims() -> None:
    import modelprof
    from modelprof.measure.device import conv_model

    # 8 -> 8 channels, 3x3, padding 1, on 28x28: 8 x 28 x 28 x 8 x 9 = 451,584 MACs each
    report = modelprof.count(conv_model(8, 2))
    assert [layer.macs for layer in report.layers] == [451_584, 451_584]
    assert report.total.flops == 2 * 2 * 451_584


def test_a_speed_up_beyond_the_mac_reduction_gets_a_caveat(seed_prepared: PreparedModel) -> None:
    from modelprof.measure.profiling import speedup_caveat

    before = _timed(seed_prepared, (100.0,) * 3, 95.0)
    # MACs halved: 100 us -> 50 us is what the arithmetic explains, 100 -> 40 (2.5x) is not
    assert speedup_caveat(before, _timed(seed_prepared, (50.0,) * 3, 48.0), 200, 100) is None
    assert speedup_caveat(before, _timed(seed_prepared, (40.0,) * 3, 38.0), 200, 100) == (
        "the measured speed-up (2.50x) is larger than the MAC reduction (2.00x): fewer MACs "
        "cannot explain it (a different memory layout, what fits in cache, or noise did); "
        "measure again before relying on it"
    )
