"""The quantize job: post-training int8 with NNCF, then before against after, as ``prune`` does.

Why NNCF: it is OpenVINO's own, well-kept post-training quantizer (statistics on calibration
data, FakeQuantize or QDQ insertion where the target's int8 kernels want them, fast bias
correction), for OpenVINO IR and ONNX alike. PyTorch sources are converted with
``ov.convert_model`` first: NNCF 3.4's PyTorch route fails beside torch 2.13.

What a run reports, each side counted on the same route (the f32 IR or ONNX file and its int8
version): params, weight bytes, file bytes, MACs and the MACs of the layers the graph feeds int8
(:func:`~modelprof.measure.int8.int8_layers`), accuracy when the calibration data has labels
(both sides run on OpenVINO in f32 inference precision, sample by sample), and with ``measure``
the latency measured interleaved plus the int8 diagnosis (:mod:`modelprof.measure.int8`).

Calibration data: ``digits`` for the seed networks (the seed trained on digits and cached, as
``prune --finetune digits`` uses; calibrated on the train split, accuracy on the test split), a
``file.py:loaders`` function (its train batches calibrate, its test batches measure accuracy),
an ``.npz`` file (arrays named after the model's inputs, samples along the first axis,
optionally ``labels``), or random normal data, which gives ranges that fit no real input and so
no accuracy claim: the report says so.

The library never prints: NNCF's log (on stdout) and its rich progress bars are silenced while
it runs; its warnings come back as notes.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import re
import tempfile
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..analysis import analyze
from ..api import InputShapes, ModelRef, load_graph
from ..costreport import CostReport, html_of
from ..errors import MissingExtraError, ModelprofError, ShapeError, first_line
from ..graph import Graph
from ..measure.int8 import (
    MAC_OPS,
    Int8Diagnosis,
    Int8Layer,
    already_int8,
    diagnose,
    int8_layers,
    quantizer_count,
)
from ..measure.profilereport import ProfileReport
from ..measure.runtimes import RunSettings
from .checks import DESCRIBED, named_kind
from .finetune import SEEDS, Progress

PRESETS = ("performance", "mixed")
#: what ``--save`` writes: an int8 IR from any source, an int8 ONNX file from an ONNX source
SAVE_SUFFIXES = (".xml", ".onnx")
#: NNCF's own default calibration size
DEFAULT_SUBSET = 300
#: the most calibration calls asked for: NNCF's statistics settle within its default 300;
#: beyond this a run would go on for hours (and 10**21 is a typo, not a request)
MAX_SUBSET = 100_000
RANDOM_NOTE = (
    "calibrated on random data (normal(0, 1)): the int8 ranges fit random inputs, not yours, "
    "so nothing here says how accurate the int8 model is; give --calibrate data"
)


@dataclass(frozen=True)
class QuantizeSide:
    """One side of the comparison: the model's count, what its files weigh, the MACs of the
    layers its graph feeds int8, and what was measured of it."""

    count: CostReport
    file_bytes: int
    int8_macs: int = 0
    accuracy: float | None = None
    profile: ProfileReport | None = None


@dataclass(frozen=True)
class Calibration:
    """Where the calibration data came from, how many samples NNCF saw, and how many labelled
    samples the accuracy is measured on (0: no accuracy)."""

    source: str
    samples: int
    labelled: int = 0


@dataclass(frozen=True)
class QuantizeResult:
    model: str
    #: NNCF's backend: "openvino" (IR and PyTorch sources) or "onnx"
    backend: str
    preset: str
    calibration: Calibration
    before: QuantizeSide
    after: QuantizeSide
    #: every compute layer of the int8 graph: quantized or left in float, and why
    layers: tuple[Int8Layer, ...]
    #: quantizers NNCF inserted on activations (FakeQuantize or QuantizeLinear nodes)
    quantizers: int
    ignored: tuple[str, ...] = ()
    diagnosis: Int8Diagnosis | None = None
    accuracy_control: float | None = None
    saved: str | None = None
    notes: tuple[str, ...] = ()
    #: the int8 model's predicted class per labelled sample, in order (for checking a saved model)
    predictions: tuple[int, ...] = field(default=(), repr=False)
    #: the quantized model itself (an ``openvino.Model`` or an ``onnx.ModelProto``)
    quantized: Any = field(default=None, repr=False, compare=False)

    @property
    def int8_macs_share(self) -> float:
        """Share of the int8 model's MACs in layers its graph feeds int8."""
        total = self.after.count.total.macs
        return self.after.int8_macs / total if total else 0.0

    def _repr_html_(self) -> str | None:
        """The ``modelprof quantize`` table, for Jupyter (:func:`modelprof.costreport.html_of`)."""
        return html_of(self)


