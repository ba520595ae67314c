"""Run one case as a subprocess under limits, and check the command line's contract.

Why a subprocess: the contract is about what a user sees (exit status, stderr lines, files on
disk), and a crash, a hang, a runaway allocation or ``os._exit`` in the library must be caught as
a finding rather than take the harness down. Each run gets a 60 s wall-clock limit and a 2 GiB
address-space limit (``RLIMIT_AS``, set in the child before it executes), its own process group
(so a timeout kills whatever it forked), and a private ``$HOME`` and cache folder.

The checks (each failure is a short ``kind: detail`` string, grouped by kind in the summary):

- exit status 0 or 2; 1 only for ``check`` or ``--strict``; never 3 (internal error), a
  signal, or a timeout;
- exit 2 is exactly one stderr line, starting ``modelprof: error: ``;
- no ``Traceback`` and no ``internal error`` anywhere in the output;
- every file that existed before the run is unchanged afterwards (bytes; for links their target;
  for FIFOs, sockets and device nodes their type, mode and device number), except the outputs the
  case declared; no ``.*.tmp`` file left behind by an atomic write;
- no code from an untrusted pickle ran (its marker file does not exist);
- a JSON report (``--format json``) is strict JSON, and a count report's ``total`` and
  ``layers`` hold no negative, infinite or NaN number;
- exit 0 from count, diff or profile without an output file printed a report on stdout.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import re
import resource
import select
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .case import Case

TIMEOUT_S = 60.0
MEMORY_LIMIT = 2 * 2**30
ERROR_PREFIX = "modelprof: error: "
#: interpreter running the CLI: the one running the harness (the project's venv)
PYTHON = sys.executable


@dataclass
class Outcome:
    case: Case
    returncode: int | None
    stdout: bytes
    stderr: bytes
    wall_s: float
    max_rss_mib: float
    where: Path
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def last_stderr_line(self) -> str:
        lines = [ln for ln in self.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        return lines[-1] if lines else ""

    @property
    def status(self) -> str:
        """``exit 0`` / ``exit 2`` / ``timeout`` / ``signal 9``: the outcome column."""
        if self.failures and self.failures[0].startswith("harness-error"):
            return "not run"
        if self.returncode is None:
            return "timeout"
        if self.returncode < 0:
            return f"signal {-self.returncode}"
        return f"exit {self.returncode}"


# -- the child process -------------------------------------------------------------------------


def _limit_child() -> None:  # runs in the child between fork and exec: keep it minimal
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _environment(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPROF_")}
    home = root / ".home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),  # keras writes ~/.keras, torch ~/.cache: never the real home
        MODELPROF_CACHE=str(root / ".cache"),
        XDG_CACHE_HOME=str(root / ".cache"),
        COLUMNS="120",
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("PYTEST_CURRENT_TEST", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


# -- partners for FIFOs ------------------------------------------------------------------------


def _feed(path: Path, data: bytes, stop: threading.Event) -> None:
    """Serve ``data`` to every open of the FIFO for reading, until ``stop``."""
    while not stop.is_set():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno in (errno.ENXIO, errno.EAGAIN):  # no reader yet
                time.sleep(0.02)
                continue
            return
        os.set_blocking(fd, True)
        with contextlib.suppress(OSError):
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        os.close(fd)
        time.sleep(0.05)  # let the reader see the end before serving another open


def _drain(path: Path, sink: bytearray, stop: threading.Event) -> None:
    """Hold the FIFO open for reading (so a writer never blocks) and keep what is written."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 0.05)
            chunk = os.read(fd, 65536) if ready else b""
            if chunk:
                sink.extend(chunk)
            elif stop.is_set():
                return
            else:
                time.sleep(0.02)  # no writer yet, or it closed: read() keeps answering EOF
    finally:
        os.close(fd)


# -- snapshots ---------------------------------------------------------------------------------

