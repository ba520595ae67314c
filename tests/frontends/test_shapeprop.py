"""The ONNX frontend's own shape pass (frontends/shapeprop.py) against onnx's inference.

Graphs made only of plain arithmetic get their shapes from modelprof's one-pass propagation
instead of onnx's whole-model inference; everything else, and every unusual case, still goes
to onnx. These tests hold the two routes to the same answer, tensor by tensor.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelprof.frontends import onnx as onnx_frontend
from modelprof.frontends import shapeprop
from modelprof.graph import Node, TensorInfo

F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, inits=(), opset=20):  # type: ignore[no-untyped-def]
    graph = helper.make_graph(list(nodes), "g", list(inputs), list(outputs), list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _onnx_infos(model: onnx.ModelProto) -> dict[str, tuple[tuple[int, ...], int]]:
    """Every node output's static (shape, elem_type) as onnx's own inference gives it (a
    symbolic dim leaves the tensor out, as the frontend does)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    found = {}
    for vi in (*inferred.graph.value_info, *inferred.graph.output):
        t = vi.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            found[vi.name] = (tuple(d.dim_value for d in t.shape.dim), t.elem_type)
    return found


def _ours(model: onnx.ModelProto) -> dict[str, tuple[tuple[int, ...], int]]:
    graph = onnx_frontend.load(model)
    codes = {name: code for code, name in onnx_frontend._ONNX_DTYPES.items()}
    outputs = {out for node in model.graph.node for out in node.output}
    return {
        name: (info.shape, codes[info.dtype])
        for name, info in graph.tensors.items()
        if name in outputs
    }


def _random_arithmetic_model(seed: int) -> onnx.ModelProto:
    """A seeded random graph of the ops shapeprop handles: broadcasting binaries against
    weights of lower rank, batched and 1-D MatMuls, Gemm with transposes, Cast, Clip with
    omitted bounds, variadic Sum/Max, softmax."""
    rng = random.Random(seed)
    batch = rng.choice([(1,), (2,), (3, 2)])
    width = rng.choice([4, 6, 8])
    x_shape = (*batch, 5, width)
    nodes, inits = [], []
    current, shape = "x", x_shape

    def weight(*dims: int) -> str:
        name = f"w{len(inits)}"
        inits.append(numpy_helper.from_array(np.ones(dims, np.float32), name))
        return name

    for i in range(12):
        out = f"t{i}"
        kind = rng.choice(["unary", "binary", "matmul", "cast", "clip", "variadic", "softmax"])
        if kind == "unary":
            op = rng.choice(["Relu", "Sigmoid", "Tanh", "Gelu", "Erf", "Neg", "HardSwish"])
            nodes.append(helper.make_node(op, [current], [out]))
        elif kind == "binary":
            op = rng.choice(["Add", "Sub", "Mul", "Div", "Pow"])
            other = weight(*rng.choice([(shape[-1],), (1, shape[-1]), (), shape[-2:]]))
            operands = [current, other] if rng.random() < 0.5 else [other, current]
            nodes.append(helper.make_node(op, operands, [out]))
        elif kind == "matmul":
            new_width = rng.choice([3, 4, 7])
            rhs = weight(*rng.choice([(shape[-1], new_width), (1, shape[-1], new_width)]))
            nodes.append(helper.make_node("MatMul", [current, rhs], [out]))
        elif kind == "cast":
            nodes.append(helper.make_node("Cast", [current], [out], to=F))
        elif kind == "clip":
            nodes.append(helper.make_node("Clip", [current, "", "hi"], [out]))
            if not any(init.name == "hi" for init in inits):
                inits.append(numpy_helper.from_array(np.array(6.0, np.float32), "hi"))
        elif kind == "variadic":
            op = rng.choice(["Sum", "Max", "Min", "Mean"])
            nodes.append(helper.make_node(op, [current, weight(shape[-1]), current], [out]))
        else:
            nodes.append(helper.make_node("Softmax", [current], [out], axis=-1))
        current = out
        shape = _onnx_shape(nodes, inits, x_shape, current)  # the generator's own bookkeeping
    return _model(
        nodes,
        [helper.make_tensor_value_info("x", F, list(x_shape))],
        [helper.make_tensor_value_info(current, F, None)],
        inits,
    )


def _onnx_shape(nodes, inits, x_shape, name):  # type: ignore[no-untyped-def]
    model = _model(
        nodes,
        [helper.make_tensor_value_info("x", F, list(x_shape))],
        [helper.make_tensor_value_info(name, F, None)],
        inits,
    )
    return _onnx_infos(model)[name][0]


