"""The builder: one pass over an ``openvino.Model`` that makes the framework-neutral Graph.

It binds the inputs' shapes, works out in a first pass over the ops which constants are weights
(see the package docstring), then walks the ops in order, names every tensor and node, and hands
each op to the translation registered for its kind. What the translations share (emitting a
node, reading a small constant's value or a tensor's shape) is public here; everything else
about the pass stays private to it.

The builder is given the registry's lookup rather than importing :mod:`.registry`, because
:mod:`.registry` imports the :data:`Translation` type from here: so the modules import one
another in one direction only (common <- builder <- registry <- families), as the no-cycles
import contract in pyproject.toml requires.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from math import prod
from typing import Any

from ...errors import ShapeError
from ...graph import FLOAT_DTYPES, Graph, Node, TensorInfo, Weight, WeightKind
from ...shapes import InputSpec, resolve_inputs
from ..onnx import join_scope
from .common import Key, bn_order, dtype, plain_attrs
from .reader import import_openvino, reason

#: Integer types OpenVINO stores compressed weights in.
_PACKED = frozenset({"int8", "uint8", "int4", "uint4"})

_CONV = frozenset(
    {
        "Convolution",
        "GroupConvolution",
        "ConvolutionBackpropData",
        "GroupConvolutionBackpropData",
        "BinaryConvolution",
        "DeformableConvolution",
    }
)
#: Inputs that carry values, not weights (ranges, scales, masks): never params.
_VALUE_INPUTS: dict[str, tuple[int, ...]] = {
    "FakeQuantize": (1, 2, 3, 4),
    "Interpolate": (1, 2, 3),
    "Pad": (1, 2, 3),
    "Range": (0, 1, 2),
    "ScaledDotProductAttention": (3, 4),
    "Selu": (1, 2),
    "Elu": (1,),
    "Swish": (1,),
    "Clamp": (1, 2),
    "Broadcast": (1, 2),
    "Select": (0,),
}
#: Ops a weight-decompression chain (or a weight FakeQuantize) is made of.
_DECOMPRESSION = frozenset({"Subtract", "Multiply", "FakeQuantize"})

#: Straight renames: OpenVINO op -> ONNX op, inputs kept as they are.
_RENAME = {
    "Add": "Add",
    "Subtract": "Sub",
    "Multiply": "Mul",
    "Divide": "Div",
    "Power": "Pow",
    "Maximum": "Max",
    "Minimum": "Min",
    "FloorMod": "Mod",
    "Mod": "Mod",
    "Equal": "Equal",
    "Less": "Less",
    "LessEqual": "LessOrEqual",
    "Greater": "Greater",
    "GreaterEqual": "GreaterOrEqual",
    "LogicalAnd": "And",
    "LogicalOr": "Or",
    "LogicalXor": "Xor",
    "LogicalNot": "Not",
    "BitwiseAnd": "BitwiseAnd",
    "BitwiseOr": "BitwiseOr",
    "BitwiseXor": "BitwiseXor",
    "BitwiseNot": "BitwiseNot",
    "Select": "Where",
    "Relu": "Relu",
    "Sigmoid": "Sigmoid",
    "Tanh": "Tanh",
    "Exp": "Exp",
    "Log": "Log",
    "Sqrt": "Sqrt",
    "Abs": "Abs",
    "Negative": "Neg",
    "Floor": "Floor",
    "Ceiling": "Ceil",
    "Sign": "Sign",
    "Sin": "Sin",
    "Cos": "Cos",
    "Tan": "Tan",
    "Asin": "Asin",
    "Acos": "Acos",
    "Atan": "Atan",
    "Sinh": "Sinh",
    "Cosh": "Cosh",
    "Asinh": "Asinh",
    "Acosh": "Acosh",
    "Atanh": "Atanh",
    "Erf": "Erf",
    "HSwish": "HardSwish",
    "HSigmoid": "HardSigmoid",
    "Swish": "Swish",
    "Mish": "Mish",
    "SoftPlus": "Softplus",
    "SoftSign": "Softsign",
    "Selu": "Selu",
    "Elu": "Elu",
    "Round": "Round",
    "IsNaN": "IsNaN",
    "IsInf": "IsInf",
    "Einsum": "Einsum",
    "ReduceSum": "ReduceSum",
    "ReduceProd": "ReduceProd",
    "ReduceMin": "ReduceMin",
    "ReduceL1": "ReduceL1",
    "ReduceL2": "ReduceL2",
    "Reshape": "Reshape",
    "Squeeze": "Squeeze",
    "Unsqueeze": "Unsqueeze",
    "Transpose": "Transpose",
    "Concat": "Concat",
    "ShapeOf": "Shape",
    "Gather": "Gather",
    "GatherElements": "GatherElements",
    "GatherND": "GatherND",
    "StridedSlice": "Slice",
    "Slice": "Slice",
    "Split": "Split",
    "VariadicSplit": "Split",
    "Broadcast": "Expand",
    "Tile": "Tile",
    "Pad": "Pad",
    "Range": "Range",
    "DepthToSpace": "DepthToSpace",
    "SpaceToDepth": "SpaceToDepth",
    "ScatterUpdate": "ScatterND",
    "ScatterNDUpdate": "ScatterND",
    "ScatterElementsUpdate": "ScatterElements",
    "NonZero": "NonZero",
    "OneHot": "OneHot",
    "ReverseSequence": "ReverseSequence",
    "Identity": "Identity",
    "ConvertLike": "CastLike",
    "TopK": "TopK",
    "LRN": "LRN",
}
#: Name parts OpenVINO appends to an ONNX node's name (``/fc/Gemm/WithoutBiases``).
_OV_SUFFIX = re.compile(r"^(WithoutBiases|sink_port_\d+|fq_\w+|Decompose\w*|Fused\w*)$")


def _scope(friendly: str) -> str:
    """Module path from a friendly name (see "Names" in the package docstring)."""
    if friendly.startswith("__module."):
        return friendly[len("__module.") :].split("/", 1)[0]
    if not friendly.startswith("/"):
        return ""
    parts = friendly.split("/")[1:]
    while parts and _OV_SUFFIX.match(parts[-1]):
        parts.pop()
    return join_scope(parts[:-1])


class Builder:
    """Translates one ``openvino.Model`` (which it may reshape: give it a clone or a model
    read for it) into a :class:`Graph`; :meth:`build` once, then throw it away.
    ``translation_for(kind)`` is the translation for an op kind, or None for one that has none
    (it is then renamed, or keeps its name)."""

    def __init__(
        self, model: Any, label: str, translation_for: Callable[[str], Translation | None]
    ) -> None:
        self.model = model
        self.label = label
        self.translation_for = translation_for
        self.tensors: dict[str, TensorInfo] = {}
        self.weights: dict[str, Weight] = {}
        self.constants: set[str] = set()
        self.aliases: dict[str, str] = {}
        self.values: dict[str, Any] = {}  # small constant values (axes, scalars)
        self.nodes: list[Node] = []
        self.notes: list[str] = []
        self.names: dict[str, int] = {}
        self.taken: set[str] = set()
        self.tname: dict[Key, str] = {}
        # filled by _scan
        self.const_src: dict[Key, frozenset[str]] = {}
        self.const_numel: dict[str, int] = {}
        self.roles: dict[str, set[str]] = {}
        self.consumers: Counter[Key] = Counter()
        self.products: dict[str, int] = {}  # 2-D MatMul/Gemm output -> node index
        self.folded_convs: list[int] = []  # node indices of convs a BatchNorm was folded into
        self.named_consts: set[str] = set()  # Constants whose output has a tensor name
        self.literal_slopes: set[str] = set()  # PRelu ops whose one slope is a LeakyRelu alpha

    # -- inputs -----------------------------------------------------------------------------

    def _bind_inputs(
        self, user: Iterable[InputSpec] | Mapping[str, tuple[int, ...]] | None
    ) -> list[str]:
        ov = import_openvino()
        params = list(self.model.get_parameters())
        labels = []
        for param in params:
            names = param.output(0).get_names()
            labels.append(min(names) if names else param.get_friendly_name())
        specs = resolve_inputs(user, labels)
        new_shapes: dict[int, Any] = {}
        retyped = False
        for index, (param, label) in enumerate(zip(params, labels, strict=True)):
            pshape = param.get_partial_shape()
            spec = specs.get(label)
            if spec is None:
                _require_static(label, pshape)
                continue
            if pshape.rank.is_static and pshape.rank.get_length() != len(spec.shape):
                raise ShapeError(
                    f"--input-shape {label} has {len(spec.shape)} dims, but the model's input "
                    f"'{label}' has {pshape.rank.get_length()}: {pshape}"
                )
            if not (pshape.is_static and tuple(pshape.to_shape()) == spec.shape):
                new_shapes[index] = ov.PartialShape(list(spec.shape))
            if spec.dtype and spec.dtype != dtype(param.get_element_type()):
                try:
                    import numpy as np

                    param.set_element_type(ov.Type(np.dtype(spec.dtype)))
                except (TypeError, RuntimeError):
                    raise ShapeError(
                        f"input '{label}': dtype {spec.dtype} cannot be set on an OpenVINO model"
                    ) from None
                retyped = True
        try:
            if retyped:
                self.model.validate_nodes_and_infer_types()
            if new_shapes:
                self.model.reshape(new_shapes)
        except RuntimeError as exc:
            bound = ", ".join(
                f"{labels[i]}={'x'.join(map(str, s.to_shape()))}" for i, s in new_shapes.items()
            )
            raise ShapeError(
                f"{self.label}: the model does not accept {bound or 'these inputs'}: {reason(exc)}"
            ) from None
        return labels

    # -- the pass over constants --------------------------------------------------------------

    def _scan(self, ops: list[Any]) -> list[tuple[Any, str, str, list[Key]]]:
        """Which outputs derive from constants only, how each constant is used, and how many
        consumers every output has."""
        records = []
        const_src = self.const_src
        roles = self.roles
        for op in ops:
            kind = op.get_type_name()
            key = op.get_name()
            in_keys: list[Key] = []
            for port in op.inputs():
                source = port.get_source_output()
                in_keys.append((source.get_node().get_name(), source.get_index()))
            records.append((op, kind, key, in_keys))
            for ik in in_keys:
                self.consumers[ik] += 1
            if kind == "Constant":
                const_src[(key, 0)] = frozenset((key,))
                self.const_numel[key] = prod(op.get_output_partial_shape(0).to_shape())
                if op.output(0).get_names():
                    self.named_consts.add(key)
                continue
            if kind in ("Parameter", "Result"):
                continue
            all_const = bool(in_keys) and all(ik in const_src for ik in in_keys)
            if all_const:
                sources = frozenset().union(*(const_src[ik] for ik in in_keys))
                for j in range(op.get_output_size()):
                    const_src[(key, j)] = sources

            def mark(ik: Key, role: str) -> None:
                for c in const_src.get(ik, ()):
                    roles.setdefault(c, set()).add(role)

            if kind in _CONV and len(in_keys) > 1:
                mark(in_keys[1], "slot")
            elif kind == "MatMul":
                for ik in in_keys:
                    mark(ik, "slot")
            elif kind == "PRelu" and len(in_keys) > 1 and in_keys[1] in const_src:
                if self._learned_slope(op, const_src[in_keys[1]]):
                    mark(in_keys[1], "slot")
                else:
                    self.literal_slopes.add(key)
            elif kind == "BatchNormInference":
                order = bn_order(op)
                for pos in (order[3], order[4]):
                    mark(in_keys[pos], "buffer")
            elif (
                kind == "Convert"
                and in_keys[0] in const_src
                and dtype(op.get_output_element_type(0)) in FLOAT_DTYPES
            ):
                mark(in_keys[0], "decompress")
            for pos in _VALUE_INPUTS.get(kind, ()):
                if pos < len(in_keys) and not (kind == "FakeQuantize" and all_const and pos == 0):
                    mark(in_keys[pos], "value")
            if all_const and kind in ("Subtract", "Multiply") and len(in_keys) == 2:
                sizes = [sum(self.const_numel[c] for c in const_src[ik]) for ik in in_keys]
                mark(in_keys[1] if sizes[0] >= sizes[1] else in_keys[0], "quant")
        return records

    def _learned_slope(self, op: Any, sources: frozenset[str]) -> bool:
        """Whether a PRelu's constant slope is a learned parameter, not a LeakyRelu's alpha.

        OpenVINO turns both ONNX ``LeakyRelu`` and ``PRelu`` into ``PRelu``, and a PReLU whose
        slope is shared by every channel has one element, like an alpha. What tells them
        apart is where the constant came from: a learned slope is a named tensor (the ONNX
        initializer, the PyTorch parameter ``self.act.weight``), of shape ``[1]``; an alpha is
        a constant the converter made from an attribute, with no tensor name (ONNX
        ``LeakyRelu``), or PyTorch's ``negative_slope`` scalar, of rank 0. So the slope counts
        as one param of a ``PRelu``, as on the ONNX and PyTorch routes, exactly when it has
        more than one element, or one element in a named tensor of rank 1 or more.
        """
        if sum(self.const_numel[c] for c in sources) > 1:
            return True
        rank = op.get_input_partial_shape(1).rank
        return (
            rank.is_static
            and rank.get_length() >= 1
            and all(c in self.named_consts for c in sources)
        )

    # -- the build ---------------------------------------------------------------------------

    def build(self, user: Iterable[InputSpec] | Mapping[str, tuple[int, ...]] | None) -> Graph:
        labels = self._bind_inputs(user)
        ops = list(self.model.get_ordered_ops())
        records = self._scan(ops)
        params = {
            p.get_name(): label
            for p, label in zip(self.model.get_parameters(), labels, strict=True)
        }
        outputs: list[str] = []
        for op, kind, key, in_keys in records:
            if kind == "Parameter":
                name = params[key]
                self.taken.add(name)
                self.tname[(key, 0)] = name
                self._info(name, op.output(0))
                continue
            if kind == "Result":
                outputs.append(self.tname[in_keys[0]])
                continue
            outs = self._name_outputs(op, key)
            if kind == "Constant":
                self._constant(op, key, outs[0])
                continue
            ins = [self.tname[ik] for ik in in_keys]
            self._translate(op, kind, key, ins, in_keys, outs)
        self._note_folding()
        fp16 = sum(1 for w in self.weights.values() if w.dtype == "float16")
        if fp16 and fp16 == len(self.weights):
            self.notes.append(
                "weights are stored in float16 (an FP16-compressed IR) and decompressed by "
                "Convert ops: weight bytes are those of the stored float16"
            )
        return Graph(
            name=self.label,
            source="openvino",
            nodes=tuple(self.nodes),
            tensors=self.tensors,
            inputs=tuple(labels),
            outputs=tuple(outputs),
            weights=self.weights,
            constants=frozenset(self.constants),
            aliases=self.aliases,
            notes=tuple(self.notes),
        )

    def _name_outputs(self, op: Any, key: str) -> list[str]:
        friendly = op.get_friendly_name()
        outs = []
        for j, output in enumerate(op.outputs()):
            names = output.get_names()
            name = min(names) if names else ""
            if not name or name in self.taken:
                name = f"{friendly}:{j}"
                while name in self.taken:
                    name += "'"
            self.taken.add(name)
            self.tname[(key, j)] = name
            self._info(name, output)
            outs.append(name)
        return outs

    def _info(self, name: str, output: Any) -> None:
        pshape = output.get_partial_shape()
        if pshape.is_static:
            shape = tuple(int(d) for d in pshape.to_shape())
            self.tensors[name] = TensorInfo(name, shape, dtype(output.get_element_type()))

    def _constant(self, op: Any, key: str, out: str) -> None:
        info = self.tensors[out]
        roles = self.roles.get(key, set())
        numel = info.numel
        kind: WeightKind | None = None
        if info.dtype in FLOAT_DTYPES:
            if "value" in roles:
                kind = None
            elif "quant" in roles:
                kind = "buffer" if numel > 1 else None
            elif numel > 1 or "slot" in roles:
                kind = "buffer" if "buffer" in roles else "param"
        elif info.dtype in _PACKED and "decompress" in roles and numel > 1:
            kind = "buffer" if "quant" in roles else "param"
        if kind is not None:
            self.weights[out] = Weight(out, info.shape, info.dtype, kind)
            return
        self.constants.add(out)
        if numel <= 64:
            try:
                import numpy as np

                self.values[out] = np.array(op.get_data())
            except (RuntimeError, TypeError, ValueError):
                pass

    def _unique(self, name: str) -> str:
        seen = self.names.get(name, 0)
        self.names[name] = seen + 1
        return name if not seen else f"{name}#{seen + 1}"

    def emit(
        self,
        op: Any,
        op_type: str,
        inputs: list[str],
        outputs: list[str],
        attrs: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        scope: str | None = None,
    ) -> int:
        """Add a node for ``op`` and return its index in :attr:`nodes`. It takes the op's
        friendly name (made unique) unless ``name`` is given, and the scope that name encodes
        unless ``scope`` is given."""
        friendly = name or op.get_friendly_name()
        self.nodes.append(
            Node(
                self._unique(friendly),
                op_type,
                tuple(inputs),
                tuple(outputs),
                dict(attrs or {}),
                _scope(op.get_friendly_name()) if scope is None else scope,
            )
        )
        return len(self.nodes) - 1

    def value(self, tensor: str) -> Any:
        """The value of a small constant tensor (a numpy array), or None when not known."""
        return self.values.get(tensor)

    def shape(self, tensor: str) -> tuple[int, ...] | None:
        """A tensor's static shape, or None when it is not static."""
        info = self.tensors.get(tensor)
        return info.shape if info is not None else None

    # -- translation ---------------------------------------------------------------------------

    def _translate(
        self, op: Any, kind: str, key: str, ins: list[str], in_keys: list[Key], outs: list[str]
    ) -> None:
        all_const = bool(in_keys) and all(ik in self.const_src for ik in in_keys)
        if kind == "Convert":
            if all_const:
                value = self.value(ins[0])
                if value is not None:
                    self.values[outs[0]] = value
                self.emit(op, "Convert", ins, outs, {"to": dtype(op.get_output_element_type(0))})
            else:
                self.emit(op, "Cast", ins, outs, {"to": dtype(op.get_output_element_type(0))})
            return
        if all_const and kind == "FakeQuantize":  # on a weight: a weight-only transform
            self.emit(op, "FakeQuantize", ins, outs, plain_attrs(op))
            return
        if all_const and kind in _DECOMPRESSION:
            # weight decompression, (w - zero point) x scale: a weight-only transform
            self.emit(op, "DequantizeLinear", ins, outs, {"openvino_type": kind})
            return
        translation = self.translation_for(kind)
        if translation is not None:
            translation(self, op, ins, in_keys, outs)
            return
        if kind in _RENAME:
            attrs = plain_attrs(op)
            self.emit(op, _RENAME[kind], ins, outs, attrs)
            return
        self.emit(op, kind, ins, outs, plain_attrs(op))

    # -- notes -------------------------------------------------------------------------------

    def _note_folding(self) -> None:
        """Convs OpenVINO's converter folded a BatchNorm into (it names them Multiply_<n>)."""
        if not self.folded_convs:
            return
        channels = biased = 0
        consumers: dict[str, Node] = {}
        for node in self.nodes:
            for name in node.inputs:
                consumers.setdefault(name, node)
        for index in self.folded_convs:
            node = self.nodes[index]
            out = self.tensors.get(node.outputs[0])
            width = out.shape[1] if out is not None and len(out.shape) >= 2 else 0
            channels += width
            add = consumers.get(node.outputs[0])
            if add is not None and add.op_type == "Add":
                biased += width  # the fold's bias is still there (OpenVINO drops all-zero ones)
                if not node.scope and add.scope:
                    # the bias Add carries the BatchNorm's module path: the closest to the conv's
                    self.nodes[index] = node._replace(scope=add.scope)
        count = len(self.folded_convs)
        kept = (
            f"became a bias (C), so params are {2 * channels - biased:,} fewer"
            if biased == channels
            else f"became biases where they were not all zero ({biased:,} of {channels:,} "
            f"channels), so params are {2 * channels - biased:,} fewer"
        )
        self.notes.append(
            f"OpenVINO folded {count} BatchNorm{'s' if count != 1 else ''} ({channels:,} channels) "
            f"into the preceding convolution{'s' if count != 1 else ''}: each one's gamma and "
            f"beta (2 x C params) {kept} than in the model before folding (with no conv bias "
            "of its own)"
        )


#: A translation: ``(builder, op, ins, in_keys, outs) -> None`` (see :mod:`.registry`).
Translation = Callable[[Builder, Any, list[str], list[Key], list[str]], None]


def _require_static(label: str, pshape: Any) -> None:
    if pshape.rank.is_dynamic:
        raise ShapeError(
            f"input '{label}' has no static rank: give its shape with "
            f"--input-shape {label}=1x3x224x224"
        )
    if pshape.is_static:
        return
    dims = list(pshape)
    for i, dim in enumerate(dims):
        if dim.is_dynamic:
            example = "x".join(str(d.get_length()) if d.is_static else "1" for d in dims)
            raise ShapeError(
                f"input '{label}' dim {i} is dynamic: bind it with --input-shape {label}={example}"
            )
