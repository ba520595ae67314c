"""Pooling: windowed pools cost one op per window element, global pools one per input element."""

from __future__ import annotations

from math import prod

from .registry import REGISTRY, Cost, OpCall, flop_cost


@REGISTRY.rule("AveragePool", "MaxPool", "LpPool")
def window_pool(call: OpCall) -> Cost:
    """FLOPs = output elements x kernel area (one add or compare per window element)."""
    return flop_cost(call.out_numel() * prod(call.attrs["kernel_shape"]))


@REGISTRY.rule("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def global_pool(call: OpCall) -> Cost:
    """FLOPs = input elements (one add or compare per element read)."""
    return flop_cost(call.in_numel())
