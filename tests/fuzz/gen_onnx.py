"""ONNX models: valid small ones built with onnx.helper, then broken on purpose.

Why start valid: a random byte string is refused by the protobuf parser in its first bytes and
never reaches modelprof's own code. A valid model, mutated one structural step away (a node
input dropped, a cycle, an attribute of the wrong type, a dimension of 2**62, a weight file that
escapes the folder), gets through the parser and exercises the structure check, the shape
passes, the cost rules and the renderers, which is where the bugs a user can trigger live. The
byte-level family then covers what the parser itself sees (truncated downloads, flipped bits).

Every builder returns the model and the ``--input-shape`` arguments that bind its dynamic dims.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import mutate
from .case import Case, Workspace

FLOAT = TensorProto.FLOAT


@dataclass
class Built:
    model: onnx.ModelProto
    #: ``--input-shape`` values that bind the dynamic dims (empty when the model is static)
    bind: list[str] = field(default_factory=list)
    #: a dim name usable with --sweep/--symbolic, if any
    dim: str | None = None


def _vi(name: str, shape: list[int | str] | None, elem: int = FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def _init(rng: random.Random, name: str, shape: tuple[int, ...]) -> onnx.TensorProto:
    gen = np.random.default_rng(rng.randrange(2**32))
    return numpy_helper.from_array(gen.standard_normal(shape).astype(np.float32), name)


def _ints(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def _model(
    graph: onnx.GraphProto, opset: int, extra: list[tuple[str, int]] = ()
) -> onnx.ModelProto:
    imports = [helper.make_opsetid("", opset), *(helper.make_opsetid(d, v) for d, v in extra)]
    model = helper.make_model(graph, opset_imports=imports, producer_name="fuzz")
    model.ir_version = 8
    return model


def _batch(rng: random.Random) -> tuple[int | str, list[str], str | None]:
    """A batch dim: 1, or the name N (bound to a small value on the command line)."""
    if rng.random() < 0.4:
        return "N", [], "N"
    return 1, [], None


def conv_net(rng: random.Random) -> Built:
    """Conv(+bias) -> Relu -> Max/AveragePool -> Flatten -> Gemm -> Softmax: the usual CNN."""
    n, bind, dim = _batch(rng)
    c = rng.choice([1, 3])
    k = rng.choice([4, 8])
    pool = rng.choice(["MaxPool", "AveragePool"])
    nodes = [
        helper.make_node(
            "Conv",
            ["x", "w", "b"],
            ["c"],
            name="conv0",
            pads=[1, 1, 1, 1],
            kernel_shape=[3, 3],
            strides=[1, 1],
        ),
        helper.make_node("Relu", ["c"], ["r"], name="relu0"),
        helper.make_node(pool, ["r"], ["p"], name="pool0", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="flat0", axis=1),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["g"], name="fc0", transB=1),
        helper.make_node("Softmax", ["g"], ["y"], name="soft0", axis=1),
    ]
    inits = [
        _init(rng, "w", (k, c, 3, 3)),
        _init(rng, "b", (k,)),
        _init(rng, "fc_w", (10, k * 4 * 4)),
        _init(rng, "fc_b", (10,)),
    ]
    graph = helper.make_graph(
        nodes, "conv_net", [_vi("x", [n, c, 8, 8])], [_vi("y", [n, 10])], inits
    )
    if dim:
        bind = [f"x=2x{c}x8x8"]
    return Built(_model(graph, rng.choice([13, 17, 19])), bind, dim)


def mlp(rng: random.Random) -> Built:
    """MatMul -> Add -> Relu -> MatMul -> Softmax: the transformer-ish dense path."""
    n, bind, dim = _batch(rng)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["m1"], name="mm1"),
        helper.make_node("Add", ["m1", "b1"], ["a1"], name="add1"),
        helper.make_node("Relu", ["a1"], ["r1"], name="relu1"),
        helper.make_node("MatMul", ["r1", "w2"], ["m2"], name="mm2"),
        helper.make_node("Softmax", ["m2"], ["y"], name="soft", axis=-1),
    ]
    inits = [_init(rng, "w1", (16, 32)), _init(rng, "b1", (32,)), _init(rng, "w2", (32, 4))]
    graph = helper.make_graph(nodes, "mlp", [_vi("x", [n, 16])], [_vi("y", [n, 4])], inits)
    if dim:
        bind = ["x=3x16"]
    return Built(_model(graph, rng.choice([13, 17, 20])), bind, dim)


def slicer(rng: random.Random) -> Built:
    """Slice + Concat + Reshape + Sigmoid: value inputs that shape inference must read."""
    nodes = [
        helper.make_node("Slice", ["x", "st", "en", "ax"], ["s"], name="slice0"),
        helper.make_node("Concat", ["x", "s"], ["c"], name="concat0", axis=2),
        helper.make_node("Reshape", ["c", "shape"], ["r"], name="reshape0"),
        helper.make_node("Sigmoid", ["r"], ["y"], name="sig0"),
    ]
    inits = [_ints("st", [1]), _ints("en", [4]), _ints("ax", [2]), _ints("shape", [1, -1])]
    graph = helper.make_graph(nodes, "slicer", [_vi("x", [1, 4, 6])], [_vi("y", [1, 36])], inits)
    return Built(_model(graph, rng.choice([13, 17])))


def pools(rng: random.Random) -> Built:
    """Conv -> AveragePool -> GlobalAveragePool -> Reshape, plus a BatchNormalization."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3], group=1),
        helper.make_node("BatchNormalization", ["c", "s", "bb", "mean", "var"], ["bn"], name="bn"),
        helper.make_node("AveragePool", ["bn"], ["p"], name="avg", kernel_shape=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p"], ["g"], name="gap"),
        helper.make_node("Reshape", ["g", "shape"], ["y"], name="flat"),
    ]
    inits = [
        _init(rng, "w", (6, 2, 3, 3)),
        *(_init(rng, n, (6,)) for n in ("s", "bb", "mean")),
        numpy_helper.from_array(np.ones(6, np.float32), "var"),
        _ints("shape", [1, 6]),
    ]
    graph = helper.make_graph(nodes, "pools", [_vi("x", [1, 2, 9, 9])], [_vi("y", [1, 6])], inits)
    return Built(_model(graph, 17))


