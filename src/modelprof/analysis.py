"""Graph -> CostReport: apply the cost rules, attribute weights, find the peak memory.

Three things happen here that no single rule can see:

* Weights reached through a weight-only transform (a Cast of fp16 weights, a Transpose of a
  Linear weight) are attributed to the layer that finally consumes them, and the transform is
  not a layer of its own.
* A per-channel bias added by a separate Add right after Conv/ConvTranspose/Gemm/MatMul is
  folded into that layer (DESIGN.md: its params count, its adds do not unless asked), so a
  MatMul+Add from one exporter reads the same as a Gemm with C from another.
* If branches are costed separately and only the larger one is kept, with a note.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from .costreport import Convention, CostReport, LayerCost, Totals
from .costs import REGISTRY, OpCall, Registry
from .graph import Graph, Node, TensorInfo, Uncounted, Weight

#: Ops that, applied to weights only, just re-express a weight (constant-foldable).
WEIGHT_TRANSFORMS = frozenset(
    {
        "Cast",
        "CastLike",
        "Transpose",
        "Reshape",
        "Identity",
        "Squeeze",
        "Unsqueeze",
        "Flatten",
        "DequantizeLinear",
        "Convert",
        "Constant",
        "Concat",
        "Expand",
        "Tile",
    }
)
#: Ops whose output shares its input's buffer, for the peak-memory walk.
ALIAS_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})
BIAS_PRODUCERS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})


def analyze(graph: Graph, *, count_bias: bool = False, registry: Registry = REGISTRY) -> CostReport:
    """Cost every node of ``graph`` with ``registry``'s rules."""
    tensors = graph.tensors
    weights = graph.weights
    derived: dict[str, tuple[str, ...]] = {name: (name,) for name in weights}
    for alias, target in graph.aliases.items():
        if target in derived:
            derived[alias] = derived[target]
    constants = set(graph.constants)

    # 1. weight-only transforms are folded into their consumers
    layer_nodes: list[Node] = []
    for node in graph.nodes:
        ins = [i for i in node.inputs if i]
        if node.op_type in WEIGHT_TRANSFORMS and all(i in derived or i in constants for i in ins):
            sources = tuple(dict.fromkeys(s for i in ins if i in derived for s in derived[i]))
            for out in node.outputs:
                if sources:
                    derived[out] = sources
                else:
                    constants.add(out)
            continue
        layer_nodes.append(node)

    consumers: dict[str, list[int]] = {}
    for idx, node in enumerate(layer_nodes):
        for name in node.inputs:
            if name:
                consumers.setdefault(name, []).append(idx)

    # 2. bias Adds folded into the producing layer
    absorbed: dict[int, int] = {}  # producer index -> Add index
    for idx, node in enumerate(layer_nodes):
        if node.op_type in BIAS_PRODUCERS and len(node.outputs) == 1:
            add = _bias_add(node, idx, layer_nodes, consumers, derived, weights, tensors)
            if add is not None:
                absorbed[idx] = add
    skipped = set(absorbed.values())

    uncounted_by_name = {u.name: u for u in graph.uncounted}
    extra_uncounted: list[Uncounted] = []
    unsupported: Counter[str] = Counter()
    claimed: set[str] = set()
    layers: list[LayerCost] = []
    kept_nodes: list[Node] = []

    for idx, node in enumerate(layer_nodes):
        if idx in skipped:
            continue
        members = [node] + ([layer_nodes[absorbed[idx]]] if idx in absorbed else [])
        outputs = members[-1].outputs
        call = OpCall(
            node.op_type,
            tuple(tensors.get(i) if i else None for i in node.inputs),
            tuple(tensors.get(o) for o in node.outputs),
            node.attrs,
            count_bias,
        )
        counted, note, macs, flops = True, "", 0, 0
        rule = registry.lookup(node.op_type)
        if node.name in uncounted_by_name:
            counted, note = False, uncounted_by_name[node.name].reason
        elif rule is None:
            unsupported[node.op_type] += 1
            counted, note = False, f"no cost rule for {node.op_type}"
        else:
            try:
                cost = rule(call)
            except Exception as exc:  # a rule that cannot cost this node: say so, never zero
                counted, note = False, f"not counted: {exc}"
                extra_uncounted.append(Uncounted(node.name, node.op_type, note))
            else:
                macs, flops = cost.macs * node.repeat, cost.flops * node.repeat
        if idx in absorbed:
            add_node = members[1]
            note = f"bias Add '{add_node.name}' folded in"
            if count_bias:
                flops += _numel(tensors.get(add_node.outputs[0])) * node.repeat
            if node.repeat > 1:
                note += f"; x{node.repeat} (loop)"
        elif node.repeat > 1:
            note = (note + "; " if note else "") + f"x{node.repeat} (static loop trip count)"

        params = weight_bytes = read_weight_bytes = 0
        act_in = 0
        for member in members:
            for name in member.inputs:
                if not name:
                    continue
                if name in derived:
                    for source in derived[name]:
                        w = weights[source]
                        read_weight_bytes += w.nbytes
                        if source not in claimed:
                            claimed.add(source)
                            weight_bytes += w.nbytes
                            if w.kind == "param":
                                params += w.numel
                elif name not in constants and member is node:
                    act_in += _nbytes(tensors.get(name))
        act_out = sum(_nbytes(tensors.get(o)) for o in outputs)
        denom = act_in + read_weight_bytes + act_out
        layers.append(
            LayerCost(
                name=node.name,
                op=node.op_type,
                scope=node.scope,
                input_shapes=tuple(
                    _shape(tensors.get(i))
                    for i in node.inputs
                    if i and i not in derived and i not in constants
                ),
                output_shapes=tuple(_shape(tensors.get(o)) for o in outputs),
                params=params,
                macs=macs,
                flops=flops,
                weight_bytes=weight_bytes,
                activation_bytes=act_out,
                intensity=flops / denom if denom else 0.0,
                bytes_moved=denom,
                counted=counted,
                note=note,
            )
        )
        kept_nodes.append(node)

    layers, kept_nodes, branch_notes = _keep_larger_branches(layers, kept_nodes)

    params_total = graph.param_total
    if params_total is None:
        params_total = sum(w.numel for w in weights.values() if w.kind == "param")
    buffers_total = graph.buffer_total
    if buffers_total is None:
        buffers_total = sum(w.numel for w in weights.values() if w.kind == "buffer")
    total = Totals(
        params=params_total,
        buffers=buffers_total,
        macs=sum(layer.macs for layer in layers),
        flops=sum(layer.flops for layer in layers),
        weight_bytes=sum(w.nbytes for w in weights.values()),
        activation_bytes=sum(layer.activation_bytes for layer in layers),
        peak_activation_bytes=_peak_activation_bytes(graph, layer_nodes, set(derived) | constants),
    )
    counted_layers = sum(1 for layer in layers if layer.counted)
    return CostReport(
        model=graph.name,
        source=graph.source,
        convention=Convention(count_bias=count_bias),
        inputs=graph.input_infos(),
        layers=tuple(layers),
        total=total,
        unsupported=dict(sorted(unsupported.items())),
        node_coverage=counted_layers / len(layers) if layers else 1.0,
        uncounted=graph.uncounted + tuple(extra_uncounted),
        notes=graph.notes + tuple(branch_notes),
    )


