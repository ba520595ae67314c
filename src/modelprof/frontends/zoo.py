"""Built-in model zoo: reference PyTorch models defined from scratch.

The architectures mirror torchvision's (same layer layout, same module names,
same parameter counts) but are written here so that no torchvision install and
no weight download is needed.  Every model is built with a fixed seed and
random weights; BatchNorm affine parameters *and* running statistics are
randomised too, so that an exporter folding BatchNorm into the preceding
convolution always produces a non-trivial bias.

``torch`` is imported lazily (inside :func:`_define` and the factories) so that
importing this module, and therefore ``import modelprof``, stays cheap.

Published multiply-accumulate counts (convolution + linear layers only, batch 1)
that the definitions below reproduce:

==============  ===========  =============
model           parameters   MACs
==============  ===========  =============
resnet18        11,689,512   1.814 G
resnet50        25,557,032   4.089 G
mobilenet_v1     4,231,976   568.7 M
mobilenet_v2     3,504,872   300.8 M
vgg16          138,357,544   15.47 G
==============  ===========  =============
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from torch import nn

__all__ = ["ZOO", "ZooEntry", "get", "names"]

_SEED = 0


@dataclass(frozen=True)
class ZooEntry:
    """A named, reproducibly initialised model together with its input shapes."""

    name: str
    description: str
    input_shapes: dict[str, tuple[int, ...]] = field(hash=False)
    factory: Callable[[], nn.Module] = field(repr=False)

    def build(self) -> nn.Module:
        """Instantiate the model (seeded, random weights) in eval mode."""
        module = self.factory()
        module.eval()
        return module


# --------------------------------------------------------------------------- #
# Model classes (in zoo_models.py, imported on first use so torch loads lazily)
# --------------------------------------------------------------------------- #


class _Classes(NamedTuple):
    SeedCNN: type[nn.Module]
    SeedSeparable: type[nn.Module]
    BasicBlock: type[nn.Module]
    Bottleneck: type[nn.Module]
    ResNet: type[nn.Module]
    MobileNetV1: type[nn.Module]
    MobileNetV2: type[nn.Module]
    VGG: type[nn.Module]


@functools.cache
def _define() -> _Classes:
    """The model classes; torch is imported here, on first use (without it: the one line
    naming the extra to install, not an ImportError from zoo_models)."""
    from .torch import import_torch

    import_torch()
    from . import zoo_models as m

    return _Classes(
        SeedCNN=m.SeedCNN,
        SeedSeparable=m.SeedSeparable,
        BasicBlock=m.BasicBlock,
        Bottleneck=m.Bottleneck,
        ResNet=m.ResNet,
        MobileNetV1=m.MobileNetV1,
        MobileNetV2=m.MobileNetV2,
        VGG=m.VGG,
    )


# --------------------------------------------------------------------------- #
# Initialisation helpers
# --------------------------------------------------------------------------- #


def _seeded(make: Callable[[], nn.Module]) -> nn.Module:
    """Build ``make()`` under a fixed seed, then randomise its normalisation layers.

    The global RNG state is saved and restored, so building a zoo model does not
    perturb the caller's random stream.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        module = make()
        _randomize_norms(module)
    return module


def _randomize_norms(module: nn.Module) -> None:
    """Give every BatchNorm/LayerNorm non-default affine parameters and statistics."""
    import torch
    from torch import nn

    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                if m.weight is not None:
                    m.weight.uniform_(0.5, 1.5)
                if m.bias is not None:
                    m.bias.normal_().mul_(0.1)
                if m.running_mean is not None:
                    m.running_mean.normal_().mul_(0.1)
                if m.running_var is not None:
                    m.running_var.uniform_(0.5, 1.5)
            elif isinstance(m, nn.LayerNorm):
                if m.weight is not None:
                    m.weight.uniform_(0.5, 1.5)
                if m.bias is not None:
                    m.bias.normal_().mul_(0.1)


# --------------------------------------------------------------------------- #
# Factories
# --------------------------------------------------------------------------- #


def _seed_cnn() -> nn.Module:
    return _seeded(_define().SeedCNN)


def _seed_separable() -> nn.Module:
    return _seeded(_define().SeedSeparable)


def _resnet18() -> nn.Module:
    c = _define()
    return _seeded(lambda: c.ResNet(c.BasicBlock, (2, 2, 2, 2)))


def _resnet50() -> nn.Module:
    c = _define()
    return _seeded(lambda: c.ResNet(c.Bottleneck, (3, 4, 6, 3)))


