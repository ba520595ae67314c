"""The built-in model configs of ``modelprof llm``: public Hugging Face ``config.json`` files,
written here so that counting a well-known model needs no download.

Each entry holds the architecture values of the model's published ``config.json`` (the hub
file named in ``source``), as transformers reads them; bookkeeping keys that do not change
the architecture (``transformers_version``, ``_name_or_path``, token ids for chat templates)
are left out. Nothing here is ever fetched: the values were copied from those files, and the
tests check the parameter counts they imply against the published ones (Llama-2-7B has
6,738,415,616 parameters, Llama-3-8B 8,030,261,248, Mixtral-8x7B 46,702,792,704, GPT-2
124,439,808).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class BuiltinConfig:
    """One built-in model: its name here, where its config comes from, and the values."""

    name: str
    repo: str
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """The public file the values are those of."""
        return f"https://huggingface.co/{self.repo}/blob/main/config.json"


def _config(name: str, repo: str, **values: Any) -> BuiltinConfig:
    return BuiltinConfig(name, repo, MappingProxyType(values))


_LLAMA_COMMON: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_act": "silu",
    "initializer_range": 0.02,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": None,
    "tie_word_embeddings": False,
    "use_cache": True,
}

BUILTINS: Mapping[str, BuiltinConfig] = MappingProxyType(
    {
        c.name: c
        for c in (
            _config(
                "llama-2-7b",
                "meta-llama/Llama-2-7b-hf",
                **_LLAMA_COMMON,
                bos_token_id=1,
                eos_token_id=2,
                hidden_size=4096,
                intermediate_size=11008,
                max_position_embeddings=4096,
                num_attention_heads=32,
                num_hidden_layers=32,
                num_key_value_heads=32,
                torch_dtype="float16",
                vocab_size=32000,
            ),
            _config(
                "llama-3-8b",
                "meta-llama/Meta-Llama-3-8B",
                **_LLAMA_COMMON,
                attention_bias=False,
                attention_dropout=0.0,
                bos_token_id=128000,
                eos_token_id=128001,
                hidden_size=4096,
                intermediate_size=14336,
                max_position_embeddings=8192,
                num_attention_heads=32,
                num_hidden_layers=32,
                num_key_value_heads=8,
                rope_theta=500000.0,
                torch_dtype="bfloat16",
                vocab_size=128256,
            ),
            _config(
                "mistral-7b",
                "mistralai/Mistral-7B-v0.1",
                architectures=["MistralForCausalLM"],
                model_type="mistral",
                bos_token_id=1,
                eos_token_id=2,
                hidden_act="silu",
                hidden_size=4096,
                initializer_range=0.02,
                intermediate_size=14336,
                max_position_embeddings=32768,
                num_attention_heads=32,
                num_hidden_layers=32,
                num_key_value_heads=8,
                rms_norm_eps=1e-05,
                rope_theta=10000.0,
                sliding_window=4096,
                tie_word_embeddings=False,
                torch_dtype="bfloat16",
                use_cache=True,
                vocab_size=32000,
            ),
            _config(
                "mixtral-8x7b",
                "mistralai/Mixtral-8x7B-v0.1",
                architectures=["MixtralForCausalLM"],
                model_type="mixtral",
                attention_dropout=0.0,
                bos_token_id=1,
                eos_token_id=2,
                hidden_act="silu",
                hidden_size=4096,
                initializer_range=0.02,
                intermediate_size=14336,
                max_position_embeddings=32768,
                num_attention_heads=32,
                num_experts_per_tok=2,
                num_hidden_layers=32,
                num_key_value_heads=8,
                num_local_experts=8,
                output_router_logits=False,
                rms_norm_eps=1e-05,
                rope_theta=1000000.0,
                router_aux_loss_coef=0.02,
                sliding_window=None,
                tie_word_embeddings=False,
                torch_dtype="bfloat16",
                use_cache=True,
                vocab_size=32000,
            ),
            _config(
                "gpt2",
                "openai-community/gpt2",
                architectures=["GPT2LMHeadModel"],
                model_type="gpt2",
                activation_function="gelu_new",
                attn_pdrop=0.1,
                bos_token_id=50256,
                embd_pdrop=0.1,
                eos_token_id=50256,
                initializer_range=0.02,
                layer_norm_epsilon=1e-05,
                n_ctx=1024,
                n_embd=768,
                n_head=12,
                n_layer=12,
                n_positions=1024,
                resid_pdrop=0.1,
                vocab_size=50257,
            ),
        )
    }
)