def _without_onnx_inference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make onnx's inference fail loudly, so a passing load proves the pass did the work."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("onnx shape inference was called")

    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", refuse)


@pytest.mark.parametrize("seed", range(12))
def test_random_arithmetic_graphs_get_onnx_shapes(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _random_arithmetic_model(seed)
    expected = _onnx_infos(model)
    assert len(expected) == 12
    _without_onnx_inference(monkeypatch)
    assert _ours(model) == expected


@pytest.mark.parametrize(
    ("a", "b", "out"),
    [
        ((3,), (3, 4), (4,)),  # 1-D left operand: promoted, then its row dropped
        ((2, 3, 4), (4,), (2, 3)),  # 1-D right operand
        ((3,), (3,), ()),  # dot product
        ((5, 1, 2, 3), (4, 3, 6), (5, 4, 2, 6)),  # batch dims broadcast
        ((2, 3), (3, 4), (2, 4)),
    ],
)
def test_matmul_shapes_by_hand_and_by_onnx(
    a: tuple[int, ...], b: tuple[int, ...], out: tuple[int, ...]
) -> None:
    model = _model(
        [helper.make_node("MatMul", ["a", "b"], ["y"])],
        [
            helper.make_tensor_value_info("a", F, list(a)),
            helper.make_tensor_value_info("b", F, list(b)),
        ],
        [helper.make_tensor_value_info("y", F, None)],
    )
    assert _ours(model) == {"y": (out, F)} == _onnx_infos(model)


def test_gemm_transposes_and_cast_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model(
        [
            helper.make_node("Gemm", ["a", "b"], ["g"], transA=1, transB=1),
            helper.make_node("Cast", ["g"], ["y"], to=TensorProto.FLOAT16),
        ],
        [
            helper.make_tensor_value_info("a", F, [7, 2]),  # (K, M) transposed
            helper.make_tensor_value_info("b", F, [5, 7]),  # (N, K) transposed
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)],
    )
    expected = _onnx_infos(model)
    _without_onnx_inference(monkeypatch)
    assert _ours(model) == expected == {"g": ((2, 5), F), "y": ((2, 5), TensorProto.FLOAT16)}


def _node(op: str, inputs: tuple[str, ...], out: str, **attrs: object) -> Node:
    return Node(out, op, inputs, (out,), attrs)


def test_unusual_cases_are_left_to_onnx() -> None:
    known = {
        "a": TensorInfo("a", (2, 3), "float32"),
        "b": TensorInfo("b", (4,), "float32"),
        "c": TensorInfo("c", (3, 5), "float32"),
    }
    dtypes = onnx_frontend._ONNX_DTYPES
    # operands that do not broadcast, mismatched MatMul dims, an unknown input, an op outside
    # the table, a custom domain: each returns None
    assert shapeprop.propagate([_node("Add", ("a", "b"), "y")], known, dtypes) is None
    assert shapeprop.propagate([_node("MatMul", ("a", "b"), "y")], known, dtypes) is None
    assert shapeprop.propagate([_node("Relu", ("nope",), "y")], known, dtypes) is None
    assert shapeprop.propagate([_node("Conv", ("a", "c"), "y")], known, dtypes) is None
    custom = Node("y", "Relu", ("a",), ("y",), {}, domain="com.example")
    assert shapeprop.propagate([custom], known, dtypes) is None
    # and the plain cases work: what was known, plus the new tensors
    found = shapeprop.propagate(
        [_node("MatMul", ("a", "c"), "y"), _node("Add", ("y", "b5"), "z")],
        {**known, "b5": TensorInfo("b5", (5,), "float32")},
        dtypes,
    )
    assert found is not None
    assert found["y"] == TensorInfo("y", (2, 5), "float32")
    assert found["z"] == TensorInfo("z", (2, 5), "float32")
    assert set(found) == {*known, "b5", "y", "z"}


def test_a_graph_the_pass_gives_up_on_is_refused_as_onnx_refuses_it() -> None:
    # (2, 3) + (4,) does not broadcast: the pass gives up, and onnx's strict inference names
    # the Add (its lenient mode left y unknown, and the model was counted without it)
    from modelprof.errors import ModelLoadError

    model = _model(
        [helper.make_node("Add", ["a", "b"], ["y"]), helper.make_node("Relu", ["y"], ["z"])],
        [
            helper.make_tensor_value_info("a", F, [2, 3]),
            helper.make_tensor_value_info("b", F, [4]),
        ],
        [helper.make_tensor_value_info("z", F, None)],
    )
    with pytest.raises(onnx.shape_inference.InferenceError):
        onnx.shape_inference.infer_shapes(model, strict_mode=True)
    with pytest.raises(ModelLoadError, match="unnamed Add node is invalid: Incompatible dim"):
        onnx_frontend.load(model)


