"""`modelprof diff`: two count reports or models, per layer and in total."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelprof.cli.main import main
from modelprof.diffing import DiffInputError, diff_documents

CNN_FLOPS, SEPARABLE_FLOPS = 394_780, 926_808


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["diff", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """seed-cnn and seed-separable count reports, written by `modelprof count`."""
    folder = tmp_path_factory.mktemp("reports")
    paths = folder / "cnn.json", folder / "separable.json"
    for zoo_name, path in zip(("seed-cnn", "seed-separable"), paths, strict=True):
        assert main(["count", zoo_name, "--format", "json", "-o", str(path), "-q"]) == 0
    return paths


def check_seed_diff(doc: dict[str, Any]) -> None:
    assert doc["schema_version"] == 1 and doc["kind"] == "diff"
    flops = doc["totals"]["flops"]
    assert (flops["a"], flops["b"]) == (CNN_FLOPS, SEPARABLE_FLOPS)
    assert flops["delta"] == 532_028 == SEPARABLE_FLOPS - CNN_FLOPS
    assert doc["totals"]["macs"]["delta"] == 463_404 - 194_010
    assert doc["removed"] == ["conv1", "pool", "conv2"]
    assert doc["added"] == ["dw1", "pw1", "dw2", "pw2"]
    assert doc["changed"] == ["fc1"]
    assert doc["unchanged"] == 1  # fc2
    fc1 = next(layer for layer in doc["layers"] if layer["name"] == "fc1")
    assert fc1["status"] == "changed"
    assert (fc1["a"]["params"], fc1["b"]["params"]) == (77_440, 368_640)
    assert fc1["delta"]["params"] == 291_200
    conv1 = next(layer for layer in doc["layers"] if layer["name"] == "conv1")
    assert conv1["b"] is None and conv1["delta"]["flops"] == -121_680
    # removed layers come before the layers added in their place, then the shared fc1
    order = [layer["name"] for layer in doc["layers"]]
    assert order == ["conv1", "pool", "conv2", "dw1", "pw1", "dw2", "pw2", "fc1", "fc2"]


def test_diff_of_zoo_models_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "seed-cnn", "seed-separable", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    check_seed_diff(doc)
    assert (doc["a"]["ref"], doc["b"]["ref"]) == ("seed-cnn", "seed-separable")


def test_diff_of_two_count_reports(
    reports: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cnn, separable = reports
    code, out, _ = run(capsys, str(cnn), str(separable), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    check_seed_diff(doc)
    assert doc["a"]["model"] == "seed-cnn" and doc["b"]["model"] == "seed-separable"


def test_table_names_every_change(
    reports: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cnn, separable = reports
    code, out, _ = run(capsys, str(cnn), str(separable))
    assert code == 0
    assert "394,780 -> 926,808" in out and "+532,028" in out
    assert "77,440 -> 368,640" in out
    assert "3 removed (conv1, pool, conv2)" in out
    assert "4 added (dw1, pw1, dw2, pw2)" in out
    assert "1 changed (fc1)" in out
    assert "FLOPs: 394,780 -> 926,808 (+532,028, 2.35x)" in out
    assert "fc2" not in out.split("layers:")[0]  # unchanged rows only with --all
    code, out, _ = run(capsys, str(cnn), str(separable), "--all")
    assert "fc2" in out.split("layers:")[0]


def test_report_against_model_and_markdown(
    reports: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cnn, _ = reports
    code, out, _ = run(capsys, str(cnn), "seed-separable", "--format", "md")
    assert code == 0
    assert out.startswith("# diff: seed-cnn -> seed-separable")
    assert "| ~ | `fc1` | Gemm | 77,440 -> 368,640 | +291,200 |" in out
    assert "| FLOPs | 394,780 | 926,808 | +532,028 | 2.35x |" in out


def test_same_model_has_no_changes(
    reports: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cnn, _ = reports
    code, out, _ = run(capsys, str(cnn), "seed-cnn", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["added"] == doc["removed"] == doc["changed"] == []
    assert doc["unchanged"] == 5 and doc["totals"]["flops"]["delta"] == 0


def test_input_shape_applies_to_models(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "seed-cnn", "seed-cnn", "--input-shape", "input=2x1x28x28", "--format", "json"
    )
    assert code == 0
    assert json.loads(out)["totals"]["flops"]["b"] == 2 * CNN_FLOPS


NOT_COUNTED = "a model as A or B (saved reports are not counted again)"


@pytest.mark.parametrize(
    ("options", "refused"),
    [
        (["--input-shape", "input=2x1x28x28"], "--input-shape needs"),
        (["--count-bias"], "--count-bias needs"),
        (["--rules", "RULES"], "--rules needs"),
        (
            ["--count-bias", "--input-shape", "x=1", "--rules", "RULES"],
            "--input-shape, --count-bias and --rules need",
        ),
    ],
)
def test_counting_options_are_refused_when_both_sides_are_reports(
    options: list[str],
    refused: str,
    reports: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ran = tmp_path / "rules-ran"
    rules = tmp_path / "rules.py"
    rules.write_text(f"open({str(ran)!r}, 'w').close()\n")
    args = [str(rules) if arg == "RULES" else arg for arg in options]
    code, out, err = run(capsys, *map(str, reports), *args, "-o", str(tmp_path / "d.txt"))
    assert (code, out) == (2, "")
    assert err == f"modelprof: error: {refused} {NOT_COUNTED}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["rules.py"]  # no report, rules never ran


def test_counting_options_apply_to_the_side_that_is_a_model(
    reports: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cnn, _ = reports
    code, out, err = run(capsys, str(cnn), "seed-cnn", "--count-bias", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["a"]["count_bias"] is False and doc["b"]["count_bias"] is True
    assert any("only B counts bias adds" in note for note in doc["notes"])


def test_output_file_is_not_clobbered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "diff.json"
    assert run(capsys, "seed-cnn", "seed-separable", "--format", "json", "-o", str(out))[0] == 0
    assert json.loads(out.read_text())["kind"] == "diff"
    code, _, err = run(capsys, "seed-cnn", "seed-separable", "-o", str(out))
    assert code == 2 and "exists; pass --force" in err


def test_bad_inputs_exit_2_in_one_line(
    reports: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cnn, _ = reports
    missing = tmp_path / "missing.json"
    not_json = tmp_path / "broken.json"
    not_json.write_text("{ nope")
    other_kind = tmp_path / "other.json"
    other_kind.write_text(json.dumps({"schema_version": 1, "kind": "prune"}))
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({**json.loads(cnn.read_text()), "schema_version": 99}))
    cases = [
        (missing, "no such file"),
        (not_json, "not a JSON document"),
        (other_kind, "not a count report (a 'prune' document)"),
        (newer, "schema_version 99"),
        (Path("no-such-zoo-model"), "no-such-zoo-model"),
    ]
    for bad, message in cases:
        code, out, err = run(capsys, str(cnn), str(bad))
        assert code == 2, (bad, err)
        assert out == "" and message in err and err.count("\n") == 1, err


def test_profile_documents_are_read_through_their_count() -> None:
    a = count_doc([("conv", 10), ("fc", 5)])
    profile = {"schema_version": 1, "kind": "profile", "count": count_doc([("conv", 4)])}
    diff = diff_documents(a, profile)
    assert [(r.name, r.status) for r in diff.layers] == [("conv", "changed"), ("fc", "removed")]


def count_doc(layers: list[tuple[str, int]]) -> dict[str, Any]:
    rows = [{"name": n, "op": "Conv", "params": f, "macs": f, "flops": 2 * f} for n, f in layers]
    total = {k: sum(r[k] for r in rows) for k in ("params", "macs", "flops")}
    return {"schema_version": 1, "kind": "count", "model": "m", "layers": rows, "total": total}


def test_matching_by_name_order_and_repeats() -> None:
    a = count_doc([("stem", 1), ("old", 2), ("block", 3), ("block", 4), ("head", 5)])
    b = count_doc([("stem", 1), ("new", 7), ("head", 6), ("block", 3), ("tail", 8)])
    diff = diff_documents(a, b)
    rows = [(r.name, r.status) for r in diff.layers]
    assert rows == [
        ("stem", "same"),
        ("old", "removed"),
        ("block", "removed"),  # the second occurrence has no partner in B
        ("new", "added"),
        ("head", "changed"),
        ("block", "same"),  # moved after head in B: still matched by name
        ("tail", "added"),
    ]
    assert diff.total("flops").delta == 2 * ((1 + 7 + 6 + 3 + 8) - (1 + 2 + 3 + 4 + 5))
    with pytest.raises(DiffInputError, match="has no count 'flops'"):
        diff_documents(a, {**b, "layers": [{"name": "x", "params": 1, "macs": 1}]})


def _edited(report: Path, folder: Path, edit: Any) -> Path:
    doc = json.loads(report.read_text())
    text = edit(doc)
    path = folder / "edited.json"
    path.write_text(text if isinstance(text, str) else json.dumps(doc))
    return path


def _set(doc: dict[str, Any], where: tuple[Any, ...], value: Any) -> None:
    target = doc
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda d: "[" * 100_000 + "]" * 100_000, "nested too deeply to be a count report"),
        (lambda d: json.dumps(d).replace('"flops": 394780', '"flops": NaN'), "it holds NaN"),
        (lambda d: _set(d, ("layers", 0, "macs"), -5), "no count 'macs' (an integer from 0"),
        (lambda d: _set(d, ("layers", 0, "macs"), 10**400), "it has 100000000000000000000"),
        (lambda d: _set(d, ("layers", 0, "macs"), True), "it has True"),
        (lambda d: _set(d, ("total", "flops"), "lots"), "total 'flops' is 'lots'"),
        (lambda d: _set(d, ("convention", "macs"), "FMAs"), "counted under another convention"),
        (lambda d: _set(d, ("convention", "flops_per_mac"), 1), "not one modelprof writes"),
        (lambda d: _set(d, ("convention",), []), "not one modelprof writes"),
    ],
    ids=["deep", "nan", "negative", "huge", "bool", "total", "convention", "field", "type"],
)
def test_a_saved_report_is_checked_against_its_schema_before_use(
    tmp_path: Path,
    reports: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    edit: Any,
    words: str,
) -> None:
    bad = _edited(reports[0], tmp_path, edit)
    code, out, err = run(capsys, str(reports[0]), str(bad))
    assert (code, out) == (2, ""), err
    assert err.startswith(f"modelprof: error: {bad}: ") and err.count("\n") == 1, err
    assert words in err


def test_a_pytorch_count_and_its_onnx_export_are_matched_by_scope(
    tmp_path: Path, export: Any
) -> None:
    from modelprof.frontends import zoo

    onnx_path = export(zoo.get("seed-cnn").build(), (1, 1, 28, 28), tmp_path / "seed.onnx")
    a = diff_documents(_count_doc("seed-cnn"), _count_doc(str(onnx_path)))
    # conv1 vs /conv1/Conv ...: no name is shared, every layer's scope is; the export of a
    # network without BatchNorm counts the same, layer by layer (it matched nothing). The
    # dense layers are Gemm here and MatMul exported (same figures), and the export's
    # Flatten (a view on the PyTorch route) is new and costs nothing
    rows = [(row.name, row.status, row.op_a, row.op_b) for row in a.layers]
    assert rows == [
        ("/conv1/Conv", "same", "Conv", "Conv"),
        ("/pool/AveragePool", "same", "AveragePool", "AveragePool"),
        ("/conv2/Conv", "same", "Conv", "Conv"),
        ("/flatten/Flatten", "added", None, "Flatten"),
        ("/fc1/MatMul", "changed", "Gemm", "MatMul"),
        ("/fc2/MatMul", "changed", "Gemm", "MatMul"),
    ]
    assert all(row.a == row.b for row in a.layers if row.status == "changed")
    assert a.notes[0].startswith("layers matched by module scope")


def _count_doc(model: str) -> dict[str, Any]:
    import modelprof
    from modelprof.render.jsondoc import count_document

    return count_document(modelprof.count(model))
