"""One model's runtime session in a process of its own, timed on request (``compare``).

The parent (:mod:`modelprof.measure.comparison`) starts one worker per model (or per runtime)
with ``python -m modelprof.measure.comparison_worker`` and talks to it in JSON lines:

- parent -> worker, first line: ``{"runtime", "options", "onnx", "module", "inputs" (an .npz),
  "settings", "sys_path"}`` (``runtime`` as :func:`~modelprof.measure.runtimes.runtime_reference`
  names it, ``options`` its constructor arguments; ``onnx`` the file a file runtime reads, or
  ``module``, ``{"ref", "trust_pickle"}``, what :func:`modelprof.api.build_module` builds the
  module a module runtime runs from; ``sys_path`` is the parent's, so a runtime of the user's own
  imports here too); the worker loads and compiles the model once, binds its inputs, warms up,
  and answers ``{"ok": true, "pid", "runtime", "runtime_version", "device", "precision",
  "threads", "compile_ms"}`` (or ``{"ok": false, "error": "one line"}``).
- ``{"cmd": "run", "n": N}``: one untimed run (the other workers have just had the caches),
  then N timed runs; answer ``{"samples_us": [...], "start_s", "end_s"}`` with the batch's
  bounds on the system-wide monotonic clock, so the parent can check that batches never
  overlapped.
- ``{"cmd": "layers", "settings"}``: ``profile``'s two passes (end to end, then per layer) with
  these settings; answer ``{"measurement": ...}`` (a :class:`~.runtimes.base.Measurement` as
  ``dataclasses.asdict`` gives it) or ``{"error": "one line"}``.
- ``{"cmd": "quit"}`` (or end of input): exit.

Only the protocol goes to the real stdout: anything a runtime prints is sent to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import IO, Any


class _Session:
    """The runtime and the model the setup line names, bound once."""

    def __init__(self, setup: dict[str, Any], inputs: dict[str, Any], settings: Any) -> None:
        from .runtimes import ModuleRuntime, get_runtime

        self.backend = get_runtime(setup["runtime"], setup.get("options") or None)
        self.inputs = inputs
        self.model: Any
        if setup.get("module"):
            from ..api import build_module

            if not isinstance(self.backend, ModuleRuntime):
                raise TypeError(f"{self.backend.name} does not run a PyTorch module")
            ref = setup["module"]
            self.model = build_module(ref["ref"], trust_pickle=bool(ref.get("trust_pickle")))
            self.run, self.info = self.backend.bound_module(self.model, inputs, settings)
        else:
            self.model = Path(setup["onnx"])
            self.run, self.info = self.backend.bound_infer(self.model, inputs, settings)

    def measure(self, settings: Any) -> Any:
        from .runtimes import ModuleRuntime

        if isinstance(self.backend, ModuleRuntime) and not isinstance(self.model, Path):
            return self.backend.measure_module(self.model, self.inputs, settings)
        return self.backend.measure(self.model, self.inputs, settings)


def serve(commands: IO[str], replies: IO[str]) -> int:
    import dataclasses

    import numpy as np

    from ..errors import ModelprofError
    from .runtimes import RunSettings

    def send(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    first = commands.readline()
    if not first:
        return 1
    try:
        setup = json.loads(first)
        sys.path[:0] = [p for p in setup.get("sys_path", ()) if p not in sys.path]
        settings = RunSettings(**setup["settings"])
        with np.load(setup["inputs"], allow_pickle=False) as data:
            inputs = {name: np.ascontiguousarray(data[name]) for name in data.files}
        session = _Session(setup, inputs, settings)
        run = session.run
        for _ in range(settings.warmup):
            run()
    except ModelprofError as exc:
        send({"ok": False, "error": str(exc)})
        return 2
    except Exception as exc:  # reported to the parent as one line
        send({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return 3
    send({"ok": True, "pid": os.getpid(), **session.info})
    for line in commands:
        message = json.loads(line)
        if message.get("cmd") == "layers":
            try:
                measurement = session.measure(RunSettings(**message["settings"]))
            except ModelprofError as exc:
                send({"error": str(exc)})
                continue
            except Exception as exc:  # reported to the parent as one line
                send({"error": f"{type(exc).__name__}: {exc}"})
                continue
            send({"measurement": dataclasses.asdict(measurement)})
            continue
        if message.get("cmd") != "run":
            break
        run()
        samples = []
        start = time.monotonic()
        for _ in range(int(message["n"])):
            t0 = time.perf_counter_ns()
            run()
            samples.append((time.perf_counter_ns() - t0) / 1e3)
        end = time.monotonic()
        send({"samples_us": samples, "start_s": start, "end_s": end})
    return 0


def main() -> int:
    # the protocol keeps the real stdout; fd 1 (and print) now go to stderr
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return serve(sys.stdin, replies)


if __name__ == "__main__":
    sys.exit(main())
