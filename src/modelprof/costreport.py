"""What ``count`` returns: typed, frozen results with units in the names where units matter.

It also holds the registry through which every report shows itself in a notebook
(:func:`register_html`, :func:`html_of`); see :func:`html_of` for why it lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, TypeVar

from ._version import __version__
from .graph import Shape, TensorInfo, Uncounted

SCHEMA_VERSION = 1

#: The entry-point group (``[project.entry-points."modelprof.html"]`` in pyproject.toml) whose
#: entries are called, with no argument, to register notebook renderers the first time a report
#: is displayed: modelprof's own is ``modelprof.render.notebook:register``.
HTML_ENTRY_POINTS = "modelprof.html"

_R = TypeVar("_R")
_HTML: dict[type, Callable[[Any], str]] = {}
#: set (to [True]) once the entry points have been loaded, before loading them: a renderer
#: that displays a report does not load them again
_entry_points_loaded: list[bool] = []


def register_html(report_type: type[_R], renderer: Callable[[_R], str]) -> None:
    """Show ``report_type`` (and its subclasses) in a notebook as ``renderer(report)``, an HTML
    fragment; a later registration for the same type replaces the earlier one."""
    _HTML[report_type] = renderer


def html_of(report: object) -> str | None:
    """``report`` as the HTML fragment its registered renderer writes, or None when no
    renderer is registered for its type (a notebook then shows its plain ``repr``).

    Why a registry: every report class has a ``_repr_html_`` that Jupyter calls, but the
    HTML is rendering, which lives in :mod:`modelprof.render`, and the layering (import-linter
    contracts in pyproject.toml) lets no module below render/ import it, not even inside a
    function. So render/ registers its renderers here, and here they are found through package
    metadata, the entry points of :data:`HTML_ENTRY_POINTS`, loaded once on the first display:
    the counter names no module above it, ``import modelprof`` stays as light as it was, and
    ``modelprof.count("seed-cnn")`` in a notebook still shows its table with nothing else
    imported. A package of yours can declare renderers for its own report types the same way.
    """
    if not _entry_points_loaded:
        _entry_points_loaded.append(True)
        for entry in entry_points(group=HTML_ENTRY_POINTS):
            entry.load()()
    for cls in type(report).__mro__:
        renderer = _HTML.get(cls)
        if renderer is not None:
            return renderer(report)
    return None


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

    def _repr_html_(self) -> str | None:
        """The layer table, for Jupyter (:func:`html_of`)."""
        return html_of(self)
