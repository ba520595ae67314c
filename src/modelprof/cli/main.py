"""Entry point: the click group, and the one place errors become exit statuses.

Bad input is one line on stderr and exit status 2 (``--strict`` failures exit 1); a traceback
means a bug in modelprof, and even then the user gets one line unless MODELPROF_DEBUG is set.
Subcommands are imported only when invoked, so ``modelprof count`` never pays for the
runtimes' imports.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence

import click

from .._version import __version__
from ..errors import ModelprofError
from ..render.units import printable

#: subcommand -> "module:attribute" of its click command
COMMANDS = {
    "count": "modelprof.cli.count:count_command",
    "profile": "modelprof.cli.profile:profile_command",
    "device": "modelprof.cli.device:device_command",
    "compare": "modelprof.cli.compare:compare_command",
    "separable": "modelprof.cli.separable:separable_command",
    "pooling": "modelprof.cli.separable:pooling_command",
    "prune": "modelprof.cli.prune:prune_command",
    "quantize": "modelprof.cli.quantize:quantize_command",
    "optimize": "modelprof.cli.optimize:optimize_command",
    "crosscheck": "modelprof.cli.crosscheck:crosscheck_command",
    "check": "modelprof.cli.check:check_command",
    "diff": "modelprof.cli.diff:diff_command",
    "zoo": "modelprof.cli.zoo:zoo_command",
    "llm": "modelprof.cli.llm:llm_command",
}
HELP = {
    "count": "Count params, MACs, FLOPs and bytes of a model, layer by layer.",
    "profile": "Measure per-layer latency on OpenVINO or ONNX Runtime, joined with the costs.",
    "device": "Measure this machine's peak FLOP/s and memory bandwidth (for the roofline).",
    "compare": "Compare models side by side (costs, and latency measured interleaved).",
    "separable": "What depthwise-separable convolutions would save; rewrite and measure.",
    "pooling": "What a pool before each dense layer would save.",
    "prune": "Prune a model (structured or unstructured), fine-tune, measure before/after.",
    "quantize": "Quantize a model to int8 with NNCF, measure before/after, explain the int8.",
    "optimize": "Chain separable, prune and int8 on a model, each step measured.",
    "crosscheck": "Count a model through every route (PyTorch, ONNX, OpenVINO) and explain "
    "the differences.",
    "check": "Fail (exit 1) when a model exceeds its budgets: params, MACs, FLOPs, bytes.",
    "diff": "Per-layer and total differences between two count reports or models.",
    "zoo": "List the built-in models.",
    "llm": "What generating text costs: prefill, decode steps, KV cache, roofline floors.",
}


class _Interrupted(Exception):
    """Ctrl-C, carried past click: click answers a KeyboardInterrupt or an EOFError by writing
    an empty line to stderr before its Abort, so the user would get two lines."""


class LazyGroup(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _Interrupted from None
        except EOFError:  # a file that ends where more was promised
            raise ModelprofError("unexpected end of an input file") from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, target in COMMANDS.items() if _exists(target)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None or not _exists(target):
            return None
        module, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, HELP[name]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _exists(target: str) -> bool:
    module = target.partition(":")[0]
    return importlib.util.find_spec(module) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="modelprof")
def cli() -> None:
    """modelprof: what a neural network costs and where its time goes, layer by layer."""


def main(argv: Sequence[str] | None = None) -> int:
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="modelprof",
            standalone_mode=False,
        )
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:  # an interrupt while click itself parses or prompts
        click.echo("modelprof: aborted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"modelprof: error: {printable(exc.format_message())}", err=True)
        return 2
    except ModelprofError as exc:
        click.echo(f"modelprof: error: {printable(str(exc))}", err=True)
        return int(getattr(exc, "exit_code", 2))
    except (KeyboardInterrupt, _Interrupted):
        click.echo("modelprof: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if exc.filename is None:
            return _internal_error(exc)
        # a path the user gave that the system refuses: too long, not permitted, a loop...
        reason = exc.strerror or type(exc).__name__
        click.echo(f"modelprof: error: {printable(str(exc.filename))}: {reason}", err=True)
        return 2
    except Exception as exc:  # a bug: one line, the traceback on request
        return _internal_error(exc)
    return result if isinstance(result, int) else 0


def _internal_error(exc: Exception) -> int:
    if os.environ.get("MODELPROF_DEBUG"):
        raise exc
    click.echo(
        f"modelprof: internal error: {type(exc).__name__}: {printable(str(exc))} "
        "(set MODELPROF_DEBUG=1 for the traceback, and please report it)",
        err=True,
    )
    return 3


if __name__ == "__main__":
    sys.exit(main())
