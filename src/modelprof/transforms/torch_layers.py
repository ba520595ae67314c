"""PyTorch layers the rewrites insert. A module of its own (importing torch at the top) so the
classes are importable by name, which ``torch.save``/``torch.load`` of a whole module needs."""

from __future__ import annotations

import torch
from torch import nn


class SeparableConv(nn.Module):
    """A depthwise convolution followed by a pointwise (1x1) one, replacing a full convolution.

    Kept as one module so the rewritten layer keeps its name (``layer1.0.conv1.depthwise`` and
    ``layer1.0.conv1.pointwise`` in reports).
    """

    def __init__(self, depthwise: nn.Module, pointwise: nn.Module) -> None:
        super().__init__()
        self.depthwise = depthwise
        self.pointwise = pointwise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.pointwise(self.depthwise(x))
        return out
