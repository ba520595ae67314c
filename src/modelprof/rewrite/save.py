"""Writing a model a command produced (``--save``): ONNX, OpenVINO IR, or a whole PyTorch module.

Every write is atomic (a temporary file in the target folder, then a rename) and never replaces
an existing file unless asked (``--force``), so an interrupted run leaves nothing half-written and
the user's files are never lost.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ModelprofError

SUFFIXES = (".onnx", ".xml", ".pt")


def check_target(path: str | os.PathLike[str], *, force: bool, pytorch: bool) -> Path:
    """Validate ``--save PATH`` before any work is done."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in SUFFIXES:
        raise ModelprofError(f"--save {target}: use a .onnx, .xml or .pt file name")
    if suffix == ".pt" and not pytorch:
        raise ModelprofError("--save .pt needs a PyTorch model (zoo name or file.py:factory)")
    if target.is_dir():
        raise ModelprofError(f"--save {target}: is a directory")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise ModelprofError(f"--save {target}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ModelprofError(f"--save {target}: folder {parent} is not writable")
    others = [target] + ([target.with_suffix(".bin")] if suffix == ".xml" else [])
    for other in others:
        _check_regular(other)
        if other.exists() and not force:
            raise ModelprofError(f"{other} exists; pass --force to replace it")
    return target


def _check_regular(path: Path) -> None:
    """A model is written by renaming a finished file over ``path``: over a device or a pipe
    (``/dev/null``) that would replace the device itself, so only regular files are written."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode):
        raise ModelprofError(f"--save {path}: not a regular file; a model is saved to a file")


def _publish(tmp: Path, target: Path, *, force: bool) -> None:
    _check_regular(target)
    if force:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise ModelprofError(f"{target} exists; pass --force to replace it") from None
    finally:
        tmp.unlink(missing_ok=True)


def save_model(
    path: str | os.PathLike[str],
    *,
    onnx_path: Path | None = None,
    ir_path: Path | None = None,
    module: Any = None,
    force: bool = False,
) -> Path:
    """Write the model to ``path`` by its suffix: copy the ONNX file, convert it to OpenVINO
    IR (weights kept in f32) or copy ``ir_path`` (an IR made already, an int8 one say, with
    its .bin), or pickle the whole PyTorch module (Torch-Pruning's advice for
    pruned models, whose layer shapes no longer match their class's constructor), with a
    record of the user files its classes come from, so modelprof reads it back from anywhere
    (:func:`~modelprof.frontends.torch.save_module`)."""
    target = Path(path)
    suffix = target.suffix.lower()
    parent = target.parent if str(target.parent) else Path(".")
    with tempfile.TemporaryDirectory(prefix=".modelprof-", dir=parent) as folder:
        tmp = Path(folder)
        if suffix == ".onnx" and onnx_path is not None:
            shutil.copyfile(onnx_path, tmp / "model.onnx")
            _publish(tmp / "model.onnx", target, force=force)
        elif suffix == ".xml" and ir_path is not None:
            shutil.copyfile(ir_path, tmp / "model.xml")
            shutil.copyfile(ir_path.with_suffix(".bin"), tmp / "model.bin")
            _publish(tmp / "model.bin", target.with_suffix(".bin"), force=force)
            _publish(tmp / "model.xml", target, force=force)
        elif suffix == ".xml" and onnx_path is not None:
            try:
                import openvino as ov
            except ImportError:
                from ..errors import MissingExtraError

                raise MissingExtraError("openvino", "openvino") from None
            ov.save_model(
                ov.convert_model(str(onnx_path)), str(tmp / "model.xml"), compress_to_fp16=False
            )
            _publish(tmp / "model.bin", target.with_suffix(".bin"), force=force)
            _publish(tmp / "model.xml", target, force=force)
        elif suffix == ".pt" and module is not None:
            from ..frontends.torch import save_module

            # torch.save, plus where a user file.py the module's classes come from lives
            save_module(module, tmp / "model.pt")
            _publish(tmp / "model.pt", target, force=force)
        else:
            raise ModelprofError(f"--save {target}: this model cannot be written as {suffix}")
    return target
