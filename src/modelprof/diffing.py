"""Per-layer and total differences between two count reports (``kind: "count"`` documents).

Pure: works on the JSON documents ``modelprof count --format json`` writes (a model is first
counted and turned into the same document), so a report saved last week and a model changed
today are compared the same way. Layers are matched by name; a layer only in A is *removed*,
only in B *added*; a matched layer whose op, params, MACs or FLOPs differ is *changed*.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .costreport import SCHEMA_VERSION, Convention, html_of
from .errors import ModelprofError

#: the per-layer figures compared, in output order
LAYER_METRICS = ("params", "macs", "flops")
#: the totals compared when both documents have them
TOTAL_METRICS = (
    "params",
    "buffers",
    "macs",
    "flops",
    "weight_bytes",
    "activation_bytes",
    "peak_activation_bytes",
)


class DiffInputError(ModelprofError):
    """Something given to ``diff`` is not a count report (exit status 2)."""


@dataclass(frozen=True, slots=True)
class Side:
    """Where one side came from: ``ref`` as the user gave it, the model it describes."""

    ref: str
    model: str
    source: str
    count_bias: bool
    node_coverage: float
    unsupported: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class LayerDiff:
    """One layer in A, B or both; figures are ``None`` on the side that lacks the layer."""

    name: str
    status: str  # removed | added | changed | same
    op_a: str | None
    op_b: str | None
    a: Mapping[str, int] | None
    b: Mapping[str, int] | None

    def value(self, side: str, metric: str) -> int:
        figures = self.a if side == "a" else self.b
        return int(figures[metric]) if figures is not None else 0

    def delta(self, metric: str) -> int:
        """B - A (a removed layer's delta is minus its figure, an added layer's its figure)."""
        return self.value("b", metric) - self.value("a", metric)


@dataclass(frozen=True, slots=True)
class TotalDiff:
    metric: str
    a: int
    b: int

    @property
    def delta(self) -> int:
        return self.b - self.a

    @property
    def ratio(self) -> float | None:
        """B / A, or ``None`` when A is 0."""
        return self.b / self.a if self.a else None


@dataclass(frozen=True)
class ReportDiff:
    a: Side
    b: Side
    layers: tuple[LayerDiff, ...]
    totals: tuple[TotalDiff, ...]
    notes: tuple[str, ...] = ()

    def by_status(self, status: str) -> list[LayerDiff]:
        return [layer for layer in self.layers if layer.status == status]

    def total(self, metric: str) -> TotalDiff:
        for t in self.totals:
            if t.metric == metric:
                return t
        raise KeyError(metric)

    def _repr_html_(self) -> str | None:
        """The changed layers, as ``modelprof diff`` shows them, for Jupyter (:func:`html_of`)."""
        return html_of(self)


def count_document_of(doc: Any, ref: str) -> dict[str, Any]:
    """The count document in ``doc`` (a ``profile`` document carries one under ``count``), or
    :class:`DiffInputError` saying why ``doc`` is not one."""
    hint = f"write one with: modelprof count MODEL --format json -o {ref}"
    if not isinstance(doc, dict):
        raise DiffInputError(f"{ref}: not a modelprof count report (a JSON object); {hint}")
    kind = doc.get("kind")
    if kind == "profile" and isinstance(doc.get("count"), dict):
        doc = doc["count"]
        kind = doc.get("kind")
    if kind != "count":
        what = f"a '{kind}' document" if isinstance(kind, str) else "no 'kind'"
        raise DiffInputError(f"{ref}: not a count report ({what}); {hint}")
    version = doc.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise DiffInputError(
            f"{ref}: count report schema_version {version!r} is not one this modelprof reads "
            f"(up to {SCHEMA_VERSION})"
        )
    layers, total = doc.get("layers"), doc.get("total")
    if not isinstance(layers, list) or not isinstance(total, dict):
        raise DiffInputError(f"{ref}: count report without 'layers' and 'total'")
    _check_convention(doc.get("convention"), ref)
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("name"), str):
            raise DiffInputError(f"{ref}: layer {i} has no name")
        for metric in LAYER_METRICS:
            if not _is_count(layer.get(metric)):
                raise DiffInputError(
                    f"{ref}: layer '{layer['name']}' has no count '{metric}' (an integer "
                    f"from 0 to 2^63), it has {_shown(layer.get(metric))}"
                )
    for metric in TOTAL_METRICS:
        if metric in total and not _is_count(total[metric]):
            raise DiffInputError(
                f"{ref}: total '{metric}' is {_shown(total[metric])}, not an integer from 0 "
                "to 2^63"
            )
    checked: dict[str, Any] = doc
    return checked


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _is_count(value: object) -> bool:
    """A count as a report writes it: an integer, not a bool, not negative, and small enough
    for every runtime and JSON reader (the largest model counted is far below 2^63)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 63


def _check_convention(convention: object, ref: str) -> None:
    """The report's convention must be one this modelprof writes: the same definitions of
    MACs and FLOPs (otherwise the two sides count different things), known fields only."""
    if convention is None:
        return
    ours = Convention(count_bias=True, training=True, int_macs=True).to_dict()
    if not isinstance(convention, dict) or not set(convention) <= set(ours):
        raise DiffInputError(f"{ref}: its 'convention' is not one modelprof writes")
    for key in ("macs", "flops"):
        if convention.get(key, ours[key]) != ours[key]:
            raise DiffInputError(
                f"{ref}: counted under another convention ({key}: {convention.get(key)!r})"
            )
    for key in ("count_bias", "training"):
        if not isinstance(convention.get(key, False), bool):
            raise DiffInputError(f"{ref}: convention '{key}' is not true or false")


