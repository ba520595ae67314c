"""Runtimes behind one interface (:class:`~.base.Runtime`): OpenVINO (default), ONNX Runtime,
PyTorch eager (``torch``) and compiled (``torch-compile``), which run the module itself
(:class:`~.base.ModuleRuntime`).

Each is imported lazily, so a missing runtime costs nothing until it is asked for, and then
says which pip extra installs it. Wherever a runtime is named, a :class:`~.base.Runtime`
instance of one's own may be given instead; ``compare`` times in worker processes, which load
such a runtime again from its ``module:Class`` reference.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from typing import Any

from ...errors import ModelprofError
from .base import (
    AsyncMeasurement,
    Measurement,
    ModuleRuntime,
    RunSettings,
    Runtime,
    RuntimeLayer,
)

#: Built-in runtimes: name -> (module of this package, class).
BUILTIN = {
    "openvino": ("openvino", "OpenVINORuntime"),
    "onnxruntime": ("onnxruntime", "OnnxRuntime"),
    "torch": ("torch_eager", "TorchEagerRuntime"),
    "torch-compile": ("torch_compile", "TorchCompileRuntime"),
}
#: Short names the command line accepts.
ALIASES = {"ov": "openvino", "ort": "onnxruntime"}
RUNTIMES = tuple(BUILTIN)


def get_runtime(runtime: str | Runtime, options: Mapping[str, Any] | None = None) -> Runtime:
    """The runtime ``runtime`` names: a built-in name (``openvino``/``ov``,
    ``onnxruntime``/``ort``, ``torch``, ``torch-compile``), a ``package.module:Class``
    reference to a :class:`Runtime` subclass, or a runtime instance, returned as it is.
    ``options`` are a named runtime's constructor arguments (what :meth:`Runtime.options`
    gave in another process)."""
    if isinstance(runtime, Runtime):
        return runtime
    key = ALIASES.get(runtime.lower(), runtime.lower())
    if key in BUILTIN:
        module, cls = BUILTIN[key]
        found = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    elif ":" in runtime:
        found = _import_class(runtime)
    else:
        raise ModelprofError(f"unknown runtime '{runtime}' (choose from: {', '.join(RUNTIMES)})")
    try:
        instance = found(**(options or {}))
    except TypeError as exc:
        detail = f"{runtime} with {dict(options or {})}: {exc}"
        raise ModelprofError(f"cannot make runtime {detail}") from None
    if not isinstance(instance, Runtime):
        raise ModelprofError(f"{runtime} is not a modelprof Runtime")
    return instance


def runtime_reference(runtime: Runtime) -> str:
    """How another process names ``runtime`` to :func:`get_runtime`: its name if it is built
    in, else ``module:Class`` (the class must be importable there, at module level)."""
    cls = type(runtime)
    module, name = BUILTIN.get(runtime.name, ("", ""))
    if (cls.__module__, cls.__qualname__) == (f"{__name__}.{module}", name):
        return runtime.name
    return f"{cls.__module__}:{cls.__qualname__}"


def _import_class(reference: str) -> type:
    module_name, _, qualname = reference.partition(":")
    try:
        found: object = sys.modules.get(module_name) or importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ModelprofError(f"cannot load runtime {reference}: {exc}") from None
    if not isinstance(found, type):
        raise ModelprofError(f"runtime {reference} is not a class")
    return found


__all__ = [
    "RUNTIMES",
    "AsyncMeasurement",
    "Measurement",
    "ModuleRuntime",
    "RunSettings",
    "Runtime",
    "RuntimeLayer",
    "get_runtime",
    "runtime_reference",
]
