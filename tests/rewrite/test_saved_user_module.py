"""A module built from ``my_net.py:build`` and pickled (``prune ... --save net.pt``, or
``torch.save`` itself) loads back: in modelprof with ``--trust-pickle``, in this process and in
a fresh one, from any folder; and with plain ``torch.load`` where its file is importable."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch

from modelprof.cli.main import main
from modelprof.errors import ModelLoadError
from modelprof.frontends.torch import load_factory, load_pickled, save_module

NET = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, width=16):
        super().__init__()
        self.c1 = nn.Conv2d(3, width, 3)
        self.c2 = nn.Conv2d(width, width, 3)

    def forward(self, x):
        return self.c2(torch.relu(self.c1(x)))


def build():
    return Net(WIDTH)
"""

SHAPE = ["--input-shape", "x=1x3x16x16"]


def _net_file(folder: Path, stem: str | None = None, width: int = 16) -> Path:
    """A factory file of its own name (module names are per process)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem or 'net_' + uuid.uuid4().hex[:10]}.py"
    path.write_text(NET.replace("WIDTH", str(width)), encoding="utf-8")
    return path


def _macs_in_fresh_process(pt: Path, cwd: Path) -> int:
    """``modelprof count pt --trust-pickle`` in a new interpreter, run from ``cwd``."""
    args = ["count", str(pt), "--trust-pickle", *SHAPE, "--format", "json"]
    result = subprocess.run(
        [sys.executable, "-m", "modelprof.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)["total"]["macs"])


def test_prune_save_of_a_factory_file_counts_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _net_file(tmp_path / "src")
    pt = tmp_path / "out" / "net.pt"
    pt.parent.mkdir()
    args = ["prune", f"{source}:build", "--amount", "0.5", *SHAPE, "--save", str(pt)]
    assert main([*args, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    pruned = doc["after"]["total"]["macs"]
    assert pruned < doc["before"]["total"]["macs"]

    assert main(["count", str(pt), "--trust-pickle", *SHAPE, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["macs"] == pruned
    # a new process, elsewhere: the file the classes come from was recorded in net.pt
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _macs_in_fresh_process(pt, elsewhere) == pruned
    # plain torch.load, where the file is importable under the name its classes were saved by
    code = (
        f"import sys, torch; sys.path.insert(0, {str(source.parent)!r}); "
        f"m = torch.load({str(pt)!r}, weights_only=False); print(type(m).__module__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == source.stem


def test_a_module_saved_with_torch_save_loads_from_the_file_next_to_it(tmp_path: Path) -> None:
    source = _net_file(tmp_path)
    module = load_factory(f"{source}:build")
    assert type(module).__module__ == source.stem  # an importable name, not a private one
    pt = tmp_path / "plain.pt"
    torch.save(module, pt)  # no record of where the file is: it is found next to the .pt
    loaded = load_pickled(pt)
    assert type(loaded).__name__ == "Net" and loaded.c1.out_channels == 16
    assert _macs_in_fresh_process(pt, tmp_path.parent) == 16 * 27 * 14 * 14 + 16 * 144 * 12 * 12
    # gone from next to it (and not recorded): one line says where it was looked for
    source.rename(tmp_path / "moved.txt")
    result = subprocess.run(
        [sys.executable, "-m", "modelprof.cli.main", "count", str(pt), "--trust-pickle", *SHAPE],
        cwd=tmp_path.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"module '{source.stem}', which is not importable" in result.stderr
    assert f"put {source.stem}.py next to it" in result.stderr


def test_two_files_of_one_name_never_collide_and_both_load_back(tmp_path: Path) -> None:
    first = _net_file(tmp_path / "a", stem="model", width=4)
    second = _net_file(tmp_path / "b", stem="model", width=8)
    a, b = load_factory(f"{first}:build"), load_factory(f"{second}:build")
    assert type(a) is not type(b) and type(a).__module__ != type(b).__module__
    assert (a.c1.out_channels, b.c1.out_channels) == (4, 8)
    for module, width in ((a, 4), (b, 8)):
        pt = tmp_path / f"w{width}.pt"
        save_module(module, pt)
        macs = width * 27 * 14 * 14 + width * width * 9 * 12 * 12
        assert _macs_in_fresh_process(pt, tmp_path) == macs


def test_a_file_named_like_a_library_module_does_not_take_its_name(tmp_path: Path) -> None:
    source = _net_file(tmp_path, stem="colorsys")  # a standard library module's name
    module = load_factory(f"{source}:build")
    assert type(module).__module__.startswith("_modelprof_user_colorsys_")
    pt = tmp_path / "net.pt"
    save_module(module, pt)
    # not run from its folder: there, "import colorsys" (rich does) would find this file
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _macs_in_fresh_process(pt, elsewhere) == 16 * 27 * 14 * 14 + 16 * 144 * 12 * 12


def test_an_unchanged_file_is_imported_once(tmp_path: Path) -> None:
    source = _net_file(tmp_path)
    first = load_factory(f"{source}:build")
    again = load_factory(f"{source}:build")
    # built twice from one import: both pickle (a second run would orphan the first's class)
    assert type(first) is type(again)
    torch.save(first, tmp_path / "first.pt")
    source.write_text(NET.replace("WIDTH", "6") + "\n# edited\n", encoding="utf-8")
    edited = load_factory(f"{source}:build")
    assert type(edited) is not type(first) and edited.c1.out_channels == 6


def test_a_pickle_naming_a_missing_module_says_so(tmp_path: Path) -> None:
    source = _net_file(tmp_path / "gone")
    pt = tmp_path / "net.pt"
    torch.save(load_factory(f"{source}:build"), pt)
    code = (
        "from pathlib import Path\n"
        "from modelprof.frontends.torch import load_pickled\n"
        f"load_pickled(Path({str(pt)!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert "ModelLoadError" in result.stderr
    assert f"'{source.stem}', which is not importable" in result.stderr
    with pytest.raises(ModelLoadError, match="no such file"):
        load_pickled(tmp_path / "missing.pt")


def test_the_python_api_says_how_to_read_a_pt_file(tmp_path: Path) -> None:
    import modelprof
    from modelprof.api import build_module

    pt = tmp_path / "net.pt"
    torch.save(load_factory(f"{_net_file(tmp_path)}:build"), pt)
    with pytest.raises(ModelLoadError, match=r"modelprof.build_module\(.*trust_pickle=True\)"):
        modelprof.count(str(pt), (1, 3, 16, 16))
    with pytest.raises(ModelLoadError, match="pass trust_pickle=True if you trust it"):
        build_module(pt)
    module = build_module(pt, trust_pickle=True)
    assert modelprof.count(module, (1, 3, 16, 16)).total.macs == 16 * 27 * 14 * 14 + 16 * 144 * 144
