"""What a rule (a user's too) reads from an OpCall, and what the registry answers.

A user's rule calls ``call.in_shape()``, ``call.out_numel()`` and the like with or without an
index; a missing tensor must raise MissingShapeError (so the node is listed as not counted),
never an IndexError or another tensor's shape.
"""

from __future__ import annotations

import pytest

from modelprof.costs import REGISTRY, Cost, OpCall, Registry
from modelprof.costs.registry import MissingShapeError, flop_cost, int_mac_cost, mac_cost
from modelprof.graph import TensorInfo


def _call() -> OpCall:
    # two inputs (2,3) and (4,), the second optional one left out; two outputs (5,6) and (7,)
    return OpCall(
        "Custom",
        (TensorInfo("a", (2, 3), "float32"), None, TensorInfo("b", (4,), "float32")),
        (TensorInfo("y", (5, 6), "float32"), TensorInfo("z", (7,), "float32")),
    )


def test_defaults_read_the_first_tensor() -> None:
    call = _call()
    assert call.in_shape() == (2, 3)
    assert call.out_shape() == (5, 6)
    assert call.in_numel() == 6  # 2 x 3
    assert call.out_numel() == 30  # 5 x 6


def test_indexed_reads() -> None:
    call = _call()
    assert call.in_shape(2) == (4,)
    assert call.out_shape(1) == (7,)
    assert call.in_numel(2) == 4
    assert call.out_numel(1) == 7
    assert (call.has_input(0), call.has_input(1), call.has_input(2), call.has_input(3)) == (
        True,
        False,
        True,
        False,
    )


@pytest.mark.parametrize("index", [1, 3, 9])
def test_missing_inputs_raise_missing_shape(index) -> None:
    # 1: left out (None); 3 and 9: past the last input
    with pytest.raises(MissingShapeError, match=f"Custom input {index} is missing"):
        _call().in_shape(index)


@pytest.mark.parametrize("index", [2, 5])
def test_missing_outputs_raise_missing_shape(index) -> None:
    with pytest.raises(MissingShapeError, match=f"Custom output {index} has no known shape"):
        _call().out_shape(index)
    with pytest.raises(MissingShapeError):
        _call().out_numel(index)


def test_cost_builders() -> None:
    # a MAC is 2 FLOPs; extra FLOPs are added on top; integer MACs stay apart
    assert tuple(mac_cost(10)) == (10, 20, 0)
    assert tuple(mac_cost(10, 3)) == (10, 23, 0)
    assert tuple(flop_cost(7)) == (0, 7, 0)
    assert tuple(int_mac_cost(12)) == (0, 0, 12)
    assert tuple(int_mac_cost(12, 5)) == (0, 5, 12)


def test_membership_and_zero_cost() -> None:
    assert "Conv" in REGISTRY  # a rule
    assert "Reshape" in REGISTRY  # a zero-cost op
    assert "NoSuchOp" not in REGISTRY
    assert REGISTRY.is_zero_cost("Reshape") and not REGISTRY.is_zero_cost("Conv")
    zero = REGISTRY.lookup("Reshape")
    assert zero is not None and zero(_call()) == Cost(0, 0, 0)
    table = REGISTRY.op_types()
    assert table["Reshape"] is None and table["Conv"] is REGISTRY.lookup("Conv")
    assert list(table) == sorted(table)


def test_a_zero_cost_op_can_be_given_a_rule_and_never_registered_twice() -> None:
    from modelprof.errors import RuleError

    registry = Registry()
    registry.register_zero(["Pad"])
    with pytest.raises(RuleError, match="'Pad' is registered twice"):
        registry.register_zero(["Pad"])
    # replacing a zero-cost op with a rule takes it out of the zero-cost set
    registry.register("Pad", lambda call: flop_cost(call.out_numel()), replace=True)
    assert not registry.is_zero_cost("Pad")
    rule = registry.lookup("Pad")
    assert rule is not None and rule(_call()).flops == 30
    with pytest.raises(RuleError, match="'Pad' is registered twice"):
        registry.register_zero(["Pad"])


