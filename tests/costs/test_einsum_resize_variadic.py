"""Einsum forms, Resize over any number of axes, variadic ops with one input: hand counts.

Einsum is contracted left to right, two operands at a time; a step costs the product of the
sizes of every index either operand carries (one MAC each). Without ``->`` the output is the
letters used once, in alphabetical order, after the ellipsis dims. Resize linear/cubic costs
2 x taps - 1 per output element, taps = 2^k or 4^k for k resized axes.
"""

from __future__ import annotations

import numpy as np
import pytest

from modelprof.costs import REGISTRY, Cost, OpCall
from modelprof.graph import TensorInfo


def _rule(op: str, shapes: list[tuple[int, ...]], out: tuple[int, ...], **attrs: object) -> Cost:
    rule = REGISTRY.lookup(op)
    assert rule is not None
    inputs = tuple(TensorInfo(f"i{k}", s, "float32") for k, s in enumerate(shapes))
    return rule(OpCall(op, inputs, (TensorInfo("o", out, "float32"),), attrs))


# -- Einsum -----------------------------------------------------------------------------------

EINSUM_CASES = [
    # (case, equation, operand shapes, output shape, MACs, FLOPs)
    # implicit output of a chain: i, l used once -> "il"; ij,jk costs i2 x j3 x k4 = 24 and
    # keeps i, k (l is later, j is not); ik,kl costs i2 x k4 x l5 = 40: 64 MACs. (Were the
    # output "jk", the letters used twice, j would be kept: ijk,kl = 120 -> 144.)
    ("implicit_chain", "ij,jk,kl", [(2, 3), (3, 4), (4, 5)], (2, 5), 64, 128),
    # an output that keeps j: the first step keeps i, j, k (j and i are in the output, k in
    # kl): ij,jk = 24, then ijk,kl = i2 x j3 x k4 x l5 = 120: 144 MACs
    ("kept_middle_index", "ij,jk,kl->ijl", [(2, 3), (3, 4), (4, 5)], (2, 3, 5), 144, 288),
    # four operands: ab,bc = 2x3x4 = 24 -> ac; ac,cd = 2x4x5 = 40 -> ad; ad,de = 2x5x6 = 60
    ("four_operands", "ab,bc,cd,de->ae", [(2, 3), (3, 4), (4, 5), (5, 6)], (2, 6), 124, 248),
    # five: as above, then ae,ef = 2 x 6 x 7 = 84 -> 208 MACs
    (
        "five_operands",
        "ab,bc,cd,de,ef->af",
        [(2, 3), (3, 4), (4, 5), (5, 6), (6, 7)],
        (2, 7),
        208,
        416,
    ),
    # b skips a term (in ab, bc and bd, not cd): the first two steps keep it for bd.
    # a2 b3 c4 d5: ab,bc = abc = 24 -> abc (a out, b in bd, c in cd); abc,cd = abcd = 120
    # -> abd; abd,bd = abd = 30: 174 MACs. (Keeping only the output's letters would give
    # 24 + acd 40 + abd 30 = 94.)
    ("skipped_term", "ab,bc,cd,bd->a", [(2, 3), (3, 4), (4, 5), (3, 5)], (2,), 174, 348),
    # a batch of 1: b1 x i3 x j4 x k5 = 60 MACs (a size-1 index is a factor of 1)
    ("batch_of_one", "bij,bjk->bik", [(1, 3, 4), (1, 4, 5)], (1, 3, 5), 60, 120),
    # the size-1 operand first, broadcast to 2 by the second: 2 x 3 x 4 x 5 x 6 = 720 MACs
    (
        "size_one_broadcast_first",
        "...ij,...jk->...ik",
        [(1, 3, 4, 5), (2, 3, 5, 6)],
        (2, 3, 4, 6),
        720,
        1_440,
    ),
    # only the first operand has an ellipsis (2 dims): 2 x 3 x i4 x j5 x k6 = 720 MACs
    ("ellipsis_on_one_side", "...ij,jk->...ik", [(2, 3, 4, 5), (5, 6)], (2, 3, 4, 6), 720, 1_440),
    # implicit output with an ellipsis: "...ik" -> 2 x i4 x j5 x k6 = 240 MACs
    ("implicit_ellipsis", "...ij,...jk", [(2, 4, 5), (2, 5, 6)], (2, 4, 6), 240, 480),
    # implicit trace: i used twice, so the output is a scalar; the 3 diagonal elements are
    # read and summed with 3 - 1 = 2 adds
    ("implicit_trace", "ii", [(3, 3)], (), 0, 2),
    # implicit transpose: "ji" -> "ij" (alphabetical); a copy, no FLOPs
    ("implicit_transpose", "ji", [(3, 4)], (4, 3), 0, 0),
    # per-batch trace with an implicit output: the output is the ellipsis (2,); read
    # 2 x 3 diagonal elements = 6, into 2 outputs: 6 - 2 = 4 adds
    ("implicit_batched_trace", "...ii", [(2, 3, 3)], (2,), 0, 4),
    # a one-letter term after an ellipsis of 2 dims: "...i" on (2,3,4) summed over i:
    # 24 elements read into 2 x 3 = 6 outputs: 18 adds
    ("ellipsis_then_one_letter", "...i->...", [(2, 3, 4)], (2, 3), 0, 18),
    # explicit sum over the batch of a batched trace: read 2 x 3 = 6 into 1: 5 adds
    ("explicit_full_trace", "bii->", [(2, 3, 3)], (), 0, 5),
]


