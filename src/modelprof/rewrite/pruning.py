"""The prune job: prune, fine-tune, save, and measure before against after.

Every run reports both sides as full count reports plus file size and nonzero params, and
with ``--profile`` the latency measured interleaved on the same runtime, so a pruned model
that is no faster cannot pass unnoticed: OpenVINO and ONNX Runtime run both sides' ONNX
exports, the ``torch`` and ``torch-compile`` runtimes the modules themselves.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..analysis import analyze
from ..api import InputShapes, ModelRef, load_graph
from ..costreport import CostReport, html_of
from ..errors import ModelprofError
from ..graph import Graph
from ..measure.profilereport import ProfileReport
from ..measure.profiling import profile_modules
from ..measure.runtimes import RunSettings, Runtime
from .checks import (
    check_loaded,
    check_request,
    check_runtime_source,
    is_module_runtime,
    named_kind,
    skipped,
)
from .finetune import Progress, epoch_progress
from .transforms.prune import (
    Sparsity,
    StructuredPlan,
    prune_heads,
    prune_structured,
    prune_unstructured_onnx,
    prune_unstructured_torch,
    sparse_weights_note,
    torch_sparsity,
)


@dataclass(frozen=True)
class PruneSide:
    """One side of the comparison: the model's count and what was measured of it."""

    count: CostReport
    file_bytes: int
    nonzero_params: int
    profile: ProfileReport | None = None
    accuracy: float | None = None


@dataclass(frozen=True)
class PruneResult:
    method: str
    amount: float | None
    before: PruneSide
    after: PruneSide
    target_macs: float | None = None
    sparsity: tuple[Sparsity, ...] = ()
    heads: dict[str, tuple[int, int]] = field(default_factory=dict)
    accuracy_pruned: float | None = None
    saved: str | None = None
    notes: tuple[str, ...] = ()
    #: when nothing was pruned: why, then (with ``save``, ``measure`` or ``finetune``) what was
    #: therefore not done; both are in ``notes`` too
    nothing_done: tuple[str, ...] = ()
    #: the pruned PyTorch module (None for ONNX sources), for the API user
    model: Any = field(default=None, repr=False, compare=False)

    @property
    def effective_macs(self) -> int | None:
        """MACs if every zero weight were skipped (unstructured only)."""
        if self.method != "unstructured":
            return None
        density = {s.name: 1 - s.fraction for s in self.sparsity}
        total = 0
        for layer in self.after.count.layers:
            key = layer.scope if layer.scope in density else layer.name
            total += round(layer.macs * density.get(key, density.get(layer.name, 1.0)))
        return total

    @property
    def total_sparsity(self) -> float | None:
        if not self.sparsity:
            return None
        return sum(s.zeros for s in self.sparsity) / sum(s.numel for s in self.sparsity)

    def _repr_html_(self) -> str | None:
        """The ``modelprof prune`` table, for Jupyter (:func:`modelprof.costreport.html_of`)."""
        return html_of(self)


def expected_mac_reduction(p: float) -> float:
    """A conv whose input and output channels both shrink by p keeps (1-p)^2 of its MACs."""
    return 1 - (1 - p) ** 2


def _nonzero_torch(module: Any) -> int:
    return int(sum(int((p != 0).sum()) for p in module.parameters()))


def _nonzero_onnx(path: Path) -> int:
    import numpy as np
    from onnx import numpy_helper

    from ..frontends import onnx as onnx_frontend

    model = onnx_frontend.read_with_weights(path)
    return int(
        sum(
            np.count_nonzero(numpy_helper.to_array(i))
            for i in model.graph.initializer
            if i.data_type in (1, 10, 11, 16) and len(i.dims) >= 1
        )
    )


def _count_module(module: Any, graph: Graph, name: str) -> CostReport:
    from ..frontends.torch import load_module

    shapes = {i.name: i.shape for i in graph.input_infos()}
    return analyze(load_module(module, None, name=name, default_shapes=shapes))


