"""The analysis (Graph -> CostReport) on hand-built graphs: what no single rule can see.

Weight-only transforms fold into their consumer, a per-channel bias Add folds into the layer
before it, loops multiply, bad rule results are refused, and the peak-memory walk follows
docs/conventions.md. Every figure is worked in the comments (float32: 4 bytes an element).
"""

from __future__ import annotations

from typing import Any

import pytest

from modelprof.analysis import analyze
from modelprof.costs import Cost, OpCall, Registry
from modelprof.errors import RuleError
from modelprof.graph import Graph, Node, TensorInfo, Uncounted, Weight


def _graph(
    nodes: list[Node],
    shapes: dict[str, tuple[int, ...]],
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    weights: dict[str, tuple[tuple[int, ...], str, str]] | None = None,
    **extra: Any,
) -> Graph:
    """``weights``: name -> (shape, dtype, kind); every other tensor is float32."""
    weights = weights or {}
    tensors = {n: TensorInfo(n, s, "float32") for n, s in shapes.items()}
    for name, (shape, dtype, _) in weights.items():
        tensors[name] = TensorInfo(name, shape, dtype)
    return Graph(
        name="g",
        source="test",
        nodes=tuple(nodes),
        tensors=tensors,
        inputs=inputs,
        outputs=outputs,
        weights={n: Weight(n, s, d, k) for n, (s, d, k) in weights.items()},
        **extra,
    )


def _matmul_bias(bias: tuple[int, ...], kind: str = "param") -> Graph:
    # x (2,3) @ Cast(w fp16 (3,4)) -> m (2,4); m + b -> y
    return _graph(
        [
            Node("cast", "Cast", ("w16",), ("w",), {"to": 1}),
            Node("mm", "MatMul", ("x", "w"), ("m",)),
            Node("add", "Add", ("m", "b"), ("y",)),
        ],
        {"x": (2, 3), "w": (3, 4), "m": (2, 4), "y": (2, 4)},
        ("x",),
        ("y",),
        {"w16": ((3, 4), "float16", "param"), "b": (bias, "float32", kind)},
    )


def test_weight_transform_and_bias_add_fold_into_the_matmul() -> None:
    report = analyze(_matmul_bias((4,)))
    # one layer: the Cast of the weight and the bias Add fold into the MatMul
    assert [layer.name for layer in report.layers] == ["mm"]
    mm = report.layers[0]
    # 2 x 4 outputs x K 3 = 24 MACs = 48 FLOPs (the bias adds are not counted by default)
    assert (mm.macs, mm.flops) == (24, 48)
    # params: 12 weights + 4 biases; bytes: 12 x 2 (fp16) + 4 x 4 = 40
    assert (mm.params, mm.weight_bytes) == (16, 40)
    assert mm.note == "bias Add 'add' folded in"
    # bytes moved: x 24 in + 40 of weights + y 32 out = 96; intensity 48 / 96
    assert (mm.activation_bytes, mm.bytes_moved, mm.intensity) == (32, 96, 0.5)
    assert mm.output_shapes == ((2, 4),)
    # peak: x (24) live at the start; m (32) is born, x dies (56 at most); y (32) is born
    # while m is still read: 32 + 32 = 64
    assert report.total.peak_activation_bytes == 64
    assert (report.total.params, report.total.weight_bytes) == (16, 40)
    # with count_bias, + 1 add per output element: 48 + 8
    assert analyze(_matmul_bias((4,)), count_bias=True).layers[0].flops == 56


@pytest.mark.parametrize(
    ("bias", "kind", "why"),
    [
        ((2, 4), "param", "a full (2,4) tensor, not one value per channel"),
        ((2, 1), "param", "one value per row, not per output channel"),
        ((4,), "buffer", "a buffer, not a trainable parameter"),
        ((1, 2, 4), "param", "a higher rank than the output"),
    ],
)
def test_an_add_that_is_not_a_bias_stays_a_layer(bias, kind, why) -> None:
    report = analyze(_matmul_bias(bias, kind))
    assert [layer.name for layer in report.layers] == ["mm", "add"], why
    # the Add is elementwise at its output: (2,4) = 8 FLOPs, or (1,2,4) = 8 too
    assert report.layers[1].flops == 8
    assert report.layers[0].note == ""


