"""The JSON documents of a count (``kind: "count"``: per layer, ``--sweep``, ``--symbolic``)
and of a latency profile, as docs/schema.md describes, and the envelope every document starts
with (:func:`envelope`, defined beside ``SCHEMA_VERSION`` at the root)."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..costreport import CostReport
from ..costreport import envelope as envelope
from ..measure.profilereport import ProfileReport

if TYPE_CHECKING:
    from ..measure.int8 import Int8Diagnosis
    from ..measure.llm import Floor, LlmReport, PassCost
    from ..sweep import SweepReport
    from ..symbolic import SymbolicReport


def count_document(report: CostReport) -> dict[str, Any]:
    """``int_macs`` (layers and total) appear only when the model has integer products, and
    ``training_flops`` only when counted with ``--training``."""
    total = report.total
    ints, training = bool(total.int_macs), total.training_flops is not None
    layers = []
    for layer in report.layers:
        row: dict[str, Any] = {
            "name": layer.name,
            "op": layer.op,
            "scope": layer.scope,
            "input_shapes": [list(s) for s in layer.input_shapes],
            "output_shapes": [list(s) for s in layer.output_shapes],
            "params": layer.params,
            "macs": layer.macs,
            "flops": layer.flops,
            "weight_bytes": layer.weight_bytes,
            "activation_bytes": layer.activation_bytes,
            "intensity": round(layer.intensity, 6),
            "counted": layer.counted,
            "note": layer.note,
        }
        if ints:
            row["int_macs"] = layer.int_macs
        if training:
            row["training_flops"] = layer.training_flops
        layers.append(row)
    totals: dict[str, Any] = {
        "params": total.params,
        "buffers": total.buffers,
        "macs": total.macs,
        "flops": total.flops,
        "weight_bytes": total.weight_bytes,
        "activation_bytes": total.activation_bytes,
        "peak_activation_bytes": total.peak_activation_bytes,
    }
    if ints:
        totals["int_macs"] = total.int_macs
    if training:
        totals["training_flops"] = total.training_flops
    return {
        **envelope("count"),
        "model": report.model,
        "source": report.source,
        "convention": report.convention.to_dict(),
        "inputs": [
            {"name": i.name, "shape": list(i.shape), "dtype": i.dtype} for i in report.inputs
        ],
        "layers": layers,
        "total": totals,
        "unsupported": dict(report.unsupported),
        "uncounted": [
            {"name": u.name, "op": u.op_type, "reason": u.reason} for u in report.uncounted
        ],
        "node_coverage": round(report.node_coverage, 6),
        "notes": list(report.notes),
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def profile_document(report: ProfileReport) -> dict[str, Any]:
    """The ``kind: "profile"`` document (docs/schema.md)."""
    flops_total = report.count.total.flops or 1
    doc: dict[str, Any] = {
        **envelope("profile"),
        "model": report.model,
        "runtime": report.runtime,
        "runtime_version": report.runtime_version,
        "device": report.device,
        "precision": report.precision,
        "threads": report.threads,
        "iterations": report.iterations,
        "compile_ms": round(report.compile_ms, 3),
        "first_inference_ms": round(report.first_inference_ms, 3),
        "latency_us": report.latency_us.to_dict(),
        "profiled_latency_us": report.profiled_latency_us.to_dict(),
        "throughput_fps": round(report.throughput_fps, 3),
        "profiler_overhead": round(report.profiler_overhead, 6),
        "time_coverage": round(report.time_coverage, 6),
        "memory_rss_bytes": report.memory_rss_bytes,
        "ceilings": None
        if report.ceilings is None
        else {
            "peak_gflops_per_s": report.ceilings.peak_gflops_per_s,
            "bandwidth_gb_per_s": report.ceilings.bandwidth_gb_per_s,
        },
        "layers": [
            {
                "name": layer.name,
                "op": layer.op,
                "exec_type": layer.exec_type,
                "precision": layer.precision,
                "time_us": round(layer.time_us, 3),
                "time_share": round(layer.time_share, 6),
                "flops": layer.flops,
                "flops_share": round(layer.flops / flops_total, 6),
                "macs": layer.macs,
                "bytes": layer.bytes_moved,
                "gflops_per_s": None
                if layer.gflops_per_s is None
                else round(layer.gflops_per_s, 3),
                "bound": layer.bound,
                "attainable_us": None
                if layer.attainable_us is None
                else round(layer.attainable_us, 3),
                "efficiency": None if layer.efficiency is None else round(layer.efficiency, 6),
                "fused_from": list(layer.fused_from),
                "folded_into": layer.folded_into or None,
                "inserted": layer.inserted,
                "runtime_name": layer.runtime_name,
            }
            for layer in report.layers
        ],
        "by_op_type": [
            {"op": op, "time_us": round(t, 3), "flops": f} for op, t, f in report.by_op_type()
        ],
        "by_precision": [
            {"precision": p, "time_us": round(t, 3), "layers": n}
            for p, t, n in report.by_precision()
        ],
        "count": count_document(report.count),
        "notes": list(report.notes),
    }
    if report.int8 is not None:  # a quantized model on OpenVINO only: float profiles unchanged
        doc["int8"] = diagnosis_document(report.int8)
    return doc


def diagnosis_document(diagnosis: Int8Diagnosis) -> dict[str, Any]:
    """The int8 diagnosis: ``quantize``'s ``diagnosis`` and a quantized model's ``profile``
    ``int8`` (docs/schema.md); without an f32 twin, ``f32_time_us`` is null and ``slower`` false."""
    return {
        "conv_int8_share": diagnosis.conv_int8_share,
        "macs_int8_share": diagnosis.macs_int8_share,
        "conversion_us": diagnosis.conversion_us,
        "conversion_share": diagnosis.conversion_share,
        "cpu_flags": list(diagnosis.cpu_flags),
        "layers": [
            {
                "name": layer.name,
                "op": layer.op,
                "exec_type": layer.exec_type,
                "precision": layer.precision,
                "time_us": layer.time_us,
                "f32_time_us": layer.f32_time_us,
                "f32_exec_type": layer.f32_exec_type,
                "macs": layer.macs,
                "slower": layer.slower,
            }
            for layer in diagnosis.layers
        ],
        "left_in_float": [
            {
                "name": left.name,
                "op": left.op,
                "precision": left.precision,
                "macs": left.macs,
                "reason": left.reason,
            }
            for left in diagnosis.left_in_float
        ],
    }


def sweep_document(report: SweepReport) -> dict[str, Any]:
    """``kind: "count"``, ``mode: "sweep"`` (docs/schema.md)."""
    from ..sweep import totals_dict

    ints = report.has_int_macs
    return {
        **envelope("count", "sweep"),
        "model": report.model,
        "source": report.source,
        "convention": report.convention.to_dict(),
        "sweep_name": report.name,
        "sweep_dims": report.positions,
        "sweep": [
            {
                "value": list(p.value) if isinstance(p.value, tuple) else p.value,
                "inputs": [
                    {"name": n, "shape": list(shape), "dtype": dtype}
                    for n, shape, dtype in p.inputs
                ],
                **totals_dict(p.total, report.training, ints),
                "buffers": p.total.buffers,
                "activation_bytes": p.total.activation_bytes,
                "node_coverage": round(p.node_coverage, 6),
            }
            for p in report.points
        ],
        "notes": list(report.notes),
    }


def _coefficient(c: Fraction) -> int | str:
    return c.numerator if c.denominator == 1 else f"{c.numerator}/{c.denominator}"


def symbolic_document(report: SymbolicReport) -> dict[str, Any]:
    """``kind: "count"``, ``mode: "symbolic"`` (docs/schema.md)."""
    from ..symbolic import MAX_DEGREE

    return {
        **envelope("count", "symbolic"),
        "model": report.model,
        "source": report.source,
        "convention": report.convention.to_dict(),
        "symbolic": {
            "dim": report.dim,
            "variable": report.variable,
            "dims": report.positions,
            "base": report.base,
            "max_degree": MAX_DEGREE,
        },
        "formulas": {
            f.quantity: {
                "kind": f.kind,
                "formula": f.text(report.variable),
                "pieces": [
                    {
                        "modulus": p.modulus,
                        "residue": p.residue,
                        "coefficients": [_coefficient(c) for c in p.coefficients],
                    }
                    for p in f.pieces
                ],
                "reason": f.reason,
            }
            for f in report.formulas
        },
        "points": [{"value": v, **totals} for v, totals in report.points],
        "notes": list(report.notes),
    }


def _pass_document(cost: PassCost) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "position": cost.position,
        "tokens": cost.tokens,
        "keys": cost.keys,
        "macs": cost.macs,
        "flops": cost.flops,
        "linear_macs": cost.linear_macs,
        "attention_macs": cost.attention_macs,
    }
    if cost.attention_macs_causal is not None:
        doc["attention_macs_causal"] = cost.attention_macs_causal
    doc.update(
        weight_bytes_read=cost.weight_bytes_read,
        kv_bytes=cost.kv_bytes,
        bytes=cost.bytes,
        intensity_flop_per_byte=round(cost.intensity, 6),
    )
    return doc


def _floor_document(floor: Floor | None) -> dict[str, Any] | None:
    if floor is None:
        return None
    return {
        "seconds": floor.seconds,
        "compute_s": floor.compute_s,
        "memory_s": floor.memory_s,
        "bound": floor.bound,
    }


def llm_document(report: LlmReport) -> dict[str, Any]:
    """The ``kind: "llm"`` document (docs/llm.md): ``prefill``, ``decode`` and
    ``kv_cache_bytes`` for generation, ``training`` with ``--training``, the other null."""
    arch = report.architecture
    decode: dict[str, Any] | None = None
    if report.decode is not None:
        d = report.decode
        decode = {
            "steps": d.steps,
            "steps_counted": d.steps_counted,
            "first": _pass_document(d.first),
            "last": _pass_document(d.last),
            "mean_per_token": {k: round(v, 6) for k, v in d.mean_per_token().items()},
            "total": {
                "macs": d.total_macs,
                "flops": d.total_flops,
                "linear_macs": d.total_linear_macs,
                "attention_macs": d.total_attention_macs,
            },
        }
    roofline: dict[str, Any] | None = None
    if report.roofline is not None:
        r = report.roofline
        roofline = {
            "peak_gflops_per_s": r.peak_gflops_per_s,
            "bandwidth_gb_per_s": r.bandwidth_gb_per_s,
            "ridge_flop_per_byte": r.ridge_flop_per_byte,
            "ceilings": r.ceilings_source,
            "time_to_first_token": _floor_document(r.time_to_first_token),
            "time_per_output_token_first": _floor_document(r.time_per_output_token_first),
            "time_per_output_token_last": _floor_document(r.time_per_output_token_last),
        }
    training: dict[str, Any] | None = None
    if report.training is not None:
        t = report.training
        training = {
            "tokens": t.tokens,
            "matmul_flops": t.matmul_flops,
            "linear_flops": t.linear_flops,
            "attention_flops": t.attention_flops,
            "flops": t.flops,
        }
    return {
        **envelope("llm"),
        "model": report.model,
        "source": report.source,
        "architecture": {
            "model_type": arch.model_type,
            "class": arch.model_class,
            "layers": arch.layers,
            "hidden": arch.hidden,
            "heads": arch.heads,
            "kv_heads": arch.kv_heads,
            "head_dim": arch.head_dim,
            "vocab": arch.vocab,
            "experts": arch.experts,
            "experts_per_token": arch.experts_per_token,
        },
        "prompt": report.prompt,
        "generate": report.generate,
        "batch": report.batch,
        "logits": report.logits,
        "dtype": report.dtype,
        "kv_dtype": report.kv_dtype,
        "params": report.params,
        "weight_bytes": report.weight_bytes,
        "prefill": None if report.prefill is None else _pass_document(report.prefill),
        "decode": decode,
        "kv_cache_bytes": report.kv_cache_bytes,
        "training": training,
        "roofline": roofline,
        "conventions": list(report.conventions),
        "unsupported": dict(report.unsupported),
        "notes": list(report.notes),
    }


def side_document(
    count: CostReport,
    *,
    file_bytes: int,
    accuracy: float | None,
    profile: ProfileReport | None,
    **extra: Any,
) -> dict[str, Any]:
    """One side (``before`` or ``after``) of a rewrite's document (``prune``, ``quantize``):
    its ``count`` document, its file's bytes, the job's own ``extra`` figures, and, when
    measured, ``accuracy`` and ``latency_us`` (median and IQR) with the whole ``profile``."""
    doc = count_document(count)
    doc["file_bytes"] = file_bytes
    doc.update(extra)
    if profile is not None:
        doc["latency_us"] = {"median": profile.latency_us.median, "iqr": profile.latency_us.iqr}
        doc["profile"] = profile_document(profile)
    if accuracy is not None:
        doc["accuracy"] = accuracy
    return doc
