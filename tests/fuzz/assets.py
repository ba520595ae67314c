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

    @property
    def int8_ir(self) -> tuple[Path, Path]:
        """(xml, bin) of an IR already quantized: FakeQuantize on a conv's input and weights."""
        return self.folder / "int8.xml", self.folder / "int8.bin"

    @property
    def qdq_onnx(self) -> Path:
        return self.folder / "qdq.onnx"  # an ONNX model already quantized (QDQ around a Conv)

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
    _int8_ir(*assets.int8_ir)
    _qdq_onnx(assets.qdq_onnx)
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


def _int8_ir(xml: Path, weights: Path) -> None:
    """x (1x1x8x8) -> FakeQuantize -> Conv 3x3 (FakeQuantize'd weights): what NNCF writes."""
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    def const(value: object) -> object:
        return ops.constant(np.array(value, np.float32))

    def fq(node: object, low: float, high: float, levels: int) -> object:
        return ops.fake_quantize(node, const(low), const(high), const(low), const(high), levels)

    x = ops.parameter([1, 1, 8, 8], np.float32, name="x")
    w = ops.constant(np.random.default_rng(0).standard_normal((2, 1, 3, 3)).astype(np.float32))
    conv = ops.convolution(
        fq(x, 0.0, 2.55, 256), fq(w, -1.27, 1.27, 255), [1, 1], [0, 0], [0, 0], [1, 1]
    )
    ov.save_model(ov.Model([conv], [x], "int8"), str(xml), compress_to_fp16=False)
    assert weights.exists(), weights


def _qdq_onnx(path: Path) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="qx"),
            helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dqx"),
            helper.make_node("DequantizeLinear", ["w", "s", "z"], ["wd"], name="dqw"),
            helper.make_node("Conv", ["xd", "wd"], ["y"], name="conv"),
        ],
        "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 6, 6])],
        [
            numpy_helper.from_array(np.array(0.1, np.float32), "s"),
            numpy_helper.from_array(np.array(0, np.int8), "z"),
            numpy_helper.from_array(np.ones((2, 1, 3, 3), np.int8), "w"),
        ],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
