"""How long ``modelprof count`` takes, as whole processes, against onnx.load and onnx-tool.

Run it from the repository root with the project's venv::

    .venv/bin/python benchmarks/bench_count.py            # about 2-3 minutes
    .venv/bin/python benchmarks/bench_count.py --quick    # smoke run, about a minute (2 rounds)
    .venv/bin/python benchmarks/bench_count.py --only synthetic --repeats 9

Three benchmarks, each a table with targets and PASS/MISS:

1. ``resnet50``: ResNet-50 from the zoo exported to ONNX (TorchScript exporter, weights
   embedded, about 100 MB): ``modelprof count`` (table rendered to /dev/null) against a process
   that only runs ``onnx.load`` and against onnx-tool's ``model_profile``.
2. ``synthetic``: chains of MatMul(8x8 weight) -> Relu -> Add(8-element bias) of 10,000 and
   100,000 nodes, where node count dominates; per-node cost after subtracting the fixed cost
   of counting a 3-node chain shows whether the time grows linearly. Such a graph gets its
   shapes from the ONNX frontend's own pass; for context, the 100,000-node chain with one
   Flatten appended shows the route every other graph takes (onnx's shape inference).
3. ``big``: a 32-layer, d_model 4096 decoder (about 6.7 B parameters, fp16) whose weights are
   EXTERNAL data in one sparse file (13.5 GB apparent size, no disk blocks): wall time and
   the child's own peak RSS.

Every case is a fresh process (interpreter start and imports included), cases run interleaved
(A B C A B C ...) after one unrecorded warm-up round, and ratios are ratios of medians of the
same run. The machine's cores are shared: look at the spread before trusting a ratio.
Generated models are cached under ``benchmarks/_work/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    PYTHON,
    TIMING_HEADERS,
    BenchError,
    Samples,
    fmt_bytes,
    fmt_count,
    fmt_s,
    fmt_us,
    interleaved,
    modelprof_exe,
    run_once,
    table,
    timing_rows,
    verdict,
)

WORK = Path(__file__).resolve().parent / "_work"
MODELPROF = modelprof_exe()

# -- targets ------------------------------------------------------------------------------------
RESNET_MAX_VS_LOAD = 1.5  # modelprof count <= 1.5x a process that only runs onnx.load
SYNTH_100K_MAX_S = 3.0  # 100,000-node chain counted in under 3 s
LINEAR_MAX_GROWTH = 1.5  # per-node cost at 100k at most 1.5x the per-node cost at 10k
BIG_MAX_S = 10.0
BIG_MAX_RSS = 1 << 30  # 1 GiB
TOOL_MAX_ROUNDS = 3  # onnx-tool takes about 10 s on the 10,000-node chain: fewer rounds
#: the 100,000-node chain plus one op outside the frontend's own shape pass (context only)
GENERAL = "modelprof count, 100,000 nodes + 1 Flatten"

# -- model builders -----------------------------------------------------------------------------


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def build_resnet50(path: Path) -> Path:
    """Export the zoo's ResNet-50 once (TorchScript exporter, weights embedded, opset 17)."""
    if path.exists() and path.stat().st_size > 50_000_000:
        return path
    import warnings

    import torch

    from modelprof.frontends import zoo

    _log(f"exporting ResNet-50 to {path} (once) ...")
    module = zoo.get("resnet50").build()
    x = torch.randn(*zoo.get("resnet50").input_shapes["input"])
    tmp = path.with_suffix(".tmp.onnx")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (x,),
            str(tmp),
            dynamo=False,
            input_names=["input"],
            output_names=["logits"],
            opset_version=17,
        )
    os.replace(tmp, path)
    return path


