"""Sizes a user gets wrong are refused with a message naming what is wrong, in the words the
sizes were given in (``--input-shape`` on the command line, ``input_shapes`` in Python)."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelprof
from modelprof.cli.main import main
from modelprof.errors import ModelprofError, ShapeError
from modelprof.shapes import (
    MAX_INPUT_BYTES,
    InputSpec,
    as_specs,
    how_to_give,
    parse_input_shape,
    parse_int_list,
    parse_shape_list,
    resolve_inputs,
)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("x=1x0x4", "every dimension must be positive"),
        ("x=1x4:float7", "unknown dtype 'float7' in --input-shape 'x=1x4:float7' (known: "),
    ],
)
def test_input_shape_option_errors(text: str, words: str) -> None:
    with pytest.raises(ShapeError) as caught:
        parse_input_shape(text)
    assert words in str(caught.value)
    assert f"'{text}'" in str(caught.value)


def test_input_shape_errors_on_the_command_line_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _linear_onnx(tmp_path / "fc.onnx")
    before = model.read_bytes()
    for shape, words in [
        ("x=1x0", "every dimension must be positive"),
        ("x=1x4:float7", "unknown dtype 'float7'"),
    ]:
        assert main(["count", str(model), "--input-shape", shape]) == 2
        out, err = capsys.readouterr()
        assert err.startswith("modelprof: error: ") and err.count("\n") == 1, err
        assert words in err and "Traceback" not in err and out == ""
    assert model.read_bytes() == before


def _linear_onnx(path: Path) -> Path:
    """One MatMul, 1 x 4 input 'x' -> 2 outputs."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")],
        "fc",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(np.ones((4, 2), np.float32), "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_python_input_shapes_that_are_not_shapes() -> None:
    with pytest.raises(ShapeError, match=r"input names are strings, got int 0"):
        as_specs({0: (1, 4)})
    with pytest.raises(ShapeError, match=r"^input_shapes: expected a shape .* got str$"):
        as_specs("1x4")
    # a bool is an int to Python but never a dimension: (True, 4) is read as two inputs
    with pytest.raises(ShapeError, match=r"^input_shapes\[0\]: expected a shape .* got bool$"):
        as_specs((True, 4))
    with pytest.raises(ShapeError, match="not a mix of both"):
        as_specs([InputSpec("x", (1, 4)), (1, 4)])
    assert as_specs({}) is None  # nothing given


def test_python_shapes_are_checked_against_the_model() -> None:
    with pytest.raises(ShapeError, match=r"input 'x': every dimension must be positive"):
        resolve_inputs({"x": (1, 0)}, ["x"])
    # 2^26 x 2^25 = 2^51 float32 elements, 2^53 bytes: past the 1 PiB (2^50 bytes) limit
    huge = (1 << 26, 1 << 25)
    assert MAX_INPUT_BYTES == 1 << 50
    with pytest.raises(ShapeError, match=r"input 'x': shape .* bytes, more than any machine"):
        resolve_inputs({"x": huge}, ["x"])
    # the option's wording for specs parsed from it
    with pytest.raises(
        ShapeError, match=r"^--input-shape names 'y', but the model's inputs are: x"
    ):
        resolve_inputs([parse_input_shape("y=1x4")], ["x"])


def test_how_to_give_a_missing_shape_speaks_the_language_it_was_given_in() -> None:
    flag = "--input-shape ids=1x3x224x224"
    python = "input_shapes={'ids': (1, 3, 224, 224)}"
    assert how_to_give("ids", None) == f"{flag} (in Python: {python})"
    assert how_to_give("ids", [parse_input_shape("mask=1x8")]) == flag
    assert how_to_give("ids", {"mask": (1, 8)}) == python


def test_sweep_value_lists() -> None:
    with pytest.raises(ModelprofError, match=r"malformed --sweep '0,8': every value must be at"):
        parse_int_list("0,8", "--sweep")
    assert parse_shape_list("1x3x8x8, [1x3x16x16]", "--sweep") == ((1, 3, 8, 8), (1, 3, 16, 16))
    for text, words in [
        ("1x3,1xa", "expected shapes like 1x3x160x160,1x3x224x224"),
        ("1x0x8", "every dimension must be positive"),
        ("1x3,1x3", "a shape is repeated"),
    ]:
        with pytest.raises(ModelprofError, match=f"malformed --sweep '{text}': {words}"):
            parse_shape_list(text, "--sweep")


def test_an_empty_list_means_no_shapes_given() -> None:
    # as documented: [] is "nothing given" (the model's own input shapes), like {} and None;
    # it was taken for the shape of a scalar and the seed network failed on it
    from modelprof.shapes import as_specs

    assert as_specs([]) is None
    assert modelprof.count("seed-cnn", []).total.flops == 394_780  # the seed figure
    scalar = as_specs(())
    assert scalar is not None and [s.shape for s in scalar] == [()]
