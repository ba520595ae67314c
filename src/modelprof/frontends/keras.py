"""Keras 3 -> Graph, through the PyTorch frontend's op recorder (needs the torch backend).

On the torch backend a Keras 3 model *is* a ``torch.nn.Module``, and every Keras layer call goes
through ``nn.Module.__call__``, so the PyTorch frontend's dispatch recorder sees every ATen op
the model runs. What differs is naming and layout:

* Layers are named after the **Keras** layers (``conv2d``, ``dense_1``, or the user's names),
  nested layers joined with dots (``block.conv``), never after torch internals. A layer call
  that ran one op is that op's name; otherwise the layer's main op (the conv, the matmul) gets
  the layer's name and the others ``layer/Op``.
* Keras works channels-last and torch channels-first, so the backend permutes (views) and copies
  (``contiguous``) activations around every conv and pool. Those copies are layout, not layers:
  they are recorded as views of their source, at no cost.
* A bias that Keras adds after the NHWC permute-back is the conv's (or matmul's) bias, folded
  into that layer as docs/conventions.md defines; BatchNormalization, which Keras computes in five
  elementwise ops, is one ``BatchNormalization`` layer.
* Parameters follow ``model.count_params()`` split the way PyTorch splits them: trainable
  weights (and those of frozen layers) are params, weights Keras creates non-trainable
  (BatchNormalization's moving mean and variance) are buffers.

The torch backend must be chosen before Keras is first imported: this module sets
``KERAS_BACKEND=torch`` unless the environment already names a backend, and refuses a Keras
already loaded on another backend.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Mapping, Sequence
from math import prod
from pathlib import Path
from typing import Any

from ..analysis import BIAS_PRODUCERS, WEIGHT_TRANSFORMS
from ..errors import MissingExtraError, ModelLoadError, ShapeError, first_line
from ..graph import Graph, Node, TensorInfo
from ..shapes import InputSpec, resolve_inputs
from . import torch as torch_frontend

Record = tuple[str, str, tuple[str, ...], tuple[str, ...], dict[str, Any], Any]

#: ATen copies that only change layout (or nothing): recorded as views of their input.
_LAYOUT_COPIES = frozenset({"clone", "contiguous", "_unsafe_view", "_to_copy", "lift_fresh"})
#: Ops that carry a layer's name when its call ran several (the conv, not its activation).
_MAIN_OPS = frozenset(
    {
        "Conv",
        "ConvTranspose",
        "Gemm",
        "MatMul",
        "Einsum",
        "Attention",
        "BatchNormalization",
        "LayerNormalization",
        "GroupNormalization",
        "InstanceNormalization",
        "AveragePool",
        "MaxPool",
        "GlobalAveragePool",
        "GlobalMaxPool",
        "Gather",
        "Softmax",
        "LogSoftmax",
        "Resize",
    }
)


def import_keras() -> Any:
    """Import Keras on the torch backend, or say which pip extra is missing."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        keras = importlib.import_module("keras")
    except ImportError as exc:
        if getattr(exc, "name", None) == "torch":
            raise MissingExtraError("torch", "keras") from None
        raise MissingExtraError("keras", "keras") from None
    backend = str(keras.backend.backend())
    if backend != "torch":
        raise ModelLoadError(
            f"the Keras frontend needs Keras's torch backend, but keras was loaded with "
            f"'{backend}': set KERAS_BACKEND=torch before keras is imported"
        )
    return keras


def load(path: str | os.PathLike[str], input_shapes: Any = None) -> Graph:
    """Read a ``.keras`` (or legacy ``.h5``) file and record its Graph."""
    p = Path(path)
    if not p.is_file():
        raise ModelLoadError(f"no such file: {p}")
    keras = import_keras()
    try:
        model = keras.saving.load_model(str(p), compile=False)
    except Exception as exc:
        raise ModelLoadError(
            f"{p}: cannot read the Keras model: {type(exc).__name__}: {first_line(exc)}"
        ) from None
    return load_model(model, input_shapes, name=p.name)


