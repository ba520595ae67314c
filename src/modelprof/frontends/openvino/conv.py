"""Convolutions: ``Convolution`` and ``GroupConvolution`` -> ``Conv``, their ``*BackpropData``
forms -> ``ConvTranspose``.

OpenVINO stores a grouped weight as ``(G, Cout/G, Cin/G, k...)`` (transposed:
``(G, Cin/G, Cout/G, k...)``); ONNX's Conv rule reads ``(Cout, Cin/G, k...)``, so the weight is
presented in ONNX's layout through a weight-only ``Reshape`` the analysis folds, and the stored
weight keeps its own shape. ``ConvolutionBackpropData``'s ``(Cin, Cout, k...)`` already is
ONNX's layout; its ``output_shape`` input is dropped, since input 2 of ConvTranspose is a bias.
"""

from __future__ import annotations

import re
from typing import Any

from ...graph import TensorInfo
from .builder import Builder
from .common import AUTO_PAD, Key, ints
from .registry import REGISTRY

#: OpenVINO's converter names a convolution it folded a BatchNorm into ``Multiply_<n>``.
_FOLDED_CONV = re.compile(r"^Multiply_\d+$")


def _conv_attrs(op: Any, weight: tuple[int, ...] | None, group: int) -> dict[str, Any]:
    a = op.get_attributes()
    attrs: dict[str, Any] = {
        "auto_pad": AUTO_PAD.get(str(a.get("auto_pad", "explicit")).lower(), "NOTSET"),
        "dilations": ints(a.get("dilations", [])),
        "group": group,
        "pads": ints(a.get("pads_begin", [])) + ints(a.get("pads_end", [])),
        "strides": ints(a.get("strides", [])),
    }
    if weight is not None:
        attrs["kernel_shape"] = list(weight[2:])
    if "output_padding" in a:
        attrs["output_padding"] = ints(a["output_padding"])
    return attrs


def _grouped_weight(builder: Builder, op: Any, weight: str, transposed: bool) -> tuple[str, int]:
    """Reshape OpenVINO's grouped weight to ONNX's layout with a weight-only Reshape."""
    shape = builder.shape(weight)
    if shape is None or len(shape) < 3:
        return weight, 1
    groups = shape[0]
    onnx_shape = (groups * shape[1], *shape[2:])
    out = f"{op.get_friendly_name()}/weight:0"
    while out in builder.taken:
        out += "'"
    builder.taken.add(out)
    info = builder.tensors[weight]
    builder.tensors[out] = TensorInfo(out, onnx_shape, info.dtype)
    label = (
        "(G, Cin/G, Cout/G, k...) -> (Cin, Cout/G, k...)"
        if transposed
        else ("(G, Cout/G, Cin/G, k...) -> (Cout, Cin/G, k...)")
    )
    builder.emit(
        op,
        "Reshape",
        [weight],
        [out],
        {"openvino_layout": label},
        name=f"{op.get_friendly_name()}/weight_reshape",
    )
    return out, groups


def _conv(
    builder: Builder, op: Any, ins: list[str], outs: list[str], weight: str, group: int
) -> None:
    index = builder.emit(
        op, "Conv", [ins[0], weight], outs, _conv_attrs(op, builder.shape(weight), group)
    )
    if _FOLDED_CONV.match(op.get_friendly_name()):
        builder.folded_convs.append(index)


@REGISTRY.translation("Convolution")
def convolution(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    _conv(builder, op, ins, outs, ins[1], 1)


@REGISTRY.translation("GroupConvolution")
def group_convolution(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    weight, groups = _grouped_weight(builder, op, ins[1], transposed=False)
    _conv(builder, op, ins, outs, weight, groups)


@REGISTRY.translation("ConvolutionBackpropData")
def convolution_backprop_data(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    attrs = _conv_attrs(op, builder.shape(ins[1]), 1)
    builder.emit(op, "ConvTranspose", ins[:2], outs, attrs)


@REGISTRY.translation("GroupConvolutionBackpropData")
def group_convolution_backprop_data(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    weight, groups = _grouped_weight(builder, op, ins[1], transposed=True)
    attrs = _conv_attrs(op, builder.shape(weight), groups)
    builder.emit(op, "ConvTranspose", [ins[0], weight], outs, attrs)