def test_conv_bias_lines_up_with_the_channel_axis() -> None:
    def conv_add(bias: tuple[int, ...]) -> Graph:
        # x (1,2,4,4), w (3,2,3,3) -> c (1,3,2,2); c + b
        return _graph(
            [
                Node("conv", "Conv", ("x", "w"), ("c",)),
                Node("add", "Add", ("b", "c"), ("y",)),
            ],
            {"x": (1, 2, 4, 4), "c": (1, 3, 2, 2), "y": (1, 3, 2, 2)},
            ("x",),
            ("y",),
            {"w": ((3, 2, 3, 3), "float32", "param"), "b": (bias, "float32", "param")},
        )

    # (1,3,1,1) and (3,1,1) are per channel: folded, the Add given first or second alike
    for bias in ((1, 3, 1, 1), (3, 1, 1)):
        report = analyze(conv_add(bias))
        assert [layer.name for layer in report.layers] == ["conv"]
        # 3 x 2x2 outputs x 2 x 3x3 = 216 MACs; params 54 + 3
        assert (report.layers[0].macs, report.layers[0].params) == (216, 57)
    # (3,) broadcasts over the last axis (width 2), not the channels: not a bias
    report = analyze(conv_add((3,)))
    assert [layer.name for layer in report.layers] == ["conv", "add"]


def test_a_layer_in_a_loop_body_counts_once_per_trip() -> None:
    # Relu on (2,5) = 10 FLOPs a trip x 3 trips = 30; MatMul (2,5)@(5,3) = 30 MACs x 3 = 90
    graph = _graph(
        [
            Node("relu", "Relu", ("x",), ("r",), repeat=3),
            Node("mm", "MatMul", ("r", "w"), ("y",), repeat=3),
        ],
        {"x": (2, 5), "r": (2, 5), "y": (2, 3)},
        ("x",),
        ("y",),
        {"w": ((5, 3), "float32", "param")},
    )
    report = analyze(graph)
    relu, mm = report.layers
    assert (relu.flops, relu.note) == (30, "x3 (static loop trip count)")
    assert (mm.macs, mm.flops) == (90, 180)
    assert (report.total.macs, report.total.flops) == (90, 210)


def test_views_share_their_base_buffer_in_the_peak() -> None:
    # x (1,1000) = 4,000 bytes -> Reshape (a view of x, no new buffer) -> Relu -> y 4,000:
    # peak = x + y = 8,000 (x is not read after the Reshape, so a Reshape that allocated would
    # peak at 8,000 too: test_analysis_mutants.py reads the base next to its view)
    graph = _graph(
        [
            Node("rs", "Reshape", ("x", "shape"), ("r",)),
            Node("relu", "Relu", ("r",), ("y",)),
        ],
        {"x": (1, 1000), "shape": (2,), "r": (10, 100), "y": (10, 100)},
        ("x",),
        ("y",),
        constants=frozenset({"shape"}),
    )
    report = analyze(graph)
    assert report.total.peak_activation_bytes == 8_000
    assert [(layer.name, layer.flops) for layer in report.layers] == [("rs", 0), ("relu", 1000)]


def test_peak_frees_a_tensor_after_its_last_reader() -> None:
    # x 4,000 -> a = Relu(x) -> b = Relu(a) -> y = Add(a, b):
    # start x 4,000; a born: 8,000, x freed -> 4,000; b born: 8,000 (a is still read by the
    # Add); y born: 12,000; a, b freed; y is an output. Peak 12,000.
    graph = _graph(
        [
            Node("r1", "Relu", ("x",), ("a",)),
            Node("r2", "Relu", ("a",), ("b",)),
            Node("add", "Add", ("a", "b"), ("y",)),
        ],
        {"x": (1, 1000), "a": (1, 1000), "b": (1, 1000), "y": (1, 1000)},
        ("x",),
        ("y",),
    )
    assert analyze(graph).total.peak_activation_bytes == 12_000
    # a chain that reads each tensor once never holds more than two: 8,000
    chain = _graph(
        [Node("r1", "Relu", ("x",), ("a",)), Node("r2", "Relu", ("a",), ("y",))],
        {"x": (1, 1000), "a": (1, 1000), "y": (1, 1000)},
        ("x",),
        ("y",),
    )
    assert analyze(chain).total.peak_activation_bytes == 8_000


