"""PyTorch -> Graph, by running the module once and recording every ATen op it dispatches.

Why this route: a dispatch-level recorder (as ``torch.utils.flop_counter`` uses) sees every op
whatever Python control flow the model has, needs no tracing or export, and module hooks give
each op its module path (``layer1.0.conv1``). Each ATen op is translated to the ONNX op the
cost rules know; ops with no translation keep their ATen name and are reported as
unsupported, never dropped. View ops (reshape, transpose, ...) allocate nothing and are not
layers; their outputs are recorded as aliases of their base tensor.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import inspect
import itertools
import json
import keyword
import pickle
import re
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from math import prod
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from ..errors import MissingExtraError, ModelLoadError, ShapeError, first_line, safe_str
from ..graph import Graph, Node, TensorInfo, Weight, nbytes_of
from ..shapes import InputShapes, check_fits_memory, how_to_give, resolve_inputs

if TYPE_CHECKING:
    import torch


def import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingExtraError("torch", "torch") from None
    return torch


# -- loading a module from "file.py:factory" or "package.module:factory" ------------------------


def load_factory(spec: str) -> torch.nn.Module:
    """Import ``spec`` and return the module its factory builds (eval mode)."""
    nn_module = import_torch().nn.Module
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise ModelLoadError(
            f"'{spec}' is not a PyTorch factory: expected path/to/file.py:factory or "
            "package.module:factory"
        )
    module = import_target(target)
    if not hasattr(module, attr):
        names = [n for n in dir(module) if not n.startswith("_")]
        raise ModelLoadError(f"{target} has no '{attr}' (it defines: {', '.join(names[:12])})")
    obj = getattr(module, attr)
    if not isinstance(obj, nn_module):
        if not callable(obj):
            raise ModelLoadError(f"{spec} is neither an nn.Module nor a callable that builds one")
        try:
            obj = obj()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # user code: SystemExit too
            why = f"{type(exc).__name__}: {safe_str(exc)}"
            raise ModelLoadError(f"calling {spec}() failed: {why}") from None
    if not isinstance(obj, nn_module):
        raise ModelLoadError(f"{spec} returned {type(obj).__name__}, not a torch.nn.Module")
    return cast("torch.nn.Module", obj.eval())


#: The Python files modelprof imported (``path/to/my_net.py``), by the module name each got:
#: (resolved path, digest of its source). A pickled module names its classes by that name, and
#: :func:`load_pickled` imports the file again under it.
USER_FILES: dict[str, tuple[Path, str]] = {}

_PRIVATE = re.compile(r"_modelprof_user_(?P<stem>\w*?)_[0-9a-f]{12}")


def import_target(target: str) -> Any:
    """The Python module the part of a ``target:name`` spec before the colon names: a file
    (``path/to/file.py``) or an importable ``package.module``. Import errors become one line.

    A file is imported under its stem (``my_net``), so that a module built from it pickles
    under a name ``import my_net`` finds again, unless that name is taken by another module (a
    second ``model.py``, a ``json.py``): then under ``_modelprof_user_<stem>_<digest of its
    path>``, so two files never collide. A file already imported under that name, unchanged
    since, is not run again (objects built from it stay instances of its classes)."""
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target)
        if not path.is_file():
            raise ModelLoadError(f"no such Python file: {path}")
        resolved = path.resolve()
        name = _module_name(resolved)
        loaded, known = sys.modules.get(name), USER_FILES.get(name)
        digest = _digest(resolved)
        if loaded is not None and (known is None or known[1] == digest):
            USER_FILES[name] = (resolved, digest)  # imported by the user, or unchanged since
            return loaded
        return _import_file(name, path)
    try:
        return importlib.import_module(target)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # user code: SystemExit too
        why = f"{type(exc).__name__}: {safe_str(exc)}"
        raise ModelLoadError(f"cannot import {target}: {why}") from None


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _module_name(resolved: Path) -> str:
    """The stem of the file, when no other module has that name; else a private name."""
    stem = resolved.stem
    if stem.isidentifier() and not keyword.iskeyword(stem) and _free_for(stem, resolved):
        return stem
    where = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    safe = re.sub(r"\W", "_", stem)
    return f"_modelprof_user_{safe}_{where}"


def _free_for(name: str, resolved: Path) -> bool:
    """Whether ``name`` is unused, or names ``resolved`` itself, loaded or importable."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return _same_file(getattr(loaded, "__file__", None), resolved)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    return spec is None or _same_file(spec.origin, resolved)


def _same_file(origin: str | None, resolved: Path) -> bool:
    try:
        return origin is not None and Path(origin).resolve() == resolved
    except OSError:
        return False


def _import_file(name: str, path: Path) -> ModuleType:
    """Run the file ``path`` as module ``name`` (in ``sys.modules``, as an import would)."""
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise ModelLoadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(loader_spec)
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        loader_spec.loader.exec_module(module)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # user code: SystemExit too
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
        why = f"{type(exc).__name__}: {safe_str(exc)}"
        raise ModelLoadError(f"importing {path} failed: {why}") from None
    resolved = path.resolve()
    USER_FILES[name] = (resolved, _digest(resolved))
    return module


