"""Renderings of ``modelprof zoo``: the built-in models as a rich table and as a JSON list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table

from .fit import HIGH, MAIN, NAME, FittedTable, fit

if TYPE_CHECKING:
    from ..frontends.zoo import ZooEntry


def render_zoo(entries: Sequence[ZooEntry]) -> FittedTable:
    """One row per model: its name, input shapes and description."""
    table = Table(header_style="bold")
    table.add_column("name")
    table.add_column("input")
    table.add_column("description")
    for e in entries:
        shapes = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in e.input_shapes.items())
        table.add_row(e.name, shapes, e.description)
    priorities = {"name": NAME, "description": MAIN, "input": HIGH}
    return fit(table, priorities, prose=["description"])


def zoo_entries(entries: Sequence[ZooEntry]) -> list[dict[str, Any]]:
    """``{name, description, inputs}`` per model (a bare list: no document envelope)."""
    return [
        {
            "name": e.name,
            "description": e.description,
            "inputs": {k: list(v) for k, v in e.input_shapes.items()},
        }
        for e in entries
    ]
