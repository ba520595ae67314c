"""The depthwise-separable what-if and rewrite, against hand-worked figures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import modelprof
from modelprof.analysis import analyze
from modelprof.api import load_graph
from modelprof.cli.main import main
from modelprof.rewrite.separable_rewrite import separable
from modelprof.rewrite.transforms.separable import svd_factors, whatif


def test_seed_cnn_reproduces_the_course_notes_layers() -> None:
    layers = {layer.name: layer for layer in separable("seed-cnn").report.layers}
    # conv1 on 28x28 -> 26x26: depthwise 1 x 676 x 9 = 6,084 MACs = 12,168 FLOPs;
    # pointwise 10 x 676 x 1 = 6,760 MACs = 13,520 FLOPs
    assert 2 * layers["conv1"].depthwise_macs == 12_168
    assert 2 * layers["conv1"].pointwise_macs == 13_520
    # conv2 on the pooled 13x13 map -> 11x11: depthwise 10 x 121 x 9 = 10,890 MACs;
    # pointwise 5 x 121 x 10 = 6,050 MACs
    assert 2 * layers["conv2"].depthwise_macs == 21_780
    assert 2 * layers["conv2"].pointwise_macs == 12_100
    # saving = 1 / (1/N + 1/K^2): 1 / (1/10 + 1/9) = 90/19
    assert layers["conv1"].saving == pytest.approx(90 / 19)


def test_seed_separable_count_shows_the_notes_second_layer() -> None:
    report = modelprof.count("seed-separable")
    assert report.layer("dw2").flops == 103_680  # 2 x 10 x 24 x 24 x 9 (24x24, not 26x26)
    assert report.layer("pw2").flops == 57_600  # 2 x 5 x 576 x 10
    assert report.layer("dw2").output_shapes == ((1, 10, 24, 24),)


def test_formula_saving_equals_measured_saving_for_every_resnet18_conv() -> None:
    graph = load_graph("resnet18")
    for multiplier in (1, 2, 4):
        report = whatif(graph, analyze(graph), multiplier=multiplier)
        assert len(report.layers) == 17  # every 3x3 and the 7x7 stem; 1x1 downsamples are not
        for layer in report.layers:
            assert layer.saving == layer.formula_saving, layer.name


def test_multiplier_that_saves_nothing_is_shown_as_no_saving() -> None:
    # seed-separable's dw1 is a 1->1 3x3 conv (group 1): one output channel makes
    # m (1/N + 1/K^2) = 1 + 1/9 > 1, so its saving is 9/10 -- shown, but not replaced;
    # dw2 (group 10) and the 1x1 pointwise convs are not eligible at all
    graph = load_graph("seed-separable")
    report = whatif(graph, analyze(graph))
    assert [layer.name for layer in report.layers] == ["dw1"]
    assert report.layers[0].saving == pytest.approx(0.9) and not report.layers[0].saves
    assert report.replaced == ()
    graph = load_graph("seed-cnn")
    report = whatif(graph, analyze(graph), multiplier=9)
    assert all(not layer.saves for layer in report.layers)
    assert report.replaced == () and report.model_macs_after == report.model_macs_before


def test_svd_factors_reproduce_a_rank_one_kernel_exactly() -> None:
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal((6, 1)), rng.standard_normal((1, 9))
    weight = np.stack([(u @ v).reshape(6, 3, 3)] * 2, axis=1)  # (6, 2, 3, 3), rank 1 per slice
    dw, pw, error = svd_factors(weight, 1)
    assert dw.shape == (2, 1, 3, 3) and pw.shape == (6, 2, 1, 1)
    assert error < 1e-12
    rebuilt = np.einsum("oc,ckl->ockl", pw[:, :, 0, 0], dw[:, 0])
    np.testing.assert_allclose(rebuilt, weight, atol=1e-12)


def test_full_rank_rewrite_is_exact_on_onnx_runtime(
    exported: Callable[..., Path], tmp_path: Path
) -> None:
    import onnxruntime as ort

    source = exported("resnet18")
    out = tmp_path / "exact.onnx"
    # m = 9 >= min(N, K^2) = 9: exact (and more MACs than the original)
    assert (
        main(
            [
                "separable",
                str(source),
                "-m",
                "9",
                "--layers",
                "/layer1/layer1.0/conv1/Conv,/layer3/layer3.0/conv2/Conv",
                "--save",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
    y0 = ort.InferenceSession(str(source)).run(None, {"input": x})[0]
    y1 = ort.InferenceSession(str(out)).run(None, {"input": x})[0]
    assert np.linalg.norm(y1 - y0) / np.linalg.norm(y0) < 1e-4
    counted = modelprof.count(out)
    ops = [layer.name for layer in counted.layers if layer.name.endswith("wise")]
    assert "/layer1/layer1.0/conv1/Conv/depthwise" in ops


def test_rank_one_rewrite_counts_what_the_whatif_promised(tmp_path: Path) -> None:
    out = tmp_path / "r18.onnx"
    result = separable("resnet18", save=str(out))
    assert result.report.saved == str(out)
    after = modelprof.count(out)
    assert after.total.macs == result.report.model_macs_after == result.rewritten_macs
    # the PyTorch route keeps module paths: conv1 became conv1.depthwise + conv1.pointwise
    assert result.report.output_error is not None and result.report.output_error > 0.1
    assert any("random weights" in note for note in result.report.notes)


def test_separable_cli_json_and_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["separable", "seed-cnn", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "separable" and doc["multiplier"] == 1
    assert doc["total"] == {
        "macs": 115_290,
        "separable_macs": 29_784,
        "params": 540,
        "separable_params": 159,
    }
    assert doc["model_macs_before"] == 194_010 and doc["model_macs_after"] == 108_504
    assert main(["separable", "seed-cnn", "--layers", "conv3"]) == 2
    assert (
        "'conv3' does not exist in seed-cnn (close matches: conv2, conv1)"
        in capsys.readouterr().err
    )
    assert main(["separable", "seed-separable"]) == 0
    assert "no layer would save MACs" in capsys.readouterr().err
    assert main(["separable", "transformer"]) == 0
    assert "has no eligible convolution" in capsys.readouterr().err
    existing = tmp_path / "m.onnx"
    existing.write_text("keep me")
    assert main(["separable", "seed-cnn", "--save", str(existing)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert existing.read_text() == "keep me"
    assert main(["separable", "seed-cnn", "--save", str(tmp_path / "m.txt")]) == 2
    assert "use a .onnx, .xml or .pt" in capsys.readouterr().err


def test_pooling_whatif_seed_networks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pooling", "seed-separable", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (fc1,) = doc["layers"]
    # fc1 sees 5 x 24 x 24 = 2,880 inputs; a 2x2 pool leaves 5 x 12 x 12 = 720
    assert (fc1["features"], fc1["out_features"], fc1["params"]) == (2_880, 128, 368_640)
    two, glob = fc1["options"]
    assert (two["features"], two["params"], two["macs_saved"]) == (720, 92_160, 276_480)
    assert (glob["features"], glob["params"]) == (5, 640)
    assert main(["pooling", "seed-cnn", "--format", "json"]) == 0
    (fc1,) = json.loads(capsys.readouterr().out)["layers"]
    # 5 x 11 x 11 = 605 inputs; 2x2 pool -> 5 x 5 x 5 = 125 inputs -> 16,000 params
    assert fc1["options"][0]["params"] == 16_000


def test_profile_measures_both_models_per_replaced_layer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (
        main(
            [
                "separable",
                "seed-cnn",
                "--runtime",
                "onnxruntime",
                "--time",
                "0.05",
                "--rounds",
                "2",
                "--threads",
                "1",
                "--format",
                "json",
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["before"]["kind"] == doc["after"]["kind"] == "profile"
    assert doc["after"]["count"]["total"]["macs"] == doc["model_macs_after"] == 108_504
    timings = {t["name"]: t for t in doc["layer_timings"]}
    assert set(timings) == {"conv1", "conv2"}
    # the MAC ratio is the what-if's: conv1 60,840 / (6,084 + 6,760)
    assert timings["conv1"]["mac_ratio"] == pytest.approx(60_840 / 12_844)
    assert timings["conv1"]["time_after_us"] >= timings["conv1"]["depthwise_time_us"] > 0


def test_rank_one_rewrite_of_an_onnx_file_points_to_the_pytorch_route(tmp_path: Path) -> None:
    """An ONNX file cannot be fine-tuned here: its note says where accuracy can be measured
    instead of suggesting --finetune on it."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((16, 8, 3, 3)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], name="conv")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 16, 16])],
        [weight],
    )
    source = tmp_path / "conv.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), source)
    result = separable(str(source), save=str(tmp_path / "sep.onnx"))
    # 16 x 8 x 9 = 1,152 MACs per pixel become 8 x 9 + 8 x 16 = 200 at rank 1
    assert result.report.model_macs_after * 1152 == modelprof.count(source).total.macs * 200
    assert any("needs the PyTorch model" in note for note in result.report.notes)
    assert not any(note.endswith("trained model (--finetune)") for note in result.report.notes)


