"""Measure this machine's roofline ceilings through a runtime: peak FLOP/s and memory bandwidth.

Two probes, each a tiny ONNX model built here with ``onnx.helper`` and run through the chosen
runtime's own :meth:`~modelprof.measure.runtimes.base.Runtime.measure` (inputs bound once, warm-up
first, the precision and thread count set explicitly, median of repeated runs):

- **compute**: a chain of ``chain`` MatMuls ``[n, n] @ [n, n]`` (default 2 x 1024), the weights
  initializers. That is a real library GEMM (OpenVINO runs it as a FullyConnected layer with
  its oneDNN/MLAS kernel; ONNX Runtime with MLAS), large enough that it runs at the speed
  the runtime can reach on this CPU at this precision. FLOPs = 2 x n^3 per MatMul.
- **compute, convolutions**: a chain of 3x3 convolutions over a ``C x 28 x 28`` map (``C`` =
  n / 8, 128 by default). A runtime's direct-convolution kernels (oneDNN's brgconv) can run
  faster than its GEMM: resnet18's convolutions ran at about 340 GFLOP/s where the GEMM gave
  310, and every conv then showed an efficiency above 100 %. The peak is the faster of the
  two probes, and the device report shows both.
- **bandwidth**: one elementwise ``Mul`` by a scalar over a ``stream_bytes`` float32 tensor
  (default 64 MiB: with its output, four times the 32 MiB L3 cache of these machines, so it
  streams from memory). It reads the tensor once and writes it once: bytes = 2 x tensor
  bytes. (An ``Identity`` would be elided by the runtime; a chain of Muls would be fused into
  one kernel.)

Each rate is the work divided by the median time the runtime's own profiler gives the layers
doing the work. That is what ``modelprof profile`` compares a layer against (its per-layer
times come from the same profilers), and it leaves out what the call costs around the kernel:
runtime-inserted precision conversions, and, on OpenVINO, handing back a 64 MiB output, which
about halves the end-to-end rate of the streaming op. The end-to-end rates (whole call,
profiler off) are reported beside them.

These are estimates of the ceilings, not the hardware's datasheet peaks: they are what this
runtime reaches here on a GEMM and on a streaming op, with the threads it was given, on a
machine that may be shared. Layers can beat them a little (a small layer's weights sit in
cache), and noise from other jobs lowers them: measure on a quiet machine and re-measure when
in doubt.
"""

from __future__ import annotations

import platform
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from statistics import median
from typing import Any

from ..budgets import format_size
from ..costreport import envelope
from ..errors import ModelprofError
from ..shapes import check_fits_memory
from .ceilings import CacheKey
from .profilereport import Ceilings
from .runtimes import get_runtime
from .runtimes.base import Measurement, RunSettings

#: Defaults: 2 x 2.1 GFLOP of GEMM, and a 64 MiB stream (128 MiB moved per run).
MATMUL_SIZE = 1024
MATMUL_CHAIN = 2
STREAM_BYTES = 64 * 1024 * 1024

#: How the probes are timed unless told otherwise: 0.75 s of runs (at least 10) per pass.
DEFAULT_SETTINGS = RunSettings(warmup=3, time_budget_s=0.75, min_iterations=10)


