"""The Python API: ``count`` a model given as a path, a zoo name, a factory spec or a module."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .analysis import analyze
from .costreport import CostReport
from .costs import REGISTRY, CostRule
from .errors import ModelLoadError, safe_str
from .graph import Graph
from .shapes import InputShapes as InputShapes  # the API's own name for it, re-exported
from .shapes import as_specs

ModelRef = Any  # str | os.PathLike | onnx.ModelProto | torch.nn.Module | Graph

#: Every form of model the API and the command line read, for messages that list them.
MODEL_FORMS = (
    "an .onnx, OpenVINO .xml or Keras .keras/.h5 file, a whole PyTorch module pickled in a "
    ".pt/.pth file (read only when trusted), a file.py:factory or package.module:factory spec, "
    "or a zoo name"
)


def load_graph(model: ModelRef, input_shapes: InputShapes = None) -> Graph:
    """Turn any model reference into a :class:`Graph`.

    Strings are resolved in this order: an existing or ``.onnx``-named file, a
    ``file.py:factory`` or ``package.module:factory`` spec, then a zoo name. ``input_shapes``
    takes any form :data:`~modelprof.shapes.InputShapes` describes: ``{"x": (1, 3, 224,
    224)}``, a bare shape or example tensor for a model with one input, one per input in
    order for several.
    """
    if isinstance(model, Graph):
        return model
    input_shapes = as_specs(input_shapes)
    if isinstance(model, str | os.PathLike):
        return _load_path_or_name(os.fspath(model), input_shapes)
    kind = type(model).__module__.split(".")[0]
    if kind == "keras" or any(c.__module__.startswith("keras.") for c in type(model).__mro__):
        from .frontends import keras as keras_frontend

        return keras_frontend.load_model(model, input_shapes)
    if kind == "openvino":
        from .frontends import openvino as openvino_frontend

        return openvino_frontend.load_model(model, input_shapes)
    if kind == "onnx":
        from .frontends import onnx as onnx_frontend

        return onnx_frontend.load(model, input_shapes)
    if kind == "torch" or _is_torch_module(model):
        from .frontends import torch as torch_frontend

        return torch_frontend.load_module(model, input_shapes, name=type(model).__name__)
    raise ModelLoadError(
        f"cannot count a {type(model).__name__}: give a path, a zoo name or a module"
    )


def _is_torch_module(obj: object) -> bool:
    return any(
        c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(obj).__mro__
    )


def _load_path_or_name(ref: str, input_shapes: InputShapes) -> Graph:
    from .frontends import zoo

    path = Path(ref)
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise ModelLoadError(
            f"{path}: reading a pickled PyTorch module runs code from the file; if you trust "
            f"it, count the module modelprof.build_module({ref!r}, trust_pickle=True) returns"
        )
    if suffix == ".xml":
        from .frontends import openvino as openvino_frontend

        return openvino_frontend.load(path, input_shapes)
    if suffix in (".keras", ".h5"):
        from .frontends import keras as keras_frontend

        return keras_frontend.load(path, input_shapes)
    if suffix == ".onnx" or (path.exists() and suffix not in (".py",)):
        if suffix != ".onnx" and path.is_file():
            raise ModelLoadError(
                f"{path}: unknown model file extension '{suffix or '(none)'}' "
                f"(modelprof reads {MODEL_FORMS})"
            )
        from .frontends import onnx as onnx_frontend

        return onnx_frontend.load(path, input_shapes)
    if ":" in ref and not (len(ref) > 1 and ref[1] == ":" and "\\" in ref):
        from .frontends import torch as torch_frontend

        module = torch_frontend.load_factory(ref)
        return torch_frontend.load_module(module, input_shapes, name=ref)
    if ref in zoo.ZOO:
        from .frontends import torch as torch_frontend

        entry = zoo.get(ref)
        return torch_frontend.load_module(
            entry.build(), input_shapes, name=ref, default_shapes=entry.input_shapes
        )
    if suffix in (".pb", ".tflite"):
        raise ModelLoadError(
            f"{path}: '{suffix}' files are not supported (modelprof reads {MODEL_FORMS}; "
            "convert the model to ONNX first)"
        )
    if suffix == ".py" and path.is_file():
        raise ModelLoadError(f"{path}: name the function that builds the model, e.g. {path}:build")
    if path.suffix:
        raise ModelLoadError(f"no such file: {path}")
    try:
        zoo.get(ref)
    except KeyError as exc:
        raise ModelLoadError(str(exc.args[0])) from None
    raise AssertionError("unreachable")


PICKLE_SUFFIXES = (".pt", ".pth")


def build_module(model: ModelRef, *, trust_pickle: bool = False) -> Any:
    """The ``torch.nn.Module`` a PyTorch model reference stands for: a module (as it is), a zoo
    name (built), a ``file.py:factory`` or ``package.module:factory`` spec (called), or a
    whole module pickled with ``torch.save`` (a ``.pt``/``.pth`` file, read only with
    ``trust_pickle``: unpickling runs code from the file).

    What the rewrites and the PyTorch exports start from; :func:`load_graph` is what counting
    starts from (it also reads ONNX, IR and Keras files, which have no module).
    """
    from .frontends import torch as torch_frontend
    from .frontends import zoo

    if not isinstance(model, str | os.PathLike):
        return model
    ref = os.fspath(model)
    if Path(ref).suffix.lower() in PICKLE_SUFFIXES:
        if not trust_pickle:
            raise ModelLoadError(
                f"{ref}: reading a pickled PyTorch file runs code from it; pass "
                "trust_pickle=True if you trust it"
            )
        return torch_frontend.load_pickled(Path(ref))
    if ref in zoo.ZOO:
        return zoo.get(ref).build()
    return torch_frontend.load_factory(ref)


def count(
    model: ModelRef,
    input_shapes: InputShapes = None,
    *,
    count_bias: bool = False,
    training: bool = False,
) -> CostReport:
    """Count params, MACs, FLOPs, bytes and memory of ``model``, layer by layer.

    >>> report = count("seed-cnn")
    >>> report.total.flops
    394780

    ``input_shapes``: ``{"x": (1, 3, 224, 224)}``; for a model with one input, a bare shape
    ``(1, 3, 224, 224)`` or an example tensor (or numpy array), whose dtype is used (int64 ids
    for an embedding); for several, a tuple of shapes or tensors in the model's input order.

    ``training=True`` adds each layer's backward-pass FLOPs (``training_flops``).
    """
    graph = load_graph(model, input_shapes)
    return analyze(graph, count_bias=count_bias, training=training, registry=REGISTRY)


def register_cost_rule(op_type: str, rule: CostRule, *, replace: bool = False) -> None:
    """Register a cost rule for ``op_type`` (e.g. a custom op), like fvcore's ``set_op_handle``.

    The rule receives an :class:`~modelprof.costs.OpCall` and returns a
    :class:`~modelprof.costs.Cost`; registering an op that already has a rule raises
    :class:`~modelprof.errors.RuleError` unless ``replace=True``. A rule must be a pure
    function of the op's attributes and its tensors' shapes and dtypes: its result is reused
    for every node where those are the same (a 100,000-node graph calls it far fewer times).
    """
    REGISTRY.register(op_type, rule, replace=replace)


def load_rules(path: str | os.PathLike[str]) -> None:
    """Execute a user rules file, which registers its rules with ``register_cost_rule``."""
    import runpy

    from .errors import RuleError

    p = Path(path)
    if not p.is_file():
        raise RuleError(f"no such rules file: {p}")
    try:
        runpy.run_path(str(p), run_name="modelprof_user_rules")
    except RuleError:
        raise
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:  # a rules file has no business ending the program
        why = f"it called sys.exit({safe_str(exc.code)})"
        raise RuleError(f"loading rules from {p} failed: {why}") from None
    except BaseException as exc:  # whatever user code raises is the file's problem, in one line
        why = f"{type(exc).__name__}: {safe_str(exc)}"
        raise RuleError(f"loading rules from {p} failed: {why}") from None
