"""The JSON document for a count report (``kind: "count"``), as docs/schema.md describes."""

from __future__ import annotations

import json
from typing import Any

from .._version import __version__
from ..costreport import SCHEMA_VERSION, CostReport


def count_document(report: CostReport) -> dict[str, Any]:
    total = report.total
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "count",
        "modelprof_version": __version__,
        "model": report.model,
        "source": report.source,
        "convention": report.convention.to_dict(),
        "inputs": [
            {"name": i.name, "shape": list(i.shape), "dtype": i.dtype} for i in report.inputs
        ],
        "layers": [
            {
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
            for layer in report.layers
        ],
        "total": {
            "params": total.params,
            "buffers": total.buffers,
            "macs": total.macs,
            "flops": total.flops,
            "weight_bytes": total.weight_bytes,
            "activation_bytes": total.activation_bytes,
            "peak_activation_bytes": total.peak_activation_bytes,
        },
        "unsupported": dict(report.unsupported),
        "uncounted": [
            {"name": u.name, "op": u.op_type, "reason": u.reason} for u in report.uncounted
        ],
        "node_coverage": round(report.node_coverage, 6),
        "notes": list(report.notes),
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"
