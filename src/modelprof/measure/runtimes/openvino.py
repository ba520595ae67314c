"""OpenVINO: end-to-end latency, then per-layer performance counters.

Traps handled here (each verified on OpenVINO's CPU plugin): the inference precision is set
explicitly (bf16 is the CPU default on avx512_bf16 machines); inputs are bound once with
``set_tensor`` (the convenience calls add 25-40 us); ``profiling_info`` holds only the last
request, so it is accumulated per iteration; ``status`` is not a skip flag; and the map back to
source layers is the runtime model's ``originalLayersNames``, where an empty list marks a layer
OpenVINO inserted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...errors import ModelprofError, runtime_message
from .base import (
    PRECISIONS,
    AsyncMeasurement,
    Measurement,
    RunSettings,
    Runtime,
    RuntimeLayer,
    import_runtime,
    keep_submitting,
    refusals,
    resident_bytes,
    rss_growth,
    timed_runs,
)

#: Runtime layer types that are not computation.
_SKIP_TYPES = {"Input", "Output", "Const", "Parameter", "Result"}


def _import() -> Any:
    return import_runtime("openvino", "openvino")


class OpenVINORuntime(Runtime):
    name = "openvino"
    extra = "openvino"
    streams_in_latency_mode = True

    def version(self) -> str:
        return str(_import().get_version())

    def _config(self, settings: RunSettings, profiling: bool) -> dict[Any, Any]:
        ov = _import()
        import openvino.properties as props
        import openvino.properties.hint as hints

        if settings.precision not in PRECISIONS:
            raise ModelprofError(
                f"unknown precision '{settings.precision}' (choose from {', '.join(PRECISIONS)})"
            )
        types = {"f32": ov.Type.f32, "bf16": ov.Type.bf16, "f16": ov.Type.f16}
        config: dict[Any, Any] = {
            hints.inference_precision: types[settings.precision],
            hints.performance_mode: hints.PerformanceMode.LATENCY,
            props.enable_profiling: profiling,
        }
        if settings.threads:
            config[props.inference_num_threads] = settings.threads
        if settings.streams:
            config[props.num_streams] = settings.streams
        if settings.cache_dir:
            config[props.cache_dir] = settings.cache_dir
        return config

    def _compile(self, core: Any, model: Any, device: str, config: Mapping[Any, Any]) -> Any:
        """``model`` compiled for ``device`` (checked to exist first) with ``config``."""
        available = list(core.available_devices)
        if device not in available and device.split(":")[0] not in ("AUTO", "MULTI", "HETERO"):
            raise ModelprofError(
                f"OpenVINO device '{device}' is not available here (available: "
                f"{', '.join(available)}, AUTO)"
            )
        try:
            return core.compile_model(model, device, dict(config))
        except RuntimeError as exc:
            why = runtime_message(exc)
            raise ModelprofError(f"OpenVINO cannot compile the model: {why}") from None

    def _latency_request(
        self,
        core: Any,
        model: Any,
        inputs: Mapping[str, Any],
        settings: RunSettings,
        *,
        profiling: bool,
    ) -> tuple[Any, Any, float]:
        """``model`` compiled in latency mode (profiler on or off), an infer request with the
        inputs bound once, and the compile time in ms."""
        config = self._config(settings, profiling=profiling)
        t0 = time.perf_counter()
        compiled = self._compile(core, model, settings.device, config)
        compile_ms = (time.perf_counter() - t0) * 1e3
        return compiled, _bound(compiled.create_infer_request(), inputs), compile_ms

    @refusals("OpenVINO", lambda exc: isinstance(exc, RuntimeError))
    def measure(
        self, onnx_path: Path, inputs: Mapping[str, Any], settings: RunSettings
    ) -> Measurement:
        core = _import().Core()
        model = _read_reshaped(core, onnx_path, inputs)

        rss_before = resident_bytes()
        compiled, request, compile_ms = self._latency_request(
            core, model, inputs, settings, profiling=False
        )
        t0 = time.perf_counter()
        request.infer()
        first_ms = (time.perf_counter() - t0) * 1e3
        latency = timed_runs(request.infer, settings)
        rss_after = resident_bytes()
        precision, threads = _ran_with(compiled, settings)
        del request, compiled

        profiled, request, _ = self._latency_request(core, model, inputs, settings, profiling=True)
        per_layer: dict[str, list[float]] = {}

        def run_and_collect() -> None:
            request.infer()
            seen: dict[str, int] = {}
            for info in request.profiling_info:
                # names can repeat (a MatMul and its weight-side helper): key by occurrence
                k = seen.get(info.node_name, 0)
                seen[info.node_name] = k + 1
                key = info.node_name if not k else f"{info.node_name}\x00{k}"
                per_layer.setdefault(key, []).append(info.real_time.total_seconds() * 1e6)

        for _ in range(settings.warmup):
            request.infer()
        profiled_latency = timed_runs(
            run_and_collect, replace(settings, warmup=0), at_most=len(latency)
        )
        layers = self._runtime_layers(profiled, per_layer, len(profiled_latency))
        return Measurement(
            runtime=self.name,
            runtime_version=self.version(),
            device=settings.device,
            precision=precision,
            threads=threads,
            compile_ms=compile_ms,
            first_inference_ms=first_ms,
            latency_us=tuple(latency),
            profiled_latency_us=tuple(profiled_latency),
            layers=tuple(layers),
            rss_bytes=rss_growth(rss_before, rss_after),
        )

    @staticmethod
    def _runtime_layers(
        compiled: Any, per_layer: dict[str, list[float]], runs: int
    ) -> list[RuntimeLayer]:
        layers = []
        seen: dict[str, int] = {}
        for op in compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()

            def rt(key: str, info: Any = info) -> str:
                return str(info[key].astype(str)) if key in info else ""

            name = op.get_friendly_name()
            k = seen.get(name, 0)
            seen[name] = k + 1
            layer_type = rt("layerType")
            if layer_type in _SKIP_TYPES:
                continue
            times = per_layer.get(name if not k else f"{name}\x00{k}", [])
            times = times[-runs:] if len(times) >= runs else times + [0.0] * (runs - len(times))
            original = [n for n in rt("originalLayersNames").split(",") if n]
            layers.append(
                RuntimeLayer(
                    runtime_name=name,
                    layer_type=layer_type,
                    exec_type=rt("primitiveType"),
                    precision=_precision_name(rt("runtimePrecision")),
                    times_us=tuple(times),
                    sources=tuple(original),
                )
            )
        return layers

    @refusals("OpenVINO", lambda exc: isinstance(exc, RuntimeError))
    def measure_throughput(
        self,
        onnx_path: Path,
        inputs: Mapping[str, Any],
        settings: RunSettings,
        *,
        streams: int | None = None,
        requests: int | None = None,
    ) -> AsyncMeasurement:
        """Compile with the THROUGHPUT hint and ``streams`` streams, keep ``requests`` infer
        requests busy through an AsyncInferQueue for the time budget (or ``settings.iterations``
        inferences), and time each request from submission to completion."""
        ov = _import()
        import openvino.properties as props
        import openvino.properties.hint as hints

        core = ov.Core()
        model = _read_reshaped(core, onnx_path, inputs)
        device = settings.device
        config = self._config(replace(settings, streams=None), profiling=False)
        config[hints.performance_mode] = hints.PerformanceMode.THROUGHPUT
        if streams:
            config[props.num_streams] = streams
        t0 = time.perf_counter()
        compiled = self._compile(core, model, device, config)
        compile_ms = (time.perf_counter() - t0) * 1e3
        ran_streams = int(_property(compiled, props.num_streams, streams or 0))
        jobs = requests or int(compiled.get_property(props.optimal_number_of_infer_requests))
        queue = ov.AsyncInferQueue(compiled, jobs)
        for i in range(jobs):
            _bound(queue[i], inputs)
        latencies: list[float] = []

        def done(request: Any, measured: bool) -> None:
            if measured:  # request.latency: submission to completion, stamped before the GIL
                latencies.append(float(request.latency) * 1e3)

        queue.set_callback(done)
        for _ in range(max(settings.warmup, jobs)):
            queue.start_async(userdata=False)
        queue.wait_all()

        submitted = 0
        start = time.perf_counter()
        deadline = start + settings.time_budget_s

        while keep_submitting(settings, submitted, jobs, deadline):
            queue.start_async(userdata=True)  # waits (GIL released) for an idle request
            submitted += 1
        queue.wait_all()
        elapsed = time.perf_counter() - start
        precision, threads = _ran_with(compiled, settings)
        notes = (
            "OpenVINO: performance hint THROUGHPUT; requests default to the compiled model's "
            "optimal number of infer requests; latency is per request, submission to completion",
        )
        return AsyncMeasurement(
            runtime=self.name,
            runtime_version=self.version(),
            device=device,
            precision=precision,
            threads=threads,
            streams=ran_streams,
            requests=jobs,
            completed=len(latencies),
            elapsed_s=elapsed,
            latency_us=tuple(latencies),
            compile_ms=compile_ms,
            notes=notes,
        )

    @refusals("OpenVINO", lambda exc: isinstance(exc, RuntimeError))
    def bound_infer(
        self, onnx_path: Path, inputs: Mapping[str, Any], settings: RunSettings
    ) -> tuple[Callable[[], object], dict[str, Any]]:
        """A compiled model with its inputs bound once: ``run()`` infers synchronously (the
        latency-mode setup of ``measure``, profiler off). Returns ``run`` and what it ran with."""
        core = _import().Core()
        model = _read_reshaped(core, onnx_path, inputs)
        compiled, request, compile_ms = self._latency_request(
            core, model, inputs, settings, profiling=False
        )
        request.infer()
        precision, threads = _ran_with(compiled, settings)
        info = self.session_info(
            settings, precision=precision, threads=threads, compile_ms=compile_ms
        )
        return request.infer, info


def _precision_name(text: str) -> str:
    """OpenVINO prints 'f32', 'bf16', '<Type: 'float32'>' or 'FP32' depending on the call."""
    t = text.lower()
    for key, name in (
        ("bf16", "bf16"),
        ("bfloat16", "bf16"),
        ("f16", "f16"),
        ("float16", "f16"),
        ("fp16", "f16"),
        ("f32", "f32"),
        ("float32", "f32"),
        ("fp32", "f32"),
        ("i8", "i8"),
        ("u8", "u8"),
        ("i32", "i32"),
        ("i64", "i64"),
    ):
        if key in t:
            return name
    return t or "?"


def _read_reshaped(core: Any, onnx_path: Path, inputs: Mapping[str, Any]) -> Any:
    """Read the model and reshape it to the inputs' shapes where they differ (a batch sweep)."""
    try:
        model = core.read_model(str(onnx_path))
    except RuntimeError as exc:
        why = runtime_message(exc)
        raise ModelprofError(f"OpenVINO cannot read the model: {why}") from None
    shapes = {name: list(arr.shape) for name, arr in inputs.items()}
    current: dict[str, Any] = {}
    for port in model.inputs:
        for name in port.get_names():
            current[name] = port.get_partial_shape()
    if any(
        name not in current or current[name].is_dynamic or list(current[name].to_shape()) != shape
        for name, shape in shapes.items()
    ):
        try:
            model.reshape(shapes)
        except RuntimeError as exc:
            wanted = ", ".join(f"{n}={'x'.join(map(str, s))}" for n, s in shapes.items())
            raise ModelprofError(
                f"OpenVINO cannot reshape the model to {wanted}: {runtime_message(exc)}"
            ) from None
    return model


def _bound(request: Any, inputs: Mapping[str, Any]) -> Any:
    """``request`` with ``inputs`` set once (``set_tensor``): later ``infer()`` calls reuse
    them, which costs 25-40 us less per call than passing inputs (measured on OpenVINO's CPU
    plugin)."""
    ov = _import()
    for name, array in inputs.items():
        request.set_tensor(name, ov.Tensor(array))
    return request


def _ran_with(compiled: Any, settings: RunSettings) -> tuple[str, int]:
    """The precision and thread count the compiled model runs with, as it reports them (the
    ones asked for where the device reports none)."""
    import openvino.properties as props
    import openvino.properties.hint as hints

    precision = _property(compiled, hints.inference_precision, settings.precision)
    threads = _property(compiled, props.inference_num_threads, settings.threads or 0)
    return _precision_name(str(precision)), int(threads)


def _property(compiled: Any, key: Any, default: Any) -> Any:
    """A compiled model's property, or ``default`` where the device does not report it
    (AUTO answers neither INFERENCE_PRECISION_HINT nor, sometimes, NUM_STREAMS)."""
    try:
        return compiled.get_property(key)
    except (RuntimeError, TypeError):
        return default