def if_model(rng: random.Random) -> Built:
    """If with a Relu branch and a MatMul branch: subgraphs, and their outer-scope names."""
    then_g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["t"], name="then_relu")], "then", [], [_vi("t", [1, 8])]
    )
    else_g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["e"], name="else_mm")],
        "else",
        [],
        [_vi("e", [1, 8])],
    )
    nodes = [
        helper.make_node("If", ["cond"], ["y"], name="if0", then_branch=then_g, else_branch=else_g)
    ]
    graph = helper.make_graph(
        nodes,
        "if_model",
        [_vi("x", [1, 8]), _vi("cond", [], TensorProto.BOOL)],
        [_vi("y", [1, 8])],
        [_init(rng, "w", (8, 8))],
    )
    return Built(_model(graph, 17))


def loop_model(rng: random.Random) -> Built:
    """Loop with a constant trip count over Tanh(MatMul(state, W)): a body with a signature."""
    trips = rng.choice([0, 1, 3, 7])
    body = helper.make_graph(
        [
            helper.make_node("MatMul", ["s_in", "w"], ["m"], name="body_mm"),
            helper.make_node("Tanh", ["m"], ["s_out"], name="body_tanh"),
            helper.make_node("Identity", ["c_in"], ["c_out"], name="body_id"),
        ],
        "body",
        [_vi("i", [], TensorProto.INT64), _vi("c_in", [], TensorProto.BOOL), _vi("s_in", [1, 8])],
        [_vi("c_out", [], TensorProto.BOOL), _vi("s_out", [1, 8])],
    )
    nodes = [helper.make_node("Loop", ["trips", "cond", "x"], ["y"], name="loop0", body=body)]
    graph = helper.make_graph(
        nodes,
        "loop_model",
        [_vi("x", [1, 8])],
        [_vi("y", [1, 8])],
        [
            _init(rng, "w", (8, 8)),
            numpy_helper.from_array(np.array(trips, dtype=np.int64), "trips"),
            numpy_helper.from_array(np.array(True), "cond"),
        ],
    )
    return Built(_model(graph, 17))


