"""ONNX shape inference in a forked child, while the parent builds the nodes.

On a graph of 100,000 nodes, onnx's shape inference takes about 0.8 s and holds the GIL, and
translating the nodes takes about 0.5 s of pure Python that does not need the inferred shapes.
With two cores, running them at the same time saves the shorter of the two. The child is a
``fork`` of this process (the model is already in memory, copy-on-write), runs only onnx's
C++ inference, and sends the inferred model back through a pipe.

Used only where it is safe and worth it: POSIX, more than one CPU, a large graph, and a process
with no other threads and no torch loaded (forking a threaded process can deadlock the child).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

#: Below this many nodes the fork costs more than it saves.
MIN_NODES = 20_000


def worthwhile(model: Any) -> bool:
    return (
        hasattr(os, "fork")
        and (os.cpu_count() or 1) > 1
        and len(model.graph.node) >= MIN_NODES
        and threading.active_count() == 1
        and "torch" not in sys.modules
    )


def child_payload(model: Any, data_prop: bool) -> tuple[bytes, int]:
    """What the child sends and its exit status: ``K`` + the inferred model, or ``E`` + the
    error's message (every failure, so the parent always hears why). Apart from the fork so
    that it runs, and is measured, in the tests' own process too."""
    try:
        import onnx

        inferred = onnx.shape_inference.infer_shapes(model, data_prop=data_prop, strict_mode=True)
        return b"K" + inferred.SerializeToString(), 0
    except BaseException as exc:  # report every failure to the parent
        return b"E" + str(exc).encode("utf-8", "replace"), 1


class ForkedInference:
    """``start`` forks the child; ``result`` collects the inferred ModelProto (or raises)."""

    def __init__(self, pid: int, read_fd: int) -> None:
        self.pid = pid
        self.read_fd = read_fd

    @classmethod
    def start(cls, model: Any, data_prop: bool) -> ForkedInference:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child: coverage cannot follow a bare fork)
            # infer, send, and leave without running any cleanup
            os.close(read_fd)
            data, status = child_payload(model, data_prop)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(write_fd, view) :]
            finally:
                os._exit(status)
        os.close(write_fd)
        return cls(pid, read_fd)

    def result(self) -> Any:
        import onnx

        chunks = []
        try:
            while True:
                chunk = os.read(self.read_fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(self.read_fd)
            os.waitpid(self.pid, 0)
        data = b"".join(chunks)
        if not data or data[:1] != b"K":
            message = data[1:].decode("utf-8", "replace") if data else "the child process died"
            raise RuntimeError(message)
        inferred = onnx.ModelProto()
        inferred.ParseFromString(data[1:])
        return inferred