def load_model(model: Any, input_shapes: Any = None, *, name: str | None = None) -> Graph:
    """Run a Keras 3 model (or layer) once on random inputs and record its Graph.

    Input shapes default to the model's own (a batch of 1 for its ``None`` batch dimension); a
    shape given without the batch dimension (``28x28x1`` for a rank-4 input) gets one of 1.
    """
    keras = import_keras()
    torch = torch_frontend.import_torch()

    if not isinstance(model, keras.layers.Layer):
        raise ModelLoadError(f"cannot count a {type(model).__name__}: not a Keras model or layer")
    label = name or str(model.name)
    declared = _declared_inputs(model)
    names = [n for n, _, _ in declared] or ["input"]
    specs = resolve_inputs(_as_specs(input_shapes), names)
    shapes: list[tuple[tuple[int, ...], str]] = []
    for i, n in enumerate(names):
        kshape, kdtype = (declared[i][1], declared[i][2]) if declared else (None, "float32")
        if n in specs:
            shape = specs[n].shape
            if kshape is not None and len(shape) == len(kshape) - 1:
                shape = (1, *shape)  # Keras shapes are often written without the batch
            shapes.append((shape, specs[n].dtype or kdtype))
        elif kshape is not None and None not in kshape[1:]:
            batch = 1 if kshape[0] is None else kshape[0]
            shapes.append(((batch, *(d or 0 for d in kshape[1:])), kdtype))
        else:
            hint = "1x224x224x3" if kshape is None else _fmt((1, *kshape[1:]))
            known = "" if kshape is None else f" (Keras declares {_fmt(kshape)})"
            raise ShapeError(
                f"no shape for input '{n}' of {label}{known}: give one with "
                f"--input-shape {n}={hint}"
            )

    # on the device Keras computes on
    example = [keras.ops.convert_to_tensor(t) for t in torch_frontend.random_inputs(shapes)]
    packed = _pack_inputs(model, example)
    described = ", ".join(f"{n}={_fmt(s)}" for n, (s, _) in zip(names, shapes, strict=True))

    if not model.built:  # build outside the recorder, so weight initialisers are not layers
        try:
            with torch.no_grad():
                model(packed)
        except Exception as exc:
            raise ModelLoadError(
                f"running {label} on inputs {described} failed: {_keras_message(exc)}"
            ) from None

    cap = _KerasCapture(model, torch)
    input_tensor_names = [cap.name_of(t, new_ok=True) for t in example]
    cap.constants.difference_update(input_tensor_names)

    try:
        with torch_frontend.recording(cap):
            result = model(packed)
    except Exception as exc:
        raise ModelLoadError(
            f"running {label} on inputs {described} failed: {_keras_message(exc)}"
        ) from None

    outputs = [
        cap.name_of(t, new_ok=True)
        for t in torch_frontend._flatten((result,), {})
        if isinstance(t, torch.Tensor)
    ]
    nodes, aliases, notes = _Builder(cap).build()
    return Graph(
        name=label,
        source="keras",
        nodes=tuple(nodes),
        tensors=cap.tensors,
        inputs=tuple(input_tensor_names),
        outputs=tuple(outputs),
        weights=cap.weights,
        constants=frozenset(cap.constants),
        aliases=aliases,
        notes=tuple(notes),
        param_total=cap.param_total,
        buffer_total=cap.buffer_total,
        input_labels=tuple(names),
    )


def _keras_message(exc: BaseException) -> str:
    """One line saying what went wrong: Keras wraps the cause between an "Exception
    encountered when calling ..." header and an "Arguments received by ..." footer."""
    for line in str(exc).splitlines():
        text = line.strip()
        if not text or text.startswith("Exception encountered when calling"):
            continue
        if text.startswith("Arguments received by"):
            break
        return f"{type(exc).__name__}: {text}"
    return f"{type(exc).__name__}: {first_line(exc)}"


