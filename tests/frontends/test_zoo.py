"""Tests for the built-in model zoo (modelprof.frontends.zoo)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelprof.frontends import zoo

torch = pytest.importorskip("torch")

# name -> (parameter count, output shape, a few torchvision-style state_dict keys, len(state_dict))
EXPECTED: dict[str, tuple[int, tuple[int, ...], tuple[str, ...], int]] = {
    "seed-cnn": (79_260, (1, 10), ("conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"), 4),
    "seed-separable": (
        370_079,
        (1, 10),
        ("dw1.weight", "pw1.weight", "dw2.weight", "pw2.weight", "fc1.weight", "fc2.weight"),
        6,
    ),
    "resnet18": (
        11_689_512,
        (1, 1000),
        ("conv1.weight", "layer2.0.downsample.0.weight", "layer4.1.bn2.running_var", "fc.bias"),
        122,
    ),
    "resnet50": (
        25_557_032,
        (1, 1000),
        ("layer1.0.downsample.1.running_mean", "layer4.2.conv3.weight", "layer4.2.bn3.bias"),
        320,
    ),
    "mobilenet_v1": (
        4_231_976,
        (1, 1000),
        ("features.0.0.weight", "features.13.pointwise.1.running_var", "fc.weight"),
        164,
    ),
    "mobilenet_v2": (
        3_504_872,
        (1, 1000),
        (
            "features.0.0.weight",
            "features.1.conv.0.0.weight",
            "features.1.conv.1.weight",
            "features.2.conv.3.running_var",
            "features.18.1.weight",
            "classifier.1.weight",
        ),
        314,
    ),
    "vgg16": (
        138_357_544,
        (1, 1000),
        ("features.0.weight", "features.28.bias", "classifier.0.weight", "classifier.6.bias"),
        32,
    ),
    "transformer": (
        3_152_384,
        (1, 128, 512),
        ("self_attn.in_proj_weight", "self_attn.out_proj.weight", "linear1.weight", "norm2.bias"),
        12,
    ),
}

SLOW = {"vgg16"}


def _param_cases() -> list[object]:
    return [
        pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in EXPECTED
    ]


def test_registry_lists_every_model() -> None:
    assert zoo.names() == list(EXPECTED)
    assert list(zoo.ZOO) == zoo.names()
    for name in zoo.names():
        entry = zoo.get(name)
        assert entry.name == name
        assert entry.description and "\n" not in entry.description
        assert list(entry.input_shapes) == ["input"]
        assert all(isinstance(d, int) and d > 0 for d in entry.input_shapes["input"])


@pytest.mark.parametrize("name", _param_cases())
def test_build_params_and_forward(name: str) -> None:
    n_params, out_shape, keys, n_keys = EXPECTED[name]
    entry = zoo.get(name)
    model = entry.build()

    assert isinstance(model, torch.nn.Module)
    assert not model.training
    assert sum(p.numel() for p in model.parameters()) == n_params

    state = model.state_dict()
    for key in keys:
        assert key in state, key
    assert len(state) == n_keys

    inputs = [torch.randn(*shape) for shape in entry.input_shapes.values()]
    with torch.no_grad():
        out = model(*inputs)
    assert tuple(out.shape) == out_shape
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["seed-cnn", "resnet18"])
def test_build_is_deterministic(name: str) -> None:
    a = zoo.get(name).build().state_dict()
    b = zoo.get(name).build().state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_build_leaves_global_rng_alone() -> None:
    torch.manual_seed(1234)
    expected = torch.rand(4)
    torch.manual_seed(1234)
    zoo.get("seed-cnn").build()
    assert torch.equal(torch.rand(4), expected)


def test_batchnorm_parameters_and_stats_are_randomised() -> None:
    model = zoo.get("resnet18").build()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 20
    for bn in bns:
        assert not torch.all(bn.running_var == 1)
        assert not torch.all(bn.running_mean == 0)
        assert not torch.all(bn.weight == 1)
        assert not torch.all(bn.bias == 0)
        assert torch.all(bn.running_var > 0)


def test_transformer_has_no_zero_biases() -> None:
    model = zoo.get("transformer").build()
    assert isinstance(model, torch.nn.TransformerEncoderLayer)
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            assert p.abs().sum() > 0, name


def test_unknown_name_suggests_close_match() -> None:
    with pytest.raises(KeyError, match="resnet18") as info:
        zoo.get("resnet-18")
    message = str(info.value)
    assert "Did you mean" in message
    assert "mobilenet_v2" in message  # the full list of available names follows


def test_importing_zoo_does_not_import_torch() -> None:
    src = Path(zoo.__file__).resolve().parents[2]
    code = "import sys, modelprof.frontends.zoo; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True,
    )


def test_a_zoo_model_without_torch_names_the_extra() -> None:
    # the zoo's classes live in zoo_models, which imports torch: without torch that was an
    # ImportError, an internal error (exit 3), instead of the one line naming the extra
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from modelprof.cli.main import main\n"
        "sys.exit(main(['count', 'seed-cnn']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "modelprof: error: this needs the 'torch' package, which is not installed: "
        "pip install 'modelprof[torch]'"
    ]
