"""Cached device ceilings (peak FLOP/s, memory bandwidth) measured by ``modelprof device``.

One JSON file per machine, runtime, device and requested precision, in :func:`cache_dir`:
``ceilings-<host>-<runtime>-<precision>.json`` for the CPU (the device is added to the name for
any other device). ``modelprof profile`` loads the file matching its runtime and precision to
mark each layer compute- or memory-bound. Files are written atomically, so a reader never sees
half a file; an unreadable or malformed file reads as "no ceilings".
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ModelprofError
from ..profilereport import Ceilings

#: The version of the cache file's layout (and of ``modelprof device --format json``).
SCHEMA_VERSION = 1


def cache_dir() -> Path:
    """``$MODELPROF_CACHE`` if set, else ``$XDG_CACHE_HOME/modelprof``, else
    ``~/.cache/modelprof``."""
    if os.environ.get("MODELPROF_CACHE"):
        return Path(os.environ["MODELPROF_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "modelprof"
    return Path.home() / ".cache" / "modelprof"


def host_name() -> str:
    """This machine's name, reduced to characters that are safe in a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", platform.node()).strip("._") or "host"


def cache_path(runtime: str, precision: str, device: str = "CPU") -> Path:
    """Where the ceilings of this machine on ``runtime`` at ``precision`` are stored."""
    parts = [host_name(), runtime]
    if device.upper() != "CPU":
        parts.append(re.sub(r"[^A-Za-z0-9_.-]+", "_", device))
    parts.append(precision)
    return cache_dir() / f"ceilings-{'-'.join(parts)}.json"


def save(
    ceilings: Ceilings, details: Mapping[str, Any] | None = None, *, device: str = "CPU"
) -> Path:
    """Store ``ceilings`` (and ``details``: how they were measured) for this machine.

    The cache folder is created if needed; the file is written to a temporary name beside
    it and renamed over the old one, so readers see either the old file or the new one.
    Returns the path written.
    """
    if not ceilings.runtime:
        raise ValueError("ceilings to cache must name their runtime")
    path = cache_path(ceilings.runtime, ceilings.precision, device)
    document: dict[str, Any] = dict(details or {})
    document.update(
        schema_version=SCHEMA_VERSION,
        kind="device",
        host=platform.node(),
        runtime=ceilings.runtime,
        device=device,
        precision=ceilings.precision,
        threads=ceilings.threads,
        peak_gflops_per_s=ceilings.peak_gflops_per_s,
        bandwidth_gb_per_s=ceilings.bandwidth_gb_per_s,
        ridge_flop_per_byte=ceilings.ridge_flop_per_byte,
    )
    text = json.dumps(document, indent=2) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ModelprofError(f"cannot write the ceilings cache {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_document(runtime: str, precision: str, device: str = "CPU") -> dict[str, Any] | None:
    """The whole cached document (ceilings plus how they were measured), if any."""
    try:
        data = json.loads(cache_path(runtime, precision, device).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def load_cached(runtime: str, precision: str, device: str = "CPU") -> Ceilings | None:
    """The ceilings ``modelprof device`` stored for this machine and runtime, if any."""
    data = load_document(runtime, precision, device)
    if data is None:
        return None
    try:
        ceilings = Ceilings(
            peak_gflops_per_s=float(data["peak_gflops_per_s"]),
            bandwidth_gb_per_s=float(data["bandwidth_gb_per_s"]),
            runtime=runtime,
            precision=precision,
            threads=int(data.get("threads") or 0),
        )
    except (ValueError, KeyError, TypeError):
        return None
    rates = (ceilings.peak_gflops_per_s, ceilings.bandwidth_gb_per_s)
    if not all(math.isfinite(r) and r > 0 for r in rates):
        return None  # a zero, negative or NaN ceiling would break the roofline
    return ceilings
