"""``compare`` from Python, without timing: how models are labelled, and what it refuses.

seed-cnn (README): 194,010 MACs and 394,780 FLOPs per sample; at batch 2, 388,020 and 789,560,
so the second model's ratios to the first are exactly 2.
"""

from __future__ import annotations

import pytest

from modelprof.errors import ModelprofError
from modelprof.frontends import zoo
from modelprof.measure.comparison import compare


def test_the_same_model_twice_is_labelled_apart() -> None:
    report = compare(["seed-cnn", "seed-cnn", "seed-cnn"])
    assert [m.label for m in report.models] == ["seed-cnn", "seed-cnn #2", "seed-cnn #3"]
    assert [m.count.total.macs for m in report.models] == [194_010] * 3
    assert not report.profiled and report.schedule == ()


def test_given_labels_and_a_module_named_by_its_class() -> None:
    module = zoo.get("seed-cnn").build()
    report = compare(
        ["seed-cnn", "seed-cnn"],
        {"input": (2, 1, 28, 28)},
        labels=["batch 2", "batch 2 again"],
    )
    assert [m.label for m in report.models] == ["batch 2", "batch 2 again"]
    assert report.models[0].count.total.macs == 388_020
    # one bare shape for models of one input, whatever each names it
    unlabelled = compare(["seed-cnn", module], (1, 1, 28, 28))
    assert [m.label for m in unlabelled.models] == ["seed-cnn", type(module).__name__]
    assert unlabelled.macs_ratio(1) == 1.0 and unlabelled.flops_ratio(1) == 1.0


def test_batch_2_against_batch_1_is_twice_the_work() -> None:
    one = compare(["seed-cnn", "seed-cnn"], {"input": (1, 1, 28, 28)})
    assert one.models[0].count.total.flops == 394_780
    two = compare(["seed-cnn", "seed-cnn"], {"input": (2, 1, 28, 28)})
    assert two.models[1].count.total.flops == 789_560


@pytest.mark.parametrize(
    ("models", "kwargs", "message"),
    [
        (["seed-cnn"], {}, "compare needs at least two models"),
        (["seed-cnn", "seed-cnn"], {"rounds": 0}, "rounds and iterations must be at least 1"),
        (["seed-cnn", "seed-cnn"], {"iterations": 0}, "rounds and iterations must be at least 1"),
        (["seed-cnn", "seed-cnn"], {"labels": ["only one"]}, "give one label per model"),
    ],
    ids=["one-model", "rounds-0", "iterations-0", "labels"],
)
def test_refused(models: list[str], kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ModelprofError, match=f"^{message}$"):
        compare(models, **kwargs)  # type: ignore[arg-type]
