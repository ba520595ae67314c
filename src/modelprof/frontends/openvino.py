"""OpenVINO IR (``model.xml`` + ``model.bin``) or ``openvino.Model`` -> Graph.

The model is read with the openvino package itself (``Core.read_model``), its dynamic dims are
bound with ``Model.reshape``, and every op of ``get_ordered_ops()`` is translated into the ONNX
op it stands for, with ONNX attribute names, so the cost rules are written once:

* ``Convolution`` -> ``Conv``; ``GroupConvolution`` -> ``Conv`` with ``group = G``, its weight
  reshaped (by a weight-only ``Reshape`` the analysis folds) from OpenVINO's
  ``(G, Cout/G, Cin/G, k...)`` to ONNX's ``(Cout, Cin/G, k...)``; ``ConvolutionBackpropData`` ->
  ``ConvTranspose`` (OpenVINO's ``(Cin, Cout, k...)`` is ONNX's layout; its ``output_shape``
  input is dropped, since input 2 of ConvTranspose is a bias); ``GroupConvolutionBackpropData`` ->
  ``ConvTranspose`` with ``group``.
* ``MatMul`` with ``transpose_a``/``transpose_b``: 2-D operands with a transpose become ``Gemm``
  with ``transA``/``transB`` (what OpenVINO makes of an ONNX Gemm); a batched ``transpose_a``
  reads its first operand through a transposed view, so the MatMul rule sees the right K.
* ``AvgPool``/``MaxPool`` -> ``AveragePool``/``MaxPool`` (``kernel_shape``, ``pads``...);
  ``ReduceMean``/``ReduceMax`` over every spatial axis with ``keep_dims`` ->
  ``GlobalAveragePool``/``GlobalMaxPool``; ``AdaptiveAvgPool`` to 1x1 -> ``GlobalAveragePool``.
* Elementwise ops and activations get their ONNX names (``Multiply`` -> ``Mul``, ``Clamp`` ->
  ``Clip``, ``HSwish`` -> ``HardSwish``, ``SoftMax`` -> ``Softmax``...). OpenVINO makes both
  ``LeakyRelu`` and ``PRelu`` a ``PRelu``: one whose single slope is an anonymous constant (made
  from an ONNX ``alpha``) or a rank-0 scalar (PyTorch's ``negative_slope``) is ``LeakyRelu``,
  with no params; a slope in a named tensor of rank 1 or more (``[1]``: a PReLU's shared slope)
  stays a ``PRelu`` and counts as one param, as on the ONNX and PyTorch routes.
* ``MVN`` (with variance) -> ``LayerNormalization`` (``InstanceNormalization`` over the spatial
  axes of a 4-D or larger input) without scale and bias: OpenVINO keeps LayerNorm's gamma and
  beta as a separate ``Multiply`` and ``Add``, which cost 1 FLOP per element each, so the total
  is ONNX's 5 + 1 + 1.
* ``ScaledDotProductAttention`` -> ONNX ``Attention`` (q, k, v, mask; the scale input is dropped,
  and so is an all-zero constant mask, which masks nothing).
* Data movement (``Reshape``, ``Transpose``, ``ShapeOf`` -> ``Shape``, ``StridedSlice`` ->
  ``Slice``, ``Broadcast`` -> ``Expand``...) keeps or gets the zero-cost ONNX name.
* ``Parameter`` is a graph input, ``Result`` a graph output. An op with no ONNX counterpart
  keeps its OpenVINO name, so it is reported as unsupported, never silently zero.

Weights. A ``Constant`` is a weight when it is float with more than one element (or feeds the
weight input of a convolution or MatMul): this is what the ONNX frontend counts, and it makes
the constants OpenVINO splits out of fused ONNX ops count as they did there: a Gemm's or Conv's
bias becomes a separate ``Add`` of a ``(1, N)``/``(1, C, 1, 1)`` constant, which the analysis
folds back into the layer as a bias. One-element float constants (scales, epsilons, a Gemm's
``alpha``) are literals, except a PReLU's shared slope (see above). Weight bytes follow the
stored dtype: an IR saved with FP16 compression (``ov.save_model``'s default) stores ``f16``
constants followed by a ``Convert`` to f32; the ``Convert`` is kept as a ``Convert`` node,
which the analysis folds into the consumer, so params are unchanged and weight bytes are half.
Compressed integer weights (``i8``/``u8``/``i4``/``u4`` constants decompressed by ``Convert``
-> ``Subtract`` (zero point) -> ``Multiply`` (scale)) are params in their stored dtype; the
zero points and scales are buffers, and the decompression steps are weight-only transforms
(``DequantizeLinear`` nodes carrying ``openvino_type``), folded like the ``Convert``.

Decompositions OpenVINO makes, and how they line up with the source model:

* ONNX ``Gemm`` -> ``MatMul`` + ``Multiply`` (alpha, only when alpha != 1) + ``Add`` (beta x C):
  the alpha ``Multiply`` of a 2-D product is folded back into the product (the Gemm rule does
  not count alpha either), so the bias ``Add`` follows the product and is folded as a bias.
* ``BatchNormalization`` after a convolution is folded into the convolution's weights and a
  bias by OpenVINO's converter (the convolution is then named ``Multiply_<n>``): gamma and
  beta (2 x C params) become a bias (C), exactly as when an exporter folds BatchNorm, and the
  graph carries a note saying so. A BatchNorm with no convolution before it becomes a
  ``Multiply`` and an ``Add`` of ``(1, C, 1, 1)`` constants: 2 x C params (the folded scale and
  shift), as many as gamma and beta; the running mean and variance (2 x C buffers on the ONNX
  route) no longer exist. The two elementwise ops cost 2 FLOPs per element, as the
  BatchNormalization rule does.

Quantisation. ``FakeQuantize`` on activations keeps its name and counts as an op of its own:
the convention is 4 FLOPs per output element (clamp to the input range, scale, round,
rescale to the output range), for the cost rule registered under ``FakeQuantize``. Its four
range inputs are values, not weights. A ``FakeQuantize`` applied to a weight constant
(a non-compressed quantised IR) is a weight-only transform, constant-folded by the runtime,
and is folded into the consuming layer like a decompression.

Names. Tensors take the output's tensor name where it has one (``input``, ``val_1``), else
``<friendly name>:<output index>``; nodes take the op's friendly name, exactly as the runtime
reports it (so profiles map back). The scope is the module path encoded in the friendly name:
``__module.layer1.0.conv1/aten::_convolution/Convolution`` (PyTorch converted directly) and
``/layer1/layer1.0/conv1/Conv/WithoutBiases`` (via ONNX) both give ``layer1.0.conv1``.
"""

