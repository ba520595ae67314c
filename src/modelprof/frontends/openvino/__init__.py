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

Layout. :mod:`.reader` reads the IR file; :mod:`.builder` makes the Graph in one pass over the
ops (inputs, weights, names, notes); each op with a translation of its own is handed to it
through :data:`.registry.REGISTRY`, one module per op family (:mod:`.conv`, :mod:`.matmul`,
:mod:`.pool`, :mod:`.activations`, :mod:`.norm`, :mod:`.movement`), all registered when this
package is imported; every other op is renamed by the builder's table or keeps its name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ...graph import Graph
from ...shapes import InputSpec
from . import activations, conv, matmul, movement, norm, pool  # noqa: F401  (registration side effect)
from .builder import Builder
from .reader import import_openvino, read_model
from .registry import REGISTRY


def load(
    path: str | os.PathLike[str],
    inputs: Iterable[InputSpec] | Mapping[str, tuple[int, ...]] | None = None,
    *,
    name: str | None = None,
) -> Graph:
    """Translate an IR file (``.xml`` with its ``.bin``) into a :class:`Graph`."""
    model = read_model(path)
    return Builder(model, name or Path(path).name, REGISTRY.lookup).build(inputs)


def load_model(
    model: Any,
    inputs: Iterable[InputSpec] | Mapping[str, tuple[int, ...]] | None = None,
    *,
    name: str | None = None,
) -> Graph:
    """Translate an ``openvino.Model`` (left as it is: binding shapes works on a clone)."""
    import_openvino()
    label = name or model.get_friendly_name() or "model"
    return Builder(model.clone(), label, REGISTRY.lookup).build(inputs)


__all__ = ["load", "load_model", "read_model"]
