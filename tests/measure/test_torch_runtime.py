"""PyTorch eager as a runtime: the module itself runs, timed per module by forward hooks, and
its rows join the count on the PyTorch route by module scope. Real torch runs, on tiny models;
timings are checked for structure and attribution, never for ratios (a shared 2-core machine)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from modelprof.errors import ModelprofError
from modelprof.measure.profiling import profile
from modelprof.measure.runtimes import RunSettings, get_runtime, runtime_reference
from modelprof.measure.runtimes.torch_eager import ROOT_ROW, TorchEagerRuntime

FAST = RunSettings(threads=1, warmup=2, iterations=6)


class Scale(nn.Module):
    """A leaf module of two ops: ``x * 2 + 1`` (two count rows, one module)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 + 1


class Block(nn.Module):
    """Linear 8->8, ReLU called twice (one module, two calls) around the block's own add."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8, bias=False)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> Any:
        return self.act(self.act(self.fc(x)) + x)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = Block()
        self.scale = Scale()
        self.head = nn.Linear(8, 4, bias=False)

    def forward(self, x: torch.Tensor) -> Any:
        return self.head(self.scale(self.block(x)))


def test_seed_cnn_rows_are_its_modules_with_the_published_flops() -> None:
    report = profile("seed-cnn", runtime="torch", settings=FAST)
    assert (report.runtime, report.runtime_version) == ("torch", torch.__version__)
    assert (report.device, report.precision, report.threads) == ("CPU", "f32", 1)
    assert report.iterations == 6 and report.latency_us.samples == 6
    assert report.profiled_latency_us.samples == 6
    timed = {row.name: row for row in report.layers if not row.folded_into}
    # DESIGN.md's seed figures, each row one module named as `modelprof count` names it
    flops = {name: row.flops for name, row in timed.items()}
    assert flops == {
        ROOT_ROW: 0,  # the forward's own code (x.flatten is the nn.Flatten row below)
        "conv1": 121_680,
        "pool": 6_760,
        "conv2": 108_900,
        "flatten": 0,
        "fc1": 154_880,
        "fc2": 2_560,
    }
    assert sum(flops.values()) == report.count.total.flops == 394_780
    assert [timed[n].op for n in ("conv1", "pool", "fc1")] == ["Conv", "AveragePool", "Gemm"]
    assert timed["flatten"].op == "Flatten" and not timed["flatten"].inserted
    assert all(row.time_us > 0 for row in timed.values())
    # GFLOP/s is FLOPs over the measured time: 121,680 FLOPs / t us / 1e3
    conv1 = timed["conv1"]
    assert conv1.gflops_per_s == pytest.approx(121_680 / conv1.time_us / 1e3)
    assert report.time_coverage == pytest.approx(
        sum(row.time_us for row in timed.values()) / report.latency_us.median
    )


def test_a_module_called_twice_a_blocks_own_add_and_a_two_op_leaf_join_by_scope() -> None:
    net = Net().eval()
    report = profile(net, (1, 8), runtime="torch", settings=FAST)
    rows = {row.name: row for row in report.layers}
    # block.fc: 8x8 MACs = 64, 128 FLOPs; head: 8x4 = 32 MACs, 64 FLOPs; every elementwise op
    # on 8 elements is 8 FLOPs: two ReLU calls, the block's Add, Scale's Mul and Add
    assert rows["block.fc"].flops == 128 and rows["head"].flops == 64
    # the two calls of block.act are one module: one row, both count rows in it
    act = rows["block.act"]
    assert act.flops == 16 and set(act.fused_from) == {"block.act", "block.act#2"}
    assert rows["block.act#2"].folded_into == "block.act"
    # the add in Block.forward is the container's own time
    add = rows["block/Add"]
    assert (add.flops, add.runtime_name, add.exec_type) == (8, "block", "eager (own ops)")
    # Scale runs two ops, which the count names scale/Mul and scale/Add: one row for both
    scale = next(row for row in report.layers if row.runtime_name == "scale")
    assert scale.flops == 16 and set(scale.fused_from) == {"scale/Mul", "scale/Add"}
    timed = [row for row in report.layers if not row.folded_into]
    assert sum(row.flops for row in timed) == report.count.total.flops == 128 + 16 + 8 + 16 + 64
    assert {row.runtime_name for row in timed} == {
        ROOT_ROW,
        "block",
        "block.fc",
        "block.act",
        "scale",
        "head",
    }
    # nothing is left attached to the user's module
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())


class Sleeper(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(0.002)
        return x


class Outer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Sequential(Sleeper(), nn.ReLU())

    def forward(self, x: torch.Tensor) -> Any:
        return self.inner(x) * 3


def test_a_submodules_time_is_its_own_not_its_containers() -> None:
    report = profile(Outer().eval(), (1, 4), runtime="torch", settings=FAST)
    by_module = {row.runtime_name: row for row in report.layers if not row.folded_into}
    # time.sleep(0.002) never returns sooner: the sleeping module's median is at least 2 ms
    assert by_module["inner.0"].time_us >= 2000
    # the Sequential around it and the top level (its Mul) are charged their own time only
    assert by_module["inner"].time_us < by_module["inner.0"].time_us
    assert by_module[ROOT_ROW].time_us < by_module["inner.0"].time_us
    assert by_module[ROOT_ROW].name == "Mul" and by_module[ROOT_ROW].flops == 4


def test_threads_are_set_reported_and_restored() -> None:
    before = torch.get_num_threads()
    report = profile("seed-cnn", runtime="torch", settings=FAST)
    assert report.threads == 1
    assert torch.get_num_threads() == before


def test_a_module_in_training_mode_is_timed_as_it_is_and_said() -> None:
    report = profile(Net().train(), (1, 8), runtime="torch", settings=FAST)
    assert any("training mode" in note for note in report.notes)


def test_the_runtime_is_built_in_and_named_torch() -> None:
    backend = get_runtime("torch")
    assert isinstance(backend, TorchEagerRuntime)
    assert runtime_reference(backend) == "torch"
    assert backend.version() == torch.__version__


def test_model_files_are_refused_with_what_to_do(tmp_path: Path) -> None:
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"")  # never read: refused by its kind
    with pytest.raises(ModelprofError, match="torch runs PyTorch models only, not ONNX files"):
        profile(onnx_file, runtime="torch")
    with pytest.raises(ModelprofError, match="not OpenVINO IR files"):
        profile(str(tmp_path / "m.xml"), runtime="torch")
    # the file-runtime methods say the same, whoever calls them
    for call in (
        lambda: get_runtime("torch").measure(onnx_file, {}, FAST),
        lambda: get_runtime("torch").bound_infer(onnx_file, {}, FAST),
        lambda: get_runtime("torch").measure_throughput(onnx_file, {}, FAST),
    ):
        with pytest.raises(ModelprofError, match="runs PyTorch models only"):
            call()


def test_other_precisions_and_devices_are_refused() -> None:
    with pytest.raises(ModelprofError, match="runs f32 and bf16 only; --precision f16"):
        profile("seed-cnn", runtime="torch", settings=RunSettings(precision="f16"))
    with pytest.raises(ModelprofError, match="runs on the CPU or a CUDA GPU, not on 'TPU'"):
        profile("seed-cnn", runtime="torch", settings=RunSettings(device="TPU"))
    if not torch.cuda.is_available():  # the CUDA path (torch_eager.cuda_timed_runs) needs one
        with pytest.raises(ModelprofError, match="found no CUDA device here"):
            profile("seed-cnn", runtime="torch", settings=RunSettings(device="CUDA"))


def test_missing_torch_names_the_pip_extra() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from modelprof.measure.runtimes import get_runtime\n"
        "from modelprof.errors import MissingExtraError\n"
        "backend = get_runtime('torch')\n"  # built without importing torch
        "try:\n    backend.version()\nexcept MissingExtraError as exc:\n    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert "pip install 'modelprof[torch]'" in done.stdout
