"""The framework-neutral graph that every cost rule sees.

Frontends (ONNX, PyTorch, ...) translate their model into this one shape: nodes carry ONNX op
names with the spec's attribute defaults already filled in, every tensor has a static shape and
a dtype, and weights are described by shape and dtype only. Nothing here holds weight values,
which is why a model whose weights live in a 28 GB external file is counted in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from math import prod
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

#: Bytes per element for the dtypes a model can store; names follow numpy.
DTYPE_BYTES: Mapping[str, float] = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "float8e4m3fn": 1,
    "float8e4m3fnuz": 1,
    "float8e5m2": 1,
    "float8e5m2fnuz": 1,
    "int64": 8,
    "uint64": 8,
    "int32": 4,
    "uint32": 4,
    "int16": 2,
    "uint16": 2,
    "int8": 1,
    "uint8": 1,
    "int4": 0.5,
    "uint4": 0.5,
    "bool": 1,
    "complex64": 8,
    "complex128": 16,
    "string": 0,
}

FLOAT_DTYPES = frozenset(
    {
        "float64",
        "float32",
        "float16",
        "bfloat16",
        "float8e4m3fn",
        "float8e4m3fnuz",
        "float8e5m2",
        "float8e5m2fnuz",
    }
)

Shape = tuple[int, ...]


def nbytes_of(numel: int, dtype: str) -> int:
    """Bytes of ``numel`` elements of ``dtype`` (4 for a dtype not in the table)."""
    return int(numel * DTYPE_BYTES.get(dtype, 4))


# The three IR records below are NamedTuples, not frozen dataclasses: a graph of 100,000 nodes
# builds hundreds of thousands of them, and a NamedTuple is built 2.5x faster while being just
# as immutable and typed. Results (CostReport and friends) stay frozen dataclasses.


class TensorInfo(NamedTuple):
    """A tensor's static shape and element type (never its values)."""

    name: str
    shape: Shape
    dtype: str

    @property
    def numel(self) -> int:
        return prod(self.shape)

    @property
    def nbytes(self) -> int:
        return nbytes_of(prod(self.shape), self.dtype)


WeightKind = Literal["param", "buffer"]


class Weight(NamedTuple):
    """A stored tensor: a trainable parameter, or a buffer such as BatchNorm's running mean."""

    name: str
    shape: Shape
    dtype: str
    kind: WeightKind

    @property
    def numel(self) -> int:
        return prod(self.shape)

    @property
    def nbytes(self) -> int:
        return nbytes_of(prod(self.shape), self.dtype)


class Node(NamedTuple):
    """One operation.

    ``inputs`` and ``outputs`` name tensors ('' marks an omitted optional input). ``attrs`` holds
    every attribute the op's spec defines, defaults included. ``repeat`` multiplies the node's
    cost (a Loop body run a static number of times); ``branch`` names the If branch the node
    belongs to (``"<if node>:then"``), so the analysis can count the larger branch only.
    """

    name: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = MappingProxyType({})
    scope: str = ""
    domain: str = ""
    repeat: int = 1
    branch: str = ""


@dataclass(frozen=True, slots=True)
class Uncounted:
    """A piece of the model that could not be costed, and why (never a silent zero)."""

    name: str
    op_type: str
    reason: str


@dataclass(frozen=True)
class Graph:
    """A whole model: nodes in execution order plus what is known about every tensor.

    ``weights`` maps tensor names to stored tensors. Tensors that are pure functions of weights
    (a Transpose or Cast of a weight, say) are *derived weights*: the analysis attributes their
    source parameters to the layer that finally consumes them.

    ``aliases`` maps a tensor that is a view of another (a PyTorch reshape) to its base, so
    peak memory counts the buffer once. ``input_labels`` are user-facing input names where
    they differ from the tensor names. ``constants`` are stored tensors that are not weights
    (integer shape tensors, scalars).

    ``param_total``/``buffer_total`` override the totals computed from ``weights`` where the
    source defines them itself (PyTorch's ``parameters()`` also counts unused parameters).
    """

    name: str
    source: str
    nodes: tuple[Node, ...]
    tensors: Mapping[str, TensorInfo]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    weights: Mapping[str, Weight]
    constants: frozenset[str] = frozenset()
    aliases: Mapping[str, str] = field(default_factory=dict)
    uncounted: tuple[Uncounted, ...] = ()
    notes: tuple[str, ...] = ()
    param_total: int | None = None
    buffer_total: int | None = None
    input_labels: tuple[str, ...] = ()

    def input_infos(self) -> tuple[TensorInfo, ...]:
        labels = self.input_labels or self.inputs
        return tuple(
            TensorInfo(label, self.tensors[name].shape, self.tensors[name].dtype)
            for label, name in zip(labels, self.inputs, strict=True)
        )