@dataclass(frozen=True)
class Probe:
    """One probe's result: the work per run and how long the runtime took for it.

    ``kernel_us`` holds, per profiled run, the summed time of the layers doing the work;
    ``other_us`` the time of every other layer the runtime ran (precision conversions it
    inserted, say), left out of the rate; ``end_to_end_us`` the whole call, profiler off.
    """

    name: str
    description: str
    work: int
    unit: str
    kernels: tuple[str, ...]
    kernel_us: tuple[float, ...]
    other_us: tuple[float, ...]
    end_to_end_us: tuple[float, ...]

    @property
    def time_us(self) -> float:
        """Median kernel time of one run (end-to-end if the profiler saw nothing)."""
        kernel = median(self.kernel_us) if self.kernel_us else 0.0
        return kernel if kernel > 0 else median(self.end_to_end_us)

    @property
    def rate(self) -> float:
        """Work per second, in giga-units (GFLOP/s or GB/s)."""
        return self.work / self.time_us / 1e3

    @property
    def best_rate(self) -> float:
        """The rate of the fastest profiled run (noise only ever slows a run down)."""
        fastest = min((t for t in self.kernel_us if t > 0), default=0.0)
        return self.work / fastest / 1e3 if fastest > 0 else self.end_to_end_rate

    @property
    def end_to_end_rate(self) -> float:
        return self.work / median(self.end_to_end_us) / 1e3

    def to_dict(self) -> dict[str, Any]:
        rate_key = "gflops_per_s" if self.unit == "FLOP" else "gb_per_s"
        return {
            "what": self.description,
            "work": self.work,
            "unit": self.unit,
            "kernels": list(self.kernels),
            "runs": len(self.end_to_end_us),
            "kernel_us_median": round(self.time_us, 3),
            "kernel_us_min": round(float(min(self.kernel_us)), 3) if self.kernel_us else None,
            "kernel_us_max": round(float(max(self.kernel_us)), 3) if self.kernel_us else None,
            "other_us_median": round(float(median(self.other_us)), 3) if self.other_us else 0.0,
            "end_to_end_us_median": round(median(self.end_to_end_us), 3),
            rate_key: round(self.rate, 3),
            f"best_{rate_key}": round(self.best_rate, 3),
            f"end_to_end_{rate_key}": round(self.end_to_end_rate, 3),
        }


@dataclass(frozen=True)
class DeviceCeilings:
    """The ceilings plus everything about how they were measured: ``key`` holds the settings
    asked for, under which they are cached (``ceilings.threads`` is what the runtime ran)."""

    ceilings: Ceilings
    key: CacheKey
    runtime_version: str
    device: str
    runtime_precision: str
    compute: Probe
    bandwidth: Probe
    wall_s: float
    measured_at: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The ``kind: "device"`` document (also what the cache file holds)."""
        c = self.ceilings
        return {
            **envelope("device"),
            "host": platform.node(),
            "runtime": c.runtime,
            "runtime_version": self.runtime_version,
            "device": self.device,
            "precision": c.precision,
            "runtime_precision": self.runtime_precision,
            "threads": c.threads,
            **self.key.fields(),
            # unrounded: exactly what the cache holds and profile divides by
            "peak_gflops_per_s": c.peak_gflops_per_s,
            "bandwidth_gb_per_s": c.bandwidth_gb_per_s,
            "ridge_flop_per_byte": c.ridge_flop_per_byte,
            "compute": self.compute.to_dict(),
            "bandwidth": self.bandwidth.to_dict(),
            "measured_at": self.measured_at,
            "wall_s": round(self.wall_s, 3),
            "notes": list(self.notes),
        }


# -- the probe models ---------------------------------------------------------------------------


def matmul_model(n: int, chain: int) -> Any:
    """``chain`` MatMuls ``x[n, n] @ w_i[n, n]`` in a row (weights scaled to keep values O(1),
    so no denormals slow the later ones). Each node is named after its output tensor, so every
    runtime reports it under that one name."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, weights, previous = [], [], "x"
    for i in range(chain):
        w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
        weights.append(numpy_helper.from_array(w, f"w{i}"))
        nodes.append(helper.make_node("MatMul", [previous, f"w{i}"], [f"mm{i}"], name=f"mm{i}"))
        previous = f"mm{i}"
    graph = helper.make_graph(
        nodes,
        "modelprof-peak-compute",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, [n, n])],
        weights,
    )
    return _model(graph)


#: The convolution probe's map: C x 28 x 28, a 3x3 kernel, padding 1, C to C channels.
CONV_SIDE = 28