def test_a_declared_shape_that_disagrees_goes_to_onnx() -> None:
    # the model declares y as (2, 9): the pass would say (2, 4), so onnx decides, and onnx's
    # strict inference refuses the contradiction (its lenient mode kept the declaration)
    from modelprof.errors import ModelLoadError

    model = _model(
        [helper.make_node("MatMul", ["a", "w"], ["y"])],
        [helper.make_tensor_value_info("a", F, [2, 3])],
        [helper.make_tensor_value_info("y", F, [2, 9])],
        [numpy_helper.from_array(np.ones((3, 4), np.float32), "w")],
    )
    with pytest.raises(ModelLoadError, match="differ in dimension 1: \\(4\\) vs \\(9\\)"):
        onnx_frontend.load(model)


def test_an_op_newer_than_the_models_opset_is_left_to_onnx() -> None:
    # Gelu joined the default domain in opset 20: in an opset-17 model it is an unknown op,
    # whose output onnx leaves without a shape (and the count then lists it as not costed)
    model = _model(
        [helper.make_node("Gelu", ["a"], ["y"])],
        [helper.make_tensor_value_info("a", F, [2, 3])],
        [helper.make_tensor_value_info("y", F, None)],
        opset=17,
    )
    assert _ours(model) == _onnx_infos(model) == {}
    assert _ours(_model(model.graph.node, model.graph.input, model.graph.output)) == {
        "y": ((2, 3), F)
    }


def _mixed_model(seed: int) -> onnx.ModelProto:
    """A seeded random graph where ops the pass handles alternate with ops it does not
    (Transpose, Flatten), so some shapes are ours and the rest onnx's."""
    rng = random.Random(seed)
    x_shape = (2, 3, 4)
    nodes, inits = [], []
    current = "x"
    for i in range(16):
        out = f"t{i}"
        shape = _onnx_shape(nodes, inits, x_shape, current) if nodes else x_shape
        kind = rng.choice(["relu", "add", "matmul", "transpose", "flatten"])
        if kind == "relu":
            nodes.append(helper.make_node("Relu", [current], [out]))
        elif kind == "add":
            name = f"b{i}"
            inits.append(numpy_helper.from_array(np.ones(shape[-1:], np.float32), name))
            nodes.append(helper.make_node("Add", [current, name], [out]))
        elif kind == "matmul":
            name = f"w{i}"
            inits.append(numpy_helper.from_array(np.ones((shape[-1], 5), np.float32), name))
            nodes.append(helper.make_node("MatMul", [current, name], [out]))
        elif kind == "transpose" and len(shape) >= 2:
            perm = [*range(len(shape) - 2), len(shape) - 1, len(shape) - 2]
            nodes.append(helper.make_node("Transpose", [current], [out], perm=perm))
        else:
            nodes.append(helper.make_node("Flatten", [current], [out], axis=1))
        current = out
    # a side branch straight from the input: shapes the pass can always find
    nodes.append(helper.make_node("Tanh", ["x"], ["side"]))
    return _model(
        nodes,
        [helper.make_tensor_value_info("x", F, list(x_shape))],
        [
            helper.make_tensor_value_info(current, F, None),
            helper.make_tensor_value_info("side", F, None),
        ],
        inits,
    )


_PARTIAL_SCRIPT = """
import json, sys
import onnx
from modelprof.frontends import forked, onnx as onnx_frontend
forked.MIN_NODES = 1  # take the large-graph route: inference in a forked child
calls = []
original = onnx_frontend._GraphBuilder._propagate
def spy(self, graph, allowed, partial=False):
    before = len(self.tensors)
    ok = original(self, graph, allowed, partial)
    calls.append([partial, ok, len(self.tensors) - before])
    return ok
onnx_frontend._GraphBuilder._propagate = spy
out = []
for path in sys.argv[1:]:
    calls.clear()
    graph = onnx_frontend.load(path)
    infos = {n: [list(i.shape), i.dtype] for n, i in graph.tensors.items()}
    out.append({"infos": infos, "calls": list(calls)})
print(json.dumps(out))
"""