def import_nncf() -> Any:
    """NNCF, or one line naming the pip extra that installs it."""
    try:
        return importlib.import_module("nncf")
    except ImportError:
        raise MissingExtraError("nncf", "quantize") from None


def check_subset(subset: int) -> None:
    """Refuse a calibration size below 1 or above :data:`MAX_SUBSET`."""
    if not 1 <= subset <= MAX_SUBSET:
        raise ModelprofError(
            f"--subset must be between 1 and {MAX_SUBSET:,} calibration calls (NNCF's default "
            f"is {DEFAULT_SUBSET}), got {subset}"
        )


def check_quantize_request(
    model: ModelRef,
    *,
    calibrate: str | None = None,
    subset: int = DEFAULT_SUBSET,
    preset: str = "performance",
    save: str | None = None,
    force: bool = False,
    measure: str | None = None,
    accuracy_control: bool = False,
    max_drop: float = 0.01,
) -> None:
    """Refuse, before ``model`` is read, what its name and the options already rule out."""
    from .save import check_target

    check_subset(subset)
    if preset not in PRESETS:
        raise ModelprofError(f"unknown preset '{preset}' (choose from {', '.join(PRESETS)})")
    if not 0 < max_drop < 1:
        raise ModelprofError(f"--max-drop must be between 0 and 1 (exclusive), got {max_drop}")
    kind = named_kind(model)
    if kind == "keras":
        raise ModelprofError(
            f"quantize works on OpenVINO IR, ONNX files and PyTorch models, not "
            f"{DESCRIBED[kind]}: give {model}'s ONNX export"
        )
    if calibrate == "digits" and not (isinstance(model, str) and model in SEEDS):
        raise ModelprofError(
            "the built-in digits data fits the seed networks (10 classes, 1x28x28 input: "
            f"{', '.join(SEEDS)}); give your own data as --calibrate file.py:loaders or "
            "inputs.npz"
        )
    if calibrate is not None and calibrate != "digits":
        if calibrate.lower().endswith(".npz"):
            if Path(calibrate).exists() and not Path(calibrate).is_file():
                raise ModelprofError(f"--calibrate {calibrate}: not a regular file")
            if not Path(calibrate).is_file():
                raise ModelprofError(f"--calibrate {calibrate}: no such file")
        elif ":" not in calibrate:
            raise ModelprofError(
                f"--calibrate {calibrate}: use digits, path/to/file.py:loaders or inputs.npz"
            )
    if accuracy_control and calibrate is None:
        raise ModelprofError(
            "--accuracy-control needs labelled data to measure the drop: give --calibrate "
            "digits, file.py:loaders or an .npz file with labels"
        )
    if measure is not None and measure not in ("openvino", "onnxruntime"):
        raise ModelprofError(f"cannot measure int8 on '{measure}': use openvino or onnxruntime")
    if measure == "onnxruntime" and kind != "onnx":
        raise ModelprofError(
            "ONNX Runtime cannot run the int8 model quantize makes of this source (an OpenVINO "
            "IR with FakeQuantize); measure it with --profile (OpenVINO), or quantize an ONNX file"
        )
    if save is None:
        return
    suffix = Path(save).suffix.lower()
    if suffix not in SAVE_SUFFIXES:
        raise ModelprofError(f"--save {save}: quantize writes a .xml (OpenVINO IR) or .onnx file")
    if suffix == ".onnx" and kind != "onnx":
        raise ModelprofError(
            f"--save {save}: an .onnx int8 model comes only from an ONNX source (NNCF's ONNX "
            "backend); save this one as .xml (OpenVINO IR)"
        )
    if kind is not None and Path(save).resolve() == Path(os.fspath(model)).resolve():
        raise ModelprofError(
            f"--save {save} would replace the model it is made from: give another file name"
        )
    check_target(save, force=force, pytorch=False)


