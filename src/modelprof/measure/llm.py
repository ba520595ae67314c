"""``modelprof llm``: what generating text with a decoder-only language model costs.

The model is built by transformers from its ``config.json`` on the **meta device** (tensors
with shapes and dtypes and no data: no weights are read or downloaded, a 47 B-parameter model
takes no memory), and counted through the PyTorch route on transformers' own implementation:

- **prefill**: one forward pass over the B x N prompt tokens, filling the KV cache;
- **decode**: M steps of one token per sequence, the step at position p attending to p + 1
  keys (the cache plus itself). The M + 1 tokens generated are the one prefill's logits give
  and one per decode step (Hugging Face's ``max_new_tokens = M + 1``).

A decode step's cost is affine in its position while every cache layer simply grows (the
linear layers cost the same at every step, attention and its softmax grow by a fixed amount
per cached token). So the steps at N and N + M - 1 are counted, each on a cache filled to
that length by an uncounted prefill, and the mean of the M steps is exactly their average;
with a cache that does not just grow (a sliding window, say) every step is counted instead,
and the report says which was done. ``every_step=True`` forces the latter (tests compare
them).

Each recorded layer with multiply-accumulates is either **linear** (an input is a parameter,
or a slice of one: nn.Linear, GPT-2's Conv1D, MoE experts reached through their routing
indices, the lm_head) or **attention** (QK^T and AV as executed: the fused attention op, or
a MatMul of two activations). The convention lines (:data:`CONVENTIONS`) travel with every
report. Bytes are those a pass must move at least: the weights it reads (all of them, but the
embedding rows and experts it picks, sized from the recorded gathers) and the KV cache it
writes (prefill) or reads (decode); activations are left out, as in the usual LLM roofline.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..analysis import WEIGHT_TRANSFORMS, analyze
from ..costreport import CostReport, html_of
from ..costs import REGISTRY
from ..costs.backward import NORM_BACKWARD
from ..errors import MissingExtraError, ModelLoadError, ModelprofError, first_line
from ..graph import Graph
from .llm_configs import BUILTINS
from .profilereport import Ceilings

#: weight dtypes ``--dtype`` takes: name -> (torch dtype name, bytes per element)
DTYPES: Mapping[str, tuple[str, int]] = {
    "f16": ("float16", 2),
    "bf16": ("bfloat16", 2),
    "f32": ("float32", 4),
}
#: KV-cache dtypes ``--kv-dtype`` takes, and their bytes per element (fp8 and int8 caches are
#: counted at one byte per value; their per-block scales are not counted)
KV_DTYPES: Mapping[str, int] = {"f16": 2, "bf16": 2, "f32": 4, "fp8": 1, "int8": 1}
#: the dtype a config gives (``torch_dtype`` or ``dtype``) -> our name for it
_CONFIG_DTYPES = {"float16": "f16", "bfloat16": "bf16", "float32": "f32", "half": "f16"}
#: transformers' MoE experts implementations: batched_mm runs exactly top-k experts per token
#: in any dtype on the meta device; grouped_mm (transformers' default) needs bf16 there; eager
#: calls nonzero, which no meta tensor can answer
EXPERTS = ("batched_mm", "grouped_mm", "eager")
#: ops that only move or select the data of their first input: a parameter stays a parameter
_SELECTS = WEIGHT_TRANSFORMS | {"Gather", "GatherElements", "Slice", "Split"}

Logits = Literal["last", "all"]

CONVENTIONS = (
    "prefill: one forward pass over the B x N prompt tokens; decode step at position p: one "
    "token per sequence attending to p + 1 keys (the cache and itself); M decode steps, so M "
    "+ 1 tokens are generated (the first from the prefill's logits)",
    "MACs and FLOPs as `modelprof count` counts them (FLOPs = 2 x MACs + the other ops)",
    "linear_macs: every Linear/MatMul with a weight (q, k, v, o, MLP, MoE router and "
    "experts, lm_head)",
    "attention_macs: the QK^T and AV products as executed (full N x N in prefill); "
    "attention_macs_causal: the lower triangle with the diagonal, N(N+1)/2 of the N^2 scores",
    "--logits last applies lm_head to the last prompt position only (what generation does); "
    "--logits all to every position",
    "MoE: exactly top-k experts per token",
    "kv_cache_bytes: the cache holding N + M tokens at the KV dtype",
    "bytes of a pass: weights read (every weight once, but only the embedding rows and MoE "
    "experts it selects) + KV cache written (prefill) or read (decode, cache and new token); "
    "activations left out; arithmetic intensity = FLOPs / those bytes",
    "roofline floor of a pass: max(FLOPs / peak FLOP/s, bytes / bandwidth)",
)
TRAINING_CONVENTION = (
    "training.matmul_flops: one training step on B x N tokens, linear and attention matmuls, "
    "forward + backward = 3 x forward FLOPs, full attention, lm_head on every position"
)


# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Architecture:
    """What the config says about the model's shape (read through transformers' config
    class, so GPT-2's ``n_layer`` is ``layers`` too)."""

    model_type: str
    model_class: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    experts: int = 0
    experts_per_token: int = 0


