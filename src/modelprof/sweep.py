"""Cost against input size: ``count --sweep`` (and the shared machinery of ``--symbolic``).

Each point counts the model again at another input shape (an ordinary count: the model is
loaded at that shape and analysed, nothing is extrapolated) and keeps the totals.

What varies is named in one of three ways (docs/conventions.md, "Cost against input size"):

* ``INPUT`` with full shapes, for ``--sweep`` only: ``input=1x3x160x160,1x3x224x224``;
* a dim name: on ONNX, every input dim whose ``dim_param`` has that name; ``batch`` also means
  dim 0 of every input when no input dim is named ``batch`` (PyTorch and zoo models have no
  named dims, so there ``batch`` is the only name);
* ``INPUT:AXIS`` (``input:1``), or several axes of one input bound together
  (``input:2,3`` for a square image).

``--symbolic`` (:mod:`modelprof.symbolic`) names its dim the same ways, but not by full shapes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .analysis import analyze
from .api import InputShapes, ModelRef, load_graph
from .costreport import Convention, CostReport, Totals, html_of
from .errors import ModelprofError, ShapeError
from .graph import Graph
from .shapes import InputSpec, parse_int_list, parse_shape_list, resolve_inputs

Shape = tuple[int, ...]

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
        # a sweep varies the dims the user named, static ones too (a fully convolutional model
        # exported at 224 x 224, swept over image sizes)
        self._loader = lambda specs: onnx_frontend.load(
            proto, specs, name=label, keep_static_dims=False
        )

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


def dim_overrides(
    templates: Sequence[InputTemplate], dim: DimRef, value: int
) -> dict[int, list[int | None]]:
    out: dict[int, list[int | None]] = {}
    for i, axis in dim.positions:
        dims = out.setdefault(i, list(templates[i].dims))
        dims[axis] = value
    return out


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

    def _repr_html_(self) -> str | None:
        """The table of ``modelprof count --sweep``, for Jupyter (:func:`.costreport.html_of`)."""
        return html_of(self)


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
            parse_shape_list(values, f"--sweep {name}")
            if isinstance(values, str)
            else [tuple(v) for v in values]  # type: ignore[arg-type]
        )
        for shape in shapes:
            overrides.append((shape, {index: shape}))
        positions = f"{name} (whole shape)"
    else:
        dim = resolve_dim(name, templates)
        ints = (
            parse_int_list(values, f"--sweep {name}")
            if isinstance(values, str)
            else [int(v) for v in values]  # type: ignore[arg-type]
        )
        for v in ints:
            overrides.append((v, dim_overrides(templates, dim, v)))
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
