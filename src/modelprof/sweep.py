"""Cost against input size: ``count --sweep`` and ``count --symbolic``.

Both count the model again at other input shapes (each point is an ordinary count: the model
is loaded at that shape and analysed, nothing is extrapolated) and keep the totals.

What varies is named in one of three ways (docs/conventions.md, "Cost against input size"):

* ``INPUT`` with full shapes, for ``--sweep`` only: ``input=1x3x160x160,1x3x224x224``;
* a dim name: on ONNX, every input dim whose ``dim_param`` has that name; ``batch`` also means
  dim 0 of every input when no input dim is named ``batch`` (PyTorch and zoo models have no
  named dims, so there ``batch`` is the only name);
* ``INPUT:AXIS`` (``input:1``), or several axes of one input bound together
  (``input:2,3`` for a square image).

``--symbolic DIM[=VAR]`` evaluates the totals at consecutive values of the dim, starting at its
current size, and fits exact polynomials with rational coefficients (degree <= 2), checked on
further points. Strided convolutions and pools make spatial costs floor expressions: those
are fitted per residue class of the dim modulo a period (a divisor of the graph's accumulated
stride), and reported as such; what fits nothing is reported as "not a polynomial" with the
evaluated points.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from math import lcm
from pathlib import Path
from typing import Any

from ._version import __version__
from .analysis import analyze
from .api import InputShapes, ModelRef, load_graph
from .costreport import SCHEMA_VERSION, Convention, CostReport, Totals
from .errors import ModelprofError, ShapeError
from .graph import Graph, Node
from .shapes import InputSpec, resolve_inputs

Shape = tuple[int, ...]

#: Polynomials are fitted up to this degree (CNNs are linear in batch, attention quadratic in
#: sequence length, a square image's spatial side quadratic).
MAX_DEGREE = 2
#: Consecutive points per residue class: MAX_DEGREE + 1 to fit, one to check.
DENSE_PER_CLASS = MAX_DEGREE + 2
#: One more check per residue class, further out: base + residue + FAR_STEPS x modulus.
FAR_STEPS = 11
#: At most this many evaluations (counts of the whole model) for one --symbolic.
MAX_EVALUATIONS = 64
#: Ops whose ``strides`` make output sizes floor expressions of input sizes.
STRIDED_OPS = frozenset({"Conv", "ConvInteger", "QLinearConv", "MaxPool", "AveragePool", "LpPool"})

QUANTITIES = (
    ("params", "params"),
    ("macs", "MACs"),
    ("int_macs", "int MACs"),
    ("flops", "FLOPs"),
    ("training_flops", "training FLOPs"),
    ("weight_bytes", "weight bytes"),
    ("peak_activation_bytes", "peak activation bytes"),
)


# -- the model, at any input shape ---------------------------------------------------------------


@dataclass(frozen=True)
class InputTemplate:
    """One model input: its dims (None: dynamic and unbound) and their names (ONNX
    ``dim_param``; None when unnamed)."""

    name: str
    dims: tuple[int | None, ...]
    labels: tuple[str | None, ...]
    dtype: str


Position = tuple[int, int]  # (input index, axis)


class ShapedModel:
    """A model that can be counted at any input shapes; counts are cached per shape."""

    def __init__(
        self,
        model: ModelRef,
        input_shapes: InputShapes = None,
        *,
        count_bias: bool = False,
        training: bool = False,
    ) -> None:
        self.count_bias = count_bias
        self.training = training
        self._cache: dict[tuple[tuple[str, Shape, str], ...], CostReport] = {}
        self._graphs: dict[tuple[tuple[str, Shape, str], ...], Graph] = {}
        self._loader: Callable[[list[InputSpec]], Graph]
        self.last_graph: Graph | None = None  # the graph of the latest count that loaded one
        if isinstance(model, Graph):
            raise ModelprofError(
                "a Graph has fixed shapes: give the model itself (a file, a zoo name, a module)"
            )
        if _is_onnx(model):
            self._init_onnx(model, input_shapes)
        else:
            self._init_generic(model, input_shapes)

    def _init_onnx(self, model: Any, input_shapes: InputShapes) -> None:
        from .frontends import onnx as onnx_frontend

        if isinstance(model, str | os.PathLike):
            proto = onnx_frontend.read_model(model)
            label = Path(model).name
        else:
            proto, label = model, model.graph.name or "model"
        self.model_name = label
        stored = {init.name for init in proto.graph.initializer}
        templates = []
        for vi in proto.graph.input:
            if vi.name in stored:
                continue
            tensor_type = vi.type.tensor_type
            dims: list[int | None] = []
            labels: list[str | None] = []
            for d in tensor_type.shape.dim if tensor_type.HasField("shape") else ():
                known = d.HasField("dim_value") and d.dim_value > 0
                dims.append(d.dim_value if known else None)
                labels.append(d.dim_param or None)
            dtype = onnx_frontend._dtype(tensor_type.elem_type)
            templates.append(InputTemplate(vi.name, tuple(dims), tuple(labels), dtype))
        user = resolve_inputs(input_shapes, [t.name for t in templates])
        for i, t in enumerate(templates):
            spec = user.get(t.name)
            if spec is None:
                continue
            labels_ = t.labels if len(t.labels) == len(spec.shape) else (None,) * len(spec.shape)
            templates[i] = InputTemplate(t.name, spec.shape, labels_, spec.dtype or t.dtype)
        self.templates = tuple(templates)
        self._loader = lambda specs: onnx_frontend.load(proto, specs, name=label)

    def _init_generic(self, model: ModelRef, input_shapes: InputShapes) -> None:
        base = load_graph(model, input_shapes)
        self.model_name = base.name
        infos = base.input_infos()
        self.templates = tuple(
            InputTemplate(i.name, tuple(i.shape), (None,) * len(i.shape), i.dtype) for i in infos
        )
        self._graphs[tuple((i.name, tuple(i.shape), i.dtype) for i in infos)] = base
        self._loader = lambda specs: load_graph(model, specs)

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.templates]

    def specs(self, overrides: Mapping[int, Sequence[int | None]]) -> list[InputSpec]:
        """Every input's full shape: the template's dims, replaced by ``overrides`` (input
        index -> dims); a dim still dynamic is an error saying how to bind it."""
        specs = []
        for i, t in enumerate(self.templates):
            dims = list(overrides.get(i, t.dims))
            for axis, d in enumerate(dims):
                if d is None:
                    label = (
                        f" ('{t.labels[axis]}')" if axis < len(t.labels) and t.labels[axis] else ""
                    )
                    example = "x".join(str(x) if x else "1" for x in dims)
                    raise ShapeError(
                        f"input '{t.name}' dim {axis}{label} is dynamic: bind it with "
                        f"--input-shape {t.name}={example}"
                    )
            specs.append(InputSpec(t.name, tuple(int(d) for d in dims if d is not None), t.dtype))
        return specs

    def count(self, specs: list[InputSpec]) -> CostReport:
        key = tuple((s.name or "", s.shape, s.dtype or "") for s in specs)
        report = self._cache.get(key)
        if report is None:
            graph = self._graphs.pop(key, None) or self._loader(specs)
            self.last_graph = graph
            report = analyze(graph, count_bias=self.count_bias, training=self.training)
            self._cache[key] = report
        return report


def _is_onnx(model: object) -> bool:
    if isinstance(model, str | os.PathLike):
        return Path(model).suffix.lower() == ".onnx"
    return type(model).__module__.split(".")[0] == "onnx"


# -- naming what varies --------------------------------------------------------------------------


@dataclass(frozen=True)
class DimRef:
    """Which input dims vary together: ``text`` as given, and their (input, axis) positions."""

    text: str
    positions: tuple[Position, ...]
    base: int | None  # the dim's current size (None: dynamic and unbound)

    def describe(self, templates: Sequence[InputTemplate]) -> str:
        return ", ".join(f"{templates[i].name}[{axis}]" for i, axis in self.positions)


_AXES = re.compile(r"-?\d+(?:,-?\d+)*")


def resolve_dim(text: str, templates: Sequence[InputTemplate]) -> DimRef:
    """Resolve a dim name (``batch``, an ONNX ``dim_param``) or ``INPUT:AXIS[,AXIS...]``."""
    names = [t.name for t in templates]
    text = text.strip()
    head, sep, tail = text.rpartition(":")
    positions: list[Position] = []
    if sep and head in names and _AXES.fullmatch(tail):
        index = names.index(head)
        rank = len(templates[index].dims)
        for axis_text in tail.split(","):
            axis = int(axis_text)
            if not -rank <= axis < rank:
                raise ShapeError(
                    f"'{text}': input '{head}' has {rank} dims, so axis {axis} does not exist"
                )
            positions.append((index, axis % rank))
    elif text in names:
        raise ShapeError(
            f"'{text}' is an input: name one of its axes, e.g. {text}:0 (or a dim name such as "
            "batch)"
        )
    else:
        for i, t in enumerate(templates):
            positions += [(i, axis) for axis, label in enumerate(t.labels) if label == text]
        if not positions and text == "batch":
            positions = [(i, 0) for i, t in enumerate(templates) if t.dims]
        if not positions:
            named = sorted({lab for t in templates for lab in t.labels if lab})
            known = (
                f"named dims: {', '.join(named)}; " if named else "the inputs have no named dims; "
            )
            example = f"{names[0]}:1" if names else "input:1"
            raise ShapeError(
                f"no input dim is named '{text}' ({known}name an axis as INPUT:AXIS, e.g. "
                f"{example}, or use batch)"
            )
    positions = list(dict.fromkeys(positions))
    sizes = {templates[i].dims[axis] for i, axis in positions}
    known_sizes = sorted(s for s in sizes if s is not None)
    return DimRef(text, tuple(positions), known_sizes[0] if known_sizes else None)


def _overrides(
    templates: Sequence[InputTemplate], dim: DimRef, value: int
) -> dict[int, list[int | None]]:
    out: dict[int, list[int | None]] = {}
    for i, axis in dim.positions:
        dims = out.setdefault(i, list(templates[i].dims))
        dims[axis] = value
    return out


def _parse_values(text: str, what: str) -> list[int]:
    parts = [p.strip() for p in text.split(",")]
    if not parts or any(not re.fullmatch(r"\d+", p) for p in parts):
        raise ModelprofError(f"malformed {what} '{text}': expected positive integers like 1,8,32")
    values = [int(p) for p in parts]
    if any(v <= 0 for v in values):
        raise ModelprofError(f"malformed {what} '{text}': every value must be at least 1")
    if len(set(values)) != len(values):
        raise ModelprofError(f"malformed {what} '{text}': a value is repeated")
    return values


def _parse_shapes(text: str, what: str) -> list[Shape]:
    shapes = []
    for part in text.split(","):
        part = part.strip().strip("[]")
        if not re.fullmatch(r"\d+(?:x\d+)*", part):
            raise ModelprofError(
                f"malformed {what} '{text}': expected shapes like 1x3x160x160,1x3x224x224"
            )
        shape = tuple(int(d) for d in part.split("x"))
        if any(d <= 0 for d in shape):
            raise ModelprofError(f"malformed {what} '{text}': every dimension must be positive")
        shapes.append(shape)
    if len(set(shapes)) != len(shapes):
        raise ModelprofError(f"malformed {what} '{text}': a shape is repeated")
    return shapes


def totals_dict(total: Totals, training: bool, ints: bool) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, _ in QUANTITIES:
        if key == "training_flops" and not training:
            continue
        if key == "int_macs" and not ints:
            continue
        out[key] = int(getattr(total, key) or 0)
    return out


# -- --sweep -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPoint:
    """The totals of one count at one input size."""

    value: int | Shape
    inputs: tuple[tuple[str, Shape, str], ...]
    total: Totals
    node_coverage: float
    uncounted: int  # nodes without a rule or that could not be costed


@dataclass(frozen=True)
class SweepReport:
    model: str
    source: str
    convention: Convention
    name: str  # what --sweep named: an input, a dim name, or INPUT:AXIS
    by_shape: bool  # values are whole shapes of the input ``name``
    positions: str  # which dims varied, e.g. "input[0]"
    points: tuple[SweepPoint, ...]
    notes: tuple[str, ...] = ()

    @property
    def has_int_macs(self) -> bool:
        return any(p.total.int_macs for p in self.points)

    @property
    def training(self) -> bool:
        return self.convention.training


def parse_sweep(text: str) -> tuple[str, str]:
    """``"batch=1,8,32"`` -> ("batch", "1,8,32"); the values are parsed once the model's
    inputs are known (an input name takes shapes, a dim integers)."""
    name, sep, values = text.partition("=")
    if not sep or not name.strip() or not values.strip():
        raise ModelprofError(
            f"malformed --sweep '{text}': expected NAME=VALUES, e.g. batch=1,8,32 or "
            "input=1x3x160x160,1x3x224x224"
        )
    return name.strip(), values.strip()


def sweep(
    model: ModelRef,
    name: str,
    values: str | Sequence[int] | Sequence[Shape],
    input_shapes: InputShapes = None,
    *,
    count_bias: bool = False,
    training: bool = False,
) -> SweepReport:
    """Count ``model`` at every value of ``name`` (an input name with whole shapes, a dim name
    or ``INPUT:AXIS``) and keep the totals of each count."""
    shaped = ShapedModel(model, input_shapes, count_bias=count_bias, training=training)
    templates = shaped.templates
    names = shaped.input_names
    by_shape = name in names
    overrides: list[tuple[int | Shape, Mapping[int, Sequence[int | None]]]] = []
    if by_shape:
        index = names.index(name)
        shapes = (
            _parse_shapes(values, f"--sweep {name}")
            if isinstance(values, str)
            else [tuple(v) for v in values]  # type: ignore[arg-type]
        )
        for shape in shapes:
            overrides.append((shape, {index: shape}))
        positions = f"{name} (whole shape)"
    else:
        dim = resolve_dim(name, templates)
        ints = (
            _parse_values(values, f"--sweep {name}")
            if isinstance(values, str)
            else [int(v) for v in values]  # type: ignore[arg-type]
        )
        for v in ints:
            overrides.append((v, _overrides(templates, dim, v)))
        positions = dim.describe(templates)
    points = []
    report: CostReport | None = None
    for value, override in overrides:
        label = "x".join(map(str, value)) if isinstance(value, tuple) else str(value)
        try:
            report = shaped.count(shaped.specs(override))
        except ModelprofError as exc:
            raise type(exc)(f"--sweep {name}={label}: {exc}") from None
        points.append(
            SweepPoint(
                value,
                tuple((i.name, tuple(i.shape), i.dtype) for i in report.inputs),
                report.total,
                report.node_coverage,
                sum(report.unsupported.values()) + len(report.uncounted),
            )
        )
    assert report is not None
    return SweepReport(
        model=shaped.model_name,
        source=report.source,
        convention=report.convention,
        name=name,
        by_shape=by_shape,
        positions=positions,
        points=tuple(points),
        notes=report.notes,
    )


def sweep_document(report: SweepReport) -> dict[str, Any]:
    """``kind: "count"``, ``mode: "sweep"`` (docs/schema.md)."""
    ints = report.has_int_macs
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "count",
        "mode": "sweep",
        "modelprof_version": __version__,
        "model": report.model,
        "source": report.source,
        "convention": report.convention.to_dict(),
        "sweep_name": report.name,
        "sweep_dims": report.positions,
        "sweep": [
            {
                "value": list(p.value) if isinstance(p.value, tuple) else p.value,
                "inputs": [
                    {"name": n, "shape": list(shape), "dtype": dtype}
                    for n, shape, dtype in p.inputs
                ],
                **totals_dict(p.total, report.training, ints),
                "buffers": p.total.buffers,
                "activation_bytes": p.total.activation_bytes,
                "node_coverage": round(p.node_coverage, 6),
            }
            for p in report.points
        ],
        "notes": list(report.notes),
    }


# -- --symbolic ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """A polynomial (coefficients by ascending degree) valid where var mod modulus == residue."""

    modulus: int
    residue: int
    coefficients: tuple[Fraction, ...]

    def __call__(self, x: int) -> Fraction:
        return sum((c * x**k for k, c in enumerate(self.coefficients)), Fraction(0))


@dataclass(frozen=True)
class Formula:
    """One total as a function of the symbolic dim.

    ``kind``: ``"polynomial"`` (one piece), ``"piecewise"`` (one polynomial per residue class
    modulo a period: floor terms from strided convolutions and pools), ``"not_polynomial"``
    (nothing fits the points) or ``"not_fitted"`` (the model could not be counted at a value
    the fit needed); for the last two ``reason`` says why and the report's points carry the
    values.
    """

    quantity: str
    kind: str
    pieces: tuple[Piece, ...] = ()
    reason: str = ""

    def text(self, var: str) -> str:
        if self.kind == "not_polynomial":
            return f"not a polynomial: {self.reason}"
        if self.kind == "not_fitted":
            return f"not fitted: {self.reason}"
        if self.kind == "polynomial":
            return polynomial_text(self.pieces[0].coefficients, var)
        return "; ".join(
            f"{polynomial_text(p.coefficients, var)} if {var} mod {p.modulus} = {p.residue}"
            for p in self.pieces
        )


@dataclass(frozen=True)
class SymbolicReport:
    model: str
    source: str
    convention: Convention
    dim: str  # as given
    variable: str
    positions: str  # e.g. "input[1]"
    base: int
    points: tuple[tuple[int, dict[str, int]], ...]  # (value, totals), ascending
    formulas: tuple[Formula, ...]
    checked: tuple[int, ...] = ()  # values used only to check fits
    notes: tuple[str, ...] = field(default_factory=tuple)

    def formula(self, quantity: str) -> Formula:
        for f in self.formulas:
            if f.quantity == quantity:
                return f
        raise KeyError(quantity)


def parse_symbolic(text: str) -> tuple[str, str | None]:
    """``"input:1=L"`` -> ("input:1", "L"); ``"batch"`` -> ("batch", None)."""
    text = text.strip()
    dim, sep, var = text.rpartition("=")
    if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var.strip()) and dim.strip():
        return dim.strip(), var.strip()
    if "=" in text and not sep:
        raise ModelprofError(f"malformed --symbolic '{text}'")
    if sep:
        raise ModelprofError(
            f"malformed --symbolic '{text}': expected DIM or DIM=VAR with VAR a name like L"
        )
    return text, None


def _solve(xs: Sequence[int], ys: Sequence[int]) -> tuple[Fraction, ...]:
    """Exact coefficients (ascending) of the polynomial of degree len(xs)-1 through the points
    (Gaussian elimination on the Vandermonde system, in rationals)."""
    n = len(xs)
    rows = [
        [Fraction(x) ** k for k in range(n)] + [Fraction(y)] for x, y in zip(xs, ys, strict=True)
    ]
    for col in range(n):
        pivot = next(r for r in range(col, n) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        lead = rows[col][col]
        rows[col] = [v / lead for v in rows[col]]
        for r in range(n):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    coeffs = [rows[k][n] for k in range(n)]
    while len(coeffs) > 1 and coeffs[-1] == 0:
        coeffs.pop()
    return tuple(coeffs)


def fit_polynomial(xs: Sequence[int], ys: Sequence[int]) -> tuple[Fraction, ...] | None:
    """The lowest-degree polynomial (degree <= MAX_DEGREE) through the first degree + 1 points
    that also passes through every other point, or None. Needs one point more than its degree
    + 1, so every fit is checked at least once."""
    for degree in range(MAX_DEGREE + 1):
        if len(xs) < degree + 2:
            break
        coeffs = _solve(xs[: degree + 1], ys[: degree + 1])
        if all(
            sum((c * x**k for k, c in enumerate(coeffs)), Fraction(0)) == y
            for x, y in zip(xs, ys, strict=True)
        ):
            return coeffs
    return None


def _fmt_fraction(c: Fraction) -> str:
    if c.denominator == 1:
        return f"{c.numerator:,}"
    return f"{c.numerator:,}/{c.denominator:,}"


def polynomial_text(coeffs: Sequence[Fraction], var: str) -> str:
    """``1,024 L^2 + 3,145,728 L`` (highest degree first, zero terms left out)."""
    terms = []
    for k in range(len(coeffs) - 1, -1, -1):
        c = Fraction(coeffs[k])
        if c == 0:
            continue
        mag = abs(c)
        power = "" if k == 0 else (var if k == 1 else f"{var}^{k}")
        if k == 0:
            body = _fmt_fraction(mag)
        elif mag == 1:
            body = power
        else:
            body = f"{_fmt_fraction(mag)} {power}"
        terms.append(("-" if c < 0 else "+", body))
    if not terms:
        return "0"
    sign, body = terms[0]
    out = ("-" if sign == "-" else "") + body
    for sign, body in terms[1:]:
        out += f" {sign} {body}"
    return out


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _period(graph: Graph, cap: int = 1 << 12) -> int:
    """A multiple of the period of every floor term in ``graph``'s sizes: each tensor's
    accumulated stride (the lcm over its inputs, times the node's largest stride), lcm'd over
    all tensors, capped. Parallel branches (a ResNet's downsample path) do not multiply."""
    acc: dict[str, int] = {}
    period = 1
    for node in graph.nodes:
        upstream = 1
        for name in node.inputs:
            if name:
                upstream = lcm(upstream, acc.get(name, 1))
        if node.op_type in STRIDED_OPS:
            upstream *= _stride(graph, node)
        upstream = min(upstream, cap)
        for name in node.outputs:
            acc[name] = upstream
        period = min(lcm(period, upstream), cap)
    return period


def _points_needed(base: int, modulus: int) -> int:
    """How many values the fit per residue class modulo ``modulus`` counts the model at."""
    dense = {base + k for k in range(DENSE_PER_CLASS * modulus)}
    return len(dense | {base + r + FAR_STEPS * modulus for r in range(modulus)})


def _stride(graph: Graph, node: Node) -> int:
    """The node's largest stride: its ``strides`` attribute, else (a frontend that leaves the
    attribute out) input size // output size along the spatial axes."""
    strides = node.attrs.get("strides")
    if strides:
        return max(int(s) for s in strides)
    x = graph.tensors.get(node.inputs[0]) if node.inputs else None
    y = graph.tensors.get(node.outputs[0]) if node.outputs else None
    if x is None or y is None or len(x.shape) != len(y.shape):
        return 1
    return max((a // b for a, b in zip(x.shape[2:], y.shape[2:], strict=True) if b), default=1)


def symbolic(
    model: ModelRef,
    dim: str,
    input_shapes: InputShapes = None,
    *,
    variable: str | None = None,
    count_bias: bool = False,
    training: bool = False,
    max_evaluations: int = MAX_EVALUATIONS,
) -> SymbolicReport:
    """Every total of ``model`` as an exact function of the dim ``dim`` (see the module
    docstring): a polynomial, a polynomial per residue class, or "not a polynomial"."""
    shaped = ShapedModel(model, input_shapes, count_bias=count_bias, training=training)
    templates = shaped.templates
    ref = resolve_dim(dim, templates)
    var = variable or ("N" if dim == "batch" else (dim if ":" not in dim else "n"))
    base = ref.base or 1
    values: dict[int, Totals] = {}
    failure: tuple[int, str] | None = None
    first: CostReport | None = None

    def evaluate(v: int) -> bool:
        nonlocal failure, first
        if v in values:
            return True
        try:
            report = shaped.count(shaped.specs(_overrides(templates, ref, v)))
        except ModelprofError as exc:
            if not values:
                raise type(exc)(f"--symbolic {dim} at {var} = {v}: {exc}") from None
            failure = (v, str(exc))
            return False
        if first is None:
            first = report
        values[v] = report.total
        return True

    evaluate(base)
    assert first is not None
    report0: CostReport = first
    ints = bool(report0.total.int_macs)
    quantities = [
        key
        for key, _ in QUANTITIES
        if (key != "training_flops" or training) and (key != "int_macs" or ints)
    ]
    period = _period(shaped.last_graph) if shaped.last_graph is not None else 1
    fitted: dict[str, tuple[Piece, ...]] = {}
    tried: list[int] = []
    checked: set[int] = set()
    over_budget: int | None = None  # the first period that needed too many evaluations
    moduli = _divisors(period)
    if _points_needed(base, period) > max_evaluations:
        # the full period cannot be reached: trying the periods below it would cost many
        # counts and rarely fit a total that depends on the last strided stage
        moduli, over_budget = [1], period
    for modulus in moduli:
        dense = [base + k for k in range(DENSE_PER_CLASS * modulus)]
        far = [base + r + FAR_STEPS * modulus for r in range(modulus)]
        needed = [v for v in (*dense, *far) if v not in values]
        if len(values) + len(needed) > max_evaluations:
            over_budget = modulus
            break
        if not all(evaluate(v) for v in (*dense, *far)):
            break
        tried.append(modulus)
        for q in quantities:
            if q in fitted:
                continue
            pieces = []
            for r in range(modulus):
                xs = [base + r + modulus * k for k in range(DENSE_PER_CLASS)]
                xs.append(base + r + FAR_STEPS * modulus)
                ys = [int(getattr(values[x], q) or 0) for x in xs]
                coeffs = fit_polynomial(xs, ys)
                if coeffs is None:
                    break
                pieces.append(Piece(modulus, (base + r) % modulus, coeffs))
            else:
                fitted[q] = _merge(pieces)
        checked.update(far)
        if len(fitted) == len(quantities):
            break
    formulas = []
    for q in quantities:
        found = fitted.get(q, ())
        if found:
            kind = "polynomial" if len(found) == 1 else "piecewise"
            formulas.append(Formula(q, kind, found))
            continue
        kind = "not_polynomial"
        if failure is not None:
            kind, reason = "not_fitted", f"could not count at {var} = {failure[0]} ({failure[1]})"
        elif not tried:
            kind = "not_fitted"
            reason = f"fitting needs more than {max_evaluations} evaluations"
        else:
            reason = f"no polynomial of degree <= {MAX_DEGREE} fits the points"
            if tried != [1]:
                periods = ", ".join(str(m) for m in tried[1:])
                reason += f", nor one per residue class of {var} modulo {periods} (floor terms)"
            if over_budget is not None:
                reason += (
                    f"; a period of {over_budget} (strided ops) would need more than "
                    f"{max_evaluations} evaluations"
                )
        formulas.append(Formula(q, kind, (), reason))
    points = tuple((v, totals_dict(values[v], training, ints)) for v in sorted(values))
    return SymbolicReport(
        model=shaped.model_name,
        source=report0.source,
        convention=report0.convention,
        dim=dim,
        variable=var,
        positions=ref.describe(templates),
        base=base,
        points=points,
        formulas=tuple(formulas),
        checked=tuple(sorted(checked)),
        notes=report0.notes,
    )


def _merge(pieces: list[Piece]) -> tuple[Piece, ...]:
    """Residue classes whose polynomials agree are one polynomial (modulus 1)."""
    if len({p.coefficients for p in pieces}) == 1:
        return (Piece(1, 0, pieces[0].coefficients),)
    return tuple(sorted(pieces, key=lambda p: p.residue))


def _coefficient_json(c: Fraction) -> int | str:
    return c.numerator if c.denominator == 1 else f"{c.numerator}/{c.denominator}"


def symbolic_document(report: SymbolicReport) -> dict[str, Any]:
    """``kind: "count"``, ``mode: "symbolic"`` (docs/schema.md)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "count",
        "mode": "symbolic",
        "modelprof_version": __version__,
        "model": report.model,
        "source": report.source,
        "convention": report.convention.to_dict(),
        "symbolic": {
            "dim": report.dim,
            "variable": report.variable,
            "dims": report.positions,
            "base": report.base,
            "max_degree": MAX_DEGREE,
        },
        "formulas": {
            f.quantity: {
                "kind": f.kind,
                "formula": f.text(report.variable),
                "pieces": [
                    {
                        "modulus": p.modulus,
                        "residue": p.residue,
                        "coefficients": [_coefficient_json(c) for c in p.coefficients],
                    }
                    for p in f.pieces
                ],
                "reason": f.reason,
            }
            for f in report.formulas
        },
        "points": [{"value": v, **totals} for v, totals in report.points],
        "notes": list(report.notes),
    }