def _as_specs(input_shapes: Any) -> Iterable[InputSpec] | Mapping[str, tuple[int, ...]] | None:
    if input_shapes is None or isinstance(input_shapes, Mapping):
        return input_shapes
    return list(input_shapes)


def _declared_inputs(model: Any) -> list[tuple[str, tuple[int | None, ...], str]]:
    """(name, shape with None for unknown dims, dtype) of each input a built model declares."""
    try:
        tensors = list(model.inputs or [])
    except (AttributeError, ValueError):
        return []
    declared = []
    for t in tensors:
        history = getattr(t, "_keras_history", None)
        layer = history[0] if history else None
        tname = str(getattr(layer, "name", None) or getattr(t, "name", "") or "input")
        dtype = str(getattr(t, "dtype", None) or "float32")
        declared.append((tname, tuple(t.shape), dtype))
    return declared


def _pack_inputs(model: Any, tensors: list[Any]) -> Any:
    """Arrange the example tensors the way the model's ``call`` expects them."""
    struct = getattr(model, "_inputs_struct", None)
    if isinstance(struct, Mapping):
        return dict(zip(struct, tensors, strict=True))
    return tensors[0] if len(tensors) == 1 else list(tensors)


def _fmt(shape: Sequence[int | None]) -> str:
    return "x".join("?" if d is None else str(d) for d in shape)


class _KerasCapture(torch_frontend._Capture):
    """The PyTorch recorder, with Keras layers (not torch submodules) as the named modules,
    Keras variable paths as weight names, and each layer call's input and output names."""

    def __init__(self, model: Any, torch: Any) -> None:
        super().__init__(torch.nn.Module())
        self.paths = {}
        self.layer_of: dict[int, Any] = {}
        children: dict[int, int] = {}
        self._walk(model, "", children)
        self.leaves = {i for i in self.paths if not children.get(i)}
        self.io: dict[int, tuple[Any, list[str], list[str]]] = {}
        self.var_names: dict[int, str] = {}
        self.param_total = 0
        self.buffer_total = 0
        all_layers = list(model._flatten_layers(include_self=True, recursive=True))
        tracked = all(hasattr(layer, "_non_trainable_variables") for layer in all_layers)
        non_trainable = {
            id(v) for layer in all_layers for v in getattr(layer, "_non_trainable_variables", ())
        }
        for v in model.weights:
            value = v.value
            if not isinstance(value, torch.Tensor) or not value.is_floating_point():
                continue  # seed-generator states and other integer bookkeeping
            buffer = id(v) in non_trainable if tracked else not v.trainable
            vname = str(v.path)
            if vname in self.weights:
                vname = f"{vname}#{sum(1 for w in self.weights if w.startswith(vname))}"
            self._name_weight(value, vname, "buffer" if buffer else "param")
            self.var_names[id(v)] = vname
            if buffer:
                self.buffer_total += int(value.numel())
            else:
                self.param_total += int(value.numel())

    def _walk(self, layer: Any, prefix: str, children: dict[int, int]) -> None:
        subs = [
            s
            for s in layer._flatten_layers(include_self=False, recursive=False)
            if type(s).__name__ != "InputLayer"
        ]
        children[id(layer)] = len(subs)
        for sub in subs:
            if id(sub) in self.paths:
                continue  # a layer shared between blocks keeps its first path
            path = f"{prefix}.{sub.name}" if prefix else str(sub.name)
            self.paths[id(sub)] = path
            self.layer_of[id(sub)] = sub
            self._walk(sub, path, children)

    def _names(self, value: Any) -> list[str]:
        torch = self.torch
        return [
            self.name_of(t, new_ok=True)
            for t in torch_frontend._flatten((value,), {})
            if isinstance(t, torch.Tensor)
        ]

    def pre_hook(self, module: Any, args: Any) -> None:
        super().pre_hook(module, args)
        if id(module) in self.paths:
            self.io[self.serial] = (module, self._names(args), [])

    def post_hook(self, module: Any, args: Any, output: Any) -> None:
        if id(module) in self.paths and self.stack:
            serial = self.stack[-1].serial
            layer, ins, _ = self.io.get(serial, (module, [], []))
            self.io[serial] = (layer, ins, self._names(output))
        super().post_hook(module, args, output)


