"""Files built once per run and shared, read-only, by every case that starts from them.

Why: an OpenVINO IR can only be made by OpenVINO's converter, and a saved count report only by
running ``modelprof count``; doing either per case would cost more than most cases. They are
made before any case runs (so worker threads only read them) and copied into a case's folder
before it is mutated.
"""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from . import gen_onnx


@dataclass(frozen=True)
class Assets:
    folder: Path

    @property
    def onnx_a(self) -> Path:
        return self.folder / "a.onnx"  # conv_net, static shapes

    @property
    def onnx_b(self) -> Path:
        return self.folder / "b.onnx"  # conv_net with other weights and widths

    @property
    def onnx_dyn(self) -> Path:
        return self.folder / "dyn.onnx"  # mlp with a dynamic batch dim N

    @property
    def report_a(self) -> Path:
        return self.folder / "a.json"

    @property
    def report_b(self) -> Path:
        return self.folder / "b.json"

    def ir(self, name: str) -> tuple[Path, Path]:
        """(xml, bin) of the IR converted from ``{name}.onnx`` (name: a or dyn)."""
        return self.folder / f"ir_{name}.xml", self.folder / f"ir_{name}.bin"


def build(folder: Path) -> Assets:
    """Make every shared file under ``folder`` (a few seconds: the IR conversions and two
    ``modelprof count`` runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    assets = Assets(folder)
    a = _static(gen_onnx.conv_net, 1)
    b = _static(gen_onnx.conv_net, 4)
    dyn = gen_onnx.mlp(_rng_with_batch_name())
    assets.onnx_a.write_bytes(a.model.SerializeToString())
    assets.onnx_b.write_bytes(b.model.SerializeToString())
    assets.onnx_dyn.write_bytes(dyn.model.SerializeToString())
    _convert(assets.onnx_a, *assets.ir("a"))
    _convert(assets.onnx_dyn, *assets.ir("dyn"))
    for model, report in ((assets.onnx_a, assets.report_a), (assets.onnx_b, assets.report_b)):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "modelprof.cli.main",
                "count",
                str(model),
                "--format",
                "json",
                "-o",
                str(report),
                "-q",
                "--force",
            ],
            check=True,
            capture_output=True,
        )
    return assets


def _static(builder: object, seed: int) -> gen_onnx.Built:
    """A builder's model with a fixed batch of 1 (seeds whose first draw keeps the batch 1)."""
    for attempt in range(100):
        rng = random.Random(seed * 1000 + attempt)
        built = builder(rng)  # type: ignore[operator]
        if not built.dim:
            return built
    raise AssertionError("no static model drawn")


def _rng_with_batch_name() -> random.Random:
    for attempt in range(100):
        rng = random.Random(attempt)
        if random.Random(attempt).random() < 0.4:  # the draw _batch makes first
            return rng
    raise AssertionError("no dynamic model drawn")


def _convert(onnx_path: Path, xml: Path, weights: Path) -> None:
    import openvino as ov

    model = ov.convert_model(str(onnx_path))
    ov.save_model(model, str(xml), compress_to_fp16=False)
    assert weights.exists(), weights
