"""Pooling and the reductions that are pools: ``AvgPool``/``MaxPool`` ->
``AveragePool``/``MaxPool`` (``kernel_shape``, ``pads``...); ``AdaptiveAvgPool``/
``AdaptiveMaxPool`` to 1x1 -> ``GlobalAveragePool``/``GlobalMaxPool``; ``ReduceMean``/
``ReduceMax`` over every spatial axis with ``keep_dims`` -> ``GlobalAveragePool``/
``GlobalMaxPool``, which is what an ONNX global pool becomes in OpenVINO.
"""

from __future__ import annotations

from math import ceil
from typing import Any

from .builder import Builder
from .common import AUTO_PAD, Key, ints
from .registry import REGISTRY


def _pool_attrs(op: Any) -> dict[str, Any]:
    a = op.get_attributes()
    attrs: dict[str, Any] = {
        "auto_pad": AUTO_PAD.get(str(a.get("auto_pad", "explicit")).lower(), "NOTSET"),
        "ceil_mode": int(str(a.get("rounding_type", "floor")).lower() == "ceil"),
        "kernel_shape": ints(a.get("kernel", [])),
        "pads": ints(a.get("pads_begin", [])) + ints(a.get("pads_end", [])),
        "strides": ints(a.get("strides", [])),
    }
    return attrs


@REGISTRY.translation("AvgPool")
def avg_pool(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    attrs = _pool_attrs(op)
    attrs["count_include_pad"] = int(not op.get_attributes().get("exclude-pad", False))
    builder.emit(op, "AveragePool", ins, outs, attrs)


@REGISTRY.translation("MaxPool")
def max_pool(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    attrs = _pool_attrs(op)
    attrs["dilations"] = ints(op.get_attributes().get("dilations", [1] * len(attrs["strides"])))
    attrs["storage_order"] = 0
    builder.emit(op, "MaxPool", ins, outs, attrs)


def _adaptive(builder: Builder, op: Any, ins: list[str], outs: list[str], onnx_op: str) -> None:
    x, y = builder.shape(ins[0]), builder.shape(outs[0])
    if x is not None and y is not None and all(d == 1 for d in y[2:]):
        builder.emit(op, f"Global{onnx_op}", ins[:1], outs)
        return
    kernel = [ceil(i / o) for i, o in zip(x[2:], y[2:], strict=True)] if x and y else []
    attrs = {"kernel_shape": kernel, "adaptive": 1}
    builder.emit(op, onnx_op, ins[:1], outs, attrs)


@REGISTRY.translation("AdaptiveAvgPool")
def adaptive_avg_pool(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    _adaptive(builder, op, ins, outs, "AveragePool")


@REGISTRY.translation("AdaptiveMaxPool")
def adaptive_max_pool(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    _adaptive(builder, op, ins, outs, "MaxPool")


def _reduce(
    builder: Builder, op: Any, ins: list[str], outs: list[str], onnx_op: str, pool: str
) -> None:
    keep = bool(op.get_attributes().get("keep_dims", False))
    axes_value = builder.value(ins[1]) if len(ins) > 1 else None
    shape = builder.shape(ins[0])
    axes: list[int] | None = None
    if axes_value is not None and shape is not None:
        axes = sorted(int(a) % len(shape) for a in axes_value.reshape(-1)) if shape else []
    attrs: dict[str, Any] = {"keepdims": int(keep), "noop_with_empty_axes": 0}
    if axes is not None:
        attrs["axes"] = axes
        if keep and shape is not None and len(shape) >= 3 and axes == list(range(2, len(shape))):
            builder.emit(op, pool, ins[:1], outs)
            return
    builder.emit(op, onnx_op, ins, outs, attrs)


@REGISTRY.translation("ReduceMean")
def reduce_mean(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    _reduce(builder, op, ins, outs, "ReduceMean", "GlobalAveragePool")


@REGISTRY.translation("ReduceMax")
def reduce_max(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    _reduce(builder, op, ins, outs, "ReduceMax", "GlobalMaxPool")
