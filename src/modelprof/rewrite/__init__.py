"""Make it cheaper, then prove it: the ``separable`` and ``prune`` jobs rewrite a model, save
it, fine-tune it and measure it before and after.

The jobs live here; the graph and module surgery they perform is in :mod:`.transforms` (pure
functions of a model), training on scikit-learn's digits in :mod:`.training` (imported on
use: it needs torch), and writing models in :mod:`.save`.
"""

from .pruning import PruneResult, PruneSide, prune
from .quantization import QuantizeResult, QuantizeSide, quantize
from .separable_rewrite import LayerTiming, SeparableResult, separable

__all__ = [
    "LayerTiming",
    "PruneResult",
    "PruneSide",
    "QuantizeResult",
    "QuantizeSide",
    "SeparableResult",
    "prune",
    "quantize",
    "separable",
]
