"""What a pooling layer before each dense layer would save.

A dense layer (Gemm/MatMul) fed by a flattened C x H x W map has C*H*W inputs per output.
A 2x2 pool first leaves C * floor(H/2) * floor(W/2); a global average pool leaves C. The dense
layer's params and MACs shrink in proportion, for the price of the pool's own FLOPs (output x 4,
or one add per input element for the global pool). This is the course notes' comparison: the
separable seed network without pooling costs more than the original with it (926,808 vs
394,780 FLOPs), because its first dense layer sees 2,880 inputs instead of 605.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from ...costreport import CostReport
from ...graph import Graph

_FLATTENS = {"Flatten", "Reshape"}


@dataclass(frozen=True)
class PoolOption:
    """The dense layer's cost with a given pool in front, and the pool's own cost."""

    kind: str  # "2x2" or "global"
    features: int
    params: int
    macs: int
    pool_flops: int

    def saved_macs(self, macs: int) -> int:
        return macs - self.macs


@dataclass(frozen=True)
class PoolingLayer:
    name: str
    op: str
    map_shape: tuple[int, ...]  # (C, H, W, ...) of the flattened map
    features: int
    out_features: int
    params: int
    macs: int
    flops: int
    options: tuple[PoolOption, ...]
    #: why a pool was not offered: one that does not fit the map, or would not shrink it
    omitted: tuple[str, ...] = ()


def _spatial_source(graph: Graph, tensor: str) -> tuple[int, ...] | None:
    """The (N, C, H, W, ...) shape a dense layer's input was flattened from, if any."""
    base = graph.aliases.get(tensor)
    if base is not None and base in graph.tensors and len(graph.tensors[base].shape) >= 4:
        return graph.tensors[base].shape
    for node in graph.nodes:
        if tensor in node.outputs and node.op_type in _FLATTENS:
            source = graph.tensors.get(node.inputs[0])
            if source is not None and len(source.shape) >= 4:
                return source.shape
    return None


def pooling_whatif(graph: Graph, report: CostReport) -> list[PoolingLayer]:
    """Each dense layer fed by a flattened map, with the pools that fit its map: a 2x2 pool
    needs every spatial side to be at least 2, and a global pool a map of more than one
    position (on a 1x1 map it changes nothing). What is left out says why in ``omitted``."""
    layers = {layer.name: layer for layer in report.layers}
    out = []
    for node in graph.nodes:
        if node.op_type not in ("Gemm", "MatMul") or node.name not in layers:
            continue
        shape = _spatial_source(graph, node.inputs[0])
        if shape is None:
            continue
        layer = layers[node.name]
        batch, channels, spatial = shape[0], shape[1], shape[2:]
        features = channels * prod(spatial)
        out_features = layer.macs // (batch * features) if features else 0
        bias = layer.params - features * out_features
        options, omitted = [], []
        map_text = "x".join(map(str, spatial))
        halved = channels * prod(d // 2 for d in spatial)
        if all(d >= 2 for d in spatial):
            options.append(
                PoolOption(
                    "2x2",
                    halved,
                    halved * out_features + bias,
                    batch * halved * out_features,
                    batch * halved * 4,
                )
            )
        else:
            omitted.append(f"no 2x2 pool: the map is {map_text}, smaller than the pool")
        if prod(spatial) > 1:
            options.append(
                PoolOption(
                    "global",
                    channels,
                    channels * out_features + bias,
                    batch * channels * out_features,
                    batch * features,
                )
            )
        else:
            omitted.append(f"no global pool: the map is {map_text}, already one position")
        out.append(
            PoolingLayer(
                node.name,
                node.op_type,
                tuple(shape[1:]),
                features,
                out_features,
                layer.params,
                layer.macs,
                layer.flops,
                tuple(options),
                tuple(omitted),
            )
        )
    return out
