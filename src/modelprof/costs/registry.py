"""One registry of cost rules.

A cost rule is a pure function of shapes and attributes: it receives an :class:`OpCall` (the
node's input/output :class:`~modelprof.graph.TensorInfo` and its attributes, spec defaults
filled in) and returns a :class:`Cost`. Rules never see weight values, so they can be tested
with nothing but shapes, and the analysis calls a rule once per distinct (op, attributes,
shapes, dtypes) and reuses the result for the other nodes. Each op type has exactly one rule:
registering a second one is an error unless the caller says ``replace=True``, so a typo
cannot silently shadow a built-in.

Cost and OpCall are NamedTuples (immutable and typed) because one of each is built per node:
on a 100,000-node graph a frozen dataclass's slower constructor shows up in the wall time.

Ops that truly cost nothing (Reshape, Transpose, ...) are listed in an explicit zero-cost set,
so that "no rule" always means "not counted" and is reported as such.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from ..errors import RuleError
from ..graph import Shape, TensorInfo


class MissingShapeError(Exception):
    """A rule needed a tensor whose shape is not known."""


class Cost(NamedTuple):
    """What one execution of an op costs: multiply-accumulates and floating-point operations.

    ``flops`` already includes ``2 * macs``; rules build it with :func:`mac_cost`.
    ``int_macs`` are integer multiply-accumulates (QLinearConv, MatMulInteger, ...): they are
    kept apart and never included in ``macs`` or ``flops``; rules build them with
    :func:`int_mac_cost`.
    """

    macs: int = 0
    flops: int = 0
    int_macs: int = 0


ZERO = Cost()


def mac_cost(macs: int, extra_flops: int = 0) -> Cost:
    """A multiply-accumulate op: each MAC is two FLOPs (one multiply, one add)."""
    return Cost(macs=macs, flops=2 * macs + extra_flops)


def flop_cost(flops: int) -> Cost:
    return Cost(macs=0, flops=flops)


def int_mac_cost(int_macs: int, flops: int = 0) -> Cost:
    """An integer multiply-accumulate op: ``int_macs`` integer MACs, plus ``flops`` of float
    work (requantisation) that is counted as FLOPs."""
    return Cost(macs=0, flops=flops, int_macs=int_macs)


class OpCall(NamedTuple):
    """Everything a rule may look at. ``inputs[i]`` is None for an omitted optional input."""

    op_type: str
    inputs: tuple[TensorInfo | None, ...]
    outputs: tuple[TensorInfo | None, ...]
    attrs: Mapping[str, Any] = MappingProxyType({})
    count_bias: bool = False

    def has_input(self, index: int) -> bool:
        return index < len(self.inputs) and self.inputs[index] is not None

    def in_shape(self, index: int = 0) -> Shape:
        info = self.inputs[index] if index < len(self.inputs) else None
        if info is None:
            raise MissingShapeError(f"{self.op_type} input {index} is missing")
        return info.shape

    def out_shape(self, index: int = 0) -> Shape:
        info = self.outputs[index] if index < len(self.outputs) else None
        if info is None:
            raise MissingShapeError(f"{self.op_type} output {index} has no known shape")
        return info.shape

    def out_numel(self, index: int = 0) -> int:
        n = 1
        for d in self.out_shape(index):
            n *= d
        return n

    def in_numel(self, index: int = 0) -> int:
        n = 1
        for d in self.in_shape(index):
            n *= d
        return n


CostRule = Callable[[OpCall], Cost]


class Registry:
    """Maps ONNX op types to cost rules, plus the explicit set of zero-cost ops."""

    def __init__(self) -> None:
        self._rules: dict[str, CostRule] = {}
        self._zero: set[str] = set()

    def register(self, op_type: str, rule: CostRule, *, replace: bool = False) -> None:
        if not replace and (op_type in self._rules or op_type in self._zero):
            raise RuleError(
                f"a cost rule for '{op_type}' is already registered; pass replace=True to override"
            )
        self._zero.discard(op_type)
        self._rules[op_type] = rule

    def register_zero(self, op_types: Iterable[str]) -> None:
        for op in op_types:
            if op in self._rules or op in self._zero:
                raise RuleError(f"'{op}' is registered twice")
            self._zero.add(op)

    def rule(self, *op_types: str) -> Callable[[CostRule], CostRule]:
        """Decorator form of :meth:`register` for one or more op types."""

        def decorate(fn: CostRule) -> CostRule:
            for op in op_types:
                self.register(op, fn)
            return fn

        return decorate

    def lookup(self, op_type: str) -> CostRule | None:
        if op_type in self._zero:
            return _zero_rule
        return self._rules.get(op_type)

    def is_zero_cost(self, op_type: str) -> bool:
        return op_type in self._zero

    def __contains__(self, op_type: str) -> bool:
        return op_type in self._rules or op_type in self._zero

    def op_types(self) -> dict[str, CostRule | None]:
        """All known op types; zero-cost ones map to None. For the generated docs table."""
        table: dict[str, CostRule | None] = dict.fromkeys(self._zero)
        table.update(self._rules)
        return dict(sorted(table.items()))


def _zero_rule(call: OpCall) -> Cost:
    return ZERO


#: The one registry the built-in rules live in.
REGISTRY = Registry()
