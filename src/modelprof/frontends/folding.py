"""Shapes onnx's inference leaves unknown, completed by evaluating the small computations
that decide them.

torch's TorchScript exporter (``dynamo=False``, still the most common ONNX files) writes shape
arithmetic as little subgraphs of constants: BERT's embeddings expand a constant through
``ConstantOfShape -> Mul -> Equal -> Where -> Expand``, Swin computes its window padding
through ``Reshape/Slice/Transpose/Cast -> Pad``, NFNet reshapes a standardised weight to a
shape read through an ``Identity`` of an initializer. onnx's shape inference reads the value
of an initializer or a Constant node, but not of a tensor computed from them, so everything
downstream of such a node is left without a shape: BERT-base loses all but one of its MatMuls.

:class:`ShapeCompletion` runs after onnx's (strict) inference, and only where it left a node
output unknown. Walking the nodes in order, it infers each such node again with onnx's own
per-node inference (``onnx.shape_inference.infer_node_outputs``), handing it the values of
the inputs that can be computed before running the model: stored tensors, and the outputs of
deterministic shape ops (:data:`FOLDABLE`) evaluated, on demand, by onnx's reference evaluator
(``onnx.reference``). ``Shape`` and ``Size`` of a tensor whose shape is known are read off
that shape. Nothing large is ever evaluated: a tensor is a value only if its shape is known
and it has at most :data:`FOLD_ELEMENTS` elements, and external data is never read. A graph
that onnx fully inferred (every dynamo export, the 100,000-node benchmark chain) never gets
here.

Where shapes still stop, :meth:`ShapeCompletion.explain` says why, node by node: a custom
op, a shape decided by a value only known at run time (and what that value comes from), or
input shapes onnx's inference finds no output shape for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from math import prod
from typing import TYPE_CHECKING, Any

from ..errors import ModelLoadError, first_line
from ..graph import TensorInfo
from .structure import Structure, static_shape

if TYPE_CHECKING:
    import numpy as np
    import onnx

#: The largest tensor (in elements) evaluated or used as a value: shape tensors, index
#: tables and masks are far smaller; weights are never evaluated.
FOLD_ELEMENTS = 1024
#: Deterministic ops of the default domain whose result on small tensors is cheap to compute
#: and may decide a shape (no random ops, no subgraphs).
FOLDABLE = frozenset(
    {
        "Abs",
        "Add",
        "And",
        "ArgMax",
        "ArgMin",
        "Cast",
        "CastLike",
        "Ceil",
        "Clip",
        "Concat",
        "Constant",
        "ConstantOfShape",
        "CumSum",
        "Div",
        "Equal",
        "Expand",
        "EyeLike",
        "Flatten",
        "Floor",
        "Gather",
        "GatherElements",
        "GatherND",
        "Greater",
        "GreaterOrEqual",
        "Identity",
        "Less",
        "LessOrEqual",
        "Max",
        "Min",
        "Mod",
        "Mul",
        "Neg",
        "NonZero",
        "Not",
        "OneHot",
        "Or",
        "Pad",
        "Pow",
        "Range",
        "Reciprocal",
        "ReduceMax",
        "ReduceMean",
        "ReduceMin",
        "ReduceProd",
        "ReduceSum",
        "Reshape",
        "Round",
        "ScatterElements",
        "ScatterND",
        "Shape",
        "Sign",
        "Size",
        "Slice",
        "Split",
        "Sqrt",
        "Squeeze",
        "Sub",
        "Sum",
        "Tile",
        "Transpose",
        "Trilu",
        "Unsqueeze",
        "Where",
        "Xor",
    }
)
#: Input positions whose values (not just shapes) decide an op's output shape.
VALUE_INPUTS: Mapping[str, tuple[int, ...]] = {
    "Reshape": (1,),
    "Expand": (1,),
    "Tile": (1,),
    "ConstantOfShape": (0,),
    "Slice": (1, 2, 3, 4),
    "Pad": (1, 3),
    "Range": (0, 1, 2),
    "Resize": (2, 3),
    "Upsample": (1,),
    "OneHot": (1,),
    "TopK": (1,),
    "Squeeze": (1,),
    "Unsqueeze": (1,),
    "Split": (1,),
    "ReduceSum": (1,),
    "ReduceMean": (1,),
    "ReduceMax": (1,),
    "ReduceMin": (1,),
    "ReduceProd": (1,),
    "ReduceL1": (1,),
    "ReduceL2": (1,),
    "ReduceLogSum": (1,),
    "ReduceLogSumExp": (1,),
    "ReduceSumSquare": (1,),
    "CenterCropPad": (1,),
    "Compress": (1,),
    "Col2Im": (1, 2),
}
#: Ops whose output size depends on the data they read, which no shape inference can know.
DATA_DEPENDENT = frozenset({"NonZero", "Unique", "NonMaxSuppression"})
_GRAPH_ATTRS = (5, 10)  # AttributeProto.GRAPH / GRAPHS


@cache
def _schema(op_type: str, domain: str, version: int) -> onnx.defs.OpSchema | None:
    import onnx

    try:
        return onnx.defs.get_schema(op_type, version, domain)
    except onnx.defs.SchemaError:
        return None


class ShapeCompletion:
    """Complete, in place, the static shapes in ``tensors`` of the nodes of ``graph`` (an
    inferred ``onnx.GraphProto``: its ``value_info`` holds onnx's partial answers) that onnx's
    inference left unknown. ``fields`` are its nodes' inputs and outputs as the structure check
    read them (on a 100,000-node graph each protobuf read counts: the walks here use these);
    ``dtype_names`` maps ONNX dtype codes to modelprof's names."""

    def __init__(
        self,
        graph: onnx.GraphProto,
        tensors: dict[str, TensorInfo],
        fields: Structure,
        *,
        opsets: Mapping[str, int],
        ir_version: int,
        dtype_names: Mapping[int, str],
        label: str,
    ) -> None:
        import onnx

        self.nodes: Sequence[onnx.NodeProto] = graph.node
        self.inputs = fields.inputs
        self.outputs = fields.outputs
        self.tensors = tensors
        self.opsets = dict(opsets)
        self.ir_version = ir_version
        self.dtype_names = dtype_names
        self.label = label
        self.types: dict[str, onnx.TypeProto] = {}
        for vi in (*graph.input, *graph.value_info, *graph.output):
            if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
                self.types[vi.name] = vi.type
        self.stored: dict[str, onnx.TensorProto] = {}
        self.graph_inputs = {vi.name for vi in graph.input}
        external = onnx.TensorProto.EXTERNAL
        self.why: dict[str, str] = {}
        for init in graph.initializer:
            name = init.name
            self.graph_inputs.discard(name)
            if name not in self.types:
                self.types[name] = onnx.helper.make_tensor_type_proto(
                    init.data_type, list(init.dims)
                )
            if init.data_location == external:
                self.why[name] = f"'{name}', stored as external data (never read)"
            elif prod(init.dims) <= FOLD_ELEMENTS:
                self.stored[name] = init
            else:
                self.why[name] = (
                    f"'{name}', a stored tensor of {prod(init.dims):,} elements "
                    f"(only tensors of up to {FOLD_ELEMENTS:,} are evaluated)"
                )
        self.producer = {out: i for i, outs in enumerate(self.outputs) for out in outs if out}
        self.values: dict[str, np.ndarray[Any, Any] | None] = {}
        self.folded: set[str] = set()  # tensors with a value from evaluating a node
        self.fresh: set[str] = set()  # tensors typed here, not by onnx's inference
        self.opset_protos = [onnx.helper.make_opsetid(d, v) for d, v in self.opsets.items()]

    # -- completing ------------------------------------------------------------------------

    def complete(self) -> int:
        """Infer again, in order, each node with an unknown output whose inputs now tell onnx
        more (a value computed here, or a type found here); return how many tensors got a
        static shape. Raises :class:`ModelLoadError` when a node turns out invalid once its
        inputs are known (an invalid model is refused, not counted)."""
        import onnx
        from onnx import numpy_helper

        tensors, types = self.tensors, self.types
        found = 0
        for index, outs in enumerate(self.outputs):
            if all(o in tensors for o in outs if o):
                continue
            inputs = [name for name in self.inputs[index] if name]
            if any(name not in types for name in inputs):
                continue  # onnx knows nothing of an input: neither do we
            node = self.nodes[index]
            if _has_subgraph(node):
                continue
            domain = "" if node.domain in ("", "ai.onnx") else node.domain
            version = self.opsets.get(domain)
            schema = _schema(node.op_type, domain, version) if version else None
            if schema is None:
                continue
            computed = {name: self.value(name) for name in inputs}
            if not self.folded.intersection(computed) and not self.fresh.intersection(inputs):
                continue  # nothing onnx's inference did not already have
            data = {}
            for name, value in computed.items():  # stored values too, now the call is made
                if value is None:
                    continue
                try:
                    data[name] = numpy_helper.from_array(value, name)
                except Exception:  # a dtype onnx cannot store: leave that input's value out
                    continue
            try:
                inferred = onnx.shape_inference.infer_node_outputs(
                    schema,
                    node,
                    {name: self.types[name] for name in inputs},
                    data,
                    opset_imports=self.opset_protos,
                    ir_version=self.ir_version,
                )
            except onnx.shape_inference.InferenceError as exc:
                what = node.name or f"an unnamed {node.op_type}"
                raise ModelLoadError(
                    f"{self.label}: node '{what}' ({node.op_type}) is invalid: "
                    f"{_inference_reason(exc)}"
                ) from None
            except Exception:  # onnx's binding refusing its arguments: the node stays unknown
                continue
            for name, type_proto in inferred.items():
                if name in tensors or not type_proto.HasField("tensor_type"):
                    continue
                self.types[name] = type_proto
                self.fresh.add(name)
                shape = static_shape(type_proto)
                if shape is not None:
                    dtype = self.dtype_names.get(type_proto.tensor_type.elem_type, "float32")
                    tensors[name] = TensorInfo(name, shape, dtype)
                    found += 1
        return found

    # -- values ----------------------------------------------------------------------------

    def value(self, name: str) -> np.ndarray[Any, Any] | None:
        """``name``'s value if it can be computed before running the model, cheaply (else
        None, and :attr:`why` says what it depends on). Producers are evaluated on demand,
        depth first, with an explicit stack (shape chains can be long)."""
        values = self.values
        if name in values:
            return values[name]
        stack = [name]
        while stack:
            current = stack[-1]
            if current in values:
                stack.pop()
                continue
            init = self.stored.get(current)
            if init is not None:
                values[current] = self._stored_value(init)
                stack.pop()
                continue
            index = self.producer.get(current)
            if index is None:
                values[current] = None
                if current in self.graph_inputs:
                    self.why[current] = f"the values of the model's input '{current}'"
                else:
                    self.why.setdefault(current, f"'{current}', whose values are not stored")
                stack.pop()
                continue
            node = self.nodes[index]
            blocked = self._blocked(node)
            if blocked:
                self._settle(node, None, blocked)
                stack.pop()
                continue
            if node.op_type in ("Shape", "Size"):
                self._shape_of(node)
                stack.pop()
                continue
            pending = [i for i in node.input if i and i not in values]
            if pending:
                stack.extend(pending)
                continue
            missing = next((i for i in node.input if i and values[i] is None), None)
            if missing is not None:
                self._settle(node, None, self.why.get(missing, f"'{missing}'"))
            else:
                self._evaluate(node)
            stack.pop()
        return values[name]

    def _blocked(self, node: onnx.NodeProto) -> str:
        """Why ``node``'s outputs are not evaluated ('' when they may be)."""
        what = f"the output of node '{node.name or node.op_type}' ({node.op_type})"
        if node.domain not in ("", "ai.onnx") or node.op_type not in FOLDABLE:
            return f"{what}, which only a run computes"
        if _has_subgraph(node):
            return f"{what}, which only a run computes"
        for out in node.output:
            if not out:
                continue
            info = self.tensors.get(out)
            if info is None:
                return f"{what}, whose shape is not known"
            if prod(info.shape) > FOLD_ELEMENTS:
                return (
                    f"{what}, a tensor of {prod(info.shape):,} elements (only tensors of up "
                    f"to {FOLD_ELEMENTS:,} are evaluated)"
                )
        return ""

    def _settle(self, node: onnx.NodeProto, results: list[Any] | None, why: str) -> None:
        for i, out in enumerate(node.output):
            if not out:
                continue
            value = None if results is None or i >= len(results) else results[i]
            self.values[out] = value
            if value is None:
                self.why[out] = why
            else:
                self.folded.add(out)

    def _shape_of(self, node: onnx.NodeProto) -> None:
        import numpy as np

        source = node.input[0] if node.input else ""
        info = self.tensors.get(source)
        if info is None:
            self._settle(node, None, f"the shape of '{source}', which is not known")
            return
        if node.op_type == "Size":
            self._settle(node, [np.array(prod(info.shape), dtype=np.int64)], "")
            return
        attrs = {a.name: a.i for a in node.attribute if a.name in ("start", "end")}
        start, end = attrs.get("start", 0), attrs.get("end")
        # ONNX's start/end: negative counts from the back, out of range clamps, as a slice does
        dims = info.shape[start:end] if end is not None else info.shape[start:]
        self._settle(node, [np.array(dims, dtype=np.int64)], "")

    def _evaluate(self, node: onnx.NodeProto) -> None:
        """Evaluate ``node`` with onnx's reference implementation; a result that does not
        match the inferred type is not used (the shapes onnx inferred stay authoritative)."""
        import numpy as np
        from onnx.helper import tensor_dtype_to_np_dtype
        from onnx.reference import ReferenceEvaluator

        feeds = {name: self.values[name] for name in node.input if name}
        try:
            with np.errstate(all="ignore"):
                results = ReferenceEvaluator(node, opsets=self.opsets).run(None, feeds)
        except Exception as exc:  # the reference evaluator raises anything: no value
            self._settle(
                node,
                None,
                f"the output of node '{node.name or node.op_type}' ({node.op_type}), which "
                f"could not be evaluated ({first_line(exc)})",
            )
            return
        checked: list[Any] = []
        for out, result in zip(node.output, results, strict=False):
            info = self.tensors.get(out) if out else None
            type_proto = self.types.get(out) if out else None
            array = np.asarray(result)
            if info is None or type_proto is None or array.shape != info.shape:
                checked.append(None)
                continue
            try:
                want = tensor_dtype_to_np_dtype(type_proto.tensor_type.elem_type)
                checked.append(array.astype(want, copy=False))
            except (KeyError, TypeError, ValueError):
                checked.append(None)
        what = f"the output of node '{node.name or node.op_type}' ({node.op_type})"
        self._settle(node, checked, f"{what}, which could not be evaluated")

    def _stored_value(self, init: onnx.TensorProto) -> np.ndarray[Any, Any] | None:
        from onnx import numpy_helper

        try:
            return numpy_helper.to_array(init)
        except (ValueError, TypeError) as exc:  # a payload cleared or short of its dims
            self.why[init.name] = f"'{init.name}', whose stored values cannot be read ({exc})"
            return None

    # -- explaining ------------------------------------------------------------------------

    def explain(self, bound_inputs: bool, limit: int = 2) -> str:
        """One sentence naming where shapes stop and why: the first nodes (at most ``limit``)
        with an unknown output although every input's shape is known. '' when no top-level
        node is left without a shape."""
        tensors = self.tensors
        unknown = [
            index
            for index, outs in enumerate(self.outputs)
            if any(o and o not in tensors for o in outs)
        ]
        if not unknown:
            return ""
        found = [i for i in unknown if all(n in tensors for n in self.inputs[i] if n)]
        roots = [self.nodes[i] for i in (found[:limit] or unknown[:1])]
        causes = "; ".join(
            f"node '{node.name or node.op_type}' ({node.op_type}): "
            f"{self._cause(node, bound_inputs)}"
            for node in roots
        )
        return (
            f"{len(unknown)} node(s) have no known output shape, so what they feed is not "
            f"counted; shapes stop at {causes}"
        )

    def _cause(self, node: onnx.NodeProto, bound_inputs: bool) -> str:
        domain = "" if node.domain in ("", "ai.onnx") else node.domain
        version = self.opsets.get(domain)
        if domain and (version is None or _schema(node.op_type, domain, version) is None):
            return (
                f"a custom op (domain '{domain}') ONNX has no shape inference for, so nothing "
                "gives its output shape"
            )
        if version is None or _schema(node.op_type, domain, version) is None:
            return f"'{node.op_type}' is not an op of ONNX opset {version}"
        if _has_subgraph(node):
            return "its output shape is decided inside its subgraph, which onnx did not infer"
        if node.op_type in DATA_DEPENDENT:
            return "its output size depends on the values it reads, known only at run time"
        for position in VALUE_INPUTS.get(node.op_type, ()):
            if position < len(node.input) and node.input[position]:
                name = node.input[position]
                if self.value(name) is None:
                    if name in self.graph_inputs:
                        return (
                            f"its output shape depends on the values of the model's input "
                            f"'{name}', known only at run time"
                        )
                    source = self.why.get(name, f"'{name}'")
                    return (
                        f"its output shape depends on the value of input '{name}', "
                        f"which depends on {source}"
                    )
        shapes = ", ".join(
            "x".join(map(str, self.tensors[i].shape)) or "scalar"
            for i in node.input
            if i and i in self.tensors
        )
        hint = "; the bound input shapes may not fit the model" if bound_inputs else ""
        return f"ONNX shape inference gives no output shape for inputs of shape {shapes}{hint}"


def _has_subgraph(node: onnx.NodeProto) -> bool:
    return any(attr.type in _GRAPH_ATTRS for attr in node.attribute)


def _inference_reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    marker = "] "
    return text.split(marker, 1)[1] if marker in text else (first_line(exc) or type(exc).__name__)


def complete_shapes(
    graph: onnx.GraphProto,
    tensors: dict[str, TensorInfo],
    fields: Structure,
    *,
    opsets: Mapping[str, int],
    ir_version: int,
    dtype_names: Mapping[int, str],
    label: str,
    bound_inputs: bool,
) -> str:
    """Complete ``tensors`` in place (see :class:`ShapeCompletion`); return a note naming
    where shapes still stop and why ('' if nowhere). The caller checks first that some node
    output has no static shape: most graphs never need this."""
    completion = ShapeCompletion(
        graph,
        tensors,
        fields,
        opsets=opsets,
        ir_version=ir_version,
        dtype_names=dtype_names,
        label=label,
    )
    completion.complete()
    return completion.explain(bound_inputs)
