"""The runtime interface and what every runtime shares: settings, timing loops, results.

:class:`Runtime` states everything its callers use (``profile``, throughput mode, ``compare``,
``device``), so they never ask which runtime they hold, and a runtime of one's own (a subclass
passed where a runtime name goes) runs through all of them. Runtimes import only this module.

Measuring honestly (docs/profile.md): end-to-end latency comes from a pass with the profiler off
and inputs bound once; per-layer times come from a second pass with the profiler on,
accumulated by us over every iteration (OpenVINO keeps only the last request's counters).
Precision, thread count and runtime version travel with every measurement.
"""

from __future__ import annotations

import functools
import importlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from ...errors import MissingExtraError, ModelprofError, runtime_message

P = ParamSpec("P")
R = TypeVar("R")

PRECISIONS = ("f32", "bf16", "f16")


@dataclass(frozen=True)
class RunSettings:
    """How to run: device, precision, threads, and how long to measure."""

    device: str = "CPU"
    precision: str = "f32"
    threads: int | None = None
    warmup: int = 10
    iterations: int | None = None
    time_budget_s: float = 2.0
    min_iterations: int = 20
    optimization: str = "all"
    cache_dir: str | None = None
    streams: int | None = None

    def iteration_plan(self, one_run_s: float, at_most: int | None = None) -> int:
        """How many timed runs: exactly ``iterations`` if given, else what fits the budget
        (at least ``min_iterations``, at most 10,000 and ``at_most``)."""
        if self.iterations is not None:
            return self.iterations
        fits = int(self.time_budget_s / max(one_run_s, 1e-6))
        planned = max(self.min_iterations, min(fits, 10_000))
        return planned if at_most is None else min(planned, at_most)


@dataclass(frozen=True, slots=True)
class RuntimeLayer:
    """One layer as the runtime executed it, with its per-iteration times.

    ``sources`` are source-model node names the layer implements (OpenVINO's
    ``originalLayersNames``, ORT's node name); ``source_tensors`` are source tensor names it
    produced (ORT's NCHWc layers are named after their output tensor).
    """

    runtime_name: str
    layer_type: str
    exec_type: str
    precision: str
    times_us: tuple[float, ...]
    sources: tuple[str, ...] = ()
    source_tensors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Measurement:
    runtime: str
    runtime_version: str
    device: str
    precision: str
    threads: int
    compile_ms: float
    first_inference_ms: float
    latency_us: tuple[float, ...]
    profiled_latency_us: tuple[float, ...]
    layers: tuple[RuntimeLayer, ...]
    rss_bytes: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class AsyncMeasurement:
    """One asynchronous run (several requests in flight) as a runtime reports it, before
    throughput mode turns it into a point: ``completed`` inferences in ``elapsed_s``, each
    request's latency from submission to completion."""

    runtime: str
    runtime_version: str
    device: str
    precision: str
    threads: int
    streams: int
    requests: int
    completed: int
    elapsed_s: float
    latency_us: tuple[float, ...]
    compile_ms: float
    notes: tuple[str, ...] = ()


class Runtime(ABC):
    """A runtime that times a model end to end, per layer, under load, and on request.

    ``name`` is what reports show and what another process is told to load (see
    :func:`modelprof.measure.runtimes.runtime_reference`); ``extra`` is the pip extra that
    installs the runtime, named when it is missing.
    """

    name: str
    extra: str
    #: Whether :meth:`measure` runs with ``settings.streams`` (OpenVINO splits its threads
    #: between them); where not, the streams asked for change nothing it measures.
    streams_in_latency_mode: bool = False

    @abstractmethod
    def version(self) -> str:
        """The runtime's version, reported with every measurement."""

    @abstractmethod
    def measure(
        self, onnx_path: Path, inputs: Mapping[str, Any], settings: RunSettings
    ) -> Measurement:
        """End-to-end latency (profiler off, inputs bound once), then per-layer times (profiler
        on, accumulated over every iteration): what ``profile`` joins with the count."""

    @abstractmethod
    def measure_throughput(
        self,
        onnx_path: Path,
        inputs: Mapping[str, Any],
        settings: RunSettings,
        *,
        streams: int | None = None,
        requests: int | None = None,
    ) -> AsyncMeasurement:
        """``requests`` inferences kept in flight on ``streams`` streams (None: the runtime
        chooses) for the time budget, or ``settings.iterations`` inferences in all."""

    @abstractmethod
    def bound_infer(
        self, onnx_path: Path, inputs: Mapping[str, Any], settings: RunSettings
    ) -> tuple[Callable[[], object], dict[str, Any]]:
        """The model compiled with its inputs bound once: ``run()`` infers synchronously, with
        the profiler off (what ``compare`` times), and :meth:`session_info` for what it runs
        with."""

    def options(self) -> dict[str, Any]:
        """The constructor arguments (JSON values) that make this runtime again in another
        process, with :func:`~modelprof.measure.runtimes.get_runtime` (``compare``'s workers):
        none by default; ``torch-compile`` has its mode."""
        return {}

    def session_info(
        self, settings: RunSettings, *, precision: str, threads: int, compile_ms: float
    ) -> dict[str, Any]:
        """What a bound session runs with (``bound_infer`` hands it back beside ``run``)."""
        return {
            "runtime": self.name,
            "runtime_version": self.version(),
            "device": settings.device,
            "precision": precision,
            "threads": threads,
            "compile_ms": compile_ms,
        }


