"""Budgets for ``modelprof check``: sizes such as ``5M`` or ``20MB``, the ``[tool.modelprof]``
table of a project's ``pyproject.toml``, and a :class:`CostReport` held against them.

Sizes are plain integers (``5000000``, ``5_000_000``) or a number with a suffix:

* counts (params, MACs, FLOPs): ``K``, ``M``, ``G``, ``T`` are powers of 1000 (``1.2G``);
* bytes: the same SI suffixes with or without ``B`` (``20MB`` = ``20M`` = 20,000,000 bytes),
  and ``KiB``, ``MiB``, ``GiB``, ``TiB`` for powers of 1024 (``10MiB`` = 10,485,760 bytes).

Suffixes are case-insensitive except that ``b`` never means bits. Pure: no printing, no model.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .costreport import CostReport
from .errors import ModelprofError

_SI = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_BINARY = {"KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40}
_SIZE = re.compile(r"^(?P<number>\d+(?:_\d+)*(?:\.\d+)?|\.\d+)\s*(?P<suffix>[A-Za-z]*)$")


class BudgetError(ModelprofError):
    """A malformed size, an unreadable config, or an unknown budget key (exit status 2)."""


@dataclass(frozen=True, slots=True)
class Metric:
    """One budgetable figure of a report."""

    key: str  # the config key and CLI flag without ``max-``: ``weight-bytes``
    label: str  # how output names it: ``weight bytes``
    is_bytes: bool
    value: Callable[[CostReport], int]


METRICS: tuple[Metric, ...] = (
    Metric("params", "params", False, lambda r: r.total.params),
    Metric("macs", "MACs", False, lambda r: r.total.macs),
    Metric("flops", "FLOPs", False, lambda r: r.total.flops),
    Metric("weight-bytes", "weight bytes", True, lambda r: r.total.weight_bytes),
    Metric(
        "peak-activation-bytes",
        "peak activation bytes",
        True,
        lambda r: r.total.peak_activation_bytes,
    ),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}


@dataclass(frozen=True, slots=True)
class Budget:
    """A limit on one metric, remembering how the user wrote it (for the units of output)."""

    metric: Metric
    limit: int
    binary: bool = False  # given in KiB/MiB/...: show bytes in binary units
    origin: str = ""  # "--max-params" or the config file it came from


@dataclass(frozen=True, slots=True)
class Verdict:
    budget: Budget
    actual: int

    @property
    def ok(self) -> bool:
        return self.actual <= self.budget.limit

    def line(self) -> str:
        """``params 11.69 M > budget 5 M (+133.8%)`` or ``params 79,260 <= budget 5 M``."""
        m, limit = self.budget.metric, self.budget.limit
        actual_text = format_size(self.actual, m.is_bytes, self.budget.binary)
        limit_text = format_size(limit, m.is_bytes, self.budget.binary)
        if actual_text == limit_text and self.actual != limit:  # rounding hides the difference
            unit = " B" if m.is_bytes else ""
            actual_text, limit_text = f"{self.actual:,}{unit}", f"{limit:,}{unit}"
        if self.ok:
            return f"{m.label} {actual_text} <= budget {limit_text}"
        share = 100 * (self.actual - limit) / limit if limit else 0.0
        over = "" if not limit else f" (+{share:.1f}%)" if share >= 0.1 else " (+<0.1%)"
        return f"{m.label} {actual_text} > budget {limit_text}{over}"


def parse_size(text: str | int | float, *, is_bytes: bool = False, what: str = "size") -> int:
    """Parse ``5M``, ``1.2G``, ``20MB``, ``10MiB`` or a plain integer into an integer.

    ``what`` names the setting in the error message (``--max-params``). Raises
    :class:`BudgetError` for anything else, including fractions of a unit (``1.5`` params).
    """
    example = "20MB, 10MiB or 1.5G" if is_bytes else "5M, 600M or 1.2G"
    if isinstance(text, bool):
        raise BudgetError(f"malformed {what} {text!r}: expected a size such as {example}")
    if isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, float):
        try:
            value = Decimal(repr(text))
        except InvalidOperation:
            raise BudgetError(
                f"malformed {what} {text!r}: expected a size such as {example}"
            ) from None
    else:
        value, _ = _parse_text(str(text), is_bytes=is_bytes, what=what, example=example)
    if not value.is_finite() or value < 0:
        raise BudgetError(f"malformed {what} '{text}': a size cannot be negative or infinite")
    if value != value.to_integral_value():
        raise BudgetError(
            f"malformed {what} '{text}': {value} is not a whole number"
            + (" of bytes" if is_bytes else "")
        )
    return int(value)


def _parse_text(text: str, *, is_bytes: bool, what: str, example: str) -> tuple[Decimal, bool]:
    """(value, given in binary units)"""
    match = _SIZE.match(text.strip())
    if not match:
        raise BudgetError(f"malformed {what} '{text}': expected a size such as {example}")
    suffix = match["suffix"]
    if suffix.endswith("b"):
        raise BudgetError(
            f"malformed {what} '{text}': 'b' would mean bits; write B for bytes "
            f"(expected a size such as {example})"
        )
    core = suffix.upper()
    has_b = core.endswith("B")
    if has_b:
        if not is_bytes:
            raise BudgetError(
                f"malformed {what} '{text}': a count takes K, M, G or T, not bytes "
                f"(expected a size such as {example})"
            )
        core = core[:-1]
    if core in _SI:
        scale, binary = _SI[core], False
    elif core in _BINARY and has_b:
        scale, binary = _BINARY[core], True
    else:
        raise BudgetError(
            f"malformed {what} '{text}': unknown unit '{suffix}' "
            f"(expected a size such as {example})"
        )
    return Decimal(match["number"].replace("_", "")) * scale, binary


def parse_budget(metric: Metric, text: str | int | float, origin: str) -> Budget:
    """A :class:`Budget` for ``metric`` from a CLI value or a config value."""
    what = f"{origin}" if origin.startswith("--") else f"max-{metric.key} in {origin}"
    limit = parse_size(text, is_bytes=metric.is_bytes, what=what)
    binary = isinstance(text, str) and text.strip().upper().endswith("IB")
    return Budget(metric, limit, binary, origin)


def format_size(value: int, is_bytes: bool, binary: bool = False) -> str:
    """``11.69 M``, ``5 M``, ``950``, ``20 MB``, ``10 MiB``: at most two decimals, none when
    they are zeros."""
    if is_bytes and binary:
        steps: tuple[tuple[int, str], ...] = (
            (2**40, "TiB"),
            (2**30, "GiB"),
            (2**20, "MiB"),
            (2**10, "KiB"),
        )
        unit = " B"
    elif is_bytes:
        steps = ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "KB"))
        unit = " B"
    else:
        steps = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))
        unit = ""
    for scale, prefix in steps:
        if value >= scale:
            text = f"{value / scale:.2f}".rstrip("0").rstrip(".")
            return f"{text} {prefix}"
    return f"{value:,}{unit}"


# -- pyproject.toml ----------------------------------------------------------------------------


def find_pyproject(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` (default: the current folder) or above."""
    here = Path(start) if start is not None else Path.cwd()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