@dataclass(frozen=True)
class PassCost:
    """One forward pass: prefill (``tokens`` = N per sequence) or one decode step (1).

    ``position`` is the position of the pass's first token; ``keys`` how many keys its last
    query attends to. ``weight_bytes_read`` and ``kv_bytes`` are the bytes the pass must move
    at least (module docstring); ``attention_macs_causal`` is set for prefill only.
    """

    position: int
    tokens: int
    keys: int
    macs: int
    flops: int
    linear_macs: int
    attention_macs: int
    weight_bytes_read: int
    kv_bytes: int
    attention_macs_causal: int | None = None

    @property
    def bytes(self) -> int:
        return self.weight_bytes_read + self.kv_bytes

    @property
    def intensity(self) -> float:
        """FLOPs per byte moved."""
        return self.flops / self.bytes if self.bytes else 0.0


@dataclass(frozen=True)
class DecodeCost:
    """The M decode steps: the first (position N) and the last (N + M - 1) as counted, and
    exact totals over all M steps and all B sequences. ``steps_counted`` is 2 (or 1) when the
    totals follow from the two ends, M when every step was counted."""

    first: PassCost
    last: PassCost
    steps: int
    batch: int
    steps_counted: int
    total_macs: int
    total_flops: int
    total_linear_macs: int
    total_attention_macs: int

    def mean_per_token(self) -> dict[str, float]:
        """The mean cost of one generated token over the M decode steps (a step generates B
        tokens, one per sequence)."""
        tokens = self.steps * self.batch
        return {
            "macs": self.total_macs / tokens,
            "flops": self.total_flops / tokens,
            "linear_macs": self.total_linear_macs / tokens,
            "attention_macs": self.total_attention_macs / tokens,
        }


@dataclass(frozen=True)
class TrainingCost:
    """One training step on B x N tokens: forward + backward FLOPs of the matmuls."""

    tokens: int
    matmul_flops: int
    linear_flops: int
    attention_flops: int
    #: forward + backward FLOPs of every op, matmuls included
    flops: int


@dataclass(frozen=True)
class Floor:
    """The roofline floor of one pass: it cannot take less than either time."""

    compute_s: float
    memory_s: float

    @property
    def seconds(self) -> float:
        return max(self.compute_s, self.memory_s)

    @property
    def bound(self) -> str:
        return "compute" if self.compute_s >= self.memory_s else "memory"


@dataclass(frozen=True)
class Roofline:
    """Floors of time to first token (prefill) and time per output token (a decode step, at
    its first and last position), from the ceilings and where they came from."""

    peak_gflops_per_s: float
    bandwidth_gb_per_s: float
    ceilings_source: str
    time_to_first_token: Floor
    time_per_output_token_first: Floor | None
    time_per_output_token_last: Floor | None

    @property
    def ridge_flop_per_byte(self) -> float:
        return self.peak_gflops_per_s / self.bandwidth_gb_per_s


@dataclass(frozen=True)
class LlmReport:
    """What ``modelprof llm`` reports (``kind: "llm"`` in JSON, docs/llm.md)."""

    model: str
    source: str
    architecture: Architecture
    prompt: int
    generate: int | None
    batch: int
    logits: str
    dtype: str
    kv_dtype: str
    params: int
    weight_bytes: int
    prefill: PassCost | None = None
    decode: DecodeCost | None = None
    kv_cache_bytes: int | None = None
    training: TrainingCost | None = None
    roofline: Roofline | None = None
    #: ops with no cost rule (never counted as zero): op type -> nodes, the most in any pass
    unsupported: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def conventions(self) -> tuple[str, ...]:
        return (*CONVENTIONS, TRAINING_CONVENTION) if self.training else CONVENTIONS

    def _repr_html_(self) -> str | None:
        """The ``modelprof llm`` table, for Jupyter (:func:`modelprof.costreport.html_of`)."""
        return html_of(self)


