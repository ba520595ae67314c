"""ONNX frontend: shapes, weights, control flow, and the errors a user can cause."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import modelprof
from modelprof.errors import ModelLoadError, ShapeError
from modelprof.shapes import InputSpec

F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, inits=(), opset=17, functions=()):  # type: ignore[no-untyped-def]
    graph = helper.make_graph(list(nodes), "g", list(inputs), list(outputs), list(inits))
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], functions=list(functions)
    )


def _w(name: str, *shape: int, dtype: type = np.float32) -> TensorProto:
    return numpy_helper.from_array(np.ones(shape, dtype=dtype), name)


def _linear_model(batch: int | str = 1) -> onnx.ModelProto:
    # x (batch, 8) @ W (8, 4) + b (4)
    return _model(
        [
            helper.make_node("MatMul", ["x", "W"], ["h"], name="fc"),
            helper.make_node("Add", ["h", "b"], ["y"], name="fc_bias"),
        ],
        [helper.make_tensor_value_info("x", F, [batch, 8])],
        [helper.make_tensor_value_info("y", F, None)],
        [_w("W", 8, 4), _w("b", 4)],
    )


def test_bias_add_is_folded_into_its_matmul() -> None:
    report = modelprof.count(_linear_model())
    assert [layer.name for layer in report.layers] == ["fc"]
    fc = report.layers[0]
    # 1 x 8 x 4 = 32 MACs; the bias add is a bias: its 4 params count, its 4 adds do not
    assert (fc.params, fc.macs, fc.flops) == (36, 32, 64)
    assert "bias" in fc.note
    assert modelprof.count(_linear_model(), count_bias=True).total.flops == 64 + 4


def test_bias_add_is_folded_in_a_graph_listed_out_of_order() -> None:
    # ONNX Runtime sorts an unsorted graph itself, so such a file runs: the Add listed before
    # its MatMul is still the MatMul's bias
    model = _linear_model()
    nodes = list(model.graph.node)
    model.graph.ClearField("node")
    model.graph.node.extend(reversed(nodes))
    report = modelprof.count(model)
    assert [(layer.name, layer.params, layer.flops) for layer in report.layers] == [("fc", 36, 64)]


def test_if_branches_that_reuse_a_name_do_not_share_a_bias() -> None:
    # both branches call their MatMul output 'mm': each branch's Add is counted as a layer of
    # its own, never folded into the other branch's MatMul
    def branch(tag: str) -> onnx.GraphProto:
        return helper.make_graph(
            [
                helper.make_node("MatMul", ["x", f"w{tag}"], ["mm"], name=f"mm_{tag}"),
                helper.make_node("Add", ["mm", f"b{tag}"], [f"o{tag}"], name=f"add_{tag}"),
            ],
            tag,
            [],
            [helper.make_tensor_value_info(f"o{tag}", F, [2, 4])],
        )

    model = _model(
        [helper.make_node("If", ["c"], ["y"], then_branch=branch("t"), else_branch=branch("e"))],
        [helper.make_tensor_value_info("x", F, [2, 3]), helper.make_tensor_value_info("c", 9, [])],
        [helper.make_tensor_value_info("y", F, [2, 4])],
        [_w("wt", 3, 4), _w("bt", 4), _w("we", 3, 4), _w("be", 4)],
    )
    for count_bias in (False, True):
        report = modelprof.count(model, count_bias=count_bias)
        # one branch: MatMul 2 x 3 x 4 = 24 MACs (48 FLOPs) + an Add of 8 elements
        assert report.total.flops == 56
        assert not any("folded" in layer.note for layer in report.layers)


def test_dynamic_batch_must_be_bound_and_binding_scales_costs() -> None:
    with pytest.raises(ShapeError, match=r"input 'x' dim 0 \('batch'\) is dynamic.*x=1x8"):
        modelprof.count(_linear_model("batch"))
    report = modelprof.count(_linear_model("batch"), [InputSpec("x", (16, 8))])
    assert report.total.macs == 16 * 32
    assert report.inputs[0].shape == (16, 8)


def test_input_shape_errors_name_the_problem() -> None:
    with pytest.raises(ShapeError, match="model's inputs are: x"):
        modelprof.count(_linear_model(), {"y": (1, 8)})
    with pytest.raises(ShapeError, match="has 3 dims, but the model's input 'x' has 2"):
        modelprof.count(_linear_model(), {"x": (1, 8, 1)})


def test_shared_weight_is_counted_once() -> None:
    model = _model(
        [
            helper.make_node("MatMul", ["x", "W"], ["h"], name="a"),
            helper.make_node("MatMul", ["h", "W"], ["y"], name="b"),
        ],
        [helper.make_tensor_value_info("x", F, [2, 8])],
        [helper.make_tensor_value_info("y", F, None)],
        [_w("W", 8, 8)],
    )
    report = modelprof.count(model)
    assert report.total.params == 64
    assert [layer.params for layer in report.layers] == [64, 0]
    assert report.total.macs == 2 * (2 * 8 * 8)


def test_fp16_weights_through_cast_are_attributed_and_half_the_bytes() -> None:
    model = _model(
        [
            helper.make_node("Cast", ["W16"], ["W"], to=TensorProto.FLOAT, name="cast"),
            helper.make_node("MatMul", ["x", "W"], ["y"], name="fc"),
        ],
        [helper.make_tensor_value_info("x", F, [1, 8])],
        [helper.make_tensor_value_info("y", F, None)],
        [_w("W16", 8, 4, dtype=np.float16)],
    )
    report = modelprof.count(model)
    assert [layer.name for layer in report.layers] == ["fc"]  # the Cast is not a layer
    assert report.layers[0].params == 32
    assert report.total.weight_bytes == 32 * 2


def test_external_data_is_never_read(tmp_path: Path) -> None:
    model = _linear_model()
    path = tmp_path / "ext.onnx"
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="ext.bin",
        size_threshold=0,
    )
    (tmp_path / "ext.bin").write_bytes(b"")  # truncate the weights: counting must not care
    report = modelprof.count(path)
    assert report.total.params == 36 and report.total.macs == 32


def test_if_counts_the_larger_branch() -> None:
    then_graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["t"])],
        "then",
        [],
        [helper.make_tensor_value_info("t", F, [4, 4])],
    )
    else_graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["e"])],
        "else",
        [],
        [helper.make_tensor_value_info("e", F, [4, 4])],
    )
    model = _model(
        [
            helper.make_node(
                "If", ["c"], ["y"], then_branch=then_graph, else_branch=else_graph, name="choose"
            )
        ],
        [
            helper.make_tensor_value_info("x", F, [4, 4]),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("y", F, [4, 4])],
        [_w("W", 4, 4)],
    )
    report = modelprof.count(model)
    # else: 4x4x4 = 64 MACs = 128 FLOPs beats then: 16 Relu FLOPs
    assert report.total.flops == 128
    assert report.total.macs == 64
    assert any("If 'choose'" in n and "else" in n for n in report.notes)


def _loop_model(trip_count_static: bool) -> onnx.ModelProto:
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("MatMul", ["v_in", "W"], ["v_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", F, [1, 8]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", F, [1, 8]),
        ],
    )
    inits = [_w("W", 8, 8), numpy_helper.from_array(np.array(True), "cond")]
    inputs = [helper.make_tensor_value_info("x", F, [1, 8])]
    if trip_count_static:
        inits.append(numpy_helper.from_array(np.array(5, dtype=np.int64), "M"))
    else:
        inputs.append(helper.make_tensor_value_info("M", TensorProto.INT64, []))
    return _model(
        [helper.make_node("Loop", ["M", "cond", "x"], ["y"], body=body, name="loop")],
        inputs,
        [helper.make_tensor_value_info("y", F, [1, 8])],
        inits,
    )


def test_loop_with_static_trip_count_multiplies_the_body() -> None:
    report = modelprof.count(_loop_model(trip_count_static=True))
    # 5 iterations x (1 x 8 x 8) = 320 MACs
    assert report.total.macs == 320
    assert report.uncounted == ()


def test_loop_with_dynamic_trip_count_is_flagged_not_zero() -> None:
    report = modelprof.count(_loop_model(trip_count_static=False))
    assert report.total.macs == 0
    assert [u.name for u in report.uncounted] == ["loop"]
    assert "trip count is not static" in report.uncounted[0].reason
    assert report.node_coverage < 1


def test_model_local_function_is_expanded() -> None:
    fn = helper.make_function(
        "local",
        "Dense",
        ["a", "w"],
        ["o"],
        [helper.make_node("MatMul", ["a", "w"], ["m"]), helper.make_node("Relu", ["m"], ["o"])],
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model = _model(
        [helper.make_node("Dense", ["x", "W"], ["y"], domain="local", name="dense")],
        [helper.make_tensor_value_info("x", F, [2, 8])],
        [helper.make_tensor_value_info("y", F, None)],
        [_w("W", 8, 4)],
        functions=[fn],
    )
    model.opset_import.append(helper.make_opsetid("local", 1))
    report = modelprof.count(model)
    # MatMul 2x8x4 = 64 MACs -> 128 FLOPs, Relu 8 outputs -> 8 FLOPs
    assert report.total.flops == 136
    assert report.unsupported == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"", "is empty"),
        (b"this is plain text, not a protobuf", "not a readable ONNX model|does not contain"),
    ],
)
def test_bad_files(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "m.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=message):
        modelprof.count(path)


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "t.onnx"
    onnx.save_model(_linear_model(), str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError):
        modelprof.count(path)


def test_directory_and_unknown_extension(tmp_path: Path) -> None:
    folder = tmp_path / "d.onnx"
    folder.mkdir()
    with pytest.raises(ModelLoadError, match="is a directory"):
        modelprof.count(folder)
    other = tmp_path / "model.bin"
    other.write_bytes(b"\x00")
    with pytest.raises(ModelLoadError, match=r"unknown model file extension '\.bin'"):
        modelprof.count(other)


def test_one_element_literals_are_not_params_but_a_shared_prelu_slope_is() -> None:
    scale = numpy_helper.from_array(np.array([0.125], np.float32), "scale")
    slope = numpy_helper.from_array(np.array([0.25], np.float32), "slope")
    model = _model(
        [
            helper.make_node("Mul", ["x", "scale"], ["h"], name="scale_it"),
            helper.make_node("PRelu", ["h", "slope"], ["y"], name="prelu"),
        ],
        [helper.make_tensor_value_info("x", F, [2, 4])],
        [helper.make_tensor_value_info("y", F, None)],
        [scale, slope],
    )
    report = modelprof.count(model)
    # the [1] scale feeds only a Mul: a literal (as exporters write sqrt(d)); the PReLU's
    # single shared slope is a learned parameter
    assert [layer.params for layer in report.layers] == [0, 1]
    assert report.total.params == 1


def test_scalar_and_one_element_literals_together() -> None:
    # a rank-0 scale (a constant from the start) next to a [1] one: neither is a param
    model = _model(
        [
            helper.make_node("Mul", ["x", "s0"], ["h"], name="a"),
            helper.make_node("Mul", ["h", "s1"], ["y"], name="b"),
        ],
        [helper.make_tensor_value_info("x", F, [2, 4])],
        [helper.make_tensor_value_info("y", F, None)],
        [
            numpy_helper.from_array(np.array(0.5, np.float32), "s0"),
            numpy_helper.from_array(np.array([0.5], np.float32), "s1"),
        ],
    )
    report = modelprof.count(model)
    assert report.total.params == 0 and report.total.flops == 16


def test_onnx_inference_never_sees_a_large_weight_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    """onnx's inference serialises the whole model (every weight byte copied): a 20 MiB weight is
    cleared from the frontend's copy first, while the caller's model keeps it."""
    w = numpy_helper.from_array(np.ones((2048, 2560), np.float32), "w")
    model = _model(
        [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Flatten", ["y"], ["z"])],
        [helper.make_tensor_value_info("x", F, [1, 2048])],
        [helper.make_tensor_value_info("z", F, None)],
        [w],
    )
    seen: list[int] = []
    infer = onnx.shape_inference.infer_shapes

    def spy(proto: onnx.ModelProto, **kwargs: object) -> onnx.ModelProto:
        seen.append(proto.ByteSize())
        return infer(proto, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", spy)
    report = modelprof.count(model)
    assert len(seen) == 1 and seen[0] < 4096
    assert model.ByteSize() > 20 * 2**20
    assert (report.total.params, report.total.macs) == (2048 * 2560, 2048 * 2560)
