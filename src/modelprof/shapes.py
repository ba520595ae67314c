"""The command line's small languages about sizes, each parsed in one place.

- ``--input-shape``: ``NAME=1x3x224x224``, onnx-tool's ``NAME:1x3x224x224``, an optional dtype
  after a colon (``ids=1x128:int64``), and a bare ``1x3x224x224`` for a model with one input
  (docs/conventions.md);
- ``--sweep NAME=VALUES`` (``count`` and ``profile``), whose values are a list of positive
  integers (``1,8,32``, also ``--streams``) or of shapes (``1x3x160x160,1x3x224x224``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from math import prod

from .errors import ModelprofError, ShapeError
from .graph import DTYPE_BYTES, Shape

#: The largest input a shape may describe: 1 PiB. Beyond it a "shape" is a typo (an extra
#: digit or two), and sizes past 2^63 bytes no longer fit the integers runtimes use.
MAX_INPUT_BYTES = 1 << 50

_DIMS = r"\d+(?:[x,]\d+)*"
_SPEC = re.compile(
    rf"^(?:(?P<name>[^=:]+?)\s*[=:]\s*)?(?P<dims>{_DIMS}|\[\s*{_DIMS}\s*\])(?::(?P<dtype>[a-z0-9]+))?$"
)


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One user-given input: its name (None: the model's only input), shape and dtype."""

    name: str | None
    shape: Shape
    dtype: str | None = None


def parse_input_shape(text: str) -> InputSpec:
    """Parse one ``--input-shape`` value; raise :class:`ShapeError` saying what is wrong."""
    spec = text.strip().replace(" ", "")
    match = _SPEC.match(spec)
    if not match:
        raise ShapeError(
            f"malformed --input-shape '{text}': expected NAME=1x3x224x224 "
            "(or NAME:1x3x224x224, optionally followed by :dtype such as :int64)"
        )
    dims = tuple(int(d) for d in re.split(r"[x,]", match["dims"].strip("[]")))
    if any(d <= 0 for d in dims):
        raise ShapeError(f"malformed --input-shape '{text}': every dimension must be positive")
    dtype = match["dtype"]
    if dtype is not None and dtype not in DTYPE_BYTES:
        known = ", ".join(sorted(k for k in DTYPE_BYTES if k != "string"))
        raise ShapeError(f"unknown dtype '{dtype}' in --input-shape '{text}' (known: {known})")
    nbytes = prod(dims) * DTYPE_BYTES.get(dtype or "float32", 4)
    if nbytes > MAX_INPUT_BYTES:
        raise ShapeError(
            f"--input-shape '{text}': {prod(dims):.3g} elements ({nbytes:.3g} bytes) is more "
            "than any machine holds"
        )
    return InputSpec(match["name"], dims, dtype)


def resolve_inputs(
    specs: Iterable[InputSpec] | Mapping[str, Shape] | None, input_names: list[str]
) -> dict[str, InputSpec]:
    """Map specs onto the model's input names, checking that every name exists."""
    if specs is None:
        return {}
    if isinstance(specs, Mapping):
        specs = [InputSpec(name, tuple(shape)) for name, shape in specs.items()]
    resolved: dict[str, InputSpec] = {}
    for spec in specs:
        name = spec.name
        if name is None:
            if len(input_names) != 1:
                raise ShapeError(
                    "the model has several inputs "
                    f"({', '.join(input_names)}): name each one, e.g. "
                    f"--input-shape {input_names[0] if input_names else 'x'}=1x3x224x224"
                )
            name = input_names[0]
        if name not in input_names:
            raise ShapeError(
                f"--input-shape names '{name}', but the model's inputs are: "
                f"{', '.join(input_names) or '(none)'}"
            )
        if name in resolved:
            raise ShapeError(f"--input-shape gives input '{name}' twice")
        if any(d <= 0 for d in spec.shape):
            raise ShapeError(f"input '{name}': every dimension must be positive, got {spec.shape}")
        nbytes = prod(spec.shape) * DTYPE_BYTES.get(spec.dtype or "float32", 4)
        if nbytes > MAX_INPUT_BYTES:
            raise ShapeError(
                f"input '{name}': shape {spec.shape} is {nbytes:.3g} bytes, more than any "
                "machine holds"
            )
        resolved[name] = InputSpec(name, spec.shape, spec.dtype)
    return resolved


def parse_sweep(text: str, *, example: str = "batch=1,8,32") -> tuple[str, str]:
    """``"batch=1,8,32"`` -> ("batch", "1,8,32"): the values are parsed by the caller, who
    knows what the name takes (integers for a dim, shapes for an input)."""
    name, sep, values = text.partition("=")
    if not sep or not name.strip() or not values.strip():
        raise ModelprofError(f"malformed --sweep '{text}': expected NAME=VALUES, e.g. {example}")
    return name.strip(), values.strip()


def parse_int_list(text: str, what: str) -> tuple[int, ...]:
    """``"1,2,4"`` -> (1, 2, 4); every value a positive integer, none repeated."""
    parts = [p.strip() for p in text.split(",")]
    if not parts or any(not re.fullmatch(r"\d+", p) for p in parts):
        raise ModelprofError(f"malformed {what} '{text}': expected positive integers like 1,2,4")
    values = tuple(int(p) for p in parts)
    if any(v <= 0 for v in values):
        raise ModelprofError(f"malformed {what} '{text}': every value must be at least 1")
    if len(set(values)) != len(values):
        raise ModelprofError(f"malformed {what} '{text}': a value is repeated")
    return values


def parse_shape_list(text: str, what: str) -> tuple[Shape, ...]:
    """``"1x3x160x160,1x3x224x224"`` -> ((1, 3, 160, 160), (1, 3, 224, 224)); every dim
    positive, no shape repeated."""
    shapes = []
    for part in text.split(","):
        part = part.strip().strip("[]")
        if not re.fullmatch(r"\d+(?:x\d+)*", part):
            raise ModelprofError(
                f"malformed {what} '{text}': expected shapes like 1x3x160x160,1x3x224x224"
            )
        shape = tuple(int(d) for d in part.split("x"))
        if any(d <= 0 for d in shape):
            raise ModelprofError(f"malformed {what} '{text}': every dimension must be positive")
        shapes.append(shape)
    if len(set(shapes)) != len(shapes):
        raise ModelprofError(f"malformed {what} '{text}': a shape is repeated")
    return tuple(shapes)
