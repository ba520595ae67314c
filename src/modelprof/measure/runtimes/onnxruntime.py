"""ONNX Runtime: end-to-end latency with I/O bound once, then its profiler's per-node times.

The profiler writes a Chrome-trace JSON list; node events (``cat == "Node"``) are grouped into
runs by the ``model_run`` session events, warm-up runs dropped. At the
default optimisation level, NCHWc layers are named ``<output tensor>_nchwc``: they are mapped
back through the tensor's producer, and inserted ``ReorderInput/Output`` layers are kept as
overhead.
"""

from __future__ import annotations

import bisect
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...errors import ModelprofError, runtime_message
from .base import (
    AsyncMeasurement,
    Measurement,
    RunSettings,
    Runtime,
    RuntimeLayer,
    concurrent_runs,
    import_runtime,
    refusals,
    resident_bytes,
    rss_growth,
    timed_runs,
)

_LEVELS = ("disable", "basic", "extended", "all")


def _refused(exc: BaseException) -> bool:
    """Whether ONNX Runtime raised ``exc`` to refuse something (its own exception types,
    Fail, InvalidGraph, NoSuchFile..., or the RuntimeError/ValueError of its Python layer)."""
    return isinstance(exc, RuntimeError | ValueError) or type(exc).__module__.startswith(
        "onnxruntime"
    )


def _import() -> Any:
    return import_runtime("onnxruntime", "onnxruntime")


def _own_precision(settings: RunSettings) -> None:
    """Refuse a precision other than the model's: ONNX Runtime's CPU provider cannot set one."""
    if settings.precision != "f32":
        raise ModelprofError(
            f"ONNX Runtime's CPU provider runs the model's own precision; --precision "
            f"{settings.precision} is an OpenVINO option (convert the model instead)"
        )


def _threads(settings: RunSettings) -> int:
    """The intra-op threads a session runs with: those asked for, else one per CPU."""
    return settings.threads or os.cpu_count() or 1