def test_partial_pass_beside_forked_inference_gives_onnx_shapes(tmp_path: Path) -> None:
    """On the large-graph route (onnx's inference in a forked child), the pass records the
    shapes it can find while it waits; together with onnx's answer for the rest, every
    tensor reads as onnx alone infers it. Run in a fresh process: forking is only taken
    where no threads (and no torch) are loaded."""
    models = [_mixed_model(seed) for seed in range(6)]
    paths = []
    for i, model in enumerate(models):
        path = tmp_path / f"mixed{i}.onnx"
        onnx.save(model, str(path))
        paths.append(str(path))
    run = subprocess.run(
        [sys.executable, "-c", _PARTIAL_SCRIPT, *paths], capture_output=True, text=True, check=True
    )
    results = json.loads(run.stdout)
    codes = {name: code for code, name in onnx_frontend._ONNX_DTYPES.items()}
    for model, result in zip(models, results, strict=True):
        outputs = {out for node in model.graph.node for out in node.output}
        ours = {
            name: (tuple(shape), codes[dtype])
            for name, (shape, dtype) in result["infos"].items()
            if name in outputs
        }
        assert ours == _onnx_infos(model)
        # the pass ran in partial mode and found at least the side branch ('side')
        partial = [call for call in result["calls"] if call[0]]
        assert len(partial) == 1 and partial[0][1] and partial[0][2] >= 1


def _mm_model(x_type: onnx.TypeProto | None = None, **kwargs: object) -> onnx.ModelProto:
    return _model(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        [helper.make_tensor_value_info("x", F, [2, 3])],
        [helper.make_tensor_value_info("y", F, None)],
        [numpy_helper.from_array(np.ones((3, 4), np.float32), "w")],
        **kwargs,
    )


def _with_declared_input(model: onnx.ModelProto, dims: list[object] | None, dtype: int = F):
    # type: (...) -> onnx.ModelProto
    model.graph.input.append(helper.make_tensor_value_info("w", dtype, dims))
    return model


def _cases_left_to_onnx() -> dict[str, onnx.ModelProto]:
    v = helper.make_tensor_value_info
    old_ir = _mm_model(opset=11)
    old_ir.ir_version = 3  # before IR 4 an initializer that is not an input is ignored
    sequence = _model(
        [helper.make_node("Relu", ["x"], ["t"]), helper.make_node("Relu", ["t"], ["y"])],
        [v("x", F, [2, 3])],
        [v("y", F, None)],
    )
    sequence.graph.value_info.append(helper.make_tensor_sequence_value_info("t", F, [2, 3]))
    return {
        # opset 6: Mul broadcasts by its axis/broadcast attributes, not numpy's rules
        "opset 6 per-channel Mul": _model(
            [helper.make_node("Mul", ["x", "s"], ["y"], broadcast=1, axis=1)],
            [v("x", F, [2, 3, 1, 1])],
            [v("y", F, None)],
            [numpy_helper.from_array(np.ones((3, 1), np.float32), "s")],
            opset=6,
        ),
        # opset 11: Softmax's default axis is 1, out of range for a 1-D input
        "Softmax axis out of range": _model(
            [helper.make_node("Softmax", ["x"], ["y"])],
            [v("x", F, [8])],
            [v("y", F, None)],
            opset=11,
        ),
        "input without an element type": _model(
            [helper.make_node("Relu", ["x"], ["y"])],
            [v("x", TensorProto.UNDEFINED, [2, 3])],
            [v("y", F, None)],
        ),
        "initializer declared as a dynamic input": _with_declared_input(_mm_model(), ["a", "b"]),
        "initializer declared as an input without shape": _with_declared_input(_mm_model(), None),
        "IR 3, initializer not an input": old_ir,
        "a tensor declared as a sequence": sequence,
    }


@pytest.mark.parametrize("case", sorted(_cases_left_to_onnx()))
def test_cases_onnx_decides_read_as_onnx_infers_them(case: str) -> None:
    from modelprof.errors import ModelLoadError

    model = _cases_left_to_onnx()[case]
    try:
        onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except onnx.shape_inference.InferenceError:
        # what onnx's strict inference refuses is refused: an invalid model is not counted
        with pytest.raises(ModelLoadError):
            onnx_frontend.load(model)
        return
    assert _ours(model) == _onnx_infos(model)


def test_an_initializer_declared_as_an_input_of_another_shape_fails_as_onnx_does() -> None:
    from modelprof.errors import ModelLoadError

    model = _with_declared_input(_mm_model(), [3, 5])
    with pytest.raises(ModelLoadError, match="shape inference failed"):
        onnx_frontend.load(model)
    # and declared as it is stored, the pass handles it
    assert _ours(_with_declared_input(_mm_model(), [3, 4])) == {"y": ((2, 4), F)}


def test_a_name_written_twice_is_left_to_onnx() -> None:
    known = {"a": TensorInfo("a", (2, 3), "float32")}
    nodes = [_node("Relu", ("a",), "t"), _node("Neg", ("a",), "t")]
    assert shapeprop.propagate(nodes, known, onnx_frontend._ONNX_DTYPES) is None
