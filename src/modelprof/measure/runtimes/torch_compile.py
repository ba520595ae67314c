"""PyTorch compiled: ``torch.compile(module, backend="inductor")`` on the CPU, timed per kernel,
each kernel attributed to the modules whose nodes it fused.

Like the eager runtime it runs the ``nn.Module`` the count was recorded from (a
:class:`.base.ModuleRuntime`), so rows join the count by module path. What runs is no longer the
modules but inductor's kernels: C++ loops that fuse several modules' pointwise work, and extern
calls (a convolution, a GEMM) that stay one op. Per-kernel times come from torch.profiler with
inductor's kernel profiling on (``cpp.enable_kernel_profile``: every C++ kernel records an event;
without it about 45 % of the compiled time shows only as one ``CompiledFxGraph`` event).

Which modules a kernel came from is inductor's own record: with provenance tracking on
(``trace.provenance_tracking_level``), each compiled graph keeps, beside its code and in its
on-disk cache entry, which post-grad FX nodes every kernel (and every extern call, by its
position) was made from, and which Dynamo nodes each of those came from; those nodes carry
their ``nn_module_stack``. The profiler names each graph call by its FX graph cache key, so a
kernel event is matched to its graph's record even when Dynamo reused a graph compiled earlier.
Kernel time that cannot be tied to a module is one ``(unattributed)`` row; the compiled
region's time outside every kernel (Dynamo's guards, the generated wrapper's Python,
allocations) is one ``(outside kernels)`` row.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import ModelprofError, first_line
from .base import (
    Measurement,
    RunSettings,
    RuntimeLayer,
    import_runtime,
    resident_bytes,
    rss_growth,
    timed_runs,
)
from .torch_eager import TorchEagerRuntime

#: ``--compile-mode`` values: torch.compile's modes that mean something on the CPU
#: (``reduce-overhead`` is CUDA graphs).
COMPILE_MODES = ("default", "max-autotune")

#: Kernel time no module could be named for, and the compiled region's time outside kernels.
UNATTRIBUTED = "(unattributed)"
OUTSIDE_KERNELS = "(outside kernels)"

#: The profiler event marking one timed run, which every kernel event of that run is under.
_RUN_MARK = "## modelprof run ##"
_GRAPH_CALL = re.compile(r"^## Call CompiledFxGraph (\S+) ##$")
_GRAPH_PREFIX = re.compile(r"^graph_-?\d+_")
_ROOT_SOURCE = re.compile(r"^L\[['\"][^'\"]*['\"]\]\.?")

#: The profiler keeps every event of every run in memory until it stops: 10,000 runs of even
#: seed-cnn held about 1.7 GB. The per-kernel pass runs at most this many (medians of
#: 2,000 runs are stable; an explicit iteration count is run as asked).
PROFILED_RUNS_AT_MOST = 2_000


@dataclass(frozen=True)
class _Kernel:
    """One kernel of a compiled graph as inductor recorded it: its name (a C++ kernel's, or an
    extern call's such as ``extern_kernels.convolution``) and the module paths its nodes came
    from (``""``: the root module's own code; ``None``: a node no module could be found for)."""

    name: str
    modules: tuple[str | None, ...]

    @property
    def op(self) -> str:
        """An extern call's op, as its profiler event ends (``convolution`` for
        ``extern_kernels.convolution`` and ``aten::convolution``)."""
        return self.name.removesuffix(".default").rsplit(".", 1)[-1]


@dataclass(frozen=True)
class _GraphRecord:
    """What one compiled graph runs: its C++ kernels by name, its extern calls in call order."""

    kernels: Mapping[str, _Kernel]
    externs: tuple[_Kernel, ...]


class _RecordingInductor:
    """``backend="inductor"`` with the mode's options (what ``torch.compile(mode=...)`` hands
    inductor), kernel profiling and provenance tracking on, keeping each compiled graph's
    kernel origins by its FX graph cache key.

    One instance per mode lives for the process: Dynamo caches compiled code per backend
    object, so a new backend for every profile would recompile each time and, past Dynamo's
    recompile limit (8), silently run the model eagerly.
    """

    def __init__(self, mode: str) -> None:
        torch = import_runtime("torch", "torch")
        self.patches = {
            **torch._inductor.list_mode_options(mode),
            "cpp.enable_kernel_profile": True,
            "trace.provenance_tracking_level": 1,
            # torch 2.13's precompiled header of inductor's C++ prefix breaks the kernels it
            # generates for one thread ('at::vec' has not been declared): compile without it
            "cpp_cache_precompile_headers": False,
        }
        self.graphs: dict[str, _GraphRecord] = {}
        #: graphs compiled so far, and how many of them came from inductor's FX graph cache
        self.compiled = 0
        self.cache_hits = 0

    def __call__(self, gm: Any, example_inputs: Any) -> Any:
        from torch._functorch import config as functorch_config
        from torch._inductor.compile_fx import compile_fx, compile_fx_inner

        def inner(post_grad: Any, inputs: Any, **kwargs: Any) -> Any:
            from torch._dynamo.utils import counters

            hits = counters["inductor"]["fxgraph_cache_hit"]
            out = compile_fx_inner(post_grad, inputs, **kwargs)
            self.compiled += 1
            self.cache_hits += counters["inductor"]["fxgraph_cache_hit"] > hits
            key = getattr(out, "_fx_graph_cache_key", None)
            mapping = getattr(out, "inductor_provenance_mapping_str", None)
            if mapping:
                # a graph inductor's cache bypassed has no key: its profiler event says None
                self.graphs[str(key)] = _record(json.loads(mapping), gm, post_grad)
            return out

        # AOTAutograd's cache would hand back the whole compiled graph without calling
        # ``inner``; inductor's FX graph cache, below it, still makes a second compile fast
        with functorch_config.patch(enable_autograd_cache=False):
            return compile_fx(gm, example_inputs, inner_compile=inner, config_patches=self.patches)


_BACKENDS: dict[str, _RecordingInductor] = {}


def _backend(mode: str) -> _RecordingInductor:
    if mode not in _BACKENDS:
        _BACKENDS[mode] = _RecordingInductor(mode)
    return _BACKENDS[mode]


def _record(mapping: Mapping[str, Any], dynamo_gm: Any, post_grad: Any) -> _GraphRecord:
    """A graph's kernels with the module paths of the nodes each was made from.

    ``cppCodeToPost`` names each kernel ``name:handle`` (handles count up in the order the
    kernels were generated, which is the order they are called) with its post-grad nodes; a
    node a post-grad pass made is traced to its Dynamo nodes through ``postToPre``."""
    post_nodes = {n.name: n for n in post_grad.graph.nodes}
    pre_nodes = {n.name: n for n in dynamo_gm.graph.nodes}
    post_to_pre: Mapping[str, list[str]] = mapping.get("postToPre", {})

    def modules_of(post: str) -> list[str | None]:
        if post in post_nodes:
            return [_module_path(post_nodes[post].meta.get("nn_module_stack"))]
        found: list[str | None] = [
            _module_path(pre_nodes[p].meta.get("nn_module_stack"))
            for p in post_to_pre.get(post, ())
            if p in pre_nodes
        ]
        return found or [None]

    def handle(key: str) -> int:
        tail = key.rpartition(":")[2]
        return int(tail) if tail.isdigit() else 0

    kernels: dict[str, _Kernel] = {}
    externs: list[_Kernel] = []
    code_to_post: Mapping[str, list[str]] = mapping.get("cppCodeToPost", {})
    # a C++ kernel that also lays out an extern call's input (a convolution's weights in
    # channels-last) lists that call's node: the extern call is that node's kernel, so the
    # C++ kernel keeps it only if it has no node of its own (a layout-only kernel)
    extern_nodes = {
        post for key, posts in code_to_post.items() if not key.startswith("cpp_") for post in posts
    }
    for key in sorted(code_to_post, key=handle):
        name = key.rpartition(":")[0] or key
        posts = code_to_post[key]
        if name.startswith("cpp_"):
            posts = [p for p in posts if p not in extern_nodes] or posts
        else:
            # an extern call also lists the views it reads its inputs through (the q, k and v
            # projections' reshapes before an attention call): its modules are those of the
            # node it computes, the one whose op it calls
            op = _Kernel(name, ()).op
            posts = [
                p for p in posts if p in post_nodes and _target_op(post_nodes[p]) == op
            ] or posts
        modules = tuple(dict.fromkeys(m for post in posts for m in modules_of(post)))
        if name.startswith("cpp_"):
            # a kernel called twice is one kernel: its nodes are those of both calls
            old = kernels[name].modules if name in kernels else ()
            kernels[name] = _Kernel(name, tuple(dict.fromkeys((*old, *modules))))
        else:
            externs.append(_Kernel(name, modules))
    return _GraphRecord(kernels, tuple(externs))


def _target_op(node: Any) -> str:
    """An FX node's op as an extern call is named: ``mm`` for ``aten.mm.default``."""
    return str(node.target).removesuffix(".default").rsplit(".", 1)[-1]


def _module_path(stack: Mapping[str, tuple[str, Any]] | None) -> str:
    """The innermost module of a node's ``nn_module_stack`` as ``named_modules`` names it:
    Dynamo writes ``L['self'].layer1.0.conv1``; no stack is the root's own code (``""``)."""
    if not stack:
        return ""
    source = str(list(stack.values())[-1][0])
    return _ROOT_SOURCE.sub("", source)


class TorchCompileRuntime(TorchEagerRuntime):
    """``torch.compile`` with inductor, in ``mode`` (``default`` or ``max-autotune``)."""

    name = "torch-compile"
    extra = "torch"

    def __init__(self, mode: str = "default") -> None:
        if mode not in COMPILE_MODES:
            raise ModelprofError(
                f"unknown torch.compile mode '{mode}' (choose from: {', '.join(COMPILE_MODES)})"
            )
        self.mode = mode

    def options(self) -> dict[str, Any]:
        return {"mode": self.mode}

    compiles = True
    #: the CPU only: inductor's GPU kernels (Triton) would need CUDA profiler events
    cuda = False

    def _callable(self, torch: Any, module: Any) -> Any:
        return torch.compile(module, backend=_backend(self.mode))

    def _first_call(self, run: Callable[[], object], module: Any) -> None:
        try:
            run()
        except Exception as exc:
            if not type(exc).__module__.startswith(("torch._dynamo", "torch._inductor")):
                raise  # the model's own error: profile reports it as for any runtime
            # dynamo or inductor could not compile it (no working C++ compiler, a compiler
            # error, an op it cannot lower)
            reason = first_line(exc.__cause__ or exc)
            raise ModelprofError(
                f"torch.compile could not compile {type(module).__name__}: {reason} (the "
                "eager runtime, --runtime torch, runs it as it is)"
            ) from None

    def _measure(
        self, torch: Any, module: Any, tensors: list[Any], settings: RunSettings
    ) -> Measurement:
        backend = _backend(self.mode)
        compiled = self._callable(torch, module)

        def run() -> object:
            return compiled(*tensors)

        rss_before = resident_bytes()
        compiled_before, hits_before = backend.compiled, backend.cache_hits
        t0 = time.perf_counter()
        self._first_call(run, module)
        compile_ms = (time.perf_counter() - t0) * 1e3
        t0 = time.perf_counter()
        run()
        first_ms = (time.perf_counter() - t0) * 1e3
        latency = timed_runs(run, settings)
        rss_after = resident_bytes()

        from torch.profiler import ProfilerActivity, profile, record_function

        def marked() -> object:
            with record_function(_RUN_MARK):
                return compiled(*tensors)

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            at_most = min(len(latency), PROFILED_RUNS_AT_MOST)
            profiled = timed_runs(marked, settings, at_most=at_most)
        known = {path for path, _ in module.named_modules()}
        layers, unmatched = _kernel_layers(
            prof.events(),
            backend.graphs,
            runs=len(profiled),
            known=known,
            precision=settings.precision,
        )
        if not layers:
            raise ModelprofError(
                "torch.compile ran no compiled graph: Dynamo ran the module eagerly (see "
                "TORCH_LOGS=graph_breaks,recompiles); profile it with --runtime torch"
            )
        compiled_now = backend.compiled - compiled_before
        hits_now = backend.cache_hits - hits_before
        notes = [
            f"compiled with torch.compile(backend='inductor', mode='{self.mode}'): the first "
            f"call took {compile_ms / 1e3:.1f} s ("
            + (
                f"{compiled_now} graph(s) compiled, {hits_now} of them from inductor's "
                "on-disk cache"
                if compiled_now
                else "Dynamo reused graphs compiled earlier in this process"
            )
            + "); compile_ms is that first call",
            "per-kernel times from torch.profiler with inductor's kernel profiling on: a fused "
            "kernel is one row listing every module whose nodes it fused; an extern call (a "
            "convolution, a GEMM) is the row of its module; the compiled code records its "
            "kernel events in the plain pass too (a no-op without a profiler)",
        ]
        if unmatched:
            notes.append(
                f"{unmatched} kernel event(s) per run could not be tied to a module: their "
                f"time is the {UNATTRIBUTED} row"
            )
        return Measurement(
            runtime=self.name,
            runtime_version=self.version(),
            device="CPU",
            precision=settings.precision,
            threads=int(torch.get_num_threads()),
            compile_ms=compile_ms,
            first_inference_ms=first_ms,
            latency_us=tuple(latency),
            profiled_latency_us=tuple(profiled),
            layers=tuple(layers),
            rss_bytes=rss_growth(rss_before, rss_after),
            notes=tuple(notes),
        )


@dataclass
class _Row:
    name: str
    kind: str
    exec_type: str
    sources: tuple[str, ...]
    times: list[float]


def _kernel_layers(
    events: Any,
    graphs: Mapping[str, _GraphRecord],
    *,
    runs: int,
    known: set[str],
    precision: str = "f32",
) -> tuple[list[RuntimeLayer], int]:
    """One layer per kernel (in the order first called), each with its time in every one of
    the last ``runs`` marked runs, and how many kernel events per run no module was found for.

    Each graph call's direct child events are its kernels: a C++ kernel's event is named after
    it (with a ``graph_N_`` prefix); an extern call's event is its op (``aten::convolution``),
    matched to the graph's next extern call of that op."""
    marks = (
        sorted((e for e in events if e.name == _RUN_MARK), key=lambda e: e.time_range.start)[-runs:]
        if runs
        else []
    )
    run_of = {id(mark): index for index, mark in enumerate(marks)}
    rows: dict[str, _Row] = {}
    unmatched_events = 0
    #: per compiled region (a graph break makes several a run): its run, time, kernel times
    regions: dict[int, tuple[int, float, list[float]]] = {}

    def row(name: str, kind: str, exec_type: str, sources: tuple[str, ...]) -> _Row:
        if name not in rows:
            rows[name] = _Row(name, kind, exec_type, sources, [0.0] * runs)
        return rows[name]

    def run_index(event: Any) -> int | None:
        parent = event.cpu_parent
        while parent is not None:
            if id(parent) in run_of:
                return run_of[id(parent)]
            parent = parent.cpu_parent
        return None

    def sources(kernel: _Kernel) -> tuple[str, ...] | None:
        paths = tuple(m for m in kernel.modules if m is not None and m in known)
        return paths or None

    for event in events:
        found = _GRAPH_CALL.match(event.name)
        if not found:
            continue
        run = run_index(event)
        if run is None:
            continue  # a warm-up run
        record = graphs.get(found.group(1))
        extern_at = 0
        children = sorted(event.cpu_children, key=lambda e: e.time_range.start)
        inside = 0.0
        for child in children:
            took = child.time_range.elapsed_us()
            inside += took
            kernel: _Kernel | None = None
            name = _GRAPH_PREFIX.sub("", child.name)
            if record is not None and name in record.kernels:
                kernel, label, exec_type = record.kernels[name], name, "inductor C++ kernel"
            elif record is not None:
                op = child.name.rpartition("::")[2]
                for j in range(extern_at, len(record.externs)):
                    if record.externs[j].op == op:
                        kernel, extern_at = record.externs[j], j + 1
                        label = f"{kernel.name}#{j + 1}"
                        exec_type = f"extern {child.name}"
                        break
            paths = sources(kernel) if kernel is not None else None
            if kernel is None or paths is None:
                if run == 0:
                    unmatched_events += 1
                nobody = row(UNATTRIBUTED, "unattributed", "kernels of no known module", ())
                nobody.times[run] += took
                continue
            row(label, label, exec_type, paths).times[run] += took
        # the compiled region around this graph call: guards, wrapper code, allocations
        region = event.cpu_parent
        while region is not None and not region.name.startswith("Torch-Compiled Region"):
            region = region.cpu_parent
        outer = region if region is not None else event
        if id(outer) not in regions:
            regions[id(outer)] = (run, outer.time_range.elapsed_us(), [])
        regions[id(outer)][2].append(inside)
    for run, took, insides in regions.values():
        overhead = row(OUTSIDE_KERNELS, "overhead", "Dynamo guards and inductor's wrapper", ())
        overhead.times[run] += max(took - sum(insides), 0.0)
    layers = [
        RuntimeLayer(
            runtime_name=r.name,
            layer_type=r.kind,
            exec_type=r.exec_type,
            precision=precision,
            times_us=tuple(r.times),
            sources=r.sources,
        )
        for r in rows.values()
    ]
    return layers, unmatched_events
