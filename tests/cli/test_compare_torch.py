"""``compare MODEL --profile --runtime openvino,onnxruntime,torch,torch-compile``: one model on
every runtime, interleaved, each in its own process, with per-layer times matched by module
scope; and the torch runtimes in ``compare`` of several models. Real runtimes throughout.

seed-cnn's layers (DESIGN.md): conv1 121,680 FLOPs, pool 6,760, conv2 108,900, fc1 154,880,
fc2 2,560; 394,780 in all, on every route.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest
import torch

from modelprof.cli.main import main
from modelprof.frontends import zoo
from modelprof.measure.comparison import CompareReport, compare_runtimes
from modelprof.measure.runtimes import RunSettings
from modelprof.render.compare_view import compare_document, render_compare
from modelprof.render.console import render_text

SEED_FLOPS = {"conv1": 121_680, "pool": 6_760, "conv2": 108_900, "fc1": 154_880, "fc2": 2_560}
QUICK = ["--rounds", "2", "--iterations", "3", "--warmup", "1", "--threads", "1"]

FACTORY = """
from torch import nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.ReLU())
        self.head = nn.Linear(4, 2, bias=False)

    def forward(self, x):
        return self.head(self.stem(x).mean((2, 3)))


def build():
    return Tiny().eval()
"""


@pytest.fixture(scope="module")
def four() -> CompareReport:
    """seed-cnn on the four runtimes: 2 rounds x 4 runs each, then a per-layer pass of 4."""
    return compare_runtimes(
        "seed-cnn",
        runtimes=["openvino", "onnxruntime", "torch", "torch-compile"],
        settings=RunSettings(threads=1, warmup=1),
        rounds=2,
        iterations=4,
    )


@pytest.mark.slow  # four worker processes, one of them compiling with inductor
def test_one_model_on_four_runtimes_interleaved_each_in_its_own_process(
    four: CompareReport,
) -> None:
    doc = compare_document(four)
    assert doc["kind"] == "compare" and doc["by"] == "runtime"
    assert doc["profile"]["runtime"] is None  # each entry has its own
    entries = doc["models"]
    assert [m["model"] for m in entries] == ["openvino", "onnxruntime", "torch", "torch-compile"]
    assert [m["runtime"] for m in entries] == [m["model"] for m in entries]
    assert [m["runtime_version"] for m in entries][2:] == [torch.__version__] * 2
    assert {(m["precision"], m["threads"]) for m in entries} == {("f32", 1)}
    # the ONNX export (OpenVINO, ORT) and the module (torch) count the same
    assert [m["flops"] for m in entries] == [394_780] * 4
    # 2 rounds x 4 runs per runtime, A B C D A B C D, never two at once
    assert [m["samples"] for m in entries] == [8] * 4
    assert [b.model for b in four.schedule] == [0, 1, 2, 3] * 2
    for before, after in itertools.pairwise(four.schedule):
        assert before.end_s <= after.start_s
    pids = [m["pid"] for m in entries]
    assert len(set(pids)) == 4 and os.getpid() not in pids
    # the first runtime is the base of the ratios
    assert entries[0]["latency_ratio"] == 1.0
    for entry in entries:
        assert entry["per_layer"]["iterations"] == 4
        assert entry["per_layer"]["latency_us"]["median"] > 0


@pytest.mark.slow
def test_the_layers_of_every_runtime_are_matched_by_module_scope(four: CompareReport) -> None:
    scopes = {row.scope: row for row in four.scopes}
    assert {name: scopes[name].flops for name in SEED_FLOPS} == SEED_FLOPS
    for name in SEED_FLOPS:
        row = scopes[name]
        # each runtime timed the module, or says whose row its work ran in
        for time_us, into in zip(row.times_us, row.fused_into, strict=True):
            assert (time_us is not None and time_us >= 0) or into in scopes
    # the eager runtime times every module itself, with hooks
    assert all(scopes[name].times_us[2] for name in SEED_FLOPS)
    # per runtime, the scope rows hold exactly the time of its per-layer rows
    for index, entry in enumerate(four.models):
        assert entry.layers is not None
        rows_us = sum(layer.time_us for layer in entry.layers.layers)
        scoped_us = sum(row.times_us[index] or 0.0 for row in four.scopes)
        assert scoped_us == pytest.approx(rows_us)
    shown = render_text(render_compare(four), width=200)
    assert "per-layer time by runtime" in shown and "sum of rows" in shown
    conv1 = next(line for line in shown.splitlines() if "│ conv1 " in line)
    assert "121,680" in conv1


def test_a_factory_on_three_runtimes_shows_fused_layers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    factory = tmp_path / "tiny.py"
    factory.write_text(FACTORY)
    args = ["compare", f"{factory}:build", "--input-shape", "x=1x3x8x8", "--profile"]
    assert main([*args, "--runtime", "ov,ort,torch", *QUICK, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [m["model"] for m in doc["models"]] == ["openvino", "onnxruntime", "torch"]
    scopes = {row["scope"]: row for row in doc["scopes"]}
    # Conv 3->4 3x3 on 8x8 (6x6 out): 4 x 36 x 3 x 9 = 3,888 MACs, 7,776 FLOPs; the ReLU 144
    # (4 x 36 elements); mean over 2 x 3 of 4 x 6 x 6: 144; Linear 4 -> 2: 16 FLOPs
    assert scopes["stem.0"]["flops"] == 7_776 and scopes["stem.1"]["flops"] == 144
    assert scopes["(top level)"]["flops"] == 144 and scopes["head"]["flops"] == 16
    # both runtimes fuse the ReLU into the convolution; eager PyTorch runs it on its own
    relu = scopes["stem.1"]
    assert relu["fused_into"]["onnxruntime"] == "stem.0"
    assert relu["time_us"]["onnxruntime"] is None
    assert relu["time_us"]["torch"] is not None and relu["fused_into"]["torch"] is None
    # the Sequential's own row exists only where modules are timed
    assert scopes["stem"]["time_us"]["torch"] is not None
    assert scopes["stem"]["time_us"]["openvino"] is None


def test_a_trusted_pt_file_is_loaded_by_the_workers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "seed.pt"
    torch.save(zoo.get("seed-cnn").build(), path)
    before = path.read_bytes()
    args = ["compare", str(path), "--input-shape", "1x1x28x28", "--profile"]
    args += ["--runtime", "ort,torch", *QUICK, "--format", "json"]
    assert main(args) == 2  # no --trust-pickle: one line, before any work
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--trust-pickle" in err
    assert main([*args, "--trust-pickle"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(m["runtime"], m["flops"]) for m in doc["models"]] == [
        ("onnxruntime", 394_780),
        ("torch", 394_780),
    ]
    assert path.read_bytes() == before


def test_several_models_on_the_torch_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["compare", "seed-cnn", "seed-separable", "--profile", "--runtime", "torch", *QUICK]
    assert main([*args, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "by" not in doc and doc["profile"]["runtime"] == "torch"
    # seed-separable: 926,808 FLOPs (DESIGN.md)
    assert [(m["flops"], m["samples"]) for m in doc["models"]] == [(394_780, 6), (926_808, 6)]
    assert len({m["pid"] for m in doc["models"]}) == 2


def _bad(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1 and "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "--runtime", "openvino,tensorrt"], "unknown runtime 'tensorrt'"),
        (["--profile", "--runtime", "torch,ov,torch"], "runtime 'torch' is given twice"),
        (["seed-separable", "--profile", "--runtime", "ov,torch"], "several runtimes compare"),
        (["--runtime", "ov,torch"], "--runtime needs --profile"),
        (
            ["--profile", "--runtime", "ov,torch", "--precision", "f16"],
            "--runtime torch runs f32 and bf16 only; --precision f16",
        ),
        (
            ["--profile", "--runtime", "ov,torch", "--compile-mode", "max-autotune"],
            "--compile-mode needs --runtime torch-compile",
        ),
        (["--profile", "--runtime", "torch"], "at least two models"),
    ],
)
def test_bad_runtime_lists_exit_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in _bad(["compare", "seed-cnn", *args], capsys)


def test_a_model_file_on_a_torch_runtime_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"not read")
    line = _bad(["compare", str(path), "--profile", "--runtime", "torch,ort"], capsys)
    assert "torch runs PyTorch models only, not ONNX files" in line
    assert path.read_bytes() == b"not read"
