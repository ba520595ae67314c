"""``count_llm``: prefill and decode of real transformers architectures, built from configs on
the meta device (nothing downloaded, no weights), against figures worked out by hand from the
architectures.

The 7B configs below are the architecture values of the public config.json files of
meta-llama/Llama-2-7b-hf, meta-llama/Meta-Llama-3-8B and mistralai/Mixtral-8x7B-v0.1. Each
full-size count takes a few seconds (the model is built and run on the meta device); the
reports are shared per module.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

import modelprof  # noqa: E402
from modelprof.measure.llm import LlmReport, count_llm  # noqa: E402
from modelprof.measure.profilereport import Ceilings  # noqa: E402

LLAMA_2_7B: dict[str, Any] = {
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "vocab_size": 32000,
    "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-05,
    "tie_word_embeddings": False,
    "torch_dtype": "float16",
}
LLAMA_3_8B: dict[str, Any] = {
    **LLAMA_2_7B,
    "intermediate_size": 14336,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "max_position_embeddings": 8192,
    "rope_theta": 500000.0,
    "torch_dtype": "bfloat16",
}
MIXTRAL_8X7B: dict[str, Any] = {
    "model_type": "mixtral",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "num_local_experts": 8,
    "num_experts_per_tok": 2,
    "vocab_size": 32000,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}

N, M = 2048, 128


@pytest.fixture(scope="module")
def llama2() -> LlmReport:
    # ceilings chosen so the floors are easy to work out: 1 PFLOP/s and 1 TB/s
    ceilings = Ceilings(peak_gflops_per_s=1e6, bandwidth_gb_per_s=1000.0)
    return count_llm(LLAMA_2_7B, prompt=N, generate=M, ceilings=ceilings)


@pytest.fixture(scope="module")
def llama3() -> LlmReport:
    return count_llm(LLAMA_3_8B, prompt=N, generate=M)


@pytest.fixture(scope="module")
def mixtral() -> LlmReport:
    return count_llm(MIXTRAL_8X7B, prompt=N, generate=M)


# Per layer of Llama-2-7B (d = 4096, MLP 11008): q, k, v, o = 4 x 4096^2 = 67,108,864 and
# gate, up, down = 3 x 4096 x 11008 = 135,266,304 weights: 202,375,168 MACs per token; 32
# layers: 6,476,005,376. lm_head: 32000 x 4096 = 131,072,000.
# Llama-3-8B (GQA 32/8, head 128, MLP 14336): q, o 2 x 4096^2 + k, v 2 x 4096 x 1024 =
# 41,943,040, MLP 3 x 4096 x 14336 = 176,160,768: 218,103,808 per layer, 6,979,321,856 for
# 32; lm_head 128256 x 4096 = 525,336,576.
# Mixtral-8x7B: attention as Llama-3 (41,943,040), router 4096 x 8 = 32,768, 2 of the 8
# experts 2 x 176,160,768 = 352,321,536: 394,297,344 per layer, 12,617,515,008 for 32;
# lm_head 131,072,000.
FIGURES = {
    # name: (params, prefill linear last, prefill linear all, decode linear, KV cache bytes)
    # prefill last = 2048 x layers + lm_head once; all = 2048 x (layers + lm_head)
    # 13,262,990,082,048 = 2048 x 6,476,005,376 + 131,072,000
    # KV cache: 2 (K, V) x 32 layers x KV heads x 128 x 2176 tokens x 2 bytes
    "llama2": (
        6_738_415_616,
        13_262_990_082_048,
        13_531_294_466_048,  # 2048 x 6,607,077,376
        6_607_077_376,  # 6,476,005,376 + 131,072,000
        1_140_850_688,  # 2 x 32 x 32 x 128 x 2176 x 2
    ),
    "llama3": (
        8_030_261_248,
        14_294_176_497_664,  # 2048 x 6,979,321,856 + 525,336,576
        15_369_540_468_736,  # 2048 x 7,504,658,432
        7_504_658_432,  # 6,979,321,856 + 525,336,576
        285_212_672,  # 2 x 32 x 8 x 128 x 2176 x 2
    ),
    "mixtral": (
        46_702_792_704,
        25_840_801_808_384,  # 2048 x 12,617,515,008 + 131,072,000
        26_109_106_192_384,  # 2048 x 12,748,587,008
        12_748_587_008,  # 12,617,515,008 + 131,072,000
        285_212_672,
    ),
}
CONFIGS = {"llama2": LLAMA_2_7B, "llama3": LLAMA_3_8B, "mixtral": MIXTRAL_8X7B}


@pytest.mark.parametrize("name", ["llama2", "llama3", "mixtral"])
def test_7b_generation_figures(name: str, request: pytest.FixtureRequest) -> None:
    report: LlmReport = request.getfixturevalue(name)
    params, prefill_last, _, decode_linear, kv = FIGURES[name]
    assert report.params == params
    assert report.prefill is not None and report.decode is not None
    assert report.prefill.linear_macs == prefill_last
    assert report.decode.first.linear_macs == decode_linear
    assert report.decode.last.linear_macs == decode_linear
    assert report.kv_cache_bytes == kv
    # attention, the same for all three (32 layers x 32 query heads x head 128):
    # prefill QK^T + AV = 32 x 32 x 2048^2 x 2 x 128 = 1,099,511,627,776
    assert report.prefill.attention_macs == 1_099_511_627_776
    # causal: 2048 x 2049 / 2 = 2,098,176 scores per head instead of 2048^2
    assert report.prefill.attention_macs_causal == 550_024_249_344
    # decode at 2048 attends to 2049 keys: 32 x 32 x 2049 x 256 = 537,133,056; at 2175, 2176
    assert report.decode.first.position == N
    assert report.decode.first.attention_macs == 537_133_056
    assert report.decode.last.position == N + M - 1
    assert report.decode.last.attention_macs == 570_425_344
    # the mean over the 128 steps of an affine cost: (first + last) / 2 per token
    mean = report.decode.mean_per_token()
    assert mean["linear_macs"] == decode_linear
    assert mean["attention_macs"] == (537_133_056 + 570_425_344) / 2


@pytest.mark.parametrize("name", ["llama2", "llama3", "mixtral"])
def test_7b_prefill_with_logits_at_every_position(name: str) -> None:
    report = count_llm(CONFIGS[name], prompt=N, generate=1, logits="all")
    assert report.prefill is not None
    assert report.prefill.linear_macs == FIGURES[name][2]


def test_mixtral_decode_reads_only_the_experts_it_picks(mixtral: LlmReport) -> None:
    assert mixtral.decode is not None and mixtral.prefill is not None
    # bf16 weights: 46,702,792,704 x 2 bytes in all
    assert mixtral.weight_bytes == 93_405_585_408
    # a decode step reads 2 of the 8 experts of each layer (6 x 176,160,768 x 2 bytes x 32
    # layers = 67,645,734,912 bytes not read) and one row of the 32000 x 4096 embedding
    # table (131,072,000 - 4096 values x 2 bytes = 262,135,808 not read)
    assert mixtral.decode.first.weight_bytes_read == 93_405_585_408 - 67_645_734_912 - 262_135_808
    # prefill reads every expert (2048 tokens x 2 picks) and 2048 embedding rows
    assert mixtral.prefill.weight_bytes_read == 93_405_585_408 - 2 * (32000 - 2048) * 4096
    assert any("top-2 of 8 experts" in note for note in mixtral.notes)


def test_decode_is_memory_bound_and_prefill_compute_bound(llama2: LlmReport) -> None:
    roofline = llama2.roofline
    assert roofline is not None and llama2.decode is not None and llama2.prefill is not None
    # decode @2048 moves every weight but 131,072,000 - 4096 embedding values (f16):
    # 2 x (6,738,415,616 - 131,067,904) = 13,214,695,424 bytes, and reads the KV cache of
    # 2049 tokens: 2 x 32 x 4096 x 2049 x 2 = 1,074,266,112 bytes
    assert llama2.decode.first.bytes == 13_214_695_424 + 1_074_266_112
    first = roofline.time_per_output_token_first
    assert first is not None and first.bound == "memory"
    # at 1 TB/s: 14,288,961,536 bytes take 14.29 ms
    assert first.seconds == pytest.approx(14_288_961_536 / 1e12, rel=1e-12)
    # 2 FLOPs per MAC and a little more, for about 1 byte each: intensity about 1
    assert 0.99 < llama2.decode.first.intensity < 1.01
    ttft = roofline.time_to_first_token
    assert ttft.bound == "compute"
    # prefill FLOPs are at least 2 x its MACs (14,362,501,709,824): 28.7 ms at 1 PFLOP/s
    assert ttft.seconds >= 2 * 14_362_501_709_824 / 1e15
    # prefill writes the KV cache of 2048 tokens: 2 x 32 x 4096 x 2048 x 2 = 1,073,741,824
    assert llama2.prefill.kv_bytes == 1_073_741_824


def test_training_step_matmul_flops_and_count_training_agree() -> None:
    report = count_llm(LLAMA_2_7B, prompt=256, batch=4, training=True)
    assert report.training is not None
    # 1024 tokens x 6,607,077,376 linear MACs (lm_head on every position) = 6,765,647,233,024;
    # full attention 4 x 32 layers x 32 heads x 256^2 x 256 = 68,719,476,736 MACs;
    # forward FLOPs 2 x 6,834,366,709,760, forward + backward 3 x that:
    assert report.training.matmul_flops == 41_006_200_258_560
    assert report.training.tokens == 1024

    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(**LLAMA_2_7B)
    with torch.device("meta"):
        module = AutoModelForCausalLM.from_config(config, dtype=torch.float16)
    ids = torch.zeros(4, 256, dtype=torch.long, device="meta")
    counted = modelprof.count(module.eval(), ids, training=True)
    products = sum(
        layer.training_flops or 0 for layer in counted.layers if layer.op in ("Gemm", "MatMul")
    )
    attention = [layer for layer in counted.layers if layer.op == "Attention"]
    # the fused attention rows: their products are 3 x 2 x MACs (QK^T and AV forward, and
    # the gradients of both operands of each backward) ...
    products += sum(3 * 2 * layer.macs for layer in attention)
    assert products == 41_006_200_258_560
    # ... and their scale and softmax, 1 + 5 FLOPs per score forward and twice that
    # backward: 18 x (4 x 32 heads x 256^2) scores per layer
    rest = sum((layer.training_flops or 0) - 6 * layer.macs for layer in attention)
    assert rest == 32 * 18 * 4 * 32 * 256 * 256


# -- small configs: the same counts as modelprof.count on the module ------------------------------

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
TINY_GPT2: dict[str, Any] = {
    "model_type": "gpt2",
    "n_embd": 32,
    "n_layer": 2,
    "n_head": 4,
    "n_positions": 64,
    "vocab_size": 50,
}
TINY_MIXTRAL: dict[str, Any] = {
    "model_type": "mixtral",
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "num_local_experts": 4,
    "num_experts_per_tok": 2,
    "vocab_size": 40,
}


def _meta_module(values: dict[str, Any], dtype: Any = torch.float16) -> Any:
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        module = AutoModelForCausalLM.from_config(
            AutoConfig.for_model(**values), dtype=dtype, experts_implementation="batched_mm"
        )
    return module.eval()


class _DecodeStep(torch.nn.Module):  # type: ignore[misc]
    """One decode step of ``model`` on a cache of ``prompt`` tokens, as a plain module."""

    def __init__(self, model: Any, prompt: int) -> None:
        super().__init__()
        self.model = model
        with torch.no_grad():
            ids = torch.zeros(1, prompt, dtype=torch.long, device="meta")
            self.cache = model(input_ids=ids, use_cache=True).past_key_values

    def forward(self, input_ids: Any) -> Any:
        return self.model(input_ids=input_ids, past_key_values=self.cache, use_cache=True).logits


@pytest.mark.parametrize("values", [TINY_LLAMA, TINY_GPT2], ids=["llama", "gpt2"])
def test_small_config_counts_equal_modelprof_count(values: dict[str, Any]) -> None:
    prompt = 7
    report = count_llm(values, prompt=prompt, generate=3, logits="all", dtype="f16")
    assert report.prefill is not None and report.decode is not None
    module = _meta_module(values)
    assert report.params == sum(p.numel() for p in module.parameters())

    ids = torch.zeros(1, prompt, dtype=torch.long, device="meta")
    whole = modelprof.count(module, ids)
    assert (report.prefill.macs, report.prefill.flops) == (whole.total.macs, whole.total.flops)
    assert report.prefill.linear_macs + report.prefill.attention_macs == whole.total.macs

    step = modelprof.count(
        _DecodeStep(module, prompt), torch.zeros(1, 1, dtype=torch.long, device="meta")
    )
    first = report.decode.first
    assert (first.macs, first.flops) == (step.total.macs, step.total.flops)
    assert first.linear_macs + first.attention_macs == step.total.macs


def test_small_llama_by_hand() -> None:
    # 2 layers, d 64, 4 heads of 16, 2 KV heads, MLP 96, vocab 100, f32
    report = count_llm(TINY_LLAMA, prompt=7, generate=3)
    assert report.prefill is not None and report.decode is not None
    # per token per layer: q, o 2 x 64 x 64 + k, v 2 x 64 x 32 + MLP 3 x 64 x 96 = 30,720
    # prefill (lm_head on the last position): 7 x 2 x 30,720 + 64 x 100 = 436,480
    assert report.prefill.linear_macs == 436_480
    # attention: 2 layers x 4 heads x 7 x 7 x (16 + 16) = 12,544; causal 7 x 8 / 2 = 28 of 49
    assert report.prefill.attention_macs == 12_544
    assert report.prefill.attention_macs_causal == 2 * 4 * 28 * 32
    # decode at 7 and 9 (3 steps): 2 x 4 x (8 or 10) x 32
    assert report.decode.first.linear_macs == 2 * 30_720 + 6_400
    assert report.decode.first.attention_macs == 2 * 4 * 8 * 32
    assert report.decode.last.attention_macs == 2 * 4 * 10 * 32
    # the KV cache of 10 tokens, f32: 2 x 2 layers x 2 heads x 16 x 10 x 4 bytes
    assert report.kv_cache_bytes == 5_120


def test_mean_of_the_two_ends_equals_counting_every_step() -> None:
    ends = count_llm(TINY_LLAMA, prompt=5, generate=7)
    every = count_llm(TINY_LLAMA, prompt=5, generate=7, every_step=True)
    assert ends.decode is not None and every.decode is not None
    assert (ends.decode.steps_counted, every.decode.steps_counted) == (2, 7)
    assert ends.decode == type(ends.decode)(**{**every.decode.__dict__, "steps_counted": 2})
    # attention over the 7 steps: 2 layers x 4 heads x 32 x (6 + 7 + ... + 12 keys = 63)
    assert every.decode.total_attention_macs == 2 * 4 * 32 * 63
    assert ends.kv_cache_bytes == every.kv_cache_bytes == 2 * 2 * 2 * 16 * 12 * 4


def test_small_mixtral_counts_exactly_top_k_experts() -> None:
    report = count_llm(TINY_MIXTRAL, prompt=6, generate=2, dtype="f32")
    assert report.decode is not None and report.prefill is not None
    # per token per layer: q, o 2 x 32 x 32 + k, v 2 x 32 x 16 = 3,072; router 32 x 4 = 128;
    # 2 experts x 3 x 32 x 48 = 9,216: 12,416; 2 layers + lm_head 32 x 40 = 1,280
    assert report.decode.first.linear_macs == 2 * 12_416 + 1_280
    assert report.prefill.linear_macs == 6 * 2 * 12_416 + 1_280


def test_mistral_sliding_window_counts_every_step_once_the_window_is_full() -> None:
    values = {**TINY_LLAMA, "model_type": "mistral", "sliding_window": 8}
    report = count_llm(values, prompt=6, generate=5)
    assert report.decode is not None
    assert report.decode.steps_counted == 5
    assert any("sliding window" in note for note in report.notes)
    # the cache keeps the last 7 tokens: the steps at 6, 7, 8, 9, 10 attend to 7, 8, 8, 8, 8
    # keys (2 layers x 4 heads x 32 MACs per key)
    assert report.decode.total_attention_macs == 2 * 4 * 32 * (7 + 8 + 8 + 8 + 8)
    # a window the 11 tokens never fill: the cost stays affine, the two ends suffice
    wide = count_llm({**values, "sliding_window": 12}, prompt=6, generate=5)
    assert wide.decode is not None and wide.decode.steps_counted == 2
    assert wide.decode.total_attention_macs == 2 * 4 * 32 * (7 + 8 + 9 + 10 + 11)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        # the published counts of these models
        ("llama-2-7b", 6_738_415_616),
        ("llama-3-8b", 8_030_261_248),
        # as Llama-3-8B with a 32000 vocabulary: 6,979,584,000 + 2 x 131,072,000 + 4096
        ("mistral-7b", 7_241_732_096),
        ("mixtral-8x7b", 46_702_792_704),
        ("gpt2", 124_439_808),
    ],
)
def test_builtin_configs(name: str, params: int) -> None:
    report = count_llm(name, prompt=1, generate=1)
    assert report.params == params
    assert report.source.startswith("https://huggingface.co/")