def build_chain(n_nodes: int, path: Path, general: bool = False) -> Path:
    """MatMul(x, W_i 8x8) -> Relu -> Add(b_i, 8 elements), repeated; pad with Relu to n_nodes.

    ``general``: one more node at the end, a Flatten, an op outside the ONNX frontend's own
    shape pass (frontends/shapeprop.py), so the whole graph goes through onnx's inference."""
    if path.exists():
        return path
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    _log(f"building {n_nodes:,}-node chain {path.name} ...")
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    x = "x"
    blocks, rest = divmod(n_nodes, 3)
    for i in range(blocks):
        w, b = f"blk{i}.weight", f"blk{i}.bias"
        inits.append(numpy_helper.from_array(rng.standard_normal((8, 8), np.float32), w))
        inits.append(numpy_helper.from_array(rng.standard_normal(8, np.float32), b))
        nodes.append(helper.make_node("MatMul", [x, w], [f"blk{i}.mm"], name=f"/blk{i}/MatMul"))
        nodes.append(helper.make_node("Relu", [f"blk{i}.mm"], [f"blk{i}.r"], name=f"/blk{i}/Relu"))
        nodes.append(helper.make_node("Add", [f"blk{i}.r", b], [f"blk{i}.y"], name=f"/blk{i}/Add"))
        x = f"blk{i}.y"
    for j in range(rest):
        nodes.append(helper.make_node("Relu", [x], [f"tail{j}"], name=f"/tail{j}/Relu"))
        x = f"tail{j}"
    if general:
        nodes.append(helper.make_node("Flatten", [x], ["flat"], name="/flatten/Flatten"))
        x = "flat"
    graph = helper.make_graph(
        nodes,
        f"chain{n_nodes}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 8])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    tmp = path.with_suffix(".tmp.onnx")
    onnx.save(model, str(tmp))
    os.replace(tmp, path)
    return path


BIG = {
    "layers": 32,
    "d_model": 4096,
    "heads": 32,
    "ffn": 11008,
    "vocab": 32000,
}


def big_param_count() -> int:
    d, f, v, n = BIG["d_model"], BIG["ffn"], BIG["vocab"], BIG["layers"]
    per_layer = 4 * d * d + 3 * d * f + 2 * d
    return v * d + n * per_layer + d + d * v


def build_big(path: Path) -> tuple[Path, Path]:
    """A LLaMA-7B-shaped decoder in fp16 whose weights live in one sparse external file.

    Per layer: LayerNorm, q/k/v/o projections with multi-head attention (Reshape, Transpose,
    MatMul, Softmax), LayerNorm, SwiGLU FFN (gate, up, down); embedding Gather in front and an
    lm_head MatMul at the end. Inputs ``input_ids`` [batch, seq] are dynamic.
    """
    data = path.with_name(path.name + ".data")
    if path.exists() and data.exists():
        return path, data
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    _log(f"building the ~{big_param_count() / 1e9:.2f} B-parameter external-data model ...")
    d, f, v, h = BIG["d_model"], BIG["ffn"], BIG["vocab"], BIG["heads"]
    fp16 = TensorProto.FLOAT16
    inits: list[onnx.TensorProto] = []
    offset = 0

    def weight(name: str, *dims: int) -> str:
        nonlocal offset
        tensor = onnx.TensorProto()
        tensor.name = name
        tensor.data_type = fp16
        tensor.dims.extend(dims)
        tensor.data_location = onnx.TensorProto.EXTERNAL
        length = 2
        for dim in dims:
            length *= dim
        for key, value in (("location", data.name), ("offset", offset), ("length", length)):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, str(value)
        inits.append(tensor)
        offset += (length + 4095) // 4096 * 4096  # page-aligned, like onnx's own writer
        return name

    inits.append(numpy_helper.from_array(np.array([0, 0, h, d // h], np.int64), "heads_shape"))
    inits.append(numpy_helper.from_array(np.array([0, 0, d], np.int64), "model_shape"))
    inits.append(numpy_helper.from_array(np.array((d // h) ** -0.5, np.float16), "attn_scale"))
    nodes: list[onnx.NodeProto] = []

    def node(op: str, inputs: list[str], name: str, **attrs: object) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=f"/{name}/{op}", **attrs))
        return name

    x = node("Gather", [weight("embed.weight", v, d), "input_ids"], "embed")
    for i in range(BIG["layers"]):
        p = f"layers.{i}"
        n1 = node("LayerNormalization", [x, weight(f"{p}.ln1.weight", d)], f"{p}.ln1", axis=-1)
        heads = {}
        for proj, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
            y = node("MatMul", [n1, weight(f"{p}.attn.{proj}.weight", d, d)], f"{p}.attn.{proj}")
            y = node("Reshape", [y, "heads_shape"], f"{p}.attn.{proj}_heads")
            heads[proj] = node("Transpose", [y], f"{p}.attn.{proj}_t", perm=perm)
        s = node("MatMul", [heads["q"], heads["k"]], f"{p}.attn.scores")
        s = node("Mul", [s, "attn_scale"], f"{p}.attn.scaled")
        s = node("Softmax", [s], f"{p}.attn.softmax", axis=-1)
        o = node("MatMul", [s, heads["v"]], f"{p}.attn.context")
        o = node("Transpose", [o], f"{p}.attn.context_t", perm=[0, 2, 1, 3])
        o = node("Reshape", [o, "model_shape"], f"{p}.attn.merge")
        o = node("MatMul", [o, weight(f"{p}.attn.o.weight", d, d)], f"{p}.attn.o")
        x = node("Add", [x, o], f"{p}.attn_residual")
        n2 = node("LayerNormalization", [x, weight(f"{p}.ln2.weight", d)], f"{p}.ln2", axis=-1)
        g = node("MatMul", [n2, weight(f"{p}.mlp.gate.weight", d, f)], f"{p}.mlp.gate")
        u = node("MatMul", [n2, weight(f"{p}.mlp.up.weight", d, f)], f"{p}.mlp.up")
        sg = node("Sigmoid", [g], f"{p}.mlp.sigmoid")
        g = node("Mul", [g, sg], f"{p}.mlp.silu")
        g = node("Mul", [g, u], f"{p}.mlp.gated")
        y = node("MatMul", [g, weight(f"{p}.mlp.down.weight", f, d)], f"{p}.mlp.down")
        x = node("Add", [x, y], f"{p}.mlp_residual")
    x = node("LayerNormalization", [x, weight("norm.weight", d)], "norm", axis=-1)
    logits = node("MatMul", [x, weight("lm_head.weight", d, v)], "lm_head")

    graph = helper.make_graph(
        nodes,
        "decoder-7b",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info(logits, fp16, ["batch", "seq", v])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    # sparse data file: its apparent size is the whole 13.5 GB, but no block is allocated
    with open(data, "wb") as handle:
        handle.seek(offset - 1)
        handle.write(b"\0")
    # written directly: onnx.save would walk the external tensors looking for payloads to write
    path.write_bytes(model.SerializeToString())
    return path, data


BUILDERS = {
    "resnet50": build_resnet50,
    "big": lambda path: build_big(path)[0],
    **{f"chain{n}": (lambda path, n=n: build_chain(n, path)) for n in (3, 10_000, 100_000)},
    "chain100000general": lambda path: build_chain(100_000, path, general=True),
}


def ensure(kind: str, path: Path) -> Path:
    """Build a model in a child process, so that this process stays small.

    The peak RSS a child reports includes its parent's peak at the moment of the fork/exec
    (Linux carries the old mm's high-water mark across exec), so the process that launches
    the measured commands must never hold onnx, numpy or torch data itself.
    """
    done = path.with_name(path.name + ".data") if kind == "big" else path
    if not path.exists() or not done.exists():
        import subprocess

        subprocess.run([PYTHON, __file__, "--build", kind, str(path)], check=True)
    return path


# -- benchmarks ---------------------------------------------------------------------------------


def _py(code: str) -> list[str]:
    return [PYTHON, "-c", code]


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x"


def bench_resnet(repeats: int) -> str:
    path = ensure("resnet50", WORK / "resnet50.onnx")
    p = str(path)
    cases = {
        "python -c pass (interpreter start)": _py("pass"),
        "onnx.load (weights parsed)": _py(f"import onnx; onnx.load({p!r})"),
        "modelprof count (table -> /dev/null)": [*MODELPROF, "count", p],
        "onnx-tool model_profile (-> /dev/null)": _py(
            f"import onnx_tool; onnx_tool.model_profile({p!r})"
        ),
    }
    _log(f"resnet50: {len(cases)} cases x {repeats} rounds, interleaved")
    s = interleaved(cases, repeats)
    mp = s["modelprof count (table -> /dev/null)"].median
    load = s["onnx.load (weights parsed)"].median
    tool = s["onnx-tool model_profile (-> /dev/null)"].median
    size = path.stat().st_size
    out = [
        table(
            f"1. ResNet-50, ONNX with embedded weights ({fmt_bytes(size)}), whole processes",
            TIMING_HEADERS,
            timing_rows(s),
        ),
        table(
            "   targets (ratios of medians)",
            ("target", "measured", "limit", "result"),
            [
                [
                    "modelprof / onnx.load",
                    _ratio(mp, load),
                    f"<= {RESNET_MAX_VS_LOAD}x",
                    verdict(mp <= RESNET_MAX_VS_LOAD * load),
                ],
                ["modelprof / onnx-tool", _ratio(mp, tool), "< 1.00x", verdict(mp < tool)],
            ],
        ),
    ]
    return "\n".join(out)


def bench_synthetic(repeats: int, sizes: Sequence[int], tool_size: int) -> str:
    tiny = ensure("chain3", WORK / "chain3.onnx")
    paths = {n: ensure(f"chain{n}", WORK / f"chain{n}.onnx") for n in sizes}
    cases: dict[str, list[str]] = {
        "modelprof count, 3 nodes (fixed cost)": [*MODELPROF, "count", str(tiny)]
    }
    for n, path in paths.items():
        p = str(path)
        cases[f"modelprof count, {n:,} nodes"] = [*MODELPROF, "count", p]
        cases[f"onnx.load, {n:,} nodes"] = _py(f"import onnx; onnx.load({p!r})")
        cases[f"onnx.load + infer_shapes, {n:,} nodes"] = _py(
            f"import onnx; onnx.shape_inference.infer_shapes(onnx.load({p!r}))"
        )
        if n == 100_000:
            general = ensure("chain100000general", WORK / "chain100000general.onnx")
            cases[GENERAL] = [*MODELPROF, "count", str(general)]
        if n == tool_size:
            cases[f"onnx-tool model_profile, {n:,} nodes"] = _py(
                f"import onnx_tool; onnx_tool.model_profile({p!r})"
            )
    _log(f"synthetic: {len(cases)} cases x {repeats} rounds, interleaved")
    slow = {name: min(repeats, TOOL_MAX_ROUNDS) for name in cases if name.startswith("onnx-tool")}
    s = interleaved(cases, repeats, max_rounds=slow)
    fixed = s["modelprof count, 3 nodes (fixed cost)"].median

    rows = []
    per_node: dict[int, float] = {}
    for n in sizes:
        t = s[f"modelprof count, {n:,} nodes"].median
        per_node[n] = (t - fixed) / n
        rows.append([f"{n:,} nodes", fmt_s(t), fmt_us(t / n), fmt_us(per_node[n])])
    out = [
        table(
            "2. Synthetic MatMul -> Relu -> Add chains (8x8 weights), whole processes",
            TIMING_HEADERS,
            timing_rows(s),
        ),
        table(
            f"   modelprof per node (median; 'net' subtracts the 3-node fixed cost {fmt_s(fixed)})",
            ("model", "median", "per node", "net per node"),
            rows,
        ),
    ]
    checks = []
    big_n = max(sizes)
    t_big = s[f"modelprof count, {big_n:,} nodes"].median
    if big_n == 100_000:
        checks.append(
            [
                "100,000 nodes counted",
                fmt_s(t_big),
                f"< {SYNTH_100K_MAX_S:.0f} s",
                verdict(t_big < SYNTH_100K_MAX_S),
            ]
        )
    small_n = min(sizes)
    if small_n != big_n:
        growth = per_node[big_n] / per_node[small_n]
        checks.append(
            [
                f"net per node {big_n:,} / {small_n:,} (linear: 1.0)",
                f"{growth:.2f}x",
                f"<= {LINEAR_MAX_GROWTH}x",
                verdict(growth <= LINEAR_MAX_GROWTH),
            ]
        )
    tool_key = f"onnx-tool model_profile, {tool_size:,} nodes"
    if tool_key in s:
        t_mp = s[f"modelprof count, {tool_size:,} nodes"].median
        checks.append(
            [
                f"modelprof / onnx-tool, {tool_size:,} nodes",
                _ratio(t_mp, s[tool_key].median),
                "< 1.00x",
                verdict(t_mp < s[tool_key].median),
            ]
        )
    if GENERAL in s:
        checks.append(
            [
                "(context) + 1 Flatten (onnx's inference), 100,000 nodes",
                fmt_s(s[GENERAL].median),
                "-",
                "-",
            ]
        )
    for n in sizes:
        t_mp = s[f"modelprof count, {n:,} nodes"].median
        checks.append(
            [
                f"(context) modelprof / onnx.load, {n:,} nodes",
                _ratio(t_mp, s[f"onnx.load, {n:,} nodes"].median),
                "-",
                "-",
            ]
        )
    out.append(
        table("   targets (ratios of medians)", ("target", "measured", "limit", "result"), checks)
    )
    return "\n".join(out)


def bench_big(repeats: int) -> str:
    path = ensure("big", WORK / "decoder7b.onnx")
    data = path.with_name(path.name + ".data")
    p = str(path)
    shape = "input_ids=1x128"
    st = data.stat()
    allocated = st.st_blocks * 512
    cases = {
        "onnx.load(load_external_data=False)": _py(
            f"import onnx; onnx.load({p!r}, load_external_data=False)"
        ),
        f"modelprof count --input-shape {shape}": [*MODELPROF, "count", p, "--input-shape", shape],
    }
    _log(f"big: {len(cases)} cases x {repeats} rounds, interleaved")
    s = interleaved(cases, repeats)
    mp: Samples = s[f"modelprof count --input-shape {shape}"]

    # one more run, as JSON, to show what was counted
    with tempfile.TemporaryDirectory() as tmp:
        doc_path = Path(tmp) / "big.json"
        run = run_once(
            [
                *MODELPROF,
                "count",
                p,
                "--input-shape",
                shape,
                "--format",
                "json",
                "-o",
                str(doc_path),
                "-q",
            ]
        )
        if run.returncode != 0:
            raise BenchError(f"modelprof count --format json exited {run.returncode}: {run.stderr}")
        doc = json.loads(doc_path.read_text())
    total = doc["total"]
    expected = big_param_count()
    summary = [
        ["graph file", fmt_bytes(path.stat().st_size)],
        ["external data: apparent size", fmt_bytes(st.st_size)],
        ["external data: allocated on disk", fmt_bytes(allocated)],
        ["layers reported", f"{len(doc['layers']):,}"],
        ["params reported", f"{total['params']:,} ({fmt_count(total['params'])})"],
        ["params built", f"{expected:,}"],
        ["MACs reported", fmt_count(total["macs"])],
        ["weight bytes reported", fmt_bytes(total["weight_bytes"])],
        ["node coverage", f"{100 * doc['node_coverage']:.1f}%"],
        ["JSON run: wall / peak RSS", f"{fmt_s(run.wall_s)} / {fmt_bytes(run.maxrss_bytes)}"],
    ]
    checks = [
        [
            "wall time (median)",
            fmt_s(mp.median),
            f"< {BIG_MAX_S:.0f} s",
            verdict(mp.median < BIG_MAX_S),
        ],
        [
            "peak RSS (max over runs)",
            fmt_bytes(mp.peak_rss),
            f"< {fmt_bytes(BIG_MAX_RSS)}",
            verdict(mp.peak_rss < BIG_MAX_RSS),
        ],
        [
            "params counted = params built",
            f"{total['params']:,}",
            f"{expected:,}",
            verdict(total["params"] == expected),
        ],
    ]
    return "\n".join(
        [
            table(
                f"3. {expected / 1e9:.2f} B-parameter decoder, fp16 weights as EXTERNAL data "
                "(sparse file), whole processes",
                TIMING_HEADERS,
                timing_rows(s),
            ),
            table("   what modelprof reported", ("item", "value"), summary),
            table("   targets", ("target", "measured", "limit", "result"), checks),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds each: a smoke run")
    parser.add_argument(
        "--repeats",
        type=int,
        help="recorded rounds per case (default 7; onnx-tool on 10,000 nodes: 3 at most)",
    )
    parser.add_argument(
        "--only",
        choices=("resnet50", "synthetic", "big"),
        action="append",
        help="run only this benchmark (repeatable)",
    )
    parser.add_argument("--build", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build:
        kind, path = args.build
        BUILDERS[kind](Path(path))
        return 0
    repeats = args.repeats or (2 if args.quick else 7)
    if repeats < 1:
        parser.error("--repeats must be at least 1")
    order = ["resnet50", "synthetic", "big"]
    selected = [name for name in order if not args.only or name in args.only]
    WORK.mkdir(parents=True, exist_ok=True)

    print(
        f"modelprof count benchmarks: {repeats} recorded rounds per case after 1 warm-up "
        f"(onnx-tool on the 10,000-node chain: {min(repeats, TOOL_MAX_ROUNDS)})"
    )
    print(
        "wall = whole child process; peak RSS = the child's own ru_maxrss from wait4 "
        "(floor: this launcher's RSS, see 'python -c pass')"
    )
    print(
        f"python {sys.version.split()[0]} on {os.cpu_count()} cores; command: {' '.join(MODELPROF)}"
    )
    start = time.perf_counter()
    failed = False
    for name in selected:
        try:
            if name == "resnet50":
                text = bench_resnet(repeats)
            elif name == "synthetic":
                text = bench_synthetic(repeats, (10_000, 100_000), tool_size=10_000)
            else:
                text = bench_big(repeats)
        except BenchError as exc:
            failed = True
            text = f"{name}: FAILED\n{exc}"
        print()
        print(text, flush=True)
    print(f"\ntotal benchmark time {fmt_s(time.perf_counter() - start)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
