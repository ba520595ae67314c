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