def _export(module: Any, graph: Graph, path: Path) -> Path:
    from ..frontends.export import export_onnx

    return export_onnx(module, {i.name: (i.shape, i.dtype) for i in graph.input_infos()}, path)


def _example(graph: Graph) -> Any:
    from ..frontends.torch import random_inputs

    tensors = random_inputs((i.shape, i.dtype) for i in graph.input_infos())
    return tensors[0] if len(tensors) == 1 else tuple(tensors)


def _search_ratio(
    module: Any, graph: Graph, plan: StructuredPlan, target: float, before_macs: int
) -> tuple[Any, float]:
    """Prune copies of ``module`` at ratios found by bisection until MACs land on
    ``target`` x the original (within 1 %, or the closest of a dozen tries below target)."""
    from dataclasses import replace

    lo, hi = 0.0, 0.95
    best: tuple[Any, float, float] | None = None
    for _ in range(14):
        ratio = (lo + hi) / 2
        trial = copy.deepcopy(module)
        prune_structured(trial, _example(graph), replace(plan, amount=ratio))
        kept = _count_module(trial, graph, "trial").total.macs / before_macs
        if kept <= target and (best is None or kept > best[2]):
            best = (trial, ratio, kept)
        if abs(kept - target) <= 0.01 * target:
            return trial, ratio
        if kept > target:
            lo = ratio
        else:
            hi = ratio
    if best is None:
        raise ModelprofError(f"--target-macs {target}: cannot prune down to that")
    return best[0], best[1]


STRUCTURED_NEEDS_PYTORCH = (
    "structured pruning needs the PyTorch model: an ONNX file has no dependency graph "
    "to keep coupled layers consistent. Use --unstructured, or give the PyTorch source "
    "(zoo name or file.py:factory)"
)


def check_prune_request(
    model: ModelRef,
    *,
    amount: float | None = None,
    target_macs: float | None = None,
    heads: float | None = None,
    unstructured: bool = False,
    save: str | None = None,
    force: bool = False,
    finetune: str | None = None,
    measure: str | Runtime | None = None,
) -> None:
    """Refuse, before ``model`` is read, what :func:`prune` would refuse once it had read it:
    a ratio out of range, structured pruning of an ONNX file, a runtime that runs PyTorch
    modules for an ONNX file, and what :func:`~modelprof.rewrite.checks.check_request`
    checks (the model file, ``--finetune``, ``--save``)."""
    for value, what in ((amount, "--amount"), (target_macs, "--target-macs"), (heads, "--heads")):
        if value is not None and not 0 < value < 1:
            raise ModelprofError(f"{what} must be between 0 and 1 (exclusive), got {value}")
    check_request(model, "prune", save=save, force=force, finetune=finetune)
    if not unstructured and named_kind(model) == "onnx":
        raise ModelprofError(STRUCTURED_NEEDS_PYTORCH)
    check_runtime_source(model, measure, "prune --profile")


