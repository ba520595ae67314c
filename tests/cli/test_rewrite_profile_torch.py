"""``separable --profile`` and ``prune --profile`` on the runtimes that run the PyTorch module
itself (``torch``, ``torch-compile``): both sides are the modules, measured interleaved, their
rows named by module path, so the rewritten layers (``conv1.depthwise``) and the pruned ones
are seen as the count names them. A model that is no PyTorch model is one line, exit 2.

The seed network's layers (DESIGN.md), on its 1x28x28 input: conv1 1->10 3x3 -> 10x26x26,
a 2x2 pool -> 10x13x13, conv2 10->5 3x3 -> 5x11x11, fc1 605->128, fc2 128->10.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from modelprof.cli.main import main
from modelprof.errors import ModelprofError
from modelprof.frontends import zoo
from modelprof.measure.runtimes import RunSettings
from modelprof.rewrite.pruning import prune
from modelprof.rewrite.separable_rewrite import separable

#: the shortest measurement the options allow: 0.01 s a pass, one round, one thread
QUICK = ["--time", "0.01", "--rounds", "1", "--threads", "1", "--format", "json"]

#: conv1: 10 x 26 x 26 outputs x 9 = 60,840; conv2: 5 x 11 x 11 x (10 x 9) = 54,450;
#: fc1: 605 x 128 = 77,440; fc2: 128 x 10 = 1,280; the pool costs no MAC
SEED_MACS = {"conv1": 60_840, "conv2": 54_450, "fc1": 77_440, "fc2": 1_280}
#: depthwise + pointwise at m = 1: conv1 dw 1 x 9 x 676 = 6,084, pw 1 x 10 x 676 = 6,760;
#: conv2 dw 10 x 9 x 121 = 10,890, pw 10 x 5 x 121 = 6,050
SEPARABLE_MACS = {
    "conv1.depthwise": 6_084,
    "conv1.pointwise": 6_760,
    "conv2.depthwise": 10_890,
    "conv2.pointwise": 6_050,
    "fc1": 77_440,
    "fc2": 1_280,
}


#: how far a time written to JSON (to 0.001 us) can be from the figure it was rounded from
ROUNDING = 5e-4 + 1e-9


def _json(capsys: pytest.CaptureFixture[str], args: list[str]) -> dict[str, Any]:
    assert main(args) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def _macs(profile: dict[str, Any]) -> dict[str, int]:
    """The profile's rows that do arithmetic, by name, with their MACs."""
    return {row["name"]: row["macs"] for row in profile["layers"] if row["macs"]}


def _measured(profile: dict[str, Any], runtime: str) -> None:
    assert (profile["runtime"], profile["runtime_version"]) == (runtime, torch.__version__)
    assert profile["threads"] == 1
    latency = profile["latency_us"]
    assert latency["median"] > 0 and latency["iqr"] >= 0
    # RunSettings.min_iterations: at least 20 timed runs, whatever the time budget
    assert profile["iterations"] >= 20


