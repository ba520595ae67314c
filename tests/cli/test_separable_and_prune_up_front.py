"""`separable` and `prune` refuse, before the model is built or read, what its name already
rules out: a `--save` target that exists, is a folder, has the wrong suffix or is the model
itself, `--finetune` of a model file, and a rewrite of an OpenVINO IR. One line, exit 2, and
the factory never runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from modelprof.cli.main import main
from modelprof.errors import ModelprofError
from modelprof.rewrite.pruning import prune
from modelprof.rewrite.separable_rewrite import separable

#: a factory that leaves a mark when it is called, so a test can tell it never ran
FACTORY = """
from pathlib import Path

import torch


def build():
    Path("built").write_text("the factory ran")
    conv = torch.nn.Conv2d(3, 8, 3)
    return torch.nn.Sequential(conv, torch.nn.Flatten(), torch.nn.Linear(288, 4))
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.py").write_text(FACTORY)
    (tmp_path / "kept.pt").write_text("keep me")
    (tmp_path / "folder.pt").mkdir()
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


COMMANDS = {
    "separable": ["separable", "net.py:build", "--input-shape", "input=1x3x8x8"],
    "prune": ["prune", "net.py:build", "--input-shape", "input=1x3x8x8", "--amount", "0.5"],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("save", "error"),
    [
        ("kept.pt", "kept.pt exists; pass --force to replace it"),
        ("folder.pt", "Invalid value for '--save': File 'folder.pt' is a directory."),
        ("model.txt", "--save model.txt: use a .onnx, .xml or .pt file name"),
    ],
)
def test_a_factory_is_not_built_for_a_save_that_cannot_be_written(
    command: str, save: str, error: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, *COMMANDS[command], "--save", save) == (
        2,
        "",
        f"modelprof: error: {error}\n",
    )
    assert not (folder / "built").exists()
    assert (folder / "kept.pt").read_text() == "keep me"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_zoo_model_is_not_built_for_an_existing_save(
    command: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, command, "resnet50", "--save", "kept.pt")
    assert (code, err) == (2, "modelprof: error: kept.pt exists; pass --force to replace it\n")


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: separable("net.py:build", save="kept.pt"), "kept.pt exists; pass --force"),
        (lambda: prune("net.py:build", save="kept.pt"), "kept.pt exists; pass --force"),
        (lambda: separable("net.py:build", measure="onnxruntime", save="x.txt"), "use a .onnx"),
    ],
)
def test_the_api_checks_save_before_building_the_model(
    call: Callable[[], object], error: str, folder: Path
) -> None:
    with pytest.raises(ModelprofError, match=error):
        call()
    assert not (folder / "built").exists()


@pytest.fixture
def ir(folder: Path, linear_onnx: Callable[[Path, int, int], Path]) -> Path:
    import openvino as ov

    source = linear_onnx(folder / "dense.onnx", 8, 4)
    ov.save_model(ov.convert_model(str(source)), str(folder / "dense.xml"))
    return folder / "dense.xml"


NOT_IR = (
    "works on ONNX files and PyTorch models (zoo names, file.py:factory), not an OpenVINO IR: "
    "give dense.xml's ONNX or PyTorch source"
)


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (["separable", "dense.xml", "--save", "out.onnx"], "separable --save"),
        (["separable", "dense.xml", "--runtime", "onnxruntime"], "separable --profile"),
        (["prune", "dense.xml", "--unstructured", "--save", "out.onnx"], "prune"),
        (["prune", "dense.xml", "--unstructured"], "prune"),
    ],
)
def test_an_openvino_ir_is_not_rewritten(
    args: list[str], what: str, ir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, *args) == (2, "", f"modelprof: error: {what} {NOT_IR}\n")
    assert not (ir.parent / "out.onnx").exists()


def test_an_openvino_ir_what_if_still_works(ir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "separable", "dense.xml")
    assert code == 0 and "has no eligible convolution" in err


@pytest.mark.parametrize(
    "args",
    [
        ["separable", "dense.onnx", "--finetune", "digits"],
        ["prune", "dense.onnx", "--unstructured", "--finetune", "digits"],
    ],
)
def test_finetune_of_an_onnx_file_is_refused(
    args: list[str],
    folder: Path,
    linear_onnx: Callable[[Path, int, int], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    linear_onnx(folder / "dense.onnx", 8, 4)
    assert run(capsys, *args) == (
        2,
        "",
        "modelprof: error: --finetune needs a PyTorch model (zoo name or file.py:factory); "
        "dense.onnx is an ONNX file\n",
    )


@pytest.mark.parametrize(
    "args",
    [
        ["separable", "seed.onnx", "--save", "seed.onnx", "--force"],
        ["separable", "seed.onnx", "--save", "./seed.onnx"],
        ["prune", "seed.onnx", "--unstructured", "--save", "seed.onnx", "--force"],
    ],
)
def test_save_over_the_model_itself_is_refused(
    args: list[str],
    folder: Path,
    exported: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = (folder / "seed.onnx").write_bytes(exported("seed-cnn").read_bytes())
    code, out, err = run(capsys, *args)
    save = args[args.index("--save") + 1]
    assert (code, out) == (2, "")
    assert err == (
        f"modelprof: error: --save {save} would replace the model it is made from: "
        "give another file name\n"
    )
    assert (folder / "seed.onnx").stat().st_size == source
