"""What ``count`` returns: typed, frozen results with units in the names where units matter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._version import __version__
from .graph import Shape, TensorInfo, Uncounted

SCHEMA_VERSION = 1


def envelope(kind: str, mode: str | None = None) -> dict[str, Any]:
    """The keys every JSON document modelprof writes starts with, in this order:
    ``schema_version``, ``kind``, ``mode`` (only when given: ``"sweep"``, ``"throughput"``...)
    and ``modelprof_version`` (docs/schema.md). The one place they are written; the device
    ceilings document (measure/, also the cache file) uses it too, so it lives at the root
    and :mod:`modelprof.render.jsondoc` re-exports it."""
    doc: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "kind": kind}
    if mode is not None:
        doc["mode"] = mode
    doc["modelprof_version"] = __version__
    return doc


@dataclass(frozen=True)
class Convention:
    """How the numbers were counted; printed with every report."""

    count_bias: bool = False
    #: backward-pass FLOPs were counted (``count --training``)
    training: bool = False
    #: the model has integer products, reported as ``int_macs`` apart from MACs and FLOPs
    int_macs: bool = False

    def lines(self) -> tuple[str, ...]:
        bias = "counted (1 FLOP per output element)" if self.count_bias else "not counted"
        lines = [
            "MACs: multiply-accumulates of Conv, ConvTranspose, Gemm, MatMul, Einsum, Attention",
            "FLOPs: 2 x MACs + 1 per output element for elementwise ops and activations; "
            "pools: output x kernel area (global: input elements); norms and softmax: "
            "documented constants per element",
            f"bias adds: {bias}; FLOPs is a quantity, FLOP/s a rate",
        ]
        if self.int_macs:
            lines.append(f"int MACs: {INT_MACS_TEXT}")
        if self.training:
            lines.append(f"training FLOPs: {TRAINING_TEXT}")
        return tuple(lines)

    def to_dict(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "macs": "multiply-accumulates of Conv, ConvTranspose, Gemm, MatMul, Einsum, Attention",
            "flops": "2 x MACs + other ops by the documented per-op rules",
            "count_bias": self.count_bias,
        }
        if self.int_macs:
            doc["int_macs"] = INT_MACS_TEXT
        if self.training:
            doc["training"] = True
            doc["training_flops"] = TRAINING_TEXT
        return doc


INT_MACS_TEXT = (
    "integer multiply-accumulates of QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger, "
    "QGemm (not included in MACs or FLOPs)"
)
TRAINING_TEXT = (
    "forward + backward: 2 x MACs per operand needing a gradient (weights; inputs computed "
    "from weights, so not the first layer's), others x1-2 (docs/conventions.md)"
)


@dataclass(frozen=True, slots=True)
class LayerCost:
    """One layer (a graph node, or a node with its bias Add folded in)."""

    name: str
    op: str
    scope: str
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    params: int
    macs: int
    flops: int
    weight_bytes: int
    activation_bytes: int
    intensity: float
    bytes_moved: int = 0
    counted: bool = True
    note: str = ""
    #: integer multiply-accumulates (quantised ops), never part of ``macs``/``flops``
    int_macs: int = 0
    #: forward + backward FLOPs; None unless counted with ``training=True``
    training_flops: int | None = None


@dataclass(frozen=True, slots=True)
class Totals:
    params: int
    buffers: int
    macs: int
    flops: int
    weight_bytes: int
    activation_bytes: int
    peak_activation_bytes: int
    int_macs: int = 0
    #: None unless counted with ``training=True``
    training_flops: int | None = None


@dataclass(frozen=True, slots=True)
class GroupCost:
    """Costs summed over a group of layers (an op type, or a module scope)."""

    key: str
    layers: int
    params: int
    macs: int
    flops: int
    flops_share: float
    int_macs: int = 0
    training_flops: int | None = None


@dataclass(frozen=True)
class CostReport:
    """Per-layer costs, totals, and what could not be counted."""

    model: str
    source: str
    convention: Convention
    inputs: tuple[TensorInfo, ...]
    layers: tuple[LayerCost, ...]
    total: Totals
    unsupported: Mapping[str, int]
    node_coverage: float
    uncounted: tuple[Uncounted, ...] = ()
    notes: tuple[str, ...] = ()

    def _group(self, keys: list[str]) -> list[GroupCost]:
        acc: dict[str, list[int]] = {}
        for key, layer in zip(keys, self.layers, strict=True):
            row = acc.setdefault(key, [0, 0, 0, 0, 0, 0])
            row[0] += 1
            row[1] += layer.params
            row[2] += layer.macs
            row[3] += layer.flops
            row[4] += layer.int_macs
            row[5] += layer.training_flops or 0
        total = self.total.flops or 1
        training = self.total.training_flops is not None
        return [
            GroupCost(
                key, n, params, macs, flops, flops / total, imacs, train if training else None
            )
            for key, (n, params, macs, flops, imacs, train) in acc.items()
        ]

    def by_op_type(self) -> list[GroupCost]:
        """Costs per op type, most FLOPs first."""
        groups = self._group([layer.op for layer in self.layers])
        return sorted(groups, key=lambda g: (-g.flops, g.key))

    def by_scope(self, depth: int = 1) -> list[GroupCost]:
        """Costs per module scope cut to ``depth`` components (``layer1.0`` at depth 2), in
        execution order of first appearance. Layers outside any module group under ''."""
        keys = [
            ".".join(layer.scope.split(".")[:depth]) if layer.scope else "" for layer in self.layers
        ]
        return self._group(keys)

    def layer(self, name: str) -> LayerCost:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)
