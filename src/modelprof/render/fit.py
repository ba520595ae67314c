"""Tables that fit the console: columns left out, never a name or a figure cut.

Squeezed into an 80-column terminal, a rich table wraps layer names one character per line
and cuts figures to ``1.8…``. :func:`fit` wraps a table so that, at render time, it is drawn
unchanged wherever it fits, and on a console :data:`TEXT_WIDTH` wide or wider (``-o FILE``
text is 160 wide, piped output 200: both keep every column, as before); otherwise:

* its columns are kept in order of priority (lower first: :data:`NAME`, :data:`MAIN`, ...,
  then left to right) until one does not fit, every name and figure whole on one line, a
  header wrapped at its spaces where that keeps more columns, and a column of prose
  (descriptions, reasons) wrapped in at least :data:`PROSE_WIDTH` cells;
* :data:`NAME` and :data:`MAIN` columns are always kept: where the name column needs more
  room than the figures leave it (very long layer names), the names fold, the figures stay
  whole;
* a line under the table says which columns were left out and how to see them.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

#: Column priorities, lower kept first. A NAME column (what a row is: a layer, a model) and
#: the MAIN figures are always shown; the others are left out, highest number first.
NAME, MAIN, HIGH, MID, LOW, LEAST = 0, 1, 2, 3, 4, 5
#: The fewest cells a column of prose wraps in (fewer if its longest text is shorter).
PROSE_WIDTH = 20
#: The narrowest a name column folds to before MAIN columns are left out too.
NAME_FLOOR = 12
#: How wide ``-o FILE`` writes a table (:func:`modelprof.render.console.render_text`): from
#: this width on, a table is drawn whole, as rich draws it, never a column left out.
TEXT_WIDTH = 160
_UNBOUNDED = 100_000


def fit(
    table: Table,
    priorities: Mapping[str, int],
    *,
    prose: Collection[str] = (),
    default: int = MID,
) -> FittedTable:
    """``table``, drawn to fit the console. ``priorities`` maps column headers to a priority
    (a header not listed gets ``default``); ``prose`` names the columns that may wrap."""
    return FittedTable(table, dict(priorities), frozenset(prose), default)


@dataclass
class _Column:
    index: int
    column: Column
    priority: int
    prose: bool
    body: Measurement  # of its cells and footer
    head: Measurement  # of its header
    pad: int

    @property
    def name(self) -> bool:
        return self.priority == NAME

    def need(self, wrap: bool) -> int:
        """The narrowest content width showing every cell whole (prose: readably wrapped), and
        the header whole or, with ``wrap``, wrapped at its spaces."""
        if self.prose:
            body = min(self.body.maximum, max(self.body.minimum, PROSE_WIDTH))
        else:
            body = self.body.maximum
        return max(body, self.head.minimum if wrap else self.head.maximum)

    @property
    def full(self) -> int:
        """The content width at which nothing in the column wraps, header included."""
        return max(self.body.maximum, self.head.maximum)


@dataclass
class FittedTable:
    """A rich renderable: ``table`` as it fits ``options.max_width`` (see the module)."""

    table: Table
    priorities: dict[str, int]
    prose: frozenset[str]
    default: int = MID

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.table).with_maximum(options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        natural = Measurement.get(console, options.update_width(_UNBOUNDED), self.table).maximum
        if natural <= width or width >= TEXT_WIDTH or not self.table.columns:
            yield self.table
            return
        columns = self._columns(console, options)
        # headers wrapped at their spaces only where that keeps names whole or more columns
        choices = [(self._choose(columns, width, wrap), wrap) for wrap in (False, True)]
        kept, wrap = max(choices, key=lambda k: (self._width(*k) <= width, len(k[0])))
        yield self._narrow(kept, width, wrap)
        left_out = [c for c in columns if c not in kept]
        if left_out:
            names = ", ".join(str(c.column.header) for c in left_out)
            yield Text(
                f"columns left out at {width} wide: {names} (a wider terminal, or -o FILE, "
                "shows them)",
                style="dim",
            )

    def _columns(self, console: Console, options: ConsoleOptions) -> list[_Column]:
        table = self.table
        wide = options.update_width(_UNBOUNDED)
        _, right, _, left = table.padding

        def span(cells: Iterable[RenderableType]) -> Measurement:
            sizes = [Measurement.get(console, wide, cell) for cell in cells]
            if not sizes:
                return Measurement(0, 0)
            return Measurement(max(m.minimum for m in sizes), max(m.maximum for m in sizes))

        columns = []
        for index, column in enumerate(table.columns):
            header = str(column.header)
            body = list(column.cells)
            if table.show_footer:
                body.append(column.footer)
            columns.append(
                _Column(
                    index=index,
                    column=column,
                    priority=self.priorities.get(header, self.default),
                    prose=header in self.prose,
                    body=span(body),
                    head=span([column.header] if table.show_header else []),
                    pad=left + right,
                )
            )
        return columns

    def _borders(self, count: int) -> int:
        box = self.table.box is not None
        return (2 if box and self.table.show_edge else 0) + (count - 1 if box else 0)

    def _width(self, columns: list[_Column], wrap: bool, floor_names: bool = False) -> int:
        return self._borders(len(columns)) + sum(
            c.pad + (min(c.need(wrap), NAME_FLOOR) if floor_names and c.name else c.need(wrap))
            for c in columns
        )

    def _choose(self, columns: list[_Column], width: int, wrap: bool) -> list[_Column]:
        """The columns shown, in table order: names and MAIN ones, then the others by
        priority until one does not fit (a MAIN one goes only where the names could not be
        folded in)."""
        kept = [c for c in columns if c.priority <= MAIN]
        while self._width(kept, wrap, floor_names=True) > width:
            droppable = [c for c in kept if not c.name]
            if not droppable:
                break
            kept.remove(max(droppable, key=lambda c: (c.priority, c.index)))
        for c in sorted(columns, key=lambda c: (c.priority, c.index)):
            if c.priority <= MAIN:
                continue
            if self._width([*kept, c], wrap) > width:
                break
            kept.append(c)
        return sorted(kept, key=lambda c: c.index)

    def _narrow(self, kept: list[_Column], width: int, wrap: bool) -> Table:
        """A copy of the table with only ``kept``, each column as wide as computed here."""
        sizes = {c.index: c.need(wrap) for c in kept}
        slack = width - self._width(kept, wrap)
        # whole headers first, then wider prose, a cell at a time, left to right
        for c in kept:
            grow = max(0, min(slack, c.head.maximum - sizes[c.index]))
            sizes[c.index] += grow
            slack -= grow
        growing = [c for c in kept if c.prose]
        while slack > 0 and growing:
            for c in list(growing):
                if slack > 0 and sizes[c.index] < c.full:
                    sizes[c.index] += 1
                    slack -= 1
                else:
                    growing.remove(c)
        if slack < 0:  # names fold: the longest give up the room the figures need
            for c in sorted((c for c in kept if c.name), key=lambda c: -sizes[c.index]):
                take = min(-slack, sizes[c.index] - 1)
                sizes[c.index] -= take
                slack += take
        table = copy.copy(self.table)  # its rows, title, caption and style
        table.columns = []
        for position, c in enumerate(kept):
            size = sizes[c.index]
            header = c.column.header
            if size < c.head.maximum and isinstance(header, str | Text):  # wrapped at spaces
                header = Text(header) if isinstance(header, str) else header.copy()
                header.no_wrap = False
            table.columns.append(
                replace(
                    c.column,
                    header=header,
                    width=size,
                    min_width=None,
                    max_width=None,
                    ratio=None,
                    no_wrap=not c.prose and size >= c.body.maximum,
                    overflow=c.column.overflow if c.prose else "fold",
                    _index=position,
                )
            )
        return table