def custom_op(rng: random.Random) -> Built:
    """A node of a custom domain (com.fuzz FuzzOp) between two counted ones: what --rules and
    --strict are for."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="pre"),
        helper.make_node("FuzzOp", ["a"], ["b"], name="fuzz0", domain="com.fuzz", alpha=2),
        helper.make_node("MatMul", ["b", "w"], ["y"], name="post"),
    ]
    graph = helper.make_graph(
        nodes,
        "custom_op",
        [_vi("x", [1, 8])],
        [_vi("y", [1, 4])],
        [_init(rng, "w", (8, 4))],
        value_info=[_vi("b", [1, 8])],
    )
    return Built(_model(graph, 17, [("com.fuzz", 1)]))


def deep_if(rng: random.Random) -> Built:
    """Ifs nested inside Ifs (in the then-branch; the else-branch is a leaf, or the model would
    double at each level): recursion in every pass that walks subgraphs."""
    depth = rng.choice([2, 8, 20, 32])

    def leaf(out: str) -> onnx.GraphProto:
        relu = helper.make_node("Relu", ["x"], [out], name=f"leaf_{out}")
        return helper.make_graph([relu], f"leaf_{out}", [], [_vi(out, [1, 4])])

    inner = leaf("o0")
    for level in range(1, depth + 1):
        node = helper.make_node(
            "If",
            ["cond"],
            [f"o{level}"],
            name=f"if{level}",
            then_branch=inner,
            else_branch=leaf(f"e{level}"),
        )
        inner = helper.make_graph([node], f"g{level}", [], [_vi(f"o{level}", [1, 4])])
    graph = helper.make_graph(
        list(inner.node),
        "deep_if",
        [_vi("x", [1, 4]), _vi("cond", [], TensorProto.BOOL)],
        [_vi(f"o{depth}", [1, 4])],
    )
    return Built(_model(graph, 17))


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes | str | int) -> bytes:
    if isinstance(payload, int):
        return _key(number, 0) + _varint(payload)
    data = payload.encode() if isinstance(payload, str) else payload
    return _key(number, 2) + _varint(len(data)) + data


def deep_if_bytes(rng: random.Random) -> bytes:
    """Ifs nested deeper than protobuf will build or parse (its limit is 100 levels of
    messages, three per If): written as raw protobuf bytes, since onnx.helper cannot."""
    depth = rng.choice([40, 100, 400, 3000])
    leaf = onnx.GraphProto()
    leaf.CopyFrom(
        helper.make_graph(
            [helper.make_node("Relu", ["x"], ["o0"], name="leaf")], "leaf", [], [_vi("o0", [1, 4])]
        )
    )
    inner = leaf.SerializeToString()
    for level in range(1, depth + 1):
        branch_then = _field(1, "then_branch") + _field(6, inner) + _field(20, 5)
        branch_else = _field(1, "else_branch") + _field(6, leaf.SerializeToString()) + _field(20, 5)
        node = (
            _field(1, "cond") + _field(2, f"o{level}") + _field(3, f"if{level}")
            + _field(4, "If") + _field(5, branch_then) + _field(5, branch_else)
        )  # fmt: skip
        out = _vi(f"o{level}", [1, 4]).SerializeToString()
        graph = _field(1, node) + _field(2, f"g{level}") + _field(12, out)
        if level == depth:
            for vi in (_vi("x", [1, 4]), _vi("cond", [], TensorProto.BOOL)):
                graph += _field(11, vi.SerializeToString())
        inner = graph
    opset = _field(1, "") + _field(2, 17)
    return _field(1, 8) + _field(2, "fuzz") + _field(7, inner) + _field(8, opset)


BUILDERS: dict[str, Callable[[random.Random], Built]] = {
    "conv": conv_net,
    "mlp": mlp,
    "slicer": slicer,
    "pools": pools,
    "if": if_model,
    "loop": loop_model,
    "custom": custom_op,
    "deep_if": deep_if,
}


# -- structural mutations ------------------------------------------------------------------------
# each takes (rng, model) and mutates the model in place; a return value names what it did


def _all_nodes(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """Every node, subgraphs included (mutations reach into If and Loop bodies too)."""
    found = []
    for node in graph.node:
        found.append(node)
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                found.extend(_all_nodes(attr.g))
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    found.extend(_all_nodes(g))
    return found


def _node(rng: random.Random, m: onnx.ModelProto) -> onnx.NodeProto:
    nodes = _all_nodes(m.graph)
    return nodes[rng.randrange(len(nodes))]


def drop_input(rng: random.Random, m: onnx.ModelProto) -> str:
    node = _node(rng, m)
    if not node.input:
        return "drop_input(none)"
    i = rng.randrange(len(node.input))
    if rng.random() < 0.5:
        del node.input[i]
        return f"drop_input({node.op_type})"
    node.input[i] = ""
    return f"blank_input({node.op_type})"


def duplicate_input(rng: random.Random, m: onnx.ModelProto) -> str:
    node = _node(rng, m)
    if node.input:
        node.input.append(node.input[rng.randrange(len(node.input))])
    return f"duplicate_input({node.op_type})"


def rename_input(rng: random.Random, m: onnx.ModelProto) -> str:
    node = _node(rng, m)
    if node.input:
        node.input[rng.randrange(len(node.input))] = rng.choice(["ghost", "y", "x", "w"])
    return f"rename_input({node.op_type})"


def drop_output(rng: random.Random, m: onnx.ModelProto) -> str:
    node = _node(rng, m)
    if node.output:
        if rng.random() < 0.5:
            del node.output[:]
        else:
            node.output[0] = ""
    return f"drop_output({node.op_type})"


def duplicate_output(rng: random.Random, m: onnx.ModelProto) -> str:
    nodes = list(m.graph.node)
    if len(nodes) >= 2:
        a, b = rng.sample(nodes, 2)
        if a.output and b.output:
            b.output[0] = a.output[0]
    return "duplicate_output"


def cycle(rng: random.Random, m: onnx.ModelProto) -> str:
    """A later node's output fed back into an earlier node (or a node into itself)."""
    nodes = list(m.graph.node)
    i = rng.randrange(len(nodes))
    j = rng.randrange(i, len(nodes))
    if nodes[i].input and nodes[j].output:
        nodes[i].input[0] = nodes[j].output[0]
    return "self_loop" if i == j else "cycle"


