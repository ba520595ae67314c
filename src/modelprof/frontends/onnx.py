"""ONNX -> Graph.

Reading never touches weight payloads beyond what ``onnx.load`` parses: external data is not
loaded at all, and shape inference runs on a copy of the graph whose large initializers are
declared as typed inputs instead (RUNTIME-NOTES.md: inferring shapes on a model with embedded
weights copies every byte of them). Small integer initializers and float value inputs stay,
because shape inference needs their values (Reshape targets, Slice bounds, Resize scales).
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Mapping
from functools import cache
from math import prod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelLoadError, ShapeError
from ..graph import FLOAT_DTYPES, Graph, Node, TensorInfo, Uncounted, Weight, WeightKind
from ..shapes import InputSpec, resolve_inputs

if TYPE_CHECKING:
    import onnx

MIN_OPSET = 11
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
#: with their values for shape inference.
_VALUE_INPUTS = {"Resize": (1, 2), "Upsample": (1,), "Pad": (2,), "Clip": (1, 2)}
_SCOPE_KEY = "pkg.torch.onnx.name_scopes"


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
        model = onnx.load(str(p), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(
            f"{p} is not a readable ONNX model (truncated or another format?): {detail}"
        ) from None
    if model.ir_version == 0 or not (model.graph.node or model.graph.output):
        raise ModelLoadError(f"{p} does not contain an ONNX graph (is it really an .onnx file?)")
    return model


def load(
    source: str | os.PathLike[str] | onnx.ModelProto,
    inputs: Iterable[InputSpec] | Mapping[str, tuple[int, ...]] | None = None,
    *,
    name: str | None = None,
) -> Graph:
    """Translate an ONNX file or ModelProto into a :class:`Graph` with static shapes."""
    import onnx

    if isinstance(source, onnx.ModelProto):
        model, label = source, name or source.graph.name or "model"
    else:
        model, label = read_model(source), name or Path(source).name
    return _GraphBuilder(model, label).build(inputs)


def _dtype(code: int) -> str:
    return _ONNX_DTYPES.get(code, "float32")


def _static_shape(type_proto: Any) -> tuple[int, ...] | None:
    if not type_proto.HasField("tensor_type"):
        return None
    tensor_type = type_proto.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    dims = []
    for dim in tensor_type.shape.dim:
        if not dim.HasField("dim_value") or dim.dim_value < 0:
            return None
        dims.append(dim.dim_value)
    return tuple(dims)


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
                return _join_scope([str(s) for s in scopes[:-1]])
    name = node.name
    if not name.startswith("/"):
        return ""
    return _join_scope(name.split("/")[1:-1])


def _join_scope(parts: list[str]) -> str:
    scope = ""
    for part in parts:
        if not part or part == scope:
            continue
        if scope and part.startswith(scope + "."):
            scope = part
        else:
            scope = f"{scope}.{part}" if scope else part
    return scope


class _GraphBuilder:
    def __init__(self, model: onnx.ModelProto, label: str) -> None:
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

    def build(
        self, user_inputs: Iterable[InputSpec] | Mapping[str, tuple[int, ...]] | None
    ) -> Graph:
        import onnx

        model = self.model
        if model.functions:
            from onnx import inliner

            model = inliner.inline_local_functions(model)
        opset = self.opsets.get("", 0)
        if opset and opset < MIN_OPSET:
            self.notes.append(
                f"opset {opset} is older than {MIN_OPSET}, the oldest modelprof is tested with"
            )
        stripped = self._stripped_copy(model)
        graph_inputs = self._bind_inputs(stripped.graph, user_inputs)
        try:
            inferred = onnx.shape_inference.infer_shapes(stripped, data_prop=True)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"{self.label}: ONNX shape inference failed: {first}") from None
        self._collect_infos(inferred.graph)
        self._add_nodes(inferred.graph.node, scope_prefix="", branch="", repeat=1)
        return Graph(
            name=self.label,
            source="onnx",
            nodes=tuple(self.nodes),
            tensors=self.tensors,
            inputs=tuple(graph_inputs),
            outputs=tuple(o.name for o in inferred.graph.output),
            weights=self.weights,
            constants=frozenset(self.constants),
            uncounted=tuple(self.uncounted),
            notes=tuple(self.notes),
        )

    # -- weights and the graph copy that shape inference sees --------------------------------

    def _stripped_copy(self, model: onnx.ModelProto) -> onnx.ModelProto:
        import onnx
        from onnx import numpy_helper

        graph = model.graph
        buffers = {
            n.input[i]
            for n in graph.node
            if n.op_type in _BUFFER_INPUTS
            for i in _BUFFER_INPUTS[n.op_type]
            if i < len(n.input)
        }
        value_inputs = {
            n.input[i]
            for n in graph.node
            if n.op_type in _VALUE_INPUTS
            for i in _VALUE_INPUTS[n.op_type]
            if i < len(n.input)
        }
        copy = onnx.ModelProto()
        copy.ir_version = model.ir_version
        copy.opset_import.extend(model.opset_import)
        new = copy.graph
        new.name = graph.name
        declared = {vi.name for vi in graph.input}
        new.input.extend(graph.input)
        new.output.extend(graph.output)
        new.value_info.extend(graph.value_info)
        for init in graph.initializer:
            shape = tuple(init.dims)
            dtype = _dtype(init.data_type)
            self.tensors[init.name] = TensorInfo(init.name, shape, dtype)
            is_value = init.name in value_inputs
            is_float = dtype in FLOAT_DTYPES and not is_value
            if is_float and shape:
                kind: WeightKind = "buffer" if init.name in buffers else "param"
                self.weights[init.name] = Weight(init.name, shape, dtype, kind)
            else:
                self.constants.add(init.name)
            external = init.data_location == onnx.TensorProto.EXTERNAL
            if not is_float and not external and prod(shape) <= SMALL_INT_ELEMENTS:
                new.initializer.append(init)
                if prod(shape) <= 16:
                    self.values[init.name] = numpy_helper.to_array(init)
            elif init.name not in declared:
                new.input.append(
                    onnx.helper.make_tensor_value_info(init.name, init.data_type, list(shape))
                )
        # float Constant nodes become weights (typed inputs), the others stay in place
        new.node.extend(
            n
            for n in graph.node
            if n.op_type != "Constant" or not self._weight_constant(n, new, buffers, value_inputs)
        )
        return copy

    def _weight_constant(
        self, node: Any, graph: Any, buffers: set[str], value_inputs: set[str]
    ) -> bool:
        """Record a Constant node; True when it holds a weight (and so is not a layer).

        A one-element float Constant is a literal (an exporter's ``1.0`` or ``sqrt(d)``), not a
        parameter: exporters put real parameters in initializers.
        """
        import numpy as np
        import onnx
        from onnx import numpy_helper

        out = node.output[0]
        self.constants.add(out)
        tensor = next((a.t for a in node.attribute if a.name == "value"), None)
        if tensor is None:  # value_float, value_ints, ...: scalars and short lists
            value = _attr_value(node.attribute[0]) if node.attribute else None
            if isinstance(value, int | list):
                self.values[out] = np.asarray(value)
            return False
        shape, dtype = tuple(tensor.dims), _dtype(tensor.data_type)
        self.tensors[out] = TensorInfo(out, shape, dtype)
        if dtype in FLOAT_DTYPES and prod(shape) > 1 and out not in value_inputs:
            self.constants.discard(out)
            kind: WeightKind = "buffer" if out in buffers else "param"
            self.weights[out] = Weight(out, shape, dtype, kind)
            graph.input.append(
                onnx.helper.make_tensor_value_info(out, tensor.data_type, list(shape))
            )
            return True
        if prod(shape) <= 16 and tensor.data_location != onnx.TensorProto.EXTERNAL:
            self.values[out] = numpy_helper.to_array(tensor)
        return False

    def _bind_inputs(
        self, graph: Any, user: Iterable[InputSpec] | Mapping[str, tuple[int, ...]] | None
    ) -> list[str]:
        stored = self.tensors.keys()
        real = [vi for vi in graph.input if vi.name not in stored]
        names = [vi.name for vi in real]
        specs = resolve_inputs(user, names)
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
        return names

    # -- shapes and nodes ------------------------------------------------------------------

    def _collect_infos(self, graph: Any) -> None:
        for vi in (*graph.input, *graph.value_info, *graph.output):
            if vi.name in self.tensors:
                continue
            shape = _static_shape(vi.type)
            if shape is not None:
                self.tensors[vi.name] = TensorInfo(
                    vi.name, shape, _dtype(vi.type.tensor_type.elem_type)
                )
        for node in graph.node:
            for attr in node.attribute:
                if attr.g.node or attr.g.output:
                    self._collect_infos(attr.g)

    def _unique(self, name: str) -> str:
        seen = self.names.get(name, 0)
        self.names[name] = seen + 1
        return name if not seen else f"{name}#{seen + 1}"

    def _add_nodes(self, nodes: Iterable[Any], scope_prefix: str, branch: str, repeat: int) -> None:
        for index, node in enumerate(nodes):
            domain = node.domain or ""
            if domain == "ai.onnx":
                domain = ""
            name = self._unique(node.name or f"{scope_prefix}{node.op_type}_{len(self.nodes)}")
            if node.name and scope_prefix:
                name = self._unique(f"{scope_prefix}{node.name}")
            attrs = dict(_schema_defaults(node.op_type, domain, self.opsets.get(domain, 1)))
            subgraphs: dict[str, Any] = {}
            for attr in node.attribute:
                if attr.HasField("g"):
                    subgraphs[attr.name] = attr.g
                attrs[attr.name] = _attr_value(attr)
            scope = _scope(node)
            self.nodes.append(
                Node(
                    name=name,
                    op_type=node.op_type,
                    inputs=tuple(node.input),
                    outputs=tuple(node.output),
                    attrs=attrs,
                    scope=scope,
                    domain=domain,
                    repeat=repeat,
                    branch=branch,
                )
            )
            if subgraphs:
                self._expand(node, name, subgraphs, branch, repeat)
            del index

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
            return int(value.reshape(-1)[0])
        if node.op_type == "Scan":
            attrs = {a.name: _attr_value(a) for a in node.attribute}
            n_scan = int(attrs.get("num_scan_inputs", 0))
            if not n_scan:
                return None
            first = node.input[len(node.input) - n_scan]
            axes = attrs.get("scan_input_axes") or [0]
            info = self.tensors.get(first)
            if info is None:
                return None
            return int(info.shape[int(axes[0])])
        return None


def _describe(dims: list[Any]) -> str:
    parts = [str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
    return "(" + ", ".join(parts) + ")"