Entry = tuple[Any, ...]
IGNORED_TOP = (".cache", ".home")


def snapshot(root: Path) -> dict[str, Entry]:
    """Every entry under ``root`` (links not followed) -> what must not change about it."""
    found: dict[str, Entry] = {}
    for folder, dirs, files in os.walk(root):
        rel_folder = os.path.relpath(folder, root)
        if rel_folder == ".":
            dirs[:] = [d for d in dirs if d not in IGNORED_TOP]
        for name in [*dirs, *files]:
            path = os.path.join(folder, name)
            rel = os.path.normpath(os.path.join(rel_folder, name))
            try:
                st = os.lstat(path)
            except OSError:
                continue
            mode = st.st_mode
            if stat.S_ISREG(mode):
                digest = hashlib.sha256()
                try:
                    with open(path, "rb") as handle:
                        for block in iter(lambda h=handle: h.read(1 << 20), b""):
                            digest.update(block)
                except OSError:
                    digest.update(b"<unreadable>")
                found[rel] = ("file", stat.S_IMODE(mode), st.st_size, digest.hexdigest())
            elif stat.S_ISLNK(mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(mode):
                found[rel] = ("dir", stat.S_IMODE(mode))
            elif stat.S_ISFIFO(mode):
                found[rel] = ("fifo", stat.S_IMODE(mode))
            elif stat.S_ISCHR(mode):
                found[rel] = ("chardev", stat.S_IMODE(mode), st.st_rdev)
            elif stat.S_ISSOCK(mode):
                found[rel] = ("socket", stat.S_IMODE(mode))
            else:
                found[rel] = ("other", mode)
    return found


def _declared(rel: str, outputs: set[str]) -> bool:
    """Whether ``rel`` (relative to the workspace root) is, or lies under, a declared output."""
    for out in outputs:
        target = os.path.normpath(os.path.join("w", out))
        if rel == target or rel.startswith(target + os.sep):
            return True
    return False


# -- running -----------------------------------------------------------------------------------


def run_case(case: Case, root: Path) -> Outcome:
    """Run ``case`` in its workspace ``root`` (already populated) and check the contract."""
    work = root / "w"
    before = snapshot(root)
    env = _environment(root)
    stop = threading.Event()
    partners: list[threading.Thread] = []
    drained: dict[str, bytearray] = {}
    for name, data in case.feed.items():
        partners.append(threading.Thread(target=_feed, args=(work / name, data, stop), daemon=True))
    for name in case.drain:
        drained[name] = bytearray()
        partners.append(
            threading.Thread(target=_drain, args=(work / name, drained[name], stop), daemon=True)
        )
    for thread in partners:
        thread.start()

    argv = [PYTHON, "-m", "modelprof.cli.main", *case.argv]
    env.update(case.env)
    stdout: Any = subprocess.PIPE
    if case.stdout_to:
        stdout = os.open(work / case.stdout_to, os.O_WRONLY)
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        preexec_fn=_limit_child,
        start_new_session=True,
    )
    if case.stdout_to:
        os.close(stdout)
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []
    streams = [(proc.stdout, out_chunks), (proc.stderr, err_chunks)]
    readers = [
        threading.Thread(target=_read_all, args=(stream, chunks), daemon=True)
        for stream, chunks in streams
        if stream is not None
    ]
    for thread in readers:
        thread.start()
    returncode, peak_kib = _wait(proc, started + TIMEOUT_S)
    wall = time.monotonic() - started
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever it forked and left behind
    for thread in readers:
        thread.join(timeout=5)
    stop.set()
    for thread in partners:
        thread.join(timeout=5)

    outcome = Outcome(
        case=case,
        returncode=returncode,
        stdout=b"".join(out_chunks),
        stderr=b"".join(err_chunks),
        wall_s=wall,
        max_rss_mib=peak_kib / 1024,
        where=root,
    )
    _check_status(outcome)
    _check_files(outcome, before, snapshot(root))
    _check_json(outcome, work, drained)
    _check_report_printed(outcome)
    return outcome