from __future__ import annotations

import os
import re
import xml.parsers.expat
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import cache
from math import ceil, prod
from pathlib import Path
from typing import Any

from ..errors import MissingExtraError, ModelLoadError, ShapeError
from ..graph import FLOAT_DTYPES, Graph, Node, TensorInfo, Weight, WeightKind
from ..shapes import InputSpec, resolve_inputs
from .onnx import _join_scope

#: OpenVINO element types -> numpy-style names (DTYPE_BYTES). 4-bit float/NF4 codes are stored
#: as 4-bit integers, f8e8m0 (a scale type) as a byte.
_OV_DTYPES = {
    "f64": "float64",
    "f32": "float32",
    "f16": "float16",
    "bf16": "bfloat16",
    "f8e4m3": "float8e4m3fn",
    "f8e5m2": "float8e5m2",
    "f8e8m0": "uint8",
    "f4e2m1": "uint4",
    "nf4": "uint4",
    "i64": "int64",
    "u64": "uint64",
    "i32": "int32",
    "u32": "uint32",
    "i16": "int16",
    "u16": "uint16",
    "i8": "int8",
    "u8": "uint8",
    "i4": "int4",
    "u4": "uint4",
    "u2": "uint4",
    "u3": "uint4",
    "u6": "uint8",
    "u1": "bool",
    "boolean": "bool",
    "string": "string",
}
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
_AUTO_PAD = {
    "explicit": "NOTSET",
    "notset": "NOTSET",
    "same_upper": "SAME_UPPER",
    "same_lower": "SAME_LOWER",
    "valid": "VALID",
}
#: Name parts OpenVINO appends to an ONNX node's name (``/fc/Gemm/WithoutBiases``).
_OV_SUFFIX = re.compile(r"^(WithoutBiases|sink_port_\d+|fq_\w+|Decompose\w*|Fused\w*)$")
_FOLDED_CONV = re.compile(r"^Multiply_\d+$")