def prune(
    model: ModelRef,
    input_shapes: InputShapes = None,
    *,
    amount: float | None = 0.5,
    target_macs: float | None = None,
    unstructured: bool = False,
    per_layer: bool = False,
    heads: float | None = None,
    plan: StructuredPlan | None = None,
    finetune: str | None = None,
    epochs: int = 5,
    save: str | None = None,
    force: bool = False,
    measure: str | None = None,
    settings: RunSettings | None = None,
    rounds: int = 2,
    progress: Progress | None = None,
) -> PruneResult:
    """Prune ``model`` and report before against after; ``progress`` hears about training
    (the seed network's first training, fine-tuning) epoch by epoch."""
    from .save import check_target

    check_prune_request(
        model,
        amount=amount,
        target_macs=target_macs,
        heads=heads,
        unstructured=unstructured,
        save=save,
        force=force,
        finetune=finetune,
        measure=measure,
    )
    graph = load_graph(model, input_shapes)
    check_loaded(model, graph, "prune")
    pytorch = graph.source == "pytorch"
    if not pytorch and not unstructured:
        raise ModelprofError(STRUCTURED_NEEDS_PYTORCH)
    check_runtime_source(model, measure, "prune --profile", graph.source)
    if save:
        check_target(save, force=force, pytorch=pytorch)
    with tempfile.TemporaryDirectory(prefix="modelprof-prune-") as folder:
        work = Path(folder)
        if pytorch:
            result = _prune_torch(
                model,
                graph,
                work,
                amount=amount,
                target_macs=target_macs,
                unstructured=unstructured,
                per_layer=per_layer,
                heads=heads,
                plan=plan or StructuredPlan(),
                finetune=finetune,
                epochs=epochs,
                progress=progress,
            )
        else:
            if finetune:
                raise ModelprofError("--finetune needs a PyTorch model")
            result = _prune_onnx(model, graph, work, amount or 0.5, per_layer)
        after_path = result.pop("after_path")
        before_path = result.pop("before_path")
        before_module = result.pop("before_module")
        module = result["model"] = result.pop("module")
        why = result.pop("nothing")
        if why:
            # the "pruned" model is the original: nothing to write, compare or fine-tune
            undone = skipped(
                "nothing was pruned, so ", save=save, measure=measure, finetune=finetune
            )
            result["nothing_done"] = (why, *([undone] if undone else []))
            result["notes"] = (*result["notes"], *result["nothing_done"])
            return PruneResult(**result)
        if save:
            from .save import save_model

            save_model(save, onnx_path=after_path, module=module, force=force)
            result["saved"] = str(save)
        if measure:
            from ..measure.profiling import profile_interleaved, speedup_caveat

            if is_module_runtime(measure):  # the modules themselves, not their exports
                before_prof, after_prof = profile_modules(
                    before_module,
                    module,
                    graph,
                    runtime=measure,
                    settings=settings or RunSettings(),
                    rounds=rounds,
                    labels=(graph.name, f"{graph.name} (pruned)"),
                )
            else:
                before_prof, after_prof = profile_interleaved(
                    before_path,
                    after_path,
                    runtime=measure,
                    settings=settings or RunSettings(),
                    rounds=rounds,
                )
            result["before"] = _with_profile(result["before"], before_prof)
            result["after"] = _with_profile(result["after"], after_prof)
            caveat = speedup_caveat(
                before_prof,
                after_prof,
                before_prof.count.total.macs,
                after_prof.count.total.macs,
            )
            if caveat:
                result["notes"] = (*result["notes"], caveat)
    return PruneResult(**result)


def _with_profile(side: PruneSide, report: ProfileReport) -> PruneSide:
    from dataclasses import replace

    return replace(side, profile=report)