def test_unsupported_and_preset_uncounted_nodes() -> None:
    graph = _graph(
        [
            Node("a", "NoSuchOp", ("x",), ("p",)),
            Node("b", "NoSuchOp", ("p",), ("q",)),
            Node("c", "Relu", ("q",), ("r",)),
            Node("d", "Relu", ("r",), ("y",)),
        ],
        {"x": (2, 2), "p": (2, 2), "q": (2, 2), "r": (2, 2), "y": (2, 2)},
        ("x",),
        ("y",),
        uncounted=(Uncounted("d", "Relu", "inside a dynamic loop"),),
    )
    report = analyze(graph)
    assert report.unsupported == {"NoSuchOp": 2}
    # 1 of 4 nodes counted (c); d keeps the frontend's reason
    assert report.node_coverage == 0.25
    assert [layer.counted for layer in report.layers] == [False, False, True, False]
    assert report.layers[0].note == "no cost rule for NoSuchOp"
    assert report.layers[3].note == "inside a dynamic loop"
    assert report.total.flops == 4


@pytest.mark.parametrize(
    "result",
    [Cost(macs=-1, flops=0), Cost(flops=1.5), Cost(flops=True), 7, (1, 2, 3)],  # type: ignore[arg-type]
    ids=["negative", "float", "bool", "int", "tuple"],
)
def test_a_rule_must_return_a_cost_of_non_negative_integers(result) -> None:
    registry = Registry()
    registry.register("Odd", lambda call: result)
    graph = _graph([Node("n", "Odd", ("x",), ("y",))], {"x": (2,), "y": (2,)}, ("x",), ("y",))
    with pytest.raises(RuleError, match=r"the cost rule for Odd .* for node 'n'"):
        analyze(graph, registry=registry)


def test_a_rule_that_exits_is_an_error_and_one_that_fails_is_not_counted() -> None:
    def exits(call: OpCall) -> Cost:
        raise SystemExit(4)

    def fails(call: OpCall) -> Cost:
        raise ZeroDivisionError

    registry = Registry()
    registry.register("Exit", exits)
    registry.register("Fail", fails)
    graph = _graph([Node("n", "Exit", ("x",), ("y",))], {"x": (2,), "y": (2,)}, ("x",), ("y",))
    with pytest.raises(RuleError, match=r"the cost rule for Exit .* called sys.exit\(4\)"):
        analyze(graph, registry=registry)
    graph = _graph([Node("n", "Fail", ("x",), ("y",))], {"x": (2,), "y": (2,)}, ("x",), ("y",))
    report = analyze(graph, registry=registry)
    assert report.layers[0].note == "not counted: ZeroDivisionError"
    assert [u.name for u in report.uncounted] == ["n"]


def _branchy(nodes: list[tuple[str, str, tuple[int, ...], str]]) -> Graph:
    """Relu nodes (name, input, shape, branch label) chained on tensor names."""
    graph_nodes = [Node(n, "Relu", (i,), (f"{n}_out",), branch=b) for n, i, _, b in nodes]
    shapes = {f"{n}_out": s for n, _, s, _ in nodes}
    shapes["x"] = nodes[0][2]
    return _graph(graph_nodes, shapes, ("x",), (f"{nodes[-1][0]}_out",))


