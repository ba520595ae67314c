"""One model, every route: PyTorch, its ONNX export, OpenVINO's conversion, and the saved IR.

Counters disagree because routes change the graph: exporters fold BatchNorm into convolutions,
OpenVINO splits a Gemm into MatMul + Multiply + Add and a bias into its own Add, and an f16 IR
stores weights in half the bytes. modelprof counts each route with the same rules and then
explains every difference per module scope, so "why is this number different" has an answer.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .analysis import analyze
from .api import InputShapes, ModelRef, load_graph
from .costreport import CostReport, html_of
from .errors import ModelprofError, runtime_message


@dataclass(frozen=True)
class Route:
    """One way of getting the model into a Graph, and its count."""

    name: str
    description: str
    report: CostReport


@dataclass(frozen=True)
class ScopeDifference:
    """A module scope whose totals differ from the reference route, and why."""

    scope: str
    route: str
    params: int
    macs: int
    flops: int
    reason: str


@dataclass(frozen=True)
class Crosscheck:
    model: str
    routes: tuple[Route, ...]
    differences: tuple[ScopeDifference, ...]
    notes: tuple[str, ...] = ()

    @property
    def macs_agree(self) -> bool:
        return len({route.report.total.macs for route in self.routes}) == 1

    def grouped(self) -> list[tuple[str, str, list[str], int, int, int]]:
        """(route, reason, scopes, params, MACs, FLOPs) with the scopes of one reason summed."""
        groups: dict[tuple[str, str], list[ScopeDifference]] = {}
        for d in self.differences:
            groups.setdefault((d.route, d.reason), []).append(d)
        return [
            (
                route,
                reason,
                [d.scope for d in items],
                sum(d.params for d in items),
                sum(d.macs for d in items),
                sum(d.flops for d in items),
            )
            for (route, reason), items in groups.items()
        ]

    def _repr_html_(self) -> str | None:
        """The table of ``modelprof crosscheck``, for Jupyter (:func:`.costreport.html_of`)."""
        return html_of(self)


def _scope_totals(report: CostReport) -> dict[str, list[int]]:
    totals: dict[str, list[int]] = {}
    for layer in report.layers:
        row = totals.setdefault(layer.scope, [0, 0, 0])
        row[0] += layer.params
        row[1] += layer.macs
        row[2] += layer.flops
    return totals


def _ops_by_scope(report: CostReport) -> dict[str, set[str]]:
    ops: dict[str, set[str]] = {}
    for layer in report.layers:
        ops.setdefault(layer.scope, set()).add(layer.op)
    return ops



def explain(reference: CostReport, other: CostReport, route: str) -> list[ScopeDifference]:
    """Per module scope, how ``other`` differs from ``reference`` and the reason."""
    ref = _scope_totals(reference)
    oth: dict[str, list[int]] = {}
    for scope, row in _scope_totals(other).items():
        # TorchScript names a module's second call 'relu_1'; PyTorch's route keeps 'relu'
        base = re.sub(r"_\d+$", "", scope)
        key = scope if scope in ref or base not in ref else base
        acc = oth.setdefault(key, [0, 0, 0])
        for i in range(3):
            acc[i] += row[i]
    ref_ops = _ops_by_scope(reference)
    batchnorms = {s for s, ops in ref_ops.items() if "BatchNormalization" in ops}
    # folded: gone from the other route; a BatchNorm scope holding a fused conv is not (_moved)
    folded_bn = {s for s in batchnorms if oth.get(s, [0, 0, 0])[0] == 0}
    out = []
    for scope in sorted(set(ref) | set(oth)):
        a, b = ref.get(scope, [0, 0, 0]), oth.get(scope, [0, 0, 0])
        diff = [b[i] - a[i] for i in range(3)]
        if diff == [0, 0, 0]:
            continue
        if scope in folded_bn:
            reason = (
                "BatchNorm folded into the preceding convolution (gamma, beta -> that "
                "conv's bias; running stats and its FLOPs vanish)"
            )
        elif diff[0] > 0 and diff[1] == 0 and _follows_folded_bn(scope, folded_bn, reference):
            reason = "convolution gained the folded BatchNorm's bias (one param per channel)"
        elif diff[0] == 0 and diff[1] == 0:
            reason = (
                "elementwise FLOPs differ: a bias, scale or activation the route keeps "
                "as a separate op, or fused"
            )
        elif diff[1] != 0:
            reason = "MACs differ: the route changed this layer's arithmetic"
        elif diff[0] < 0:
            reason = "params dropped (a zero or constant bias the route removed)"
        else:
            reason = "params added (a bias the route split out or materialised)"
        out.append(ScopeDifference(scope, route, diff[0], diff[1], diff[2], reason))
    return _moved(out, batchnorms)


def _moved(diffs: list[ScopeDifference], batchnorms: set[str]) -> list[ScopeDifference]:
    """Scopes whose MACs only moved to another scope are explained as such, not as changed
    arithmetic: OpenVINO's PyTorch converter names a fused conv + BatchNorm after the
    BatchNorm, so the conv's MACs and params (with its folded bias) appear under that name."""
    if sum(d.macs for d in diffs) != 0:
        return diffs
    into_bn = any(d.macs > 0 and d.scope in batchnorms for d in diffs)
    out = []
    for d in diffs:
        if d.macs > 0 and d.scope in batchnorms:
            reason = (
                "conv + BatchNorm fused and named after the BatchNorm: the conv's MACs "
                "and params, plus its folded bias, minus gamma and beta"
            )
        elif d.macs < 0 and into_bn:
            reason = "the conv's MACs and params moved to the fused layer named after its BatchNorm"
        elif d.macs != 0:
            reason = "the route names this layer differently (counted under another scope); "
            reason += "the totals agree"
        else:
            out.append(d)
            continue
        out.append(ScopeDifference(d.scope, d.route, d.params, d.macs, d.flops, reason))
    return out


