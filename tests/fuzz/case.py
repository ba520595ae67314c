"""What a generated case is, and the workspace a generator writes its files into.

A generator gets a :class:`Workspace` (a fresh folder) and a seeded ``random.Random``, writes
whatever files the case needs, and returns a :class:`Case`: the command line (relative paths,
run with the work folder as the current directory, so a reproducer is short), the outputs the
command may legitimately create or replace, and the special files that need a partner process
(a FIFO the command reads needs a writer, one it writes needs a reader, or it blocks forever and
the hang would be ours, not modelprof's).

Everything under the workspace that exists before the run is an input: the runner snapshots it
and checks it is byte-for-byte (and for special files, type-and-device) the same afterwards,
except the declared outputs.
"""

from __future__ import annotations

import os
import random
import shlex
import socket
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the commands whose exit status 1 is part of the contract (over budget); ``--strict`` is the
#: other way to earn it
EXIT_1_COMMANDS = frozenset({"check"})

Arg = str | bytes  # bytes: an argument that is not valid UTF-8, passed as is


@dataclass
class Case:
    """One generated command and what may happen to its files."""

    family: str
    #: what was generated, in a few words (mutation names, option values): the summary groups by it
    title: str
    #: the arguments after ``modelprof``
    argv: list[Arg]
    #: paths (relative to the work folder) the command may create or replace
    outputs: set[str] = field(default_factory=set)
    #: FIFO path -> the bytes a writer thread feeds it (the command reads it)
    feed: dict[str, bytes] = field(default_factory=dict)
    #: FIFO paths a reader thread drains (the command writes them)
    drain: list[str] = field(default_factory=list)
    #: a file whose appearance means code from an untrusted pickle ran
    marker: str | None = None
    #: environment variables set for the run (COLUMNS=0, a C locale, ...)
    env: dict[str, str] = field(default_factory=dict)
    #: a special file (relative path) the command's stdout is opened on, instead of a pipe
    stdout_to: str | None = None
    #: set by the catalog: the seed and index that regenerate this case
    seed: int = 0
    index: int = 0

    @property
    def command(self) -> str:
        first = self.argv[0] if self.argv else ""
        return first if isinstance(first, str) else first.decode("utf-8", "replace")

    def allows_exit_1(self) -> bool:
        return self.command in EXIT_1_COMMANDS or "--strict" in self.argv

    def shell(self) -> str:
        """The command line, quoted for a POSIX shell (bytes arguments as $'\\xNN' strings)."""
        parts = [f"{k}={shlex.quote(v)}" for k, v in self.env.items()] + ["modelprof"]
        for arg in self.argv:
            if isinstance(arg, bytes):
                parts.append("$'" + "".join(f"\\x{b:02x}" for b in arg) + "'")
            else:
                parts.append(shlex.quote(arg))
        if self.stdout_to:
            parts.append(f"> {shlex.quote(self.stdout_to)}")
        return " ".join(parts)


class Workspace:
    """A case's folder: ``root`` holds everything; ``work`` (a child of root) is the current
    directory of the run, so ``../x`` from a model reaches a file that is outside the model's
    folder but still ours (escape attempts never reach anything real)."""

    def __init__(self, root: Path, assets: Any) -> None:
        self.root = root
        self.work = root / "w"
        self.work.mkdir(parents=True, exist_ok=True)
        #: files built once per run and shared (read-only) by every case: base IR, reports
        self.assets = assets

    def path(self, name: str) -> Path:
        return self.work / name

    def write(self, name: str, data: bytes | str) -> str:
        path = self.work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        path.write_bytes(data)
        return name

    def outside(self, name: str, data: bytes) -> Path:
        """A file next to the work folder: reachable as ``../name``, never an input's sibling."""
        path = self.root / name
        path.write_bytes(data)
        return path

    def fifo(self, name: str) -> str:
        os.mkfifo(self.work / name)
        return name

    def chardev(self, name: str, kind: str) -> str | None:
        """A character device node like /dev/null, /dev/zero or /dev/full, created here with
        mknod (never the real ones: a bug that replaced /dev/null would break the machine).
        None when this process may not create device nodes (not root)."""
        minor = {"null": 3, "zero": 5, "full": 7, "urandom": 9}[kind]
        try:
            os.mknod(self.work / name, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
        except (PermissionError, OSError):
            return None
        return name

    def unix_socket(self, name: str) -> str | None:
        """A socket file (bound, then closed: the node stays). None where AF_UNIX is missing or
        the path is too long for sun_path."""
        path = self.work / name
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        except (AttributeError, OSError):
            return None
        try:
            sock.bind(str(path))
        except OSError:
            return None
        finally:
            sock.close()
        return name

    def symlink(self, name: str, target: str) -> str:
        (self.work / name).symlink_to(target)
        return name

    def hardlink(self, name: str, target: str) -> str:
        os.link(self.work / target, self.work / name)
        return name


def pick(rng: random.Random, options: list[object] | tuple[object, ...]) -> object:
    return options[rng.randrange(len(options))]
