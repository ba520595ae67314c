"""Convolutions of any rank.

The rules read the output shape the frontend inferred rather than recomputing it from pads,
strides, dilations and ``auto_pad``: shape inference already applied those, so the MAC count
cannot disagree with the shapes the report prints.
"""

from __future__ import annotations

from math import prod

from .registry import REGISTRY, Cost, OpCall, mac_cost


@REGISTRY.rule("Conv")
def conv(call: OpCall) -> Cost:
    """MACs = N x Cout x prod(output spatial) x (Cin / group) x prod(kernel); bias adds optional."""
    out = call.out_shape()
    weight = call.in_shape(1)  # (Cout, Cin/group, k1, k2, ...)
    macs = out[0] * out[1] * prod(out[2:]) * weight[1] * prod(weight[2:])
    bias = prod(out) if call.count_bias and call.has_input(2) else 0
    return mac_cost(macs, bias)


@REGISTRY.rule("ConvTranspose")
def conv_transpose(call: OpCall) -> Cost:
    """MACs = N x Cin x prod(input spatial) x (Cout / group) x prod(kernel); bias adds optional."""
    x = call.in_shape(0)
    weight = call.in_shape(1)  # (Cin, Cout/group, k1, k2, ...)
    macs = x[0] * x[1] * prod(x[2:]) * weight[1] * prod(weight[2:])
    bias = prod(call.out_shape()) if call.count_bias and call.has_input(2) else 0
    return mac_cost(macs, bias)