# -- the job ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """What NNCF quantizes: the backend's model object, the float file it was written to or
    read from (the "before"), and the inputs in order (name as the backend knows it, shape,
    numpy dtype)."""

    backend: str
    model: Any
    path: Path
    inputs: tuple[tuple[str, tuple[int, ...], str], ...]
    module: Any = None


@dataclass(frozen=True)
class _Data:
    """Calibration items (one dict of arrays per model call) and, with labels, the items to
    measure accuracy on and their labels (one per sample, in order)."""

    description: str
    items: Sequence[dict[str, Any]]
    eval_items: list[dict[str, Any]]
    labels: list[int]


def quantize(
    model: ModelRef,
    input_shapes: InputShapes = None,
    *,
    calibrate: str | None = None,
    subset: int = DEFAULT_SUBSET,
    preset: str = "performance",
    ignore: Sequence[str] = (),
    save: str | None = None,
    force: bool = False,
    measure: str | None = None,
    settings: RunSettings | None = None,
    rounds: int = 2,
    accuracy_control: bool = False,
    max_drop: float = 0.01,
    progress: Progress | None = None,
) -> QuantizeResult:
    """Quantize ``model`` to int8 with NNCF and report before against after; ``progress``
    hears about the long steps (training a seed network the first time, calibrating)."""
    check_quantize_request(
        model,
        calibrate=calibrate,
        subset=subset,
        preset=preset,
        save=save,
        force=force,
        measure=measure,
        accuracy_control=accuracy_control,
        max_drop=max_drop,
    )
    nncf = import_nncf()
    graph = load_graph(model, input_shapes)
    if graph.source not in ("pytorch", "onnx", "openvino") or (
        graph.source != "pytorch" and not isinstance(model, str | os.PathLike)
    ):
        kind = "in-memory onnx" if graph.source == "onnx" else graph.source
        raise ModelprofError(
            "quantize works on OpenVINO IR, ONNX files and PyTorch models, not "
            f"{DESCRIBED.get(kind, kind)}"
        )
    why = already_int8(graph)
    if why:
        raise ModelprofError(
            f"{graph.name} is already quantized ({why}): quantize its float original instead"
        )
    if measure == "openvino":
        _check_int8_device(settings or RunSettings())
    with tempfile.TemporaryDirectory(prefix="modelprof-quantize-") as folder:
        work = Path(folder)
        source = _source(model, graph, calibrate, work, progress)
        data = _data(calibrate, source, subset)
        if accuracy_control and not data.labels:
            raise ModelprofError(
                f"--accuracy-control needs labelled data; {data.description} has no labels"
            )
        ignored = _resolve_ignored(ignore, source)
        if progress is not None:
            progress(f"calibrating on {len(data.items)} samples of {data.description}")
        quantized, nncf_notes, reverted = _run_nncf(
            nncf,
            source,
            data,
            preset=preset,
            ignored=ignored,
            accuracy_control=max_drop if accuracy_control else None,
        )
        after_path = _write(quantized, source.backend, work)
        # an IR or ONNX source is the file already read; a PyTorch source is counted on the
        # f32 IR it was converted to, the model NNCF started from
        before_count = analyze(graph if graph.source != "pytorch" else load_graph(source.path))
        after_graph = load_graph(after_path)
        after_count = analyze(after_graph)
        layers = int8_layers(after_graph, after_count, ignored, reverted)
        before_acc = after_acc = None
        predictions: tuple[int, ...] = ()
        if data.labels:
            before_acc, _ = _accuracy(source.path, data)
            after_acc, predictions = _accuracy(after_path, data)
        before = QuantizeSide(before_count, _file_bytes(source.path), 0, accuracy=before_acc)
        after = QuantizeSide(
            after_count,
            _file_bytes(after_path),
            sum(layer.macs for layer in layers if layer.quantized),
            accuracy=after_acc,
        )
        notes = [*nncf_notes]
        if calibrate is None:
            notes.append(RANDOM_NOTE)
        if source.backend == "onnx":
            notes.append(
                "NNCF's ONNX backend writes QuantizeLinear/DequantizeLinear pairs (QDQ): the "
                "runtime fuses them into int8 kernels; MACs are counted as the float ops they wrap"
            )
        diagnosis = None
        if measure:
            from ..measure.profiling import profile_interleaved

            before_prof, after_prof = profile_interleaved(
                source.path,
                after_path,
                runtime=measure,
                settings=settings or RunSettings(),
                rounds=rounds,
                # a user's dynamic IR or ONNX file needs the shapes it was quantized at (the
                # int8 model has them already; a PyTorch source's f32 IR too)
                input_shapes=input_shapes if graph.source != "pytorch" else None,
            )
            before = replace(before, profile=before_prof)
            after = replace(after, profile=after_prof)
            if measure == "openvino":
                diagnosis = diagnose(before_prof, after_prof, layers)
        saved = None
        if save:
            _save(after_path, save, source.backend, force=force)
            saved = str(save)
    return QuantizeResult(
        model=graph.name,
        backend=source.backend,
        preset=preset,
        calibration=Calibration(data.description, len(data.items), len(data.labels)),
        before=before,
        after=after,
        layers=layers,
        quantizers=quantizer_count(after_graph),
        ignored=tuple(ignored),
        diagnosis=diagnosis,
        accuracy_control=max_drop if accuracy_control else None,
        saved=saved,
        notes=tuple(notes),
        predictions=predictions,
        quantized=quantized,
    )


@dataclass(frozen=True)
class Int8Module:
    """A PyTorch module made int8 (``optimize``'s last step): the int8 IR written under the
    work folder, its count and graph-level int8 layers, and, with labelled data, the accuracy of
    the f32 and int8 IRs run on OpenVINO."""

    path: Path
    count: CostReport
    layers: tuple[Int8Layer, ...]
    accuracy_f32: float | None
    accuracy: float | None
    notes: tuple[str, ...] = ()


def quantize_module(
    module: Any,
    input_shape: Sequence[int],
    data: Any,
    work: Path,
    *,
    subset: int = DEFAULT_SUBSET,
    preset: str = "performance",
) -> Int8Module:
    """Convert ``module`` (one input of ``input_shape``) with OpenVINO and quantize it with
    NNCF, calibrated on ``data`` (:mod:`.training` data: the digits split or a user's loaders;
    None: random data), writing ``work/int8.xml``."""
    check_subset(subset)
    nncf = import_nncf()
    ov = _ov()
    import torch

    shape = [int(d) for d in input_shape]
    module.eval()
    with _silenced():
        ov_model = ov.convert_model(module, example_input=torch.zeros(shape), input=[shape])
    f32_path = work / "f32.xml"
    ov.save_model(ov_model, str(f32_path), compress_to_fp16=False)
    port = ov_model.inputs[0]
    source = _Source(
        "openvino", ov_model, f32_path, ((port.get_any_name(), tuple(shape), "float32"),)
    )
    prepared = _data(None, source, subset) if data is None else _training_data(data, source, subset)
    quantized, notes, _ = _run_nncf(
        nncf, source, prepared, preset=preset, ignored=(), accuracy_control=None
    )
    path = work / "int8.xml"
    ov.save_model(quantized, str(path), compress_to_fp16=False)
    graph = load_graph(path)
    count = analyze(graph)
    before_acc = after_acc = None
    if prepared.labels:
        before_acc, _ = _accuracy(f32_path, prepared)
        after_acc, _ = _accuracy(path, prepared)
    if data is None:
        notes.append(RANDOM_NOTE)
    return Int8Module(path, count, int8_layers(graph, count), before_acc, after_acc, tuple(notes))


def _check_int8_device(settings: RunSettings) -> None:
    """Refuse to measure int8 on an OpenVINO device that does not list INT8 among its
    optimization capabilities: it would run the model's int8 layers emulated in float."""
    from ..measure.runtimes.base import import_runtime

    ov = import_runtime("openvino", "openvino")
    device = settings.device
    try:
        capabilities = list(ov.Core().get_property(device, "OPTIMIZATION_CAPABILITIES"))
    except RuntimeError:
        return  # AUTO, MULTI... answer no capabilities: the device they pick is checked later
    if "INT8" not in capabilities:
        raise ModelprofError(
            f"OpenVINO's {device} here cannot run int8 (its capabilities: "
            f"{', '.join(capabilities)}): the int8 model would run emulated in float"
        )


def _ov() -> Any:
    from ..measure.runtimes.base import import_runtime

    return import_runtime("openvino", "openvino")


def _source(
    model: ModelRef, graph: Graph, calibrate: str | None, work: Path, progress: Progress | None
) -> _Source:
    infos = graph.input_infos()
    for info in infos:
        if any(not isinstance(d, int) for d in info.shape):
            raise ShapeError(
                f"input {info.name} has shape {info.shape}: give --input-shape to calibrate"
            )
    if graph.source == "onnx":
        from ..frontends import onnx as onnx_frontend

        proto = onnx_frontend.read_with_weights(Path(os.fspath(model)))
        initializers = {i.name for i in proto.graph.initializer}
        names = [i.name for i in proto.graph.input if i.name not in initializers]
        inputs = tuple(
            (name, tuple(int(d) for d in info.shape), info.dtype)
            for name, info in zip(names, infos, strict=False)
        )
        return _Source("onnx", proto, Path(os.fspath(model)), inputs)
    ov = _ov()
    shapes = [[int(d) for d in info.shape] for info in infos]
    module = None
    if graph.source == "openvino":
        path = Path(os.fspath(model))
        ov_model = ov.Core().read_model(str(path))
        if (
            any(port.get_partial_shape().is_dynamic for port in ov_model.inputs)
            or [list(port.get_partial_shape().to_shape()) for port in ov_model.inputs] != shapes
        ):
            ov_model.reshape(
                {port.get_any_name(): s for port, s in zip(ov_model.inputs, shapes, strict=True)}
            )
    else:
        module = _module(model, graph, calibrate, progress)
        import torch

        examples = tuple(torch.zeros(s) for s in shapes)
        with _silenced():
            ov_model = ov.convert_model(
                module, example_input=examples[0] if len(examples) == 1 else examples, input=shapes
            )
        path = work / "before.xml"
        ov.save_model(ov_model, str(path), compress_to_fp16=False)
    inputs = tuple(
        (port.get_any_name(), tuple(s), info.dtype)
        for port, s, info in zip(ov_model.inputs, shapes, infos, strict=True)
    )
    return _Source("openvino", ov_model, path, inputs, module)


def _module(model: ModelRef, graph: Graph, calibrate: str | None, progress: Progress | None) -> Any:
    """The PyTorch module to quantize: the seed network trained on digits for ``digits``
    (trained once and cached, as ``prune --finetune digits`` does), else the model as built."""
    from ..api import build_module

    if calibrate == "digits":
        from .finetune import model_and_data

        module, _ = model_and_data(model, "digits", graph, progress)
    else:
        module = build_module(model)
    module.eval()
    return module


def _batches(arrays: dict[str, Any], source: _Source, where: str) -> list[dict[str, Any]]:
    """Split arrays of stacked samples (one per input, samples along axis 0) into model calls
    of the model's batch size, checking each sample's shape against the model's."""
    import numpy as np

    items: list[dict[str, Any]] = []
    counts = set()
    for name, shape, _ in source.inputs:
        array = arrays[name]
        per_sample = tuple(array.shape[1:])
        if per_sample != shape[1:]:
            raise ShapeError(
                f"{where}: samples of input {name} have shape {per_sample} but the model takes "
                f"{shape[1:]} (input shape {'x'.join(map(str, shape))})"
            )
        counts.add(array.shape[0])
    if len(counts) != 1:
        raise ShapeError(
            f"{where}: the inputs hold different numbers of samples ({sorted(counts)})"
        )
    (n,) = counts
    batch = source.inputs[0][1][0] if source.inputs[0][1] else 1
    if n < batch:
        raise ShapeError(f"{where}: {n} samples, fewer than the model's batch of {batch}")
    for start in range(0, n - batch + 1, batch):
        items.append(
            {
                name: np.ascontiguousarray(arrays[name][start : start + batch], dtype=dtype)
                for name, _, dtype in source.inputs
            }
        )
    return items


def _data(calibrate: str | None, source: _Source, subset: int) -> _Data:

    if calibrate is None:
        return _Data("random data", _RandomItems(source.inputs, subset), [], [])
    if calibrate.lower().endswith(".npz"):
        return _npz(calibrate, source, subset)
    if len(source.inputs) != 1:
        raise ModelprofError(f"--calibrate {calibrate} supports models with one input")
    from . import training

    shape = source.inputs[0][1]
    if calibrate == "digits":
        return _training_data(training.load_digits_split(shape), source, subset)
    return _training_data(training.load_user_data(calibrate, shape), source, subset)


class _RandomItems(Sequence[dict[str, Any]]):
    """``calls`` model calls of random data (normal(0, 1) floats, 0/1 integers), each made
    when NNCF asks for it: a large ``--subset`` of a large input never sits in memory at once.
    Call ``i`` is the same on every pass (seeded by ``i``)."""

    def __init__(self, inputs: Sequence[tuple[str, tuple[int, ...], str]], calls: int) -> None:
        self.inputs = tuple(inputs)
        self.calls = calls

    def __len__(self) -> int:
        return self.calls

    @typing.overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @typing.overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | Sequence[dict[str, Any]]:
        import numpy as np

        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.calls))]
        if not -self.calls <= index < self.calls:
            raise IndexError(index)
        rng = np.random.default_rng(index % self.calls)
        return {
            name: (
                rng.standard_normal(shape).astype(dtype)
                if dtype.startswith("float")
                else rng.integers(0, 2, size=shape).astype(dtype)
            )
            for name, shape, dtype in self.inputs
        }


