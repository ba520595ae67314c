"""Data movement that needs more than a rename: ``Concat`` carries its ``axis`` only, as an int,
not every OpenVINO attribute; ``Interpolate`` -> ``Resize``, with the mode in ONNX's words and
only the data input (its sizes, scales and axes inputs are values, never params).

The other data-movement ops (``Reshape``, ``Transpose``, ``ShapeOf`` -> ``Shape``,
``StridedSlice`` -> ``Slice``, ``Broadcast`` -> ``Expand``...) are straight renames in the
builder's table: they keep or get the zero-cost ONNX name.
"""

from __future__ import annotations

from typing import Any

from .builder import Builder
from .common import Key
from .registry import REGISTRY


@REGISTRY.translation("Interpolate")
def interpolate(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    mode = str(op.get_attributes().get("mode", "nearest")).lower()
    onnx_mode = "nearest" if mode == "nearest" else "cubic" if "cubic" in mode else "linear"
    builder.emit(op, "Resize", ins[:1], outs, {"mode": onnx_mode})


@REGISTRY.translation("Concat")
def concat(builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
    builder.emit(op, "Concat", ins, outs, {"axis": int(op.get_attributes().get("axis", 0))})