def _read_all(stream: Any, chunks: list[bytes]) -> None:
    with contextlib.suppress(OSError, ValueError):
        for block in iter(lambda: stream.read1(65536), b""):
            chunks.append(block)


def _wait(proc: subprocess.Popen[bytes], deadline: float) -> tuple[int | None, int]:
    """Reap ``proc``, killing its group at ``deadline``; its exit status (None: it timed out)
    and its peak resident memory in KiB, sampled while it runs."""
    timed_out = False
    peak_kib = 0
    status_file = f"/proc/{proc.pid}/status"
    while True:
        peak_kib = max(peak_kib, _high_water_kib(status_file))
        pid, status = os.waitpid(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline and not timed_out:
            timed_out = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.01)
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped here: keep Popen from waiting again
    return (None if timed_out else code), peak_kib


def _high_water_kib(status_file: str) -> int:
    """The process's peak resident memory so far (VmHWM). Not wait4's ru_maxrss: a child forked
    from this (large) harness process starts out with the harness's pages counted there."""
    try:
        with open(status_file) as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


# -- checks ------------------------------------------------------------------------------------


def _check_status(o: Outcome) -> None:
    err = o.stderr.decode("utf-8", "replace")
    out = o.stdout.decode("utf-8", "replace")
    fail = o.failures.append
    memory_words = ("MemoryError", "bad_alloc", "Cannot allocate memory", "out of memory")
    if o.returncode is None:
        fail(f"timeout: still running after {TIMEOUT_S:.0f} s")
        return
    if o.returncode < 0:
        why = "memory" if any(w in err for w in memory_words) else "signal"
        fail(f"{why}: killed by signal {-o.returncode}")
    if o.max_rss_mib > MEMORY_LIMIT / 2**20:
        fail(f"memory: peak RSS {o.max_rss_mib:.0f} MiB")
    if "Traceback (most recent call last)" in err or "Traceback (most recent call last)" in out:
        fail("traceback: a Python traceback was printed")
    if "internal error" in err:
        kind = "memory" if any(w in err for w in memory_words) else "internal-error"
        fail(f"{kind}: exit {o.returncode}")
    elif o.returncode >= 0 and o.returncode not in (0, 1, 2):
        fail(f"exit-code: exit {o.returncode}")
    if o.returncode == 1 and not o.case.allows_exit_1():
        fail("exit-1: exit 1 outside check and --strict")
    if o.returncode == 2:
        lines = err.splitlines()
        if len(lines) != 1 or not lines[0].startswith(ERROR_PREFIX):
            fail(f"exit-2-format: {len(lines)} stderr line(s), not one '{ERROR_PREFIX}...'")
    if o.returncode == 0:
        # allowed, but worth knowing: stderr lines that are neither ours nor indented detail
        foreign = [
            ln
            for ln in err.splitlines()
            if ln.strip() and not ln.startswith(("modelprof:", "note:", " "))
        ]
        if foreign:
            o.notes.append(f"foreign stderr on exit 0: {foreign[0][:100]}")


def _check_files(o: Outcome, before: dict[str, Entry], after: dict[str, Entry]) -> None:
    outputs = o.case.outputs
    for rel, entry in before.items():
        if _declared(rel, outputs):
            continue
        now = after.get(rel)
        if now is None:
            o.failures.append(f"input-modified: {rel} was removed")
        elif now != entry:
            what = (
                f"{entry[0]} became {now[0]}"
                if now[0] != entry[0]
                else "content changed"
                if entry[0] == "file" and entry[3] != now[3]
                else "metadata changed"
            )
            o.failures.append(f"input-modified: {rel}: {what}")
    for rel in after.keys() - before.keys():
        name = os.path.basename(rel)
        if name.startswith(".") and name.endswith(".tmp"):
            o.failures.append(f"temp-left: {rel}")
        elif not _declared(rel, outputs):
            o.notes.append(f"undeclared new file: {rel}")
    marker = o.case.marker
    if marker and (o.where / "w" / marker).exists():
        o.failures.append("pickle-ran: code from an untrusted pickle ran")