def _training_data(data: Any, source: _Source, subset: int) -> _Data:
    """Calibration and labelled items from training data (:mod:`.training`): the digits split
    (train calibrates, test gives the accuracy) or a user's loaders (train and test batches)."""
    import numpy as np

    from . import training

    name, shape, _ = source.inputs[0]
    if isinstance(data, training.DataSplit):
        train = {name: data.x_train.numpy()[: subset * shape[0]]}
        test = {name: data.x_test.numpy()}
        return _Data(
            "digits (train split; accuracy on the test split)",
            _batches(train, source, "digits"),
            _batches(test, source, "digits"),
            [int(y) for y in data.y_test],
        )
    spec = data.spec
    xs: list[Any] = []
    test_xs: list[Any] = []
    ys: list[int] = []
    seen = 0
    for batch in data.train:
        x = np.asarray(batch[0], dtype=np.float32)
        xs.append(x)
        seen += len(x)
        if seen >= subset * shape[0]:
            break
    for batch in data.test:
        test_xs.append(np.asarray(batch[0], dtype=np.float32))
        ys.extend(int(v) for v in np.asarray(batch[1]).reshape(-1))
    train_items = _batches({name: np.concatenate(xs)[: subset * shape[0]]}, source, spec)
    test_items = _batches({name: np.concatenate(test_xs)}, source, spec)
    kept = len(test_items) * shape[0]
    return _Data(
        f"{spec} (train batches; accuracy on its test batches)",
        train_items,
        test_items,
        ys[:kept],
    )


