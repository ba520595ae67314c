"""The consoles every table is printed through: text from a model is shown, never obeyed.

Names in a model (layers, nodes, tensors, files) are whatever its author wrote: rich markup
(``[/evil]`` made a table crash), emoji codes, or terminal escape sequences that would reach
the terminal and act there. So markup and emoji codes are never interpreted, and a control
character in a table is shown as U+FFFD (keeping its column aligned); message lines use
:func:`modelprof.render.units.printable`, which writes it as an escape.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

from .units import printable

_REPLACEMENT = "\ufffd"


def _is_control(char: str) -> bool:
    return char != "\n" and unicodedata.category(char) == "Cc"


class SafeConsole(Console):
    """A rich console that interprets no markup or emoji codes and lets no control
    character of the content through (its own styles still colour a terminal)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, emoji=False, **kwargs)

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            text = segment.text
            if segment.control is None and any(_is_control(char) for char in text):
                text = "".join(_REPLACEMENT if _is_control(c) else c for c in text)
                segment = Segment(text, segment.style, segment.control)
            yield segment


def terminal_console() -> Console:
    """A console for stdout; when piped, wide enough that tables are not squeezed to 80."""
    return SafeConsole(soft_wrap=False, width=None if sys.stdout.isatty() else 200)


def render_text(renderable: RenderableType, width: int = 160) -> str:
    """``renderable`` as plain text (for ``-o report.txt``)."""
    with open(os.devnull, "w", encoding="utf-8") as sink:
        console = SafeConsole(width=width, record=True, file=sink, color_system=None)
        console.print(renderable)
        return console.export_text()


def status(message: str) -> Any:
    """A spinner with ``message`` on stderr (the caller decides whether to show one)."""
    return SafeConsole(stderr=True).status(printable(message), spinner="dots")