def conv_channels(matmul_size: int) -> int:
    """The convolution probe's channels for a given MatMul probe size (128 by default)."""
    return max(8, matmul_size // 8)


def conv_model(channels: int, chain: int) -> Any:
    """``chain`` 3x3 convolutions, ``channels`` to ``channels``, padding 1, on a
    ``channels x 28 x 28`` map (weights scaled to keep values O(1)); nodes named ``conv<i>``."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, weights, previous = [], [], "x"
    for i in range(chain):
        w = (rng.standard_normal((channels, channels, 3, 3)) / np.sqrt(9 * channels)).astype(
            np.float32
        )
        weights.append(numpy_helper.from_array(w, f"w{i}"))
        nodes.append(
            helper.make_node(
                "Conv", [previous, f"w{i}"], [f"conv{i}"], name=f"conv{i}", pads=[1, 1, 1, 1]
            )
        )
        previous = f"conv{i}"
    shape = [1, channels, CONV_SIDE, CONV_SIDE]
    graph = helper.make_graph(
        nodes,
        "modelprof-peak-conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, shape)],
        weights,
    )
    return _model(graph)


def stream_model(elements: int) -> Any:
    """One ``Mul`` by a scalar over ``elements`` float32 values, laid out ``[rows, 1024]``."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    shape = _stream_shape(elements)
    scale = numpy_helper.from_array(np.array(0.5, dtype=np.float32), "scale")
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "scale"], ["stream"], name="stream")],
        "modelprof-bandwidth",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("stream", TensorProto.FLOAT, shape)],
        [scale],
    )
    return _model(graph)


def _stream_shape(elements: int) -> list[int]:
    return [elements // 1024, 1024] if elements % 1024 == 0 else [elements]


def _model(graph: Any) -> Any:
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by every runtime version we support
    return model


# -- measuring ----------------------------------------------------------------------------------


def measure_ceilings(
    runtime: str = "openvino",
    settings: RunSettings | None = None,
    *,
    matmul_size: int = MATMUL_SIZE,
    matmul_chain: int = MATMUL_CHAIN,
    stream_bytes: int = STREAM_BYTES,
) -> DeviceCeilings:
    """Measure peak GFLOP/s and memory GB/s on ``runtime`` with ``settings`` (device,
    precision, threads; iterations or a time budget per pass). Smaller sizes make it faster
    and less faithful (a small stream stays in cache): tests use them, users keep the
    defaults."""
    import numpy as np
    import onnx

    if matmul_size < 1 or matmul_chain < 1:
        raise ModelprofError("the MatMul probe needs a size and a chain length of at least 1")
    elements = stream_bytes // 4
    if elements < 1:
        raise ModelprofError("the bandwidth probe needs at least 4 bytes")
    settings = settings or DEFAULT_SETTINGS
    # the MatMul probe holds its input, output and chain weights at once (float64 while made)
    check_fits_memory(
        8 * matmul_size * matmul_size * (matmul_chain + 2) + 3 * stream_bytes,
        "the device probes",
    )
    backend = get_runtime(runtime)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="modelprof-device-") as folder:
        mm_path = Path(folder) / "peak_compute.onnx"
        onnx.save(matmul_model(matmul_size, matmul_chain), str(mm_path))
        x = np.random.default_rng(1).standard_normal((matmul_size, matmul_size))
        mm = backend.measure(mm_path, {"x": x.astype(np.float32)}, settings)

        channels = conv_channels(matmul_size)
        conv_path = Path(folder) / "peak_conv.onnx"
        onnx.save(conv_model(channels, matmul_chain), str(conv_path))
        image = np.random.default_rng(2).standard_normal((1, channels, CONV_SIDE, CONV_SIDE))
        conv = backend.measure(conv_path, {"x": image.astype(np.float32)}, settings)

        stream_path = Path(folder) / "bandwidth.onnx"
        onnx.save(stream_model(elements), str(stream_path))
        data = np.ones(_stream_shape(elements), dtype=np.float32)
        stream = backend.measure(stream_path, {"x": data}, settings)
    wall_s = time.perf_counter() - started

    flops = 2 * matmul_size**3 * matmul_chain
    gemm = _probe(
        mm,
        "compute",
        f"{matmul_chain} chained MatMul {matmul_size}x{matmul_size} @ "
        f"{matmul_size}x{matmul_size} (float32 model), FLOPs = 2 x {matmul_size}^3 each",
        flops,
        "FLOP",
        [f"mm{i}" for i in range(matmul_chain)],
    )
    side = CONV_SIDE
    convolution = _probe(
        conv,
        "compute",
        f"{matmul_chain} chained 3x3 Conv {channels}->{channels} on {channels}x{side}x{side} "
        f"(float32 model), FLOPs = 2 x {channels} x {side}^2 x {channels} x 9 each",
        2 * channels * side * side * channels * 9 * matmul_chain,
        "FLOP",
        [f"conv{i}" for i in range(matmul_chain)],
    )
    compute, other = sorted((gemm, convolution), key=lambda probe: probe.rate, reverse=True)
    moved = 2 * elements * 4
    tensor = format_size(elements * 4, True, binary=True)
    bandwidth = _probe(
        stream,
        "bandwidth",
        f"elementwise Mul by a scalar over a {tensor} float32 tensor, "
        "bytes = read + write = 2 x tensor bytes",
        moved,
        "B",
        ["stream"],
    )
    notes = [
        f"peak compute from the faster probe: {compute.kernels[0] if compute.kernels else ''} "
        f"at {compute.rate:,.1f} GFLOP/s; the other reached {other.rate:,.1f} GFLOP/s "
        f"({other.kernels[0] if other.kernels else other.description})"
    ]
    if mm.precision != settings.precision:
        notes.append(
            f"{backend.name} ran the GEMM in {mm.precision} when {settings.precision} was "
            "asked for (this CPU has no native arithmetic for it)"
        )
    for probe in (compute, bandwidth):
        if probe.end_to_end_rate > 1.2 * probe.rate:
            notes.append(
                f"the {probe.name} kernels took longer in the profiled pass than whole calls "
                "in the other pass: other jobs slowed it down; measure again when it is quieter"
            )
        elif probe.best_rate > 1.5 * probe.rate:
            notes.append(
                f"the {probe.name} runs varied a lot (the best was "
                f"{probe.best_rate / probe.rate:.1f}x the median): the machine is busy"
            )
    if stream_bytes < STREAM_BYTES // 2:
        notes.append(
            f"a {tensor} stream may stay in the CPU's cache: the bandwidth is "
            "that of the cache, not of memory"
        )
    ceilings = Ceilings(
        peak_gflops_per_s=compute.rate,
        bandwidth_gb_per_s=bandwidth.rate,
        runtime=backend.name,
        precision=settings.precision,
        threads=mm.threads,
    )
    return DeviceCeilings(
        ceilings=ceilings,
        key=CacheKey.for_settings(backend.name, settings),
        runtime_version=mm.runtime_version,
        device=settings.device,
        runtime_precision=mm.precision,
        compute=compute,
        bandwidth=bandwidth,
        wall_s=wall_s,
        measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        notes=tuple(notes),
    )


