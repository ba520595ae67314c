"""Compare models side by side: costs, and latency measured interleaved, one process each.

Costs (params, MACs, FLOPs, peak activation memory) come from :func:`modelprof.count`.
With ``profile=True`` every model is exported to ONNX (as ``profile`` does) and loaded once
into a worker process of its own (:mod:`modelprof.measure.comparison_worker`): the runtimes
never share a process, an allocator or a thread pool. The parent then asks the workers in turn for a
short batch of timed runs, round after round (A B A B ...), so a change in the machine's
load over the run (these machines are shared and noisy) lands on every model alike. Only
one worker runs at a time; each batch starts with one untimed run.
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

from ..api import InputShapes, ModelRef
from ..costreport import CostReport
from ..errors import ModelprofError
from .profilereport import LatencyStats
from .runtimes import get_runtime, runtime_reference
from .runtimes.base import RunSettings, Runtime


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
    """One model's costs and, when profiled, its latency samples (all rounds, in order)."""

    label: str
    count: CostReport
    latency_us: LatencyStats | None = None
    samples_us: tuple[float, ...] = ()
    pid: int | None = None
    compile_ms: float | None = None


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
    with tempfile.TemporaryDirectory(prefix="modelprof-compare-") as folder:
        workers = _start_workers(models, input_shapes, runtime, settings, Path(folder), names)
        try:
            infos = [worker.ready() for worker in workers]
            schedule = _interleave(workers, rounds, iterations)
        finally:
            for worker in workers:
                worker.close()
    origin = min(b.start_s for b in schedule)
    schedule = [
        dataclasses.replace(b, start_s=b.start_s - origin, end_s=b.end_s - origin) for b in schedule
    ]
    compared = []
    for index, (name, cost, info) in enumerate(zip(names, counts, infos, strict=True)):
        samples = tuple(t for b in schedule if b.model == index for t in b.samples_us)
        compared.append(
            ComparedModel(
                label=name,
                count=cost,
                latency_us=LatencyStats.of(samples),
                samples_us=samples,
                pid=int(info["pid"]),
                compile_ms=float(info["compile_ms"]),
            )
        )
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


def _start_workers(
    models: Sequence[ModelRef],
    input_shapes: InputShapes,
    runtime: str | Runtime,
    settings: RunSettings,
    workdir: Path,
    names: Sequence[str],
) -> list[_Worker]:
    """Export each model to ONNX, write its inputs, and start its worker (all start at once;
    they compile concurrently, and none is timed until all are ready)."""
    import numpy as np

    from .preparation import make_inputs, prepare

    reference = runtime_reference(get_runtime(runtime))
    jobs = []
    for index, model in enumerate(models):
        folder = workdir / f"model{index}"
        folder.mkdir()
        prepared = prepare(model, input_shapes, folder)
        inputs_path = folder / "inputs.npz"
        np.savez(inputs_path, **make_inputs(prepared.graph))
        jobs.append((prepared.onnx_path, inputs_path))
    workers: list[_Worker] = []
    try:
        for (onnx_path, inputs_path), name in zip(jobs, names, strict=True):
            setup = {
                "runtime": reference,
                "onnx": str(onnx_path),
                "inputs": str(inputs_path),
                "settings": dataclasses.asdict(settings),
                # where a runtime of the user's own is imported from, as in this process
                "sys_path": sys.path,
            }
            workers.append(_Worker(name, setup, workdir))
    except BaseException:
        for worker in workers:
            worker.close()
        raise
    return workers


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
