"""``modelprof llm`` tables without device ceilings, with one decode step, and for training.

Hand-worked figures, for a Llama of 2 layers, hidden 64, 4 heads of 16, 2 KV heads, MLP 96,
vocab 100, f32 (as tests/cli/test_llm_cli.py):

* params 74,560 (embedding 6,400 + 2 layers x 30,848 + norm 64 + lm_head 6,400), 298,240 B f32.
* prefill of 7: linear 436,480 + attention 2 x 4 x 7 x 7 x 32 = 12,544 -> 449,024 MACs.
* decode at position 7: linear 2 x 30,720 + 6,400 = 67,840, attention 2 x 4 x 8 x 32 = 2,048
  -> 69,888 MACs; one step, so the mean per token is that step.
* KV cache of 8 tokens: 2 x 2 layers x 2 KV heads x 16 x 8 x 4 bytes = 4,096 B.
* training on 2 x 8 tokens: attention 6 x (2 x 2 layers x 4 heads x 8^2 x 32) = 196,608 FLOPs;
  matmul FLOPs 6 x (16 x 67,840 + 32,768) = 6,709,248.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from modelprof.cli.main import main

TINY_LLAMA = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 100,
    "torch_dtype": "float32",
}


@pytest.fixture()
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny Llama's config, with an empty ceilings cache (no `modelprof device` run)."""
    monkeypatch.setenv("MODELPROF_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "config.json"
    path.write_text(json.dumps(TINY_LLAMA), encoding="utf-8")
    return path


def _table(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    out_file = tmp_path / "report.txt"
    code = main([*args, "-o", str(out_file)])
    _, err = capsys.readouterr()
    assert code == 0, err
    return out_file.read_text(encoding="utf-8")


def _rows(text: str) -> dict[str, list[str]]:
    rows = [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in text.splitlines()
        if line.startswith("│")
    ]
    return {r[0]: r[1:] for r in rows}


def test_one_decode_step_without_ceilings(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _table(["llm", str(config), "--prompt", "7", "--generate", "1"], tmp_path, capsys)
    assert "params 74,560 (298,240 B of f32 weights)" in text
    assert "KV cache f32: 4,096 B for 8 tokens" in text
    rows = _rows(text)
    assert list(rows) == ["prefill", "decode @7", "decode mean / token"]  # no 'decode @7' twice
    # tokens, keys, MACs, linear, attention ... floor, bound
    assert rows["prefill"][:5] == ["1 x 7", "7", "449,024", "436,480", "12,544"]
    assert rows["decode @7"][:5] == ["1 x 1", "8", "69,888", "67,840", "2,048"]
    assert rows["decode mean / token"][2:5] == ["69,888", "67,840", "2,048"]
    # no ceilings: no floor, no bound, no roofline line, and the reason why
    assert rows["prefill"][-2:] == rows["decode @7"][-2:] == ["-", "-"]
    assert "roofline:" not in text
    assert "note: no device ceilings: run 'modelprof device' or give --peak-tflops" in text


def test_training_step_table(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _table(
        ["llm", str(config), "--prompt", "8", "--batch", "2", "--training"], tmp_path, capsys
    )
    header = next(line for line in text.splitlines() if line.startswith("┃"))
    assert [c.strip() for c in header.strip("┃").split("┃")] == [
        "training step",
        "tokens",
        "matmul FLOPs",
        "linear",
        "attention",
        "all ops",
    ]
    row = _rows(text)["batch 2 x 8"]
    assert row[:2] == ["16", "6,709,248"] and row[3] == "196,608"
    assert list(_rows(text)) == ["batch 2 x 8"]  # no prefill or decode rows
    assert "KV cache f32:" not in text and "prompt 8, generate" not in text
