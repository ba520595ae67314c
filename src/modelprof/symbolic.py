"""Cost as a formula of one input dim: ``count --symbolic DIM[=VAR]``.

The totals are evaluated at consecutive values of the dim, starting at its current size (each
an ordinary count, as in :mod:`modelprof.sweep`), and fitted with exact polynomials with
rational coefficients (degree <= 2), checked on further points. Strided convolutions and pools
make spatial costs floor expressions: those are fitted per residue class of the dim modulo a
period (a divisor of the graph's accumulated stride), and reported as such; what fits nothing
is reported as "not a polynomial" with the evaluated points.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from math import lcm

from .api import InputShapes, ModelRef
from .costreport import Convention, CostReport, Totals, html_of
from .errors import ModelprofError
from .graph import Graph, Node
from .sweep import QUANTITIES, ShapedModel, dim_overrides, resolve_dim, totals_dict

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

    def _repr_html_(self) -> str | None:
        """The formulas of ``count --symbolic``, for Jupyter (:func:`.costreport.html_of`)."""
        return html_of(self)


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
            report = shaped.count(shaped.specs(dim_overrides(templates, ref, v)))
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