# -- the model's config --------------------------------------------------------------------------


@dataclass(frozen=True)
class LlmConfig:
    """A model config as read: its name for reports, where it came from, and its values."""

    name: str
    source: str
    values: Mapping[str, Any]


def builtin_names() -> tuple[str, ...]:
    return tuple(BUILTINS)


def load_config(model: str | os.PathLike[str] | Mapping[str, Any]) -> LlmConfig:
    """``model`` as a config: a ``config.json`` file, a folder holding one (a model
    snapshot), a built-in name (:data:`~modelprof.measure.llm_configs.BUILTINS`), or the
    values themselves. Refuses a config that asks for the model's own code (``auto_map``):
    modelprof never runs code from a model."""
    if isinstance(model, Mapping):
        values = dict(model)
        config = LlmConfig(str(values.get("model_type") or "model"), "a config mapping", values)
    else:
        text = os.fspath(model)
        path = Path(text)
        if path.is_dir():
            file = path / "config.json"
            if not file.is_file():
                raise ModelLoadError(
                    f"{path}: no config.json in this folder (a model snapshot holds one)"
                )
            config = _read_config(file, path.resolve().name or str(path))
        elif path.is_file():
            name = path.resolve().parent.name if path.name == "config.json" else path.stem
            config = _read_config(path, name or path.stem)
        elif text.lower() in BUILTINS:
            builtin = BUILTINS[text.lower()]
            config = LlmConfig(builtin.name, builtin.source, dict(builtin.values))
        elif path.suffix.lower() == ".json" or os.sep in text or "/" in text:
            raise ModelLoadError(f"{text}: no such file or folder")
        else:
            raise ModelLoadError(
                f"unknown model '{text}': give a config.json, a folder holding one, or a "
                f"built-in name ({', '.join(BUILTINS)})"
            )
    _check_values(config)
    return config


def _read_config(path: Path, name: str) -> LlmConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: cannot be read ({first_line(exc)})") from None
    try:
        values = json.loads(text)
    except ValueError as exc:
        raise ModelLoadError(f"{path}: not a JSON config ({first_line(exc)})") from None
    if not isinstance(values, dict):
        raise ModelLoadError(f"{path}: a config.json holds a JSON object, not this")
    return LlmConfig(name, str(path), values)


def _check_values(config: LlmConfig) -> None:
    values = config.values
    if "auto_map" in values or values.get("trust_remote_code"):
        raise ModelLoadError(
            f"{config.source}: this config asks for the model's own code (auto_map); modelprof "
            "never runs code that comes with a model, it counts architectures built into "
            "transformers only"
        )
    model_type = values.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise ModelLoadError(f"{config.source}: the config names no model_type")


def _transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise MissingExtraError("transformers", "llm") from None
    return transformers


@contextlib.contextmanager
def _quiet_transformers(transformers: Any) -> Iterator[None]:
    """transformers logs warnings (about a config's unused keys, say) to stderr: a library
    prints nothing, so they are silenced while the model is built and run."""
    logging = transformers.utils.logging
    level = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(level)


def _build(config: LlmConfig, dtype: str, experts: str) -> tuple[Any, Architecture]:
    """The model as transformers builds it from the config, on the meta device."""
    transformers = _transformers()
    import torch

    from ..frontends.torch import import_torch

    import_torch()  # the one place that checks torch is there and says which extra it needs
    values = dict(config.values)
    model_type = str(values["model_type"])
    mapping = transformers.CONFIG_MAPPING
    if model_type not in mapping:
        raise ModelLoadError(
            f"{config.source}: model_type '{model_type}' is not an architecture transformers "
            f"{transformers.__version__} knows"
        )
    with _quiet_transformers(transformers):
        try:
            hf_config = mapping[model_type].from_dict(values)
        except Exception as exc:  # a value transformers refuses: the user's config
            raise ModelLoadError(
                f"{config.source}: transformers refuses this {model_type} config: "
                f"{type(exc).__name__}: {first_line(exc)}"
            ) from None
        if type(hf_config) not in transformers.MODEL_FOR_CAUSAL_LM_MAPPING:
            raise ModelLoadError(
                f"{config.source}: transformers has no causal language model for model_type "
                f"'{model_type}' (modelprof llm counts text generation)"
            )
        try:
            with torch.device("meta"):
                model = transformers.AutoModelForCausalLM.from_config(
                    hf_config,
                    dtype=getattr(torch, DTYPES[dtype][0]),
                    trust_remote_code=False,
                    experts_implementation=experts,
                )
        except Exception as exc:
            raise ModelLoadError(
                f"{config.source}: transformers cannot build {model_type} from this config: "
                f"{type(exc).__name__}: {first_line(exc)}"
            ) from None
    model.eval()
    return model, _architecture(hf_config, type(model).__name__)


