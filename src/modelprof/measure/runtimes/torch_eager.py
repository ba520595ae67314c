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
        "a zoo name, file.py:factory, a .pt file or an nn.Module (and only 'profile' in "
        f"latency mode runs on {name} so far)"
    )


def check_settings(name: str, settings: RunSettings) -> None:
    """Refuse what the ``name`` runtime cannot do yet: a precision other than the model's own
    f32, a device other than the CPU."""
    if settings.precision != "f32":
        raise ModelprofError(
            f"the {name} runtime runs f32 only so far; --precision {settings.precision} is "
            "not available on it (use --runtime openvino)"
        )
    if settings.device.upper() != "CPU":
        raise ModelprofError(
            f"the {name} runtime runs on the CPU only so far, not on '{settings.device}'"
        )


class TorchEagerRuntime(ModuleRuntime):
    name = "torch"
    extra = "torch"

    def version(self) -> str:
        return str(_import().__version__)

    def measure_module(
        self, module: Any, inputs: Mapping[str, Any], settings: RunSettings
    ) -> Measurement:
        torch = _import()
        check_settings(self.name, settings)
        tensors = [torch.from_numpy(array) for array in inputs.values()]
        before_threads = torch.get_num_threads()
        if settings.threads:
            # before _measure: a compiling subclass generates its kernels for this thread count
            torch.set_num_threads(settings.threads)
        try:
            with torch.inference_mode():
                return self._measure(torch, module, tensors, settings)
        finally:
            torch.set_num_threads(before_threads)

    def _measure(
        self, torch: Any, module: Any, tensors: list[Any], settings: RunSettings
    ) -> Measurement:
        def run() -> object:
            return module(*tensors)

        rss_before = resident_bytes()
        t0 = time.perf_counter()
        run()
        first_ms = (time.perf_counter() - t0) * 1e3
        latency = timed_runs(run, settings)
        rss_after = resident_bytes()

        timer = _ModuleTimer(module)
        try:

            def hooked() -> object:
                out = module(*tensors)
                timer.end_run()
                return out

            profiled = timed_runs(hooked, settings, at_most=len(latency))
        finally:
            timer.remove()
        layers = timer.layers(runs=len(profiled), precision=_precision_of(module))
        return Measurement(
            runtime=self.name,
            runtime_version=self.version(),
            device="CPU",
            precision="f32",
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
                "its submodules",
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

    def __init__(self, root: Any) -> None:
        modules = list(root.named_modules())
        self.paths = [path for path, _ in modules]
        self.kinds = [type(m).__name__ for _, m in modules]
        self.leaf = [next(m.children(), None) is None for _, m in modules]
        self.own_ns = [0] * len(modules)
        self.called = [False] * len(modules)
        self.order: list[int] = []  # modules by their first call
        self.runs: list[list[int]] = []
        self.handles: list[Any] = []
        starts: list[int] = []  # per open call: when its module began (after its pre-hook)
        entered: list[int] = []  # per open call: when its pre-hook was entered
        #: per open call, the time of the module calls made inside it (the first entry: the
        #: calls made at the top, outside any module)
        self.inner: list[int] = [0]
        inner = self.inner
        clock = time.perf_counter_ns
        own_ns, called, order = self.own_ns, self.called, self.order

        def hooks(index: int) -> tuple[Callable[..., None], Callable[..., None]]:
            # the caller's own time leaves out the whole call, the hooks' own work included,
            # so that it is not charged to the container a module runs in
            def pre(_module: Any, _args: Any) -> None:
                entered.append(clock())
                if not called[index]:
                    called[index] = True
                    order.append(index)
                inner.append(0)
                starts.append(clock())

            def post(_module: Any, _args: Any, _out: Any) -> None:
                own_ns[index] += clock() - starts.pop() - inner.pop()
                inner[-1] += clock() - entered.pop()

            return pre, post

        for index, (_, m) in enumerate(modules):
            pre, post = hooks(index)
            self.handles.append(m.register_forward_pre_hook(pre))
            self.handles.append(m.register_forward_hook(post))

    def end_run(self) -> None:
        self.runs.append(self.own_ns.copy())
        self.own_ns[:] = [0] * len(self.own_ns)
        self.inner[:] = [0]

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def layers(self, runs: int, precision: str) -> list[RuntimeLayer]:
        """One layer per module that ran, in the order of their first calls, with its own time
        in each of the last ``runs`` runs (the timed ones; warm-up runs are dropped)."""
        kept = self.runs[-runs:] if runs else []
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
        return found
