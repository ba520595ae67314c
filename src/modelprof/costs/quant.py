"""Quantised ops: integer products, (de)quantisation, and OpenVINO's FakeQuantize.

Integer multiply-accumulates (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger, QGemm)
are reported as ``int_macs``, apart from the float ``macs``/``flops``: an int8 MAC is neither a
float MAC nor two FLOPs, and a quantised model's FLOPs must not silently include it. What is
float (or float-like) work around the integer product is counted as FLOPs, per element:

* requantisation of an integer accumulator to an 8-bit output (QLinearConv, QLinearMatMul,
  QGemm with ``y_scale``): 4 per output element (multiply by the combined scale, round, add the
  zero point, saturate);
* QuantizeLinear: 4 per element (divide by the scale, round, add the zero point, saturate);
* DequantizeLinear: 2 per element (subtract the zero point, multiply by the scale);
* DynamicQuantizeLinear: 6 per element (a min and a max over the input, then quantise);
* FakeQuantize (OpenVINO): 4 per output element (clamp, scale, round, rescale).

Zero-point corrections inside the integer product and integer bias adds are part of the
integer accumulation and are not counted separately. ConvInteger and MatMulInteger return
the int32 accumulator: no requantisation, so no FLOPs.
"""

from __future__ import annotations

from math import prod

from .registry import REGISTRY, Cost, OpCall, flop_cost, int_mac_cost

REQUANTIZE_FLOPS_PER_ELEMENT = 4
QUANTIZE_FLOPS_PER_ELEMENT = 4
DEQUANTIZE_FLOPS_PER_ELEMENT = 2
DYNAMIC_QUANTIZE_FLOPS_PER_ELEMENT = 6
FAKE_QUANTIZE_FLOPS_PER_ELEMENT = 4


def _conv_macs(call: OpCall, weight_index: int) -> int:
    out = call.out_shape()
    weight = call.in_shape(weight_index)  # (Cout, Cin/group, k1, k2, ...)
    return out[0] * out[1] * prod(out[2:]) * weight[1] * prod(weight[2:])


@REGISTRY.rule("QLinearConv")
def qlinear_conv(call: OpCall) -> Cost:
    """int MACs = N x Cout x prod(output spatial) x (Cin / group) x prod(kernel); FLOPs = 4 per
    output element (requantisation)."""
    return int_mac_cost(_conv_macs(call, 3), REQUANTIZE_FLOPS_PER_ELEMENT * call.out_numel())


@REGISTRY.rule("ConvInteger")
def conv_integer(call: OpCall) -> Cost:
    """int MACs = N x Cout x prod(output spatial) x (Cin / group) x prod(kernel); no FLOPs
    (the output is the int32 accumulator)."""
    return int_mac_cost(_conv_macs(call, 1))


@REGISTRY.rule("QLinearMatMul")
def qlinear_matmul(call: OpCall) -> Cost:
    """int MACs = output elements x K (K the last dim of A); FLOPs = 4 per output element
    (requantisation)."""
    n = call.out_numel()
    return int_mac_cost(n * call.in_shape(0)[-1], REQUANTIZE_FLOPS_PER_ELEMENT * n)


@REGISTRY.rule("MatMulInteger")
def matmul_integer(call: OpCall) -> Cost:
    """int MACs = output elements x K (K the last dim of A); no FLOPs (int32 output)."""
    return int_mac_cost(call.out_numel() * call.in_shape(0)[-1])


@REGISTRY.rule("QGemm")
def qgemm(call: OpCall) -> Cost:
    """com.microsoft QGemm: int MACs = M x K x N (transA/transB honoured, shapes read from the
    inputs); FLOPs = 4 per output element when requantised to 8 bits (y_scale given), else 1
    (the float output's scale multiply)."""
    a, b = call.in_shape(0), call.in_shape(3)
    m, k = (a[1], a[0]) if call.attrs.get("transA", 0) else (a[0], a[1])
    n = b[0] if call.attrs.get("transB", 0) else b[1]
    per = REQUANTIZE_FLOPS_PER_ELEMENT if call.has_input(7) else 1
    return int_mac_cost(m * k * n, per * m * n)


@REGISTRY.rule("QuantizeLinear")
def quantize_linear(call: OpCall) -> Cost:
    """FLOPs = 4 per element (divide by the scale, round, add the zero point, saturate)."""
    return flop_cost(QUANTIZE_FLOPS_PER_ELEMENT * call.in_numel())


@REGISTRY.rule("DequantizeLinear")
def dequantize_linear(call: OpCall) -> Cost:
    """FLOPs = 2 per element (subtract the zero point, multiply by the scale)."""
    return flop_cost(DEQUANTIZE_FLOPS_PER_ELEMENT * call.in_numel())


@REGISTRY.rule("DynamicQuantizeLinear")
def dynamic_quantize_linear(call: OpCall) -> Cost:
    """FLOPs = 6 per element (min and max over the input, then quantise: 4)."""
    return flop_cost(DYNAMIC_QUANTIZE_FLOPS_PER_ELEMENT * call.in_numel())


@REGISTRY.rule("FakeQuantize")
def fake_quantize(call: OpCall) -> Cost:
    """OpenVINO FakeQuantize: FLOPs = 4 per output element (clamp, scale, round, rescale)."""
    return flop_cost(FAKE_QUANTIZE_FLOPS_PER_ELEMENT * call.out_numel())
