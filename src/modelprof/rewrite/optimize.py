"""The optimize job: the course's techniques chained on one PyTorch model, each step measured.

Why one command: depthwise-separable convolutions, structured pruning and int8 each pay off on
their own, but what a user ships is their product, and the accuracy lost along the way adds
up. ``optimize`` applies, in this order, ``--separable`` (every eligible convolution becomes a
depthwise + pointwise pair), ``--prune p`` (channels removed with Torch-Pruning) and ``--int8``
(NNCF post-training quantization, last, since it leaves PyTorch for an OpenVINO IR), fine-tunes
after each PyTorch step with ``--finetune`` data, and reports one row per step: params, MACs,
weight bytes, file bytes, accuracy, and with ``measure`` the latency of every step measured
interleaved on OpenVINO (:func:`~modelprof.measure.comparison.compare`: one process per model,
round after round). Every intermediate model can be kept with ``save_dir``.
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..analysis import analyze
from ..api import InputShapes, ModelRef, load_graph
from ..costreport import CostReport, html_of
from ..errors import ModelprofError
from ..measure.profilereport import LatencyStats
from ..measure.runtimes import RunSettings
from .checks import DESCRIBED, named_kind
from .finetune import Progress, epoch_progress


@dataclass(frozen=True)
class OptimizeStep:
    """One model of the chain: what was done to get it, what it costs, how accurate it is."""

    name: str
    count: CostReport
    file_bytes: int
    accuracy: float | None = None
    latency_us: LatencyStats | None = None
    saved: str | None = None
    #: the step's own figures worth a line (the separable rewrite's layers, int8 MACs)
    detail: str = ""


@dataclass(frozen=True)
class OptimizeResult:
    model: str
    steps: tuple[OptimizeStep, ...]
    finetune: str | None = None
    runtime: str | None = None
    runtime_version: str | None = None
    threads: int | None = None
    notes: tuple[str, ...] = ()
    #: the last PyTorch module of the chain (before int8), for the API user
    module: Any = field(default=None, repr=False, compare=False)

    @property
    def final(self) -> OptimizeStep:
        return self.steps[-1]

    def _repr_html_(self) -> str | None:
        """The ``modelprof optimize`` table, for Jupyter (:func:`modelprof.costreport.html_of`)."""
        return html_of(self)


def check_optimize_request(
    model: ModelRef,
    *,
    prune: float | None,
    separable: bool,
    int8: bool,
    save_dir: str | None,
    subset: int = 300,
) -> None:
    """Refuse, before ``model`` is read, a chain with nothing in it, a ratio or a calibration
    size out of range, a model file (the PyTorch module is what gets rewritten) and a
    ``save_dir`` that is no folder."""
    if prune is None and not separable and not int8:
        raise ModelprofError("nothing to do: give --separable, --prune RATIO and/or --int8")
    if prune is not None and not 0 < prune < 1:
        raise ModelprofError(f"--prune must be between 0 and 1 (exclusive), got {prune}")
    kind = named_kind(model)
    if kind is not None:
        raise ModelprofError(
            f"optimize works on PyTorch models (zoo names, file.py:factory), not "
            f"{DESCRIBED[kind]}: the separable rewrite and pruning change the module"
        )
    if save_dir is not None and not save_dir.strip():
        # Path("") is the current folder: an empty value (an unset shell variable) would
        # scatter every step's model there
        raise ModelprofError("--save-dir is empty: give a folder (. for the current one)")
    if save_dir is not None and not Path(save_dir).is_dir():
        raise ModelprofError(f"--save-dir {save_dir}: no such folder")
    if int8:
        from .quantization import check_subset, import_nncf

        check_subset(subset)
        import_nncf()


def _file_names(model: str, steps: list[str]) -> list[str]:
    base = "".join(c if c.isalnum() or c in "-_" else "_" for c in model)
    return [
        f"{base}-{i}-{step.split()[0]}{'.xml' if step == 'int8' else '.onnx'}"
        for i, step in enumerate(steps)
    ]


def optimize(
    model: ModelRef,
    input_shapes: InputShapes = None,
    *,
    prune: float | None = None,
    separable: bool = False,
    int8: bool = False,
    finetune: str | None = None,
    epochs: int = 5,
    subset: int = 300,
    save_dir: str | None = None,
    force: bool = False,
    measure: str | None = None,
    settings: RunSettings | None = None,
    rounds: int = 10,
    iterations: int = 20,
    progress: Progress | None = None,
) -> OptimizeResult:
    """Chain ``separable``, ``prune`` and ``int8`` on ``model``; see the module docstring."""
    from ..api import build_module
    from ..frontends.export import export_onnx
    from ..frontends.torch import load_module, random_inputs

    check_optimize_request(
        model, prune=prune, separable=separable, int8=int8, save_dir=save_dir, subset=subset
    )
    graph = load_graph(model, input_shapes)
    if graph.source != "pytorch":
        raise ModelprofError(
            f"optimize works on PyTorch models (zoo names, file.py:factory), not {graph.source}"
        )
    infos = graph.input_infos()
    if len(infos) != 1:
        raise ModelprofError("optimize supports models with one input")
    info = infos[0]
    names = ["original", *(["separable"] if separable else [])]
    names += [f"prune {prune:g}"] if prune is not None else []
    names += ["int8"] if int8 else []
    targets = []
    if save_dir is not None:
        targets = [Path(save_dir) / n for n in _file_names(graph.name, names)]
        for target in targets:
            for path in (
                (target, target.with_suffix(".bin")) if target.suffix == ".xml" else (target,)
            ):
                if path.exists() and not force:
                    raise ModelprofError(f"{path} exists; pass --force to replace it")
    from . import training

    data = None
    if finetune:
        from .finetune import model_and_data

        module, data = model_and_data(model, finetune, graph, progress)
    else:
        module = build_module(model)
    module.eval()
    shapes = {info.name: info.shape}

    def count(mod: Any) -> CostReport:
        return analyze(load_module(mod, None, name=graph.name, default_shapes=shapes))

    def finetuned(mod: Any, what: str) -> float | None:
        if data is None:
            return None
        training.train(mod, data, epochs=epochs, progress=epoch_progress(progress, what))
        mod.eval()
        return training.evaluate(mod, data)

    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="modelprof-optimize-") as folder:
        work = Path(folder)
        files: list[Path] = []
        steps: list[OptimizeStep] = []

        def record(name: str, mod: Any, accuracy: float | None, detail: str = "") -> None:
            path = export_onnx(
                mod, {info.name: (info.shape, info.dtype)}, work / f"{len(files)}.onnx"
            )
            files.append(path)
            steps.append(
                OptimizeStep(name, count(mod), path.stat().st_size, accuracy, detail=detail)
            )

        record("original", module, training.evaluate(module, data) if data is not None else None)
        current = module
        if separable:
            from .transforms.separable import rewrite_module, whatif

            report = whatif(
                load_module(current, None, name=graph.name, default_shapes=shapes), count(current)
            )
            chosen = [layer.scope or layer.name for layer in report.replaced]
            if not chosen:
                raise ModelprofError(
                    f"--separable: {graph.name} has no eligible convolution (group 1, kernel "
                    "larger than 1x1)"
                )
            current = copy.deepcopy(current)
            rewrite_module(current, chosen, 1)
            current.eval()
            record(
                "separable",
                current,
                finetuned(current, "fine-tuning the separable model"),
                f"{len(chosen)} convolutions made depthwise-separable",
            )
        if prune is not None:
            from .transforms.prune import StructuredPlan, prune_structured

            current = copy.deepcopy(current)
            example = random_inputs([(info.shape, info.dtype)])[0]
            prune_structured(current, example, StructuredPlan(amount=prune))
            current.eval()
            record(
                f"prune {prune:g}",
                current,
                finetuned(current, "fine-tuning the pruned model"),
                f"channel ratio {prune:g} removed (Torch-Pruning, L2 importance)",
            )
        if int8:
            from .quantization import quantize_module

            if progress is not None:
                progress("quantizing the last model to int8 with NNCF")
            quantized = quantize_module(current, info.shape, data, work, subset=subset)
            files.append(quantized.path)
            int8_macs = sum(layer.macs for layer in quantized.layers if layer.quantized)
            steps.append(
                OptimizeStep(
                    "int8",
                    quantized.count,
                    sum(
                        f.stat().st_size
                        for f in (quantized.path, quantized.path.with_suffix(".bin"))
                    ),
                    quantized.accuracy,
                    detail=f"{int8_macs:,} of {quantized.count.total.macs:,} MACs in int8 layers",
                )
            )
            notes.extend(quantized.notes)
            if quantized.accuracy_f32 is not None and data is not None:
                notes.append(
                    "accuracy of the int8 step is measured on OpenVINO (the IR); the steps "
                    "before it in PyTorch, on the same test data"
                )
        runtime = version = threads = None
        if measure:
            from ..measure.comparison import compare

            compared = compare(
                files,
                profile=True,
                runtime=measure,
                settings=settings or RunSettings(),
                rounds=rounds,
                iterations=iterations,
                labels=[s.name for s in steps],
            )
            steps = [
                replace(step, latency_us=m.latency_us)
                for step, m in zip(steps, compared.models, strict=True)
            ]
            runtime, version, threads = compared.runtime, compared.runtime_version, compared.threads
            notes.extend(compared.notes)
        if targets:
            for step, path, target in zip(list(steps), files, targets, strict=True):
                _copy(path, target, force=force)
                steps[steps.index(step)] = replace(step, saved=str(target))
    if data is None:
        notes.append("no --finetune data: no accuracy, and the PyTorch steps are not fine-tuned")
    return OptimizeResult(
        model=graph.name,
        steps=tuple(steps),
        finetune=finetune,
        runtime=runtime,
        runtime_version=version,
        threads=threads,
        notes=tuple(dict.fromkeys(notes)),
        module=current,
    )


def _copy(source: Path, target: Path, *, force: bool) -> None:
    """Copy a step's model (an ONNX file, or an IR with its .bin) to ``target``, atomically,
    never over an existing file unless ``force`` (:func:`.save.save_model`)."""
    from .save import save_model

    if source.suffix == ".xml":
        save_model(target, ir_path=source, force=force)
    else:
        save_model(target, onnx_path=source, force=force)
