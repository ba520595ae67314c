"""Normalisation: ``MVN`` -> ``LayerNormalization`` or ``InstanceNormalization``,
``NormalizeL2`` -> ``LpNormalization``, ``BatchNormInference`` -> ``BatchNormalization``,
``GroupNormalization``.

``MVN`` (with variance) becomes ``LayerNormalization`` (``InstanceNormalization`` over the
spatial axes of a 4-D or larger input) without scale and bias: OpenVINO keeps LayerNorm's gamma
and beta as a separate ``Multiply`` and ``Add``, which cost 1 FLOP per element each, so the
total is ONNX's 5 + 1 + 1. An MVN without variance has no ONNX counterpart and keeps its name.
"""

from __future__ import annotations

from typing import Any

from .builder import Builder
from .common import Key, bn_order, plain_attrs
from .registry import REGISTRY


@REGISTRY.translation("MVN")
def mvn(builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
    a = op.get_attributes()
    if not a.get("normalize_variance", True):
        builder.emit(op, "MVN", ins, outs, plain_attrs(op))
        return
    shape = builder.shape(ins[0])
    rank = len(shape) if shape is not None else 0
    if len(ins) > 1:
        value = builder.value(ins[1])
        axes = (
            sorted(int(x) % rank for x in value.reshape(-1)) if value is not None and rank else []
        )
    else:  # MVN-2: across_channels
        axes = list(range(1 if a.get("across_channels") else 2, rank))
    eps = float(a.get("eps", 1e-5))
    if rank >= 4 and axes == list(range(2, rank)):  # rank 3 reads as a LayerNorm
        builder.emit(op, "InstanceNormalization", ins[:1], outs, {"epsilon": eps})
    else:
        axis = axes[0] if axes else -1
        builder.emit(op, "LayerNormalization", ins[:1], outs, {"axis": axis, "epsilon": eps})


@REGISTRY.translation("NormalizeL2")
def normalize_l2(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    value = builder.value(ins[1]) if len(ins) > 1 else None
    axis = int(value.reshape(-1)[0]) if value is not None and value.size == 1 else -1
    builder.emit(op, "LpNormalization", ins[:1], outs, {"axis": axis, "p": 2})


@REGISTRY.translation("BatchNormInference")
def batch_norm_inference(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    order = bn_order(op)
    eps = float(op.get_attributes().get("epsilon", 1e-5))
    attrs = {"epsilon": eps, "momentum": 0.9, "training_mode": 0}
    builder.emit(op, "BatchNormalization", [ins[i] for i in order], outs, attrs)


@REGISTRY.translation("GroupNormalization")
def group_normalization(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    a = op.get_attributes()
    attrs = {
        "num_groups": int(a.get("num_groups", 1)),
        "epsilon": float(a.get("epsilon", 1e-5)),
    }
    builder.emit(op, "GroupNormalization", ins, outs, attrs)
