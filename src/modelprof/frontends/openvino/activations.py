"""Activations that need more than a rename: ``Clamp`` -> ``Clip`` (bounds from attributes),
``PRelu`` -> ``PRelu`` or ``LeakyRelu``, ``Gelu`` (approximation mode), ``SoftMax``/``Softmax``/
``LogSoftmax`` (axis).

OpenVINO makes both ``LeakyRelu`` and ``PRelu`` a ``PRelu``: one whose single slope is an
anonymous constant (made from an ONNX ``alpha``) or a rank-0 scalar (PyTorch's
``negative_slope``) is ``LeakyRelu``, with no params; a slope in a named tensor of rank 1 or
more (``[1]``: a PReLU's shared slope) stays a ``PRelu`` and counts as one param, as on the
ONNX and PyTorch routes. Which one an op is, the builder's first pass decides (see
``Builder._learned_slope``), since that pass also decides whether the slope is a weight.
"""

from __future__ import annotations

from typing import Any

from .builder import Builder
from .common import Key
from .registry import REGISTRY


@REGISTRY.translation("Clamp")
def clamp(builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
    a = op.get_attributes()
    builder.emit(op, "Clip", ins[:1], outs, {"min": float(a["min"]), "max": float(a["max"])})


@REGISTRY.translation("PRelu")
def prelu(builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
    if op.get_name() in builder.literal_slopes:  # see Builder._learned_slope
        value = builder.value(ins[1])
        alpha = float(value.reshape(-1)[0]) if value is not None else 0.01
        builder.emit(op, "LeakyRelu", ins[:1], outs, {"alpha": alpha})
        return
    builder.emit(op, "PRelu", ins, outs)


@REGISTRY.translation("Gelu")
def gelu(builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
    mode = str(op.get_attributes().get("approximation_mode", "ERF")).lower()
    builder.emit(op, "Gelu", ins, outs, {"approximate": "tanh" if mode == "tanh" else "none"})


@REGISTRY.translation("SoftMax", "Softmax")
def softmax(builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
    builder.emit(op, "Softmax", ins, outs, {"axis": int(op.get_attributes().get("axis", 1))})


@REGISTRY.translation("LogSoftmax")
def log_softmax(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    builder.emit(op, "LogSoftmax", ins, outs, {"axis": int(op.get_attributes().get("axis", 1))})
