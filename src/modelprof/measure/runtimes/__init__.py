"""Runtimes behind one small interface: OpenVINO (default) and ONNX Runtime.

Each is imported lazily, so a missing runtime costs nothing until it is asked for, and then
says which pip extra installs it.
"""

from __future__ import annotations

from .base import Measurement, RunSettings, Runtime, RuntimeLayer

RUNTIMES = ("openvino", "onnxruntime")


def get_runtime(name: str) -> Runtime:
    """The runtime called ``name`` (``openvino``/``ov`` or ``onnxruntime``/``ort``)."""
    from ...errors import ModelprofError

    key = name.lower()
    if key in ("openvino", "ov"):
        from .openvino import OpenVINORuntime

        return OpenVINORuntime()
    if key in ("onnxruntime", "ort"):
        from .onnxruntime import OnnxRuntime

        return OnnxRuntime()
    raise ModelprofError(f"unknown runtime '{name}' (choose from: {', '.join(RUNTIMES)})")


__all__ = ["RUNTIMES", "Measurement", "RunSettings", "Runtime", "RuntimeLayer", "get_runtime"]