def _npz(path: str, source: _Source, subset: int) -> _Data:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except MemoryError:  # a member declaring more samples than memory holds
        raise ModelprofError(f"--calibrate {path}: not a readable .npz file: too large") from None
    except Exception as exc:  # zipfile, zlib, numpy's header parser: all mean a broken file
        detail = first_line(exc) or type(exc).__name__
        raise ModelprofError(f"--calibrate {path}: not a readable .npz file ({detail})") from None
    labels = arrays.pop("labels", None)
    names = [name for name, _, _ in source.inputs]
    if len(names) == 1 and len(arrays) == 1 and names[0] not in arrays:
        arrays = {names[0]: next(iter(arrays.values()))}
    missing = [n for n in names if n not in arrays]
    if missing:
        raise ModelprofError(
            f"--calibrate {path}: no array for input {', '.join(missing)} (it holds "
            f"{', '.join(sorted(arrays)) or 'nothing'}; name arrays after the model's inputs)"
        )
    items = _batches({n: arrays[n] for n in names}, source, path)
    label_list: list[int] = []
    if labels is not None:
        samples = len(items) * source.inputs[0][1][0]
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ModelprofError(f"{path}: labels must be a 1-D array of integer classes")
        if len(labels) < samples:
            raise ModelprofError(f"{path}: {len(labels)} labels for {samples} samples")
        label_list = [int(v) for v in labels[:samples]]
    described = f"{Path(path).name}" + (
        " (accuracy on the same samples)" if label_list else " (no labels)"
    )
    return _Data(described, items[:subset], items if label_list else [], label_list)


