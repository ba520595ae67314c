"""An ONNX graph's structure checked before anything is counted.

A graph with a cycle, a tensor produced twice, a node reading a tensor nothing defines, or
names that are not text is no model any runtime would run: counting it would print figures
for something that does not exist. Such a graph is refused in one line naming the node.
Unsorted graphs are accepted (their order is not the problem; their edges are), and a
subgraph (If, Loop, Scan bodies) may read any name of the graphs around it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any

from ..errors import ModelLoadError

_GRAPH = 5  # onnx.AttributeProto.GRAPH
_GRAPHS = 10  # onnx.AttributeProto.GRAPHS


def check_structure(graph: Any, label: str, outer: Iterable[str] = ()) -> list[int] | None:
    """Raise :class:`ModelLoadError` if ``graph`` (an ``onnx.GraphProto``) is not a graph.

    Returns None when its nodes are listed in an order they can run in (as the ONNX spec
    asks), else such an order (node indices, as close to the listed order as the edges allow):
    onnx's shape inference reads the nodes in the listed order and would find a node's inputs
    not yet typed.
    """
    names = _text_names(graph, label)
    defined = set(outer)
    for vi in graph.input:
        defined.add(vi.name)
    for init in graph.initializer:
        defined.add(init.name)
    for sparse in graph.sparse_initializer:
        defined.add(sparse.values.name)
    producer: dict[str, int] = {}
    for index, node in enumerate(graph.node):
        for out in node.output:
            if not out:
                continue
            if out in producer:
                first = names[producer[out]]
                raise ModelLoadError(
                    f"{label}: tensor '{out}' is produced twice (by nodes '{first}' and "
                    f"'{names[index]}'): not a valid graph"
                )
            if out in defined and out not in outer:
                raise ModelLoadError(
                    f"{label}: node '{names[index]}' writes '{out}', which is already a graph "
                    "input or initializer: not a valid graph"
                )
            producer[out] = index
        if node.op_type == "Constant" and not any(node.output):
            raise ModelLoadError(f"{label}: Constant node '{names[index]}' has no output")
    visible = defined | producer.keys()
    in_order = True
    waiting = [0] * len(graph.node)
    readers: dict[int, list[int]] = {}
    for index, node in enumerate(graph.node):
        for name in node.input:
            if not name:
                continue  # an optional input left out
            if name not in visible:
                raise ModelLoadError(
                    f"{label}: node '{names[index]}' reads '{name}', which no input, "
                    "initializer or node defines: not a valid graph"
                )
            source = producer.get(name)
            if source is not None and name not in outer:
                waiting[index] += 1
                readers.setdefault(source, []).append(index)
                in_order = in_order and source < index
        for attr in node.attribute:
            if attr.type == _GRAPH:
                check_structure(attr.g, f"{label}: {names[index]}", visible)
            elif attr.type == _GRAPHS:
                for sub in attr.graphs:
                    check_structure(sub, f"{label}: {names[index]}", visible)
    if in_order:  # every edge points forward: no cycle, and nothing to reorder
        return None
    return _run_order(waiting, readers, names, label)


def _run_order(
    waiting: list[int], readers: dict[int, list[int]], names: list[str], label: str
) -> list[int]:
    """Kahn's algorithm, taking the earliest listed node that is ready: every node runs once
    all its producers have; any left never can (a cycle)."""
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
    if len(order) < len(waiting):
        stuck = next(i for i, count in enumerate(waiting) if count)
        raise ModelLoadError(
            f"{label}: the graph has a cycle through node '{names[stuck]}': not a valid graph"
        )
    return order


def _text_names(graph: Any, label: str) -> list[str]:
    """Each node's name for messages (its op type and position when unnamed), once every name
    in the graph is checked to be text: protobuf hands back bytes for a name that is not
    valid UTF-8, and such a name cannot be shown, matched or written to a report."""
    names = []
    for index, node in enumerate(graph.node):
        for value in (node.name, node.op_type, node.domain, *node.input, *node.output):
            if not isinstance(value, str):
                raise ModelLoadError(
                    f"{label}: node {index} ({_printable(node.op_type)}) has a name that is "
                    f"not valid UTF-8: {_printable(value)}"
                )
        names.append(node.name or f"{node.op_type} #{index}")
    for vi in (*graph.input, *graph.output, *graph.value_info, *graph.initializer):
        if not isinstance(vi.name, str):
            raise ModelLoadError(
                f"{label}: a graph tensor name is not valid UTF-8: {_printable(vi.name)}"
            )
    return names


def _printable(value: object) -> str:
    if isinstance(value, bytes):
        return repr(value)
    return str(value)
