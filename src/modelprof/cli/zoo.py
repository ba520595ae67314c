"""``modelprof zoo``: the built-in models."""

from __future__ import annotations

import json

import click
from rich.table import Table

from . import options
from .common import stdout_console


@click.command("zoo")
@options.format_option("table", "json")
def zoo_command(fmt: str) -> None:
    """List the built-in models (PyTorch definitions, random weights, no downloads)."""
    from ..frontends import zoo

    entries = [zoo.get(name) for name in zoo.names()]
    if fmt == "json":
        click.echo(
            json.dumps(
                [
                    {
                        "name": e.name,
                        "description": e.description,
                        "inputs": {k: list(v) for k, v in e.input_shapes.items()},
                    }
                    for e in entries
                ],
                indent=2,
            )
        )
        return
    table = Table(header_style="bold")
    table.add_column("name")
    table.add_column("input")
    table.add_column("description")
    for e in entries:
        shapes = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in e.input_shapes.items())
        table.add_row(e.name, shapes, e.description)
    stdout_console().print(table)
