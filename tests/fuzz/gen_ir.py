"""OpenVINO IR: a .xml (the graph) and a .bin (the weights), converted once from a small ONNX
model by OpenVINO itself, then mutated.

Why text mutations on the XML: the IR reader is OpenVINO's C++ code behind modelprof's checks,
and what reaches it from a user is a hand-edited or half-written XML: a dimension of -5 or
"abc", an element type that does not exist, a layer deleted without its edges, an edge that
makes a cycle, a Const whose offset points past the end of the .bin, a DOCTYPE with entities.
The .bin is truncated, emptied, removed, or replaced by a folder, a link or a FIFO.
"""

from __future__ import annotations

import random
import re

from . import mutate
from .assets import Assets
from .case import Case, Workspace

_DIM_VALUES = [
    "0",
    "-1",
    "-5",
    "99999999999",
    "abc",
    "",
    "1.5",
    "18446744073709551617",
    "2147483648",
    "?",
    "1..4",
]
_ELEMENT_TYPES = ["f99", "i4", "boolean", "", "u1", "string", "dynamic", "undefined", "f8e4m3"]
_LAYER_TYPES = ["Frobnicate", "", "Parameter", "Result", "Const", "Loop", "MatMul"]
_NUMBER_LISTS = ["0, 0", "-1, -1", "a", "1", "99999999, 1", "", "1, 1, 1, 1, 1"]


def _sub_one(rng: random.Random, pattern: str, text: str, make: object) -> tuple[str, bool]:
    """Replace one random match of ``pattern`` with ``make(match)``."""
    matches = list(re.finditer(pattern, text))
    if not matches:
        return text, False
    m = rng.choice(matches)
    new = make(m)  # type: ignore[operator]
    return text[: m.start()] + new + text[m.end() :], True


def dim(rng: random.Random, text: str) -> tuple[str, str]:
    value = rng.choice(_DIM_VALUES)
    text, _ = _sub_one(rng, r"<dim>[^<]*</dim>", text, lambda m: f"<dim>{value}</dim>")
    return text, f"dim={value!r}"


def shape_attr(rng: random.Random, text: str) -> tuple[str, str]:
    value = rng.choice(["1,3,-8,8", "", "1,3,8", "abc", "1,3,99999999999,99999999999", "?,?"])
    text, _ = _sub_one(rng, r'shape="[^"]*"', text, lambda m: f'shape="{value}"')
    return text, f"shape={value!r}"


def element_type(rng: random.Random, text: str) -> tuple[str, str]:
    value = rng.choice(_ELEMENT_TYPES)
    text, _ = _sub_one(rng, r'element_type="[^"]*"', text, lambda m: f'element_type="{value}"')
    return text, f"element_type={value!r}"


def layer_type(rng: random.Random, text: str) -> tuple[str, str]:
    value = rng.choice(_LAYER_TYPES)
    text, _ = _sub_one(rng, r' type="[^"]*"', text, lambda m: f' type="{value}"')
    return text, f"type={value!r}"


def opset_version(rng: random.Random, text: str) -> tuple[str, str]:
    value = rng.choice(["opset999", "extension", "", "opset0", "opset1x"])
    text, _ = _sub_one(rng, r'version="opset\d+"', text, lambda m: f'version="{value}"')
    return text, f"version={value!r}"


def net_version(rng: random.Random, text: str) -> tuple[str, str]:
    value = rng.choice(["1", "7", "99", "-1", "x"])
    text, _ = _sub_one(
        rng,
        r'<net name="([^"]*)" version="\d+"',
        text,
        lambda m: f'<net name="{m.group(1)}" version="{value}"',
    )
    return text, f"net version={value!r}"


def drop_layer(rng: random.Random, text: str) -> tuple[str, str]:
    text, _ = _sub_one(rng, r"(?s)<layer .*?</layer>", text, lambda m: "")
    return text, "drop_layer"


def drop_edge(rng: random.Random, text: str) -> tuple[str, str]:
    text, _ = _sub_one(rng, r"<edge [^>]*/>", text, lambda m: "")
    return text, "drop_edge"


def bad_edge(rng: random.Random, text: str) -> tuple[str, str]:
    """An extra edge: backwards (a cycle), to a layer or port that does not exist, or twice."""
    ids = re.findall(r'<layer id="(\d+)"', text)
    if not ids:
        return text, "bad_edge(none)"
    last, first = ids[-2] if len(ids) > 1 else ids[0], ids[0]
    edge = rng.choice(
        [
            f'<edge from-layer="{last}" from-port="2" to-layer="{first}" to-port="0" />',
            '<edge from-layer="999" from-port="0" to-layer="1" to-port="0" />',
            f'<edge from-layer="{first}" from-port="77" to-layer="{last}" to-port="9" />',
            f'<edge from-layer="{first}" from-port="0" to-layer="{first}" to-port="0" />',
        ]
    )
    return text.replace("</edges>", f"{edge}\n</edges>"), "bad_edge"


def duplicate_id(rng: random.Random, text: str) -> tuple[str, str]:
    text, _ = _sub_one(rng, r'<layer id="\d+"', text, lambda m: '<layer id="0"')
    return text, "duplicate_id"


def const_range(rng: random.Random, text: str) -> tuple[str, str]:
    """A Const whose offset/size point outside the .bin, or are not numbers."""
    key = rng.choice(["offset", "size"])
    value = rng.choice(["-1", "99999999999", "18446744073709551615", "abc", "", "1"])
    text, _ = _sub_one(rng, f'{key}="[^"]*"', text, lambda m: f'{key}="{value}"')
    return text, f"const {key}={value!r}"


