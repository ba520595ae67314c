"""Byte-level mutations, shared by every family that writes a file.

Why these: a real corrupt file is truncated (a download cut short), has flipped bits (a bad
disk, a bad copy), gained or lost a run of bytes (a botched concatenation), or is another
file with the wrong name. Parsers that survive structurally broken inputs often still fall over
on a length prefix that now points past the end, so the mutations are biased towards the
places length prefixes live (the first bytes, and varint-looking bytes).
"""

from __future__ import annotations

import random

#: names that exercise the printing paths: markup, escapes, control characters, odd Unicode
HOSTILE_NAMES = [
    "[/x]",
    "[bold red]boom[/bold red]",
    "[link=file:///etc/passwd]x[/link]",
    "\x1b[31mred\x1b[0m",
    "\x1b]0;title\x07",
    "line\nbreak",
    "carriage\rreturn",
    "tab\there",
    "nul\x00byte",
    "bell\x07",
    "\u202eevil",  # right-to-left override
    "\ud800",  # lone surrogate: not encodable as UTF-8
    "ｆｕｌｌｗｉｄｔｈ",
    "e\u0301" * 3,
    "",
    " ",
    "%s%n%x",
    "{0}{1}",
    "a" * 5000,
    "..",
    "/",
    "-",
    "--help",
]

#: byte strings that are not valid UTF-8
INVALID_UTF8 = [b"\xff\xfe", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]


def flip(rng: random.Random, data: bytes, count: int | None = None) -> bytes:
    buf = bytearray(data)
    if not buf:
        return bytes(buf)
    for _ in range(count or rng.randint(1, 8)):
        i = _position(rng, len(buf))
        buf[i] ^= 1 << rng.randrange(8)
    return bytes(buf)


def truncate(rng: random.Random, data: bytes) -> bytes:
    if len(data) < 2:
        return b""
    return data[: rng.choice([0, 1, rng.randrange(len(data)), len(data) - 1])]


def insert(rng: random.Random, data: bytes) -> bytes:
    i = _position(rng, len(data) + 1)
    blob = rng.choice(
        [
            bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))),
            b"\xff" * rng.randint(1, 16),
            b"\x00" * rng.randint(1, 16),
            rng.choice(INVALID_UTF8),
        ]
    )
    return data[:i] + blob + data[i:]


def delete(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    i = _position(rng, len(data))
    return data[:i] + data[i + rng.randint(1, 64) :]


def duplicate(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    i = rng.randrange(len(data))
    j = min(len(data), i + rng.randint(1, 256))
    return data[:j] + data[i:j] * rng.randint(1, 4) + data[j:]


def overwrite(rng: random.Random, data: bytes) -> bytes:
    """A run of 0xff (a varint that never ends) or 0x00 somewhere."""
    if not data:
        return data
    i = _position(rng, len(data))
    n = rng.randint(1, 12)
    fill = rng.choice([b"\xff", b"\x00", b"\x7f", b"\x80"]) * n
    return data[:i] + fill + data[i + n :]


MUTATIONS = {
    "flip": flip,
    "truncate": truncate,
    "insert": insert,
    "delete": delete,
    "duplicate": duplicate,
    "overwrite": overwrite,
}


def mutate(rng: random.Random, data: bytes, rounds: int | None = None) -> tuple[bytes, str]:
    """``data`` with 1-3 random mutations, and their names (for the case title)."""
    names = []
    for _ in range(rounds or rng.choice([1, 1, 1, 2, 3])):
        name = rng.choice(sorted(MUTATIONS))
        data = MUTATIONS[name](rng, data)
        names.append(name)
    return data, "+".join(names)


def _position(rng: random.Random, size: int) -> int:
    """Uniform most of the time, the header (where lengths live) a third of the time."""
    if size <= 1:
        return 0
    return rng.randrange(min(size, 32)) if rng.random() < 0.33 else rng.randrange(size)
