"""Read an ONNX file's graph without its weight payloads, by walking the protobuf wire format.

``onnx.load`` parses every byte of a 100 MB model into memory, although counting never looks
at a weight's values. This module copies the file's bytes into a smaller message in which each
large initializer keeps its name, dims, dtype and external-data record but loses its data
fields, then hands that to protobuf. Parsing ResNet-50's 100 MB then takes milliseconds and the
process never holds the weights.

Only the wire format is used (tag = field number << 3 | wire type; length-delimited fields
carry a varint length), so nothing here depends on the onnx version. The walk is pure Python
(about 1.5 us per field), so it pays off only for files whose bulk is weights.
"""

from __future__ import annotations

_MODEL_GRAPH = 7  # ModelProto.graph
_GRAPH_INITIALIZER = 5  # GraphProto.initializer
#: TensorProto data fields: float_data, int32_data, string_data, int64_data, raw_data,
#: double_data, uint64_data
_PAYLOAD = frozenset({4, 5, 6, 7, 9, 10, 11})
#: Initializers up to this size keep their data (shape tensors shape inference needs).
KEEP_BYTES = 16 * 1024


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _fields(buf: memoryview, start: int, end: int):  # type: ignore[no-untyped-def]
    """Yield (field number, start of the field, start of its value, end of the field)."""
    pos = start
    while pos < end:
        field_start = pos
        tag, pos = _varint(buf, pos)
        wire = tag & 7
        if wire == 2:
            length, pos = _varint(buf, pos)
            value_start = pos
            pos += length
        elif wire == 0:
            value_start = pos
            _, pos = _varint(buf, pos)
        elif wire == 1:
            value_start, pos = pos, pos + 8
        elif wire == 5:
            value_start, pos = pos, pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > end:
            raise ValueError("truncated protobuf message")
        yield tag >> 3, field_start, value_start, pos


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _encode_varint(field << 3 | 2) + _encode_varint(len(payload)) + payload


def skim(buf: memoryview) -> bytes:
    """The serialized ModelProto in ``buf`` with large initializers' data fields removed."""
    out: list[bytes] = []
    for number, start, value, end in _fields(buf, 0, len(buf)):
        if number != _MODEL_GRAPH:
            out.append(bytes(buf[start:end]))
            continue
        graph: list[bytes] = []
        run_start = run_end = -1
        for g_number, g_start, g_value, g_end in _fields(buf, value, end):
            if g_number != _GRAPH_INITIALIZER or g_end - g_value <= KEEP_BYTES:
                if run_start < 0:
                    run_start = g_start
                run_end = g_end
                continue
            if run_start >= 0:
                graph.append(bytes(buf[run_start:run_end]))
                run_start = -1
            kept = b"".join(
                bytes(buf[t_start:t_end])
                for t_number, t_start, _, t_end in _fields(buf, g_value, g_end)
                if t_number not in _PAYLOAD
            )
            graph.append(_length_delimited(_GRAPH_INITIALIZER, kept))
        if run_start >= 0:
            graph.append(bytes(buf[run_start:run_end]))
        out.append(_length_delimited(_MODEL_GRAPH, b"".join(graph)))
    return b"".join(out)