def reorder(rng: random.Random, m: onnx.ModelProto) -> str:
    nodes = list(m.graph.node)
    rng.shuffle(nodes)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return "reorder"


_WRONG_TYPED = [
    lambda name: helper.make_attribute(name, "3x3"),
    lambda name: helper.make_attribute(name, 1.5),
    lambda name: helper.make_attribute(name, [1.5, 2.5]),
    lambda name: helper.make_attribute(name, ["a", "b"]),
    lambda name: helper.make_attribute(name, 7),
    lambda name: helper.make_attribute(name, []),  # an empty list has no type
    lambda name: helper.make_attribute(name, numpy_helper.from_array(np.zeros(2, np.float32))),
    lambda name: helper.make_attribute(name, helper.make_graph([], "empty", [], [])),
]


def wrong_attr_type(rng: random.Random, m: onnx.ModelProto) -> str:
    node = _node(rng, m)
    names = [a.name for a in node.attribute if a.type != onnx.AttributeProto.GRAPH]
    name = rng.choice(names or ["kernel_shape", "axis", "strides", "perm"])
    try:
        attr = rng.choice(_WRONG_TYPED)(name)
    except (ValueError, TypeError):  # make_attribute refuses some; build it by hand
        attr = onnx.AttributeProto(name=name, type=onnx.AttributeProto.INTS)
    keep = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend([*keep, attr])
    return f"wrong_attr_type({node.op_type}.{name})"


_BAD_VALUES = {
    "strides": [[0, 0], [-1, -1], [2**40, 1], [1]],
    "pads": [[-1, -1, -1, -1], [2**40, 0, 0, 0], [1, 1], [5, 5, 5, 5]],
    "dilations": [[0, 0], [-2, -2], [2**31, 2**31]],
    "kernel_shape": [[0, 0], [100, 100], [-3, 3], [3]],
    "group": [0, -1, 7, 2**40],
    "axis": [99, -99, 2**63 - 1],
    "transB": [5, -1],
    "alpha": [float("nan"), float("inf"), -1e308],
    "perm": [[0, 0], [5, 1]],
    "auto_pad": ["SAME_UPPER", "VALID", "BOGUS", ""],
    "ceil_mode": [1, 7],
}


def bad_attr_value(rng: random.Random, m: onnx.ModelProto) -> str:
    node = _node(rng, m)
    name = rng.choice(sorted(_BAD_VALUES))
    value = rng.choice(_BAD_VALUES[name])
    keep = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend([*keep, helper.make_attribute(name, value)])
    return f"bad_attr_value({node.op_type}.{name}={value!r})"


_ABSURD_DIMS: list[int | str] = [0, -1, -7, 2**31, 2**40, 2**62, 2**63 - 1, "", "N", "é[/x]"]