def _resolve_ignored(ignore: Sequence[str], source: _Source) -> list[str]:
    """The node names ``--ignore`` means: each entry is a compute layer's exact name, or a
    module path (``conv1``, ``layer1.0.conv1``) found whole among its name's parts."""
    if not ignore:
        return []
    if source.backend == "onnx":
        names = [n.name for n in source.model.graph.node if n.op_type in MAC_OPS]
    else:
        kinds = {"Convolution", "GroupConvolution", "ConvolutionBackpropData", "MatMul"}
        names = [
            op.get_friendly_name()
            for op in source.model.get_ordered_ops()
            if op.get_type_name() in kinds
        ]
    found: list[str] = []
    for entry in ignore:
        if entry in names:
            found.append(entry)
            continue
        wanted = [t for t in re.split(r"[/.]", entry) if t]
        matches = [n for n in names if _contains(re.split(r"[/.]", n), wanted)]
        if not matches:
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise ModelprofError(f"--ignore {entry}: no compute layer of that name ({shown})")
        found.extend(matches)
    return list(dict.fromkeys(found))


def _contains(parts: list[str], wanted: list[str]) -> bool:
    k = len(wanted)
    return bool(k) and any(parts[i : i + k] == wanted for i in range(len(parts) - k + 1))


@dataclass
class _NncfLog:
    """What NNCF said while it ran: its warnings, and from the accuracy-control loop the
    operations it returned to float and how it ended."""

    warnings: list[str] = field(default_factory=list)
    reverted: list[str] = field(default_factory=list)
    outcome: list[str] = field(default_factory=list)


