"""The separable rewrite as a job: pick layers, rewrite, save, check the outputs, measure.

PyTorch sources (zoo names, factories, modules) are rewritten as modules, so they can be
fine-tuned and saved as ``.pt``; ONNX sources are rewritten in the graph. Both routes end in
an ONNX file, which is what is saved as ``.onnx``/``.xml``, counted again, and profiled on
OpenVINO or ONNX Runtime. The runtimes that run a PyTorch module itself (``torch``,
``torch-compile``) are handed the modules before and after instead
(:func:`profile_modules`), so their rows are the modules' paths (``conv1.depthwise``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..analysis import analyze
from ..api import InputShapes, ModelRef, build_module, load_graph
from ..costreport import html_of
from ..errors import ModelprofError, runtime_message
from ..graph import Graph
from ..measure.profilereport import ProfileLayer, ProfileReport
from ..measure.profiling import profile_modules
from ..measure.runtimes import RunSettings
from .checks import (
    check_loaded,
    check_request,
    check_runtime_source,
    is_module_runtime,
    skipped,
)
from .finetune import Progress, epoch_progress
from .transforms.separable import SeparableLayer, SeparableReport, whatif

RANDOM_WEIGHTS_NOTE = (
    "on a model with random weights a low-rank rewrite changes the outputs almost completely: "
    "the output error says nothing about accuracy, which must be measured on a trained model "
    "(--finetune)"
)
#: The same for an ONNX file, which cannot be fine-tuned here.
ONNX_WEIGHTS_NOTE = (
    "the output error says how far the rewrite moves this model's outputs, not its accuracy "
    "(on random weights a low-rank rewrite changes them almost completely); accuracy must be "
    "measured after fine-tuning, which needs the PyTorch model (--finetune)"
)


@dataclass(frozen=True)
class LayerTiming:
    """One replaced layer, measured: the original conv against its depthwise + pointwise pair."""

    name: str
    mac_ratio: float
    time_before_us: float
    time_after_us: float
    depthwise_time_us: float
    depthwise_gflops_per_s: float | None
    pointwise_gflops_per_s: float | None

    @property
    def speedup(self) -> float | None:
        return self.time_before_us / self.time_after_us if self.time_after_us else None


@dataclass(frozen=True)
class SeparableResult:
    report: SeparableReport
    rewritten_macs: int | None = None
    before: ProfileReport | None = None
    after: ProfileReport | None = None
    layer_timings: tuple[LayerTiming, ...] = ()
    accuracy: dict[str, float] | None = None
    #: when no layer is replaced: why, then (with ``save``, ``measure`` or ``finetune``) what
    #: was therefore not done; both are in ``report.notes`` too
    nothing_done: tuple[str, ...] = ()

    def _repr_html_(self) -> str | None:
        """The ``modelprof separable`` tables, for Jupyter
        (:func:`modelprof.costreport.html_of`)."""
        return html_of(self)


def why_nothing_replaced(report: SeparableReport, min_saving: float | None = None) -> str:
    """Why ``report`` replaces no layer: no eligible convolution, or none that saves MACs."""
    if not report.layers:
        return (
            f"{report.model} has no eligible convolution (group 1, kernel larger than 1x1): "
            "nothing to replace"
        )
    how = f"as depthwise + pointwise with m = {report.multiplier}"
    if min_saving is not None and any(layer.saves for layer in report.layers):
        return f"no layer would save at least {min_saving:g}x MACs {how} (--min-saving)"
    return f"no layer would save MACs {how}"


def _relative_error(a: Any, b: Any) -> float:
    import numpy as np

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    norm = float(np.linalg.norm(a))
    return float(np.linalg.norm(a - b)) / norm if norm else float(np.linalg.norm(b))


def check_separable_request(
    model: ModelRef,
    *,
    save: str | None = None,
    force: bool = False,
    measure: str | None = None,
    finetune: str | None = None,
) -> str:
    """:func:`check_request` for ``separable`` when it is asked for the rewrite (``save``,
    ``measure`` or ``finetune``); returns how to name the request in an error."""
    asked = [
        flag
        for flag, value in (("--save", save), ("--profile", measure), ("--finetune", finetune))
        if value
    ]
    if not asked:
        return "separable"
    what = f"separable {asked[0]}"
    check_request(model, what, save=save, force=force, finetune=finetune)
    check_runtime_source(model, measure, "separable --profile")
    return what


def onnx_output_error(original: Path, rewritten: Path, inputs: dict[str, Any]) -> float:
    """Relative L2 error between two ONNX models' first outputs, run in ONNX Runtime."""
    import onnxruntime as ort

    outs = []
    for path in (original, rewritten):
        try:
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            outs.append(session.run(None, inputs)[0])
        except Exception as exc:  # ONNX Runtime's own exception types derive from Exception
            if isinstance(exc, ModelprofError):
                raise
            why = runtime_message(exc)
            raise ModelprofError(f"ONNX Runtime refused {path.name}: {why}") from None
    return _relative_error(outs[0], outs[1])