def _probe(
    measurement: Measurement,
    name: str,
    description: str,
    work: int,
    unit: str,
    nodes: Sequence[str],
) -> Probe:
    """Split the runtime's layers into those doing the probe's work and the rest, and sum
    their times per profiled run."""
    wanted = set(nodes)

    def does_work(sources: Sequence[str]) -> bool:
        # OpenVINO may suffix a node's pieces (``mm0/transpose_b``): compare the first part
        return any(s.split("/")[0] in wanted for s in sources)

    working = [
        layer
        for layer in measurement.layers
        if does_work(layer.sources) or does_work(layer.source_tensors)
    ]
    chosen = {id(layer) for layer in working}
    rest = [layer for layer in measurement.layers if id(layer) not in chosen]
    runs = len(measurement.profiled_latency_us)

    def per_run(layers: Sequence[Any]) -> tuple[float, ...]:
        return tuple(
            sum(layer.times_us[i] for layer in layers if i < len(layer.times_us))
            for i in range(runs)
        )

    kernels = dict.fromkeys(
        f"{layer.layer_type}: {layer.exec_type}"
        for layer in working
        if any(t > 0 for t in layer.times_us)
    )
    return Probe(
        name=name,
        description=description,
        work=work,
        unit=unit,
        kernels=tuple(kernels),
        kernel_us=per_run(working),
        other_us=per_run(rest),
        end_to_end_us=tuple(measurement.latency_us),
    )


def settings_for(
    *,
    device: str = "CPU",
    precision: str = "f32",
    threads: int | None = None,
    iterations: int | None = None,
) -> RunSettings:
    """The default probe settings with the user's device, precision, threads and runs."""
    return replace(
        DEFAULT_SETTINGS,
        device=device,
        precision=precision,
        threads=threads,
        iterations=iterations,
    )
