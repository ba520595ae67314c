"""int8 measured: resnet18 in f32 against its NNCF int8 version on OpenVINO's CPU, interleaved.

    .venv/bin/python benchmarks/bench_quantize.py            # resnet18, 3 rounds
    .venv/bin/python benchmarks/bench_quantize.py --quick    # one round

One process runs ``modelprof quantize MODEL --runtime openvino --threads 2 --format json``: the
zoo model is converted with OpenVINO, quantized by NNCF (``--subset`` random calibration calls:
speed does not depend on the ranges, accuracy does, and none is claimed here), and both models
are measured alternately (A B A B ...) for ``--rounds`` rounds, each keeping the round with the
median latency. The table gives each side's median and IQR, the speed-up, and from OpenVINO's
runtime model the share of convolutions (and of MACs) executing in i8/u8, and the share of the
per-layer time spent in FakeQuantize, Convert and Reorder layers. The same two IRs (the f32 one
written here exactly as quantize converts it, the int8 one from ``--save``) are then timed again
with ``modelprof compare --profile``: finer interleaving (10 rounds x 20 runs, each model in a
process of its own), which a shared, noisy machine needs. Targets (issue 14): at least 1.5x
faster, at least 80 % of the convolutions in i8/u8.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import run_json, table, verdict

SPEEDUP_TARGET = 1.5
CONV_INT8_TARGET = 0.80


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--time", type=float, default=1.0, help="seconds per pass")
    parser.add_argument("--subset", type=int, default=32, help="calibration calls")
    parser.add_argument("--model", default="resnet18")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    with tempfile.TemporaryDirectory(prefix="bench-quantize-") as folder:
        int8_path, f32_path = Path(folder) / "int8.xml", Path(folder) / "f32.xml"
        doc = _quantize(args, rounds, int8_path)
        _write_f32(args.model, f32_path)
        compared = run_json(
            ["compare", str(f32_path), str(int8_path), "--profile", "--threads", "2"]
        )
    return _report(args, rounds, doc, compared)


def _write_f32(model: str, path: Path) -> None:
    """The f32 IR quantize started from: ``ov.convert_model`` of the zoo module, static shape."""
    import openvino as ov
    import torch

    from modelprof.api import build_module
    from modelprof.frontends import zoo

    shape = list(zoo.get(model).input_shapes["input"])
    module = build_module(model).eval()
    converted = ov.convert_model(module, example_input=torch.zeros(shape), input=[shape])
    ov.save_model(converted, str(path), compress_to_fp16=False)


def _quantize(args: argparse.Namespace, rounds: int, save: Path) -> dict[str, Any]:
    return run_json(
        [
            "quantize",
            args.model,
            "--subset",
            str(args.subset),
            "--runtime",
            "openvino",
            "--threads",
            "2",
            "--rounds",
            str(rounds),
            "--time",
            str(args.time),
            "--save",
            str(save),
        ]
    )


def _report(
    args: argparse.Namespace, rounds: int, doc: dict[str, Any], compared: dict[str, Any]
) -> int:
    b, a, d = doc["before"], doc["after"], doc["diagnosis"]
    f32, int8 = b["latency_us"], a["latency_us"]
    speedup = f32["median"] / int8["median"]
    conv_share = d["conv_int8_share"] or 0.0
    rows = [
        [
            "quantize --runtime: median (IQR)",
            f"{f32['median'] / 1e3:.2f} ms ({f32['iqr'] / 1e3:.2f})",
            f"{int8['median'] / 1e3:.2f} ms ({int8['iqr'] / 1e3:.2f})",
            f"{speedup:.2f}x faster",
        ],
        [
            "weight bytes",
            f"{b['total']['weight_bytes'] / 1e6:.2f} MB",
            f"{a['total']['weight_bytes'] / 1e6:.2f} MB",
            f"{a['total']['weight_bytes'] / b['total']['weight_bytes']:.3f}",
        ],
        [
            "file bytes",
            f"{b['file_bytes'] / 1e6:.2f} MB",
            f"{a['file_bytes'] / 1e6:.2f} MB",
            f"{a['file_bytes'] / b['file_bytes']:.3f}",
        ],
        [
            "compare: median (IQR), min",
            _latency(compared["models"][0]["latency_us"]),
            _latency(compared["models"][1]["latency_us"]),
            f"{1 / compared['models'][1]['latency_ratio']:.2f}x faster",
        ],
        ["MACs (G)", f"{b['total']['macs'] / 1e9:.3f}", f"{a['total']['macs'] / 1e9:.3f}", ""],
        ["convs executing in i8/u8", "", f"{100 * conv_share:.0f} %", ""],
        ["MACs executing in i8/u8", "", f"{100 * d['macs_int8_share']:.0f} %", ""],
        [
            "time in FakeQuantize/Convert/Reorder",
            "",
            f"{d['conversion_us'] / 1e3:.2f} ms ({100 * d['conversion_share']:.1f} %)",
            "",
        ],
    ]
    profile = a["profile"]
    print(
        table(
            f"{args.model}: f32 vs NNCF int8 on OpenVINO {profile['runtime_version']} "
            f"({profile['device']}, {profile['threads']} threads, {rounds} interleaved rounds, "
            f"{doc['quantizers']} quantizers, calibration {doc['calibration']['samples']} calls "
            "of random data)",
            ["", "f32", "int8", "int8 / f32"],
            rows,
        )
    )
    print(f"CPU int8 features: {', '.join(d['cpu_flags']) or 'none found'}")
    slower = [layer for layer in d["layers"] if layer["slower"]]
    for layer in slower:
        print(
            f"slower in int8: {layer['name']} ({layer['op']}, {layer['exec_type']}): "
            f"{layer['time_us']:.0f} us vs {layer['f32_time_us']:.0f} us in f32"
        )
    for left in d["left_in_float"]:
        print(f"runs in {left['precision']}: {left['name']} ({left['op']}): {left['reason']}")
    speedup = min(speedup, 1 / compared["models"][1]["latency_ratio"])  # the less flattering
    ok_speed = speedup >= SPEEDUP_TARGET
    ok_convs = conv_share >= CONV_INT8_TARGET
    print(f"speed-up >= {SPEEDUP_TARGET}x: {verdict(ok_speed)} ({speedup:.2f}x)")
    print(f"convs in i8/u8 >= {CONV_INT8_TARGET:.0%}: {verdict(ok_convs)} ({conv_share:.0%})")
    return 0 if ok_speed and ok_convs else 1


def _latency(stats: dict[str, float]) -> str:
    return f"{stats['median'] / 1e3:.2f} ms ({stats['iqr'] / 1e3:.2f}), {stats['min'] / 1e3:.2f}"


if __name__ == "__main__":
    sys.exit(main())