class _Builder:
    """Records -> Nodes: layout copies become views, BatchNormalization one node, biases
    folded, and every node named after its Keras layer."""

    def __init__(self, cap: _KerasCapture) -> None:
        self.cap = cap
        self.extra_aliases: dict[str, str] = {}
        self.layout_copies = 0

    def base(self, name: str) -> str:
        seen = 0
        while True:
            nxt = self.extra_aliases.get(name) or self.cap.aliases.get(name)
            if nxt is None or nxt == name or seen > 10_000:
                return name
            name, seen = nxt, seen + 1

    def build(self) -> tuple[list[Node], dict[str, str], list[str]]:
        cap = self.cap
        records = self._drop_layout_copies(cap.records)
        bn_nodes = self._batchnorm(records)
        self._fold_biases(records, bn_nodes)
        nodes = self._name(records, bn_nodes)
        names = set(cap.aliases) | set(self.extra_aliases)
        aliases = {n: self.base(n) for n in names}
        aliases = {n: b for n, b in aliases.items() if n != b}
        notes = []
        if self.layout_copies:
            notes.append(
                f"Keras's torch backend made {self.layout_copies} contiguous copies of permuted "
                "activations (channels-last <-> channels-first around convs and pools, attention "
                "heads): layout, not layers; counted as views, at no cost"
            )
        notes.extend(self._batchnorm_notes(nodes))
        return nodes, aliases, notes

    # 1. layout copies -> views
    def _drop_layout_copies(self, records: list[Record]) -> list[Record]:
        cap = self.cap
        kept = []
        for rec in records:
            aten, _op, inputs, outputs, _attrs, _call = rec
            if aten in _LAYOUT_COPIES and len(inputs) == 1 and len(outputs) == 1 and inputs[0]:
                src, dst = cap.tensors.get(inputs[0]), cap.tensors.get(outputs[0])
                if (
                    src is not None
                    and dst is not None
                    and src.dtype == dst.dtype
                    and prod(src.shape) == prod(dst.shape)
                    and outputs[0] != inputs[0]
                ):
                    self.extra_aliases[outputs[0]] = inputs[0]
                    activation = self.base(inputs[0]) not in cap.weights
                    if aten in ("clone", "contiguous") and activation:
                        self.layout_copies += 1
                    continue
            kept.append(rec)
        return kept

    # 2. BatchNormalization -> one node
    def _batchnorm(self, records: list[Record]) -> dict[int, Node]:
        cap = self.cap
        out: dict[int, Node] = {}
        ran = {call.serial for *_, call in records}
        for serial, (layer, ins, outs) in cap.io.items():
            if type(layer).__name__ != "BatchNormalization" or not ins or not outs:
                continue
            if serial not in ran or id(layer) not in cap.leaves:
                continue
            weights = tuple(
                cap.var_names.get(id(v), "") if v is not None else ""
                for v in (
                    getattr(layer, "gamma", None),
                    getattr(layer, "beta", None),
                    getattr(layer, "moving_mean", None),
                    getattr(layer, "moving_variance", None),
                )
            )
            path = cap.paths[id(layer)]
            out[serial] = Node(
                path,
                "BatchNormalization",
                (ins[0], *weights),
                (outs[0],),
                {"epsilon": float(getattr(layer, "epsilon", 1e-3))},
                scope=path,
            )
        return out

    # 3. biases added after the NHWC permute-back -> the producer's bias
    def _fold_biases(self, records: list[Record], skip: Mapping[int, Node]) -> None:
        cap = self.cap
        producers: dict[str, tuple[str, int]] = {}
        for i, (_aten, op, _inputs, outputs, _attrs, call) in enumerate(records):
            if op in BIAS_PRODUCERS and len(outputs) == 1 and call.serial not in skip:
                producers[outputs[0]] = (op, i)
        for i, (aten, op, inputs, outputs, attrs, call) in enumerate(records):
            if op != "Add" or aten.endswith("_") or len(inputs) != 2 or call.serial in skip:
                continue
            for act, bias in (inputs, inputs[::-1]):
                found = producers.get(self.base(act))
                weight = self.base(bias)
                w = cap.weights.get(weight)
                if found is None or w is None or w.kind != "param" or act == self.base(act):
                    continue
                p_op, p_idx = found
                if records[p_idx][5].serial != call.serial:
                    continue
                produced = cap.tensors[records[p_idx][3][0]].shape
                act_shape, bias_shape = cap.tensors[act].shape, cap.tensors[bias].shape
                conv = p_op in ("Conv", "ConvTranspose")
                channels = produced[1] if conv else produced[-1]
                trailing = tuple(bias_shape)
                while trailing and trailing[0] == 1:
                    trailing = trailing[1:]
                if (
                    not trailing
                    or prod(trailing) != channels
                    or w.numel != channels
                    or len(trailing) > len(act_shape)
                    or tuple(act_shape[len(act_shape) - len(trailing) :]) != trailing
                ):
                    continue
                view_shape = (channels,) + (1,) * (len(produced) - 2) if conv else (channels,)
                view = f"{weight}~bias"
                cap.tensors[view] = TensorInfo(view, view_shape, w.dtype)
                self.extra_aliases[view] = weight
                records[i] = (aten, op, (records[p_idx][3][0], view), outputs, attrs, call)
                break

    # 4. names
    def _name(self, records: list[Record], bn_nodes: Mapping[int, Node]) -> list[Node]:
        cap = self.cap
        weightish = set(cap.weights) | set(cap.constants)

        def is_weightish(name: str) -> bool:
            return not name or name in weightish or self.base(name) in weightish

        per_call: dict[int, list[int]] = {}
        for i, (_aten, op, inputs, outputs, _attrs, call) in enumerate(records):
            if call.serial in bn_nodes:
                continue
            if op in WEIGHT_TRANSFORMS and all(is_weightish(n) for n in inputs):
                weightish.update(outputs)  # re-expresses a weight: not a layer
                continue
            per_call.setdefault(call.serial, []).append(i)
        main = {
            serial: next((i for i in idxs if records[i][1] in _MAIN_OPS), idxs[0])
            for serial, idxs in per_call.items()
        }

        used: dict[str, int] = {}

        def unique(base: str) -> str:
            seen = used.get(base, 0)
            used[base] = seen + 1
            return base if not seen else f"{base}#{seen + 1}"

        nodes: list[Node] = []
        emitted: set[int] = set()
        for i, (_aten, op, inputs, outputs, attrs, call) in enumerate(records):
            bn = bn_nodes.get(call.serial)
            if bn is not None:  # the layer's own ops give way to one BatchNormalization node
                if call.serial not in emitted:
                    emitted.add(call.serial)
                    nodes.append(bn._replace(name=unique(bn.name)))
                continue
            if call.path and call.leaf and main.get(call.serial) == i:
                label = unique(call.path)
            else:
                label = unique(f"{call.path}/{op}" if call.path else op)
            nodes.append(Node(label, op, inputs, outputs, attrs, scope=call.path))
        return nodes

    def _batchnorm_notes(self, nodes: list[Node]) -> list[str]:
        cap = self.cap
        bns = [n for n in nodes if n.op_type == "BatchNormalization"]
        if not bns:
            return []
        channels = sum(
            cap.weights[n.inputs[3]].numel if n.inputs[3] in cap.weights else 0 for n in bns
        )
        return [
            f"BatchNorm: {len(bns)} layer(s), {channels:,} channels (gamma, beta counted as "
            "params; moving mean/variance, Keras's non-trainable weights, as buffers: "
            "params + buffers = model.count_params())"
        ]


__all__ = ["import_keras", "load", "load_model"]
