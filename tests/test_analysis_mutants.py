"""The analysis (Graph -> CostReport) on the inputs where a small slip in it changes a number.

Each test here pins a figure that a one-token change of src/modelprof/analysis.py (a mutant of
`make mutation`, CONTRIBUTING.md) would get wrong: an If with two like-named inner Ifs, a Loop
whose body never runs, a bias that is not per channel, a view still read next to its base, a
tensor of unknown shape. Graphs are built by hand, as the frontends build them; every tensor
is float32 (4 bytes an element) unless said otherwise, and every figure is worked in the
comments.
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
    weights: dict[str, tuple[tuple[int, ...], str]] | None = None,
    *,
    other_dtypes: dict[str, tuple[tuple[int, ...], str]] | None = None,
    **extra: Any,
) -> Graph:
    """``shapes``: every float32 tensor with a known shape; ``weights``: name -> (shape,
    kind), float32 too; ``other_dtypes``: name -> (shape, dtype) of the other tensors."""
    weights = weights or {}
    tensors = {n: TensorInfo(n, s, "float32") for n, s in shapes.items()}
    for name, (shape, _) in weights.items():
        tensors[name] = TensorInfo(name, shape, "float32")
    for name, (shape, dtype) in (other_dtypes or {}).items():
        tensors[name] = TensorInfo(name, shape, dtype)
    return Graph(
        name="g",
        source="test",
        nodes=tuple(nodes),
        tensors=tensors,
        inputs=inputs,
        outputs=outputs,
        weights={n: Weight(n, s, "float32", k) for n, (s, k) in weights.items()},  # type: ignore[arg-type]
        **extra,
    )


def _linear(
    bias_node: Node | None = None,
    *,
    m: tuple[int, ...] | None = (2, 4),
    bias: tuple[int, ...] = (4,),
    y: tuple[int, ...] = (2, 4),
) -> Graph:
    """x @ w (3,N) -> m (shape ``m``, None: unknown), then ``bias_node`` (default: Add(m, b)
    -> y); b a param of shape ``bias``."""
    known = m or (2, 4)
    x = (*known[:-1], 3)
    node = bias_node or Node("add", "Add", ("m", "b"), ("y",))
    shapes = {"x": x, "y": y} if m is None else {"x": x, "m": m, "y": y}
    return _graph(
        [Node("mm", "MatMul", ("x", "w"), ("m",)), node],
        shapes,
        ("x",),
        ("y",),
        {"w": ((3, known[-1]), "param"), "b": (bias, "param")},
    )


def _names(graph: Graph, **kwargs: Any) -> list[str]:
    return [layer.name for layer in analyze(graph, **kwargs).layers]


# -- flags and totals ---------------------------------------------------------------------------


def test_training_flops_only_when_asked_and_totals_without_buffers() -> None:
    # MatMul x (2,3) @ w (3,4): 2 x 4 outputs x K 3 = 24 MACs = 48 FLOPs; 12 params, no buffer
    graph = _graph(
        [Node("mm", "MatMul", ("x", "w"), ("y",))],
        {"x": (2, 3), "y": (2, 4)},
        ("x",),
        ("y",),
        {"w": ((3, 4), "param")},
    )
    report = analyze(graph)
    assert report.convention.training is False
    assert (report.total.training_flops, report.layers[0].training_flops) == (None, None)
    assert (report.total.params, report.total.buffers) == (12, 0)
    # asked: + the weight gradient (x is the graph input: no input gradient), 2 x 24 = 48
    assert analyze(graph, training=True).total.training_flops == 96


def test_a_graph_with_no_layer() -> None:
    # an identity model: x (2,3) is input and output, no node. Nothing left uncounted
    # (coverage 1.0), and x itself, 2 x 3 x 4 = 24 bytes, is live the whole time.
    graph = _graph([], {"x": (2, 3)}, ("x",), ("x",))
    report = analyze(graph)
    assert (report.layers, report.node_coverage) == ((), 1.0)
    assert report.total.peak_activation_bytes == 24


def test_an_empty_tensor_has_intensity_zero() -> None:
    # Relu on (0,3): 0 FLOPs over 0 bytes moved; intensity is 0.0, not a division by zero
    graph = _graph([Node("r", "Relu", ("x",), ("y",))], {"x": (0, 3), "y": (0, 3)}, ("x",), ("y",))
    layer = analyze(graph).layers[0]
    assert (layer.flops, layer.bytes_moved, layer.intensity) == (0, 0, 0.0)


def test_a_view_of_a_weight_is_that_weight() -> None:
    # the PyTorch route names w.t() an alias of w: MatMul(x, wt) reads the weight w, 12 params,
    # 48 bytes, not an activation of 48 bytes
    graph = _graph(
        [Node("mm", "MatMul", ("x", "wt"), ("y",))],
        {"x": (2, 3), "wt": (3, 4), "y": (2, 4)},
        ("x",),
        ("y",),
        {"w": ((4, 3), "param")},
        aliases={"wt": "w"},
    )
    layer = analyze(graph).layers[0]
    assert (layer.params, layer.weight_bytes, layer.input_shapes) == (12, 48, ((2, 3),))


def test_uncounted_layers_carry_no_macs() -> None:
    # a node with no rule and a node the frontend left uncounted: 0 MACs, 0 integer MACs
    graph = _graph(
        [
            Node("a", "NoSuchOp", ("x",), ("p",)),
            Node("d", "MatMulInteger", ("p", "w"), ("y",)),
        ],
        {"x": (2, 3), "p": (2, 3), "y": (2, 4)},
        ("x",),
        ("y",),
        {"w": ((3, 4), "param")},
        uncounted=(Uncounted("d", "MatMulInteger", "inside a dynamic loop"),),
    )
    report = analyze(graph)
    assert [(layer.macs, layer.flops, layer.int_macs) for layer in report.layers] == [
        (0, 0, 0),
        (0, 0, 0),
    ]


# -- the shapes a layer reads and writes --------------------------------------------------------


def test_an_omitted_input_before_a_named_one() -> None:
    # Clip(x, min omitted, max): x (2,4) and the max () are both activations read:
    # 32 + 4 = 36 bytes in, y 32 out: 68 bytes moved; 8 FLOPs (one per output element)
    graph = _graph(
        [Node("clip", "Clip", ("x", "", "hi"), ("y",))],
        {"x": (2, 4), "hi": (), "y": (2, 4)},
        ("x", "hi"),
        ("y",),
    )
    layer = analyze(graph).layers[0]
    assert (layer.flops, layer.bytes_moved) == (8, 68)
    assert layer.input_shapes == ((2, 4), ())
    # training: neither input needs a gradient (the omitted one neither): no backward
    assert analyze(graph, training=True).layers[0].training_flops == 8


def test_an_output_of_unknown_shape_before_a_known_one() -> None:
    # Split into a (shape unknown) and b (2,2): the layer writes b, 16 bytes
    graph = _graph(
        [Node("split", "Split", ("x",), ("a", "b"))],
        {"x": (4, 2), "b": (2, 2)},
        ("x",),
        ("b",),
    )
    layer = analyze(graph).layers[0]
    assert (layer.activation_bytes, layer.output_shapes) == (16, ((), (2, 2)))


def test_a_tensor_of_unknown_shape_adds_no_bytes() -> None:
    # x (2,2) -> MyOp (no rule, output h of unknown shape) -> Relu -> y (2,2): the Relu moves
    # h (unknown: 0) + y 16 = 16 bytes; the peak is x 16 (+ h 0) then y 16, never both: 16
    graph = _graph(
        [Node("my", "MyOp", ("x",), ("h",)), Node("relu", "Relu", ("h",), ("y",))],
        {"x": (2, 2), "y": (2, 2)},
        ("x",),
        ("y",),
    )
    report = analyze(graph)
    relu = report.layers[1]
    assert (relu.flops, relu.bytes_moved, relu.input_shapes) == (4, 16, ((),))
    assert report.total.peak_activation_bytes == 16


@pytest.mark.parametrize(
    ("node", "shapes", "note"),
    [
        (
            Node("r", "Relu", ("x",), ("y",)),
            {"x": (2, 2)},
            "no shape known for output 'y'",
        ),
        (
            Node("fc", "MatMul", ("h", "w"), ("y",)),
            {"y": (2, 4)},
            "no shape known for input 'h'",
        ),
    ],
    ids=["output", "input"],
)
def test_a_rule_missing_a_shape_names_the_tensor(
    node: Node, shapes: dict[str, tuple[int, ...]], note: str
) -> None:
    # docs/conventions.md: the cause is named, not the rule's own 'output 0 has no shape'
    graph = _graph([node], shapes, (), ("y",), {"w": ((3, 4), "param")})
    report = analyze(graph)
    assert (report.layers[0].counted, report.layers[0].note) == (False, note)
    assert [(u.name, u.reason) for u in report.uncounted] == [(node.name, note)]


# -- loops ---------------------------------------------------------------------------------------


def _looped(repeat: int) -> Graph:
    """Relu x (2,3) -> r; MatMul r @ w (3,4) -> m; Add(m, b (4,)) -> y (folded); NoSuchOp y -> z,
    all in a Loop body run ``repeat`` times."""
    return _graph(
        [
            Node("relu", "Relu", ("x",), ("r",), repeat=repeat),
            Node("mm", "MatMul", ("r", "w"), ("m",), repeat=repeat),
            Node("add", "Add", ("m", "b"), ("y",), repeat=repeat),
            Node("odd", "NoSuchOp", ("y",), ("z",), repeat=repeat),
        ],
        {"x": (2, 3), "r": (2, 3), "m": (2, 4), "y": (2, 4), "z": (2, 4)},
        ("x",),
        ("z",),
        {"w": ((3, 4), "param"), "b": ((4,), "param")},
    )


def test_a_loop_body_run_twice() -> None:
    report = analyze(_looped(2), count_bias=True)
    relu, mm, odd = report.layers
    # Relu: 6 FLOPs a trip x 2 = 12
    assert (relu.flops, relu.note) == (12, "x2 (static loop trip count)")
    # MatMul: 2 x 4 x 3 = 24 MACs a trip x 2 = 48 MACs, 96 FLOPs; + the bias adds asked for,
    # 8 a trip x 2 = 16: 112
    assert (mm.macs, mm.flops) == (48, 112)
    assert mm.note == "bias Add 'add' folded in; x2 (loop)"
    # the uncounted node keeps its reason, and says it is in a loop
    assert odd.note == "no cost rule for NoSuchOp; x2 (static loop trip count)"
    assert (report.total.macs, report.total.flops) == (48, 124)


def test_a_loop_that_never_runs_costs_nothing() -> None:
    # the ONNX frontend gives the body of a Loop whose trip count is 0 (or negative) repeat=0
    # and notes it on the report: every layer of it costs 0 and says nothing of a loop
    report = analyze(_looped(0), count_bias=True)
    relu, mm, odd = report.layers
    assert (relu.flops, relu.note) == (0, "")
    assert (mm.macs, mm.flops, mm.note) == (0, 0, "bias Add 'add' folded in")
    assert odd.note == "no cost rule for NoSuchOp"
    # its weights are still the model's: 12 + 4 params
    assert (report.total.flops, mm.params) == (0, 16)


# -- bias Adds: which are folded ------------------------------------------------------------------


def test_a_bias_given_first_whatever_its_name_is_folded() -> None:
    # Add(zb, m): the bias named after the MatMul's output, and given first: folded;
    # params 12 + 4
    graph = _graph(
        [Node("mm", "MatMul", ("x", "w"), ("m",)), Node("add", "Add", ("zb", "m"), ("y",))],
        {"x": (2, 3), "m": (2, 4), "y": (2, 4)},
        ("x",),
        ("y",),
        {"w": ((3, 4), "param"), "zb": ((4,), "param")},
    )
    report = analyze(graph)
    assert [(layer.name, layer.params) for layer in report.layers] == [("mm", 16)]


@pytest.mark.parametrize(
    ("graph", "why"),
    [
        (
            _graph(
                [Node("relu", "Relu", ("x",), ("m",)), Node("add", "Add", ("m", "b"), ("y",))],
                {"x": (2, 4), "m": (2, 4), "y": (2, 4)},
                ("x",),
                ("y",),
                {"b": ((4,), "param")},
            ),
            "after a Relu: only Conv, ConvTranspose, Gemm and MatMul take a bias",
        ),
        (_linear(Node("add", "Mul", ("m", "b"), ("y",))), "a Mul, not an Add"),
        (
            _linear(Node("add", "ATen", ("m", "b"), ("y",))),
            "an ATen fallback op (ONNX_ATEN_FALLBACK exports), not an Add",
        ),
        (
            _linear(Node("add", "Add", ("m",), ("y",))),
            "the PyTorch route's m + 1.0: an Add of one tensor",
        ),
        (
            _linear(Node("add", "Add", ("m", "b", "b"), ("y",))),
            "an Add of three tensors, m + b + b (no ONNX Add has three): not a plain bias add",
        ),
        (_linear(bias=(1,)), "one value for every element, not one per channel"),
        (
            _linear(m=(2, 1), y=(2, 3), bias=(3,)),
            "(2,1) + (3,) widens the output to (2,3): not a bias",
        ),
        (_linear(m=(4,), y=(4,)), "a 1-D output has no channel axis: (4,) + (4,) is elementwise"),
        (
            _linear(m=(0, 4), y=(0, 4), bias=(0, 4)),
            "an empty (0,4) tensor, not one value per channel",
        ),
        (_linear(m=None), "the MatMul's output shape is unknown: the bias cannot be checked"),
    ],
    ids=[
        "relu",
        "mul",
        "aten",
        "one-input",
        "three-inputs",
        "scalar",
        "wider",
        "1d",
        "empty",
        "unknown",
    ],
)
def test_not_a_bias(graph: Graph, why: str) -> None:
    report = analyze(graph)
    assert [layer.name for layer in report.layers] == [graph.nodes[0].name, "add"], why
    assert "folded" not in report.layers[0].note


def test_a_bias_add_whose_bias_has_no_tensor_info_is_not_folded() -> None:
    # a hand-built graph may list a weight without a TensorInfo: its shape is then unknown,
    # and the Add is not folded (the Add costs its 8 output elements)
    graph = _linear()
    tensors = {n: t for n, t in graph.tensors.items() if n != "b"}
    graph = Graph(graph.name, graph.source, graph.nodes, tensors, ("x",), ("y",), graph.weights)
    report = analyze(graph)
    assert [(layer.name, layer.flops) for layer in report.layers] == [("mm", 48), ("add", 8)]


def test_a_producer_read_twice_or_with_other_than_one_output_is_not_folded() -> None:
    # m is read by the Add and by a Relu: the Add is not the MatMul's bias, m is needed as is
    graph = _graph(
        [
            Node("mm", "MatMul", ("x", "w"), ("m",)),
            Node("add", "Add", ("m", "b"), ("y",)),
            Node("relu", "Relu", ("m",), ("r",)),
        ],
        {"x": (2, 3), "m": (2, 4), "y": (2, 4), "r": (2, 4)},
        ("x",),
        ("y", "r"),
        {"w": ((3, 4), "param"), "b": ((4,), "param")},
    )
    assert _names(graph) == ["mm", "add", "relu"]
    # a MatMul with a second output (a hand-built graph): folding would drop that output
    two = _linear()
    two = Graph(
        two.name,
        two.source,
        (Node("mm", "MatMul", ("x", "w"), ("m", "aux")), two.nodes[1]),
        two.tensors,
        ("x",),
        ("y",),
        two.weights,
    )
    assert _names(two) == ["mm", "add"]
    # a MatMul with no output at all: not counted (its output has no shape), nothing folded
    none = _graph(
        [Node("mm", "MatMul", ("x", "w"), ())],
        {"x": (2, 3)},
        ("x",),
        (),
        {"w": ((3, 4), "param")},
    )
    report = analyze(none)
    assert [(layer.name, layer.counted) for layer in report.layers] == [("mm", False)]


def test_a_conv_bias_varies_along_the_channels_only() -> None:
    # x (1,2,4,4) conv w (3,2,3,3) -> c (1,3,2,2); c + b with b (3,2,1): it varies along the
    # height too, so it is no per-channel bias
    graph = _graph(
        [Node("conv", "Conv", ("x", "w"), ("c",)), Node("add", "Add", ("c", "b"), ("y",))],
        {"x": (1, 2, 4, 4), "c": (1, 3, 2, 2), "y": (1, 3, 2, 2)},
        ("x",),
        ("y",),
        {"w": ((3, 2, 3, 3), "param"), "b": ((3, 2, 1), "param")},
    )
    assert _names(graph) == ["conv", "add"]


# -- If branches -----------------------------------------------------------------------------


def _relus(rows: list[tuple[str, tuple[int, ...], str]]) -> Graph:
    """One Relu per row (name, shape, branch label), each reading the graph input x (1,1)."""
    nodes = [Node(n, "Relu", ("x",), (f"{n}_out",), branch=b) for n, _, b in rows]
    shapes = {f"{n}_out": s for n, s, _ in rows}
    return _graph(nodes, {"x": (1, 1), **shapes}, ("x",), tuple(shapes))


def test_inner_ifs_of_one_name_under_two_outer_ifs_are_told_apart() -> None:
    # If 'a' and If 'c' (each with a then branch only) each hold an If named 'b' (a
    # hand-built graph may reuse a name). Under a: b:x 10 > b:y 2, keep x; under c: b:x 3 <
    # b:y 8, keep y. Kept: a's b:x and c's b:y, 10 + 8 = 18 FLOPs.
    report = analyze(
        _relus(
            [
                ("ax", (2, 5), "a:then|b:x"),
                ("ay", (1, 2), "a:then|b:y"),
                ("cx", (1, 3), "c:then|b:x"),
                ("cy", (2, 4), "c:then|b:y"),
            ]
        )
    )
    assert [layer.name for layer in report.layers] == ["ax", "cy"]
    assert report.total.flops == 18
    assert report.notes == (
        "If 'a': the larger branch (then) is counted (then 12 FLOPs)",
        "If 'c': the larger branch (then) is counted (then 11 FLOPs)",
        "If 'b': the larger branch (x) is counted (x 10 FLOPs, y 2 FLOPs)",
        "If 'b': the larger branch (y) is counted (x 3 FLOPs, y 8 FLOPs)",
    )


def test_two_ifs_in_a_row_each_keep_their_own_larger_branch() -> None:
    # If 'p': then 6 > else 2, keep then; If 'q': then 1 < else 4, keep else: 6 + 4 = 10
    report = analyze(
        _relus(
            [
                ("pt", (2, 3), "p:then"),
                ("pe", (1, 2), "p:else"),
                ("qt", (1, 1), "q:then"),
                ("qe", (2, 2), "q:else"),
            ]
        )
    )
    assert [layer.name for layer in report.layers] == ["pt", "qe"]
    assert report.total.flops == 10


# -- training ---------------------------------------------------------------------------------


def test_training_a_buffer_needs_no_gradient_and_a_free_layer_adds_nothing() -> None:
    # x (2,4) * mask (a buffer, (4,)): nothing trainable upstream, 8 FLOPs, no backward.
    # x @ w (a param) -> m: 24 MACs, 48 FLOPs + weight gradient 48 = 96; Reshape of m: free,
    # training_flops 0. Total 8 + 96 + 0 = 104.
    graph = _graph(
        [
            Node("mul", "Mul", ("x", "mask"), ("y",)),
            Node("mm", "MatMul", ("y", "w"), ("m",)),
            Node("rs", "Reshape", ("m", "shape"), ("r",)),
        ],
        {"x": (2, 4), "y": (2, 4), "m": (2, 3), "r": (6,), "shape": (1,)},
        ("x",),
        ("r",),
        {"mask": ((4,), "buffer"), "w": ((4, 3), "param")},
        constants=frozenset({"shape"}),
    )
    report = analyze(graph, training=True)
    rows = [(layer.name, layer.flops, layer.training_flops) for layer in report.layers]
    assert rows == [("mul", 8, 8), ("mm", 48, 96), ("rs", 0, 0)]
    assert report.total.training_flops == 104


def test_training_quantisation_passes_the_gradient_straight_through() -> None:
    # x (2,3) @ w (3,4) -> m: 48 FLOPs, backward 48 (weight gradient). DynamicQuantizeLinear
    # of m -> y (2,4), y_scale (), y_zero_point (): 6 FLOPs x 8 elements = 48, backward 1 per
    # element of y = 8: 56. A QuantizeLinear the frontend left uncounted: 0 and 0.
    graph = _graph(
        [
            Node("mm", "MatMul", ("x", "w"), ("m",)),
            Node("dq", "DynamicQuantizeLinear", ("m",), ("y", "ys", "yz")),
            Node("q", "QuantizeLinear", ("m", "s", "z"), ("q_out",)),
        ],
        {"x": (2, 3), "m": (2, 4), "y": (2, 4), "ys": (), "yz": (), "q_out": (2, 4)},
        ("x",),
        ("y", "q_out"),
        {"w": ((3, 4), "param")},
        constants=frozenset({"s", "z"}),
        uncounted=(Uncounted("q", "QuantizeLinear", "inside a dynamic loop"),),
    )
    report = analyze(graph, training=True)
    rows = [(layer.name, layer.flops, layer.training_flops) for layer in report.layers]
    assert rows == [("mm", 48, 96), ("dq", 48, 56), ("q", 0, 0)]


# -- counts read from a tensor whose shape is not recorded ------------------------------------


def test_a_folded_bias_whose_add_has_no_shape_counts_the_producers_elements() -> None:
    # x (2,3) @ w (3,4) -> m (2,4), + b (4,) -> y, y's shape not recorded (a hand-built graph;
    # a partly inferred one). MatMul: 2 x 4 outputs x K 3 = 24 MACs = 48 FLOPs; the bias adds
    # asked for are one per element of m, which y shares: 2 x 4 = 8, so 56 (never 48 + 0)
    graph = _graph(
        [Node("mm", "MatMul", ("x", "w"), ("m",)), Node("add", "Add", ("m", "b"), ("y",))],
        {"x": (2, 3), "m": (2, 4)},
        ("x",),
        ("y",),
        {"w": ((3, 4), "param"), "b": ((4,), "param")},
    )
    [layer] = analyze(graph, count_bias=True).layers
    assert (layer.macs, layer.flops, layer.note) == (24, 56, "bias Add 'add' folded in")


@pytest.mark.parametrize(
    ("node", "forward"),
    [
        # QuantizeLinear: 4 FLOPs per element of m (2,4) = 32
        (Node("q", "QuantizeLinear", ("m", "s", "z"), ("y",)), 32),
        # DynamicQuantizeLinear: 6 per element = 48; y_scale and y_zero_point are () (one
        # element each): the count must come from y's input, not from them
        (Node("q", "DynamicQuantizeLinear", ("m",), ("y", "ys", "yz")), 48),
    ],
    ids=["quantize", "dynamic"],
)
def test_training_straight_through_whose_output_has_no_shape(node: Node, forward: int) -> None:
    # x (2,3) @ w (3,4) -> m (2,4): 48 FLOPs + weight gradient 48 = 96. The quantize op's
    # output y has no recorded shape; it has m's (an elementwise map): the straight-through
    # backward is 1 FLOP per element, 2 x 4 = 8, so training_flops = forward + 8 (not + 0)
    graph = _graph(
        [Node("mm", "MatMul", ("x", "w"), ("m",)), node],
        {"x": (2, 3), "m": (2, 4), "ys": (), "yz": ()},
        ("x",),
        ("y",),
        {"w": ((3, 4), "param")},
        constants=frozenset({"s", "z"}),
    )
    report = analyze(graph, training=True)
    rows = [(layer.name, layer.flops, layer.training_flops) for layer in report.layers]
    assert rows == [("mm", 48, 96), ("q", forward, forward + 8)]
    assert report.uncounted == ()


def test_training_straight_through_with_no_shape_at_all_is_noted_not_zero() -> None:
    # a user's QuantizeLinear rule that needs no shape (5 FLOPs whatever the size) on m and y,
    # neither of which has a shape: the forward is its 5 FLOPs, the backward cannot be counted
    # and is listed as such. MatMul (no rule in this registry) is unsupported, its backward
    # not counted with it; the Reshape after q (zero cost, shapes unknown too) needs no shape
    # at all: its backward is 0 and nothing is listed for it.
    registry = Registry()
    registry.register("QuantizeLinear", lambda call: Cost(0, 5))
    registry.register_zero(["Reshape"])
    graph = _graph(
        [
            Node("mm", "MatMul", ("x", "w"), ("m",)),
            Node("q", "QuantizeLinear", ("m", "s", "z"), ("y",)),
            Node("rs", "Reshape", ("y", "shape"), ("r",)),
        ],
        {"x": (2, 3)},
        ("x",),
        ("r",),
        {"w": ((3, 4), "param")},
        constants=frozenset({"s", "z", "shape"}),
    )
    report = analyze(graph, training=True, registry=registry)
    rows = [(layer.name, layer.flops, layer.training_flops) for layer in report.layers]
    assert rows == [("mm", 0, 0), ("q", 5, 5), ("rs", 0, 0)]
    assert report.unsupported == {"MatMul": 1}
    reason = "backward not counted: no shape known for output 'y' or input 'm'"
    assert report.uncounted == (Uncounted("q", "QuantizeLinear", reason),)


def test_a_shapeless_dynamic_quantizer_names_its_data_output() -> None:
    # DynamicQuantizeLinear has three outputs (y, y_scale, y_zero_point): the note names y,
    # the one with x's shape, not the last
    registry = Registry()
    registry.register("DynamicQuantizeLinear", lambda call: Cost(0, 7))
    graph = _graph(
        [
            Node("mm", "MatMul", ("x", "w"), ("m",)),
            Node("dq", "DynamicQuantizeLinear", ("m",), ("y", "ys", "yz")),
        ],
        {"x": (2, 3)},
        ("x",),
        ("y",),
        {"w": ((3, 4), "param")},
    )
    report = analyze(graph, training=True, registry=registry)
    reason = "backward not counted: no shape known for output 'y' or input 'm'"
    assert report.uncounted == (Uncounted("dq", "DynamicQuantizeLinear", reason),)


# -- bad rule results ---------------------------------------------------------------------------


class _Unlistable(Cost):
    """A Cost whose iteration fails (a user's subclass gone wrong)."""

    __slots__ = ()

    def __iter__(self) -> Any:
        raise ValueError("cannot iterate")


class _Unshowable:
    def __repr__(self) -> str:
        raise ValueError("cannot show")


class _SevenRule:
    """A callable object as a rule: it has no __qualname__ of its own."""

    def __call__(self, call: OpCall) -> Any:
        return 7


def _odd_graph() -> Graph:
    return _graph([Node("n", "Odd", ("x",), ("y",))], {"x": (2,), "y": (2,)}, ("x",), ("y",))


def test_a_bad_rule_result_is_refused_naming_the_rule() -> None:
    def seven(call: OpCall) -> Any:
        return 7

    cases: list[tuple[Any, str]] = [
        (
            seven,
            r"\(test_a_bad_rule_result_is_refused_naming_the_rule.<locals>.seven\) "
            r"returned 7 for node 'n'",
        ),
        (_SevenRule(), r"\(_SevenRule\) returned 7 for node 'n'"),
        (
            lambda call: _Unlistable(1, 2, 0),
            r"\(.*\) returned _Unlistable\(macs=1, flops=2, int_macs=0\) for node 'n'",
        ),
        (
            lambda call: _Unshowable(),
            r"\(.*\) returned a _Unshowable that cannot be shown for node 'n'",
        ),
    ]
    for rule, message in cases:
        registry = Registry()
        registry.register("Odd", rule)
        with pytest.raises(RuleError, match=r"the cost rule for Odd " + message):
            analyze(_odd_graph(), registry=registry)


# -- the peak-memory walk -----------------------------------------------------------------------


def test_a_view_read_next_to_its_base_shares_its_buffer() -> None:
    # x (1,1000) = 4,000 bytes; z = Reshape(x) to (1000,) is a view of x; y = Add(z, x) reads
    # both: the peak is x + y = 8,000 (a Reshape that allocated would hold z too: 12,000)
    graph = _graph(
        [
            Node("rs", "Reshape", ("x", "shape"), ("z",)),
            Node("add", "Add", ("z", "x"), ("y",)),
        ],
        {"x": (1, 1000), "shape": (1,), "z": (1000,), "y": (1, 1000)},
        ("x",),
        ("y",),
        constants=frozenset({"shape"}),
    )
    assert analyze(graph).total.peak_activation_bytes == 8_000
    # x -> z = Reshape(x) -> y = Relu(z): x is read through its view z by the Relu, so it is
    # still live when y is born: x + y = 8,000 (were z not known as x's view, x would be freed
    # after the Reshape and the peak would be 4,000)
    through_view = _graph(
        [
            Node("rs", "Reshape", ("x", "shape"), ("z",)),
            Node("relu", "Relu", ("z",), ("y",)),
        ],
        {"x": (1, 1000), "shape": (1,), "z": (1000,), "y": (1000,)},
        ("x",),
        ("y",),
        constants=frozenset({"shape"}),
    )
    assert analyze(through_view).total.peak_activation_bytes == 8_000
    # an in-place view (the PyTorch route's x.unsqueeze_(0) writes x's own name): still one
    # buffer, x 4,000 + y 4,000
    in_place = _graph(
        [
            Node("v", "Unsqueeze", ("x",), ("x",)),
            Node("relu", "Relu", ("x",), ("y",)),
        ],
        {"x": (1, 1000), "y": (1, 1000)},
        ("x",),
        ("y",),
    )
    assert analyze(in_place).total.peak_activation_bytes == 8_000


def test_a_constant_a_node_computes_is_not_an_activation() -> None:
    # s = Shape(x), a (2,) int64 whose value the frontend knows (a constant), then
    # y = ReduceSum(x) (1,1): the peak is x 4,000 + y 4 = 4,004, without s's 16 bytes (which
    # would make it x + s = 4,016 at the Shape)
    graph = _graph(
        [
            Node("shape", "Shape", ("x",), ("s",)),
            Node("sum", "ReduceSum", ("x",), ("y",)),
        ],
        {"x": (1, 1000), "y": (1, 1)},
        ("x",),
        ("y",),
        other_dtypes={"s": ((2,), "int64")},
        constants=frozenset({"s"}),
    )
    assert analyze(graph).total.peak_activation_bytes == 4_004


def test_an_omitted_output_before_a_named_one() -> None:
    # LSTM with Y omitted writes only Y_h (1,1,2) = 8 bytes: peak x (5,1,8) 160 + 8 = 168
    graph = _graph(
        [Node("lstm", "LSTM", ("x", "W", "R"), ("", "yh"), {"hidden_size": 2})],
        {"x": (5, 1, 8), "yh": (1, 1, 2)},
        ("x",),
        ("yh",),
        {"W": ((1, 8, 8), "param"), "R": ((1, 8, 2), "param")},
    )
    assert analyze(graph).total.peak_activation_bytes == 168


def test_a_graph_output_read_again_stays_live_to_the_end() -> None:
    # x 4,000 -> a = Relu(x) (an output) -> b = Relu(a) -> c = Relu(b) (an output). a is kept
    # to the end: after c is born, a + b + c = 12,000 are live (were a freed after its last
    # reader, the peak would be 8,000)
    graph = _graph(
        [
            Node("r1", "Relu", ("x",), ("a",)),
            Node("r2", "Relu", ("a",), ("b",)),
            Node("r3", "Relu", ("b",), ("c",)),
        ],
        {"x": (1, 1000), "a": (1, 1000), "b": (1, 1000), "c": (1, 1000)},
        ("x",),
        ("a", "c"),
    )
    assert analyze(graph).total.peak_activation_bytes == 12_000


def test_a_large_input_is_live_from_the_start() -> None:
    # x (1,1000) 4,000 -> s = ReduceSum(x) (1,1) 4 -> y = Relu(s) 4: x and s live together,
    # 4,004; then s and y, 8
    graph = _graph(
        [
            Node("sum", "ReduceSum", ("x",), ("s",)),
            Node("relu", "Relu", ("s",), ("y",)),
        ],
        {"x": (1, 1000), "s": (1, 1), "y": (1, 1)},
        ("x",),
        ("y",),
    )
    assert analyze(graph).total.peak_activation_bytes == 4_004