def test_the_larger_branch_of_an_if_is_counted() -> None:
    # main: Relu (2,2) = 4; If 'cond': then = one Relu (2,2) = 4, else = Relu (2,3) 6 +
    # Relu (2,4) 8 = 14. The else branch is kept: 4 + 14 = 18 FLOPs, three layers.
    report = analyze(
        _branchy(
            [
                ("main", "x", (2, 2), ""),
                ("t1", "main_out", (2, 2), "cond:then_branch"),
                ("e1", "main_out", (2, 3), "cond:else_branch"),
                ("e2", "e1_out", (2, 4), "cond:else_branch"),
            ]
        )
    )
    assert [layer.name for layer in report.layers] == ["main", "e1", "e2"]
    assert report.total.flops == 18
    assert report.notes == (
        "If 'cond': the larger branch (else_branch) is counted "
        "(else_branch 14 FLOPs, then_branch 4 FLOPs)",
    )


def test_nested_ifs_keep_the_larger_branch_level_by_level() -> None:
    # outer If 'a': then = Relu (1,3) 3; else = Relu (2,2) 4 + inner If 'b' inside else:
    # b:x = Relu (2,5) 10, b:y = Relu (1,2) 2. Level 0: else 4 + 10 + 2 = 16 > then 3;
    # level 1: x 10 > y 2. Kept: else's Relu and b:x: 4 + 10 = 14 FLOPs.
    report = analyze(
        _branchy(
            [
                ("t", "x", (1, 3), "a:then_branch"),
                ("e", "x", (2, 2), "a:else_branch"),
                ("bx", "e_out", (2, 5), "a:else_branch|b:x"),
                ("by", "e_out", (1, 2), "a:else_branch|b:y"),
            ]
        )
    )
    assert [layer.name for layer in report.layers] == ["e", "bx"]
    assert report.total.flops == 14
    assert report.notes == (
        "If 'a': the larger branch (else_branch) is counted "
        "(else_branch 16 FLOPs, then_branch 3 FLOPs)",
        "If 'b': the larger branch (x) is counted (x 10 FLOPs, y 2 FLOPs)",
    )


def test_equal_branches_keep_the_first_by_name_and_a_lone_branch_is_noted() -> None:
    # then and else both Relu (2,3) = 6: the first by name (else_branch) is kept
    report = analyze(
        _branchy(
            [
                ("t", "x", (2, 3), "c:then_branch"),
                ("e", "x", (2, 3), "c:else_branch"),
            ]
        )
    )
    assert [layer.name for layer in report.layers] == ["e"]
    # an If whose other branch holds no layer: its one branch is counted, and said so
    report = analyze(_branchy([("t", "x", (2, 3), "c:then_branch")]))
    assert report.total.flops == 6
    assert report.notes == (
        "If 'c': the larger branch (then_branch) is counted (then_branch 6 FLOPs)",
    )


def test_training_follows_views_and_folded_bias_adds() -> None:
    """x -> MatMul(w param) + b param (folded) -> m; m viewed as v (an alias, as the PyTorch
    route records views) -> Relu. x (2,3) @ w (3,4): 24 MACs = 48 FLOPs, weight gradient only
    (x is the graph input): 48 -> 96. Relu on the view: 8 FLOPs; the view's base needs a
    gradient, so the Relu does: 2 x 8 = 16 -> 24."""
    graph = _graph(
        [
            Node("mm", "MatMul", ("x", "w"), ("m",)),
            Node("add", "Add", ("m", "b"), ("y",)),
            Node("relu", "Relu", ("v",), ("r",)),
        ],
        {"x": (2, 3), "m": (2, 4), "y": (2, 4), "v": (8,), "r": (8,)},
        ("x",),
        ("r",),
        {"w": ((3, 4), "float32", "param"), "b": ((4,), "float32", "param")},
        aliases={"v": "y"},
    )
    report = analyze(graph, training=True)
    rows = {layer.name: (layer.flops, layer.training_flops) for layer in report.layers}
    assert rows == {"mm": (48, 96), "relu": (8, 24)}
    assert report.total.training_flops == 120
    # nothing trainable upstream of a layer fed by the input alone: no backward
    frozen = _graph([Node("relu", "Relu", ("x",), ("r",))], {"x": (8,), "r": (8,)}, ("x",), ("r",))
    assert analyze(frozen, training=True).layers[0].training_flops == 8
