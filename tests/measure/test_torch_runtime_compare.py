"""``compare_runtimes`` from Python: a module object reaches the torch worker through a pickle
written for it, and what cannot be compared is refused before any worker starts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from modelprof.errors import ModelprofError
from modelprof.frontends import zoo
from modelprof.measure.comparison import compare_runtimes
from modelprof.measure.runtimes import RunSettings

QUICK = RunSettings(threads=1, warmup=1)


def test_a_module_object_is_handed_to_its_worker() -> None:
    module = zoo.get("seed-cnn").build()
    report = compare_runtimes(
        module,
        (1, 1, 28, 28),
        runtimes=["ort", "torch"],
        layers=False,
        settings=QUICK,
        rounds=1,
        iterations=2,
    )
    assert [(m.runtime, m.count.total.flops) for m in report.models] == [
        ("onnxruntime", 394_780),
        ("torch", 394_780),
    ]
    assert all(m.pid not in (None, os.getpid()) for m in report.models)
    assert report.scopes == () and all(m.layers is None for m in report.models)


def test_a_module_no_other_process_can_import_is_refused() -> None:
    class Local(nn.Module):  # defined in a function: pickle cannot name it
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.fc(x)
            return out

    with pytest.raises(ModelprofError, match="cannot hand Local to a worker process"):
        compare_runtimes(Local(), (1, 4), runtimes=["torch", "ort"], settings=QUICK)


@pytest.mark.parametrize(
    ("runtimes", "kwargs", "message"),
    [
        (["torch"], {}, "comparing runtimes needs at least two runtimes"),
        (["torch", "ov", "openvino"], {}, "runtime openvino is given twice"),
        (["torch", "tensorrt"], {}, "unknown runtime 'tensorrt'"),
        (["torch", "ort"], {"rounds": 0}, "rounds and iterations must be at least 1"),
    ],
)
def test_refused(runtimes: list[str], kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ModelprofError, match=message):
        compare_runtimes("seed-cnn", runtimes=runtimes, **kwargs)  # type: ignore[arg-type]


def test_a_pt_file_needs_trust(tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    path.write_bytes(b"never unpickled")
    with pytest.raises(ModelprofError, match="trust_pickle=True"):
        compare_runtimes(path, runtimes=["torch", "ort"])
    assert path.read_bytes() == b"never unpickled"
