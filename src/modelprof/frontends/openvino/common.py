"""What the builder and every translation module share: OpenVINO element types as dtype names,
and OpenVINO attributes in the form the ONNX-named nodes carry.

Kept apart from :mod:`.builder` so that a translation module and the builder read attributes
the same way, with no translation module reaching into the builder for them.
"""

from __future__ import annotations

from typing import Any

#: An op output as the builder keys it: (the op's unique name, output index).
Key = tuple[str, int]

#: OpenVINO element types -> numpy-style names (DTYPE_BYTES). 4-bit float/NF4 codes are stored
#: as 4-bit integers, f8e8m0 (a scale type) as a byte.
_OV_DTYPES = {
    "f64": "float64",
    "f32": "float32",
    "f16": "float16",
    "bf16": "bfloat16",
    "f8e4m3": "float8e4m3fn",
    "f8e5m2": "float8e5m2",
    "f8e8m0": "uint8",
    "f4e2m1": "uint4",
    "nf4": "uint4",
    "i64": "int64",
    "u64": "uint64",
    "i32": "int32",
    "u32": "uint32",
    "i16": "int16",
    "u16": "uint16",
    "i8": "int8",
    "u8": "uint8",
    "i4": "int4",
    "u4": "uint4",
    "u2": "uint4",
    "u3": "uint4",
    "u6": "uint8",
    "u1": "bool",
    "boolean": "bool",
    "string": "string",
}

#: OpenVINO ``auto_pad`` values -> ONNX's.
AUTO_PAD = {
    "explicit": "NOTSET",
    "notset": "NOTSET",
    "same_upper": "SAME_UPPER",
    "same_lower": "SAME_LOWER",
    "valid": "VALID",
}


def dtype(element_type: Any) -> str:
    """The dtype name of an OpenVINO element type; an unknown one reads as float32."""
    return _OV_DTYPES.get(element_type.get_type_name(), "float32")


def ints(value: Any) -> list[int]:
    return [int(v) for v in value]


def bn_order(op: Any) -> tuple[int, int, int, int, int]:
    """Positions of (data, gamma, beta, mean, variance): BatchNormInference-0 puts data third."""
    if op.get_type_info().version_id == "opset1":
        return (2, 0, 1, 3, 4)
    return (0, 1, 2, 3, 4)


def plain_attrs(op: Any) -> dict[str, Any]:
    """The op's attributes as OpenVINO lists them (none where it cannot), less ``value``."""
    try:
        attrs = op.get_attributes()
    except RuntimeError:
        return {}
    return {key: value for key, value in attrs.items() if key != "value"}