Key = tuple[str, int]


def _import_openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise MissingExtraError("openvino", "openvino") from None
    return openvino


@cache
def _core() -> Any:
    return _import_openvino().Core()


def read_model(path: str | os.PathLike[str]) -> Any:
    """Read ``model.xml`` and the ``model.bin`` beside it, or explain in one line why not."""
    _import_openvino()
    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"no such file: {p}")
    if p.is_dir():
        raise ModelLoadError(f"{p} is a directory, not a model file")
    weights = p.with_suffix(".bin")
    if not weights.is_file():
        raise ModelLoadError(
            f"{p}: its weights file {weights.name} is missing "
            "(an OpenVINO IR is model.xml with model.bin beside it)"
        )
    _check_xml(p)
    core = _core()
    try:
        return core.read_model(str(p), str(weights))
    except RuntimeError as exc:
        raise ModelLoadError(f"{p}: OpenVINO cannot read this IR: {_reason(exc)}") from None


def _check_xml(path: Path) -> None:
    """Well-formed XML whose root is <net>; OpenVINO's own error for anything else is a list of
    every frontend it tried (and the TensorFlow one logs to stderr)."""
    parser = xml.parsers.expat.ParserCreate()
    roots: list[str] = []

    def start(tag: str, attrs: Any) -> None:
        if not roots:
            roots.append(tag)

    parser.StartElementHandler = start
    try:
        with open(path, "rb") as handle:
            parser.ParseFile(handle)
    except xml.parsers.expat.ExpatError as exc:
        raise ModelLoadError(
            f"{path} is not well-formed XML (line {exc.lineno}: "
            f"{xml.parsers.expat.ErrorString(exc.code)}): is it really an OpenVINO IR?"
        ) from None
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if roots != ["net"]:
        found = f"<{roots[0]}>" if roots else "nothing"
        raise ModelLoadError(
            f"{path} is not an OpenVINO IR: its root element is {found}, not <net>"
        )


