"""PyTorch -> ONNX file, for runtimes that need one (profile, rewrites)."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ModelprofError, first_line


def export_onnx(
    module: Any, input_shapes: Mapping[str, tuple[tuple[int, ...], str]], path: Path
) -> Path:
    """Export ``module`` on random inputs of the given (shape, dtype) per input name.

    The TorchScript exporter comes first: it is fast and names nodes by module path
    (``/layer1/layer1.0/conv1/Conv``). Models it cannot handle go through the dynamo exporter,
    with weights embedded. Both fold BatchNorm into the preceding convolution.
    """
    from .torch import import_torch, random_inputs

    torch = import_torch()
    args = random_inputs(input_shapes.values())
    names = list(input_shapes)
    errors: list[str] = []
    # the dynamo exporter logs warnings (missing torchvision ops, ...) meant for its authors
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch._export", "torch.export")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        return _export_first_that_works(torch, module, args, names, path, errors)
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _export_first_that_works(
    torch: Any, module: Any, args: list[Any], names: list[str], path: Path, errors: list[str]
) -> Path:
    for dynamo in (False, True):
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                if dynamo:
                    torch.onnx.export(
                        module,
                        tuple(args),
                        str(path),
                        dynamo=True,
                        external_data=False,
                        input_names=names,
                    )
                else:
                    torch.onnx.export(
                        module, tuple(args), str(path), dynamo=False, input_names=names
                    )
            return path
        except Exception as exc:  # the exporters raise many types; try the next one
            first = first_line(exc)
            errors.append(f"{'dynamo' if dynamo else 'torchscript'}: {first}")
    raise ModelprofError("exporting the model to ONNX failed (" + "; ".join(errors) + ")")
