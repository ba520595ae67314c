"""torch.compile as a runtime: inductor's kernels, each tied to the modules whose nodes it fused,
joined with the count by module path. Real torch.compile on a tiny model (a few seconds cold,
about one from inductor's cache); timings are checked for structure and attribution, never for
ratios (a shared 2-core machine)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from modelprof.cli.main import main
from modelprof.errors import ModelprofError
from modelprof.measure.profiling import profile
from modelprof.measure.runtimes import RunSettings, get_runtime, runtime_reference
from modelprof.measure.runtimes.torch_compile import (
    OUTSIDE_KERNELS,
    UNATTRIBUTED,
    TorchCompileRuntime,
)

FAST = RunSettings(threads=1, warmup=2, iterations=5)


class Net(nn.Module):
    """Two 3x3 convolutions, one ReLU module called after each, a global mean, a linear."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3)
        self.r = nn.ReLU()
        self.c2 = nn.Conv2d(8, 8, 3)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> Any:
        x = self.r(self.c1(x))
        x = self.r(self.c2(x))
        return self.fc(x.mean((2, 3)))


def test_kernels_are_rows_joined_with_the_count_by_module() -> None:
    before = torch.get_num_threads()
    report = profile(Net().eval(), (1, 3, 16, 16), runtime="torch-compile", settings=FAST)
    assert (report.runtime, report.runtime_version) == ("torch-compile", torch.__version__)
    assert (report.device, report.precision, report.threads) == ("CPU", "f32", 1)
    assert torch.get_num_threads() == before
    assert report.latency_us.samples == 5 and report.profiled_latency_us.samples == 5
    assert report.compile_ms > 0 and any(
        "torch.compile(backend='inductor'" in n for n in report.notes
    )
    rows = {row.name: row for row in report.layers}
    timed = [row for row in report.layers if not row.folded_into]
    # c1: 16x16 -> 14x14, 8 x 14 x 14 outputs x 3 x 3 x 3 MACs = 42,336 MACs, 84,672 FLOPs;
    # c2: 14x14 -> 12x12, 8 x 12 x 12 x 8 x 3 x 3 = 82,944 MACs, 165,888 FLOPs. Each stays an
    # extern convolution call, which is its module's row
    for name, flops in (("c1", 84_672), ("c2", 165_888)):
        assert rows[name].flops == flops
        assert rows[name].runtime_name.startswith("extern_kernels.convolution")
        assert rows[name].exec_type == "extern aten::convolution"
    # the ReLU module, called twice (8 x 14 x 14 + 8 x 12 x 12 = 1,568 + 1,152 = 2,720 FLOPs),
    # the mean (the root's own code, 8 x 12 x 12 = 1,152 FLOPs) and the tiny linear (8 x 4 = 32
    # MACs, 64 FLOPs) run in inductor's C++ kernels: one fuses the second ReLU call, the mean
    # and the linear, so its row lists several modules' nodes. Which kernel holds the ReLU
    # module's row (one module path, both calls) is the longer-running one: not asserted
    relu = rows["r"]
    assert set(relu.fused_from) >= {"r", "r#2"} and relu.exec_type == "inductor C++ kernel"
    fused = next(row for row in timed if "fc" in row.fused_from)
    assert fused.runtime_name.startswith("cpp_fused") and "GlobalAveragePool" in fused.fused_from
    kernels = [row for row in timed if row.exec_type == "inductor C++ kernel"]
    assert sum(row.flops for row in kernels) == 2_720 + 1_152 + 64
    # every costed layer has a row or is folded into one; the row FLOPs are the count's total
    assert not [row.name for row in report.layers if row.folded_into == "(removed by the runtime)"]
    total = 84_672 + 165_888 + 2_720 + 1_152 + 64
    assert sum(row.flops for row in timed) == report.count.total.flops == total
    # every kernel was tied to a module; the compiled region's own time is a row of no module
    assert UNATTRIBUTED not in {row.runtime_name for row in timed}
    outside = rows[OUTSIDE_KERNELS]
    assert (outside.flops, outside.fused_from, outside.time_us > 0) == (0, (), True)
    assert all(row.time_us > 0 for row in timed)


def test_profiling_the_same_class_again_and_again_stays_compiled() -> None:
    # Dynamo caches compiled code per backend object and falls back to eager after 8
    # recompiles of one function: ten profiles in a row (a notebook loop) must all run the
    # compiled kernels, each still attributed
    backend = TorchCompileRuntime()
    inputs = {"x": np.ones((1, 3, 16, 16), np.float32)}
    once = RunSettings(threads=1, warmup=0, iterations=1)
    for _ in range(10):
        measurement = backend.measure_module(Net().eval(), inputs, once)
        kernels = {layer.runtime_name for layer in measurement.layers}
        assert any(name.startswith("extern_kernels.convolution") for name in kernels)
        assert UNATTRIBUTED not in kernels
    assert any("reused graphs compiled earlier" in note for note in measurement.notes)


def test_the_runtime_is_built_in_with_its_modes() -> None:
    backend = get_runtime("torch-compile")
    assert isinstance(backend, TorchCompileRuntime) and backend.mode == "default"
    assert runtime_reference(backend) == "torch-compile"
    assert TorchCompileRuntime("max-autotune").mode == "max-autotune"
    with pytest.raises(ModelprofError, match=r"unknown torch\.compile mode 'fast'"):
        TorchCompileRuntime("fast")