def input_names(module: torch.nn.Module) -> list[str]:
    """The names of ``forward``'s tensor arguments, used as the model's input names."""
    try:
        params = inspect.signature(module.forward).parameters.values()
    except (TypeError, ValueError):
        return ["input"]
    names = [
        p.name
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return names or ["input"]


# -- capture --------------------------------------------------------------------------------


@dataclass
class _Call:
    path: str
    serial: int
    leaf: bool = False


class _Capture:
    """Records ATen ops with their tensors' names, shapes and the module call they ran in."""

    def __init__(self, root: torch.nn.Module) -> None:
        torch = import_torch()
        self.torch = torch
        self.paths = {id(m): name for name, m in root.named_modules()}
        self.leaves = {id(m) for m in root.modules() if next(m.children(), None) is None}
        self.stack: list[_Call] = []
        self.calls: dict[str, int] = {}
        self.serial = 0
        self.keep: list[Any] = []  # holds every tensor seen, so no storage is freed and reused
        self.storage_names: dict[int, str] = {}
        self.view_counts: dict[int, int] = {}
        self.view_names: dict[tuple[Any, ...], str] = {}
        self.tensors: dict[str, TensorInfo] = {}
        self.aliases: dict[str, str] = {}
        self.constants: set[str] = set()
        self.weights: dict[str, Weight] = {}
        self.produced: set[str] = set()
        #: whether the module or its inputs live on the meta device (see :func:`recording`)
        self.on_meta = any(t.is_meta for t in (*root.parameters(), *root.buffers()))
        self.records: list[
            tuple[str, str, tuple[str, ...], tuple[str, ...], dict[str, Any], _Call]
        ] = []
        for name, p in root.named_parameters():
            self._name_weight(p, name, "param")
        for name, b in root.named_buffers():
            if b.is_floating_point():
                self._name_weight(b, name, "buffer")

    def _name_weight(self, t: Any, name: str, kind: str) -> None:
        self.keep.append(t)
        ptr = _storage_id(t)
        self.storage_names.setdefault(ptr, name)
        self.view_names[self._view_key(t)] = name
        shape = tuple(int(d) for d in t.shape)
        dtype = str(t.dtype).removeprefix("torch.")
        self.weights[name] = Weight(name, shape, dtype, kind)  # type: ignore[arg-type]
        self.tensors[name] = TensorInfo(name, shape, dtype)

    @staticmethod
    def _view_key(t: Any) -> tuple[Any, ...]:
        return (
            _storage_id(t),
            t.storage_offset(),
            tuple(t.shape),
            tuple(t.stride()),
            t.dtype,
        )

    def name_of(self, t: Any, *, new_ok: bool) -> str:
        key = self._view_key(t)
        name = self.view_names.get(key)
        if name is not None:
            return name
        self.keep.append(t)
        ptr = key[0]
        base = self.storage_names.get(ptr)
        if base is None:
            name = f"t{len(self.storage_names)}"
            self.storage_names[ptr] = name
            if not new_ok:
                self.constants.add(name)
        else:
            views = self.view_counts.get(ptr, 1)
            self.view_counts[ptr] = views + 1
            name = f"{base}~{views}"
            self.aliases[name] = base
            if base in self.constants:
                self.constants.add(name)
        self.view_names[key] = name
        self.tensors[name] = TensorInfo(
            name, tuple(int(d) for d in t.shape), str(t.dtype).removeprefix("torch.")
        )
        return name

    def is_weight(self, t: Any) -> bool:
        name = self.name_of(t, new_ok=False)
        return self.aliases.get(name, name) in self.weights

    # module hooks
    def pre_hook(self, module: Any, args: Any) -> None:
        path = self.paths.get(id(module))
        if path is None:
            return
        self.serial += 1
        self.stack.append(_Call(path, self.serial, id(module) in self.leaves))

    def post_hook(self, module: Any, args: Any, output: Any) -> None:
        if self.paths.get(id(module)) is not None and self.stack:
            self.stack.pop()

    def record(self, func: Any, args: Sequence[Any], kwargs: Mapping[str, Any], out: Any) -> None:
        torch = self.torch
        schema = func._schema
        returns = schema.returns
        if returns and all(r.alias_info is not None and not r.alias_info.is_write for r in returns):
            return  # a view: its output gets an alias name when something consumes it
        if func.overloadpacket.__name__ in _PASS_THROUGH:
            return
        tensor_args = [a for a in _flatten(args, kwargs) if isinstance(a, torch.Tensor)]
        outs = [o for o in _flatten((out,), {}) if isinstance(o, torch.Tensor)]
        if not tensor_args:  # a factory (zeros, arange, empty): a constant, not a layer
            for o in outs:
                self.name_of(o, new_ok=False)
            return
        call = self.stack[-1] if self.stack else _Call("", 0)
        op, inputs, attrs = translate(func, args, kwargs, outs, self)
        if str(func.overloadpacket.__name__) in _PRIMARY_OUTPUT_ONLY:
            outs = outs[:1]  # saved statistics / indices, not activations of the layer
        out_names = tuple(self.name_of(o, new_ok=True) for o in outs)
        if op == "Reshape" and out_names == inputs[:1]:
            # a reshape to the shape it already has (``_unsafe_view`` after a batched matmul,
            # as the meta device runs Linear on a sliced input): no new tensor, no node
            return
        self.produced.update(out_names)
        self.records.append((str(func.overloadpacket.__name__), op, inputs, out_names, attrs, call))


def _storage_id(t: Any) -> int:
    """Which storage ``t`` views: the address of its C++ storage object, not of its data. The
    data address is 0 for every meta tensor and every empty one, so it cannot tell them apart;
    the storage object's address is unique while the storage lives, and the recorder keeps
    every tensor it names alive, so no address is reused during a recording."""
    return int(t.untyped_storage()._cdata)


def _flatten(args: Sequence[Any], kwargs: Mapping[str, Any]) -> Iterable[Any]:
    for a in (*args, *kwargs.values()):
        if isinstance(a, list | tuple):
            yield from _flatten(a, {})
        else:
            yield a


# -- ATen -> ONNX translation ---------------------------------------------------------------

_UNARY = {
    "relu": "Relu",
    "relu_": "Relu",
    "sigmoid": "Sigmoid",
    "sigmoid_": "Sigmoid",
    "tanh": "Tanh",
    "tanh_": "Tanh",
    "gelu": "Gelu",
    "gelu_": "Gelu",
    "hardswish": "HardSwish",
    "hardswish_": "HardSwish",
    "hardsigmoid": "HardSigmoid",
    "hardsigmoid_": "HardSigmoid",
    "hardtanh": "Clip",
    "hardtanh_": "Clip",
    "clamp": "Clip",
    "clamp_": "Clip",
    "clamp_min": "Clip",
    "clamp_min_": "Clip",
    "clamp_max": "Clip",
    "leaky_relu": "LeakyRelu",
    "leaky_relu_": "LeakyRelu",
    "elu": "Elu",
    "elu_": "Elu",
    "selu": "Selu",
    "celu": "Celu",
    "silu": "Swish",
    "silu_": "Swish",
    "mish": "Mish",
    "softplus": "Softplus",
    "exp": "Exp",
    "log": "Log",
    "sqrt": "Sqrt",
    "rsqrt": "Sqrt",
    "reciprocal": "Reciprocal",
    "neg": "Neg",
    "abs": "Abs",
    "erf": "Erf",
    "sin": "Sin",
    "cos": "Cos",
    "sign": "Sign",
    "floor": "Floor",
    "ceil": "Ceil",
    "round": "Round",
    "prelu": "PRelu",
    "_prelu_kernel": "PRelu",
    "logical_not": "Not",
}
_BINARY = {
    "add": "Add",
    "add_": "Add",
    "sub": "Sub",
    "sub_": "Sub",
    "rsub": "Sub",
    "mul": "Mul",
    "mul_": "Mul",
    "div": "Div",
    "div_": "Div",
    "pow": "Pow",
    "maximum": "Max",
    "minimum": "Min",
    "where": "Where",
    "masked_fill": "Where",
    "masked_fill_": "Where",
    "eq": "Equal",
    "ne": "Equal",
    "lt": "Less",
    "gt": "Greater",
    "le": "LessOrEqual",
    "ge": "GreaterOrEqual",
    "logical_and": "And",
    "logical_or": "Or",
    "remainder": "Mod",
    "floor_divide": "Div",
    "floor_divide_": "Div",
    "fmod": "Mod",
}
_REDUCE = {
    "sum": "ReduceSum",
    "mean": "ReduceMean",
    "amax": "ReduceMax",
    "amin": "ReduceMin",
    "max": "ReduceMax",
    "min": "ReduceMin",
    "prod": "ReduceProd",
    "argmax": "ArgMax",
    "argmin": "ArgMin",
    "norm": "ReduceL2",
    "linalg_vector_norm": "ReduceL2",
}
_ZERO = {
    "clone": "Identity",
    "_to_copy": "Cast",
    "copy_": "Identity",
    "contiguous": "Identity",
    "cat": "Concat",
    "stack": "Concat",
    "constant_pad_nd": "Pad",
    "index_select": "Gather",
    "index": "Gather",
    "gather": "GatherElements",
    "_unsafe_view": "Reshape",
    "native_dropout": "Dropout",
    "dropout": "Dropout",
    "repeat": "Tile",
    "roll": "Identity",
    "flip": "Identity",
    "as_strided_": "Identity",  # restrides a tensor in place: no data moves
    "_local_scalar_dense": "Identity",  # .item(): reads one value
    "index_put": "ScatterND",
    "index_put_": "ScatterND",
    "fill_": "Identity",
    "zero_": "Identity",
    "zeros_like": "ConstantOfShape",
    "ones_like": "ConstantOfShape",
    "empty_like": "ConstantOfShape",
    "full_like": "ConstantOfShape",
    "scatter": "ScatterElements",
    "pixel_shuffle": "DepthToSpace",
    "pixel_unshuffle": "SpaceToDepth",
    "tril": "Trilu",
    "triu": "Trilu",
    "split_with_sizes_copy": "Split",
    "unbind_copy": "Split",
    "embedding": "Gather",
    "nonzero": "NonZero",
}
#: ATen ops that return their input itself, touching no data (``torch.tensor(...)`` runs
#: them): below autograd (inference mode, the meta device) they reach the recorder, above it
#: they do not, so they are never recorded and counts agree across modes and devices.
_PASS_THROUGH = {"detach_", "lift_fresh"}
#: ATen ops whose extra outputs (saved mean/rstd, pooling indices, logsumexp) are side products.
_PRIMARY_OUTPUT_ONLY = {
    "native_layer_norm",
    "native_group_norm",
    "native_batch_norm",
    "_native_batch_norm_legit_no_training",
    "_native_batch_norm_legit",
    "max_pool2d_with_indices",
    "max_pool3d_with_indices",
    "adaptive_max_pool2d",
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
    "native_dropout",
}
_ATTN = {
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_fused_attention_overrideable",
    "scaled_dot_product_attention",
}


def _arg(
    args: Sequence[Any], kwargs: Mapping[str, Any], index: int, name: str, default: Any = None
) -> Any:
    if index < len(args):
        return args[index]
    return kwargs.get(name, default)


def _tensor_names(cap: _Capture, *items: Any) -> tuple[str, ...]:
    torch = cap.torch
    return tuple(cap.name_of(t, new_ok=False) if isinstance(t, torch.Tensor) else "" for t in items)


def _pair_pads(padding: Sequence[int]) -> list[int]:
    return [int(p) for p in padding] * 2


def translate(
    func: Any, args: Sequence[Any], kwargs: Mapping[str, Any], outs: list[Any], cap: _Capture
) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """Map one ATen call to (ONNX op type, input tensor names in ONNX order, attributes)."""
    torch = cap.torch
    name = str(func.overloadpacket.__name__)
    a = args
    if name == "convolution":
        x, w, b = a[0], a[1], a[2]
        stride, padding, dilation, transposed, _, groups = a[3:9]
        op = "ConvTranspose" if transposed else "Conv"
        attrs = {
            "strides": list(stride),
            "pads": _pair_pads(padding),
            "dilations": list(dilation),
            "group": int(groups),
            "kernel_shape": list(w.shape[2:]),
        }
        return op, _tensor_names(cap, x, w, b), attrs
    if name == "addmm":
        return "Gemm", _tensor_names(cap, a[1], a[2], a[0]), {"transA": 0, "transB": 0}
    if name == "mm" and cap.is_weight(a[1]):  # nn.Linear without bias, as exporters write it
        return "Gemm", _tensor_names(cap, a[0], a[1]), {"transA": 0, "transB": 0}
    if name in ("mm", "bmm", "matmul"):
        return "MatMul", _tensor_names(cap, a[0], a[1]), {}
    if name in ("baddbmm", "addbmm"):
        return "MatMul", _tensor_names(cap, a[1], a[2]), {}
    if name in (
        "native_batch_norm",
        "_native_batch_norm_legit_no_training",
        "_native_batch_norm_legit",
        "batch_norm",
        "_batch_norm_impl_index",
    ):
        x, w, b, mean, var = (*a, None, None, None, None, None)[:5]
        return "BatchNormalization", _tensor_names(cap, x, w, b, mean, var), {}
    if name == "native_layer_norm":
        return "LayerNormalization", _tensor_names(cap, a[0], a[2], a[3]), {"axis": -len(a[1])}
    if name == "native_group_norm":
        return "GroupNormalization", _tensor_names(cap, a[0], a[1], a[2]), {"num_groups": int(a[6])}
    if name in (
        "avg_pool1d",
        "avg_pool2d",
        "avg_pool3d",
        "max_pool1d",
        "max_pool2d",
        "max_pool3d",
        "max_pool2d_with_indices",
        "max_pool3d_with_indices",
        "mkldnn_max_pool2d",
    ):
        kernel = list(a[1]) if isinstance(a[1], list | tuple) else [int(a[1])]
        rank = a[0].dim() - 2
        if len(kernel) == 1 and rank > 1:
            kernel = kernel * rank
        op = "AveragePool" if name.startswith("avg") else "MaxPool"
        return op, _tensor_names(cap, a[0]), {"kernel_shape": kernel}
    if name in (
        "_adaptive_avg_pool2d",
        "adaptive_avg_pool2d",
        "_adaptive_avg_pool3d",
        "adaptive_max_pool2d",
        "_adaptive_avg_pool1d",
    ):
        x, out = a[0], outs[0]
        spatial_in, spatial_out = x.shape[2:], out.shape[2:]
        if all(int(d) == 1 for d in spatial_out):
            op = "GlobalMaxPool" if "max" in name else "GlobalAveragePool"
            return op, _tensor_names(cap, x), {}
        kernel = [-(-int(i) // int(o)) for i, o in zip(spatial_in, spatial_out, strict=True)]
        op = "MaxPool" if "max" in name else "AveragePool"
        return op, _tensor_names(cap, x), {"kernel_shape": kernel}
    if name in _ATTN:
        q, k, v = a[0], a[1], a[2]
        mask = _arg(a, kwargs, 3, "attn_bias") if "efficient" in name else kwargs.get("attn_mask")
        if name == "_scaled_dot_product_flash_attention_for_cpu":
            mask = _arg(a, kwargs, 5, "attn_mask")
        return "Attention", _tensor_names(cap, q, k, v, mask), {}
    if name in ("_softmax", "softmax", "_safe_softmax"):
        return "Softmax", _tensor_names(cap, a[0]), {"axis": int(a[1])}
    if name in ("_log_softmax", "log_softmax"):
        return "LogSoftmax", _tensor_names(cap, a[0]), {"axis": int(a[1])}
    if name == "mean" and len(a) > 1 and outs and a[0].dim() >= 3:
        dims = sorted(int(d) % a[0].dim() for d in a[1])
        if dims == list(range(2, a[0].dim())):
            return "GlobalAveragePool", _tensor_names(cap, a[0]), {}
    if name in (
        "upsample_nearest1d",
        "upsample_nearest2d",
        "upsample_nearest3d",
        "_upsample_nearest_exact2d",
    ):
        return "Resize", _tensor_names(cap, a[0]), {"mode": "nearest"}
    if name in (
        "upsample_bilinear2d",
        "upsample_linear1d",
        "upsample_trilinear3d",
        "_upsample_bilinear2d_aa",
    ):
        return "Resize", _tensor_names(cap, a[0]), {"mode": "linear"}
    if name == "upsample_bicubic2d":
        return "Resize", _tensor_names(cap, a[0]), {"mode": "cubic"}
    if name == "embedding":
        return "Gather", _tensor_names(cap, a[0], a[1]), {}
    if name in ("cumsum", "cumsum_"):
        return "CumSum", _tensor_names(cap, a[0]), {"axis": int(_arg(a, kwargs, 1, "dim"))}
    if name == "sort":  # sort.stable takes every argument but the tensor by keyword
        dim = kwargs.get("dim", a[1] if len(a) > 1 else -1)
        return "aten::sort", _tensor_names(cap, a[0]), {"axis": int(dim)}
    if name == "topk":
        axis = int(_arg(a, kwargs, 2, "dim", -1))
        return "TopK", _tensor_names(cap, a[0]), {"k": int(a[1]), "axis": axis}
    tensors = [t for t in _flatten(args, kwargs) if isinstance(t, torch.Tensor)]
    for table in (_UNARY, _BINARY, _REDUCE, _ZERO):
        if name in table:
            return table[name], _tensor_names(cap, *tensors), {}
    return f"aten::{name}", _tensor_names(cap, *tensors), {}


# -- building the Graph -----------------------------------------------------------------------


def random_inputs(
    shapes: Iterable[tuple[tuple[int, ...], str]], *, device: Any = None
) -> list[Any]:
    """One tensor per (shape, dtype): seeded normal values for floats, zeros for integers
    (indices must stay in range). Every route that runs a model uses these same inputs.

    ``device`` (default CPU): where to put them. The values are drawn on the CPU and moved, so
    they are the same on every device; on the meta device nothing is allocated (a meta tensor
    has a shape and no data), so no memory check is needed."""
    torch = import_torch()
    shapes = list(shapes)
    meta = device is not None and torch.device(device).type == "meta"
    if not meta:
        # the model then runs on them: at least their bytes must fit (a typo of a shape does not)
        check_fits_memory(
            sum(nbytes_of(prod(shape), dtype) for shape, dtype in shapes), "the example inputs"
        )
    generator = torch.Generator().manual_seed(0)
    tensors = []
    for shape, dtype in shapes:
        tdtype = getattr(torch, dtype, None)
        if not isinstance(tdtype, torch.dtype):
            raise ShapeError(f"unsupported input dtype '{dtype}'")
        if meta:
            tensors.append(torch.zeros(shape, dtype=tdtype, device="meta"))
        elif tdtype.is_floating_point:
            tensors.append(torch.randn(shape, generator=generator).to(tdtype))
        else:
            tensors.append(torch.zeros(shape, dtype=tdtype))
    if device is not None and not meta:
        tensors = [t.to(device) for t in tensors]
    return tensors


@contextlib.contextmanager
def recording(cap: _Capture) -> Iterator[None]:
    """Run the body with every ATen op recorded into ``cap`` and module calls tracked as its
    scopes, under ``no_grad``; the fused transformer fast path is off while recording, since
    its single kernel would hide the ops inside it.

    The ops recorded are the same whatever grad mode the caller is in: under
    ``torch.inference_mode`` the autograd layer, where composite ops (``aten::linear``,
    ``aten::layer_norm``) are normally broken into the ops that run, is skipped, so a
    composite op reaching the recorder is broken up here the same way. On the meta device the
    body runs below the autograd layer on purpose (no gradient is ever taken of meta tensors),
    so that scaled dot-product attention reaches the recorder before torch picks its kernel,
    and is sent down the path the CPU would take (see :func:`_sdpa_as_on_cpu`)."""
    torch = cap.torch
    from torch.utils._python_dispatch import TorchDispatchMode

    composite: dict[Any, bool] = {}
    sdpa = torch.ops.aten.scaled_dot_product_attention.default
    has_kernel = torch._C._dispatch_has_kernel_for_dispatch_key

    def dispatch(self: Any, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        decomposable = composite.get(func)
        if decomposable is None:
            decomposable = composite[func] = has_kernel(func.name(), "CompositeImplicitAutograd")
        if decomposable:  # only below autograd: autograd decomposes them otherwise
            with self:
                if func is sdpa and cap.on_meta:
                    return _sdpa_as_on_cpu(func, args, kwargs)
                return _composite(func, args, kwargs)
        out = func(*args, **kwargs)
        cap.record(func, args, kwargs, out)
        return out

    # torch wraps a mode's __torch_dispatch__ so that dynamo skips it, and that wrapper imports
    # torch._dynamo on its first call (about 1.5 s of a cold count): it looks for the function
    # to call under this attribute first, and nothing here is ever compiled
    setattr(dispatch, "__dynamo_disable", dispatch)

    class Recorder(TorchDispatchMode):  # type: ignore[no-untyped-call]
        __torch_dispatch__ = dispatch

    hooks = torch.nn.modules.module
    pre = hooks.register_module_forward_pre_hook(cap.pre_hook)
    post = hooks.register_module_forward_hook(cap.post_hook)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.no_grad())
            if cap.on_meta:  # so that attention reaches the recorder whole (see above)
                stack.enter_context(torch._C._AutoDispatchBelowAutograd())
            stack.enter_context(Recorder())  # type: ignore[no-untyped-call]
            yield
    finally:
        pre.remove()
        post.remove()
        torch.backends.mha.set_fastpath_enabled(fastpath)


def _composite(func: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    """Run ``func``'s C++ composite kernel, as the autograd layer does, so that its ops reach
    the recorder. Not ``func.decompose``: that prefers torch's Python decompositions where
    there are some, which can differ (eval-mode dropout is nothing in C++, a clone there)."""
    torch = import_torch()
    return func._op_dk(torch._C.DispatchKey.CompositeImplicitAutograd, *args, **kwargs)


_SDPA_ARGS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
_SDPA_DEFAULTS = (None, None, None, None, 0.0, False, None, False)
_FLASH = 1  # torch's SDPBackend.flash_attention, as _fused_sdp_choice returns it


def _sdpa_as_on_cpu(func: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    """``aten::scaled_dot_product_attention`` on meta tensors, run as on the CPU.

    On the CPU, torch picks its fused flash kernel when the inputs allow it (one op, recorded
    as one Attention node); on the meta device it always takes the math path (a dozen
    matmul/softmax/mask ops with a different FLOP count). So the meta count matches the CPU
    one, torch's own CPU choice is asked of stand-in CPU tensors of the same sizes, dtypes and
    last-dim strides (a row of elements each), and when it is the flash kernel, that kernel's
    meta implementation is called the way the CPU path calls it (a boolean mask made
    additive first); otherwise the op is broken up as on the CPU."""
    torch = import_torch()
    from torch.utils._python_dispatch import _disable_current_modes

    bound: dict[str, Any] = dict(zip(_SDPA_ARGS, _SDPA_DEFAULTS, strict=True))
    bound.update(zip(_SDPA_ARGS, args, strict=False))
    bound.update(kwargs)
    q, k, v, mask = bound["query"], bound["key"], bound["value"], bound["attn_mask"]
    dropout, causal, scale = bound["dropout_p"], bound["is_causal"], bound["scale"]
    try:
        with _disable_current_modes():
            stand_ins = [_cpu_stand_in(t) for t in (q, k, v, mask)]
            choice = int(
                torch._fused_sdp_choice(
                    *stand_ins,
                    dropout,
                    causal,
                    scale=scale,
                    enable_gqa=bool(bound["enable_gqa"]),
                )
            )
    except (RuntimeError, TypeError, ValueError):  # invalid inputs: let torch itself say why
        choice = -1
    if choice != _FLASH:
        return _composite(func, args, kwargs)
    if mask is not None and mask.dtype == torch.bool:  # as the CPU path converts it
        zero = torch.scalar_tensor(0.0, dtype=q.dtype, device=q.device)
        minus_inf = torch.scalar_tensor(float("-inf"), dtype=q.dtype, device=q.device)
        mask = torch.where(mask, zero, minus_inf)
    flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default
    return flash(q, k, v, dropout, causal, attn_mask=mask, scale=scale)[0]


def _cpu_stand_in(t: Any) -> Any:
    """A CPU tensor with ``t``'s sizes, dtype and whether its last dim is contiguous, holding
    only a row of elements (the other dims have stride 0)."""
    if t is None:
        return None
    torch = import_torch()
    if t.dim() == 0:
        return torch.empty((), dtype=t.dtype)
    last = int(t.shape[-1])
    step = 1 if t.stride(-1) == 1 else 2
    row = torch.empty(max(last - 1, 0) * step + 1, dtype=t.dtype)
    return row.as_strided(tuple(t.shape), (0,) * (t.dim() - 1) + (step,))


def load_module(
    module: torch.nn.Module,
    inputs: InputShapes,
    *,
    name: str = "model",
    default_shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> Graph:
    """Run ``module`` once on random inputs of the given shapes (any form of
    :data:`~modelprof.shapes.InputShapes`; an example tensor's dtype is used, not its values)
    and record its Graph. The inputs are made on the module's device: on the meta device a
    module is counted without memory for its weights or activations."""
    names = list(default_shapes) if default_shapes else input_names(module)
    specs = resolve_inputs(inputs, names)
    shapes: dict[str, tuple[tuple[int, ...], str]] = {}
    for n in names:
        if n in specs:
            shapes[n] = (specs[n].shape, specs[n].dtype or "float32")
        elif default_shapes and n in default_shapes:
            shapes[n] = (tuple(default_shapes[n]), "float32")
        else:
            raise ShapeError(
                f"no shape for input '{n}' of {name}: give one with {how_to_give(n, inputs)}"
            )
    example = random_inputs((shapes[n] for n in names), device=module_device(module))
    return record_graph(
        module, lambda: module(*example), inputs=example, input_labels=names, name=name
    )


def module_device(module: torch.nn.Module) -> Any:
    """The device ``module``'s first parameter (or buffer) lives on; CPU when it has none."""
    torch = import_torch()
    for t in itertools.chain(module.parameters(), module.buffers()):
        return t.device
    return torch.device("cpu")


def record_graph(
    module: torch.nn.Module,
    run: Callable[[], Any],
    *,
    inputs: Sequence[torch.Tensor] = (),
    input_labels: Sequence[str] = (),
    name: str = "model",
) -> Graph:
    """Run ``run()`` (which calls ``module`` however it needs: keyword arguments, a KV cache,
    several calls) under the recorder and return the recorded Graph; ``inputs`` are the
    tensors named as the graph's inputs.

    Every op ``run()`` dispatches is recorded, named after the submodule of ``module`` it ran
    in; tensors ``run()`` makes itself (a cache, position ids) are constants unless listed in
    ``inputs``. ``input_labels`` are the user-facing names of ``inputs`` (the forward
    arguments they are passed as), in the same order. The graph's outputs are the tensors in
    what ``run()`` returns (tuples, lists and mappings such as a transformers ModelOutput are
    looked into). Works the same on any device, the meta device included, and whatever the
    caller's grad mode (``torch.inference_mode`` too). Whatever ``run()`` raises becomes a
    one-line :class:`~modelprof.errors.ModelLoadError`.
    """
    torch = import_torch()
    cap = _Capture(module)
    input_tensor_names = [cap.name_of(t, new_ok=True) for t in inputs]
    cap.constants.difference_update(input_tensor_names)
    labels = tuple(input_labels)
    cap.on_meta = cap.on_meta or any(t.is_meta for t in inputs)
    try:
        with recording(cap):
            result = run()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # user code: SystemExit too
        message = first_line(exc)
        on = ""
        if inputs:
            shown = labels if len(labels) == len(inputs) else input_tensor_names
            described = ", ".join(
                f"{n}={_fmt(tuple(t.shape))}" for n, t in zip(shown, inputs, strict=True)
            )
            on = f" on inputs {described}"
        raise ModelLoadError(
            f"running {name}{on} failed: {type(exc).__name__}: {message}"
        ) from None

    outputs = [
        cap.name_of(t, new_ok=True) for t in _flatten_output(result) if isinstance(t, torch.Tensor)
    ]
    nodes = _nodes(cap.records)
    params = sum(p.numel() for p in module.parameters())
    buffers = sum(b.numel() for b in module.buffers() if b.is_floating_point())
    return Graph(
        name=name,
        source="pytorch",
        nodes=tuple(nodes),
        tensors=cap.tensors,
        inputs=tuple(input_tensor_names),
        outputs=tuple(outputs),
        weights=cap.weights,
        constants=frozenset(cap.constants),
        aliases=cap.aliases,
        notes=tuple(_batchnorm_notes(nodes, cap)),
        param_total=params,
        buffer_total=buffers,
        input_labels=labels if len(labels) == len(inputs) else (),
    )


def _flatten_output(result: Any) -> Iterator[Any]:
    """The leaves of what a forward returns: tuples, lists and mappings (a transformers
    ``ModelOutput`` is one) are looked into, in order."""
    if isinstance(result, Mapping):
        for value in result.values():
            yield from _flatten_output(value)
    elif isinstance(result, list | tuple):
        for value in result:
            yield from _flatten_output(value)
    else:
        yield result


def _fmt(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def _nodes(
    records: list[tuple[str, str, tuple[str, ...], tuple[str, ...], dict[str, Any], _Call]],
) -> list[Node]:
    """Name each op after its module: the module path alone when a leaf module's call ran one
    op (``layer1.0.conv1``), ``path/OpType`` otherwise (a block's own residual add is
    ``layer1.0/Add``); repeated calls of one module get ``#2``, ``#3``."""
    per_call: dict[int, int] = {}
    for *_, call in records:
        per_call[call.serial] = per_call.get(call.serial, 0) + 1
    used: dict[str, int] = {}
    nodes = []
    for aten, op, inputs, outputs, attrs, call in records:
        if call.path and call.leaf and per_call[call.serial] == 1:
            base = call.path
        else:
            base = f"{call.path}/{op}" if call.path else op
        seen = used.get(base, 0)
        used[base] = seen + 1
        label = base if not seen else f"{base}#{seen + 1}"
        del aten
        nodes.append(Node(label, op, inputs, outputs, attrs, scope=call.path))
    return nodes


def _batchnorm_notes(nodes: list[Node], cap: _Capture) -> list[str]:
    """Say how many params an exporter that folds BatchNorm into convs will report fewer of."""
    producer = {out: n for n in nodes for out in n.outputs}
    layers = channels = folded = 0
    for n in nodes:
        if n.op_type != "BatchNormalization":
            continue
        c = cap.tensors[n.inputs[0]].shape[1] if n.inputs[0] in cap.tensors else 0
        layers += 1
        channels += c
        conv = producer.get(n.inputs[0])
        if conv is not None and conv.op_type == "Conv":
            has_bias = len(conv.inputs) > 2 and bool(conv.inputs[2])
            folded += c * (2 if has_bias else 1)
    if not layers:
        return []
    return [
        f"BatchNorm: {layers} layers, {channels:,} channels (gamma, beta counted as params; "
        f"running mean/var as buffers). An exporter that folds BatchNorm into the preceding "
        f"conv (torch.onnx does) reports {folded:,} fewer params: gamma and beta become a conv "
        f"bias of one value per channel."
    ]


#: Where the layer classes modelprof's rewrites insert lived in earlier versions: a pickle
#: names a class by its module, so ``.pt`` files saved then name these modules.
MOVED_CLASS_MODULES = {"modelprof.transforms.torch_layers": "modelprof.frontends.torch_layers"}


#: The record :func:`save_module` adds to a ``torch.save`` archive, next to its ``data.pkl``:
#: the user files the module's classes come from, by module name (``{"my_net":
#: "/abs/path/my_net.py"}``). ``torch.load`` ignores records it does not know.
SOURCES_RECORD = "modelprof/sources.json"


def save_module(module: Any, path: Path) -> None:
    """``torch.save(module, path)``, plus where the user files its classes come from, so that
    :func:`load_pickled` finds them from any folder (``--save x.pt``)."""
    torch = import_torch()
    torch.save(module, path)
    sources = _user_sources(module)
    if not sources:
        return
    with zipfile.ZipFile(path, "a") as archive:
        pickled = next(n for n in archive.namelist() if n.endswith("data.pkl"))
        archive.writestr(pickled.removesuffix("data.pkl") + SOURCES_RECORD, json.dumps(sources))


def _user_sources(module: Any) -> dict[str, str]:
    """The user files (see :data:`USER_FILES`) that the classes of ``module``'s submodules,
    and the objects they hold, come from."""
    names: set[object] = set()
    for m in module.modules():
        names.add(type(m).__module__)
        for value in vars(m).values():
            names.update((type(value).__module__, getattr(value, "__module__", None)))
    return {n: str(path) for n, (path, _) in USER_FILES.items() if n in names}


def _recorded_sources(path: Path) -> dict[str, str]:
    """The record :func:`save_module` wrote into ``path``, or nothing."""
    try:
        with zipfile.ZipFile(path) as archive:
            record = next((n for n in archive.namelist() if n.endswith("/" + SOURCES_RECORD)), None)
            data = json.loads(archive.read(record)) if record else {}
    except (OSError, ValueError, zipfile.BadZipFile):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def _import_user_module(name: str, recorded: str | None, folders: Sequence[Path]) -> None:
    """Import the user file that defines module ``name``, which no import finds: the file
    recorded when it was saved, else ``<stem>.py`` in one of ``folders``."""
    private = _PRIVATE.fullmatch(name)
    stem = private["stem"] if private else name
    candidates = [Path(recorded)] if recorded else []
    candidates += [folder / f"{stem}.py" for folder in folders]
    for candidate in candidates:
        if candidate.is_file():
            _import_file(name, candidate)
            return
    saved_from = f" (it was saved from {recorded})" if recorded else ""
    raise ModelLoadError(
        f"its classes are defined in module '{name}', which is not importable{saved_from}: "
        f"put {stem}.py next to it, in the current folder or on PYTHONPATH"
    )


class _RelocatingUnpickler(pickle.Unpickler):
    """An unpickler that finds classes at their new module when a pickle names an old one,
    and imports the user file a class comes from (``my_net.py``) when no import finds it."""

    sources: Mapping[str, str] = {}
    folders: Sequence[Path] = ()

    def find_class(self, module: str, name: str) -> Any:
        module = MOVED_CLASS_MODULES.get(module, module)
        try:
            return super().find_class(module, name)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
        _import_user_module(module, self.sources.get(module), self.folders)
        return super().find_class(module, name)


def _relocating_pickle(path: Path) -> ModuleType:
    """``pickle`` with :class:`_RelocatingUnpickler` for ``path``, in the shape ``torch.load``
    takes: user files are looked for where the record in ``path`` says, then next to
    ``path``, then in the current folder."""
    folders = list(dict.fromkeys((path.resolve().parent, Path.cwd())))
    unpickler = type(
        "Unpickler",
        (_RelocatingUnpickler,),
        {"sources": _recorded_sources(path), "folders": folders},
    )
    module = ModuleType("modelprof_relocating_pickle")
    module.Unpickler = unpickler  # type: ignore[attr-defined]
    module.load = pickle.load  # type: ignore[attr-defined]
    return module


def load_pickled(path: Path) -> Any:
    """A whole module saved with ``torch.save(module)`` (what ``--save x.pt`` writes). A class
    from a user file (``my_net.py:build``) is found by its module name, or else in the file
    :func:`save_module` recorded, ``my_net.py`` next to ``path`` or in the current folder."""
    torch = import_torch()
    if not path.is_file():
        raise ModelLoadError(f"no such file: {path}")
    try:
        # modules rewritten by modelprof reference its layer classes: make them importable
        from . import torch_layers  # noqa: F401

        obj = torch.load(
            path, map_location="cpu", weights_only=False, pickle_module=_relocating_pickle(path)
        )
    except ModelLoadError as exc:
        raise ModelLoadError(f"{path} could not be unpickled: {exc}") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # user code: SystemExit too
        message = f"{type(exc).__name__}: {safe_str(exc)}"
        raise ModelLoadError(f"{path} could not be unpickled: {message}") from None
    if not isinstance(obj, torch.nn.Module):
        raise ModelLoadError(
            f"{path} holds a {type(obj).__name__}, not a whole module (a state_dict needs its "
            "model class: use file.py:factory instead)"
        )
    return obj.eval()