def _prune_torch(
    model: ModelRef,
    graph: Graph,
    work: Path,
    *,
    amount: float | None,
    target_macs: float | None,
    unstructured: bool,
    per_layer: bool,
    heads: float | None,
    plan: StructuredPlan,
    finetune: str | None,
    epochs: int,
    progress: Progress | None = None,
) -> dict[str, Any]:
    from dataclasses import replace

    from ..api import build_module
    from . import training

    data = None
    if finetune:
        from .finetune import model_and_data

        module, data = model_and_data(model, finetune, graph, progress)
    else:
        module = build_module(model)
    module.eval()
    name = graph.name
    before_count = _count_module(module, graph, name)
    before_path = _export(module, graph, work / "before.onnx")
    accuracy_before = training.evaluate(module, data) if data is not None else None
    before = PruneSide(
        before_count, before_path.stat().st_size, _nonzero_torch(module), accuracy=accuracy_before
    )
    pruned = copy.deepcopy(module)
    sparsity: tuple[Sparsity, ...] = ()
    head_changes: dict[str, tuple[int, int]] = {}
    notes: list[str] = []
    method = "unstructured" if unstructured else "structured"
    used_amount = amount
    # why nothing was pruned (an amount that rounds to nothing, every layer ignored), if so
    nothing: str | None
    if unstructured:
        prune_unstructured_torch(pruned, amount or 0.5, per_layer=per_layer)
        sparsity = tuple(torch_sparsity(pruned))
        notes.append(sparse_weights_note())
        nothing = (
            None
            if _nonzero_torch(pruned) < before.nonzero_params
            else _why_no_zeros(sparsity, amount or 0.5, per_layer)
        )
    elif heads is not None:
        head_changes = prune_heads(pruned, heads)
        used_amount = heads
        method = "structured"
        nothing = _why_no_head_removed(head_changes, heads)
    else:
        gradients = _taylor_gradients(data) if plan.importance == "taylor" and data else None
        if target_macs is not None:
            pruned, used_amount = _search_ratio(
                pruned, graph, plan, target_macs, before_count.total.macs
            )
        else:
            prune_structured(
                pruned, _example(graph), replace(plan, amount=amount or 0.5), gradients=gradients
            )
        p = used_amount or 0.5
        nothing = _why_no_channel_removed(module, pruned, plan, p)
        if not nothing:  # what p does to MACs (it did nothing otherwise)
            notes.append(
                f"a channel ratio p = {p:.2f} shrinks a conv whose input and output channels "
                f"both shrink to (1-p)^2 = {(1 - p) ** 2:.0%} of its MACs (about "
                f"{expected_mac_reduction(p):.0%} fewer); the first and last layers lose only p"
            )
    pruned.eval()
    accuracy_pruned = None
    accuracy_after = None
    if data is not None and not nothing:
        import torch

        accuracy_pruned = training.evaluate(pruned, data)
        masks = _zero_masks(pruned) if unstructured else []
        training.train(
            pruned, data, epochs=epochs, progress=epoch_progress(progress, "fine-tuning")
        )
        with torch.no_grad():  # fine-tuning must not regrow the pruned weights
            for weight, mask in masks:
                weight.mul_(mask)
        pruned.eval()
        accuracy_after = training.evaluate(pruned, data)
    after_count = _count_module(pruned, graph, name)
    after_path = _export(pruned, graph, work / "after.onnx")
    after = PruneSide(
        after_count, after_path.stat().st_size, _nonzero_torch(pruned), accuracy=accuracy_after
    )
    return {
        "method": method,
        "amount": used_amount,
        "target_macs": target_macs,
        "before": before,
        "after": after,
        "sparsity": sparsity,
        "heads": head_changes,
        "accuracy_pruned": accuracy_pruned,
        "notes": tuple(notes),
        "module": pruned,
        "before_module": module,
        "before_path": before_path,
        "after_path": after_path,
        "nothing": nothing,
    }


def _why_no_zeros(sparsity: Sequence[Sparsity], amount: float, per_layer: bool) -> str:
    """Why unstructured pruning of ``amount`` zeroed no weight that was not zero already."""
    total = sum(s.numel for s in sparsity)
    if per_layer and not any(round(amount * s.numel) for s in sparsity):
        largest = max(s.numel for s in sparsity)
        return (
            f"nothing was pruned: --amount {amount:g} of each layer's weights (the largest has "
            f"{largest:,}) rounds to no weight"
        )
    if not per_layer and not round(amount * total):
        return (
            f"nothing was pruned: --amount {amount:g} of {total:,} prunable weights rounds to "
            "no weight"
        )
    return f"nothing was pruned: the weights --amount {amount:g} zeroes were zero already"


def _numel(module: Any) -> int:
    return int(sum(p.numel() for p in module.parameters()))


