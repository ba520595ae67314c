"""Structured pruning measured: MACs, params, file size and OpenVINO latency against the amount.

    .venv/bin/python benchmarks/bench_prune.py            # resnet18 at 0.3 / 0.5 / 0.7
    .venv/bin/python benchmarks/bench_prune.py --quick    # one round

Each amount runs ``modelprof prune resnet18 --amount p --runtime openvino --format json`` in its
own process; inside it the original and the pruned model are measured interleaved for
``--rounds`` rounds (2 threads, f32). An unstructured 80 % row shows what scattered zeros buy
on a dense runtime: nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import run_json, table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--time", type=float, default=1.0, help="seconds per pass")
    parser.add_argument("--model", default="resnet18")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    rows = []
    cases: list[tuple[str, list[str]]] = [
        (f"structured {p}", ["--amount", str(p)]) for p in (0.3, 0.5, 0.7)
    ]
    cases.append(("unstructured 0.8", ["--unstructured", "--amount", "0.8"]))
    for label, extra in cases:
        doc = run_json(
            [
                "prune",
                args.model,
                *extra,
                "--runtime",
                "openvino",
                "--threads",
                "2",
                "--rounds",
                str(rounds),
                "--time",
                str(args.time),
            ]
        )
        b, a = doc["before"], doc["after"]  # type: ignore[index]
        mac_ratio = b["total"]["macs"] / a["total"]["macs"]
        speed = b["latency_us"]["median"] / a["latency_us"]["median"]
        rows.append(
            [
                label,
                f"{a['total']['macs'] / 1e9:.3f} G",
                f"{a['total']['params'] / 1e6:.2f} M",
                f"{a['nonzero_params'] / 1e6:.2f} M",
                f"{a['file_bytes'] / 1e6:.1f} MB",
                f"{b['latency_us']['median'] / 1000:.2f} ms",
                f"{a['latency_us']['median'] / 1000:.2f} ms "
                f"(IQR {a['latency_us']['iqr'] / 1000:.2f})",
                f"{mac_ratio:.2f}x",
                f"{speed:.2f}x",
            ]
        )
        base = b
    rows.insert(
        0,
        [
            "original",
            f"{base['total']['macs'] / 1e9:.3f} G",
            f"{base['total']['params'] / 1e6:.2f} M",
            f"{base['nonzero_params'] / 1e6:.2f} M",
            f"{base['file_bytes'] / 1e6:.1f} MB",
            "",
            "",
            "1.00x",
            "1.00x",
        ],
    )
    print(
        table(
            f"{args.model}: pruned, measured on OpenVINO CPU f32, 2 threads, {rounds} interleaved "
            "round(s) per case (latency 'before' is the original measured beside each case)",
            [
                "case",
                "MACs",
                "params",
                "nonzero",
                "file",
                "latency before",
                "latency after",
                "MAC ratio",
                "speed-up",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