def test_model_files_other_precisions_and_devices_are_refused(tmp_path: Path) -> None:
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"")  # never read: refused by its kind
    with pytest.raises(ModelprofError, match="torch-compile runs PyTorch models only"):
        profile(onnx_file, runtime="torch-compile")
    with pytest.raises(ModelprofError, match="runs PyTorch models only"):
        get_runtime("torch-compile").measure(onnx_file, {}, FAST)
    with pytest.raises(ModelprofError, match="runs f32 and bf16 only; --precision f16"):
        profile("seed-cnn", runtime="torch-compile", settings=RunSettings(precision="f16"))
    with pytest.raises(ModelprofError, match="CPU only so far, not on 'CUDA'"):
        profile("seed-cnn", runtime="torch-compile", settings=RunSettings(device="CUDA"))


def test_the_command_line_profiles_on_torch_compile(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["seed-cnn", "--runtime", "torch-compile", "--iterations", "3", "--warmup", "1"]
    assert main(["profile", *args, "--threads", "1", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["kind"], document["runtime"], document["threads"]) == (
        "profile",
        "torch-compile",
        1,
    )
    # DESIGN.md's seed total: 121,680 + 6,760 + 108,900 + 154,880 + 2,560 = 394,780 FLOPs
    rows = [row for row in document["layers"] if not row.get("folded_into")]
    assert sum(row["flops"] for row in rows) == 394_780


def test_compile_mode_needs_the_torch_compile_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["profile", "seed-cnn", "--runtime", "torch", "--compile-mode", "max-autotune"]) == 2
    )
    err = capsys.readouterr().err
    assert "--compile-mode needs --runtime torch-compile" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_resnet18_every_kernel_is_attributed_and_every_costed_layer_has_a_row() -> None:
    settings = RunSettings(threads=1, warmup=1, iterations=3)
    report = profile("resnet18", runtime="torch-compile", settings=settings)
    timed = [row for row in report.layers if not row.folded_into]
    assert UNATTRIBUTED not in {row.runtime_name for row in timed}
    assert not [row.name for row in report.layers if row.folded_into == "(removed by the runtime)"]
    # zoo.py's published figure: resnet18 at 224x224 does 1.814 GMACs
    assert sum(row.flops for row in timed) == report.count.total.flops
    assert report.count.total.macs == pytest.approx(1.814e9, rel=1e-3)


def test_a_model_torch_compile_cannot_compile_is_one_line(tmp_path: Path) -> None:
    # no working C++ compiler (CXX=/bin/false) and an empty inductor cache: inductor fails,
    # which was an internal error (exit 3) with torch's advice about TORCHDYNAMO_VERBOSE
    import os
    import subprocess
    import sys

    env = {**os.environ, "CXX": "/bin/false", "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "ind")}
    argv = ["-m", "modelprof.cli.main", "profile", "seed-cnn", "--runtime", "torch-compile"]
    done = subprocess.run(
        [sys.executable, *argv, "--threads", "1", "--iterations", "2"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    lines = [x for x in done.stderr.splitlines() if not x.startswith("USDT:")]
    assert len(lines) == 1
    assert lines[0].startswith("modelprof: error: torch.compile could not compile SeedCNN: ")
    assert "No working C++ compiler" in lines[0]


def test_the_profiled_pass_is_capped_where_the_profiler_would_hold_every_run() -> None:
    """A time budget that fits 10,000 runs of a tiny module: the end-to-end pass runs them
    all, the per-kernel pass under torch.profiler at most PROFILED_RUNS_AT_MOST (2,000)."""
    from modelprof.measure.runtimes.torch_compile import PROFILED_RUNS_AT_MOST

    settings = RunSettings(threads=1, warmup=2, time_budget_s=30.0)
    report = profile(nn.Linear(4, 4).eval(), (1, 4), runtime="torch-compile", settings=settings)
    assert report.latency_us.samples == 10_000
    assert report.profiled_latency_us.samples == PROFILED_RUNS_AT_MOST == 2_000


class _Halve(nn.Module):
    """Used by no other test: Dynamo caches compiled graphs per code object for the whole
    process, so a module another test compiled first would not compile here at all."""

    def forward(self, x: torch.Tensor) -> Any:
        return x * 0.5 + 1.0


class _Square(nn.Module):
    """As _Halve, the second model of the pair."""

    def forward(self, x: torch.Tensor) -> Any:
        return x * x - 1.0


def test_interleaved_rounds_report_the_first_rounds_compile_time() -> None:
    """profile_interleaved keeps each model's median round; a later round reuses Dynamo's
    graphs (well under a millisecond), so the compile time shown is the first round's, a real
    compile: tracing and compiling even one fused kernel takes tens of milliseconds."""
    from modelprof.measure.profiling import profile_interleaved

    before, after = profile_interleaved(
        _Halve(),
        _Square(),
        runtime="torch-compile",
        settings=FAST,
        rounds=3,
        input_shapes=(1, 4),
    )
    assert before.compile_ms > 20 and after.compile_ms > 20
