"""The before-against-after table a rewrite job prints (``prune``, ``quantize``): one row per
figure with its ratio, then, when measured, latency and accuracy, in the same words for both."""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table

from ..measure.profilereport import ProfileReport
from .units import duration, human, percent


class BeforeAfter:
    """A table of ``label | before | after | after / before`` rows."""

    def __init__(self) -> None:
        self.table = Table(header_style="bold")
        for col in ("", "before", "after", "after / before"):
            self.table.add_column(col, justify="left" if not col else "right")

    def row(
        self,
        label: str,
        a: float | None,
        b: float | None,
        fmt: Callable[[float], str] = human,
    ) -> None:
        """A figure of both sides and their ratio; nothing where a side has none."""
        if a is None or b is None:
            return
        self.table.add_row(label, fmt(a), fmt(b), f"{b / a:.3f}" if a else "-")

    def measured(
        self,
        before: tuple[ProfileReport | None, float | None],
        after: tuple[ProfileReport | None, float | None],
    ) -> None:
        """Each side's (profile, accuracy): latency median and IQR when both were measured,
        accuracy and its change in points when both have one."""
        (before_profile, before_accuracy), (after_profile, after_accuracy) = before, after
        if before_profile is not None and after_profile is not None:
            median = before_profile.latency_us.median, after_profile.latency_us.median
            self.row("latency median", *median, duration)
            iqr = before_profile.latency_us.iqr, after_profile.latency_us.iqr
            self.row("latency IQR", *iqr, duration)
        if before_accuracy is not None and after_accuracy is not None:
            self.table.add_row(
                "accuracy",
                percent(before_accuracy),
                percent(after_accuracy),
                f"{100 * (after_accuracy - before_accuracy):+.1f} pt",
            )
