"""An ONNX graph's structure checked before anything is counted.

A graph with a cycle, a tensor produced twice, a node reading a tensor nothing defines, or
names that are not text is no model any runtime would run: counting it would print figures
for something that does not exist. Such a graph is refused in one line naming the node.
Unsorted graphs are accepted (their order is not the problem; their edges are), and a
subgraph (If, Loop, Scan bodies) may read any name of the graphs around it.

The check is one pass over the nodes in the usual case (a graph listed in an order it can
run in): on a 100,000-node graph every access to a node's fields costs, so each is read once.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any, NamedTuple

from ..errors import ModelLoadError

_GRAPH = 5  # onnx.AttributeProto.GRAPH
_GRAPHS = 10  # onnx.AttributeProto.GRAPHS
#: Ops whose attributes hold subgraphs (their bodies are checked too).
_CONTROL_FLOW = frozenset({"If", "Loop", "Scan", "SequenceMap"})


class Structure(NamedTuple):
    """A graph's nodes' fields, each read from protobuf once (the frontend reuses them), and
    an order to run the nodes in when their listed order is not one (else None)."""

    inputs: list[tuple[str, ...]]
    outputs: list[tuple[str, ...]]
    op_types: list[str]
    names: list[str]
    order: list[int] | None


def check_structure(graph: Any, label: str, outer: Iterable[str] = ()) -> Structure:
    """Raise :class:`ModelLoadError` if ``graph`` (an ``onnx.GraphProto``) is not a graph.

    The :class:`Structure` returned has an ``order`` when the nodes are not listed in an
    order they can run in (as the ONNX spec asks): the indices, as close to the listed order
    as the edges allow. onnx's shape inference reads the nodes in the listed order and would
    find a node's inputs not yet typed.
    """
    nodes = graph.node
    inputs = [tuple(node.input) for node in nodes]
    outputs = [tuple(node.output) for node in nodes]
    op_types = [node.op_type for node in nodes]
    names = [node.name for node in nodes]
    _check_text(graph, inputs, outputs, op_types, names, label)
    outer = set(outer)
    defined = outer | {vi.name for vi in graph.input} | {t.name for t in graph.initializer}
    defined.update(sparse.values.name for sparse in graph.sparse_initializer)
    defined.add("")  # an optional input left out
    producer = {out: index for index, outs in enumerate(outputs) for out in outs if out}
    written = sum(1 for outs in outputs for out in outs if out)
    if len(producer) != written or not producer.keys().isdisjoint(defined - outer):
        _name_the_rewrite(graph, outputs, defined - outer, label)
    for index, outs in enumerate(outputs):
        if not any(outs) and op_types[index] == "Constant":
            raise ModelLoadError(f"{label}: Constant node '{_name(graph, index)}' has no output")
    read = {name for ins in inputs for name in ins}
    missing = read - defined - producer.keys()
    if missing:
        index, name = next((i, n) for i, ins in enumerate(inputs) for n in ins if n in missing)
        raise ModelLoadError(
            f"{label}: node '{_name(graph, index)}' reads '{name}', which no input, "
            "initializer or node defines: not a valid graph"
        )
    get = producer.get
    in_order = all(get(name, -1) < index for index, ins in enumerate(inputs) for name in ins)
    if not _CONTROL_FLOW.isdisjoint(op_types):
        visible = defined | producer.keys()
        for index, op_type in enumerate(op_types):
            if op_type in _CONTROL_FLOW:
                for attr in nodes[index].attribute:
                    subgraphs = [attr.g] if attr.type == _GRAPH else list(attr.graphs)
                    for sub in subgraphs:
                        check_structure(sub, f"{label}: {_name(graph, index)}", visible)
    order = None if in_order else _run_order(graph, inputs, producer, label)
    return Structure(inputs, outputs, op_types, names, order)


def _name_the_rewrite(
    graph: Any, outputs: Sequence[tuple[str, ...]], stored: set[str], label: str
) -> None:
    """Raise the error for the first tensor written twice, or written over an input."""
    producer: dict[str, int] = {}
    for index, outs in enumerate(outputs):
        for out in outs:
            if not out:
                continue
            if out in producer:
                raise ModelLoadError(
                    f"{label}: tensor '{out}' is produced twice (by nodes "
                    f"'{_name(graph, producer[out])}' and '{_name(graph, index)}'): "
                    "not a valid graph"
                )
            if out in stored:
                raise ModelLoadError(
                    f"{label}: node '{_name(graph, index)}' writes '{out}', which is already "
                    "a graph input or initializer: not a valid graph"
                )
            producer[out] = index


def _run_order(
    graph: Any, inputs: Sequence[tuple[str, ...]], producer: dict[str, int], label: str
) -> list[int]:
    """Kahn's algorithm, taking the earliest listed node that is ready: every node runs once
    all its producers have; any left never can (a cycle)."""
    waiting = [0] * len(inputs)
    readers: dict[int, list[int]] = {}
    for index, ins in enumerate(inputs):
        for name in ins:
            source = producer.get(name)
            if source is not None:
                waiting[index] += 1
                readers.setdefault(source, []).append(index)
    ready = [i for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for reader in readers.get(node, ()):
            waiting[reader] -= 1
            if waiting[reader] == 0:
                heapq.heappush(ready, reader)
    if len(order) < len(inputs):
        stuck = next(i for i, count in enumerate(waiting) if count)
        raise ModelLoadError(
            f"{label}: the graph has a cycle through node '{_name(graph, stuck)}': "
            "not a valid graph"
        )
    return order


def _check_text(
    graph: Any,
    inputs: Sequence[tuple[str, ...]],
    outputs: Sequence[tuple[str, ...]],
    op_types: Sequence[str],
    names: Sequence[str],
    label: str,
) -> None:
    """Every name in the graph must be text: protobuf hands back bytes for a name that is not
    valid UTF-8, and such a name cannot be shown, matched or written to a report."""
    tensors = [vi.name for vi in (*graph.input, *graph.output, *graph.value_info)]
    tensors += [t.name for t in graph.initializer]
    try:  # str.join refuses bytes, at C speed
        "".join(chain(names, op_types, tensors, *map(chain.from_iterable, (inputs, outputs))))
    except TypeError:
        pass
    else:
        return
    for index, node in enumerate(graph.node):
        for value in (node.name, node.op_type, node.domain, *node.input, *node.output):
            if type(value) is not str:
                raise ModelLoadError(
                    f"{label}: node {index} ({_printable(node.op_type)}) has a name that is "
                    f"not valid UTF-8: {_printable(value)}"
                )
    bad = next(value for value in tensors if type(value) is not str)
    raise ModelLoadError(f"{label}: a graph tensor name is not valid UTF-8: {_printable(bad)}")


def _name(graph: Any, index: int) -> str:
    """A node's name for messages: its own, or its op type and position when unnamed."""
    node = graph.node[index]
    return str(node.name or f"{node.op_type} #{index}")


def _printable(value: object) -> str:
    return repr(value) if isinstance(value, bytes) else str(value)


def static_shape(type_proto: Any) -> tuple[int, ...] | None:
    """A value's shape when every dim is a known non-negative number, else None (a symbolic
    or unknown dim: the shape is not static). Shared by the ONNX reader and shape completion."""
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
