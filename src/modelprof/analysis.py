"""Graph -> CostReport: apply the cost rules, attribute weights, find the peak memory.

Three things happen here that no single rule can see:

* Weights reached through a weight-only transform (a Cast of fp16 weights, a Transpose of a
  Linear weight) are attributed to the layer that finally consumes them, and the transform is
  not a layer of its own.
* A per-channel bias added by a separate Add right after Conv/ConvTranspose/Gemm/MatMul is
  folded into that layer (docs/conventions.md: its params count, its adds do not unless asked), so a
  MatMul+Add from one exporter reads the same as a Gemm with C from another.
* If branches are costed separately and only the larger one is kept, with a note.

With ``training=True`` a second pass (after the per-node loop, which it leaves untouched) adds
each layer's backward-pass FLOPs (:mod:`.costs.backward`): it follows which tensors need a
gradient (those computed from a trainable parameter), so a layer fed only by graph inputs
gets no input gradient.
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Mapping, Sequence
from math import prod
from typing import Any

from .costreport import Convention, CostReport, LayerCost, Totals
from .costs import REGISTRY, Cost, OpCall, Registry
from .costs.registry import MissingShapeError
from .errors import RuleError, safe_str
from .graph import Graph, Node, TensorInfo, Uncounted, Weight, nbytes_of

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
        "QuantizeLinear",
        "FakeQuantize",
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


def analyze(
    graph: Graph,
    *,  # pragma: no mutate (as ``/``, every call that works now works alike)
    count_bias: bool = False,
    registry: Registry = REGISTRY,
    training: bool = False,
) -> CostReport:
    """Cost every node of ``graph`` with ``registry``'s rules.

    ``training``: also count each layer's backward pass (``training_flops`` = forward +
    backward, docs/conventions.md).
    """
    tensors = graph.tensors
    weights = graph.weights
    derived: dict[str, tuple[str, ...]] = {name: (name,) for name in weights}
    for alias, target in graph.aliases.items():
        if target in derived:
            derived[alias] = derived[target]
    constants = set(graph.constants)

    # 1. weight-only transforms are folded into their consumers
    layer_nodes: list[Node] = []
    producers: list[int] = []  # layers whose output a bias could be added to
    for node in graph.nodes:
        op = node.op_type
        if op in WEIGHT_TRANSFORMS:
            ins = [i for i in node.inputs if i]
            if all(i in derived or i in constants for i in ins):
                sources = tuple(dict.fromkeys(s for i in ins if i in derived for s in derived[i]))
                for out in node.outputs:
                    if sources:
                        derived[out] = sources
                    else:
                        constants.add(out)
                continue
        if op in BIAS_PRODUCERS and len(node.outputs) == 1:
            producers.append(len(layer_nodes))
        layer_nodes.append(node)
    # their consumers, wherever they stand (an unsorted ONNX graph runs; If branches may reuse
    # a name, which then has the users of both)
    consumers: dict[str, list[int]] = {layer_nodes[i].outputs[0]: [] for i in producers}
    if consumers:
        for idx, node in enumerate(layer_nodes):
            for name in node.inputs:
                if name in consumers:
                    consumers[name].append(idx)

    # 2. bias Adds folded into the producing layer
    absorbed: dict[int, int] = {}  # producer index -> Add index
    for idx in producers:
        add = _bias_add(layer_nodes[idx], idx, layer_nodes, consumers, derived, weights, tensors)
        if add is not None:
            absorbed[idx] = add
    skipped = set(absorbed.values())

    uncounted_by_name = {u.name: u for u in graph.uncounted}
    extra_uncounted: list[Uncounted] = []
    unsupported: Counter[str] = Counter()
    claimed: set[str] = set()
    layers: list[LayerCost] = []
    kept_nodes: list[Node] = []
    # The loop below runs once per node, on graphs of 100,000 nodes: rules are looked up once
    # per op type, a rule's result is reused for every node with the same op, attributes,
    # shapes and dtypes (rules are pure functions of those, costs/registry.py), and each
    # activation's size is worked out once and shared with the peak-memory walk.
    rules = {op: registry.lookup(op) for op in {node.op_type for node in layer_nodes}}
    memo: dict[tuple[Any, ...], Cost | str] = {}
    sizes: dict[str, int] = {}
    wbytes: dict[str, int] = {}  # bytes of each stored tensor
    wparams: dict[str, int] = {}  # its elements if a param, else 0
    stored_numel: dict[str, int] = {}  # per kind
    for name, w in weights.items():
        numel = prod(w.shape)
        wbytes[name] = nbytes_of(numel, w.dtype)
        wparams[name] = numel if w.kind == "param" else 0
        stored_numel[w.kind] = stored_numel.get(w.kind, 0) + numel
    get = tensors.get
    derived_get = derived.get
    int_macs_total = 0

    for idx, node in enumerate(layer_nodes):
        if idx in skipped:
            continue
        op = node.op_type
        inputs = node.inputs
        add_node = layer_nodes[absorbed[idx]] if idx in absorbed else None
        in_infos = [get(i) if i else None for i in inputs]
        out_infos = [get(o) for o in node.outputs]
        counted, note, macs, flops, imacs = True, "", 0, 0, 0
        rule = rules[op]
        if node.name in uncounted_by_name:
            counted, note = False, uncounted_by_name[node.name].reason
        elif rule is None:
            unsupported[op] += 1
            counted, note = False, f"no cost rule for {op}"
        else:
            key = (
                op,
                id(node.attrs),
                *[None if i is None else (i.shape, i.dtype) for i in in_infos],
                "->",
                *[None if o is None else (o.shape, o.dtype) for o in out_infos],
            )
            try:
                cost, cacheable = memo.get(key), True
            except TypeError:  # a hand-built Graph with list shapes: unhashable, not cached
                cost, cacheable = None, False
            if cost is None:
                call = OpCall(op, tuple(in_infos), tuple(out_infos), node.attrs, count_bias)
                try:
                    cost = rule(call)
                except KeyboardInterrupt:
                    raise
                except SystemExit as exc:  # user code must not end the program mid-count
                    name = getattr(rule, "__qualname__", "the rule")
                    raise RuleError(
                        f"the cost rule for {op} ({name}) called sys.exit({safe_str(exc.code)})"
                    ) from None
                except BaseException as exc:  # a rule that cannot cost this node: never zero
                    cost = (
                        _no_shape(node, in_infos, out_infos)
                        if isinstance(exc, MissingShapeError)
                        else ""
                    )
                    cost = cost or f"not counted: {safe_str(exc) or type(exc).__name__}"
                else:
                    cost = _checked_cost(cost, rule, node.name, op)
                if cacheable:
                    memo[key] = cost
            if isinstance(cost, str):
                counted, note = False, cost
                extra_uncounted.append(Uncounted(node.name, op, note))
            else:
                macs, flops, imacs = cost
                if node.repeat != 1:
                    macs, flops, imacs = (v * node.repeat for v in cost)
                int_macs_total += imacs
        if add_node is not None:
            note = f"bias Add '{add_node.name}' folded in"
            if count_bias:
                # one add per element of the producer's output: the Add's own output has that
                # shape (the bias is one value per channel) but may have no recorded shape,
                # while the producer's is always known (_bias_add folds nothing else)
                flops += _numel(out_infos[0]) * node.repeat
            if node.repeat > 1:
                note += f"; x{node.repeat} (loop)"
        elif node.repeat > 1:
            note = (note + "; " if note else "") + f"x{node.repeat} (static loop trip count)"

        params = weight_bytes = read_weight_bytes = act_in = 0
        in_shapes: list[tuple[int, ...]] = []
        stored_inputs: list[tuple[str, ...]] = []
        for name, info in zip(inputs, in_infos, strict=True):
            if not name:
                continue
            found = derived_get(name)
            if found is not None:
                stored_inputs.append(found)
            elif name not in constants:
                size = sizes.get(name)
                if size is None:
                    size = sizes[name] = _nbytes(info)
                act_in += size
                in_shapes.append(info.shape if info is not None else ())
        if add_node is not None:  # the Add's other operand is the folded bias: a weight
            stored_inputs.extend(derived[n] for n in add_node.inputs if n in derived)
        for found in stored_inputs:
            for source in found:
                size = wbytes[source]
                read_weight_bytes += size
                if source not in claimed:
                    claimed.add(source)
                    weight_bytes += size
                    params += wparams[source]
        if add_node is not None:
            outputs = add_node.outputs
            out_infos = [get(o) for o in outputs]
        else:
            outputs = node.outputs
        act_out = 0
        out_shapes: list[tuple[int, ...]] = []
        for name, info in zip(outputs, out_infos, strict=True):
            if info is None:
                out_shapes.append(())
                continue
            size = sizes[name] = info.nbytes
            act_out += size
            out_shapes.append(info.shape)
        denom = act_in + read_weight_bytes + act_out
        layers.append(
            LayerCost(
                node.name,
                op,
                node.scope,
                tuple(in_shapes),
                tuple(out_shapes),
                params,
                macs,
                flops,
                weight_bytes,
                act_out,
                flops / denom if denom else 0.0,
                denom,
                counted,
                note,
                imacs,
            )
        )
        kept_nodes.append(node)

    if training:
        layers = _with_training(
            layers,
            layer_nodes,
            skipped,
            absorbed,
            derived,
            weights,
            graph,
            registry,
            extra_uncounted,
        )
    layers, kept_nodes, branch_notes = _keep_larger_branches(layers, kept_nodes)

    params_total = graph.param_total
    if params_total is None:
        params_total = stored_numel.get("param", 0)
    buffers_total = graph.buffer_total
    if buffers_total is None:
        buffers_total = stored_numel.get("buffer", 0)
    total = Totals(
        params=params_total,
        buffers=buffers_total,
        macs=sum(layer.macs for layer in layers),
        flops=sum(layer.flops for layer in layers),
        weight_bytes=sum(wbytes.values()),
        activation_bytes=sum(layer.activation_bytes for layer in layers),
        peak_activation_bytes=_peak_activation_bytes(
            graph, layer_nodes, set(derived) | constants, sizes
        ),
        int_macs=sum(layer.int_macs for layer in layers) if int_macs_total else 0,
        training_flops=sum(layer.training_flops or 0 for layer in layers) if training else None,
    )
    counted_layers = sum(1 for layer in layers if layer.counted)
    return CostReport(
        model=graph.name,
        source=graph.source,
        convention=Convention(
            count_bias=count_bias, training=training, int_macs=bool(int_macs_total)
        ),
        inputs=graph.input_infos(),
        layers=tuple(layers),
        total=total,
        unsupported=dict(sorted(unsupported.items())),
        node_coverage=counted_layers / len(layers) if layers else 1.0,
        uncounted=graph.uncounted + tuple(extra_uncounted),
        notes=graph.notes + tuple(branch_notes),
    )


def _with_training(
    layers: list[LayerCost],
    nodes: Sequence[Node],
    skipped: set[int],
    absorbed: Mapping[int, int],
    derived: Mapping[str, tuple[str, ...]],
    weights: Mapping[str, Weight],
    graph: Graph,
    registry: Registry,
    uncounted: list[Uncounted],
) -> list[LayerCost]:
    """``layers`` (one per node of ``nodes`` not in ``skipped``, in order) with
    ``training_flops`` set: forward + backward (docs/conventions.md, costs/backward.py).
    A backward that cannot be counted is appended to ``uncounted`` (never a silent zero).

    A tensor needs a gradient when it is a trainable parameter (or derived from one) or is
    computed from one; graph inputs and constants do not, so the first layer gets no input
    gradient. A view (``graph.aliases``) needs a gradient when its base does.
    """
    from .costs.backward import STRAIGHT_THROUGH, backward_flops, product_operands

    tensors, aliases = graph.tensors, graph.aliases
    trainable = {
        name
        for name, sources in derived.items()
        if any(weights[s].kind == "param" for s in sources)
    }
    grad: set[str] = set()

    def wants(name: str) -> bool:
        if not name:
            return False
        while name not in grad and name not in trainable and name in aliases:
            name = aliases[name]
        return name in grad or name in trainable

    out: list[LayerCost] = []
    position = 0
    for idx, node in enumerate(nodes):
        if idx in skipped:
            continue
        layer = layers[position]
        position += 1
        flags = [wants(name) for name in node.inputs]
        add = nodes[absorbed[idx]] if idx in absorbed else None
        needs = any(flags) or (add is not None and any(wants(i) for i in add.inputs))
        backward = 0
        op = node.op_type
        if layer.counted and needs:
            out_elements = 0
            if op in STRAIGHT_THROUGH and node.outputs:
                # each maps its input x elementwise, so output 0 has x's shape: either one
                # gives the count, and with neither known the backward is not counted
                info = tensors.get(node.outputs[0]) or tensors.get(node.inputs[0])
                if info is None:
                    uncounted.append(
                        Uncounted(
                            node.name,
                            op,
                            f"backward not counted: no shape known for output "
                            f"'{node.outputs[0]}' or input '{node.inputs[0]}'",
                        )
                    )
                out_elements = _numel(info) * node.repeat
            backward = backward_flops(
                op,
                layer.macs,
                layer.flops,
                operands=product_operands(op, flags),
                needs_grad=needs,
                out_elements=out_elements,
                zero_cost=registry.is_zero_cost(op),
            )
        if needs:
            grad.update(node.outputs)
            if add is not None:
                grad.update(add.outputs)
        # positional, not dataclasses.replace: this runs once per layer of large graphs
        out.append(
            LayerCost(
                layer.name,
                layer.op,
                layer.scope,
                layer.input_shapes,
                layer.output_shapes,
                layer.params,
                layer.macs,
                layer.flops,
                layer.weight_bytes,
                layer.activation_bytes,
                layer.intensity,
                layer.bytes_moved,
                layer.counted,
                layer.note,
                layer.int_macs,
                layer.flops + backward,
            )
        )
    return out


def _numel(info: TensorInfo | None) -> int:
    return info.numel if info is not None else 0


def _nbytes(info: TensorInfo | None) -> int:
    return info.nbytes if info is not None else 0


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
    if not any(node.branch for node in nodes):
        return layers, nodes, []
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
            for i, lab in enumerate(labels):
                if (
                    len(lab) > level
                    and "|".join(lab[:level]) == prefix
                    and lab[level].rpartition(":")[0] == if_name
                    and lab[level].rpartition(":")[2] != keep
                ):
                    dropped.add(i)
            detail = ", ".join(f"{b} {per_branch[b]:,} FLOPs" for b in sorted(per_branch))
            notes.append(f"If '{if_name}': the larger branch ({keep}) is counted ({detail})")
        level += 1
    kept = [i for i in range(len(layers)) if i not in dropped]
    return [layers[i] for i in kept], [nodes[i] for i in kept], notes


def _checked_cost(cost: object, rule: object, node: str, op: str) -> Cost:
    """A rule's result as a :class:`Cost` of non-negative integers, or a :class:`RuleError`
    naming the rule and the node: a user's rule that returns a number, a negative count or
    NaN would otherwise crash the totals or print them wrong."""
    try:
        values = tuple(cost) if isinstance(cost, Cost) else ()
    except Exception:  # a Cost subclass whose iteration fails
        values = ()
    if values and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0 for v in values
    ):
        return Cost(*(int(v) for v in values))
    name = getattr(rule, "__qualname__", None) or type(rule).__name__
    try:
        shown = repr(cost)
    except Exception:
        shown = f"a {type(cost).__name__} that cannot be shown"
    raise RuleError(
        f"the cost rule for {op} ({name}) returned {shown} for node '{node}': a rule must "
        "return a modelprof.Cost of non-negative integers"
    )


def _peak_activation_bytes(
    graph: Graph, nodes: Sequence[Node], stored: set[str], sizes: dict[str, int]
) -> int:
    """Largest sum of live activation bytes at any step (docs/conventions.md's definition).

    A tensor is live from the step that produces it (graph inputs from the start) until its
    last consumer has run; graph outputs stay live to the end. Views and reshapes share their
    base tensor's buffer, and an in-place op writes into its input's buffer, so neither
    allocates. Weights and constants are excluded. ``sizes`` holds the activation sizes the
    caller already worked out; the others are looked up here.
    """
    storage: dict[str, str] = dict(graph.aliases)
    tensors = graph.tensors

    def nbytes(name: str) -> int:
        found = sizes.get(name)
        if found is None:
            found = sizes[name] = _nbytes(tensors.get(name))
        return found

    def base(name: str) -> str:
        while name in storage:
            name = storage[name]
        return name

    size: dict[str, int] = {}
    born: dict[str, int] = {}  # buffer -> step that allocates it (-1: a graph input)
    last_use: dict[str, int] = {}
    for name in graph.inputs:
        if name not in stored:
            size[base(name)] = nbytes(base(name))
            born[base(name)] = -1
    for idx, node in enumerate(nodes):
        for name in node.inputs:
            if name and name not in stored:
                last_use[base(name)] = idx
        aliasing = node.op_type in ALIAS_OPS and bool(node.inputs) and node.inputs[0] not in stored
        for out in node.outputs:
            if not out or out in stored:
                continue
            if aliasing:
                source = base(node.inputs[0])
                if source != out:  # a view of itself (in place) stays its own buffer
                    storage[out] = source
                continue  # pragma: no mutate (as ``break``: a view op has one output)
            b = base(out)
            if b not in size:
                size[b] = nbytes(b)
                born[b] = idx
                last_use.setdefault(b, idx)
    end = len(nodes)
    for name in graph.outputs:
        if name not in stored:
            last_use[base(name)] = end
    alloc = [0] * end
    free = [0] * (end + 1)
    live = 0
    for b, nb in size.items():
        if born[b] < 0:
            live += nb
        else:
            alloc[born[b]] += nb
        # every buffer a node allocates has a last use (itself at least): only a graph input
        # that no node reads and that is no output has none, and it lives to the end
        free[last_use.get(b, end)] += nb
    peak = live
    for idx in range(end):
        live += alloc[idx]
        peak = max(peak, live)
        live -= free[idx]
    return peak


def _no_shape(
    node: Node, in_infos: Sequence[TensorInfo | None], out_infos: Sequence[TensorInfo | None]
) -> str:
    """The real cause when a rule lacked a shape: the first named tensor of ``node`` with no
    known shape ('' if every named one has a shape, and the rule's own message then says)."""
    for kind, names, infos in (
        ("input", node.inputs, in_infos),
        ("output", node.outputs, out_infos),
    ):
        for name, info in zip(names, infos, strict=False):
            if name and info is None:
                return f"no shape known for {kind} '{name}'"
    return ""
