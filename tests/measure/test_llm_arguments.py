"""``count_llm`` from Python: arguments it cannot count are refused with a message saying which
and why (the CLI checks its own options first, so these are the Python caller's errors), and
the notes a report carries about the dtypes and lengths it was given.

Hand-worked figures, for a Llama of 2 layers, hidden 64, 4 heads of 16, 2 KV heads, MLP 96,
vocab 100 (as tests/measure/test_llm.py):

* params: embedding 100 x 64 = 6,400; per layer q, o 2 x 64 x 64 + k, v 2 x 64 x 32 + MLP
  3 x 64 x 96 + two RMSNorm weights 2 x 64 = 30,848, x 2 layers = 61,696; final norm 64;
  lm_head 64 x 100 = 6,400 (not tied). Total 74,560; in f16 149,120 bytes.
* KV cache of 7 + 3 = 10 tokens: 2 (K, V) x 2 layers x 2 KV heads x 16 x 10 = 1,280 values,
  one byte each in int8.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")

from modelprof.errors import ModelprofError
from modelprof.measure.llm import count_llm, find_ceilings

TINY: dict[str, Any] = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 100,
    "torch_dtype": "float32",
}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"generate": 1, "batch": 0}, "the batch must hold at least one sequence, not 0"),
        ({}, "give the number of decode steps to count (generate >= 1)"),
        ({"generate": 0}, "give the number of decode steps to count (generate >= 1)"),
        ({"training": True, "generate": 2}, "a training step has no decode steps"),
        ({"generate": 1, "logits": "first"}, "logits is 'last' or 'all', not 'first'"),
        ({"generate": 1, "experts": "fast"}, "unknown experts implementation 'fast' ("),
        ({"generate": 1, "dtype": "f64"}, "unknown dtype 'f64' (choose from "),
        ({"generate": 1, "kv_dtype": "f4"}, "unknown KV dtype 'f4' (choose from "),
    ],
    ids=[
        "batch-0",
        "no-generate",
        "generate-0",
        "training-with-generate",
        "logits",
        "experts",
        "dtype",
        "kv-dtype",
    ],
)
def test_arguments_it_cannot_count_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelprofError) as caught:
        count_llm(TINY, prompt=4, **kwargs)
    assert message in str(caught.value)


def test_notes_on_dtypes_and_a_context_past_the_trained_length() -> None:
    values = {k: v for k, v in TINY.items() if k != "torch_dtype"}
    values["max_position_embeddings"] = 8
    report = count_llm(values, prompt=7, generate=3, kv_dtype="int8")
    assert report.params == 74_560
    assert (report.dtype, report.weight_bytes) == ("f16", 2 * 74_560)
    assert report.kv_cache_bytes == 1_280
    assert "the config names no dtype: weights counted in f16" in report.notes
    assert "int8 KV cache: one byte per value, its scales not counted" in report.notes
    assert (
        "10 positions is more than the 8 the config was trained for "
        "(max_position_embeddings): counted all the same"
    ) in report.notes


def test_without_ceilings_the_report_says_why_it_has_no_roofline() -> None:
    why = "no device ceilings: run 'modelprof device'"
    report = count_llm(TINY, prompt=4, generate=1, ceilings_source=why)
    assert report.roofline is None
    assert why in report.notes


def test_find_ceilings_with_none_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPROF_CACHE", str(tmp_path / "empty"))
    found, why = find_ceilings()
    assert found is None and why.startswith("no device ceilings: run 'modelprof device'")
    found, why = find_ceilings(peak_tflops=2.0)
    assert found is None
    assert why == "no device ceilings cached to complete the given one: give --bandwidth-gbs too"
    found, why = find_ceilings(bandwidth_gbs=50.0)
    assert found is None and why.endswith("give --peak-tflops too")
    found, why = find_ceilings(peak_tflops=2.0, bandwidth_gbs=50.0)
    assert found is not None and why == "peak given, bandwidth given"
    # 2 TFLOP/s = 2,000 GFLOP/s
    assert (found.peak_gflops_per_s, found.bandwidth_gb_per_s) == (2_000.0, 50.0)
