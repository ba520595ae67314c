"""Cached device ceilings (peak FLOP/s, memory bandwidth) measured by ``modelprof device``."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from ..profilereport import Ceilings


def cache_dir() -> Path:
    base = os.environ.get("MODELPROF_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return (
        Path(base) / "modelprof"
        if base and "MODELPROF_CACHE" not in os.environ
        else (Path(base) if base else Path.home() / ".cache" / "modelprof")
    )


def cache_path(runtime: str, precision: str) -> Path:
    host = platform.node() or "host"
    return cache_dir() / f"ceilings-{host}-{runtime}-{precision}.json"


def load_cached(runtime: str, precision: str) -> Ceilings | None:
    """The ceilings ``modelprof device`` stored for this machine and runtime, if any."""
    path = cache_path(runtime, precision)
    try:
        data = json.loads(path.read_text())
        return Ceilings(
            peak_gflops_per_s=float(data["peak_gflops_per_s"]),
            bandwidth_gb_per_s=float(data["bandwidth_gb_per_s"]),
            runtime=runtime,
            precision=precision,
            threads=int(data.get("threads", 0)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
