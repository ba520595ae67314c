"""``count --sweep`` and ``count --symbolic``: totals against input size, and as formulas.

Hand-worked figures:

* seed-cnn, batch N symbolic (ONNX export with a dynamic batch dim): every layer's cost is
  per sample, so FLOPs = 394,780 N, MACs = 194,010 N, peak activation memory 33,800 N bytes,
  params 79,260 and weight bytes 317,040 constant.
* the zoo transformer (input (1, L, 512)), L symbolic:
  MACs: projections 4 x L x 512 x 512 + FFN 2 x L x 512 x 2048 = 3,145,728 L; attention
  2 x 8 x L x L x 64 = 1,024 L^2. At L = 128: 402,653,184 + 16,777,216 = 419,430,400.
  FLOPs: 2 x MACs = 6,291,456 L + 2,048 L^2; + scale and softmax 6 per score x 8 L^2 = 48 L^2;
  + two residual Adds 2 x 512 L, two LayerNorms (7 per element) 2 x 7 x 512 L, Relu 2048 L =
  10,240 L. Total 6,301,696 L + 2,096 L^2.
* a strided CNN on S x S (floor terms): conv 3->8 3x3 stride 2 pad 1 gives
  floor((S - 1) / 2) + 1 per side: S / 2 for even S, (S + 1) / 2 for odd; its MACs are
  8 x 27 x side^2, plus a 8->4 Gemm (32): 54 S^2 + 32 (S even), 54 S^2 + 108 S + 86 (S odd).
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelprof.cli.main import main
from modelprof.errors import ModelprofError, ShapeError
from modelprof.render.jsondoc import sweep_document, symbolic_document
from modelprof.sweep import sweep
from modelprof.symbolic import fit_polynomial, parse_symbolic, polynomial_text, symbolic

F = Fraction


@pytest.fixture(scope="module")
def seed_dynamic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """seed-cnn exported with a dynamic batch dim (dim_param 'batch')."""
    import torch

    from modelprof.frontends import zoo

    path = tmp_path_factory.mktemp("dyn") / "seed_dyn.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            zoo.get("seed-cnn").build(),
            (torch.randn(1, 1, 28, 28),),
            str(path),
            dynamo=False,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch"
    return path


def floor_cnn() -> onnx.ModelProto:
    """x (N, 3, size, size) -> Conv 3->8 3x3 stride 2 pad 1 -> Relu -> MaxPool 2x2 stride 2
    -> GlobalAveragePool -> Flatten -> Gemm 8->4."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "fc"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "floor_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "size", "size"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[
            numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w"),
            numpy_helper.from_array(rng.standard_normal((4, 8)).astype(np.float32), "fc"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def floor_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("floor") / "floor_cnn.onnx"
    onnx.save(floor_cnn(), str(path))
    return path


# -- fitting ------------------------------------------------------------------------------------


def test_fit_polynomial_exact_rationals_and_refusals() -> None:
    xs = [1, 2, 3, 4, 12]
    # triangular numbers x (x + 1) / 2: rational coefficients, exactly
    assert fit_polynomial(xs, [x * (x + 1) // 2 for x in xs]) == (F(0), F(1, 2), F(1, 2))
    assert polynomial_text((F(0), F(1, 2), F(1, 2)), "n") == "1/2 n^2 + 1/2 n"
    assert fit_polynomial(xs, [7] * 5) == (F(7),)
    assert fit_polynomial(xs, [3 * x - 5 for x in xs]) == (F(-5), F(3))
    assert polynomial_text((F(-5), F(3)), "N") == "3 N - 5"
    assert polynomial_text((F(0), F(-1), F(2)), "L") == "2 L^2 - L"
    assert polynomial_text((F(0),), "L") == "0"
    # not a polynomial of degree <= 2: 2^x, x^3, a floor
    assert fit_polynomial(xs, [2**x for x in xs]) is None
    assert fit_polynomial(xs, [x**3 for x in xs]) is None
    assert fit_polynomial(xs, [x // 2 for x in xs]) is None
    # a fit is always checked on at least one point beyond those that determine it
    assert fit_polynomial([1, 2], [5, 9]) is None  # a line needs a 3rd point
    assert fit_polynomial([1, 2, 3], [1, 4, 9]) is None  # a quadratic needs a 4th point


def test_parse_symbolic() -> None:
    assert parse_symbolic("input:1=L") == ("input:1", "L")
    assert parse_symbolic("batch") == ("batch", None)
    assert parse_symbolic("x:2,3=S") == ("x:2,3", "S")
    with pytest.raises(ModelprofError):
        parse_symbolic("input:1=3")


# -- --symbolic -----------------------------------------------------------------------------------


def test_seed_cnn_batch_symbolic_onnx(seed_dynamic: Path) -> None:
    report = symbolic(seed_dynamic, "batch")
    assert report.variable == "N" and report.positions == "input[0]" and report.base == 1
    f = {x.quantity: x for x in report.formulas}
    assert f["flops"].kind == "polynomial"
    assert f["flops"].pieces[0].coefficients == (F(0), F(394_780))
    assert f["flops"].text("N") == "394,780 N"
    assert f["macs"].pieces[0].coefficients == (F(0), F(194_010))
    assert f["peak_activation_bytes"].pieces[0].coefficients == (F(0), F(33_800))
    assert f["params"].pieces[0].coefficients == (F(79_260),)
    assert f["weight_bytes"].pieces[0].coefficients == (F(317_040),)
    # every point is an exact count: the fit is checked at a point further out (N = 12)
    assert dict(report.points)[12]["flops"] == 12 * 394_780
    doc = symbolic_document(report)
    assert doc["kind"] == "count" and doc["mode"] == "symbolic"
    assert doc["formulas"]["flops"]["pieces"][0]["coefficients"] == [0, 394_780]


def test_seed_cnn_batch_symbolic_pytorch_route() -> None:
    report = symbolic("seed-cnn", "batch", training=True)
    f = {x.quantity: x for x in report.formulas}
    assert f["flops"].text("N") == "394,780 N"
    assert f["training_flops"].text("N") == "1,055,900 N"  # tests/test_training_flops.py


def test_transformer_sequence_length_symbolic() -> None:
    report = symbolic("transformer", "input:1", variable="L")
    assert report.positions == "input[1]" and report.base == 128
    f = {x.quantity: x for x in report.formulas}
    assert f["macs"].pieces[0].coefficients == (F(0), F(3_145_728), F(1_024))
    assert f["macs"].text("L") == "1,024 L^2 + 3,145,728 L"
    assert f["flops"].pieces[0].coefficients == (F(0), F(6_301_696), F(2_096))
    assert f["params"].text("L") == "3,152,384"
    assert dict(report.points)[128]["macs"] == 419_430_400
    assert 3_145_728 * 128 + 1_024 * 128**2 == 419_430_400


def test_strided_cnn_is_piecewise_per_residue_class(floor_path: Path) -> None:
    report = symbolic(floor_path, "size", {"x": (1, 3, 32, 32)})
    assert report.positions == "x[2], x[3]" and report.variable == "size"
    f = {x.quantity: x for x in report.formulas}
    macs = f["macs"]
    assert macs.kind == "piecewise"
    pieces = {(p.modulus, p.residue): p.coefficients for p in macs.pieces}
    assert pieces == {(2, 0): (F(32), F(0), F(54)), (2, 1): (F(86), F(108), F(54))}
    # every evaluated point agrees with the floor expression worked by hand
    for value, totals in report.points:
        side = (value - 1) // 2 + 1
        assert totals["macs"] == 8 * 27 * side * side + 32
    assert "if size mod 2 = 0" in macs.text("size")
    assert f["params"].kind == "polynomial"
    doc = symbolic_document(report)
    assert doc["formulas"]["macs"]["kind"] == "piecewise"
    assert {p["modulus"] for p in doc["formulas"]["macs"]["pieces"]} == {2}


def test_not_a_polynomial_is_said_not_hidden(floor_path: Path) -> None:
    # too few evaluations allowed to look at a period of 2: reported, with the points
    report = symbolic(floor_path, "size", {"x": (1, 3, 32, 32)}, max_evaluations=8)
    macs = report.formula("macs")
    assert macs.kind == "not_polynomial" and not macs.pieces
    assert "period of 4" in macs.reason and "more than 8 evaluations" in macs.reason
    assert len(report.points) == 5
    assert report.formula("params").kind == "polynomial"
    assert symbolic_document(report)["formulas"]["macs"]["kind"] == "not_polynomial"
    # seed-cnn's Gemm fixes the spatial size: no fit, and the failing size is named
    report = symbolic("seed-cnn", "input:2", variable="H")
    flops = report.formula("flops")
    assert flops.kind == "not_fitted" and "H = 30" in flops.reason
    assert [v for v, _ in report.points] == [28, 29]


# -- --sweep --------------------------------------------------------------------------------------


def test_sweep_batch_and_shapes(seed_dynamic: Path, floor_path: Path) -> None:
    swept = sweep(seed_dynamic, "batch", "1,8,32")
    assert [p.total.flops for p in swept.points] == [394_780 * b for b in (1, 8, 32)]
    assert [p.inputs[0][1] for p in swept.points] == [(b, 1, 28, 28) for b in (1, 8, 32)]
    assert all(p.total.params == 79_260 for p in swept.points)
    # zoo model (no named dims): batch is dim 0 of every input
    swept = sweep("seed-cnn", "batch", [2, 4])
    assert [p.total.peak_activation_bytes for p in swept.points] == [67_600, 135_200]
    # whole shapes for one input
    swept = sweep(floor_path, "x", "1x3x32x32,2x3x33x33")
    assert [p.total.macs for p in swept.points] == [54 * 32**2 + 32, 2 * (8 * 27 * 17**2 + 32)]
    doc = sweep_document(swept)
    assert doc["kind"] == "count" and doc["mode"] == "sweep"
    assert doc["sweep"][1]["value"] == [2, 3, 33, 33]
    assert doc["sweep"][1]["inputs"] == [{"name": "x", "shape": [2, 3, 33, 33], "dtype": "float32"}]
    # an ONNX dim name, and INPUT:AXIS
    swept = sweep(floor_path, "size", "32,64", {"x": (1, 3, 32, 32)})
    assert [p.inputs[0][1] for p in swept.points] == [(1, 3, 32, 32), (1, 3, 64, 64)]
    swept = sweep(floor_path, "x:2", "32,64", {"x": (1, 3, 32, 32)})
    assert [p.inputs[0][1] for p in swept.points] == [(1, 3, 32, 32), (1, 3, 64, 32)]


def test_sweep_errors_are_one_line(floor_path: Path) -> None:
    with pytest.raises(ShapeError, match=r"no input dim is named 'seq'.*named dims: N, size"):
        sweep(floor_path, "seq", "1,2")
    with pytest.raises(ShapeError, match="dim 2 \\('size'\\) is dynamic"):
        sweep(floor_path, "batch", "1,2")
    with pytest.raises(ModelprofError, match="expected positive integers"):
        sweep("seed-cnn", "batch", "1,x")
    with pytest.raises(ModelprofError, match="--sweep input=1x1x32x32"):
        sweep("seed-cnn", "input", "1x1x28x28,1x1x32x32")
    with pytest.raises(ShapeError, match="axis 4 does not exist"):
        sweep("seed-cnn", "input:4", "1,2")


# -- the command line -----------------------------------------------------------------------------


def test_cli_sweep_and_symbolic(
    seed_dynamic: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["count", str(seed_dynamic), "--symbolic", "batch"]) == 0
    out = capsys.readouterr().out
    assert "394,780 N" in out and "194,010 N" in out and "evaluated points" in out

    assert main(["count", str(seed_dynamic), "--sweep", "batch=1,8,32", "--format", "json"]) == 0
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert doc["mode"] == "sweep" and doc["sweep_name"] == "batch"
    assert [p["flops"] for p in doc["sweep"]] == [394_780, 3_158_240, 12_632_960]
    assert set(doc["sweep"][0]) >= {
        "value",
        "inputs",
        "params",
        "macs",
        "flops",
        "weight_bytes",
        "peak_activation_bytes",
    }

    assert main(["count", "seed-cnn", "--sweep", "batch=1,2", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("batch,inputs,params,macs,flops")
    assert lines[2].startswith("2,input=2x1x28x28,79260,388020,789560")

    assert main(["count", "seed-cnn", "--sweep", "batch=1,2", "--format", "md"]) == 0
    assert "| 2 | input 2x1x28x28 |" in capsys.readouterr().out

    out_file = tmp_path / "sym.json"
    args = ["count", "seed-cnn", "--symbolic", "batch", "--format", "json", "-o", str(out_file)]
    assert main(args) == 0
    assert json.loads(out_file.read_text())["formulas"]["flops"]["formula"] == "394,780 N"

    assert main(["count", "seed-cnn", "--sweep", "batch=1", "--symbolic", "batch"]) == 2
    assert "cannot be combined" in capsys.readouterr().err
    assert main(["count", "seed-cnn", "--symbolic", "batch", "--by-op"]) == 2
    capsys.readouterr()
    assert main(["count", "seed-cnn", "--sweep", "seq=1,2"]) == 2
    err = capsys.readouterr().err
    assert "no input dim is named 'seq'" in err and err.count("\n") == 1


def test_a_sweep_may_vary_static_dims_that_a_bound_shape_may_not(tmp_path: Path) -> None:
    # a 3 -> 8 channel 3x3 conv exported at a static 1x3x8x8: --input-shape may not change its
    # image size (the model is not that model), but a sweep over image sizes does exactly that
    weight = numpy_helper.from_array(np.ones((8, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [weight],
    )
    path = tmp_path / "conv.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    swept = sweep(path, "x:2,3", "8,16")
    # 8 x (n - 2)^2 outputs x 27: 8 x 36 x 27 = 7,776 and 8 x 196 x 27 = 42,336 MACs
    assert [p.total.macs for p in swept.points] == [7_776, 42_336]