def _architecture(cfg: Any, model_class: str) -> Architecture:
    def number(*names: str, default: int = 0) -> int:
        for name in names:
            value = getattr(cfg, name, None)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return default

    heads = number("num_attention_heads")
    hidden = number("hidden_size")
    head_dim = number("head_dim", default=hidden // heads if heads else 0)
    return Architecture(
        model_type=str(cfg.model_type),
        model_class=model_class,
        layers=number("num_hidden_layers"),
        hidden=hidden,
        heads=heads,
        kv_heads=number("num_key_value_heads", default=heads),
        head_dim=head_dim,
        vocab=number("vocab_size"),
        experts=number("num_local_experts", "num_experts", "n_routed_experts"),
        experts_per_token=number("num_experts_per_tok", "moe_topk"),
    )


def config_dtype(values: Mapping[str, Any]) -> str | None:
    """The weight dtype a config names (``torch_dtype``, or ``dtype`` as transformers 5
    writes it), in our spelling; None when it names none we know."""
    for key in ("dtype", "torch_dtype"):
        value = values.get(key)
        if isinstance(value, str) and value.removeprefix("torch.") in _CONFIG_DTYPES:
            return _CONFIG_DTYPES[value.removeprefix("torch.")]
    return None


# -- counting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Counted:
    """One recorded pass, split by the conventions."""

    report: CostReport
    linear_macs: int
    attention_macs: int
    linear_training_flops: int
    attention_training_flops: int
    weight_bytes_read: int
    square_attention_macs: int  # attention products over an N x N score matrix (prefill)


def _split(graph: Graph, report: CostReport, square: int | None = None) -> _Counted:
    """Classify every layer with MACs as linear (an input is a parameter or selected from
    one) or attention (the rest: fused attention, MatMul of two activations), and size the
    weights the pass reads."""
    params = {name for name, w in graph.weights.items() if w.kind == "param"}

    def base(name: str) -> str:
        return graph.aliases.get(name, name)

    from_weights = set(params)
    read: dict[str, int] = {}
    for node in graph.nodes:
        if node.op_type in _SELECTS and node.inputs and base(node.inputs[0]) in from_weights:
            from_weights.update(node.outputs)
        for i, name in enumerate(node.inputs):
            weight = graph.weights.get(base(name)) if name else None
            if weight is None or weight.kind != "param":
                continue
            size = weight.nbytes
            if node.op_type in ("Gather", "GatherElements") and i == 0 and node.outputs:
                # an embedding lookup or an expert selection reads the rows it picks
                size = min(size, graph.tensors[node.outputs[0]].nbytes)
            read[weight.name] = max(read.get(weight.name, 0), size)

    nodes = {node.name: node for node in graph.nodes}
    linear = attention = linear_train = attention_train = square_macs = 0
    for layer in report.layers:
        if not layer.macs:
            continue
        found = nodes.get(layer.name)
        inputs = found.inputs if found is not None else ()
        weighted = layer.params > 0 or any(n and base(n) in from_weights for n in inputs)
        if weighted:
            linear += layer.macs
            linear_train += layer.training_flops or 0
            continue
        attention += layer.macs
        if layer.training_flops is not None:
            # the products' share: fused attention's scale and softmax (its FLOPs beyond
            # 2 x MACs) have a backward of their own, which is no matmul
            rest = layer.flops - 2 * layer.macs
            factor = 1 + NORM_BACKWARD if layer.op == "Attention" else 1
            attention_train += layer.training_flops - factor * rest
        if square is not None and _is_square(layer.op, layer.input_shapes, square):
            square_macs += layer.macs
    return _Counted(
        report,
        linear,
        attention,
        linear_train,
        attention_train,
        sum(read.values()),
        square_macs,
    )


def _is_square(op: str, shapes: Sequence[tuple[int, ...]], n: int) -> bool:
    """Whether an attention product runs over an n x n score matrix: fused attention with n
    queries and n keys, QK^T ([n, E] @ [E, n]) or AV ([n, n] @ [n, E])."""
    if op == "Attention" and len(shapes) >= 2 and len(shapes[0]) == len(shapes[1]) == 4:
        return shapes[0][2] == n and shapes[1][2] == n
    if op == "MatMul" and len(shapes) >= 2 and len(shapes[0]) >= 2 and len(shapes[1]) >= 2:
        a, b = shapes[0], shapes[1]
        return (a[-2] == n and b[-1] == n) or (a[-2:] == (n, n))
    return False


def _cache_tensors(cache: Any) -> list[Any]:
    """The tensors a transformers cache holds (keys and values of every layer)."""
    found = []
    for layer in getattr(cache, "layers", ()):
        for name in ("keys", "values"):
            t = getattr(layer, name, None)
            if t is not None and hasattr(t, "numel"):
                found.append(t)
    return found


def _cache_grows_simply(cache: Any, tokens: int) -> bool:
    """Whether every layer of the cache just appends each new token up to ``tokens`` tokens
    (transformers' ``DynamicLayer``, or a sliding-window layer whose window stays larger),
    which makes a decode step's cost affine in its position."""
    layers = list(getattr(cache, "layers", None) or ())

    def grows(layer: Any) -> bool:
        kind = type(layer).__name__
        if kind == "DynamicLayer":
            return True
        window = getattr(layer, "sliding_window", None)
        # it keeps the last window - 1 tokens: never full while all of them fit
        return kind == "DynamicSlidingWindowLayer" and isinstance(window, int) and tokens < window

    return bool(layers) and all(grows(layer) for layer in layers)


class _Runner:
    """Runs and records the passes of one built model."""

    def __init__(self, model: Any, name: str, batch: int, kv_bytes: int) -> None:
        import torch

        self.torch = torch
        self.model = model
        self.name = name
        self.batch = batch
        self.kv_element_bytes = kv_bytes
        self.unsupported: dict[str, int] = {}
        self.keeps_logits = "logits_to_keep" in inspect.signature(model.forward).parameters

    def ids(self, tokens: int) -> Any:
        return self.torch.zeros(self.batch, tokens, dtype=self.torch.long, device="meta")

    def kv_bytes(self, cache: Any) -> int:
        return sum(int(t.numel()) for t in _cache_tensors(cache)) * self.kv_element_bytes

    def record(
        self,
        run: Callable[[], Any],
        inputs: Sequence[Any],
        labels: Sequence[str],
        *,
        training: bool = False,
        square: int | None = None,
    ) -> _Counted:
        from ..frontends.torch import record_graph

        graph = record_graph(self.model, run, inputs=inputs, input_labels=labels, name=self.name)
        report = analyze(graph, training=training, registry=REGISTRY)
        for op, n in report.unsupported.items():
            self.unsupported[op] = max(self.unsupported.get(op, 0), n)
        return _split(graph, report, square)

    def unsupported_notes(self) -> list[str]:
        """The note naming the ops no rule costs in any recorded pass (none: no note)."""
        if not self.unsupported:
            return []
        listed = ", ".join(f"{op} ({n})" for op, n in sorted(self.unsupported.items()))
        return [f"ops with no cost rule, left out of the FLOPs (not zero): {listed}"]

    def kwargs(self, tokens: int, logits: Logits) -> dict[str, Any]:
        """The forward arguments of a pass over ``tokens`` new tokens per sequence, with a
        cache (as generation runs; without one, transformers looks for packed sequences in
        the position ids, a data-dependent check no meta tensor can answer)."""
        kwargs: dict[str, Any] = {"input_ids": self.ids(tokens), "use_cache": True}
        if self.keeps_logits:
            kwargs["logits_to_keep"] = 1 if logits == "last" else 0
        return kwargs

    def prefill(
        self, tokens: int, logits: Logits, *, training: bool = False
    ) -> tuple[_Counted, Any]:
        """The recorded prefill (or training forward), and the cache it filled."""
        kwargs = self.kwargs(tokens, logits)
        box: dict[str, Any] = {}

        def run() -> Any:
            box["out"] = self.model(**kwargs)
            return box["out"].logits

        counted = self.record(
            run, [kwargs["input_ids"]], ["input_ids"], training=training, square=tokens
        )
        return counted, box["out"].past_key_values

    def filled_cache(self, tokens: int) -> Any:
        """A cache holding ``tokens`` tokens, filled by an uncounted prefill."""
        try:
            with self.torch.no_grad():
                out = self.model(**self.kwargs(tokens, "last"))
        except Exception as exc:
            raise ModelLoadError(
                f"running {self.name} on {tokens} tokens failed: {type(exc).__name__}: "
                f"{first_line(exc)}"
            ) from None
        return out.past_key_values

    def decode_step(self, cache: Any, position: int) -> PassCost:
        """One recorded decode step at ``position`` (the cache holds ``position`` tokens)."""
        ids = self.ids(1)
        past = _cache_tensors(cache)
        labels = ["input_ids"] + [
            f"past_{'keys' if i % 2 == 0 else 'values'}.{i // 2}" for i in range(len(past))
        ]

        def run() -> Any:
            return self.model(input_ids=ids, past_key_values=cache, use_cache=True).logits

        counted = self.record(run, [ids, *past], labels)
        total = counted.report.total
        return PassCost(
            position=position,
            tokens=1,
            keys=position + 1,
            macs=total.macs,
            flops=total.flops,
            linear_macs=counted.linear_macs,
            attention_macs=counted.attention_macs,
            weight_bytes_read=counted.weight_bytes_read,
            kv_bytes=self.kv_bytes(cache),
        )


def count_llm(
    model: str | os.PathLike[str] | Mapping[str, Any] | LlmConfig,
    *,
    prompt: int,
    generate: int | None = None,
    batch: int = 1,
    logits: Logits = "last",
    dtype: str | None = None,
    kv_dtype: str | None = None,
    training: bool = False,
    experts: str = "batched_mm",
    every_step: bool = False,
    ceilings: Ceilings | None = None,
    ceilings_source: str = "",
) -> LlmReport:
    """Count prefill of ``prompt`` tokens and ``generate`` decode steps (batch ``batch``) of
    ``model`` (a config file, a folder holding one, a built-in name or the config's values),
    or, with ``training``, one training step on batch x prompt tokens.

    ``dtype`` and ``kv_dtype`` (``f16``, ``bf16``, ``f32``; the KV cache also ``fp8`` and
    ``int8``) default to the config's dtype, f16 when it names none. With ``ceilings``
    (peak FLOP/s and bandwidth) the report has the roofline floors of time to first token and
    time per output token.
    """
    if prompt < 1:
        raise ModelprofError(f"the prompt must hold at least one token, not {prompt}")
    if batch < 1:
        raise ModelprofError(f"the batch must hold at least one sequence, not {batch}")
    if not training and (generate is None or generate < 1):
        raise ModelprofError("give the number of decode steps to count (generate >= 1)")
    if training and generate is not None:
        raise ModelprofError("a training step has no decode steps: give no generate with it")
    if logits not in ("last", "all"):
        raise ModelprofError(f"logits is 'last' or 'all', not {logits!r}")
    if experts not in EXPERTS:
        raise ModelprofError(f"unknown experts implementation {experts!r} ({', '.join(EXPERTS)})")
    config = model if isinstance(model, LlmConfig) else load_config(model)
    notes: list[str] = []
    named = config_dtype(config.values)
    if dtype is None:
        dtype = named or "f16"
        if named is None:
            notes.append("the config names no dtype: weights counted in f16")
    if dtype not in DTYPES:
        raise ModelprofError(f"unknown dtype '{dtype}' (choose from {', '.join(DTYPES)})")
    kv_dtype = kv_dtype or dtype
    if kv_dtype not in KV_DTYPES:
        raise ModelprofError(f"unknown KV dtype '{kv_dtype}' (choose from {', '.join(KV_DTYPES)})")
    if KV_DTYPES[kv_dtype] == 1:
        notes.append(f"{kv_dtype} KV cache: one byte per value, its scales not counted")

    built, arch = _build(config, dtype, experts)
    params = sum(int(p.numel()) for p in built.parameters())
    weight_bytes = sum(int(p.numel()) * int(p.element_size()) for p in built.parameters())
    runner = _Runner(built, config.name, batch, KV_DTYPES[kv_dtype])
    transformers = _transformers()
    limit = getattr(built.config, "max_position_embeddings", None)
    longest = prompt + (generate or 0)
    if isinstance(limit, int) and longest > limit:
        notes.append(
            f"{longest} positions is more than the {limit} the config was trained for "
            "(max_position_embeddings): counted all the same"
        )
    if arch.experts:
        notes.append(
            f"MoE: routing depends on the data, so exactly top-{arch.experts_per_token} of "
            f"{arch.experts} experts per token are counted (transformers' {experts} experts "
            "path, which runs exactly those)"
        )
    if not runner.keeps_logits and logits == "last":
        notes.append(
            f"{arch.model_class} computes logits at every position: --logits last cannot apply"
        )

    with _quiet_transformers(transformers):
        if training:
            return _training_report(
                config, arch, runner, prompt, batch, dtype, kv_dtype, params, weight_bytes, notes
            )
        assert generate is not None
        prefill_counted, cache = runner.prefill(prompt, logits)
        prefill = _prefill_cost(prefill_counted, prompt, runner.kv_bytes(cache))
        if prefill_counted.square_attention_macs != prefill.attention_macs:
            notes.append(
                "some attention products in prefill are not over the N x N prompt: "
                "attention_macs_causal halves only those that are"
            )
        decode, kv_cache_bytes = _decode(runner, cache, prompt, generate, every_step, notes)

    roofline = None
    if ceilings is not None:
        roofline = _roofline(prefill, decode, ceilings, ceilings_source)
    elif ceilings_source:
        notes.append(ceilings_source)
    notes.extend(runner.unsupported_notes())
    return LlmReport(
        model=config.name,
        source=config.source,
        architecture=arch,
        prompt=prompt,
        generate=generate,
        batch=batch,
        logits=logits,
        dtype=dtype,
        kv_dtype=kv_dtype,
        params=params,
        weight_bytes=weight_bytes,
        prefill=prefill,
        decode=decode,
        kv_cache_bytes=kv_cache_bytes,
        roofline=roofline,
        unsupported=dict(runner.unsupported),
        notes=tuple(notes),
    )


def _prefill_cost(counted: _Counted, prompt: int, kv_written: int) -> PassCost:
    total = counted.report.total
    # a square product of n x n scores has n^2 | macs; causal keeps n(n+1)/2 of them
    square = counted.square_attention_macs
    causal = square // (prompt * prompt) * (prompt * (prompt + 1) // 2)
    return PassCost(
        position=0,
        tokens=prompt,
        keys=prompt,
        macs=total.macs,
        flops=total.flops,
        linear_macs=counted.linear_macs,
        attention_macs=counted.attention_macs,
        weight_bytes_read=counted.weight_bytes_read,
        kv_bytes=kv_written,
        attention_macs_causal=causal + counted.attention_macs - square,
    )


def _decode(
    runner: _Runner,
    cache: Any,
    prompt: int,
    generate: int,
    every_step: bool,
    notes: list[str],
) -> tuple[DecodeCost, int]:
    """Count the decode steps: both ends (their mean is exact) or every one."""
    simple = _cache_grows_simply(cache, prompt + generate)
    if every_step or not simple:
        steps = []
        for i in range(generate):
            steps.append(runner.decode_step(cache, prompt + i))
        if not simple:
            notes.append(
                "the KV cache does not just grow (a sliding window or another cache layer): "
                f"all {generate} decode steps were counted"
            )
        else:
            notes.append(f"all {generate} decode steps were counted")
        first, last = steps[0], steps[-1]

        def total(key: str) -> int:
            return sum(int(getattr(s, key)) for s in steps)

        counted = generate
        totals = [total(k) for k in ("macs", "flops", "linear_macs", "attention_macs")]
        kv_cache_bytes = runner.kv_bytes(cache)
    else:
        first = runner.decode_step(cache, prompt)
        if generate == 1:
            last, kv_cache_bytes = first, runner.kv_bytes(cache)
        else:
            end = prompt + generate - 1
            later = runner.filled_cache(end)
            last = runner.decode_step(later, end)
            kv_cache_bytes = runner.kv_bytes(later)
        counted = 1 if generate == 1 else 2
        # the steps' costs are affine in position: the M of them sum to M x (first + last) / 2
        totals = [
            generate * (int(getattr(first, k)) + int(getattr(last, k))) // 2
            for k in ("macs", "flops", "linear_macs", "attention_macs")
        ]
        if generate > 2:
            notes.append(
                f"decode: the steps at positions {prompt} and {prompt + generate - 1} were "
                "counted (a cache filled to that length on the meta device); a step's cost is "
                "affine in its position, so their average is exactly the mean of all "
                f"{generate} steps"
            )
    decode = DecodeCost(
        first=first,
        last=last,
        steps=generate,
        batch=runner.batch,
        steps_counted=counted,
        total_macs=totals[0],
        total_flops=totals[1],
        total_linear_macs=totals[2],
        total_attention_macs=totals[3],
    )
    return decode, kv_cache_bytes


def _training_report(
    config: LlmConfig,
    arch: Architecture,
    runner: _Runner,
    prompt: int,
    batch: int,
    dtype: str,
    kv_dtype: str,
    params: int,
    weight_bytes: int,
    notes: list[str],
) -> LlmReport:
    counted, _ = runner.prefill(prompt, "all", training=True)
    total = counted.report.total
    cost = TrainingCost(
        tokens=batch * prompt,
        matmul_flops=counted.linear_training_flops + counted.attention_training_flops,
        linear_flops=counted.linear_training_flops,
        attention_flops=counted.attention_training_flops,
        flops=int(total.training_flops or 0),
    )
    notes.extend(runner.unsupported_notes())
    return LlmReport(
        model=config.name,
        source=config.source,
        architecture=arch,
        prompt=prompt,
        generate=None,
        batch=batch,
        logits="all",
        dtype=dtype,
        kv_dtype=kv_dtype,
        params=params,
        weight_bytes=weight_bytes,
        training=cost,
        unsupported=dict(runner.unsupported),
        notes=tuple(notes),
    )


def _floor(cost: PassCost, ceilings: Ceilings) -> Floor:
    return Floor(
        compute_s=cost.flops / (ceilings.peak_gflops_per_s * 1e9),
        memory_s=cost.bytes / (ceilings.bandwidth_gb_per_s * 1e9),
    )


def _roofline(prefill: PassCost, decode: DecodeCost, ceilings: Ceilings, source: str) -> Roofline:
    return Roofline(
        peak_gflops_per_s=ceilings.peak_gflops_per_s,
        bandwidth_gb_per_s=ceilings.bandwidth_gb_per_s,
        ceilings_source=source,
        time_to_first_token=_floor(prefill, ceilings),
        time_per_output_token_first=_floor(decode.first, ceilings),
        time_per_output_token_last=_floor(decode.last, ceilings),
    )


def find_ceilings(
    *,
    peak_tflops: float | None = None,
    bandwidth_gbs: float | None = None,
    runtime: str = "openvino",
    precisions: Sequence[str] = ("f32",),
    threads: int | None = None,
) -> tuple[Ceilings | None, str]:
    """The ceilings for the roofline: those given, else those ``modelprof device`` cached for
    ``runtime`` (the first of ``precisions`` found), a given one replacing the cached one.
    Returns ``(None, why)`` when there are none."""
    from . import ceilings as cache

    found = None
    where = ""
    for precision in precisions:
        found = cache.load_cached(runtime, precision, threads=threads)
        if found is not None:
            where = str(cache.cache_path(runtime, precision, threads=threads))
            break
    if peak_tflops is None and bandwidth_gbs is None:
        if found is None:
            return None, (
                "no device ceilings: run 'modelprof device' or give --peak-tflops and "
                "--bandwidth-gbs for the roofline floors"
            )
        return found, f"measured by modelprof device ({where})"
    if found is None and (peak_tflops is None or bandwidth_gbs is None):
        missing = "--bandwidth-gbs" if bandwidth_gbs is None else "--peak-tflops"
        return None, f"no device ceilings cached to complete the given one: give {missing} too"
    peak = peak_tflops * 1e3 if peak_tflops is not None else found.peak_gflops_per_s  # type: ignore[union-attr]
    bandwidth = bandwidth_gbs if bandwidth_gbs is not None else found.bandwidth_gb_per_s  # type: ignore[union-attr]
    parts = []
    parts.append("peak given" if peak_tflops is not None else f"peak measured ({where})")
    parts.append(
        "bandwidth given" if bandwidth_gbs is not None else f"bandwidth measured ({where})"
    )
    return Ceilings(peak_gflops_per_s=peak, bandwidth_gb_per_s=bandwidth), ", ".join(parts)
