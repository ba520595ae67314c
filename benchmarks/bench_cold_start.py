"""How long ``modelprof count seed-cnn`` takes from a cold process, and what torch costs of it.

    .venv/bin/python benchmarks/bench_cold_start.py              # 7 interleaved rounds
    .venv/bin/python benchmarks/bench_cold_start.py --repeats 3  # quicker

Every case is a whole process (interpreter start and imports included), run interleaved
(A B C D A B C D ...) after one unrecorded warm-up round. The PyTorch route records the module
under a TorchDispatchMode, whose dispatch torch wraps so that dynamo skips it; that wrapper
imported ``torch._dynamo`` on its first call, about 1.5 s of a cold count, which modelprof now
avoids. The case "with torch._dynamo imported first" puts that import back, so the saving is
measured in the same run as a ratio of medians.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PYTHON, TIMING_HEADERS, interleaved, modelprof_exe, table, timing_rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    count = "from modelprof.cli.main import main; main(['count', 'seed-cnn'])"
    cases = {
        "python -c 'import torch' (floor)": [PYTHON, "-c", "import torch"],
        "python -c 'import torch._dynamo'": [PYTHON, "-c", "import torch._dynamo"],
        "modelprof count seed-cnn": [*modelprof_exe(), "count", "seed-cnn"],
        "the same, torch._dynamo imported first": [
            PYTHON,
            "-c",
            f"import torch._dynamo; {count}",
        ],
    }
    samples = interleaved(cases, args.repeats)
    print(table("cold start, whole processes", TIMING_HEADERS, timing_rows(samples)))
    ours = samples["modelprof count seed-cnn"].median
    before = samples["the same, torch._dynamo imported first"].median
    rows = [["count seed-cnn / the same with torch._dynamo", f"{ours / before:.2f}x"]]
    print(table("   ratios of medians", ("what", "measured"), rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
