"""What ``profile`` returns: measured latency joined with the static costs, layer by layer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import mean, median

from ..costreport import CostReport, html_of


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Summary of one timing pass, in microseconds."""

    median: float
    mean: float
    min: float
    p90: float
    p99: float
    iqr: float
    samples: int

    @classmethod
    def of(cls, times_us: Sequence[float]) -> LatencyStats:
        if not times_us:
            raise ValueError("no timings")
        ordered = sorted(times_us)
        return cls(
            median=median(ordered),
            mean=mean(ordered),
            min=ordered[0],
            p90=_quantile(ordered, 0.90),
            p99=_quantile(ordered, 0.99),
            iqr=_quantile(ordered, 0.75) - _quantile(ordered, 0.25),
            samples=len(ordered),
        )

    def to_dict(self) -> dict[str, float]:
        return {
            k: round(getattr(self, k), 3) for k in ("median", "mean", "min", "p90", "p99", "iqr")
        }


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if len(ordered) == 1:
        return ordered[0]
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass(frozen=True, slots=True)
class Ceilings:
    """A device's measured peak compute rate and memory bandwidth (for the roofline)."""

    peak_gflops_per_s: float
    bandwidth_gb_per_s: float
    runtime: str = ""
    precision: str = "f32"
    threads: int = 0

    @property
    def ridge_flop_per_byte(self) -> float:
        """Arithmetic intensity above which a layer is compute-bound."""
        return self.peak_gflops_per_s / self.bandwidth_gb_per_s


@dataclass(frozen=True, slots=True)
class ProfileLayer:
    """One executed runtime layer (or a source layer the runtime folded away).

    ``name`` is the Graph node the layer implements (for a fused layer, the source node with
    the most FLOPs), or the runtime's own name for a layer it inserted (a Reorder). ``fused_from``
    lists every source node the runtime layer absorbed; ``folded_into`` names the runtime layer
    a source node disappeared into (time 0, shown so no costed layer goes missing).
    """

    name: str
    op: str
    exec_type: str
    precision: str
    time_us: float
    time_share: float
    flops: int
    macs: int
    bytes_moved: int
    gflops_per_s: float | None
    fused_from: tuple[str, ...] = ()
    inserted: bool = False
    runtime_name: str = ""
    folded_into: str = ""
    bound: str | None = None
    attainable_us: float | None = None
    efficiency: float | None = None

    @property
    def intensity(self) -> float:
        return self.flops / self.bytes_moved if self.bytes_moved else 0.0


# -- the int8 diagnosis (computed by :mod:`.int8`, carried by a quantized model's report) -------

#: runtime precisions that are integer execution
INT8_PRECISIONS = frozenset({"i8", "u8"})
#: layer types (ops) that only convert: quantize/dequantize, precision and layout conversions
CONVERSION_OPS = frozenset(
    {"FakeQuantize", "QuantizeLinear", "DequantizeLinear", "Convert", "Reorder"}
)
#: a layer counts as slower in int8 when it takes this much longer than in f32 (and over 1 us)
SLOWER_RATIO = 1.10


@dataclass(frozen=True, slots=True)
class LayerPrecision:
    """One executed layer of the int8 model, beside the same layer of the f32 model measured
    in the same run (``f32_time_us`` None when the f32 model has no layer of that name: a
    quantizer or a Reorder the int8 model added)."""

    name: str
    op: str
    exec_type: str
    precision: str
    time_us: float
    f32_time_us: float | None
    f32_exec_type: str
    macs: int

    @property
    def int8(self) -> bool:
        return self.precision in INT8_PRECISIONS

    @property
    def slower(self) -> bool:
        """Measurably slower than in f32: 10 % and more than 1 us (the timer's resolution)
        more."""
        if self.f32_time_us is None:
            return False
        return self.time_us > SLOWER_RATIO * self.f32_time_us and (
            self.time_us - self.f32_time_us > 1.0
        )


@dataclass(frozen=True, slots=True)
class LeftInFloat:
    """A compute layer that does not execute in int8, and why."""

    name: str
    op: str
    precision: str
    macs: int
    reason: str


@dataclass(frozen=True)
class Int8Diagnosis:
    """What the runtime made of the int8 model, measured beside its f32 original."""

    layers: tuple[LayerPrecision, ...]
    left_in_float: tuple[LeftInFloat, ...]
    #: convolutions executing in i8/u8 / convolutions executed (None: the model has none)
    conv_int8_share: float | None
    #: MACs of layers executing in i8/u8 / all MACs
    macs_int8_share: float
    #: time in quantizer, Convert and Reorder layers, and its share of the per-layer time
    conversion_us: float
    conversion_share: float
    cpu_flags: tuple[str, ...] = ()

    @property
    def slower(self) -> tuple[LayerPrecision, ...]:
        return tuple(layer for layer in self.layers if layer.slower)

    @property
    def conversions(self) -> tuple[LayerPrecision, ...]:
        return tuple(layer for layer in self.layers if is_conversion(layer.op))