def attr_list(rng: random.Random, text: str) -> tuple[str, str]:
    key = rng.choice(["strides", "dilations", "pads_begin", "pads_end", "auto_pad"])
    value = rng.choice([*_NUMBER_LISTS, "bogus"])
    text, _ = _sub_one(rng, f'{key}="[^"]*"', text, lambda m: f'{key}="{value}"')
    return text, f"{key}={value!r}"


def hostile_name(rng: random.Random, text: str) -> tuple[str, str]:
    name = rng.choice(
        [
            "[/x]",
            "[bold red]x[/bold red]",
            "\x1b[31m",
            "a&amp;b",
            "line&#10;break",
            "tab&#9;x",
            "&#x202e;evil",
            "a" * 3000,
        ]
    )
    text, _ = _sub_one(rng, r'name="[^"]*"', text, lambda m: f'name="{name}"')
    return text, f"name={name[:12]!r}"


def doctype(rng: random.Random, text: str) -> tuple[str, str]:
    """Entities: a billion-laughs expansion, an external entity, a parameter entity."""
    choice = rng.randrange(3)
    if choice == 0:
        lol = ['<!ENTITY l0 "lol">'] + [
            f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
        ]
        dtd, ref, what = "\n".join(lol), "&l9;", "billion_laughs"
    elif choice == 1:
        dtd, ref, what = '<!ENTITY x SYSTEM "file:///etc/hostname">', "&x;", "external_entity"
    else:
        dtd, ref, what = '<!ENTITY % p SYSTEM "missing.dtd"> %p;', "x", "parameter_entity"
    text = text.replace('<?xml version="1.0"?>', f'<?xml version="1.0"?>\n<!DOCTYPE net [{dtd}]>')
    text, _ = _sub_one(rng, r'name="[^"]*"', text, lambda m: f'name="{ref}"')
    return text, what


def root_element(rng: random.Random, text: str) -> tuple[str, str]:
    new = rng.choice(["<html>", "<netx>", "<net/><net>", ""])
    return text.replace("<net ", new + "<netignored ", 1), f"root={new!r}"


XML_MUTATIONS = {
    f.__name__: f
    for f in (
        dim,
        shape_attr,
        element_type,
        layer_type,
        opset_version,
        net_version,
        drop_layer,
        drop_edge,
        bad_edge,
        duplicate_id,
        const_range,
        attr_list,
        hostile_name,
        doctype,
        root_element,
    )
}


def _bin_variant(rng: random.Random, ws: Workspace, weights: bytes) -> tuple[str, dict[str, bytes]]:
    """Write model.bin, maybe broken: truncated, empty, bigger, flipped, missing, a folder, a
    dangling link, a FIFO, a device."""
    choice = rng.choices(
        [
            "intact",
            "truncate",
            "empty",
            "append",
            "flip",
            "missing",
            "folder",
            "dangling",
            "fifo",
            "zero_device",
        ],
        weights=[40, 10, 5, 5, 10, 8, 5, 5, 6, 6],
    )[0]
    feed: dict[str, bytes] = {}
    if choice == "intact":
        ws.write("model.bin", weights)
    elif choice == "truncate":
        ws.write("model.bin", weights[: rng.randrange(max(1, len(weights)))])
    elif choice == "empty":
        ws.write("model.bin", b"")
    elif choice == "append":
        ws.write("model.bin", weights + bytes(rng.randrange(256) for _ in range(100)))
    elif choice == "flip":
        ws.write("model.bin", mutate.flip(rng, weights, 32))
    elif choice == "folder":
        (ws.work / "model.bin").mkdir()
    elif choice == "dangling":
        ws.symlink("model.bin", "nowhere/model.bin")
    elif choice == "fifo":
        ws.fifo("model.bin")
        feed["model.bin"] = weights
    elif choice == "zero_device" and ws.chardev("model.bin", "zero") is None:
        ws.write("model.bin", b"")
    return choice, feed


def gen_ir(rng: random.Random, ws: Workspace) -> Case:
    assets: Assets = ws.assets  # type: ignore[assignment]
    which = rng.choice(["a", "a", "dyn"])
    xml_path, bin_path = assets.ir(which)
    text = xml_path.read_text()
    names = []
    for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
        name = rng.choice(sorted(XML_MUTATIONS))
        text, what = XML_MUTATIONS[name](rng, text)
        names.append(what)
    data = text.encode("utf-8")
    if rng.random() < 0.15:
        data, how = mutate.mutate(rng, data)
        names.append(f"bytes:{how}")
    ws.write("model.xml", data)
    bin_how, feed = _bin_variant(rng, ws, bin_path.read_bytes())
    if bin_how != "intact":
        names.append(f"bin:{bin_how}")
    bind = ["--input-shape", "x=2x16"] if which == "dyn" and rng.random() < 0.7 else []
    roll = rng.random()
    if roll < 0.65:
        argv = ["count", "model.xml", "--format", rng.choice(["json", "table", "csv"]), *bind]
    elif roll < 0.8:
        argv = ["check", "model.xml", "--max-params", "1M", *bind]
    else:
        argv = [
            "profile",
            "model.xml",
            "--runtime",
            "openvino",
            "--iterations",
            "3",
            "--warmup",
            "1",
            "--format",
            "json",
            *bind,
        ]
    return Case("ir", f"ir_{which}: {' + '.join(names) or 'valid'}", argv, feed=feed)
