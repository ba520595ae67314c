"""Turn any model reference into what a runtime reads, and make the inputs to run it on.

Every model is measured as what the runtime runs, so the count and the runtime see the same
graph and the same node names: for the file runtimes an ONNX file or an OpenVINO IR as it is, a
PyTorch model (zoo name, factory, module) exported to ONNX first; for a runtime that runs the
PyTorch module itself (``torch``), the module, counted on the PyTorch route.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import Any, cast

from ..analysis import analyze
from ..api import InputShapes, ModelRef, build_module, load_graph
from ..costreport import CostReport
from ..errors import ModelLoadError, ModelprofError, ShapeError, first_line
from ..graph import Graph, TensorInfo, nbytes_of
from ..shapes import check_fits_memory

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


@dataclass(frozen=True)
class PreparedModule:
    """A PyTorch module plus its Graph and count on the PyTorch route (layer names are module
    paths, ``layer1.0.conv1``)."""

    label: str
    module: Any
    graph: Graph
    count: CostReport


#: More FLOPs than this in one inference is no model to time (10 PFLOP: hours at the peak of
#: this kind of CPU): a Loop's trip count of 2^63 - 1, a shape off by some digits.
MAX_PROFILE_FLOPS = 10**16


def prepare(model: ModelRef, input_shapes: InputShapes, workdir: Path) -> PreparedModel:
    """Resolve ``model`` to a file the runtimes read (an ONNX file, exporting PyTorch models,
    or an OpenVINO IR as it is) and count it; refuse a model too large to time."""
    prepared = _prepare(model, input_shapes, workdir)
    _check_flops(prepared.label, prepared.count)
    return prepared


def prepare_module(model: ModelRef, input_shapes: InputShapes, runtime: str) -> PreparedModule:
    """Resolve a PyTorch model (``nn.Module``, zoo name, factory spec) to its module and count
    it on the PyTorch route, for ``runtime``, which runs the module itself; refuse any other
    model (an ONNX file, an IR) with what to do instead."""
    if isinstance(model, str | Path) and Path(model).suffix.lower() in _FILE_SUFFIXES:
        kind = _FILE_SUFFIXES[Path(model).suffix.lower()]
        raise ModelprofError(
            f"{Path(model).name}: {runtime} runs PyTorch models only, not {kind} files "
            "(profile it with --runtime openvino or onnxruntime)"
        )
    graph = load_graph(model, input_shapes)
    if graph.source != "pytorch":
        raise ModelprofError(
            f"{graph.name} comes from {graph.source}: {runtime} runs PyTorch models only "
            "(profile it with --runtime openvino or onnxruntime)"
        )
    module = build_module(model)
    prepared = PreparedModule(graph.name, module, graph, analyze(graph))
    _check_flops(prepared.label, prepared.count)
    return prepared


#: Model files no module runtime runs, by what they are.
_FILE_SUFFIXES = {".onnx": "ONNX", ".xml": "OpenVINO IR", ".keras": "Keras", ".h5": "Keras"}


def _check_flops(label: str, count: CostReport) -> None:
    flops = count.total.flops
    if flops > MAX_PROFILE_FLOPS:
        raise ModelprofError(
            f"{label} does {flops:.3g} FLOPs per inference, more than can be timed "
            f"(at most {MAX_PROFILE_FLOPS:.0e}): check its input shapes and loop trip counts"
        )


def _prepare(model: ModelRef, input_shapes: InputShapes, workdir: Path) -> PreparedModel:
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
        need = sum(nbytes_of(prod(info.shape), info.dtype) for info in infos)
        check_fits_memory(need, f"the inputs of {graph.name}")
        rng = np.random.default_rng(seed)
        arrays = {}
        for info in infos:
            dtype = _NP_DTYPES.get(info.dtype, "float32")
            if dtype.startswith("float"):
                arrays[info.name] = rng.standard_normal(info.shape).astype(dtype)
            else:
                arrays[info.name] = np.zeros(info.shape, dtype=dtype)
        return arrays
    return read_inputs(Path(input_file), graph)


def read_inputs(path: Path, graph: Graph) -> dict[str, Any]:
    """The user's ``.npy`` (a model with one input) or ``.npz`` arrays for ``graph``'s inputs.

    Each array's header (shape, dtype) is checked against the input it feeds before any of its
    data is read, and only the ``.npz`` members the model's inputs name are read: a file can
    declare any size, and a member nobody asked for is never loaded. Pickled (object) arrays
    are refused, since loading them runs code from the file.
    """
    import zipfile

    infos = graph.input_infos()
    if not path.is_file():
        raise ModelLoadError(f"no such input file: {path}")
    try:
        with path.open("rb") as handle:
            magic = handle.read(6)
        if magic.startswith(b"PK"):
            with zipfile.ZipFile(path) as archive:
                members = {
                    name.removesuffix(".npy"): name
                    for name in archive.namelist()
                    if name.endswith(".npy")
                }
                arrays = {}
                for info in infos:
                    if info.name not in members:
                        has = ", ".join(members) or "no arrays"
                        raise ShapeError(f"{path} has no array named '{info.name}' (has: {has})")
                    with archive.open(members[info.name]) as member:
                        arrays[info.name] = _read_npy(member, path, info.name, info)
                return arrays
        if magic != b"\x93NUMPY":
            raise ModelLoadError(f"{path} is not a .npy or .npz file")
        if len(infos) != 1:
            raise ShapeError(
                f"{path} holds one array but the model has {len(infos)} inputs: use .npz"
            )
        with path.open("rb") as handle:
            return {infos[0].name: _read_npy(handle, path, infos[0].name, infos[0])}
    except ModelprofError:
        raise
    except MemoryError:  # a header declaring gigabytes of header
        raise ModelLoadError(f"{path} is not a readable .npy or .npz file: too large") from None
    except Exception as exc:  # zipfile, zlib, numpy's header parser: all mean a broken file
        detail = first_line(exc) or "the file is truncated"
        raise ModelLoadError(f"{path} is not a readable .npy or .npz file: {detail}") from None


def _read_npy(handle: Any, path: Path, name: str, info: TensorInfo) -> Any:
    """One array from an open ``.npy`` stream, once its header matches ``info``."""
    import numpy as np
    from numpy.lib import format as npy

    version = npy.read_magic(handle)
    if version == (1, 0):
        shape, fortran, dtype = npy.read_array_header_1_0(handle)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = npy.read_array_header_2_0(handle)
    else:
        raise ModelLoadError(f"{path}: '{name}' has an unknown .npy format version {version}")
    if dtype.hasobject:
        raise ModelLoadError(
            f"{path}: '{name}' holds Python objects (a pickle), which modelprof does not load"
        )
    if tuple(shape) != tuple(info.shape):
        raise ShapeError(
            f"{path}: '{name}' has shape {tuple(shape)} but the model expects {tuple(info.shape)}"
        )
    if str(dtype) != _NP_DTYPES.get(info.dtype, info.dtype):
        raise ShapeError(f"{path}: '{name}' has dtype {dtype} but the model expects {info.dtype}")
    array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    # a flat view of the array's own memory (C or Fortran order), filled in place
    buffer = memoryview(cast("Any", array.reshape(-1, order="A"))).cast("B")
    filled = 0
    while filled < len(buffer):
        got = handle.readinto(buffer[filled:])
        if not got:
            raise ModelLoadError(f"{path}: '{name}' is truncated")
        filled += got
    return np.ascontiguousarray(array)