@pytest.mark.parametrize("runtime", ["torch", "torch-compile"])
def test_separable_measures_the_modules_before_and_after(
    runtime: str, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _json(capsys, ["separable", "seed-cnn", "--profile", "--runtime", runtime, *QUICK])
    before, after = doc["before"], doc["after"]
    for side in (before, after):
        _measured(side, runtime)
    assert (before["model"], after["model"]) == ("seed-cnn", "seed-cnn (rewritten)")
    # rows by module path: the original convolutions before, their two halves after
    assert _macs(before) == SEED_MACS
    assert _macs(after) == SEPARABLE_MACS
    # 194,010 - (60,840 + 54,450) + (6,084 + 6,760 + 10,890 + 6,050) = 108,504
    assert before["count"]["total"]["macs"] == doc["model_macs_before"] == 194_010
    assert after["count"]["total"]["macs"] == doc["model_macs_after"] == 108_504
    rows = {row["name"]: row for row in after["layers"]}
    timings = {t["name"]: t for t in doc["layer_timings"]}
    assert set(timings) == {"conv1", "conv2"}
    for name, dw_macs, pw_macs in (("conv1", 6_084, 6_760), ("conv2", 10_890, 6_050)):
        timing = timings[name]
        depthwise = rows[f"{name}.depthwise"]["time_us"]
        pointwise = rows[f"{name}.pointwise"]["time_us"]
        # eager: the nn.Sequential at the layer's path has a row of its own time (its call
        # of the two halves), part of the time after but of neither half's rate
        container = rows[name]["time_us"] if runtime == "torch" else 0.0
        # the rows' times are written to 0.001 us, the timings' are not: three roundings
        assert timing["depthwise_time_us"] == pytest.approx(depthwise, abs=ROUNDING)
        after_us = depthwise + pointwise + container
        assert timing["time_after_us"] == pytest.approx(after_us, abs=3 * ROUNDING)
        assert timing["time_before_us"] == pytest.approx(
            next(r["time_us"] for r in before["layers"] if r["name"] == name), abs=ROUNDING
        )
        # 2 FLOPs a MAC; us -> GFLOP/s: FLOPs / us / 1e3
        assert timing["depthwise_gflops_per_s"] == pytest.approx(
            2 * dw_macs / depthwise / 1e3, rel=1e-3
        )
        assert timing["pointwise_gflops_per_s"] == pytest.approx(
            2 * pw_macs / pointwise / 1e3, rel=1e-3
        )
    if runtime == "torch":
        assert rows["conv1"]["op"] == "SeparableConv" and rows["conv1"]["macs"] == 0
        assert rows["conv1"]["time_us"] > 0


@pytest.mark.parametrize("runtime", ["torch", "torch-compile"])
def test_prune_measures_the_modules_before_and_after(
    runtime: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["prune", "seed-cnn", "--amount", "0.5", "--profile", "--runtime", runtime, *QUICK]
    doc = _json(capsys, args)
    before, after = doc["before"], doc["after"]
    for side, label in ((before, "seed-cnn"), (after, "seed-cnn (pruned)")):
        profile = side["profile"]
        _measured(profile, runtime)
        assert profile["model"] == label
        # the side's latency is its profile's
        median = profile["latency_us"]["median"]
        assert side["latency_us"]["median"] == pytest.approx(median, abs=ROUNDING)
        # the measured module is the one counted: every row's MACs are the count's
        counted = {layer["name"]: layer["macs"] for layer in side["layers"] if layer["macs"]}
        assert _macs(profile) == counted
        assert sum(_macs(profile).values()) == side["total"]["macs"]
    assert _macs(before["profile"]) == SEED_MACS
    # half of conv1's 10 output channels go: 5 x 26 x 26 x 9 = 30,420 MACs
    assert _macs(after["profile"])["conv1"] == 30_420
    assert after["total"]["macs"] < before["total"]["macs"] == 194_010


def test_the_users_module_is_measured_as_it_is_and_left_unchanged() -> None:
    model = zoo.get("seed-cnn").build().eval()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    settings = RunSettings(time_budget_s=0.01, warmup=1, threads=1)
    result = separable(model, (1, 1, 28, 28), measure="torch", settings=settings, rounds=1)
    assert result.before is not None and result.after is not None
    assert (result.before.model, result.after.model) == ("SeedCNN", "SeedCNN (rewritten)")
    pruned = prune(model, (1, 1, 28, 28), amount=0.5, measure="torch", settings=settings, rounds=1)
    assert pruned.after.profile is not None
    assert pruned.after.profile.count.total.macs == pruned.after.count.total.macs
    # the rewrite and the pruning work on copies; the timing hooks are removed
    assert isinstance(model.conv1, torch.nn.Conv2d) and model.conv1.out_channels == 10
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def _onnx_file(tmp_path: Path) -> Path:
    from modelprof.frontends.export import export_onnx

    module = zoo.get("seed-cnn").build().eval()
    return export_onnx(module, {"x": ((1, 1, 28, 28), "float32")}, tmp_path / "seed.onnx")


@pytest.mark.parametrize(
    ("command", "runtime"),
    [
        (["separable"], "torch"),
        (["prune", "--unstructured"], "torch-compile"),
        (["prune"], "torch"),
    ],
)
def test_an_onnx_file_on_a_torch_runtime_is_one_line_exit_2(
    command: list[str], runtime: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _onnx_file(tmp_path)
    kept = path.read_bytes()
    assert main([*command[:1], str(path), *command[1:], "--runtime", runtime]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1 and "Traceback" not in captured.err
    assert f"--runtime {runtime} measures PyTorch models" in lines[0]
    assert "seed.onnx is an ONNX file" in lines[0]
    assert path.read_bytes() == kept


def test_the_api_refuses_an_onnx_file_on_a_torch_runtime_before_rewriting(
    tmp_path: Path,
) -> None:
    path = _onnx_file(tmp_path)
    for job in (
        lambda: separable(str(path), measure="torch"),
        lambda: prune(str(path), unstructured=True, measure="torch"),
    ):
        with pytest.raises(ModelprofError, match="measures PyTorch models"):
            job()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed.onnx"]


@pytest.mark.parametrize("order", [["--runtime", "torch", "--profile"], ["--profile"]])
def test_profile_typed_after_runtime_keeps_the_runtime(
    order: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # --profile alone is OpenVINO; after --runtime torch it used to replace torch with it
    doc = _json(capsys, ["separable", "seed-cnn", *order, *QUICK])
    expected = "torch" if "torch" in order else "openvino"
    assert doc["before"]["runtime"] == doc["after"]["runtime"] == expected
