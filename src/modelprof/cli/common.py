"""What every subcommand shares: writing outputs safely, and printing."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import click
from rich.console import Console, RenderableType

from ..errors import ModelprofError

#: ``-o -``: the report goes to standard output, not to a file named "-"
STDOUT = "-"


class OutputExistsError(ModelprofError):
    pass


def write_atomically(path: str | os.PathLike[str], text: str, *, force: bool) -> None:
    """Write ``text`` to ``path`` all at once: never a half-written file, and never over an
    existing file unless ``force`` (the existence check and the write are one atomic step)."""
    target = Path(path)
    parent = _writable(target, force=force)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise ModelprofError(f"cannot write {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        # mkstemp creates 0600 files; a report should get the usual permissions
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        if force:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # fails if target appeared meanwhile: no clobbering
            except FileExistsError:
                raise OutputExistsError(f"{target} exists; pass --force to replace it") from None
            except OSError:  # a filesystem without hard links
                if target.exists():
                    raise OutputExistsError(
                        f"{target} exists; pass --force to replace it"
                    ) from None
                os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def stdout_console() -> Console:
    """A console for stdout; when piped, wide enough that tables are not squeezed to 80."""
    import sys

    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)


def render_text(renderable: RenderableType, width: int = 160) -> str:
    """Render to plain text (for ``-o report.txt``)."""
    console = Console(width=width, record=True, file=open(os.devnull, "w"), color_system=None)  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def emit(report: RenderableType, *, output: str | None, force: bool, quiet: bool) -> None:
    """Hand a report to the user. ``report`` is the text of a document (JSON, CSV, Markdown)
    or, for ``--format table``, a rich renderable. Without ``-o`` a document goes to stdout
    and a table to the terminal (unless ``--quiet``); ``-o FILE`` writes either to the file,
    atomically, a table as plain text (and says so on stderr); ``-o -`` writes that same text
    to stdout, and nothing else goes there."""
    if isinstance(report, str):
        text = report
    elif output is None:
        if not quiet:
            stdout_console().print(report)
        return
    else:
        text = render_text(report)
    if output is None or output == STDOUT:
        click.echo(text, nl=False)
        return
    write_atomically(output, text, force=force)
    if not quiet:
        echo_err(f"wrote {output}")


def echo_err(message: str) -> None:
    click.echo(f"modelprof: {message}", err=True)


def model_argument(model: str, trust_pickle: bool) -> Any:
    """The MODEL argument as the API takes it: a pickled ``.pt``/``.pth`` file is loaded here,
    and only with ``--trust-pickle``, because unpickling runs code from the file. Everything
    else (paths, factory specs, zoo names) passes through as text."""
    from pathlib import Path

    from ..api import PICKLE_SUFFIXES, build_module

    if Path(model).suffix.lower() not in PICKLE_SUFFIXES:
        return model
    return build_module(model, trust_pickle=trust_pickle)


def progress(message: str, *, quiet: bool = False) -> Any:
    """A spinner on stderr while something long runs, only on a terminal, never in pipes,
    files or CI logs (where it would be noise in what the user keeps)."""
    import contextlib
    import sys

    if quiet or not sys.stderr.isatty():
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(message, spinner="dots")


def check_outputs(
    *paths: str | None, force: bool, save: str | None = None, model: str = ""
) -> None:
    """Refuse, before any work, output paths that are the same file twice, that exist (unless
    ``--force``), or whose folder is missing: a long measurement must not end in that error.
    ``-`` (standard output) is no file and passes. ``save`` (``--save``, the model a command
    writes for ``model``) must be a file: a name the model can be saved under (.onnx, .xml, or
    .pt for a PyTorch source), never ``-``; an IR's .bin beside its .xml counts as an output."""
    if save is not None:
        paths = (*paths, *_model_files(save, model=model, force=force))
    given = [Path(p) for p in paths if p and p != STDOUT]
    resolved = [p.resolve() for p in given]
    if len(set(resolved)) != len(resolved):
        raise ModelprofError("two outputs name the same file; give each its own path")
    for target in given:
        _writable(target, force=force)


def _writable(target: Path, *, force: bool) -> Path:
    """``target``'s folder, once it is clear that ``target`` may be written: not a folder
    itself, not an existing file (unless ``force``), in a folder that exists."""
    if target.is_dir():
        raise ModelprofError(f"{target} is a directory")
    if target.exists() and not force:
        raise OutputExistsError(f"{target} exists; pass --force to replace it")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise ModelprofError(f"cannot write {target}: folder {parent} does not exist")
    return parent


def _model_files(save: str, *, model: str, force: bool) -> list[str]:
    """The files ``--save save`` writes, once it is clear they may be written."""
    from ..rewrite.save import check_target

    if save == STDOUT:
        raise click.UsageError(
            "--save takes a file name (.onnx, .xml or .pt): a model is never written to "
            "standard output"
        )
    # a model file is no PyTorch source; anything else may be one, and is checked once loaded
    pytorch = Path(model).suffix.lower() not in (".onnx", ".xml", ".keras", ".h5")
    target = check_target(save, force=force, pytorch=pytorch)
    return [save, str(target.with_suffix(".bin"))] if target.suffix.lower() == ".xml" else [save]
