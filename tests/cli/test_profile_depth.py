"""profile --depth N: time and FLOPs per module scope, as count --depth groups the count."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

from modelprof.cli.main import main
from modelprof.measure.profiling import profile
from modelprof.measure.runtimes import RunSettings

FAST = RunSettings(threads=1, warmup=2, iterations=5)


def nested() -> nn.Module:
    """Two blocks: "0" = conv(3->4, 3x3) + ReLU, "1" = conv(4->2, 1x1), on 1x3x10x10."""
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.ReLU()),
        nn.Sequential(nn.Conv2d(4, 2, 1, bias=False)),
    ).eval()


def test_time_and_flops_roll_up_by_scope() -> None:
    report = profile(nested(), (1, 3, 10, 10), runtime="torch", settings=FAST)
    by_depth_1 = report.by_scope(1)
    # block 0: conv 4 x 8 x 8 outputs x 27 MACs = 6,912 MACs = 13,824 FLOPs, ReLU 256 FLOPs
    # = 14,080; block 1: 2 x 8 x 8 x 4 = 512 MACs = 1,024 FLOPs
    # the Sequential's own time (module-call machinery) is the root's row: scope ""
    assert [(scope, flops) for scope, _, flops in by_depth_1] == [
        ("", 0),
        ("0", 14_080),
        ("1", 1_024),
    ]
    # the same groups as the count's, and every row's time lands in exactly one scope
    assert [g.flops for g in report.count.by_scope(1)] == [14_080, 1_024]
    assert sum(t for _, t, _ in by_depth_1) == pytest.approx(report.layer_time_us)
    assert all(t > 0 for _, t, _ in by_depth_1)
    # at depth 2 the containers "0" and "1" keep their own time as rows of their own
    by_depth_2 = report.by_scope(2)
    assert [(s, f) for s, _, f in by_depth_2] == [
        ("", 0),
        ("0", 0),
        ("0.0", 13_824),
        ("0.1", 256),
        ("1", 0),
        ("1.0", 1_024),
    ]


FACTORY = """from torch import nn
def build():
    return nn.Sequential(nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.ReLU()),
                         nn.Sequential(nn.Conv2d(4, 2, 1, bias=False))).eval()
"""


def test_the_cli_prints_the_scope_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    factory = tmp_path / "net.py"
    factory.write_text(FACTORY)
    args = [f"{factory}:build", "--input-shape", "1x3x10x10", "--runtime", "torch"]
    assert main(["profile", *args, "--iterations", "5", "--threads", "1", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "time by scope (depth 1)" in out
    # FLOPs %: block 0 14,080 / 15,104 = 93.2 %, block 1 1,024 / 15,104 = 6.8 %
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") == 5}
    assert rows["0"].rstrip(" │").endswith("93.2%") and rows["1"].rstrip(" │").endswith("6.8%")


def test_depth_with_json_or_throughput_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for extra in (["--format", "json"], ["--mode", "throughput"]):
        assert main(["profile", "seed-cnn", "--runtime", "torch", "--depth", "1", *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--depth needs" in err
