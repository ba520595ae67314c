"""Where int8 went: which compute layers a quantized graph feeds int8, which ones the runtime
really executes in i8/u8, which got slower than in f32, and what the quantize/dequantize and
layout conversions cost.

Why this exists: an int8 model that is no faster than f32 is the commonest complaint about
post-training quantization, and its causes are visible only layer by layer: a layer NNCF left
in float (its input carries no quantizer), a layer the plugin runs in f32 although it is
quantized in the graph (no int8 kernel for its shape), or FakeQuantize and Reorder layers that
eat the gain. Two views answer it:

- :func:`int8_layers` reads the graph alone (no runtime): a compute layer (Conv, ConvTranspose,
  Gemm, MatMul) is *quantized* when both its data input and its weights come from quantizers
  (OpenVINO ``FakeQuantize``, ONNX ``DequantizeLinear``), possibly through layout-only ops
  (Reshape, Flatten, Transpose, MaxPool...) that int8 passes unchanged.
- :func:`diagnose` reads two profiles measured in the same run (the f32 model and its int8
  version, :func:`~modelprof.measure.profiling.profile_interleaved`): each layer's execution
  precision as OpenVINO's runtime model reports it (``runtimePrecision``), its time beside the
  same layer's time in f32, and the share of time in quantizer, Convert and Reorder layers.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ..costreport import CostReport
from ..graph import Graph
from .profilereport import CONVERSION_OPS as CONVERSION_OPS
from .profilereport import INT8_PRECISIONS as INT8_PRECISIONS
from .profilereport import SLOWER_RATIO as SLOWER_RATIO
from .profilereport import Int8Diagnosis as Int8Diagnosis
from .profilereport import LayerPrecision as LayerPrecision
from .profilereport import LeftInFloat as LeftInFloat
from .profilereport import ProfileLayer, ProfileReport
from .profilereport import is_conversion as is_conversion

#: ops whose MACs an int8 kernel can do
MAC_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
#: what marks a tensor as quantized in a graph: OpenVINO's FakeQuantize, ONNX's QDQ pair
QUANTIZERS = frozenset({"FakeQuantize", "DequantizeLinear"})
#: ops that pass an int8 tensor on unchanged (NNCF puts no quantizer after them)
_LAYOUT_OPS = frozenset(
    {
        "Reshape",
        "Flatten",
        "Transpose",
        "Squeeze",
        "Unsqueeze",
        "Identity",
        "MaxPool",
        "Slice",
        "Split",
        "Gather",
        "Concat",
        "Pad",
    }
)
#: ops that make a graph "already quantized": quantizers on activations or integer kernels
ALREADY_INT8_OPS = frozenset(
    {
        "FakeQuantize",
        "QuantizeLinear",
        "DynamicQuantizeLinear",
        "QLinearConv",
        "QLinearMatMul",
        "ConvInteger",
        "MatMulInteger",
    }
)


@dataclass(frozen=True, slots=True)
class Int8Layer:
    """One compute layer of a quantized graph: whether the graph feeds it int8 data and
    weights, and, when not, why it stays in float."""

    name: str
    op: str
    macs: int
    quantized: bool
    reason: str = ""


def already_int8(graph: Graph) -> str | None:
    """Why ``graph`` is already quantized (its quantizer or integer ops, or its int8 weights),
    or None: quantizing it again would quantize quantizers."""
    ops = sorted({n.op_type for n in graph.nodes if n.op_type in ALREADY_INT8_OPS})
    if ops:
        found = sum(1 for n in graph.nodes if n.op_type in ALREADY_INT8_OPS)
        return f"{found} {'/'.join(ops)} node{'s' if found != 1 else ''}"
    packed = [w for w in graph.weights.values() if w.dtype in ("int8", "uint8", "int4", "uint4")]
    if packed:
        return f"{len(packed)} weight tensor{'s' if len(packed) != 1 else ''} stored as integers"
    return None


def quantizer_count(graph: Graph) -> int:
    """Quantizers on activations: FakeQuantize nodes whose input is not a weight (OpenVINO),
    or QuantizeLinear nodes (ONNX QDQ: one per quantized activation; weights are stored
    quantized and only dequantized)."""
    weights = set(graph.weights)
    return sum(
        1
        for n in graph.nodes
        if n.op_type == "QuantizeLinear"
        or (n.op_type == "FakeQuantize" and n.inputs and n.inputs[0] not in weights)
    )


def int8_layers(
    graph: Graph,
    count: CostReport,
    ignored: Collection[str] = (),
    reverted: Collection[str] = (),
) -> tuple[Int8Layer, ...]:
    """Every compute layer of ``graph`` (``count``'s MACs), quantized or not, with the reason
    a layer stays in float: it was ``ignored`` (``--ignore``), ``reverted`` by NNCF's
    accuracy-control loop, its data input carries no quantizer (NNCF's patterns for the target
    leave it so), or its weights are not quantized."""
    producer = {out: node for node in graph.nodes for out in node.outputs}
    macs = {layer.name: layer.macs for layer in count.layers}

    def quantized(tensor: str, depth: int = 0) -> bool:
        weight = graph.weights.get(tensor)
        if weight is not None:
            return weight.dtype in ("int8", "uint8")
        node = producer.get(tensor)
        if node is None or depth > 16:
            return False
        if node.op_type in QUANTIZERS:
            return True
        if node.op_type in _LAYOUT_OPS:
            data = [t for t in node.inputs if t and t not in graph.constants]
            return bool(data) and all(quantized(t, depth + 1) for t in data[:1])
        return False

    rows = []
    for node in graph.nodes:
        if node.op_type not in MAC_OPS or len(node.inputs) < 2:
            continue
        data_q, weight_q = quantized(node.inputs[0]), quantized(node.inputs[1])
        reason = ""
        if node.name in ignored:
            reason = "ignored (--ignore)"
        elif node.name in reverted and not (data_q and weight_q):
            reason = "returned to float by --accuracy-control (the drop exceeded --max-drop)"
        elif not data_q:
            reason = "its input carries no quantizer (NNCF's patterns leave it in float)"
        elif not weight_q:
            reason = "its weights are not quantized"
        rows.append(
            Int8Layer(
                name=node.name,
                op=node.op_type,
                macs=macs.get(node.name, 0),
                quantized=data_q and weight_q,
                reason=reason,
            )
        )
    return tuple(rows)


def _executed(report: ProfileReport) -> list[ProfileLayer]:
    return [layer for layer in report.layers if not layer.folded_into]


def _twins(report: ProfileReport) -> dict[str, ProfileLayer]:
    """Each source layer name of ``report`` -> the executed layer that ran it: its own row, or
    the row that absorbed it; the longest-running row wins."""
    owners: dict[str, ProfileLayer] = {}
    for layer in _executed(report):
        for name in (layer.name, *layer.fused_from):
            current = owners.get(name)
            if current is None or layer.time_us > current.time_us:
                owners[name] = layer
    return owners


def diagnose(
    f32: ProfileReport | None, int8: ProfileReport, static: Sequence[Int8Layer] = ()
) -> Int8Diagnosis:
    """Each executed layer of ``int8`` with its runtime precision and its f32 time (the layer
    of the same name in ``f32``), the compute layers left in float with why (``static``, from
    :func:`int8_layers`, says whether the graph quantized them), the share of convolutions
    and MACs executing in i8/u8, and the time spent converting. Without ``f32`` (``profile``
    of a quantized model alone) every f32 time is None and no layer is called slower."""
    before = _twins(f32) if f32 is not None else {}
    rows = []
    for layer in _executed(int8):
        twin = before.get(layer.name)
        rows.append(
            LayerPrecision(
                name=layer.name,
                op=layer.op,
                exec_type=layer.exec_type,
                precision=layer.precision,
                time_us=layer.time_us,
                f32_time_us=twin.time_us if twin is not None else None,
                f32_exec_type=twin.exec_type if twin is not None else "",
                macs=layer.macs,
            )
        )
    why = {s.name: s.reason for s in static if not s.quantized}
    left = []
    for row in rows:
        if row.macs and not row.int8:
            reason = why.get(row.name) or (
                f"quantized in the graph, but OpenVINO runs it in {row.precision} "
                f"({row.exec_type}): the plugin has no int8 kernel for it"
            )
            left.append(LeftInFloat(row.name, row.op, row.precision, row.macs, reason))
    convs = [r for r in rows if r.op in ("Conv", "ConvTranspose") and r.macs]
    total_macs = sum(r.macs for r in rows)
    layer_time = sum(r.time_us for r in rows)
    conversion = sum(r.time_us for r in rows if is_conversion(r.op))
    return Int8Diagnosis(
        layers=tuple(rows),
        left_in_float=tuple(left),
        conv_int8_share=sum(r.int8 for r in convs) / len(convs) if convs else None,
        macs_int8_share=sum(r.macs for r in rows if r.int8) / total_macs if total_macs else 0.0,
        conversion_us=conversion,
        conversion_share=conversion / layer_time if layer_time else 0.0,
        cpu_flags=cpu_int8_flags(),
    )


def cpu_int8_flags() -> tuple[str, ...]:
    """The CPU's int8 features, from /proc/cpuinfo: VNNI (int8 dot products in AVX-512 or AVX
    registers) and AMX (int8 tile matrix multiply); empty where the file cannot be read."""
    wanted = ("avx512_vnni", "avx_vnni", "amx_int8", "amx_tile", "avx512_bf16")
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return tuple(f for f in wanted if f in flags)
    except OSError:
        pass
    return ()