def refusals(
    runtime: str, refused: Callable[[BaseException], bool]
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap a runtime's method so that what the runtime raises when it refuses the model, its
    inputs or a setting (``refused(exc)`` says which exceptions those are) becomes one
    :class:`ModelprofError` saying what it objected to, in its words: an invalid graph, a
    missing weights file, an op it does not know, a Reshape impossible at run time."""

    def wrap(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except ModelprofError:
                raise
            except Exception as exc:
                if not refused(exc):
                    raise
                raise ModelprofError(f"{runtime} refused: {runtime_message(exc)}") from None

        return guarded

    return wrap


def import_runtime(module: str, extra: str) -> Any:
    """The runtime's package, imported on first use; if it is missing, an error naming the
    pip extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(module, extra) from None


def timed_runs(
    run: Callable[[], object], settings: RunSettings, at_most: int | None = None
) -> list[float]:
    """Warm up, then time ``run`` repeatedly; each sample in microseconds.

    The profiled pass passes ``at_most`` (the latency pass's count): with the profiler on a run
    is slower, so the same count could take far longer than the time budget, and every run
    adds profiler events to collect.
    """
    for _ in range(settings.warmup):
        run()
    start = time.perf_counter_ns()
    run()
    one = (time.perf_counter_ns() - start) / 1e9
    samples = []
    for _ in range(settings.iteration_plan(one, at_most)):
        t0 = time.perf_counter_ns()
        run()
        samples.append((time.perf_counter_ns() - t0) / 1e3)
    return samples


def keep_submitting(settings: RunSettings, submitted: int, minimum: int, deadline: float) -> bool:
    """Whether a throughput run submits another inference after ``submitted``: exactly
    ``settings.iterations`` if given, else at least ``minimum`` (one per request, so each is
    timed), then more until ``deadline`` (a :func:`time.perf_counter` value)."""
    if settings.iterations is not None:
        return submitted < settings.iterations
    return submitted < minimum or time.perf_counter() < deadline


def rss_growth(before: int | None, after: int | None) -> int | None:
    """How much the resident memory grew between two :func:`resident_bytes` readings, or
    None where either could not be read."""
    return after - before if before and after else None


def resident_bytes() -> int | None:
    """This process's resident memory now (Linux), or None where it cannot be read."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class ModuleRuntime(Runtime):
    """A runtime that runs a PyTorch module itself rather than a model file.

    ``profile`` hands it the module (``measure_module``) and counts that module on the PyTorch
    route; each :class:`RuntimeLayer` it returns names, in ``sources``, the module path it
    timed (``""`` for the root), and ``profile`` joins it with every count row of that scope.
    """

    @abstractmethod
    def measure_module(
        self, module: Any, inputs: Mapping[str, Any], settings: RunSettings
    ) -> Measurement:
        """End-to-end latency (nothing attached), then per-module times, of ``module`` called
        with ``inputs`` (numpy arrays, in the order of its forward arguments)."""

    @abstractmethod
    def bound_module(
        self, module: Any, inputs: Mapping[str, Any], settings: RunSettings
    ) -> tuple[Callable[[], object], dict[str, Any]]:
        """``module`` ready to run (at ``settings``' precision and threads, compiled where
        the runtime compiles) with its inputs bound: ``run()`` infers once with nothing
        attached (what ``compare`` times in a worker process of its own, whose thread count
        it sets), and :meth:`session_info` for what it runs with."""

    @abstractmethod
    def measure_module_throughput(
        self,
        module: Any,
        inputs: Mapping[str, Any],
        settings: RunSettings,
        *,
        streams: int | None = None,
        requests: int | None = None,
    ) -> AsyncMeasurement:
        """:meth:`Runtime.measure_throughput` for ``module``: ``requests`` inferences in
        flight on ``streams`` streams for the time budget, or ``settings.iterations`` in all."""


def concurrent_runs(
    run: Callable[[int], object], settings: RunSettings, workers: int
) -> tuple[tuple[float, ...], float]:
    """Throughput mode where the runtime has no queue of its own (ONNX Runtime, PyTorch):
    ``workers`` threads, thread ``i`` calling ``run(i)`` until the budget is spent (or
    ``settings.iterations`` runs in all, :func:`keep_submitting`): every run's latency in
    microseconds, and the seconds from the start until the last run finished. A failure in a
    thread is raised again here, in the caller's."""
    import threading

    samples: list[list[float]] = [[] for _ in range(workers)]
    failures: list[BaseException] = []
    lock = threading.Lock()
    submitted = 0
    barrier = threading.Barrier(workers + 1)
    deadline = 0.0

    def take() -> bool:
        nonlocal submitted
        with lock:
            go = keep_submitting(settings, submitted, workers, deadline)
            submitted += go
            return go

    def work(i: int) -> None:
        mine = samples[i]
        barrier.wait()
        try:
            while take():
                t = time.perf_counter_ns()
                run(i)
                mine.append((time.perf_counter_ns() - t) / 1e3)
        except BaseException as exc:  # re-raised in the caller's thread
            failures.append(exc)

    pool = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(workers)]
    for thread in pool:
        thread.start()
    start = time.perf_counter()
    deadline = start + settings.time_budget_s
    barrier.wait()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise failures[0]
    return tuple(t for mine in samples for t in mine), elapsed
