"""Reading an IR file with the openvino package, and turning its failures into one line.

OpenVINO's own errors are multi-line C++ traces (and, for a file that is not an IR, a list of
every frontend it tried), while a :class:`~modelprof.errors.ModelprofError` must be one line
that says what to do; so the file is checked before OpenVINO sees it, and what OpenVINO still
rejects is cut down to the line that says why. The openvino package is imported by
:func:`import_openvino` only, when a model is read, so that importing modelprof never pays for
it (nor fails without it).
"""

from __future__ import annotations

import os
import xml.parsers.expat
from functools import cache
from pathlib import Path
from typing import Any

from ...errors import MissingExtraError, ModelLoadError, runtime_message


def import_openvino() -> Any:
    """The openvino package, or a :class:`MissingExtraError` naming the pip extra."""
    try:
        import openvino
    except ImportError:
        raise MissingExtraError("openvino", "openvino") from None
    return openvino


@cache
def _core() -> Any:
    return import_openvino().Core()


def read_model(path: str | os.PathLike[str]) -> Any:
    """Read ``model.xml`` and the ``model.bin`` beside it, or explain in one line why not."""
    import_openvino()
    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"no such file: {p}")
    if p.is_dir():
        raise ModelLoadError(f"{p} is a directory, not a model file")
    weights = p.with_suffix(".bin")
    if not weights.is_file():
        raise ModelLoadError(
            f"{p}: its weights file {weights.name} is missing "
            "(an OpenVINO IR is model.xml with model.bin beside it)"
        )
    _check_xml(p)
    core = _core()
    try:
        return core.read_model(str(p), str(weights))
    except RuntimeError as exc:
        raise ModelLoadError(f"{p}: OpenVINO cannot read this IR: {reason(exc)}") from None


def _check_xml(path: Path) -> None:
    """Well-formed XML whose root is <net>; OpenVINO's own error for anything else is a list of
    every frontend it tried (and the TensorFlow one logs to stderr)."""
    parser = xml.parsers.expat.ParserCreate()
    roots: list[str] = []

    def start(tag: str, attrs: Any) -> None:
        if not roots:
            roots.append(tag)

    parser.StartElementHandler = start
    try:
        with open(path, "rb") as handle:
            parser.ParseFile(handle)
    except xml.parsers.expat.ExpatError as exc:
        raise ModelLoadError(
            f"{path} is not well-formed XML (line {exc.lineno}: "
            f"{xml.parsers.expat.ErrorString(exc.code)}): is it really an OpenVINO IR?"
        ) from None
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if roots != ["net"]:
        found = f"<{roots[0]}>" if roots else "nothing"
        raise ModelLoadError(
            f"{path} is not an OpenVINO IR: its root element is {found}, not <net>"
        )


def reason(exc: BaseException) -> str:
    """The line of an OpenVINO exception that says what is wrong (not where it was thrown)."""
    return runtime_message(exc)