def _numel(info: TensorInfo | None) -> int:
    return info.numel if info is not None else 0


def _nbytes(info: TensorInfo | None) -> int:
    return info.nbytes if info is not None else 0


def _shape(info: TensorInfo | None) -> tuple[int, ...]:
    return info.shape if info is not None else ()


def _bias_add(
    node: Node,
    idx: int,
    nodes: Sequence[Node],
    consumers: dict[str, list[int]],
    derived: Mapping[str, tuple[str, ...]],
    weights: Mapping[str, Weight],
    tensors: Mapping[str, TensorInfo],
) -> int | None:
    """Index of the Add that adds a per-channel bias to ``node``'s only output, if any."""
    out = node.outputs[0]
    users = consumers.get(out, [])
    if len(users) != 1:
        return None
    add = nodes[users[0]]
    if add.op_type != "Add" or len(add.inputs) != 2:
        return None
    other = add.inputs[1] if add.inputs[0] == out else add.inputs[0]
    if other not in derived:
        return None
    if any(weights[s].kind != "param" for s in derived[other]):
        return None
    out_info, bias_info = tensors.get(out), tensors.get(other)
    if out_info is None or bias_info is None or not out_info.shape:
        return None
    rank = len(out_info.shape)
    axis = 1 if node.op_type in ("Conv", "ConvTranspose") else rank - 1
    if rank < 2 or len(bias_info.shape) > rank:
        return None
    padded = (1,) * (rank - len(bias_info.shape)) + tuple(bias_info.shape)
    channels = out_info.shape[axis]
    if padded[axis] != channels or any(d != 1 for i, d in enumerate(padded) if i != axis):
        return None
    return users[0]


