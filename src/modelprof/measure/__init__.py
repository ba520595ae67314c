"""Where the time goes: a model measured on a real runtime, end to end and layer by layer,
joined with its count (``profile``), under load (throughput mode), side by side with others
(``compare``), and against the machine's measured ceilings (``device``); and what generating
text with a language model costs, prefill and decode (``llm``).

Runtimes sit behind one interface (:class:`Runtime`); each is imported only when it is used.
"""

from .comparison import ComparedModel, CompareReport, compare
from .device import DeviceCeilings, measure_ceilings
from .llm import LlmReport, count_llm
from .preparation import PreparedModel, make_inputs, prepare
from .profilereport import Ceilings, LatencyStats, ProfileLayer, ProfileReport
from .profiling import join, profile, profile_interleaved
from .runtimes import RUNTIMES, get_runtime, runtime_reference
from .runtimes.base import AsyncMeasurement, Measurement, RunSettings, Runtime, RuntimeLayer
from .throughput_mode import ThroughputPoint, ThroughputReport, throughput

__all__ = [
    "RUNTIMES",
    "AsyncMeasurement",
    "Ceilings",
    "CompareReport",
    "ComparedModel",
    "DeviceCeilings",
    "LatencyStats",
    "LlmReport",
    "Measurement",
    "PreparedModel",
    "ProfileLayer",
    "ProfileReport",
    "RunSettings",
    "Runtime",
    "RuntimeLayer",
    "ThroughputPoint",
    "ThroughputReport",
    "compare",
    "count_llm",
    "get_runtime",
    "join",
    "make_inputs",
    "measure_ceilings",
    "prepare",
    "profile",
    "profile_interleaved",
    "runtime_reference",
    "throughput",
]
