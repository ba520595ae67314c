"""Throughput mode: several streams / infer requests in flight at once, FPS and latency.

What ``modelprof profile --mode throughput`` measures, the way OpenVINO's ``benchmark_app``
(``-hint throughput``) and DL Workbench's group inference did:

- OpenVINO compiles the model with the THROUGHPUT performance hint and ``num_streams``
  streams, and keeps ``requests`` infer requests busy through an ``AsyncInferQueue``.
- ONNX Runtime has no streams: ``requests`` threads call ``run`` concurrently on one session,
  whose intra-op threads are split between the streams (``threads // streams`` each).

Each point counts the inferences completed within a time budget (or a fixed number of them):
``fps = batch x completed / elapsed_s``, where ``elapsed_s`` runs from the first submission
until the last request has finished. Latency is per request, from submission to completion,
so with more requests than streams it includes the time a request waited in the queue.

A batch sweep changes the first dimension of every input: an ONNX file's batch dimension is
made symbolic (OpenVINO reshapes, ONNX Runtime binds it), a PyTorch or zoo model is exported
at each batch, and each point's FLOPs are counted at its own batch.

The torch runtimes (``torch``, ``torch-compile``) run the module itself, as ONNX Runtime runs
its session: ``requests`` Python threads call it concurrently, intra-op threads split between
the streams; a batch sweep counts the one module at each batch.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api import InputShapes, ModelRef
from ..costreport import html_of
from ..errors import ModelprofError, ShapeError
from ..shapes import parse_int_list, parse_sweep
from .profilereport import LatencyStats
from .runtimes.base import AsyncMeasurement, ModuleRuntime, RunSettings, Runtime

#: What ``--sweep NAME=VALUES`` can vary.
SWEEP_NAMES = ("batch",)


@dataclass(frozen=True)
class ThroughputPoint:
    """One (batch, streams) configuration, measured.

    ``completed`` inferences of ``batch`` samples each finished in ``elapsed_s``, so
    ``fps = batch * completed / elapsed_s``. ``samples_us`` are the per-request latencies
    ``latency_us`` summarises; ``requested_streams`` is None where the runtime chose.
    """

    batch: int
    streams: int
    requests: int
    fps: float
    latency_us: LatencyStats
    completed: int
    elapsed_s: float
    samples_us: tuple[float, ...]
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    flops: int = 0
    compile_ms: float = 0.0
    requested_streams: int | None = None

    @property
    def inferences_per_s(self) -> float:
        return self.completed / self.elapsed_s

    @property
    def gflops_per_s(self) -> float:
        """Achieved compute rate: FLOPs of one inference (at this batch) x inferences / s."""
        return self.flops * self.inferences_per_s / 1e9


@dataclass(frozen=True)
class ThroughputReport:
    """Every point of a throughput run (one point, or a batch x streams sweep)."""

    model: str
    runtime: str
    runtime_version: str
    device: str
    precision: str
    threads: int
    time_budget_s: float
    iterations: int | None
    points: tuple[ThroughputPoint, ...]
    sweep: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def best(self) -> ThroughputPoint:
        """The point with the highest throughput."""
        return max(self.points, key=lambda p: p.fps)

    @property
    def batches(self) -> list[int]:
        return list(dict.fromkeys(p.batch for p in self.points))

    @property
    def streams(self) -> list[int]:
        return list(dict.fromkeys(p.streams for p in self.points))

    def point(self, batch: int, streams: int) -> ThroughputPoint | None:
        return next((p for p in self.points if p.batch == batch and p.streams == streams), None)

    def _repr_html_(self) -> str | None:
        """The table of throughput mode, for Jupyter (:func:`modelprof.costreport.html_of`)."""
        return html_of(self)


# -- parsing the command-line values -----------------------------------------------------------


def parse_batch_sweep(text: str) -> tuple[int, ...]:
    """``"batch=1,4,16"`` -> (1, 4, 16): what ``profile --sweep`` can vary is the batch."""
    name, values = parse_sweep(text, example="batch=1,4,16")
    name = name.lower()
    if name not in SWEEP_NAMES:
        hint = " (streams are swept with --streams 1,2)" if name in ("streams", "stream") else ""
        raise ModelprofError(
            f"cannot sweep '{name}': --sweep takes {', '.join(SWEEP_NAMES)}=VALUES{hint}"
        )
    return parse_int_list(values, f"--sweep {name}")


# -- measuring ---------------------------------------------------------------------------------


def throughput(
    model: ModelRef,
    input_shapes: InputShapes = None,
    *,
    runtime: str | Runtime = "openvino",
    settings: RunSettings | None = None,
    streams: Sequence[int | None] = (None,),
    requests: int | None = None,
    batches: Sequence[int] | None = None,
    input_file: str | Path | None = None,
) -> ThroughputReport:
    """Measure ``model``'s throughput at every (batch, streams) pair.

    ``streams`` None lets the runtime choose (OpenVINO's THROUGHPUT hint; ONNX Runtime: as
    many streams as threads, at most 4). ``requests`` None: OpenVINO's optimal number of infer
    requests, or one per stream on ONNX Runtime. ``batches`` None keeps the model's batch.
    Each point runs for ``settings.time_budget_s``, or ``settings.iterations`` inferences.
    """
    from .preparation import make_inputs
    from .runtimes import get_runtime

    settings = settings or RunSettings()
    if any(s is not None and s < 1 for s in streams) or not streams:
        raise ModelprofError("streams must be at least 1")
    if requests is not None and requests < 1:
        raise ModelprofError("requests must be at least 1")
    if batches is not None and input_file is not None:
        raise ModelprofError("--inputs fixes the batch: it cannot be combined with a batch sweep")
    backend = get_runtime(runtime)
    points: list[ThroughputPoint] = []
    notes: list[str] = []
    first: AsyncMeasurement | None = None
    label = ""
    with tempfile.TemporaryDirectory(prefix="modelprof-tput-") as folder:
        variants = (
            _module_variants(model, input_shapes, batches, backend.name)
            if isinstance(backend, ModuleRuntime)
            else _variants(model, input_shapes, batches, Path(folder))
        )
        for batch, prepared in variants:
            label = prepared.label
            inputs = make_inputs(prepared.graph, input_file)
            for wanted in streams:
                if isinstance(backend, ModuleRuntime):
                    run = backend.measure_module_throughput(
                        prepared.module, inputs, settings, streams=wanted, requests=requests
                    )
                else:
                    run = backend.measure_throughput(
                        prepared.onnx_path, inputs, settings, streams=wanted, requests=requests
                    )
                first = first or run
                notes.extend(n for n in run.notes if n not in notes)
                points.append(_point(batch, wanted, run, inputs, prepared.count.total.flops))
    assert first is not None
    return ThroughputReport(
        model=label,
        runtime=first.runtime,
        runtime_version=first.runtime_version,
        device=first.device,
        precision=first.precision,
        threads=first.threads,
        time_budget_s=settings.time_budget_s,
        iterations=settings.iterations,
        points=tuple(points),
        sweep="batch" if batches is not None else None,
        notes=tuple(notes),
    )


def _point(
    batch: int,
    wanted: int | None,
    run: AsyncMeasurement,
    inputs: Mapping[str, Any],
    flops: int,
) -> ThroughputPoint:
    if not run.completed or run.elapsed_s <= 0:
        raise ModelprofError("no inference completed within the time budget: raise --time")
    return ThroughputPoint(
        batch=batch,
        streams=run.streams,
        requests=run.requests,
        fps=batch * run.completed / run.elapsed_s,
        latency_us=LatencyStats.of(run.latency_us),
        completed=run.completed,
        elapsed_s=run.elapsed_s,
        samples_us=run.latency_us,
        input_shapes={name: tuple(int(d) for d in arr.shape) for name, arr in inputs.items()},
        flops=flops,
        compile_ms=run.compile_ms,
        requested_streams=wanted,
    )


def _module_variants(
    model: ModelRef, input_shapes: InputShapes, batches: Sequence[int] | None, runtime: str
) -> list[tuple[int, Any]]:
    """(batch, PreparedModule) per batch, for a runtime that runs the PyTorch module itself:
    the module counted at its own input shapes, or at each batch."""
    from ..shapes import InputSpec
    from .preparation import prepare_module

    base = prepare_module(model, input_shapes, runtime)
    infos = base.graph.input_infos()
    if batches is None:
        return [(infos[0].shape[0] if infos and infos[0].shape else 1, base)]
    scalar = [info.name for info in infos if not info.shape]
    if scalar:
        raise ShapeError(f"input '{scalar[0]}' is a scalar: it has no batch dimension to sweep")
    variants = []
    for batch in batches:
        specs = [InputSpec(info.name, (batch, *info.shape[1:]), info.dtype) for info in infos]
        variants.append((batch, prepare_module(model, specs, runtime)))
    return variants


def _variants(
    model: ModelRef, input_shapes: InputShapes, batches: Sequence[int] | None, workdir: Path
) -> list[tuple[int, Any]]:
    """(batch, PreparedModel) per batch: the model as given, or re-shaped at each batch."""
    from ..analysis import analyze
    from ..frontends import onnx as onnx_frontend
    from ..shapes import InputSpec
    from .preparation import PreparedModel, prepare

    is_onnx_file = isinstance(model, str | Path) and str(model).lower().endswith(".onnx")
    if batches is None or is_onnx_file:
        base_dir = workdir / "base"
        base_dir.mkdir()
        base = prepare(model, input_shapes, base_dir)
        infos = base.graph.input_infos()
        if batches is None:
            batch = infos[0].shape[0] if infos and infos[0].shape else 1
            return [(batch, base)]
    else:  # a PyTorch model is exported at each batch below: only its input shapes here
        from ..api import load_graph

        infos = load_graph(model, input_shapes).input_infos()
    scalar = [info.name for info in infos if not info.shape]
    if scalar:
        raise ShapeError(f"input '{scalar[0]}' is a scalar: it has no batch dimension to sweep")
    variants = []
    relaxed = _relax_batch(Path(model), workdir / "batch.onnx") if is_onnx_file else None
    for batch in batches:
        specs = [InputSpec(info.name, (batch, *info.shape[1:]), info.dtype) for info in infos]
        if relaxed is not None:
            graph = onnx_frontend.load(relaxed, specs, name=Path(model).stem)
            variants.append(
                (batch, PreparedModel(Path(model).name, relaxed, graph, analyze(graph)))
            )
        else:
            folder = workdir / f"batch{batch}"
            folder.mkdir()
            variants.append((batch, prepare(model, specs, folder)))
    return variants


def _relax_batch(path: Path, out: Path) -> Path:
    """A copy of the ONNX file whose inputs' and outputs' first dimension is symbolic
    (``batch``), with inferred intermediate shapes dropped, so it runs at any batch."""
    import onnx

    from ..frontends import onnx as onnx_frontend

    model = onnx_frontend.read_with_weights(path)
    stored = {init.name for init in model.graph.initializer}
    for vi in (*(i for i in model.graph.input if i.name not in stored), *model.graph.output):
        tensor_type = vi.type.tensor_type
        if tensor_type.HasField("shape") and len(tensor_type.shape.dim):
            tensor_type.shape.dim[0].dim_param = "batch"
    del model.graph.value_info[:]
    large = model.ByteSize() > 1_800_000_000
    onnx.save(model, str(out), save_as_external_data=large)
    return out
