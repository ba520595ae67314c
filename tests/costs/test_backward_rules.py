"""The backward-pass rules (costs/backward.py), each constant and branch by a hand count.

backward = 2 x MACs x (multiplied operands that need a gradient) + (FLOPs - 2 x MACs) x the
op family's factor: 2 for activations, norms, softmax and unknown (user) ops, 1 for binary,
variadic and reduction ops, pools, Resize and the bias adds of products. Quantize/Dequantize/
FakeQuantize pass the gradient straight through (1 per output element); integer ops and
zero-cost ops have no backward; nor does a layer that needs no gradient.
"""

from __future__ import annotations

import pytest

from modelprof.analysis import analyze
from modelprof.costs.backward import backward_factor, backward_flops, product_operands
from modelprof.graph import Graph, Node, TensorInfo, Weight


@pytest.mark.parametrize(
    ("op", "factor"),
    [
        ("Relu", 2),  # unary: derivative, then the multiply by the incoming gradient
        ("Gelu", 2),
        ("Add", 1),  # binary: one multiply or copy per element
        ("Where", 1),
        ("Sum", 1),  # variadic
        ("ReduceMean", 1),  # reductions scatter one value per element back
        ("ArgMax", 1),
        ("MaxPool", 1),
        ("GlobalAveragePool", 1),
        ("Resize", 1),
        ("Upsample", 1),
        ("Conv", 1),  # the non-product part of a product is its bias add: 1 per element
        ("Gemm", 1),
        ("Einsum", 1),
        ("BatchNormalization", 2),
        ("LayerNormalization", 2),
        ("Softmax", 2),
        ("Attention", 2),  # its scale and softmax
        ("MyUserOp", 2),  # anything else, e.g. a user's rule
    ],
)
def test_backward_factor(op, factor) -> None:
    assert backward_factor(op) == factor


@pytest.mark.parametrize(
    ("op", "needs_grad", "operands"),
    [
        # Conv/Gemm/MatMul: input and weight count, the bias (input 2) never does
        ("Conv", [False, True, True], 1),
        ("Conv", [True, True, True], 2),
        ("Gemm", [True, False, True], 1),
        ("MatMul", [True, True], 2),
        ("ConvTranspose", [False, False, True], 0),
        # Attention: two operands whenever q, k or v needs a gradient, none for a mask alone
        ("Attention", [False, False, True], 2),
        ("Attention", [True, False, False, False], 2),
        ("Attention", [False, False, False, True], 0),
        # Einsum: at most two, however many operands need a gradient
        ("Einsum", [True, True, True], 2),
        ("Einsum", [False, True, False], 1),
        ("Einsum", [False, False], 0),
        # a user's op with MACs: at most two operands, here the one that needs a gradient
        ("AUserProduct", [True, False, False], 1),
        ("ZUserProduct", [True, True, True], 2),
    ],
)
def test_product_operands(op, needs_grad, operands) -> None:
    assert product_operands(op, needs_grad) == operands


def test_products() -> None:
    # Conv of 72 MACs (144 FLOPs), weight gradient only: 2 x 72 x 1 = 144
    assert backward_flops("Conv", 72, 144, operands=1, needs_grad=True, out_elements=8) == 144
    # with 8 counted bias adds (152 FLOPs) and both operands: 2 x 72 x 2 + 8 x 1 = 296
    assert backward_flops("Conv", 72, 152, operands=2, needs_grad=True, out_elements=8) == 296
    # Attention, 768 MACs and 1,824 FLOPs (288 of scale and softmax), both operands:
    # 2 x 768 x 2 = 3,072 + 288 x 2 = 576 -> 3,648
    assert (
        backward_flops("Attention", 768, 1_824, operands=2, needs_grad=True, out_elements=64)
        == 3_648
    )


