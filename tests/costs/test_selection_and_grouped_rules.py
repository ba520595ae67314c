"""The rules real models needed on the PyTorch route: CumSum, TopK/all/any, sort, histc and
torch's grouped GEMM (a mixture of experts' per-expert matmuls), checked on shapes alone.

Each figure is worked by hand in a comment; the shapes are chosen so that a rule reading the
wrong axis, the wrong operand or dropping a factor gives a different number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from modelprof.analysis import analyze
from modelprof.costs import REGISTRY, Cost, OpCall
from modelprof.costs.registry import MissingShapeError
from modelprof.graph import Graph, Node, TensorInfo


def cost(
    op: str,
    inputs: list[tuple[int, ...]],
    output: tuple[int, ...],
    attrs: Mapping[str, Any] | None = None,
) -> Cost:
    rule = REGISTRY.lookup(op)
    assert rule is not None, op
    call = OpCall(
        op,
        tuple(TensorInfo(f"x{i}", s, "float32") for i, s in enumerate(inputs)),
        (TensorInfo("y", output, "float32"),),
        dict(attrs or {}),
    )
    return rule(call)


# -- CumSum ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("axis", "flops"),
    [
        # (2, 3, 5): along axis 2, 6 lines of 5: 4 adds each = 24
        (2, 24),
        (-1, 24),
        # along axis 1, 10 lines of 3: 2 adds each = 20
        (1, 20),
        # along axis 0, 15 lines of 2: 1 add each = 15
        (0, 15),
    ],
)
def test_cumsum_adds_along_its_axis(axis: int, flops: int) -> None:
    assert cost("CumSum", [(2, 3, 5)], (2, 3, 5), {"axis": axis}) == Cost(0, flops)


def test_exclusive_cumsum_skips_one_more_add() -> None:
    # an exclusive running sum of 5: outputs 0, x0, x0+x1, ...: 3 adds per line; 6 lines = 18
    assert cost("CumSum", [(2, 3, 5)], (2, 3, 5), {"axis": 2, "exclusive": 1}) == Cost(0, 18)


def test_cumsum_of_a_vector_needs_no_axis() -> None:
    # 1-D: the axis can only be 0; 7 values, 6 adds
    assert cost("CumSum", [(7,)], (7,)) == Cost(0, 6)


def test_cumsum_of_one_element_and_of_an_empty_axis_costs_nothing() -> None:
    assert cost("CumSum", [(4, 1)], (4, 1), {"axis": 1}) == Cost(0, 0)
    assert cost("CumSum", [(4, 0)], (4, 0), {"axis": 1}) == Cost(0, 0)
    # exclusive over 1 element: max(1 - 2, 0) = 0 adds, never negative
    assert cost("CumSum", [(4, 1)], (4, 1), {"axis": 1, "exclusive": 1}) == Cost(0, 0)


def test_cumsum_of_a_scalar_costs_nothing() -> None:
    # torch.cumsum(x, 0) takes a 0-D x (and returns it): one value, no add. Without an axis
    # (ONNX) the same: a scalar has no axis to sum along
    assert cost("CumSum", [()], (), {"axis": 0}) == Cost(0, 0)
    assert cost("CumSum", [()], ()) == Cost(0, 0)


def test_onnx_cumsum_of_a_vector_reads_x_not_its_axis_input(count_node: Any) -> None:
    # ONNX CumSum(x, axis): the axis is a second input, a 0-D or 1-D int tensor. x (7,): 6 adds
    # whichever form the axis has; the rule must size x, not the axis tensor (() or (1,))
    for axis in (np.array(0, dtype=np.int64), np.array([0], dtype=np.int64)):
        report = count_node("CumSum", {"X": (7,)}, {"axis": axis})
        assert (report.layers[0].flops, report.layers[0].counted) == (6, True)
    # the rule alone, given the two shapes in that order
    assert cost("CumSum", [(7,), ()], (7,)) == Cost(0, 6)


def test_cumsum_without_its_axis_is_not_guessed() -> None:
    # an ONNX CumSum gives the axis as a tensor whose value rules never see
    with pytest.raises(MissingShapeError):
        cost("CumSum", [(2, 3)], (2, 3))


# -- selections: TopK, all, any, histc --------------------------------------------------------


@pytest.mark.parametrize("op", ["TopK", "aten::all", "aten::any", "aten::histc"])
def test_selections_read_each_element_once(op: str) -> None:
    # one compare (or bin index) per input element: 3 x 4 x 5 = 60, whatever the output
    assert cost(op, [(3, 4, 5)], (3, 4, 2)) == Cost(0, 60)


# -- sort ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("axis", "flops"),
    [
        # (3, 8, 5): along the last axis (the default), 24 lines of 5: 5 x ceil(log2 5) = 15
        # compares each -> 360
        (None, 360),
        (2, 360),
        (-1, 360),
        # along axis 1, 15 lines of 8: 8 x 3 = 24 each -> 360 too; so axis 0 tells them apart:
        (1, 360),
        # along axis 0, 40 lines of 3: 3 x ceil(log2 3) = 6 each -> 240
        (0, 240),
    ],
)
def test_sort_compares_n_log_n_per_line(axis: int | None, flops: int) -> None:
    attrs = {} if axis is None else {"axis": axis}
    assert cost("aten::sort", [(3, 8, 5)], (3, 8, 5), attrs) == Cost(0, flops)


def test_sort_without_an_axis_sorts_the_last() -> None:
    # (2, 4, 5), no axis attribute: the last axis, as torch.sort's default: 2 x 4 = 8 lines of
    # 5, 5 x ceil(log2 5) = 15 compares each -> 120. (Axis 1, which -2 and 1 name on this rank
    # 3 input, would be 10 lines of 4: 4 x 2 = 8 each -> 80; axis 0, 20 lines of 2 x 1 -> 40.)
    assert cost("aten::sort", [(2, 4, 5)], (2, 4, 5)) == Cost(0, 120)
    # rank 2, (4, 5): 4 lines of 5 x 3 = 15 -> 60 (axis 0: 5 lines of 4 x 2 = 8 -> 40)
    assert cost("aten::sort", [(4, 5)], (4, 5)) == Cost(0, 60)


def test_sort_of_powers_of_two_and_of_single_elements() -> None:
    # 16 values: 16 x log2 16 = 64; 2 values: 2 x 1 = 2 (one compare each way); 1 value: 0;
    # 17 values: 17 x ceil(log2 17) = 17 x 5 = 85
    assert cost("aten::sort", [(16,)], (16,)) == Cost(0, 64)
    assert cost("aten::sort", [(2,)], (2,)) == Cost(0, 2)
    assert cost("aten::sort", [(1,)], (1,)) == Cost(0, 0)
    assert cost("aten::sort", [(17,)], (17,)) == Cost(0, 85)
    assert cost("aten::sort", [()], ()) == Cost(0, 0)  # a scalar is sorted already
    assert cost("aten::sort", [(4, 0)], (4, 0)) == Cost(0, 0)


# -- torch._grouped_mm ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "out", "macs"),
    [
        # A (M=12, K=6) rows split into 3 groups, B (G=3, K=6, N=5): sum m_g x 6 x 5 = 12 x 30
        ((12, 6), (3, 6, 5), (12, 5), 360),
        # batched: A (G=3, M=4, K=6), B (3, 6, 5): 3 x 4 x 6 x 5
        ((3, 4, 6), (3, 6, 5), (3, 4, 5), 360),
        # A (G=3, M=4, K=6), B (K=6, N=15) columns split: sum 4 x 6 x n_g = 4 x 6 x 15
        ((3, 4, 6), (6, 15), (4, 15), 360),
        # A (M=4, K=18), B (K=18, N=5), the shared K split into 3 groups -> (3, 4, 5):
        # sum 4 x k_g x 5 = 4 x 18 x 5
        ((4, 18), (18, 5), (3, 4, 5), 360),
        # the same with 2 groups: still M x K x N = 360, not 3/2 of it
        ((4, 18), (18, 5), (2, 4, 5), 360),
    ],
)
def test_grouped_mm_is_the_sum_of_its_groups(
    a: tuple[int, ...], b: tuple[int, ...], out: tuple[int, ...], macs: int
) -> None:
    assert cost("aten::_grouped_mm", [a, b], out) == Cost(macs, 2 * macs)


def test_grouped_mm_with_no_group_costs_nothing() -> None:
    assert cost("aten::_grouped_mm", [(4, 18), (18, 5)], (0, 4, 5)) == Cost(0, 0)


# -- the counts are integers, as the analysis requires --------------------------------------------


@pytest.mark.parametrize(
    ("op", "inputs", "output", "attrs"),
    [
        ("CumSum", [(2, 3, 5)], (2, 3, 5), {"axis": 1}),
        ("aten::sort", [(3, 8, 5)], (3, 8, 5), {"axis": 0}),
        ("aten::_grouped_mm", [(4, 18), (18, 5)], (3, 4, 5), {}),
    ],
)
def test_counts_are_ints_not_floats(
    op: str, inputs: list[tuple[int, ...]], output: tuple[int, ...], attrs: dict[str, Any]
) -> None:
    # a rule that divides (lines = elements / n; grouped MACs / groups) must divide exactly:
    # 20.0 == 20, but a float count is refused by the analysis and loses exactness past 2**53
    result = cost(op, inputs, output, attrs)
    assert all(type(v) is int for v in result), result


def _graph_of(nodes: list[Node], shapes: dict[str, tuple[int, ...]]) -> Graph:
    tensors = {n: TensorInfo(n, s, "float32") for n, s in shapes.items()}
    outputs = tuple(n.outputs[0] for n in nodes)
    return Graph("g", "test", tuple(nodes), tensors, ("x", "a", "b"), outputs, {})


def test_the_dividing_rules_through_the_analysis() -> None:
    # the PyTorch route hands these to analyze as nodes with the axis as an attribute:
    # CumSum of x (2,3,5) along axis 1: 10 lines of 3, 2 adds each = 20 FLOPs;
    # sort of x along axis 0: 15 lines of 2, 2 x 1 = 2 compares each = 30 FLOPs;
    # grouped MM a (4,18) @ b (18,5) -> (3,4,5), K split in 3: 4 x 18 x 5 = 360 MACs, 720 FLOPs
    graph = _graph_of(
        [
            Node("cs", "CumSum", ("x",), ("c",), attrs={"axis": 1}),
            Node("so", "aten::sort", ("x",), ("s",), attrs={"axis": 0}),
            Node("gm", "aten::_grouped_mm", ("a", "b"), ("g",)),
        ],
        {
            "x": (2, 3, 5),
            "c": (2, 3, 5),
            "s": (2, 3, 5),
            "a": (4, 18),
            "b": (18, 5),
            "g": (3, 4, 5),
        },
    )
    report = analyze(graph)
    rows = [(layer.name, layer.macs, layer.flops, layer.counted) for layer in report.layers]
    assert rows == [("cs", 0, 20, True), ("so", 0, 30, True), ("gm", 360, 720, True)]
