"""Pruning: real channel removal, honest sparsity, fine-tuning, and the saved models."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import modelprof
from modelprof.cli.main import main
from modelprof.rewrite.pruning import prune


@pytest.fixture(scope="module")
def seed_pruned(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    folder = tmp_path_factory.mktemp("pruned")
    path = folder / "seed_pruned.onnx"
    result = prune("seed-cnn", amount=0.5, finetune="digits", save=str(path))
    return result, path


def test_seed_cnn_half_pruned_keeps_accuracy_and_loses_macs(seed_pruned: tuple) -> None:
    result, _ = seed_pruned
    assert result.before.accuracy >= 0.94
    assert result.after.accuracy >= result.before.accuracy - 0.01
    assert result.before.count.total.macs == 194_010
    assert result.before.count.total.macs / result.after.count.total.macs >= 2.5
    # channels really went: params, weight bytes and the file all shrink
    assert result.after.count.total.params < result.before.count.total.params / 3
    assert result.after.file_bytes < result.before.file_bytes / 3
    assert result.accuracy_pruned is not None


def test_saved_onnx_predicts_like_the_pruned_pytorch_model(seed_pruned: tuple) -> None:
    import onnxruntime as ort
    import openvino as ov

    from modelprof.rewrite import training

    result, path = seed_pruned
    data = training.load_digits_split((1, 1, 28, 28))
    x = data.x_test
    with torch.no_grad():
        expected = result.model(x).argmax(dim=1).numpy()
    session = ort.InferenceSession(str(path))
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    ort_pred, ov_pred = [], []
    for row in x.numpy():
        sample = row[None].astype(np.float32)
        ort_pred.append(int(session.run(None, {"input": sample})[0].argmax()))
        ov_pred.append(int(compiled(sample)[0].argmax()))
    assert len(expected) == 360
    assert (np.array(ort_pred) == expected).all()
    assert (np.array(ov_pred) == expected).all()
    # and the saved file is what count says after pruning
    assert modelprof.count(path).total.macs == result.after.count.total.macs


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_cnn_zoo_models_prune_and_export(name: str, tmp_path: Path) -> None:
    out = tmp_path / f"{name}.onnx"
    result = prune(name, amount=0.5, save=str(out))
    onnx.checker.check_model(str(out))
    # the classifier (ignored by default) keeps its 1000 outputs
    assert result.after.count.layers[-1].output_shapes[-1][-1] == 1000
    ratio = result.before.count.total.macs / result.after.count.total.macs
    assert 2.5 < ratio < 4.5  # about 1 / (1 - p)^2 = 4 for interior convs
    assert modelprof.count(out).total.macs == result.after.count.total.macs


def test_transformer_head_pruning(tmp_path: Path) -> None:
    out = tmp_path / "tr.onnx"
    result = prune("transformer", amount=None, heads=0.25, save=str(out))
    assert result.heads == {"self_attn": (8, 6)}
    # 2 of 8 heads go: q, k, v and out projections each lose 128 x 512 x 128 MACs
    # (4 x 8,388,608), the attention products lose 2/8 of 16,777,216
    assert (
        result.before.count.total.macs - result.after.count.total.macs == 4 * 8_388_608 + 4_194_304
    )
    assert modelprof.count(out).total.macs == result.after.count.total.macs


def test_target_macs_lands_within_five_percent() -> None:
    result = prune("resnet18", amount=None, target_macs=0.25)
    kept = result.after.count.total.macs / result.before.count.total.macs
    assert abs(kept - 0.25) <= 0.05 * 0.25


def test_unstructured_zeroes_exactly_the_share_asked_and_says_why_not_faster(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["prune", "resnet18", "--unstructured", "--amount", "0.8", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    layers = doc["sparsity"]["layers"]
    total = sum(layer["numel"] for layer in layers)
    zeros = sum(layer["zeros"] for layer in layers)
    assert zeros == round(0.8 * total)  # global: exactly 80 % of all prunable weights
    assert doc["after"]["total"]["macs"] == doc["before"]["total"]["macs"]  # dense MACs
    # MACs if zeros were skipped: each layer's MACs times its weight density. Global
    # magnitude pruning of random (Kaiming-scaled) weights empties the deep, wide layers
    # first, so the effective MACs fall far less than 80 %
    density = {layer["name"]: 1 - layer["sparsity"] for layer in layers}
    expected = sum(
        round(layer["macs"] * density.get(layer["name"], 1.0)) for layer in doc["after"]["layers"]
    )
    assert doc["effective_macs"] == expected < doc["before"]["total"]["macs"]
    assert doc["after"]["nonzero_params"] == doc["before"]["nonzero_params"] - zeros
    assert any("dense runtimes multiply by every zero" in note for note in doc["notes"])
    assert any("AMX" in note for note in doc["notes"])


def test_unstructured_on_onnx_initializers(tmp_path: Path, export: Callable[..., Path]) -> None:
    from modelprof.frontends import zoo

    source = export(zoo.get("seed-cnn").build(), (1, 1, 28, 28), tmp_path / "s.onnx")
    out = tmp_path / "sparse.onnx"
    assert (
        main(["prune", str(source), "--unstructured", "--amount", "0.8", "--save", str(out), "-q"])
        == 0
    )
    weights = [
        onnx.numpy_helper.to_array(i)
        for i in onnx.load(str(out)).graph.initializer
        if len(i.dims) >= 2
    ]
    total = sum(w.size for w in weights)
    assert sum(int((w == 0).sum()) for w in weights) == round(0.8 * total)


def test_unstructured_onnx_figures_count_the_zeros_and_the_weights_file(
    tmp_path: Path, export: Callable[..., Path]
) -> None:
    from modelprof.frontends import zoo
    from modelprof.rewrite import prune

    exported = export(zoo.get("seed-cnn").build(), (1, 1, 28, 28), tmp_path / "tmp.onnx")
    source = tmp_path / "s.onnx"
    onnx.save(onnx.load(str(exported)), str(source), save_as_external_data=True,
              location="s.data", size_threshold=0)  # fmt: skip
    result = prune(str(source), amount=0.5, unstructured=True, per_layer=True)
    # the file is the graph and its weights: the size before left the .data file out
    size = source.stat().st_size + (tmp_path / "s.data").stat().st_size
    assert result.before.file_bytes == size
    # every weight exactly half zero (90, 450, 77,440 and 1,280 weights): MACs if the zeros
    # were skipped are half of 194,010 (it reported 1.000x: its layers were weight names)
    assert result.effective_macs == 194_010 // 2
    assert {s.name for s in result.sparsity} <= {layer.name for layer in result.after.count.layers}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["seed-cnn", "--amount", "1.5"], "--amount must be between 0 and 1"),
        (["seed-cnn", "--amount", "0"], "--amount must be between 0 and 1"),
        (["seed-cnn", "--ignore", "fc9"], "--ignore: no layer named 'fc9' (close matches: fc"),
        (["seed-cnn", "--importance", "taylor"], "Taylor importance needs data"),
        (["resnet18", "--finetune", "digits"], "the built-in digits data fits the seed"),
    ],
)
def test_bad_input(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prune", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_structured_pruning_of_an_onnx_file_is_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], export: Callable[..., Path]
) -> None:
    from modelprof.frontends import zoo

    source = export(zoo.get("seed-cnn").build(), (1, 1, 28, 28), tmp_path / "s.onnx")
    assert main(["prune", str(source), "--amount", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "structured pruning needs the PyTorch model" in err and "--unstructured" in err


def test_saved_pt_round_trip_needs_trust_pickle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pruned.pt"
    assert (
        main(["prune", "seed-cnn", "--amount", "0.5", "--save", str(out), "--format", "json"]) == 0
    )
    pruned_macs = json.loads(capsys.readouterr().out)["after"]["total"]["macs"]
    assert main(["separable", str(out), "--input-shape", "x=1x1x28x28"]) == 2
    assert "pass --trust-pickle if you trust it" in capsys.readouterr().err
    assert (
        main(
            [
                "separable",
                str(out),
                "--trust-pickle",
                "--input-shape",
                "x=1x1x28x28",
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["model_macs_before"] == pruned_macs


def test_profile_reports_latency_on_both_sides(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "prune",
                "seed-cnn",
                "--amount",
                "0.5",
                "--runtime",
                "onnxruntime",
                "--time",
                "0.05",
                "--rounds",
                "1",
                "--threads",
                "1",
                "--format",
                "json",
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    for side in ("before", "after"):
        assert doc[side]["latency_us"]["median"] > 0
        assert doc[side]["profile"]["runtime"] == "onnxruntime"
    assert doc["after"]["profile"]["count"]["total"]["macs"] == doc["after"]["total"]["macs"]
