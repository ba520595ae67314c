"""Depthwise-separable rewrites measured: MAC ratio against real speed-up, per layer too.

    .venv/bin/python benchmarks/bench_separable.py            # resnet18 and vgg16, both runtimes
    .venv/bin/python benchmarks/bench_separable.py --quick    # resnet18 only, 1 round

For each model, ``modelprof separable MODEL -m 1 --runtime R --format json`` runs in its own
process per runtime (one runtime per process, as docs/profile.md explains); inside it the
original and the rank-1 rewrite are measured interleaved (A B A B ...) for ``--rounds`` rounds,
and the round with the median latency is kept for each. Then the trained seed-cnn's accuracy:
original, rank-1 rewrite, and after fine-tuning on digits.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import run_json, table


def bench_model(model: str, runtimes: Sequence[str], rounds: int, seconds: float) -> str:
    out = []
    summary_rows = []
    for runtime in runtimes:
        doc = run_json(
            [
                "separable",
                model,
                "-m",
                "1",
                "--runtime",
                runtime,
                "--threads",
                "2",
                "--rounds",
                str(rounds),
                "--time",
                str(seconds),
            ]
        )
        before, after = doc["before"], doc["after"]  # type: ignore[index]
        b, a = before["latency_us"], after["latency_us"]  # type: ignore[index]
        mac_ratio = doc["model_macs_before"] / doc["model_macs_after"]  # type: ignore[operator]
        summary_rows.append(
            [
                runtime,
                f"{mac_ratio:.2f}x",
                f"{b['median'] / 1000:.2f} ms (IQR {b['iqr'] / 1000:.2f})",
                f"{a['median'] / 1000:.2f} ms (IQR {a['iqr'] / 1000:.2f})",
                f"{b['median'] / a['median']:.2f}x",
            ]
        )
        rows = []
        for t in doc["layer_timings"]:  # type: ignore[union-attr]
            rows.append(
                [
                    t["name"],
                    f"{t['mac_ratio']:.2f}x",
                    f"{t['time_before_us']:.0f}",
                    f"{t['time_after_us']:.0f}",
                    f"{t['speedup']:.2f}x" if t["speedup"] else "-",
                    f"{100 * t['depthwise_time_us'] / t['time_after_us']:.0f}%"
                    if t["time_after_us"]
                    else "-",
                    f"{t['depthwise_gflops_per_s']:.1f}" if t["depthwise_gflops_per_s"] else "-",
                    f"{t['pointwise_gflops_per_s']:.1f}" if t["pointwise_gflops_per_s"] else "-",
                ]
            )
        out.append(
            table(
                f"{model}, {runtime}: per replaced layer (times in us, medians)",
                [
                    "layer",
                    "MAC ratio",
                    "before",
                    "after",
                    "speed-up",
                    "dw share of time",
                    "dw GFLOP/s",
                    "pw GFLOP/s",
                ],
                rows,
            )
        )
    out.insert(
        0,
        table(
            f"{model}: rank-1 separable rewrite of every eligible conv, end to end ({rounds} "
            "interleaved rounds, 2 threads, f32)",
            ["runtime", "MAC ratio", "original", "rewrite", "speed-up"],
            summary_rows,
        ),
    )
    return "\n\n".join(out)


def bench_accuracy(epochs: int) -> str:
    doc = run_json(["separable", "seed-cnn", "--finetune", "digits", "--epochs", str(epochs)])
    acc = doc["accuracy"]  # type: ignore[index]
    rows = [[k, f"{100 * v:.1f}%"] for k, v in acc.items()]  # type: ignore[union-attr]
    rows.append(["MACs", f"{doc['model_macs_before']:,} -> {doc['model_macs_after']:,}"])
    return table(
        f"trained seed-cnn on digits (test split, 360 images), rank-1 rewrite, "
        f"{epochs} fine-tuning epochs",
        ["", "value"],
        rows,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--time", type=float, default=1.0, help="seconds per pass")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    models = ["resnet18"] if args.quick else ["resnet18", "vgg16"]
    parts = [bench_model(m, ["openvino", "onnxruntime"], rounds, args.time) for m in models]
    parts.append(bench_accuracy(epochs=5))
    print("\n\n".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
