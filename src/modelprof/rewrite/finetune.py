"""Which model and which data a ``--finetune`` run starts from (shared by separable and prune).

The built-in ``digits`` data fits the seed networks (10 classes, 1x28x28 input), which are
trained on it first (and cached), so accuracy before the rewrite is meaningful. Any model can
be fine-tuned on the user's own data (``file.py:loaders``); it then starts from the weights its
factory gives it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..api import ModelRef
from ..errors import ModelprofError
from ..graph import Graph

SEEDS = ("seed-cnn", "seed-separable")


def model_and_data(
    model: ModelRef, spec: str, graph: Graph, progress: Progress | None = None
) -> tuple[Any, Any]:
    """The PyTorch module to start from and the data to train and evaluate it on.

    A seed network is trained on digits the first time (about half a minute, then cached):
    ``progress`` hears about it, epoch by epoch, so that first run is not a silent wait."""
    from ..api import build_module
    from . import training

    infos = graph.input_infos()
    if len(infos) != 1:
        raise ModelprofError("--finetune supports models with one input")
    if spec == "digits":
        if not (isinstance(model, str) and model in SEEDS):
            raise ModelprofError(
                "the built-in digits data fits the seed networks (10 classes, 1x28x28 input: "
                f"{', '.join(SEEDS)}); give your own data as --finetune file.py:loaders"
            )
        cached = training.seed_cache_path(model).is_file()
        if progress is not None and not cached:
            progress(f"training {model} on digits first (once: the weights are cached)")
        module = training.trained_seed(model, progress=epoch_progress(progress, "training"))
    else:
        module = build_module(model)
    data = training.load_data(spec, infos[0].shape)
    return module, data


#: Receives one line of text saying what a long step is doing.
Progress = Callable[[str], None]


def epoch_progress(progress: Progress | None, what: str) -> Any:
    """An epoch callback for :func:`training.train` that tells ``progress`` each epoch."""
    if progress is None:
        return None

    def tell(stats: Any) -> None:
        progress(
            f"{what}: epoch {stats.epoch}/{stats.epochs}, loss {stats.loss:.3f}, "
            f"test accuracy {stats.test_accuracy:.3f}"
        )

    return tell
