"""Compare side by side: models on one runtime, or one model on several runtimes; costs, and
latency measured interleaved, one process each.

Costs (params, MACs, FLOPs, peak activation memory) come from :func:`modelprof.count`.
With ``profile=True`` every model is prepared as its runtime runs it (exported to ONNX for
OpenVINO and ONNX Runtime, as ``profile`` does; the module itself for ``torch`` and
``torch-compile``) and loaded once into a worker process of its own
(:mod:`modelprof.measure.comparison_worker`): the runtimes never share a process, an allocator
or a thread pool. The parent then asks the workers in turn for a short batch of timed runs,
round after round (A B A B ...), so a change in the machine's load over the run (these
machines are shared and noisy) lands on every model alike. Only one worker runs at a time;
each batch starts with one untimed run.

:func:`compare_runtimes` puts one model on several runtimes: after the interleaved rounds each
worker, in turn, makes the per-layer pass ``profile`` makes, and the rows of every runtime are
matched by module scope (the ONNX export keeps each node's module path; the torch runtimes
time module paths), so one table shows where each runtime spends its time, module by module.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..api import PICKLE_SUFFIXES, InputShapes, ModelRef
from ..costreport import CostReport, html_of
from ..errors import ModelLoadError, ModelprofError
from .profilereport import LatencyStats, ProfileReport
from .runtimes import get_runtime, runtime_reference
from .runtimes.base import Measurement, ModuleRuntime, RunSettings, Runtime, RuntimeLayer

#: The scope row of the root module's own work (its module path is the empty string).
ROOT_SCOPE = "(top level)"


@dataclass(frozen=True, slots=True)
class TimedBatch:
    """One model's batch of timed runs in one round, with its bounds on the monotonic clock
    (``start_s``/``end_s`` are seconds since the first batch began)."""

    round: int
    model: int
    pid: int
    start_s: float
    end_s: float
    samples_us: tuple[float, ...]


@dataclass(frozen=True)
class ComparedModel:
    """One model's (or one runtime's) costs and, when profiled, its latency samples (all
    rounds, in order), what it ran with, and (one model on several runtimes) its per-layer
    pass joined with its count as ``profile`` joins it."""

    label: str
    count: CostReport
    latency_us: LatencyStats | None = None
    samples_us: tuple[float, ...] = ()
    pid: int | None = None
    compile_ms: float | None = None
    runtime: str | None = None
    runtime_version: str | None = None
    precision: str | None = None
    threads: int | None = None
    layers: ProfileReport | None = None


@dataclass(frozen=True, slots=True)
class ScopeTimes:
    """One module scope (``layer1.0.conv1``; the root's own work is ``(top level)``), or a row
    a runtime added (a Reorder, torch-compile's ``(outside kernels)``), with, per runtime in
    the report's order, the median time of its rows in the per-layer pass (None: no row of
    its own there) and, where its work ran inside another scope's row (a fused kernel, a
    ReLU fused into its convolution), that scope."""

    scope: str
    flops: int
    times_us: tuple[float | None, ...]
    fused_into: tuple[str | None, ...]


@dataclass(frozen=True)
class CompareReport:
    """N models side by side; ratios are to the first model."""

    models: tuple[ComparedModel, ...]
    runtime: str | None = None
    runtime_version: str | None = None
    device: str | None = None
    precision: str | None = None
    threads: int | None = None
    rounds: int = 0
    iterations: int = 0
    warmup: int = 0
    schedule: tuple[TimedBatch, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: "model": models side by side on ``runtime``; "runtime": one model, one entry per runtime
    #: (``runtime`` and the settings above are then None: each entry has its own)
    by: str = "model"
    scopes: tuple[ScopeTimes, ...] = ()

    @property
    def profiled(self) -> bool:
        return bool(self.schedule)

    def flops_ratio(self, index: int) -> float | None:
        base = self.models[0].count.total.flops
        return self.models[index].count.total.flops / base if base else None

    def macs_ratio(self, index: int) -> float | None:
        base = self.models[0].count.total.macs
        return self.models[index].count.total.macs / base if base else None

    def latency_ratio(self, index: int) -> float | None:
        """Median latency of model ``index`` / median latency of the first model."""
        base, this = self.models[0].latency_us, self.models[index].latency_us
        if base is None or this is None or not base.median:
            return None
        return this.median / base.median

    def _repr_html_(self) -> str | None:
        """The table of ``modelprof compare``, for Jupyter (:func:`.costreport.html_of`)."""
        return html_of(self)


def compare(
    models: Sequence[ModelRef],
    input_shapes: InputShapes = None,
    *,
    profile: bool = False,
    runtime: str | Runtime = "openvino",
    settings: RunSettings | None = None,
    rounds: int = 10,
    iterations: int = 20,
    labels: Sequence[str] | None = None,
) -> CompareReport:
    """Count every model and, with ``profile``, time them interleaved: ``rounds`` rounds, each
    giving every model (in order) a batch of ``iterations`` timed runs in its own process."""
    from ..api import count

    if len(models) < 2:
        raise ModelprofError("compare needs at least two models")
    if rounds < 1 or iterations < 1:
        raise ModelprofError("rounds and iterations must be at least 1")
    names = _labels(models, labels)
    counts = [count(model, input_shapes) for model in models]
    if not profile:
        return CompareReport(
            models=tuple(ComparedModel(n, c) for n, c in zip(names, counts, strict=True))
        )
    settings = settings or RunSettings()
    backend = get_runtime(runtime)
    with tempfile.TemporaryDirectory(prefix="modelprof-compare-") as folder:
        jobs = []
        for index, model in enumerate(models):
            workdir = Path(folder) / f"model{index}"
            workdir.mkdir()
            setup, _ = _setup(model, input_shapes, backend, settings, workdir, trust_pickle=False)
            jobs.append((names[index], setup))
        infos, schedule, _ = _run_workers(jobs, Path(folder), rounds, iterations, layers=None)
    compared = [
        _compared(name, cost, info, index, schedule)
        for index, (name, cost, info) in enumerate(zip(names, counts, infos, strict=True))
    ]
    first = infos[0]
    precisions = {str(info["precision"]) for info in infos}
    notes = [
        f"latency: {rounds} rounds x {iterations} runs per model, interleaved in model order, "
        "each model in its own process; each batch starts with one untimed run"
    ]
    if len(precisions) > 1:
        notes.append(f"the models ran at different precisions: {', '.join(sorted(precisions))}")
    return CompareReport(
        models=tuple(compared),
        runtime=str(first["runtime"]),
        runtime_version=str(first["runtime_version"]),
        device=str(first["device"]),
        precision=str(first["precision"]),
        threads=int(first["threads"]),
        rounds=rounds,
        iterations=iterations,
        warmup=settings.warmup,
        schedule=tuple(schedule),
        notes=tuple(notes),
    )


def _labels(models: Sequence[ModelRef], labels: Sequence[str] | None) -> list[str]:
    if labels is not None:
        if len(labels) != len(models):
            raise ModelprofError("give one label per model")
        return list(labels)
    names: list[str] = []
    for model in models:
        name = str(model) if isinstance(model, str | os.PathLike) else type(model).__name__
        base, k = name, 2
        while name in names:
            name, k = f"{base} #{k}", k + 1
        names.append(name)
    return names


def _interleave(workers: Sequence[_Worker], rounds: int, iterations: int) -> list[TimedBatch]:
    schedule = []
    for r in range(rounds):
        for index, worker in enumerate(workers):
            reply = worker.ask({"cmd": "run", "n": iterations})
            schedule.append(
                TimedBatch(
                    round=r,
                    model=index,
                    pid=worker.pid,
                    start_s=float(reply["start_s"]),
                    end_s=float(reply["end_s"]),
                    samples_us=tuple(float(t) for t in reply["samples_us"]),
                )
            )
    return schedule


def compare_runtimes(
    model: ModelRef,
    input_shapes: InputShapes = None,
    *,
    runtimes: Sequence[str | Runtime],
    settings: RunSettings | None = None,
    rounds: int = 10,
    iterations: int = 20,
    layers: bool = True,
    trust_pickle: bool = False,
) -> CompareReport:
    """Time ``model`` on every runtime of ``runtimes`` (names or instances, two or more, each
    once), interleaved: ``rounds`` rounds, each giving every runtime (in order) a batch of
    ``iterations`` timed runs in its own process. With ``layers``, each then makes a per-layer
    pass of ``iterations`` runs (one runtime at a time), joined with its count and matched
    across runtimes by module scope (:attr:`CompareReport.scopes`).

    OpenVINO and ONNX Runtime run the model's ONNX export (one export, shared); ``torch`` and
    ``torch-compile`` run the module, rebuilt in their worker from its zoo name, factory spec
    or ``.pt`` file (read only with ``trust_pickle``), or, for a module object, from a pickle
    of it written for them."""
    if rounds < 1 or iterations < 1:
        raise ModelprofError("rounds and iterations must be at least 1")
    backends = [get_runtime(r) for r in runtimes]
    names = [b.name for b in backends]
    if len(backends) < 2:
        raise ModelprofError("comparing runtimes needs at least two runtimes")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ModelprofError(f"runtime {twice[0]} is given twice")
    settings = settings or RunSettings()
    if _pickled(model) and not trust_pickle:
        raise ModelLoadError(
            f"{model}: reading a pickled PyTorch file runs code from it; pass "
            "trust_pickle=True if you trust it"
        )
    with tempfile.TemporaryDirectory(prefix="modelprof-compare-") as folder:
        jobs = []
        prepared: list[Any] = []
        shared: dict[bool, tuple[dict[str, Any], Any]] = {}
        for index, backend in enumerate(backends):
            workdir = Path(folder) / f"runtime{index}"
            workdir.mkdir()
            on_module = isinstance(backend, ModuleRuntime)
            if on_module not in shared:
                shared[on_module] = _setup(
                    model, input_shapes, backend, settings, workdir, trust_pickle=trust_pickle
                )
            setup, ready = shared[on_module]
            setup = {**setup, "runtime": runtime_reference(backend), "options": backend.options()}
            jobs.append((backend.name, setup))
            prepared.append(ready)
        layer_settings = dataclasses.replace(settings, iterations=iterations) if layers else None
        infos, schedule, measurements = _run_workers(
            jobs, Path(folder), rounds, iterations, layers=layer_settings
        )
    reports = [
        _join(ready, measurement) if measurement is not None else None
        for ready, measurement in zip(prepared, measurements, strict=True)
    ]
    compared = [
        dataclasses.replace(
            _compared(name, ready.count, info, index, schedule),
            runtime=str(info["runtime"]),
            runtime_version=str(info["runtime_version"]),
            precision=str(info["precision"]),
            threads=int(info["threads"]),
            layers=report,
        )
        for index, (name, ready, info, report) in enumerate(
            zip(names, prepared, infos, reports, strict=True)
        )
    ]
    notes = [
        f"latency: {rounds} rounds x {iterations} runs per runtime, interleaved in the order "
        "given, each runtime in its own process; each batch starts with one untimed run",
        "OpenVINO and ONNX Runtime run the model's ONNX export; torch and torch-compile run "
        "the PyTorch module; ratios are to the first runtime",
    ]
    if layers:
        notes.append(
            f"per-layer times: after the rounds, each runtime in turn makes profile's two "
            f"passes ({iterations} runs each), joined with its count; rows are matched by "
            "module scope, and a scope whose work ran inside another's row (a fused kernel) "
            "names that row"
        )
    precisions = {m.precision for m in compared}
    if len(precisions) > 1:
        notes.append(
            f"the runtimes ran at different precisions: {', '.join(sorted(map(str, precisions)))}"
        )
    # each runtime's notes on its per-layer pass, a note several runtimes share said once
    said: dict[str, list[str]] = {}
    for entry in compared:
        for note in entry.layers.notes if entry.layers is not None else ():
            said.setdefault(note, []).append(entry.label)
    notes += [f"{', '.join(labels)}: {note}" for note, labels in said.items()]
    return CompareReport(
        models=tuple(compared),
        device=str(infos[0]["device"]),
        rounds=rounds,
        iterations=iterations,
        warmup=settings.warmup,
        schedule=tuple(schedule),
        notes=tuple(notes),
        by="runtime",
        scopes=scope_times([r for r in reports if r is not None]) if layers else (),
    )


def scope_times(reports: Sequence[ProfileReport]) -> tuple[ScopeTimes, ...]:
    """The rows of ``reports`` (one model on several runtimes) matched by module scope, in the
    order each scope first appears: a row's time goes to the scope of the count layer it is
    named after (a fused row is named after the layer with the most FLOPs), a row a runtime
    added keeps its own name, and a layer folded into a row of another scope names it."""
    times: dict[str, list[float | None]] = {}
    fused: dict[str, list[str | None]] = {}
    flops: dict[str, int] = {}
    for index, report in enumerate(reports):
        scope_of = {layer.name: layer.scope or ROOT_SCOPE for layer in report.count.layers}
        own_flops: dict[str, int] = {}
        for layer in report.count.layers:
            own_flops[scope_of[layer.name]] = own_flops.get(scope_of[layer.name], 0) + layer.flops
        for row in report.layers:
            # a helper row (a weights layout kernel) serves the layers it lists
            named = row.fused_from[0] if row.name not in scope_of and row.fused_from else row.name
            scope = scope_of.get(named, row.name)
            if scope not in times:
                times[scope] = [None] * len(reports)
                fused[scope] = [None] * len(reports)
            if row.folded_into:
                target = scope_of.get(row.folded_into, row.folded_into)
                if target != scope and fused[scope][index] is None:
                    fused[scope][index] = target
                continue
            times[scope][index] = (times[scope][index] or 0.0) + row.time_us
        for scope, value in own_flops.items():
            flops.setdefault(scope, value)
    return tuple(
        ScopeTimes(
            scope=scope,
            flops=flops.get(scope, 0),
            times_us=tuple(row),
            fused_into=tuple(
                None if time is not None else into
                for time, into in zip(row, fused[scope], strict=True)
            ),
        )
        for scope, row in times.items()
    )


def _compared(
    name: str, cost: CostReport, info: dict[str, Any], index: int, schedule: Sequence[TimedBatch]
) -> ComparedModel:
    samples = tuple(t for b in schedule if b.model == index for t in b.samples_us)
    return ComparedModel(
        label=name,
        count=cost,
        latency_us=LatencyStats.of(samples),
        samples_us=samples,
        pid=int(info["pid"]),
        compile_ms=float(info["compile_ms"]),
    )


def _join(prepared: Any, measurement: Measurement) -> ProfileReport:
    from .preparation import PreparedModule
    from .profiling import join, join_module

    if isinstance(prepared, PreparedModule):
        return join_module(prepared, measurement)
    return join(prepared, measurement)


def _setup(
    model: ModelRef,
    input_shapes: InputShapes,
    backend: Runtime,
    settings: RunSettings,
    workdir: Path,
    *,
    trust_pickle: bool,
) -> tuple[dict[str, Any], Any]:
    """A worker's setup for ``model`` on ``backend``, and the model as prepared here (counted
    as the runtime runs it): an ONNX file for a file runtime, the module for a module runtime
    (which the worker builds again from its reference)."""
    import numpy as np

    from .preparation import make_inputs, prepare, prepare_module

    source: ModelRef = model
    if _pickled(model):
        from ..api import build_module

        source = build_module(model, trust_pickle=trust_pickle)
    setup: dict[str, Any] = {
        "runtime": runtime_reference(backend),
        "options": backend.options(),
        "settings": dataclasses.asdict(settings),
        # where a runtime of the user's own is imported from, as in this process
        "sys_path": sys.path,
        "onnx": None,
        "module": None,
    }
    prepared: Any
    if isinstance(backend, ModuleRuntime):
        prepared = prepare_module(source, input_shapes, backend.name)
        setup["module"] = _module_reference(model, workdir)
    else:
        prepared = prepare(source, input_shapes, workdir)
        setup["onnx"] = str(prepared.onnx_path)
    inputs_path = workdir / "inputs.npz"
    np.savez(inputs_path, **make_inputs(prepared.graph))
    setup["inputs"] = str(inputs_path)
    return setup, prepared


def _pickled(model: ModelRef) -> bool:
    return isinstance(model, str | os.PathLike) and Path(model).suffix.lower() in PICKLE_SUFFIXES


def _module_reference(model: ModelRef, workdir: Path) -> dict[str, Any]:
    """How a worker builds the module again: a zoo name or factory spec as it is, a ``.pt``
    file by its absolute path, a module object pickled into ``workdir``."""
    if isinstance(model, str | os.PathLike):
        path = Path(model)
        if path.suffix.lower() in PICKLE_SUFFIXES:
            return {"ref": str(path.resolve()), "trust_pickle": True}
        return {"ref": os.fspath(model), "trust_pickle": False}
    import pickle

    import torch

    target = workdir / "module.pt"
    try:
        torch.save(model, target)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        raise ModelprofError(
            f"cannot hand {type(model).__name__} to a worker process ({exc}): give it as a "
            "zoo name, file.py:factory spec or .pt file"
        ) from None
    return {"ref": str(target), "trust_pickle": True}


def _run_workers(
    jobs: Sequence[tuple[str, dict[str, Any]]],
    workdir: Path,
    rounds: int,
    iterations: int,
    *,
    layers: RunSettings | None,
) -> tuple[list[dict[str, Any]], list[TimedBatch], list[Measurement | None]]:
    """Start every job's worker (all at once: they load and compile concurrently, and none is
    timed until all are ready), time them interleaved, then, with ``layers``, ask each in turn
    for a per-layer pass; the schedule's times are from the first batch's start."""
    workers: list[_Worker] = []
    try:
        for label, setup in jobs:
            workers.append(_Worker(label, setup, workdir))
        infos = [worker.ready() for worker in workers]
        schedule = _interleave(workers, rounds, iterations)
        measurements: list[Measurement | None] = [
            worker.layers(layers) if layers is not None else None for worker in workers
        ]
    finally:
        for worker in workers:
            worker.close()
    origin = min(b.start_s for b in schedule)
    schedule = [
        dataclasses.replace(b, start_s=b.start_s - origin, end_s=b.end_s - origin) for b in schedule
    ]
    return infos, schedule, measurements


def measurement_from_json(data: dict[str, Any]) -> Measurement:
    """A :class:`Measurement` from ``dataclasses.asdict`` of one, sent through JSON (lists
    back to tuples)."""
    layers = tuple(
        RuntimeLayer(
            **{
                **layer,
                "times_us": tuple(layer["times_us"]),
                "sources": tuple(layer["sources"]),
                "source_tensors": tuple(layer["source_tensors"]),
            }
        )
        for layer in data["layers"]
    )
    return Measurement(
        **{
            **data,
            "latency_us": tuple(data["latency_us"]),
            "profiled_latency_us": tuple(data["profiled_latency_us"]),
            "layers": layers,
            "notes": tuple(data["notes"]),
        }
    )


class _Worker:
    """A ``python -m modelprof.measure.comparison_worker`` process and its JSON-lines pipe."""

    def __init__(self, label: str, setup: dict[str, Any], workdir: Path) -> None:
        import modelprof

        self.label = label
        self.pid = 0
        self._stderr: IO[bytes] = tempfile.TemporaryFile(dir=workdir)  # noqa: SIM115
        env = dict(os.environ)
        package_root = str(Path(modelprof.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "modelprof.measure.comparison_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            env=env,
        )
        self._send(setup)

    def _send(self, message: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps(message) + "\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            raise self._died() from None

    def _receive(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise self._died()
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _died(self) -> ModelprofError:
        self._process.wait(timeout=10)
        self._stderr.seek(0)
        lines = [ln.strip() for ln in self._stderr.read().decode(errors="replace").splitlines()]
        last = next((ln for ln in reversed(lines) if ln), "no message")
        return ModelprofError(
            f"the worker timing {self.label} exited (status {self._process.returncode}): {last}"
        )

    def ready(self) -> dict[str, Any]:
        reply = self._receive()
        if not reply.get("ok"):
            raise ModelprofError(f"{self.label}: {reply.get('error', 'the worker failed')}")
        self.pid = int(reply["pid"])
        return reply

    def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        self._send(message)
        return self._receive()

    def layers(self, settings: RunSettings) -> Measurement:
        """The worker's per-layer measurement (``profile``'s two passes) with ``settings``."""
        reply = self.ask({"cmd": "layers", "settings": dataclasses.asdict(settings)})
        if "error" in reply:
            raise ModelprofError(f"{self.label}: {reply['error']}")
        return measurement_from_json(reply["measurement"])

    def close(self) -> None:
        process = self._process
        if process.poll() is None:
            try:
                assert process.stdin is not None
                process.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                process.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        self._stderr.close()