@pytest.mark.parametrize(
    ("equation", "shapes", "out", "macs", "flops"),
    [c[1:] for c in EINSUM_CASES],
    ids=[c[0] for c in EINSUM_CASES],
)
def test_einsum_forms(count_node, equation, shapes, out, macs, flops) -> None:
    inputs = {f"X{i}": s for i, s in enumerate(shapes)}
    report = count_node("Einsum", inputs, attrs={"equation": equation}, opset=17)
    layer = report.layers[0]
    assert layer.counted, layer.note
    assert layer.output_shapes == (out,)
    assert (layer.macs, layer.flops) == (macs, flops)


def test_einsum_ellipses_of_different_ranks() -> None:
    # numpy right-aligns ellipses of different ranks (ONNX's checker refuses them, so the rule
    # is called directly): "...ij" on (1,4,5) has a 1-dim ellipsis, "...jk" on (2,3,5,6) a
    # 2-dim one; the first lines up with the second's last ellipsis dim (1 -> 3), so the
    # product runs over 2 x 3 x i4 x j5 x k6 = 720 MACs
    cost = _rule("Einsum", [(1, 4, 5), (2, 3, 5, 6)], (2, 3, 4, 6), equation="...ij,...jk->...ik")
    assert tuple(cost) == (720, 1_440, 0)
    # the other way round: (2,3,4,5) with (3,5,6): 720 again; and spaces are ignored
    cost = _rule(
        "Einsum", [(2, 3, 4, 5), (3, 5, 6)], (2, 3, 4, 6), equation="... i j , ... j k -> ... i k"
    )
    assert tuple(cost) == (720, 1_440, 0)


def test_einsum_ellipsis_only_in_the_middle() -> None:
    # "i...j" on (4,2,3,5): the ellipsis is the 2 middle dims; summing j away: the output
    # "i..." has 4 x 2 x 3 = 24 elements, each the sum of 5: 24 x 4 = 96 adds (120 read - 24)
    cost = _rule("Einsum", [(4, 2, 3, 5)], (4, 2, 3), equation="i...j->i...")
    assert tuple(cost) == (0, 96, 0)


# -- Resize over 1, 3 and 4 axes --------------------------------------------------------------

