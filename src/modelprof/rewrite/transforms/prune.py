"""Pruning that really shrinks the model, and unstructured sparsity reported honestly.

Structured pruning removes whole channels (filters) with Torch-Pruning, whose dependency graph
keeps every coupled layer consistent (residual adds, concatenations, depthwise and grouped
convolutions, BatchNorm), so MACs, params, file size and latency all drop. Attention heads of
``nn.MultiheadAttention`` are removed by our own rewrite (Torch-Pruning prunes its embedding
channels, not its heads): the kept heads' rows of the q/k/v projections and columns of the
output projection move into a smaller ``torch_layers.HeadPrunedAttention``.

Unstructured pruning zeroes individual weights (global magnitude, ``torch.nn.utils.prune``
made permanent, or the same on ONNX initializers). Dense runtimes still multiply by every
zero, so it changes no MAC count and no latency: the report says so and shows what skipping
the zeros would save.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import ModelprofError, first_line

IMPORTANCES = ("l1", "l2", "bn", "taylor")


def _check_amount(amount: float, what: str = "--amount") -> None:
    if not 0 < amount < 1:
        raise ModelprofError(f"{what} must be between 0 and 1 (exclusive), got {amount}")


def importance(name: str) -> Any:
    import torch_pruning as tp

    if name == "l1":
        return tp.importance.GroupMagnitudeImportance(p=1)
    if name == "l2":
        return tp.importance.GroupMagnitudeImportance(p=2)
    if name == "bn":
        return tp.importance.BNScaleImportance()
    if name == "taylor":
        return tp.importance.GroupTaylorImportance()
    raise ModelprofError(f"unknown importance '{name}' (choose from {', '.join(IMPORTANCES)})")


def default_ignored(module: Any) -> list[Any]:
    """The classifier: the last Linear layer (its outputs are the classes)."""
    from torch import nn

    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return linears[-1:] if linears else []


def resolve_modules(module: Any, names: Sequence[str], what: str) -> list[Any]:
    from difflib import get_close_matches

    known = dict(module.named_modules())
    out = []
    for name in names:
        if name not in known:
            close = get_close_matches(name, [n for n in known if n], n=3)
            hint = f" (close matches: {', '.join(close)})" if close else ""
            raise ModelprofError(f"{what}: no layer named '{name}'{hint}")
        out.append(known[name])
    return out


@dataclass(frozen=True)
class StructuredPlan:
    """What to prune and how (the CLI options, resolved)."""

    amount: float = 0.5
    importance: str = "l2"
    global_pruning: bool = False
    ignore: tuple[str, ...] | None = None
    layer_amounts: tuple[tuple[str, float], ...] = ()
    round_to: int | None = None
    steps: int = 1


def prune_structured(
    module: Any,
    example_inputs: Any,
    plan: StructuredPlan,
    *,
    gradients: Callable[[Any], None] | None = None,
    between_steps: Callable[[int], None] | None = None,
) -> None:
    """Remove channels from ``module`` in place with Torch-Pruning.

    ``gradients(module)`` fills ``.grad`` for Taylor importance (a forward/backward pass on
    data); ``between_steps(step)`` runs after each of several iterative steps (fine-tuning).
    """
    import torch_pruning as tp

    _check_amount(plan.amount)
    ignored = (
        resolve_modules(module, plan.ignore, "--ignore")
        if plan.ignore is not None
        else default_ignored(module)
    )
    ratios = {}
    for name, amount in plan.layer_amounts:
        _check_amount(amount, f"--layer-amount {name}")
        (layer,) = resolve_modules(module, [name], "--layer-amount")
        ratios[layer] = amount
    if plan.importance == "taylor" and gradients is None:
        raise ModelprofError(
            "Taylor importance needs data: give --finetune digits or --finetune file.py:loaders"
        )
    try:
        pruner = tp.pruner.MetaPruner(
            module,
            example_inputs,
            importance=importance(plan.importance),
            pruning_ratio=plan.amount,
            pruning_ratio_dict=ratios or None,
            global_pruning=plan.global_pruning,
            ignored_layers=ignored,
            round_to=plan.round_to,
            iterative_steps=plan.steps,
        )
        for step in range(plan.steps):
            if gradients is not None and plan.importance == "taylor":
                module.zero_grad()
                gradients(module)
            pruner.step()
            if between_steps is not None and step + 1 < plan.steps:
                between_steps(step)
    except ModelprofError:
        raise
    except Exception as exc:  # Torch-Pruning's tracer fails in many ways; summarise it
        first = first_line(exc)
        raise ModelprofError(
            f"Torch-Pruning cannot prune this model: {type(exc).__name__}: {first}"
        ) from None


def prune_heads(module: Any, amount: float) -> dict[str, tuple[int, int]]:
    """Remove the ``amount`` share of heads with the smallest weight norms from every
    ``nn.MultiheadAttention`` in ``module``. Returns {name: (heads before, heads after)}."""
    import torch
    from torch import nn

    from ...frontends.torch_layers import HeadPrunedAttention

    _check_amount(amount, "--heads")
    changed: dict[str, tuple[int, int]] = {}
    targets = [
        (name, m) for name, m in module.named_modules() if isinstance(m, nn.MultiheadAttention)
    ]
    if not targets:
        raise ModelprofError("--heads: the model has no nn.MultiheadAttention layer")
    for name, mha in targets:
        if not mha._qkv_same_embed_dim:
            raise ModelprofError(f"--heads: '{name}' has separate k/v dims; not supported")
        heads, dim = mha.num_heads, mha.embed_dim
        head_dim = dim // heads
        keep_n = max(1, round(heads * (1 - amount)))
        with torch.no_grad():
            w = mha.in_proj_weight.view(3, heads, head_dim, dim)
            out_w = mha.out_proj.weight.view(dim, heads, head_dim)
            score = w.pow(2).sum(dim=(0, 2, 3)) + out_w.pow(2).sum(dim=(0, 2))
            keep = torch.sort(torch.topk(score, keep_n).indices).values
        replacement = HeadPrunedAttention.from_multihead(mha, keep)
        parent_name, _, attr = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        setattr(parent, attr, replacement)
        changed[name or "(root)"] = (heads, keep_n)
    return changed


# -- unstructured ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sparsity:
    """Zeros per prunable weight tensor after unstructured pruning."""

    name: str
    numel: int
    zeros: int

    @property
    def fraction(self) -> float:
        return self.zeros / self.numel if self.numel else 0.0


def prune_unstructured_torch(module: Any, amount: float, *, per_layer: bool = False) -> None:
    """Zero the smallest-magnitude weights of every Conv/Linear/ConvTranspose weight (rank 2
    and more; biases excluded), globally ranked (or per layer), and make it permanent."""
    from torch import nn
    from torch.nn.utils import prune

    _check_amount(amount)
    kinds = (
        nn.Conv1d,
        nn.Conv2d,
        nn.Conv3d,
        nn.Linear,
        nn.ConvTranspose1d,
        nn.ConvTranspose2d,
        nn.ConvTranspose3d,
    )
    params = [
        (m, "weight")
        for m in module.modules()
        if isinstance(m, kinds) and m.weight is not None and m.weight.dim() >= 2
    ]
    if not params:
        raise ModelprofError("the model has no Conv/Linear weights to prune")
    if per_layer:
        for m, attr in params:
            prune.l1_unstructured(m, attr, amount=amount)  # type: ignore[no-untyped-call]
    else:
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=amount)
    for m, attr in params:
        prune.remove(m, attr)  # type: ignore[no-untyped-call]


def torch_sparsity(module: Any) -> list[Sparsity]:
    from torch import nn

    out = []
    for name, m in module.named_modules():
        weight = getattr(m, "weight", None)
        if (
            isinstance(
                m,
                nn.Conv1d
                | nn.Conv2d
                | nn.Conv3d
                | nn.Linear
                | nn.ConvTranspose1d
                | nn.ConvTranspose2d
                | nn.ConvTranspose3d,
            )
            and weight is not None
            and weight.dim() >= 2
        ):
            out.append(Sparsity(name, weight.numel(), int((weight == 0).sum())))
    return out


_PRUNABLE_ONNX = {"Conv": (1,), "ConvTranspose": (1,), "Gemm": (1,), "MatMul": (0, 1)}


def prune_unstructured_onnx(
    model: Any, amount: float, *, per_layer: bool = False
) -> list[Sparsity]:
    """The same on an ONNX ModelProto's weight initializers (rank 2 and more), in place.

    Exactly ``round(amount x total)`` weights become zero (ties broken by position), as
    ``torch.nn.utils.prune`` does."""
    import numpy as np
    from onnx import numpy_helper

    _check_amount(amount)
    inits = {init.name: init for init in model.graph.initializer}
    names: list[str] = []
    for node in model.graph.node:
        for index in _PRUNABLE_ONNX.get(node.op_type, ()):
            if index < len(node.input) and node.input[index] in inits:
                init = inits[node.input[index]]
                if len(init.dims) >= 2 and init.data_type in (1, 10, 11, 16):
                    names.append(init.name)
    names = list(dict.fromkeys(names))
    if not names:
        raise ModelprofError("the model has no Conv/Gemm/MatMul weight initializers to prune")
    arrays = {n: numpy_helper.to_array(inits[n]).copy() for n in names}
    if per_layer:
        for arr in arrays.values():
            _zero_smallest(arr.reshape(-1), round(amount * arr.size))
    else:
        flat = np.concatenate([np.abs(arrays[n]).reshape(-1).astype(np.float64) for n in names])
        k = round(amount * flat.size)
        order = np.argsort(flat, kind="stable")[:k]
        mask = np.ones(flat.size, dtype=bool)
        mask[order] = False
        start = 0
        for n in names:
            size = arrays[n].size
            arrays[n].reshape(-1)[~mask[start : start + size]] = 0
            start += size
    out = []
    for n in names:
        inits[n].CopyFrom(numpy_helper.from_array(arrays[n], n))
        out.append(Sparsity(n, int(arrays[n].size), int((arrays[n] == 0).sum())))
    return out


def _zero_smallest(flat: Any, k: int) -> None:
    import numpy as np

    order = np.argsort(np.abs(flat), kind="stable")[:k]
    flat[order] = 0


def sparse_weights_note() -> str:
    """Whether OpenVINO's CPU sparse-weights decompression could apply here, and why not."""
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    amx = {"amx_tile", "amx_int8"} <= flags
    cpu = "this CPU has AMX" if amx else "this CPU has no AMX"
    return (
        "dense runtimes multiply by every zero: unstructured sparsity changes neither MACs nor "
        "latency (OpenVINO's and ONNX Runtime's CPU kernels are dense). OpenVINO's CPU "
        "sparse-weights decompression (CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE) applies only to "
        f"int8 FullyConnected/MatMul weights on CPUs with AMX; {cpu}, and these weights are "
        "floating point, so it does not apply. Structured pruning (the default) removes "
        "channels and does run faster."
    )
