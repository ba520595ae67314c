"""Normalisation and softmax, each costed by a small documented constant per element.

The constants count the arithmetic a straightforward kernel performs, per element:

* BatchNormalization (inference): 2, a multiply and an add once scale and shift are folded.
* Layer/Instance/GroupNormalization: 5 to normalise (sum for the mean, subtract, square, sum
  for the variance, multiply by 1/std) + 1 for the scale + 1 for the bias when present.
* Softmax and LogSoftmax: 5 (max, subtract, exp, sum, divide or log-subtract).
* LpNormalization: 3 (square or abs, sum, divide).
"""

from __future__ import annotations

from .registry import REGISTRY, Cost, OpCall, flop_cost

BATCHNORM_FLOPS_PER_ELEMENT = 2
NORMALIZE_FLOPS_PER_ELEMENT = 5
SOFTMAX_FLOPS_PER_ELEMENT = 5
LPNORM_FLOPS_PER_ELEMENT = 3


@REGISTRY.rule("BatchNormalization")
def batch_norm(call: OpCall) -> Cost:
    """FLOPs = 2 x elements (folded scale multiply + shift add)."""
    return flop_cost(BATCHNORM_FLOPS_PER_ELEMENT * call.in_numel())


@REGISTRY.rule("LayerNormalization", "InstanceNormalization", "GroupNormalization")
def normalization(call: OpCall) -> Cost:
    """FLOPs = (5 + 1 if scale + 1 if bias) x elements."""
    per = NORMALIZE_FLOPS_PER_ELEMENT + int(call.has_input(1)) + int(call.has_input(2))
    return flop_cost(per * call.in_numel())


@REGISTRY.rule("Softmax", "LogSoftmax")
def softmax(call: OpCall) -> Cost:
    """FLOPs = 5 x elements."""
    return flop_cost(SOFTMAX_FLOPS_PER_ELEMENT * call.in_numel())


@REGISTRY.rule("LpNormalization")
def lp_normalization(call: OpCall) -> Cost:
    """FLOPs = 3 x elements."""
    return flop_cost(LPNORM_FLOPS_PER_ELEMENT * call.in_numel())