def _side(doc: Mapping[str, Any], ref: str) -> Side:
    convention = doc.get("convention") or {}
    return Side(
        ref=ref,
        model=str(doc.get("model", ref)),
        source=str(doc.get("source", "")),
        count_bias=bool(convention.get("count_bias", False)),
        node_coverage=float(doc.get("node_coverage", 1.0)),
        unsupported=dict(doc.get("unsupported") or {}),
    )


def _figures(layer: Mapping[str, Any]) -> dict[str, int]:
    return {metric: int(layer[metric]) for metric in LAYER_METRICS}


def _match_by(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> str:
    """How to match layers: by name, unless fewer than half of them share a name and more
    share a module scope (a PyTorch count, ``conv1``, and its ONNX export's, ``/conv1/Conv``,
    share scope ``conv1``): then by scope, the n-th layer of a scope with the n-th, and by
    name where a layer has no scope."""
    names_a, names_b = {layer["name"] for layer in a}, {layer["name"] for layer in b}
    by_name = len(names_a & names_b)
    if 2 * by_name >= min(len(names_a), len(names_b)):
        return "name"
    scopes_a = {key for key, _ in _keyed(a, "scope")}
    by_scope = sum(1 for key, _ in _keyed(b, "scope") if key in scopes_a)
    return "scope" if by_scope > by_name else "name"


def _keyed(layers: list[dict[str, Any]], by: str = "name") -> list[tuple[str, dict[str, Any]]]:
    """(match key, layer): a key that repeats is matched occurrence by occurrence."""
    seen: dict[str, int] = {}
    out = []
    for layer in layers:
        scope = layer.get("scope")
        if by == "scope" and isinstance(scope, str) and scope:
            name = f"{scope}\x01"  # not the op: nn.Linear is a Gemm here, a MatMul exported
        else:
            name = layer["name"]
        n = seen.get(name, 0)
        seen[name] = n + 1
        out.append((name if not n else f"{name}\x00{n}", layer))
    return out


def diff_documents(
    a: Mapping[str, Any], b: Mapping[str, Any], *, ref_a: str = "A", ref_b: str = "B"
) -> ReportDiff:
    """Compare two count documents (validated with :func:`count_document_of`).

    Rows follow B's order; layers removed from A are listed just before the first layer both
    share that came after them in A, then the layers B added in their place.
    """
    a_doc, b_doc = count_document_of(dict(a), ref_a), count_document_of(dict(b), ref_b)
    by = _match_by(a_doc["layers"], b_doc["layers"])
    a_layers, b_layers = _keyed(a_doc["layers"], by), _keyed(b_doc["layers"], by)
    a_index = {key: i for i, (key, _) in enumerate(a_layers)}
    b_keys = {key for key, _ in b_layers}

    rows: list[LayerDiff] = []
    pending_added: list[LayerDiff] = []
    next_a = 0

    def removed(layer: dict[str, Any]) -> LayerDiff:
        return LayerDiff(layer["name"], "removed", layer.get("op"), None, _figures(layer), None)

    for key, lb in b_layers:
        j = a_index.get(key)
        if j is None:
            pending_added.append(
                LayerDiff(lb["name"], "added", None, lb.get("op"), None, _figures(lb))
            )
            continue
        while next_a < j:
            a_key, la = a_layers[next_a]
            if a_key not in b_keys:
                rows.append(removed(la))
            next_a += 1
        next_a = max(next_a, j + 1)
        rows.extend(pending_added)
        pending_added = []
        la = a_layers[j][1]
        fa, fb = _figures(la), _figures(lb)
        same = fa == fb and la.get("op") == lb.get("op")
        rows.append(
            LayerDiff(lb["name"], "same" if same else "changed", la.get("op"), lb.get("op"), fa, fb)
        )
    rows.extend(removed(la) for key, la in a_layers[next_a:] if key not in b_keys)
    rows.extend(pending_added)

    a_total, b_total = a_doc["total"], b_doc["total"]
    totals = tuple(
        TotalDiff(metric, int(a_total[metric]), int(b_total[metric]))
        for metric in TOTAL_METRICS
        if isinstance(a_total.get(metric), int) and isinstance(b_total.get(metric), int)
    )
    side_a, side_b = _side(a_doc, ref_a), _side(b_doc, ref_b)
    notes = _notes(side_a, side_b)
    if by == "scope":
        notes.insert(
            0,
            "layers matched by module scope: the two reports name their layers "
            "differently (a PyTorch count and its ONNX export, say)",
        )
    return ReportDiff(side_a, side_b, tuple(rows), totals, tuple(notes))


def _notes(a: Side, b: Side) -> list[str]:
    notes = []
    if a.count_bias != b.count_bias:
        counted = "A" if a.count_bias else "B"
        notes.append(
            f"only {counted} counts bias adds (--count-bias): FLOPs differ by convention, "
            "not only by model"
        )
    for label, side in (("A", a), ("B", b)):
        if side.unsupported:
            ops = ", ".join(f"{op} x{n}" for op, n in side.unsupported.items())
            notes.append(
                f"{label} ({side.model}) has ops that were not counted ({ops}); node coverage "
                f"{100 * side.node_coverage:.1f}%: its totals are a lower bound"
            )
    return notes
