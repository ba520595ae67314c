"""The formatters of every figure shown: one per unit.

:func:`human` counts and bytes in tables, :func:`duration` times, :func:`percent` shares,
:func:`shape` tensor shapes, and :func:`format_size` compact sizes as a budget is written
(``20 MB``, ``10 MiB``: defined in :mod:`modelprof.budgets`, whose verdicts and the device
probes' descriptions need it below render/, and re-exported here).
"""

from __future__ import annotations

import unicodedata

from ..budgets import format_size as format_size

_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"))


def human(value: float, unit: str = "") -> str:
    """Exact with thousands separators below a million (``394,780``), SI above (``1.81 G``).

    Small counts stay exact so hand-worked figures can be read off the table; large ones get
    three significant digits, which is all a reader compares them by.
    """
    suffix = f" {unit}" if unit else ""
    if abs(value) < 1e6:
        if isinstance(value, float) and not value.is_integer():
            return f"{value:,.2f}{suffix}"
        return f"{int(value):,}{suffix}"
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.2f} {prefix}{unit}"
    raise AssertionError("unreachable")


def duration(us: float) -> str:
    """A time given in microseconds: ``812.4 us``, ``37.10 ms``, ``1.52 s``."""
    if us >= 1e6:
        return f"{us / 1e6:.2f} s"
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.1f} us"


def percent(fraction: float) -> str:
    """A share in [0, 1] as a percentage; JSON keeps the fraction."""
    return f"{100 * fraction:.1f}%"


def shape(dims: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in dims) if dims else "scalar"


def printable(text: str) -> str:
    """``text`` with every control character (newlines included) written as an escape, for a
    message that must stay one line and must not act on the terminal: a name holding the
    escape sequence ESC [2J prints as the six characters ``\\x1b[2J``."""
    if text.isprintable():
        return text
    return "".join(
        repr(char)[1:-1] if unicodedata.category(char) == "Cc" else char for char in text
    )
