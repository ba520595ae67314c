"""``modelprof profile --runtime torch``: zoo names, factories and trusted ``.pt`` files run
eager, their rows named by module path as ``modelprof count`` names them; model files and
what torch does not do yet are refused in one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from modelprof.cli.main import main
from modelprof.frontends import zoo

QUICK = ["--runtime", "torch", "--iterations", "4", "--warmup", "1", "--threads", "1"]

FACTORY = """
import torch
from torch import nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.ReLU())
        self.head = nn.Linear(4, 2, bias=False)

    def forward(self, x):
        return self.head(self.stem(x).mean((2, 3)))


def build():
    return Tiny().eval()
"""


def _json(capsys: pytest.CaptureFixture[str], args: list[str]) -> dict[str, Any]:
    assert main(["profile", *args, "--format", "json"]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def _rows(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in document["layers"]}


def test_a_zoo_model_profiles_on_torch_with_its_module_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    document = _json(capsys, ["seed-cnn", *QUICK])
    assert (document["kind"], document["runtime"], document["threads"]) == ("profile", "torch", 1)
    assert document["runtime_version"] == torch.__version__
    rows = _rows(document)
    # the seed network's layers (DESIGN.md): 121,680 + 6,760 + 108,900 + 154,880 + 2,560
    assert {n: rows[n]["flops"] for n in ("conv1", "pool", "conv2", "fc1", "fc2")} == {
        "conv1": 121_680,
        "pool": 6_760,
        "conv2": 108_900,
        "fc1": 154_880,
        "fc2": 2_560,
    }
    assert sum(int(r["flops"]) for r in rows.values() if not r["folded_into"]) == 394_780


def test_a_factory_profiles_on_torch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tiny.py").write_text(FACTORY, encoding="utf-8")
    spec = f"{tmp_path / 'tiny.py'}:build"
    document = _json(capsys, [spec, *QUICK, "--input-shape", "x=1x3x6x6"])
    rows = _rows(document)
    # conv 3->4 3x3 on 6x6: out 4x4x4 = 64 outputs x 27 MACs = 1,728 MACs, 3,456 FLOPs;
    # ReLU on 64 elements: 64 FLOPs; Linear 4->2: 8 MACs, 16 FLOPs
    assert rows["stem.0"]["flops"] == 3_456 and rows["stem.1"]["flops"] == 64
    assert rows["head"]["flops"] == 16
    # the mean over H and W in Tiny.forward is the top level's own op, a global pooling:
    # one FLOP per input element, 4 x 4 x 4 = 64
    top = next(r for r in rows.values() if r["runtime_name"] == "(top level)")
    assert (top["op"], top["flops"]) == ("GlobalAveragePool", 64)


def test_a_trusted_pt_file_profiles_on_torch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "seed.pt"
    torch.save(zoo.get("seed-cnn").build(), path)
    args = [str(path), *QUICK, "--input-shape", "1x1x28x28"]
    assert main(["profile", *args]) == 2
    assert "--trust-pickle" in capsys.readouterr().err
    rows = _rows(_json(capsys, [*args, "--trust-pickle"]))
    assert rows["conv1"]["flops"] == 121_680


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--precision", "f16"], "--runtime torch runs f32 and bf16 only; --precision f16"),
        (["--mode", "throughput", "--html", "x.html"], "--html is a latency-mode report"),
    ],
)
def test_what_torch_does_not_do_yet_is_one_line_exit_2(
    extra: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profile", "seed-cnn", "--runtime", "torch", *extra]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


@pytest.mark.parametrize(("name", "kind"), [("m.onnx", "ONNX"), ("m.xml", "OpenVINO IR")])
def test_a_model_file_on_torch_is_one_line_exit_2(
    tmp_path: Path,
    name: str,
    kind: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / name
    path.write_bytes(b"<net/>")
    before = path.read_bytes()
    assert main(["profile", str(path), "--runtime", "torch"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert f"runs PyTorch models only, not {kind} files" in err
    assert path.read_bytes() == before