def _mobilenet_v1() -> nn.Module:
    return _seeded(_define().MobileNetV1)


def _mobilenet_v2() -> nn.Module:
    return _seeded(_define().MobileNetV2)


_VGG16_CFG: tuple[int | str, ...] = (
    64, 64, "M",
    128, 128, "M",
    256, 256, 256, "M",
    512, 512, 512, "M",
    512, 512, 512, "M",
)  # fmt: skip


def _vgg16() -> nn.Module:
    c = _define()
    return _seeded(lambda: c.VGG(_VGG16_CFG))


def _transformer() -> nn.Module:
    import torch
    from torch import nn

    def make() -> nn.Module:
        layer = nn.TransformerEncoderLayer(
            d_model=512, nhead=8, dim_feedforward=2048, batch_first=True
        )
        # MultiheadAttention zero-initialises its projection biases; make them
        # non-zero so that no exporter can drop them as constant zeros.
        with torch.no_grad():
            attn = layer.self_attn
            if attn.in_proj_bias is not None:
                attn.in_proj_bias.normal_().mul_(0.02)
            if attn.out_proj.bias is not None:
                attn.out_proj.bias.normal_().mul_(0.02)
        return layer

    return _seeded(make)


# --------------------------------------------------------------------------- #
# Registry
# --------------------------------------------------------------------------- #


def _input(*shape: int) -> dict[str, tuple[int, ...]]:
    """A fresh single-input shape mapping (entries never share a mutable dict)."""
    return {"input": shape}


def _entries() -> list[ZooEntry]:
    return [
        ZooEntry(
            "seed-cnn",
            "Tiny linear CNN: conv3x3(1->10), avgpool2, conv3x3(10->5), "
            "fc(605->128), fc(128->10); no biases, no activations.",
            _input(1, 1, 28, 28),
            _seed_cnn,
        ),
        ZooEntry(
            "seed-separable",
            "Tiny depthwise-separable CNN: dw3x3, pw1x1(1->10), dw3x3, "
            "pw1x1(10->5), fc(2880->128), fc(128->10); no biases, no activations.",
            _input(1, 1, 28, 28),
            _seed_separable,
        ),
        ZooEntry(
            "resnet18",
            "ResNet-18 (torchvision layout, v1.5), 1000 classes; 11.69 M params, 1.814 G MACs.",
            _input(1, 3, 224, 224),
            _resnet18,
        ),
        ZooEntry(
            "resnet50",
            "ResNet-50 (torchvision layout, v1.5, stride on the 3x3 conv), "
            "1000 classes; 25.56 M params, 4.089 G MACs.",
            _input(1, 3, 224, 224),
            _resnet50,
        ),
        ZooEntry(
            "mobilenet_v1",
            "MobileNet v1 (Howard et al. 2017), width 1.0, 1000 classes; "
            "4.23 M params, 568.7 M MACs.",
            _input(1, 3, 224, 224),
            _mobilenet_v1,
        ),
        ZooEntry(
            "mobilenet_v2",
            "MobileNet v2 (torchvision layout), width 1.0, 1000 classes; "
            "3.50 M params, 300.8 M MACs.",
            _input(1, 3, 224, 224),
            _mobilenet_v2,
        ),
        ZooEntry(
            "vgg16",
            "VGG-16 (torchvision layout, config D, no BatchNorm), 1000 classes; "
            "138.4 M params, 15.47 G MACs.",
            _input(1, 3, 224, 224),
            _vgg16,
        ),
        ZooEntry(
            "transformer",
            "A bare nn.TransformerEncoderLayer (d_model 512, 8 heads, FFN 2048, "
            "batch_first, post-norm) returned unwrapped; input (batch, seq, 512).",
            _input(1, 128, 512),
            _transformer,
        ),
    ]


ZOO: dict[str, ZooEntry] = {entry.name: entry for entry in _entries()}


def names() -> list[str]:
    """Names of all zoo models, in registration order."""
    return list(ZOO)


def get(name: str) -> ZooEntry:
    """Look up a zoo entry by name.

    Raises:
        KeyError: if ``name`` is unknown; the message lists close matches and
            every available name.
    """
    try:
        return ZOO[name]
    except KeyError:
        pass
    close = difflib.get_close_matches(name, ZOO, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise KeyError(f"unknown zoo model {name!r}.{hint} Available: {', '.join(ZOO)}") from None
