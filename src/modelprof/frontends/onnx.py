"""ONNX -> Graph.

Reading never touches weight payloads beyond what ``onnx.load`` parses: external data is not
loaded at all, and shape inference runs on a copy of the graph whose large initializers are
declared as typed inputs instead (onnx's shape inference serialises the whole model, so on a
model with embedded weights it copies every byte of them). Small integer initializers and float
value inputs stay, because shape inference needs their values (Reshape targets, Slice bounds,
Resize scales).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable, Mapping
from functools import cache
from math import prod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelLoadError, ShapeError, first_line
from ..graph import (
    FLOAT_DTYPES,
    Graph,
    Node,
    TensorInfo,
    Uncounted,
    Weight,
    WeightKind,
    nbytes_of,
)
from ..shapes import InputSpec, resolve_inputs
from .structure import Structure, check_structure, static_shape

if TYPE_CHECKING:
    import onnx

MIN_OPSET = 11
#: Files larger than this are read without their weight payloads (protoskim).
SKIM_ABOVE_BYTES = 32 * 2**20
#: Models with more weight payload than this have it cleared before shape inference.
STRIP_ABOVE_BYTES = 16 * 2**20
#: Integer initializers up to this many elements keep their values for shape inference.
SMALL_INT_ELEMENTS = 1024
_ONNX_DTYPES = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "string",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
    14: "complex64",
    15: "complex128",
    16: "bfloat16",
    17: "float8e4m3fn",
    18: "float8e4m3fnuz",
    19: "float8e5m2",
    20: "float8e5m2fnuz",
    21: "uint4",
    22: "int4",
}
_DTYPE_CODES = {name: code for code, name in _ONNX_DTYPES.items()}
_BUFFER_INPUTS = {"BatchNormalization": (3, 4)}
#: Float inputs that carry values, not weights (scales, bounds, pad values): constants, kept
#: with their values for shape inference. Quantisation scales and zero points are values too.
_VALUE_INPUTS = {
    "Resize": (1, 2),
    "Upsample": (1,),
    "Pad": (2,),
    "Clip": (1, 2),
    "QuantizeLinear": (1, 2),
    "DequantizeLinear": (1, 2),
    "QLinearConv": (1, 2, 4, 5, 6, 7),
    "QLinearMatMul": (1, 2, 4, 5, 6, 7),
    "QGemm": (1, 2, 4, 5, 7, 8),
}
#: Inputs of quantised ops where a stored integer tensor is a weight (int8 weights, int32
#: biases), counted as params like a float weight.
_QUANT_WEIGHT_INPUTS = {
    "QLinearConv": (3, 8),
    "QLinearMatMul": (0, 3),
    "ConvInteger": (1,),
    "MatMulInteger": (0, 1),
    "QGemm": (0, 3, 6),
    "DequantizeLinear": (0,),
}
_SCOPE_KEY = "pkg.torch.onnx.name_scopes"
_GRAPH, _GRAPHS = 5, 10  # AttributeProto.GRAPH / GRAPHS
#: Ops whose one-element float operands are literals rather than parameters.
_LITERAL_CONSUMERS = frozenset({"Mul", "Div", "Add", "Sub", "Pow", "Max", "Min", "Where"})
_PAYLOAD_FIELDS = (
    "raw_data",
    "float_data",
    "int32_data",
    "string_data",
    "int64_data",
    "double_data",
    "uint64_data",
)


def _inputs_at(
    graph: Any, op_types: set[str], *tables: Mapping[str, tuple[int, ...]]
) -> list[set[str]]:
    """For each table, the names of the tensors fed to its input positions of its op types
    (one pass over the nodes for all tables: reading ``op_type`` is the cost; none when no op
    of ``op_types``, the graph's, is in a table)."""
    merged: dict[str, list[tuple[set[str], tuple[int, ...]]]] = {}
    found: list[set[str]] = [set() for _ in tables]
    for names, table in zip(found, tables, strict=True):
        for op_type, positions in table.items():
            merged.setdefault(op_type, []).append((names, positions))
    if not op_types & merged.keys():
        return found
    for n in graph.node:
        hits = merged.get(n.op_type)
        if hits:
            inputs = n.input
            for names, positions in hits:
                names.update(inputs[i] for i in positions if i < len(inputs))
    return found


def _clear_payload(init: Any) -> None:
    if init.raw_data:
        init.ClearField("raw_data")
        return
    for field in _PAYLOAD_FIELDS[1:]:
        if len(getattr(init, field)):
            init.ClearField(field)


def read_model(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Read an ONNX file's graph (never its external data), or explain in one line why not."""
    import onnx
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"no such file: {p}")
    if p.is_dir():
        raise ModelLoadError(f"{p} is a directory, not a model file")
    if p.stat().st_size == 0:
        raise ModelLoadError(f"{p} is empty")
    try:
        if p.stat().st_size > SKIM_ABOVE_BYTES:
            model = _read_skimmed(p)
        else:
            model = onnx.load(str(p), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError, IndexError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(
            f"{p} is not a readable ONNX model (truncated or another format?): {detail}"
        ) from None
    if model.ir_version == 0 or not (model.graph.node or model.graph.output):
        raise ModelLoadError(f"{p} does not contain an ONNX graph (is it really an .onnx file?)")
    return model


def external_data_files(path: str | os.PathLike[str]) -> list[Path]:
    """The external data files an ONNX file names, read without its weights (a file that
    cannot be read names none here; it is refused when the model itself is read)."""
    p = Path(path)
    try:
        model = read_model(p)
    except ModelLoadError:
        return []
    names = {
        entry.value
        for init in model.graph.initializer
        if init.data_location == 1  # onnx.TensorProto.EXTERNAL
        for entry in init.external_data
        if entry.key == "location"
    }
    return [p.parent / name for name in sorted(names)]


def read_with_weights(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """An ONNX file with its weights, external data included (what a rewrite needs, where
    counting never reads them), or one line saying why it cannot be read: a weights file
    that is missing, truncated or outside the model's folder."""
    import onnx
    from google.protobuf.message import DecodeError

    p = Path(path)
    try:
        return onnx.load(str(p))
    except (onnx.checker.ValidationError, DecodeError, ValueError, OSError, RuntimeError) as exc:
        raise ModelLoadError(f"{p}: its weights cannot be read: {first_line(exc)}") from None


def _read_skimmed(path: Path) -> onnx.ModelProto:
    """Parse a large file without its weight payloads (see protoskim)."""
    import mmap

    import onnx

    from .protoskim import skim

    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        view = memoryview(mm)
        try:
            data = skim(view)
        finally:
            view.release()
    model = onnx.ModelProto()
    model.ParseFromString(data)
    return model


def load(
    source: str | os.PathLike[str] | onnx.ModelProto,
    inputs: Iterable[InputSpec] | Mapping[str, tuple[int, ...]] | None = None,
    *,
    name: str | None = None,
    keep_static_dims: bool = True,
) -> Graph:
    """Translate an ONNX file or ModelProto into a :class:`Graph` with static shapes.

    ``inputs`` may rebind the batch (dim 0) and dynamic dims; another static dim only with
    ``keep_static_dims=False`` (a sweep over image sizes of a model exported at one size)."""
    import onnx

    if isinstance(source, onnx.ModelProto):
        model = onnx.ModelProto()
        model.CopyFrom(source)  # payloads are cleared in place below; the caller's stays intact
        label = name or source.graph.name or "model"
    else:
        model, label = read_model(source), name or Path(source).name
    return _GraphBuilder(model, label, keep_static_dims).build(inputs)


def _dtype(code: int) -> str:
    return _ONNX_DTYPES.get(code, "float32")


@cache
def _schema_defaults(op_type: str, domain: str, opset: int) -> dict[str, Any]:
    import onnx

    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except Exception:  # custom op: no schema, no defaults
        return {}
    defaults: dict[str, Any] = {}
    for attr_name, attr in schema.attributes.items():
        if attr.default_value.name:
            defaults[attr_name] = _attr_value(attr.default_value)
    return defaults


@cache
def _has_schema(op_type: str, opset: int) -> bool:
    """Whether the default domain defines ``op_type`` at ``opset`` (Gelu only from 20)."""
    import onnx

    return bool(onnx.defs.has(op_type, opset))


def _attr_value(attr: Any) -> Any:
    import onnx

    if attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
        return None
    value = onnx.helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode("utf-8", "replace") for v in value]
    return value


def _scope(node: Any) -> str:
    """Module path from exporter metadata (dynamo) or a TorchScript-style node name.

    Dynamo records ``['', 'layer1', '0', 'conv1', 'convolution']`` (module names, then the
    op); TorchScript names nodes ``/layer1/layer1.0/conv1/Conv``. Both end in the op, which
    is dropped, and both become ``layer1.0.conv1``.
    """
    for prop in node.metadata_props:
        if prop.key == _SCOPE_KEY:
            try:
                scopes = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError):
                continue
            if isinstance(scopes, list):
                return join_scope([str(s) for s in scopes[:-1]])
    name = node.name
    if not name.startswith("/"):
        return ""
    return join_scope(name.split("/")[1:-1])


def join_scope(parts: list[str]) -> str:
    """Join exporter scope components into a module path.

    TorchScript writes each level either as an attribute name or as its parent's last
    component plus an index (``layer3`` then ``layer3.0``; ``downsample`` then
    ``downsample.0``): such a component replaces the one before it.
    """
    path: list[str] = []
    for part in parts:
        if not part or (path and part == path[-1]):
            continue
        if path and part.startswith(path[-1] + "."):
            path[-1] = part
        elif path and part.startswith(".".join(path) + "."):
            path = [part]
        else:
            path.append(part)
    return ".".join(path)


class _GraphBuilder:
    def __init__(
        self, model: onnx.ModelProto, label: str, keep_static_dims: bool = True
    ) -> None:
        self.keep_static_dims = keep_static_dims
        self.model = model
        self.label = label
        self.opsets = {op.domain or "": op.version for op in model.opset_import}
        self.tensors: dict[str, TensorInfo] = {}
        self.weights: dict[str, Weight] = {}
        self.constants: set[str] = set()
        self.values: dict[str, Any] = {}  # small integer constants, for loop trip counts
        self.nodes: list[Node] = []
        self.uncounted: list[Uncounted] = []
        self.notes: list[str] = []
        self.names: dict[str, int] = {}
        self.weight_nodes: set[str] = set()
        self.payloads: list[Any] = []  # initializers whose values shape inference never reads
        self.payload_bytes = 0  # their size
        self.explained = False  # a note already says where shapes stop and why

    def build(
        self, user_inputs: Iterable[InputSpec] | Mapping[str, tuple[int, ...]] | None
    ) -> Graph:
        import onnx

        model = self.model
        if model.functions:
            from onnx import inliner

            try:
                model = inliner.inline_local_functions(model)
            except (onnx.checker.ValidationError, RuntimeError, ValueError) as exc:
                raise ModelLoadError(
                    f"{self.label}: its model-local functions cannot be expanded: "
                    f"{first_line(exc)}"
                ) from None
        fields = check_structure(model.graph, self.label)
        if fields.order is not None:  # listed out of order: put each node after its producers
            order = fields.order
            ordered = [onnx.NodeProto() for _ in order]
            for copy, index in zip(ordered, order, strict=True):
                copy.CopyFrom(model.graph.node[index])
            del model.graph.node[:]
            model.graph.node.extend(ordered)
            fields = Structure(
                inputs=[fields.inputs[i] for i in order],
                outputs=[fields.outputs[i] for i in order],
                op_types=[fields.op_types[i] for i in order],
                names=[fields.names[i] for i in order],
                order=None,
            )
        opset = self.opsets.get("", 0)
        if opset and opset < MIN_OPSET:
            self.notes.append(
                f"opset {opset} is older than {MIN_OPSET}, the oldest modelprof is tested with"
            )
        # one pass for the op types: on a 100,000-node graph each pass over the nodes counts
        op_types = set(fields.op_types)
        self._scan_stored(model.graph, op_types)
        graph_inputs = self._bind_inputs(model.graph, user_inputs)
        # data propagation (Shape -> Gather -> Reshape chains) costs a third of inference time
        data_prop = bool({"Shape", "Size"} & op_types)
        from . import forked, shapeprop

        # nodes can be translated while a forked child infers shapes, unless a Loop or Scan
        # body needs the inferred shapes (its trip count) while the nodes are built
        control = {"If", "Loop", "Scan"} & op_types
        added = False
        try:
            # the op types our own shape pass may handle: in its table, and in the model's opset;
            # none before opset 11 (Add's old axis/broadcast attributes, Sum without
            # broadcasting) or IR 4 (initializers that are not inputs do not count there)
            allowed = (
                {op for op in op_types if op in shapeprop.HANDLED and _has_schema(op, opset)}
                if opset >= MIN_OPSET and model.ir_version >= 4
                else set()
            )
            if op_types - {"Constant"} <= allowed:
                # plain arithmetic only: propagate shapes here, onnx's inference if that fails
                self._add_nodes(model.graph.node, "", "", 1, fields)
                added = True
                if self._propagate(model.graph, allowed):
                    outputs = tuple(o.name for o in model.graph.output)
                    self._check_inputs_fit(user_inputs)
                    return self._graph(graph_inputs, outputs)
            self._strip_payloads()
            if forked.worthwhile(model) and not control:
                job = forked.ForkedInference.start(model, data_prop)
                if not added:
                    self._add_nodes(model.graph.node, "", "", 1, fields)
                if allowed:  # while the child infers: the plain nodes' shapes, ours to find
                    self._propagate(model.graph, allowed, partial=True)
                inferred = job.result()
                self._collect_infos(inferred.graph)
            else:
                inferred = onnx.shape_inference.infer_shapes(
                    model, data_prop=data_prop, strict_mode=True
                )
                self._collect_infos(inferred.graph)
                if not added:
                    self._add_nodes(inferred.graph.node, "", "", 1, fields)
        except (RuntimeError, ValueError, onnx.shape_inference.InferenceError) as exc:
            raise ModelLoadError(f"{self.label}: {_inference_error(exc)}") from None
        del model
        self._complete_shapes(inferred, fields, bool(user_inputs))
        self._check_inputs_fit(user_inputs)
        return self._graph(graph_inputs, tuple(o.name for o in inferred.graph.output))

    def _complete_shapes(self, inferred: Any, fields: Structure, bound_inputs: bool) -> None:
        """Where onnx's inference left a node output without a static shape, complete the
        shapes by evaluating the small computations that decide them (:mod:`.folding`), and
        note where and why shapes still stop. One pass over the node outputs already read
        when every shape is known (the usual case, and the only cost then)."""
        tensors = self.tensors
        if all(o in tensors for outs in fields.outputs for o in outs if o):
            return
        from .folding import complete_shapes

        note = complete_shapes(
            inferred.graph,
            tensors,
            fields,
            opsets=self.opsets,
            ir_version=inferred.ir_version,
            dtype_names=_ONNX_DTYPES,
            label=self.label,
            bound_inputs=bound_inputs,
        )
        if note:
            self.notes.append(note)
            self.explained = True

    def _check_inputs_fit(self, user_inputs: object) -> None:
        if not user_inputs or self.explained:
            return
        # shape inference leaves shapes unknown where a bound input does not fit the model
        # (a 32x32 image into a dense layer sized for 28x28): say where it started (only
        # inside a subgraph now: the top-level graph's unknown shapes are explained above)
        unknown = [
            n.name
            for n in self.nodes
            if n.outputs and n.outputs[0] and n.outputs[0] not in self.tensors
        ]
        if unknown:
            self.notes.append(
                f"{len(unknown)} node(s) got no inferred shape with the bound input shapes "
                f"(first: '{unknown[0]}'); the shapes may not fit the model"
            )

    def _graph(self, graph_inputs: list[str], outputs: tuple[str, ...]) -> Graph:
        self._check_reshapes()
        return Graph(
            name=self.label,
            source="onnx",
            nodes=tuple(self.nodes),
            tensors=self.tensors,
            inputs=tuple(graph_inputs),
            outputs=outputs,
            weights=self.weights,
            constants=frozenset(self.constants),
            uncounted=tuple(self.uncounted),
            notes=tuple(self.notes),
        )

    def _check_reshapes(self) -> None:
        """A Reshape must keep its element count; onnx's inference takes the target shape at
        its word (605 elements "reshaped" to 7x7x7), so this is checked here."""
        tensors = self.tensors
        for node in self.nodes:
            if node.op_type != "Reshape" or not node.inputs or not node.outputs:
                continue
            source, target = tensors.get(node.inputs[0]), tensors.get(node.outputs[0])
            if source is None or target is None:
                continue
            if prod(source.shape) != prod(target.shape):
                raise ModelLoadError(
                    f"{self.label}: node '{node.name}' (Reshape) cannot reshape "
                    f"{'x'.join(map(str, source.shape))} ({prod(source.shape):,} elements) to "
                    f"{'x'.join(map(str, target.shape))} ({prod(target.shape):,})"
                )

    def _propagate(self, graph: Any, allowed: set[str], partial: bool = False) -> bool:
        """Shapes by :mod:`.shapeprop` for a graph of plain arithmetic; False leaves the
        graph to onnx's inference (an op or a case it does not handle, or a shape the model
        declares that disagrees). ``partial``: record the shapes of the plain nodes only,
        onnx's inference supplying the others (:meth:`_collect_infos` keeps what is known);
        any disagreement with a declared shape and none are recorded."""
        from .shapeprop import propagate

        known = dict(self.tensors)
        for vi in graph.input:
            shape = static_shape(vi.type)
            code = vi.type.tensor_type.elem_type
            if shape is None or not code:
                return False  # onnx would leave what follows unknown: let it decide
            stored = known.get(vi.name)
            if stored is None:
                known[vi.name] = TensorInfo(vi.name, shape, _dtype(code))
            elif stored.shape != shape or stored.dtype != _dtype(code):
                return False  # an initializer declared as an input with another type
        found = propagate(self.nodes, known, _ONNX_DTYPES, allowed=allowed, partial=partial)
        if found is None:
            return False
        for vi in (*graph.value_info, *graph.output):
            info = found.get(vi.name)
            if info is None:
                continue
            if not vi.type.HasField("tensor_type"):
                return False  # declared a sequence or map: onnx keeps the declaration
            tensor_type = vi.type.tensor_type
            if tensor_type.elem_type and _dtype(tensor_type.elem_type) != info.dtype:
                return False
            if tensor_type.HasField("shape"):
                dims = tensor_type.shape.dim
                if len(dims) != len(info.shape) or any(
                    d.HasField("dim_value") and d.dim_value != v
                    for d, v in zip(dims, info.shape, strict=True)
                ):
                    return False
        self.tensors.update(found)
        return True

    # -- weights, and payloads shape inference must not copy ---------------------------------

    def _scan_stored(self, graph: Any, op_types: set[str]) -> None:
        """Record every stored tensor (initializers, Constant nodes) as a weight or a constant,
        and note the payloads shape inference will not need (:meth:`_strip_payloads`)."""
        import onnx

        buffers, value_inputs, quant_weights = _inputs_at(
            graph, op_types, _BUFFER_INPUTS, _VALUE_INPUTS, _QUANT_WEIGHT_INPUTS
        )
        external = onnx.TensorProto.EXTERNAL
        singles: list[str] = []
        for init in graph.initializer:
            shape = tuple(init.dims)
            dtype = _ONNX_DTYPES.get(init.data_type, "float32")
            name = init.name
            if any(d < 0 for d in shape):
                raise ModelLoadError(
                    f"{self.label}: initializer '{name}' has a negative dim {shape}: "
                    "not a valid tensor"
                )
            self.tensors[name] = TensorInfo(name, shape, dtype)
            is_float = dtype in FLOAT_DTYPES and name not in value_inputs
            if (is_float or name in quant_weights) and shape:
                kind: WeightKind = "buffer" if name in buffers else "param"
                self.weights[name] = Weight(name, shape, dtype, kind)
            else:
                self.constants.add(name)
            numel = prod(shape)
            if numel == 1 and name in self.weights:
                singles.append(name)
            if not is_float and init.data_location != external and numel <= SMALL_INT_ELEMENTS:
                if numel <= 16:
                    self.values[name] = self._small_value(init)
            elif numel > SMALL_INT_ELEMENTS and init.data_location != external:
                # only large payloads: clearing 66,666 small ones costs more than it saves
                self.payloads.append(init)
                self.payload_bytes += nbytes_of(numel, dtype)
        if singles:
            self._literals(graph, singles)
        if "Constant" in op_types:
            for node in graph.node:
                if node.op_type == "Constant":
                    self._constant_node(node, buffers, value_inputs)

    def _small_value(self, tensor: Any) -> Any:
        """A small stored tensor's values, or one error when its payload does not hold them
        (fewer bytes than its dims say)."""
        from onnx import numpy_helper

        try:
            return numpy_helper.to_array(tensor)
        except (ValueError, TypeError) as exc:
            raise ModelLoadError(
                f"{self.label}: tensor '{tensor.name}' does not hold the values its dims "
                f"{tuple(tensor.dims)} say: {first_line(exc)}"
            ) from None

    def _strip_payloads(self) -> None:
        """Clear, in place, the weight payloads of a large model before onnx's inference,
        which serialises the whole model (every weight byte copied) and needs none of them."""
        if self.payload_bytes > STRIP_ABOVE_BYTES:
            for init in self.payloads:
                _clear_payload(init)
        self.payloads.clear()

    def _literals(self, graph: Any, singles: list[str]) -> None:
        """One-element float initializers that only feed elementwise arithmetic are literals
        (the dynamo exporter stores an attention scale as a ``[1]`` tensor), not params; as
        OpenVINO does, and as the PyTorch route sees them. A one-element weight of a layer (a
        shared PReLU slope) stays a param."""
        candidates = set(singles)
        layered = {
            name
            for node in graph.node
            if node.op_type not in _LITERAL_CONSUMERS
            for name in node.input
            if name in candidates
        }
        for name in candidates - layered:
            del self.weights[name]
            self.constants.add(name)

    def _constant_node(self, node: Any, buffers: set[str], value_inputs: set[str]) -> None:
        """Record a Constant node's tensor. A float tensor of more than one element is a
        weight (and the node is not a layer); a one-element float is a literal (an exporter's
        ``1.0`` or ``sqrt(d)``), since exporters put real parameters in initializers."""
        import numpy as np
        import onnx

        out = node.output[0]
        tensor = next((a.t for a in node.attribute if a.name == "value"), None)
        if tensor is None:  # value_float, value_ints, ...: scalars and short lists
            self.constants.add(out)
            value = _attr_value(node.attribute[0]) if node.attribute else None
            if isinstance(value, int | list):
                self.values[out] = np.asarray(value)
            return
        shape, dtype = tuple(tensor.dims), _dtype(tensor.data_type)
        self.tensors[out] = TensorInfo(out, shape, dtype)
        if dtype in FLOAT_DTYPES and prod(shape) > 1 and out not in value_inputs:
            kind: WeightKind = "buffer" if out in buffers else "param"
            self.weights[out] = Weight(out, shape, dtype, kind)
            self.weight_nodes.add(node.name or out)
            return
        self.constants.add(out)
        if prod(shape) <= 16 and tensor.data_location != onnx.TensorProto.EXTERNAL:
            self.values[out] = self._small_value(tensor)

    def _bind_inputs(
        self, graph: Any, user: Iterable[InputSpec] | Mapping[str, tuple[int, ...]] | None
    ) -> list[str]:
        stored = self.tensors.keys()
        real = [vi for vi in graph.input if vi.name not in stored]
        names = [vi.name for vi in real]
        specs = resolve_inputs(user, names)
        changed = False
        for vi in real:
            tensor_type = vi.type.tensor_type
            spec = specs.get(vi.name)
            dims = list(tensor_type.shape.dim) if tensor_type.HasField("shape") else None
            if spec is not None:
                if dims is not None and len(dims) != len(spec.shape):
                    raise ShapeError(
                        f"--input-shape {vi.name} has {len(spec.shape)} dims, but the model's "
                        f"input '{vi.name}' has {len(dims)}: {_describe(dims)}"
                    )
                declared = (
                    [d.dim_value if d.HasField("dim_value") else None for d in dims]
                    if dims is not None
                    else None
                )
                if self.keep_static_dims:
                    _check_static_dims(vi.name, declared, spec.shape)
                changed = changed or declared != list(spec.shape)
                tensor_type.shape.ClearField("dim")
                for d in spec.shape:
                    tensor_type.shape.dim.add().dim_value = d
                if spec.dtype:
                    tensor_type.elem_type = _DTYPE_CODES[spec.dtype]
                continue
            if dims is None:
                raise ShapeError(
                    f"input '{vi.name}' has no shape in the model: give one with "
                    f"--input-shape {vi.name}=1x3x224x224"
                )
            for i, dim in enumerate(dims):
                if not dim.HasField("dim_value") or dim.dim_value <= 0:
                    label = f" ('{dim.dim_param}')" if dim.dim_param else ""
                    example = "x".join(
                        str(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else "1"
                        for d in dims
                    )
                    raise ShapeError(
                        f"input '{vi.name}' dim {i}{label} is dynamic: bind it with "
                        f"--input-shape {vi.name}={example}"
                    )
        if changed:
            # shapes the exporter recorded for the old input shape would now contradict
            # inference (a batch-1 output declared (1, 10) while the input is bound to 4)
            graph.ClearField("value_info")
            for out in graph.output:
                if out.type.HasField("tensor_type"):
                    out.type.tensor_type.ClearField("shape")
        return names

    # -- shapes and nodes ------------------------------------------------------------------

    def _collect_infos(self, graph: Any) -> None:
        tensors = self.tensors
        for vi in (*graph.input, *graph.value_info, *graph.output):
            name = vi.name
            if name in tensors:
                continue
            tensor_type = vi.type.tensor_type
            if not tensor_type.HasField("shape"):
                continue
            shape = tuple([d.dim_value for d in tensor_type.shape.dim])
            if not all(shape) and static_shape(vi.type) is None:
                continue  # a dynamic dim (dim_value reads 0 unless the dim really is 0)
            dtype = _ONNX_DTYPES.get(tensor_type.elem_type, "float32")
            tensors[name] = TensorInfo(name, shape, dtype)
        for node in graph.node:
            for attr in node.attribute:
                if attr.type == _GRAPH:
                    self._collect_infos(attr.g)

    def _unique(self, name: str) -> str:
        seen = self.names.get(name, 0)
        self.names[name] = seen + 1
        return name if not seen else f"{name}#{seen + 1}"

    def _add_nodes(
        self,
        nodes: Iterable[Any],
        scope_prefix: str,
        branch: str,
        repeat: int,
        fields: Structure | None = None,
    ) -> None:
        """Translate ``nodes``; ``fields``, when given, are their inputs, outputs, op types
        and names as the structure check already read them (each read from protobuf costs)."""
        opsets = self.opsets
        scopes: dict[str, str] = {}
        append = self.nodes.append
        for index, node in enumerate(nodes):
            if fields is not None:
                op_type, raw = fields.op_types[index], fields.names[index]
                inputs, outputs = fields.inputs[index], fields.outputs[index]
            else:
                op_type, raw = node.op_type, node.name
                inputs, outputs = tuple(node.input), tuple(node.output)
            if op_type == "Constant" and (raw or outputs[0]) in self.weight_nodes:
                continue
            domain = node.domain
            if domain == "ai.onnx":
                domain = ""
            name = self._unique(
                f"{scope_prefix}{raw}" if raw else f"{scope_prefix}{op_type}_{len(self.nodes)}"
            )
            defaults = _schema_defaults(op_type, domain, opsets.get(domain, 1))
            subgraphs: dict[str, Any] = {}
            if node.attribute:
                attrs = dict(defaults)
                for attr in node.attribute:
                    if attr.type in (_GRAPH, _GRAPHS):
                        subgraphs[attr.name] = attr.g
                        attrs[attr.name] = None
                    else:
                        attrs[attr.name] = _attr_value(attr)
            else:
                attrs = defaults  # shared, never mutated
            if node.metadata_props:
                scope = _scope(node)
            else:  # TorchScript-style names share their prefix with their neighbours'
                prefix = raw.rpartition("/")[0]
                cached = scopes.get(prefix)
                scope = cached if cached is not None else scopes.setdefault(prefix, _scope(node))
            append(
                Node(
                    name,
                    op_type,
                    inputs,
                    outputs,
                    attrs,
                    scope,
                    domain,
                    repeat,
                    branch,
                )
            )
            if subgraphs:
                self._expand(node, name, subgraphs, branch, repeat)

    def _expand(
        self, node: Any, name: str, subgraphs: dict[str, Any], branch: str, repeat: int
    ) -> None:
        prefix = f"{name}/"
        if node.op_type == "If":
            for key, label in (("then_branch", "then"), ("else_branch", "else")):
                if key in subgraphs:
                    tag = f"{name}:{label}"
                    inner = f"{branch}|{tag}" if branch else tag
                    self._add_nodes(subgraphs[key].node, f"{prefix}{label}/", inner, repeat)
            return
        trips = self._trip_count(node)
        if trips is None:
            reason = (
                f"{node.op_type} body not counted: its trip count is not static "
                "(only Loops with a constant trip count and Scans over a known length are)"
            )
            self.uncounted.append(Uncounted(name, node.op_type, reason))
            return
        for sub in subgraphs.values():
            self._add_nodes(sub.node, prefix, branch, repeat * trips)

    def _trip_count(self, node: Any) -> int | None:
        if node.op_type == "Loop":
            if not node.input or not node.input[0]:
                return None
            value = self.values.get(node.input[0])
            if value is None or value.size != 1:
                return None
            trips = int(value.reshape(-1)[0])
            if trips < 0:  # the loop runs while its counter is below the trip count: never
                self.notes.append(
                    f"Loop '{node.name}' has a trip count of {trips}: its body never runs"
                )
            return max(trips, 0)
        if node.op_type == "Scan":
            attrs = {a.name: _attr_value(a) for a in node.attribute}
            n_scan = int(attrs.get("num_scan_inputs", 0))
            if not n_scan:
                return None
            if not 0 < n_scan <= len(node.input):
                raise ModelLoadError(
                    f"{self.label}: Scan '{node.name}' declares {n_scan} scan inputs but has "
                    f"{len(node.input)} inputs"
                )
            first = node.input[len(node.input) - n_scan]
            axes = attrs.get("scan_input_axes") or [0]
            info = self.tensors.get(first)
            if info is None:
                return None
            axis = int(axes[0])
            if not -len(info.shape) <= axis < len(info.shape):
                raise ModelLoadError(
                    f"{self.label}: Scan '{node.name}' scans axis {axis} of '{first}', which "
                    f"has {len(info.shape)} dims"
                )
            return int(info.shape[axis])
        return None


#: How onnx's strict shape inference names the node it stopped at.
_INFERENCE_ERROR = re.compile(
    r"\(op_type:([^,)]*)(?:, node name: ([^)]*))?\): (?:\[\w+\] )?(.*)"
)


def _inference_error(exc: BaseException) -> str:
    """One line saying which node does not fit what it is given: what onnx's strict shape
    inference objected to (a MatMul of 1x4 by 5x4, an Add of [1, 4] and [3], axis 99...)."""
    text = " ".join(str(exc).split())
    found = _INFERENCE_ERROR.search(text)
    if found is None:
        return f"ONNX shape inference failed: {first_line(exc)}"
    op, node, why = found.groups()
    which = f"node '{node}' ({op})" if node else f"an unnamed {op} node"
    return f"{which} is invalid: {why.rstrip('. ')}"


def _check_static_dims(
    name: str, declared: list[int | None] | None, given: tuple[int, ...]
) -> None:
    """Refuse a bound shape that contradicts a static dim of the model's input. The batch
    (dim 0) may be rebound: a model exported at batch 1 computes the same per sample at any
    batch. Any other static dim (an image's channels, a dense layer's features) is what the
    weights were made for: a different size makes a model that does not exist."""
    for axis, (want, got) in enumerate(zip(declared or (), given, strict=False)):
        if axis and want and want > 0 and want != got:
            raise ShapeError(
                f"--input-shape {name}={'x'.join(map(str, given))}: the model's input '{name}' "
                f"has {want} at dim {axis}, a static size (only dynamic dims and the batch, "
                "dim 0, can be bound)"
            )


def _describe(dims: list[Any]) -> str:
    parts = [str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
    return "(" + ", ".join(parts) + ")"
