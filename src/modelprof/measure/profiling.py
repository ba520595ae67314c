"""Profile = prepare + measure + join.

The model is prepared as what the runtime runs (:mod:`.preparation`): a file it reads, or,
for a runtime that runs the PyTorch module itself, the module, counted on the PyTorch route.
So the count and the runtime see the same graph and the same node names. Each runtime layer
is then mapped back to the count's layers through the runtime's own record of fusion (a module
runtime's layers by module scope), and every costed layer appears in the result: with a
measured time, or as folded into a runtime layer.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from statistics import median
from typing import Any

from ..api import InputShapes, ModelRef
from ..costreport import LayerCost
from ..graph import Graph
from ..shapes import InputSpec
from .int8 import already_int8, diagnose, int8_layers
from .preparation import PreparedModel, PreparedModule, make_inputs, prepare, prepare_module
from .profilereport import Ceilings, LatencyStats, ProfileLayer, ProfileReport
from .runtimes import RunSettings, Runtime, get_runtime
from .runtimes.base import Measurement, ModuleRuntime, RuntimeLayer


def profile(
    model: ModelRef,
    input_shapes: InputShapes = None,
    *,
    runtime: str | Runtime = "openvino",
    settings: RunSettings | None = None,
    input_file: str | Path | None = None,
    ceilings: Ceilings | None = None,
) -> ProfileReport:
    """Measure ``model`` end to end and per layer on ``runtime``, joined with its count."""
    settings = settings or RunSettings()
    backend = get_runtime(runtime)
    if isinstance(backend, ModuleRuntime):
        return _profile_module(model, input_shapes, backend, settings, input_file, ceilings)
    with tempfile.TemporaryDirectory(prefix="modelprof-") as folder:
        prepared = prepare(model, input_shapes, Path(folder))
        inputs = make_inputs(prepared.graph, input_file)
        measurement = backend.measure(prepared.onnx_path, inputs, settings)
    return with_int8_diagnosis(join(prepared, measurement, ceilings), prepared.graph)


def with_int8_diagnosis(report: ProfileReport, graph: Graph) -> ProfileReport:
    """``report`` with the int8 diagnosis when ``graph`` is quantized (FakeQuantize or QDQ
    nodes, integer ops or weights) and OpenVINO ran it: the runtime's precision per layer is
    what says whether int8 really ran, and only OpenVINO reports it. Alone, with no f32 twin
    measured, no layer is called slower (``quantize --profile`` measures both)."""
    if report.runtime != "openvino" or already_int8(graph) is None:
        return report
    return replace(report, int8=diagnose(None, report, int8_layers(graph, report.count)))


def _profile_module(
    model: ModelRef,
    input_shapes: InputShapes,
    backend: ModuleRuntime,
    settings: RunSettings,
    input_file: str | Path | None,
    ceilings: Ceilings | None,
) -> ProfileReport:
    """Profile on a runtime that runs the PyTorch module itself: each of its layers (a module
    path) is joined with every count row of that scope, and a module with no costed op (a
    container's Python code, ``nn.Flatten``) keeps its row, as the model's own time."""
    prepared = prepare_module(model, input_shapes, backend.name)
    inputs = make_inputs(prepared.graph, input_file)
    measurement = backend.measure_module(prepared.module, inputs, settings)
    return join_module(prepared, measurement, ceilings)


def join_module(
    prepared: PreparedModule, measurement: Measurement, ceilings: Ceilings | None = None
) -> ProfileReport:
    """:func:`join` for a runtime that ran the PyTorch module itself: each of its layers
    names, in ``sources``, the module path it timed, and takes every count row of that scope."""
    # a source is a module path, or ``path::Op`` for an op the runtime timed apart inside
    # that module (its F.scaled_dot_product_attention calls: ``path::Attention``)
    timed = {source.partition("::")[0] for rt in measurement.layers for source in rt.sources}
    apart: dict[str, set[str]] = {}
    for rt in measurement.layers:
        for source in rt.sources:
            path, _, op = source.partition("::")
            if op:
                apart.setdefault(path, set()).add(op)

    def home(scope: str) -> str:
        """The module path whose row holds a count row of ``scope``: its own, or, where no
        row times that module (a submodule run inside its parent's fused op, as
        nn.TransformerEncoderLayer's fast path compiled), its nearest ancestor's."""
        while scope not in timed and scope:
            scope = scope.rpartition(".")[0]
        return scope

    scopes: dict[str, list[LayerCost]] = {}
    for layer in prepared.count.layers:
        scopes.setdefault(home(layer.scope), []).append(layer)

    def names(source: str) -> list[str]:
        path, _, op = source.partition("::")
        return [
            layer.name
            for layer in scopes.get(path, ())
            if (layer.op == op if op else layer.op not in apart.get(path, ()))
        ]

    layers = tuple(
        replace(rt, sources=tuple(n for source in rt.sources for n in names(source)))
        for rt in measurement.layers
    )
    notes = measurement.notes
    if getattr(prepared.module, "training", False):
        notes += (
            "the module ran in training mode (dropout and BatchNorm's batch statistics on): "
            "call .eval() on it to time inference",
        )
    if measurement.precision != "f32":
        notes += (
            f"the module ran in {measurement.precision} (a copy cast to it, with its "
            "floating-point inputs); the count is of the f32 model, so its bytes, arithmetic "
            "intensity and roofline use 4-byte values",
        )
    report = join(prepared, replace(measurement, layers=layers, notes=notes), ceilings)
    rows = tuple(replace(row, inserted=False) for row in report.layers)
    return replace(report, layers=rows)


def profile_interleaved(
    first: ModelRef,
    second: ModelRef,
    *,
    runtime: str | Runtime,
    settings: RunSettings,
    rounds: int = 2,
    input_shapes: InputShapes = None,
) -> tuple[ProfileReport, ProfileReport]:
    """Profile two models alternately (A B A B ...) and keep, for each, the round with the
    median end-to-end latency, so drift in a shared machine favours neither (docs/profile.md),
    with the compile time of its first round."""
    pairs = [
        (
            profile(first, input_shapes, runtime=runtime, settings=settings),
            profile(second, input_shapes, runtime=runtime, settings=settings),
        )
        for _ in range(max(rounds, 1))
    ]

    def middle(reports: list[ProfileReport]) -> ProfileReport:
        mid = median(r.latency_us.median for r in reports)
        kept = min(reports, key=lambda r: abs(r.latency_us.median - mid))
        # the compile (torch-compile) happens in the first round; later rounds reuse its
        # graphs and would report about 1 ms
        return replace(kept, compile_ms=reports[0].compile_ms)

    return middle([a for a, _ in pairs]), middle([b for _, b in pairs])


# -- joining runtime layers with the count ------------------------------------------------------


def _resolver(graph: Graph, layer_names: set[str]) -> Any:
    """Map a runtime's source name to a count layer name.

    OpenVINO names decomposed pieces ``<onnx node>/WithoutBiases``; ONNX nodes without a name
    are known by their output tensor. Names are tried whole, then with trailing ``/parts``
    removed, then as output tensors. A graph node with no count layer of its own is one the
    count folded into the layer feeding it (a bias Add, :mod:`modelprof.analysis`): OpenVINO
    may name a fused layer after that node alone (its ``FullyConnected`` keeps only the bias
    Add's name, not the MatMul's), so the name stands for the layer it was folded into.
    """
    producer = {out: node.name for node in graph.nodes for out in node.outputs}
    nodes = {node.name: node for node in graph.nodes}

    def folded_into(name: str) -> str | None:
        node = nodes.get(name)
        if node is None or name in layer_names:
            return None
        return next(
            (producer[t] for t in node.inputs if producer.get(t) in layer_names),
            None,
        )

    def resolve(name: str) -> str | None:
        candidate = name
        while candidate:
            if candidate in layer_names:
                return candidate
            if candidate in producer and producer[candidate] in layer_names:
                return producer[candidate]
            owner = folded_into(candidate)
            if owner is not None:
                return owner
            if "/" not in candidate.strip("/"):
                break
            candidate = candidate.rsplit("/", 1)[0]
        return None

    return resolve, producer


def join(
    prepared: PreparedModel | PreparedModule,
    measurement: Measurement,
    ceilings: Ceilings | None = None,
) -> ProfileReport:
    count = prepared.count
    graph = prepared.graph
    by_name = {layer.name: layer for layer in count.layers}
    resolve, producer = _resolver(graph, set(by_name))
    runs = len(measurement.profiled_latency_us)

    # each source layer belongs to one runtime layer: the longest-running one that lists it
    claims: list[tuple[RuntimeLayer, list[str], float]] = []
    for rt_layer in measurement.layers:
        names = [n for n in (resolve(s) for s in rt_layer.sources) if n]
        names += [
            producer[t] for t in rt_layer.source_tensors if t in producer and producer[t] in by_name
        ]
        time_us = median(rt_layer.times_us) if rt_layer.times_us else 0.0
        claims.append((rt_layer, list(dict.fromkeys(names)), time_us))

    def rank(i: int) -> tuple[float, bool]:
        # more time first; on a tie, a layer with a real kernel over an 'unknown' helper
        rt_layer, _, time_us = claims[i]
        return time_us, not rt_layer.exec_type.startswith("unknown")

    best: dict[str, int] = {}
    for i, (_, names, _) in enumerate(claims):
        for n in names:
            if n not in best or rank(i) > rank(best[n]):
                best[n] = i
    executed: list[tuple[RuntimeLayer, list[str]]] = []
    helpers: dict[int, list[str]] = {}
    owner: dict[str, int] = {}
    for i, (rt_layer, names, _) in enumerate(claims):
        owned = [n for n in names if best[n] == i]
        ran = any(t > 0 for t in rt_layer.times_us)
        if not owned and not ran:
            continue  # constant subgraphs and idle helpers the runtime folded at compile time
        if not owned and names:
            helpers[len(executed)] = names  # a helper of another layer (weights reorder, say)
        for n in owned:
            owner[n] = len(executed)
        executed.append((rt_layer, owned))

    # source layers no runtime layer claimed: find where the runtime fused them
    macs_of = {layer.name: layer.macs for layer in count.layers}
    for layer in count.layers:
        if layer.name not in owner:
            target = _absorbing_layer(layer.name, graph, owner, macs_of)
            if target is not None:
                executed[target][1].append(layer.name)

    total_time = median(measurement.latency_us)
    rows: list[ProfileLayer] = []
    for index, (rt_layer, names) in enumerate(executed):
        members = [by_name[n] for n in names]
        if index in helpers:
            main_name = max(helpers[index], key=lambda n: by_name[n].flops)
            rows.append(
                ProfileLayer(
                    name=f"{main_name} ({rt_layer.layer_type})",
                    op=rt_layer.layer_type,
                    exec_type=rt_layer.exec_type,
                    precision=rt_layer.precision,
                    time_us=median(rt_layer.times_us),
                    time_share=median(rt_layer.times_us) / total_time,
                    flops=0,
                    macs=0,
                    bytes_moved=0,
                    gflops_per_s=None,
                    fused_from=tuple(helpers[index]),
                    runtime_name=rt_layer.runtime_name,
                )
            )
            continue
        time_us = median(rt_layer.times_us) if rt_layer.times_us else 0.0
        flops = sum(m.flops for m in members)
        macs = sum(m.macs for m in members)
        moved = sum(m.bytes_moved for m in members)
        main = max(members, key=lambda m: (m.flops, m.macs)) if members else None
        rows.append(_row(rt_layer, main, names, time_us, total_time, flops, macs, moved, ceilings))
    # every costed source layer appears: as a row's name, or as a row folded into one
    # (a helper's row names the layers it serves, which their owners' rows already hold)
    row_of = {
        n: row.name for i, row in enumerate(rows) if i not in helpers for n in row.fused_from
    }
    for layer in count.layers:
        if layer.name in row_of and row_of[layer.name] == layer.name:
            continue
        rows.append(
            ProfileLayer(
                name=layer.name,
                op=layer.op,
                exec_type="",
                precision="",
                time_us=0.0,
                time_share=0.0,
                flops=0,
                macs=0,
                bytes_moved=0,
                gflops_per_s=None,
                folded_into=row_of.get(layer.name, "(removed by the runtime)"),
            )
        )
    rows, ceiling_notes = _beyond_ceilings(rows, measurement.runtime)
    notes = [*measurement.notes, *ceiling_notes]
    report = ProfileReport(
        model=prepared.label,
        runtime=measurement.runtime,
        runtime_version=measurement.runtime_version,
        device=measurement.device,
        precision=measurement.precision,
        threads=measurement.threads,
        iterations=runs,
        compile_ms=measurement.compile_ms,
        first_inference_ms=measurement.first_inference_ms,
        latency_us=LatencyStats.of(measurement.latency_us),
        profiled_latency_us=LatencyStats.of(measurement.profiled_latency_us),
        layers=tuple(rows),
        count=count,
        memory_rss_bytes=measurement.rss_bytes,
        ceilings=ceilings,
        notes=tuple(notes),
    )
    return replace(report, notes=(*report.notes, *measurement_warnings(report)))


#: A measurement whose per-layer times sum to less or more than this share of the end-to-end
#: time, or whose spread is larger, was disturbed: it is said, with what to do.
COVERAGE_RANGE = (0.8, 1.25)
MAX_RELATIVE_IQR = 0.10


def speedup_caveat(
    before: ProfileReport, after: ProfileReport, macs_before: int, macs_after: int
) -> str | None:
    """A note when a rewrite measured faster than its MACs fell (more than 10 % beyond): the
    arithmetic cannot explain it, so layout, cache or noise did, and the figure is no promise."""
    if not (after.latency_us.median > 0 and macs_after > 0):
        return None
    speedup = before.latency_us.median / after.latency_us.median
    mac_ratio = macs_before / macs_after
    if speedup <= 1.1 * mac_ratio:
        return None
    return (
        f"the measured speed-up ({speedup:.2f}x) is larger than the MAC reduction "
        f"({mac_ratio:.2f}x): fewer MACs cannot explain it (a different memory layout, what "
        "fits in cache, or noise did); measure again before relying on it"
    )


def measurement_warnings(report: ProfileReport) -> list[str]:
    """What makes this measurement less than clean, each with what to do: per-layer times
    that do not add up to the end-to-end time, a wide spread, a busy machine."""
    warnings = []
    low, high = COVERAGE_RANGE
    coverage = report.time_coverage
    if not low <= coverage <= high:
        warnings.append(
            f"the per-layer times add up to {coverage:.0%} of the end-to-end time "
            f"(expected {low:.0%}-{high:.0%}): the two passes ran under different loads or "
            "the profiler's overhead dominates a tiny model; measure on a quiet machine, with "
            "fewer --threads, or a longer --time"
        )
    stats = report.latency_us
    if stats.median > 0 and stats.iqr / stats.median > MAX_RELATIVE_IQR:
        warnings.append(
            f"the latency spread (IQR {stats.iqr / stats.median:.0%} of the median) "
            f"is above {MAX_RELATIVE_IQR:.0%}: other work disturbed the runs; measure on a "
            "quiet machine or with fewer --threads"
        )
    load = _load_per_core()
    if load is not None and load > 1.0:
        warnings.append(
            f"the machine was busy (load {load:.1f} per core over the last minute): "
            "the figures may be slower and noisier than on a quiet machine"
        )
    return warnings


def _load_per_core() -> float | None:
    try:
        return os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:
        return None


def _beyond_ceilings(
    rows: list[ProfileLayer], runtime: str
) -> tuple[list[ProfileLayer], list[str]]:
    """Efficiencies above 100 % are not facts but a sign the ceilings are wrong for a layer:
    shown as unknown, with a note saying which layers and why."""
    over = [row for row in rows if row.efficiency is not None and row.efficiency > 1.0]
    if not over:
        return rows, []
    worst = max(over, key=lambda row: row.efficiency or 0.0)
    kinds = {row.bound for row in over}
    why = []
    if "memory" in kinds:
        why.append(
            "a memory-bound layer whose data stays in the CPU's cache moves it faster than "
            "the memory bandwidth measured"
        )
    if "compute" in kinds:
        why.append(
            f"a compute-bound layer beating the peak means the peak was measured too low: "
            f"measure it again with 'modelprof device --runtime {runtime}' and the same "
            "--threads on a quiet machine"
        )
    note = (
        f"{len(over)} layer(s) ran faster than the device ceilings allow (up to "
        f"{worst.efficiency or 0.0:.0%}, {worst.name}); their efficiency is not shown: "
        + "; ".join(why)
    )
    beyond = {id(row) for row in over}
    return [replace(row, efficiency=None) if id(row) in beyond else row for row in rows], [note]


def _row(
    rt_layer: RuntimeLayer,
    main: LayerCost | None,
    names: Sequence[str],
    time_us: float,
    total_us: float,
    flops: int,
    macs: int,
    moved: int,
    ceilings: Ceilings | None,
) -> ProfileLayer:
    bound = attainable = efficiency = None
    if ceilings is not None and (flops or moved):
        intensity = flops / moved if moved else float("inf")
        bound = "compute" if intensity >= ceilings.ridge_flop_per_byte else "memory"
        attainable = max(
            flops / (ceilings.peak_gflops_per_s * 1e3), moved / (ceilings.bandwidth_gb_per_s * 1e3)
        )
        efficiency = attainable / time_us if time_us > 0 else None
    return ProfileLayer(
        name=main.name if main else rt_layer.runtime_name,
        op=main.op if main else rt_layer.layer_type,
        exec_type=rt_layer.exec_type,
        precision=rt_layer.precision,
        time_us=time_us,
        time_share=time_us / total_us if total_us else 0.0,
        flops=flops,
        macs=macs,
        bytes_moved=moved,
        gflops_per_s=flops / time_us / 1e3 if time_us > 0 and flops else None,
        fused_from=tuple(names),
        inserted=main is None,
        runtime_name=rt_layer.runtime_name,
        bound=bound,
        attainable_us=attainable,
        efficiency=efficiency,
    )


def _absorbing_layer(
    name: str, graph: Graph, owner: Mapping[str, int], macs: Mapping[str, int]
) -> int | None:
    """The runtime layer that absorbed source node ``name``, which no runtime layer names.

    Runtimes fuse epilogues (bias, BatchNorm, residual Add, activation) into the compute op
    before them, and may name the fused layer after either end of the chain (ORT's NCHWc
    layers take their output tensor's name). So a compute op (one with MACs) belongs to the
    layer that claims its consumers, and anything else to the layer that claims its nearest
    producer, compute producers first.
    """
    nodes = {node.name: node for node in graph.nodes}
    producer = {out: node.name for node in graph.nodes for out in node.outputs}
    consumers: dict[str, list[str]] = {}
    for node in graph.nodes:
        for inp in node.inputs:
            consumers.setdefault(inp, []).append(node.name)

    def up(n: str) -> list[str]:
        node = nodes.get(n)
        return [producer[i] for i in node.inputs if i in producer] if node else []

    def down(n: str) -> list[str]:
        node = nodes.get(n)
        return [c for o in node.outputs for c in consumers.get(o, [])] if node else []

    def walk(step: Any) -> int | None:
        seen, frontier = {name}, [name]
        for _ in range(8):
            claimed = [m for n in frontier for m in step(n) if m in owner]
            if claimed:
                return owner[max(claimed, key=lambda m: macs.get(m, 0) > 0)]
            frontier = [m for n in frontier for m in step(n) if m not in seen]
            seen.update(frontier)
            if not frontier:
                return None
        return None

    first, second = (down, up) if macs.get(name, 0) > 0 else (up, down)
    found = walk(first)
    return found if found is not None else walk(second)


def profile_modules(
    before: Any,
    after: Any,
    graph: Graph,
    *,
    runtime: str | Runtime,
    settings: RunSettings,
    rounds: int,
    labels: tuple[str, str],
) -> tuple[ProfileReport, ProfileReport]:
    """Measure the modules ``before`` and ``after`` a rewrite interleaved on a runtime that
    runs modules, at ``graph``'s input shapes and dtypes (given by position: a zoo model's
    input names are its entry's, not its ``forward``'s), and name the reports ``labels``
    (counted from a bare module, a report would carry its class name)."""
    specs = [
        InputSpec(None, tuple(info.shape), info.dtype, index=i)
        for i, info in enumerate(graph.input_infos())
    ]
    reports = profile_interleaved(
        before, after, runtime=runtime, settings=settings, rounds=rounds, input_shapes=specs
    )
    first, second = (
        replace(report, model=label, count=replace(report.count, model=label))
        for report, label in zip(reports, labels, strict=True)
    )
    return first, second