def test_the_gemm_rule_without_attributes_reads_the_spec_defaults() -> None:
    # a Graph built by hand may leave transA/transB out; the ONNX defaults are 0:
    # A (2,3) @ B (3,4): M=2, K=3, N=4 -> 24 MACs (a transA read as 1 would take K=2: 16)
    rule = REGISTRY.lookup("Gemm")
    assert rule is not None
    call = OpCall(
        "Gemm",
        (TensorInfo("a", (2, 3), "float32"), TensorInfo("b", (3, 4), "float32")),
        (TensorInfo("y", (2, 4), "float32"),),
    )
    assert tuple(rule(call)) == (24, 48, 0)


def test_replace_must_be_spelled_out() -> None:
    # `replace` is keyword-only: a stray positional True cannot silently shadow a rule
    registry = Registry()
    registry.register("Foo", lambda call: flop_cost(1))
    with pytest.raises(TypeError):
        registry.register("Foo", lambda call: flop_cost(2), True)  # type: ignore[misc]
    rule = registry.lookup("Foo")
    assert rule is not None and rule(_call()).flops == 1


def test_gemm_without_c_adds_no_bias_even_when_counting_bias(count_node) -> None:
    # A (2,3) @ B (3,4), no C: 24 MACs = 48 FLOPs; count_bias has nothing to add
    report = count_node("Gemm", {"A": (2, 3)}, {"B": (3, 4)}, count_bias=True)
    assert (report.layers[0].macs, report.layers[0].flops) == (24, 48)


@pytest.mark.parametrize(
    ("inputs", "per"),
    [
        # LayerNormalization as a frontend may give it: no scale (elementwise_affine off)
        (1, 5),
        # scale only: 5 + 1
        (2, 6),
        # scale and bias: 5 + 1 + 1
        (3, 7),
    ],
)
def test_normalization_charges_scale_and_bias_only_when_given(inputs, per) -> None:
    # x (2,4) = 8 elements x per
    rule = REGISTRY.lookup("LayerNormalization")
    assert rule is not None
    infos = (
        TensorInfo("x", (2, 4), "float32"),
        TensorInfo("scale", (4,), "float32"),
        TensorInfo("bias", (4,), "float32"),
    )[:inputs]
    call = OpCall("LayerNormalization", infos, (TensorInfo("y", (2, 4), "float32"),))
    assert rule(call).flops == 8 * per


def test_an_opcall_does_not_count_bias_unless_asked() -> None:
    # Conv x (1,1,3,3), w (2,1,3,3), b (2,) -> (1,2,1,1): 2 x 9 = 18 MACs = 36 FLOPs; the 2
    # bias adds only with count_bias=True: 38
    rule = REGISTRY.lookup("Conv")
    assert rule is not None
    infos = (
        TensorInfo("x", (1, 1, 3, 3), "float32"),
        TensorInfo("w", (2, 1, 3, 3), "float32"),
        TensorInfo("b", (2,), "float32"),
    )
    out = (TensorInfo("y", (1, 2, 1, 1), "float32"),)
    assert tuple(rule(OpCall("Conv", infos, out))) == (18, 36, 0)
    assert tuple(rule(OpCall("Conv", infos, out, count_bias=True))) == (18, 38, 0)


def test_an_einsum_term_that_does_not_fit_its_operand_is_refused() -> None:
    # "ij" names 2 dims of a 3-D operand: the rule raises (the node is listed as not
    # counted) rather than count a product over the wrong dims
    rule = REGISTRY.lookup("Einsum")
    assert rule is not None
    call = OpCall(
        "Einsum",
        (TensorInfo("x", (2, 3, 4), "float32"),),
        (TensorInfo("y", (2,), "float32"),),
        {"equation": "ij->i"},
    )
    with pytest.raises(ValueError):
        rule(call)
