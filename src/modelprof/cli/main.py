"""Entry point: the click group, and the one place errors become exit statuses.

Bad input is one line on stderr and exit status 2 (``--strict`` failures exit 1); a traceback
means a bug in modelprof, and even then the user gets one line unless MODELPROF_DEBUG is set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from .._version import __version__
from ..errors import ModelprofError
from .count import count_command
from .zoo import zoo_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="modelprof")
def cli() -> None:
    """modelprof: what a neural network costs, layer by layer."""


cli.add_command(count_command)
cli.add_command(zoo_command)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="modelprof",
            standalone_mode=False,
        )
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("modelprof: aborted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"modelprof: error: {exc.format_message()}", err=True)
        return 2
    except ModelprofError as exc:
        click.echo(f"modelprof: error: {exc}", err=True)
        return int(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        click.echo("modelprof: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: one line, the traceback on request
        if os.environ.get("MODELPROF_DEBUG"):
            raise
        click.echo(
            f"modelprof: internal error: {type(exc).__name__}: {exc} "
            "(set MODELPROF_DEBUG=1 for the traceback, and please report it)",
            err=True,
        )
        return 3
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
