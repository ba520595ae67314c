"""What every subcommand shares: writing outputs safely, and printing."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
from rich.console import Console, RenderableType

from ..errors import ModelprofError
from ..render.console import render_text, status, terminal_console
from ..render.units import printable

#: ``-o -``: the report goes to standard output, not to a file named "-"
STDOUT = "-"


class OutputExistsError(ModelprofError):
    pass


def write_atomically(path: str | os.PathLike[str], text: str, *, force: bool) -> None:
    """Write ``text`` to ``path`` all at once: never a half-written file, and never over an
    existing file unless ``force`` (the existence check and the write are one atomic step).

    A character device or a FIFO (``/dev/null``, ``/dev/stdout``, a named pipe) is written by
    opening it: renaming a file over it would replace the device itself with a regular file.
    """
    target = Path(path)
    parent = _writable(target, force=force)
    if parent is None:
        try:
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise ModelprofError(f"cannot write {target}: {exc.strerror}") from None
        return
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
    """A console for stdout (see :mod:`modelprof.render.console`)."""
    return terminal_console()


def emit(report: RenderableType, *, output: str | None, force: bool, quiet: bool) -> None:
    """Hand a report to the user. ``report`` is the text of a document (JSON, CSV, Markdown)
    or, for ``--format table``, a rich renderable. Without ``-o`` a document goes to stdout
    and a table to the terminal; ``-o FILE`` writes either to the file, atomically, a table as
    plain text (and says so on stderr, unless ``--quiet``); ``-o -`` writes that same text to
    stdout, and nothing else goes there. ``--quiet`` silences progress and notes, never the
    report asked for."""
    if isinstance(report, str):
        text = report
    elif output is None:
        stdout_console().print(report)
        return
    else:
        text = render_text(report)
    if output is None or output == STDOUT:
        try:
            click.echo(text, nl=False)
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):
                raise  # the reader left (head): not an error
            raise ModelprofError(f"cannot write the report: {exc.strerror or exc}") from None
        return
    write_atomically(output, text, force=force)
    if not quiet:
        echo_err(f"wrote {output}")


def echo_err(message: str) -> None:
    """One line on stderr, names from the model made printable."""
    click.echo(f"modelprof: {printable(message)}", err=True)


def model_argument(model: str, trust_pickle: bool) -> Any:
    """The MODEL argument as the API takes it: a pickled ``.pt``/``.pth`` file is loaded here,
    and only with ``--trust-pickle``, because unpickling runs code from the file. Everything
    else (paths, factory specs, zoo names) passes through as text. Every command that reads a
    model takes it through here, with ``options.trust_pickle_option``."""
    from pathlib import Path

    from ..api import PICKLE_SUFFIXES, build_module
    from ..errors import ModelLoadError

    if Path(model).suffix.lower() not in PICKLE_SUFFIXES:
        return model
    if not trust_pickle:
        raise ModelLoadError(
            f"{model}: reading a pickled PyTorch file runs code from it; pass --trust-pickle "
            "if you trust it (and give --input-shape)"
        )
    return build_module(model, trust_pickle=True)


def progress(message: str, *, quiet: bool = False) -> Any:
    """A spinner on stderr while something long runs, only on a terminal, never in pipes,
    files or CI logs (where it would be noise in what the user keeps)."""
    import contextlib
    import sys

    if quiet or not sys.stderr.isatty():
        return contextlib.nullcontext()
    return status(message)


def check_outputs(
    *paths: str | None,
    force: bool,
    save: str | None = None,
    model: str = "",
    inputs: Iterable[str | None] = (),
) -> None:
    """Refuse, before any work, output paths that are the same file twice, that exist (unless
    ``--force``), or whose folder is missing: a long measurement must not end in that error.
    ``-`` (standard output) is no file and passes. ``save`` (``--save``, the model a command
    writes for ``model``) must be a file: a name the model can be saved under (.onnx, .xml, or
    .pt for a PyTorch source), never ``-``; an IR's .bin beside its .xml counts as an output.

    No output may be one of the command's own ``inputs`` (``model`` is always one; see
    :func:`input_files` for the files each stands for), with or without ``--force``: they are
    compared by resolved path and by inode, so ``./model.onnx``, a symlink or a hard link to
    it are all caught."""
    if save is not None:
        paths = (*paths, *_model_files(save, model=model, force=force))
    named = [str(p) for p in paths if p and p != STDOUT]
    for text in named:
        if text.endswith(("/", os.sep)):
            raise ModelprofError(f"{text} names a folder; give a file name")
    given = [Path(p) for p in named]
    resolved = [_resolved(p) for p in given]
    if len(set(resolved)) != len(resolved):
        raise ModelprofError("two outputs name the same file; give each its own path")
    if not given:
        return  # nothing will be written: no input to protect (reading them costs a parse)
    protected = _protected([model, *inputs])
    for target, where in zip(given, resolved, strict=True):
        source = protected.get(where) or protected.get(_identity(target))
        if source is not None:
            same = f"{target} is" if str(target) == source else f"{target} is {source},"
            raise ModelprofError(
                f"{same} an input of this command: it is never written over (with or without "
                "--force); give another output name"
            )
        _writable(target, force=force)


def input_files(ref: str | None) -> list[Path]:
    """The files a model (or input) reference reads: the file itself, an OpenVINO IR's
    ``.bin``, an ONNX file's external data files, a factory spec's ``.py``."""
    if not ref or ref == STDOUT:
        return []
    path = Path(ref)
    if not path.exists():
        target, sep, _ = ref.rpartition(":")
        return [Path(target)] if sep and target.endswith(".py") else []
    files = [path]
    suffix = path.suffix.lower()
    if suffix == ".xml":
        files.append(path.with_suffix(".bin"))
    elif suffix == ".onnx" and path.is_file():
        from ..frontends.onnx import external_data_files

        files.extend(external_data_files(path))
    return files


def _resolved(path: Path) -> Path:
    """``path`` with its links followed, or one error when that cannot be done (a link loop,
    a NUL byte): a name the system refuses is no output, and no input we can protect."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelprofError(f"{path}: cannot be resolved ({exc})") from None


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


def _protected(refs: Iterable[str | None]) -> dict[object, str]:
    """Resolved paths and (device, inode) pairs of every file ``refs`` read, each mapped to
    how to name it in an error."""
    found: dict[object, str] = {}
    for ref in refs:
        for file in input_files(ref):
            try:
                found[file.resolve()] = str(file)
            except (OSError, RuntimeError, ValueError):
                continue  # a name the system refuses is read by nobody, and refused later
            identity = _identity(file)
            if identity is not None:
                found[identity] = str(file)
    return found


def _writable(target: Path, *, force: bool) -> Path | None:
    """``target``'s folder, once it is clear that ``target`` may be written: not a folder
    itself, not an existing file (unless ``force``), in a folder that exists. None for a
    character device or a FIFO, which is written by opening it (and needs no ``--force``:
    writing to ``/dev/null`` loses nothing)."""
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise ModelprofError(f"cannot write {target}: {exc.strerror}") from None
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise ModelprofError(f"{target} is a directory")
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            return None
        if not stat.S_ISREG(mode):
            raise ModelprofError(f"{target} is not a regular file; modelprof will not write it")
        if not force:
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