#: the accuracy-control loop's closing lines (nncf/quantization/algorithms/accuracy_control)
_OUTCOMES = ("Algorithm completed:", "The algorithm could not achieve", "All layers have been")


@contextlib.contextmanager
def _silenced() -> Iterator[_NncfLog]:
    """Run NNCF (and OpenVINO's converter) without a word on stdout or stderr: NNCF logs to
    stdout through its own handler and draws rich progress bars. Its warnings, and what its
    accuracy-control loop reverted and concluded, are collected instead."""
    log = _NncfLog()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if record.levelno >= logging.WARNING:
                log.warnings.append(first_line(Exception(text)))
            elif text.startswith("Reverted "):  # "Reverted N operations ...: \n\tname..."
                log.reverted.extend(n.strip() for n in text.splitlines()[1:] if n.strip())
            elif text.startswith(_OUTCOMES):
                log.outcome.append(text.strip())

    logger = logging.getLogger("nncf")
    handlers, level, propagate = logger.handlers[:], logger.level, logger.propagate
    logger.handlers = [Collect()]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield log
    finally:
        logger.handlers, logger.propagate = handlers, propagate
        logger.setLevel(level)


def _run_nncf(
    nncf: Any,
    source: _Source,
    data: _Data,
    *,
    preset: str,
    ignored: Sequence[str],
    accuracy_control: float | None,
) -> tuple[Any, list[str], list[str]]:
    """NNCF's int8 model, its warnings and verdict as notes, and the operations its
    accuracy-control loop returned to float."""
    options: dict[str, Any] = {
        "preset": nncf.QuantizationPreset(preset),
        "subset_size": len(data.items),
        "ignored_scope": nncf.IgnoredScope(names=list(ignored)) if ignored else None,
    }
    with _silenced() as log:
        try:
            if accuracy_control is None:
                quantized = nncf.quantize(source.model, nncf.Dataset(data.items), **options)
            else:
                validation = nncf.Dataset(list(zip(data.eval_items, _grouped(data), strict=True)))
                quantized = nncf.quantize_with_accuracy_control(
                    source.model,
                    nncf.Dataset(data.items),
                    validation,
                    _validation_fn(source.backend),
                    max_drop=accuracy_control,
                    **options,
                )
        except (ModelprofError, KeyboardInterrupt):
            raise
        except Exception as exc:  # NNCF's refusals of a model or its data: one line
            raise ModelprofError(
                f"NNCF could not quantize the model: {type(exc).__name__}: {first_line(exc)}"
            ) from None
    notes = [*log.warnings, *(f"accuracy control: {line}" for line in log.outcome)]
    return quantized, list(dict.fromkeys(notes)), log.reverted