def separable(
    model: ModelRef,
    input_shapes: InputShapes = None,
    *,
    multiplier: int = 1,
    layers: list[str] | None = None,
    min_saving: float | None = None,
    save: str | None = None,
    force: bool = False,
    measure: str | None = None,
    settings: RunSettings | None = None,
    rounds: int = 2,
    finetune: str | None = None,
    epochs: int = 5,
    progress: Progress | None = None,
) -> SeparableResult:
    """The what-if, and with ``save``/``measure``/``finetune`` the rewrite itself;
    ``progress`` hears about training (the seed network's first, fine-tuning) by epoch."""
    what = check_separable_request(
        model, save=save, force=force, measure=measure, finetune=finetune
    )
    graph = load_graph(model, input_shapes)
    report = whatif(
        graph, analyze(graph), multiplier=multiplier, layers=layers, min_saving=min_saving
    )
    if not report.replaced:
        undone = skipped("nothing to rewrite: ", save=save, measure=measure, finetune=finetune)
        lines = (why_nothing_replaced(report, min_saving), *([undone] if undone else []))
        return SeparableResult(replace(report, notes=(*report.notes, *lines)), nothing_done=lines)
    if not (save or measure or finetune):
        return SeparableResult(report)
    from .save import check_target

    check_loaded(model, graph, what)
    pytorch = graph.source == "pytorch"
    check_runtime_source(model, measure, "separable --profile", graph.source)
    if save:
        check_target(save, force=force, pytorch=pytorch)
    if finetune and not pytorch:
        raise ModelprofError("--finetune needs a PyTorch model (zoo name or file.py:factory)")
    # PyTorch layers are rewritten by module path, ONNX layers by node name
    names = [(layer.scope or layer.name) if pytorch else layer.name for layer in report.replaced]
    with tempfile.TemporaryDirectory(prefix="modelprof-sep-") as folder:
        work = Path(folder)
        if pytorch:
            result = _rewrite_torch(
                model, graph, report, names, multiplier, work, finetune, epochs, progress
            )
        else:
            result = _rewrite_onnx(model, graph, report, names, multiplier, work)
        rewritten_path, module = result["onnx"], result["module"]
        if save:
            from .save import save_model

            save_model(save, onnx_path=rewritten_path, module=module, force=force)
            result["report"] = replace(result["report"], saved=str(save))
        before = after = None
        timings: tuple[LayerTiming, ...] = ()
        if measure:
            from ..measure.profiling import profile_interleaved, speedup_caveat

            if is_module_runtime(measure):  # the modules themselves, not their exports
                before, after = profile_modules(
                    result["original"],
                    module,
                    graph,
                    runtime=measure,
                    settings=settings or RunSettings(),
                    rounds=rounds,
                    labels=(graph.name, f"{graph.name} (rewritten)"),
                )
            else:
                before, after = profile_interleaved(
                    model,
                    rewritten_path,
                    runtime=measure,
                    settings=settings or RunSettings(),
                    rounds=rounds,
                    input_shapes=input_shapes,
                )
            timings = layer_timings(result["report"], before, after)
            caveat = speedup_caveat(before, after, before.count.total.macs, result["macs"])
            if caveat:
                report = result["report"]
                result["report"] = replace(report, notes=(*report.notes, caveat))
    return SeparableResult(
        report=result["report"],
        rewritten_macs=result["macs"],
        before=before,
        after=after,
        layer_timings=timings,
        accuracy=result.get("accuracy"),
    )


def _rewrite_torch(
    model: ModelRef,
    graph: Graph,
    report: SeparableReport,
    names: list[str],
    multiplier: int,
    work: Path,
    finetune: str | None,
    epochs: int,
    progress: Progress | None = None,
) -> dict[str, Any]:
    import copy

    import torch

    from ..frontends.export import export_onnx
    from ..frontends.torch import load_module, random_inputs
    from .transforms.separable import rewrite_module

    accuracy: dict[str, float] | None = None
    if finetune:
        from . import training
        from .finetune import model_and_data

        original, data = model_and_data(model, finetune, graph, progress)
        accuracy = {"original": training.evaluate(original, data)}
    else:
        original = build_module(model)
    original.eval()
    rewritten = copy.deepcopy(original)
    errors = rewrite_module(rewritten, names, multiplier)
    rewritten.eval()
    infos = graph.input_infos()
    example = random_inputs((i.shape, i.dtype) for i in infos)
    with torch.no_grad():
        output_error = _relative_error(original(*example).numpy(), rewritten(*example).numpy())
    if finetune:
        from . import training

        accuracy = accuracy or {}
        accuracy["rewrite"] = training.evaluate(rewritten, data)
        training.train(
            rewritten, data, epochs=epochs, progress=epoch_progress(progress, "fine-tuning")
        )
        rewritten.eval()
        accuracy["finetuned"] = training.evaluate(rewritten, data)
    shapes = {i.name: (i.shape, i.dtype) for i in infos}
    onnx_path = export_onnx(rewritten, shapes, work / "rewritten.onnx")
    counted = analyze(
        load_module(
            rewritten, None, name=report.model, default_shapes={i.name: i.shape for i in infos}
        )
    )
    new_report = _with_errors(report, errors, output_error, trained=bool(finetune))
    return {
        "onnx": onnx_path,
        "original": original,
        "module": rewritten,
        "macs": counted.total.macs,
        "report": new_report,
        "accuracy": accuracy,
    }


