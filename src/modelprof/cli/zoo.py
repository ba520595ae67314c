"""``modelprof zoo``: the built-in models."""

from __future__ import annotations

import json

import click

from . import options
from .common import stdout_console


@click.command("zoo")
@options.format_option("table", "json")
def zoo_command(fmt: str) -> None:
    """List the built-in models (PyTorch definitions, random weights, no downloads)."""
    from ..frontends import zoo
    from ..render import zoo_view

    entries = [zoo.get(name) for name in zoo.names()]
    if fmt == "json":
        click.echo(json.dumps(zoo_view.zoo_entries(entries), indent=2))
        return
    stdout_console().print(zoo_view.render_zoo(entries))
