"""``--inputs`` files are user input: only the arrays the model's inputs name are read, each
only once its header matches the input, and a broken file is one line, exit 2."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy

from modelprof.api import load_graph
from modelprof.errors import ModelprofError
from modelprof.graph import Graph
from modelprof.measure.preparation import make_inputs


@pytest.fixture(scope="module")
def seed() -> Graph:
    return load_graph("seed-cnn")  # one input, 'input', 1x1x28x28 float32


def _x() -> np.ndarray:
    return np.arange(784, dtype=np.float32).reshape(1, 1, 28, 28)


def _declaring(shape: tuple[int, ...]) -> bytes:
    """A .npy header that declares ``shape`` (float32), with no data behind it."""
    import io

    out = io.BytesIO()
    npy.write_array_header_1_0(out, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return out.getvalue()


def test_only_the_members_the_model_names_are_read(tmp_path: Path, seed: Graph) -> None:
    path = tmp_path / "inputs.npz"
    np.savez(path, input=_x())
    with zipfile.ZipFile(path, "a") as archive:
        # 2^40 float32 values declared: loading this member would ask for 4 TiB
        archive.writestr("junk.npy", _declaring((1 << 40,)))
    arrays = make_inputs(seed, path)
    assert list(arrays) == ["input"]
    assert np.array_equal(arrays["input"], _x())
    assert arrays["input"].flags.writeable


def test_a_fortran_ordered_npy_is_read_as_the_same_values(tmp_path: Path, seed: Graph) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.asfortranarray(_x()))
    assert np.array_equal(make_inputs(seed, path)["input"], _x())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "is not a .npy or .npz file"),
        (lambda p: p.write_bytes(b"PK\x03\x04 not really a zip"), "not a readable .npy or .npz"),
        (lambda p: _truncated_npz(p), "not a readable .npy or .npz"),
        (lambda p: p.write_bytes(_declaring((1, 1, 28, 28)) + b"\0" * 100), "is truncated"),
        (lambda p: p.write_bytes(_declaring((1 << 40,))), "has shape (1099511627776,)"),
        (lambda p: _pickled(p), "holds Python objects"),
        (lambda p: np.savez(p, other=_x()), "has no array named 'input' (has: other)"),
    ],
    ids=["empty", "bad-zip", "truncated-npz", "truncated-npy", "2^40-elements", "objects", "name"],
)
def test_a_broken_inputs_file_is_refused_in_one_error(
    tmp_path: Path, seed: Graph, make: object, message: str
) -> None:
    path = tmp_path / "bad.npz"
    make(path)  # type: ignore[operator]
    with pytest.raises(ModelprofError) as caught:
        make_inputs(seed, path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def _pickled(path: Path) -> None:
    with path.open("wb") as handle:
        np.save(handle, np.array([{}], dtype=object), allow_pickle=True)


def _truncated_npz(path: Path) -> None:
    np.savez(path, input=_x())
    path.write_bytes(path.read_bytes()[:400])


def test_the_cli_says_so_in_one_line_with_exit_2(tmp_path: Path) -> None:
    import subprocess

    bad = tmp_path / "bad.npz"
    _truncated_npz(bad)
    result = subprocess.run(
        [sys.executable, "-m", "modelprof.cli.main", "profile", "seed-cnn", "--inputs", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("modelprof: error: ")
    assert "bad.npz is not a readable .npy or .npz file" in result.stderr


def test_inputs_larger_than_free_memory_are_refused_before_allocating(
    seed: Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelprof import shapes

    # seed-cnn's input: 1 x 1 x 28 x 28 float32 = 3,136 bytes
    monkeypatch.setattr(shapes, "available_memory", lambda: 3_000)
    with pytest.raises(ModelprofError, match=r"the inputs of seed-cnn need 0\.0 GiB, more than"):
        make_inputs(seed)
    monkeypatch.setattr(shapes, "available_memory", lambda: 3_136)
    assert make_inputs(seed)["input"].nbytes == 3_136


def test_counting_a_pytorch_model_checks_its_example_inputs_fit_first() -> None:
    import subprocess
    import sys

    from modelprof.shapes import available_memory

    free = available_memory()
    if free is None or free > 37 * 2**30:
        pytest.skip("this machine could hold 37 GiB of input")
    # 1 x 1 x 99,999 x 99,999 float32: 37 GiB of example input (it tried to allocate it)
    result = subprocess.run(
        [sys.executable, "-m", "modelprof.cli.main", "count", "seed-cnn", "--input-shape",
         "input=1x1x99999x99999"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "the example inputs need 37.3 GiB, more than the" in result.stderr


def test_device_probes_larger_than_free_memory_are_refused() -> None:
    from modelprof.measure.device import measure_ceilings

    # a 10^6 x 10^6 MatMul probe: terabytes (it was a MemoryError, exit 3)
    with pytest.raises(ModelprofError, match=r"the device probes need .* GiB, more than"):
        measure_ceilings("onnxruntime", matmul_size=1_000_000)
