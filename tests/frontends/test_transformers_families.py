"""Real architectures from transformers, built from tiny config objects (random weights, nothing
downloaded), counted through ``modelprof.count``: every op has a rule, the hand-worked MACs
come out, and the meta device counts exactly what the CPU does.

Tiny shapes throughout: hidden 64, 2 layers, 4 heads, FFN 128, sequence 8, vocabulary 128."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
import transformers as tf
from torch import nn

import modelprof
from modelprof.costreport import CostReport

SEQ = 8
HIDDEN = 64
FFN = 128
LAYERS = 2
HEADS = 4
VOCAB = 128
IMAGE = 32


class Call(nn.Module):
    """Calls a transformers model with keyword arguments, so ``modelprof.count`` can pass it
    positional example tensors (their forwards have only keyword-style arguments)."""

    def __init__(self, model: nn.Module, *names: str) -> None:
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, first: torch.Tensor) -> object:
        return self.model(**{self.names[0]: first})


class Call2(Call):
    def forward(self, first: torch.Tensor, second: torch.Tensor) -> object:  # type: ignore[override]
        return self.model(**{self.names[0]: first, self.names[1]: second})


@dataclass(frozen=True)
class Family:
    build: Callable[[], nn.Module]
    inputs: tuple[str, ...]  # "ids" (1, SEQ) int64, "image" (1, 3, 32, 32), "audio" (1, 16, 32)
    names: tuple[str, ...]


def _decoder(config_class: type, model_class: type, **extra: object) -> Family:
    def build() -> nn.Module:
        config = config_class(
            vocab_size=VOCAB,
            hidden_size=HIDDEN,
            intermediate_size=FFN,
            num_hidden_layers=LAYERS,
            num_attention_heads=HEADS,
            num_key_value_heads=2,  # grouped-query attention: 2 kv heads of 16
            max_position_embeddings=64,
            **extra,
        )
        model: nn.Module = model_class(config)
        return model

    return Family(build, ("ids",), ("input_ids",))


FAMILIES: dict[str, Family] = {
    "bert": Family(
        lambda: tf.BertModel(
            tf.BertConfig(
                vocab_size=VOCAB,
                hidden_size=HIDDEN,
                num_hidden_layers=LAYERS,
                num_attention_heads=HEADS,
                intermediate_size=FFN,
                max_position_embeddings=32,
            )
        ),
        ("ids",),
        ("input_ids",),
    ),
    "gpt2": Family(
        lambda: tf.GPT2LMHeadModel(
            tf.GPT2Config(
                vocab_size=VOCAB,
                n_embd=HIDDEN,
                n_layer=LAYERS,
                n_head=HEADS,
                n_positions=32,
                bos_token_id=1,
                eos_token_id=2,
            )
        ),
        ("ids",),
        ("input_ids",),
    ),
    "distilbert": Family(
        lambda: tf.DistilBertModel(
            tf.DistilBertConfig(
                vocab_size=VOCAB,
                dim=HIDDEN,
                n_layers=LAYERS,
                n_heads=HEADS,
                hidden_dim=FFN,
                max_position_embeddings=32,
            )
        ),
        ("ids",),
        ("input_ids",),
    ),
    "t5": Family(
        lambda: tf.T5Model(
            tf.T5Config(
                vocab_size=VOCAB,
                d_model=HIDDEN,
                d_kv=16,
                d_ff=FFN,
                num_layers=LAYERS,
                num_heads=HEADS,
            )
        ),
        ("ids", "ids"),
        ("input_ids", "decoder_input_ids"),
    ),
    "vit": Family(
        lambda: tf.ViTModel(
            tf.ViTConfig(
                hidden_size=HIDDEN,
                num_hidden_layers=LAYERS,
                num_attention_heads=HEADS,
                intermediate_size=FFN,
                image_size=IMAGE,
                patch_size=8,
            )
        ),
        ("image",),
        ("pixel_values",),
    ),
    "whisper": Family(
        lambda: tf.WhisperModel(
            tf.WhisperConfig(
                vocab_size=VOCAB,
                d_model=HIDDEN,
                encoder_layers=LAYERS,
                decoder_layers=LAYERS,
                encoder_attention_heads=HEADS,
                decoder_attention_heads=HEADS,
                encoder_ffn_dim=FFN,
                decoder_ffn_dim=FFN,
                num_mel_bins=16,
                max_source_positions=16,
                max_target_positions=32,
                pad_token_id=0,
                bos_token_id=1,
                eos_token_id=2,
                decoder_start_token_id=1,
                begin_suppress_tokens=None,
                suppress_tokens=None,
            )
        ),
        ("audio", "ids"),
        ("input_features", "decoder_input_ids"),
    ),
    "llama": _decoder(tf.LlamaConfig, tf.LlamaForCausalLM),
    "mistral": _decoder(tf.MistralConfig, tf.MistralForCausalLM),
    "qwen2": _decoder(tf.Qwen2Config, tf.Qwen2ForCausalLM),
    # transformers 5's default experts path calls torch._grouped_mm, which on meta needs bf16
    # (and on the CPU sorts and histograms the routing); the eager one loops over
    # nonzero() (no meta kernel); batched_mm gathers each token's expert weights and runs
    # one bmm, the same MACs, on any device
    "mixtral": _decoder(
        tf.MixtralConfig,
        tf.MixtralForCausalLM,
        num_local_experts=4,
        num_experts_per_tok=2,
        experts_implementation="batched_mm",
    ),
    "swin": Family(
        lambda: tf.SwinModel(
            tf.SwinConfig(
                image_size=IMAGE,
                patch_size=4,
                embed_dim=16,
                depths=[1, 1],
                num_heads=[2, 4],
                window_size=4,
            )
        ),
        ("image",),
        ("pixel_values",),
    ),
    "convnext": Family(
        lambda: tf.ConvNextModel(
            tf.ConvNextConfig(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2, image_size=IMAGE)
        ),
        ("image",),
        ("pixel_values",),
    ),
}

_EXAMPLES = {
    "ids": lambda: torch.zeros(1, SEQ, dtype=torch.int64),
    "image": lambda: torch.zeros(1, 3, IMAGE, IMAGE),
    "audio": lambda: torch.zeros(1, 16, 32),  # 16 mel bins x 32 frames: 16 positions
}


def count(family: str, device: str = "cpu") -> CostReport:
    spec = FAMILIES[family]
    torch.manual_seed(0)
    with torch.device(device):
        model = spec.build().eval()
    examples = tuple(_EXAMPLES[kind]() for kind in spec.inputs)
    wrapper = (Call2 if len(examples) == 2 else Call)(model, *spec.names)
    return modelprof.count(wrapper, examples)


# Hand-worked MACs (h = 64, FFN I = 128, S = 8 tokens, 2 layers, 4 heads; attention as executed
# by SDPA: scores and weighted sum, 2 x S x S x h per layer for self-attention).
ATTENTION = 2 * SEQ * SEQ * HIDDEN * LAYERS  # 16,384
EXPECTED_MACS = {
    # per token per layer: q, k, v, o 4 h^2 = 16,384 + FFN 2 h I = 16,384; x 8 x 2 = 524,288;
    # + attention 16,384; + pooler on the first token, h^2 = 4,096
    "bert": (4 * HIDDEN**2 + 2 * HIDDEN * FFN) * SEQ * LAYERS + ATTENTION + HIDDEN**2,
    # = 544,768
    # BERT without the pooler: 540,672
    "distilbert": (4 * HIDDEN**2 + 2 * HIDDEN * FFN) * SEQ * LAYERS + ATTENTION,
    # per token per layer: c_attn h x 3h = 12,288 + c_proj h^2 = 4,096 + MLP 2 x h x 4h =
    # 32,768 -> 49,152; x 8 x 2 = 786,432; + attention 16,384; + lm_head S x h x V = 65,536
    "gpt2": (3 * HIDDEN**2 + HIDDEN**2 + 2 * HIDDEN * 4 * HIDDEN) * SEQ * LAYERS
    + ATTENTION
    + SEQ * HIDDEN * VOCAB,  # = 868,352
    # encoder as BERT's layers: 524,288 + 16,384; decoder per token per layer: self-attention
    # 4 h^2, cross-attention q, o 2 h^2 on decoder tokens and k, v 2 h^2 on the 8 encoder
    # tokens, FFN 2 h I -> 49,152 x 8 x 2 = 786,432; decoder attention self + cross 32,768
    "t5": (4 * HIDDEN**2 + 2 * HIDDEN * FFN) * SEQ * LAYERS
    + ATTENTION
    + (8 * HIDDEN**2 + 2 * HIDDEN * FFN) * SEQ * LAYERS
    + 2 * ATTENTION,  # = 1,359,872
    # 16 patches of 8x8 + the class token = 17 tokens; patch conv: 64 x 16 positions x 3 x 64
    # = 196,608; layers (4 h^2 + 2 h I) x 17 x 2 = 1,114,112; attention 2 x 17^2 x 64 x 2 =
    # 73,984; pooler 4,096
    "vit": HIDDEN * 16 * 3 * 64
    + (4 * HIDDEN**2 + 2 * HIDDEN * FFN) * 17 * LAYERS
    + 2 * 17 * 17 * HIDDEN * LAYERS
    + HIDDEN**2,  # = 1,388,800
    # per token per layer: q, o h^2 each, k, v h x 32 (2 kv heads of 16) -> 12,288; gated MLP
    # 3 h I = 24,576; x 8 x 2 = 589,824; + attention 16,384 (GQA: the query heads set it);
    # + lm_head 65,536
    "llama": (2 * HIDDEN**2 + 2 * HIDDEN * 32 + 3 * HIDDEN * FFN) * SEQ * LAYERS
    + ATTENTION
    + SEQ * HIDDEN * VOCAB,  # = 671,744
    # Llama's attention, plus per token per layer a router h x 4 experts = 256 and 2 experts
    # of 3 h I = 49,152: (12,288 + 256 + 49,152) x 8 x 2 = 987,136; + 16,384 + 65,536
    "mixtral": (2 * HIDDEN**2 + 2 * HIDDEN * 32 + HIDDEN * 4 + 2 * 3 * HIDDEN * FFN) * SEQ * LAYERS
    + ATTENTION
    + SEQ * HIDDEN * VOCAB,  # = 1,069,056
}
EXPECTED_MACS["mistral"] = EXPECTED_MACS["qwen2"] = EXPECTED_MACS["llama"]  # same layers


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_op_of_the_family_is_counted(family: str) -> None:
    report = count(family)
    assert report.unsupported == {}
    assert report.uncounted == ()
    assert report.node_coverage == 1.0
    if family in EXPECTED_MACS:
        assert report.total.macs == EXPECTED_MACS[family]


def test_the_hand_worked_totals() -> None:
    # the arithmetic above, evaluated: a check on the comments themselves
    assert EXPECTED_MACS["bert"] == 544_768
    assert EXPECTED_MACS["gpt2"] == 868_352
    assert EXPECTED_MACS["llama"] == 671_744
    assert EXPECTED_MACS["mixtral"] == 1_069_056
    assert EXPECTED_MACS["t5"] == 1_359_872
    assert EXPECTED_MACS["vit"] == 1_388_800


@pytest.mark.parametrize("family", list(FAMILIES))
def test_the_meta_device_counts_what_the_cpu_does(family: str) -> None:
    # a model built under torch.device("meta") holds no weights: how an LLM too large for this
    # machine is counted. Same layers, same costs.
    cpu, meta = count(family, "cpu"), count(family, "meta")
    assert meta.total == cpu.total
    assert [(x.name, x.op, x.macs, x.flops, x.params) for x in meta.layers] == [
        (x.name, x.op, x.macs, x.flops, x.params) for x in cpu.layers
    ]


def test_llama_without_a_cache_counts_its_packed_sequence_check() -> None:
    # with no cache and no mask, transformers looks for packed sequences in the position ids:
    # diff, != 1, cumsum, all, .item() (aten::cumsum, aten::all, aten::_local_scalar_dense
    # were unsupported); the model's MACs are unchanged
    torch.manual_seed(0)
    model = FAMILIES["llama"].build().eval()

    class NoCache(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor) -> object:
            return self.model(input_ids=input_ids, use_cache=False)

    report = modelprof.count(NoCache(), torch.zeros(1, SEQ, dtype=torch.int64))
    assert report.unsupported == {}
    assert report.total.macs == EXPECTED_MACS["llama"]
    ops = {layer.op for layer in report.layers}
    assert {"CumSum", "aten::all"} <= ops
    # the cumsum over 8 positions: 7 adds
    assert [layer.flops for layer in report.layers if layer.op == "CumSum"] == [SEQ - 1]


def test_mixtral_default_experts_path_on_cpu_counts_the_same() -> None:
    # transformers' default experts path on the CPU sorts the routed tokens by expert
    # (aten::sort), counts them per expert (aten::histc) and runs torch._grouped_mm: both
    # were unsupported. Exactly top-2 experts per token either way: the same MACs by hand
    torch.manual_seed(0)
    spec = _decoder(
        tf.MixtralConfig, tf.MixtralForCausalLM, num_local_experts=4, num_experts_per_tok=2
    )
    wrapper = Call(spec.build().eval(), "input_ids")
    report = modelprof.count(wrapper, torch.zeros(1, SEQ, dtype=torch.int64))
    assert report.unsupported == {}
    assert report.total.macs == EXPECTED_MACS["mixtral"]
    assert {"aten::sort", "aten::histc", "aten::_grouped_mm"} <= {x.op for x in report.layers}
