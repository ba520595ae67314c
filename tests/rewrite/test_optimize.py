"""`optimize`: separable, prune and int8 chained on the seed network, every step measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelprof.errors import ModelprofError
from modelprof.render.console import render_text
from modelprof.render.optimize_view import optimize_document, render_optimize
from modelprof.rewrite.optimize import OptimizeResult, optimize


@pytest.fixture(scope="module")
def chained(tmp_path_factory: pytest.TempPathFactory) -> tuple[OptimizeResult, Path]:
    from modelprof.measure.runtimes import RunSettings

    folder = tmp_path_factory.mktemp("optimize")
    result = optimize(
        "seed-cnn",
        prune=0.5,
        int8=True,
        finetune="digits",
        subset=50,
        save_dir=str(folder),
        measure="openvino",
        settings=RunSettings(warmup=2),
        rounds=2,
        iterations=10,
    )
    return result, folder


def test_every_step_is_measured_and_the_final_model_keeps_its_accuracy(
    chained: tuple[OptimizeResult, Path],
) -> None:
    result, _ = chained
    assert [s.name for s in result.steps] == ["original", "prune 0.5", "int8"]
    original, pruned, int8 = result.steps
    assert original.count.total.macs == 194_010  # DESIGN.md
    assert original.accuracy is not None and original.accuracy >= 0.94
    assert int8.accuracy is not None and int8.accuracy >= original.accuracy - 0.02
    # 2 rounds x 10 runs per model, interleaved
    assert all(s.latency_us is not None and s.latency_us.samples == 20 for s in result.steps)
    # int8 keeps the pruned model's MACs and params; its weights take a byte each plus one
    # f32 scale per output channel
    assert int8.count.total.macs == pruned.count.total.macs
    assert int8.count.total.params == pruned.count.total.params
    assert int8.count.total.weight_bytes < pruned.count.total.weight_bytes / 3
    # halving the channels of the convs and fc1 leaves well under half the MACs
    assert pruned.count.total.macs < original.count.total.macs / 2.5


def test_the_table_has_one_row_per_step_and_every_model_is_saved(
    chained: tuple[OptimizeResult, Path],
) -> None:
    result, folder = chained
    text = render_text(render_optimize(result))
    for step in result.steps:
        (line,) = [ln for ln in text.splitlines() if ln.startswith("│ " + step.name + " ")]
        assert "us (IQR" in line and "%" in line
    assert sorted(p.name for p in folder.iterdir()) == [
        "seed-cnn-0-original.onnx",
        "seed-cnn-1-prune.onnx",
        "seed-cnn-2-int8.bin",
        "seed-cnn-2-int8.xml",
    ]
    doc = optimize_document(result)
    assert doc["kind"] == "optimize" and [s["step"] for s in doc["steps"]] == [
        "original",
        "prune 0.5",
        "int8",
    ]


def test_nothing_to_chain_or_a_model_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelprofError, match="nothing to do"):
        optimize("seed-cnn")
    with pytest.raises(ModelprofError, match="optimize works on PyTorch models"):
        optimize(str(tmp_path / "model.onnx"), int8=True)
    with pytest.raises(ModelprofError, match="--prune must be between 0 and 1"):
        optimize("seed-cnn", prune=1.5)