RESIZE_CASES = [
    # (case, input shape, scales, output shape, mode, FLOPs)
    # 1 axis (the last, 4 -> 8): linear 2^1 = 2 taps: 2 x 2 - 1 = 3 per output x 8 = 24
    ("one_axis_linear", (1, 1, 1, 4), [1, 1, 1, 2], (1, 1, 1, 8), "linear", 24),
    # cubic 4^1 = 4 taps: 2 x 4 - 1 = 7 x 8 = 56
    ("one_axis_cubic", (1, 1, 1, 4), [1, 1, 1, 2], (1, 1, 1, 8), "cubic", 56),
    # 3 axes (channels and both spatial, 2 -> 4 each): 64 outputs; linear 2^3 = 8 taps:
    # 15 x 64 = 960
    ("three_axes_linear", (1, 2, 2, 2), [1, 2, 2, 2], (1, 4, 4, 4), "linear", 960),
    # cubic 4^3 = 64 taps: 127 x 64 = 8,128
    ("three_axes_cubic", (1, 2, 2, 2), [1, 2, 2, 2], (1, 4, 4, 4), "cubic", 8_128),
    # all 4 axes (1 -> 2, 1 -> 2, 2 -> 4, 2 -> 4): 64 outputs; linear 2^4 = 16 taps: 31 x 64
    ("four_axes_linear", (1, 1, 2, 2), [2, 2, 2, 2], (2, 2, 4, 4), "linear", 1_984),
    # cubic 4^4 = 256 taps: 511 x 64 = 32,704
    ("four_axes_cubic", (1, 1, 2, 2), [2, 2, 2, 2], (2, 2, 4, 4), "cubic", 32_704),
    # downscaling counts the same way: 1x1x4x4 -> 1x1x2x2, 2 axes: 7 x 4 = 28
    ("downscale_two_axes", (1, 1, 4, 4), [1, 1, 0.5, 0.5], (1, 1, 2, 2), "linear", 28),
    # nearest is a copy on any number of axes
    ("four_axes_nearest", (1, 1, 2, 2), [2, 2, 2, 2], (2, 2, 4, 4), "nearest", 0),
]


@pytest.mark.parametrize(
    ("x", "scales", "out", "mode", "flops"),
    [c[1:] for c in RESIZE_CASES],
    ids=[c[0] for c in RESIZE_CASES],
)
def test_resize_axes(count_node, x, scales, out, mode, flops) -> None:
    report = count_node(
        "Resize",
        {"X": x},
        {"scales": np.array(scales, dtype=np.float32)},
        node_inputs=["X", "", "scales"],
        attrs={"mode": mode},
    )
    layer = report.layers[0]
    assert layer.counted, layer.note
    assert layer.output_shapes == (out,)
    assert layer.flops == flops


def test_resize_mode_given_as_bytes() -> None:
    # a frontend may hand the mode over as bytes, as ONNX stores it: read the same way
    # (1 axis linear, 3 x 8 = 24; nearest 0; no mode at all is nearest)
    assert _rule("Resize", [(1, 1, 1, 4)], (1, 1, 1, 8), mode=b"linear").flops == 24
    assert _rule("Resize", [(1, 1, 1, 4)], (1, 1, 1, 8), mode=b"nearest").flops == 0
    assert _rule("Resize", [(1, 1, 1, 4)], (1, 1, 1, 8)).flops == 0


# -- variadic ops with one input and with broadcasting -----------------------------------------


@pytest.mark.parametrize(
    ("op", "flops"),
    [
        # one input: (1 - 1) = 0 adds or compares per element: a copy
        ("Sum", 0),
        ("Max", 0),
        ("Min", 0),
        # Mean of one input still divides: (0 + 1) x 6 elements = 6
        ("Mean", 6),
    ],
)
def test_variadic_with_one_input(count_node, op, flops) -> None:
    report = count_node(op, {"A": (2, 3)})
    layer = report.layers[0]
    assert layer.counted, layer.note
    assert layer.flops == flops


def test_variadic_of_three_with_broadcasting(count_node) -> None:
    # (2,3), (3,), (1,3) -> (2,3): Min: (3 - 1) compares x 6 = 12; Mean: (2 + 1) x 6 = 18
    shapes = {"A": (2, 3), "B": (3,), "C": (1, 3)}
    assert count_node("Min", shapes).layers[0].flops == 12
    assert count_node("Mean", shapes).layers[0].flops == 18