def absurd_dims(rng: random.Random, m: onnx.ModelProto) -> str:
    """Graph inputs (or outputs) declared with zero, negative, enormous or odd dims."""
    vi = rng.choice([*m.graph.input, *m.graph.output])
    dims = vi.type.tensor_type.shape.dim
    if not dims:
        return "absurd_dims(scalar)"
    dim = dims[rng.randrange(len(dims))]
    value = rng.choice(_ABSURD_DIMS)
    if isinstance(value, str):
        dim.dim_param = value
    else:
        dim.dim_value = value
    return f"absurd_dims({value!r})"


def huge_shape(rng: random.Random, m: onnx.ModelProto) -> str:
    """Every spatial dim of every input made huge: costs in the 10**20s (int64 overflow?)."""
    big = rng.choice([10**5, 10**7, 2**31 + 1, 3 * 10**9])
    for vi in m.graph.input:
        dims = vi.type.tensor_type.shape.dim
        for dim in list(dims)[2:] or list(dims)[1:]:
            dim.dim_value = big
    return f"huge_shape({big})"


_DTYPES = [0, 2, 7, 8, 9, 10, 11, 16, 17, 21, 999, -1]


def wrong_dtype(rng: random.Random, m: onnx.ModelProto) -> str:
    value = rng.choice(_DTYPES)
    if m.graph.initializer and rng.random() < 0.5:
        init = rng.choice(list(m.graph.initializer))
        init.data_type = value
        return f"wrong_dtype(initializer {value})"
    vi = rng.choice(list(m.graph.input))
    vi.type.tensor_type.elem_type = value
    return f"wrong_dtype(input {value})"


def missing_initializer(rng: random.Random, m: onnx.ModelProto) -> str:
    if m.graph.initializer:
        del m.graph.initializer[rng.randrange(len(m.graph.initializer))]
    return "missing_initializer"