def _keep_larger_branches(
    layers: list[LayerCost], nodes: list[Node]
) -> tuple[list[LayerCost], list[Node], list[str]]:
    """For every If, keep the branch with more FLOPs (level by level for nested Ifs)."""
    labels = [node.branch.split("|") if node.branch else [] for node in nodes]
    dropped: set[int] = set()
    notes: list[str] = []
    level = 0
    while True:
        groups: dict[tuple[str, str], dict[str, int]] = {}
        for i, lab in enumerate(labels):
            if i in dropped or len(lab) <= level:
                continue
            if_name, _, branch = lab[level].rpartition(":")
            key = ("|".join(lab[:level]), if_name)
            per_branch = groups.setdefault(key, {})
            per_branch[branch] = per_branch.get(branch, 0) + layers[i].flops
        if not groups:
            break
        for (prefix, if_name), per_branch in groups.items():
            keep = max(sorted(per_branch), key=lambda b: per_branch[b])
            others = [b for b in per_branch if b != keep]
            for i, lab in enumerate(labels):
                if (
                    len(lab) > level
                    and "|".join(lab[:level]) == prefix
                    and lab[level].rpartition(":")[0] == if_name
                    and lab[level].rpartition(":")[2] != keep
                ):
                    dropped.add(i)
            detail = ", ".join(f"{b} {per_branch[b]:,} FLOPs" for b in sorted(per_branch))
            if others or len(per_branch) == 1:
                notes.append(f"If '{if_name}': the larger branch ({keep}) is counted ({detail})")
        level += 1
    kept = [i for i in range(len(layers)) if i not in dropped]
    return [layers[i] for i in kept], [nodes[i] for i in kept], notes


def _peak_activation_bytes(graph: Graph, nodes: Sequence[Node], stored: set[str]) -> int:
    """Largest sum of live activation bytes at any step (DESIGN.md's definition).

    A tensor is live from the step that produces it (graph inputs from the start) until its
    last consumer has run; graph outputs stay live to the end. Views and reshapes share their
    base tensor's buffer, and an in-place op writes into its input's buffer, so neither
    allocates. Weights and constants are excluded.
    """
    tensors = graph.tensors
    storage: dict[str, str] = dict(graph.aliases)

    def base(name: str) -> str:
        while name in storage:
            name = storage[name]
        return name

    size: dict[str, int] = {}
    born: dict[int, list[str]] = {}
    last_use: dict[str, int] = {}
    for name in graph.inputs:
        if name not in stored:
            size[base(name)] = _nbytes(tensors.get(base(name)))
    for idx, node in enumerate(nodes):
        for name in node.inputs:
            if name and name not in stored:
                last_use[base(name)] = idx
        aliasing = node.op_type in ALIAS_OPS and bool(node.inputs) and node.inputs[0] not in stored
        for out in node.outputs:
            if not out or out in stored:
                continue
            if aliasing:
                storage[out] = base(node.inputs[0])
                continue
            b = base(out)
            if b not in size:
                size[b] = _nbytes(tensors.get(b))
                born.setdefault(idx, []).append(b)
                last_use.setdefault(b, idx)
    end = len(nodes)
    for name in graph.outputs:
        if name not in stored:
            last_use[base(name)] = end
    frees: dict[int, list[str]] = {}
    for name, idx in last_use.items():
        frees.setdefault(idx, []).append(name)
    live = sum(size[base(n)] for n in graph.inputs if base(n) in size)
    peak = live
    for idx in range(len(nodes)):
        live += sum(size[b] for b in born.get(idx, []))
        peak = max(peak, live)
        live -= sum(size.get(b, 0) for b in frees.get(idx, []))
    return peak
