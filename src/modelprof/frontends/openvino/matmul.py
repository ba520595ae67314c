"""Products: ``MatMul`` -> ``MatMul`` or ``Gemm``, the ``Multiply`` that is a Gemm's alpha, and
``ScaledDotProductAttention`` -> ONNX ``Attention``.

OpenVINO has no Gemm: an ONNX ``Gemm`` becomes ``MatMul`` (with ``transpose_a``/``transpose_b``)
+ ``Multiply`` (alpha, only when alpha != 1) + ``Add`` (beta x C). A 2-D MatMul with a transpose
becomes ``Gemm`` with ``transA``/``transB`` again, and the alpha ``Multiply`` of a 2-D product is
folded back into the product (the Gemm rule does not count alpha either), so that the bias
``Add`` follows the product and the analysis folds it in as a bias. A batched ``transpose_a``
reads its first operand through a transposed view, so the MatMul rule sees the right K.
"""

from __future__ import annotations

from math import prod
from typing import Any

from ...graph import TensorInfo
from .builder import Builder
from .common import Key
from .registry import REGISTRY


@REGISTRY.translation("MatMul")
def matmul(builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
    a = op.get_attributes()
    ta, tb = bool(a.get("transpose_a")), bool(a.get("transpose_b"))
    rank_a = op.get_input_partial_shape(0).rank
    rank_b = op.get_input_partial_shape(1).rank
    ra = rank_a.get_length() if rank_a.is_static else 0
    rb = rank_b.get_length() if rank_b.is_static else 0
    if ra == 2 and rb == 2:
        if ta or tb:
            attrs = {"alpha": 1.0, "beta": 1.0, "transA": int(ta), "transB": int(tb)}
            builder.products[outs[0]] = builder.emit(op, "Gemm", ins, outs, attrs)
        else:
            builder.products[outs[0]] = builder.emit(op, "MatMul", ins, outs)
        return
    inputs = list(ins)
    if ta and ra >= 2:
        inputs[0] = _transposed_view(builder, ins[0])
    builder.emit(op, "MatMul", inputs, outs)


def _transposed_view(builder: Builder, tensor: str) -> str:
    view = f"{tensor}:T"
    shape = builder.shape(tensor)
    if shape is not None:
        info = builder.tensors[tensor]
        swapped = (*shape[:-2], shape[-1], shape[-2])
        builder.tensors[view] = TensorInfo(view, swapped, info.dtype)
    builder.aliases[view] = tensor
    return view


@REGISTRY.translation("Multiply")
def multiply(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    """``Mul``, unless it is a Gemm's alpha. (A Multiply of constants only never gets here:
    the builder makes it a weight-only ``DequantizeLinear``, a decompression step, first.)"""
    # Gemm's alpha: a 2-D product times a one-element constant, folded into the product
    for data, other, data_key in ((0, 1, in_keys[0]), (1, 0, in_keys[1])):
        producer = builder.products.get(ins[data])
        if (
            producer is not None
            and in_keys[other] in builder.const_src
            and builder.consumers[data_key] == 1
            and builder.tensors.get(ins[other]) is not None
            and builder.tensors[ins[other]].numel == 1
        ):
            node = builder.nodes[producer]
            attrs = dict(node.attrs)
            value = builder.value(ins[other])
            if value is not None and node.op_type == "Gemm":
                attrs["alpha"] = float(value.reshape(-1)[0])
            builder.nodes[producer] = node._replace(outputs=tuple(outs), attrs=attrs)
            builder.products[outs[0]] = producer
            return
    builder.emit(op, "Mul", ins, outs)


@REGISTRY.translation("ScaledDotProductAttention")
def scaled_dot_product_attention(
    builder: Builder, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
) -> None:
    """q, k, v and the mask; the scale input is dropped, and so is an all-zero constant mask,
    which masks nothing."""
    q, k, v = ins[0], ins[1], ins[2]
    inputs = [q, k, v]
    if len(ins) > 3:
        mask = builder.value(ins[3])
        if not (mask is not None and in_keys[3] in builder.const_src and not mask.any()):
            inputs.append(ins[3])
    shapes = [builder.shape(t) for t in inputs[:3]]
    if all(s is not None and len(s) != 4 for s in shapes):
        # ONNX Attention reads 4-D (B, H, L, E): view the batch dims as heads
        for i in range(3):
            shape = shapes[i]
            assert shape is not None
            view = f"{inputs[i]}:4d"
            info = builder.tensors[inputs[i]]
            lead = prod(shape[:-2])
            builder.tensors[view] = TensorInfo(view, (1, lead, *shape[-2:]), info.dtype)
            builder.aliases[view] = inputs[i]
            inputs[i] = view
    attrs = {"is_causal": int(bool(op.get_attributes().get("causal", False)))}
    builder.emit(op, "Attention", inputs, outs, attrs)
