"""``modelprof llm``: the cost of generating text with a language model, prefill and decode.

The model is built by transformers from a config on the meta device (no weights, nothing
downloaded) and counted on its real implementation; docs/llm.md has the conventions.
"""

from __future__ import annotations

import click

from . import options
from .common import check_outputs, emit, progress


@click.command("llm")
@click.argument("model")
@click.option(
    "--prompt",
    type=click.IntRange(min=1),
    required=True,
    metavar="N",
    help="Prompt tokens per sequence (the prefill).",
)
@click.option(
    "--generate",
    type=click.IntRange(min=1),
    metavar="M",
    help="Decode steps (M + 1 tokens are generated, the first by the prefill).",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="B",
    help="Sequences generated together.",
)
@click.option(
    "--logits",
    type=click.Choice(("last", "all")),
    default="last",
    show_default=True,
    help="Where prefill applies lm_head: the last prompt position (what generation does) "
    "or every position.",
)
@click.option(
    "--dtype",
    type=click.Choice(("f16", "bf16", "f32")),
    help="Weight dtype (default: the config's torch_dtype, f16 when it names none).",
)
@click.option(
    "--kv-dtype",
    type=click.Choice(("f16", "bf16", "f32", "fp8", "int8")),
    help="KV-cache dtype (default: the weight dtype).",
)
@click.option(
    "--training",
    is_flag=True,
    help="Count one training step on B x N tokens instead (forward + backward, no decode).",
)
@click.option(
    "--experts",
    type=click.Choice(("batched_mm", "grouped_mm", "eager")),
    default="batched_mm",
    show_default=True,
    help="transformers' MoE experts implementation to count (batched_mm runs exactly top-k "
    "experts per token).",
)
@click.option(
    "--every-step",
    is_flag=True,
    help="Count every decode step, not only the first and last (same result, slower).",
)
@click.option(
    "--peak-tflops",
    type=options.Finite(min=0, min_open=True),
    help="Peak compute for the roofline, TFLOP/s (default: the ceilings `modelprof device` "
    "measured).",
)
@click.option(
    "--bandwidth-gbs",
    type=options.Finite(min=0, min_open=True),
    help="Memory bandwidth for the roofline, GB/s (default: as measured by `modelprof device`).",
)
@click.option(
    "--runtime",
    type=click.Choice(options.RUNTIMES),
    default="openvino",
    show_default=True,
    help="Whose cached ceilings to use (as `modelprof device --runtime` measured them).",
)
@options.threads_option
@options.report_options("table", "json")
@options.quiet_option
@click.pass_context
def llm_command(
    ctx: click.Context,
    model: str,
    prompt: int,
    generate: int | None,
    batch: int,
    logits: str,
    dtype: str | None,
    kv_dtype: str | None,
    training: bool,
    experts: str,
    every_step: bool,
    peak_tflops: float | None,
    bandwidth_gbs: float | None,
    runtime: str,
    threads: int | None,
    fmt: str,
    output: str | None,
    force: bool,
    quiet: bool,
) -> None:
    """What generating text with MODEL costs: prefill of N prompt tokens, then M decode steps
    with a KV cache; MACs split into linear and attention, KV-cache bytes, arithmetic
    intensity, and with device ceilings the roofline floor of time to first token and time
    per output token.

    MODEL is a Hugging Face config.json, a folder holding one (a model snapshot), or a
    built-in name (llama-2-7b, llama-3-8b, mistral-7b, mixtral-8x7b, gpt2). The model is
    built by transformers on the meta device: no weights are read or downloaded, and no code
    that comes with a model is ever run (a config with auto_map is refused).
    """
    from ..measure.llm import count_llm, find_ceilings

    if training:
        options.refuse_unless(
            ctx,
            False,
            (
                "generate",
                "logits",
                "kv_dtype",
                "every_step",
                "peak_tflops",
                "bandwidth_gbs",
                "runtime",
                "threads",
            ),
            "decoding, which --training does not count",
        )
    elif generate is None:
        raise click.UsageError("give --generate M (decode steps), or --training")
    check_outputs(output, force=force, model=model)

    ceilings, why = (None, "")
    if not training:
        precisions = tuple(dict.fromkeys((dtype, "f32"))) if dtype else ("f32",)
        ceilings, why = find_ceilings(
            peak_tflops=peak_tflops,
            bandwidth_gbs=bandwidth_gbs,
            runtime=options.RUNTIME_ALIASES.get(runtime, runtime),
            precisions=[p for p in precisions if p],
            threads=threads,
        )
    with progress(f"counting {model} on the meta device...", quiet=quiet):
        report = count_llm(
            model,
            prompt=prompt,
            generate=generate,
            batch=batch,
            logits="all" if logits == "all" else "last",
            dtype=dtype,
            kv_dtype=kv_dtype,
            training=training,
            experts=experts,
            every_step=every_step,
            ceilings=ceilings,
            ceilings_source=why,
        )
    if fmt == "json":
        from ..render import jsondoc

        emit(jsondoc.dumps(jsondoc.llm_document(report)), output=output, force=force, quiet=quiet)
    else:
        from ..render.llm_view import render_llm

        emit(render_llm(report), output=output, force=force, quiet=quiet)
