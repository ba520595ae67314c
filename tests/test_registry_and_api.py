"""The registry's guarantees and the public surface."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import modelprof
from modelprof.costs import REGISTRY, Cost, OpCall, Registry
from modelprof.docs import supported_ops_markdown
from modelprof.errors import RuleError
from modelprof.graph import TensorInfo


def test_registering_an_op_twice_is_an_error() -> None:
    with pytest.raises(RuleError, match="'Conv' is already registered"):
        REGISTRY.register("Conv", lambda call: Cost())
    with pytest.raises(RuleError, match="'Reshape' is already registered"):
        REGISTRY.register("Reshape", lambda call: Cost())


def test_replace_and_lookup_on_a_private_registry() -> None:
    registry = Registry()
    registry.register("Foo", lambda call: Cost(flops=call.out_numel()))
    registry.register_zero(["Bar"])
    call = OpCall("Foo", (), (TensorInfo("y", (2, 3), "float32"),))
    rule = registry.lookup("Foo")
    assert rule is not None and rule(call).flops == 6
    registry.register("Foo", lambda call: Cost(flops=1), replace=True)
    rule = registry.lookup("Foo")
    assert rule is not None and rule(call).flops == 1
    assert registry.is_zero_cost("Bar") and registry.lookup("Baz") is None


def test_every_rule_is_documented_and_the_docs_page_is_current() -> None:
    page = Path(__file__).parents[1] / "docs" / "supported-ops.md"
    assert page.read_text() == supported_ops_markdown(), "run: make docs"
    for op, rule in REGISTRY.op_types().items():
        assert rule is None or rule.__doc__, f"rule for {op} has no docstring"


def test_public_names_match_all() -> None:
    public = {
        name
        for name in dir(modelprof)
        if not name.startswith("_") and not inspect.ismodule(getattr(modelprof, name))
    }
    assert public == set(modelprof.__all__) - {"__version__"}


def test_import_is_light() -> None:
    code = (
        "import sys, modelprof; "
        "print(sorted(m for m in ('torch', 'onnxruntime', 'openvino') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_a_rule_runs_once_per_distinct_shape_and_its_failures_stay_per_node() -> None:
    """Rules are pure functions of op, attributes, shapes and dtypes (docs/conventions.md):
    the analysis reuses a result where those repeat, yet every node keeps its own row, and a
    rule that cannot cost a shape leaves each such node listed as not counted."""
    from modelprof.analysis import analyze
    from modelprof.graph import Graph, Node

    calls: list[tuple[int, ...]] = []

    def scaled(call: OpCall) -> Cost:
        calls.append(call.in_shape(0))
        if call.in_shape(0)[0] == 5:
            raise ValueError("rows of 5 are not supported")
        return Cost(flops=3 * call.in_numel())

    registry = Registry()
    registry.register("Scaled", scaled)
    shapes = {"a": (2, 4), "b": (2, 4), "c": (2, 4), "d": (3, 4), "e": (5, 4), "f": (5, 4)}
    tensors = {n: TensorInfo(n, s, "float32") for n, s in shapes.items()}
    tensors.update({f"{n}_out": TensorInfo(f"{n}_out", s, "float32") for n, s in shapes.items()})
    nodes = tuple(Node(n, "Scaled", (n,), (f"{n}_out",)) for n in shapes)
    graph = Graph("g", "test", nodes, tensors, tuple(shapes), (), {})
    report = analyze(graph, registry=registry)
    assert [layer.flops for layer in report.layers] == [24, 24, 24, 36, 0, 0]
    assert [layer.counted for layer in report.layers] == [True] * 4 + [False] * 2
    assert [u.name for u in report.uncounted] == ["e", "f"]
    assert report.layers[4].note == "not counted: rows of 5 are not supported"
    assert sorted(calls) == [(2, 4), (3, 4), (5, 4)]


def test_a_hand_built_graph_with_list_shapes_is_counted() -> None:
    """``Graph`` is public: shapes given as lists (not hashable) still count, uncached."""
    from modelprof.graph import Graph, Node, Weight

    tensors = {
        "x": TensorInfo("x", [2, 3], "float32"),  # type: ignore[arg-type]
        "w": TensorInfo("w", [3, 4], "float32"),  # type: ignore[arg-type]
        "y": TensorInfo("y", [2, 4], "float32"),  # type: ignore[arg-type]
    }
    graph = Graph(
        "g",
        "manual",
        (Node("mm", "MatMul", ("x", "w"), ("y",)),),
        tensors,
        ("x",),
        ("y",),
        {"w": Weight("w", (3, 4), "float32", "param")},
    )
    report = modelprof.count(graph)
    assert (report.total.macs, report.total.params) == (24, 12)
