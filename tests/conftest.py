"""Shared fixtures: exported ONNX models are built once per test session and cached."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest


def export_onnx(
    module: object, shape: tuple[int, ...], path: Path, *, dynamo: bool = False
) -> Path:
    """Export ``module`` with the TorchScript (default) or dynamo exporter, quietly."""
    import torch

    x = torch.randn(shape)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(
                module, (x,), str(path), dynamo=True, external_data=False, input_names=["input"]
            )
        else:
            torch.onnx.export(module, (x,), str(path), dynamo=False, input_names=["input"])
    return path


@pytest.fixture(scope="session")
def export() -> Callable[..., Path]:
    """The quiet exporter itself, for tests that export modules of their own."""
    return export_onnx


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``exported("resnet18")`` -> path of that zoo model's ONNX export, built once."""
    from modelprof.frontends import zoo

    cache: dict[tuple[str, bool], Path] = {}
    folder = tmp_path_factory.mktemp("exported")

    def get(name: str, *, dynamo: bool = False) -> Path:
        key = (name, dynamo)
        if key not in cache:
            entry = zoo.get(name)
            shape = entry.input_shapes["input"]
            path = folder / f"{name}{'-dynamo' if dynamo else ''}.onnx"
            cache[key] = export_onnx(entry.build(), shape, path, dynamo=dynamo)
        return cache[key]

    return get
