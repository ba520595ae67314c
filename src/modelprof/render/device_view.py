"""Rendering of ``modelprof device``: the measured (or cached) ceilings as a rich table.

The ``kind: "device"`` JSON document is :meth:`DeviceCeilings.to_dict
<modelprof.measure.device.DeviceCeilings.to_dict>`, written by measure/ because it is also
what the ceilings cache stores.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .fit import LEAST, LOW, MAIN, MID, NAME, fit


def render_device(doc: Mapping[str, Any]) -> RenderableType:
    """The ceilings as a rich table, with how they were measured and where they are cached."""
    head = Text()
    head.append("device ceilings", style="bold")
    ran = doc.get("runtime_precision")
    precision = str(doc.get("precision", "?"))
    if ran and ran != precision:
        precision += f" (ran {ran})"
    head.append(
        f"  {doc.get('runtime', '?')} {doc.get('runtime_version', '')} on "
        f"{doc.get('device', '?')} ({doc.get('host', '?')}), precision {precision}, "
        f"{doc.get('threads', '?')} threads",
        style="dim",
    )
    if doc.get("measured_at"):
        head.append(f"\nmeasured {doc['measured_at']}", style="dim")
        if doc.get("wall_s") is not None:
            head.append(f" in {float(doc['wall_s']):.1f} s", style="dim")

    table = Table(header_style="bold")
    table.add_column("ceiling", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("best run", justify="right", no_wrap=True)
    table.add_column("end-to-end", justify="right", no_wrap=True)
    table.add_column("measured with", overflow="fold")
    table.add_column("kernel", overflow="fold")
    compute = doc.get("compute") or {}
    stream = doc.get("bandwidth") or {}

    def rate(probe: Mapping[str, Any], key: str, unit: str) -> str:
        value = probe.get(key)
        return "-" if value is None else f"{float(value):,.1f} {unit}"

    table.add_row(
        "peak compute",
        Text(f"{float(doc['peak_gflops_per_s']):,.1f} GFLOP/s", style="bold"),
        rate(compute, "best_gflops_per_s", "GFLOP/s"),
        rate(compute, "end_to_end_gflops_per_s", "GFLOP/s"),
        str(compute.get("what", "")),
        ", ".join(compute.get("kernels", [])),
    )
    table.add_row(
        "memory bandwidth",
        Text(f"{float(doc['bandwidth_gb_per_s']):,.1f} GB/s", style="bold"),
        rate(stream, "best_gb_per_s", "GB/s"),
        rate(stream, "end_to_end_gb_per_s", "GB/s"),
        str(stream.get("what", "")),
        ", ".join(stream.get("kernels", [])),
    )
    ridge = float(doc["peak_gflops_per_s"]) / float(doc["bandwidth_gb_per_s"])
    table.add_row(
        "ridge point",
        Text(f"{ridge:,.2f} FLOP/byte", style="bold"),
        "",
        "",
        "peak / bandwidth: a layer of higher arithmetic intensity is compute-bound, "
        "lower is memory-bound",
        "",
    )
    foot = Text()
    foot.append(
        "value: work / median kernel time from the runtime's profiler (as profile times "
        "layers); best run: the fastest one; end-to-end: the whole call, profiler off\n",
        style="dim",
    )
    for note in doc.get("notes", []):
        foot.append(f"note: {note}\n", style="yellow")
    runtime, prec = doc.get("runtime", "?"), doc.get("precision", "?")
    if doc.get("cached"):
        foot.append("cached in ", style="dim")
        foot.append(str(doc.get("cache_path", "")))
        foot.append(
            f"\n'modelprof profile --runtime {runtime} --precision {prec}' marks layers "
            "compute- or memory-bound with it",
            style="dim",
        )
    else:
        foot.append(f"not cached (--no-cache); the cache would be {doc.get('cache_path', '')}")
    priorities = {
        "ceiling": NAME,
        "value": MAIN,
        "best run": MID,
        "end-to-end": MID,
        "measured with": LOW,
        "kernel": LEAST,
    }
    return Group(head, fit(table, priorities, prose=["measured with", "kernel"]), foot)
