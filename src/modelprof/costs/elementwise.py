"""Elementwise ops, activations, reductions, Resize, and the explicit zero-cost set.

Activations and elementwise arithmetic cost 1 FLOP per output element, whatever the function
(a Gelu is not charged more than a Relu); this is the convention fvcore, onnx-tool and most
papers use, and it keeps the totals comparable. Broadcasting is honoured by counting output
elements.
"""

from __future__ import annotations

from math import prod

from .registry import REGISTRY, Cost, OpCall, flop_cost

UNARY = (
    "Relu",
    "LeakyRelu",
    "PRelu",
    "Sigmoid",
    "HardSigmoid",
    "Tanh",
    "Gelu",
    "HardSwish",
    "Clip",
    "Erf",
    "Elu",
    "Selu",
    "Celu",
    "Softplus",
    "Softsign",
    "Mish",
    "ThresholdedRelu",
    "Swish",
    "Exp",
    "Log",
    "Sqrt",
    "Reciprocal",
    "Neg",
    "Abs",
    "Sign",
    "Floor",
    "Ceil",
    "Round",
    "Sin",
    "Cos",
    "Tan",
    "Asin",
    "Acos",
    "Atan",
    "Sinh",
    "Cosh",
    "Asinh",
    "Acosh",
    "Atanh",
    "Not",
    "IsNaN",
    "IsInf",
    "BitwiseNot",
)
BINARY = (
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Pow",
    "Mod",
    "Equal",
    "Less",
    "LessOrEqual",
    "Greater",
    "GreaterOrEqual",
    "And",
    "Or",
    "Xor",
    "BitShift",
    "BitwiseAnd",
    "BitwiseOr",
    "BitwiseXor",
    "Where",
)
VARIADIC = ("Sum", "Mean", "Max", "Min")
REDUCE = (
    "ReduceMean",
    "ReduceSum",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceSumSquare",
    "ArgMax",
    "ArgMin",
)

#: Ops that move, reinterpret or create data without arithmetic. Counted, explicitly, as zero.
ZERO_COST = (
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Identity",
    "Concat",
    "Split",
    "Slice",
    "Gather",
    "GatherElements",
    "GatherND",
    "Expand",
    "Tile",
    "Pad",
    "Cast",
    "CastLike",
    "Shape",
    "Size",
    "Constant",
    "ConstantOfShape",
    "Range",
    "Dropout",
    "DepthToSpace",
    "SpaceToDepth",
    "NonZero",
    "Compress",
    "EyeLike",
    "ReverseSequence",
    "Trilu",
    "OneHot",
    "ScatterND",
    "ScatterElements",
    "If",
    "Loop",
    "Scan",
)


@REGISTRY.rule(*UNARY, *BINARY)
def elementwise(call: OpCall) -> Cost:
    """FLOPs = output elements (1 per element; broadcasting counted at the output)."""
    return flop_cost(call.out_numel())


@REGISTRY.rule(*VARIADIC)
def variadic(call: OpCall) -> Cost:
    """FLOPs = (inputs - 1) x output elements; Mean adds 1 per element for the divide."""
    n = max(len([i for i in call.inputs if i is not None]) - 1, 0)
    extra = 1 if call.op_type == "Mean" else 0
    return flop_cost((n + extra) * call.out_numel())


@REGISTRY.rule(*REDUCE)
def reduce(call: OpCall) -> Cost:
    """FLOPs = input elements (one add, compare or multiply per element read)."""
    return flop_cost(call.in_numel())


@REGISTRY.rule("Resize", "Upsample")
def resize(call: OpCall) -> Cost:
    """Nearest: 0 (a copy). Linear: 2^(k+1) - 1 per output element, cubic: 2 x 4^k - 1, k the
    number of resized axes (a weighted sum of the 2^k or 4^k neighbours)."""
    mode = call.attrs.get("mode", "nearest")
    if isinstance(mode, bytes):
        mode = mode.decode()
    if mode == "nearest":
        return flop_cost(0)
    k = sum(1 for a, b in zip(call.in_shape(0), call.out_shape(), strict=False) if a != b)
    taps = (2 if mode == "linear" else 4) ** k
    return flop_cost((2 * taps - 1) * prod(call.out_shape()))


REGISTRY.register_zero(ZERO_COST)
