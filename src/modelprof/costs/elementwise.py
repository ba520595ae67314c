"""Elementwise ops, activations, reductions, Resize, and the explicit zero-cost set.

Activations and elementwise arithmetic cost 1 FLOP per output element, whatever the function
(a Gelu is not charged more than a Relu); this is the convention fvcore, onnx-tool and most
papers use, and it keeps the totals comparable. Broadcasting is honoured by counting output
elements.
"""

from __future__ import annotations

from math import prod

from .registry import REGISTRY, Cost, MissingShapeError, OpCall, flop_cost

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


@REGISTRY.rule("CumSum")
def cumsum(call: OpCall) -> Cost:
    """FLOPs = one add per output element beyond the first along the summed axis (a running
    sum of n values takes n - 1 adds; an exclusive one, whose first output is 0 and second a
    copy, n - 2). The axis is the ``axis`` attribute the PyTorch route records; for a 1-D
    input it can only be 0. ONNX gives it as a tensor input, whose value rules do not see, so
    a higher-rank ONNX CumSum is reported as not counted rather than guessed."""
    shape = call.in_shape(0)
    # a 0-D input (torch.cumsum takes one, along dim 0) is its own running sum: no add
    if not shape:
        return flop_cost(0)
    axis = call.attrs.get("axis")
    if axis is None and len(shape) == 1:
        axis = 0  # pragma: no mutate (any int % 1 is 0: every axis of a 1-D input is axis 0)
    if axis is None:
        raise MissingShapeError("CumSum: the axis it sums along is not known")
    n = shape[int(axis) % len(shape)]
    skipped = 2 if call.attrs.get("exclusive", 0) else 1
    lines = prod(shape) // n if n else 0
    return flop_cost(lines * max(n - skipped, 0))


@REGISTRY.rule("TopK", "aten::all", "aten::any")
def select(call: OpCall) -> Cost:
    """FLOPs = input elements: one compare per element read, as for the reductions (TopK is
    charged like ArgMax whatever k is; ``all``/``any`` are an and/or reduction)."""
    return flop_cost(call.in_numel())


@REGISTRY.rule("aten::sort")
def sort(call: OpCall) -> Cost:
    """FLOPs = n * ceil(log2 n) compares for each line of n elements along the sorted axis
    (a comparison sort's bound, the convention for sorts; MoE routing sorts tokens by expert).
    The axis defaults to the last, as torch.sort's does."""
    shape = call.in_shape(0)
    if not shape:
        return flop_cost(0)
    n = shape[int(call.attrs.get("axis", -1)) % len(shape)]
    lines = prod(shape) // n if n else 0
    return flop_cost(lines * n * max(n - 1, 0).bit_length())


@REGISTRY.rule("aten::histc")
def histogram(call: OpCall) -> Cost:
    """FLOPs = input elements: one bin index worked out per element (the count it adds to is
    an integer increment, not a FLOP); MoE routing counts tokens per expert this way."""
    return flop_cost(call.in_numel())


REGISTRY.register_zero(ZERO_COST)