def _reason(exc: BaseException) -> str:
    """The line of an OpenVINO exception that says what is wrong (not where it was thrown)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [
        line
        for line in lines
        if not line.startswith(("Exception from", "Check '", "While validating"))
    ]
    return (useful or lines or [type(exc).__name__])[-1]


def load(
    path: str | os.PathLike[str],
    inputs: Iterable[InputSpec] | Mapping[str, tuple[int, ...]] | None = None,
    *,
    name: str | None = None,
) -> Graph:
    """Translate an IR file (``.xml`` with its ``.bin``) into a :class:`Graph`."""
    model = read_model(path)
    return _Builder(model, name or Path(path).name).build(inputs)


def load_model(
    model: Any,
    inputs: Iterable[InputSpec] | Mapping[str, tuple[int, ...]] | None = None,
    *,
    name: str | None = None,
) -> Graph:
    """Translate an ``openvino.Model`` (left as it is: binding shapes works on a clone)."""
    _import_openvino()
    label = name or model.get_friendly_name() or "model"
    return _Builder(model.clone(), label).build(inputs)


def _dtype(element_type: Any) -> str:
    return _OV_DTYPES.get(element_type.get_type_name(), "float32")


def _scope(friendly: str) -> str:
    """Module path from a friendly name (see the module docstring)."""
    if friendly.startswith("__module."):
        return friendly[len("__module.") :].split("/", 1)[0]
    if not friendly.startswith("/"):
        return ""
    parts = friendly.split("/")[1:]
    while parts and _OV_SUFFIX.match(parts[-1]):
        parts.pop()
    return _join_scope(parts[:-1])


def _ints(value: Any) -> list[int]:
    return [int(v) for v in value]


class _Builder:
    def __init__(self, model: Any, label: str) -> None:
        self.model = model
        self.label = label
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
        ov = _import_openvino()
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
            if spec.dtype and spec.dtype != _dtype(param.get_element_type()):
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
                f"{self.label}: the model does not accept {bound or 'these inputs'}: {_reason(exc)}"
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
                order = _bn_order(op)
                for pos in (order[3], order[4]):
                    mark(in_keys[pos], "buffer")
            elif (
                kind == "Convert"
                and in_keys[0] in const_src
                and _dtype(op.get_output_element_type(0)) in FLOAT_DTYPES
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
            self.tensors[name] = TensorInfo(name, shape, _dtype(output.get_element_type()))

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

    def _emit(
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

    def _value(self, tensor: str) -> Any:
        return self.values.get(tensor)

    def _shape(self, tensor: str) -> tuple[int, ...] | None:
        info = self.tensors.get(tensor)
        return info.shape if info is not None else None

    # -- translation ---------------------------------------------------------------------------

    def _translate(
        self, op: Any, kind: str, key: str, ins: list[str], in_keys: list[Key], outs: list[str]
    ) -> None:
        all_const = bool(in_keys) and all(ik in self.const_src for ik in in_keys)
        if kind == "Convert":
            if all_const:
                value = self._value(ins[0])
                if value is not None:
                    self.values[outs[0]] = value
                self._emit(op, "Convert", ins, outs, {"to": _dtype(op.get_output_element_type(0))})
            else:
                self._emit(op, "Cast", ins, outs, {"to": _dtype(op.get_output_element_type(0))})
            return
        if all_const and kind == "FakeQuantize":  # on a weight: a weight-only transform
            self._emit(op, "FakeQuantize", ins, outs, _plain_attrs(op))
            return
        if all_const and kind in _DECOMPRESSION:
            # weight decompression, (w - zero point) x scale: a weight-only transform
            self._emit(op, "DequantizeLinear", ins, outs, {"openvino_type": kind})
            return
        handler = getattr(self, f"_op_{kind}", None)
        if handler is not None:
            handler(op, ins, in_keys, outs)
            return
        if kind in _RENAME:
            attrs = _plain_attrs(op)
            self._emit(op, _RENAME[kind], ins, outs, attrs)
            return
        self._emit(op, kind, ins, outs, _plain_attrs(op))

    # convolutions

    def _conv_attrs(self, op: Any, weight: tuple[int, ...] | None, group: int) -> dict[str, Any]:
        a = op.get_attributes()
        attrs: dict[str, Any] = {
            "auto_pad": _AUTO_PAD.get(str(a.get("auto_pad", "explicit")).lower(), "NOTSET"),
            "dilations": _ints(a.get("dilations", [])),
            "group": group,
            "pads": _ints(a.get("pads_begin", [])) + _ints(a.get("pads_end", [])),
            "strides": _ints(a.get("strides", [])),
        }
        if weight is not None:
            attrs["kernel_shape"] = list(weight[2:])
        if "output_padding" in a:
            attrs["output_padding"] = _ints(a["output_padding"])
        return attrs

    def _grouped_weight(self, op: Any, weight: str, transposed: bool) -> tuple[str, int]:
        """Reshape OpenVINO's grouped weight to ONNX's layout with a weight-only Reshape."""
        shape = self._shape(weight)
        if shape is None or len(shape) < 3:
            return weight, 1
        groups = shape[0]
        onnx_shape = (groups * shape[1], *shape[2:])
        out = f"{op.get_friendly_name()}/weight:0"
        while out in self.taken:
            out += "'"
        self.taken.add(out)
        info = self.tensors[weight]
        self.tensors[out] = TensorInfo(out, onnx_shape, info.dtype)
        label = (
            "(G, Cin/G, Cout/G, k...) -> (Cin, Cout/G, k...)"
            if transposed
            else ("(G, Cout/G, Cin/G, k...) -> (Cout, Cin/G, k...)")
        )
        self._emit(
            op,
            "Reshape",
            [weight],
            [out],
            {"openvino_layout": label},
            name=f"{op.get_friendly_name()}/weight_reshape",
        )
        return out, groups

    def _conv(self, op: Any, ins: list[str], outs: list[str], weight: str, group: int) -> None:
        index = self._emit(
            op, "Conv", [ins[0], weight], outs, self._conv_attrs(op, self._shape(weight), group)
        )
        if _FOLDED_CONV.match(op.get_friendly_name()):
            self.folded_convs.append(index)

    def _op_Convolution(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        self._conv(op, ins, outs, ins[1], 1)

    def _op_GroupConvolution(
        self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
    ) -> None:
        weight, groups = self._grouped_weight(op, ins[1], transposed=False)
        self._conv(op, ins, outs, weight, groups)

    def _op_ConvolutionBackpropData(
        self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
    ) -> None:
        attrs = self._conv_attrs(op, self._shape(ins[1]), 1)
        self._emit(op, "ConvTranspose", ins[:2], outs, attrs)

    def _op_GroupConvolutionBackpropData(
        self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
    ) -> None:
        weight, groups = self._grouped_weight(op, ins[1], transposed=True)
        attrs = self._conv_attrs(op, self._shape(weight), groups)
        self._emit(op, "ConvTranspose", [ins[0], weight], outs, attrs)

    # products

    def _op_MatMul(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        a = op.get_attributes()
        ta, tb = bool(a.get("transpose_a")), bool(a.get("transpose_b"))
        rank_a = op.get_input_partial_shape(0).rank
        rank_b = op.get_input_partial_shape(1).rank
        ra = rank_a.get_length() if rank_a.is_static else 0
        rb = rank_b.get_length() if rank_b.is_static else 0
        if ra == 2 and rb == 2:
            if ta or tb:
                attrs = {"alpha": 1.0, "beta": 1.0, "transA": int(ta), "transB": int(tb)}
                self.products[outs[0]] = self._emit(op, "Gemm", ins, outs, attrs)
            else:
                self.products[outs[0]] = self._emit(op, "MatMul", ins, outs)
            return
        inputs = list(ins)
        if ta and ra >= 2:
            inputs[0] = self._transposed_view(ins[0])
        self._emit(op, "MatMul", inputs, outs)

    def _transposed_view(self, tensor: str) -> str:
        view = f"{tensor}:T"
        shape = self._shape(tensor)
        if shape is not None:
            info = self.tensors[tensor]
            swapped = (*shape[:-2], shape[-1], shape[-2])
            self.tensors[view] = TensorInfo(view, swapped, info.dtype)
        self.aliases[view] = tensor
        return view

    def _op_Multiply(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        # Gemm's alpha: a 2-D product times a one-element constant, folded into the product
        for data, other, data_key in ((0, 1, in_keys[0]), (1, 0, in_keys[1])):
            producer = self.products.get(ins[data])
            if (
                producer is not None
                and in_keys[other] in self.const_src
                and self.consumers[data_key] == 1
                and self.tensors.get(ins[other]) is not None
                and self.tensors[ins[other]].numel == 1
            ):
                node = self.nodes[producer]
                attrs = dict(node.attrs)
                value = self._value(ins[other])
                if value is not None and node.op_type == "Gemm":
                    attrs["alpha"] = float(value.reshape(-1)[0])
                self.nodes[producer] = node._replace(outputs=tuple(outs), attrs=attrs)
                self.products[outs[0]] = producer
                return
        self._emit(op, "Mul", ins, outs)

    def _op_ScaledDotProductAttention(
        self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
    ) -> None:
        q, k, v = ins[0], ins[1], ins[2]
        inputs = [q, k, v]
        if len(ins) > 3:
            mask = self._value(ins[3])
            if not (mask is not None and in_keys[3] in self.const_src and not mask.any()):
                inputs.append(ins[3])
        shapes = [self._shape(t) for t in inputs[:3]]
        if all(s is not None and len(s) != 4 for s in shapes):
            # ONNX Attention reads 4-D (B, H, L, E): view the batch dims as heads
            for i in range(3):
                shape = shapes[i]
                assert shape is not None
                view = f"{inputs[i]}:4d"
                info = self.tensors[inputs[i]]
                lead = prod(shape[:-2])
                self.tensors[view] = TensorInfo(view, (1, lead, *shape[-2:]), info.dtype)
                self.aliases[view] = inputs[i]
                inputs[i] = view
        attrs = {"is_causal": int(bool(op.get_attributes().get("causal", False)))}
        self._emit(op, "Attention", inputs, outs, attrs)

    # pooling and reductions

    def _pool_attrs(self, op: Any) -> dict[str, Any]:
        a = op.get_attributes()
        attrs: dict[str, Any] = {
            "auto_pad": _AUTO_PAD.get(str(a.get("auto_pad", "explicit")).lower(), "NOTSET"),
            "ceil_mode": int(str(a.get("rounding_type", "floor")).lower() == "ceil"),
            "kernel_shape": _ints(a.get("kernel", [])),
            "pads": _ints(a.get("pads_begin", [])) + _ints(a.get("pads_end", [])),
            "strides": _ints(a.get("strides", [])),
        }
        return attrs

    def _op_AvgPool(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        attrs = self._pool_attrs(op)
        attrs["count_include_pad"] = int(not op.get_attributes().get("exclude-pad", False))
        self._emit(op, "AveragePool", ins, outs, attrs)

    def _op_MaxPool(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        attrs = self._pool_attrs(op)
        attrs["dilations"] = _ints(
            op.get_attributes().get("dilations", [1] * len(attrs["strides"]))
        )
        attrs["storage_order"] = 0
        self._emit(op, "MaxPool", ins, outs, attrs)

    def _adaptive(self, op: Any, ins: list[str], outs: list[str], onnx_op: str) -> None:
        x, y = self._shape(ins[0]), self._shape(outs[0])
        if x is not None and y is not None and all(d == 1 for d in y[2:]):
            self._emit(op, f"Global{onnx_op}", ins[:1], outs)
            return
        kernel = [ceil(i / o) for i, o in zip(x[2:], y[2:], strict=True)] if x and y else []
        attrs = {"kernel_shape": kernel, "adaptive": 1}
        self._emit(op, onnx_op, ins[:1], outs, attrs)

    def _op_AdaptiveAvgPool(
        self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
    ) -> None:
        self._adaptive(op, ins, outs, "AveragePool")

    def _op_AdaptiveMaxPool(
        self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
    ) -> None:
        self._adaptive(op, ins, outs, "MaxPool")

    def _reduce(self, op: Any, ins: list[str], outs: list[str], onnx_op: str, pool: str) -> None:
        keep = bool(op.get_attributes().get("keep_dims", False))
        axes_value = self._value(ins[1]) if len(ins) > 1 else None
        shape = self._shape(ins[0])
        axes: list[int] | None = None
        if axes_value is not None and shape is not None:
            axes = sorted(int(a) % len(shape) for a in axes_value.reshape(-1)) if shape else []
        attrs: dict[str, Any] = {"keepdims": int(keep), "noop_with_empty_axes": 0}
        if axes is not None:
            attrs["axes"] = axes
            if (
                keep
                and shape is not None
                and len(shape) >= 3
                and axes == list(range(2, len(shape)))
            ):
                self._emit(op, pool, ins[:1], outs)
                return
        self._emit(op, onnx_op, ins, outs, attrs)

    def _op_ReduceMean(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        self._reduce(op, ins, outs, "ReduceMean", "GlobalAveragePool")

    def _op_ReduceMax(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        self._reduce(op, ins, outs, "ReduceMax", "GlobalMaxPool")

    # activations and normalisation

    def _op_Clamp(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        a = op.get_attributes()
        self._emit(op, "Clip", ins[:1], outs, {"min": float(a["min"]), "max": float(a["max"])})

    def _op_PRelu(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        if op.get_name() in self.literal_slopes:  # see _learned_slope
            value = self._value(ins[1])
            alpha = float(value.reshape(-1)[0]) if value is not None else 0.01
            self._emit(op, "LeakyRelu", ins[:1], outs, {"alpha": alpha})
            return
        self._emit(op, "PRelu", ins, outs)

    def _op_Gelu(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        mode = str(op.get_attributes().get("approximation_mode", "ERF")).lower()
        self._emit(op, "Gelu", ins, outs, {"approximate": "tanh" if mode == "tanh" else "none"})

    def _op_SoftMax(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        self._emit(op, "Softmax", ins, outs, {"axis": int(op.get_attributes().get("axis", 1))})

    def _op_Softmax(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        self._op_SoftMax(op, ins, in_keys, outs)

    def _op_LogSoftmax(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        self._emit(op, "LogSoftmax", ins, outs, {"axis": int(op.get_attributes().get("axis", 1))})

    def _op_MVN(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        a = op.get_attributes()
        if not a.get("normalize_variance", True):
            self._emit(op, "MVN", ins, outs, _plain_attrs(op))
            return
        shape = self._shape(ins[0])
        rank = len(shape) if shape is not None else 0
        if len(ins) > 1:
            value = self._value(ins[1])
            axes = (
                sorted(int(x) % rank for x in value.reshape(-1))
                if value is not None and rank
                else []
            )
        else:  # MVN-2: across_channels
            axes = list(range(1 if a.get("across_channels") else 2, rank))
        eps = float(a.get("eps", 1e-5))
        if rank >= 4 and axes == list(range(2, rank)):  # rank 3 reads as a LayerNorm
            self._emit(op, "InstanceNormalization", ins[:1], outs, {"epsilon": eps})
        else:
            axis = axes[0] if axes else -1
            self._emit(op, "LayerNormalization", ins[:1], outs, {"axis": axis, "epsilon": eps})

    def _op_NormalizeL2(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        value = self._value(ins[1]) if len(ins) > 1 else None
        axis = int(value.reshape(-1)[0]) if value is not None and value.size == 1 else -1
        self._emit(op, "LpNormalization", ins[:1], outs, {"axis": axis, "p": 2})

    def _op_BatchNormInference(
        self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
    ) -> None:
        order = _bn_order(op)
        eps = float(op.get_attributes().get("epsilon", 1e-5))
        attrs = {"epsilon": eps, "momentum": 0.9, "training_mode": 0}
        self._emit(op, "BatchNormalization", [ins[i] for i in order], outs, attrs)

    def _op_GroupNormalization(
        self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]
    ) -> None:
        a = op.get_attributes()
        attrs = {
            "num_groups": int(a.get("num_groups", 1)),
            "epsilon": float(a.get("epsilon", 1e-5)),
        }
        self._emit(op, "GroupNormalization", ins, outs, attrs)

    def _op_Interpolate(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        mode = str(op.get_attributes().get("mode", "nearest")).lower()
        onnx_mode = "nearest" if mode == "nearest" else "cubic" if "cubic" in mode else "linear"
        self._emit(op, "Resize", ins[:1], outs, {"mode": onnx_mode})

    def _op_Concat(self, op: Any, ins: list[str], in_keys: list[Key], outs: list[str]) -> None:
        self._emit(op, "Concat", ins, outs, {"axis": int(op.get_attributes().get("axis", 0))})

    # -- notes -------------------------------------------------------------------------------

    def _note_folding(self) -> None:
        """Convs OpenVINO's converter folded a BatchNorm into (it names them Multiply_<n>)."""
        if not self.folded_convs:
            return
        channels = 0
        consumers: dict[str, Node] = {}
        for node in self.nodes:
            for name in node.inputs:
                consumers.setdefault(name, node)
        for index in self.folded_convs:
            node = self.nodes[index]
            out = self.tensors.get(node.outputs[0])
            if out is not None and len(out.shape) >= 2:
                channels += out.shape[1]
            add = consumers.get(node.outputs[0])
            if add is not None and add.op_type == "Add" and not node.scope and add.scope:
                # the bias Add carries the BatchNorm's module path: the closest to the conv's
                self.nodes[index] = node._replace(scope=add.scope)
        count = len(self.folded_convs)
        self.notes.append(
            f"OpenVINO folded {count} BatchNorm{'s' if count != 1 else ''} ({channels:,} channels) "
            f"into the preceding convolution{'s' if count != 1 else ''}: each one's gamma and "
            f"beta (2 x C params) became a bias (C), so params are {channels:,} fewer than in "
            "the model before folding"
        )


def _bn_order(op: Any) -> tuple[int, int, int, int, int]:
    """Positions of (data, gamma, beta, mean, variance): BatchNormInference-0 puts data third."""
    if op.get_type_info().version_id == "opset1":
        return (2, 0, 1, 3, 4)
    return (0, 1, 2, 3, 4)


def _plain_attrs(op: Any) -> dict[str, Any]:
    try:
        attrs = op.get_attributes()
    except RuntimeError:
        return {}
    return {key: value for key, value in attrs.items() if key != "value"}


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
