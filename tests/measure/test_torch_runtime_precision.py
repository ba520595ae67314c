"""``--precision bf16`` on the torch runtimes: the module (a copy: the caller's stays f32) and
its floating-point inputs are cast to bfloat16, and the precision is reported with the
measurement and on every row. This CPU has avx512_bf16 (RUNTIME-NOTES.md), so bf16 runs here;
f16 is refused on the torch runtimes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from modelprof.cli.main import main
from modelprof.errors import ModelprofError
from modelprof.frontends import zoo
from modelprof.measure.profiling import profile
from modelprof.measure.runtimes import ModuleRuntime, RunSettings, get_runtime
from modelprof.measure.runtimes.torch_eager import bf16_supported

BF16 = RunSettings(precision="bf16", iterations=3, warmup=1, threads=1)

pytestmark = pytest.mark.skipif(not bf16_supported(), reason="this CPU runs no bf16")


def _module_runtime(name: str) -> ModuleRuntime:
    backend = get_runtime(name)
    assert isinstance(backend, ModuleRuntime)
    return backend


def test_bf16_on_eager_is_set_reported_and_leaves_the_module_alone() -> None:
    module = zoo.get("seed-cnn").build()
    report = profile(module, (1, 1, 28, 28), runtime="torch", settings=BF16)
    assert (report.runtime, report.precision, report.threads) == ("torch", "bf16", 1)
    measured = [row for row in report.layers if not row.folded_into]
    assert measured and {row.precision for row in measured} == {"bf16"}
    # the count is the f32 model's: 121,680 + 6,760 + 108,900 + 154,880 + 2,560
    assert sum(row.flops for row in report.layers) == 394_780
    assert any("ran in bf16" in note for note in report.notes)
    assert {p.dtype for p in module.parameters()} == {torch.float32}


# a cold inductor compile of the two precisions takes about 14 s here, about 4 s once cached
@pytest.mark.parametrize("name", ["torch", pytest.param("torch-compile", marks=pytest.mark.slow)])
def test_the_bound_module_computes_in_bf16(name: str) -> None:
    module = nn.Sequential(nn.Linear(8, 4), nn.ReLU()).eval()
    inputs = {"x": np.ones((2, 8), dtype=np.float32)}
    run, info = _module_runtime(name).bound_module(module, inputs, BF16)
    out = run()
    assert isinstance(out, torch.Tensor) and out.dtype == torch.bfloat16
    assert (info["precision"], info["threads"], info["runtime"]) == ("bf16", 1, name)
    # and f32 stays f32
    run, info = _module_runtime(name).bound_module(module, inputs, RunSettings(threads=1))
    out = run()
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert info["precision"] == "f32"


def test_integer_inputs_stay_integers_in_bf16() -> None:
    module = nn.Embedding(10, 4).eval()
    run, _ = _module_runtime("torch").bound_module(
        module, {"ids": np.arange(3, dtype=np.int64)}, BF16
    )
    out = run()  # an embedding indexed by bf16 values would fail
    assert isinstance(out, torch.Tensor) and out.dtype == torch.bfloat16


def test_the_command_line_reports_bf16(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["profile", "seed-cnn", "--runtime", "torch", "--precision", "bf16"]
    args += ["--iterations", "3", "--warmup", "1", "--threads", "1", "--format", "json"]
    assert main(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["runtime"], document["precision"], document["threads"]) == ("torch", "bf16", 1)
    assert {row["precision"] for row in document["layers"] if row["time_us"] > 0} == {"bf16"}


def test_f16_is_refused_by_the_runtime_and_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = nn.Linear(2, 2)
    with pytest.raises(ModelprofError, match="runs f32 and bf16 only; --precision f16"):
        _module_runtime("torch").bound_module(
            module, {"x": np.ones((1, 2), np.float32)}, RunSettings(precision="f16")
        )
    assert main(["profile", "seed-cnn", "--runtime", "torch-compile", "--precision", "f16"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--runtime torch-compile runs f32 and bf16 only" in err
