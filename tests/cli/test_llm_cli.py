"""``modelprof llm`` on the command line: the report a user reads, and bad input as one line
on stderr with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")

from modelprof.cli.main import main

TINY_LLAMA: dict[str, Any] = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 100,
    "torch_dtype": "float32",
}


def _config(folder: Path, values: dict[str, Any] | str, name: str = "config.json") -> Path:
    path = folder / name
    path.write_text(values if isinstance(values, str) else json.dumps(values), encoding="utf-8")
    return path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_exit_2(args: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(args, capsys)
    assert code == 2, err
    assert err.startswith("modelprof: error: "), err
    assert err.count("\n") == 1, err
    assert words in err, err
    assert "Traceback" not in err and out == ""


def test_json_report_of_a_config_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _config(tmp_path, TINY_LLAMA)
    before = path.read_bytes()
    code, out, err = _run(
        ["llm", str(tmp_path), "--prompt", "7", "--generate", "3", "--format", "json"], capsys
    )
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["schema_version"], doc["kind"]) == (1, "llm")
    assert doc["dtype"] == doc["kv_dtype"] == "f32"  # the config's torch_dtype
    # per token per layer: q, o 2 x 64^2 + k, v 2 x 64 x 32 + MLP 3 x 64 x 96 = 30,720;
    # prefill: 7 tokens x 2 layers + lm_head 64 x 100 once = 436,480
    assert doc["prefill"]["linear_macs"] == 436_480
    # 2 layers x 4 heads x 7 x 7 x 32; causal 7 x 8 / 2 = 28 of the 49 scores
    assert doc["prefill"]["attention_macs"] == 12_544
    assert doc["prefill"]["attention_macs_causal"] == 7_168
    assert doc["decode"]["first"]["position"] == 7
    assert doc["decode"]["last"]["position"] == 9
    assert doc["decode"]["first"]["attention_macs"] == 2 * 4 * 8 * 32
    # mean per token over the 3 steps: attention over 8, 9, 10 keys -> 9 on average
    assert doc["decode"]["mean_per_token"]["attention_macs"] == 2 * 4 * 9 * 32
    # 10 tokens cached: 2 x 2 layers x 2 KV heads x 16 x 10 x 4 bytes
    assert doc["kv_cache_bytes"] == 5_120
    assert any("linear_macs" in line for line in doc["conventions"])
    assert path.read_bytes() == before  # the user's file is never written


def test_table_names_the_bound_with_given_ceilings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _config(tmp_path, TINY_LLAMA)
    code, out, err = _run(
        [
            "llm",
            str(tmp_path / "config.json"),
            "--prompt",
            "7",
            "--generate",
            "3",
            "--peak-tflops",
            "1000",
            "--bandwidth-gbs",
            "1",
        ],
        capsys,
    )
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith(("│ prefill", "│ decode @"))]
    assert [row.split()[1:3] for row in rows] == [
        ["prefill", "│"],
        ["decode", "@7"],
        ["decode", "@9"],
    ]
    # at 1 PFLOP/s and 1 GB/s every pass of a tiny model is memory-bound
    assert all(row.rstrip(" │").endswith("memory") for row in rows)
    assert "peak given, bandwidth given" in out


def test_training_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _config(tmp_path, TINY_LLAMA)
    code, out, err = _run(
        ["llm", str(tmp_path), "--training", "--prompt", "8", "--batch", "2", "--format", "json"],
        capsys,
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["prefill"] is None and doc["decode"] is None
    # 16 tokens x (2 x 30,720 + 6,400) linear MACs + 2 x 2 layers x 4 heads x 8^2 x 32
    # attention MACs (full), x 2 FLOPs x 3 (forward + backward)
    assert doc["training"]["matmul_flops"] == 6 * (16 * 67_840 + 2 * 2 * 4 * 64 * 32)


@pytest.mark.parametrize(
    ("setup", "args", "words"),
    [
        (
            lambda d: _config(d, "{not json"),
            ["CFG", "--prompt", "4", "--generate", "1"],
            "not a JSON config",
        ),
        (
            lambda d: _config(d, {"model_type": "no-such-arch"}),
            ["CFG", "--prompt", "4", "--generate", "1"],
            "model_type 'no-such-arch' is not",
        ),
        (
            lambda d: _config(d, {"model_type": "vit"}),
            ["CFG", "--prompt", "4", "--generate", "1"],
            "no causal language model",
        ),
        (
            lambda d: _config(d, {"hidden_size": 8}),
            ["CFG", "--prompt", "4", "--generate", "1"],
            "names no model_type",
        ),
        (
            lambda d: _config(d, [1, 2]),
            ["CFG", "--prompt", "4", "--generate", "1"],
            "holds a JSON object",
        ),
        (lambda d: d, ["DIR", "--prompt", "4", "--generate", "1"], "no config.json"),
        (lambda d: d, ["llama-9b", "--prompt", "4", "--generate", "1"], "unknown model 'llama-9b'"),
        (lambda d: d, ["gpt2", "--prompt", "0", "--generate", "1"], "--prompt"),
        (lambda d: d, ["gpt2", "--prompt", "-3", "--generate", "1"], "--prompt"),
        (lambda d: d, ["gpt2", "--prompt", "4"], "give --generate"),
        (
            lambda d: d,
            ["gpt2", "--prompt", "4", "--training", "--generate", "2"],
            "--generate needs decoding",
        ),
        (
            lambda d: _config(d, {**TINY_LLAMA, "auto_map": {"AutoModelForCausalLM": "m.M"}}),
            ["CFG", "--prompt", "4", "--generate", "1"],
            "never runs code",
        ),
        (
            lambda d: _config(d, {**TINY_LLAMA, "num_local_experts": 4, "model_type": "mixtral"}),
            ["CFG", "--prompt", "4", "--generate", "1", "--experts", "eager"],
            "nonzero",
        ),
    ],
    ids=[
        "not-json",
        "unknown-model-type",
        "not-causal",
        "no-model-type",
        "not-an-object",
        "folder-without-config",
        "unknown-builtin",
        "prompt-0",
        "prompt-negative",
        "no-generate",
        "training-with-generate",
        "auto-map",
        "nonzero-on-meta",
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: Any, args: list[str], words: str
) -> None:
    made = setup(tmp_path)
    args = [str(made) if a in ("CFG", "DIR") else a for a in args]
    _one_line_exit_2(["llm", *args], words, capsys)


def test_without_transformers(tmp_path: Path) -> None:
    _config(tmp_path, TINY_LLAMA)
    code = (
        "import sys; sys.modules['transformers'] = None\n"
        "from modelprof.cli.main import main\n"
        f"sys.exit(main(['llm', {str(tmp_path)!r}, '--prompt', '4', '--generate', '1']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "pip install 'modelprof[llm]'" in result.stderr