def _rewrite_onnx(
    model: ModelRef,
    graph: Graph,
    report: SeparableReport,
    names: list[str],
    multiplier: int,
    work: Path,
) -> dict[str, Any]:
    import onnx

    from ..frontends import onnx as onnx_frontend
    from ..measure.preparation import make_inputs
    from .transforms.separable import rewrite_onnx

    source = Path(str(model))
    proto = onnx_frontend.read_with_weights(source)  # with weights: the rewrite needs their values
    errors = rewrite_onnx(proto, graph, names, multiplier)
    path = work / "rewritten.onnx"
    onnx.save_model(proto, str(path))
    inputs = make_inputs(graph)
    output_error = onnx_output_error(source, path, inputs)
    counted = analyze(onnx_frontend.load(path, {i.name: i.shape for i in graph.input_infos()}))
    return {
        "onnx": path,
        "module": None,
        "macs": counted.total.macs,
        "report": _with_errors(report, errors, output_error, note=ONNX_WEIGHTS_NOTE),
    }


def _with_errors(
    report: SeparableReport,
    errors: dict[str, float],
    output_error: float,
    *,
    trained: bool = False,
    note: str = RANDOM_WEIGHTS_NOTE,
) -> SeparableReport:
    def error_of(layer: SeparableLayer) -> float | None:
        return errors.get(layer.name, errors.get(layer.scope))

    layers = tuple(
        replace(layer, weight_error=error_of(layer)) if error_of(layer) is not None else layer
        for layer in report.layers
    )
    full_rank = all(error < 1e-6 for error in errors.values())
    # with --finetune the accuracies say what the rewrite did; otherwise warn about the output
    # error's meaning (zoo models have random weights)
    notes = report.notes if full_rank or trained else (*report.notes, note)
    return replace(report, layers=layers, output_error=output_error, notes=notes)


def _rows_for(report: ProfileReport, name: str, scope: str) -> list[ProfileLayer]:
    """Timed rows of ``report`` implementing source layer ``name`` (or its parts)."""
    rows = []
    for row in report.layers:
        if row.folded_into:
            continue
        layer_scope = _scope_of(report, row)
        if (
            row.name == name
            or row.name.startswith(name + "/")
            or (scope and (layer_scope == scope or layer_scope.startswith(scope + ".")))
        ):
            rows.append(row)
    return rows


def layer_timings(
    report: SeparableReport, before: ProfileReport, after: ProfileReport
) -> tuple[LayerTiming, ...]:
    """Each replaced layer's rows before and after, the after side split into depthwise and
    pointwise. On a runtime that runs the module (``torch``), the rewrite's container (the
    ``nn.Sequential`` at the layer's path, ``conv1``) has a row of its own time, the Python
    call of its two children: it counts in the time after, but in neither part's GFLOP/s."""
    out = []
    for layer in report.replaced:
        old = _rows_for(before, layer.name, layer.scope)
        new = _rows_for(after, layer.name, layer.scope)
        if not old or not new:
            continue
        dw = [r for r in new if "depthwise" in r.name or "depthwise" in _scope_of(after, r)]
        container = [r for r in new if r.name == layer.scope and not r.fused_from]
        pw = [r for r in new if r not in dw and r not in container]
        dw_time = sum(r.time_us for r in dw)
        pw_time = sum(r.time_us for r in pw)
        out.append(
            LayerTiming(
                name=layer.name,
                mac_ratio=layer.macs / layer.separable_macs,
                time_before_us=sum(r.time_us for r in old),
                time_after_us=dw_time + pw_time + sum(r.time_us for r in container),
                depthwise_time_us=dw_time,
                depthwise_gflops_per_s=(2 * layer.depthwise_macs / dw_time / 1e3)
                if dw_time
                else None,
                pointwise_gflops_per_s=(2 * layer.pointwise_macs / pw_time / 1e3)
                if pw_time
                else None,
            )
        )
    return tuple(out)


def _scope_of(report: ProfileReport, row: ProfileLayer) -> str:
    try:
        return report.count.layer(row.name).scope
    except KeyError:
        return ""


__all__ = ["LayerTiming", "SeparableLayer", "SeparableResult", "separable"]
