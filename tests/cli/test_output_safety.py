"""Nothing the user gave us is modified or lost, not even with --force: no output is written
over one of the command's inputs, devices and pipes are written by opening them (never
replaced), and names from a model reach the terminal as text, never as markup or escapes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

MODELPROF = [sys.executable, "-m", "modelprof.cli.main"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [*MODELPROF, *args], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )


def _refused(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("modelprof: error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert words in result.stderr


@pytest.fixture
def model(tmp_path: Path, linear_onnx: Callable[[Path, int, int], Path]) -> Path:
    return linear_onnx(tmp_path / "model.onnx", 4, 3)


@pytest.mark.parametrize("spelling", ["model.onnx", "./model.onnx", "sub/../model.onnx"])
def test_the_report_never_replaces_the_model(tmp_path: Path, model: Path, spelling: str) -> None:
    (tmp_path / "sub").mkdir()
    before = model.read_bytes()
    result = run("count", "model.onnx", "--format", "json", "-o", spelling, "--force", cwd=tmp_path)
    _refused(result, "an input of this command: it is never written over")
    assert model.read_bytes() == before


def test_links_to_the_model_are_caught_by_identity(tmp_path: Path, model: Path) -> None:
    before = model.read_bytes()
    (tmp_path / "soft.json").symlink_to(model)
    os.link(model, tmp_path / "hard.json")
    for name in ("soft.json", "hard.json"):
        result = run("count", str(model), "--format", "json", "-o", str(tmp_path / name), "--force")
        _refused(result, f"is {model}, an input of this command")
    assert model.read_bytes() == before


def test_the_html_page_never_replaces_the_model(tmp_path: Path, model: Path) -> None:
    before = model.read_bytes()
    _refused(run("profile", str(model), "--html", str(model), "--force"), "an input")
    assert model.read_bytes() == before


def test_side_files_and_other_inputs_are_protected(tmp_path: Path, model: Path) -> None:
    # external data: the weights live in weights.data beside the graph
    proto = onnx.load(str(model))
    external = tmp_path / "ext.onnx"
    onnx.save(proto, str(external), save_as_external_data=True, location="weights.data",
              size_threshold=0)  # fmt: skip
    data = tmp_path / "weights.data"
    weights = data.read_bytes()
    _refused(
        run("count", str(external), "--format", "json", "-o", str(data), "--force"),
        "weights.data is an input of this command",
    )
    assert data.read_bytes() == weights
    # a rules file, and a saved report given to diff
    rules = tmp_path / "rules.py"
    rules.write_text("# no rules\n")
    _refused(
        run("count", str(model), "--rules", str(rules), "-o", str(rules), "--force"), "an input"
    )
    assert rules.read_text() == "# no rules\n"
    report = tmp_path / "a.json"
    assert run("count", str(model), "--format", "json", "-o", str(report)).returncode == 0
    saved = report.read_text()
    _refused(
        run("diff", str(report), str(model), "--format", "json", "-o", str(report), "--force"),
        "an input",
    )
    assert report.read_text() == saved
    # the --inputs file of profile
    arrays = tmp_path / "x.npz"
    np.savez(arrays, x=np.zeros((1, 4), np.float32))
    _refused(
        run("profile", str(model), "--inputs", str(arrays), "-o", str(arrays), "--force"),
        "an input",
    )


def test_an_ir_bin_is_protected(tmp_path: Path, model: Path) -> None:
    import openvino as ov

    xml = tmp_path / "model.xml"
    ov.save_model(ov.convert_model(str(model)), str(xml))
    weights = xml.with_suffix(".bin").read_bytes()
    _refused(
        run("count", str(xml), "-o", str(xml.with_suffix(".bin")), "--force"),
        "model.bin is an input of this command",
    )
    assert xml.with_suffix(".bin").read_bytes() == weights


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_a_null_device_is_written_by_opening_it_and_stays_a_device(
    tmp_path: Path, force: list[str]
) -> None:
    # a node of our own for the null device (1, 3), so that a regression replaces it and not
    # the machine's /dev/null (which the atomic rename did, as root, with --force)
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    result = run("count", "seed-cnn", "--format", "json", "-o", str(null), *force)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(os.stat(null).st_mode)


def test_a_fifo_is_written_by_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    result = run("count", "seed-cnn", "--format", "csv", "-o", str(fifo))
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert "conv1" in received[0]


def test_a_trailing_slash_names_a_folder(tmp_path: Path) -> None:
    _refused(run("count", "seed-cnn", "-o", str(tmp_path / "newdir") + "/"), "names a folder")
    assert not (tmp_path / "newdir").exists()


def test_a_model_is_never_saved_over_a_device(tmp_path: Path) -> None:
    link = tmp_path / "null.onnx"
    link.symlink_to("/dev/null")
    result = run("separable", "seed-cnn", "--save", str(link), "--force")
    _refused(result, "not a regular file")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def _named_model(path: Path, name: str) -> Path:
    weight = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name=name)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [weight],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_markup_in_a_name_is_printed_as_it_is(tmp_path: Path) -> None:
    result = run("count", str(_named_model(tmp_path / "m.onnx", "[/evil][bold]x")))
    assert result.returncode == 0, result.stderr
    assert "[/evil][bold]x" in result.stdout


def test_terminal_escapes_in_a_name_never_reach_the_terminal(tmp_path: Path) -> None:
    path = _named_model(tmp_path / "m.onnx", "fc\x1b[2J\x1b]0;pwned\x07")
    result = run("count", str(path))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "fc\ufffd[2J" in result.stdout
    # and in a one-line error: written as escapes, still one line
    bad = _named_model(tmp_path / "bad.onnx", "fc\x1b[2J\nnext")
    proto = onnx.load(str(bad))
    proto.graph.node[0].input[1] = "missing\x1b[31m"
    onnx.save(proto, str(bad))
    result = run("count", str(bad))
    _refused(result, "reads 'missing\\x1b[31m'")
    assert "\x1b" not in result.stderr
