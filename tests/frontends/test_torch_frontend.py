"""PyTorch frontend: factory specs, names, params and buffers, and user errors."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import modelprof
from modelprof.errors import ModelLoadError, ShapeError

NET = """
import torch
from torch import nn

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.block(x).mean(dim=(2, 3)))

def build():
    return Net()

def broken():
    raise RuntimeError("no weights here")

def not_a_module():
    return 42
"""


@pytest.fixture()
def net_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_net.py"
    path.write_text(textwrap.dedent(NET))
    return path


def test_file_factory_spec_counts_with_module_paths(net_file: Path) -> None:
    report = modelprof.count(f"{net_file}:build", {"x": (1, 3, 32, 32)})
    conv = report.layer("block.conv")
    # 8 x 32 x 32 x 3 x 3x3 = 221,184 MACs; weight 216 + bias 8 params
    assert (conv.macs, conv.params) == (221_184, 224)
    assert report.layer("block.bn").params == 16
    assert report.layer("head").macs == 16
    # conv 224 + bn 16 + head 18 params; running mean/var 16 buffers
    assert report.total.params == 258
    assert report.total.buffers == 16
    assert {g.key for g in report.by_scope(1)} == {"block", "", "head"}
    # the relu called inside Block.forward (not a module of its own) is named after the block
    assert report.layer("block/Relu").flops == 8 * 32 * 32


def test_package_module_factory_spec(net_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(net_file.parent))
    sys.modules.pop("my_net", None)
    report = modelprof.count("my_net:build", {"x": (2, 3, 8, 8)})
    assert report.layer("block.conv").macs == 2 * 8 * 64 * 27


@pytest.mark.parametrize(
    ("attr", "message"),
    [
        ("broken", r"calling .*:broken\(\) failed: RuntimeError: no weights here"),
        ("not_a_module", "returned int, not a torch.nn.Module"),
        ("missing", "has no 'missing'"),
    ],
)
def test_factory_errors(net_file: Path, attr: str, message: str) -> None:
    with pytest.raises(ModelLoadError, match=message):
        modelprof.count(f"{net_file}:{attr}", {"x": (1, 3, 8, 8)})


def test_factory_file_that_does_not_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import not_a_real_package_xyz\n")
    with pytest.raises(ModelLoadError, match=r"importing .*bad\.py failed: ModuleNotFoundError"):
        modelprof.count(f"{bad}:build", {"x": (1, 3)})
    with pytest.raises(ModelLoadError, match="no such Python file"):
        modelprof.count(f"{tmp_path / 'nope.py'}:build")


def test_module_needs_shapes_and_wrong_shapes_fail_cleanly(net_file: Path) -> None:
    with pytest.raises(ShapeError, match="no shape for input 'x'"):
        modelprof.count(f"{net_file}:build")
    with pytest.raises(ModelLoadError, match="failed: RuntimeError"):
        modelprof.count(f"{net_file}:build", {"x": (1, 5, 8, 8)})


def test_nn_module_object_and_repeated_module_calls() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.fc(x))

    report = modelprof.count(Twice(), {"x": (3, 4)})
    assert [layer.name for layer in report.layers] == ["fc", "fc#2"]
    # shared weight: counted once in total and on its first use
    assert [layer.params for layer in report.layers] == [16, 0]
    assert report.total.macs == 2 * 3 * 4 * 4


def test_unknown_aten_op_is_reported_not_zero() -> None:
    class Kth(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.kthvalue(x, 2, dim=-1).values

    report = modelprof.count(Kth(), {"x": (2, 5)})
    assert report.unsupported == {"aten::kthvalue": 1}
    assert report.node_coverage == 0.0


@pytest.mark.parametrize(("dim", "stable"), [(-1, False), (0, False), (1, True)])
def test_sort_counts_n_log_n_compares_along_its_dim(dim: int, stable: bool) -> None:
    class Sorts(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sort(x, dim=dim, stable=stable).values

    report = modelprof.count(Sorts(), {"x": (2, 5)})
    assert report.unsupported == {}
    # along dim 1 (or -1): 2 lines of 5, ceil(log2 5) = 3 -> 2 x 5 x 3 = 30;
    # along dim 0: 5 lines of 2, ceil(log2 2) = 1 -> 5 x 2 x 1 = 10
    assert report.total.flops == (10 if dim == 0 else 30)


def test_histc_counts_one_flop_per_element() -> None:
    class Hist(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.histc(x, bins=4, min=-1.0, max=1.0)

    report = modelprof.count(Hist(), {"x": (3, 7)})
    assert report.unsupported == {}
    assert report.total.flops == 21  # 3 x 7 elements, one bin index each


def test_a_pt_file_saved_before_the_layer_classes_moved_still_loads(tmp_path: Path) -> None:
    # saved by modelprof when SeparableConv lived in modelprof.transforms.torch_layers: a
    # depthwise 3x3 over 2 channels then a 1x1 to 4 channels, no biases, then ReLU
    from modelprof.frontends.torch import load_pickled

    saved = Path(__file__).parent.parent / "data" / "separable_saved_before_layout_change.pt"
    module = load_pickled(saved)
    assert type(module[0]).__module__ == "modelprof.frontends.torch_layers"
    report = modelprof.count(module, {"input": (1, 2, 5, 5)})
    # depthwise: 2 x 3 x 3 outputs x 9 taps = 162; pointwise: 4 x 3 x 3 outputs x 2 = 72
    assert report.total.macs == 162 + 72
    assert report.total.params == 2 * 9 + 4 * 2
    assert module(torch.ones(1, 2, 5, 5)).shape == (1, 4, 3, 3)


def test_counting_does_not_import_torch_dynamo() -> None:
    # torch's wrapper around a dispatch mode imported torch._dynamo on its first call: about
    # 1.5 s of every cold count (benchmarks/bench_cold_start.py measures the whole start)
    import subprocess

    code = (
        "import sys, modelprof; r = modelprof.count('seed-cnn'); "
        "print(r.total.flops, any(m.startswith('torch._dynamo') for m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["394780", "False"], result.stderr


def _count_run(run: object, *inputs: torch.Tensor) -> modelprof.CostReport:
    from modelprof.analysis import analyze
    from modelprof.frontends.torch import record_graph

    return analyze(record_graph(nn.Module(), run, inputs=inputs))  # type: ignore[arg-type]


def test_cumsum_costs_one_add_per_element_after_the_first() -> None:
    x = torch.ones(3, 5)
    # along dim 1: 3 rows x (5 - 1) adds = 12; along dim 0: 5 columns x (3 - 1) = 10
    report = _count_run(lambda: (x.cumsum(1), x.cumsum(0)), x)
    assert [(layer.op, layer.flops) for layer in report.layers] == [("CumSum", 12), ("CumSum", 10)]
    assert report.unsupported == {}


def test_cumsum_rule_without_its_axis_is_not_counted_rather_than_guessed() -> None:
    from modelprof.costs import REGISTRY, OpCall
    from modelprof.costs.registry import MissingShapeError
    from modelprof.graph import TensorInfo

    rule = REGISTRY.lookup("CumSum")
    assert rule is not None
    line = TensorInfo("x", (6,), "float32")
    grid = TensorInfo("x", (2, 6), "float32")
    # ONNX gives the axis as a tensor input: a 1-D input can only be summed along axis 0
    assert rule(OpCall("CumSum", (line, None), (line,))).flops == 5
    # exclusive: outputs 0, x0, x0 + x1, ...: 6 - 2 = 4 adds
    assert rule(OpCall("CumSum", (line, None), (line,), {"exclusive": 1})).flops == 4
    with pytest.raises(MissingShapeError, match="axis"):
        rule(OpCall("CumSum", (grid, None), (grid,)))


def test_reductions_selections_and_free_aten_ops_are_counted() -> None:
    x = torch.randn(4, 6)
    flags = x > 0
    ids = torch.zeros(3, dtype=torch.int64)

    def run() -> tuple[object, ...]:
        y = torch.empty(24)
        y.as_strided_((4, 6), (6, 1))  # restrided in place, as ConvNeXt's pooling view
        values, _ = torch.topk(x, 2, dim=1)
        scalar = x.sum().item()  # aten::_local_scalar_dense: reads one value
        z = x.clone()
        z[ids] = 1.0  # aten::index_put_
        return flags.all(), flags.any(dim=1), values, scalar, torch.floor_divide(x, 2.0), z

    report = _count_run(run, x)
    assert report.unsupported == {}
    flops = {layer.op: layer.flops for layer in report.layers}
    # all/any read each of the 24 flags once; topk compares each of the 24 elements
    assert flops["aten::all"] == 24
    assert report.layer("aten::any").flops == 24
    assert flops["TopK"] == 24
    assert flops["Div"] == 24  # floor_divide: one per element
    assert flops["Identity"] == 0  # as_strided_ and .item()
    assert flops["ScatterND"] == 0


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "offs", "macs"),
    [
        # rows of A (12 tokens) split 4 + 4 + 4 over 3 experts of (8 -> 4): 12 x 8 x 4 = 384
        ((12, 8), (3, 8, 4), (4, 8, 12), 384),
        # uneven groups 0 + 8 + 4: still 12 rows x 8 x 4 = 384
        ((12, 8), (3, 8, 4), (0, 8, 12), 384),
        # batched: 3 groups of (4 x 8) @ (8 x 4): 3 x 4 x 8 x 4 = 384
        ((3, 4, 8), (3, 8, 4), None, 384),
        # columns of B (12) split over 3 groups: 4 x 8 x 12 = 384
        ((3, 4, 8), (8, 12), (4, 8, 12), 384),
        # the shared K (12) split: out (3, 4, 8); sum over groups 4 x k_g x 8 = 4 x 12 x 8 = 384
        ((4, 12), (12, 8), (4, 8, 12), 384),
    ],
)
def test_grouped_mm_costs_the_sum_of_its_groups(
    a_shape: tuple[int, ...], b_shape: tuple[int, ...], offs: tuple[int, ...] | None, macs: int
) -> None:
    a, b = torch.randn(a_shape), torch.randn(b_shape)
    offsets = None if offs is None else torch.tensor(offs, dtype=torch.int32)
    report = _count_run(lambda: torch._grouped_mm(a, b, offs=offsets), a, b)
    assert [(layer.op, layer.macs) for layer in report.layers] == [("aten::_grouped_mm", macs)]
