"""Parsing ``--input-shape`` specifications.

Accepted forms (DESIGN.md): ``NAME=1x3x224x224``, onnx-tool's ``NAME:1x3x224x224``, an optional
dtype after a colon (``ids=1x128:int64``), and a bare ``1x3x224x224`` for a model with one input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .errors import ShapeError
from .graph import DTYPE_BYTES, Shape

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
        resolved[name] = InputSpec(name, spec.shape, spec.dtype)
    return resolved
