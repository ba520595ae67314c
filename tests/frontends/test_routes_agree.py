"""PyTorch and its ONNX export give one answer; where BatchNorm folds, the difference is exact."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import modelprof


@pytest.mark.parametrize("dynamo", [False, True])
def test_network_without_batchnorm_identical_on_both_routes(
    exported: Callable[..., Path], dynamo: bool
) -> None:
    torch_report = modelprof.count("seed-cnn")
    onnx_report = modelprof.count(exported("seed-cnn", dynamo=dynamo))
    assert onnx_report.total.macs == torch_report.total.macs == 194_010
    assert onnx_report.total.params == torch_report.total.params == 79_260
    assert onnx_report.total.flops == torch_report.total.flops == 394_780
    assert onnx_report.total.peak_activation_bytes == 33_800


@pytest.mark.parametrize("dynamo", [False, True])
def test_batchnorm_folding_differs_by_exactly_the_folded_channels(
    exported: Callable[..., Path], dynamo: bool
) -> None:
    torch_report = modelprof.count("resnet18")
    onnx_report = modelprof.count(exported("resnet18", dynamo=dynamo))
    assert onnx_report.total.macs == torch_report.total.macs == 1_814_073_344
    # 20 BatchNorms with 4,800 channels in all; the exporter folds each into a bias-less conv:
    # gamma and beta (2 x 4,800 params) become a conv bias (4,800): 4,800 fewer params
    bn_channels = sum(
        layer.output_shapes[0][1]
        for layer in torch_report.layers
        if layer.op == "BatchNormalization"
    )
    assert bn_channels == 4_800
    assert torch_report.total.params - onnx_report.total.params == bn_channels
    assert torch_report.total.buffers == 2 * bn_channels  # running mean and var
    assert onnx_report.total.buffers == 0
    assert any("4,800 fewer params" in note for note in torch_report.notes)


def test_onnx_export_keeps_module_scopes(exported: Callable[..., Path]) -> None:
    report = modelprof.count(exported("resnet18"))
    conv = next(layer for layer in report.layers if layer.scope == "layer1.0.conv1")
    assert conv.macs == 115_605_504
    by_scope = {g.key: g.macs for g in report.by_scope(1)}
    assert by_scope["layer1"] == 4 * 115_605_504


def test_mobilenet_v2_routes_agree_on_macs(exported: Callable[..., Path]) -> None:
    torch_report = modelprof.count("mobilenet_v2")
    onnx_report = modelprof.count(exported("mobilenet_v2"))
    assert onnx_report.total.macs == torch_report.total.macs
    bn_channels = torch_report.total.buffers // 2
    assert torch_report.total.params - onnx_report.total.params == bn_channels


def test_rebinding_an_exported_batch_scales_every_layer(exported: Callable[..., Path]) -> None:
    # the export declares batch 1 everywhere (outputs included); binding batch 4 must not
    # keep the stale (1, 10) output shape for the last layer
    report = modelprof.count(exported("seed-cnn"), {"input": (4, 1, 28, 28)})
    assert report.total.flops == 4 * 394_780
    assert report.layers[-1].output_shapes == ((4, 10),)