def test_pools_that_do_not_fit_the_map_are_left_out_with_a_note() -> None:
    from modelprof.analysis import analyze
    from modelprof.api import load_graph
    from modelprof.rewrite.transforms.pooling import pooling_whatif

    # resnet18's fc sees a 512x1x1 map: a 2x2 pool does not fit it, a global one changes
    # nothing (it used to offer '0 inputs after, 512,000x saved')
    graph = load_graph("resnet18")
    (fc,) = pooling_whatif(graph, analyze(graph))
    assert fc.options == ()
    assert fc.omitted == (
        "no 2x2 pool: the map is 1x1, smaller than the pool",
        "no global pool: the map is 1x1, already one position",
    )


def test_a_map_one_position_high_gets_only_the_global_pool() -> None:
    from torch import nn

    from modelprof.analysis import analyze
    from modelprof.api import load_graph
    from modelprof.rewrite.transforms.pooling import pooling_whatif

    # a 4x1x3 map flattened into a 12 -> 2 dense layer: 2x2 does not fit (height 1); global
    # leaves 4 inputs: 4 x 2 = 8 MACs, for 12 adds of pooling
    module = nn.Sequential(nn.Flatten(), nn.Linear(12, 2, bias=False))
    graph = load_graph(module, {"input": (1, 4, 1, 3)})
    (dense,) = pooling_whatif(graph, analyze(graph))
    assert [(o.kind, o.features, o.macs, o.pool_flops) for o in dense.options] == [
        ("global", 4, 8, 12)
    ]
    assert dense.omitted == ("no 2x2 pool: the map is 1x3, smaller than the pool",)
