"""The torch runtime on a CUDA GPU: end-to-end latency between CUDA events, per-module times
from hooks that synchronise before reading the clock. Runs only where torch sees a GPU (none
on the CPU-only build machines); nothing else depends on it."""

from __future__ import annotations

import pytest
import torch

from modelprof.measure.profiling import profile
from modelprof.measure.runtimes import RunSettings

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_seed_cnn_on_cuda_is_timed_per_module() -> None:
    module = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU()).eval()
    settings = RunSettings(device="CUDA", iterations=20, warmup=3)
    report = profile(module, (8, 64), runtime="torch", settings=settings)
    assert report.device.startswith("cuda")
    assert report.latency_us.samples == 20 and report.latency_us.min > 0
    # Linear 64 -> 32 on 8 rows: 8 x 64 x 32 = 16,384 MACs, 32,768 FLOPs; ReLU 256
    rows = {row.name: row for row in report.layers}
    assert rows["0"].flops == 32_768 and rows["1"].flops == 256
    assert rows["0"].time_us > 0
    # the module given stays on the CPU: the runtime moved a copy
    assert {p.device.type for p in module.parameters()} == {"cpu"}