def test_elementwise_and_norms() -> None:
    # Relu of 64 elements: 2 x 64 = 128; Add: 1 x 64; Softmax of 30 FLOPs: 2 x 30
    assert backward_flops("Relu", 0, 64, operands=0, needs_grad=True, out_elements=64) == 128
    assert backward_flops("Add", 0, 64, operands=0, needs_grad=True, out_elements=64) == 64
    assert backward_flops("Softmax", 0, 30, operands=0, needs_grad=True, out_elements=6) == 60
    # a user's op of 10 FLOPs: the default factor 2 -> 20
    assert backward_flops("MyUserOp", 0, 10, operands=0, needs_grad=True, out_elements=5) == 20


@pytest.mark.parametrize(
    ("op", "flops", "out_elements"),
    [
        # forward 4, 2, 6 and 4 per element; the backward is 1 per output element whatever
        # the forward costs (the straight-through estimator's clipping mask)
        ("QuantizeLinear", 192, 48),
        ("DequantizeLinear", 96, 48),
        ("DynamicQuantizeLinear", 120, 20),
        ("FakeQuantize", 192, 48),
    ],
)
def test_straight_through(op, flops, out_elements) -> None:
    assert (
        backward_flops(op, 0, flops, operands=0, needs_grad=True, out_elements=out_elements)
        == out_elements
    )
    # no gradient needed upstream: nothing
    assert backward_flops(op, 0, flops, operands=0, needs_grad=False, out_elements=48) == 0


def test_no_backward() -> None:
    # integer ops are not differentiable, zero-cost ops cost nothing, and a layer that needs
    # no gradient is not differentiated
    assert backward_flops("QLinearConv", 0, 72, operands=0, needs_grad=True, out_elements=18) == 0
    assert backward_flops("MatMulInteger", 0, 0, operands=0, needs_grad=True, out_elements=8) == 0
    assert (
        backward_flops("Reshape", 0, 0, operands=0, needs_grad=True, out_elements=8, zero_cost=True)
        == 0
    )
    assert backward_flops("Conv", 72, 144, operands=1, needs_grad=False, out_elements=8) == 0


def test_fake_quantize_in_a_loop_body_straight_through() -> None:
    """conv (a param) -> FakeQuantize run 3 times (a Loop body of static trip count 3).

    conv: X (1,1,4,4), W (2,1,3,3) -> (1,2,2,2): 2 x 2 x 2 x 9 = 72 MACs = 144 FLOPs; its
    input is the graph input: weight gradient only, 144 -> training 288.
    FakeQuantize: 4 x 8 = 32 FLOPs a run x 3 = 96; straight through 8 x 3 = 24 -> 120.
    """
    infos = {
        "x": (1, 1, 4, 4),
        "w": (2, 1, 3, 3),
        "c": (1, 2, 2, 2),
        "y": (1, 2, 2, 2),
        **{b: (1, 2, 1, 1) for b in ("il", "ih", "ol", "oh")},
    }
    graph = Graph(
        name="fq",
        source="test",
        nodes=(
            Node("conv", "Conv", ("x", "w"), ("c",)),
            Node("fq", "FakeQuantize", ("c", "il", "ih", "ol", "oh"), ("y",), repeat=3),
        ),
        tensors={n: TensorInfo(n, s, "float32") for n, s in infos.items()},
        inputs=("x",),
        outputs=("y",),
        weights={"w": Weight("w", (2, 1, 3, 3), "float32", "param")},
        constants=frozenset({"il", "ih", "ol", "oh"}),
    )
    report = analyze(graph, training=True)
    rows = {layer.name: (layer.flops, layer.training_flops) for layer in report.layers}
    assert rows == {"conv": (144, 288), "fq": (96, 120)}
    assert report.total.training_flops == 408


def test_backward_flops_takes_its_counts_by_keyword() -> None:
    # operands, needs_grad and out_elements are keyword-only: three bare numbers in a row
    # could be given in the wrong order without a word
    with pytest.raises(TypeError):
        backward_flops("Relu", 0, 64, 0, True, 64)  # type: ignore[misc]
