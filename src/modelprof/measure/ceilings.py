"""Cached device ceilings (peak FLOP/s, memory bandwidth) measured by ``modelprof device``.

One JSON file per machine and per set of settings that changes what the probes measure, in
:func:`cache_dir`: the runtime, the device, the requested precision, and the threads and (on
OpenVINO, where they split a latency run's threads) streams asked for, ``None`` meaning the
runtime's default. The file is ``ceilings-<host>-<runtime>-<precision>-<N>threads.json`` for
the CPU, ``...-defaultthreads.json`` when no thread count was given, with the device added
after the runtime for any other device and ``-<S>streams`` when streams were asked for. A
ceiling measured with one thread is therefore never reused for a two-thread profile.

``modelprof profile`` loads the file matching its runtime, precision and threads to mark each
layer compute- or memory-bound. Files are written atomically, so a reader never sees half a
file. An unreadable or malformed file, or one whose recorded settings are not the ones asked
for (a file written by an older modelprof, which did not record them), reads as "no
ceilings": measure again.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..costreport import envelope
from ..errors import ModelprofError
from .profilereport import Ceilings
from .runtimes import get_runtime
from .runtimes.base import RunSettings


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
    return _safe(platform.node()).strip("._") or "host"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


@dataclass(frozen=True)
class CacheKey:
    """The settings a cached measurement was made with, and is reused for.

    ``threads`` and ``streams`` are what was asked for (``None``: the runtime's default), not
    what the runtime made of it, so a lookup needs no runtime: a profile reuses ceilings
    measured with exactly its own settings. ``streams`` is kept only for a runtime whose
    latency measurement honours them (OpenVINO); ONNX Runtime's is always ``None``. Build one
    with :meth:`of` or :meth:`for_settings`, which put names in one spelling.
    """

    runtime: str
    precision: str = "f32"
    device: str = "CPU"
    threads: int | None = None
    streams: int | None = None

    @classmethod
    def of(
        cls,
        runtime: str,
        precision: str = "f32",
        device: str = "CPU",
        *,
        threads: int | None = None,
        streams: int | None = None,
    ) -> CacheKey:
        """The key in one spelling: ``ov``/``ort`` become the runtime's name, ``cpu`` is
        ``CPU``, a thread or stream count of 0 is the default, and streams are dropped where
        the runtime's latency runs ignore them."""
        backend = get_runtime(runtime)
        return cls(
            runtime=backend.name,
            precision=precision,
            device="CPU" if device.upper() == "CPU" else device,
            threads=threads or None,
            streams=(streams or None) if backend.streams_in_latency_mode else None,
        )

    @classmethod
    def for_settings(cls, runtime: str, settings: RunSettings) -> CacheKey:
        """The key of a measurement made (or a profile run) on ``runtime`` with ``settings``."""
        return cls.of(
            runtime,
            settings.precision,
            settings.device,
            threads=settings.threads,
            streams=settings.streams,
        )

    @property
    def path(self) -> Path:
        """Where the ceilings measured with these settings on this machine are stored."""
        parts = [host_name(), self.runtime]
        if self.device != "CPU":
            parts.append(_safe(self.device))
        parts.append(self.precision)
        parts.append(f"{self.threads}threads" if self.threads else "defaultthreads")
        if self.streams:
            parts.append(f"{self.streams}streams")
        return cache_dir() / f"ceilings-{'-'.join(parts)}.json"

    def fields(self) -> dict[str, Any]:
        """What a cache document records of the key beyond its runtime, device and
        precision."""
        return {"requested_threads": self.threads, "requested_streams": self.streams}

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> CacheKey | None:
        """The key a cache document was stored under, or ``None`` where it does not say (a
        document written before the key held the threads) or says something malformed."""
        try:
            if "requested_threads" not in document:
                return None
            return cls.of(
                str(document["runtime"]),
                str(document["precision"]),
                str(document.get("device") or "CPU"),
                threads=_count(document["requested_threads"]),
                streams=_count(document.get("requested_streams")),
            )
        except (KeyError, TypeError, ValueError, ModelprofError):
            return None


def _count(value: Any) -> int | None:
    """A recorded thread or stream count: a whole number, or ``None``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"not a count: {value!r}")
    return value


def cache_path(
    runtime: str,
    precision: str,
    device: str = "CPU",
    *,
    threads: int | None = None,
    streams: int | None = None,
) -> Path:
    """Where the ceilings of this machine on ``runtime`` at ``precision`` on ``device``,
    measured with ``threads`` and ``streams`` asked for (``None``: the default), are stored."""
    return CacheKey.of(runtime, precision, device, threads=threads, streams=streams).path


def save(
    ceilings: Ceilings,
    details: Mapping[str, Any] | None = None,
    *,
    device: str | None = None,
    key: CacheKey | None = None,
) -> Path:
    """Store ``ceilings`` (and ``details``: how they were measured) for this machine.

    The file is named after the settings of the measurement: ``key`` if given; else
    ``device`` (by default the one ``details`` names, else the CPU) and the
    ``requested_threads`` and ``requested_streams`` that ``details`` records (a
    :meth:`DeviceCeilings.to_dict <modelprof.measure.device.DeviceCeilings.to_dict>`
    document does), else the threads ``ceilings`` ran with. The cache folder is
    created if needed; the file is written to a temporary name beside it and renamed over the
    old one, so readers see either the old file or the new one. Returns the path written.
    """
    if not ceilings.runtime:
        raise ValueError("ceilings to cache must name their runtime")
    details = details or {}
    if key is None:
        key = CacheKey.of(
            ceilings.runtime,
            ceilings.precision,
            device or str(details.get("device") or "CPU"),
            threads=details.get("requested_threads", ceilings.threads),
            streams=details.get("requested_streams"),
        )
    elif (key.runtime, key.precision) != (
        get_runtime(ceilings.runtime).name,
        ceilings.precision,
    ):
        raise ValueError(
            f"ceilings of {ceilings.runtime} at {ceilings.precision} cannot be stored under "
            f"the key of {key.runtime} at {key.precision}"
        )
    path = key.path
    document: dict[str, Any] = dict(details)
    document.update(envelope("device"))
    document.update(
        host=platform.node(),
        runtime=key.runtime,
        device=key.device,
        precision=ceilings.precision,
        threads=ceilings.threads,
        **key.fields(),
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


def load_document(
    runtime: str,
    precision: str,
    device: str = "CPU",
    *,
    threads: int | None = None,
    streams: int | None = None,
) -> dict[str, Any] | None:
    """The whole cached document (ceilings plus how they were measured) for these settings,
    if any: ``None`` also where the file's recorded settings are not these."""
    key = CacheKey.of(runtime, precision, device, threads=threads, streams=streams)
    try:
        data = json.loads(key.path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or CacheKey.from_document(data) != key:
        return None
    return data


def load_cached(
    runtime: str,
    precision: str,
    device: str = "CPU",
    *,
    threads: int | None = None,
    streams: int | None = None,
) -> Ceilings | None:
    """The ceilings ``modelprof device`` stored for this machine, runtime, device and
    precision, measured with ``threads`` and ``streams`` asked for (``None``: the runtime's
    default, as a profile without ``--threads`` runs), if any."""
    data = load_document(runtime, precision, device, threads=threads, streams=streams)
    if data is None:
        return None
    try:
        ceilings = Ceilings(
            peak_gflops_per_s=float(data["peak_gflops_per_s"]),
            bandwidth_gb_per_s=float(data["bandwidth_gb_per_s"]),
            runtime=str(data["runtime"]),
            precision=precision,
            threads=int(data.get("threads") or 0),
        )
    except (ValueError, KeyError, TypeError, OverflowError):
        return None
    rates = (ceilings.peak_gflops_per_s, ceilings.bandwidth_gb_per_s)
    if not all(math.isfinite(r) and r > 0 for r in rates):
        return None  # a zero, negative or NaN ceiling would break the roofline
    return ceilings


def unreadable_cache(
    runtime: str,
    precision: str,
    device: str = "CPU",
    *,
    threads: int | None = None,
    streams: int | None = None,
) -> Path | None:
    """The cache file for these settings when it exists but :func:`load_cached` cannot use it
    (corrupt, truncated, another version's, not a file): it is then ignored, never fatal, and
    the caller says so, since ``modelprof device`` measures it again."""
    key = CacheKey.of(runtime, precision, device, threads=threads, streams=streams)
    if not os.path.lexists(key.path):
        return None
    found = load_cached(runtime, precision, device, threads=threads, streams=streams)
    return key.path if found is None else None
