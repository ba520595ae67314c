"""Exceptions the library raises on purpose.

Every error a user can cause (a missing file, a malformed shape, an unbound dimension) is a
:class:`ModelprofError`, so the command line can turn it into one line on stderr and exit
status 2 instead of a traceback. Anything else escaping the library is a bug in modelprof.
"""

from __future__ import annotations


class ModelprofError(Exception):
    """A problem with what the user gave us; the message is one line and says what to do."""


class ModelLoadError(ModelprofError):
    """The model file or specification cannot be read."""


class ShapeError(ModelprofError):
    """An input shape is malformed, unknown, or a dynamic dimension is left unbound."""


class MissingExtraError(ModelprofError):
    """An optional dependency is not installed; the message names the pip extra."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"this needs the '{module}' package, which is not installed: "
            f"pip install 'modelprof[{extra}]'"
        )
        self.module = module
        self.extra = extra


class RuleError(ModelprofError):
    """A cost rule is registered twice, or a user rules file is broken."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (or its type's name): runtimes and exporters
    raise multi-line messages with C++ stack traces, and an error here must be one line."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def runtime_message(exc: BaseException) -> str:
    """What a runtime objected to, in its words, on one line.

    OpenVINO's messages start with where they were thrown (``Exception from
    src/inference/src/cpp/core.cpp:84:``, ``Check 'false' failed at ...``) and end with what is
    wrong; ONNX Runtime's start with ``[ONNXRuntimeError] : 1 : FAIL :``. Both are trimmed to
    the line that says what is wrong.
    """
    lines = [line.strip().lstrip("-").strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return type(exc).__name__
    if lines[0].startswith("[ONNXRuntimeError]"):  # one line; what follows is a stack
        return lines[0].split(" : ", 3)[-1]
    useful = [
        line
        for line in lines
        if not line.startswith(("Exception from", "Check '", "While validating", "Summary:"))
    ]
    return useful[-1] if useful else lines[0]


def safe_str(value: object) -> str:
    """``str(value)``, or a placeholder when the object's own ``__str__``/``__repr__`` fails:
    user code (a rules file, a factory) may hand us objects that cannot even describe
    themselves, and that must not turn into a crash while reporting their error."""
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__} that cannot be shown>"