def _why_no_head_removed(changes: dict[str, tuple[int, int]], heads: float) -> str | None:
    """Why ``--heads`` removed no head, or None when it removed some."""
    if any(after < before for before, after in changes.values()):
        return None
    count = min(before for before, _ in changes.values())
    return (
        f"nothing was pruned: --heads {heads:g} of {count} heads is {heads * count:.2g}, "
        "which rounds to no head"
    )


def _why_no_channel_removed(
    module: Any, pruned: Any, plan: StructuredPlan, amount: float
) -> str | None:
    """Why structured pruning of ``module`` into ``pruned`` removed no channel, or None when
    it removed some (a removed channel always takes parameters with it)."""
    from torch import nn

    from .transforms.prune import default_ignored, resolve_modules

    if _numel(pruned) < _numel(module):
        return None
    ignored = (
        resolve_modules(module, plan.ignore, "--ignore")
        if plan.ignore is not None
        else default_ignored(module)
    )
    kinds = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
    layers = [m for m in module.modules() if isinstance(m, kinds)]
    if not layers:
        return "nothing was pruned: the model has no convolution or linear layer"
    if all(any(m is i for i in ignored) for m in layers):
        if plan.ignore is not None:
            return "nothing was pruned: --ignore leaves alone every layer with channels"
        (classifier,) = (name for name, m in module.named_modules() if any(m is i for i in ignored))
        return (
            f"nothing was pruned: the only layer with channels, {classifier}, is the classifier, "
            "which is left alone unless --ignore names other layers"
        )
    return f"nothing was pruned: Torch-Pruning removed no channel at amount {amount:.3g}"


def _zero_masks(module: Any) -> list[tuple[Any, Any]]:
    """(weight, mask of its nonzeros) for every pruned weight, to keep zeros at zero."""
    return [
        (m.weight, m.weight != 0)
        for m in module.modules()
        if getattr(m, "weight", None) is not None and m.weight.dim() >= 2
    ]


def _taylor_gradients(data: Any) -> Any:
    def fill(module: Any) -> None:
        import torch

        x, y = next(iter(_batches(data)))
        loss = torch.nn.functional.cross_entropy(module(x), y)
        loss.backward()  # type: ignore[no-untyped-call]

    return fill


def _batches(data: Any) -> Any:
    from . import training

    return training._test_batches(data)


def _prune_onnx(
    model: ModelRef, graph: Graph, work: Path, amount: float, per_layer: bool
) -> dict[str, Any]:
    import onnx

    from ..frontends import onnx as onnx_frontend

    source = Path(str(model))
    proto = onnx_frontend.read_with_weights(source)
    shapes = {i.name: i.shape for i in graph.input_infos()}
    before_count = analyze(graph)
    # the file's size is the graph's and its external weights'
    on_disk = [source, *onnx_frontend.external_data_files(source)]
    size = sum(f.stat().st_size for f in on_disk if f.is_file())
    before = PruneSide(before_count, size, _nonzero_onnx(source))
    # sparsity is found per weight tensor: name it after the layer that uses the weight, as
    # the PyTorch route does, so tables and the MACs-if-skipped figure match layers
    user = {name: node.name for node in graph.nodes for name in node.inputs}
    sparsity = [
        replace(s, name=user.get(s.name, s.name))
        for s in prune_unstructured_onnx(proto, amount, per_layer=per_layer)
    ]
    after_path = work / "after.onnx"
    onnx.save_model(proto, str(after_path))
    after_count = analyze(onnx_frontend.load(after_path, shapes, name=graph.name))
    after = PruneSide(after_count, after_path.stat().st_size, _nonzero_onnx(after_path))
    zeroed = after.nonzero_params < before.nonzero_params
    return {
        "method": "unstructured",
        "amount": amount,
        "before": before,
        "after": after,
        "sparsity": tuple(sparsity),
        "notes": (sparse_weights_note(),),
        "module": None,
        "before_module": None,
        "before_path": source,
        "after_path": after_path,
        "nothing": None if zeroed else _why_no_zeros(sparsity, amount, per_layer),
    }
