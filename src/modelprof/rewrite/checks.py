"""Checks every rewrite job (``separable``, ``prune``) makes of its request, shared here so
both refuse the same things in the same words: before the model is read, what its name rules
out; once it is read, what cannot be rewritten; and, when there is nothing to do, one line
saying what was therefore not done.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..api import ModelRef
from ..errors import ModelprofError
from ..graph import Graph
from ..measure.runtimes import ModuleRuntime, Runtime, get_runtime

#: model files by suffix: what a name says of its model before it is read
FILE_KINDS = {".onnx": "onnx", ".xml": "openvino", ".keras": "keras", ".h5": "keras"}
DESCRIBED = {
    "onnx": "an ONNX file",
    "openvino": "an OpenVINO IR",
    "keras": "a Keras model",
    "in-memory onnx": "an ONNX model in memory (save it to a file first)",
}
SOURCES = "ONNX files and PyTorch models (zoo names, file.py:factory)"


def named_kind(model: ModelRef) -> str | None:
    """The kind of model file ``model`` names (``onnx``, ``openvino``, ``keras``), or None
    when its name does not tell: a zoo name or a factory (PyTorch once built), or an object."""
    if not isinstance(model, str | os.PathLike):
        return None
    return FILE_KINDS.get(Path(os.fspath(model)).suffix.lower())


def check_request(
    model: ModelRef,
    what: str,
    *,
    save: str | None = None,
    force: bool = False,
    finetune: str | None = None,
) -> None:
    """Refuse, before ``model`` is read, what its name already rules out for ``what`` (a job
    that makes a new model from it: "prune", "separable --profile"): a model file that
    cannot be rewritten (an OpenVINO IR, a Keras model), ``finetune`` of anything but a
    PyTorch model, and a ``save`` target that is the model itself, has the wrong suffix for
    the model, exists (unless ``force``) or is a directory."""
    from .save import check_target

    kind = named_kind(model)
    if kind in ("openvino", "keras"):
        raise ModelprofError(
            f"{what} works on {SOURCES}, not {DESCRIBED[kind]}: give {model}'s "
            "ONNX or PyTorch source"
        )
    if finetune and kind is not None:
        raise ModelprofError(
            f"--finetune needs a PyTorch model (zoo name or file.py:factory); {model} is "
            f"{DESCRIBED[kind]}"
        )
    if save is None:
        return
    if kind is not None and Path(save).resolve() == Path(os.fspath(model)).resolve():
        raise ModelprofError(
            f"--save {save} would replace the model it is made from: give another file name"
        )
    check_target(save, force=force, pytorch=kind is None)


def check_loaded(model: ModelRef, graph: Graph, what: str) -> None:
    """Refuse, once ``model`` is read as ``graph``, a model ``what`` cannot rewrite: only a
    PyTorch model or an ONNX file (read again with its weights) can be."""
    if graph.source == "pytorch" or (
        graph.source == "onnx" and isinstance(model, str | os.PathLike)
    ):
        return
    kind = "in-memory onnx" if graph.source == "onnx" else graph.source
    raise ModelprofError(f"{what} works on {SOURCES}, not {DESCRIBED.get(kind, kind)}")



def skipped(why: str, *, save: str | None, measure: str | None, finetune: str | None) -> str:
    """One line saying that, ``why`` ("nothing to rewrite: "), the model was not written,
    measured or fine-tuned as asked; empty when none of them was asked for."""
    done = [f"{save} was not written"] if save else []
    verbs = [verb for verb, asked in (("measured", measure), ("fine-tuned", finetune)) if asked]
    if verbs:
        done.append(f"nothing was {' or '.join(verbs)}")
    return f"{why}{' and '.join(done)}" if done else ""


def is_module_runtime(measure: str | Runtime | None) -> bool:
    """Whether ``measure`` names a runtime that runs the PyTorch module itself (``torch``,
    ``torch-compile``): the jobs then measure their modules, not their ONNX exports."""
    return measure is not None and isinstance(get_runtime(measure), ModuleRuntime)


def _runtime_name(measure: str | Runtime) -> str:
    return measure if isinstance(measure, str) else measure.name


def check_runtime_source(
    model: ModelRef, measure: str | Runtime | None, what: str, source: str | None = None
) -> None:
    """Refuse a runtime that runs PyTorch modules (``--runtime torch``) for a model that is
    not one: before it is read, by its name (an ``.onnx`` file), or once it is read, by its
    graph's ``source``. The job would rewrite it and only then find nothing it can measure."""
    if measure is None or not is_module_runtime(measure):
        return
    kind = named_kind(model) or (source if source not in (None, "pytorch") else None)
    if kind is None:
        return
    name = _runtime_name(measure)
    described = DESCRIBED.get(kind, f"a {kind} model")
    raise ModelprofError(
        f"{what} --runtime {name} measures PyTorch models (zoo name, file.py:factory), and "
        f"{model} is {described}: measure it with --runtime openvino or onnxruntime"
    )