def bad_payload(rng: random.Random, m: onnx.ModelProto) -> str:
    """An initializer whose declared dims disagree with its data."""
    if not m.graph.initializer:
        return "bad_payload(none)"
    init = rng.choice(list(m.graph.initializer))
    choice = rng.randrange(4)
    if choice == 0 and init.raw_data:
        init.raw_data = init.raw_data[: len(init.raw_data) // 2]
        return "bad_payload(raw_data truncated)"
    if choice == 1:
        init.dims[:] = [2**40, 2**20]
        return "bad_payload(dims 2**40x2**20)"
    if choice == 2:
        init.dims[:] = [-3, *list(init.dims)[1:]]
        return "bad_payload(negative dim)"
    init.dims[:] = []
    return "bad_payload(scalar dims)"


def bad_op(rng: random.Random, m: onnx.ModelProto) -> str:
    node = _node(rng, m)
    how = rng.randrange(3)
    if how == 0:
        node.op_type = rng.choice(["Frobnicate", "", "conv", "Attention", "LayerNormalization"])
    elif how == 1:
        node.domain = rng.choice(["bogus", "ai.onnx.ml", "com.microsoft", "com.fuzz"])
    else:
        node.op_type, node.domain = "FuzzOp", "com.fuzz"
    return f"bad_op({node.op_type or '<empty>'}@{node.domain or 'ai.onnx'})"


def bad_opset(rng: random.Random, m: onnx.ModelProto) -> str:
    value = rng.choice([1, 7, 10, 99, 2**31, -1, None, "dup"])
    if value is None:
        del m.opset_import[:]
    elif value == "dup":
        m.opset_import.append(helper.make_opsetid("", 9))
    else:
        for op in m.opset_import:
            if op.domain == "":
                op.version = int(value)
    return f"bad_opset({value})"


def bad_ir_version(rng: random.Random, m: onnx.ModelProto) -> str:
    m.ir_version = rng.choice([0, 1, 3, 4, 99, 2**40])
    return f"bad_ir_version({m.ir_version})"


def hostile_names(rng: random.Random, m: onnx.ModelProto) -> str:
    """Rename a tensor everywhere it appears (or just a node) to markup / control characters."""
    name = rng.choice(mutate.HOSTILE_NAMES[:-5])  # not the path-like ones
    if name == "\ud800":
        name = "surrogate"  # protobuf refuses it; the byte-level swap covers invalid UTF-8
    if rng.random() < 0.5:
        node = _node(rng, m)
        node.name = name
        return f"hostile_node_name({name[:12]!r})"
    old = rng.choice([i.name for i in m.graph.input] + [o for n in m.graph.node for o in n.output])
    _rename(m.graph, old, name)
    return f"hostile_tensor_name({name[:12]!r})"


def _rename(graph: onnx.GraphProto, old: str, new: str) -> None:
    for vi in [*graph.input, *graph.output, *graph.value_info]:
        if vi.name == old:
            vi.name = new
    for init in graph.initializer:
        if init.name == old:
            init.name = new
    for node in graph.node:
        for seq in (node.input, node.output):
            for i, n in enumerate(seq):
                if n == old:
                    seq[i] = new
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                _rename(attr.g, old, new)


def graph_edges(rng: random.Random, m: onnx.ModelProto) -> str:
    """The graph's own inputs and outputs: none, undefined, duplicated, or an input that is also
    an initializer."""
    how = rng.randrange(5)
    g = m.graph
    if how == 0:
        del g.output[:]
        return "no_outputs"
    if how == 1:
        g.output[0].name = "never_produced"
        return "undefined_output"
    if how == 2:
        g.input.append(g.input[0])
        return "duplicate_graph_input"
    if how == 3:
        del g.node[:]
        return "no_nodes"
    g.initializer.append(numpy_helper.from_array(np.zeros(3, np.float32), g.input[0].name))
    return "input_is_initializer"


def conflicting_value_info(rng: random.Random, m: onnx.ModelProto) -> str:
    """value_info that contradicts what the ops produce (rank, dtype, negative dim)."""
    outputs = [o for n in m.graph.node for o in n.output if o]
    if not outputs:
        return "conflicting_value_info(none)"
    name = rng.choice(outputs)
    shape = rng.choice([[7], [1, 2, 3, 4, 5, 6, 7], [-1, 5], [0], []])
    elem = rng.choice([FLOAT, TensorProto.INT64, TensorProto.STRING])
    m.graph.value_info.append(_vi(name, shape, elem))
    return f"conflicting_value_info({shape},{elem})"


def recursive_function(rng: random.Random, m: onnx.ModelProto) -> str:
    """A model-local function that calls itself, used by a node: inlining never ends."""
    call = helper.make_node("Loopy", ["a"], ["b"], domain="local.fuzz")
    fn = helper.make_function(
        "local.fuzz", "Loopy", ["a"], ["b"], [call], [helper.make_opsetid("", 17)]
    )
    m.functions.append(fn)
    m.opset_import.append(helper.make_opsetid("local.fuzz", 1))
    node = m.graph.node[0]
    node.op_type, node.domain = "Loopy", "local.fuzz"
    del node.attribute[:]
    return "recursive_function"


def scope_metadata(rng: random.Random, m: onnx.ModelProto) -> str:
    """The exporter's scope metadata as odd Python literals (it is parsed with literal_eval)."""
    value = rng.choice(
        [
            "[" * 150 + "]" * 150,
            "[" * 1000 + "]" * 1000,
            "9" * 5000,
            "['', 'a', {'b': 1}, None]",
            "[1e999, -1e999]",
            "not a literal",
            "['\\x1b[31m', '[/x]', 'conv']",
        ]
    )
    node = _node(rng, m)
    prop = node.metadata_props.add()
    prop.key, prop.value = "pkg.torch.onnx.name_scopes", value
    return f"scope_metadata({value[:10]!r})"


def sparse_initializer(rng: random.Random, m: onnx.ModelProto) -> str:
    values = numpy_helper.from_array(np.ones(3, np.float32), "sp")
    indices = numpy_helper.from_array(np.array([0, 5, 2**40], np.int64), "sp_idx")
    sparse = helper.make_sparse_tensor(values, indices, [4])
    m.graph.sparse_initializer.append(sparse)
    node = _node(rng, m)
    if node.input:
        node.input[-1] = "sp"
    return "sparse_initializer(bad indices)"


def bad_loop(rng: random.Random, m: onnx.ModelProto) -> str:
    """Trip counts and branch signatures that do not add up."""
    for init in m.graph.initializer:
        if init.name == "trips":
            value = rng.choice([-1, 2**62, 2**63 - 1])
            init.CopyFrom(numpy_helper.from_array(np.array(value, dtype=np.int64), "trips"))
            return f"bad_loop(trips={value})"
    for node in _all_nodes(m.graph):
        if node.op_type in ("If", "Loop"):
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    attr.g.output.append(_vi("extra_out", [1]))
                    return f"bad_subgraph_signature({node.op_type})"
    return "bad_loop(none)"


STRUCTURAL: dict[str, Callable[[random.Random, onnx.ModelProto], str]] = {
    f.__name__: f
    for f in (
        drop_input,
        duplicate_input,
        rename_input,
        drop_output,
        duplicate_output,
        cycle,
        reorder,
        wrong_attr_type,
        bad_attr_value,
        absurd_dims,
        huge_shape,
        wrong_dtype,
        missing_initializer,
        bad_payload,
        bad_op,
        bad_opset,
        bad_ir_version,
        hostile_names,
        graph_edges,
        conflicting_value_info,
        recursive_function,
        scope_metadata,
        sparse_initializer,
        bad_loop,
    )
}


def _serialize(rng: random.Random, m: onnx.ModelProto) -> tuple[bytes, str]:
    """The model's bytes; sometimes with a name swapped for invalid UTF-8 of the same length
    (protobuf will not write such a string, so it is patched into the bytes)."""
    data = m.SerializeToString()
    if rng.random() < 0.15:
        names = sorted({n.name for n in m.graph.node if len(n.name) >= 4})
        if names:
            name = rng.choice(names).encode()
            bad = (rng.choice(mutate.INVALID_UTF8) * len(name))[: len(name)]
            return data.replace(name, bad), "+invalid_utf8_name"
    return data, ""


# -- commands ----------------------------------------------------------------------------------


def command_for(
    rng: random.Random, ws: Workspace, model: str, built: Built | None
) -> tuple[list[str], set[str]]:
    """A command to run on ``model``: mostly ``count`` in a random format, sometimes
    ``check``, ``--sweep``/``--symbolic``, ``profile`` on ONNX Runtime, or ``separable``."""
    bind: list[str] = []
    if built and built.bind and rng.random() < 0.8:
        for spec in built.bind:
            bind += ["--input-shape", spec]
    roll = rng.random()
    if roll < 0.55:
        fmt = rng.choice(["json", "json", "table", "csv", "md"])
        argv = ["count", model, "--format", fmt, *bind]
        if rng.random() < 0.3:
            argv.append(rng.choice(["--training", "--count-bias", "--strict", "-q"]))
        if fmt == "table" and rng.random() < 0.2:
            argv += rng.choice([["--by-op"], ["--depth", "1"], ["--top", "2", "--sort", "flops"]])
        return argv, set()
    if roll < 0.67:
        return ["check", model, "--max-flops", rng.choice(["1", "1G"]), *bind], set()
    if roll < 0.75 and built and built.dim:
        if rng.random() < 0.5:
            return ["count", model, "--sweep", f"{built.dim}=1,2,4", "--format", "json"], set()
        return ["count", model, "--symbolic", built.dim, "--format", "json"], set()
    if roll < 0.9:
        argv = [
            "profile",
            model,
            "--runtime",
            "onnxruntime",
            "--iterations",
            "3",
            "--warmup",
            "1",
            "--format",
            rng.choice(["json", "table"]),
            *bind,
        ]
        return argv, set()
    return ["separable", model, "--save", "sep.onnx", "-q"], {"sep.onnx"}


# -- the generators the catalog calls ----------------------------------------------------------


def gen_structural(rng: random.Random, ws: Workspace) -> Case:
    """A valid model, then 1-3 structural mutations."""
    builder = rng.choice(sorted(BUILDERS))
    if builder == "deep_if" and rng.random() < 0.4:
        ws.write("m.onnx", deep_if_bytes(rng))
        argv, outputs = command_for(rng, ws, "m.onnx", None)
        return Case("onnx-struct", "deep_if beyond the protobuf limit (raw bytes)", argv, outputs)
    built = BUILDERS[builder](rng)
    names = []
    for _ in range(rng.choice([0, 1, 1, 1, 2, 3]) if builder != "deep_if" else rng.choice([0, 1])):
        mutation = rng.choice(sorted(STRUCTURAL))
        try:
            names.append(STRUCTURAL[mutation](rng, built.model))
        except (ValueError, TypeError, IndexError) as exc:  # a mutation that cannot apply here
            names.append(f"{mutation}(skipped: {type(exc).__name__})")
    data, extra = _serialize(rng, built.model)
    ws.write("m.onnx", data)
    argv, outputs = command_for(rng, ws, "m.onnx", built)
    title = f"{builder}: {' + '.join(names) or 'valid'}{extra}"
    return Case("onnx-struct", title, argv, outputs)


def gen_bytes(rng: random.Random, ws: Workspace) -> Case:
    """A valid model's bytes, flipped, truncated, spliced; sometimes under another suffix
    (.keras/.h5 reach the Keras reader, .xml the IR reader with a .bin beside it)."""
    builder = rng.choice(sorted(set(BUILDERS) - {"deep_if"}))
    built = BUILDERS[builder](rng)
    data, how = mutate.mutate(rng, built.model.SerializeToString())
    suffix = rng.choices([".onnx", ".keras", ".h5", ".xml"], weights=[85, 5, 5, 5])[0]
    name = "m" + suffix
    ws.write(name, data)
    if suffix == ".xml":
        ws.write("m.bin", data)
    argv, outputs = command_for(rng, ws, name, built)
    if argv[0] == "separable" and suffix != ".onnx":
        argv = ["count", name]
        outputs = set()
    return Case("onnx-bytes", f"{builder}{suffix}: {how}", argv, outputs)


_LOCATIONS = [
    "missing.bin",
    "ABSOLUTE",  # replaced by an absolute path to a file outside the model's folder
    "../outside.bin",
    "sub/../../outside.bin",
    "",
    ".",
    "sub",
    "weights.bin\x00tail",
    "x" * 300,
    "escape_link.bin",
    "m.onnx",
    "fifo.bin",
    "zero.bin",
    "\x1b[31m[/x].bin",
]


def gen_external(rng: random.Random, ws: Workspace) -> Case:
    """A model whose weights live in an external file, with locations that are missing,
    absolute, escape the folder, name a folder, the model itself, a FIFO or a device; and
    offsets and lengths that lie."""
    built = rng.choice([conv_net, mlp, pools])(rng)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.onnx"
        onnx.save_model(
            built.model,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location="weights.bin",
            size_threshold=0,
        )
        model = onnx.load(str(path), load_external_data=False)
        weights = (Path(tmp) / "weights.bin").read_bytes()
    ws.write("weights.bin", weights)
    ws.outside("outside.bin", weights)
    (ws.work / "sub").mkdir(exist_ok=True)
    externals = [i for i in model.graph.initializer if i.data_location == TensorProto.EXTERNAL]
    targets = rng.sample(externals, k=rng.randint(1, len(externals)))
    how = rng.randrange(3)
    feed: dict[str, bytes] = {}
    if how == 0 or not targets:
        location = rng.choice(_LOCATIONS)
        if location == "ABSOLUTE":
            location = str(ws.root / "outside.bin")
        elif location == "escape_link.bin":
            ws.symlink("escape_link.bin", "../outside.bin")
        elif location == "fifo.bin":
            ws.fifo("fifo.bin")
            feed["fifo.bin"] = weights
        elif location == "zero.bin" and ws.chardev("zero.bin", "zero") is None:
            location = "missing.bin"
        for init in targets:
            for entry in init.external_data:
                if entry.key == "location":
                    entry.value = location
        what = f"location={location[:24]!r}"
    else:
        key = "offset" if how == 1 else "length"
        value = rng.choice(["-1", "abc", "99999999999", str(len(weights)), "0", "", "1e3"])
        for init in targets:
            entries = {e.key: e for e in init.external_data}
            if key in entries:
                entries[key].value = value
            else:
                init.external_data.add(key=key, value=value)
        what = f"{key}={value!r}"
    ws.write("m.onnx", model.SerializeToString())
    roll = rng.random()
    if roll < 0.35:
        argv, outputs = ["count", "m.onnx", "--format", "json", *_bind(built)], set()
    elif roll < 0.75:
        argv = [
            "profile",
            "m.onnx",
            "--runtime",
            "onnxruntime",
            "--iterations",
            "3",
            "--warmup",
            "1",
            *_bind(built),
        ]
        outputs = set()
    else:
        argv, outputs = ["separable", "m.onnx", "--save", "sep.onnx", "-q"], {"sep.onnx"}
    case = Case("onnx-external", f"external data: {what}", argv, outputs, feed=feed)
    return case


def _bind(built: Built) -> list[str]:
    return [a for spec in built.bind for a in ("--input-shape", spec)]


def valid_model(rng: random.Random, name: str = "conv") -> Built:
    """A valid model of the named kind (other families use these as their base)."""
    return BUILDERS[name](rng)