def _option(argv: list[Any], *names: str) -> str | None:
    """The last value given to any of ``names`` (``--x v`` or ``--x=v``)."""
    value = None
    for i, arg in enumerate(argv):
        if not isinstance(arg, str):
            continue
        for name in names:
            if arg == name and i + 1 < len(argv) and isinstance(argv[i + 1], str):
                value = argv[i + 1]
            elif name.startswith("--") and arg.startswith(name + "="):
                value = arg.split("=", 1)[1]
    return value


def _reject_constant(token: str) -> Any:
    raise ValueError(f"non-standard JSON constant {token}")


def _check_report_printed(o: Outcome) -> None:
    """Exit 0 from count, diff or profile with no output file means a report on stdout: an
    empty stdout is a run that ended early and said nothing (``sys.exit(0)`` from user code)."""
    argv = o.case.argv
    if o.returncode != 0 or o.case.command not in ("count", "diff", "profile"):
        return
    if o.case.stdout_to or "--help" in argv or "-h" in argv:
        return
    if _option(argv, "-o", "--output") not in (None, "-") or _option(argv, "--html"):
        return
    if not o.stdout.strip() and not any(f.startswith("invalid-json") for f in o.failures):
        o.failures.append("silent-exit: exit 0 and no report on stdout")


def _check_json(o: Outcome, work: Path, drained: dict[str, bytearray]) -> None:
    argv = o.case.argv
    if o.returncode != 0 or _option(argv, "--format") != "json":
        return
    if o.case.command not in ("count", "diff", "profile", "check", "compare", "crosscheck"):
        return
    output = _option(argv, "-o", "--output")
    if output is None or output == "-":
        data = o.stdout
        if o.case.stdout_to:  # stdout was a special file: a drained FIFO, or a device
            if o.case.stdout_to not in drained:
                return
            data = bytes(drained[o.case.stdout_to])
    elif output in drained:
        data = bytes(drained[output])
    else:
        path = work / output
        if not path.is_file() or path.is_symlink():
            return
        data = path.read_bytes()
    if not data.strip():
        o.failures.append("invalid-json: exit 0 with an empty JSON report")
        return
    try:
        doc = json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        o.failures.append(f"invalid-json: {str(exc)[:80]}")
        return
    if not isinstance(doc, dict) or doc.get("kind") not in ("count", "sweep"):
        return
    where = ("total", "layers") if doc.get("kind") == "count" else ("points",)
    for key in where:
        bad = _bad_number(doc.get(key), key)
        if bad:
            o.failures.append(f"negative-or-nan: {bad}")
            return


def _bad_number(value: Any, path: str) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return f"{path} = {value}"
        if value < 0:
            return f"{path} = {value}"
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            bad = _bad_number(v, f"{path}.{k}")
            if bad:
                return bad
    if isinstance(value, list):
        for i, v in enumerate(value):
            bad = _bad_number(v, f"{path}[{i}]")
            if bad:
                return bad
    return None


# -- grouping ----------------------------------------------------------------------------------

_NUMBER = re.compile(r"\d+")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def signature(o: Outcome) -> str:
    """A failure's rough root-cause key: its first failure kind plus the last stderr line with
    paths, quoted names and numbers blanked, so that cases failing the same way group together."""
    kind = o.failures[0].split(":", 1)[0] if o.failures else "ok"
    line = o.last_stderr_line.replace(str(o.where), "<case>")
    line = _QUOTED.sub("'…'", line)
    line = _NUMBER.sub("N", line)
    if kind == "input-modified":
        line = o.failures[0]
    return f"{kind} | {line[:140]}"