def is_conversion(op: str) -> bool:
    """A layer that converts (quantize, dequantize, precision, layout) and computes nothing."""
    return op in CONVERSION_OPS


@dataclass(frozen=True)
class ProfileReport:
    """End-to-end latency and per-layer times on one runtime, joined with the count."""

    model: str
    runtime: str
    runtime_version: str
    device: str
    precision: str
    threads: int
    iterations: int
    compile_ms: float
    first_inference_ms: float
    latency_us: LatencyStats
    profiled_latency_us: LatencyStats
    layers: tuple[ProfileLayer, ...]
    count: CostReport
    memory_rss_bytes: int | None = None
    ceilings: Ceilings | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: for a quantized model measured on OpenVINO: each layer's execution precision, the
    #: compute layers left in float and why, the time in quantize and conversion layers
    #: (:func:`modelprof.measure.int8.diagnose`); None for a float model or another runtime
    int8: Int8Diagnosis | None = None

    @property
    def throughput_fps(self) -> float:
        batch = (
            self.count.inputs[0].shape[0] if self.count.inputs and self.count.inputs[0].shape else 1
        )
        return batch * 1e6 / self.latency_us.median

    @property
    def profiler_overhead(self) -> float:
        """How much slower a run is with the profiler on (0.1 = 10 %)."""
        return self.profiled_latency_us.median / self.latency_us.median - 1

    @property
    def layer_time_us(self) -> float:
        return sum(layer.time_us for layer in self.layers)

    @property
    def time_coverage(self) -> float:
        """Sum of per-layer median times / end-to-end median (docs/profile.md)."""
        return self.layer_time_us / self.latency_us.median

    def by_op_type(self) -> list[tuple[str, float, int]]:
        """(op, time_us, flops) per op type, most time first; inserted layers under their
        runtime type."""
        acc: dict[str, list[float]] = {}
        for layer in self.layers:
            if layer.folded_into:
                continue
            row = acc.setdefault(layer.op, [0.0, 0])
            row[0] += layer.time_us
            row[1] += layer.flops
        return sorted(((op, t, int(f)) for op, (t, f) in acc.items()), key=lambda r: -r[1])

    def by_scope(self, depth: int = 1) -> list[tuple[str, float, int]]:
        """(scope, time_us, flops) per module scope cut to ``depth`` components, as
        ``CostReport.by_scope`` groups the count, in order of first appearance. A row's time
        goes to its own layer's scope (a fused row's, to the layer it is named after); its
        FLOPs to each layer's own scope, folded layers included, so the FLOPs per scope are
        the count's. A module runtime's row of a container's own time is named by its module
        path, its rows of the root's own code and of what no module claimed are
        parenthesised (``(top level)``): they go to that path and to ``""`` (no module).
        Rows the runtime inserted (layout and precision conversions) group under
        ``(inserted)``."""
        scopes = {layer.name: layer.scope for layer in self.count.layers}

        def cut(scope: str) -> str:
            return ".".join(scope.split(".")[:depth]) if scope else ""

        acc: dict[str, list[float]] = {}
        for layer in self.layers:
            scope = scopes.get(layer.name)
            if scope is not None:
                key = cut(scope)
            elif layer.inserted:
                key = "(inserted)"
            else:
                key = "" if layer.name.startswith("(") else cut(layer.name)
            row = acc.setdefault(key, [0.0, 0])
            if not layer.folded_into:
                row[0] += layer.time_us
            row[1] += layer.flops
        return [(scope, t, int(f)) for scope, (t, f) in acc.items()]

    def by_precision(self) -> list[tuple[str, float, int]]:
        """(runtime precision, time_us, layers) for executed layers."""
        acc: dict[str, list[float]] = {}
        for layer in self.layers:
            if layer.folded_into:
                continue
            row = acc.setdefault(layer.precision or "?", [0.0, 0])
            row[0] += layer.time_us
            row[1] += 1
        return sorted(((p, t, int(n)) for p, (t, n) in acc.items()), key=lambda r: -r[1])

    def conversions(self) -> list[ProfileLayer]:
        """Layers the runtime inserted to change layout or precision (Reorder, Convert)."""
        return [layer for layer in self.layers if layer.inserted]

    def _repr_html_(self) -> str | None:
        """The summary, charts and layer table of ``profile --html``, for Jupyter
        (:func:`modelprof.costreport.html_of`)."""
        return html_of(self)