def _grouped(data: _Data) -> list[list[int]]:
    """The labels split as the evaluation items are batched."""
    batch = len(data.labels) // max(len(data.eval_items), 1)
    return [data.labels[i * batch : (i + 1) * batch] for i in range(len(data.eval_items))]


def _validation_fn(backend: str) -> Callable[[Any, Any], float]:
    """Top-1 accuracy of a model NNCF hands over while it searches (an OpenVINO compiled model,
    or an ONNX model, run here with ONNX Runtime)."""
    import numpy as np

    def accuracy(model: Any, items: Any) -> float:
        run = _onnx_runner(model) if backend == "onnx" else (lambda x: model(x)[0])
        correct = total = 0
        for inputs, labels in items:
            predicted = np.asarray(run(inputs)).reshape(len(labels), -1).argmax(axis=1)
            correct += int((predicted == np.asarray(labels)).sum())
            total += len(labels)
        return correct / total if total else 0.0

    return accuracy


def _onnx_runner(model: Any) -> Callable[[dict[str, Any]], Any]:
    from ..measure.runtimes.base import import_runtime

    ort = import_runtime("onnxruntime", "onnxruntime")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return lambda inputs: session.run(None, inputs)[0]


def _write(quantized: Any, backend: str, work: Path) -> Path:
    if backend == "onnx":
        import onnx

        path = work / "after.onnx"
        onnx.save_model(quantized, str(path))
        return path
    path = work / "after.xml"
    # scales and ranges stay f32, so the saved model predicts exactly what was measured
    _ov().save_model(quantized, str(path), compress_to_fp16=False)
    return path


def _file_bytes(path: Path) -> int:
    files = [path, path.with_suffix(".bin")] if path.suffix.lower() == ".xml" else [path]
    if path.suffix.lower() == ".onnx":
        from ..frontends import onnx as onnx_frontend

        files += onnx_frontend.external_data_files(path)
    return sum(f.stat().st_size for f in files if f.is_file())


def _accuracy(path: Path, data: _Data) -> tuple[float, tuple[int, ...]]:
    """Top-1 accuracy of the model file at ``path`` on the labelled items, run on OpenVINO's
    CPU in f32 inference precision (int8 layers still run int8), and its predictions."""
    import numpy as np

    ov = _ov()
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    predictions: list[int] = []
    for item in data.eval_items:
        out = np.asarray(request.infer(item)[compiled.output(0)])
        if out.ndim != 2:
            raise ModelprofError(
                f"accuracy needs class scores of shape (batch, classes); the model returns "
                f"{'x'.join(map(str, out.shape))}"
            )
        predictions.extend(int(p) for p in out.argmax(axis=1))
    labels = data.labels[: len(predictions)]
    correct = sum(int(p == y) for p, y in zip(predictions, labels, strict=True))
    return correct / len(labels), tuple(predictions)


def _save(after_path: Path, target: str, backend: str, *, force: bool) -> None:
    """Write the int8 model to ``target``: atomically, never over a file without ``force``."""
    from .save import save_model

    if backend == "onnx":
        save_model(target, onnx_path=after_path, force=force)
    else:
        save_model(target, ir_path=after_path, force=force)