def _follows_folded_bn(scope: str, folded: set[str], reference: CostReport) -> bool:
    """A conv scope directly followed by a folded BatchNorm in the reference's layer order."""
    names = [layer.scope for layer in reference.layers]
    return any(s == scope and names[i + 1] in folded for i, s in enumerate(names[:-1]))


def crosscheck(model: ModelRef, input_shapes: InputShapes = None) -> Crosscheck:
    """Count ``model`` through every route available and explain the differences."""
    graph = load_graph(model, input_shapes)
    routes: list[Route] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="modelprof-cross-") as folder:
        work = Path(folder)
        if graph.source == "pytorch":
            routes.append(
                Route("pytorch", "PyTorch module (ATen ops, module paths)", analyze(graph))
            )
            from .api import build_module
            from .frontends import onnx as onnx_frontend
            from .frontends.export import export_onnx

            module = build_module(model)
            infos = graph.input_infos()
            onnx_path = export_onnx(
                module, {i.name: (i.shape, i.dtype) for i in infos}, work / "model.onnx"
            )
            routes.append(
                Route(
                    "onnx",
                    "torch.onnx export",
                    analyze(onnx_frontend.load(onnx_path, None, name=graph.name)),
                )
            )
            converted = _convert_torch(module, infos, notes)
            if converted is not None:
                routes.append(
                    Route(
                        "openvino",
                        "ov.convert_model(module)",
                        _count_ov_model(converted, graph.name),
                    )
                )
        elif graph.source == "onnx":
            onnx_path = Path(str(model))
            routes.append(Route("onnx", "ONNX file", analyze(graph)))
        else:
            raise ModelprofError(f"crosscheck takes a PyTorch or ONNX model, not {graph.source}")
        for compress in (False, True):
            ir = _save_ir(
                onnx_path, work / f"model{'-f16' if compress else ''}.xml", compress, notes
            )
            if ir is not None:
                from .frontends import openvino as ov_frontend

                label = "ir-f16" if compress else "ir"
                desc = "OpenVINO IR (ov.save_model" + (
                    ", FP16 compression)" if compress else ", f32)"
                )
                routes.append(
                    Route(
                        label,
                        desc,
                        analyze(
                            ov_frontend.load(ir, {i.name: i.shape for i in graph.input_infos()})
                        ),
                    )
                )
    reference = routes[0].report
    differences = []
    for route in routes[1:]:
        differences.extend(explain(reference, route.report, route.name))
    return Crosscheck(graph.name, tuple(routes), tuple(differences), tuple(notes))


def _convert_torch(module: Any, infos: Sequence[Any], notes: list[str]) -> Any:
    try:
        import openvino as ov
        import torch
    except ImportError:
        notes.append("openvino is not installed: the OpenVINO routes are skipped")
        return None
    examples = tuple(torch.randn(i.shape) for i in infos)
    try:
        return ov.convert_model(
            module,
            example_input=examples[0] if len(examples) == 1 else examples,
            input=[list(i.shape) for i in infos],
        )
    except Exception as exc:  # the converter raises many types
        notes.append(f"ov.convert_model failed: {runtime_message(exc)}")
        return None


def _count_ov_model(model: Any, name: str) -> CostReport:
    from .frontends import openvino as ov_frontend

    graph = ov_frontend.load_model(model, None)
    return analyze(graph)


def _save_ir(onnx_path: Path, xml: Path, compress: bool, notes: list[str]) -> Path | None:
    try:
        import openvino as ov
    except ImportError:
        if not any("openvino is not installed" in n for n in notes):
            notes.append("openvino is not installed: the OpenVINO routes are skipped")
        return None
    try:
        ov.save_model(ov.convert_model(str(onnx_path)), str(xml), compress_to_fp16=compress)
    except Exception as exc:  # the converter raises many types
        note = f"ov.convert_model failed: {runtime_message(exc)}"
        if note not in notes:  # the f32 and fp16 IRs fail alike
            notes.append(note)
        return None
    return xml


__all__ = ["Crosscheck", "Route", "ScopeDifference", "crosscheck"]
