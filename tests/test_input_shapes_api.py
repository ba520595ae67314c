"""The Python API takes inputs the way Python code has them: a bare shape or an example tensor
(or numpy array) for a model with one input, a mapping name -> shape or tensor, one shape or
tensor per input for several; an example's dtype is used. Errors about them speak Python; the
command line keeps its ``--input-shape`` wording."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import modelprof
from modelprof.cli.main import main
from modelprof.errors import ShapeError


class _Conv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x))


class _TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 2)
        self.b = nn.Linear(6, 2)

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return self.a(left) + self.b(right)


class _Embedding(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(100, 16)
        self.fc = nn.Linear(16, 4)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.fc(self.embed(ids))


CONV_MACS = modelprof.count(_Conv(), {"x": (1, 3, 32, 32)}).total.macs


@pytest.mark.parametrize(
    "given",
    [
        (1, 3, 32, 32),
        [1, 3, 32, 32],
        torch.Size([1, 3, 32, 32]),
        torch.randn(1, 3, 32, 32),
        np.zeros((1, 3, 32, 32), dtype=np.float32),
        (np.int64(1), 3, 32, 32),
        [torch.randn(1, 3, 32, 32)],
        {"x": torch.randn(1, 3, 32, 32)},
        {"x": np.zeros((1, 3, 32, 32), dtype=np.float32)},
    ],
    ids=[
        "tuple",
        "list",
        "torch.Size",
        "tensor",
        "ndarray",
        "numpy-int-dims",
        "list-of-one-tensor",
        "dict-of-tensor",
        "dict-of-ndarray",
    ],
)
def test_a_single_input_model_takes_a_shape_or_an_example(given: object) -> None:
    assert CONV_MACS == 8 * 27 * 30 * 30
    assert modelprof.count(_Conv(), given).total.macs == CONV_MACS


def test_several_inputs_are_given_in_order_or_by_name() -> None:
    by_name = modelprof.count(_TwoInputs(), {"left": (3, 4), "right": (3, 6)}).total.macs
    assert by_name == 3 * (4 * 2 + 6 * 2)
    for given in (
        ((3, 4), (3, 6)),
        [torch.randn(3, 4), torch.randn(3, 6)],
        (np.zeros((3, 4), np.float32), torch.randn(3, 6)),
        {"left": torch.randn(3, 4), "right": (3, 6)},
    ):
        assert modelprof.count(_TwoInputs(), given).total.macs == by_name


def test_an_example_tensor_gives_its_dtype() -> None:
    ids = torch.zeros(2, 8, dtype=torch.int64)
    for given in (ids, {"ids": ids}, ids.numpy()):
        graph = modelprof.load_graph(_Embedding(), given)
        assert graph.tensors[graph.inputs[0]].dtype == "int64"
        assert modelprof.count(_Embedding(), given).total.macs == 2 * 8 * 16 * 4


def test_errors_about_inputs_speak_python(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ShapeError) as wrong_name:
        modelprof.count(_Conv(), {"y": (1, 3, 32, 32)})
    assert str(wrong_name.value) == "input_shapes names 'y', but the model's inputs are: x"
    with pytest.raises(ShapeError, match="give one shape per input") as bare:
        modelprof.count(_TwoInputs(), (3, 4))
    assert "{'left': (1, 3, 224, 224), ...}" in str(bare.value)
    with pytest.raises(ShapeError, match=r"gives 3 input\(s\), but the model has 2"):
        modelprof.count(_TwoInputs(), [(3, 4), (3, 6), (3, 1)])
    with pytest.raises(ShapeError, match=r"input_shapes\['x'\]: expected a shape"):
        modelprof.count(_Conv(), {"x": "1x3x32x32"})
    with pytest.raises(ShapeError, match=r"input_shapes\[1\]: expected a shape"):
        modelprof.count(_TwoInputs(), [(3, 4), None])
    with pytest.raises(ShapeError, match="an example of dtype 'object'"):
        modelprof.count(_Conv(), np.empty((1, 3, 8, 8), dtype=object))
    with pytest.raises(ShapeError) as missing:
        modelprof.count(_Conv())
    assert "input_shapes={'x': (1, 3, 224, 224)}" in str(missing.value)
    # the command line keeps its own words
    assert main(["count", "seed-cnn", "--input-shape", "y=1x1x28x28"]) == 2
    assert "--input-shape names 'y', but the model's inputs are: input" in capsys.readouterr().err


def test_an_onnx_file_takes_a_bare_shape_or_an_array(
    tmp_path: Path, export: Callable[..., Path]
) -> None:
    path = export(_Conv(), (1, 3, 32, 32), tmp_path / "conv.onnx")
    for given in (
        (1, 3, 32, 32),
        np.zeros((1, 3, 32, 32), np.float32),
        [torch.randn(1, 3, 32, 32)],
    ):
        assert modelprof.count(path, given).total.macs == CONV_MACS
    with pytest.raises(ShapeError, match="input_shapes names 'x', but the model's inputs are"):
        modelprof.count(path, {"x": (1, 3, 32, 32)})
