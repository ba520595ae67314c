"""PyTorch eager: the module itself, run under ``torch.inference_mode()``, timed per module.

Unlike OpenVINO and ONNX Runtime, this runtime runs no file: it runs the ``nn.Module`` the
count was recorded from, so its rows carry the PyTorch route's layer names (``layer1.0.conv1``)
and ``profile`` joins them with the count by module scope (:class:`.base.ModuleRuntime`).

Per-module times come from forward pre/post hooks reading :func:`time.perf_counter_ns` around
every module call. On the CPU an eager op returns only when its result is computed, so the
wall time between the two hooks is the module's time. The hooks cost a few microseconds a
module call and nothing per op (on resnet18 at 1 thread about 1-3 %, where torch.profiler's
per-op events alone cost about 10 % and still say nothing of modules); their own work is
charged to no row, but torch's module-call machinery around them is charged to the caller. A
leaf module's row is its whole call; a
container's row is its own time (its call minus its submodules' calls): the functional ops of
its ``forward`` (a residual ``+``) and its Python code. Both passes' medians are reported, so
the hooks' overhead is seen, as the other runtimes' profiler overhead is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ...errors import ModelprofError
from .base import (
    AsyncMeasurement,
    Measurement,
    ModuleRuntime,
    RunSettings,
    RuntimeLayer,
    concurrent_runs,
    import_runtime,
    resident_bytes,
    rss_growth,
    timed_runs,
)

#: The name the root module's own row gets (its path is the empty string).
ROOT_ROW = "(top level)"

_PRECISION = {"float32": "f32", "bfloat16": "bf16", "float16": "f16", "float64": "f64"}


def _import() -> Any:
    return import_runtime("torch", "torch")


def _no_file(name: str, path: Path) -> ModelprofError:
    return ModelprofError(
        f"the {name} runtime runs PyTorch models only, not model files like {path.name}: give "
        "a zoo name, file.py:factory, a .pt file or an nn.Module"
    )


#: The precisions the torch runtimes run, by the dtype the module and its float inputs are
#: cast to. f16 is left out: on a CPU, PyTorch's f16 convolutions and GEMMs need AVX512-FP16
#: or AMX-FP16 and otherwise fall back to slow reference loops, which would time nothing useful.
DTYPES = {"f32": "float32", "bf16": "bfloat16"}


def bf16_supported() -> bool:
    """Whether oneDNN runs bf16 on this CPU (avx512_bf16 or AMX): without it PyTorch's bf16
    convolutions are emulated, slower than f32."""
    torch = _import()
    mkldnn = torch.backends.mkldnn
    return bool(mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def check_settings(name: str, settings: RunSettings, *, cuda: bool = False) -> Any:
    """The ``torch.device`` to run on, once what the ``name`` runtime cannot run is refused: a
    precision other than f32 or bf16 (or bf16 where the device has none), a device other
    than the CPU (or, with ``cuda``, a CUDA GPU torch can see)."""
    torch = _import()
    if settings.precision not in DTYPES:
        raise ModelprofError(
            f"the {name} runtime runs {' and '.join(DTYPES)} only; --precision "
            f"{settings.precision} is not available on it (use --runtime openvino)"
        )
    wanted = settings.device.lower()
    if wanted == "cpu":
        device = torch.device("cpu")
    elif cuda and (wanted in ("cuda", "gpu") or wanted.startswith("cuda:")):
        if not torch.cuda.is_available():
            raise ModelprofError(
                f"the {name} runtime found no CUDA device here (torch {torch.__version__}: "
                "torch.cuda.is_available() is False); use --device CPU"
            )
        device = torch.device("cuda" if wanted == "gpu" else wanted)  # pragma: no cover
    else:
        where = "the CPU or a CUDA GPU" if cuda else "the CPU only so far"
        raise ModelprofError(f"the {name} runtime runs on {where}, not on '{settings.device}'")
    if settings.precision == "bf16" and not _bf16_on(torch, device):
        need = "oneDNN needs avx512_bf16 or AMX" if device.type == "cpu" else "the GPU has none"
        raise ModelprofError(
            f"PyTorch cannot run bf16 on this {device.type.upper()} ({need}): the {name} "
            "runtime cannot run --precision bf16 here"
        )
    return device


def _bf16_on(torch: Any, device: Any) -> bool:
    if device.type == "cpu":
        return bf16_supported()
    return bool(torch.cuda.is_bf16_supported())  # pragma: no cover - needs CUDA


def at_precision(
    torch: Any, module: Any, tensors: list[Any], precision: str, device: Any = None
) -> tuple[Any, list[Any]]:
    """``module`` and its inputs at ``precision`` on ``device`` (None: the CPU): as they are
    for f32 on the CPU; else a copy of the module (the caller's is never changed) cast to
    that dtype and moved there, and its inputs moved with it, the floating-point ones cast
    (integer inputs, token ids say, stay as they are)."""
    on_cpu = device is None or device.type == "cpu"
    if precision == "f32" and on_cpu:
        return module, tensors
    import copy

    dtype = getattr(torch, DTYPES[precision])
    cast = copy.deepcopy(module).to(device=device, dtype=dtype)
    moved = [
        t.to(device=device, dtype=dtype) if t.is_floating_point() else t.to(device) for t in tensors
    ]
    return cast, moved


def cuda_timed_runs(  # pragma: no cover - needs CUDA
    torch: Any, run: Callable[[], object], settings: RunSettings, at_most: int | None = None
) -> list[float]:
    """:func:`.base.timed_runs` on a CUDA device: a kernel launch returns before the kernel
    has run, so the host's clock would time the launches; each run is timed between two
    CUDA events recorded on the current stream, read once the end event has completed."""
    for _ in range(settings.warmup):
        run()
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)

    def timed() -> float:
        start.record()
        run()
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end)) * 1e3  # elapsed_time is in milliseconds

    one = timed() / 1e6
    return [timed() for _ in range(settings.iteration_plan(one, at_most))]


def _synchronizer(torch: Any, device: Any) -> Callable[[], None] | None:
    """What waits for the device's queued work before a clock is read: nothing on the CPU
    (an eager op returns once computed), ``torch.cuda.synchronize`` on a GPU."""
    if device.type == "cpu":
        return None
    return torch.cuda.synchronize  # type: ignore[no-any-return]  # pragma: no cover


class TorchEagerRuntime(ModuleRuntime):
    name = "torch"
    extra = "torch"

    def version(self) -> str:
        return str(_import().__version__)

    def measure_module(
        self, module: Any, inputs: Mapping[str, Any], settings: RunSettings
    ) -> Measurement:
        torch = _import()
        device = check_settings(self.name, settings, cuda=self.cuda)
        tensors = [torch.from_numpy(array) for array in inputs.values()]
        module, tensors = at_precision(torch, module, tensors, settings.precision, device)
        before_threads = torch.get_num_threads()
        if settings.threads:
            # before _measure: a compiling subclass generates its kernels for this thread count
            torch.set_num_threads(settings.threads)
        try:
            with torch.inference_mode():
                return self._measure(torch, module, tensors, settings)
        finally:
            torch.set_num_threads(before_threads)

    def bound_module(
        self, module: Any, inputs: Mapping[str, Any], settings: RunSettings
    ) -> tuple[Callable[[], object], dict[str, Any]]:
        torch = _import()
        device = check_settings(self.name, settings, cuda=self.cuda)
        tensors = [torch.from_numpy(array) for array in inputs.values()]
        module, tensors = at_precision(torch, module, tensors, settings.precision, device)
        if settings.threads:
            torch.set_num_threads(settings.threads)
        call = self._callable(torch, module)
        sync = _synchronizer(torch, device)

        def run() -> object:
            with torch.inference_mode():
                out = call(*tensors)
            if sync is not None:  # the caller times run() on the host's clock
                sync()  # pragma: no cover - needs CUDA
            return out

        t0 = time.perf_counter()
        self._first_call(run, module)
        first_ms = (time.perf_counter() - t0) * 1e3
        info = self.session_info(
            settings,
            precision=settings.precision,
            threads=int(torch.get_num_threads()),
            compile_ms=first_ms if self.compiles else 0.0,
        )
        return run, info

    def measure_module_throughput(
        self,
        module: Any,
        inputs: Mapping[str, Any],
        settings: RunSettings,
        *,
        streams: int | None = None,
        requests: int | None = None,
    ) -> AsyncMeasurement:
        """Several inferences at once, as ONNX Runtime does it (PyTorch has no streams either):
        ``requests`` Python threads (default: one per stream) call the module concurrently,
        and the intra-op threads are split between the streams (``threads // streams`` each,
        at least 1). PyTorch's ops release the GIL while they compute; the Python between
        them does not, so the streams contend there."""
        torch = _import()
        check_settings(self.name, settings)  # the CPU only
        tensors = [torch.from_numpy(array) for array in inputs.values()]
        module, tensors = at_precision(torch, module, tensors, settings.precision)
        before_threads = torch.get_num_threads()
        threads = settings.threads or before_threads
        streams = streams or max(1, min(threads, 4))
        per_stream = max(1, threads // streams)
        workers = requests or streams
        torch.set_num_threads(per_stream)
        try:
            call = self._callable(torch, module)

            def run() -> object:
                with torch.inference_mode():
                    return call(*tensors)

            t0 = time.perf_counter()
            self._first_call(run, module)
            first_ms = (time.perf_counter() - t0) * 1e3
            for _ in range(settings.warmup):
                run()
            latency, elapsed = concurrent_runs(lambda _worker: run(), settings, workers)
        finally:
            torch.set_num_threads(before_threads)
        return AsyncMeasurement(
            runtime=self.name,
            runtime_version=self.version(),
            device="CPU",
            precision=settings.precision,
            threads=per_stream * streams,
            streams=streams,
            requests=workers,
            completed=len(latency),
            elapsed_s=elapsed,
            latency_us=latency,
            compile_ms=first_ms if self.compiles else 0.0,
            notes=(
                f"{self.name} has no streams: each stream is a Python thread calling the module "
                "concurrently, intra-op threads split between the streams; the Python between "
                "ops holds the GIL, so the streams contend there",
            ),
        )

    #: whether :meth:`_callable` compiles (the first call's time is then the compile time)
    compiles = False
    #: whether ``--device CUDA`` runs (where torch sees a GPU): eager latency and per-module
    #: times, timed with CUDA events and synchronised hooks; throughput mode is CPU only
    cuda = True

    def _callable(self, torch: Any, module: Any) -> Callable[..., object]:
        """What runs the module: the module itself (a compiling subclass compiles it)."""
        return module  # type: ignore[no-any-return]

    def _first_call(self, run: Callable[[], object], module: Any) -> None:
        """The first call (where a compiling subclass compiles, and says so if it cannot)."""
        run()

    def _measure(
        self, torch: Any, module: Any, tensors: list[Any], settings: RunSettings
    ) -> Measurement:
        def run() -> object:
            return module(*tensors)

        device = tensors[0].device if tensors else torch.device("cpu")
        sync = _synchronizer(torch, device)
        rss_before = resident_bytes()
        t0 = time.perf_counter()
        run()
        first_ms = (time.perf_counter() - t0) * 1e3
        if sync is None:
            latency = timed_runs(run, settings)
        else:  # pragma: no cover - needs CUDA
            latency = cuda_timed_runs(torch, run, settings)
        rss_after = resident_bytes()

        timer = _ModuleTimer(module, sync)
        functional = torch.nn.functional
        sdpa = functional.scaled_dot_product_attention
        fast_path = torch.backends.mha.get_fastpath_enabled()
        try:
            # attention is a call inside a module, not a module: it is timed apart, as the
            # Attention row of the module that calls it; nn.MultiheadAttention runs its Python
            # path, which calls it (its C++ fast path computes projections and attention in
            # one op; the hooks already keep nn.TransformerEncoderLayer off its own)
            functional.scaled_dot_product_attention = timer.op_timer(sdpa, "Attention")
            torch.backends.mha.set_fastpath_enabled(False)

            def hooked() -> object:
                out = module(*tensors)
                timer.end_run()
                return out

            profiled = timed_runs(hooked, settings, at_most=len(latency))
        finally:
            functional.scaled_dot_product_attention = sdpa
            torch.backends.mha.set_fastpath_enabled(fast_path)
            timer.remove()
        fused = _fast_path_modules(torch, module)
        layers = timer.layers(runs=len(profiled), precision=_precision_of(module))
        return Measurement(
            runtime=self.name,
            runtime_version=self.version(),
            device="CPU" if sync is None else str(device),
            precision=settings.precision,
            threads=int(torch.get_num_threads()),
            compile_ms=0.0,
            first_inference_ms=first_ms,
            latency_us=tuple(latency),
            profiled_latency_us=tuple(profiled),
            layers=tuple(layers),
            rss_bytes=rss_growth(rss_before, rss_after),
            notes=(
                "per-module times from forward hooks around each module call (perf_counter_ns); "
                "a container's row is its own time: its functional ops and Python code outside "
                "its submodules; F.scaled_dot_product_attention calls are timed apart, as the "
                "Attention row of the module that calls them",
                *(
                    [
                        f"{', '.join(fused)}: the end-to-end pass ran the fused fast path, the "
                        "per-module pass the Python path (hooks and the attention timer turn "
                        "the fast path off): the rows, and time_coverage, are of that path"
                    ]
                    if fused
                    else []
                ),
            ),
        )

    def measure(
        self, onnx_path: Path, inputs: Mapping[str, Any], settings: RunSettings
    ) -> Measurement:
        raise _no_file(self.name, onnx_path)

    def measure_throughput(
        self,
        onnx_path: Path,
        inputs: Mapping[str, Any],
        settings: RunSettings,
        *,
        streams: int | None = None,
        requests: int | None = None,
    ) -> AsyncMeasurement:
        raise _no_file(self.name, onnx_path)

    def bound_infer(
        self, onnx_path: Path, inputs: Mapping[str, Any], settings: RunSettings
    ) -> tuple[Callable[[], object], dict[str, Any]]:
        raise _no_file(self.name, onnx_path)


def _fast_path_modules(torch: Any, module: Any) -> list[str]:
    """The kinds of ``module``'s submodules that run a fused C++ fast path in eval mode when
    no hook is attached (``nn.MultiheadAttention``: ``torch._native_multi_head_attention``;
    ``nn.TransformerEncoderLayer``: ``torch._transformer_encoder_layer_fwd``)."""
    nn = torch.nn
    kinds = (nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerEncoder)
    return sorted({type(m).__name__ for m in module.modules() if isinstance(m, kinds)})


def _precision_of(module: Any) -> str:
    """The precision the module computes in: its first floating-point parameter's dtype."""
    for p in module.parameters():
        if p.is_floating_point():
            dtype = str(p.dtype).removeprefix("torch.")
            return _PRECISION.get(dtype, dtype)
    return "f32"


class _ModuleTimer:
    """Forward hooks on every module of ``root`` that add up, per run, each module's own time
    in nanoseconds: a call's time minus the time of the module calls made inside it."""

    def __init__(self, root: Any, sync: Callable[[], None] | None = None) -> None:
        modules = list(root.named_modules())
        self.paths = [path for path, _ in modules]
        self.kinds = [type(m).__name__ for _, m in modules]
        self.leaf = [next(m.children(), None) is None for _, m in modules]
        self.own_ns = [0] * len(modules)
        self.called = [False] * len(modules)
        self.order: list[int] = []  # modules by their first call
        self.runs: list[list[int]] = []
        self.handles: list[Any] = []
        self.sync = sync
        #: the time of the ops timed apart (:meth:`op_timer`), by (module index, op), per run
        self.op_ns: dict[tuple[int, str], int] = {}
        self.op_runs: list[dict[tuple[int, str], int]] = []
        #: the modules whose calls are open, innermost last (first: the root's index, 0)
        self.open: list[int] = [0]
        starts: list[int] = []  # per open call: when its module began (after its pre-hook)
        entered: list[int] = []  # per open call: when its pre-hook was entered
        #: per open call, the time of the module calls made inside it (the first entry: the
        #: calls made at the top, outside any module)
        self.inner: list[int] = [0]
        inner = self.inner
        clock = time.perf_counter_ns
        own_ns, called, order, opened = self.own_ns, self.called, self.order, self.open

        def hooks(index: int) -> tuple[Callable[..., None], Callable[..., None]]:
            # the caller's own time leaves out the whole call, the hooks' own work included,
            # so that it is not charged to the container a module runs in
            # on a GPU each clock reading first waits for the work queued so far (``sync``)
            def pre(_module: Any, _args: Any) -> None:
                entered.append(clock())
                if not called[index]:
                    called[index] = True
                    order.append(index)
                opened.append(index)
                inner.append(0)
                if sync is not None:
                    sync()  # pragma: no cover - needs CUDA
                starts.append(clock())

            def post(_module: Any, _args: Any, _out: Any) -> None:
                if sync is not None:
                    sync()  # pragma: no cover - needs CUDA
                own_ns[index] += clock() - starts.pop() - inner.pop()
                opened.pop()
                inner[-1] += clock() - entered.pop()

            return pre, post

        for index, (_, m) in enumerate(modules):
            pre, post = hooks(index)
            self.handles.append(m.register_forward_pre_hook(pre))
            self.handles.append(m.register_forward_hook(post))

    def op_timer(self, function: Callable[..., Any], op: str) -> Callable[..., Any]:
        """``function``, timed: its time is the ``op`` row of the module whose own code
        called it, and is left out of that module's own time."""
        clock, inner, opened, op_ns = time.perf_counter_ns, self.inner, self.open, self.op_ns
        sync = self.sync

        def timed(*args: Any, **kwargs: Any) -> Any:
            if sync is not None:
                sync()  # pragma: no cover - needs CUDA
            start = clock()
            out = function(*args, **kwargs)
            if sync is not None:
                sync()  # pragma: no cover - needs CUDA
            took = clock() - start
            key = (opened[-1], op)
            op_ns[key] = op_ns.get(key, 0) + took
            inner[-1] += took
            return out

        return timed

    def end_run(self) -> None:
        self.runs.append(self.own_ns.copy())
        self.own_ns[:] = [0] * len(self.own_ns)
        self.inner[:] = [0]
        self.op_runs.append(dict(self.op_ns))
        self.op_ns.clear()

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def layers(self, runs: int, precision: str) -> list[RuntimeLayer]:
        """One layer per module that ran, in the order of their first calls, with its own time
        in each of the last ``runs`` runs (the timed ones; warm-up runs are dropped)."""
        kept = self.runs[-runs:] if runs else []
        kept_ops = self.op_runs[-runs:] if runs else []
        found = []
        for index in self.order:
            path = self.paths[index]
            found.append(
                RuntimeLayer(
                    runtime_name=path or ROOT_ROW,
                    layer_type=self.kinds[index],
                    exec_type="eager" if self.leaf[index] else "eager (own ops)",
                    precision=precision,
                    times_us=tuple(run[index] / 1e3 for run in kept),
                    sources=(path,),
                )
            )
            for op in dict.fromkeys(op for run in kept_ops for i, op in run if i == index):
                found.append(
                    RuntimeLayer(
                        runtime_name=f"{path or ROOT_ROW}/{op}",
                        layer_type=op,
                        exec_type="eager (timed apart)",
                        precision=precision,
                        times_us=tuple(run.get((index, op), 0) / 1e3 for run in kept_ops),
                        # the count rows of that op in the module's scope (profiling.py)
                        sources=(f"{path}::{op}",),
                    )
                )
        return found

