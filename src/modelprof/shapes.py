"""The command line's small languages about sizes, each parsed in one place.

- ``--input-shape``: ``NAME=1x3x224x224``, onnx-tool's ``NAME:1x3x224x224``, an optional dtype
  after a colon (``ids=1x128:int64``), and a bare ``1x3x224x224`` for a model with one input
  (docs/conventions.md);
- ``--sweep NAME=VALUES`` (``count`` and ``profile``), whose values are a list of positive
  integers (``1,8,32``, also ``--streams``) or of shapes (``1x3x160x160,1x3x224x224``).

The Python API's ``input_shapes`` says the same in Python's terms (:func:`as_specs`), and errors
about inputs speak the language the inputs were given in: ``--input-shape`` for specs parsed from
the command line, ``input_shapes`` for those given in Python.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from math import prod
from typing import Any

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
    """One user-given input: its name, shape and dtype (None: the model's own, else float32).

    An input is named, or given by its position among the model's inputs (``index``), or
    neither: then it is the model's only input. ``text`` is the ``--input-shape`` value it was
    parsed from (None: given in Python); errors about it quote the option only when there is one.
    """

    name: str | None
    shape: Shape
    dtype: str | None = None
    index: int | None = None
    text: str | None = field(default=None, compare=False)


#: What the Python API takes as ``input_shapes``: a mapping from input name to a shape
#: (``(1, 3, 224, 224)``) or an example tensor or array (torch, numpy: anything with ``shape``
#: and ``dtype``, whose dtype is used); for a model with one input, a bare shape or one example;
#: for several, one shape or example per input in the model's order (a list or tuple); or
#: :class:`InputSpec` objects. ``Any`` stands for the shapes and tensors, which no type names.
InputShapes = Iterable[InputSpec] | Mapping[str, Any] | Any | None


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
    return InputSpec(match["name"], dims, dtype, text=text)


def as_specs(given: InputShapes) -> list[InputSpec] | None:
    """``input_shapes`` in any of its forms (see :data:`InputShapes`) as InputSpecs; None, or
    an empty list or mapping, when nothing is given. Raise :class:`ShapeError` on a value that
    is neither a shape nor an example tensor."""
    if given is None or (isinstance(given, list) and not given):  # () stays a scalar's shape
        return None
    if isinstance(given, Mapping):
        specs = []
        for name, value in given.items():
            if not isinstance(name, str):
                raise ShapeError(
                    f"input_shapes: input names are strings, got {type(name).__name__} {name!r}"
                )
            specs.append(_python_spec(value, f"input_shapes[{name!r}]", name=name))
        return specs or None
    if _is_example(given) or _is_shape(given):
        return [_python_spec(given, "input_shapes")]
    if isinstance(given, str | bytes) or not isinstance(given, Iterable):
        raise ShapeError(_not_a_shape("input_shapes", given))
    items = list(given)
    if all(isinstance(item, InputSpec) for item in items):
        return items or None
    if any(isinstance(item, InputSpec) for item in items):
        raise ShapeError(
            "input_shapes: give InputSpec objects or shapes and tensors, not a mix of both"
        )
    return [_python_spec(item, f"input_shapes[{i}]", index=i) for i, item in enumerate(items)]


def _is_example(value: object) -> bool:
    """An example tensor or array: something with a shape and a dtype (torch, numpy, ...)."""
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, tuple)


def _is_shape(value: object) -> bool:
    """A tuple or list of integers (``torch.Size`` is a tuple); numpy's integers count."""
    if not isinstance(value, tuple | list):
        return False
    for d in value:
        if isinstance(d, bool):
            return False
        try:
            operator.index(d)
        except TypeError:
            return False
    return True


def _not_a_shape(where: str, value: object) -> str:
    return (
        f"{where}: expected a shape such as (1, 3, 224, 224) or an example tensor, "
        f"got {type(value).__name__}"
    )


def _python_spec(
    value: Any, where: str, *, name: str | None = None, index: int | None = None
) -> InputSpec:
    if _is_example(value):
        try:
            shape = tuple(int(d) for d in value.shape)
        except (TypeError, ValueError):
            raise ShapeError(
                f"{where}: the example's shape {tuple(value.shape)} has dimensions that are not "
                "numbers; give a shape such as (1, 3, 224, 224)"
            ) from None
        dtype = _dtype_name(value.dtype)
        if dtype not in DTYPE_BYTES or dtype == "string":
            known = ", ".join(sorted(k for k in DTYPE_BYTES if k != "string"))
            raise ShapeError(
                f"{where}: an example of dtype '{dtype}', which modelprof does not know "
                f"(known: {known})"
            )
        return InputSpec(name, shape, dtype, index)
    if _is_shape(value):
        return InputSpec(name, tuple(operator.index(d) for d in value), None, index)
    raise ShapeError(_not_a_shape(where, value))


def _dtype_name(dtype: object) -> str:
    """``torch.int64`` and ``numpy.dtype('int64')`` -> ``"int64"``."""
    name = getattr(dtype, "name", None)
    return name if isinstance(name, str) else str(dtype).removeprefix("torch.")


def how_to_give(name: str, given: InputShapes) -> str:
    """How to give input ``name`` a shape, in the words of whoever gave ``given``: the option
    after ``--input-shape`` values, Python after ``input_shapes``, both when nothing was given
    (a missing shape does not say who forgot it)."""
    specs = as_specs(given) if given is not None else None
    flag = f"--input-shape {name}=1x3x224x224"
    python = f"input_shapes={{{name!r}: (1, 3, 224, 224)}}"
    if not specs:
        return f"{flag} (in Python: {python})"
    return flag if any(s.text is not None for s in specs) else python


def resolve_inputs(specs: InputShapes, input_names: list[str]) -> dict[str, InputSpec]:
    """Map specs onto the model's input names, checking that every name exists; ``specs`` is
    any form of :data:`InputShapes`. Errors quote ``--input-shape`` for specs parsed from it,
    ``input_shapes`` otherwise."""
    given = as_specs(specs)
    if not given:
        return {}
    positional = [s.index for s in given if s.index is not None]
    if positional and max(positional) + 1 != len(input_names):
        raise ShapeError(
            f"input_shapes gives {max(positional) + 1} input(s), but the model has "
            f"{len(input_names)} ({', '.join(input_names) or 'none'}): give one shape per input"
        )
    resolved: dict[str, InputSpec] = {}
    for spec in given:
        what = "--input-shape" if spec.text is not None else "input_shapes"
        name = spec.name
        if name is None and spec.index is not None:
            name = input_names[spec.index]
        elif name is None:
            if len(input_names) != 1:
                first = input_names[0] if input_names else "x"
                how = (
                    f"name each one, e.g. --input-shape {first}=1x3x224x224"
                    if spec.text is not None
                    else f"give one shape per input, e.g. {{{first!r}: (1, 3, 224, 224), ...}} "
                    "or a tuple of example tensors in the model's input order"
                )
                raise ShapeError(f"the model has several inputs ({', '.join(input_names)}): {how}")
            name = input_names[0]
        if name not in input_names:
            raise ShapeError(
                f"{what} names '{name}', but the model's inputs are: "
                f"{', '.join(input_names) or '(none)'}"
            )
        if name in resolved:
            raise ShapeError(f"{what} gives input '{name}' twice")
        if any(d <= 0 for d in spec.shape):
            raise ShapeError(f"input '{name}': every dimension must be positive, got {spec.shape}")
        nbytes = prod(spec.shape) * DTYPE_BYTES.get(spec.dtype or "float32", 4)
        if nbytes > MAX_INPUT_BYTES:
            raise ShapeError(
                f"input '{name}': shape {spec.shape} is {nbytes:.3g} bytes, more than any "
                "machine holds"
            )
        resolved[name] = InputSpec(name, spec.shape, spec.dtype, text=spec.text)
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


def available_memory() -> int | None:
    """Bytes of memory the system can still give (Linux's MemAvailable), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def check_fits_memory(nbytes: int, what: str) -> None:
    """Refuse, before allocating, ``nbytes`` that this machine's free memory cannot hold (a
    typo in a shape, a probe size off by a few digits): the runtime would need more still."""
    free = available_memory()
    if free is not None and nbytes > free:
        raise ModelprofError(
            f"{what} need {nbytes / 2**30:,.1f} GiB, more than the {free / 2**30:,.1f} GiB of "
            "memory free here: give smaller shapes"
        )