#: A config file larger than this is not a pyproject.toml (a device, a log...).
MAX_CONFIG_BYTES = 1 << 20


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import importlib

            tomllib = importlib.import_module("tomli")
        except ImportError:
            raise BudgetError(
                f"reading {path} needs Python 3.11 or the 'tomli' package: pip install tomli"
            ) from None
    try:
        # a FIFO would block the open and a device never end the read: regular files only
        if path.exists() and not path.is_dir() and not stat.S_ISREG(path.stat().st_mode):
            raise BudgetError(f"{path} is not a regular file, not a pyproject.toml")
        with path.open("rb") as handle:
            text = handle.read(MAX_CONFIG_BYTES + 1)
        if len(text) > MAX_CONFIG_BYTES:
            raise BudgetError(f"{path} is larger than a pyproject.toml ({MAX_CONFIG_BYTES:,} B)")
        data = tomllib.loads(text.decode("utf-8"))
    except RecursionError:
        raise BudgetError(f"{path}: invalid TOML: nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise BudgetError(f"{path}: invalid TOML: {exc}") from None
    except FileNotFoundError:
        raise BudgetError(f"no such config file: {path}") from None
    except IsADirectoryError:
        raise BudgetError(f"{path} is a directory, not a pyproject.toml") from None
    except OSError as exc:
        raise BudgetError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:  # tomllib.TOMLDecodeError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "syntax error"
        raise BudgetError(f"{path}: invalid TOML: {first}") from None
    return dict(data)


def load_config_budgets(path: str | os.PathLike[str]) -> dict[str, Budget]:
    """Budgets from the ``[tool.modelprof]`` table of ``path`` (``max-params = "5M"`` and so on).

    Keys that are not budgets are left to the commands they belong to, but an unknown
    ``max-...`` key is an error, so a typo cannot silently drop a budget. Underscores are
    accepted for dashes (``max_params``).
    """
    p = Path(path)
    tool = _load_toml(p).get("tool", {})
    if not isinstance(tool, Mapping):
        raise BudgetError(f"{p}: 'tool' must be a table ([tool])")
    table = tool.get("modelprof", {})
    if not isinstance(table, Mapping):
        raise BudgetError(f"{p}: [tool.modelprof] must be a table")
    budgets: dict[str, Budget] = {}
    for raw_key, value in table.items():
        key = str(raw_key).replace("_", "-")
        if not key.startswith("max-"):
            continue
        metric = METRIC_BY_KEY.get(key.removeprefix("max-"))
        if metric is None:
            known = ", ".join(f"max-{m.key}" for m in METRICS)
            raise BudgetError(
                f"{p}: unknown budget '{raw_key}' in [tool.modelprof] (known: {known})"
            )
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise BudgetError(
                f'malformed {raw_key} in {p}: expected a size such as "5M" or 5000000'
            )
        budgets[metric.key] = parse_budget(metric, value, str(p))
    return budgets


def merge_budgets(config: Mapping[str, Budget], cli: Mapping[str, Budget]) -> list[Budget]:
    """Config budgets overridden by command-line ones, in :data:`METRICS` order."""
    merged = {**config, **cli}
    return [merged[m.key] for m in METRICS if m.key in merged]


# -- checking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """A report held against budgets; ``unsupported`` is what could not be counted."""

    model: str
    verdicts: tuple[Verdict, ...]
    missing_nodes: int
    missing_detail: str
    node_coverage: float

    @property
    def exceeded(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if not v.ok)

    def passed(self, *, allow_unsupported: bool = False) -> bool:
        return not self.exceeded and (allow_unsupported or not self.missing_nodes)


def check_report(report: CostReport, budgets: list[Budget]) -> CheckResult:
    """Compare ``report``'s totals with ``budgets``."""
    verdicts = tuple(Verdict(b, int(b.metric.value(report))) for b in budgets)
    missing = sum(report.unsupported.values()) + len(report.uncounted)
    ops = ", ".join(f"{op} x{n}" for op, n in report.unsupported.items())
    detail = ops or ", ".join(u.name for u in report.uncounted[:5])
    return CheckResult(report.model, verdicts, missing, detail, report.node_coverage)
