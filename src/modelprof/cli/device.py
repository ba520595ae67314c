"""``modelprof device``: measure this machine's roofline ceilings and cache them.

``modelprof profile`` reads the cached ceilings for its runtime and precision and marks each
layer compute- or memory-bound, with the time the roofline says it could take and its
efficiency (that time / the measured one).
"""

from __future__ import annotations

import click

from . import options
from .common import check_outputs, echo_err, emit


@click.command("device")
@options.runtime_options
@click.option(
    "--iterations",
    type=click.IntRange(min=1),
    help="Timed runs per pass (default: about 0.75 s of runs, at least 10).",
)
@click.option(
    "--matmul-size",
    type=click.IntRange(min=8),
    default=1024,
    show_default=True,
    help="N of the N x N @ N x N MatMuls that measure peak compute.",
)
@click.option(
    "--stream-mib",
    type=options.Finite(min=0.01),
    default=64.0,
    show_default=True,
    help="Size of the tensor streamed to measure bandwidth (keep it well above the L3 cache).",
)
@click.option("--no-cache", is_flag=True, help="Measure, but do not store the result.")
@click.option(
    "--cached", "show_cached", is_flag=True, help="Show the stored ceilings; measure nothing."
)
@options.report_options("table", "json")
@options.quiet_option
@click.pass_context
def device_command(
    ctx: click.Context,
    runtime: str,
    device: str,
    precision: str,
    threads: int | None,
    iterations: int | None,
    matmul_size: int,
    stream_mib: float,
    no_cache: bool,
    show_cached: bool,
    fmt: str,
    output: str | None,
    force: bool,
    quiet: bool,
) -> None:
    """Measure this machine's peak GFLOP/s and memory bandwidth on a runtime, for the roofline.

    Peak compute is a chain of large float32 MatMuls (a real library GEMM); bandwidth is an
    elementwise Mul streaming a 64 MiB tensor (read once, written once). Each rate is the work
    over the median time the runtime's profiler gives those layers, as `modelprof profile`
    times layers. Both are estimates of what this runtime reaches here with these threads, not
    datasheet peaks. The result is cached per machine, runtime, device, precision and
    --threads, and `modelprof profile` with the same settings then marks each layer compute- or
    memory-bound; --cached shows what is stored for them.
    """
    from ..errors import ModelprofError
    from ..measure import ceilings as cache

    options.refuse_unless(
        ctx,
        not show_cached,
        ("iterations", "matmul_size", "stream_mib", "no_cache"),
        "a measurement, which --cached does not make",
    )
    options.refuse_precision(runtime, precision)
    check_outputs(output, force=force)
    if show_cached:
        path = cache.cache_path(runtime, precision, device, threads=threads)
        stored = cache.load_document(runtime, precision, device, threads=threads)
        if stored is None or cache.load_cached(runtime, precision, device, threads=threads) is None:
            with_threads = f" with {threads} threads" if threads else ""
            threads_flag = f" --threads {threads}" if threads else ""
            raise ModelprofError(
                f"no ceilings cached for {runtime} at {precision}{with_threads} on this machine "
                f"({path}): run 'modelprof device --runtime {runtime} --precision {precision}"
                f"{threads_flag}'"
            )
        document = {**stored, "cache_path": str(path), "cached": True}
    else:
        from ..measure.device import measure_ceilings, settings_for

        if not quiet and fmt == "table" and not output:
            echo_err(f"measuring peak compute and bandwidth on {runtime} (a few seconds)...")
        result = measure_ceilings(
            runtime,
            settings_for(
                device=device, precision=precision, threads=threads, iterations=iterations
            ),
            matmul_size=matmul_size,
            stream_bytes=int(stream_mib * 1024 * 1024) // 4 * 4,
        )
        document = result.to_dict()
        if not no_cache:
            cache.save(result.ceilings, document, key=result.key)
        document = {**document, "cache_path": str(result.key.path), "cached": not no_cache}

    if fmt == "json":
        from ..render import jsondoc

        emit(jsondoc.dumps(document), output=output, force=force, quiet=quiet)
    else:
        from ..render.device_view import render_device

        emit(render_device(document), output=output, force=force, quiet=quiet)
