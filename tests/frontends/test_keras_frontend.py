"""Keras 3 frontend (torch backend): the seed network under Keras layer names, .keras files,
channels-last layout, biases, BatchNorm buffers, and the missing-extra message."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is first imported
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - a Keras loaded elsewhere
    pytest.skip("keras was imported with another backend", allow_module_level=True)

import modelprof  # noqa: E402
from modelprof.cli.main import main  # noqa: E402
from modelprof.errors import MissingExtraError, ModelLoadError, ShapeError  # noqa: E402
from modelprof.frontends import keras as keras_frontend  # noqa: E402

layers = keras.layers
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SEED_FLOPS = {
    "conv2d": 121_680,
    "average_pooling2d": 6_760,
    "conv2d_1": 108_900,
    "dense": 154_880,
    "dense_1": 2_560,
}


def seed_keras(**names: str) -> Any:
    """The seed network in Keras, channels last; ``names`` renames layers."""

    def n(default: str) -> str:
        return names.get(default, default)

    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(10, 3, use_bias=False, name=n("conv2d")),
            layers.AveragePooling2D(2, name=n("average_pooling2d")),
            layers.Conv2D(5, 3, use_bias=False, name=n("conv2d_1")),
            layers.Flatten(name=n("flatten")),
            layers.Dense(128, use_bias=False, name=n("dense")),
            layers.Dense(10, use_bias=False, name=n("dense_1")),
        ],
        name="seed",
    )


def test_seed_network_matches_per_layer_flops_under_keras_names() -> None:
    report = modelprof.count(seed_keras())
    assert {layer.name: layer.flops for layer in report.layers} == SEED_FLOPS
    assert [layer.op for layer in report.layers] == [
        "Conv",
        "AveragePool",
        "Conv",
        "Gemm",
        "Gemm",
    ]
    assert report.total.flops == 394_780
    assert report.total.macs == 194_010
    assert (report.total.params, report.total.buffers) == (79_260, 0)
    assert report.source == "keras"
    assert report.unsupported == {} and report.node_coverage == 1.0
    # channels-last in, NCHW inside the convs: the layout copies are views, not layers
    assert report.inputs[0].shape == (1, 28, 28, 1)
    assert report.layer("conv2d").output_shapes == ((1, 10, 26, 26),)
    assert report.total.peak_activation_bytes == 33_800  # seed-cnn's figure (README)
    assert any("layout, not layers" in note for note in report.notes)


def test_user_layer_names_are_kept() -> None:
    model = seed_keras(conv2d="stem", dense="fc1", dense_1="logits")
    names = [layer.name for layer in modelprof.count(model).layers]
    assert names == ["stem", "average_pooling2d", "conv2d_1", "fc1", "logits"]


def test_keras_file_counts_like_the_model(tmp_path: Path) -> None:
    path = tmp_path / "seed.keras"
    seed_keras().save(path)
    report = modelprof.count(path)
    assert report.model == "seed.keras"
    assert {layer.name: layer.flops for layer in report.layers} == SEED_FLOPS
    assert report.total.params == 79_260


def test_cli_counts_a_keras_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "seed.keras"
    seed_keras().save(path)
    assert main(["count", str(path), "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert '"source": "keras"' in out and '"flops": 394780' in out


def test_biases_fold_into_their_layers_through_the_nhwc_permute() -> None:
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            layers.Conv2D(4, 3, name="conv"),
            layers.DepthwiseConv2D(3, name="dw"),
            layers.Flatten(),
            layers.Dense(6, activation="relu", name="fc"),
        ]
    )
    report = modelprof.count(model)
    conv = report.layer("conv")
    assert (conv.params, conv.macs) == (4 * 3 * 9 + 4, 4 * 6 * 6 * 3 * 9)
    assert "bias Add" in conv.note
    dw = report.layer("dw")
    assert (dw.params, dw.macs) == (4 * 9 + 4, 4 * 4 * 4 * 9)
    fc = report.layer("fc")
    assert (fc.params, fc.macs) == (64 * 6 + 6, 64 * 6)
    assert report.layer("fc/Relu").flops == 6
    assert report.total.params == model.count_params()
    assert report.total.flops == 2 * report.total.macs + 6  # bias adds not counted
    with_bias = modelprof.count(model, count_bias=True)
    assert with_bias.total.flops == report.total.flops + 4 * 6 * 6 + 4 * 4 * 4 + 6


def test_batchnorm_is_one_layer_with_moving_stats_as_buffers() -> None:
    model = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            layers.Conv2D(8, 3, use_bias=False, name="conv"),
            layers.BatchNormalization(name="bn"),
            layers.GlobalAveragePooling2D(name="gap"),
        ]
    )
    report = modelprof.count(model)
    bn = report.layer("bn")
    assert bn.op == "BatchNormalization"
    assert bn.params == 16  # gamma and beta
    assert bn.flops == 2 * 8 * 4 * 4
    assert (report.total.params, report.total.buffers) == (144 + 16, 16)
    assert report.total.params + report.total.buffers == model.count_params()
    assert report.unsupported == {}
    assert any("BatchNorm" in note for note in report.notes)


def test_frozen_layers_still_count_as_params() -> None:
    model = seed_keras()
    model.layers[0].trainable = False
    report = modelprof.count(model)
    assert (report.total.params, report.total.buffers) == (79_260, 0)


def test_nested_and_shared_layers() -> None:
    block = keras.Sequential(
        [layers.Conv2D(4, 3, name="c", use_bias=False), layers.ReLU(name="r")], name="block"
    )
    shared = layers.Dense(4, name="shared", use_bias=False)
    x = keras.Input((8, 8, 2))
    h = layers.Flatten()(block(x))
    a = shared(layers.Dense(4, use_bias=False, name="proj")(h))
    model = keras.Model(x, shared(a))
    report = modelprof.count(model)
    names = [layer.name for layer in report.layers]
    assert names == ["block.c", "block.r", "proj", "shared", "shared#2"]
    assert report.layer("block.c").scope == "block.c"
    assert report.layer("shared").params == 16 and report.layer("shared#2").params == 0
    assert report.total.params == model.count_params()


def test_multi_head_attention_keeps_sublayer_names() -> None:
    x = keras.Input((16, 32))
    y = layers.MultiHeadAttention(2, 16, name="mha")(x, x)
    report = modelprof.count(keras.Model(x, y))
    assert report.unsupported == {}
    for part in ("query", "key", "value", "attention_output"):
        assert report.layer(f"mha.{part}").macs == 16 * 32 * 32
    assert report.layer("mha/Attention").macs == 2 * 16 * 16 * (16 + 16)
    assert report.total.params == 4 * (32 * 32 + 32)


def test_input_shapes_named_batchless_and_required() -> None:
    report = modelprof.count(seed_keras(), [modelprof.shapes.InputSpec(None, (4, 28, 28, 1))])
    assert report.total.flops == 4 * 394_780
    report = modelprof.count(seed_keras(), [modelprof.shapes.InputSpec(None, (28, 28, 1))])
    assert report.inputs[0].shape == (1, 28, 28, 1)

    unbuilt = keras.Sequential([layers.Dense(3, name="head")])
    with pytest.raises(ShapeError, match="--input-shape"):
        modelprof.count(unbuilt)
    report = modelprof.count(unbuilt, [modelprof.shapes.InputSpec(None, (2, 5))])
    assert report.layer("head").macs == 2 * 5 * 3

    ids = keras.Input((10,), dtype="int32", name="ids")
    emb = keras.Model(ids, layers.Embedding(100, 8, name="emb")(ids))
    report = modelprof.count(emb)
    assert report.inputs[0].name == "ids" and report.inputs[0].dtype == "int32"
    assert report.layer("emb").params == 800


def test_model_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="expected axis -1 of input shape to have value 605"):
        modelprof.count(seed_keras(), [modelprof.shapes.InputSpec(None, (1, 32, 32, 1))])
    bad = tmp_path / "broken.keras"
    bad.write_text("not a zip")
    with pytest.raises(ModelLoadError, match="cannot read the Keras model") as info:
        modelprof.count(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(ModelLoadError, match="no such file"):
        modelprof.count(tmp_path / "missing.keras")


def test_missing_keras_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "keras", None)  # import keras -> ImportError
    with pytest.raises(MissingExtraError) as info:
        keras_frontend.import_keras()
    assert info.value.extra == "keras"
    path = tmp_path / "model.keras"
    path.write_bytes(b"PK")
    assert main(["count", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "pip install 'modelprof[keras]'" in err
