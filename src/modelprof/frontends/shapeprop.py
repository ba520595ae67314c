"""Output shapes for graphs built only of ops whose shapes follow by one simple rule.

onnx's shape inference serialises the whole model, infers it in C++ and hands back a model
whose ``value_info`` must then be walked in Python: on a graph of 100,000 MatMul/Relu/Add
nodes that is more than a second of a three-second count. For graphs made only of the ops
below (elementwise maths, activations, MatMul, Gemm, softmax, Cast) the rule for every
output is short and fixed by the ONNX spec, so the ONNX frontend propagates shapes itself in
one pass over the translated nodes.

The pass is all-or-nothing: :func:`propagate` returns None as soon as a node is outside the
table or anything is unusual (an unknown input, operands that do not broadcast, mismatched
MatMul dims), and the frontend then runs onnx's inference as for any other graph. So onnx
still decides every case but the plain ones, error messages and all. On a large graph whose
inference runs in a forked child (forked.py), the frontend also runs the pass in ``partial``
mode while it waits: the plain nodes' shapes are then known before onnx's answer arrives,
and only the rest of that answer is read. Tests compare the routes tensor by tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from ..graph import Node, Shape, TensorInfo

#: One input, output of the same shape and dtype (extra inputs are scalars/bounds: Clip).
SAME_AS_FIRST = frozenset(
    {
        "Abs",
        "Acos",
        "Asin",
        "Atan",
        "Ceil",
        "Celu",
        "Clip",
        "Cos",
        "Cosh",
        "Elu",
        "Erf",
        "Exp",
        "Floor",
        "Gelu",
        "HardSigmoid",
        "HardSwish",
        "Hardmax",
        "Identity",
        "LeakyRelu",
        "Log",
        "LogSoftmax",
        "Mish",
        "Neg",
        "Reciprocal",
        "Relu",
        "Round",
        "Selu",
        "Sigmoid",
        "Sign",
        "Sin",
        "Sinh",
        "Softmax",
        "Softplus",
        "Softsign",
        "Sqrt",
        "Tan",
        "Tanh",
        "ThresholdedRelu",
    }
)
#: Ops of SAME_AS_FIRST with an ``axis`` attribute that must lie within the input's rank.
AXIS_OPS = frozenset({"Softmax", "LogSoftmax", "Hardmax"})
#: Multidirectional (numpy) broadcasting of every input; dtype of the first.
BROADCAST = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean"})
#: Every op type :func:`propagate` handles.
HANDLED = SAME_AS_FIRST | BROADCAST | {"MatMul", "Gemm", "Cast"}


class _Unusual(Exception):
    """Leave this graph to onnx's inference."""


def propagate(
    nodes: Sequence[Node],
    known: Mapping[str, TensorInfo],
    cast_dtypes: Mapping[int, str],
    *,
    allowed: Collection[str] = HANDLED,
    partial: bool = False,
) -> dict[str, TensorInfo] | None:
    """``known`` plus the TensorInfo of every node output, or None to leave the graph to
    onnx.

    ``known`` holds the graph inputs and stored tensors; ``cast_dtypes`` maps ONNX dtype
    codes to names (Cast's ``to``); ``allowed`` narrows the op types handled (to those the
    model's opset defines). ``partial``: skip what is not handled instead of giving up, so
    the result holds every tensor that follows from the known ones through handled ops
    alone (onnx's inference then supplies the rest).
    """
    infos = dict(known)
    get = infos.get
    for node in nodes:
        op = node.op_type
        outputs = node.outputs
        if op == "Constant" and outputs and outputs[0] in infos:
            continue  # a stored tensor the frontend already recorded
        try:
            if node.domain or op not in allowed or len(outputs) != 1 or not outputs[0]:
                raise _Unusual
            if outputs[0] in infos:
                raise _Unusual  # a name written twice: not a valid graph, onnx decides
            first = get(node.inputs[0]) if node.inputs and node.inputs[0] else None
            if first is None:
                raise _Unusual
            if op in SAME_AS_FIRST:
                if op in AXIS_OPS:
                    rank = len(first.shape)
                    if not -rank <= int(node.attrs["axis"]) < rank:
                        raise _Unusual  # onnx's inference fails the node: unknown output
                shape, dtype = first.shape, first.dtype
            elif op in BROADCAST:
                shape, dtype = _broadcast(node.inputs, get), first.dtype
            elif op == "MatMul":
                shape, dtype = _matmul(first.shape, _info(get, node.inputs, 1).shape), first.dtype
            elif op == "Gemm":
                shape = _gemm(first.shape, _info(get, node.inputs, 1).shape, node.attrs)
                dtype = first.dtype
            else:  # Cast
                shape, dtype = first.shape, cast_dtypes[int(node.attrs["to"])]
        except (_Unusual, KeyError, IndexError, TypeError, ValueError):
            if partial:
                continue
            return None
        name = outputs[0]
        infos[name] = TensorInfo(name, shape, dtype)
    return infos


def _info(get: Callable[[str], TensorInfo | None], inputs: Sequence[str], i: int) -> TensorInfo:
    info = get(inputs[i]) if i < len(inputs) and inputs[i] else None
    if info is None:
        raise _Unusual
    return info


def _broadcast(inputs: Sequence[str], get: Callable[[str], TensorInfo | None]) -> Shape:
    shape: Shape | None = None
    for name in inputs:
        info = get(name) if name else None
        if info is None:
            raise _Unusual
        other = info.shape
        if shape is None or other == shape:
            shape = other
        elif len(other) < len(shape) and shape[len(shape) - len(other) :] == other:
            continue  # a bias-like operand: the trailing dims of the other one
        else:
            shape = _broadcast_pair(shape, other)
    if shape is None:
        raise _Unusual
    return shape


def _broadcast_pair(a: Shape, b: Shape) -> Shape:
    rank = max(len(a), len(b))
    a = (1,) * (rank - len(a)) + a
    b = (1,) * (rank - len(b)) + b
    out = []
    for x, y in zip(a, b, strict=True):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise _Unusual  # does not broadcast: onnx's inference leaves it unknown
    return tuple(out)


def _matmul(a: Shape, b: Shape) -> Shape:
    """numpy.matmul's result shape (1-D operands promoted, then the added dim dropped)."""
    if not a or not b:
        raise _Unusual
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise _Unusual
    batch = _broadcast_pair(a2[:-2], b2[:-2]) if len(a2) > 2 or len(b2) > 2 else ()
    dims = [*batch, a2[-2], b2[-1]]
    if len(b) == 1:
        dims.pop()  # the N = 1 that promoting b added
    if len(a) == 1:
        dims.pop(len(batch))  # the M = 1 that promoting a added
    return tuple(dims)


def _gemm(a: Shape, b: Shape, attrs: Mapping[str, Any]) -> Shape:
    if len(a) != 2 or len(b) != 2:
        raise _Unusual
    m, k = (a[1], a[0]) if attrs.get("transA") else a
    kb, n = (b[1], b[0]) if attrs.get("transB") else b
    if k != kb:
        raise _Unusual
    return (m, n)
