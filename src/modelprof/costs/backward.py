"""Backward-pass FLOPs for ``count --training``, worked out from each layer's forward cost.

A training step runs the forward pass and then the backward pass, which for every layer
computes the gradient with respect to its inputs (to pass back) and its weights (to update
them). The backward FLOPs of a layer are derived from its forward :class:`~.registry.Cost`
split in two parts, the product (``2 x macs``) and everything else (``flops - 2 x macs``):

* **Products** (Conv, ConvTranspose, Gemm, MatMul, Einsum, Attention): the gradient with
  respect to each multiplied operand is one product of the same size as the forward one, so
  each operand that needs a gradient costs ``2 x macs`` FLOPs: the weight gradient when the
  weight is a trainable parameter, the input gradient when the input depends on a parameter.
  A layer fed by the graph input (the first layer) needs no input gradient and is charged for
  the weight gradient only; a MatMul of two activations (attention scores) is charged for both
  operands. Attention (the fused op) counts as two operands whenever q, k or v needs a
  gradient. Einsum counts at most two operands.
* **Everything else**, multiplied by a per-family constant, charged when the layer needs any
  gradient (an input depending on a parameter, or a parameter of its own):

  - unary activations and elementwise functions (Relu, Gelu, Sigmoid, Exp, ...): 2 x forward
    (evaluate the derivative, multiply by the incoming gradient);
  - binary and variadic elementwise ops (Add, Mul, Sum, ...), reductions, pooling, Resize:
    1 x forward (one multiply, copy or scatter-add per element);
  - the bias adds of Conv/Gemm/MatMul (only counted with ``--count-bias``): 1 x forward (the
    bias gradient sums the output gradient);
  - normalisation and softmax (BatchNorm, LayerNorm, Softmax, ...; Attention's scale and
    softmax): 2 x forward;
  - ops with user-registered rules: 2 x forward.

* Quantisation: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear and FakeQuantize
  pass the gradient straight through (the straight-through estimator): 1 FLOP per output
  element (the clipping mask). Integer ops (QLinearConv, MatMulInteger, ...) are not
  differentiable: backward 0.
* Zero-cost ops (Reshape, Transpose, Concat, ...) have a zero-cost backward.

``training_flops`` = forward FLOPs + backward FLOPs. The optimiser update (a few FLOPs per
parameter) is not included.
"""

from __future__ import annotations

from collections.abc import Sequence

from .elementwise import BINARY, REDUCE, UNARY, VARIADIC

#: Backward FLOPs per forward FLOP for the part of a layer's cost that is not a product.
UNARY_BACKWARD = 2
ELEMENTWISE_BACKWARD = 1
NORM_BACKWARD = 2
DEFAULT_BACKWARD = 2

_FACTORS: dict[str, int] = {
    **dict.fromkeys(UNARY, UNARY_BACKWARD),
    **dict.fromkeys((*BINARY, *VARIADIC, *REDUCE), ELEMENTWISE_BACKWARD),
    **dict.fromkeys(
        (
            "AveragePool",
            "MaxPool",
            "LpPool",
            "GlobalAveragePool",
            "GlobalMaxPool",
            "GlobalLpPool",
            "Resize",
            "Upsample",
        ),
        ELEMENTWISE_BACKWARD,
    ),
    **dict.fromkeys(("Conv", "ConvTranspose", "Gemm", "MatMul", "Einsum"), ELEMENTWISE_BACKWARD),
    **dict.fromkeys(
        (
            "BatchNormalization",
            "LayerNormalization",
            "InstanceNormalization",
            "GroupNormalization",
            "LpNormalization",
            "Softmax",
            "LogSoftmax",
            "Attention",
        ),
        NORM_BACKWARD,
    ),
}
#: Ops whose gradient passes straight through: 1 FLOP per output element.
STRAIGHT_THROUGH = frozenset(
    {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "FakeQuantize"}
)
#: Integer ops: not differentiable, no backward.
INTEGER_OPS = frozenset({"QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger", "QGemm"})


def backward_factor(op_type: str) -> int:
    """Backward FLOPs per forward FLOP of the non-product part of ``op_type``'s cost."""
    return _FACTORS.get(op_type, DEFAULT_BACKWARD)


def product_operands(op_type: str, needs_grad: Sequence[bool]) -> int:
    """How many multiplied operands need a gradient, given one flag per node input."""
    if op_type == "Attention":
        return 2 if any(needs_grad[:3]) else 0
    if op_type in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
        return sum(needs_grad[:2])
    return min(2, sum(needs_grad))


def backward_flops(
    op_type: str,
    macs: int,
    flops: int,
    *,
    operands: int,
    needs_grad: bool,
    out_elements: int,
    zero_cost: bool = False,
) -> int:
    """Backward FLOPs of one layer (see the module docstring for the constants).

    ``operands``: multiplied operands that need a gradient (:func:`product_operands`);
    ``needs_grad``: whether the layer needs any gradient at all; ``out_elements``: output
    elements (times the loop repeat), for the straight-through ops.
    """
    if zero_cost or op_type in INTEGER_OPS or not needs_grad:
        return 0
    if op_type in STRAIGHT_THROUGH:
        return out_elements
    return 2 * macs * operands + (flops - 2 * macs) * backward_factor(op_type)
