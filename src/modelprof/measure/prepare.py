"""Turn any model reference into what a runtime reads, and make the inputs to run it on.

Every model is measured as a file the runtimes read, so the count and the runtime see the
same graph and the same node names: an ONNX file or an OpenVINO IR as it is, a PyTorch model
(zoo name, factory, module) exported to ONNX first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..analysis import analyze
from ..api import InputShapes, ModelRef, build_module, load_graph
from ..costreport import CostReport
from ..errors import ModelLoadError, ShapeError
from ..graph import Graph

_NP_DTYPES = {
    "float32": "float32",
    "float16": "float16",
    "float64": "float64",
    "int64": "int64",
    "int32": "int32",
    "int8": "int8",
    "uint8": "uint8",
    "bool": "bool",
}


@dataclass(frozen=True)
class PreparedModel:
    """A model as an ONNX file plus its Graph and count."""

    label: str
    onnx_path: Path
    graph: Graph
    count: CostReport


def prepare(model: ModelRef, input_shapes: InputShapes, workdir: Path) -> PreparedModel:
    """Resolve ``model`` to a file the runtimes read (an ONNX file, exporting PyTorch models,
    or an OpenVINO IR as it is) and count it."""
    from ..frontends import onnx as onnx_frontend

    if isinstance(model, str | Path) and str(model).lower().endswith(".onnx"):
        graph = onnx_frontend.load(Path(model), input_shapes)
        return PreparedModel(Path(model).name, Path(model), graph, analyze(graph))
    if isinstance(model, str | Path) and str(model).lower().endswith(".xml"):
        # OpenVINO compiles its own IR directly; ONNX Runtime cannot read it (it says so)
        from ..frontends import openvino as openvino_frontend

        graph = openvino_frontend.load(Path(model), input_shapes)
        return PreparedModel(Path(model).name, Path(model), graph, analyze(graph))
    torch_graph = load_graph(model, input_shapes)
    if torch_graph.source != "pytorch":
        raise ModelLoadError(f"cannot profile a model from {torch_graph.source}")
    module = build_module(model)
    from ..frontends.export import export_onnx

    shapes = {info.name: (info.shape, info.dtype) for info in torch_graph.input_infos()}
    path = export_onnx(module, shapes, workdir / "model.onnx")
    graph = onnx_frontend.load(path, None, name=torch_graph.name)
    return PreparedModel(torch_graph.name, path, graph, analyze(graph))


def make_inputs(
    graph: Graph, input_file: str | Path | None = None, seed: int = 0
) -> dict[str, Any]:
    """Random inputs with a fixed seed, or the user's ``.npy`` (one input) / ``.npz`` arrays,
    checked against the model's input shapes and dtypes."""
    import numpy as np

    infos = graph.input_infos()
    if input_file is None:
        rng = np.random.default_rng(seed)
        arrays = {}
        for info in infos:
            dtype = _NP_DTYPES.get(info.dtype, "float32")
            if dtype.startswith("float"):
                arrays[info.name] = rng.standard_normal(info.shape).astype(dtype)
            else:
                arrays[info.name] = np.zeros(info.shape, dtype=dtype)
        return arrays
    path = Path(input_file)
    if not path.is_file():
        raise ModelLoadError(f"no such input file: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        detail = str(exc) or "the file is empty"
        raise ModelLoadError(f"{path} is not a .npy or .npz file: {detail}") from None
    if isinstance(loaded, np.ndarray):
        if len(infos) != 1:
            raise ShapeError(
                f"{path} holds one array but the model has {len(infos)} inputs: use .npz"
            )
        given = {infos[0].name: loaded}
    else:
        given = {k: loaded[k] for k in loaded.files}
    arrays = {}
    for info in infos:
        if info.name not in given:
            raise ShapeError(f"{path} has no array named '{info.name}' (has: {', '.join(given)})")
        arr = given[info.name]
        if tuple(arr.shape) != tuple(info.shape):
            raise ShapeError(
                f"{path}: '{info.name}' has shape {tuple(arr.shape)} but the model expects "
                f"{tuple(info.shape)}"
            )
        if str(arr.dtype) != _NP_DTYPES.get(info.dtype, info.dtype):
            raise ShapeError(
                f"{path}: '{info.name}' has dtype {arr.dtype} but the model expects {info.dtype}"
            )
        arrays[info.name] = np.ascontiguousarray(arr)
    return arrays