class OnnxRuntime(Runtime):
    name = "onnxruntime"
    extra = "onnxruntime"

    def version(self) -> str:
        return str(_import().__version__)

    def _provider(self, settings: RunSettings) -> str:
        device = settings.device.upper()
        wanted = {
            "CPU": "CPUExecutionProvider",
            "CUDA": "CUDAExecutionProvider",
            "GPU": "CUDAExecutionProvider",
        }.get(device, f"{settings.device}ExecutionProvider")
        available = _import().get_available_providers()
        if wanted not in available:
            names = ", ".join(p.removesuffix("ExecutionProvider") for p in available)
            raise ModelprofError(
                f"ONNX Runtime device '{settings.device}' is not available here "
                f"(available: {names})"
            )
        return str(wanted)

    def _options(self, settings: RunSettings, profile_dir: str | None) -> Any:
        ort = _import()
        options = ort.SessionOptions()
        level = settings.optimization.lower()
        if level not in _LEVELS:
            raise ModelprofError(
                f"unknown optimisation level '{settings.optimization}' (choose from "
                f"{', '.join(_LEVELS)})"
            )
        options.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[level]
        if settings.threads:
            options.intra_op_num_threads = settings.threads
        options.log_severity_level = 4  # fatal only: its errors reach the user as ours, once
        if profile_dir is not None:
            options.enable_profiling = True
            options.profile_file_prefix = os.path.join(profile_dir, "ort")
        return options

    def _session(self, onnx_path: Path, settings: RunSettings, profile_dir: str | None) -> Any:
        if onnx_path.suffix.lower() == ".xml":
            raise ModelprofError(
                f"{onnx_path.name} is an OpenVINO IR: ONNX Runtime reads ONNX files only "
                "(profile it with --runtime openvino)"
            )
        try:
            str(onnx_path).encode("utf-8")
        except UnicodeEncodeError:
            raise ModelprofError(
                f"ONNX Runtime cannot open {onnx_path!s:.60}: its name is not valid UTF-8 "
                "(rename the file)"
            ) from None
        ort = _import()
        try:
            return ort.InferenceSession(
                str(onnx_path),
                self._options(settings, profile_dir),
                providers=[self._provider(settings)],
            )
        except Exception as exc:
            if not _refused(exc):
                raise
            why = runtime_message(exc)
            raise ModelprofError(f"ONNX Runtime cannot load the model: {why}") from None

    @staticmethod
    def _bound(session: Any, inputs: Mapping[str, Any]) -> Any:
        binding = session.io_binding()
        for name, array in inputs.items():
            binding.bind_cpu_input(name, array)
        for out in session.get_outputs():
            binding.bind_output(out.name)
        return binding

    def _bound_session(
        self,
        onnx_path: Path,
        inputs: Mapping[str, Any],
        settings: RunSettings,
        profile_dir: str | None,
    ) -> tuple[Any, Any, float]:
        """A session (profiling into ``profile_dir`` if given), its I/O binding with the inputs
        bound once, and the time it took to create the session, in ms."""
        t0 = time.perf_counter()
        session = self._session(onnx_path, settings, profile_dir)
        compile_ms = (time.perf_counter() - t0) * 1e3
        return session, self._bound(session, inputs), compile_ms

    @refusals("ONNX Runtime", _refused)
    def measure(
        self, onnx_path: Path, inputs: Mapping[str, Any], settings: RunSettings
    ) -> Measurement:
        _own_precision(settings)
        rss_before = resident_bytes()
        session, binding, compile_ms = self._bound_session(onnx_path, inputs, settings, None)
        t0 = time.perf_counter()
        session.run_with_iobinding(binding)
        first_ms = (time.perf_counter() - t0) * 1e3
        latency = timed_runs(lambda: session.run_with_iobinding(binding), settings)
        rss_after = resident_bytes()
        threads = _threads(settings)
        del binding, session

        with tempfile.TemporaryDirectory(prefix="modelprof-ort-") as folder:
            session, binding, _ = self._bound_session(onnx_path, inputs, settings, folder)
            profiled = timed_runs(
                lambda: session.run_with_iobinding(binding), settings, at_most=len(latency)
            )
            trace_path = session.end_profiling()
            with open(trace_path, encoding="utf-8") as handle:
                events = json.load(handle)
        layers = layers_from_trace(events, runs=len(profiled))
        return Measurement(
            runtime=self.name,
            runtime_version=self.version(),
            device=settings.device,
            precision="f32",
            threads=threads,
            compile_ms=compile_ms,
            first_inference_ms=first_ms,
            latency_us=tuple(latency),
            profiled_latency_us=tuple(profiled),
            layers=tuple(layers),
            rss_bytes=rss_growth(rss_before, rss_after),
        )

    @refusals("ONNX Runtime", _refused)
    def measure_throughput(
        self,
        onnx_path: Path,
        inputs: Mapping[str, Any],
        settings: RunSettings,
        *,
        streams: int | None = None,
        requests: int | None = None,
    ) -> AsyncMeasurement:
        """N concurrent requests: ``requests`` threads (default: one per stream) call ``run``
        on one session, whose intra-op threads are split between the streams
        (``threads // streams`` each, at least 1). ONNX Runtime has no streams of its own."""
        _own_precision(settings)
        threads = _threads(settings)
        streams = streams or max(1, min(threads, 4))
        per_stream = max(1, threads // streams)
        workers = requests or streams
        t0 = time.perf_counter()
        session = self._session(onnx_path, replace(settings, threads=per_stream), None)
        compile_ms = (time.perf_counter() - t0) * 1e3
        bindings = [self._bound(session, inputs) for _ in range(workers)]
        try:
            for i in range(max(settings.warmup, workers)):
                session.run_with_iobinding(bindings[i % workers])
        except Exception as exc:  # ORT raises its own exception types for a bad shape
            shapes = ", ".join(f"{n}={'x'.join(map(str, a.shape))}" for n, a in inputs.items())
            raise ModelprofError(
                f"ONNX Runtime cannot run the model at {shapes}: {runtime_message(exc)}"
            ) from None

        try:
            # run_with_iobinding releases the GIL while it runs
            latency, elapsed = concurrent_runs(
                lambda i: session.run_with_iobinding(bindings[i]), settings, workers
            )
        except Exception as exc:
            raise ModelprofError(f"ONNX Runtime failed during the run: {exc}") from None
        notes = (
            "ONNX Runtime has no streams: each stream is a thread calling run() concurrently "
            "on one session, intra-op threads split between the streams",
        )
        return AsyncMeasurement(
            runtime=self.name,
            runtime_version=self.version(),
            device=settings.device,
            precision="f32",
            threads=per_stream * streams,
            streams=streams,
            requests=workers,
            completed=len(latency),
            elapsed_s=elapsed,
            latency_us=latency,
            compile_ms=compile_ms,
            notes=notes,
        )

    @refusals("ONNX Runtime", _refused)
    def bound_infer(
        self, onnx_path: Path, inputs: Mapping[str, Any], settings: RunSettings
    ) -> tuple[Callable[[], object], dict[str, Any]]:
        """A session with its inputs bound once: ``run()`` infers synchronously (the
        latency-mode setup of ``measure``, profiler off). Returns ``run`` and what it ran with."""
        _own_precision(settings)
        session, binding, compile_ms = self._bound_session(onnx_path, inputs, settings, None)
        session.run_with_iobinding(binding)

        def run() -> object:
            return session.run_with_iobinding(binding)

        info = self.session_info(
            settings, precision="f32", threads=_threads(settings), compile_ms=compile_ms
        )
        return run, info


def layers_from_trace(events: list[dict[str, Any]], runs: int) -> list[RuntimeLayer]:
    """Per node, one time per measured run (the last ``runs`` model runs)."""
    model_runs = sorted(
        (e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"),
        key=lambda e: e["ts"],
    )[-runs:]
    starts = [e["ts"] for e in model_runs]
    ends = [e["ts"] + e["dur"] for e in model_runs]
    order: dict[str, int] = {}
    meta: dict[str, dict[str, Any]] = {}
    per_run: dict[str, list[float]] = {}
    for event in sorted((e for e in events if e.get("cat") == "Node"), key=lambda e: e["ts"]):
        name = str(event["name"])
        if not name.endswith("_kernel_time"):
            continue
        ts = event["ts"]
        # the runs do not overlap: the one that may hold ts is the last to start before it
        run = bisect.bisect_right(starts, ts) - 1
        if run < 0 or ts > ends[run]:
            continue
        node = name.removesuffix("_kernel_time")
        order.setdefault(node, len(order))
        meta.setdefault(node, event.get("args", {}))
        times = per_run.setdefault(node, [0.0] * len(starts))
        times[run] += float(event["dur"])
    layers = []
    for node in sorted(order, key=order.__getitem__):
        args = meta[node]
        op = str(args.get("op_name", "?"))
        provider = str(args.get("provider", "")).removesuffix("ExecutionProvider")
        outputs = args.get("output_type_shape") or [{}]
        dtype = next(iter(outputs[0]), "float") if outputs and outputs[0] else "float"
        if node.endswith("_nchwc"):
            sources: tuple[str, ...] = ()
            tensors: tuple[str, ...] = (node.removesuffix("_nchwc"),)
        elif node.startswith(("ReorderInput", "ReorderOutput")):
            sources, tensors = (), ()
        else:
            sources, tensors = (node,), ()
        layers.append(
            RuntimeLayer(
                runtime_name=node,
                layer_type=op,
                exec_type=f"{op} ({provider})" if provider else op,
                precision={"float": "f32", "float16": "f16", "bfloat16": "bf16"}.get(dtype, dtype),
                times_us=tuple(per_run[node]),
                sources=sources,
                source_tensors=tensors,
            )
        )
    return layers
