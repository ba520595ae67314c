"""What a depthwise-separable version of each convolution would cost, and the rewrite itself.

A full K x K convolution from Cin to N channels costs ``N x H x W x Cin x K^2`` MACs. Its
separable version, a depthwise K x K convolution with depth multiplier m (Cin*m channels) then
a pointwise 1x1 convolution to N channels, costs ``Cin*m x H x W x K^2 + N x H x W x Cin*m``.
The ratio is ``m (1/N + 1/K^2)``, so the saving is its inverse. Both are computed here, from
shapes and from the formula, as exact fractions, so they agree exactly.

The rewrite does not start from random weights: each input channel's slice of the original
kernel, ``W[:, ci]`` (N x K^2), is replaced by its best rank-m approximation (truncated SVD,
Eckart-Young), whose factors are the depthwise and pointwise weights. With
``m >= min(N, K^2)`` the rewrite is exact, and then costs more than the original.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from fractions import Fraction
from math import prod
from typing import Any

from ...costreport import CostReport
from ...errors import ModelprofError
from ...graph import Graph, Node


@dataclass(frozen=True)
class SeparableLayer:
    """One convolution: its cost now and as depthwise + pointwise with multiplier m."""

    name: str
    scope: str
    kernel: tuple[int, ...]
    in_channels: int
    out_channels: int
    output_shape: tuple[int, ...]
    macs: int
    depthwise_macs: int
    pointwise_macs: int
    params: int
    separable_params: int
    saving: float
    formula_saving: float
    eligible: bool
    selected: bool = True
    weight_error: float | None = None

    @property
    def separable_macs(self) -> int:
        return self.depthwise_macs + self.pointwise_macs

    @property
    def saves(self) -> bool:
        """Worth replacing: the separable version costs fewer MACs."""
        return self.eligible and self.saving > 1


@dataclass(frozen=True)
class SeparableReport:
    model: str
    multiplier: int
    layers: tuple[SeparableLayer, ...]
    model_macs_before: int
    model_flops_before: int
    output_error: float | None = None
    saved: str | None = None
    notes: tuple[str, ...] = ()
    explicit: bool = False

    @property
    def replaced(self) -> tuple[SeparableLayer, ...]:
        """The layers the totals (and a rewrite) cover: the selected ones that save MACs, or
        every selected one when the user named them (an exact full-rank rewrite costs more,
        and may be wanted all the same)."""
        return tuple(
            layer
            for layer in self.layers
            if layer.selected and (layer.saves or (self.explicit and layer.eligible))
        )

    @property
    def total(self) -> dict[str, int]:
        chosen = self.replaced
        return {
            "macs": sum(layer.macs for layer in chosen),
            "separable_macs": sum(layer.separable_macs for layer in chosen),
            "params": sum(layer.params for layer in chosen),
            "separable_params": sum(layer.separable_params for layer in chosen),
        }

    @property
    def model_macs_after(self) -> int:
        total = self.total
        return self.model_macs_before - total["macs"] + total["separable_macs"]

    @property
    def model_flops_after(self) -> int:
        total = self.total
        return self.model_flops_before - 2 * (total["macs"] - total["separable_macs"])


def _conv_layers(graph: Graph) -> list[Node]:
    return [node for node in graph.nodes if node.op_type == "Conv"]


def separable_layer(
    node: Node, graph: Graph, multiplier: int, report: CostReport
) -> SeparableLayer:
    """The what-if for one Conv node of ``graph``."""
    weight = graph.tensors[node.inputs[1]].shape
    out = graph.tensors[node.outputs[0]].shape
    group = int(node.attrs.get("group", 1))
    cout, cin_per_group, kernel = weight[0], weight[1], tuple(weight[2:])
    cin = cin_per_group * group
    k2 = prod(kernel)
    batch, spatial = out[0], prod(out[2:])
    macs = batch * cout * spatial * cin_per_group * k2
    mid = cin * multiplier
    dw = batch * mid * spatial * k2
    pw = batch * cout * spatial * mid
    has_bias = len(node.inputs) > 2 and bool(node.inputs[2])
    params = cout * cin_per_group * k2 + (cout if has_bias else 0)
    sep_params = mid * k2 + cout * mid + (cout if has_bias else 0)
    eligible = group == 1 and k2 > 1
    saving = Fraction(macs, dw + pw)
    formula = 1 / (multiplier * (Fraction(1, cout) + Fraction(1, k2)))
    layer_name = node.name
    return SeparableLayer(
        name=layer_name,
        scope=node.scope,
        kernel=kernel,
        in_channels=cin,
        out_channels=cout,
        output_shape=tuple(out),
        macs=macs,
        depthwise_macs=dw,
        pointwise_macs=pw,
        params=params,
        separable_params=sep_params,
        saving=float(saving),
        formula_saving=float(formula),
        eligible=eligible,
    )


def whatif(
    graph: Graph,
    report: CostReport,
    *,
    multiplier: int = 1,
    layers: Sequence[str] | None = None,
    min_saving: float | None = None,
) -> SeparableReport:
    """The separable what-if for every eligible Conv (group 1, kernel larger than 1x1).

    ``layers`` selects by layer name or module scope (``layer3.0.conv1``); ``min_saving``
    drops layers whose saving is below it from the selection.
    """
    if multiplier < 1:
        raise ModelprofError("--multiplier must be a positive integer")
    convs = _conv_layers(graph)
    candidates = [separable_layer(node, graph, multiplier, report) for node in convs]
    candidates = [c for c in candidates if c.eligible]
    wanted = set(layers or ())
    if wanted:
        known = {c.name for c in candidates} | {c.scope for c in candidates if c.scope}
        for name in sorted(wanted - known):
            everything = {n.name for n in graph.nodes} | {n.scope for n in graph.nodes}
            if name in everything:
                raise ModelprofError(
                    f"--layers: '{name}' is not an eligible convolution (group 1, kernel larger "
                    "than 1x1)"
                )
            close = get_close_matches(name, sorted(known), n=3) or get_close_matches(
                name, sorted(everything), n=3
            )
            hint = f" (close matches: {', '.join(close)})" if close else ""
            raise ModelprofError(f"--layers: '{name}' does not exist in {report.model}{hint}")
    chosen = []
    for c in candidates:
        selected = not wanted or c.name in wanted or c.scope in wanted
        if min_saving is not None and c.saving < min_saving:
            selected = False
        chosen.append(_with(c, selected=selected))
    chosen.sort(key=lambda c: -(c.macs - c.separable_macs))
    return SeparableReport(
        model=report.model,
        multiplier=multiplier,
        layers=tuple(chosen),
        model_macs_before=report.total.macs,
        model_flops_before=report.total.flops,
        explicit=bool(wanted),
    )


def _with(layer: SeparableLayer, **changes: object) -> SeparableLayer:
    from dataclasses import replace

    return replace(layer, **changes)  # type: ignore[arg-type]


# -- the rewrite ------------------------------------------------------------------------------


def svd_factors(weight: Any, multiplier: int) -> tuple[Any, Any, float]:
    """Depthwise and pointwise weights whose product best approximates ``weight``.

    ``weight`` is (N, Cin, *kernel). For every input channel, ``W[:, ci]`` (N x K^2) is
    factored by SVD and its top ``multiplier`` singular triplets kept, each singular value
    split evenly (sqrt) between the two factors. Returns the depthwise weight
    (Cin*m, 1, *kernel), the pointwise weight (N, Cin*m, 1, ...) and the relative Frobenius
    error of the approximation (0 when m >= min(N, K^2)).
    """
    import numpy as np

    w = np.asarray(weight, dtype=np.float64)
    n, cin = w.shape[0], w.shape[1]
    kernel = w.shape[2:]
    k2 = int(prod(kernel))
    m = multiplier
    slices = w.reshape(n, cin, k2).transpose(1, 0, 2)  # (Cin, N, K^2)
    u, sv, vt = np.linalg.svd(slices, full_matrices=False)  # (Cin,N,r) (Cin,r) (Cin,r,K^2)
    r = min(m, sv.shape[1])
    root = np.sqrt(sv[:, :r])
    depthwise = np.zeros((cin, m, k2))
    pointwise = np.zeros((n, cin, m))
    depthwise[:, :r, :] = vt[:, :r, :] * root[:, :, None]
    pointwise[:, :, :r] = (u[:, :, :r] * root[:, None, :]).transpose(1, 0, 2)
    approx = np.einsum("ocj,cjk->cok", pointwise, depthwise)  # (Cin, N, K^2)
    norm = float(np.linalg.norm(slices))
    error = float(np.linalg.norm(slices - approx)) / norm if norm else 0.0
    dtype = np.asarray(weight).dtype
    dw = depthwise.reshape(cin * m, 1, *kernel).astype(dtype)
    pw = pointwise.reshape(n, cin * m, *([1] * len(kernel))).astype(dtype)
    return dw, pw, error


def rewrite_module(module: Any, names: Sequence[str], multiplier: int) -> dict[str, float]:
    """Replace the named convolutions of a PyTorch module, in place, by depthwise + pointwise
    pairs (a ``SeparableConv`` with ``.depthwise`` and ``.pointwise``). Returns each layer's
    relative weight error."""
    import torch
    from torch import nn

    from ...frontends.torch_layers import SeparableConv

    errors: dict[str, float] = {}
    for name in names:
        conv: Any = module.get_submodule(name)
        if not isinstance(conv, nn.Conv1d | nn.Conv2d | nn.Conv3d) or conv.groups != 1:
            raise ModelprofError(f"'{name}' is not a plain convolution with group 1")
        dw_w, pw_w, error = svd_factors(conv.weight.detach().cpu().numpy(), multiplier)
        cls: Any = type(conv)
        mid = conv.in_channels * multiplier
        depthwise = cls(
            conv.in_channels,
            mid,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.in_channels,
            bias=False,
            padding_mode=conv.padding_mode,
        )
        pointwise = cls(mid, conv.out_channels, 1, bias=conv.bias is not None)
        with torch.no_grad():
            depthwise.weight.copy_(torch.from_numpy(dw_w))
            pointwise.weight.copy_(torch.from_numpy(pw_w))
            if conv.bias is not None:
                pointwise.bias.copy_(conv.bias)
        replacement = SeparableConv(depthwise, pointwise).to(conv.weight.device)
        replacement.train(conv.training)
        parent_name, _, attr = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        setattr(parent, attr, replacement)
        errors[name] = error
    return errors


def rewrite_onnx(
    model: Any, graph: Graph, names: Sequence[str], multiplier: int
) -> dict[str, float]:
    """Replace the named Conv nodes of an ONNX ModelProto (weights loaded), in place, by a
    depthwise Conv and a pointwise Conv. Returns each layer's relative weight error."""
    from onnx import helper, numpy_helper

    inits = {init.name: init for init in model.graph.initializer}
    by_name = {node.name: node for node in graph.nodes}
    errors: dict[str, float] = {}
    for name in names:
        ours = by_name[name]
        weight_name = ours.inputs[1]
        if weight_name not in inits:
            raise ModelprofError(f"'{name}': its weight is not an initializer; cannot rewrite")
        weight = numpy_helper.to_array(inits[weight_name])
        dw_w, pw_w, error = svd_factors(weight, multiplier)
        errors[name] = error
        proto_nodes = list(model.graph.node)
        index = next(
            i
            for i, n in enumerate(proto_nodes)
            if n.name == name or (not n.name and list(n.output) == list(ours.outputs))
        )
        old = proto_nodes[index]
        cin = weight.shape[1]
        mid = f"{name}/depthwise_out"
        dw_name, pw_name = f"{name}/depthwise_W", f"{name}/pointwise_W"
        model.graph.initializer.extend(
            [numpy_helper.from_array(dw_w, dw_name), numpy_helper.from_array(pw_w, pw_name)]
        )
        attrs = {
            k: v
            for k, v in ours.attrs.items()
            if k in ("strides", "pads", "dilations", "auto_pad") and v not in (None, [], "NOTSET")
        }
        depthwise = helper.make_node(
            "Conv",
            [old.input[0], dw_name],
            [mid],
            name=f"{name}/depthwise",
            group=cin,
            kernel_shape=list(weight.shape[2:]),
            **attrs,
        )
        bias = [old.input[2]] if len(old.input) > 2 and old.input[2] else []
        pointwise = helper.make_node(
            "Conv",
            [mid, pw_name, *bias],
            list(old.output),
            name=f"{name}/pointwise",
            kernel_shape=[1] * (weight.ndim - 2),
        )
        del model.graph.node[index]
        model.graph.node.insert(index, pointwise)
        model.graph.node.insert(index, depthwise)
    used = {i for n in model.graph.node for i in n.input}
    keep = [init for init in model.graph.initializer if init.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
    return errors
