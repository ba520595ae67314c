"""``modelprof device`` and ``profile`` find the ceilings measured with the threads asked for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelprof.cli.main import main
from modelprof.measure import ceilings as cache

SMALL = ["--matmul-size", "64", "--stream-mib", "1", "--iterations", "3"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("MODELPROF_CACHE", str(folder))
    return folder


def test_cached_and_profile_use_the_measurement_made_with_their_threads(
    private_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = ["device", "--runtime", "ort", "--format", "json"]
    assert main([*device, "--threads", "1", *SMALL]) == 0
    measured = json.loads(capsys.readouterr().out)
    # the path shown is the file written, the one a 1-thread lookup reads
    assert Path(measured["cache_path"]) == cache.cache_path("onnxruntime", "f32", threads=1)
    assert [p.name for p in private_cache.iterdir()] == [Path(measured["cache_path"]).name]

    assert main([*device, "--threads", "1", "--cached"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["measured_at"] == measured["measured_at"] and shown["cached"] is True

    assert main([*device, "--cached"]) == 2  # nothing measured with the default threads
    err = capsys.readouterr().err
    assert err.startswith("modelprof: error: no ceilings cached for onnxruntime at f32 on")
    assert main([*device, "--threads", "2", "--cached"]) == 2
    err = capsys.readouterr().err
    assert "at f32 with 2 threads" in err and err.count("\n") == 1
    assert "'modelprof device --runtime onnxruntime --precision f32 --threads 2'" in err

    profile = ["profile", "seed-cnn", "--runtime", "ort", "--iterations", "3", "--format", "json"]
    assert main([*profile, "--threads", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["ceilings"] == {
        "peak_gflops_per_s": measured["peak_gflops_per_s"],
        "bandwidth_gb_per_s": measured["bandwidth_gb_per_s"],
    }
    assert main([*profile, "--threads", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["ceilings"] is None


@pytest.mark.parametrize("content", ["garbage{", "[1, 2]", '{"peak_gflops_per_s": NaN}', ""])
def test_a_cache_that_cannot_be_read_is_ignored_with_a_warning(
    private_cache: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    path = cache.cache_path("onnxruntime", "f32", threads=1)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    profile = ["profile", "seed-cnn", "--runtime", "ort", "--threads", "1", "--format", "json"]
    assert main([*profile, "--iterations", "3", "--warmup", "1"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["ceilings"] is None  # measured, just without a roofline
    assert captured.err == (
        f"modelprof: warning: ignoring the device ceilings cache {path}: it cannot be read "
        "(modelprof device --runtime onnxruntime measures them again)\n"
    )
    # and device measures them again over it
    assert main(["device", "--runtime", "ort", "--threads", "1", *SMALL, "-q"]) == 0
    assert cache.load_cached("onnxruntime", "f32", threads=1) is not None
